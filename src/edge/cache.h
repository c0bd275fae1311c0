/* The CDN cache core of the edge's "cdn" mode: cache behaviours (key policy, TTLs)
 * parsed from JSON (cache_policy.c), canonical cache keys (cache_key.c), CloudFront-style
 * TTL rules (cache_fresh.c), conditional and range requests (cache_cond.c), and an
 * in-memory store with Vary variants, LRU under a byte
 * cap, invalidation and miss collapsing (cache_store.c). Single-threaded (one cache per
 * loop thread); all times are game seconds. */
#ifndef GD_EDGE_CACHE_H
#define GD_EDGE_CACHE_H

#include "core/buf.h"
#include "core/http.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* ---- policy (one cache behaviour) ---- */

#define GD_CACHE_MAX_NAMES 10         /* CloudFront's quota per list (headers, cookies, query) */
#define GD_CACHE_MAX_NAME_LEN 256     /* bytes per header, cookie or query-string name */
#define GD_CACHE_MAX_QUERY_PARAMS 128 /* parameters sorted into a key; more is GD_ETOOBIG */
#define GD_CACHE_MAX_VARY 8           /* names in a response's Vary; more is not stored */
#define GD_CACHE_MAX_VARIANTS 8       /* Vary variants kept per cache key (LRU among them) */

typedef enum gd_cache_qs_mode {
    GD_CACHE_QS_NONE,    /* the query string is not part of the key (the default) */
    GD_CACHE_QS_ALL,     /* every parameter, sorted by name then value */
    GD_CACHE_QS_INCLUDE, /* only the listed parameters, sorted */
    GD_CACHE_QS_EXCEPT,  /* every parameter but the listed ones, sorted */
} gd_cache_qs_mode;

typedef struct gd_cache_name {
    char *s; /* NUL-terminated, owned by the policy */
    size_t len;
} gd_cache_name;

typedef struct gd_cache_names {
    gd_cache_name *v; /* sorted by bytes, no duplicates */
    int n;
} gd_cache_names;

typedef struct gd_cache_policy {
    char *path;              /* behaviour path pattern, "*" by default (see gd_cache_path_match) */
    gd_cache_qs_mode qs;     /* query strings in the key */
    gd_cache_names qs_names; /* for GD_CACHE_QS_INCLUDE / GD_CACHE_QS_EXCEPT (case-sensitive) */
    gd_cache_names headers;  /* request header names in the key, lowercased */
    gd_cache_names cookies;  /* cookie names in the key (case-sensitive) */
    double min_ttl, default_ttl, max_ttl; /* seconds: 0, 86400, 31536000 by default */
    double error_ttl;                     /* "error_caching_min_ttl": 10 by default */
    double stale_while_revalidate;        /* used when Cache-Control has none: 0 */
    double stale_if_error;                /* used when Cache-Control has none: 0 */
    double lock_timeout; /* a miss being fetched longer than this is abandoned: 5 */
    double heuristic;    /* "heuristic_freshness": 0 (off, CloudFront-like default_ttl), else
                            this fraction of Date - Last-Modified when no explicit TTL */
} gd_cache_policy;

/** Parses one behaviour object:
 *    {"path":"*.jpg", "query_strings":"none"|"all"|{"include":[..]}|{"except":[..]},
 *     "headers":["accept-language"], "cookies":["lang"], "min_ttl":0, "default_ttl":86400,
 *     "max_ttl":31536000, "error_caching_min_ttl":10, "stale_while_revalidate":0,
 *     "stale_if_error":0, "lock_timeout":5, "heuristic_freshness":0}
 *  Every field is optional (defaults as shown; query_strings "none"); unknown fields are
 *  an error. TTLs are seconds of game time, numbers >= 0 with min <= default <= max.
 *  On success fills *out (free it with gd_cache_policy_free) and returns 0. On error
 *  returns GD_EINVAL, writes "behavior.<field>: <what was wrong>; <what is allowed>" into
 *  err (if errlen > 0) and leaves *out empty (safe to free, nothing to free). */
int gd_cache_policy_parse(const json_t *behavior, gd_cache_policy *out, char *err, size_t errlen);
/** Fills p with the defaults above (path "*"); free it with gd_cache_policy_free. */
void gd_cache_policy_default(gd_cache_policy *p);
/** Frees what the policy owns and zeroes it; safe on a zeroed or already freed policy. */
void gd_cache_policy_free(gd_cache_policy *p);

