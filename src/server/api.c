/* The HTTP/JSON API under /api/v1, the scoreboard page and /metrics. Reads of the
 * scoreboard are public; everything else needs a bearer token (a team's, the admin's,
 * or the internal one for loadgens). Requests are routed by one table; every mutation
 * is an operation of src/server/ops.c, which checks, writes and audits it. */
#include "core/addr.h"
#include "core/err.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/promtext.h"
#include "core/webassets.h"
#include "server/game.h"
#include "server/audit.h"
#include "server/cache_cluster.h"
#include "server/aws.h"
#include "server/game_int.h"
#include "server/instructor.h"
#include "model/registry_json.h"
#include "model/stat.h"
#include "server/monkey.h"
#include "server/ops.h"
#include "server/report.h"
#include "server/stream.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct who {
    int team;     /* the team acted on (0: none) */
    int admin;    /* admin token: any team */
    int internal; /* loadgen token */
    char principal[32];
};

static int query_int(const gd_http_req *req, const char *name, int def)
{
    char v[32];
    if (gd_http_query_get(req->query, req->query_len, name, v, sizeof v) <= 0) return def;
    return atoi(v);
}

/* The team whose token tok is, or 0. Every team's token is compared, each in constant
 * time, so that the answer time tells nothing about a guess. */
static int team_of_token(gd_game *g, const char *tok)
{
    static struct {
        const gd_game *g;
        int n;
        char tok[GD_MAX_TEAMS + 1][80];
    } cache;
    if (cache.g != g) { /* tokens never change during a game: read them once */
        json_t *teams = gd_store_teams(g->db);
        size_t i;
        json_t *t;
        cache.n = 0;
        json_array_foreach(teams, i, t)
        {
            int id = (int)json_integer_value(json_object_get(t, "id"));
            if (id < 1 || id > GD_MAX_TEAMS) continue;
            snprintf(cache.tok[id], sizeof cache.tok[id], "%s", gd_jstr(t, "token"));
            if (id > cache.n) cache.n = id;
        }
        json_decref(teams);
        cache.g = g;
    }
    int found = 0;
    for (int t = 1; t <= cache.n; t++)
        if (gd_secret_eq(cache.tok[t], tok)) found = t;
    return found;
}

/* Who is asking: 0, or -1 after answering 401/403/404. */
static int authenticate(gd_game *g, gd_http_conn *c, gd_http_req *req, struct who *w)
{
    memset(w, 0, sizeof *w);
    size_t n;
    const char *a = gd_http_header_get(req->headers, req->nheaders, "authorization", &n);
    if (!a || n < 8 || strncmp(a, "Bearer ", 7) != 0) {
        gd_http_respond_error(c, 401, "MissingAuthenticationToken",
                              "send Authorization: Bearer TOKEN (the team token printed by "
                              "'gameday play', or in game.json)");
        return -1;
    }
    char tok[80];
    snprintf(tok, sizeof tok, "%.*s", (int)(n - 7 < 79 ? n - 7 : 79), a + 7);
    int admin = gd_secret_eq(tok, g->admin_token), internal = gd_secret_eq(tok, g->internal_token);
    int team = team_of_token(g, tok);
    if (admin) {
        w->admin = 1;
        w->team = query_int(req, "team", g->nteams == 1 ? 1 : 0);
        if (w->team != 0 && (w->team < 1 || w->team > g->nteams)) {
            char msg[96];
            snprintf(msg, sizeof msg, "no team %d in this game (teams: 1..%d)", w->team, g->nteams);
            gd_http_respond_error(c, 404, "NoSuchTeam", msg);
            return -1;
        }
        snprintf(w->principal, sizeof w->principal, "admin");
        return 0;
    }
    if (internal) {
        w->internal = 1;
        snprintf(w->principal, sizeof w->principal, "gameday");
        return 0;
    }
    if (team <= 0) {
        gd_http_respond_error(c, 403, "InvalidToken", "the token is not valid for this game");
        return -1;
    }
    int asked = query_int(req, "team", team);
    if (asked != team) {
        gd_http_respond_error(c, 403, "AccessDenied", "a team token acts on its own team only");
        return -1;
    }
    w->team = team;
    snprintf(w->principal, sizeof w->principal, "team-%d", team);
    return 0;
}

