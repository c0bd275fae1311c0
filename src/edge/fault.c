/* The edge's network faults (fault.h): the config's "faults" checked and put in force,
 * the draws, and what each kind does. Client faults act here on the front connection
 * (core/http.c paces, delays closes and resets it); upstream faults become the options
 * of the request to the target (core/httpc.c delays it, answers it in the target's
 * stead, fails it, reads its answer slowly or closes its connection late). */
#include "edge/fault.h"
#include "edge/edge.h"
#include "core/addr.h"
#include "core/check.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/promtext.h"
#include "core/rand.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#define E gd_the_edge
#define HOLD_MAGIC 0x484f4c44u

gd_edge_faults_on gd_edge_faults_now;

static gd_edge_fault_set live; /* the faults in force */
static uint64_t gen = 1;       /* changes with the set: connections are drawn again */
static gd_rand rng;

static const char *const kinds[] = {"latency",   "error",     "reset",
                                    "bandwidth", "blackhole", "slow_close"};
static const char *const links[] = {"client", "upstream"};
#define KINDS_ALLOWED "latency, error, reset, bandwidth, blackhole, slow_close"

void gd_edge_faults_init(void)
{
    uint64_t seed;
    if (getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed) seed = (uint64_t)uv_hrtime();
    gd_rand_seed(&rng, seed);
}

/* ---- the config's "faults" ---- */

static int pick(const char *s, const char *const *names, int n)
{
    for (int i = 0; s && i < n; i++)
        if (!strcmp(s, names[i])) return i;
    return -1;
}

/* An optional number field in lo..hi (def when absent); required: absent is an error. */
static int num(const json_t *o, const char *k, double def, double lo, double hi, int required,
               const char *unit, double *out, const char *where, char *err, size_t errlen)
{
    json_t *v = json_object_get(o, k);
    if (!v && !required) {
        *out = def;
        return 0;
    }
    if (!v || !json_is_number(v) || json_number_value(v) < lo || json_number_value(v) > hi) {
        snprintf(err, errlen, "field '%s.%s': %sa number in %g..%g%s", where, k,
                 v ? "" : "required, ", lo, hi, unit);
        return GD_EINVAL;
    }
    *out = json_number_value(v);
    return 0;
}

/* Ids go into log lines and metric labels as they are: printable ASCII, no space, no
 * quote, no backslash. */
static int id_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > GD_EDGE_FAULT_ID_MAX) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= ' ' || ch >= 0x7f || ch == '"' || ch == '\\') return 0;
    }
    return 1;
}

#define FIELDS_ALLOWED                                                                             \
    "id, kind, link, probability, latency_ms, jitter_ms, status, bytes_per_s, delay_ms, targets"

/* A field a fault does not have is refused: a misspelt "jitter" would else be a fault
 * that silently does less than asked. */
static int known_field(const char *k)
{
    static const char *const fields[] = {"id",         "kind",      "link",   "probability",
                                         "latency_ms", "jitter_ms", "status", "bytes_per_s",
                                         "delay_ms",   "targets"};
    return pick(k, fields, (int)(sizeof fields / sizeof fields[0])) >= 0;
}

