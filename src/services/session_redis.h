/* Server-side sessions in a real Redis: the session's JSON text under "sess:<sid>",
 * written with a TTL (SET ... PX), read with GET, through hiredis' asynchronous API on
 * the instance's libuv loop. The connection is kept up: AUTH (when a password is
 * given) and a PING before it counts as up; a lost connection, a refused connect or a
 * command that takes longer than the timeout drops it, and it is made again with a
 * backoff (50 ms doubling to 2 s, wall time). The change between up and down is logged
 * once each way (redis_up, redis_down); a command fails at once while it is down. */
#ifndef GD_SERVICES_SESSION_REDIS_H
#define GD_SERVICES_SESSION_REDIS_H

#include "core/buf.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct gd_sredis gd_sredis;

typedef struct gd_sredis_conf {
    const char *ip; /* an address, no name: hiredis would resolve it blocking */
    int port;
    /* the address connections come from (the instance's own: a cache cluster's security
     * groups see it), NULL: the kernel's choice (127.0.0.1 on loopback) */
    const char *source_ip;
    const char *user;     /* NULL: AUTH with the password alone (the default user) */
    const char *password; /* NULL: no AUTH */
    uint64_t timeout_ms;  /* wall ms a command (or a connect) may take; 0: 1000 */
} gd_sredis_conf;

/* A command's end: status 0 with the value (text, len; borrowed for the call; NULL
 * and 0 after a SET), GD_ENOENT when GET found no such key, GD_EIO when the store failed
 * (an error reply, the timeout, the connection lost meanwhile; counted). */
typedef void (*gd_sredis_cb)(void *arg, int status, const char *text, size_t len);

/** Starts connecting to conf's Redis on loop; *out is usable at once (down until the
 *  first PING is answered). 0, or GD_EINVAL for a bad conf. */
int gd_sredis_start(uv_loop_t *loop, const gd_sredis_conf *conf, gd_sredis **out);

/** 1 while the connection is up (the last handshake answered, nothing failed since). */
int gd_sredis_up(const gd_sredis *r);

/** Counts a request refused because the store is down (gd_sredis_up was 0) in
 *  redis_errors_total{kind="unavailable"}. */
void gd_sredis_note_unavailable(gd_sredis *r);

/** GET sess:<sid>. 0: cb is called once, later; GD_EAGAIN: the store is down (counted
 *  as unavailable), cb is never called. */
int gd_sredis_get(gd_sredis *r, const char *sid, gd_sredis_cb cb, void *arg);

/** SET sess:<sid> text PX ttl_ms (at least 1). As gd_sredis_get. */
int gd_sredis_set(gd_sredis *r, const char *sid, const char *text, size_t len, uint64_t ttl_ms,
                  gd_sredis_cb cb, void *arg);

/* The most keys one gd_sredis_del_keys takes. */
#define GD_SREDIS_MAX_KEYS 256

/** GET key (the whole key, no prefix: the shop's cache-aside). As gd_sredis_get. */
int gd_sredis_get_key(gd_sredis *r, const char *key, gd_sredis_cb cb, void *arg);

/** SET key text EX ttl_s (at least 1 s). As gd_sredis_get. */
int gd_sredis_set_key_ex(gd_sredis *r, const char *key, const char *text, size_t len,
                         uint64_t ttl_s, gd_sredis_cb cb, void *arg);

/** DEL of n keys (1..GD_SREDIS_MAX_KEYS) in one command; cb gets status 0 whether or
 *  not they existed. As gd_sredis_get; GD_EINVAL for a bad n (cb never called). */
int gd_sredis_del_keys(gd_sredis *r, const char *const *keys, int n, gd_sredis_cb cb, void *arg);

/** The store's counts: commands failed (every kind), connects made and failed. */
void gd_sredis_counts(const gd_sredis *r, uint64_t *errors, uint64_t *connects_ok,
                      uint64_t *connects_failed);

/** Appends the store's series to b (Prometheus text) with labels (`instance="ID"`):
 *  gameday_clothes_session_store_up, gameday_clothes_redis_errors_total{kind},
 *  gameday_clothes_redis_connects_total{result}. */
void gd_sredis_metrics(const gd_sredis *r, gd_buf *b, const char *labels);

#endif