static json_t *body_json(gd_http_conn *c, gd_http_req *req)
{
    json_error_t je;
    json_t *j = json_loadb(req->body, req->body_len, 0, &je);
    if (!j || !json_is_object(j)) {
        char msg[256];
        snprintf(msg, sizeof msg, "the body must be a JSON object (line %d column %d: %s)", je.line,
                 je.column, j ? "not an object" : je.text);
        json_decref(j);
        gd_http_respond_error(c, 400, "InvalidJSON", msg);
        return NULL;
    }
    return j;
}

static int need_team(gd_http_conn *c, struct who *w)
{
    if (w->team > 0) return 0;
    gd_http_respond_error(c, 400, "MissingTeam", "the admin token needs ?team=N here");
    return -1;
}

/* ---- metrics ---- */

/* Audit trail listings answered and refused (bad parameters), for /metrics. */
static uint64_t audit_queries, audit_refused;

static void metrics(gd_game *g, gd_http_conn *c)
{
    gd_buf b;
    gd_buf_init(&b, 1 << 22);
    gd_prom_head(&b, "gameday_game_clock_seconds", "gauge", "Game time since the start");
    gd_prom_sample(&b, "gameday_game_clock_seconds", "", gd_game_now(g));
    gd_prom_head(&b, "gameday_score", "gauge", "Score (sum of the ledger)");
    for (int t = 1; t <= g->nteams; t++) {
        char l[32];
        snprintf(l, sizeof l, "team=\"%d\"", t);
        gd_prom_sample(&b, "gameday_score", l, gd_store_score(g->db, t));
    }
    gd_prom_head(&b, "gameday_customer_requests_total", "counter", "Customer requests by outcome");
    static const char *names[] = {"ok", "error", "timeout", "wrong"};
    for (int t = 1; t <= g->nteams; t++)
        for (int k = 0; k < 4; k++) {
            char l[64];
            snprintf(l, sizeof l, "team=\"%d\",outcome=\"%s\"", t, names[k]);
            gd_prom_sample(&b, "gameday_customer_requests_total", l, (double)g->teams[t].n[k]);
        }
    gd_prom_head(&b, "gameday_cost_dollars_total", "counter", "Billed dollars (with multiplier)");
    for (int t = 1; t <= g->nteams; t++) {
        char l[32];
        snprintf(l, sizeof l, "team=\"%d\"", t);
        gd_prom_sample(&b, "gameday_cost_dollars_total", l, g->teams[t].cost_usd);
    }
    int np = 0;
    for (gd_proc *p = g->procs; p; p = p->next) np++;
    gd_prom_head(&b, "gameday_processes", "gauge", "Child processes watched");
    gd_prom_sample(&b, "gameday_processes", "", np);
    gd_prom_head(&b, "gameday_api_requests_total", "counter", "API requests served");
    gd_prom_sample(&b, "gameday_api_requests_total", "", (double)g->api.requests);
    gd_prom_head(&b, "gameday_audit_records", "gauge", "Audit records written (every team)");
    gd_prom_sample(&b, "gameday_audit_records", "", (double)gd_store_audit_count(g->db));
    gd_prom_head(&b, "gameday_audit_queries_total", "counter",
                 "Audit trail listings, by outcome (refused: bad parameters)");
    gd_prom_sample(&b, "gameday_audit_queries_total", "outcome=\"ok\"", (double)audit_queries);
    gd_prom_sample(&b, "gameday_audit_queries_total", "outcome=\"refused\"", (double)audit_refused);
    gd_chaos_metrics(g, &b);
    gd_score_metrics(g, &b);
    gd_cache_metrics(g, &b);
    gd_aws_metrics(&b);
    gd_stream_metrics(g, &b);
    gd_http_respond(c, 200, NULL, "text/plain; version=0.0.4", b.data, b.len);
    gd_buf_free(&b);
}

/* ---- routing ---- */

static void static_file(gd_http_conn *c, gd_http_req *req)
{
    const char *p = req->path;
    size_t n = req->path_len;
    if (n == 1) {
        p = "/index.html";
        n = 11;
    } else if (n == 8 && !memcmp(p, "/console", 8)) { /* the team console */
        p = "/console.html";
        n = 13;
    }
    for (const struct gd_web_asset *a = gd_web_assets; a->path; a++) {
        if (strlen(a->path) == n && !memcmp(a->path, p, n)) {
            gd_http_respond(c, 200, "Cache-Control: no-cache\r\n", a->content_type, a->data,
                            a->len);
            return;
        }
    }
    gd_http_respond_error(c, 404, "NotFound", "no such page; the API lives under /api/v1");
}