/** CloudFront path-pattern match: '*' matches any run of bytes (including '/'), '?'
 *  exactly one byte, everything else itself, case-sensitive, against the whole path
 *  (no query). A pattern not starting with '/' or '*' is taken as starting with '/'
 *  ("images/a*.jpg" matches "/images/a1.jpg"). Returns 1 on a match, else 0. */
int gd_cache_path_match(const char *pattern, const char *path, size_t pathlen);

/* ---- cache key ---- */

/** Writes req's canonical cache key under policy p into out (replacing its contents).
 *  The key is readable and unambiguous; every variable part is a netstring "<len>:<bytes>":
 *    GET|<host><path>{q<name>(<value>|-)}{h<name>(<value>...|-)}{c<name>(<value>|-)}
 *  GET and HEAD share "GET" (any other method keeps its own name). The Host header is
 *  lowercased; the path is taken as sent. Query parameters are kept per p->qs, sorted
 *  by name then value ("a=1&b=2" and "b=2&a=1" give one key); "-" marks a parameter
 *  without '=' and an absent header or cookie. Headers (all instances, OWS-trimmed) and
 *  cookies (first instance, from every Cookie header) follow in the policy's sorted order.
 *  Allocates nothing but out's growth. Returns 0, or GD_ETOOBIG when the key exceeds
 *  out->max or the query has more than GD_CACHE_MAX_QUERY_PARAMS parameters (the caller
 *  should then forward the request uncached). */
int gd_cache_key(const gd_cache_policy *p, const gd_http_req *req, gd_buf *out);

/* ---- TTL ---- */

enum gd_cache_time_flags {
    GD_CACHE_T_ORIGIN = 1 << 0,       /* the TTL came from s-maxage / max-age / Expires */
    GD_CACHE_T_DEFAULT = 1 << 1,      /* no origin TTL: default_ttl was used */
    GD_CACHE_T_NO_CACHE = 1 << 2,     /* "no-cache": stored but revalidated on every use */
    GD_CACHE_T_MIN_OVERRIDE = 1 << 3, /* min_ttl > 0 overrode no-store / private / no-cache */
    GD_CACHE_T_NO_STALE = 1 << 4,     /* must-revalidate / proxy-revalidate / no-cache /
                                         no-store / private: never served stale */
    GD_CACHE_T_ERROR = 1 << 5,        /* an error status cached for error_ttl */
    GD_CACHE_T_SET_COOKIE = 1 << 6,   /* the response had Set-Cookie (not stored) */
    GD_CACHE_T_AUTH_OK = 1 << 7,      /* public, s-maxage or must-revalidate: may be stored
                                         for a request with Authorization (RFC 9111 3.5) */
    GD_CACHE_T_HEURISTIC = 1 << 8,    /* heuristic freshness from Last-Modified (4.2.2) */
    GD_CACHE_T_TARGETED = 1 << 9,     /* CDN-Cache-Control / Surrogate-Control decided */
    GD_CACHE_T_PASS = 1 << 10,        /* a hit-for-miss marker (gd_cache_insert_pass) */
};

typedef struct gd_cache_times {
    double ttl;         /* freshness lifetime chosen (seconds) */
    double age;         /* the response's age on arrival: upstream Age plus response delay */
    double fresh_until; /* now + ttl */
    double stale_while_revalidate_until; /* fresh_until + stale-while-revalidate window */
    double stale_if_error_until;         /* fresh_until + stale-if-error window */
    unsigned flags;                      /* enum gd_cache_time_flags */
} gd_cache_times;

/** Decides whether a response (status, headers h[0..nh)) to a GET may be stored and
 *  for how long, at game time now; the rules (CloudFront's, cited) are in
 *  cache_fresh.c.
 *  Returns 1 and fills *out when cacheable, 0 when not (*out is then zeroed).
 *  Only call it for responses to GET: a HEAD response has no body to store. */
int gd_cache_ttl(const gd_cache_policy *p, int status, const gd_http_header *h, int nh, double now,
                 gd_cache_times *out);
/** gd_cache_ttl for a response that took delay seconds from request to answer: the
 *  delay is added to its Age (RFC 9111 4.2.3, corrected_age_value) in out->age and
 *  taken off an origin TTL. */
