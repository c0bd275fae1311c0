/* `gameday edge`: the process host of one load balancer (clb, alb: proxy.c) or CDN (cdn:
 * cdn.c). Its configuration arrives as one JSON document, from --config FILE or PUT
 * /config on the admin listener, is checked whole, and swapped in without dropping a
 * connection; with no server it keeps serving with the last one (static stability).
 * Here: flags, the admin API, configuration, housekeeping, /metrics, signals. */
#include "edge/edge.h"
#include "edge/fault.h"
#include "edge/proxy.h"
#include "core/addr.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/promtext.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

gd_edge gd_the_edge;
#define E gd_the_edge

/* ---- small helpers ---- */

double gd_edge_now(void)
{
    return gd_clock_game_at(uv_now(E.loop) * 1000000ull);
}

void gd_edge_error(gd_http_conn *c, int status, const char *msg)
{
    if (status >= 500)
        E.c.elb_5xx++;
    else if (status >= 400)
        E.c.elb_4xx++;
    char body[256];
    int n = snprintf(body, sizeof body, "<html><body><h1>%d %s</h1>%s</body></html>\n", status,
                     gd_http_reason(status), msg);
    gd_http_respond(c, status, "Server: gameday-edge\r\n", "text/html", body, (size_t)n);
}

/* The modes, by enum gd_edge_mode. */
static const gd_edge_mode_ops *const modes[] = {
    [GD_MODE_CLB] = &gd_clb_ops,
    [GD_MODE_ALB] = &gd_alb_ops,
    [GD_MODE_CDN] = &gd_cdn_ops,
};

void gd_edge_serve(gd_http_conn *c, gd_http_req *req)
{
    modes[E.mode]->serve(&E, c, req);
}

static void on_front(gd_http_conn *c, gd_http_req *req, void *ud)
{
    E.c.requests++;
    /* Client faults (fault.c): one test while there are none. */
    if ((gd_edge_faults_now.client | gd_edge_faults_now.touched) && gd_edge_faults_client(c, req))
        return;
    modes[E.mode]->serve(&E, c, req);
}

/* ---- configuration ---- */

static int mode_of(const json_t *doc, enum gd_edge_mode *m)
{
    const char *mode = json_string_value(json_object_get(doc, "mode"));
    if (!mode) return -1;
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        if (!strcmp(mode, modes[i]->name)) {
            *m = (enum gd_edge_mode)i;
            return 0;
        }
    }
    return -1;
}

/* Checks a whole document before anything changes: all or nothing. */
static int config_check(const json_t *doc, char *err, size_t errlen)
{
    enum gd_edge_mode m;
    if (!json_is_object(doc)) return snprintf(err, errlen, "the config must be a JSON object"), -1;
    if (mode_of(doc, &m) < 0)
        return snprintf(err, errlen, "field 'mode': (allowed: clb, alb, cdn)"), -1;
    if (E.adm.version > 0 && m != E.mode)
        return snprintf(err, errlen, "field 'mode': an edge keeps its mode (start a new edge)"), -1;
    const char *listen = json_string_value(json_object_get(doc, "listen"));
    uint32_t ip;
    int port;
    if (!listen || gd_hostport_parse(listen, &ip, &port) < 0 || (ip >> 24) != 127)
        return snprintf(err, errlen, "field 'listen': must be \"IP:PORT\" in 127.0.0.0/8"), -1;
    json_t *it = json_object_get(doc, "idle_timeout");
    if (it && (!json_is_number(it) || json_number_value(it) < 1 || json_number_value(it) > 4000))
        return snprintf(err, errlen, "field 'idle_timeout': 1..4000 seconds"), -1;
    json_t *rb = json_object_get(doc, "retry_budget");
    if (rb && (!json_is_number(rb) || json_number_value(rb) < 0 || json_number_value(rb) > 1))
        return snprintf(err, errlen, "field 'retry_budget': a share in 0..1"), -1;
    gd_acl a;
    if (gd_acl_from_json(json_object_get(doc, "allow"), &a) < 0)
        return snprintf(err, errlen,
                        "field 'allow': a list of at most %d blocks like \"0.0.0.0/0\" or "
                        "\"127.1.0.0/16\" (the sources the security groups let in)",
                        GD_ACL_MAX),
               -1;
    gd_edge_fault_set *fs = gd_malloc(sizeof *fs);
    int r = gd_edge_faults_parse(json_object_get(doc, "faults"), fs, err, errlen);
    gd_free(fs);
    if (r < 0) return -1;
    return modes[m]->check(doc, err, errlen);
}

