/* The cache's object store: objects and their stored heads, a hash table with an O(1)
 * LRU under a byte cap, Vary variants, invalidation, and pending fetches (miss
 * collapsing). */
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

#define CACHE_MAGIC 0x43414348u /* "CACH" */
#define OBJ_MAGIC 0x434f424au   /* "COBJ" */
#define OBJ_OVERHEAD 96         /* malloc header, bucket slot: charged per object */
#define MAX_PENDING 65536

struct gd_cache_vary {
    const char *name; /* lowercased */
    size_t nlen;
    const char *val; /* the request's value (first instance, trimmed) */
    size_t vlen;
    int present;
};

typedef struct pend {
    struct pend *next;
    uint64_t hash;
    double until; /* game time after which the fetch is taken as abandoned */
    void *slot;
    size_t keylen;
    char key[];
} pend;

struct gd_cache {
    uint32_t magic;
    size_t max_bytes;
    gd_cache_obj **b; /* hash buckets, chained through hnext */
    size_t mask;
    gd_cache_obj *lru_head, *lru_tail; /* head: most recently used */
    uint64_t tick;
    pend **pb; /* pending fetches */
    size_t pmask, npend;
    gd_cache_stats st;
};

/* ---- objects ---- */

/* Hop-by-hop (RFC 9110 7.6.1: Connection and the names it lists, Keep-Alive, TE,
 * Trailer, Transfer-Encoding, Upgrade, Proxy-*), plus what a stored head never keeps:
 * Date and Age (the server adds its own), Content-Length (written on replay) and
 * Set-Cookie (one viewer's cookie). */
static int not_stored(const gd_http_header *h, int nh, int i)
{
    static const char *const drop[] = {"connection",
                                       "keep-alive",
                                       "proxy-connection",
                                       "te",
                                       "trailer",
                                       "upgrade",
                                       "transfer-encoding",
                                       "date",
                                       "age",
                                       "content-length",
                                       "set-cookie",
                                       "set-cookie2",
                                       "proxy-authenticate",
                                       "proxy-authorization",
                                       NULL};
    for (int k = 0; drop[k]; k++)
        if (hname_is(&h[i], drop[k])) return 1;
    for (int k = 0; k < nh; k++) {
        if (!hname_is(&h[k], "connection")) continue;
        const char *s = h[k].value, *end = s + h[k].value_len;
        while (s < end) {
            const char *comma = memchr(s, ',', (size_t)(end - s));
            const char *e = comma ? comma : end;
            const char *t = s;
            size_t tl = (size_t)(e - s);
            trim(&t, &tl);
            if (ieq(t, tl, h[i].name, h[i].name_len)) return 1;
            s = e + 1;
        }
    }
    return 0;
}

static int vary_cmp(const void *a, const void *b)
{
    const struct gd_cache_vary *x = a, *y = b;
    return bytes_cmp(x->name, x->nlen, y->name, y->nlen);
}

/* Builds an object; reqh supplies the Vary values. The one allocation holds the struct,
 * the Vary array, key, path, head, Vary names and values, and the body. */
