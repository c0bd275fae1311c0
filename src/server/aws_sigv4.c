/* Signature Version 4 (see aws_sigv4.h): canonical request, string to sign, signing
 * key and signature, verified in constant time. */
#include "server/aws_sigv4.h"

#include "core/err.h"
#include "core/mem.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ALGORITHM "AWS4-HMAC-SHA256"
#define MAX_QUERY_PAIRS 256
#define MAX_SIGNED 32

static const char hexd[] = "0123456789abcdef";

static void hex(const unsigned char *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexd[p[i] >> 4];
        out[2 * i + 1] = hexd[p[i] & 15];
    }
    out[2 * n] = 0;
}

static void sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
    hex(md, 32, out);
}

static void hmac(const void *key, size_t klen, const char *msg, size_t mlen, unsigned char out[32])
{
    unsigned int len = 32;
    HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, mlen, out, &len);
}

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

int gd_sigv4_encode(gd_buf *out, const char *s, size_t n, int keep_slash)
{
    static const char up[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int r;
        if (unreserved(c) || (keep_slash && c == '/')) {
            r = gd_buf_append(out, &s[i], 1);
        } else {
            char e[3] = {'%', up[c >> 4], up[c & 15]};
            r = gd_buf_append(out, e, 3);
        }
        if (r < 0) return r;
    }
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int gd_sigv4_decode(const char *s, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0) return GD_EINVAL;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (o + 1 >= outlen) return GD_ETOOBIG;
        out[o++] = c;
    }
    out[o] = 0;
    return (int)o;
}

int gd_sigv4_time(const char *s, time_t *out)
{
    if (!s || strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z') return GD_EINVAL;
    for (int i = 0; i < 15; i++)
        if (i != 8 && (s[i] < '0' || s[i] > '9')) return GD_EINVAL;
    struct tm tm = {0};
    tm.tm_year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0') - 1900;
    tm.tm_mon = (s[4] - '0') * 10 + (s[5] - '0') - 1;
    tm.tm_mday = (s[6] - '0') * 10 + (s[7] - '0');
    tm.tm_hour = (s[9] - '0') * 10 + (s[10] - '0');
    tm.tm_min = (s[11] - '0') * 10 + (s[12] - '0');
    tm.tm_sec = (s[13] - '0') * 10 + (s[14] - '0');
    if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60)
        return GD_EINVAL;
    *out = timegm(&tm);
    return 0;
}

/* ---- reading the claim ---- */

/* Copies [p, p+n) into out (size outn) when it fits; 0 or -1. */
static int copy(char *out, size_t outn, const char *p, size_t n)
{
    if (n >= outn) return -1;
    memcpy(out, p, n);
    out[n] = 0;
    return 0;
}

/* KEY/DATE/REGION/SERVICE/aws4_request into a. */
static int credential(gd_sigv4_auth *a, const char *p, size_t n, char *err, size_t errlen)
{
    const char *part[5];
    size_t len[5];
    int k = 0;
    const char *s = p, *end = p + n;
    while (k < 5) {
        const char *slash = memchr(s, '/', (size_t)(end - s));
        const char *e = slash && k < 4 ? slash : end;
        part[k] = s;
        len[k] = (size_t)(e - s);
        k++;
        if (e == end) break;
        s = e + 1;
    }
    if (k != 5 || len[4] != 12 || memcmp(part[4], "aws4_request", 12) != 0) {
        snprintf(err, errlen,
                 "Credential must be KEY/YYYYMMDD/REGION/SERVICE/aws4_request, got '%.*s'",
                 (int)(n > 120 ? 120 : n), p);
        return -1;
    }
    if (len[0] == 0 || copy(a->access_key, sizeof a->access_key, part[0], len[0]) < 0 ||
        len[1] != 8 || copy(a->date, sizeof a->date, part[1], len[1]) < 0 ||
        copy(a->region, sizeof a->region, part[2], len[2]) < 0 ||
        copy(a->service, sizeof a->service, part[3], len[3]) < 0 || !len[2] || !len[3]) {
        snprintf(err, errlen, "Credential has a part that is empty or too long: '%.*s'",
                 (int)(n > 120 ? 120 : n), p);
        return -1;
    }
    for (int i = 0; i < 8; i++)
        if (a->date[i] < '0' || a->date[i] > '9') {
            snprintf(err, errlen, "Credential's date must be YYYYMMDD, got '%s'", a->date);
            return -1;
        }
    return 0;
}