/* ---- handlers ---- */

/* The path's segments after /api/v1, and who asks. */
struct call {
    gd_game *g;
    gd_http_conn *c;
    gd_http_req *req;
    struct who *w;
    char arg[64]; /* the '*' segment of the route, if any */
};

/* Answers an operation's outcome. */
static void answer(gd_http_conn *c, gd_op_result *r)
{
    int status = r->status ? r->status : 500;
    gd_http_respond_json(c, status, gd_op_answer(r));
}

static gd_actor actor(const struct call *k)
{
    return (gd_actor){.team = k->w->team,
                      .principal = k->w->principal,
                      .source_ip = gd_http_conn_peer(k->c),
                      .trust = k->w->admin ? GD_TRUST_ADMIN : GD_TRUST_TEAM};
}

/* A body that must be a JSON object, or none at all when optional; -1 after a 400. */
static int body_of(struct call *k, int optional, json_t **out)
{
    *out = NULL;
    if (optional && k->req->body_len == 0) return 0;
    *out = body_json(k->c, k->req);
    return *out ? 0 : -1;
}

static void h_health(struct call *k)
{
    gd_http_respond_json(k->c, 200, json_pack("{s:s}", "status", "ok"));
}
/* The game's info, and the scenario's story and runbook (markdown, "" when none) for
 * the console: the scenario's text, the same for every team. */
static void h_game(struct call *k)
{
    json_t *j = gd_game_info(k->g);
    json_object_set_new(j, "story", json_string(k->g->sc->story ? k->g->sc->story : ""));
    json_object_set_new(j, "runbook", json_string(k->g->sc->runbook ? k->g->sc->runbook : ""));
    gd_http_respond_json(k->c, 200, j);
}
static void h_scoreboard(struct call *k)
{
    gd_http_respond_json(k->c, 200, gd_game_scoreboard(k->g));
}
static void h_stream(struct call *k)
{
    gd_stream_open(k->g, k->c);
}
static void h_status(struct call *k)
{
    gd_http_respond_json(k->c, 200, gd_game_status(k->g));
}
static void h_result(struct call *k)
{
    gd_http_respond_json(k->c, 200, gd_game_result(k->g));
}

/* The post-game report (report.c) of the game so far: public, as the scoreboard. */
static void h_game_report(struct call *k)
{
    gd_game *g = k->g;
    double now = gd_game_now(g);
    gd_report_opts o = {.name = g->sc->name,
                        .title = g->sc->title,
                        .duration = g->duration,
                        .now = now < g->duration ? now : g->duration,
                        .points_per_dollar = g->sc->billing.points_per_dollar,
                        .state = g->finished ? "ended"
                                 : g->ended  ? "ending"
                                             : "running"};
    json_t *rep = gd_report_build(g->db, &o);
    if (!rep) {
        gd_http_respond_error(k->c, 500, "InternalError", "the report could not be read");
        return;
    }
    gd_http_respond_json(k->c, 200, rep);
}

static int public_team(struct call *k)
{
    int t = atoi(k->arg);
    if (t < 1 || t > k->g->nteams) {
        gd_http_respond_error(k->c, 404, "NotFound", "no such team");
        return 0;
    }
    return t;
}

static void h_team_score(struct call *k)
{
    int t = public_team(k);
    if (t)
        gd_http_respond_json(
            k->c, 200, json_pack("{s:i,s:f}", "team", t, "score", gd_store_score(k->g->db, t)));
}

static void h_team_events(struct call *k)
{
    int t = public_team(k);
    if (t)
        gd_http_respond_json(k->c, 200,
                             gd_store_ledger_list(k->g->db, t, query_int(k->req, "since", 0),
                                                  query_int(k->req, "limit", 200)));
}

static void h_report(struct call *k)
{
    if (!k->w->internal && !k->w->admin) {
        gd_http_respond_error(k->c, 403, "AccessDenied", "reports come from gameday's loadgens");
        return;
    }
    json_t *b;
    if (body_of(k, 0, &b) < 0) return;
    char err[200];
    int r = gd_game_report(k->g, b, err, sizeof err);
    int team = (int)json_integer_value(json_object_get(b, "team"));
    json_decref(b);
    if (r < 0) {
        gd_http_respond_error(k->c, 400, "InvalidReport", err);
        return;
    }
    char ep[48];
    gd_game_endpoint(k->g, team, ep, sizeof ep);
    /* The duration too: an instructor's extension or end reaches the customers here. */
    gd_http_respond_json(k->c, 200,
                         json_pack("{s:s,s:f}", "endpoint", ep, "duration", k->g->duration));
}