static int build(const char *key, size_t keylen, const char *path, size_t pathlen,
                 const gd_http_header *reqh, int nreqh, int status, const gd_http_header *h, int nh,
                 const void *body, size_t body_len, double now, const gd_cache_times *t,
                 gd_cache_obj **out)
{
    *out = NULL;
    if (status < 100 || status > 999) return GD_EINVAL;
    /* Vary names (lowercased later), with the request's values. */
    struct gd_cache_vary vary[GD_CACHE_MAX_VARY];
    int nvary = 0;
    size_t vbytes = 0;
    for (int i = 0; i < nh; i++) {
        if (!hname_is(&h[i], "vary")) continue;
        const char *s = h[i].value, *end = s + h[i].value_len;
        while (s < end) {
            const char *comma = memchr(s, ',', (size_t)(end - s));
            const char *e = comma ? comma : end;
            const char *nm = s;
            size_t nl = (size_t)(e - s);
            trim(&nm, &nl);
            s = e + 1;
            if (nl == 0) continue;
            if (nl == 1 && nm[0] == '*') return GD_EINVAL;
            int dup = 0;
            for (int k = 0; k < nvary; k++) dup |= ieq(vary[k].name, vary[k].nlen, nm, nl);
            if (dup) continue;
            if (nvary == GD_CACHE_MAX_VARY) return GD_ETOOBIG;
            struct gd_cache_vary *v = &vary[nvary++];
            v->name = nm;
            v->nlen = nl;
            v->val = NULL;
            v->vlen = 0;
            v->present = 0;
            for (int k = 0; k < nreqh; k++) {
                if (ieq(reqh[k].name, reqh[k].name_len, nm, nl)) {
                    v->val = reqh[k].value;
                    v->vlen = reqh[k].value_len;
                    trim(&v->val, &v->vlen);
                    v->present = 1;
                    break;
                }
            }
            vbytes += nl + v->vlen;
        }
    }
    /* Head size. */
    char sl[64];
    int sln = snprintf(sl, sizeof sl, "HTTP/1.1 %d %s\r\n", status, gd_http_reason(status));
    size_t headlen = (size_t)sln;
    for (int i = 0; i < nh; i++)
        if (!not_stored(h, nh, i)) headlen += h[i].name_len + 2 + h[i].value_len + 2;
    if (headlen > GD_HTTP_MAX_HEAD) return GD_ETOOBIG;

    size_t total = sizeof(gd_cache_obj) + (size_t)nvary * sizeof(struct gd_cache_vary) + keylen +
                   pathlen + headlen + vbytes + body_len + 1;
    gd_cache_obj *o = gd_malloc(total);
    memset(o, 0, sizeof *o);
    o->magic = OBJ_MAGIC;
    o->refs = 1;
    o->status = status;
    o->stored_at = now;
    if (t) o->times = *t;
    o->size = total + OBJ_OVERHEAD;
    o->vary = (struct gd_cache_vary *)(o + 1);
    o->nvary = nvary;
    char *w = (char *)(o->vary + nvary);
    memcpy(w, key, keylen);
    o->key = w;
    o->keylen = keylen;
    w += keylen;
    if (pathlen) memcpy(w, path, pathlen);
    o->path = w;
    o->pathlen = pathlen;
    w += pathlen;
    o->head = w;
    memcpy(w, sl, (size_t)sln);
    w += sln;
    for (int i = 0; i < nh; i++) {
        if (not_stored(h, nh, i)) continue;
        memcpy(w, h[i].name, h[i].name_len);
        w += h[i].name_len;
        *w++ = ':';
        *w++ = ' ';
        if (h[i].value_len) memcpy(w, h[i].value, h[i].value_len);
        if (!o->etag && hname_is(&h[i], "etag"))
            o->etag = w, o->etag_len = h[i].value_len;
        else if (!o->last_modified && hname_is(&h[i], "last-modified"))
            o->last_modified = w, o->last_modified_len = h[i].value_len;
        w += h[i].value_len;
        *w++ = '\r';
        *w++ = '\n';
    }
    o->headlen = headlen;
    for (int k = 0; k < nvary; k++) {
        struct gd_cache_vary *v = &o->vary[k];
        for (size_t i = 0; i < vary[k].nlen; i++)
            w[i] = (char)lower((unsigned char)vary[k].name[i]);
        v->name = w;
        v->nlen = vary[k].nlen;
        w += v->nlen;
        if (vary[k].vlen) memcpy(w, vary[k].val, vary[k].vlen);
        v->val = w;
        v->vlen = vary[k].vlen;
        v->present = vary[k].present;
        w += v->vlen;
    }
    qsort(o->vary, (size_t)nvary, sizeof *o->vary, vary_cmp);
    if (body_len) memcpy(w, body, body_len);
    w[body_len] = 0;
    o->body = w;
    o->body_len = body_len;
    *out = o;
    return 0;
}

int gd_cache_obj_new(const char *key, size_t keylen, const gd_http_req *req, int status,
                     const gd_http_header *h, int nh, const void *body, size_t body_len, double now,
                     const gd_cache_times *t, gd_cache_obj **out)
{
    return build(key, keylen, req && req->path ? req->path : "",
                 req && req->path ? req->path_len : 0, req ? req->headers : NULL,
                 req ? req->nheaders : 0, status, h, nh, body, body_len, now, t, out);
}