static int header_value(const gd_sigv4_req *r, const char *name, char *out, size_t outn)
{
    size_t n;
    const char *v = gd_http_header_get(r->headers, r->nheaders, name, &n);
    if (!v) return 0;
    while (n && (*v == ' ' || *v == '\t')) v++, n--;
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t')) n--;
    return copy(out, outn, v, n) < 0 ? -1 : 1;
}

/* A query parameter, decoded; 1 found, 0 absent, -1 bad. */
static int query_param(const gd_sigv4_req *r, const char *name, char *out, size_t outn)
{
    if (!r->query || !r->query_len) return 0;
    size_t nl = strlen(name);
    const char *p = r->query, *end = r->query + r->query_len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(e - p));
        const char *ke = eq ? eq : e;
        if ((size_t)(ke - p) == nl && !memcmp(p, name, nl)) {
            const char *v = eq ? eq + 1 : e;
            return gd_sigv4_decode(v, (size_t)(e - v), out, outn) < 0 ? -1 : 1;
        }
        p = e + 1;
    }
    return 0;
}

static enum gd_sigv4_parsed parse_header(const gd_sigv4_req *r, gd_sigv4_auth *a, const char *h,
                                         size_t n, char *err, size_t errlen)
{
    size_t al = strlen(ALGORITHM);
    if (n < al || memcmp(h, ALGORITHM, al) != 0 || (n > al && h[al] != ' ')) {
        snprintf(err, errlen, "Authorization header requires the %s algorithm", ALGORITHM);
        return GD_SIGV4_MALFORMED;
    }
    int have_cred = 0, have_sh = 0, have_sig = 0;
    const char *p = h + al, *end = h + n;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == ',')) p++;
        if (p >= end) break;
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma ? comma : end;
        const char *eq = memchr(p, '=', (size_t)(e - p));
        if (!eq) {
            snprintf(err, errlen, "Authorization header: '%.*s' is not NAME=VALUE",
                     (int)(e - p > 60 ? 60 : e - p), p);
            return GD_SIGV4_MALFORMED;
        }
        size_t kl = (size_t)(eq - p), vl = (size_t)(e - eq - 1);
        const char *v = eq + 1;
        while (vl && v[vl - 1] == ' ') vl--;
        if (kl == 10 && !memcmp(p, "Credential", 10)) {
            if (credential(a, v, vl, err, errlen) < 0) return GD_SIGV4_MALFORMED;
            have_cred = 1;
        } else if (kl == 13 && !memcmp(p, "SignedHeaders", 13)) {
            if (copy(a->signed_headers, sizeof a->signed_headers, v, vl) < 0) {
                snprintf(err, errlen, "SignedHeaders is too long");
                return GD_SIGV4_MALFORMED;
            }
            have_sh = 1;
        } else if (kl == 9 && !memcmp(p, "Signature", 9)) {
            if (vl != 64 || copy(a->signature, sizeof a->signature, v, vl) < 0) {
                snprintf(err, errlen, "Signature must be 64 hex digits");
                return GD_SIGV4_MALFORMED;
            }
            have_sig = 1;
        }
        p = e;
    }
    if (!have_cred || !have_sh || !have_sig) {
        snprintf(err, errlen,
                 "Authorization header requires 'Credential', 'SignedHeaders' and "
                 "'Signature' parameters");
        return GD_SIGV4_MALFORMED;
    }
    int d = header_value(r, "x-amz-date", a->amz_date, sizeof a->amz_date);
    if (d == 0) {
        char date[64];
        if (header_value(r, "date", date, sizeof date) > 0) {
            snprintf(err, errlen,
                     "send the request's time as X-Amz-Date (YYYYMMDDTHHMMSSZ); "
                     "the Date header is not taken");
            return GD_SIGV4_MALFORMED;
        }
    }
    if (d <= 0) {
        snprintf(err, errlen, "X-Amz-Date is missing or malformed (YYYYMMDDTHHMMSSZ)");
        return GD_SIGV4_MALFORMED;
    }
    return GD_SIGV4_OK;
}

