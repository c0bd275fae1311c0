/* `gameday server`: the control plane's life. Creates (or, after a restart, resumes)
 * a game from its scenario, then once per tick runs the reconcilers, fires scenario
 * events (chaos, CEO messages), charges the bill to the ledger each billing interval,
 * and ends the game at its duration. Loadgen reports become score here. */
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "model/registry.h"
#include "server/game.h"
#include "server/ops.h"
#include "model/state.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define TICK_MS 100

static gd_game G;

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

double gd_game_now(const gd_game *g)
{
    double t = gd_clock_now();
    return t < 0 ? 0 : t;
}

void gd_game_audit(gd_game *g, int team, const char *principal, const char *source_ip,
                   const char *event, json_t *request, json_t *response, const char *error_code)
{
    gd_store_audit(g->db, gd_game_now(g), team, principal, source_ip ? source_ip : "internal",
                   event, request, response, error_code);
    gd_info("audit", "team=%d principal=%s event=%s error=%s", team, principal, event,
            error_code ? error_code : "-");
    json_decref(request);
    json_decref(response);
}

static void random_token(char out[65])
{
    unsigned char b[32];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
        for (size_t i = 0; i < sizeof b; i++) b[i] = (unsigned char)rand();
    }
    for (int i = 0; i < 32; i++) sprintf(out + 2 * i, "%02x", b[i]);
}

static void kv_setf(gd_game *g, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void kv_setf(gd_game *g, const char *key, const char *fmt, ...)
{
    char v[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v, sizeof v, fmt, ap);
    va_end(ap);
    gd_store_kv_set(g->db, key, v);
}

static double kv_num(gd_game *g, const char *key, double def)
{
    char *v = gd_store_kv_get(g->db, key);
    double d = v ? strtod(v, NULL) : def;
    gd_free(v);
    return d;
}

/* ---- endpoint ---- */

void gd_game_endpoint(gd_game *g, int team, char *out, size_t n)
{
    out[0] = 0;
    char key[32];
    snprintf(key, sizeof key, "endpoint_%d", team);
    char *name = gd_store_kv_get(g->db, key);
    if (!name) return;
    json_t *r = gd_store_res_get(g->db, team, name);
    gd_free(name);
    json_t *st = json_object_get(r, "status");
    if (r && *str(st, "ip"))
        snprintf(out, n, "%s:%d", str(st, "ip"),
                 (int)json_integer_value(json_object_get(st, "port")));
    json_decref(r);
}

/* ---- reports ---- */

static void save_totals(gd_game *g, int team)
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

static void load_totals(gd_game *g, int team)
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
    save_totals(g, (int)team);
    gd_store_commit(g->db);
    return 0;
}

/* ---- billing ---- */

/* Charges every team for what ran in [from, to): instances per second (60 s minimum
 * per launch) and load balancers per hour, at list price times the multiplier. */
