/* Score: loadgen reports become points in the ledger. A report is counted once (by its
 * seq), refused when no loadgen of this game could have sent it, and the team's
 * running totals are kept in the store so that a restarted server resumes them.
 * MyClothes.com's reports carry the shoppers' outcomes too ("shop"): a checkout earns
 * its points in the customers' row, and each loss or failure becomes a "shoppers" row
 * of its own, with where it happened. */
#include "core/clock.h"
#include "core/err.h"
#include "core/mem.h"
#include "core/promtext.h"
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
    if (gd_scenario_is_shop(g->sc)) {
        json_t *shop = json_object();
        for (int o = 0; o < GD_SHOP_NOUT; o++)
            json_object_set_new(shop, gd_shop_outcome_name((enum gd_shop_outcome)o),
                                json_integer((json_int_t)ts->shop[o]));
        json_object_set_new(shop, "sessions_lost", json_integer((json_int_t)ts->sessions_lost));
        json_object_set_new(j, "shop", shop);
    }
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
    json_t *shop = json_object_get(j, "shop");
    for (int o = 0; o < GD_SHOP_NOUT; o++)
        ts->shop[o] = (uint64_t)json_integer_value(
            json_object_get(shop, gd_shop_outcome_name((enum gd_shop_outcome)o)));
    ts->sessions_lost = (uint64_t)json_integer_value(json_object_get(shop, "sessions_lost"));
    json_decref(j);
}

void gd_score_metrics(gd_game *g, gd_buf *b)
{
    if (!gd_scenario_is_shop(g->sc)) return;
    gd_prom_head(b, "gameday_shop_outcomes_total", "counter",
                 "What the shoppers found, as scored: checkouts, carts and items lost, failed "
                 "checkouts, wrong orders, stale prices");
    char l[96];
    for (int t = 1; t <= g->nteams; t++)
        for (int o = 0; o < GD_SHOP_NOUT; o++) {
            snprintf(l, sizeof l, "team=\"%d\",outcome=\"%s\"", t,
                     gd_shop_outcome_name((enum gd_shop_outcome)o));
            gd_prom_sample(b, "gameday_shop_outcomes_total", l, (double)g->teams[t].shop[o]);
        }
    gd_prom_head(b, "gameday_shop_sessions_lost_total", "counter",
                 "Shopper answers that found the session gone while it held something");
    for (int t = 1; t <= g->nteams; t++) {
        snprintf(l, sizeof l, "team=\"%d\"", t);
        gd_prom_sample(b, "gameday_shop_sessions_lost_total", l, (double)g->teams[t].sessions_lost);
    }
}

/* ---- the shoppers' part of a report ---- */

#define SHOP_DETAILS_MAX 9 /* details a report may give per outcome (the loadgen's 8 + other) */
#define SHOP_DETAIL_LEN 64

/* What a report's "shop" says, checked. */
struct shop_rep {
    int present;
    json_int_t n[GD_SHOP_NOUT];
    json_int_t sessions_lost, active;
    json_t *by; /* borrowed: {outcome: {detail: count}} */
};

static int count_of(json_t *o, const char *k, json_int_t *out, int required)
{
    json_t *v = json_object_get(o, k);
    if (!v && !required) return *out = 0, 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0) return -1;
    *out = json_integer_value(v);
    return 0;
}

/* Reads rep.shop: absent is fine (no shoppers); present, every count must be one and
 * the details small. */
static int read_shop(json_t *rep, struct shop_rep *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    json_t *j = json_object_get(rep, "shop");
    if (!j) return 0;
    if (!json_is_object(j))
        return snprintf(err, errlen, "shop: must be an object {n, by, ...}"), GD_EINVAL;
    s->present = 1;
    json_t *n = json_object_get(j, "n");
    if (!json_is_object(n)) return snprintf(err, errlen, "shop.n: must be an object"), GD_EINVAL;
    for (int o = 0; o < GD_SHOP_NOUT; o++) {
        const char *name = gd_shop_outcome_name((enum gd_shop_outcome)o);
        if (count_of(n, name, &s->n[o], 1) < 0)
            return snprintf(err, errlen, "shop.n.%s: must be a count", name), GD_EINVAL;
    }
    if (count_of(j, "sessions_lost", &s->sessions_lost, 0) < 0 ||
        count_of(j, "active", &s->active, 0) < 0)
        return snprintf(err, errlen, "shop.sessions_lost, shop.active: must be counts"), GD_EINVAL;
    s->by = json_object_get(j, "by");
    if (s->by && !json_is_object(s->by))
        return snprintf(err, errlen, "shop.by: must be an object"), GD_EINVAL;
    const char *k, *dk;
    json_t *v, *dv;
    json_object_foreach(s->by, k, v)
    {
        int o = 0;
        while (o < GD_SHOP_NOUT && strcmp(gd_shop_outcome_name((enum gd_shop_outcome)o), k)) o++;
        if (o == GD_SHOP_NOUT)
            return snprintf(err, errlen, "shop.by.%.40s: not a shop outcome", k), GD_EINVAL;
        if (!json_is_object(v) || json_object_size(v) > SHOP_DETAILS_MAX)
            return snprintf(err, errlen, "shop.by.%s: at most %d details", k, SHOP_DETAILS_MAX),
                   GD_EINVAL;
        json_int_t sum = 0;
        json_object_foreach(v, dk, dv)
        {
            if (strlen(dk) >= SHOP_DETAIL_LEN || !json_is_integer(dv) || json_integer_value(dv) < 1)
                return snprintf(err, errlen, "shop.by.%s: details are short texts with counts", k),
                       GD_EINVAL;
            for (const char *c = dk; *c; c++)
                if ((unsigned char)*c < ' ')
                    return snprintf(err, errlen, "shop.by.%s: a detail with a control character",
                                    k),
                           GD_EINVAL;
            sum += json_integer_value(dv);
        }
        if (sum != s->n[o])
            return snprintf(err, errlen,
                            "shop.by.%s: the details add up to %lld, not shop.n's %lld", k,
                            (long long)sum, (long long)s->n[o]),
                   GD_EINVAL;
    }
    return 0;
}

