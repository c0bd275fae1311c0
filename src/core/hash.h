/* The Unicorn.Rentals answer: lowercase hex SHA-256 of "<salt>:<key>" (OpenSSL libcrypto),
 * and the constant-time comparison of secrets (tokens). */
#ifndef GD_HASH_H
#define GD_HASH_H

#include <stddef.h>

/** Writes 64 hex digits and a NUL into out. */
void gd_hash_key(const char *salt, const char *key, size_t keylen, char out[65]);

/** 1 if the NUL-terminated secrets a and b are equal. The time taken depends only on
 *  their lengths, never on where they differ (CRYPTO_memcmp), so that a token cannot
 *  be guessed byte by byte from answer times. NULL equals nothing. */
int gd_secret_eq(const char *a, const char *b);

#endif