int gd_cache_ttl_after(const gd_cache_policy *p, int status, const gd_http_header *h, int nh,
                       double now, double delay, gd_cache_times *out);
/** Parses an HTTP-date (IMF-fixdate, RFC 850 or asctime) into Unix seconds: 0, or -1
 *  when it is not one. */
int gd_cache_http_date(const char *s, size_t n, double *out);

/* ---- stored objects ---- */

/* One stored response, immutable once built, reference-counted. The fields are
 * read-only to callers; all pointers point into the object's own single block. */
typedef struct gd_cache_obj {
    uint32_t magic;
    int refs;
    const char *key; /* the cache key (not NUL-terminated) */
    size_t keylen;
    const char *path; /* the request path, for invalidation */
    size_t pathlen;
    int status;
    /* "HTTP/1.1 200 OK\r\n" then each stored header line ending in "\r\n", WITHOUT the
     * empty line that ends a head: the server appends Age, Content-Length,
     * Connection (and anything else of its own), then "\r\n", then the body. Stored
     * headers are the origin's minus hop-by-hop ones (Connection and those it names,
     * Keep-Alive, TE, Trailer, Transfer-Encoding, Upgrade, Proxy-*), Age,
     * Content-Length, Set-Cookie and Surrogate-Control; the origin's Date is kept. */
    const char *head;
    size_t headlen;
    const char *body;
    size_t body_len;
    const char *etag; /* value of ETag, NULL if none */
    size_t etag_len;
    const char *last_modified; /* value of Last-Modified, NULL if none */
    size_t last_modified_len;
    const char *date; /* value of Date, NULL if none */
    size_t date_len;
    double stored_at; /* game seconds */
    gd_cache_times times;
    size_t size; /* bytes charged to the cache: the block plus an overhead estimate */
    /* private to cache_store.c */
    int nvary;
    int linked;
    uint64_t hash, phash; /* of the key, of the path */
    uint64_t used;
    struct gd_cache_obj *hnext, *pnext, *lru_prev, *lru_next;
    struct gd_cache_vary *vary;
} gd_cache_obj;

/** Builds an object (refs 1, owned by the caller) in one allocation from an origin
 *  response to req: key/keylen from gd_cache_key, the status, the origin's headers
 *  h[0..nh) (filtered as described for head), the body (copied) and times from
 *  gd_cache_ttl. The request supplies the path and the values of the headers the
 *  response's Vary names. Returns 0, GD_EINVAL (Vary: *, bad status), or GD_ETOOBIG
 *  (more than GD_CACHE_MAX_VARY Vary names, or a head over GD_HTTP_MAX_HEAD). */
int gd_cache_obj_new(const char *key, size_t keylen, const gd_http_req *req, int status,
                     const gd_http_header *h, int nh, const void *body, size_t body_len, double now,
                     const gd_cache_times *t, gd_cache_obj **out);
/** Takes one more reference; returns o. */
gd_cache_obj *gd_cache_obj_ref(gd_cache_obj *o);
/** Drops one reference; the last one frees the object. NULL is a no-op. */
void gd_cache_obj_unref(gd_cache_obj *o);

/** Appends the conditional-request lines for revalidating o to out:
 *  "If-None-Match: <etag>\r\n" and/or "If-Modified-Since: <last-modified>\r\n".
 *  Returns the number of lines written (0: no validator, fetch unconditionally) or
 *  GD_ETOOBIG. */
int gd_cache_revalidation_headers(const gd_cache_obj *o, gd_buf *out);

/* ---- conditional and range requests (cache_cond.c) ---- */

/** Whether a stored response o is "not modified" for a request's If-None-Match
 *  (inm, weak comparison, a list or "*") or, when inm is NULL, If-Modified-Since (ims,
 *  against Last-Modified, else Date): 1 means answer 304 (RFC 9110 13.1.2, 13.1.3,
 *  13.2.2). Either may be NULL. Only for a stored 200 to a GET or HEAD. */
int gd_cache_not_modified(const gd_cache_obj *o, const char *inm, size_t inm_len, const char *ims,
                          size_t ims_len);

enum { GD_CACHE_RANGE_NONE, GD_CACHE_RANGE_PART, GD_CACHE_RANGE_UNSATISFIABLE };