static int parse_one(const json_t *j, const char *where, gd_edge_fault *f, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    if (!json_is_object(j)) {
        snprintf(err, errlen, "field '%s': must be an object {\"id\", \"kind\", \"link\", ...}",
                 where);
        return GD_EINVAL;
    }
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)j, key, val)
    {
        if (!known_field(key)) {
            snprintf(err, errlen, "field '%s.%.40s': unknown (allowed: " FIELDS_ALLOWED ")", where,
                     key);
            return GD_EINVAL;
        }
    }
    const char *id = json_string_value(json_object_get(j, "id"));
    if (!id_ok(id)) {
        snprintf(err, errlen,
                 "field '%s.id': required, a text of 1..%d printable characters without "
                 "spaces, quotes or backslashes",
                 where, GD_EDGE_FAULT_ID_MAX);
        return GD_EINVAL;
    }
    snprintf(f->id, sizeof f->id, "%s", id);
    const char *kind = json_string_value(json_object_get(j, "kind"));
    int k = pick(kind, kinds, (int)(sizeof kinds / sizeof kinds[0]));
    if (k < 0) {
        if (kind)
            snprintf(err, errlen, "field '%s.kind': '%.40s' (allowed: " KINDS_ALLOWED ")", where,
                     kind);
        else
            snprintf(err, errlen, "field '%s.kind': required (allowed: " KINDS_ALLOWED ")", where);
        return GD_EINVAL;
    }
    f->kind = (enum gd_edge_fault_kind)k;
    const char *link = json_string_value(json_object_get(j, "link"));
    int l = pick(link, links, 2);
    if (l < 0) {
        snprintf(err, errlen, "field '%s.link': %s (allowed: client, upstream)", where,
                 link ? "unknown" : "required");
        return GD_EINVAL;
    }
    f->link = (enum gd_edge_fault_link)l;
    double status;
    if (num(j, "probability", 1, 0, 1, 0, " (the share of requests it hits)", &f->probability,
            where, err, errlen) ||
        num(j, "latency_ms", 0, 0, 60000, f->kind == GD_EDGE_FAULT_LATENCY, " milliseconds",
            &f->latency_ms, where, err, errlen) ||
        num(j, "jitter_ms", 0, 0, 60000, 0, " milliseconds", &f->jitter_ms, where, err, errlen) ||
        num(j, "status", 503, 400, 599, 0, " (an HTTP status)", &status, where, err, errlen) ||
        num(j, "bytes_per_s", 0, 1, 1e9, f->kind == GD_EDGE_FAULT_BANDWIDTH, " bytes per second",
            &f->bytes_per_s, where, err, errlen) ||
        num(j, "delay_ms", 0, 0, 60000, f->kind == GD_EDGE_FAULT_SLOW_CLOSE, " milliseconds",
            &f->delay_ms, where, err, errlen))
        return GD_EINVAL;
    json_t *st = json_object_get(j, "status");
    if (st && !json_is_integer(st)) {
        snprintf(err, errlen, "field '%s.status': an integer in 400..599", where);
        return GD_EINVAL;
    }
    f->status = (int)status;
    f->ntargets = -1;
    json_t *ts = json_object_get(j, "targets");
    if (!ts) return 0;
    if (f->link != GD_EDGE_FAULT_UPSTREAM) {
        snprintf(err, errlen,
                 "field '%s.targets': only on an upstream fault (a client fault hits every "
                 "viewer)",
                 where);
        return GD_EINVAL;
    }
    if (!json_is_array(ts) || json_array_size(ts) > GD_EDGE_FAULT_TARGETS_MAX) {
        snprintf(err, errlen,
                 "field '%s.targets': a list of at most %d addresses \"IP:PORT\" (absent: every "
                 "target)",
                 where, GD_EDGE_FAULT_TARGETS_MAX);
        return GD_EINVAL;
    }
    size_t i;
    json_t *t;
    f->ntargets = 0;
    json_array_foreach(ts, i, t)
    {
        const char *a = json_string_value(t);
        gd_edge_fault_target *x = &f->targets[f->ntargets];
        if (!a || gd_hostport_parse(a, &x->ip, &x->port) < 0 || (x->ip >> 24) != 127) {
            snprintf(err, errlen, "field '%s.targets[%zu]': must be \"IP:PORT\" in 127.0.0.0/8",
                     where, i);
            return GD_EINVAL;
        }
        f->ntargets++;
    }
    return 0;
}

int gd_edge_faults_parse(const json_t *list, gd_edge_fault_set *out, char *err, size_t errlen)
{
    out->n = 0;
    if (!list || json_is_null(list)) return 0;
    if (!json_is_array(list) || json_array_size(list) > GD_EDGE_FAULTS_MAX) {
        snprintf(err, errlen,
                 "field 'faults': a list of at most %d faults {\"id\", \"kind\", \"link\", ...}",
                 GD_EDGE_FAULTS_MAX);
        return GD_EINVAL;
    }
    size_t i;
    json_t *j;
    json_array_foreach(list, i, j)
    {
        char where[32];
        snprintf(where, sizeof where, "faults[%zu]", i);
        gd_edge_fault *f = &out->f[i];
        if (parse_one(j, where, f, err, errlen) < 0) return GD_EINVAL;
        for (size_t k = 0; k < i; k++)
            if (!strcmp(out->f[k].id, f->id)) {
                snprintf(err, errlen,
                         "field '%s.id': '%s' is also faults[%zu]'s (ids are unique in the list)",
                         where, f->id, k);
                return GD_EINVAL;
            }
        out->n = (int)i + 1;
    }
    return 0;
}

/* ---- putting a set in force ---- */