/* GET /api/v1/game/events: the scenario's events, for the instructor to fire one now. */
static void h_game_events(struct call *k)
{
    gd_game *g = k->g;
    json_t *list = json_array();
    for (int i = 0; i < g->sc->nevents; i++) {
        const gd_event *ev = &g->sc->events[i];
        json_array_append_new(list, json_pack("{s:i,s:f,s:s,s:s?,s:s?,s:b}", "index", i, "at",
                                              ev->at, "action", ev->action, "target", ev->target,
                                              "message", ev->message, "fired", i < g->next_event));
    }
    gd_http_respond_json(k->c, 200, json_pack("{s:o}", "events", list));
}

/* POST /api/v1/game/ACT: pause, resume, extend, end, message, trigger (instructor.c). */
static void h_instructor(struct call *k)
{
    json_t *b = NULL;
    if (body_of(k, 1, &b) < 0) return;
    json_t *ans;
    char err[400];
    int status = gd_instructor_act(k->g, k->arg, b, gd_http_conn_peer(k->c), &ans, err, sizeof err);
    json_decref(b);
    if (status != 200) {
        json_decref(ans);
        gd_http_respond_error(k->c, status,
                              status == 404   ? "NotFound"
                              : status == 409 ? "IncorrectState"
                              : status == 400 ? "ValidationError"
                                              : "InternalError",
                              err);
        return;
    }
    gd_http_respond_json(k->c, 200, ans);
}

static void h_teams(struct call *k)
{
    json_t *teams = gd_store_teams(k->g->db);
    size_t i;
    json_t *t;
    json_array_foreach(teams, i, t) json_object_del(t, "token");
    gd_http_respond_json(k->c, 200, teams);
}

static void h_score(struct call *k)
{
    gd_http_respond_json(
        k->c, 200,
        json_pack("{s:i,s:f}", "team", k->w->team, "score", gd_store_score(k->g->db, k->w->team)));
}

static void h_bill(struct call *k)
{
    gd_http_respond_json(k->c, 200, gd_billing_bill(k->g, k->w->team));
}

static void h_score_events(struct call *k)
{
    gd_http_respond_json(k->c, 200,
                         gd_store_ledger_list(k->g->db, k->w->team, query_int(k->req, "since", 0),
                                              query_int(k->req, "limit", 200)));
}

/* The audit trail, filtered: see gd_audit_query_parse for the parameters. A team's
 * token sees its own team's records; the admin's every team's, or ?team=N's. */
static void h_audit(struct call *k)
{
    gd_audit_query q;
    char err[256];
    if (gd_audit_query_parse(&q, k->req->query, k->req->query_len, err, sizeof err) < 0) {
        audit_refused++;
        gd_info("audit_query_refused", "principal=%s msg=%s", k->w->principal, gd_log_q(err));
        gd_http_respond_error(k->c, 400, "InvalidParameterValue", err);
        return;
    }
    q.f.team = k->w->team;
    json_t *list = gd_store_audit_find(k->g->db, &q.f);
    if (list == NULL) {
        gd_http_respond_error(k->c, 500, "InternalError", "the audit trail could not be read");
        return;
    }
    audit_queries++;
    gd_http_respond_json(k->c, 200, list);
}

static void h_instances(struct call *k)
{
    gd_http_respond_json(k->c, 200, gd_launcher_instances(k->g, k->w->team));
}

/* A number query parameter: def when absent, NAN when not a finite number. */
static double query_num(const gd_http_req *req, const char *name, double def)
{
    char v[32], *end;
    if (gd_http_query_get(req->query, req->query_len, name, v, sizeof v) <= 0) return def;
    double d = strtod(v, &end);
    return *end || !isfinite(d) ? NAN : d;
}

/* GetMetricStatistics: ?statistic=S&period=P&start=T0&end=T1 (game seconds), or
 * window=W for the last W seconds up to end. Defaults: the metric's own statistic
 * (Sum for counts, Average for gauges), 60 s, the last hour up to now. */