uint32_t gd_edge_source_ip(void)
{
    uint32_t ip = 0;
    int port;
    if (E.listen[0] && gd_hostport_parse(E.listen, &ip, &port) < 0) ip = 0;
    return ip;
}

/* Security groups: a source the config's "allow" does not list is closed at accept. */
static int admit_front(gd_http_server *s, uint32_t peer)
{
    if (gd_acl_allows(&E.acl, peer)) return 1;
    gd_acl_denied(&E.denied, peer, uv_now(E.loop));
    return 0;
}

static int open_front(const char *listen)
{
    uint32_t ip;
    int port;
    gd_hostport_parse(listen, &ip, &port);
    char ipb[16];
    gd_ip_format(ip, ipb);
    gd_http_server *s = gd_malloc(sizeof *s);
    gd_http_server_init(s, E.loop, on_front, NULL);
    s->idle_ms = E.idle_ms;
    s->admit = admit_front;
    int r = gd_http_server_listen(s, ipb, port);
    if (r < 0) {
        gd_free(s);
        return r;
    }
    if (E.front) gd_http_server_close(E.front, (void (*)(gd_http_server *))gd_free);
    E.front = s;
    snprintf(E.listen, sizeof E.listen, "%s", listen);
    snprintf(E.listen_port, sizeof E.listen_port, "%d", port);
    return 0;
}

/* Applies a checked document: the listener and timeouts here, the rest in the mode. */
static int config_apply(const json_t *doc, char *err, size_t errlen)
{
    enum gd_edge_mode m = GD_MODE_CLB;
    mode_of(doc, &m);
    const char *listen = json_string_value(json_object_get(doc, "listen"));
    json_t *it = json_object_get(doc, "idle_timeout");
    E.idle_timeout = it ? json_number_value(it) : 60;
    E.idle_ms = gd_clock_wall_ms(E.idle_timeout * 1000);
    json_t *rb = json_object_get(doc, "retry_budget");
    E.retry_budget = rb ? json_number_value(rb) : 0.2;
    if (strcmp(listen, E.listen) != 0) {
        int r = open_front(listen);
        if (r < 0) {
            snprintf(err, errlen, "cannot listen on %s: %s", listen, gd_strerror(r));
            return r;
        }
        gd_info("listening", "addr=%s", listen);
    }
    E.front->idle_ms = E.idle_ms;
    gd_acl_from_json(json_object_get(doc, "allow"), &E.acl); /* checked */
    E.mode = m;
    gd_edge_changes ch = {0};
    int r = modes[m]->apply(&E, doc, &ch, err, errlen);
    if (r < 0) return r;
    gd_edge_fault_set *fs = gd_malloc(sizeof *fs);
    gd_edge_faults_parse(json_object_get(doc, "faults"), fs, err, errlen); /* checked */
    gd_edge_faults_apply(fs);
    gd_free(fs);
    const char *al = json_string_value(json_object_get(doc, "access_log"));
    if (al && !E.access_log) {
        E.access_log = fopen(al, "a");
        if (!E.access_log) gd_warn("access_log_failed", "path=%s", gd_log_q(al));
    }
    const char *id = json_string_value(json_object_get(doc, "id"));
    const char *name = json_string_value(json_object_get(doc, "name"));
    snprintf(E.id, sizeof E.id, "%s", id ? id : "edge");
    snprintf(E.name, sizeof E.name, "%s", name ? name : E.id);
    json_decref(E.adm.config);
    E.adm.config = json_deep_copy(doc);
    E.adm.version++;
    gd_info("config_applied", "version=%llu mode=%s targets=%d added=%d removed=%d listen=%s",
            (unsigned long long)E.adm.version, json_string_value(json_object_get(doc, "mode")),
            ch.targets, ch.added, ch.removed, E.listen);
    return 0;
}