static int same_params(const gd_edge_fault *a, const gd_edge_fault *b)
{
    return a->kind == b->kind && a->link == b->link && a->probability == b->probability &&
           a->latency_ms == b->latency_ms && a->jitter_ms == b->jitter_ms &&
           a->status == b->status && a->bytes_per_s == b->bytes_per_s &&
           a->delay_ms == b->delay_ms && a->ntargets == b->ntargets &&
           (a->ntargets <= 0 ||
            !memcmp(a->targets, b->targets, (size_t)a->ntargets * sizeof a->targets[0]));
}

static const gd_edge_fault *find(const gd_edge_fault_set *s, const char *id)
{
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->f[i].id, id)) return &s->f[i];
    return NULL;
}

void gd_edge_faults_apply(const gd_edge_fault_set *set)
{
    gd_edge_fault_set *next = gd_malloc(sizeof *next);
    *next = *set;
    int changed = 0;
    for (int i = 0; i < live.n; i++)
        if (!find(next, live.f[i].id)) {
            gd_info("fault_cleared", "id=%s kind=%s link=%s applied=%llu", live.f[i].id,
                    kinds[live.f[i].kind], links[live.f[i].link],
                    (unsigned long long)live.f[i].applied);
            changed = 1;
        }
    int client = 0, upstream = 0;
    for (int i = 0; i < next->n; i++) {
        gd_edge_fault *f = &next->f[i];
        const gd_edge_fault *was = find(&live, f->id);
        f->applied = was && was->kind == f->kind && was->link == f->link ? was->applied : 0;
        if (f->link == GD_EDGE_FAULT_CLIENT)
            client++;
        else
            upstream++;
        if (was && same_params(was, f)) continue;
        changed = 1;
        gd_info("fault_set",
                "id=%s kind=%s link=%s probability=%g latency_ms=%g jitter_ms=%g status=%d "
                "bytes_per_s=%g delay_ms=%g targets=%d",
                f->id, kinds[f->kind], links[f->link], f->probability, f->latency_ms, f->jitter_ms,
                f->kind == GD_EDGE_FAULT_ERROR ? f->status : 0, f->bytes_per_s, f->delay_ms,
                f->ntargets);
    }
    /* Same order as the config, so that the first terminal fault of the list decides. */
    live = *next;
    gd_free(next);
    if (changed) gen++;
    gd_edge_faults_now.client = client;
    gd_edge_faults_now.upstream = upstream;
    gd_edge_faults_now.touched |= client > 0;
}

/* ---- draws ---- */

static int hit(const gd_edge_fault *f)
{
    return f->probability >= 1 || gd_rand_double(&rng) < f->probability;
}

/* A latency, uniformly within +-jitter, never below 0 (milliseconds). */
static double latency_of(const gd_edge_fault *f)
{
    double v = f->latency_ms;
    if (f->jitter_ms > 0) v += (2 * gd_rand_double(&rng) - 1) * f->jitter_ms;
    return v < 0 ? 0 : v;
}

/* ---- the client link ---- */

enum hold_what { HOLD_SERVE, HOLD_ERROR, HOLD_BLACKHOLE };

/* A front request the faults keep for a while: to be served (latency), answered with an
 * error (latency and error), or never answered (blackhole, until the idle timeout). */
struct hold {
    uint32_t magic;
    uv_timer_t timer;
    gd_http_conn *conn;
    enum hold_what what;
    int status;
    char body[GD_EDGE_FAULT_ID_MAX + 32];
    gd_http_req req; /* HOLD_SERVE: a copy of the request, its bytes in data */
    char *data;
};

/* Copies a request whose pointers are valid only during the handler call. */
static char *req_copy(const gd_http_req *in, gd_http_req *out)
{
    size_t n = in->url_len + in->body_len + 1;
    for (int i = 0; i < in->nheaders; i++) n += in->headers[i].name_len + in->headers[i].value_len;
    char *data = gd_malloc(n), *w = data;
    *out = *in;
#define COPY(dst, src, len)                                                                        \
    do {                                                                                           \
        memcpy(w, (src), (len));                                                                   \
        (dst) = w;                                                                                 \
        w += (len);                                                                                \
    } while (0)
    COPY(out->url, in->url, in->url_len);
    /* path and query lie in the url (or path is a constant "/") */
    if (in->path >= in->url && in->path < in->url + in->url_len)
        out->path = out->url + (in->path - in->url);
    if (in->query) out->query = out->url + (in->query - in->url);
    for (int i = 0; i < in->nheaders; i++) {
        COPY(out->headers[i].name, in->headers[i].name, in->headers[i].name_len);
        COPY(out->headers[i].value, in->headers[i].value, in->headers[i].value_len);
    }
    COPY(out->body, in->body, in->body_len);
#undef COPY
    *w = 0;
    return data;
}

