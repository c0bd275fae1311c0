/* MyClothes.com's customers on the loadgen's loop: shoppers arrive at the scenario's
 * rate, each walks its visit (loadgen/shopper.h) one request at a time with think
 * times between, and every answer is judged against what that shopper did. The page
 * outcomes go to the loadgen's counts; the shop's outcomes are counted here and go in
 * its report as "shop". */
#ifndef GD_LOADGEN_SHOPPERS_H
#define GD_LOADGEN_SHOPPERS_H

#include "core/buf.h"
#include "core/httpc.h"
#include "model/scenario.h"

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

/* Called for the page outcome of every shopper request (latency in game seconds). */
typedef void (*gd_shoppers_record_fn)(enum gd_outcome o, double latency_s);

/** Prepares the shoppers of scenario sc (kept; not owned) on loop: the catalogue from
 *  sc->salt, at most sc->shoppers.max_active shoppers at once. 0 or GD_ENOMEM. */
int gd_shoppers_init(uv_loop_t *loop, const gd_scenario *sc, gd_shoppers_record_fn rec);
/** Where shoppers send from now on (pool may be NULL: no endpoint, every page fails).
 *  The pool is the caller's; host goes in the Host header (copied). */
void gd_shoppers_set_endpoint(gd_httpc_pool *pool, const char *host);
/** A shopper arrives whose first request is due at monotonic due_ns. 0, or GD_EFULL
 *  when max_active shoppers are in the shop (it is turned away and counted). */
int gd_shoppers_arrive(uint64_t due_ns);
/** Sends the requests of every shopper whose think time ended by now_ns. */
void gd_shoppers_tick(uint64_t now_ns);
/** The game is over: no shopper takes another step; those waiting leave now, those
 *  with a request in flight when it ends. */
void gd_shoppers_stop(void);
/** Requests sent and not answered; requests sent since the start. */
uint64_t gd_shoppers_inflight(void);
uint64_t gd_shoppers_sent(void);
/** The report's "shop" object since the last call (a new reference):
 *  {"n": {outcome: count, ...}, "by": {outcome: {detail: count}}, "sessions_lost",
 *   "started", "finished", "abandoned", "dropped", "active"}. */
json_t *gd_shoppers_report(void);
/** The shoppers' Prometheus series, labelled team="<team>". */
void gd_shoppers_metrics(gd_buf *b, int team);
/** The last verified orders, newest last: [{"order_id", "total_cents", "items",
 *  "shopper", "cookie"}] (a new reference); cookie is the Cookie header the shopper
 *  sent, so that a test can read the order back through the shop. */
json_t *gd_shoppers_orders(void);

#endif
