/* Signed session cookies (see session_cookie.h): base64url and HMAC-SHA256. */
#include "services/session_cookie.h"
#include "core/err.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#define SIG_LEN 32    /* bytes of an HMAC-SHA256 */
#define SIG_CHARS 43  /* its base64url form */
#define NAME_EQ_LEN 8 /* "session=" */

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

const char *gd_scookie_why_text(enum gd_scookie_why w)
{
    switch (w) {
    case GD_SCOOKIE_BAD_ENCODING:
        return "bad encoding";
    case GD_SCOOKIE_BAD_SIGNATURE:
        return "bad signature";
    case GD_SCOOKIE_BAD_JSON:
        return "bad JSON";
    case GD_SCOOKIE_TOO_LARGE:
        return "too large";
    default:
        return "";
    }
}

const char *gd_scookie_why_label(enum gd_scookie_why w)
{
    switch (w) {
    case GD_SCOOKIE_BAD_ENCODING:
        return "bad_encoding";
    case GD_SCOOKIE_BAD_SIGNATURE:
        return "bad_signature";
    case GD_SCOOKIE_BAD_JSON:
        return "bad_json";
    case GD_SCOOKIE_TOO_LARGE:
        return "too_large";
    default:
        return "ok";
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int gd_scookie_key_hex(const char *hex, unsigned char *key)
{
    size_t n = hex ? strlen(hex) : 0;
    if (n % 2 || n < 2 * GD_SCOOKIE_KEY_MIN || n > 2 * GD_SCOOKIE_KEY_MAX) return GD_EINVAL;
    for (size_t i = 0; i < n; i += 2) {
        int a = hexval(hex[i]), b = hexval(hex[i + 1]);
        if (a < 0 || b < 0) return GD_EINVAL;
        key[i / 2] = (unsigned char)(a << 4 | b);
    }
    return (int)(n / 2);
}

size_t gd_b64url_encode(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
        out[o++] = alphabet[v & 63];
    }
    if (n - i == 1) {
        unsigned v = (unsigned)in[i] << 16;
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
    } else if (n - i == 2) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
    }
    out[o] = 0;
    return o;
}

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

int gd_b64url_decode(const char *in, size_t n, unsigned char *out)
{
    if (n % 4 == 1) return GD_EINVAL;
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64val(in[i]);
        if (v < 0) return GD_EINVAL;
        acc = (acc << 6 | (unsigned)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits & 0xff);
        }
    }
    return (int)o;
}

static void sign(const unsigned char *key, size_t keylen, const char *text, size_t len,
                 unsigned char sig[SIG_LEN])
{
    unsigned int sl = SIG_LEN;
    HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)text, len, sig, &sl);
}

int gd_scookie_seal(const unsigned char *key, size_t keylen, const char *json, size_t len,
                    char *out, size_t outlen)
{
    size_t enc = (len * 4 + 2) / 3; /* base64url without padding */
    size_t total = enc + 1 + SIG_CHARS;
    if (NAME_EQ_LEN + total > GD_SCOOKIE_MAX || total + 1 > outlen) return GD_ETOOBIG;
    size_t p = gd_b64url_encode((const unsigned char *)json, len, out);
    unsigned char sig[SIG_LEN];
    sign(key, keylen, out, p, sig);
    out[p++] = '.';
    p += gd_b64url_encode(sig, SIG_LEN, out + p);
    return (int)p;
}

int gd_scookie_open(const unsigned char *key, size_t keylen, const char *value, size_t vlen,
                    char *out, size_t outlen, enum gd_scookie_why *why)
{
    *why = GD_SCOOKIE_TOO_LARGE;
    if (NAME_EQ_LEN + vlen > GD_SCOOKIE_MAX) return GD_EINVAL;
    *why = GD_SCOOKIE_BAD_ENCODING;
    const char *dot = memrchr(value, '.', vlen);
    if (!dot || (size_t)(value + vlen - dot - 1) != SIG_CHARS) return GD_EINVAL;
    size_t plen = (size_t)(dot - value);
    unsigned char got[SIG_LEN + 3], want[SIG_LEN];
    if (gd_b64url_decode(dot + 1, SIG_CHARS, got) != SIG_LEN) return GD_EINVAL;
    for (size_t i = 0; i < plen; i++)
        if (b64val(value[i]) < 0) return GD_EINVAL;
    if (plen % 4 == 1 || plen * 3 / 4 + 1 > outlen) return GD_EINVAL;
    *why = GD_SCOOKIE_BAD_SIGNATURE;
    sign(key, keylen, value, plen, want);
    if (CRYPTO_memcmp(got, want, SIG_LEN) != 0) return GD_EINVAL;
    *why = GD_SCOOKIE_BAD_ENCODING;
    int n = gd_b64url_decode(value, plen, (unsigned char *)out);
    if (n < 0) return GD_EINVAL;
    out[n] = 0;
    *why = GD_SCOOKIE_OK;
    return n;
}
