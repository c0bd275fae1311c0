/* clb and alb forwarding: the listener rules choose a target group, the group a
 * target; the request is rewritten and sent through the target's pool, the answer
 * relayed, a failed connection retried once elsewhere, and each exchange logged. */
#include "edge/proxy.h"
#include "edge/fault.h"
#include "core/check.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PROXY_MAGIC 0x50525859u
#define MIN_RETRIES 20

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

void gd_proxy_init(void)
{
    gd_buf_init(&scratch_req, GD_HTTP_MAX_HEAD + GD_HTTP_MAX_BODY + 4096);
    gd_buf_init(&scratch_resp, 16 * 1024 * 1024);
}

/* ---- small helpers ---- */

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
    int r = gd_edge_faults_request(t->pool, t->ip, t->port, px->req, px->len, 0, E.idle_ms,
                                   on_backend, px);
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
    GD_CHECK_OBJ(px, PROXY_MAGIC);
    gd_target *t = px->target;
    GD_CHECK_OBJ(t, GD_TARGET_MAGIC);
    GD_CHECK_OBJ(px->tg, GD_TGROUP_MAGIC);
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
    } else if (px->tg->lambda && resp->status == 429) {
        /* A throttled function: the ALB answers 503 of its own, as AWS's does. */
        access_log(px, 503, 429, 0);
        gd_edge_error(px->conn, 503, "the Lambda function is throttled (TooManyRequestsException)");
    } else {
        double ms = gd_clock_game_ms(uv_hrtime() - px->start_ns);
        E.c.target_time_sum += ms / 1000.0;
        E.c.target_time_n++;
        gd_hist_add(&E.c.target_hist, (uint64_t)(ms * 1000.0));
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
        cookie = gd_http_cookie(req, tg->sticky == GD_STICKY_LB ? "GDALB" : "GDALBAPP", &cl);
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

/* Serves one front request: the first matching rule's action. */
static void lb_serve(gd_edge *e, gd_http_conn *c, gd_http_req *req)
{
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

/* Checks the target groups and rules of a clb or alb document. */
static int lb_check(const json_t *doc, enum gd_edge_mode m, char *err, size_t errlen)
{
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

static int clb_check(const json_t *doc, char *err, size_t errlen)
{
    return lb_check(doc, GD_MODE_CLB, err, errlen);
}

static int alb_check(const json_t *doc, char *err, size_t errlen)
{
    return lb_check(doc, GD_MODE_ALB, err, errlen);
}

/* Applies the groups and rules of a checked document. Groups and targets that stay keep
 * their pools and health. */
static int lb_apply(gd_edge *e, enum gd_edge_mode m, const json_t *doc, gd_edge_changes *ch,
                    char *err, size_t errlen)
{
    int added = 0, removed = 0, ntargets = 0;
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
    ch->targets = ntargets;
    ch->added = added;
    ch->removed = removed;
    return 0;
}

static int clb_apply(gd_edge *e, const json_t *doc, gd_edge_changes *ch, char *err, size_t errlen)
{
    return lb_apply(e, GD_MODE_CLB, doc, ch, err, errlen);
}

static int alb_apply(gd_edge *e, const json_t *doc, gd_edge_changes *ch, char *err, size_t errlen)
{
    return lb_apply(e, GD_MODE_ALB, doc, ch, err, errlen);
}

/* The rules; the groups and targets are the host's (drained by its housekeeping). */
static void lb_free(gd_edge *e)
{
    gd_rules_free(&e->rules);
}

const gd_edge_mode_ops gd_clb_ops = {
    .name = "clb",
    .check = clb_check,
    .apply = clb_apply,
    .serve = lb_serve,
    .free = lb_free,
};

const gd_edge_mode_ops gd_alb_ops = {
    .name = "alb",
    .check = alb_check,
    .apply = alb_apply,
    .serve = lb_serve,
    .free = lb_free,
};
