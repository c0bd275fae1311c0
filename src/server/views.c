/* JSON views of the game: its info, the teams' status, the scoreboard (score over
 * time and notable events) and the final result. Read-only. */
#include "core/clock.h"
#include "core/mem.h"
#include "model/state.h"
#include "server/board.h"
#include "server/report.h"
#include "server/game_int.h"
#include "server/launcher_int.h"

#include <stdio.h>
#include <string.h>

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
    if (r && *gd_jstr(st, "ip"))
        snprintf(out, n, "%s:%d", gd_jstr(st, "ip"),
                 (int)json_integer_value(json_object_get(st, "port")));
    json_decref(r);
}

json_t *gd_game_info(gd_game *g)
{
    char dns[48];
    gd_dns_addr(g, dns, sizeof dns);
    json_t *info =
        json_pack("{s:s,s:s,s:s,s:f,s:f,s:f,s:s,s:i,s:s?,s:s}", "dir", g->dir, "name", g->sc->name,
                  "title", g->sc->title ? g->sc->title : g->sc->name, "clock", gd_game_now(g),
                  "duration", g->duration, "speed", gd_clock_speed(), "state",
                  g->finished         ? "ended"
                  : g->ended          ? "ending"
                  : gd_clock_paused() ? "paused"
                                      : "running",
                  "teams", g->nteams, "message", g->message[0] ? g->message : NULL, "dns", dns);
    json_object_set_new(info, "paused", json_boolean(gd_clock_paused()));
    return info;
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

/* The shoppers' counts of a MyClothes.com team (service.kind clothes). */
static json_t *shop_summary(const gd_team_stats *ts)
{
    return json_pack(
        "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "checkouts", (json_int_t)ts->shop[GD_SHOP_CHECKOUT],
        "carts_lost", (json_int_t)ts->shop[GD_SHOP_CART_LOST], "items_lost",
        (json_int_t)ts->shop[GD_SHOP_ITEM_LOST], "checkouts_failed",
        (json_int_t)ts->shop[GD_SHOP_CHECKOUT_FAILED], "orders_wrong",
        (json_int_t)ts->shop[GD_SHOP_ORDER_WRONG], "stale_prices",
        (json_int_t)ts->shop[GD_SHOP_STALE_PRICE], "sessions_lost", (json_int_t)ts->sessions_lost,
        "shoppers_active", (json_int_t)ts->shoppers_active);
}

static json_t *team_summary(gd_game *g, int t)
{
    gd_team_stats *ts = &g->teams[t];
    double now = gd_game_now(g);
    double span = ts->last_span > 0 ? ts->last_span : 1;
    uint64_t answered = ts->last_n[0] + ts->last_n[1] + ts->last_n[2] + ts->last_n[3];
    char ep[48], zone[64];
    gd_game_endpoint(g, t, ep, sizeof ep);
    gd_dns_zone(t, zone, sizeof zone);
    json_t *j = json_pack(
        "{s:i,s:s,s:s,s:s,s:f,s:f,s:f,s:f,s:f,s:I,s:I,s:I,s:I,s:f,s:i}", "id", t, "name", "",
        "zone", zone, "endpoint", ep, "score", gd_store_score(g->db, t), "trend",
        gd_store_score_between(g->db, t, now - 60, now + 1), "rps", answered / span, "p50_ms",
        gd_hist_percentile(&ts->last_hist, 50) / 1000.0, "p99_ms",
        gd_hist_percentile(&ts->last_hist, 99) / 1000.0, "ok", (json_int_t)ts->n[0], "errors",
        (json_int_t)ts->n[1], "timeouts", (json_int_t)ts->n[2], "wrong", (json_int_t)ts->n[3],
        "cost_usd", ts->cost_usd, "instances", running_instances(g, t));
    if (gd_scenario_is_shop(g->sc)) json_object_update_new(j, shop_summary(ts));
    return j;
}

json_t *gd_game_status(gd_game *g)
{
    json_t *teams = json_array();
    for (int t = 1; t <= g->nteams; t++) {
        json_t *s = team_summary(g, t);
        json_object_set_new(s, "name", json_string(gd_game_team_name(g, t)));
        json_array_append_new(teams, s);
    }
    json_t *info = gd_game_info(g);
    json_object_set_new(info, "teams", teams);
    return info;
}

/* The customers' rate now and what it is doing: {"rps", "label", "next_event_at"}. */
static json_t *traffic_phase(gd_game *g, double now)
{
    const gd_scenario *sc = g->sc;
    double rps = gd_scenario_rate(sc, now);
    char label[96];
    int i = 0;
    while (i + 1 < sc->nrate && sc->rate[i + 1].at <= now) i++;
    const char *unit = gd_scenario_is_shop(sc) ? "shoppers/s" : "rps";
    if (i + 1 < sc->nrate && sc->rate[i + 1].ramp)
        snprintf(label, sizeof label, "ramping to %g %s", sc->rate[i + 1].rps, unit);
    else
        snprintf(label, sizeof label, "steady %g %s", sc->nrate ? sc->rate[i].rps : 0, unit);
    for (int k = 0; k < sc->nsurges; k++) {
        const gd_surge *u = &sc->surges[k];
        if (now >= u->at && now < u->at + u->duration) {
            size_t l = strlen(label);
            snprintf(label + l, sizeof label - l, ", surge x%g", u->multiplier);
        }
    }
    if (g->ended) snprintf(label, sizeof label, "game over");
    json_t *j = json_pack("{s:f,s:s}", "rps", g->ended ? 0.0 : rps, "label", label);
    if (g->next_event < sc->nevents && !g->ended)
        json_object_set_new(j, "next_event_at", json_real(sc->events[g->next_event].at));
    return j;
}

json_t *gd_game_scoreboard(gd_game *g)
{
    json_t *status = gd_game_status(g);
    json_t *teams = json_incref(json_object_get(status, "teams"));
    json_object_del(status, "teams");
    double now = gd_game_now(g);
    json_object_set_new(status, "phase", traffic_phase(g, now));
    if (g->finished) json_object_set_new(status, "clock", json_real(g->duration)); /* over */
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
        json_object_set_new(tj, "history", hist);
        /* [t, revenue, cost, smooth]: the bills spread over what they cover. */
        json_object_set_new(
            tj, "series",
            gd_board_series(rows, g->ended && now > g->duration ? g->duration : now, 60));
        json_decref(rows);
        /* Notable events, newest first: no customers' rows, bills folded, actions. */
        json_t *recent = gd_store_ledger_list(g->db, t, 0, -400);
        json_t *ev = gd_report_team_events(g->db, t, recent, 30, g->sc->billing.points_per_dollar);
        json_t *newest = json_array();
        json_decref(recent);
        gd_report_sort(ev); /* a folded bill row goes by its last bill */
        for (size_t n = json_array_size(ev); n-- > 0 && json_array_size(newest) < 30;)
            json_array_append(newest, json_array_get(ev, n));
        json_decref(ev);
        json_object_set_new(tj, "events", newest);
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
        if (gd_scenario_is_shop(g->sc))
            json_object_set_new(json_array_get(teams, json_array_size(teams) - 1), "shop",
                                shop_summary(ts));
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
