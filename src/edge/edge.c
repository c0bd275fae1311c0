/* `gameday edge`: one load balancer process (Classic LB mode). Its configuration
 * arrives as one JSON document, from --config FILE or PUT /config on the admin
 * listener, and is swapped in without dropping a connection; with no server it keeps
 * serving with the last one (static stability). */
#include "cli/roles.h"
#include "core/addr.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/http.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/promtext.h"
#include "edge/target.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define PROXY_MAGIC 0x50525859u

typedef struct edge {
    uv_loop_t *loop;
    gd_http_server admin;
    gd_http_server *front; /* the listener customers reach */
    char listen[32];
    const char *token;
    char id[48], name[64], mode[16];
    gd_hc_conf hc;
    double idle_timeout; /* game seconds */
    uint64_t idle_ms;    /* the same in wall milliseconds */
    gd_target *targets;  /* in service or not */
    gd_target *draining;
    unsigned rr;
    json_t *config;
    uint64_t version;
    /* counters */
    uint64_t requests, resp[6], elb_5xx, backend_conn_errors, no_healthy;
    uint64_t bytes_in, bytes_out;
} edge;

static edge E;

struct proxy {
    uint32_t magic;
    gd_http_conn *conn;
    gd_target *target;
    int keep_alive;
};

/* ---- proxying ---- */

static int hop_by_hop(const char *n, size_t len)
{
    static const char *const h[] = {
        "connection", "keep-alive",        "proxy-connection", "te", "trailer",
        "upgrade",    "transfer-encoding", "content-length",   NULL};
    for (int i = 0; h[i]; i++)
        if (strlen(h[i]) == len && !strncasecmp(h[i], n, len)) return 1;
    return 0;
}

static gd_target *pick(void)
{
    int n = 0;
    for (gd_target *t = E.targets; t; t = t->next)
        if (t->healthy) n++;
    if (n == 0) return NULL;
    unsigned k = E.rr++ % (unsigned)n;
    for (gd_target *t = E.targets; t; t = t->next)
        if (t->healthy && k-- == 0) return t;
    return NULL;
}

static void elb_error(gd_http_conn *c, int status, const char *msg)
{
    E.elb_5xx += status >= 500;
    E.resp[status / 100]++;
    char body[160];
    int n = snprintf(body, sizeof body, "<html><body><h1>%d %s</h1>%s</body></html>\n", status,
                     gd_http_reason(status), msg);
    gd_http_respond(c, status, "Server: gameday-edge\r\n", "text/html", body, (size_t)n);
}

static void drain_check(void)
{
    for (gd_target **pp = &E.draining; *pp;) {
        gd_target *t = *pp;
        if (t->inflight == 0) {
            *pp = t->next;
            gd_info("target_drained", "target=%s", t->id);
            gd_target_free(t);
        } else {
            pp = &t->next;
        }
    }
}

/* Scratch buffers reused by every request: the hot path allocates no buffer. */
static gd_buf scratch_req, scratch_resp;

static void put_header(gd_buf *b, const gd_http_header *h)
{
    gd_buf_append(b, h->name, h->name_len);
    gd_buf_append(b, ": ", 2);
    gd_buf_append(b, h->value, h->value_len);
    gd_buf_append(b, "\r\n", 2);
}

static void on_backend(void *ud, int err, const gd_httpc_resp *resp)
{
    struct proxy *px = ud;
    gd_target *t = px->target;
    t->inflight--;
    if (err) {
        t->errors++;
        E.backend_conn_errors++;
        if (err == GD_ETIMEDOUT)
            elb_error(px->conn, 504, "the target did not answer in time");
        else if (err == GD_ECLOSED)
            elb_error(px->conn, 502, "the target was removed");
        else
            elb_error(px->conn, 502, "the target closed or refused the connection");
    } else {
        gd_buf *b = &scratch_resp;
        gd_buf_reset(b);
        gd_http_status_line(b, resp->status);
        for (int i = 0; i < resp->nheaders; i++)
            if (!hop_by_hop(resp->headers[i].name, resp->headers[i].name_len))
                put_header(b, &resp->headers[i]);
        gd_buf_append(b, "Content-Length: ", 16);
        gd_http_put_uint(b, resp->body_len);
        if (px->keep_alive)
            gd_buf_append(b, "\r\n\r\n", 4);
        else
            gd_buf_append(b, "\r\nConnection: close\r\n\r\n", 23);
        gd_buf_append(b, resp->body, resp->body_len);
        E.resp[resp->status / 100 < 6 ? resp->status / 100 : 5]++;
        E.bytes_out += b->len;
        gd_http_respond_raw(px->conn, b->data, b->len, px->keep_alive);
    }
    px->magic = 0;
    gd_free(px);
    if (t->draining) drain_check();
}

