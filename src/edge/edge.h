/* The edge process's state, shared by its modes: clb and alb (proxy.c, balancer.c) and
 * cdn (cdn.c), each behind one gd_edge_mode_ops. One edge process (edge.c, the host)
 * serves one load balancer or CDN resource. */
#ifndef GD_EDGE_H
#define GD_EDGE_H

#include "core/acl.h"
#include "core/admin.h"
#include "core/buf.h"
#include "core/hist.h"
#include "core/http.h"
#include "core/httpc.h"
#include "edge/balancer.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

enum gd_edge_mode { GD_MODE_CLB, GD_MODE_ALB, GD_MODE_CDN };

struct gd_cdn;

/* Counters named as AWS names the metrics. */
typedef struct gd_edge_counters {
    uint64_t requests;          /* RequestCount */
    uint64_t target_2xx_5xx[6]; /* HTTPCode_Target_nXX_Count */
    uint64_t elb_4xx, elb_5xx;  /* HTTPCode_ELB_4XX/5XX_Count */
    uint64_t new_conns;         /* NewConnectionCount */
    uint64_t bytes;             /* ProcessedBytes */
    uint64_t retries, retry_budget_exhausted, backend_conn_errors;
    double target_time_sum; /* TargetResponseTime, game seconds, summed */
    uint64_t target_time_n;
    gd_hist target_hist; /* the same times one by one, game microseconds, since the start */
} gd_edge_counters;

typedef struct gd_edge gd_edge;

/* What a configuration change did to the targets (logged by the host). */
typedef struct gd_edge_changes {
    int targets, added, removed;
} gd_edge_changes;

/* One mode of the edge. The host (edge.c) checks and applies the fields every mode has
 * (mode, listen, idle_timeout, retry_budget, access_log, id, name) and calls these for
 * the rest. NULL members are optional. */
typedef struct gd_edge_mode_ops {
    const char *name; /* the document's "mode" */
    /** Checks the mode's part of a document; 0 or GD_EINVAL with err set. */
    int (*check)(const json_t *doc, char *err, size_t errlen);
    /** Applies a checked document's mode part (counts its target changes in ch). */
    int (*apply)(gd_edge *e, const json_t *doc, gd_edge_changes *ch, char *err, size_t errlen);
    /** Serves one request of the front listener (it answers now or later). */
    void (*serve)(gd_edge *e, gd_http_conn *c, gd_http_req *req);
    /** Adds the mode's fields to GET /stats (optional). */
    void (*stats)(gd_edge *e, json_t *stats);
    /** Adds the mode's samples to /metrics (Prometheus text; optional). */
    void (*metrics)(gd_edge *e, gd_buf *b, const char *labels);
    /** POST /invalidations {"paths": [...]}: the number of objects removed, or
     *  GD_EINVAL with err set (optional: a mode without a cache refuses). */
    int (*invalidate)(gd_edge *e, const json_t *paths, char *err, size_t errlen);
    /** Releases the mode's state at exit. */
    void (*free)(gd_edge *e);
} gd_edge_mode_ops;

struct gd_edge {
    uv_loop_t *loop;
    enum gd_edge_mode mode;
    gd_admin adm; /* the admin listener, its token, its document and version */
    gd_http_server *front;
    char listen[32], listen_port[8];
    char id[48], name[64];
    double idle_timeout; /* game seconds */
    uint64_t idle_ms;    /* the same in wall milliseconds */
    gd_tgroup *tgs;      /* live target groups (clb: exactly one) */
    gd_rules rules;      /* alb listener rules; clb: default action only */
    gd_target *draining;
    double retry_budget; /* share of in-flight requests that may be retries */
    int retries_inflight, inflight;
    struct gd_cdn *cdn;
    FILE *access_log;
    gd_buf access_buf;
    uv_timer_t housekeeping;
    gd_edge_counters c;
    gd_acl acl;        /* who may connect to the front (the config's "allow") */
    gd_acl_log denied; /* connections it closed at accept */
};

/** The one edge of this process. */
extern gd_edge gd_the_edge;

/** Game seconds at the loop's cached time: no clock call on the hot path. */
double gd_edge_now(void);

/** 1 if header h of a message with headers hs[0..n) stops at the edge: hop-by-hop
 *  (Connection, Keep-Alive, TE, Trailer, Upgrade, Transfer-Encoding, Proxy-*),
 *  Content-Length (the edge writes its own), or named by the message's Connection. */
int gd_edge_stops_here(const gd_http_header *hs, int n, const gd_http_header *h);

/** The front listener's address (host order): connections to targets come from it, so
 *  that a target's security group can allow the load balancer's. 0 before a config. */
uint32_t gd_edge_source_ip(void);

/** Serves a front request in the edge's mode (where a request the client faults held
 *  comes back). */
void gd_edge_serve(gd_http_conn *c, gd_http_req *req);

/** Answers a request made by the edge itself (HTTPCode_ELB_*). */
void gd_edge_error(gd_http_conn *c, int status, const char *msg);

/* ---- cdn.c ---- */
/** The cdn mode: a cache in front of one origin (the cache survives a config change). */
extern const gd_edge_mode_ops gd_cdn_ops;

/* The edge role (argv[0] is its name); returns the process exit code. */
int gd_cmd_edge(int argc, char **argv);

#endif
