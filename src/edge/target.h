/* The edge's targets: one backend each (id, address), its connection pool, its
 * health as seen by active checks, and its counters. A target removed from the
 * configuration drains: it takes no new requests and is freed when idle. */
#ifndef GD_EDGE_TARGET_H
#define GD_EDGE_TARGET_H

#include "core/httpc.h"

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

#define GD_TARGET_MAGIC 0x54475254u /* gd_target.magic */

typedef struct gd_hc_conf {
    char path[256];
    int port;        /* 0: the target's own port */
    double interval; /* game seconds */
    double timeout;  /* game seconds */
    int healthy_threshold;
    int unhealthy_threshold;
    int matcher_lo, matcher_hi; /* status codes that count as healthy */
} gd_hc_conf;

/* A target's state as its load balancer sees it (the names CLB shows; an ALB's
 * healthy/unhealthy/draining are the same three):
 *
 *   OUT_OF_SERVICE --(healthy_threshold checks pass)--> IN_SERVICE
 *   IN_SERVICE --(unhealthy_threshold checks fail)--> OUT_OF_SERVICE
 *   either --(removed from the config)--> DRAINING --(no request in flight, or the
 *   deregistration delay over)--> freed
 *
 * Passive outlier ejection (ejected_until) sits on top and does not change it. */
typedef enum {
    GD_TARGET_OUT_OF_SERVICE = 0,
    GD_TARGET_IN_SERVICE,
    GD_TARGET_DRAINING,
} gd_target_state;

typedef struct gd_target {
    uint32_t magic;
    char id[48];
    char addr[32];
    uint32_t ip;
    int port;
    gd_target_state state;
    char az[8];
    double weight;        /* weighted random */
    double healthy_since; /* game seconds, for slow start */
    int fail_run;         /* consecutive failed exchanges (outlier ejection) */
    int ejections;
    double ejected_until; /* game seconds */
    double drain_until;   /* game seconds: a draining target is closed then */
    int ok_streak, fail_streak;
    int inflight;
    gd_httpc_pool *pool;    /* traffic */
    gd_httpc_pool *hc_pool; /* health checks */
    uv_timer_t hc_timer;
    int hc_running;
    const gd_hc_conf *hc; /* owned by the edge, replaced on config change */
    uint64_t requests, errors, hc_ok, hc_fail;
    struct gd_target *next;
} gd_target;

/** "InService", "OutOfService" or "draining". */
const char *gd_target_state_name(gd_target_state s);

/** Creates a target and starts its health checks (first one at once). */
gd_target *gd_target_new(uv_loop_t *loop, const char *id, uint32_t ip, int port, int healthy,
                         const gd_hc_conf *hc);
/** Restarts the health-check timer after the check settings changed. */
void gd_target_hc_restart(gd_target *t);
/** Stops health checks and traffic; the memory goes once every handle has closed. */
void gd_target_free(gd_target *t);
/** {"id","addr","state":"InService"|"OutOfService"|"draining","ejected":bool,"inflight",...} */
json_t *gd_target_json(const gd_target *t);

#endif
