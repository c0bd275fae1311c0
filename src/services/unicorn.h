/* The stateless built-in services of an instance, on the machine of services/slots.h:
 * each request holds one of the instance's slots for its service time (the one emulated
 * part: a timer, not burnt CPU); requests beyond the slots wait in a bounded FIFO queue;
 * beyond that they get 503. /health and /metrics answer at once. Faults
 * (gd_slots_set_faults) change all but /metrics.
 *   unicorn  (Unicorn.Rentals) GET /?key=K answers {"key":K,"hash":H}
 *   time     (WhatsTheTime.com) GET /time?tz=Area/City answers the time there, from
 *            the system's tz database: JSON, or text with format=text or
 *            Accept: text/plain */
#ifndef GD_UNICORN_H
#define GD_UNICORN_H

#include "core/http.h"
#include "services/slots.h"

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
    /* the release (unicorn): 1 fails now and then (GD_UNICORN_V1_FAIL of its answers are
     * 500s), 2 is fixed, 3 also keeps computed hashes (a hit holds its slot for a
     * twentieth of the service time), 4 is a broken build (every answer and its health
     * check are 500s). 0 is 2. */
    int version;
} gd_unicorn_conf;

#define GD_UNICORN_V1_FAIL 0.05
#define GD_UNICORN_CACHE 4096 /* hashes kept by v3 */

typedef struct gd_unicorn gd_unicorn;

/** The machine the service runs on (its ACL, faults and metrics: services/slots.h). */
gd_slots *gd_unicorn_slots(gd_unicorn *u);

/** Starts serving on ip:port on loop. Returns 0 or a gd_err (GD_EEXIST: in use). */
int gd_unicorn_start(uv_loop_t *loop, const gd_unicorn_conf *conf, const char *ip, int port,
                     gd_unicorn **out);

#endif
