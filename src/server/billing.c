/* Billing: what each team ran, charged to its ledger once per billing interval, by the
 * price model of each type's registry row, and itemised: every charge is added to a
 * line of the team's bill (one resource, one kind of use), kept in the store. */
#include "core/mem.h"
#include "model/db.h"
#include "model/registry.h"
#include "model/state.h"
#include "server/functions.h"
#include "server/game_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOURS_A_MONTH 730.0

static void bill_key(int team, char *key, size_t n)
{
    snprintf(key, n, "bill_%d", team);
}

/* The team's bill so far: {"<resource id> <line>": {resource, name, type, line, unit,
 * quantity, usd}, ...}; an empty object before the first charge. */
static json_t *bill_load(gd_game *g, int team)
{
    char key[32];
    bill_key(team, key, sizeof key);
    char *s = gd_store_kv_get(g->db, key);
    json_t *b = s ? json_loads(s, 0, NULL) : NULL;
    gd_free(s);
    return json_is_object(b) ? b : (json_decref(b), json_object());
}

static void bill_save(gd_game *g, int team, json_t *b)
{
    char key[32];
    bill_key(team, key, sizeof key);
    char *s = json_dumps(b, JSON_COMPACT);
    gd_store_kv_set(g->db, key, s);
    free(s);
}

/* Adds qty units and usd dollars to the line of resource r. */
void gd_bill_add(json_t *b, json_t *r, const char *line, const char *unit, double qty, double usd)
{
    char key[160];
    snprintf(key, sizeof key, "%s %s", gd_jstr(r, "id"), line);
    json_t *it = json_object_get(b, key);
    if (!it) {
        it = json_pack("{s:s,s:s,s:s,s:s,s:s,s:f,s:f}", "resource", gd_jstr(r, "id"), "name",
                       gd_jstr(r, "name"), "type", gd_jstr(r, "type"), "line", line, "unit", unit,
                       "quantity", 0.0, "usd", 0.0);
        json_object_set_new(b, key, it);
    }
    json_object_set_new(it, "quantity", json_real(gd_jnum(it, "quantity", 0) + qty));
    json_object_set_new(it, "usd", json_real(gd_jnum(it, "usd", 0) + usd));
}

/* Requests an edge answered since the last charge: its cumulative count against the
 * one the last charge saw (an edge that restarted counts from 0 again). */
static double requests_since(gd_game *g, json_t *r)
{
    const char *id = gd_jstr(r, "id");
    for (gd_edge_link *e = g->edges; e; e = e->next) {
        if (strcmp(e->res_id, id) != 0 || !e->stats) continue;
        double cur = gd_jnum(e->stats, "requests", 0);
        double prev = gd_jnum(json_object_get(r, "status"), "billed_requests", 0);
        json_t *nst = json_deep_copy(json_object_get(r, "status"));
        json_object_set_new(nst, "billed_requests", json_real(cur));
        gd_store_res_set_status(g->db, id, nst, gd_game_now(g));
        json_decref(nst);
        return cur >= prev ? cur - prev : cur;
    }
    return 0;
}

/* What one hour of a type by the hour is called on the bill, and how many of its units
 * an hour is. */
static const char *hourly_line(const char *type, const char **unit, double *per_hour)
{
    *unit = "hours";
    *per_hour = 1;
    if (!strcmp(type, "alarm")) {
        *unit = "alarm-months";
        *per_hour = 1 / HOURS_A_MONTH;
        return "alarm (standard resolution)";
    }
    if (!strcmp(type, "clb")) return "Classic Load Balancer hours";
    if (!strcmp(type, "alb")) return "Application Load Balancer hours";
    return "hours";
}

/* A type billed by the node-hour (a cache cluster, a db): each node at its size's price
 * (the scenario's billing.prices, else the type's list price), from the resource's
 * creation or the last bill on; a spec with storage_gb also pays each node's storage by
 * the GB-month (gp2, $0.115, or billing.prices' `db.storage`). *nodes counts them. */
