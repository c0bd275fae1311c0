/* Billing: what each team ran, charged to its ledger once per billing interval, by the
 * price model of each type's registry row. */
#include "model/registry.h"
#include "model/state.h"
#include "server/game_int.h"

#include <stdio.h>
#include <string.h>

/* Charges every team for what ran in [from, to): instances per second (60 s minimum
 * per launch) and load balancers per hour, at list price times the multiplier. */
void gd_billing_charge(gd_game *g, double to)
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
            double price = gd_scenario_price(sc, gd_jstr(st, "instance_type"));
            if (price < 0) price = 0;
            usd += price * sc->billing.multiplier * secs / 3600.0;
            ninst += gd_inst_state_of(st) != GD_INST_TERMINATED;
            json_t *nst = json_deep_copy(st);
            json_object_set_new(nst, "billed_until", json_real(end));
            gd_store_res_set_status(g->db, gd_jstr(r, "id"), nst, to);
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
                json_t *pts = gd_metrics_series(g->metrics, gd_jstr(r, "id"), "RequestCount",
                                                g->last_billing);
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
        gd_score_save(g, t);
    }
    g->last_billing = to;
    gd_game_kv_setf(g, "last_billing", "%.6f", to);
    gd_store_commit(g->db);
}