/** One byte range of a stored 200 for a GET's Range (and If-Range) (RFC 9110 14.2):
 *  GD_CACHE_RANGE_PART with [*first, *last] (inclusive, within the body),
 *  GD_CACHE_RANGE_UNSATISFIABLE (answer 416), or GD_CACHE_RANGE_NONE: answer the whole
 *  200, as a server may for several ranges, another unit, bad syntax, or an If-Range
 *  that does not hold (strong ETag comparison, or the exact Last-Modified). */
int gd_cache_byte_range(const gd_cache_obj *o, const char *range, size_t n, const char *if_range,
                        size_t if_range_len, size_t *first, size_t *last);

/* ---- the store ---- */

typedef struct gd_cache gd_cache;

typedef struct gd_cache_stats {
    uint64_t hits;         /* lookups answered GD_CACHE_FRESH */
    uint64_t misses;       /* lookups answered MISS, PASS, EXPIRED or STALE_IF_ERROR_ONLY */
    uint64_t stale_served; /* lookups answered STALE, plus gd_cache_note_stale_if_error */
    uint64_t collapsed;    /* gd_cache_pending_begin callers told to wait */
    uint64_t passes;       /* lookups answered GD_CACHE_PASS (counted in misses too) */
    uint64_t refresh_hits; /* 304 revalidations applied by gd_cache_refresh */
    uint64_t inserted;     /* objects stored by gd_cache_insert */
    uint64_t evicted;      /* objects dropped by the LRU for room (or variant count) */
    uint64_t invalidated;  /* objects dropped by gd_cache_invalidate */
    uint64_t bytes;        /* bytes charged by the objects stored now */
    uint64_t objects;      /* objects stored now */
} gd_cache_stats;

typedef enum gd_cache_state {
    GD_CACHE_MISS,                /* nothing stored for this key and Vary values */
    GD_CACHE_FRESH,               /* serve it */
    GD_CACHE_STALE,               /* expired, within stale-while-revalidate: serve it and
                                     revalidate in the background */
    GD_CACHE_STALE_IF_ERROR_ONLY, /* expired: revalidate; serve it only if the origin
                                     fails (error or 5xx), within stale-if-error */
    GD_CACHE_EXPIRED,             /* expired beyond any stale window: never serve it
                                     unvalidated; use it for a conditional request */
    GD_CACHE_PASS,                /* a recent answer for this key could not be stored:
                                     fetch it without collapsing (hit-for-miss); *out is NULL */
} gd_cache_state;

/** Creates an empty cache holding at most max_bytes (objects over max_bytes / 8 are
 *  refused). Free with gd_cache_free. */
gd_cache *gd_cache_new(size_t max_bytes);
/** Unlinks every object (each is freed once its last reference goes), drops pending
 *  entries and frees the cache. NULL is a no-op. */
void gd_cache_free(gd_cache *c);
/** Changes the byte cap, evicting LRU objects until the cache fits. */
void gd_cache_set_max_bytes(gd_cache *c, size_t max_bytes);
/** The largest object gd_cache_insert accepts (max_bytes / 8), to refuse early. */
size_t gd_cache_max_obj_bytes(const gd_cache *c);
/** The counters (owned by the cache, updated live). */
const gd_cache_stats *gd_cache_stats_get(const gd_cache *c);
/** Counts a stale object served because the origin failed (stale_served). */
void gd_cache_note_stale_if_error(gd_cache *c);

/** Finds the object for key whose Vary values match req's headers (req may be NULL:
 *  only objects without Vary match) and classifies it at game time now. For every state
 *  but GD_CACHE_MISS, *out gets a new reference the caller must unref; for MISS *out is
 *  NULL. A found object moves to the LRU front. Allocates nothing; O(key length). */
gd_cache_state gd_cache_lookup(gd_cache *c, const char *key, size_t keylen, const gd_http_req *req,
                               double now, gd_cache_obj **out);
/** Stores o: the cache takes its own reference (the caller keeps and later unrefs its
 *  own). Replaces a stored variant of the same key with the same Vary names and values;
 *  keeps at most GD_CACHE_MAX_VARIANTS variants per key; then evicts LRU objects until
 *  the byte cap holds. Returns 0, GD_ETOOBIG (o->size over max_bytes / 8: not stored)
 *  or GD_EEXIST (o is already stored). Like every function here taking a cache or an
 *  object, it logs and aborts on a bad magic number (a stale pointer).
 *  Do not insert a 5xx over a stale object you could serve instead (stale-if-error). */
