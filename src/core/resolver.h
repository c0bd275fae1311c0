/* A stub resolver: A lookups against the game's DNS server through c-ares (real
 * queries on the wire: UDP, TCP when truncated, retries) driven by a libuv loop. The
 * loadgen's customers and the shop's database endpoint use it. */
#ifndef GD_CORE_RESOLVER_H
#define GD_CORE_RESOLVER_H

#include <stdint.h>
#include <uv.h>

/** An answer: err 0 with the addresses (host order, at most 8) and the TTL of the
 *  answer (the smallest of its records, seconds), or a gd error (GD_ENOENT: no such
 *  name or no address, GD_ETIMEDOUT, GD_EIO). */
typedef void (*gd_resolve_cb)(void *ud, int err, const uint32_t *ips, int n, double ttl);

/** Prepares lookups against server ("IP:PORT"). 0 or a gd error. */
int gd_resolver_init(uv_loop_t *loop, const char *server);
/** Asks for name's A records; cb runs once: later, or at once when the query cannot even
 *  start. */
void gd_resolver_lookup(const char *name, gd_resolve_cb cb, void *ud);
/** Lookups asked and lookups that failed, since the start. */
uint64_t gd_resolver_asked(void);
uint64_t gd_resolver_failed(void);

#endif
