/* Score: loadgen reports become points in the ledger. A report is counted once (by its
 * seq), refused when no loadgen of this game could have sent it, and the team's
 * running totals are kept in the store so that a restarted server resumes them. */
#include "core/clock.h"
#include "core/err.h"
#include "core/mem.h"
#include "server/game_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gd_score_save(gd_game *g, int team)
{
    gd_team_stats *ts = &g->teams[team];
    json_t *j = json_pack("{s:I,s:I,s:I,s:I,s:I,s:f,s:o}", "seq", (json_int_t)ts->last_seq, "ok",
                          (json_int_t)ts->n[0], "error", (json_int_t)ts->n[1], "timeout",
                          (json_int_t)ts->n[2], "wrong", (json_int_t)ts->n[3], "cost_usd",
                          ts->cost_usd, "hist", gd_hist_to_json(&ts->hist));
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    char key[32];
    snprintf(key, sizeof key, "totals_%d", team);
    gd_store_kv_set(g->db, key, s);
    free(s);
}

void gd_score_load(gd_game *g, int team)
{
    char key[32];
    snprintf(key, sizeof key, "totals_%d", team);
    char *s = gd_store_kv_get(g->db, key);
    if (!s) return;
    json_t *j = json_loads(s, 0, NULL);
    gd_free(s);
    gd_team_stats *ts = &g->teams[team];
    ts->last_seq = json_integer_value(json_object_get(j, "seq"));
    ts->n[0] = (uint64_t)json_integer_value(json_object_get(j, "ok"));
    ts->n[1] = (uint64_t)json_integer_value(json_object_get(j, "error"));
    ts->n[2] = (uint64_t)json_integer_value(json_object_get(j, "timeout"));
    ts->n[3] = (uint64_t)json_integer_value(json_object_get(j, "wrong"));
    ts->cost_usd = json_number_value(json_object_get(j, "cost_usd"));
    gd_hist_add_json(&ts->hist, json_object_get(j, "hist"));
    json_decref(j);
}

/* The most customers per game second the scenario ever sends (surges included). */
static double peak_rate(const gd_scenario *sc)
{
    double peak = 0, surge = 1;
    for (int i = 0; i < sc->nrate; i++)
        if (sc->rate[i].rps > peak) peak = sc->rate[i].rps;
    for (int i = 0; i < sc->nsurges; i++)
        surge *= sc->surges[i].multiplier > 1 ? sc->surges[i].multiplier : 1;
    return peak * surge;
}

/* A report no loadgen of this game could have sent (the internal token is a secret,
 * but a report must not be able to write any score it likes):
 * - seq: a loadgen numbers its reports from the system's monotonic clock in
 *   microseconds at its start, one more per report (about one a wall second), so a
 *   real seq is never ahead of that clock now;
 * - its window must have ended by now, and its counts fit the scenario's peak rate
 *   over that window and the client timeout before it (answers to earlier requests
 *   may land in it), three times over plus 50 for bursts and rounding;
 * - its points are at most its correct answers times scoring.success_max. */
static int implausible(gd_game *g, json_t *rep, json_int_t seq, const json_int_t n[4],
                       double points, double t0, double t1, char *err, size_t errlen)
{
    json_int_t now_us = (json_int_t)(gd_clock_mono_ns() / 1000);
    if (seq > now_us + 1000000) {
        snprintf(err, errlen, "seq: %lld is ahead of any loadgen's count (at most %lld)",
                 (long long)seq, (long long)now_us);
        return 1;
    }
    if (t1 > gd_game_now(g) + 5) {
        snprintf(err, errlen, "t1: %.1f is in the future (game time now %.1f)", t1, gd_game_now(g));
        return 1;
    }
    double total = (double)(n[0] + n[1] + n[2] + n[3]);
    double most = peak_rate(g->sc) * (t1 - t0 + g->sc->client_timeout) * 3 + 50;
    if (total > most) {
        snprintf(err, errlen,
                 "ok, error, timeout, wrong: %.0f requests in %.1f s is more than "
                 "the scenario ever sends (at most %.0f)",
                 total, t1 - t0, most);
        return 1;
    }
    double top = (double)n[0] * g->sc->scoring.success_max;
    if (points > top + 1e-6) {
        snprintf(err, errlen, "points: %.2f is more than %lld correct answers can earn (%.2f)",
                 points, (long long)n[0], top);
        return 1;
    }
    (void)rep;
    return 0;
}

int gd_game_report(gd_game *g, json_t *rep, char *err, size_t errlen)
{
    json_int_t team = json_integer_value(json_object_get(rep, "team"));
    json_int_t seq = json_integer_value(json_object_get(rep, "seq"));
    if (team < 1 || team > g->nteams) return snprintf(err, errlen, "team: no such team"), GD_EINVAL;
    const char *names[4] = {"ok", "error", "timeout", "wrong"};
    json_int_t n[4];
    for (int i = 0; i < 4; i++) {
        json_t *v = json_object_get(rep, names[i]);
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return snprintf(err, errlen, "%s: must be a count", names[i]), GD_EINVAL;
        n[i] = json_integer_value(v);
    }
    double points = json_number_value(json_object_get(rep, "points"));
    double t0 = json_number_value(json_object_get(rep, "t0"));
    double t1 = json_number_value(json_object_get(rep, "t1"));
    if (!isfinite(points) || !isfinite(t0) || !isfinite(t1) || t1 < t0)
        return snprintf(err, errlen, "points, t0, t1: must be numbers with t0 <= t1"), GD_EINVAL;
    gd_hist h;
    gd_hist_reset(&h);
    if (json_object_get(rep, "hist") && gd_hist_add_json(&h, json_object_get(rep, "hist")) < 0)
        return snprintf(err, errlen, "hist: malformed histogram"), GD_EINVAL;
    gd_team_stats *ts = &g->teams[team];
    if (seq <= ts->last_seq) return 0; /* a retry of a report already counted */
    if (implausible(g, rep, seq, n, points, t0, t1, err, errlen)) return GD_EINVAL;
    ts->last_seq = seq;
    for (int i = 0; i < 4; i++) {
        ts->n[i] += (uint64_t)n[i];
        ts->last_n[i] = (uint64_t)n[i];
    }
    gd_hist_merge(&ts->hist, &h);
    ts->last_hist = h;
    ts->last_span = t1 - t0;
    char reason[200];
    snprintf(reason, sizeof reason, "%lld ok (p50 %.0f ms), %lld errors, %lld timeouts, %lld wrong",
             (long long)n[0], gd_hist_percentile(&h, 50) / 1000.0, (long long)n[1], (long long)n[2],
             (long long)n[3]);
    gd_store_begin(g->db);
    if (n[0] + n[1] + n[2] + n[3] > 0)
        gd_store_ledger_add(g->db, t1, (int)team, "customers", points, reason);
    gd_score_save(g, (int)team);
    gd_store_commit(g->db);
    return 0;
}
