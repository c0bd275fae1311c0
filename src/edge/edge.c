/* `gameday edge`: one load balancer (clb, alb) or CDN (cdn) process. Its configuration
 * arrives as one JSON document, from --config FILE or PUT /config on the admin
 * listener, is checked whole, and swapped in without dropping a connection; with no
 * server it keeps serving with the last one (static stability). */
#include "edge/edge.h"
#include "cli/roles.h"
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

#define PROXY_MAGIC 0x50525859u
#define MIN_RETRIES 20

gd_edge gd_the_edge;
#define E gd_the_edge

struct proxy {
    uint32_t magic;
    gd_http_conn *conn;
    gd_tgroup *tg;
    gd_target *target;
    char *req; /* the upstream request, kept for a retry */
    size_t len;
    int keep_alive, idempotent, retried, head;
    int set_sticky; /* add the stickiness cookie to the answer */
    uint64_t start_ns;
    uint64_t received;
    char *logline; /* request line and user agent, when access logging */
};

/* Scratch buffers reused by every request: the hot path allocates no buffer. */
static gd_buf scratch_req, scratch_resp;

/* ---- small helpers ---- */

double gd_edge_now(void)
{
    return gd_clock_game_at(uv_now(E.loop) * 1000000ull);
}

static int hop_by_hop(const char *n, size_t len)
{
    static const char *const h[] = {
        "connection", "keep-alive",        "proxy-connection", "te", "trailer",
        "upgrade",    "transfer-encoding", "content-length",   NULL};
    for (int i = 0; h[i]; i++)
        if (strlen(h[i]) == len && !strncasecmp(h[i], n, len)) return 1;
    return 0;
}

/* 1 if the header is named in one of the message's Connection headers (RFC 9110
 * 7.6.1: those are hop-by-hop too and go no further). */
static int connection_named(const gd_http_header *hs, int n, const char *name, size_t len)
{
    for (int i = 0; i < n; i++) {
        if (hs[i].name_len != 10 || strncasecmp(hs[i].name, "connection", 10)) continue;
        const char *p = hs[i].value, *end = p + hs[i].value_len;
        while (p < end) {
            while (p < end && (*p == ' ' || *p == '\t' || *p == ',')) p++;
            const char *tok = p;
            while (p < end && *p != ',' && *p != ' ' && *p != '\t') p++;
            if ((size_t)(p - tok) == len && !strncasecmp(tok, name, len)) return 1;
        }
    }
    return 0;
}

int gd_edge_stops_here(const gd_http_header *hs, int n, const gd_http_header *h)
{
    return hop_by_hop(h->name, h->name_len) || connection_named(hs, n, h->name, h->name_len);
}

static int named(const gd_http_header *h, const char *name)
{
    size_t l = strlen(name);
    return h->name_len == l && !strncasecmp(h->name, name, l);
}