static void bill(gd_game *g, double to)
{
    const gd_scenario *sc = g->sc;
    gd_store_begin(g->db);
    for (int t = 1; t <= g->nteams; t++) {
        double usd = 0;
        int ninst = 0, nlb = 0, ncdn = 0;
        json_t *inst = gd_store_res_list(g->db, t, "instance", 0);
        size_t i;
        json_t *r;
        json_array_foreach(inst, i, r)
        {
            json_t *st = json_object_get(r, "status");
            double launched = json_number_value(json_object_get(st, "launched_at"));
            double until = json_number_value(json_object_get(st, "billed_until"));
            double end = to;
            if (gd_inst_state_of(st) == GD_INST_TERMINATED)
                end = json_number_value(json_object_get(st, "terminated_at"));
            if (end < until) end = until;
            double secs = end - until;
            /* The first minute of a launch is billed whole, but never past the end of
             * the game: an instance launched in its last minute pays up to the end. */
            if (until <= launched && secs < sc->billing.minimum) {
                end = launched + sc->billing.minimum;
                if (end > g->duration) end = g->duration > to ? g->duration : to;
                secs = end - until;
            }
            if (secs <= 0) continue;
            double price = gd_scenario_price(sc, str(st, "instance_type"));
            if (price < 0) price = 0;
            usd += price * sc->billing.multiplier * secs / 3600.0;
            ninst += gd_inst_state_of(st) != GD_INST_TERMINATED;
            json_t *nst = json_deep_copy(st);
            json_object_set_new(nst, "billed_until", json_real(end));
            gd_store_res_set_status(g->db, str(r, "id"), nst, to);
            json_decref(nst);
        }
        json_decref(inst);
        /* Every other priced type, by its registry row: by the hour (load balancers)
         * or by the requests it answered (a cdn). */
        size_t nrows;
        const gd_rtype *rows = gd_registry_all(&nrows);
        for (size_t k = 0; k < nrows; k++) {
            const gd_rtype *rt = &rows[k];
            if (rt->price != GD_PRICE_HOURLY && rt->price != GD_PRICE_REQUESTS) continue;
            double price = gd_scenario_price(sc, rt->name);
            if (price <= 0) continue;
            json_t *lbs = gd_store_res_list(g->db, t, rt->name, 0);
            json_array_foreach(lbs, i, r)
            {
                if (rt->price == GD_PRICE_HOURLY) {
                    usd += price * sc->billing.multiplier * (to - g->last_billing) / 3600.0;
                    nlb++;
                    continue;
                }
                json_t *pts =
                    gd_metrics_series(g->metrics, str(r, "id"), "RequestCount", g->last_billing);
                double n = 0;
                size_t q;
                json_t *pt;
                json_array_foreach(pts, q, pt) if (json_number_value(json_array_get(pt, 0)) < to)
                    n += json_number_value(json_array_get(pt, 1));
                json_decref(pts);
                usd += price * sc->billing.multiplier * n / 10000.0;
                ncdn++;
            }
            json_decref(lbs);
        }
        if (usd <= 0) continue;
        g->teams[t].cost_usd += usd;
        char reason[160];
        snprintf(reason, sizeof reason, "bill $%.2f: %d instances, %d load balancers, %d cdn", usd,
                 ninst, nlb, ncdn);
        gd_store_ledger_add(g->db, to, t, "billing", -usd * sc->billing.points_per_dollar, reason);
        save_totals(g, t);
    }
    g->last_billing = to;
    kv_setf(g, "last_billing", "%.6f", to);
    gd_store_commit(g->db);
}

/* ---- scenario events ---- */

/* Chaos acts through the operations layer, as a player would, under its own
 * principal: checked and audited the same way. */
static void chaos_op(gd_game *g, int team, const char *principal, const char *action,
                     const char *target, const json_t *body)
{
    gd_actor who = {.team = team, .principal = principal, .trust = GD_TRUST_GAME};
    gd_op_result r;
    gd_op_action(g, &who, action, target, body, &r);
    if (r.code)
        gd_warn("chaos_refused", "team=%d action=%s target=%s code=%s", team, action, target,
                r.code);
    gd_op_result_free(&r);
}

