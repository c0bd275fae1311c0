/* Canonical cache keys: the path, and the query strings, headers and cookies the
 * behaviour names, in a fixed order, so equivalent requests share one object. */
#include "edge/cache_int.h"
#include "core/check.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- cache key ---- */

typedef struct qparam {
    const char *n, *v;
    size_t nl, vl;
    int hasv;
} qparam;

static int qparam_cmp(const qparam *a, const qparam *b)
{
    int r = bytes_cmp(a->n, a->nl, b->n, b->nl);
    if (r) return r;
    if (a->hasv != b->hasv) return a->hasv - b->hasv;
    return bytes_cmp(a->v, a->vl, b->v, b->vl);
}

static int names_has(const gd_cache_names *ns, const char *s, size_t len)
{
    for (int i = 0; i < ns->n; i++)
        if (ns->v[i].len == len && memcmp(ns->v[i].s, s, len) == 0) return 1;
    return 0;
}

/* Appends "<len>:<bytes>", lowercasing the bytes if lc. */
static int put_ns(gd_buf *b, const char *s, size_t n, int lc)
{
    int r = gd_buf_reserve(b, n + 24);
    if (r) return r;
    char digits[24];
    int nd = 0;
    size_t v = n;
    do {
        digits[nd++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    char *w = b->data + b->len;
    while (nd) *w++ = digits[--nd];
    *w++ = ':';
    if (lc) {
        for (size_t i = 0; i < n; i++) w[i] = (char)lower((unsigned char)s[i]);
    } else if (n) {
        memcpy(w, s, n);
    }
    w += n;
    b->len = (size_t)(w - b->data);
    b->data[b->len] = 0;
    return 0;
}

static int put_ch(gd_buf *b, char ch)
{
    return gd_buf_append(b, &ch, 1);
}

static int key_query(const gd_cache_policy *p, const gd_http_req *req, gd_buf *out)
{
    if (p->qs == GD_CACHE_QS_NONE || req->query == NULL || req->query_len == 0) return 0;
    qparam q[GD_CACHE_MAX_QUERY_PARAMS];
    int n = 0;
    const char *s = req->query, *end = req->query + req->query_len;
    while (s < end) {
        const char *amp = memchr(s, '&', (size_t)(end - s));
        const char *e = amp ? amp : end;
        if (e > s) {
            const char *eq = memchr(s, '=', (size_t)(e - s));
            qparam x = {.n = s, .nl = (size_t)((eq ? eq : e) - s)};
            if (eq) {
                x.hasv = 1;
                x.v = eq + 1;
                x.vl = (size_t)(e - eq - 1);
            }
            int keep = p->qs == GD_CACHE_QS_ALL ||
                       (p->qs == GD_CACHE_QS_INCLUDE && names_has(&p->qs_names, x.n, x.nl)) ||
                       (p->qs == GD_CACHE_QS_EXCEPT && !names_has(&p->qs_names, x.n, x.nl));
            if (keep) {
                if (n == GD_CACHE_MAX_QUERY_PARAMS) return GD_ETOOBIG;
                int j = n++;
                while (j > 0 && qparam_cmp(&q[j - 1], &x) > 0) {
                    q[j] = q[j - 1];
                    j--;
                }
                q[j] = x;
            }
        }
        s = e + 1;
    }
    for (int i = 0; i < n; i++) {
        int r = put_ch(out, 'q');
        if (!r) r = put_ns(out, q[i].n, q[i].nl, 0);
        if (!r) r = q[i].hasv ? put_ns(out, q[i].v, q[i].vl, 0) : put_ch(out, '-');
        if (r) return r;
    }
    return 0;
}

/* Finds cookie name in every Cookie header of h; its value (first instance) or NULL. */
static const char *find_cookie(const gd_http_header *h, int nh, const char *name, size_t nlen,
                               size_t *vlen)
{
    for (int i = 0; i < nh; i++) {
        if (!hname_is(&h[i], "cookie")) continue;
        const char *s = h[i].value, *end = h[i].value + h[i].value_len;
        while (s < end) {
            const char *semi = memchr(s, ';', (size_t)(end - s));
            const char *e = semi ? semi : end;
            const char *c = s;
            size_t cl = (size_t)(e - s);
            trim(&c, &cl);
            const char *eq = memchr(c, '=', cl);
            if (eq && (size_t)(eq - c) == nlen && memcmp(c, name, nlen) == 0) {
                const char *v = eq + 1;
                size_t vl = cl - nlen - 1;
                trim(&v, &vl);
                *vlen = vl;
                return v;
            }
            s = e + 1;
        }
    }
    return NULL;
}

int gd_cache_key(const gd_cache_policy *p, const gd_http_req *req, gd_buf *out)
{
    gd_buf_reset(out);
    const char *m = (req->method == HTTP_GET || req->method == HTTP_HEAD)
                        ? "GET"
                        : http_method_str((enum http_method)req->method);
    int r = gd_buf_puts(out, m);
    if (!r) r = put_ch(out, '|');
    const char *host = "";
    size_t hl = 0;
    for (int i = 0; i < req->nheaders; i++) {
        if (hname_is(&req->headers[i], "host")) {
            host = req->headers[i].value;
            hl = req->headers[i].value_len;
            break;
        }
    }
    trim(&host, &hl);
    if (!r) r = put_ns(out, host, hl, 1);
    if (!r) r = put_ns(out, req->path ? req->path : "", req->path ? req->path_len : 0, 0);
    if (!r) r = key_query(p, req, out);
    for (int i = 0; !r && i < p->headers.n; i++) {
        const gd_cache_name *hn = &p->headers.v[i];
        r = put_ch(out, 'h');
        if (!r) r = put_ns(out, hn->s, hn->len, 0);
        int found = 0;
        for (int k = 0; !r && k < req->nheaders; k++) {
            const gd_http_header *h = &req->headers[k];
            if (!ieq(h->name, h->name_len, hn->s, hn->len)) continue;
            const char *v = h->value;
            size_t vl = h->value_len;
            trim(&v, &vl);
            r = put_ns(out, v, vl, 0);
            found = 1;
        }
        if (!r && !found) r = put_ch(out, '-');
    }
    for (int i = 0; !r && i < p->cookies.n; i++) {
        const gd_cache_name *cn = &p->cookies.v[i];
        size_t vl = 0;
        const char *v = find_cookie(req->headers, req->nheaders, cn->s, cn->len, &vl);
        r = put_ch(out, 'c');
        if (!r) r = put_ns(out, cn->s, cn->len, 0);
        if (!r) r = v ? put_ns(out, v, vl, 0) : put_ch(out, '-');
    }
    if (r) gd_buf_reset(out);
    return r;
}