#define STORAGE_GB_MONTH 0.115
static double bill_nodes(gd_game *g, int t, json_t *bill, const gd_rtype *rt, double to,
                         int *nodes_billed)
{
    const gd_scenario *sc = g->sc;
    double usd = 0;
    json_t *list = gd_store_res_list(g->db, t, rt->name, 0);
    size_t i;
    json_t *r;
    json_array_foreach(list, i, r)
    {
        json_t *spec = json_object_get(r, "spec");
        const char *size = gd_jstr(spec, rt->price_size);
        double price = gd_scenario_price(sc, size);
        if (price < 0 && rt->list_price) price = rt->list_price(size);
        double n = (double)json_array_size(json_object_get(json_object_get(r, "status"), "nodes"));
        double from = gd_jnum(r, "created", g->last_billing);
        if (from < g->last_billing) from = g->last_billing;
        double hours = (to - from) / 3600.0;
        if (price <= 0 || hours <= 0 || n <= 0) continue;
        char line[96];
        snprintf(line, sizeof line, "%s %s", size, rt->price_unit);
        double cost = price * sc->billing.multiplier * n * hours;
        gd_bill_add(bill, r, line, rt->price_unit, n * hours, cost);
        usd += cost;
        *nodes_billed += (int)n;
        if (!json_object_get(spec, "storage_gb")) continue;
        double gbm = gd_jnum(spec, "storage_gb", 20) * n * hours / HOURS_A_MONTH;
        double sp = gd_scenario_price(sc, "db.storage");
        double scost = (sp >= 0 ? sp : STORAGE_GB_MONTH) * sc->billing.multiplier * gbm;
        gd_bill_add(bill, r, "db storage GB-months", "GB-months", gbm, scost);
        usd += scost;
    }
    json_decref(list);
    return usd;
}

/* Fargate tasks (a GD_PRICE_TASK type): each by its size, per vCPU-second and
 * GB-second (billing.prices' fargate.vcpu and fargate.gb, by the hour), from its
 * placement to its stop, with a minute's minimum (FARGATE_MINIMUM, AWS's) but never
 * past the game's end. Tasks on EC2 cost nothing: their container instance pays.
 * *ntasks counts the tasks billed. */
#define FARGATE_MINIMUM 60.0
static double bill_tasks(gd_game *g, int t, json_t *bill, const gd_rtype *rt, double to,
                         int *ntasks)
{
    const gd_scenario *sc = g->sc;
    double pv = gd_scenario_price(sc, "fargate.vcpu"), pg = gd_scenario_price(sc, "fargate.gb");
    double usd = 0;
    json_t *list = gd_store_res_list(g->db, t, rt->name, 0);
    size_t i;
    json_t *r;
    json_array_foreach(list, i, r)
    {
        json_t *st = json_object_get(r, "status");
        if (strcmp(gd_jstr(json_object_get(r, "spec"), "launch_type"), "FARGATE") != 0 ||
            !json_object_get(st, "placed_at"))
            continue;
        double placed = gd_jnum(st, "placed_at", 0), until = gd_jnum(st, "billed_until", placed);
        double end = !strcmp(gd_jstr(st, "state"), "stopped") ? gd_jnum(st, "stopped_at", to) : to;
        if (end < until) end = until;
        if (until <= placed && end - placed < FARGATE_MINIMUM) {
            end = placed + FARGATE_MINIMUM;
            if (end > g->duration) end = g->duration > to ? g->duration : to;
        }
        double secs = end - until;
        if (secs <= 0) continue;
        double vcpu = gd_jnum(st, "cpu", 256) / 1024.0, gb = gd_jnum(st, "memory", 512) / 1024.0;
        double cv = (pv > 0 ? pv : 0) * sc->billing.multiplier * vcpu * secs / 3600.0;
        double cg = (pg > 0 ? pg : 0) * sc->billing.multiplier * gb * secs / 3600.0;
        gd_bill_add(bill, r, "Fargate vCPU-hours", "vCPU-hours", vcpu * secs / 3600.0, cv);
        gd_bill_add(bill, r, "Fargate GB-hours", "GB-hours", gb * secs / 3600.0, cg);
        usd += cv + cg;
        *ntasks += strcmp(gd_jstr(st, "state"), "stopped") != 0;
        json_t *nst = json_deep_copy(st);
        json_object_set_new(nst, "billed_until", json_real(end));
        gd_store_res_set_status(g->db, gd_jstr(r, "id"), nst, to);
        json_decref(nst);
    }
    json_decref(list);
    return usd;
}

/* Charges every team for what ran in [from, to): instances per second (60 s minimum
 * per launch) and load balancers per hour, at list price times the multiplier. */