static void put_header(gd_buf *b, const gd_http_header *h)
{
    gd_buf_append(b, h->name, h->name_len);
    gd_buf_append(b, ": ", 2);
    gd_buf_append(b, h->value, h->value_len);
    gd_buf_append(b, "\r\n", 2);
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

/* One line per request in the fields of an ALB access log (type time elb client target
 * request/target/response processing times, status codes, bytes, request, agent,
 * target group), batched and written by the housekeeping timer. */
static void access_log(struct proxy *px, int elb_status, int target_status, size_t sent)
{
    if (!E.access_log || !px->logline) return;
    double total = (double)(uv_hrtime() - px->start_ns) / 1e9;
    char ts[8] = "-";
    if (target_status) snprintf(ts, sizeof ts, "%d", target_status);
    char line[1024];
    int n = snprintf(
        line, sizeof line, "http %.3f %s %s:0 %s %.6f %.6f %.6f %d %s %llu %zu %s %s\n",
        gd_clock_now(), E.name, gd_http_conn_peer(px->conn), px->target ? px->target->addr : "-",
        0.0, target_status ? total : -1.0, 0.0, elb_status, ts, (unsigned long long)px->received,
        sent, px->logline, px->tg ? px->tg->name : "-");
    if (n > 0)
        gd_buf_append(&E.access_buf, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

static void proxy_free(struct proxy *px)
{
    px->tg->inflight--;
    E.inflight--;
    if (px->retried) E.retries_inflight--;
    px->magic = 0;
    gd_free(px->req);
    gd_free(px->logline);
    gd_free(px);
}

/* ---- proxying ---- */

static void on_backend(void *ud, int err, const gd_httpc_resp *resp);

static int send_to(struct proxy *px, gd_target *t)
{
    px->target = t;
    t->inflight++;
    t->requests++;
    px->tg->requests++;
    int r = gd_httpc_request_ref(t->pool, px->req, px->len, E.idle_ms, on_backend, px);
    if (r < 0) t->inflight--;
    return r;
}

/* A connection that failed before any answer byte may be retried elsewhere, within
 * the retry budget (a share of the requests in flight, at least MIN_RETRIES). */
static int may_retry(struct proxy *px, int err)
{
    if (px->retried || !px->idempotent) return 0;
    if (err != GD_ECONNREFUSED && err != GD_ECONNRESET) return 0;
    double budget = E.retry_budget * E.inflight;
    if (E.retries_inflight >= (budget > MIN_RETRIES ? budget : MIN_RETRIES)) {
        E.c.retry_budget_exhausted++;
        return 0;
    }
    return 1;
}

static void on_backend(void *ud, int err, const gd_httpc_resp *resp)
{
    struct proxy *px = ud;
    gd_target *t = px->target;
    double now = gd_edge_now();
    t->inflight--;
    gd_tgroup_outcome(px->tg, t, err != 0 || resp->status >= 500, now);
    if (err) {
        t->errors++;
        E.c.backend_conn_errors++;
        if (may_retry(px, err)) {
            gd_target *next = gd_tgroup_pick(px->tg, NULL, t, now);
            if (next) {
                px->retried = 1;
                E.retries_inflight++;
                E.c.retries++;
                if (send_to(px, next) == 0) return;
            }
        }
        int status = err == GD_ETIMEDOUT ? 504 : 502;
        access_log(px, status, 0, 0);
        gd_edge_error(px->conn, status,
                      err == GD_ETIMEDOUT ? "the target did not answer in time"
                      : err == GD_ECLOSED ? "the target was removed"
                                          : "the target closed or refused the connection");
    } else {
        E.c.target_time_sum += gd_clock_game_ms(uv_hrtime() - px->start_ns) / 1000.0;
        E.c.target_time_n++;
        gd_buf *b = &scratch_resp;
        gd_buf_reset(b);
        gd_http_status_line(b, resp->status);
        int app_cookie_set = 0;
        int head = px->head,
            bodyless = resp->status == 204 || resp->status == 304 || resp->status < 200;
        for (int i = 0; i < resp->nheaders; i++) {
            const gd_http_header *h = &resp->headers[i];
            /* A HEAD answer keeps the length the GET would have had. */
            if (head && named(h, "content-length")) {
                put_header(b, h);
                continue;
            }
            if (gd_edge_stops_here(resp->headers, resp->nheaders, h)) continue;
            put_header(b, h);
            if (px->tg->sticky == GD_STICKY_APP && h->name_len == 10 &&
                !strncasecmp(h->name, "set-cookie", 10)) {
                size_t cl = strlen(px->tg->app_cookie);
                if (h->value_len > cl && !memcmp(h->value, px->tg->app_cookie, cl) &&
                    h->value[cl] == '=')
                    app_cookie_set = 1;
            }
        }
        if (px->set_sticky || app_cookie_set) {
            double dur = px->tg->sticky_duration;
            gd_buf_puts(b, px->tg->sticky == GD_STICKY_APP ? "Set-Cookie: GDALBAPP="
                                                           : "Set-Cookie: GDALB=");
            gd_sticky_make(t->id, now + dur, b);
            gd_buf_puts(b, "; Path=/; Max-Age=");
            gd_http_put_uint(b, (size_t)(dur / gd_clock_speed()) + 1);
            gd_buf_puts(b, "\r\n");
        }
        /* 1xx, 204 and 304 have no body and no Content-Length (RFC 9110 8.6). */
        if (!head && !bodyless) {
            gd_buf_append(b, "Content-Length: ", 16);
            gd_http_put_uint(b, resp->body_len);
            gd_buf_append(b, "\r\n", 2);
        }
        if (!px->keep_alive) gd_buf_append(b, "Connection: close\r\n", 19);
        gd_buf_append(b, "\r\n", 2);
        if (!head && !bodyless) gd_buf_append(b, resp->body, resp->body_len);
        int k = resp->status / 100;
        E.c.target_2xx_5xx[k >= 1 && k <= 5 ? k : 5]++;
        E.c.bytes += b->len + px->received;
        access_log(px, resp->status, resp->status, b->len);
        gd_http_respond_raw(px->conn, b->data, b->len, px->keep_alive);
    }
    proxy_free(px);
}

static int idempotent(int method)
{
    return method == HTTP_GET || method == HTTP_HEAD || method == HTTP_PUT ||
           method == HTTP_DELETE || method == HTTP_OPTIONS;
}

static void forward(gd_http_conn *c, gd_http_req *req, gd_tgroup *tg)
{
    double now = gd_edge_now();
    /* Stickiness: a valid cookie pins its target; a stale one is re-picked and rewritten. */
    char sticky_id[64];
    const char *cookie = NULL;
    size_t cl = 0;
    int pinned = 0;
    if (tg->sticky != GD_STICKY_NONE) {
        cookie = gd_cookie_get(req, tg->sticky == GD_STICKY_LB ? "GDALB" : "GDALBAPP", &cl);
        pinned = cookie && gd_sticky_check(cookie, cl, now, sticky_id) == 0;
    }
    gd_target *t = gd_tgroup_pick(tg, pinned ? sticky_id : NULL, NULL, now);
    if (!t) {
        gd_edge_error(c, 503, "no healthy target");
        return;
    }
    gd_buf *b = &scratch_req;
    gd_buf_reset(b);
    const char *m = http_method_str(req->method);
    gd_buf_append(b, m, strlen(m));
    gd_buf_append(b, " ", 1);
    gd_buf_append(b, req->url, req->url_len);
    gd_buf_append(b, " HTTP/1.1\r\n", 11);
    /* X-Forwarded-For: every earlier hop in order, then this client; the edge's own
     * X-Forwarded-Proto and -Port replace what the client claimed. */
    int nxff = 0;
    for (int i = 0; i < req->nheaders; i++) {
        const gd_http_header *h = &req->headers[i];
        if (named(h, "x-forwarded-for") || named(h, "x-forwarded-proto") ||
            named(h, "x-forwarded-port"))
            continue;
        if (!gd_edge_stops_here(req->headers, req->nheaders, h)) put_header(b, h);
    }
    gd_buf_append(b, "X-Forwarded-For: ", 17);
    for (int i = 0; i < req->nheaders; i++) {
        const gd_http_header *h = &req->headers[i];
        if (!named(h, "x-forwarded-for") || h->value_len == 0) continue;
        if (nxff++) gd_buf_append(b, ", ", 2);
        gd_buf_append(b, h->value, h->value_len);
    }
    if (nxff) gd_buf_append(b, ", ", 2);
    const char *peer = gd_http_conn_peer(c);
    gd_buf_append(b, peer, strlen(peer));
    gd_buf_append(b, "\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Port: ", 45);
    gd_buf_puts(b, E.listen_port);
    gd_buf_append(b, "\r\nContent-Length: ", 18);
    gd_http_put_uint(b, req->body_len);
    gd_buf_append(b, "\r\n\r\n", 4);
    gd_buf_append(b, req->body, req->body_len);
    struct proxy *px = gd_calloc(1, sizeof *px);
    px->magic = PROXY_MAGIC;
    px->conn = c;
    px->tg = tg;
    px->keep_alive = req->keep_alive;
    px->head = req->method == HTTP_HEAD;
    px->idempotent = idempotent(req->method);
    px->start_ns = uv_hrtime();
    px->received = b->len;
    px->req = gd_malloc(b->len);
    memcpy(px->req, b->data, b->len);
    px->len = b->len;
    px->set_sticky = tg->sticky == GD_STICKY_LB && (!pinned || strcmp(sticky_id, t->id) != 0);
    if (tg->sticky == GD_STICKY_APP && pinned && strcmp(sticky_id, t->id) != 0)
        px->set_sticky = 1; /* the pinned target is gone: rewrite the cookie */
    if (E.access_log) {
        size_t ul = 0;
        const char *ua = gd_http_header_get(req->headers, req->nheaders, "user-agent", &ul);
        px->logline = gd_sprintf("\"%s %.*s HTTP/1.%d\" \"%.*s\"", m, (int)req->url_len, req->url,
                                 req->http_minor, (int)ul, ua ? ua : "-");
    }
    tg->inflight++;
    E.inflight++;
    if (send_to(px, t) < 0) {
        proxy_free(px);
        gd_edge_error(c, 503, "the target's queue is full");
    }
}

static void on_front(gd_http_conn *c, gd_http_req *req, void *ud)
{
    E.c.requests++;
    if (E.mode == GD_MODE_CDN) {
        gd_cdn_handle(&E, c, req);
        return;
    }
    const gd_action *a = gd_rules_match(&E.rules, req);
    if (a->type == GD_ACT_FORWARD) {
        forward(c, req, a->tg);
    } else if (a->type == GD_ACT_FIXED) {
        gd_http_respond(c, a->status, NULL, a->content_type, a->body, strlen(a->body));
    } else {
        gd_buf loc;
        gd_buf_init(&loc, 8192);
        gd_buf_puts(&loc, "Location: ");
        gd_redirect_location(a->location, req, E.listen_port, &loc);
        gd_buf_puts(&loc, "\r\n");
        gd_http_respond(c, a->status, gd_buf_cstr(&loc), "text/plain", "", 0);
        gd_buf_free(&loc);
    }
}

/* ---- configuration ---- */

static int mode_of(const json_t *doc, enum gd_edge_mode *m)
{
    const char *mode = json_string_value(json_object_get(doc, "mode"));
    if (!mode) return -1;
    if (!strcmp(mode, "clb"))
        *m = GD_MODE_CLB;
    else if (!strcmp(mode, "alb"))
        *m = GD_MODE_ALB;
    else if (!strcmp(mode, "cdn"))
        *m = GD_MODE_CDN;
    else
        return -1;
    return 0;
}

/* The target group documents of a config: clb has one, made of its top level. */
static json_t *group_docs(const json_t *doc, enum gd_edge_mode m)
{
    if (m == GD_MODE_CLB) {
        json_t *g = json_deep_copy(doc);
        json_object_set_new(g, "name", json_string("default"));
        return json_pack("[o]", g);
    }
    json_t *tgs = json_object_get(doc, "target_groups");
    return json_is_array(tgs) ? json_incref(tgs) : json_array();
}

static void free_temp_groups(gd_tgroup *list)
{
    while (list) {
        gd_tgroup *n = list->next;
        gd_free(list);
        list = n;
    }
}

/* Checks a whole document before anything changes: all or nothing. */
static int config_check(const json_t *doc, char *err, size_t errlen)
{
    enum gd_edge_mode m;
    if (!json_is_object(doc)) return snprintf(err, errlen, "the config must be a JSON object"), -1;
    if (mode_of(doc, &m) < 0)
        return snprintf(err, errlen, "field 'mode': (allowed: clb, alb, cdn)"), -1;
    if (E.version > 0 && m != E.mode)
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
    if (m == GD_MODE_CDN) return gd_cdn_check(doc, err, errlen);
    json_t *docs = group_docs(doc, m);
    gd_tgroup *temps = NULL;
    size_t i;
    json_t *g;
    int r = 0;
    json_array_foreach(docs, i, g)
    {
        gd_tgroup *t = gd_calloc(1, sizeof *t);
        if (gd_tgroup_parse(g, m == GD_MODE_CLB, t, err, errlen) < 0) {
            gd_free(t);
            r = -1;
            break;
        }
        for (gd_tgroup *x = temps; x; x = x->next)
            if (!strcmp(x->name, t->name)) {
                snprintf(err, errlen, "target_groups: '%s' appears twice", t->name);
                r = -1;
            }
        t->next = temps;
        temps = t;
        if (r) break;
    }
    if (r == 0) {
        gd_rules rules;
        json_t *def = m == GD_MODE_CLB
                          ? json_pack("{s:s,s:s}", "type", "forward", "target_group", "default")
                          : json_incref(json_object_get(doc, "default_action"));
        if (gd_rules_parse(json_object_get(doc, "rules"), def, temps, &rules, err, errlen) < 0)
            r = -1;
        else
            gd_rules_free(&rules);
        json_decref(def);
    }
    free_temp_groups(temps);
    json_decref(docs);
    return r;
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

/* Applies a checked document. Groups and targets that stay keep their pools and health. */
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
    E.mode = m;
    int added = 0, removed = 0, ntargets = 0;
    if (m == GD_MODE_CDN) {
        int r = gd_cdn_apply(&E, doc, err, errlen);
        if (r < 0) return r;
    } else {
        json_t *docs = group_docs(doc, m);
        size_t i;
        json_t *g;
        /* Groups no longer named are removed: their targets drain. */
        for (gd_tgroup *x = E.tgs; x; x = x->next) {
            int keep = 0;
            json_array_foreach(docs, i, g)
            {
                const char *n = json_string_value(json_object_get(g, "name"));
                keep |= n && !strcmp(n, x->name);
            }
            if (!keep) {
                json_t *none = json_array();
                gd_tgroup_sync(x, E.loop, none, &E.draining, &added, &removed);
                json_decref(none);
                x->removed = 1;
            }
        }
        json_array_foreach(docs, i, g)
        {
            gd_tgroup parsed;
            gd_tgroup_parse(g, m == GD_MODE_CLB, &parsed, err, errlen);
            gd_tgroup *x = E.tgs;
            while (x && (x->removed || strcmp(x->name, parsed.name) != 0)) x = x->next;
            if (!x) {
                x = gd_calloc(1, sizeof *x);
                *x = parsed;
                x->next = E.tgs;
                E.tgs = x;
            } else {
                /* Settings change in place; targets, rotation and counters stay. */
                gd_target *targets = x->targets;
                gd_tgroup *next = x->next;
                unsigned rr = x->rr;
                int inflight = x->inflight;
                uint64_t requests = x->requests;
                *x = parsed;
                x->targets = targets;
                x->next = next;
                x->rr = rr;
                x->inflight = inflight;
                x->requests = requests;
            }
            gd_tgroup_sync(x, E.loop, json_object_get(g, "targets"), &E.draining, &added, &removed);
            ntargets += (int)json_array_size(json_object_get(g, "targets"));
        }
        json_decref(docs);
        gd_rules_free(&E.rules);
        json_t *def = m == GD_MODE_CLB
                          ? json_pack("{s:s,s:s}", "type", "forward", "target_group", "default")
                          : json_incref(json_object_get(doc, "default_action"));
        /* Only live groups may be named by rules. */
        gd_tgroup *live = NULL, **tail = &live, *dead = NULL;
        while (E.tgs) {
            gd_tgroup *x = E.tgs;
            E.tgs = x->next;
            x->next = NULL;
            if (x->removed) {
                x->next = dead;
                dead = x;
            } else {
                *tail = x;
                tail = &x->next;
            }
        }
        E.tgs = live;
        gd_rules_parse(json_object_get(doc, "rules"), def, E.tgs, &E.rules, err, errlen);
        json_decref(def);
        /* Removed groups wait for their requests in flight, then go. */
        *tail = dead;
    }
    const char *al = json_string_value(json_object_get(doc, "access_log"));
    if (al && !E.access_log) {
        E.access_log = fopen(al, "a");
        if (!E.access_log) gd_warn("access_log_failed", "path=%s", gd_log_q(al));
    }
    const char *id = json_string_value(json_object_get(doc, "id"));
    const char *name = json_string_value(json_object_get(doc, "name"));
    snprintf(E.id, sizeof E.id, "%s", id ? id : "edge");
    snprintf(E.name, sizeof E.name, "%s", name ? name : E.id);
    json_decref(E.config);
    E.config = json_deep_copy(doc);
    E.version++;
    gd_info("config_applied", "version=%llu mode=%s targets=%d added=%d removed=%d listen=%s",
            (unsigned long long)E.version, json_string_value(json_object_get(doc, "mode")),
            ntargets, added, removed, E.listen);
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
        "name", E.name, "mode",
        E.mode == GD_MODE_CDN   ? "cdn"
        : E.mode == GD_MODE_ALB ? "alb"
                                : "clb",
        "listen", E.listen, "version", (json_int_t)E.version, "requests", (json_int_t)E.c.requests,
        "healthy", healthy, "unhealthy", unhealthy, "2xx", (json_int_t)E.c.target_2xx_5xx[2], "3xx",
        (json_int_t)E.c.target_2xx_5xx[3], "4xx", (json_int_t)E.c.target_2xx_5xx[4], "5xx",
        (json_int_t)E.c.target_2xx_5xx[5], "elb_4xx", (json_int_t)E.c.elb_4xx, "elb_5xx",
        (json_int_t)E.c.elb_5xx, "retries", (json_int_t)E.c.retries, "backend_connection_errors",
        (json_int_t)E.c.backend_conn_errors, "active_connections",
        (json_int_t)(E.front ? E.front->nconns : 0), "target_groups", groups, "targets", ts);
    if (E.mode == GD_MODE_CDN) json_object_set_new(j, "cache", gd_cdn_stats(&E));
    return j;
}

static void metrics(gd_http_conn *c)
{
    gd_buf b;
    gd_buf_init(&b, 4 << 20);
    char l[128];
    snprintf(l, sizeof l, "LoadBalancer=\"%s\"", E.name);
    gd_prom_head(&b, "RequestCount", "counter", "Requests received");
    gd_prom_sample(&b, "RequestCount", l, (double)E.c.requests);
    gd_prom_head(&b, "NewConnectionCount", "counter", "Client connections accepted");
    gd_prom_sample(&b, "NewConnectionCount", l, E.front ? (double)E.front->accepted : 0);
    gd_prom_head(&b, "ActiveConnectionCount", "gauge", "Client connections open");
    gd_prom_sample(&b, "ActiveConnectionCount", l, E.front ? E.front->nconns : 0);
    gd_prom_head(&b, "ProcessedBytes", "counter", "Bytes received and sent");
    gd_prom_sample(&b, "ProcessedBytes", l, (double)E.c.bytes);
    static const char *codes[] = {"", "1XX", "2XX", "3XX", "4XX", "5XX"};
    for (int k = 2; k <= 5; k++) {
        char n[48];
        snprintf(n, sizeof n, "HTTPCode_Target_%s_Count", codes[k]);
        gd_prom_head(&b, n, "counter", "Answers from targets by status class");
        gd_prom_sample(&b, n, l, (double)E.c.target_2xx_5xx[k]);
    }
    gd_prom_head(&b, "HTTPCode_ELB_4XX_Count", "counter", "4xx made by the load balancer");
    gd_prom_sample(&b, "HTTPCode_ELB_4XX_Count", l, (double)E.c.elb_4xx);
    gd_prom_head(&b, "HTTPCode_ELB_5XX_Count", "counter", "5xx made by the load balancer");
    gd_prom_sample(&b, "HTTPCode_ELB_5XX_Count", l, (double)E.c.elb_5xx);
    gd_prom_head(&b, "TargetResponseTime", "gauge", "Mean seconds (game time) targets took");
    gd_prom_sample(&b, "TargetResponseTime", l,
                   E.c.target_time_n ? E.c.target_time_sum / (double)E.c.target_time_n : 0);
    gd_prom_head(&b, "BackendConnectionErrors", "counter", "Failed exchanges with targets");
    gd_prom_sample(&b, "BackendConnectionErrors", l, (double)E.c.backend_conn_errors);
    gd_prom_head(&b, "gameday_edge_retries_total", "counter", "Requests retried on another target");
    gd_prom_sample(&b, "gameday_edge_retries_total", l, (double)E.c.retries);
    gd_prom_head(&b, "HealthyHostCount", "gauge", "Targets in service");
    gd_prom_head(&b, "UnHealthyHostCount", "gauge", "Targets out of service");
    gd_prom_head(&b, "RequestCountPerTarget", "gauge", "Requests per registered target");
    for (gd_tgroup *g = E.tgs; g; g = g->next) {
        if (g->removed) continue;
        int h, u;
        gd_tgroup_counts(g, &h, &u);
        char lg[256];
        snprintf(lg, sizeof lg, "%s,TargetGroup=\"%s\"", l, g->name);
        gd_prom_sample(&b, "HealthyHostCount", lg, h);
        gd_prom_sample(&b, "UnHealthyHostCount", lg, u);
        gd_prom_sample(&b, "RequestCountPerTarget", lg, h + u ? (double)g->requests / (h + u) : 0);
    }
    gd_prom_head(&b, "gameday_edge_config_version", "gauge", "Configurations applied");
    gd_prom_sample(&b, "gameday_edge_config_version", l, (double)E.version);
    if (E.mode == GD_MODE_CDN) gd_cdn_metrics(&E, &b, l);
    gd_http_respond(c, 200, NULL, "text/plain; version=0.0.4", b.data, b.len);
    gd_buf_free(&b);
}

static int authorized(const gd_http_req *req)
{
    size_t n;
    const char *a = gd_http_header_get(req->headers, req->nheaders, "authorization", &n);
    size_t tl = strlen(E.token);
    return tl > 0 && a && n == tl + 7 && !strncmp(a, "Bearer ", 7) && !memcmp(a + 7, E.token, tl);
}

static int path_is(const gd_http_req *r, const char *p)
{
    size_t n = strlen(p);
    return r->path_len == n && !memcmp(r->path, p, n);
}

static json_t *body_json(gd_http_conn *c, gd_http_req *req)
{
    if (!authorized(req)) {
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
    char err[256] = "";
    if (path_is(req, "/health")) {
        gd_http_respond(c, 200, NULL, "text/plain", "ok\n", 3);
    } else if (path_is(req, "/metrics")) {
        metrics(c);
    } else if (path_is(req, "/stats")) {
        gd_http_respond_json(c, 200, stats_json());
    } else if (path_is(req, "/config") && req->method == HTTP_GET) {
        gd_http_respond_json(c, 200, E.config ? json_incref(E.config) : json_object());
    } else if (path_is(req, "/config") && req->method == HTTP_PUT) {
        json_t *doc = body_json(c, req);
        if (!doc) return;
        int r = config_load(doc, err, sizeof err);
        json_decref(doc);
        if (r < 0) {
            gd_warn("config_rejected", "reason=%s", gd_log_q(err));
            gd_http_respond_error(c, 400, "InvalidConfig", err);
            return;
        }
        gd_http_respond_json(c, 200, json_pack("{s:I}", "version", (json_int_t)E.version));
    } else if (path_is(req, "/invalidations") && req->method == HTTP_POST) {
        json_t *doc = body_json(c, req);
        if (!doc) return;
        int n = E.mode == GD_MODE_CDN
                    ? gd_cdn_invalidate(&E, json_object_get(doc, "paths"), err, sizeof err)
                    : (snprintf(err, sizeof err, "only a cdn edge has a cache"), GD_EINVAL);
        json_decref(doc);
        if (n < 0)
            gd_http_respond_error(c, 400, "InvalidInvalidation", err);
        else
            gd_http_respond_json(c, 200, json_pack("{s:i}", "invalidated", n));
    } else {
        gd_http_respond_error(c, 404, "NotFound",
                              "admin paths: /config /stats /metrics /health /invalidations");
    }
}

static void on_signal(uv_signal_t *s, int signum)
{
    gd_info("stopping", "signal=%d", signum);
    if (E.access_log && E.access_buf.len) {
        fwrite(E.access_buf.data, 1, E.access_buf.len, E.access_log);
        fflush(E.access_log);
    }
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
                    "Runs one load balancer (mode clb or alb) or CDN (mode cdn). The admin\n"
                    "listener takes PUT /config and POST /invalidations (Authorization: Bearer\n"
                    "$GAMEDAY_ADMIN_TOKEN) and serves GET /config, /stats, /metrics, /health.\n"
                    "See doc/edge.md.\n");
            return !strcmp(argv[i], "--help") ? 0 : 2;
        }
    }
    gd_log_init("edge");
    if (gd_clock_from_env() < 0) gd_clock_set(1.0, gd_clock_mono_ns());
    signal(SIGPIPE, SIG_IGN);
    E.loop = uv_default_loop();
    E.token = getenv("GAMEDAY_ADMIN_TOKEN");
    if (!E.token) E.token = "";
    E.idle_timeout = 60;
    E.idle_ms = gd_clock_wall_ms(60000);
    gd_buf_init(&scratch_req, GD_HTTP_MAX_HEAD + GD_HTTP_MAX_BODY + 4096);
    gd_buf_init(&scratch_resp, 16 * 1024 * 1024);
    gd_buf_init(&E.access_buf, 64 << 20);
    unsigned char key[32];
    if (getrandom(key, sizeof key, 0) != (ssize_t)sizeof key) memset(key, 7, sizeof key);
    gd_sticky_set_secret(key, sizeof key);
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
    uv_timer_init(E.loop, &E.housekeeping);
    uv_timer_start(&E.housekeeping, on_housekeeping, 100, 100);
    uv_signal_t sigterm, sigint;
    uv_signal_init(E.loop, &sigterm);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_init(E.loop, &sigint);
    uv_signal_start(&sigint, on_signal, SIGINT);
    gd_info("ready", "admin=%s listen=%s", admin ? admin : "-", E.listen[0] ? E.listen : "-");
    uv_run(E.loop, UV_RUN_DEFAULT);
    return 0;
}
