/* The Unicorn.Rentals answer: lowercase hex SHA-256 of "<salt>:<key>", computed with
 * OpenSSL's one-shot EVP_Digest. Shared by the service (to answer) and the loadgen
 * (to check answers). */
#include "core/hash.h"
#include "core/log.h"
#include "core/mem.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

/* Inputs up to this size are built on the stack; longer ones are allocated. */
#define STACK_INPUT 512

void gd_hash_key(const char *salt, const char *key, size_t keylen, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    size_t saltlen = salt ? strlen(salt) : 0;
    size_t n = saltlen + 1 + keylen;
    char stack[STACK_INPUT];
    char *in = n <= sizeof stack ? stack : gd_malloc(n);
    if (saltlen) memcpy(in, salt, saltlen);
    in[saltlen] = ':';
    if (keylen) memcpy(in + saltlen + 1, key, keylen);

    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int ok = EVP_Digest(in, n, md, &mdlen, EVP_sha256(), NULL);
    if (in != stack) gd_free(in);
    if (!ok || mdlen != 32) {
        /* Only a broken libcrypto gets here; a wrong answer would silently cost points. */
        gd_error("sha256_failed", "mdlen=%u", mdlen);
        abort();
    }
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = 0;
}

int gd_secret_eq(const char *a, const char *b)
{
    if (!a || !b) return 0;
    size_t la = strlen(a), lb = strlen(b);
    /* Compare as many bytes as the longer one has, so a short guess takes as long. */
    size_t n = la > lb ? la : lb;
    if (n == 0) return 0;
    unsigned char x[128] = {0}, y[128] = {0};
    if (n > sizeof x) return 0;
    memcpy(x, a, la);
    memcpy(y, b, lb);
    return CRYPTO_memcmp(x, y, sizeof x) == 0 && la == lb;
}
