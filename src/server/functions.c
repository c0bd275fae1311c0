/* Functions (Lambda): each `function` resource runs as one `gameday lambda` process on an
 * address of its subnet (services/lambda.c), which starts the execution environments
 * itself. The server gives it its address, spawns it, pushes its configuration (its
 * concurrency: its reserved concurrency, or what the account's quota leaves unreserved),
 * reads its counters once a sample, turns them into AWS/Lambda metrics, and bills its
 * invocations (per request and per GB-second). */
#include "core/addr.h"
#include "core/check.h"
#include "core/log.h"
#include "core/mem.h"
#include "server/functions.h"
#include "server/game_int.h"
#include "server/launcher_int.h"
#include "server/metrics.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#define FN_PORT 8000
#define FN_ADMIN_PORT 9901

static gd_edge_link *link_find(gd_game *g, const char *id)
{
    for (gd_edge_link *e = g->functions; e; e = e->next)
        if (!strcmp(e->res_id, id)) return e;
    return NULL;
}

const json_t *gd_function_stats(gd_game *g, const char *id)
{
    gd_edge_link *e = link_find(g, id);
    return e ? e->stats : NULL;
}

static double delta(const json_t *prev, const json_t *cur, const char *k)
{
    double d = gd_jnum(cur, k, 0) - gd_jnum(prev, k, 0);
    return d < 0 ? gd_jnum(cur, k, 0) : d; /* a restarted daemon counts from 0 */
}

static void on_stats(void *ud, int err, const gd_httpc_resp *resp)
{
    gd_edge_link *e = ud;
    GD_CHECK_OBJ(e, GD_EDGE_LINK_MAGIC);
    e->stats_inflight = 0;
    if (err || resp->status != 200) return;
    json_t *j = json_loadb(resp->body, resp->body_len, 0, NULL);
    if (!j) return;
    gd_game *g = e->admin_loop->data;
    double now = gd_game_now(g);
    const json_t *p = e->stats;
    double inv = delta(p, j, "invocations"), cold = delta(p, j, "cold_starts"),
           done = delta(p, j, "completed"), inits = delta(p, j, "inits");
    gd_metrics_put(g->metrics, e->res_id, "Invocations", now, inv);
    gd_metrics_put(g->metrics, e->res_id, "Throttles", now, delta(p, j, "throttles"));
    gd_metrics_put(g->metrics, e->res_id, "Errors", now, delta(p, j, "errors"));
    gd_metrics_put(g->metrics, e->res_id, "ColdStarts", now, cold);
    gd_metrics_put(g->metrics, e->res_id, "ConcurrentExecutions", now, gd_jnum(j, "concurrent", 0));
    if (done > 0)
        gd_metrics_put(g->metrics, e->res_id, "Duration", now, delta(p, j, "duration_ms") / done);
    if (inits > 0)
        gd_metrics_put(g->metrics, e->res_id, "InitDuration", now, delta(p, j, "init_ms") / inits);
    json_decref(e->stats);
    e->stats = j;
}

/* What the function may run at once: its reserved concurrency, or the account's quota
 * less what the team's functions reserve. */
static int concurrency_of(gd_game *g, json_t *fn, json_t *all)
{
    json_t *rc = json_object_get(json_object_get(fn, "spec"), "reserved_concurrency");
    if (json_is_integer(rc)) return (int)json_integer_value(rc);
    int team = (int)json_integer_value(json_object_get(fn, "team")), reserved = 0;
    size_t i;
    json_t *r;
    json_array_foreach(all, i, r)
    {
        json_t *x = json_object_get(json_object_get(r, "spec"), "reserved_concurrency");
        if ((int)json_integer_value(json_object_get(r, "team")) == team && json_is_integer(x))
            reserved += (int)json_integer_value(x);
    }
    int left = g->sc->quotas.concurrency - reserved;
    return left > 0 ? left : 0;
}