static enum gd_sigv4_parsed parse_query(const gd_sigv4_req *r, gd_sigv4_auth *a, char *err,
                                        size_t errlen)
{
    char alg[64], cred[256], exp[32];
    int have = query_param(r, "X-Amz-Algorithm", alg, sizeof alg);
    if (have == 0) return GD_SIGV4_NONE;
    if (have < 0 || strcmp(alg, ALGORITHM) != 0) {
        snprintf(err, errlen, "X-Amz-Algorithm must be %s", ALGORITHM);
        return GD_SIGV4_MALFORMED;
    }
    a->presigned = 1;
    if (query_param(r, "X-Amz-Credential", cred, sizeof cred) <= 0 ||
        query_param(r, "X-Amz-SignedHeaders", a->signed_headers, sizeof a->signed_headers) <= 0 ||
        query_param(r, "X-Amz-Signature", a->signature, sizeof a->signature) <= 0 ||
        query_param(r, "X-Amz-Date", a->amz_date, sizeof a->amz_date) <= 0) {
        snprintf(err, errlen,
                 "a presigned request needs X-Amz-Credential, X-Amz-Date, "
                 "X-Amz-SignedHeaders and X-Amz-Signature");
        return GD_SIGV4_MALFORMED;
    }
    if (credential(a, cred, strlen(cred), err, errlen) < 0) return GD_SIGV4_MALFORMED;
    if (strlen(a->signature) != 64) {
        snprintf(err, errlen, "X-Amz-Signature must be 64 hex digits");
        return GD_SIGV4_MALFORMED;
    }
    int e = query_param(r, "X-Amz-Expires", exp, sizeof exp);
    if (e < 0 || (e > 0 && (atol(exp) < 1 || atol(exp) > 604800))) {
        snprintf(err, errlen, "X-Amz-Expires must be 1..604800 seconds");
        return GD_SIGV4_MALFORMED;
    }
    a->expires = e > 0 ? atol(exp) : 0;
    return GD_SIGV4_OK;
}

enum gd_sigv4_parsed gd_sigv4_parse(const gd_sigv4_req *r, gd_sigv4_auth *a, char *err,
                                    size_t errlen)
{
    memset(a, 0, sizeof *a);
    err[0] = 0;
    size_t n;
    const char *h = gd_http_header_get(r->headers, r->nheaders, "authorization", &n);
    enum gd_sigv4_parsed p =
        h ? parse_header(r, a, h, n, err, errlen) : parse_query(r, a, err, errlen);
    if (p != GD_SIGV4_OK) return p;
    time_t t;
    if (gd_sigv4_time(a->amz_date, &t) < 0) {
        snprintf(err, errlen, "X-Amz-Date must be YYYYMMDDTHHMMSSZ, got '%s'", a->amz_date);
        return GD_SIGV4_MALFORMED;
    }
    if (memcmp(a->amz_date, a->date, 8) != 0) {
        snprintf(err, errlen,
                 "Date in Credential scope does not match YYYYMMDD from ISO-8601 "
                 "version of date from HTTP: '%s' != '%.8s'",
                 a->date, a->amz_date);
        return GD_SIGV4_MALFORMED;
    }
    return GD_SIGV4_OK;
}

/* ---- the canonical request ---- */

/* The path without dot segments and repeated slashes, keeping a leading and a trailing
 * one (what AWS's signers do before encoding). */
static int canonical_uri(gd_buf *out, const char *p, size_t n)
{
    if (n == 0) return gd_buf_puts(out, "/");
    const char *seg[128];
    size_t len[128];
    int k = 0;
    const char *s = p, *end = p + n;
    while (s < end) {
        const char *slash = memchr(s, '/', (size_t)(end - s));
        const char *e = slash ? slash : end;
        size_t l = (size_t)(e - s);
        if (l == 2 && s[0] == '.' && s[1] == '.') {
            if (k) k--;
        } else if (l && !(l == 1 && s[0] == '.')) {
            if (k == 128) return GD_ETOOBIG;
            seg[k] = s;
            len[k++] = l;
        }
        s = e + 1;
    }
    int r = p[0] == '/' ? gd_buf_puts(out, "/") : 0;
    for (int i = 0; i < k && r == 0; i++) {
        if (i) r = gd_buf_puts(out, "/");
        if (r == 0) r = gd_sigv4_encode(out, seg[i], len[i], 0);
    }
    if (r == 0 && k && p[n - 1] == '/') r = gd_buf_puts(out, "/");
    return r;
}

struct qpair {
    char *k, *v; /* encoded */
};

static int qpair_cmp(const void *a, const void *b)
{
    const struct qpair *x = a, *y = b;
    int c = strcmp(x->k, y->k);
    return c ? c : strcmp(x->v, y->v);
}