int gd_cache_insert(gd_cache *c, gd_cache_obj *o);
/** Remembers for ttl seconds from now that the answer for key could not be stored
 *  (no-store, private ...), so that lookups answer GD_CACHE_PASS instead of making
 *  requests wait for each other (Varnish's hit-for-miss). A marker holds no response;
 *  storing a real object for the key removes it. Returns 0 or GD_ETOOBIG. */
int gd_cache_insert_pass(gd_cache *c, const char *key, size_t keylen, const char *path,
                         size_t pathlen, double now, double ttl);
/** Applies a 304 Not Modified (headers h[0..nh), at game time now) to old, as RFC 9111
 *  section 4.3.4 says: the stored headers named in the 304 are replaced by its ones
 *  (Cache-Control, Expires, Date, Last-Modified ...; not hop-by-hop, Content-Length,
 *  Set-Cookie, nor the validator and representation metadata the kept body depends on:
 *  ETag, Content-Type, -Encoding, -Range, -Language, -Location, Vary), the body is kept,
 *  and the times are recomputed with gd_cache_ttl_after under p (with the 304's Date,
 *  Age and delay, the seconds its request took). Check gd_cache_validators_match first. The result
 * is a new object (*out, a reference for the caller) that replaces old in the cache if old is still
 * stored and still cacheable; in-flight users of old keep it until they unref it. Returns 1 if
 * stored, 0 if only returned (old was evicted or invalidated meanwhile, or the 304 made it
 * uncacheable: old is then removed), or a negative error (then *out is NULL). */
int gd_cache_refresh(gd_cache *c, gd_cache_obj *old, const gd_cache_policy *p,
                     const gd_http_header *h, int nh, double now, double delay, gd_cache_obj **out);
/** Whether a 304 (headers h[0..nh)) may update o (RFC 9111 4.3.4): its ETag matches
 *  o's (weak comparison), or without an ETag its Last-Modified equals o's, or it has
 *  no validator at all. 1 or 0; on 0 the caller must fetch the response anew. */
int gd_cache_validators_match(const gd_cache_obj *o, const gd_http_header *h, int nh);
/** Removes the objects whose path matches pattern, CloudFront invalidation style: an
 *  exact path ("/index.html"), or a prefix ending in one trailing '*' ("/images/" then
 *  '*'; "/" then '*' for everything). Objects in use stay alive until unref'd but are
 *  unlinked at once. Returns the number removed, or GD_EINVAL (no leading '/', or a '*'
 *  anywhere but at the end). */
int gd_cache_invalidate(gd_cache *c, const char *pattern);
/** Removes every object stored for this exact path (any query, host or variant), in
 *  time proportional to their number (a path index): how a cache invalidates the
 *  target of an unsafe request (RFC 9111 4.4). Returns the number removed. */
int gd_cache_invalidate_path(gd_cache *c, const char *path, size_t len);

/* ---- request collapsing (the caller's event loop does the waiting) ---- */

/** Registers a fetch of key at game time now. Returns 1 if the caller must fetch from
 *  the origin (no fetch in flight, or the one in flight began more than lock_timeout
 *  seconds ago and is taken as abandoned), or 0 if a fetch is in flight and the caller
 *  should wait for it (counted in collapsed). Past an internal limit of 65536 pending
 *  keys it returns 1 without recording anything. */
int gd_cache_pending_begin(gd_cache *c, const char *key, size_t keylen, double now,
                           double lock_timeout);
/** A user pointer slot of key's pending entry, for the caller's list of waiters (NULL
 *  if key is not pending). The slot survives an abandoned fetch being taken over. */
void **gd_cache_pending_slot(gd_cache *c, const char *key, size_t keylen);
/** Ends key's pending fetch (done or failed) and returns its slot's pointer (NULL if
 *  none), so the caller can wake its waiters. Unknown keys are a no-op. Note: a fetcher
 *  taken as abandoned that ends later ends its successor's entry too (an extra fetch,
 *  no harm). */
void *gd_cache_pending_end(gd_cache *c, const char *key, size_t keylen);

#endif