static int config_load(const json_t *doc, char *err, size_t errlen)
{
    if (config_check(doc, err, errlen) < 0) return GD_EINVAL;
    return config_apply(doc, err, errlen);
}

/* ---- housekeeping: drained targets, removed groups, the access log ---- */

static void on_housekeeping(uv_timer_t *t)
{
    double now = gd_clock_now();
    for (gd_target **pp = &E.draining; *pp;) {
        gd_target *x = *pp;
        if (x->inflight == 0 || now >= x->drain_until) {
            *pp = x->next;
            gd_info("target_drained", "target=%s inflight=%d", x->id, x->inflight);
            gd_target_free(x);
        } else {
            pp = &x->next;
        }
    }
    for (gd_tgroup **pp = &E.tgs; *pp;) {
        gd_tgroup *x = *pp;
        if (x->removed && x->inflight == 0) {
            *pp = x->next;
            gd_free(x);
        } else {
            pp = &x->next;
        }
    }
    if (E.access_log && E.access_buf.len) {
        fwrite(E.access_buf.data, 1, E.access_buf.len, E.access_log);
        fflush(E.access_log);
        gd_buf_reset(&E.access_buf);
    }
}

/* ---- admin ---- */

static json_t *stats_json(void)
{
    json_t *ts = json_array(), *groups = json_array();
    int healthy = 0, unhealthy = 0;
    for (gd_tgroup *g = E.tgs; g; g = g->next) {
        if (g->removed) continue;
        int h, u;
        gd_tgroup_counts(g, &h, &u);
        healthy += h;
        unhealthy += u;
        for (gd_target *t = g->targets; t; t = t->next) {
            json_t *j = gd_target_json(t);
            json_object_set_new(j, "target_group", json_string(g->name));
            json_array_append_new(ts, j);
        }
        json_array_append_new(groups, json_pack("{s:s,s:i,s:i,s:I,s:i}", "name", g->name, "healthy",
                                                h, "unhealthy", u, "requests",
                                                (json_int_t)g->requests, "inflight", g->inflight));
    }
    for (gd_target *t = E.draining; t; t = t->next) json_array_append_new(ts, gd_target_json(t));
    json_t *j = json_pack(
        "{s:s,s:s,s:s,s:s,s:I,s:I,s:i,s:i,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o}", "id", E.id,
        "name", E.name, "mode", modes[E.mode]->name, "listen", E.listen, "version",
        (json_int_t)E.adm.version, "requests", (json_int_t)E.c.requests, "healthy", healthy,
        "unhealthy", unhealthy, "2xx", (json_int_t)E.c.target_2xx_5xx[2], "3xx",
        (json_int_t)E.c.target_2xx_5xx[3], "4xx", (json_int_t)E.c.target_2xx_5xx[4], "5xx",
        (json_int_t)E.c.target_2xx_5xx[5], "elb_4xx", (json_int_t)E.c.elb_4xx, "elb_5xx",
        (json_int_t)E.c.elb_5xx, "retries", (json_int_t)E.c.retries, "backend_connection_errors",
        (json_int_t)E.c.backend_conn_errors, "active_connections",
        (json_int_t)(E.front ? E.front->nconns : 0), "target_groups", groups, "targets", ts);
    json_object_set_new(j, "denied", json_integer((json_int_t)E.denied.denied));
    json_object_set_new(j, "faults", gd_edge_faults_json());
    if (E.c.target_hist.count) /* the server's TargetResponseTime percentiles */
        json_object_set_new(j, "target_time", gd_hist_to_json(&E.c.target_hist));
    if (modes[E.mode]->stats) modes[E.mode]->stats(&E, j);
    return j;
}