static void metric_statistics(struct call *k, json_t *r, const char *metric, const char *sname)
{
    const char *dstat, *unit;
    gd_metric_kind(metric, &dstat, &unit);
    if (!sname[0]) sname = dstat;
    gd_stat st;
    double now = gd_game_now(k->g);
    double period = query_num(k->req, "period", 60);
    double end = query_num(k->req, "end", now + 1e-6);
    double start = query_num(k->req, "start", end - query_num(k->req, "window", 3600));
    const char *bad = NULL;
    if (gd_stat_parse(sname, &st) < 0)
        bad = "statistic: not a statistic (allowed: " GD_STAT_ALLOWED ")";
    else if (!(period >= 1) || period != floor(period))
        bad = "period: must be a whole number of seconds, at least 1";
    else if (isnan(start) || isnan(end) || end <= start)
        bad = "start, end: must be game seconds with start < end";
    else if ((end - start) / period > GD_METRIC_MAX_PERIODS)
        bad = "period: the window holds more than 1440 periods; widen the period";
    if (bad) {
        gd_http_respond_error(k->c, 400, "InvalidParameterValue", bad);
        return;
    }
    json_t *pts =
        gd_metrics_stats(k->g->metrics, gd_jstr(r, "id"), metric, start, end, period, &st);
    json_t *dps = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(pts, i, p)
    {
        json_t *d = json_pack("{s:f,s:O,s:s}", "Timestamp", json_number_value(json_array_get(p, 0)),
                              "SampleCount", json_array_get(p, 2), "Unit", unit);
        json_object_set(d, sname, json_array_get(p, 1));
        json_array_append_new(dps, d);
    }
    json_decref(pts);
    gd_http_respond_json(k->c, 200,
                         json_pack("{s:s,s:s,s:f,s:o}", "Label", metric, "Statistic", sname,
                                   "Period", period, "Datapoints", dps));
}

static void h_metrics(struct call *k)
{
    char res[64] = "", metric[64] = "";
    gd_http_query_get(k->req->query, k->req->query_len, "resource", res, sizeof res);
    gd_http_query_get(k->req->query, k->req->query_len, "metric", metric, sizeof metric);
    json_t *r = res[0] ? gd_store_res_get(k->g->db, k->w->team, res) : NULL;
    if (!r) {
        gd_http_respond_error(k->c, 404, "NotFound", "resource=NAME: no such resource in the team");
        return;
    }
    char stat[64] = "", num[32];
    gd_http_query_get(k->req->query, k->req->query_len, "statistic", stat, sizeof stat);
    int stats = stat[0] ||
                gd_http_query_get(k->req->query, k->req->query_len, "period", num, sizeof num) > 0;
    if (metric[0] && stats) {
        metric_statistics(k, r, metric, stat);
    } else if (metric[0])
        gd_http_respond_json(k->c, 200,
                             gd_metrics_series(k->g->metrics, gd_jstr(r, "id"), metric,
                                               query_int(k->req, "since", 0)));
    else
        gd_http_respond_json(k->c, 200, gd_metrics_latest(k->g->metrics, gd_jstr(r, "id")));
    json_decref(r);
}

static void h_endpoint_get(struct call *k)
{
    char ep[48], key[32];
    gd_game_endpoint(k->g, k->w->team, ep, sizeof ep);
    snprintf(key, sizeof key, "endpoint_%d", k->w->team);
    char *name = gd_store_kv_get(k->g->db, key);
    gd_http_respond_json(k->c, 200,
                         json_pack("{s:s,s:s}", "name", name ? name : "", "address", ep));
    gd_free(name);
}

/* An action of the operations layer on the route's resource. */
static void action(struct call *k, const char *name, int optional_body)
{
    json_t *b;
    if (body_of(k, optional_body, &b) < 0) return;
    gd_actor a = actor(k);
    gd_op_result r;
    gd_op_action(k->g, &a, name, k->arg, b, &r);
    answer(k->c, &r);
    json_decref(b);
}

static void h_endpoint_set(struct call *k)
{
    action(k, "set_endpoint", 0);
}
static void h_terminate(struct call *k)
{
    action(k, "terminate", 1);
}
static void h_stop(struct call *k)
{
    action(k, "stop", 1);
}
static void h_start(struct call *k)
{
    action(k, "start", 1);
}
static void h_start_experiment(struct call *k)
{
    action(k, "start_experiment", 1);
}
static void h_stop_experiment(struct call *k)
{
    action(k, "stop_experiment", 1);
}
static void h_scale(struct call *k)
{
    action(k, "scale", 0);
}
static void h_failover(struct call *k)
{
    action(k, "failover", 1);
}

static void h_refresh(struct call *k)
{
    action(k, "start_instance_refresh", 1);
}