gd_cache_obj *gd_cache_obj_ref(gd_cache_obj *o)
{
    GD_CHECK_OBJ(o, OBJ_MAGIC);
    o->refs++;
    return o;
}

void gd_cache_obj_unref(gd_cache_obj *o)
{
    if (o == NULL) return;
    GD_CHECK_OBJ(o, OBJ_MAGIC);
    if (--o->refs > 0) return;
    o->magic = 0;
    gd_free(o);
}

int gd_cache_revalidation_headers(const gd_cache_obj *o, gd_buf *out)
{
    GD_CHECK_OBJ(o, OBJ_MAGIC);
    int n = 0, r = 0;
    if (o->etag) {
        r = gd_buf_puts(out, "If-None-Match: ");
        if (!r) r = gd_buf_append(out, o->etag, o->etag_len);
        if (!r) r = gd_buf_puts(out, "\r\n");
        n++;
    }
    if (!r && o->last_modified) {
        r = gd_buf_puts(out, "If-Modified-Since: ");
        if (!r) r = gd_buf_append(out, o->last_modified, o->last_modified_len);
        if (!r) r = gd_buf_puts(out, "\r\n");
        n++;
    }
    return r ? r : n;
}

/* ---- the store: hash table and LRU ---- */

gd_cache *gd_cache_new(size_t max_bytes)
{
    gd_cache *c = gd_calloc(1, sizeof *c);
    c->magic = CACHE_MAGIC;
    c->max_bytes = max_bytes;
    c->mask = 255;
    c->b = gd_calloc(c->mask + 1, sizeof *c->b);
    c->pmask = 63;
    c->pb = gd_calloc(c->pmask + 1, sizeof *c->pb);
    return c;
}

static void lru_remove(gd_cache *c, gd_cache_obj *o)
{
    if (o->lru_prev)
        o->lru_prev->lru_next = o->lru_next;
    else
        c->lru_head = o->lru_next;
    if (o->lru_next)
        o->lru_next->lru_prev = o->lru_prev;
    else
        c->lru_tail = o->lru_prev;
    o->lru_prev = o->lru_next = NULL;
}

static void lru_push_front(gd_cache *c, gd_cache_obj *o)
{
    o->lru_prev = NULL;
    o->lru_next = c->lru_head;
    if (c->lru_head) c->lru_head->lru_prev = o;
    c->lru_head = o;
    if (c->lru_tail == NULL) c->lru_tail = o;
}

static void grow(gd_cache *c)
{
    size_t nmask = c->mask * 2 + 1;
    gd_cache_obj **nb = gd_calloc(nmask + 1, sizeof *nb);
    for (size_t i = 0; i <= c->mask; i++) {
        gd_cache_obj *o = c->b[i];
        while (o) {
            gd_cache_obj *next = o->hnext;
            o->hnext = nb[o->hash & nmask];
            nb[o->hash & nmask] = o;
            o = next;
        }
    }
    gd_free(c->b);
    c->b = nb;
    c->mask = nmask;
}

/* Removes o from the table and the LRU and drops the cache's reference. */
static void unlink_obj(gd_cache *c, gd_cache_obj *o)
{
    gd_cache_obj **pp = &c->b[o->hash & c->mask];
    while (*pp && *pp != o) pp = &(*pp)->hnext;
    if (*pp) *pp = o->hnext;
    o->hnext = NULL;
    lru_remove(c, o);
    o->linked = 0;
    c->st.bytes -= o->size;
    c->st.objects--;
    gd_cache_obj_unref(o);
}

static void evict_to_fit(gd_cache *c, const gd_cache_obj *keep)
{
    while (c->st.bytes > c->max_bytes && c->lru_tail && c->lru_tail != keep) {
        unlink_obj(c, c->lru_tail);
        c->st.evicted++;
    }
}

void gd_cache_free(gd_cache *c)
{
    if (c == NULL) return;
    GD_CHECK_OBJ(c, CACHE_MAGIC);
    while (c->lru_head) unlink_obj(c, c->lru_head);
    for (size_t i = 0; i <= c->pmask; i++) {
        pend *e = c->pb[i];
        while (e) {
            pend *next = e->next;
            gd_free(e);
            e = next;
        }
    }
    gd_free(c->pb);
    gd_free(c->b);
    c->magic = 0;
    gd_free(c);
}

