/* The daemons' admin listener: see admin.h. */
#include "core/admin.h"
#include "core/addr.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>

int gd_admin_path_is(const gd_http_req *r, const char *p)
{
    size_t n = strlen(p);
    return r->path_len == n && !memcmp(r->path, p, n);
}

json_t *gd_admin_body(gd_admin *a, gd_http_conn *c, gd_http_req *req)
{
    size_t n;
    const char *h = gd_http_header_get(req->headers, req->nheaders, "authorization", &n);
    size_t tl = a->token ? strlen(a->token) : 0;
    if (!(tl > 0 && h && n == tl + 7 && !strncmp(h, "Bearer ", 7) &&
          !memcmp(h + 7, a->token, tl))) {
        gd_http_respond_error(c, 401, "Unauthorized", "mutations need the admin token");
        return NULL;
    }
    json_error_t je;
    json_t *doc = json_loadb(req->body, req->body_len, 0, &je);
    if (!doc) {
        char err[256];
        snprintf(err, sizeof err, "line %d column %d: %s", je.line, je.column, je.text);
        gd_http_respond_error(c, 400, "InvalidJSON", err);
    }
    return doc;
}

static void on_admin(gd_http_conn *c, gd_http_req *req, void *ud)
{
    gd_admin *a = ud;
    if (gd_admin_path_is(req, "/health")) {
        gd_http_respond(c, 200, NULL, "text/plain", "ok\n", 3);
    } else if (gd_admin_path_is(req, "/metrics")) {
        gd_buf b;
        gd_buf_init(&b, 4 << 20);
        a->metrics(&b);
        gd_http_respond(c, 200, NULL, "text/plain; version=0.0.4", b.data, b.len);
        gd_buf_free(&b);
    } else if (gd_admin_path_is(req, "/stats")) {
        gd_http_respond_json(c, 200, a->stats());
    } else if (gd_admin_path_is(req, "/config") && req->method == HTTP_GET) {
        gd_http_respond_json(c, 200, a->config ? json_incref(a->config) : json_object());
    } else if (gd_admin_path_is(req, "/config") && req->method == HTTP_PUT) {
        json_t *doc = gd_admin_body(a, c, req);
        if (!doc) return;
        char err[256] = "";
        int r = a->load(doc, err, sizeof err);
        json_decref(doc);
        if (r < 0) {
            gd_warn("config_rejected", "reason=%s", gd_log_q(err));
            gd_http_respond_error(c, 400, "InvalidConfig", err);
            return;
        }
        gd_http_respond_json(c, 200, json_pack("{s:I}", "version", (json_int_t)a->version));
    } else if (!a->route || !a->route(a, c, req)) {
        char msg[160];
        snprintf(msg, sizeof msg, "admin paths: %s", a->paths);
        gd_http_respond_error(c, 404, "NotFound", msg);
    }
}

void gd_admin_init(gd_admin *a, const char *paths, json_t *(*stats)(void),
                   void (*metrics)(gd_buf *b), int (*load)(const json_t *, char *, size_t))
{
    a->token = getenv("GAMEDAY_ADMIN_TOKEN");
    if (!a->token) a->token = "";
    a->paths = paths;
    a->stats = stats;
    a->metrics = metrics;
    a->load = load;
}

void gd_daemon_init(const char *name)
{
    gd_log_init(name);
    if (gd_clock_from_env() < 0) gd_clock_set(1.0, gd_clock_mono_ns());
    signal(SIGPIPE, SIG_IGN);
}

int gd_admin_listen(gd_admin *a, uv_loop_t *loop, const char *addr)
{
    uint32_t ip;
    int port;
    char ipb[16];
    if (gd_hostport_parse(addr, &ip, &port) < 0 || (ip >> 24) != 127) return GD_EINVAL;
    gd_http_server_init(&a->http, loop, on_admin, a);
    return gd_http_server_listen(&a->http, gd_ip_format(ip, ipb), port);
}

static void (*before_exit)(void);

static void on_signal(uv_signal_t *s, int signum)
{
    gd_info("stopping", "signal=%d", signum);
    if (before_exit) before_exit();
    fflush(stderr);
    _exit(0);
}

void gd_daemon_signals(uv_loop_t *loop, void (*before)(void))
{
    static uv_signal_t term, intr;
    before_exit = before;
    uv_signal_init(loop, &term);
    uv_signal_start(&term, on_signal, SIGTERM);
    uv_signal_init(loop, &intr);
    uv_signal_start(&intr, on_signal, SIGINT);
}
