/* The built-in services of an instance. Each request holds one of the instance's slots
 * for its service time (the one emulated part: a timer, not burnt CPU); requests beyond
 * the slots wait in a bounded FIFO queue; beyond that they get 503. /health and
 * /metrics answer at once. Faults (gd_unicorn_set_faults) change all but /metrics.
 *   unicorn  (Unicorn.Rentals) GET /?key=K answers {"key":K,"hash":H}
 *   time     (WhatsTheTime.com) GET /time?tz=Area/City answers the time there, from
 *            the system's tz database: JSON, or text with format=text or
 *            Accept: text/plain */
#ifndef GD_UNICORN_H
#define GD_UNICORN_H

#include "core/http.h"
#include "services/inst_faults.h"

#include <stdint.h>
#include <uv.h>

enum gd_service_kind { GD_SVC_UNICORN, GD_SVC_TIME };

typedef struct gd_unicorn_conf {
    enum gd_service_kind kind;
    const char *id; /* instance id, sent back in X-Instance-Id */
    const char *salt;
    int slots;         /* concurrent requests worked on */
    int queue;         /* waiting requests beyond the slots */
    double service_ms; /* game milliseconds one request holds a slot */
} gd_unicorn_conf;

typedef struct gd_unicorn gd_unicorn;

/** Reads the allow list of the instance's security groups from path (the blocks of
 *  gd_acl_parse; a missing file: everyone is allowed, as without a group). Connections
 *  from elsewhere are closed at accept and counted. 0, or -1 (the list is kept) when
 *  the file does not parse. */
int gd_unicorn_load_acl(gd_unicorn *u, const char *path);

/** Puts the faults in force on the service (services/inst_faults.h) in place of the
 *  previous ones: slot_hog takes slots (requests holding one finish; fewer start, the
 *  others wait in the queue as usual), disk_full answers every request but /metrics
 *  500 "No space left on device" without a slot, latency holds each answer back (wall
 *  ms, after the slot is freed). Logs fault_on/fault_off for each kind that changed;
 *  slots given back start waiting requests at once. */
void gd_unicorn_set_faults(gd_unicorn *u, const gd_inst_faults *f);

/** Starts serving on ip:port on loop. Returns 0 or a gd_err (GD_EEXIST: in use). */
int gd_unicorn_start(uv_loop_t *loop, const gd_unicorn_conf *conf, const char *ip, int port,
                     gd_unicorn **out);

#endif