/* The answer of an error fault: the edge's own, the target never asked. */
static void answer_fault(gd_http_conn *c, int status, const char *body)
{
    if (status >= 500)
        E.c.elb_5xx++;
    else
        E.c.elb_4xx++;
    gd_http_respond(c, status, "Server: gameday-edge\r\n", "text/plain", body, strlen(body));
}

static void hold_closed(uv_handle_t *h)
{
    struct hold *x = h->data;
    GD_CHECK_OBJ(x, HOLD_MAGIC);
    x->magic = 0;
    gd_free(x->data);
    gd_free(x);
}

static void on_hold(uv_timer_t *t)
{
    struct hold *x = t->data;
    GD_CHECK_OBJ(x, HOLD_MAGIC);
    gd_http_conn *c = x->conn;
    /* The viewer may have gone meanwhile: then the request is only released. */
    if (x->what == HOLD_BLACKHOLE || gd_http_conn_closing(c))
        gd_http_conn_abort(c, 0);
    else if (x->what == HOLD_ERROR)
        answer_fault(c, x->status, x->body);
    else
        gd_edge_serve(c, &x->req);
    uv_close((uv_handle_t *)t, hold_closed);
}

static void hold(gd_http_conn *c, const gd_http_req *req, enum hold_what what,
                 const gd_edge_fault *err, uint64_t ms)
{
    struct hold *x = gd_calloc(1, sizeof *x);
    x->magic = HOLD_MAGIC;
    x->conn = c;
    x->what = what;
    if (err) {
        x->status = err->status;
        snprintf(x->body, sizeof x->body, "fault injected: %s", err->id);
    }
    if (what == HOLD_SERVE) x->data = req_copy(req, &x->req);
    uv_timer_init(E.loop, &x->timer);
    x->timer.data = x;
    uv_timer_start(&x->timer, on_hold, ms, 0);
}

int gd_edge_faults_client(gd_http_conn *c, gd_http_req *req)
{
    uintptr_t mark = (uintptr_t)gd_http_conn_data(c);
    if (gd_edge_faults_now.client == 0) {
        /* No client fault now: what an earlier set did to this connection ends. */
        if (mark) {
            gd_http_conn_set_rate(c, 0);
            gd_http_conn_set_close_delay(c, 0);
            gd_http_conn_set_data(c, NULL);
        }
        return 0;
    }
    /* Once per connection (and set): reset when its request arrives, slow close. */
    if (mark != (uintptr_t)gen) {
        gd_http_conn_set_data(c, (void *)(uintptr_t)gen);
        double close_delay = 0;
        for (int i = 0; i < live.n; i++) {
            gd_edge_fault *f = &live.f[i];
            if (f->link != GD_EDGE_FAULT_CLIENT) continue;
            if (f->kind == GD_EDGE_FAULT_RESET && hit(f)) {
                f->applied++;
                gd_http_conn_abort(c, 1);
                return 1;
            }
            if (f->kind == GD_EDGE_FAULT_SLOW_CLOSE && hit(f)) {
                f->applied++;
                if (f->delay_ms > close_delay) close_delay = f->delay_ms;
            }
        }
        gd_http_conn_set_close_delay(c, (uint64_t)(close_delay + 0.5));
    }
    /* Per request: the first error or blackhole of the list decides; latencies add up;
     * the lowest rate holds. */
    const gd_edge_fault *err = NULL, *hole = NULL;
    double delay = 0, rate = 0;
    for (int i = 0; i < live.n; i++) {
        gd_edge_fault *f = &live.f[i];
        if (f->link != GD_EDGE_FAULT_CLIENT) continue;
        switch (f->kind) {
        case GD_EDGE_FAULT_LATENCY:
            if (!hit(f)) continue;
            delay += latency_of(f);
            break;
        case GD_EDGE_FAULT_ERROR:
        case GD_EDGE_FAULT_BLACKHOLE:
            if (err || hole || !hit(f)) continue;
            if (f->kind == GD_EDGE_FAULT_ERROR)
                err = f;
            else
                hole = f;
            break;
        case GD_EDGE_FAULT_BANDWIDTH:
            if (!hit(f)) continue;
            if (rate == 0 || f->bytes_per_s < rate) rate = f->bytes_per_s;
            break;
        default: /* per connection, above */
            continue;
        }
        f->applied++;
    }
    gd_http_conn_set_rate(c, (uint64_t)rate);
    if (hole) {
        hold(c, req, HOLD_BLACKHOLE, NULL, E.idle_ms ? E.idle_ms : 1);
        return 1;
    }
    uint64_t ms = (uint64_t)(delay + 0.5);
    if (ms) {
        hold(c, req, err ? HOLD_ERROR : HOLD_SERVE, err, ms);
        return 1;
    }
    if (err) {
        char body[GD_EDGE_FAULT_ID_MAX + 32];
        snprintf(body, sizeof body, "fault injected: %s", err->id);
        answer_fault(c, err->status, body);
        return 1;
    }
    return 0;
}

