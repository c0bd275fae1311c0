/* Shared by the cache's files (cache_policy.c, cache_key.c, cache_fresh.c,
 * cache_store.c) and no one else: small byte helpers and the hash. The contract for
 * the rest of the edge is cache.h. */
#ifndef GD_EDGE_CACHE_INT_H
#define GD_EDGE_CACHE_INT_H

#include "edge/cache.h"

#include <stdint.h>
#include <string.h>

#define MAX_DELTA 2147483648.0 /* RFC 9111 1.2.2: the largest delta-seconds */

static inline int lower(int ch)
{
    return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch;
}

static inline int is_ows(int ch)
{
    return ch == ' ' || ch == '\t';
}

static inline void trim(const char **s, size_t *n)
{
    while (*n && is_ows((unsigned char)**s)) (*s)++, (*n)--;
    while (*n && is_ows((unsigned char)(*s)[*n - 1])) (*n)--;
}

static inline int ieq(const char *a, size_t al, const char *b, size_t bl)
{
    if (al != bl) return 0;
    for (size_t i = 0; i < al; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i])) return 0;
    return 1;
}

/* Header name h equals the lowercase literal name. */
static inline int hname_is(const gd_http_header *h, const char *name)
{
    return ieq(h->name, h->name_len, name, strlen(name));
}

static inline int bytes_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    int r = memcmp(a, b, al < bl ? al : bl);
    if (r) return r;
    return al < bl ? -1 : al > bl;
}

static inline int is_tchar(int ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* The next entity-tag of a list at *s (OWS and commas skipped): its quoted opaque-tag
 * (quotes included) in *tag / *n and whether it was W/. 0 at the end or at something
 * that is not an entity-tag. Weak comparison compares the opaque-tags alone. */
static inline int etag_next(const char **s, const char *end, const char **tag, size_t *n, int *weak)
{
    while (*s < end && (is_ows((unsigned char)**s) || **s == ',')) (*s)++;
    if (*s >= end) return 0;
    *weak = 0;
    if (end - *s >= 2 && (*s)[0] == 'W' && (*s)[1] == '/') *s += 2, *weak = 1;
    if (*s >= end || **s != '"') return 0;
    const char *q = memchr(*s + 1, '"', (size_t)(end - *s - 1));
    if (!q) return 0;
    *tag = *s;
    *n = (size_t)(q + 1 - *s);
    *s = q + 1;
    return 1;
}

/* A 64-bit hash reading 8 bytes per step, mixing with 64x64->128-bit multiplies
 * (folded high ^ low), in the manner of the wyhash family; written for gameday. */
static inline uint64_t rd64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint64_t mix(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t hash_bytes(const char *key, size_t n)
{
    static const uint64_t k0 = 0xa0761d6478bd642full, k1 = 0xe7037ed1a0b428dbull,
                          k2 = 0x8ebc6af09c88c6e3ull, k3 = 0x589965cc75374cc3ull;
    const unsigned char *p = (const unsigned char *)key;
    uint64_t h = k0 ^ (n * k1);
    size_t left = n;
    while (left >= 16) {
        h = mix(rd64(p) ^ k1, rd64(p + 8) ^ h ^ k2);
        p += 16;
        left -= 16;
    }
    uint64_t a = 0, b = 0;
    if (left >= 8) {
        a = rd64(p);
        p += 8;
        left -= 8;
    }
    memcpy(&b, p, left);
    h = mix(a ^ k1 ^ h, b ^ k3 ^ (uint64_t)n);
    return mix(h ^ k0, h ^ k2);
}

#endif