static void on_front(gd_http_conn *c, gd_http_req *req, void *ud)
{
    E.requests++;
    E.bytes_in += req->url_len + req->body_len;
    gd_target *t = pick();
    if (!t) {
        E.no_healthy++;
        elb_error(c, 503, "no healthy target");
        return;
    }
    gd_buf *b = &scratch_req;
    gd_buf_reset(b);
    const char *m = http_method_str(req->method);
    gd_buf_append(b, m, strlen(m));
    gd_buf_append(b, " ", 1);
    gd_buf_append(b, req->url, req->url_len);
    gd_buf_append(b, " HTTP/1.1\r\n", 11);
    size_t xfl = 0;
    const char *xff = NULL;
    for (int i = 0; i < req->nheaders; i++) {
        const gd_http_header *h = &req->headers[i];
        if (h->name_len == 15 && !strncasecmp(h->name, "x-forwarded-for", 15)) {
            xff = h->value;
            xfl = h->value_len;
            continue;
        }
        if (!hop_by_hop(h->name, h->name_len)) put_header(b, h);
    }
    gd_buf_append(b, "X-Forwarded-For: ", 17);
    if (xff) {
        gd_buf_append(b, xff, xfl);
        gd_buf_append(b, ", ", 2);
    }
    const char *peer = gd_http_conn_peer(c);
    gd_buf_append(b, peer, strlen(peer));
    gd_buf_append(b, "\r\nX-Forwarded-Proto: http\r\nContent-Length: ", 43);
    gd_http_put_uint(b, req->body_len);
    gd_buf_append(b, "\r\n\r\n", 4);
    gd_buf_append(b, req->body, req->body_len);
    struct proxy *px = gd_malloc(sizeof *px);
    px->magic = PROXY_MAGIC;
    px->conn = c;
    px->target = t;
    px->keep_alive = req->keep_alive;
    t->inflight++;
    t->requests++;
    int r = gd_httpc_request(t->pool, b->data, b->len, E.idle_ms, on_backend, px);
    if (r < 0) {
        t->inflight--;
        gd_free(px);
        elb_error(c, 503, "the target's queue is full");
    }
}

/* ---- configuration ---- */

static int get_num(json_t *o, const char *k, double def, double lo, double hi, double *out,
                   char *err, size_t errlen)
{
    json_t *v = json_object_get(o, k);
    if (!v) {
        *out = def;
        return 0;
    }
    if (!json_is_number(v) || json_number_value(v) < lo || json_number_value(v) > hi) {
        snprintf(err, errlen, "field '%s': must be a number in %g..%g", k, lo, hi);
        return -1;
    }
    *out = json_number_value(v);
    return 0;
}

/* Checks a whole document before anything changes: all or nothing. */
static int config_check(json_t *doc, char *err, size_t errlen)
{
    if (!json_is_object(doc)) return snprintf(err, errlen, "the config must be a JSON object"), -1;
    const char *mode = json_string_value(json_object_get(doc, "mode"));
    if (!mode || strcmp(mode, "clb") != 0)
        return snprintf(err, errlen, "field 'mode': must be \"clb\" (allowed: clb)"), -1;
    const char *listen = json_string_value(json_object_get(doc, "listen"));
    uint32_t ip;
    int port;
    if (!listen || gd_hostport_parse(listen, &ip, &port) < 0 || (ip >> 24) != 127)
        return snprintf(err, errlen, "field 'listen': must be \"IP:PORT\" in 127.0.0.0/8"), -1;
    json_t *targets = json_object_get(doc, "targets");
    if (targets && !json_is_array(targets))
        return snprintf(err, errlen, "field 'targets': must be an array"), -1;
    size_t i;
    json_t *t;
    json_array_foreach(targets, i, t)
    {
        const char *id = json_string_value(json_object_get(t, "id"));
        const char *addr = json_string_value(json_object_get(t, "addr"));
        if (!id || !*id || strlen(id) >= 48)
            return snprintf(err, errlen, "targets[%zu].id: must be a string of 1..47 bytes", i), -1;
        if (!addr || gd_hostport_parse(addr, &ip, &port) < 0 || (ip >> 24) != 127)
            return snprintf(err, errlen, "targets[%zu].addr: must be \"IP:PORT\" in 127.0.0.0/8",
                            i),
                   -1;
    }
    json_t *hc = json_object_get(doc, "health_check");
    if (hc && !json_is_object(hc))
        return snprintf(err, errlen, "field 'health_check': must be an object"), -1;
    double d;
    if (hc) {
        const char *path = json_string_value(json_object_get(hc, "path"));
        if (json_object_get(hc, "path") && (!path || path[0] != '/' || strlen(path) > 200))
            return snprintf(err, errlen, "health_check.path: must start with '/'"), -1;
        if (get_num(hc, "interval", 30, 5, 300, &d, err, errlen) ||
            get_num(hc, "timeout", 5, 2, 60, &d, err, errlen) ||
            get_num(hc, "healthy_threshold", 10, 2, 10, &d, err, errlen) ||
            get_num(hc, "unhealthy_threshold", 2, 2, 10, &d, err, errlen) ||
            get_num(hc, "port", 0, 0, 65535, &d, err, errlen))
            return -1;
    }
    return get_num(doc, "idle_timeout", 60, 1, 4000, &d, err, errlen);
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
    s->idle_ms = gd_clock_wall_ms(E.idle_timeout * 1000);
    int r = gd_http_server_listen(s, ipb, port);
    if (r < 0) {
        gd_free(s);
        return r;
    }
    if (E.front) gd_http_server_close(E.front, (void (*)(gd_http_server *))gd_free);
    E.front = s;
    snprintf(E.listen, sizeof E.listen, "%s", listen);
    return 0;
}