void gd_billing_charge(gd_game *g, double to)
{
    const gd_scenario *sc = g->sc;
    gd_store_begin(g->db);
    for (int t = 1; t <= g->nteams; t++) {
        double usd = 0;
        int ninst = 0, nlb = 0, ncdn = 0, nnodes = 0, ntasks = 0;
        json_t *bill = bill_load(g, t);
        json_t *od_secs = json_object(); /* instance type -> on-demand seconds billed now */
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
            else if (gd_inst_state_of(st) == GD_INST_STOPPED)
                end = json_number_value(json_object_get(st, "stopped_at"));
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
            const char *itype = gd_jstr(st, "instance_type");
            double price = gd_scenario_price(sc, itype);
            if (price < 0) price = 0;
            int spot = !strcmp(gd_jstr(st, "market"), "spot");
            if (spot) price *= 1 - sc->spot.discount;
            double cost = price * sc->billing.multiplier * secs / 3600.0;
            if (!spot) { /* on-demand seconds of this type, for the reservations below */
                json_t *cur = json_object_get(od_secs, itype);
                json_object_set_new(od_secs, itype, json_real(json_number_value(cur) + secs));
            }
            usd += cost;
            char line[96];
            snprintf(line, sizeof line, "%s %s", *itype ? itype : "instance",
                     spot ? "spot" : "on-demand");
            gd_bill_add(bill, r, line, "instance-hours", secs / 3600.0, cost);
            ninst += gd_inst_state_live(gd_inst_state_of(st));
            json_t *nst = json_deep_copy(st);
            json_object_set_new(nst, "billed_until", json_real(end));
            gd_store_res_set_status(g->db, gd_jstr(r, "id"), nst, to);
            json_decref(nst);
        }
        json_decref(inst);
        /* Reserved instances: each is paid for the interval, used or not, at the reserved
         * price; the on-demand seconds of its type (up to count x the interval) are then
         * not charged again. The bill shows the fee and the coverage. */
        json_t *ris = gd_store_res_list(g->db, t, "reserved_instance", 0);
        double span = to - g->last_billing;
        json_array_foreach(ris, i, r)
        {
            json_t *spec = json_object_get(r, "spec");
            const char *itype = gd_jstr(spec, "instance_type");
            double price = gd_scenario_price(sc, itype), n = gd_jnum(spec, "count", 1);
            if (price <= 0 || span <= 0) continue;
            double fee =
                price * (1 - sc->reserved.discount) * sc->billing.multiplier * n * span / 3600.0;
            char line[96];
            snprintf(line, sizeof line, "%s reserved (%.0f%% off)", itype,
                     sc->reserved.discount * 100);
            gd_bill_add(bill, r, line, "instance-hours", n * span / 3600.0, fee);
            usd += fee;
            double used = json_number_value(json_object_get(od_secs, itype));
            double covered = used < n * span ? used : n * span;
            if (covered <= 0) continue;
            json_object_set_new(od_secs, itype, json_real(used - covered));
            double credit = price * sc->billing.multiplier * covered / 3600.0;
            snprintf(line, sizeof line, "%s on-demand usage covered by the reservation", itype);
            gd_bill_add(bill, r, line, "instance-hours", covered / 3600.0, -credit);
            usd -= credit;
        }
        json_decref(ris);
        json_decref(od_secs);
        /* Every other priced type, by its registry row: by the hour (load balancers,
         * alarms) or by the requests it answered (a cdn). */
        size_t nrows;
        const gd_rtype *rows = gd_registry_all(&nrows);
        for (size_t k = 0; k < nrows; k++) {
            const gd_rtype *rt = &rows[k];
            if (rt->price == GD_PRICE_NODES) {
                usd += bill_nodes(g, t, bill, rt, to, &nnodes);
                continue;
            }
            if (rt->price == GD_PRICE_INVOCATIONS) {
                usd += gd_functions_bill(g, t, bill, sc->billing.multiplier);
                continue;
            }
            if (rt->price == GD_PRICE_TASK) {
                usd += bill_tasks(g, t, bill, rt, to, &ntasks);
                continue;
            }
            if (rt->price != GD_PRICE_HOURLY && rt->price != GD_PRICE_REQUESTS) continue;
            double price = gd_scenario_price(sc, rt->name);
            if (price <= 0) continue;
            json_t *lbs = gd_store_res_list(g->db, t, rt->name, 0);
            json_array_foreach(lbs, i, r)
            {
                if (rt->price == GD_PRICE_HOURLY) {
                    double hours = (to - g->last_billing) / 3600.0;
                    double cost = price * sc->billing.multiplier * hours;
                    const char *unit;
                    double per_hour;
                    const char *line = hourly_line(rt->name, &unit, &per_hour);
                    gd_bill_add(bill, r, line, unit, hours * per_hour, cost);
                    usd += cost;
                    nlb += strcmp(rt->name, "alarm") != 0;
                    continue;
                }
                double n = requests_since(g, r);
                double cost = price * sc->billing.multiplier * n / 10000.0;
                gd_bill_add(bill, r, "CDN requests (per 10,000)", "10k-requests", n / 10000.0,
                            cost);
                usd += cost;
                ncdn++;
            }
            json_decref(lbs);
        }
        if (usd > 0) {
            g->teams[t].cost_usd += usd;
            bill_save(g, t, bill);
            char reason[160];
            int l = snprintf(reason, sizeof reason,
                             "bill $%.2f: %d instances, %d load balancers, %d cdn", usd, ninst, nlb,
                             ncdn);
            if (nnodes > 0 && l > 0 && (size_t)l < sizeof reason)
                l += snprintf(reason + l, sizeof reason - (size_t)l, ", %d nodes (caches, dbs)",
                              nnodes);
            if (ntasks > 0 && l > 0 && (size_t)l < sizeof reason)
                snprintf(reason + l, sizeof reason - (size_t)l, ", %d Fargate tasks", ntasks);
            gd_store_ledger_add(g->db, to, t, "billing", -usd * sc->billing.points_per_dollar,
                                reason);
            gd_score_save(g, t);
        }
        json_decref(bill);
    }
    g->last_billing = to;
    gd_game_kv_setf(g, "last_billing", "%.6f", to);
    gd_store_commit(g->db);
}

