/* Signed session cookies: the whole session in the cookie, as
 *   session=<base64url(json)>.<base64url(HMAC-SHA256(key, base64url(json)))>
 * (no padding; OpenSSL libcrypto's HMAC, compared in constant time). The server keeps
 * nothing: any instance that has the key reads the session, and a client cannot change
 * it without the signature failing. A cookie (its name, '=' and value) holds at most
 * GD_SCOOKIE_MAX bytes, as browsers keep. */
#ifndef GD_SERVICES_SESSION_COOKIE_H
#define GD_SERVICES_SESSION_COOKIE_H

#include <stddef.h>

#define GD_SCOOKIE_NAME "session"
#define GD_SCOOKIE_MAX 4096   /* bytes of "session=<value>" */
#define GD_SCOOKIE_KEY_MIN 16 /* bytes of a key */
#define GD_SCOOKIE_KEY_MAX 64

/* Why a cookie was refused (the reason label of cookies_refused_total). */
enum gd_scookie_why {
    GD_SCOOKIE_OK = 0,
    GD_SCOOKIE_BAD_ENCODING, /* no '.', bytes outside base64url, a signature of the wrong size */
    GD_SCOOKIE_BAD_SIGNATURE,
    GD_SCOOKIE_BAD_JSON,  /* signed, but its payload is not a JSON text */
    GD_SCOOKIE_TOO_LARGE, /* over GD_SCOOKIE_MAX */
};

/** "bad encoding", "bad signature", "bad JSON", "too large" ("" for OK). */
const char *gd_scookie_why_text(enum gd_scookie_why w);
/** The same as a metric label: "bad_encoding", "bad_signature"... */
const char *gd_scookie_why_label(enum gd_scookie_why w);

/** Parses a key given in hex (GAMEDAY_SESSION_KEY): 2 x GD_SCOOKIE_KEY_MIN ..
 *  2 x GD_SCOOKIE_KEY_MAX hex digits into key (GD_SCOOKIE_KEY_MAX bytes). Returns its
 *  length in bytes, or GD_EINVAL. */
int gd_scookie_key_hex(const char *hex, unsigned char *key);

/** Seals the session text json (len bytes) into out as the cookie's value (not its
 *  name), NUL-terminated. Returns the value's length, or GD_ETOOBIG when
 *  "session=<value>" would be over GD_SCOOKIE_MAX bytes or over outlen - 1 (out is
 *  then unusable; nothing else changes). */
int gd_scookie_seal(const unsigned char *key, size_t keylen, const char *json, size_t len,
                    char *out, size_t outlen);

/** Opens a cookie value (vlen bytes): checks its encoding, then its signature, then
 *  decodes the payload into out (outlen bytes, NUL-terminated). Returns the payload's
 *  length with *why GD_SCOOKIE_OK, or GD_EINVAL with *why saying why (out is then
 *  unusable). Whether the payload is a JSON text is the caller's check
 *  (GD_SCOOKIE_BAD_JSON). */
int gd_scookie_open(const unsigned char *key, size_t keylen, const char *value, size_t vlen,
                    char *out, size_t outlen, enum gd_scookie_why *why);

/** base64url without padding: writes the encoding of n bytes of in (and a NUL) into out
 *  (at least 4 * ceil(n / 3) + 1 bytes); returns its length. */
size_t gd_b64url_encode(const unsigned char *in, size_t n, char *out);
/** Decodes n characters of base64url without padding into out (at least 3 * n / 4
 *  bytes); returns the bytes written, or GD_EINVAL for a character outside the alphabet
 *  or an impossible length (n % 4 == 1). */
int gd_b64url_decode(const char *in, size_t n, unsigned char *out);

#endif
