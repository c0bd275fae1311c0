/* In-process sessions: a table of session ids to session documents (their JSON text,
 * as Express's MemoryStore keeps them), at most `max` of them and `max_bytes` of text,
 * the least recently used evicted first. What a Rails or Express app keeps in its own
 * memory: lost when the process dies, unknown to every other instance. */
#ifndef GD_SERVICES_SESSION_MEM_H
#define GD_SERVICES_SESSION_MEM_H

#include <stddef.h>
#include <stdint.h>

#define GD_SID_LEN 32 /* hex digits of a session id (16 random bytes) */

typedef struct gd_smem gd_smem;

/** A table of at most max sessions and max_bytes of their text (each at least 1). */
gd_smem *gd_smem_new(size_t max, size_t max_bytes);
/** Frees the table and every session in it. */
void gd_smem_free(gd_smem *m);

/** The text of sid's session (borrowed: valid until the next put or free; *len gets
 *  its length), which becomes the most recently used; NULL when sid is unknown (never
 *  given, or evicted). */
const char *gd_smem_get(gd_smem *m, const char *sid, size_t *len);
/** Stores a copy of text (len bytes) under sid, replacing what was there; while the
 *  table is over max sessions or max_bytes, the least recently used others are
 *  evicted (counted). A text over max_bytes alone is GD_ETOOBIG (nothing changes). */
int gd_smem_put(gd_smem *m, const char *sid, const char *text, size_t len);

/** Sessions held now, bytes of their text, and sessions evicted so far. */
size_t gd_smem_count(const gd_smem *m);
size_t gd_smem_bytes(const gd_smem *m);
uint64_t gd_smem_evicted(const gd_smem *m);

/** 1 if s is GD_SID_LEN lowercase hex digits (what gd_sid_new makes). */
int gd_sid_valid(const char *s, size_t n);
/** A new session id from the system's random source (OpenSSL RAND_bytes): GD_SID_LEN
 *  hex digits and a NUL. 0, or GD_EIO when no random bytes could be had. */
int gd_sid_new(char out[GD_SID_LEN + 1]);

#endif