static void metrics(gd_buf *b)
{
    char l[128];
    snprintf(l, sizeof l, "LoadBalancer=\"%s\"", E.name);
    gd_prom_head(b, "RequestCount", "counter", "Requests received");
    gd_prom_sample(b, "RequestCount", l, (double)E.c.requests);
    gd_prom_head(b, "NewConnectionCount", "counter", "Client connections accepted");
    gd_prom_sample(b, "NewConnectionCount", l, E.front ? (double)E.front->accepted : 0);
    gd_prom_head(b, "ActiveConnectionCount", "gauge", "Client connections open");
    gd_prom_sample(b, "ActiveConnectionCount", l, E.front ? E.front->nconns : 0);
    gd_prom_head(b, "gameday_edge_denied_total", "counter",
                 "Connections closed at accept: not allowed by the security groups");
    gd_prom_sample(b, "gameday_edge_denied_total", l, (double)E.denied.denied);
    gd_prom_head(b, "ProcessedBytes", "counter", "Bytes received and sent");
    gd_prom_sample(b, "ProcessedBytes", l, (double)E.c.bytes);
    static const char *codes[] = {"", "1XX", "2XX", "3XX", "4XX", "5XX"};
    for (int k = 2; k <= 5; k++) {
        char n[48];
        snprintf(n, sizeof n, "HTTPCode_Target_%s_Count", codes[k]);
        gd_prom_head(b, n, "counter", "Answers from targets by status class");
        gd_prom_sample(b, n, l, (double)E.c.target_2xx_5xx[k]);
    }
    gd_prom_head(b, "HTTPCode_ELB_4XX_Count", "counter", "4xx made by the load balancer");
    gd_prom_sample(b, "HTTPCode_ELB_4XX_Count", l, (double)E.c.elb_4xx);
    gd_prom_head(b, "HTTPCode_ELB_5XX_Count", "counter", "5xx made by the load balancer");
    gd_prom_sample(b, "HTTPCode_ELB_5XX_Count", l, (double)E.c.elb_5xx);
    gd_prom_head(b, "TargetResponseTime", "gauge", "Mean seconds (game time) targets took");
    gd_prom_sample(b, "TargetResponseTime", l,
                   E.c.target_time_n ? E.c.target_time_sum / (double)E.c.target_time_n : 0);
    gd_prom_head(b, "BackendConnectionErrors", "counter", "Failed exchanges with targets");
    gd_prom_sample(b, "BackendConnectionErrors", l, (double)E.c.backend_conn_errors);
    gd_prom_head(b, "gameday_edge_retries_total", "counter", "Requests retried on another target");
    gd_prom_sample(b, "gameday_edge_retries_total", l, (double)E.c.retries);
    gd_prom_head(b, "HealthyHostCount", "gauge", "Targets in service");
    gd_prom_head(b, "UnHealthyHostCount", "gauge", "Targets out of service");
    gd_prom_head(b, "RequestCountPerTarget", "gauge", "Requests per registered target");
    for (gd_tgroup *g = E.tgs; g; g = g->next) {
        if (g->removed) continue;
        int h, u;
        gd_tgroup_counts(g, &h, &u);
        char lg[256];
        snprintf(lg, sizeof lg, "%s,TargetGroup=\"%s\"", l, g->name);
        gd_prom_sample(b, "HealthyHostCount", lg, h);
        gd_prom_sample(b, "UnHealthyHostCount", lg, u);
        gd_prom_sample(b, "RequestCountPerTarget", lg, h + u ? (double)g->requests / (h + u) : 0);
    }
    gd_prom_head(b, "gameday_edge_config_version", "gauge", "Configurations applied");
    gd_prom_sample(b, "gameday_edge_config_version", l, (double)E.adm.version);
    gd_edge_faults_metrics(b);
    if (modes[E.mode]->metrics) modes[E.mode]->metrics(&E, b, l);
}

/* POST /invalidations {"paths": [...]}: the cdn's cache (the one admin route of the
 * edge's own). */
