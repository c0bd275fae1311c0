/* The query protocol's parameters (see aws_query.h). */
#include "server/aws_query.h"

#include "core/mem.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes a form-encoded piece into out (NUL-terminated); its length or -1. */
static long form_decode(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int hi = i + 2 < n ? hexval(s[i + 1]) : -1, lo = i + 2 < n ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0) return -1;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        out[o++] = c;
    }
    out[o] = 0;
    return (long)o;
}

static int add_pairs(gd_aws_params *ps, const char *s, size_t n, char **mem, char *err,
                     size_t errlen)
{
    if (!s || !n) return 0;
    const char *p = s, *end = s + n;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        if (e == p) {
            p = e + 1;
            continue;
        }
        const char *eq = memchr(p, '=', (size_t)(e - p));
        const char *ke = eq ? eq : e, *v = eq ? eq + 1 : e;
        char *k = *mem;
        long kl = form_decode(p, (size_t)(ke - p), k);
        if (kl < 0) {
            snprintf(err, errlen, "parameter '%.*s': malformed %%-escape in its name",
                     (int)(ke - p > 60 ? 60 : ke - p), p);
            return -1;
        }
        if (kl == 0 || kl > GD_AWS_MAX_KEY) {
            snprintf(err, errlen, "a parameter name must be 1..%d characters", GD_AWS_MAX_KEY);
            return -1;
        }
        char *val = k + kl + 1;
        long vl = form_decode(v, (size_t)(e - v), val);
        if (vl < 0) {
            snprintf(err, errlen, "parameter '%.60s': malformed %%-escape in its value", k);
            return -1;
        }
        *mem = val + vl + 1;
        p = e + 1;
        if (!strncmp(k, "X-Amz-", 6)) continue; /* a presigned request's own */
        for (int i = 0; i < ps->n; i++)
            if (!strcmp(ps->key[i], k)) {
                snprintf(err, errlen, "parameter '%.60s' is given twice", k);
                return -1;
            }
        if (ps->n == GD_AWS_MAX_PARAMS) {
            snprintf(err, errlen, "more than %d parameters", GD_AWS_MAX_PARAMS);
            return -1;
        }
        ps->key[ps->n] = k;
        ps->val[ps->n] = val;
        ps->read[ps->n] = 0;
        ps->n++;
    }
    return 0;
}

int gd_aws_params_parse(gd_aws_params *ps, const char *a, size_t an, const char *b, size_t bn,
                        char *err, size_t errlen)
{
    ps->n = 0;
    if (!a) an = 0;
    if (!b) bn = 0;
    /* Decoded text is never longer than the raw; each pair adds at most two NULs. */
    ps->mem = gd_malloc(2 * (an + bn) + 4);
    char *mem = ps->mem;
    if (add_pairs(ps, a, an, &mem, err, errlen) < 0 ||
        add_pairs(ps, b, bn, &mem, err, errlen) < 0) {
        ps->n = 0;
        return -1;
    }
    return 0;
}

void gd_aws_params_free(gd_aws_params *ps)
{
    gd_free(ps->mem);
    ps->mem = NULL;
    ps->n = 0;
}

static const char *lookup(gd_aws_params *ps, const char *key)
{
    for (int i = 0; i < ps->n; i++)
        if (!strcmp(ps->key[i], key)) {
            ps->read[i] = 1;
            return ps->val[i];
        }
    return NULL;
}

const char *gd_aws_param(gd_aws_params *ps, const char *fmt, ...)
{
    char key[GD_AWS_MAX_KEY + 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(key, sizeof key, fmt, ap);
    va_end(ap);
    return lookup(ps, key);
}

int gd_aws_param_list(gd_aws_params *ps, const char *prefix, const char **out, int max, char *err,
                      size_t errlen)
{
    int n = 0;
    for (;;) {
        const char *v = gd_aws_param(ps, "%s.%d", prefix, n + 1);
        if (!v) break;
        if (n == max) {
            snprintf(err, errlen, "%s: at most %d values", prefix, max);
            return -1;
        }
        out[n++] = v;
    }
    /* A member past a gap ("X.1", "X.3") would be silently dropped: refuse it. */
    size_t pl = strlen(prefix);
    for (int i = 0; i < ps->n; i++) {
        const char *k = ps->key[i];
        if (strncmp(k, prefix, pl) != 0 || k[pl] != '.' || ps->read[i]) continue;
        char *end;
        long idx = strtol(k + pl + 1, &end, 10);
        if (*end == 0) {
            snprintf(err, errlen, "%s: member %ld given without member %d", prefix, idx, n + 1);
            return -1;
        }
    }
    return n;
}

int gd_aws_param_int(gd_aws_params *ps, const char *key, long lo, long hi, long def, long *out,
                     char *err, size_t errlen)
{
    const char *v = lookup(ps, key);
    *out = def;
    if (!v) return 0;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (!*v || *end || errno || x < lo || x > hi) {
        snprintf(err, errlen, "%s: '%.40s' is not an integer in %ld..%ld", key, v, lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

int gd_aws_param_bool(gd_aws_params *ps, const char *key, int def, int *out, char *err,
                      size_t errlen)
{
    const char *v = lookup(ps, key);
    *out = def;
    if (!v) return 0;
    if (!strcmp(v, "true"))
        *out = 1;
    else if (!strcmp(v, "false"))
        *out = 0;
    else {
        snprintf(err, errlen, "%s: '%.40s' is not a boolean (allowed: true, false)", key, v);
        return -1;
    }
    return 0;
}

const char *gd_aws_params_unread(const gd_aws_params *ps)
{
    for (int i = 0; i < ps->n; i++)
        if (!ps->read[i] && strcmp(ps->key[i], "Action") != 0 && strcmp(ps->key[i], "Version") != 0)
            return ps->key[i];
    return NULL;
}