static void fire(gd_game *g, const gd_event *ev)
{
    json_t *force = json_pack("{s:b}", "force", 1);
    const char *principal = ev->principal ? ev->principal : "chaos-monkey";
    gd_info("scenario_event", "action=%s target=%s principal=%s", ev->action,
            ev->target ? ev->target : "-", principal);
    if (ev->message) {
        snprintf(g->message, sizeof g->message, "%s", ev->message);
        gd_store_kv_set(g->db, "message", g->message);
    }
    for (int t = 1; t <= g->nteams; t++) {
        char reason[600];
        if (!strcmp(ev->action, "message")) {
            snprintf(reason, sizeof reason, "%s", ev->message ? ev->message : "");
            gd_store_ledger_add(g->db, gd_game_now(g), t, principal, 0, reason);
            continue;
        }
        const char *slash = ev->target ? strchr(ev->target, '/') : NULL;
        const char *name = slash ? slash + 1 : ev->target ? ev->target : "";
        if (!strcmp(ev->action, "terminate_random")) {
            /* Running instances of the group (or of the team when the target is "instances"). */
            json_t *inst = gd_store_res_list(g->db, t, "instance", 0);
            json_t *cand = json_array();
            size_t i;
            json_t *r;
            json_array_foreach(inst, i, r)
            {
                json_t *st = json_object_get(r, "status");
                if (gd_inst_state_of(st) != GD_INST_RUNNING) continue;
                if (slash && !strncmp(ev->target, "asg/", 4) && strcmp(str(st, "asg"), name) != 0)
                    continue;
                json_array_append(cand, r);
            }
            for (int k = 0; k < ev->count && json_array_size(cand) > 0; k++) {
                size_t pick = (size_t)(gd_rand_u64(&g->rnd) % json_array_size(cand));
                const char *id = str(json_array_get(cand, pick), "id");
                chaos_op(g, t, principal, "terminate", id, force);
                snprintf(reason, sizeof reason, "terminated %s%s%s", id, ev->message ? ": " : "",
                         ev->message ? ev->message : "");
                gd_store_ledger_add(g->db, gd_game_now(g), t, principal, 0, reason);
                json_array_remove(cand, pick);
            }
            json_decref(cand);
            json_decref(inst);
        } else if (!strcmp(ev->action, "terminate")) {
            chaos_op(g, t, principal, "terminate", name, force);
            snprintf(reason, sizeof reason, "terminated %s", name);
            gd_store_ledger_add(g->db, gd_game_now(g), t, principal, 0, reason);
        } else if (!strcmp(ev->action, "scale")) {
            json_t *asg = gd_store_res_get(g->db, t, name);
            if (asg) {
                /* Like SetDesiredCapacity, the group's min..max bound the change. */
                json_t *spec = json_object_get(asg, "spec");
                json_int_t mn = json_integer_value(json_object_get(spec, "min"));
                json_int_t mx = json_integer_value(json_object_get(spec, "max"));
                json_int_t want = ev->count < mn ? mn : ev->count > mx ? mx : ev->count;
                json_t *b = json_pack("{s:I}", "desired", want);
                chaos_op(g, t, principal, "scale", name, b);
                json_decref(b);
                snprintf(reason, sizeof reason, "set %s desired to %d", name, ev->count);
                gd_store_ledger_add(g->db, gd_game_now(g), t, principal, 0, reason);
            }
            json_decref(asg);
        }
    }
    json_decref(force);
}

/* ---- the tick ---- */

static void on_tick(uv_timer_t *t)
{
    gd_game *g = t->data;
    double now = gd_game_now(g);
    while (g->next_event < g->sc->nevents && g->sc->events[g->next_event].at <= now &&
           g->sc->events[g->next_event].at < g->duration) {
        fire(g, &g->sc->events[g->next_event]);
        g->next_event++;
        kv_setf(g, "next_event", "%d", g->next_event);
    }
    double end = now < g->duration ? now : g->duration;
    if (end - g->last_billing >= g->sc->billing.interval ||
        (g->ended == 0 && now >= g->duration && end > g->last_billing))
        bill(g, end);
    if (!g->ended && now >= g->duration) {
        g->ended = 1;
        gd_store_kv_set(g->db, "ended", "1");
        gd_info("game_ended", "duration=%.0f", g->duration);
    }
    gd_launcher_reconcile(g);
    if (g->ended && !g->finished) {
        int done = 1;
        for (gd_proc *p = g->procs; p; p = p->next)
            if (p->kind == GD_PROC_LOADGEN) done = 0;
        /* Loadgens flush their last report and exit; give them the client timeout. */
        if (done || now > g->duration + g->sc->client_timeout + 30 * gd_clock_speed()) {
            g->finished = 1;
            gd_info("game_finished", "loadgens_done=%d", done);
        }
    }
}

/* ---- JSON views ---- */

json_t *gd_game_info(gd_game *g)
{
    return json_pack("{s:s,s:s,s:s,s:f,s:f,s:f,s:s,s:i,s:s?}", "dir", g->dir, "name", g->sc->name,
                     "title", g->sc->title ? g->sc->title : g->sc->name, "clock", gd_game_now(g),
                     "duration", g->duration, "speed", gd_clock_speed(), "state",
                     g->finished ? "ended"
                     : g->ended  ? "ending"
                                 : "running",
                     "teams", g->nteams, "message", g->message[0] ? g->message : NULL);
}

static int running_instances(gd_game *g, int team)
{
    json_t *inst = gd_store_res_list(g->db, team, "instance", 0);
    int n = 0;
    size_t i;
    json_t *r;
    json_array_foreach(inst, i, r) n += gd_inst_state_of_res(r) == GD_INST_RUNNING;
    json_decref(inst);
    return n;
}