/* "3 carts lost (new session on i-1a2b x2, new session on i-3c4d)": one ledger row's
 * reason for the shop outcome o of a report. */
static void shop_reason(int o, json_int_t n, json_t *by, char *out, size_t len)
{
    static const char *const one[GD_SHOP_NOUT] = {"checkout",        "cart lost",   "item lost",
                                                  "checkout failed", "wrong order", "stale price"};
    static const char *const many[GD_SHOP_NOUT] = {"checkouts",    "carts lost",
                                                   "items lost",   "checkouts failed",
                                                   "wrong orders", "stale prices"};
    size_t off = (size_t)snprintf(out, len, "%lld %s", (long long)n, n == 1 ? one[o] : many[o]);
    json_t *d = json_object_get(by, gd_shop_outcome_name((enum gd_shop_outcome)o));
    const char *k;
    json_t *v;
    int i = 0;
    json_object_foreach(d, k, v)
    {
        if (off >= len) break;
        json_int_t c = json_integer_value(v);
        if (c > 1)
            off += (size_t)snprintf(out + off, len - off, "%s%s x%lld", i ? ", " : " (", k,
                                    (long long)c);
        else
            off += (size_t)snprintf(out + off, len - off, "%s%s", i ? ", " : " (", k);
        i++;
    }
    if (i && off < len) snprintf(out + off, len - off, ")");
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
                       double points, double t0, double t1, const struct shop_rep *shop, char *err,
                       size_t errlen)
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
    if (gd_scenario_is_shop(g->sc)) {
        /* The rate is shoppers arriving; each of them, and each of those already in the
         * shop, makes at most a visit's requests in the window. */
        most = (most + g->sc->shoppers.max_active) * gd_scenario_visit_steps(g->sc);
        double events = 0;
        for (int o = 0; o < GD_SHOP_NOUT; o++) events += (double)shop->n[o];
        if (events > most || (double)shop->n[GD_SHOP_CHECKOUT] > total ||
            (double)shop->sessions_lost > total) {
            snprintf(err, errlen,
                     "shop.n: %.0f shop outcomes and %lld checkouts in %.0f requests is more "
                     "than the shoppers can find (at most %.0f, and a checkout is a request)",
                     events, (long long)shop->n[GD_SHOP_CHECKOUT], total, most);
            return 1;
        }
    } else if (shop->present) {
        snprintf(err, errlen, "shop: this game's customers are not shoppers");
        return 1;
    }
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
    struct shop_rep shop;
    if (read_shop(rep, &shop, err, errlen) < 0) return GD_EINVAL;
    if (seq <= ts->last_seq) return 0; /* a retry of a report already counted */
    if (implausible(g, rep, seq, n, points, t0, t1, &shop, err, errlen)) return GD_EINVAL;
    ts->last_seq = seq;
    for (int i = 0; i < 4; i++) {
        ts->n[i] += (uint64_t)n[i];
        ts->last_n[i] = (uint64_t)n[i];
    }
    gd_hist_merge(&ts->hist, &h);
    ts->last_hist = h;
    ts->last_span = t1 - t0;
    char reason[600];
    int rl = snprintf(reason, sizeof reason,
                      "%lld ok (p50 %.0f ms), %lld errors, %lld timeouts, %lld wrong",
                      (long long)n[0], gd_hist_percentile(&h, 50) / 1000.0, (long long)n[1],
                      (long long)n[2], (long long)n[3]);
    if (shop.present) {
        /* a checkout is the customers' best moment: its points join theirs */
        json_int_t c = shop.n[GD_SHOP_CHECKOUT];
        points += (double)c * g->sc->scoring.shop[GD_SHOP_CHECKOUT];
        snprintf(reason + rl, sizeof reason - (size_t)rl, ", %lld checkout%s", (long long)c,
                 c == 1 ? "" : "s");
        for (int o = 0; o < GD_SHOP_NOUT; o++) ts->shop[o] += (uint64_t)shop.n[o];
        ts->sessions_lost += (uint64_t)shop.sessions_lost;
        ts->shoppers_active = shop.active;
    }
    gd_store_begin(g->db);
    if (n[0] + n[1] + n[2] + n[3] > 0)
        gd_store_ledger_add(g->db, t1, (int)team, "customers", points, reason);
    for (int o = GD_SHOP_CHECKOUT + 1; shop.present && o < GD_SHOP_NOUT; o++) {
        if (shop.n[o] == 0) continue;
        shop_reason(o, shop.n[o], shop.by, reason, sizeof reason);
        gd_store_ledger_add(g->db, t1, (int)team, "shoppers",
                            (double)shop.n[o] * g->sc->scoring.shop[o], reason);
    }
    gd_score_save(g, (int)team);
    gd_store_commit(g->db);
    return 0;
}