/* ---- the upstream link ---- */

static int targets(const gd_edge_fault *f, uint32_t ip, int port)
{
    if (f->ntargets < 0) return 1;
    for (int i = 0; i < f->ntargets; i++)
        if (f->targets[i].ip == ip && f->targets[i].port == port) return 1;
    return 0;
}

int gd_edge_faults_send(gd_httpc_pool *p, uint32_t ip, int port, const char *req, size_t len,
                        int copy, uint64_t timeout_ms, gd_httpc_cb cb, void *ud)
{
    gd_httpc_opts o = {.timeout_ms = timeout_ms};
    char body[GD_EDGE_FAULT_ID_MAX + 32];
    double delay = 0, close_delay = 0, rate = 0;
    for (int i = 0; i < live.n; i++) {
        gd_edge_fault *f = &live.f[i];
        if (f->link != GD_EDGE_FAULT_UPSTREAM || !targets(f, ip, port)) continue;
        int terminal = f->kind == GD_EDGE_FAULT_ERROR || f->kind == GD_EDGE_FAULT_RESET ||
                       f->kind == GD_EDGE_FAULT_BLACKHOLE;
        if ((terminal && o.fate != GD_HTTPC_SEND) || !hit(f)) continue;
        f->applied++;
        switch (f->kind) {
        case GD_EDGE_FAULT_LATENCY:
            delay += latency_of(f);
            break;
        case GD_EDGE_FAULT_ERROR:
            o.fate = GD_HTTPC_ANSWER;
            o.status = f->status;
            snprintf(body, sizeof body, "fault injected: %s", f->id);
            o.body = body;
            break;
        case GD_EDGE_FAULT_RESET:
            o.fate = GD_HTTPC_RESET;
            break;
        case GD_EDGE_FAULT_BLACKHOLE:
            o.fate = GD_HTTPC_DROP;
            break;
        case GD_EDGE_FAULT_BANDWIDTH:
            if (rate == 0 || f->bytes_per_s < rate) rate = f->bytes_per_s;
            break;
        case GD_EDGE_FAULT_SLOW_CLOSE:
            if (f->delay_ms > close_delay) close_delay = f->delay_ms;
            break;
        }
    }
    o.delay_ms = (uint64_t)(delay + 0.5);
    o.read_rate = (uint64_t)rate;
    o.close_delay_ms = (uint64_t)(close_delay + 0.5);
    return gd_httpc_request_opts(p, req, len, copy, &o, cb, ud);
}

/* ---- admin ---- */

json_t *gd_edge_faults_json(void)
{
    json_t *a = json_array();
    for (int i = 0; i < live.n; i++) {
        const gd_edge_fault *f = &live.f[i];
        json_array_append_new(a,
                              json_pack("{s:s,s:s,s:s,s:I}", "id", f->id, "kind", kinds[f->kind],
                                        "link", links[f->link], "applied", (json_int_t)f->applied));
    }
    return a;
}

void gd_edge_faults_metrics(gd_buf *b)
{
    gd_prom_head(b, "gameday_edge_fault_applied_total", "counter",
                 "Requests (connections, for reset and slow_close) a network fault hit");
    for (int i = 0; i < live.n; i++) {
        const gd_edge_fault *f = &live.f[i];
        char l[GD_EDGE_FAULT_ID_MAX + 64];
        snprintf(l, sizeof l, "id=\"%s\",kind=\"%s\",link=\"%s\"", f->id, kinds[f->kind],
                 links[f->link]);
        gd_prom_sample(b, "gameday_edge_fault_applied_total", l, (double)f->applied);
    }
}