static json_t *team_summary(gd_game *g, int t)
{
    gd_team_stats *ts = &g->teams[t];
    double now = gd_game_now(g);
    double span = ts->last_span > 0 ? ts->last_span : 1;
    uint64_t answered = ts->last_n[0] + ts->last_n[1] + ts->last_n[2] + ts->last_n[3];
    char ep[48];
    gd_game_endpoint(g, t, ep, sizeof ep);
    return json_pack("{s:i,s:s,s:s,s:f,s:f,s:f,s:f,s:f,s:I,s:I,s:I,s:I,s:f,s:i}", "id", t, "name",
                     "", "endpoint", ep, "score", gd_store_score(g->db, t), "trend",
                     gd_store_score_between(g->db, t, now - 60, now + 1), "rps", answered / span,
                     "p50_ms", gd_hist_percentile(&ts->last_hist, 50) / 1000.0, "p99_ms",
                     gd_hist_percentile(&ts->last_hist, 99) / 1000.0, "ok", (json_int_t)ts->n[0],
                     "errors", (json_int_t)ts->n[1], "timeouts", (json_int_t)ts->n[2], "wrong",
                     (json_int_t)ts->n[3], "cost_usd", ts->cost_usd, "instances",
                     running_instances(g, t));
}

json_t *gd_game_status(gd_game *g)
{
    json_t *teams = json_array();
    for (int t = 1; t <= g->nteams; t++) {
        json_t *s = team_summary(g, t);
        char name[32];
        snprintf(name, sizeof name, "team-%d", t);
        json_object_set_new(s, "name", json_string(name));
        json_array_append_new(teams, s);
    }
    json_t *info = gd_game_info(g);
    json_object_set_new(info, "teams", teams);
    return info;
}

json_t *gd_game_scoreboard(gd_game *g)
{
    json_t *status = gd_game_status(g);
    json_t *teams = json_incref(json_object_get(status, "teams"));
    json_object_del(status, "teams");
    double now = gd_game_now(g);
    size_t i;
    json_t *tj;
    json_array_foreach(teams, i, tj)
    {
        int t = (int)json_integer_value(json_object_get(tj, "id"));
        /* Score over time: the running total at each game-minute boundary, then now. */
        json_t *rows = gd_store_ledger_list(g->db, t, 0, 0);
        json_t *hist = json_array();
        double sum = 0, edge = 0;
        size_t k;
        json_t *row;
        json_array_foreach(rows, k, row)
        {
            double tm = json_number_value(json_object_get(row, "time"));
            while (tm >= edge + 60) {
                edge += 60;
                json_array_append_new(hist, json_pack("[f,f]", edge, sum));
            }
            sum += json_number_value(json_object_get(row, "points"));
        }
        json_array_append_new(hist, json_pack("[f,f]", now, sum));
        json_decref(rows);
        json_object_set_new(tj, "history", hist);
        /* Notable events: everything but the customers' per-report rows. */
        json_t *recent = gd_store_ledger_list(g->db, t, 0, -400);
        json_t *ev = json_array();
        for (size_t n = json_array_size(recent); n-- > 0 && json_array_size(ev) < 30;) {
            json_t *e = json_array_get(recent, n);
            if (strcmp(str(e, "source"), "customers") != 0) json_array_append(ev, e);
        }
        json_decref(recent);
        json_object_set_new(tj, "events", ev);
    }
    return json_pack("{s:o,s:o}", "game", status, "teams", teams);
}

json_t *gd_game_result(gd_game *g)
{
    /* The first team is the result of a one-team game; every team is listed too. */
    json_t *teams = json_array();
    for (int t = 1; t <= g->nteams; t++) {
        gd_team_stats *ts = &g->teams[t];
        json_array_append_new(
            teams, json_pack("{s:i,s:f,s:{s:I,s:I,s:I,s:I},s:{s:f,s:f},s:f}", "team", t, "score",
                             gd_store_score(g->db, t), "requests", "ok", (json_int_t)ts->n[0],
                             "error", (json_int_t)ts->n[1], "timeout", (json_int_t)ts->n[2],
                             "wrong", (json_int_t)ts->n[3], "latency_ms", "p50",
                             gd_hist_percentile(&ts->hist, 50) / 1000.0, "p99",
                             gd_hist_percentile(&ts->hist, 99) / 1000.0, "cost_usd", ts->cost_usd));
    }
    json_t *res = json_deep_copy(json_array_get(teams, 0));
    json_object_del(res, "team");
    json_object_set_new(res, "scenario", json_string(g->sc->name));
    json_object_set_new(res, "game_seconds", json_real(g->duration));
    json_object_set_new(res, "speed", json_real(gd_clock_speed()));
    json_object_set_new(res, "state", json_string(g->finished ? "ended" : "running"));
    json_object_set_new(res, "teams", teams);
    return res;
}