/* Applies a checked document. Targets that stay keep their pools and health. */
static int config_apply(json_t *doc, char *err, size_t errlen)
{
    const char *listen = json_string_value(json_object_get(doc, "listen"));
    json_t *hc = json_object_get(doc, "health_check");
    double v = 0;
    get_num(doc, "idle_timeout", 60, 1, 4000, &E.idle_timeout, err, errlen);
    if (strcmp(listen, E.listen) != 0) {
        int r = open_front(listen);
        if (r < 0) {
            snprintf(err, errlen, "cannot listen on %s: %s", listen, gd_strerror(r));
            return r;
        }
        gd_info("listening", "addr=%s", listen);
    }
    E.idle_ms = gd_clock_wall_ms(E.idle_timeout * 1000);
    E.front->idle_ms = E.idle_ms;
    gd_hc_conf old = E.hc;
    const char *path = hc ? json_string_value(json_object_get(hc, "path")) : NULL;
    snprintf(E.hc.path, sizeof E.hc.path, "%s", path ? path : "/health");
    get_num(hc, "interval", 30, 5, 300, &E.hc.interval, err, errlen);
    get_num(hc, "timeout", 5, 2, 60, &E.hc.timeout, err, errlen);
    get_num(hc, "healthy_threshold", 10, 2, 10, &v, err, errlen);
    E.hc.healthy_threshold = (int)v;
    get_num(hc, "unhealthy_threshold", 2, 2, 10, &v, err, errlen);
    E.hc.unhealthy_threshold = (int)v;
    get_num(hc, "port", 0, 0, 65535, &v, err, errlen);
    E.hc.port = (int)v;
    int hc_changed = old.interval != E.hc.interval;

    /* Build the new list: keep known targets, create new ones, drain the rest. */
    gd_target *keep = NULL, **tail = &keep;
    json_t *targets = json_object_get(doc, "targets");
    size_t i;
    json_t *jt;
    int added = 0, removed = 0;
    json_array_foreach(targets, i, jt)
    {
        const char *id = json_string_value(json_object_get(jt, "id"));
        const char *addr = json_string_value(json_object_get(jt, "addr"));
        uint32_t ip;
        int port;
        gd_hostport_parse(addr, &ip, &port);
        gd_target *found = NULL;
        for (gd_target **pp = &E.targets; *pp; pp = &(*pp)->next) {
            if (!strcmp((*pp)->id, id) && (*pp)->ip == ip && (*pp)->port == port) {
                found = *pp;
                *pp = found->next;
                break;
            }
        }
        if (!found) {
            found = gd_target_new(E.loop, id, ip, port,
                                  json_is_true(json_object_get(jt, "healthy")), &E.hc);
            added++;
        } else if (hc_changed) {
            gd_target_hc_restart(found);
        }
        found->next = NULL;
        *tail = found;
        tail = &found->next;
    }
    while (E.targets) {
        gd_target *t = E.targets;
        E.targets = t->next;
        t->draining = 1;
        t->healthy = 0;
        uv_timer_stop(&t->hc_timer);
        t->next = E.draining;
        E.draining = t;
        removed++;
    }
    E.targets = keep;
    drain_check();
    const char *id = json_string_value(json_object_get(doc, "id"));
    const char *name = json_string_value(json_object_get(doc, "name"));
    snprintf(E.id, sizeof E.id, "%s", id ? id : "edge");
    snprintf(E.name, sizeof E.name, "%s", name ? name : E.id);
    json_decref(E.config);
    E.config = json_incref(doc);
    E.version++;
    gd_info("config_applied", "version=%llu targets=%zu added=%d removed=%d listen=%s",
            (unsigned long long)E.version, json_array_size(targets), added, removed, E.listen);
    return 0;
}

