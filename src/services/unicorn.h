/* The Unicorn.Rentals service: GET /?key=K answers {"key":K,"hash":H} after holding
 * one of the instance's slots for its service time (the one emulated part: a timer,
 * not burnt CPU). Requests beyond the slots wait in a bounded FIFO queue; beyond
 * that they get 503. /health and /metrics answer at once. */
#ifndef GD_UNICORN_H
#define GD_UNICORN_H

#include "core/http.h"

#include <stdint.h>
#include <uv.h>

typedef struct gd_unicorn_conf {
    const char *id; /* instance id, sent back in X-Instance-Id */
    const char *salt;
    int slots;         /* concurrent requests worked on */
    int queue;         /* waiting requests beyond the slots */
    double service_ms; /* game milliseconds one request holds a slot */
} gd_unicorn_conf;

typedef struct gd_unicorn gd_unicorn;

/** Starts serving on ip:port on loop. Returns 0 or a gd_err (GD_EEXIST: in use). */
int gd_unicorn_start(uv_loop_t *loop, const gd_unicorn_conf *conf, const char *ip, int port,
                     gd_unicorn **out);

#endif