static void reconcile_one(gd_game *g, json_t *fn, json_t *all)
{
    int team = (int)json_integer_value(json_object_get(fn, "team"));
    const char *id = gd_jstr(fn, "id");
    json_t *spec = json_object_get(fn, "spec"), *st = json_object_get(fn, "status");
    if (!*gd_jstr(st, "ip")) {
        uint32_t ip;
        char err[256], ipb[16];
        json_t *sn = NULL;
        if (gd_net_alloc_ip(g, team, gd_jstr(spec, "subnet"), &ip, err, sizeof err) < 0) {
            gd_launcher_set_status(g, id,
                                   json_pack("{s:s,s:s}", "state", "failed", "last_error", err));
            return;
        }
        gd_cidr c;
        gd_net_subnet_of(g, team, gd_jstr(spec, "subnet"), &c, &sn);
        gd_ip_format(ip, ipb);
        gd_launcher_set_status(g, id,
                               json_pack("{s:s,s:s,s:i,s:s}", "state", "active", "ip", ipb, "port",
                                         FN_PORT, "az",
                                         gd_jstr(json_object_get(sn, "spec"), "az")));
        json_decref(sn);
        return; /* picked up on the next pass with its address */
    }
    gd_edge_link *e = link_find(g, id);
    if (!e) {
        uint32_t ip;
        gd_ip_parse(gd_jstr(st, "ip"), &ip);
        e = gd_link_add(g, &g->functions, id, ip, FN_ADMIN_PORT);
    }
    if (!gd_proc_find(g, id, GD_PROC_FUNCTION, 0)) {
        char addr[48], admin[48], e_tok[128], e_speed[64], e_epoch[64], e_salt[160];
        snprintf(addr, sizeof addr, "%s:%d", gd_jstr(st, "ip"), FN_PORT);
        snprintf(admin, sizeof admin, "%s:%d", gd_jstr(st, "ip"), FN_ADMIN_PORT);
        snprintf(e_tok, sizeof e_tok, "GAMEDAY_ADMIN_TOKEN=%s", g->internal_token);
        snprintf(e_salt, sizeof e_salt, "GAMEDAY_SALT=%s", g->sc->salt);
        gd_proc_clock_env(e_speed, e_epoch, sizeof e_speed);
        char *env[] = {e_tok, e_speed, e_epoch, e_salt, NULL};
        char *args[] = {g->exe, "lambda", "--addr", addr, "--admin", admin, NULL};
        gd_proc *p = gd_proc_spawn(g, GD_PROC_FUNCTION, team, id, args, env, id);
        gd_free(e->pushed);
        e->pushed = NULL;
        if (p) gd_launcher_set_status(g, id, json_pack("{s:i,s:s}", "pid", p->pid, "admin", admin));
    }
    const char *rel = gd_jstr(spec, "service_version");
    json_t *doc = json_pack(
        "{s:i,s:f,s:f,s:f,s:f,s:f,s:s,s:s}", "concurrency", concurrency_of(g, fn, all), "init_ms",
        gd_jnum(spec, "init_time", 1) * 1000, "idle_s", gd_jnum(spec, "idle_timeout", 600),
        "timeout_ms", gd_jnum(spec, "timeout", 30) * 1000, "service_ms",
        gd_jnum(spec, "service_time", 4) * 1000, "memory_mb", gd_jnum(spec, "memory", 512),
        "release", *rel ? rel : "v2", "service",
        *gd_jstr(spec, "service") ? gd_jstr(spec, "service") : "unicorn");
    gd_link_push(g, e, doc);
    gd_link_poll_stats(g, e, on_stats);
}

void gd_functions_reconcile(gd_game *g)
{
    json_t *all = gd_store_res_list(g->db, 0, "function", 0);
    size_t i;
    json_t *r;
    json_array_foreach(all, i, r) reconcile_one(g, r, all);
    /* The daemons of deleted functions stop. */
    gd_link_forget(g, &g->functions, all, GD_PROC_FUNCTION, "function deleted");
    json_decref(all);
}

void gd_functions_exited(gd_game *g, const char *id)
{
    gd_edge_link *e = link_find(g, id);
    if (!e) return;
    gd_free(e->pushed); /* a new daemon gets its document again */
    e->pushed = NULL;
}

double gd_functions_bill(gd_game *g, int team, json_t *bill, double multiplier)
{
    /* AWS's list prices, unless the scenario's billing.prices give others. */
    double per_request = gd_scenario_price(g->sc, "function_requests");
    double per_gb_s = gd_scenario_price(g->sc, "function_gb_seconds");
    if (per_request <= 0) per_request = 0.20 / 1e6;
    if (per_gb_s <= 0) per_gb_s = 0.0000166667;
    json_t *fns = gd_store_res_list(g->db, team, "function", 0);
    double usd = 0;
    size_t i;
    json_t *r;
    json_array_foreach(fns, i, r)
    {
        const json_t *s = gd_function_stats(g, gd_jstr(r, "id"));
        if (!s) continue;
        json_t *st = json_object_get(r, "status");
        double inv = gd_jnum(s, "invocations", 0), gbs = gd_jnum(s, "gb_seconds", 0);
        double bi = gd_jnum(st, "billed_invocations", 0), bg = gd_jnum(st, "billed_gb_seconds", 0);
        if (inv < bi || gbs < bg) bi = bg = 0; /* its daemon started again from 0 */
        double n = inv - bi, gb = gbs - bg;
        if (n <= 0 && gb <= 0) continue;
        double c1 = n * per_request * multiplier, c2 = gb * per_gb_s * multiplier;
        gd_bill_add(bill, r, "Lambda requests", "requests", n, c1);
        gd_bill_add(bill, r, "Lambda duration (GB-seconds)", "GB-seconds", gb, c2);
        usd += c1 + c2;
        gd_launcher_set_status(
            g, gd_jstr(r, "id"),
            json_pack("{s:f,s:f}", "billed_invocations", inv, "billed_gb_seconds", gbs));
    }
    json_decref(fns);
    return usd;
}