static void h_refresh_cancel(struct call *k)
{
    action(k, "cancel_instance_refresh", 1);
}
static void h_db_failover(struct call *k)
{
    action(k, "db_failover", 1);
}
static void h_db_reboot(struct call *k)
{
    action(k, "reboot", 1);
}

static void h_invalidate(struct call *k)
{
    action(k, "invalidate", 0);
}

/* A cdn's invalidations, newest first (its status holds them). */
static void h_invalidations(struct call *k)
{
    json_t *cdn = gd_store_res_live(k->g->db, k->w->team, k->arg, "cdn");
    if (!cdn) {
        gd_http_respond_error(k->c, 404, "NoSuchDistribution", "no cdn of that id or name");
        return;
    }
    json_t *list = json_object_get(json_object_get(cdn, "status"), "invalidations");
    gd_http_respond_json(k->c, 200, list ? json_incref(list) : json_array());
    json_decref(cdn);
}

static void h_resources(struct call *k)
{
    char type[32] = "";
    gd_http_query_get(k->req->query, k->req->query_len, "type", type, sizeof type);
    gd_http_respond_json(k->c, 200,
                         gd_store_res_list(k->g->db, k->w->team, type[0] ? type : NULL, 0));
}

static void h_resource_get(struct call *k)
{
    json_t *res = gd_store_res_get(k->g->db, k->w->team, k->arg);
    if (!res)
        gd_http_respond_error(k->c, 404, "NotFound", "no resource of that id or name");
    else
        gd_http_respond_json(k->c, 200, res);
}

static void h_create(struct call *k)
{
    json_t *b;
    if (body_of(k, 0, &b) < 0) return;
    gd_actor a = actor(k);
    gd_op_result r;
    gd_op_create(k->g, &a, b, &r);
    answer(k->c, &r);
    json_decref(b);
}

static void h_update(struct call *k)
{
    json_t *b;
    if (body_of(k, 0, &b) < 0) return;
    gd_actor a = actor(k);
    gd_op_result r;
    gd_op_update(k->g, &a, k->arg, b, &r);
    answer(k->c, &r);
    json_decref(b);
}

static void h_delete(struct call *k)
{
    gd_actor a = actor(k);
    gd_op_result r;
    gd_op_delete(k->g, &a, k->arg, &r);
    answer(k->c, &r);
}

static void h_types(struct call *k);

/* ---- the routing table ---- */

enum access {
    PUBLIC,   /* no token */
    REPORTER, /* any valid token; the handler checks it is the loadgens' */
    PLAYER,   /* a team's or the admin's token */
    TEAM,     /* a team's token, or the admin's with ?team=N */
    ADMIN,    /* the admin's token only: the instructor */
};

#define ANY (-1)

static const struct route {
    int method;
    const char *path; /* segments after /api/v1; '*' matches one */
    enum access access;
    void (*fn)(struct call *k);
} routes[] = {
    {HTTP_GET, "health", PUBLIC, h_health},
    {HTTP_GET, "game", PUBLIC, h_game},
    {HTTP_GET, "types", PUBLIC, h_types},
    {HTTP_GET, "scoreboard", PUBLIC, h_scoreboard},
    {HTTP_GET, "stream", PUBLIC, h_stream},
    {HTTP_GET, "report", PUBLIC, h_game_report},
    {HTTP_GET, "status", PUBLIC, h_status},
    {HTTP_GET, "result", PUBLIC, h_result},
    {HTTP_GET, "teams/*/score", PUBLIC, h_team_score},
    {HTTP_GET, "teams/*/score/events", PUBLIC, h_team_events},
    {HTTP_POST, "internal/report", REPORTER, h_report},
    {HTTP_GET, "teams", PLAYER, h_teams},
    {HTTP_GET, "game/events", ADMIN, h_game_events},
    {HTTP_POST, "game/*", ADMIN, h_instructor},
    {HTTP_GET, "score", TEAM, h_score},
    {HTTP_GET, "score/events", PLAYER, h_score_events},
    {HTTP_GET, "bill", TEAM, h_bill},
    {HTTP_GET, "audit", PLAYER, h_audit},
    {HTTP_GET, "instances", PLAYER, h_instances},
    {HTTP_POST, "instances/*/terminate", TEAM, h_terminate},
    {HTTP_POST, "instances/*/stop", TEAM, h_stop},
    {HTTP_POST, "instances/*/start", TEAM, h_start},
    {HTTP_POST, "asgs/*/scale", TEAM, h_scale},
    {HTTP_POST, "asgs/*/refresh", TEAM, h_refresh},
    {HTTP_POST, "asgs/*/refresh/cancel", TEAM, h_refresh_cancel},
    {HTTP_POST, "cache_clusters/*/failover", TEAM, h_failover},
    {HTTP_POST, "dbs/*/failover", TEAM, h_db_failover},
    {HTTP_POST, "dbs/*/reboot", TEAM, h_db_reboot},
    {HTTP_POST, "cdns/*/invalidations", TEAM, h_invalidate},
    {HTTP_GET, "cdns/*/invalidations", TEAM, h_invalidations},
    {HTTP_POST, "experiment_templates/*/start", TEAM, h_start_experiment},
    {HTTP_POST, "experiments/*/stop", TEAM, h_stop_experiment},
    {HTTP_GET, "metrics", PLAYER, h_metrics},
    {HTTP_GET, "endpoint", TEAM, h_endpoint_get},
    {HTTP_PUT, "endpoint", TEAM, h_endpoint_set},
    {HTTP_POST, "endpoint", TEAM, h_endpoint_set},
    {HTTP_GET, "resources", PLAYER, h_resources},
    {HTTP_POST, "resources", TEAM, h_create},
    {HTTP_GET, "resources/*", TEAM, h_resource_get},
    {HTTP_PATCH, "resources/*", TEAM, h_update},
    {HTTP_PUT, "resources/*", TEAM, h_update},
    {HTTP_DELETE, "resources/*", TEAM, h_delete},
};

