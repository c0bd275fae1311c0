/* The server's metric store: CloudWatch-like series per (resource, metric name), one
 * datapoint per sample (the edges' /stats are read once a wall second), kept in rings
 * of fixed size. Names follow AWS (RequestCount, RequestCountPerTarget,
 * HealthyHostCount, HTTPCode_Target_5XX_Count, CacheHitRate, OriginLatency,
 * TargetResponseTime ...). */
#ifndef GD_METRICS_H
#define GD_METRICS_H

#include "model/stat.h"

#include <jansson.h>

#define GD_METRIC_POINTS 4096

typedef struct gd_metrics gd_metrics;

gd_metrics *gd_metrics_new(void);
void gd_metrics_free(gd_metrics *m);
/** Appends a datapoint (game time t, value v) to the series of resource res_id. */
void gd_metrics_put(gd_metrics *m, const char *res_id, const char *name, double t, double v);
/** [[t, v], ...] of a series since game time `since`, oldest first; [] if unknown. */
json_t *gd_metrics_series(const gd_metrics *m, const char *res_id, const char *name, double since);
/** A statistic of a series over game time [start, end), one value per period of
 *  `period` seconds that has samples (periods start at start, start + period, ...):
 *  [[period start, value, samples], ...], oldest first, at most GD_METRIC_MAX_PERIODS
 *  (the latest ones), as get-metric-statistics answers. */
json_t *gd_metrics_stats(const gd_metrics *m, const char *res_id, const char *name, double start,
                         double end, double period, const gd_stat *st);
#define GD_METRIC_MAX_PERIODS 1440
/** The statistic of each of the n periods of `period` seconds that end at `end`, oldest
 *  first, into out[0..n-1]; NAN for a period without samples. */
void gd_metrics_periods(const gd_metrics *m, const char *res_id, const char *name, double end,
                        int n, double period, const gd_stat *st, double *out);
/** How often the server samples the edges' stats and the fleet, wall milliseconds:
 *  five samples a wall second (every other tick of the server), so that a minute's
 *  period has several even at x60. */
#define GD_METRIC_SAMPLE_MS 200
/** Counts (RequestCount, HTTPCode_*) are spread over the game time since their previous
 *  datapoint in pieces of this many game seconds, at most the last SPAN seconds. */
#define GD_METRIC_COUNT_STEP 5.0
#define GD_METRIC_COUNT_SPAN 120.0
/** At most this many TargetResponseTime datapoints per sample (one per request below). */
#define GD_METRIC_LATENCY_POINTS 32
/** How long after a period's end its last samples may still arrive, wall ms. */
#define GD_METRIC_SETTLE_MS 1500
/** The end of the last period (periods of `period` game seconds from 0) whose samples
 *  are all in by game time now: what an alarm or a policy evaluates up to. */
double gd_metrics_settled(double now, double period);
/** {"Name": last value, ...} for a resource. */
json_t *gd_metrics_latest(const gd_metrics *m, const char *res_id);
/** Turns an edge's /stats answer into datapoints: counters become per-sample deltas
 *  against prev (the previous answer, may be NULL), and a CDN's CacheHitRate is that
 *  of the period since prev (no datapoint for a period without lookups). */
void gd_metrics_from_edge(gd_metrics *m, const char *res_id, double t, const json_t *prev,
                          const json_t *cur);
/** Records one target group's metrics from an edge's /stats entry for it (prev: the
 *  same group's entry in the previous stats, or NULL), under the target group's id:
 *  RequestCount, RequestCountPerTarget, HealthyHostCount, UnHealthyHostCount. */
void gd_metrics_from_group(gd_metrics *m, const char *tg_id, double t, const json_t *prev,
                           const json_t *cur);

#endif
