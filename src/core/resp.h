/* A small Redis client on libuv, for a control plane that talks to Redis servers it
 * runs (health checks, INFO, REPLICAOF): one TCP connection, made on the first
 * command and again after it fails, AUTH first when there is a password, commands
 * sent in order and answered in order (hiredis' reader parses the replies), a
 * deadline per command. Nothing blocks: a connect, a command and its reply are all
 * loop events. */
#ifndef GD_CORE_RESP_H
#define GD_CORE_RESP_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct gd_resp gd_resp;

/* A command's end: status 0 with the reply (REDIS_REPLY_ERROR is a reply too; it is
 * the callee's and valid during the call only), or no reply and GD_ETIMEDOUT (no
 * answer by the deadline), GD_ECONNREFUSED, GD_ECONNRESET (the connection went),
 * GD_EPERM (AUTH refused) or GD_EPROTO (not RESP). A failure fails every command
 * queued behind it too, and drops the connection (the next command makes another). */
typedef void (*gd_resp_cb)(void *arg, int status, const redisReply *reply);

/* Commands queued on one client at most. */
#define GD_RESP_MAX_QUEUE 32

/** A client of ip:port (ip an IPv4 address), with AUTH password (NULL: none) and
 *  timeout_ms per command (its deadline counts from when it is queued). Connects on
 *  the first command. */
gd_resp *gd_resp_new(uv_loop_t *loop, const char *ip, int port, const char *password,
                     uint64_t timeout_ms);

/** Queues a command of argc (at least 1) arguments. 0: cb (not NULL) is called once,
 *  later, from the loop (never from this call); GD_EINVAL, GD_EFULL (GD_RESP_MAX_QUEUE
 *  queued) or GD_ECLOSED: cb is never called. */
int gd_resp_cmd(gd_resp *c, gd_resp_cb cb, void *arg, int argc, const char *const *argv);

/** Commands queued and not yet answered. */
size_t gd_resp_pending(const gd_resp *c);

/** Closes the client: no callback is called after this, not even for the commands
 *  still queued. It frees itself once its handles are closed. */
void gd_resp_close(gd_resp *c);

#endif
