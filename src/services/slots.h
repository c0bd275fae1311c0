/* The machine a built-in service of an instance runs on: its HTTP front door (the
 * security groups' allow list, checked at accept), its emulated CPU (a request holds one
 * of the instance's slots for its service time on a timer; beyond the slots a bounded
 * FIFO queue; beyond that the service answers 503), the faults a chaos experiment puts
 * on it, and the /health and /metrics every instance answers. unicorn.c (Unicorn.Rentals,
 * WhatsTheTime.com) and clothes.c (MyClothes.com) are services on it. */
#ifndef GD_SERVICES_SLOTS_H
#define GD_SERVICES_SLOTS_H

#include "core/buf.h"
#include "core/http.h"
#include "services/inst_faults.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct gd_slots gd_slots;

/* The service's handler: every request but /metrics and /health, unless a disk_full
 * fault answers it first. It answers through gd_slots_reply*, at once or later. */
typedef void (*gd_slots_handler)(gd_slots *s, gd_http_conn *c, gd_http_req *req, void *ud);

/* Appends the service's own series to b (Prometheus text) after the common ones;
 * labels is `instance="ID"`. */
typedef void (*gd_slots_metrics_fn)(gd_slots *s, gd_buf *b, const char *labels, void *ud);

/* A request's turn: it has held a slot for its service time. The function answers and
 * gives the slot back with gd_slots_release, now or later (the slot stays busy until
 * then: a worker waiting on a session store is a busy worker). */
typedef void (*gd_slots_fn)(gd_slots *s, void *arg);

typedef struct gd_slots_conf {
    const char *id;  /* instance id, sent back in X-Instance-Id */
    int slots;       /* concurrent requests worked on (values below 1 become 1) */
    int queue;       /* waiting requests beyond the slots (negative becomes 0) */
    size_t max_body; /* bytes of a request body; 0: the HTTP server's default */
    gd_slots_handler handler;
    gd_slots_metrics_fn metrics; /* may be NULL */
    void *ud;                    /* given to handler and metrics */
    int broken;                  /* a broken release: /health answers 500 */
} gd_slots_conf;

/** Starts serving on ip:port on loop. Returns 0 with *out set, or a gd_err (GD_EEXIST:
 *  the address is in use; nothing is left behind). */
int gd_slots_start(uv_loop_t *loop, const gd_slots_conf *conf, const char *ip, int port,
                   gd_slots **out);

/** Reads the allow list of the instance's security groups from path (the blocks of
 *  gd_acl_parse; no path or no file: everyone is allowed, as without a group).
 *  Connections from elsewhere are closed at accept and counted. 0, or -1 (the list in
 *  force is kept) when the file does not parse. */
int gd_slots_load_acl(gd_slots *s, const char *path);

/** Puts the faults in force (services/inst_faults.h) in place of the previous ones:
 *  slot_hog takes slots (requests holding one finish; fewer start, the others wait in
 *  the queue as usual), disk_full answers every request but /metrics 500 "No space left
 *  on device" without a slot, latency holds each answer back (wall ms, after the slot is
 *  freed). Logs fault_on/fault_off for each kind that changed; slots given back start
 *  waiting requests at once. */
void gd_slots_set_faults(gd_slots *s, const gd_inst_faults *f);

/** Runs fn(s, arg) once the request has held a slot for service_ms game milliseconds:
 *  at once on a free slot, else after the requests queued before it. Always later,
 *  never from within this call. 0, or GD_EAGAIN when every slot is busy and the queue is
 *  full (counted as rejected; fn is never called and the caller answers 503). */
int gd_slots_run(gd_slots *s, double service_ms, gd_slots_fn fn, void *arg);

/** Gives back the slot a gd_slots_fn was called on; the oldest waiting request takes
 *  it (unless a slot_hog holds it). */
void gd_slots_release(gd_slots *s);

/** Every answer of a service goes out here: at once, or after a latency fault's delay
 *  (status, extra headers and body are copied; the connection waits). extra is NULL or
 *  header lines each ending in "\r\n". */
void gd_slots_reply(gd_slots *s, gd_http_conn *c, int status, const char *extra, const char *ctype,
                    const char *body, size_t len);

/** "X-Instance-Id: ID\r\n", for the extra headers of every answer. */
const char *gd_slots_xid(const gd_slots *s);

/** Counts an answer in gameday_instance_served_total (2xx) or bad_requests_total (4xx
 *  refusals of the request itself). */
void gd_slots_count_served(gd_slots *s);
void gd_slots_count_bad(gd_slots *s);

/** The slots in force and busy now (for the service's own decisions and tests). */
int gd_slots_capacity(const gd_slots *s);
int gd_slots_busy(const gd_slots *s);

#endif
