/* Metric series in fixed rings, fed from the edges' /stats. */
#include "server/metrics.h"
#include "core/clock.h"
#include "core/hist.h"
#include "core/mem.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* A ring that starts small and doubles up to GD_METRIC_POINTS, so that the many
 * series a big fleet has (one CPUUtilization per instance) cost what they hold. */
struct series {
    char res[40], name[48];
    double *t, *v;
    unsigned cap, head, n; /* capacity, next write position, points held */
    struct series *next;
};

#define FIRST_CAP 64

struct gd_metrics {
    struct series *list;
};

gd_metrics *gd_metrics_new(void)
{
    return gd_calloc(1, sizeof(gd_metrics));
}

void gd_metrics_free(gd_metrics *m)
{
    if (!m) return;
    while (m->list) {
        struct series *n = m->list->next;
        gd_free(m->list->t);
        gd_free(m->list->v);
        gd_free(m->list);
        m->list = n;
    }
    gd_free(m);
}

static struct series *find(const gd_metrics *m, const char *res, const char *name)
{
    for (struct series *s = m->list; s; s = s->next)
        if (!strcmp(s->res, res) && !strcmp(s->name, name)) return s;
    return NULL;
}

/* The series of (res_id, name), made empty when there is none. */
static struct series *series_of(gd_metrics *m, const char *res_id, const char *name)
{
    struct series *s = find(m, res_id, name);
    if (!s) {
        s = gd_calloc(1, sizeof *s);
        snprintf(s->res, sizeof s->res, "%s", res_id);
        snprintf(s->name, sizeof s->name, "%s", name);
        s->next = m->list;
        m->list = s;
    }
    return s;
}

static void append(struct series *s, double t, double v)
{
    if (s->n == s->cap && s->cap < GD_METRIC_POINTS) {
        /* Full: twice the room, oldest first from 0 (head is then n). */
        unsigned cap = s->cap ? s->cap * 2 : FIRST_CAP;
        double *nt = gd_malloc(sizeof *nt * cap), *nv = gd_malloc(sizeof *nv * cap);
        for (unsigned k = 0; k < s->n; k++) {
            unsigned i = (s->head + s->cap - s->n + k) % s->cap;
            nt[k] = s->t[i];
            nv[k] = s->v[i];
        }
        gd_free(s->t);
        gd_free(s->v);
        s->t = nt;
        s->v = nv;
        s->cap = cap;
        s->head = s->n;
    }
    s->t[s->head] = t;
    s->v[s->head] = v;
    s->head = (s->head + 1) % s->cap;
    if (s->n < s->cap) s->n++;
}

void gd_metrics_put(gd_metrics *m, const char *res_id, const char *name, double t, double v)
{
    append(series_of(m, res_id, name), t, v);
}

json_t *gd_metrics_series(const gd_metrics *m, const char *res_id, const char *name, double since)
{
    json_t *a = json_array();
    const struct series *s = find(m, res_id, name);
    if (!s) return a;
    unsigned start = (s->head + s->cap - s->n) % s->cap;
    for (unsigned k = 0; k < s->n; k++) {
        unsigned i = (start + k) % s->cap;
        if (s->t[i] >= since) json_array_append_new(a, json_pack("[f,f]", s->t[i], s->v[i]));
    }
    return a;
}

/* Calls emit for each period of [start, end) that has samples: its index from start,
 * the statistic of its samples and how many there were. */
static void each_period(const struct series *s, double start, double end, double period,
                        const gd_stat *st, void (*emit)(void *ud, long b, double v, size_t n),
                        void *ud)
{
    if (!s || !(period > 0) || !(end > start)) return;
    double *v = gd_malloc(sizeof *v * (s->n ? s->n : 1));
    size_t nv = 0;
    long cur = -1;
    unsigned first = (s->head + s->cap - s->n) % s->cap;
    for (unsigned k = 0; k <= s->n; k++) {
        unsigned i = (first + k) % s->cap;
        int in = k < s->n && s->t[i] >= start && s->t[i] < end;
        long b = in ? (long)floor((s->t[i] - start) / period) : -1;
        if (nv > 0 && (k == s->n || (in && b != cur))) {
            emit(ud, cur, gd_stat_of(st, v, nv), nv);
            nv = 0;
        }
        if (!in) continue;
        cur = b;
        v[nv++] = s->v[i];
    }
    gd_free(v);
}