void gd_cache_set_max_bytes(gd_cache *c, size_t max_bytes)
{
    GD_CHECK_OBJ(c, CACHE_MAGIC);
    c->max_bytes = max_bytes;
    evict_to_fit(c, NULL);
}

size_t gd_cache_max_obj_bytes(const gd_cache *c)
{
    GD_CHECK_OBJ(c, CACHE_MAGIC);
    return c->max_bytes / 8;
}

const gd_cache_stats *gd_cache_stats_get(const gd_cache *c)
{
    GD_CHECK_OBJ(c, CACHE_MAGIC);
    return &c->st;
}

void gd_cache_note_stale_if_error(gd_cache *c)
{
    GD_CHECK_OBJ(c, CACHE_MAGIC);
    c->st.stale_served++;
}

static int same_key(const gd_cache_obj *o, uint64_t hash, const char *key, size_t keylen)
{
    return o->hash == hash && o->keylen == keylen && memcmp(o->key, key, keylen) == 0;
}

static int vary_match(const gd_cache_obj *o, const gd_http_req *req)
{
    for (int k = 0; k < o->nvary; k++) {
        const struct gd_cache_vary *v = &o->vary[k];
        const char *val = NULL;
        size_t vl = 0;
        for (int i = 0; req && i < req->nheaders; i++) {
            if (ieq(req->headers[i].name, req->headers[i].name_len, v->name, v->nlen)) {
                val = req->headers[i].value;
                vl = req->headers[i].value_len;
                trim(&val, &vl);
                break;
            }
        }
        if ((val != NULL) != v->present) return 0;
        if (val && (vl != v->vlen || memcmp(val, v->val, vl) != 0)) return 0;
    }
    return 1;
}

static int same_vary(const gd_cache_obj *a, const gd_cache_obj *b)
{
    if (a->nvary != b->nvary) return 0;
    for (int k = 0; k < a->nvary; k++) {
        const struct gd_cache_vary *x = &a->vary[k], *y = &b->vary[k];
        if (x->present != y->present || bytes_cmp(x->name, x->nlen, y->name, y->nlen) ||
            bytes_cmp(x->val, x->vlen, y->val, y->vlen))
            return 0;
    }
    return 1;
}

gd_cache_state gd_cache_lookup(gd_cache *c, const char *key, size_t keylen, const gd_http_req *req,
                               double now, gd_cache_obj **out)
{
    GD_CHECK_OBJ(c, CACHE_MAGIC);
    *out = NULL;
    uint64_t hash = hash_bytes(key, keylen);
    gd_cache_obj *o = c->b[hash & c->mask];
    for (; o; o = o->hnext)
        if (same_key(o, hash, key, keylen) && vary_match(o, req)) break;
    if (o == NULL) {
        c->st.misses++;
        return GD_CACHE_MISS;
    }
    if (o != c->lru_head) {
        lru_remove(c, o);
        lru_push_front(c, o);
    }
    o->used = ++c->tick;
    o->refs++;
    *out = o;
    if (now < o->times.fresh_until) {
        c->st.hits++;
        return GD_CACHE_FRESH;
    }
    if (now < o->times.stale_while_revalidate_until) {
        c->st.stale_served++;
        return GD_CACHE_STALE;
    }
    c->st.misses++;
    return now < o->times.stale_if_error_until ? GD_CACHE_STALE_IF_ERROR_ONLY : GD_CACHE_EXPIRED;
}