static int config_load(json_t *doc, char *err, size_t errlen)
{
    if (config_check(doc, err, errlen) < 0) return GD_EINVAL;
    return config_apply(doc, err, errlen);
}

/* ---- admin ---- */

static json_t *stats_json(void)
{
    json_t *ts = json_array();
    int healthy = 0, unhealthy = 0;
    for (gd_target *t = E.targets; t; t = t->next) {
        json_array_append_new(ts, gd_target_json(t));
        if (t->healthy)
            healthy++;
        else
            unhealthy++;
    }
    for (gd_target *t = E.draining; t; t = t->next) json_array_append_new(ts, gd_target_json(t));
    return json_pack("{s:s,s:s,s:s,s:I,s:I,s:i,s:i,s:I,s:I,s:I,s:I,s:I,s:I,s:o}", "id", E.id,
                     "name", E.name, "listen", E.listen, "version", (json_int_t)E.version,
                     "requests", (json_int_t)E.requests, "healthy", healthy, "unhealthy", unhealthy,
                     "2xx", (json_int_t)E.resp[2], "3xx", (json_int_t)E.resp[3], "4xx",
                     (json_int_t)E.resp[4], "5xx", (json_int_t)E.resp[5], "elb_5xx",
                     (json_int_t)E.elb_5xx, "backend_connection_errors",
                     (json_int_t)E.backend_conn_errors, "targets", ts);
}

static void metrics(gd_http_conn *c)
{
    gd_buf b;
    gd_buf_init(&b, 4 << 20);
    char l[128];
    snprintf(l, sizeof l, "lb=\"%s\"", E.name);
    gd_prom_head(&b, "gameday_edge_requests_total", "counter", "Requests received (RequestCount)");
    gd_prom_sample(&b, "gameday_edge_requests_total", l, (double)E.requests);
    gd_prom_head(&b, "gameday_edge_responses_total", "counter", "Responses by status class");
    for (int k = 1; k <= 5; k++) {
        char lk[160];
        snprintf(lk, sizeof lk, "%s,code=\"%dxx\"", l, k);
        gd_prom_sample(&b, "gameday_edge_responses_total", lk, (double)E.resp[k]);
    }
    gd_prom_head(&b, "gameday_edge_elb_5xx_total", "counter",
                 "5xx made by the LB (HTTPCode_ELB_5XX)");
    gd_prom_sample(&b, "gameday_edge_elb_5xx_total", l, (double)E.elb_5xx);
    gd_prom_head(&b, "gameday_edge_backend_connection_errors_total", "counter",
                 "Failed backend exchanges (BackendConnectionErrors)");
    gd_prom_sample(&b, "gameday_edge_backend_connection_errors_total", l,
                   (double)E.backend_conn_errors);
    int healthy = 0, unhealthy = 0;
    for (gd_target *t = E.targets; t; t = t->next) t->healthy ? healthy++ : unhealthy++;
    gd_prom_head(&b, "gameday_edge_healthy_hosts", "gauge", "HealthyHostCount");
    gd_prom_sample(&b, "gameday_edge_healthy_hosts", l, healthy);
    gd_prom_head(&b, "gameday_edge_unhealthy_hosts", "gauge", "UnHealthyHostCount");
    gd_prom_sample(&b, "gameday_edge_unhealthy_hosts", l, unhealthy);
    gd_prom_head(&b, "gameday_edge_target_requests_total", "counter", "Requests sent per target");
    for (gd_target *t = E.targets; t; t = t->next) {
        char lt[200];
        snprintf(lt, sizeof lt, "%s,target=\"%s\"", l, t->id);
        gd_prom_sample(&b, "gameday_edge_target_requests_total", lt, (double)t->requests);
    }
    gd_prom_head(&b, "gameday_edge_active_connections", "gauge", "Client connections open");
    gd_prom_sample(&b, "gameday_edge_active_connections", l, E.front ? E.front->nconns : 0);
    gd_prom_head(&b, "gameday_edge_config_version", "gauge", "Configurations applied");
    gd_prom_sample(&b, "gameday_edge_config_version", l, (double)E.version);
    gd_http_respond(c, 200, NULL, "text/plain; version=0.0.4", b.data, b.len);
    gd_buf_free(&b);
}