/* Sums the items of a bill by one of their fields into [{field: value, usd, ...}],
 * dearest first; `qty` also sums quantity (the lines have one unit each). */
static json_t *group_by(json_t *items, const char *field, const char *const *keep, int qty)
{
    json_t *by = json_object(), *out = json_array();
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        const char *k = gd_jstr(it, field);
        json_t *g = json_object_get(by, k);
        if (!g) {
            g = json_object();
            for (int f = 0; keep[f]; f++) json_object_set(g, keep[f], json_object_get(it, keep[f]));
            json_object_set_new(g, "usd", json_real(0));
            if (qty) json_object_set_new(g, "quantity", json_real(0));
            json_object_set_new(by, k, g);
            json_array_append(out, g);
        }
        json_object_set_new(g, "usd", json_real(gd_jnum(g, "usd", 0) + gd_jnum(it, "usd", 0)));
        if (qty)
            json_object_set_new(g, "quantity",
                                json_real(gd_jnum(g, "quantity", 0) + gd_jnum(it, "quantity", 0)));
    }
    json_decref(by);
    return out;
}

static int dearest_first(const void *a, const void *b)
{
    double x = gd_jnum(*(json_t *const *)a, "usd", 0), y = gd_jnum(*(json_t *const *)b, "usd", 0);
    return x < y ? 1 : x > y ? -1 : 0;
}

static json_t *sorted(json_t *a)
{
    size_t n = json_array_size(a);
    json_t **v = gd_malloc(sizeof *v * (n ? n : 1));
    for (size_t i = 0; i < n; i++) v[i] = json_incref(json_array_get(a, i));
    qsort(v, n, sizeof *v, dearest_first);
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(out, v[i]);
    gd_free(v);
    json_decref(a);
    return out;
}

json_t *gd_billing_bill(gd_game *g, int team)
{
    json_t *bill = bill_load(g, team), *items = json_array();
    const char *k;
    json_t *it;
    json_object_foreach(bill, k, it) json_array_append(items, it);
    json_decref(bill);
    static const char *const res_keep[] = {"resource", "name", "type", NULL};
    static const char *const line_keep[] = {"line", "unit", NULL};
    double usd = g->teams[team].cost_usd, ppd = g->sc->billing.points_per_dollar;
    double score = gd_store_score(g->db, team);
    /* What the customers and events earned before the bill was taken off. */
    double earned = score + usd * ppd;
    json_t *by_res = sorted(group_by(items, "resource", res_keep, 0));
    json_t *by_line = sorted(group_by(items, "line", line_keep, 1));
    return json_pack("{s:i,s:f,s:f,s:f,s:f,s:f,s:f,s:o,s:o,s:o}", "team", team, "total_usd", usd,
                     "multiplier", g->sc->billing.multiplier, "points_per_dollar", ppd, "points",
                     -usd * ppd, "score", score, "share_of_earnings",
                     earned > 0 ? usd * ppd / earned : 0.0, "by_resource", by_res, "by_line",
                     by_line, "items", sorted(items));
}