/* ---- start ---- */

static int bootstrap(gd_game *g)
{
    double now = gd_game_now(g);
    const gd_scenario *sc = g->sc;
    for (int t = 1; t <= g->nteams; t++) {
        char tok[65], name[32], key[32];
        random_token(tok);
        snprintf(name, sizeof name, "team-%d", t);
        gd_store_team_put(g->db, t, name, tok);
        size_t i;
        json_t *r;
        json_array_foreach(sc->resources, i, r)
        {
            const char *type = str(r, "type");
            if (!strcmp(type, "instance")) continue;
            char id[40];
            /* Load balancers of the starting architecture already serve their fleet. */
            json_t *st0 = json_pack("{s:b}", "bootstrap", 1);
            int rc = gd_store_res_create(g->db, t, type, str(r, "name"), json_object_get(r, "spec"),
                                         st0, now, id);
            json_decref(st0);
            if (rc < 0) {
                gd_error("bootstrap_failed", "team=%d resource=%s err=%s", t, str(r, "name"),
                         gd_strerror(rc));
                return rc;
            }
            gd_game_audit(g, t, "gameday", NULL, "CreateResource",
                          json_pack("{s:s,s:s}", "type", type, "name", str(r, "name")),
                          json_pack("{s:s}", "id", id), NULL);
        }
        /* The game starts with a running system: initial instances are booted and healthy. */
        json_array_foreach(sc->resources, i, r)
        {
            const char *type = str(r, "type");
            json_t *spec = json_object_get(r, "spec");
            char err[256];
            if (!strcmp(type, "instance")) {
                if (gd_launcher_run_instance(
                        g, t, str(r, "name"), str(spec, "launch_template"),
                        json_string_value(json_object_get(spec, "instance_type")),
                        str(spec, "subnet"), NULL, 1, "gameday", NULL, NULL, err, sizeof err) < 0)
                    gd_warn("bootstrap_instance_failed", "team=%d err=%s", t, gd_log_q(err));
            } else if (!strcmp(type, "asg")) {
                int desired = (int)json_integer_value(json_object_get(spec, "desired"));
                json_t *subnets = json_object_get(spec, "subnets");
                for (int k = 0; k < desired; k++) {
                    const char *sn = json_string_value(
                        json_array_get(subnets, (size_t)k % json_array_size(subnets)));
                    if (gd_launcher_run_instance(g, t, NULL, str(spec, "launch_template"), NULL, sn,
                                                 str(r, "name"), 1, "autoscaling", NULL, NULL, err,
                                                 sizeof err) < 0)
                        gd_warn("bootstrap_instance_failed", "team=%d err=%s", t, gd_log_q(err));
                }
            }
        }
        snprintf(key, sizeof key, "endpoint_%d", t);
        gd_store_kv_set(g->db, key, sc->endpoint);
    }
    return 0;
}

static void write_game_json(gd_game *g)
{
    json_t *teams = gd_store_teams(g->db);
    json_t *j = json_pack("{s:s,s:s,s:s,s:i,s:o}", "api", "", "admin_token", g->admin_token, "dir",
                          g->dir, "server_pid", (int)getpid(), "teams", teams);
    char api[64];
    snprintf(api, sizeof api, "http://%s:%d", g->host, g->port);
    json_object_set_new(j, "api", json_string(api));
    char path[PATH_MAX + 16], tmp[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/game.json", g->dir);
    snprintf(tmp, sizeof tmp, "%s/game.json.tmp", g->dir);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
        char *s = json_dumps(j, JSON_INDENT(2));
        ssize_t w = write(fd, s, strlen(s));
        (void)w;
        close(fd);
        free(s);
        rename(tmp, path);
    }
    json_decref(j);
}

/* Every game holds a listener at 127.X.255.254:9999 for each of its teams' address
 * ranges, so that a second game on the same --net stops at once with a clear error
 * instead of fighting over addresses. */
