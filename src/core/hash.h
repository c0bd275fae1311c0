/* The Unicorn.Rentals answer: lowercase hex SHA-256 of "<salt>:<key>" (OpenSSL libcrypto). */
#ifndef GD_HASH_H
#define GD_HASH_H

#include <stddef.h>

/** Writes 64 hex digits and a NUL into out. */
void gd_hash_key(const char *salt, const char *key, size_t keylen, char out[65]);

#endif