/* The bodies of the actions of routes TYPEs/NAME/ACTION, as field tables of the
 * registry's shape (a console draws a form of them); an action not listed takes none. */
static const gd_field scale_body[] = {
    {.name = "desired", .kind = GD_F_INT, .required = 1, .ranged = 1, .min = 0, .max = 1000},
    {.name = NULL}};
static const gd_field terminate_body[] = {{.name = "force", .kind = GD_F_BOOL, .def = "false"},
                                          {.name = NULL}};
static const gd_field invalidate_body[] = {
    {.name = "paths", .kind = GD_F_STRS, .required = 1, .ranged = 1, .min = 1, .max = 3000},
    {.name = "caller_reference", .kind = GD_F_STR},
    {.name = NULL}};
static const gd_field refresh_body[] = {
    {.name = "instance_warmup", .kind = GD_F_NUM, .def = "30", .ranged = 1, .min = 0, .max = 3600},
    {.name = "auto_rollback", .kind = GD_F_BOOL, .def = "false"},
    {.name = NULL}};
static const struct {
    const char *action;
    const gd_field *body;
} action_bodies[] = {{"scale", scale_body},
                     {"terminate", terminate_body},
                     {"invalidations", invalidate_body},
                     {"refresh", refresh_body}};

static json_t *body_fields(const gd_field *f)
{
    json_t *a = json_array();
    for (; f && f->name; f++) {
        json_t *o = json_pack("{s:s,s:s,s:b}", "name", f->name, "kind", gd_fkind_name(f->kind),
                              "required", f->required);
        if (f->def) json_object_set_new(o, "default", json_loads(f->def, JSON_DECODE_ANY, NULL));
        if (f->ranged) {
            json_object_set_new(o, "min", json_real(f->min));
            json_object_set_new(o, "max", json_real(f->max));
        }
        json_array_append_new(a, o);
    }
    return a;
}

/* A type's actions: update and delete of any type (create is the row's `creatable`),
 * then every POST route PLURAL/NAME/ACTION whose PLURAL is the type's name and an s. */
static json_t *type_actions(const char *type)
{
    json_t *a = json_array();
    json_array_append_new(a, json_pack("{s:s,s:s,s:s}", "name", "update", "method", "PATCH", "path",
                                       "resources/{name}"));
    json_array_append_new(a, json_pack("{s:s,s:s,s:s}", "name", "delete", "method", "DELETE",
                                       "path", "resources/{name}"));
    size_t tn = strlen(type);
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const char *p = routes[i].path, *s1 = strchr(p, '/');
        if (routes[i].method != HTTP_POST || !s1 || (size_t)(s1 - p) != tn + 1 ||
            strncmp(p, type, tn) != 0 || p[tn] != 's' || strncmp(s1, "/*/", 3) != 0 ||
            strchr(s1 + 3, '/'))
            continue;
        const char *act = s1 + 3;
        const gd_field *body = NULL;
        for (size_t b = 0; b < sizeof action_bodies / sizeof action_bodies[0]; b++)
            if (!strcmp(action_bodies[b].action, act)) body = action_bodies[b].body;
        char path[96];
        snprintf(path, sizeof path, "%.*s/{name}/%s", (int)(s1 - p), p, act);
        json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:o}", "name", act, "method", "POST",
                                           "path", path, "body", body_fields(body)));
    }
    return a;
}