static int claim_nets(gd_game *g)
{
    for (int t = 1; t <= g->nteams; t++) {
        uv_tcp_t *h = gd_calloc(1, sizeof *h);
        struct sockaddr_in sa;
        char ip[32];
        snprintf(ip, sizeof ip, "127.%d.255.254", g->net + t - 1);
        uv_ip4_addr(ip, 9999, &sa);
        uv_tcp_init(g->loop, h);
        int r = uv_tcp_bind(h, (struct sockaddr *)&sa, 0);
        if (r == 0) r = uv_listen((uv_stream_t *)h, 1, NULL);
        if (r < 0) {
            fprintf(stderr,
                    "gameday server: another game already uses 127.%d.0.0/16 (team %d); start "
                    "this one with another --net\n",
                    g->net + t - 1, t);
            gd_error("net_in_use", "net=%d", g->net + t - 1);
            return -1;
        }
    }
    return 0;
}

static void on_signal(uv_signal_t *s, int signum)
{
    gd_game *g = s->data;
    gd_info("stopping", "signal=%d", signum);
    gd_launcher_stop_all(g);
    gd_store_close(g->db);
    fflush(stderr);
    _exit(0);
}

static int usage(int rc)
{
    fprintf(rc ? stderr : stdout,
            "usage: gameday server --scenario FILE --dir DIR [--port P] [--speed N]\n"
            "         [--duration D] [--teams N] [--net K]\n"
            "Runs the control plane: API and scoreboard on 127.0.0.1:P (8080), the launcher,\n"
            "billing, scoring and chaos. State lives in DIR/state.db; started again on the\n"
            "same DIR it resumes the game where it was (see doc/architecture.md).\n"
            "--net K puts team t's VPC at 127.(K+t-1).0.0/16 (default 1), so that several\n"
            "games can run on one machine.\n");
    return rc;
}