static int authorized(const gd_http_req *req)
{
    size_t n;
    const char *a = gd_http_header_get(req->headers, req->nheaders, "authorization", &n);
    size_t tl = strlen(E.token);
    return a && n == tl + 7 && !strncmp(a, "Bearer ", 7) && !memcmp(a + 7, E.token, tl);
}

static int path_is(const gd_http_req *r, const char *p)
{
    size_t n = strlen(p);
    return r->path_len == n && !memcmp(r->path, p, n);
}

static void on_admin(gd_http_conn *c, gd_http_req *req, void *ud)
{
    if (path_is(req, "/health")) {
        gd_http_respond(c, 200, NULL, "text/plain", "ok\n", 3);
    } else if (path_is(req, "/metrics")) {
        metrics(c);
    } else if (path_is(req, "/stats")) {
        gd_http_respond_json(c, 200, stats_json());
    } else if (path_is(req, "/config") && req->method == HTTP_GET) {
        gd_http_respond_json(c, 200, E.config ? json_incref(E.config) : json_object());
    } else if (path_is(req, "/config") && req->method == HTTP_PUT) {
        if (!authorized(req)) {
            gd_http_respond_error(c, 401, "Unauthorized", "PUT /config needs the admin token");
            return;
        }
        json_error_t je;
        json_t *doc = json_loadb(req->body, req->body_len, 0, &je);
        char err[256] = "";
        if (!doc) {
            snprintf(err, sizeof err, "line %d column %d: %s", je.line, je.column, je.text);
            gd_http_respond_error(c, 400, "InvalidJSON", err);
            return;
        }
        int r = config_load(doc, err, sizeof err);
        json_decref(doc);
        if (r < 0) {
            gd_warn("config_rejected", "reason=%s", gd_log_q(err));
            gd_http_respond_error(c, 400, "InvalidConfig", err);
            return;
        }
        gd_http_respond_json(c, 200, json_pack("{s:I}", "version", (json_int_t)E.version));
    } else {
        gd_http_respond_error(c, 404, "NotFound", "admin paths: /config /stats /metrics /health");
    }
}

static void on_signal(uv_signal_t *s, int signum)
{
    gd_info("stopping", "signal=%d", signum);
    fflush(stderr);
    _exit(0);
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
                    "The admin listener takes PUT /config (Authorization: Bearer "
                    "$GAMEDAY_ADMIN_TOKEN)\nand serves GET /config, /stats, /metrics, /health. "
                    "See doc/edge.md.\n");
            return !strcmp(argv[i], "--help") ? 0 : 2;
        }
    }
    gd_log_init("edge");
    if (gd_clock_from_env() < 0) gd_clock_set(1.0, gd_clock_mono_ns());
    signal(SIGPIPE, SIG_IGN);
    E.loop = uv_default_loop();
    E.token = getenv("GAMEDAY_ADMIN_TOKEN");
    if (!E.token || !*E.token) E.token = "";
    E.idle_timeout = 60;
    gd_buf_init(&scratch_req, GD_HTTP_MAX_HEAD + GD_HTTP_MAX_BODY + 4096);
    gd_buf_init(&scratch_resp, 16 * 1024 * 1024);
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
        uint32_t ip;
        int port;
        char ipb[16];
        if (gd_hostport_parse(admin, &ip, &port) < 0) {
            fprintf(stderr, "gameday edge: --admin must be IP:PORT in 127.0.0.0/8\n");
            return 2;
        }
        gd_http_server_init(&E.admin, E.loop, on_admin, NULL);
        int r = gd_http_server_listen(&E.admin, gd_ip_format(ip, ipb), port);
        if (r < 0) {
            gd_error("listen_failed", "addr=%s err=%s", admin, gd_strerror(r));
            return 1;
        }
    }
    uv_signal_t sigterm, sigint;
    uv_signal_init(E.loop, &sigterm);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_init(E.loop, &sigint);
    uv_signal_start(&sigint, on_signal, SIGINT);
    gd_info("ready", "admin=%s listen=%s", admin ? admin : "-", E.listen[0] ? E.listen : "-");
    uv_run(E.loop, UV_RUN_DEFAULT);
    return 0;
}