/* The resource types of the registry, with their fields and actions: static, no team's
 * data, so public. */
static void h_types(struct call *k)
{
    json_t *types = gd_registry_json();
    size_t i;
    json_t *t;
    json_array_foreach(types, i, t)
        json_object_set_new(t, "actions", type_actions(gd_jstr(t, "name")));
    gd_http_respond_json(k->c, 200, types);
}

/* Matches "/a/b/c" (after /api/v1) against a route's path; the '*' segment goes into
 * arg. 1 on a match. */
static int match(const char *pattern, const char *p, const char *end, char *arg, size_t argn)
{
    while (*pattern) {
        while (p < end && *p == '/') p++;
        const char *s = p;
        while (p < end && *p != '/') p++;
        size_t n = (size_t)(p - s);
        const char *q = strchr(pattern, '/');
        size_t pn = q ? (size_t)(q - pattern) : strlen(pattern);
        if (n == 0) return 0;
        if (pn == 1 && pattern[0] == '*') {
            if (n >= argn) return 0;
            memcpy(arg, s, n);
            arg[n] = 0;
        } else if (pn != n || memcmp(pattern, s, n) != 0) {
            return 0;
        }
        pattern += pn + (q != NULL);
    }
    while (p < end && *p == '/') p++;
    return p == end;
}

static void on_request(gd_http_conn *c, gd_http_req *req, void *ud)
{
    gd_game *g = ud;
    if (gd_aws_path(req)) { /* the AWS-compatible API: its own protocols (aws.c) */
        gd_aws_handle(g, c, req);
        return;
    }
    if (req->path_len < 7 || memcmp(req->path, "/api/v1", 7) != 0 ||
        (req->path_len > 7 && req->path[7] != '/')) {
        if (req->path_len == 8 && !memcmp(req->path, "/metrics", 8))
            metrics(g, c);
        else
            static_file(c, req);
        return;
    }
    const char *p = req->path + 7, *end = req->path + req->path_len;
    struct who w = {0};
    struct call k = {.g = g, .c = c, .req = req, .w = &w};
    const struct route *hit = NULL;
    int path_known = 0;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0] && !hit; i++) {
        if (!match(routes[i].path, p, end, k.arg, sizeof k.arg)) continue;
        path_known = 1;
        if (routes[i].method == req->method) hit = &routes[i];
    }
    if (!hit) {
        if (path_known)
            gd_http_respond_error(c, 405, "MethodNotAllowed",
                                  "that method is not allowed on this path; see doc/api.md");
        else
            gd_http_respond_error(c, 404, "NotFound", "no such API path; see doc/api.md");
        return;
    }
    if (g->finished && req->method != HTTP_GET && hit->access != REPORTER) {
        /* The finished game is served read-only until the server stops. */
        gd_http_respond_error(c, 409, "GameOver",
                              "the game has ended: it is served read-only (see report.html)");
        return;
    }
    if (hit->access != PUBLIC) {
        if (authenticate(g, c, req, &w) < 0) return;
        if (w.internal && hit->access != REPORTER) {
            gd_http_respond_error(c, 403, "AccessDenied", "the internal token only sends reports");
            return;
        }
        if (hit->access == TEAM && need_team(c, &w) < 0) return;
        if (hit->access == ADMIN && !w.admin) {
            gd_http_respond_error(c, 403, "AccessDenied",
                                  "only the instructor (the admin token) may do that");
            return;
        }
    }
    hit->fn(&k);
}

int gd_api_start(gd_game *g)
{
    gd_http_server_init(&g->api, g->loop, on_request, g);
    int r = gd_http_server_listen(&g->api, g->host, g->port);
    if (r < 0) {
        gd_error("listen_failed", "addr=%s:%d err=%s", g->host, g->port, gd_strerror(r));
        fprintf(stderr, "gameday server: cannot listen on %s:%d: %s\n", g->host, g->port,
                r == GD_EEXIST ? "address in use (another game running? try --port)"
                               : gd_strerror(r));
    }
    return r;
}