int gd_cmd_server(int argc, char **argv)
{
    const char *scen = NULL, *dir = NULL, *dur = NULL;
    double speed = 0;
    int port = 8080, teams = 0, net = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help")) return usage(0);
        if (!v) return usage(2);
        if (!strcmp(a, "--scenario"))
            scen = v;
        else if (!strcmp(a, "--dir"))
            dir = v;
        else if (!strcmp(a, "--port"))
            port = atoi(v);
        else if (!strcmp(a, "--speed"))
            speed = atof(v);
        else if (!strcmp(a, "--duration"))
            dur = v;
        else if (!strcmp(a, "--net"))
            net = atoi(v);
        else if (!strcmp(a, "--teams"))
            teams = atoi(v);
        else
            return usage(2);
        i++;
    }
    if (!dir) return usage(2);
    gd_log_init("server");
    signal(SIGPIPE, SIG_IGN);
    gd_game *g = &G;
    snprintf(g->host, sizeof g->host, "127.0.0.1");
    g->port = port;
    /* The folder holds every token (state.db, game.json): nobody else may read it,
     * and whatever the server and its children create in it is theirs alone. */
    umask(077);
    if (!realpath(dir, g->dir)) {
        if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
            fprintf(stderr, "gameday server: cannot create %s: %s\n", dir, strerror(errno));
            return 1;
        }
        if (!realpath(dir, g->dir)) return 1;
    }
    char path[PATH_MAX + 32];
    chmod(g->dir, 0700);
    snprintf(path, sizeof path, "%s/logs", g->dir);
    mkdir(path, 0700);
    chmod(path, 0700);
    static const char *const secret[] = {"state.db", "state.db-wal", "state.db-shm", "game.json",
                                         NULL};
    for (int k = 0; secret[k]; k++) { /* a folder an older version made */
        snprintf(path, sizeof path, "%s/%s", g->dir, secret[k]);
        chmod(path, 0600);
    }
    ssize_t n = readlink("/proc/self/exe", g->exe, sizeof g->exe - 1);
    if (n <= 0) return 1;
    g->exe[n] = 0;
    snprintf(path, sizeof path, "%s/state.db", g->dir);
    if (gd_store_open(path, &g->db) < 0) {
        fprintf(stderr, "gameday server: cannot open %s\n", path);
        return 1;
    }
    char *saved = gd_store_kv_get(g->db, "scenario");
    int resume = saved != NULL;
    if (resume && !scen) scen = saved;
    if (!scen) return usage(2);
    gd_errs errs = {0};
    if (gd_scenario_load(scen, &g->sc, &errs) < 0) {
        for (int i = 0; i < errs.n; i++) fprintf(stderr, "%s\n", errs.msgs[i]);
        gd_errs_free(&errs);
        return 1;
    }
    if (resume) {
        gd_clock_set(kv_num(g, "speed", 1), (uint64_t)kv_num(g, "epoch_ns", 0));
        g->duration = kv_num(g, "duration", g->sc->duration);
        g->nteams = (int)kv_num(g, "teams", 1);
        g->net = (int)kv_num(g, "net", 1);
        char *a = gd_store_kv_get(g->db, "admin_token"),
             *it = gd_store_kv_get(g->db, "internal_token");
        snprintf(g->admin_token, sizeof g->admin_token, "%s", a ? a : "");
        snprintf(g->internal_token, sizeof g->internal_token, "%s", it ? it : "");
        gd_free(a);
        gd_free(it);
        g->next_event = (int)kv_num(g, "next_event", 0);
        g->last_billing = kv_num(g, "last_billing", 0);
        g->ended = kv_num(g, "ended", 0) > 0;
        char *m = gd_store_kv_get(g->db, "message");
        if (m) snprintf(g->message, sizeof g->message, "%s", m);
        gd_free(m);
        for (int t = 1; t <= g->nteams; t++) load_totals(g, t);
        gd_info("resumed", "dir=%s clock=%.1f", g->dir, gd_game_now(g));
    } else {
        if (speed <= 0) speed = g->sc->speed;
        gd_clock_set(speed, gd_clock_mono_ns());
        g->duration = g->sc->duration;
        if (dur && gd_duration_parse(dur, &g->duration) < 0) {
            fprintf(stderr, "gameday server: --duration: not a duration (e.g. 20m, 4h)\n");
            return 2;
        }
        g->nteams = teams > 0 ? teams : g->sc->teams;
        if (g->nteams > GD_MAX_TEAMS) g->nteams = GD_MAX_TEAMS;
        g->net = net;
        if (net < 1 || net + g->nteams - 1 > 254) {
            fprintf(stderr, "gameday server: --net %d: teams would leave 127.1-254.x.x\n", net);
            return 2;
        }
        random_token(g->admin_token);
        random_token(g->internal_token);
        char real[PATH_MAX];
        gd_store_begin(g->db);
        gd_store_kv_set(g->db, "scenario", realpath(scen, real) ? real : scen);
        kv_setf(g, "speed", "%.17g", gd_clock_speed());
        kv_setf(g, "epoch_ns", "%llu", (unsigned long long)gd_clock_epoch_ns());
        kv_setf(g, "duration", "%.17g", g->duration);
        kv_setf(g, "teams", "%d", g->nteams);
        kv_setf(g, "net", "%d", g->net);
        gd_store_kv_set(g->db, "admin_token", g->admin_token);
        gd_store_kv_set(g->db, "internal_token", g->internal_token);
        gd_store_commit(g->db);
    }
    gd_free(saved);
    g->loop = uv_default_loop();
    g->loop->data = g;
    g->metrics = gd_metrics_new();
    gd_rand_seed(&g->rnd, g->sc->seed ^ gd_clock_epoch_ns());
    if (gd_api_start(g) < 0) return 1;
    if (claim_nets(g) < 0) return 1;
    if (resume) {
        gd_launcher_adopt(g);
    } else {
        gd_store_begin(g->db);
        int r = bootstrap(g);
        gd_store_commit(g->db);
        if (r < 0) return 1;
    }
    write_game_json(g);
    uv_timer_init(g->loop, &g->tick);
    g->tick.data = g;
    uv_timer_start(&g->tick, on_tick, 0, TICK_MS);
    uv_signal_t sigterm, sigint;
    uv_signal_init(g->loop, &sigterm);
    sigterm.data = g;
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_init(g->loop, &sigint);
    sigint.data = g;
    uv_signal_start(&sigint, on_signal, SIGINT);
    gd_info("ready", "api=http://%s:%d dir=%s speed=%g duration=%.0f teams=%d", g->host, g->port,
            g->dir, gd_clock_speed(), g->duration, g->nteams);
    uv_run(g->loop, UV_RUN_DEFAULT);
    return 0;
}
