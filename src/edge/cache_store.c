/* The cache's object store: objects and their stored heads, a hash table with an O(1)
 * LRU under a byte cap, Vary variants, invalidation, and pending fetches (miss
 * collapsing). */
#include "edge/cache_int.h"
#include "core/check.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"

#include <math.h>
#include <stddef.h>
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
    gd_cache_obj **b;                  /* hash buckets, chained through hnext */
    gd_cache_obj **pt;                 /* path index: buckets by path hash, chained through pnext */
    size_t mask;                       /* of both tables */
    gd_cache_obj *lru_head, *lru_tail; /* head: most recently used */
    uint64_t tick;
    pend **pb; /* pending fetches */
    size_t pmask, npend;
    gd_cache_stats st;
};

/* ---- objects ---- */

/* Hop-by-hop (RFC 9110 7.6.1: Connection and the names it lists, Keep-Alive, TE,
 * Trailer, Transfer-Encoding, Upgrade, Proxy-*), plus what a stored head never keeps:
 * Age (the server writes the current one), Content-Length (written on replay),
 * Set-Cookie (one viewer's cookie) and Surrogate-Control (the Edge Architecture
 * Specification: meant for this surrogate, removed by it). Date is kept: a response
 * from the cache carries the origin's (RFC 9110 6.6.1). */