/* Encodes a raw (percent-encoded) piece canonically: decoded, then encoded again. */
static char *reencode(const char *s, size_t n)
{
    char *dec = gd_malloc(n + 1);
    int dl = gd_sigv4_decode(s, n, dec, n + 1);
    if (dl < 0) {
        gd_free(dec);
        return NULL;
    }
    gd_buf b;
    gd_buf_init(&b, 3 * (size_t)dl + 1);
    gd_sigv4_encode(&b, dec, (size_t)dl, 0);
    gd_free(dec);
    char *r = gd_strndup(b.data ? b.data : "", b.len);
    gd_buf_free(&b);
    return r;
}

static int canonical_query(gd_buf *out, const gd_sigv4_req *r, int presigned, char *err,
                           size_t errlen)
{
    if (!r->query || !r->query_len) return 0;
    struct qpair pairs[MAX_QUERY_PAIRS];
    int np = 0, rc = 0;
    const char *p = r->query, *end = r->query + r->query_len;
    while (p < end && rc == 0) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        if (e > p) {
            const char *eq = memchr(p, '=', (size_t)(e - p));
            const char *ke = eq ? eq : e, *v = eq ? eq + 1 : e;
            if (presigned && (size_t)(ke - p) == 15 && !memcmp(p, "X-Amz-Signature", 15)) {
                p = e + 1;
                continue;
            }
            if (np == MAX_QUERY_PAIRS) {
                snprintf(err, errlen, "the query has more than %d parameters", MAX_QUERY_PAIRS);
                rc = GD_ETOOBIG;
                break;
            }
            pairs[np].k = reencode(p, (size_t)(ke - p));
            pairs[np].v = reencode(v, (size_t)(e - v));
            np++;
            if (!pairs[np - 1].k || !pairs[np - 1].v) {
                snprintf(err, errlen, "the query has a malformed %%-escape");
                rc = GD_EINVAL;
            }
        }
        p = e + 1;
    }
    if (rc == 0) qsort(pairs, (size_t)np, sizeof pairs[0], qpair_cmp);
    for (int i = 0; i < np; i++) {
        if (rc == 0 && i) rc = gd_buf_puts(out, "&");
        if (rc == 0) rc = gd_buf_puts(out, pairs[i].k);
        if (rc == 0) rc = gd_buf_puts(out, "=");
        if (rc == 0) rc = gd_buf_puts(out, pairs[i].v);
        gd_free(pairs[i].k);
        gd_free(pairs[i].v);
    }
    return rc;
}

/* One value, trimmed, with runs of spaces and tabs made one space. */
static int canonical_value(gd_buf *out, const char *v, size_t n)
{
    while (n && (*v == ' ' || *v == '\t')) v++, n--;
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t')) n--;
    int sp = 0, r = 0;
    for (size_t i = 0; i < n && r == 0; i++) {
        if (v[i] == ' ' || v[i] == '\t') {
            sp = 1;
            continue;
        }
        if (sp) r = gd_buf_append(out, " ", 1);
        sp = 0;
        if (r == 0) r = gd_buf_append(out, &v[i], 1);
    }
    return r;
}

static int canonical_headers(gd_buf *out, const gd_sigv4_req *r, const char *signed_headers,
                             char *err, size_t errlen)
{
    const char *p = signed_headers;
    int rc = 0, count = 0, host = 0;
    while (*p && rc == 0) {
        const char *semi = strchr(p, ';');
        size_t l = semi ? (size_t)(semi - p) : strlen(p);
        if (l == 0 || l > 64 || ++count > MAX_SIGNED) {
            snprintf(err, errlen, "SignedHeaders must be 1..%d lowercase names joined by ';'",
                     MAX_SIGNED);
            return GD_EINVAL;
        }
        host |= l == 4 && !memcmp(p, "host", 4);
        int found = 0;
        for (size_t i = 0; i < l && rc == 0; i++) {
            char c = p[i];
            if (c >= 'A' && c <= 'Z') {
                snprintf(err, errlen, "SignedHeaders must be lowercase: '%.*s'", (int)l, p);
                return GD_EINVAL;
            }
        }
        rc = gd_buf_append(out, p, l);
        if (rc == 0) rc = gd_buf_puts(out, ":");
        for (int i = 0; i < r->nheaders && rc == 0; i++) {
            const gd_http_header *h = &r->headers[i];
            if (h->name_len != l || strncasecmp(h->name, p, l) != 0) continue;
            if (found++) rc = gd_buf_puts(out, ",");
            if (rc == 0) rc = canonical_value(out, h->value, h->value_len);
        }
        if (!found) {
            snprintf(err, errlen, "the signed header '%.*s' is not in the request", (int)l, p);
            return GD_EINVAL;
        }
        if (rc == 0) rc = gd_buf_puts(out, "\n");
        p += l + (semi != NULL);
    }
    if (rc == 0 && !host) {
        snprintf(err, errlen, "SignedHeaders must include host");
        return GD_EINVAL;
    }
    return rc;
}