static int admin_route(gd_admin *a, gd_http_conn *c, gd_http_req *req)
{
    if (!gd_admin_path_is(req, "/invalidations") || req->method != HTTP_POST) return 0;
    json_t *doc = gd_admin_body(a, c, req);
    if (!doc) return 1;
    char err[256] = "";
    int n = modes[E.mode]->invalidate
                ? modes[E.mode]->invalidate(&E, json_object_get(doc, "paths"), err, sizeof err)
                : (snprintf(err, sizeof err, "only a cdn edge has a cache"), GD_EINVAL);
    json_decref(doc);
    if (n < 0)
        gd_http_respond_error(c, 400, "InvalidInvalidation", err);
    else
        gd_http_respond_json(c, 200, json_pack("{s:i}", "invalidated", n));
    return 1;
}

/* At exit, what the access log still holds. */
static void flush_access_log(void)
{
    if (E.access_log && E.access_buf.len) {
        fwrite(E.access_buf.data, 1, E.access_buf.len, E.access_log);
        fflush(E.access_log);
    }
}

int gd_cmd_edge(int argc, char **argv)
{
    const char *admin = NULL, *file = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--admin") && i + 1 < argc)
            admin = argv[++i];
        else if (!strcmp(argv[i], "--config") && i + 1 < argc)
            file = argv[++i];
        else {
            fprintf(!strcmp(argv[i], "--help") ? stdout : stderr,
                    "usage: gameday edge [--admin IP:PORT] [--config FILE]\n"
                    "Runs one load balancer (mode clb or alb) or CDN (mode cdn). The admin\n"
                    "listener takes PUT /config and POST /invalidations (Authorization: Bearer\n"
                    "$GAMEDAY_ADMIN_TOKEN) and serves GET /config, /stats, /metrics, /health.\n"
                    "See doc/edge.md.\n");
            return !strcmp(argv[i], "--help") ? 0 : 2;
        }
    }
    gd_daemon_init("edge");
    E.loop = uv_default_loop();
    gd_admin_init(&E.adm, "/config /stats /metrics /health /invalidations", stats_json, metrics,
                  config_load);
    E.adm.route = admin_route;
    E.idle_timeout = 60;
    E.idle_ms = gd_clock_wall_ms(60000);
    gd_proxy_init();
    gd_buf_init(&E.access_buf, 64 << 20);
    unsigned char key[32];
    if (getrandom(key, sizeof key, 0) != (ssize_t)sizeof key) memset(key, 7, sizeof key);
    gd_sticky_set_secret(key, sizeof key);
    gd_edge_faults_init();
    if (!admin && !file) {
        fprintf(stderr, "gameday edge: give --admin IP:PORT, --config FILE, or both\n");
        return 2;
    }
    if (file) {
        json_error_t je;
        json_t *doc = json_load_file(file, 0, &je);
        if (!doc) {
            fprintf(stderr, "%s:%d:%d: %s\n", file, je.line, je.column, je.text);
            return 1;
        }
        char err[256];
        int r = config_load(doc, err, sizeof err);
        json_decref(doc);
        if (r < 0) {
            fprintf(stderr, "%s: %s\n", file, err);
            return 1;
        }
    }
    if (admin) {
        int r = gd_admin_listen(&E.adm, E.loop, admin);
        if (r == GD_EINVAL) {
            fprintf(stderr, "gameday edge: --admin must be IP:PORT in 127.0.0.0/8\n");
            return 2;
        }
        if (r < 0) {
            gd_error("listen_failed", "addr=%s err=%s", admin, gd_strerror(r));
            return 1;
        }
    }
    uv_timer_init(E.loop, &E.housekeeping);
    uv_timer_start(&E.housekeeping, on_housekeeping, 100, 100);
    gd_daemon_signals(E.loop, flush_access_log);
    gd_info("ready", "admin=%s listen=%s", admin ? admin : "-", E.listen[0] ? E.listen : "-");
    uv_run(E.loop, UV_RUN_DEFAULT);
    modes[E.mode]->free(&E);
    return 0;
}