static int not_stored(const gd_http_header *h, int nh, int i)
{
    static const char *const drop[] = {"connection",
                                       "keep-alive",
                                       "proxy-connection",
                                       "te",
                                       "trailer",
                                       "upgrade",
                                       "transfer-encoding",
                                       "age",
                                       "surrogate-control",
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

#define VARY_VALUE_MAX 2048 /* bytes of one normalised Vary'd request value */
#define VARY_MEMBERS 64     /* list members sorted (Accept-Encoding); more: kept in order */

struct member {
    const char *s;
    size_t n;
};

static int member_cmp(const void *a, const void *b)
{
    const struct member *x = a, *y = b;
    return bytes_cmp(x->s, x->n, y->s, y->n);
}

/* The normalised value of the request header name (lowercase, nl bytes) for matching a
 * Vary: every field line of it joined with ',' (RFC 9110 5.3), each list member
 * trimmed and empty ones dropped, and OWS around ';' and '=' removed. The Accept
 * family holds case-insensitive tokens, so those are lowercased, and the members of
 * Accept-Encoding (whose order carries no meaning) are sorted: "gzip, br", "br,gzip"
 * and "GZIP ,BR" are one variant (RFC 9111 4.1 allows normalising). Writes into out
 * (VARY_VALUE_MAX bytes) and returns the length; -1 when the header is absent, -2
 * when the value does not fit. */
static int vary_value(const char *name, size_t nl, const gd_http_header *h, int nh, char *out)
{
    int fold = nl >= 6 && memcmp(name, "accept", 6) == 0 &&
               (nl == 6 || (nl == 15 && !memcmp(name + 6, "-encoding", 9)) ||
                (nl == 15 && !memcmp(name + 6, "-language", 9)) ||
                (nl == 14 && !memcmp(name + 6, "-charset", 8)));
    int sort = nl == 15 && !memcmp(name, "accept-encoding", 15);
    struct member m[VARY_MEMBERS];
    int nm = 0, present = 0, unsorted = 0;
    size_t len = 0;
    for (int i = 0; i < nh; i++) {
        if (!ieq(h[i].name, h[i].name_len, name, nl)) continue;
        present = 1;
        const char *s = h[i].value, *end = s + h[i].value_len;
        while (s < end) {
            const char *comma = memchr(s, ',', (size_t)(end - s));
            const char *e = comma ? comma : end;
            const char *v = s;
            size_t vl = (size_t)(e - s);
            s = e + 1;
            trim(&v, &vl);
            if (vl == 0) continue;
            if (len + vl + 1 > VARY_VALUE_MAX) return -2;
            if (len) out[len++] = ',';
            size_t start = len;
            for (size_t k = 0; k < vl; k++) {
                unsigned char ch = (unsigned char)v[k];
                if (is_ows(ch) && ((k + 1 < vl && (v[k + 1] == ';' || v[k + 1] == '=' ||
                                                   is_ows((unsigned char)v[k + 1]))) ||
                                   (len > start && (out[len - 1] == ';' || out[len - 1] == '='))))
                    continue;
                out[len++] = (char)(fold ? lower(ch) : ch);
            }
            if (nm < VARY_MEMBERS)
                m[nm++] = (struct member){out + start, len - start};
            else
                unsorted = 1;
        }
    }
    if (!present) return -1;
    if (sort && nm > 1 && !unsorted) {
        char tmp[VARY_VALUE_MAX];
        qsort(m, (size_t)nm, sizeof m[0], member_cmp);
        size_t t = 0;
        for (int k = 0; k < nm; k++) {
            if (k && m[k].n == m[k - 1].n && !memcmp(m[k].s, m[k - 1].s, m[k].n)) continue;
            if (t) tmp[t++] = ',';
            memcpy(tmp + t, m[k].s, m[k].n);
            t += m[k].n;
        }
        memcpy(out, tmp, t);
        len = t;
    }
    return (int)len;
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
    size_t vbytes = 0, vused = 0;
    char vbuf[VARY_VALUE_MAX * 3]; /* the normalised values, one after the other */
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
            if (nl > 64) return GD_ETOOBIG;
            struct gd_cache_vary *v = &vary[nvary++];
            char lname[64];
            for (size_t k = 0; k < nl; k++) lname[k] = (char)lower((unsigned char)nm[k]);
            v->name = nm;
            v->nlen = nl;
            v->val = vbuf + vused;
            int vl = vary_value(lname, nl, reqh, nreqh, vbuf + vused);
            if (vl == -2 || (vl > 0 && vused + (size_t)vl > sizeof vbuf - VARY_VALUE_MAX))
                return GD_ETOOBIG;
            v->present = vl >= 0;
            v->vlen = vl > 0 ? (size_t)vl : 0;
            vused += v->vlen;
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
        else if (!o->date && hname_is(&h[i], "date"))
            o->date = w, o->date_len = h[i].value_len;
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
    c->pt = gd_calloc(c->mask + 1, sizeof *c->pt);
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

/* Moves every object of the chained table t (mask + 1 buckets) into a new table of
 * nmask + 1, the chain link and the hash being the fields at next_off and hash_off:
 * the key table and the path index grow alike. Frees t. */
static gd_cache_obj **rehash(gd_cache_obj **t, size_t mask, size_t nmask, size_t next_off,
                             size_t hash_off)
{
    gd_cache_obj **nt = gd_calloc(nmask + 1, sizeof *nt);
    for (size_t i = 0; i <= mask; i++) {
        gd_cache_obj *o = t[i];
        while (o) {
            gd_cache_obj **link = (gd_cache_obj **)((char *)o + next_off);
            gd_cache_obj *next = *link;
            uint64_t h;
            memcpy(&h, (char *)o + hash_off, sizeof h);
            *link = nt[h & nmask];
            nt[h & nmask] = o;
            o = next;
        }
    }
    gd_free(t);
    return nt;
}

static void grow(gd_cache *c)
{
    size_t nmask = c->mask * 2 + 1;
    c->b =
        rehash(c->b, c->mask, nmask, offsetof(gd_cache_obj, hnext), offsetof(gd_cache_obj, hash));
    c->pt =
        rehash(c->pt, c->mask, nmask, offsetof(gd_cache_obj, pnext), offsetof(gd_cache_obj, phash));
    c->mask = nmask;
}

/* Removes o from the table and the LRU and drops the cache's reference. */
static void unlink_obj(gd_cache *c, gd_cache_obj *o)
{
    gd_cache_obj **pp = &c->b[o->hash & c->mask];
    while (*pp && *pp != o) pp = &(*pp)->hnext;
    if (*pp) *pp = o->hnext;
    o->hnext = NULL;
    pp = &c->pt[o->phash & c->mask];
    while (*pp && *pp != o) pp = &(*pp)->pnext;
    if (*pp) *pp = o->pnext;
    o->pnext = NULL;
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
    gd_free(c->pt);
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
        char val[VARY_VALUE_MAX];
        int vl = req ? vary_value(v->name, v->nlen, req->headers, req->nheaders, val) : -1;
        if (vl == -2 || (vl >= 0) != v->present) return 0;
        if (vl > 0 && ((size_t)vl != v->vlen || memcmp(val, v->val, (size_t)vl) != 0)) return 0;
        if (vl == 0 && v->vlen) return 0;
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
    if (o->times.flags & GD_CACHE_T_PASS) {
        if (now < o->times.fresh_until) {
            c->st.passes++;
            c->st.misses++;
            return GD_CACHE_PASS;
        }
        unlink_obj(c, o); /* an old marker: forget it */
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
    for (gd_cache_obj *e = c->b[o->hash & c->mask], *next; e; e = next) {
        next = e->hnext;
        if (!same_key(e, o->hash, o->key, o->keylen)) continue;
        if ((e->times.flags | o->times.flags) & GD_CACHE_T_PASS) {
            unlink_obj(c, e); /* a marker and an answer never live side by side */
            continue;
        }
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
    o->phash = hash_bytes(o->path, o->pathlen);
    o->pnext = c->pt[o->phash & c->mask];
    c->pt[o->phash & c->mask] = o;
    lru_push_front(c, o);
    c->st.bytes += o->size;
    c->st.objects++;
    c->st.inserted++;
    if (c->st.objects > c->mask + 1) grow(c);
    evict_to_fit(c, o);
    return 0;
}

int gd_cache_insert_pass(gd_cache *c, const char *key, size_t keylen, const char *path,
                         size_t pathlen, double now, double ttl)
{
    GD_CHECK_OBJ(c, CACHE_MAGIC);
    gd_cache_times t = {.ttl = ttl,
                        .fresh_until = now + ttl,
                        .stale_while_revalidate_until = now + ttl,
                        .stale_if_error_until = now + ttl,
                        .flags = GD_CACHE_T_PASS};
    gd_cache_obj *o;
    int r = build(key, keylen, path, pathlen, NULL, 0, 200, NULL, 0, "", 0, now, &t, &o);
    if (r) return r;
    r = gd_cache_insert(c, o);
    gd_cache_obj_unref(o);
    return r;
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

/* What a 304 never overwrites in a stored response (RFC 9111 3.2 lets a cache keep
 * the fields its stored content depends on): the validator that selected it and the
 * representation metadata of the body kept (RFC 9110 8), and the Vary it is keyed by. */
static int kept_on_update(const gd_http_header *h)
{
    static const char *const keep[] = {"etag",
                                       "content-type",
                                       "content-encoding",
                                       "content-range",
                                       "content-language",
                                       "content-location",
                                       "vary",
                                       NULL};
    for (int k = 0; keep[k]; k++)
        if (hname_is(h, keep[k])) return 1;
    return 0;
}

int gd_cache_validators_match(const gd_cache_obj *o, const gd_http_header *h, int nh)
{
    GD_CHECK_OBJ(o, OBJ_MAGIC);
    const gd_http_header *etag = NULL, *lm = NULL;
    for (int k = 0; k < nh; k++) {
        if (!etag && hname_is(&h[k], "etag")) etag = &h[k];
        if (!lm && hname_is(&h[k], "last-modified")) lm = &h[k];
    }
    if (etag) { /* RFC 9111 4.3.4: the new response's validator selects what it updates */
        const char *a = etag->value, *b = o->etag, *ta, *tb;
        size_t na, nb;
        int wa, wb;
        if (!o->etag || !etag_next(&a, a + etag->value_len, &ta, &na, &wa) ||
            !etag_next(&b, b + o->etag_len, &tb, &nb, &wb))
            return 0;
        return na == nb && memcmp(ta, tb, na) == 0; /* weak comparison */
    }
    if (lm) {
        if (!o->last_modified) return 0;
        double x, y;
        if (gd_cache_http_date(lm->value, lm->value_len, &x) ||
            gd_cache_http_date(o->last_modified, o->last_modified_len, &y))
            return lm->value_len == o->last_modified_len &&
                   memcmp(lm->value, o->last_modified, lm->value_len) == 0;
        return x == y;
    }
    /* No validator in the 304: it answers the one conditional request we sent. */
    return 1;
}

int gd_cache_refresh(gd_cache *c, gd_cache_obj *old, const gd_cache_policy *p,
                     const gd_http_header *h, int nh, double now, double delay, gd_cache_obj **out)
{
    GD_CHECK_OBJ(c, CACHE_MAGIC);
    GD_CHECK_OBJ(old, OBJ_MAGIC);
    *out = NULL;
    /* Stored headers not replaced by the 304, then the 304's storable ones (RFC 9111
     * 3.2 / 4.3.4) but those kept_on_update, then its Age for the TTL (not stored). */
    gd_http_header stored[GD_HTTP_MAX_HEADERS * 4];
    int ns = parse_head(old, stored, GD_HTTP_MAX_HEADERS * 4);
    gd_http_header merged[GD_HTTP_MAX_HEADERS * 5 + 2];
    int n = 0;
    for (int i = 0; i < ns; i++) {
        int replaced = 0;
        for (int k = 0; k < nh && !replaced; k++)
            replaced = !not_stored(h, nh, k) && !kept_on_update(&h[k]) &&
                       ieq(h[k].name, h[k].name_len, stored[i].name, stored[i].name_len);
        if (!replaced) merged[n++] = stored[i];
    }
    const gd_http_header *age = NULL;
    for (int k = 0; k < nh && n < GD_HTTP_MAX_HEADERS * 5; k++) {
        if (!not_stored(h, nh, k) && !kept_on_update(&h[k])) merged[n++] = h[k];
        if (hname_is(&h[k], "age") && !age) age = &h[k];
    }
    int nstore = n;
    if (age) merged[n++] = *age;
    gd_cache_times t;
    int cacheable = gd_cache_ttl_after(p, old->status, merged, n, now, delay, &t);
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
    if (!star) return gd_cache_invalidate_path(c, pattern, plen);
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

int gd_cache_invalidate_path(gd_cache *c, const char *path, size_t len)
{
    GD_CHECK_OBJ(c, CACHE_MAGIC);
    uint64_t h = hash_bytes(path, len);
    int removed = 0;
    gd_cache_obj *o = c->pt[h & c->mask];
    while (o) {
        gd_cache_obj *next = o->pnext;
        if (o->phash == h && o->pathlen == len && memcmp(o->path, path, len) == 0) {
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