struct to_json {
    json_t *a;
    double start, period;
};

static void emit_json(void *ud, long b, double v, size_t n)
{
    struct to_json *j = ud;
    json_array_append_new(j->a,
                          json_pack("[f,f,I]", j->start + (double)b * j->period, v, (json_int_t)n));
}

json_t *gd_metrics_stats(const gd_metrics *m, const char *res_id, const char *name, double start,
                         double end, double period, const gd_stat *st)
{
    struct to_json j = {json_array(), start, period};
    each_period(find(m, res_id, name), start, end, period, st, emit_json, &j);
    while (json_array_size(j.a) > GD_METRIC_MAX_PERIODS) json_array_remove(j.a, 0);
    return j.a;
}

struct to_slots {
    double *out;
    int n;
};

static void emit_slot(void *ud, long b, double v, size_t n)
{
    struct to_slots *x = ud;
    (void)n;
    if (b >= 0 && b < x->n) x->out[b] = v;
}

void gd_metrics_periods(const gd_metrics *m, const char *res_id, const char *name, double end,
                        int n, double period, const gd_stat *st, double *out)
{
    for (int i = 0; i < n; i++) out[i] = NAN;
    struct to_slots x = {out, n};
    each_period(find(m, res_id, name), end - n * period, end, period, st, emit_slot, &x);
}

double gd_metrics_settled(double now, double period)
{
    double lag = GD_METRIC_SETTLE_MS / 1000.0 * gd_clock_speed();
    if (lag > period) lag = period;
    return floor((now - lag) / period) * period;
}

json_t *gd_metrics_latest(const gd_metrics *m, const char *res_id)
{
    json_t *o = json_object();
    for (const struct series *s = m->list; s; s = s->next) {
        if (strcmp(s->res, res_id) != 0 || s->n == 0) continue;
        unsigned last = (s->head + s->cap - 1) % s->cap;
        json_object_set_new(o, s->name, json_real(s->v[last]));
    }
    return o;
}

/* A count over the time since the series' previous datapoint, spread over that time
 * in pieces of GD_METRIC_COUNT_STEP game seconds: a period's Sum then holds what
 * happened in it even when samples are far apart (at x120 a wall sample spans half a
 * game minute). The first datapoint of a series, and anything before the last
 * GD_METRIC_COUNT_SPAN seconds of a long gap, are put at t. */
static void put_count(gd_metrics *m, const char *res_id, const char *name, double t, double v)
{
    struct series *s = series_of(m, res_id, name);
    double t0 = s->n ? s->t[(s->head + s->cap - 1) % s->cap] : t;
    if (t0 < t - GD_METRIC_COUNT_SPAN) t0 = t - GD_METRIC_COUNT_SPAN;
    if (!(t - t0 > GD_METRIC_COUNT_STEP)) {
        append(s, t, v);
        return;
    }
    int k = (int)ceil((t - t0) / GD_METRIC_COUNT_STEP);
    double step = (t - t0) / k, given = 0;
    /* A whole count goes in whole pieces, so that the pieces add up to it exactly. */
    int whole = v == floor(v) && fabs(v) < 1e15;
    for (int i = 1; i <= k; i++) {
        double upto = i == k ? v : whole ? floor(v * i / k) : v * i / k;
        append(s, i == k ? t : t0 + step * i, upto - given);
        given = upto;
    }
}

static double delta(const json_t *prev, const json_t *cur, const char *k)
{
    double c = json_number_value(json_object_get(cur, k));
    double p = prev ? json_number_value(json_object_get(prev, k)) : 0;
    /* An edge that restarted begins its counters again. */
    return c >= p ? c - p : c;
}

/* The series an edge's stats and each of its groups' entries share: RequestCount,
 * HealthyHostCount, UnHealthyHostCount, and RequestCountPerTarget (per registered
 * target, as the edge's own /metrics has it). */
static void host_series(gd_metrics *m, const char *id, double t, const json_t *prev,
                        const json_t *cur)
{
    double req = delta(prev, cur, "requests");
    int healthy = (int)json_integer_value(json_object_get(cur, "healthy"));
    int unhealthy = (int)json_integer_value(json_object_get(cur, "unhealthy"));
    put_count(m, id, "RequestCount", t, req);
    gd_metrics_put(m, id, "HealthyHostCount", t, healthy);
    gd_metrics_put(m, id, "UnHealthyHostCount", t, unhealthy);
    put_count(m, id, "RequestCountPerTarget", t,
              healthy + unhealthy ? req / (healthy + unhealthy) : 0);
}

