/* Network faults on the edge's links, as FIS actions put them (Toxiproxy's "toxics"):
 * latency, error, reset, bandwidth, blackhole and slow_close, on the client link (viewer
 * -> this edge) or the upstream link (this edge -> its targets, or a cdn's origin).
 * The config's "faults" list is checked and swapped in here; the request paths ask here
 * what to do to a request, and do nothing more than test a counter while there is none. */
#ifndef GD_EDGE_FAULT_H
#define GD_EDGE_FAULT_H

#include "core/buf.h"
#include "core/http.h"
#include "core/httpc.h"

#include <jansson.h>
#include <stdint.h>

#define GD_EDGE_FAULTS_MAX 16         /* faults in one config */
#define GD_EDGE_FAULT_ID_MAX 127      /* bytes of an id */
#define GD_EDGE_FAULT_TARGETS_MAX 256 /* addresses in one fault's "targets" */

enum gd_edge_fault_kind {
    GD_EDGE_FAULT_LATENCY,
    GD_EDGE_FAULT_ERROR,
    GD_EDGE_FAULT_RESET,
    GD_EDGE_FAULT_BANDWIDTH,
    GD_EDGE_FAULT_BLACKHOLE,
    GD_EDGE_FAULT_SLOW_CLOSE,
};

enum gd_edge_fault_link { GD_EDGE_FAULT_CLIENT, GD_EDGE_FAULT_UPSTREAM };

typedef struct gd_edge_fault_target {
    uint32_t ip; /* host order */
    int port;
} gd_edge_fault_target;

/* One fault as the config gives it, and how often it has hit. */
typedef struct gd_edge_fault {
    char id[GD_EDGE_FAULT_ID_MAX + 1];
    enum gd_edge_fault_kind kind;
    enum gd_edge_fault_link link;
    double probability;           /* share of requests (connections) hit, 0..1 */
    double latency_ms, jitter_ms; /* latency */
    int status;                   /* error */
    double bytes_per_s;           /* bandwidth */
    double delay_ms;              /* slow_close */
    int ntargets;                 /* upstream: -1 every target, else targets[0..ntargets) */
    gd_edge_fault_target targets[GD_EDGE_FAULT_TARGETS_MAX];
    uint64_t applied; /* requests or connections it hit */
} gd_edge_fault;

typedef struct gd_edge_fault_set {
    gd_edge_fault f[GD_EDGE_FAULTS_MAX];
    int n;
} gd_edge_fault_set;

/* What the request paths test first. */
typedef struct gd_edge_faults_on {
    int client, upstream; /* faults in force on each link */
    int touched; /* client faults were set once: a connection may still carry their marks */
} gd_edge_faults_on;

extern gd_edge_faults_on gd_edge_faults_now;

/** Seeds the faults' own random numbers (the probability draws). Once, at start. */
void gd_edge_faults_init(void);

/** Parses and checks a config's "faults" (NULL: none) into out. 0, or GD_EINVAL with err
 *  naming the field, what is wrong and what is allowed. */
int gd_edge_faults_parse(const json_t *list, gd_edge_fault_set *out, char *err, size_t errlen);
/** Puts a checked set in force in place of the current one (copied). A fault that stays
 *  (same id, kind and link) keeps its count. Logs fault_set for each fault new or
 *  changed, fault_cleared for each one gone. Connections stay open. */
void gd_edge_faults_apply(const gd_edge_fault_set *set);

/** A front request through the client faults (call when gd_edge_faults_now.client or
 *  .touched). Returns 0: the caller serves it now; 1: the faults took it (answered it
 *  themselves, reset the connection, or hold it and serve it later with gd_edge_serve). */
int gd_edge_faults_client(gd_http_conn *c, gd_http_req *req);

/** gd_httpc_request (copy) or gd_httpc_request_ref to the target (or origin) at ip:port
 *  through the upstream faults that hit it: sent later, answered in the target's stead,
 *  failed as a reset, never answered (GD_ETIMEDOUT at timeout_ms), read slowly, or its
 *  connection closed late. Returns as gd_httpc_request_opts. */
int gd_edge_faults_send(gd_httpc_pool *p, uint32_t ip, int port, const char *req, size_t len,
                        int copy, uint64_t timeout_ms, gd_httpc_cb cb, void *ud);

/** The request paths' call: gd_edge_faults_send while upstream faults are in force, else
 *  straight to the pool. */
static inline int gd_edge_faults_request(gd_httpc_pool *p, uint32_t ip, int port, const char *req,
                                         size_t len, int copy, uint64_t timeout_ms, gd_httpc_cb cb,
                                         void *ud)
{
    if (__builtin_expect(gd_edge_faults_now.upstream == 0, 1))
        return copy ? gd_httpc_request(p, req, len, timeout_ms, cb, ud)
                    : gd_httpc_request_ref(p, req, len, timeout_ms, cb, ud);
    return gd_edge_faults_send(p, ip, port, req, len, copy, timeout_ms, cb, ud);
}

/** GET /stats's "faults": [{"id","kind","link","applied"}] (a new array). */
json_t *gd_edge_faults_json(void);
/** gameday_edge_fault_applied_total{id,kind,link} for /metrics. */
void gd_edge_faults_metrics(gd_buf *b);

#endif