int gd_cache_insert(gd_cache *c, gd_cache_obj *o)
{
    GD_CHECK_OBJ(c, CACHE_MAGIC);
    GD_CHECK_OBJ(o, OBJ_MAGIC);
    if (o->linked) return GD_EEXIST;
    if (o->size > c->max_bytes / 8) return GD_ETOOBIG;
    o->hash = hash_bytes(o->key, o->keylen);
    gd_cache_obj *same = NULL, *oldest = NULL;
    int nvariants = 0;
    for (gd_cache_obj *e = c->b[o->hash & c->mask]; e; e = e->hnext) {
        if (!same_key(e, o->hash, o->key, o->keylen)) continue;
        if (!same && same_vary(e, o)) {
            same = e;
            continue;
        }
        nvariants++;
        if (!oldest || e->used < oldest->used) oldest = e;
    }
    if (same) unlink_obj(c, same);
    if (nvariants >= GD_CACHE_MAX_VARIANTS) {
        unlink_obj(c, oldest);
        c->st.evicted++;
    }
    o->refs++;
    o->linked = 1;
    o->used = ++c->tick;
    o->hnext = c->b[o->hash & c->mask];
    c->b[o->hash & c->mask] = o;
    lru_push_front(c, o);
    c->st.bytes += o->size;
    c->st.objects++;
    c->st.inserted++;
    if (c->st.objects > c->mask + 1) grow(c);
    evict_to_fit(c, o);
    return 0;
}

/* Splits a stored head (built by build(): "Name: value\r\n" lines after the status
 * line) into headers pointing into it. */
static int parse_head(const gd_cache_obj *o, gd_http_header *h, int max)
{
    const char *s = o->head, *end = o->head + o->headlen;
    const char *eol = memchr(s, '\n', (size_t)(end - s));
    s = eol ? eol + 1 : end;
    int n = 0;
    while (s < end && n < max) {
        eol = memchr(s, '\n', (size_t)(end - s));
        const char *e = eol ? eol - 1 : end; /* at the '\r' */
        const char *colon = memchr(s, ':', (size_t)(e - s));
        if (colon) {
            h[n].name = s;
            h[n].name_len = (size_t)(colon - s);
            h[n].value = colon + 2 <= e ? colon + 2 : e;
            h[n].value_len = (size_t)(e - h[n].value);
            n++;
        }
        s = eol ? eol + 1 : end;
    }
    return n;
}

int gd_cache_refresh(gd_cache *c, gd_cache_obj *old, const gd_cache_policy *p,
                     const gd_http_header *h, int nh, double now, gd_cache_obj **out)
{
    GD_CHECK_OBJ(c, CACHE_MAGIC);
    GD_CHECK_OBJ(old, OBJ_MAGIC);
    *out = NULL;
    /* Stored headers not named by the 304, then the 304's storable ones (RFC 9111
     * 3.2 / 4.3.4), then its Date and Age for the TTL (not stored). */
    gd_http_header stored[GD_HTTP_MAX_HEADERS * 4];
    int ns = parse_head(old, stored, GD_HTTP_MAX_HEADERS * 4);
    gd_http_header merged[GD_HTTP_MAX_HEADERS * 5 + 2];
    int n = 0;
    for (int i = 0; i < ns; i++) {
        int replaced = 0;
        for (int k = 0; k < nh && !replaced; k++)
            replaced = !not_stored(h, nh, k) &&
                       ieq(h[k].name, h[k].name_len, stored[i].name, stored[i].name_len);
        if (!replaced) merged[n++] = stored[i];
    }
    const gd_http_header *date = NULL, *age = NULL;
    for (int k = 0; k < nh && n < GD_HTTP_MAX_HEADERS * 5; k++) {
        if (!not_stored(h, nh, k)) merged[n++] = h[k];
        if (hname_is(&h[k], "date") && !date) date = &h[k];
        if (hname_is(&h[k], "age") && !age) age = &h[k];
    }
    int nstore = n;
    if (date) merged[n++] = *date;
    if (age) merged[n++] = *age;
    gd_cache_times t;
    int cacheable = gd_cache_ttl(p, old->status, merged, n, now, &t);
    if (!cacheable) {
        t.fresh_until = t.stale_while_revalidate_until = t.stale_if_error_until = now;
    }
    /* The Vary values the old object was stored under act as the request's headers. */
    gd_http_header reqh[GD_CACHE_MAX_VARY];
    int nreqh = 0;
    for (int k = 0; k < old->nvary; k++) {
        if (!old->vary[k].present) continue;
        reqh[nreqh].name = old->vary[k].name;
        reqh[nreqh].name_len = old->vary[k].nlen;
        reqh[nreqh].value = old->vary[k].val;
        reqh[nreqh].value_len = old->vary[k].vlen;
        nreqh++;
    }
    gd_cache_obj *o;
    int r = build(old->key, old->keylen, old->path, old->pathlen, reqh, nreqh, old->status, merged,
                  nstore, old->body, old->body_len, now, &t, &o);
    if (r) return r;
    c->st.refresh_hits++;
    *out = o;
    if (!old->linked) return 0;
    unlink_obj(c, old);
    if (!cacheable) return 0;
    return gd_cache_insert(c, o) == 0 ? 1 : 0;
}