int gd_sigv4_canonical_request(const gd_sigv4_req *r, const gd_sigv4_auth *a, gd_buf *out,
                               char *err, size_t errlen)
{
    int rc = gd_buf_puts(out, r->method);
    if (rc == 0) rc = gd_buf_puts(out, "\n");
    if (rc == 0) rc = canonical_uri(out, r->path, r->path_len);
    if (rc == 0) rc = gd_buf_puts(out, "\n");
    if (rc == 0) rc = canonical_query(out, r, a->presigned, err, errlen);
    if (rc == 0) rc = gd_buf_puts(out, "\n");
    if (rc == 0) rc = canonical_headers(out, r, a->signed_headers, err, errlen);
    if (rc == 0) rc = gd_buf_puts(out, "\n");
    if (rc == 0) rc = gd_buf_puts(out, a->signed_headers);
    if (rc == 0) rc = gd_buf_puts(out, "\n");
    if (rc < 0) {
        if (!err[0]) snprintf(err, errlen, "the request is too large to canonicalise");
        return rc;
    }
    char payload[80];
    if (header_value(r, "x-amz-content-sha256", payload, sizeof payload) <= 0)
        sha256_hex(r->body ? r->body : "", r->body ? r->body_len : 0, payload);
    return gd_buf_puts(out, payload);
}

int gd_sigv4_string_to_sign(const gd_sigv4_auth *a, const char *canonical, size_t n, gd_buf *out)
{
    char h[65];
    sha256_hex(canonical, n, h);
    return gd_buf_printf(out, "%s\n%s\n%s/%s/%s/aws4_request\n%s", ALGORITHM, a->amz_date, a->date,
                         a->region, a->service, h);
}

void gd_sigv4_signing_key(const char *secret, const char *date, const char *region,
                          const char *service, unsigned char out[32])
{
    char k0[128];
    int kl = snprintf(k0, sizeof k0, "AWS4%s", secret);
    if (kl < 0 || (size_t)kl >= sizeof k0) kl = (int)sizeof k0 - 1;
    unsigned char k1[32], k2[32], k3[32];
    hmac(k0, (size_t)kl, date, strlen(date), k1);
    hmac(k1, 32, region, strlen(region), k2);
    hmac(k2, 32, service, strlen(service), k3);
    hmac(k3, 32, "aws4_request", 12, out);
    OPENSSL_cleanse(k0, sizeof k0);
}

int gd_sigv4_sign(const gd_sigv4_req *r, const gd_sigv4_auth *a, const char *secret, char out[65],
                  char *err, size_t errlen)
{
    gd_buf c, s;
    gd_buf_init(&c, GD_HTTP_MAX_HEAD + 4096);
    gd_buf_init(&s, 1024);
    if (errlen) err[0] = 0;
    int rc = gd_sigv4_canonical_request(r, a, &c, err, errlen);
    if (rc == 0) rc = gd_sigv4_string_to_sign(a, c.data, c.len, &s);
    if (rc == 0) {
        unsigned char key[32], sig[32];
        gd_sigv4_signing_key(secret, a->date, a->region, a->service, key);
        hmac(key, 32, s.data, s.len, sig);
        hex(sig, 32, out);
    }
    gd_buf_free(&c);
    gd_buf_free(&s);
    return rc;
}

int gd_sigv4_verify(const gd_sigv4_req *r, const gd_sigv4_auth *a, const char *secret, char *err,
                    size_t errlen)
{
    char want[65];
    if (gd_sigv4_sign(r, a, secret, want, err, errlen) < 0) return 0;
    char got[65];
    snprintf(got, sizeof got, "%s", a->signature);
    for (char *p = got; *p; p++)
        if (*p >= 'A' && *p <= 'F') *p = (char)(*p - 'A' + 'a');
    return strlen(got) == 64 && CRYPTO_memcmp(got, want, 64) == 0;
}
