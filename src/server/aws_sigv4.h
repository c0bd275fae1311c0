/* AWS Signature Version 4, the verifying side: the canonical request, the string to
 * sign, the signing key and the signature of a request, from the Authorization header
 * or from a presigned URL's query (X-Amz-Signature). Written from AWS's description of
 * the algorithm (HMAC-SHA256 through OpenSSL libcrypto). Pure: no game, no clock. */
#ifndef GD_SERVER_AWS_SIGV4_H
#define GD_SERVER_AWS_SIGV4_H

#include "core/buf.h"
#include "core/http.h"

#include <stddef.h>
#include <time.h>

/* The request as it came over the wire (raw, still percent-encoded). */
typedef struct gd_sigv4_req {
    const char *method; /* "GET", "POST" */
    const char *path;   /* without the query */
    size_t path_len;
    const char *query; /* after '?', NULL or "" for none */
    size_t query_len;
    const gd_http_header *headers;
    int nheaders;
    const char *body;
    size_t body_len;
} gd_sigv4_req;

/* What the client claims: its key, scope, signed headers and signature. */
typedef struct gd_sigv4_auth {
    char access_key[32];
    char date[9];      /* the scope's YYYYMMDD */
    char region[32];   /* us-east-1 */
    char service[32];  /* ec2, autoscaling, monitoring, cloudtrail ... */
    char amz_date[17]; /* X-Amz-Date: YYYYMMDDTHHMMSSZ */
    char signed_headers[512];
    char signature[65];
    int presigned; /* from the query string (X-Amz-*), not the Authorization header */
    long expires;  /* presigned: X-Amz-Expires seconds (0 when absent) */
} gd_sigv4_auth;

/** What gd_sigv4_parse found: a signed request, none at all, or a malformed one. */
enum gd_sigv4_parsed { GD_SIGV4_OK = 0, GD_SIGV4_NONE = 1, GD_SIGV4_MALFORMED = 2 };

/** Reads the request's claim from the Authorization header (AWS4-HMAC-SHA256
 *  Credential=KEY/DATE/REGION/SERVICE/aws4_request, SignedHeaders=..., Signature=...)
 *  and X-Amz-Date, or from the query (X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date,
 *  X-Amz-SignedHeaders, X-Amz-Signature, X-Amz-Expires). GD_SIGV4_NONE when the
 *  request carries neither; GD_SIGV4_MALFORMED with what is wrong in err. */
enum gd_sigv4_parsed gd_sigv4_parse(const gd_sigv4_req *r, gd_sigv4_auth *a, char *err,
                                    size_t errlen);

/** The signing key: HMAC chain of "AWS4"+secret over date, region, service and
 *  "aws4_request". */
void gd_sigv4_signing_key(const char *secret, const char *date, const char *region,
                          const char *service, unsigned char out[32]);

/** Appends the canonical request of r as a signs it to out: method, canonical URI
 *  (dot segments removed, each byte but unreserved ones and '/' percent-encoded),
 *  canonical query (sorted, re-encoded, without X-Amz-Signature), the signed headers'
 *  canonical lines (lowercase name, values trimmed, inner runs of spaces made one,
 *  repeated headers joined by ','), the signed header list and the payload's SHA-256
 *  (x-amz-content-sha256 when the request has it). 0, GD_EINVAL when a signed header
 *  is missing from the request (err says which), GD_ETOOBIG when out is full. */
int gd_sigv4_canonical_request(const gd_sigv4_req *r, const gd_sigv4_auth *a, gd_buf *out,
                               char *err, size_t errlen);

/** Appends "AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex sha256 of canonical>" to out. */
int gd_sigv4_string_to_sign(const gd_sigv4_auth *a, const char *canonical, size_t n, gd_buf *out);

/** The signature the request should carry under secret, 64 hex digits into out. 0, or
 *  a negative code as gd_sigv4_canonical_request. */
int gd_sigv4_sign(const gd_sigv4_req *r, const gd_sigv4_auth *a, const char *secret, char out[65],
                  char *err, size_t errlen);

/** 1 when the request's signature is the one secret gives (compared in constant time),
 *  0 when not (err says why when the request could not be canonicalised). */
int gd_sigv4_verify(const gd_sigv4_req *r, const gd_sigv4_auth *a, const char *secret, char *err,
                    size_t errlen);

/** Parses an X-Amz-Date (YYYYMMDDTHHMMSSZ) into seconds since the epoch; GD_EINVAL. */
int gd_sigv4_time(const char *amz_date, time_t *out);

/** Appends s percent-encoded as SigV4 wants it: every byte but A-Z a-z 0-9 - _ . ~
 *  becomes %XX (upper hex), and '/' too unless keep_slash. */
int gd_sigv4_encode(gd_buf *out, const char *s, size_t n, int keep_slash);

/** Decodes %XX escapes of s[0..n) into out (NUL-terminated, at most outlen - 1 bytes);
 *  '+' stays '+'. Its length, or GD_EINVAL for a bad escape, GD_ETOOBIG when it does
 *  not fit. */
int gd_sigv4_decode(const char *s, size_t n, char *out, size_t outlen);

#endif