/* TargetResponseTime: the times of the requests answered since the previous sample,
 * from the difference of the edge's cumulative histograms (game microseconds). Each
 * request is one datapoint (seconds, as AWS's), so that a period's p99 is that of its
 * requests, as CloudWatch's is; past GD_METRIC_LATENCY_POINTS requests in one sample,
 * that many points at evenly spaced quantiles of the sample stand for them. The first
 * read of an edge (after its start or the server's) only sets the baseline. */
static void put_latencies(gd_metrics *m, const char *res_id, double t, const json_t *prev,
                          const json_t *cur)
{
    static gd_hist now, before; /* 21 KiB each: not on the stack; the server is one thread */
    const json_t *c = json_object_get(cur, "target_time");
    const json_t *p = prev ? json_object_get(prev, "target_time") : NULL;
    if (!c || !prev) return; /* the first read is the baseline: the edge's past is not news */
    gd_hist_reset(&now);
    gd_hist_reset(&before);
    if (gd_hist_add_json(&now, c) < 0) return;
    if (p && gd_hist_add_json(&before, p) < 0) gd_hist_reset(&before);
    if (before.count > now.count) gd_hist_reset(&before); /* the edge restarted */
    uint64_t n = now.count - before.count;
    if (n == 0) return;
    for (unsigned i = 0; i < GD_HIST_NBUCKETS; i++)
        now.b[i] = now.b[i] >= before.b[i] ? now.b[i] - before.b[i] : 0;
    now.count = n;
    now.sum -= before.sum;
    uint64_t k = n < GD_METRIC_LATENCY_POINTS ? n : GD_METRIC_LATENCY_POINTS;
    for (uint64_t i = 0; i < k; i++)
        gd_metrics_put(m, res_id, "TargetResponseTime", t,
                       (double)gd_hist_percentile(&now, 100.0 * ((double)i + 0.5) / (double)k) /
                           1e6);
}

void gd_metrics_from_edge(gd_metrics *m, const char *res_id, double t, const json_t *prev,
                          const json_t *cur)
{
    put_latencies(m, res_id, t, prev, cur);
    host_series(m, res_id, t, prev, cur);
    put_count(m, res_id, "HTTPCode_Target_2XX_Count", t, delta(prev, cur, "2xx"));
    put_count(m, res_id, "HTTPCode_Target_4XX_Count", t, delta(prev, cur, "4xx"));
    put_count(m, res_id, "HTTPCode_Target_5XX_Count", t, delta(prev, cur, "5xx"));
    put_count(m, res_id, "HTTPCode_ELB_5XX_Count", t, delta(prev, cur, "elb_5xx"));
    gd_metrics_put(m, res_id, "ActiveConnectionCount", t,
                   json_number_value(json_object_get(cur, "active_connections")));
    const json_t *c = json_object_get(cur, "cache");
    if (c) {
        /* CacheHitRate of this period alone, as CloudWatch's: the lookups answered from
         * the cache (fresh or stale) over all lookups since the previous sample. The
         * edge's own hit_rate is since its start; a period without lookups has no
         * datapoint. */
        const json_t *pc = prev ? json_object_get(prev, "cache") : NULL;
        double hits = delta(pc, c, "hits") + delta(pc, c, "stale");
        double lookups = hits + delta(pc, c, "misses");
        if (lookups > 0) gd_metrics_put(m, res_id, "CacheHitRate", t, hits / lookups);
        /* OriginLatency likewise: the mean time of the origin fetches that ended in
         * this period (game milliseconds); none, no datapoint. */
        double fetches = delta(pc, c, "origin_fetches");
        if (fetches > 0)
            gd_metrics_put(m, res_id, "OriginLatency", t, delta(pc, c, "origin_ms_sum") / fetches);
    }
}

void gd_metrics_from_group(gd_metrics *m, const char *tg_id, double t, const json_t *prev,
                           const json_t *cur)
{
    host_series(m, tg_id, t, prev, cur);
}