int gd_cache_invalidate(gd_cache *c, const char *pattern)
{
    GD_CHECK_OBJ(c, CACHE_MAGIC);
    size_t pl = pattern ? strlen(pattern) : 0;
    if (pl == 0 || pattern[0] != '/') return GD_EINVAL;
    const char *star = strchr(pattern, '*');
    if (star && star != pattern + pl - 1) return GD_EINVAL;
    size_t plen = star ? pl - 1 : pl;
    int removed = 0;
    gd_cache_obj *o = c->lru_head;
    while (o) {
        gd_cache_obj *next = o->lru_next;
        int match = star ? o->pathlen >= plen && memcmp(o->path, pattern, plen) == 0
                         : o->pathlen == plen && memcmp(o->path, pattern, plen) == 0;
        if (match) {
            unlink_obj(c, o);
            c->st.invalidated++;
            removed++;
        }
        o = next;
    }
    return removed;
}

/* ---- request collapsing ---- */

static pend **pend_find(gd_cache *c, const char *key, size_t keylen, uint64_t hash)
{
    pend **pp = &c->pb[hash & c->pmask];
    while (*pp && !((*pp)->hash == hash && (*pp)->keylen == keylen &&
                    memcmp((*pp)->key, key, keylen) == 0))
        pp = &(*pp)->next;
    return pp;
}

static void pend_grow(gd_cache *c)
{
    size_t nmask = c->pmask * 2 + 1;
    pend **nb = gd_calloc(nmask + 1, sizeof *nb);
    for (size_t i = 0; i <= c->pmask; i++) {
        pend *e = c->pb[i];
        while (e) {
            pend *next = e->next;
            e->next = nb[e->hash & nmask];
            nb[e->hash & nmask] = e;
            e = next;
        }
    }
    gd_free(c->pb);
    c->pb = nb;
    c->pmask = nmask;
}

int gd_cache_pending_begin(gd_cache *c, const char *key, size_t keylen, double now,
                           double lock_timeout)
{
    GD_CHECK_OBJ(c, CACHE_MAGIC);
    uint64_t hash = hash_bytes(key, keylen);
    pend *e = *pend_find(c, key, keylen, hash);
    if (e) {
        if (now < e->until) {
            c->st.collapsed++;
            return 0;
        }
        e->until = now + lock_timeout; /* abandoned: this caller takes over */
        return 1;
    }
    if (c->npend >= MAX_PENDING) return 1;
    e = gd_malloc(sizeof *e + keylen);
    e->hash = hash;
    e->until = now + lock_timeout;
    e->slot = NULL;
    e->keylen = keylen;
    memcpy(e->key, key, keylen);
    e->next = c->pb[hash & c->pmask];
    c->pb[hash & c->pmask] = e;
    if (++c->npend > c->pmask + 1) pend_grow(c);
    return 1;
}

void **gd_cache_pending_slot(gd_cache *c, const char *key, size_t keylen)
{
    GD_CHECK_OBJ(c, CACHE_MAGIC);
    pend *e = *pend_find(c, key, keylen, hash_bytes(key, keylen));
    return e ? &e->slot : NULL;
}

void *gd_cache_pending_end(gd_cache *c, const char *key, size_t keylen)
{
    GD_CHECK_OBJ(c, CACHE_MAGIC);
    pend **pp = pend_find(c, key, keylen, hash_bytes(key, keylen));
    pend *e = *pp;
    if (e == NULL) return NULL;
    *pp = e->next;
    void *slot = e->slot;
    gd_free(e);
    c->npend--;
    return slot;
}
