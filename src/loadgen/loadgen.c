/* `gameday loadgen`: one team's customers. Open loop: requests leave on a Poisson
 * schedule at the scenario's rate whether or not earlier ones returned, latency counts
 * from the scheduled time, every answer's hash is checked, and the results go to the
 * server once a wall second as a report it turns into score. */
#include "loadgen/loadgen.h"
#include "core/resolver.h"
#include "loadgen/shoppers.h"
#include "core/addr.h"
#include "core/buf.h"
#include "core/check.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/hash.h"
#include "core/hist.h"
#include "core/httpc.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/promtext.h"
#include "core/rand.h"
#include "model/scenario.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TICK_MS 1
#define MAX_PENDING_REPORTS 3600

struct window {
    uint64_t n[4]; /* by gd_outcome */
    double points;
    gd_hist hist; /* latency of answered requests, game microseconds */
};

struct report {
    struct report *next;
    char *body;
    size_t len;
};

static struct {
    uv_loop_t *loop;
    gd_scenario *sc;
    int team;
    double rate_override; /* > 0: constant game rps instead of the scenario's */
    double duration;
    uint64_t reports_taken; /* reports the server answered (metrics) */
    gd_rand rnd;
    gd_zipf *zipf;  /* one per key phase of the scenario */
    double next_at; /* game seconds of the next arrival */
    gd_httpc_pool *pool;
    char endpoint[32];
    gd_httpc_pool *server;
    char server_addr[32];
    const char *token;
    uv_timer_t tick, report_timer;
    struct window w;
    double w_start;
    uint64_t seq;
    struct report *rq_head, *rq_tail;
    int rq_len, report_inflight;
    uint64_t total[4], sent, inflight;
    int stopping, done;
    gd_http_server metrics;
} L;

#define CALL_MAGIC 0x43414c4cu

struct call {
    uint32_t magic;
    uint64_t sched_ns; /* monotonic time the request was due */
    uint64_t key;      /* the key's number: the request asks for "k<key>" */
    int customer;      /* with DNS: who sends it (-1: none) */
    uint32_t ip;       /* with DNS: where it went */
    struct call *next; /* in its customer's wait for an answer */
};

/* ---- customers who find the service by name (the scenario's dns.resolve) ----
 *
 * Each of dns.customers customers has a stub resolver of its own: it looks the name up
 * when it has no answer or its answer's TTL ran out, and sends to one address of the
 * answer (picked at random, as resolvers rotate them). A seeded share of them (stale
 * share) keeps its answer past the TTL, until a request to it fails. */

#define MAX_DESTS 256   /* distinct addresses customers send to (a pool each) */
#define MAX_WAITING 256 /* requests one customer holds while its lookup runs */

struct customer {
    uint32_t ip; /* its answer (0: none) */
    double expires;
    int keeper, resolving, nwaiting;
    struct call *waiting;
};

static struct {
    int on;
    char name[256];
    int port;
    struct customer *c;
    int n;
    gd_rand rnd; /* apart from the keys' stream: teams see the same keys whatever DNS says */
    struct {
        uint32_t ip;
        gd_httpc_pool *pool;
        uint64_t sent;
    } dest[MAX_DESTS];
    int ndest;
} C;

/* ---- customers ---- */

static void record(enum gd_outcome o, double latency_s)
{
    L.w.n[o]++;
    L.total[o]++;
    L.w.points += gd_scenario_points(L.sc, o, latency_s);
    if (o == GD_OK_ANSWER) gd_hist_add(&L.w.hist, (uint64_t)(latency_s * 1e6));
}

/* WhatsTheTime.com's customers: key number k asks for zone k of this list. */
static const char *const zones[] = {
    "UTC",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Moscow",
    "Africa/Cairo",
    "Africa/Lagos",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
    "America/Sao_Paulo",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Mexico_City",
    "America/Toronto",
    "Pacific/Honolulu",
};
#define NZONES (sizeof zones / sizeof zones[0])

static int is_time(void)
{
    return L.sc->service && !strcmp(L.sc->service, "time");
}

/* MyClothes.com: the customers are shoppers (loadgen/shoppers.c), one visit each. */
static int is_shop(void)
{
    return gd_scenario_is_shop(L.sc);
}

/* A right answer of the time service: the zone asked, and a UTC time within 30 s of
 * ours (the instance's clock is the host's). */
static int check_time(const gd_httpc_resp *resp, uint64_t keyno)
{
    json_t *j = json_loadb(resp->body, resp->body_len, 0, NULL);
    const char *tz = json_string_value(json_object_get(j, "tz"));
    const char *utc = json_string_value(json_object_get(j, "utc"));
    struct tm tm = {0};
    int ok = tz && utc && !strcmp(tz, zones[keyno % NZONES]) &&
             strptime(utc, "%Y-%m-%dT%H:%M:%SZ", &tm) != NULL;
    if (ok) {
        double d = difftime(timegm(&tm), time(NULL));
        ok = d > -30 && d < 30;
    }
    json_decref(j);
    return ok;
}

static int check_answer(const gd_httpc_resp *resp, uint64_t keyno)
{
    if (is_time()) return check_time(resp, keyno);
    char key[32];
    int kl = snprintf(key, sizeof key, "k%llu", (unsigned long long)keyno);
    char want[65];
    gd_hash_key(L.sc->salt, key, (size_t)kl, want);
    json_t *j = json_loadb(resp->body, resp->body_len, 0, NULL);
    const char *h = json_string_value(json_object_get(j, "hash"));
    const char *k = json_string_value(json_object_get(j, "key"));
    int ok = h && k && !strcmp(h, want) && !strcmp(k, key);
    json_decref(j);
    return ok;
}

static void on_answer(void *ud, int err, const gd_httpc_resp *resp)
{
    struct call *c = ud;
    GD_CHECK_OBJ(c, CALL_MAGIC);
    L.inflight--;
    double lat = gd_clock_game_ms(uv_hrtime() - c->sched_ns) / 1000.0;
    if (err == GD_ETIMEDOUT || (!err && lat > L.sc->client_timeout))
        record(GD_TIMEOUT, lat);
    else if (err)
        record(GD_ERROR, lat);
    else if (resp->status != 200)
        record(GD_ERROR, lat);
    else
        record(check_answer(resp, c->key) ? GD_OK_ANSWER : GD_WRONG, lat);
    /* A customer that keeps answers past their TTL lets go of one that failed it. */
    if (err && c->customer >= 0 && C.c[c->customer].keeper && C.c[c->customer].ip == c->ip)
        C.c[c->customer].ip = 0;
    c->magic = 0;
    gd_free(c);
}

/* Sends c's request through pool (the endpoint's, or the pool of the address its
 * customer resolved). */
static void send_call(struct call *c, gd_httpc_pool *pool, const char *host)
{
    if (!pool) {
        c->magic = 0;
        gd_free(c);
        record(GD_ERROR, 0);
        return;
    }
    char req[320];
    int n = is_time() ? snprintf(req, sizeof req,
                                 "GET /time?tz=%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: "
                                 "gameday-customer\r\n\r\n",
                                 zones[c->key % NZONES], host)
                      : snprintf(req, sizeof req,
                                 "GET /?key=k%llu HTTP/1.1\r\nHost: %s\r\nUser-Agent: "
                                 "gameday-customer\r\n\r\n",
                                 (unsigned long long)c->key, host);
    uint64_t now = uv_hrtime();
    double left_ms =
        L.sc->client_timeout * 1000.0 / gd_clock_speed() - (double)(now - c->sched_ns) / 1e6;
    if (left_ms < 1) left_ms = 1;
    L.inflight++;
    if (gd_httpc_request(pool, req, (size_t)n, (uint64_t)left_ms, on_answer, c) < 0) {
        L.inflight--;
        c->magic = 0;
        gd_free(c);
        record(GD_ERROR, 0);
    }
}

static gd_httpc_pool *dest_pool(uint32_t ip)
{
    for (int i = 0; i < C.ndest; i++)
        if (C.dest[i].ip == ip) {
            C.dest[i].sent++;
            return C.dest[i].pool;
        }
    if (C.ndest == MAX_DESTS) return NULL;
    C.dest[C.ndest].ip = ip;
    C.dest[C.ndest].pool = gd_httpc_pool_new(L.loop, ip, C.port, 4096, 65536);
    C.dest[C.ndest].sent = 1;
    return C.dest[C.ndest++].pool;
}

static void send_to_customer_ip(struct call *c, uint32_t ip)
{
    c->ip = ip;
    send_call(c, dest_pool(ip), C.name);
}

static void on_resolved(void *ud, int err, const uint32_t *ips, int n, double ttl)
{
    int k = (int)(intptr_t)ud;
    struct customer *cu = &C.c[k];
    cu->resolving = 0;
    if (!err && n > 0) {
        cu->ip = ips[gd_rand_u64(&C.rnd) % (uint64_t)n];
        cu->expires = gd_clock_now() + ttl;
    } else {
        cu->ip = 0;
    }
    struct call *w = cu->waiting;
    cu->waiting = NULL;
    cu->nwaiting = 0;
    while (w) {
        struct call *next = w->next;
        if (cu->ip) {
            send_to_customer_ip(w, cu->ip);
        } else {
            w->magic = 0;
            gd_free(w);
            record(GD_ERROR, 0); /* no answer from DNS: the customer cannot even try */
        }
        w = next;
    }
}

static void send_dns(struct call *c)
{
    int k = (int)(gd_rand_u64(&C.rnd) % (uint64_t)C.n);
    struct customer *cu = &C.c[k];
    c->customer = k;
    if (cu->ip && (cu->keeper || gd_clock_now() < cu->expires)) {
        send_to_customer_ip(c, cu->ip);
        return;
    }
    if (cu->nwaiting >= MAX_WAITING) {
        c->magic = 0;
        gd_free(c);
        record(GD_ERROR, 0);
        return;
    }
    c->next = cu->waiting;
    cu->waiting = c;
    cu->nwaiting++;
    if (!cu->resolving) {
        cu->resolving = 1;
        gd_resolver_lookup(C.name, on_resolved, (void *)(intptr_t)k);
    }
}

static void send_one(uint64_t sched_ns)
{
    struct call *c = gd_calloc(1, sizeof *c);
    c->magic = CALL_MAGIC;
    c->sched_ns = sched_ns;
    c->customer = -1;
    double t = gd_clock_now();
    c->key =
        gd_scenario_key_of(L.sc, t, gd_zipf_next(&L.zipf[gd_scenario_key_phase(L.sc, t)], &L.rnd));
    L.sent++;
    if (C.on)
        send_dns(c);
    else
        send_call(c, L.pool, L.endpoint);
}

static double rate_at(double t)
{
    return L.rate_override > 0 ? L.rate_override : gd_scenario_rate(L.sc, t);
}

static void on_tick(uv_timer_t *t)
{
    if (L.stopping) return;
    uint64_t now_ns = uv_hrtime();
    double now = gd_clock_game_at(now_ns);
    if (now >= L.duration) {
        L.stopping = 1;
        uv_timer_stop(&L.tick);
        if (is_shop()) gd_shoppers_stop();
        gd_info("customers_done", "sent=%llu", (unsigned long long)(L.sent + gd_shoppers_sent()));
        return;
    }
    /* Every arrival due by now goes out, stamped with its own due time. */
    int burst = 0;
    while (L.next_at <= now && burst < 100000) {
        double r = rate_at(L.next_at);
        if (r <= 0) {
            L.next_at = (double)((long)L.next_at + 1);
            continue;
        }
        double due = L.next_at;
        if (due >= 0) {
            uint64_t due_ns = gd_clock_epoch_ns() + (uint64_t)(due / gd_clock_speed() * 1e9);
            if (is_shop())
                gd_shoppers_arrive(due_ns); /* a shopper whose visit starts then */
            else
                send_one(due_ns);
            burst++;
        }
        L.next_at += gd_rand_exp(&L.rnd, r);
    }
    if (is_shop()) gd_shoppers_tick(now_ns);
}

/* ---- reports ---- */

static void report_send(void);

static void on_report_answer(void *ud, int err, const gd_httpc_resp *resp)
{
    L.report_inflight = 0;
    if (err || resp->status >= 500) {
        return; /* kept; retried on the next timer */
    }
    struct report *r = L.rq_head;
    if (r) {
        L.rq_head = r->next;
        if (!L.rq_head) L.rq_tail = NULL;
        L.rq_len--;
        L.reports_taken++;
        gd_free(r->body);
        gd_free(r);
    }
    if (resp->status >= 400) {
        gd_warn("report_refused", "status=%d body=%s", resp->status, gd_log_q(resp->body));
    } else {
        json_t *j = json_loadb(resp->body, resp->body_len, 0, NULL);
        /* The instructor may extend or end the game: the server's duration is the one. */
        json_t *jd = json_object_get(j, "duration");
        if (json_is_number(jd) && !L.stopping && json_number_value(jd) > 0 &&
            json_number_value(jd) != L.duration) {
            gd_info("duration_changed", "from=%.0f to=%.0f", L.duration, json_number_value(jd));
            L.duration = json_number_value(jd);
        }
        const char *ep = json_string_value(json_object_get(j, "endpoint"));
        if (!C.on && ep && strcmp(ep, L.endpoint) != 0) {
            uint32_t ip;
            int port;
            /* The old pool finishes what it carries, then closes: switching costs no
             * request. */
            if (L.pool) gd_httpc_pool_drain(L.pool);
            L.pool = NULL;
            snprintf(L.endpoint, sizeof L.endpoint, "%s", ep);
            if (gd_hostport_parse(ep, &ip, &port) == 0)
                L.pool = gd_httpc_pool_new(L.loop, ip, port, 4096, 65536);
            if (is_shop()) gd_shoppers_set_endpoint(L.pool, L.endpoint);
            gd_info("endpoint", "addr=%s", *ep ? ep : "-");
        }
        json_decref(j);
    }
    if (L.rq_head)
        report_send();
    else if (L.done)
        uv_stop(L.loop);
}

static void report_send(void)
{
    if (L.report_inflight || !L.rq_head || !L.server) return;
    gd_buf b;
    gd_buf_init(&b, 1 << 22);
    gd_buf_printf(
        &b,
        "POST /api/v1/internal/report HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
        "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
        L.server_addr, L.token, L.rq_head->len);
    gd_buf_append(&b, L.rq_head->body, L.rq_head->len);
    if (gd_httpc_request(L.server, b.data, b.len, 5000, on_report_answer, NULL) == 0)
        L.report_inflight = 1;
    gd_buf_free(&b);
}

static void report_make(double t1)
{
    json_t *j = json_pack(
        "{s:i,s:I,s:f,s:f,s:I,s:I,s:I,s:I,s:f,s:I,s:I,s:o}", "team", L.team, "seq",
        (json_int_t)++L.seq, "t0", L.w_start, "t1", t1, "ok", (json_int_t)L.w.n[GD_OK_ANSWER],
        "error", (json_int_t)L.w.n[GD_ERROR], "timeout", (json_int_t)L.w.n[GD_TIMEOUT], "wrong",
        (json_int_t)L.w.n[GD_WRONG], "points", L.w.points, "sent",
        (json_int_t)(L.sent + gd_shoppers_sent()), "inflight",
        (json_int_t)(L.inflight + gd_shoppers_inflight()), "hist", gd_hist_to_json(&L.w.hist));
    if (is_shop()) json_object_set_new(j, "shop", gd_shoppers_report());
    memset(&L.w, 0, sizeof L.w);
    L.w_start = t1;
    if (!L.server) { /* nobody to tell: the totals are logged at the end */
        json_decref(j);
        return;
    }
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    struct report *r = gd_calloc(1, sizeof *r);
    r->body = gd_strdup(s);
    r->len = strlen(s);
    free(s);
    if (L.rq_tail)
        L.rq_tail->next = r;
    else
        L.rq_head = r;
    L.rq_tail = r;
    L.rq_len++;
    if (L.rq_len > MAX_PENDING_REPORTS) gd_warn("reports_backlog", "pending=%d", L.rq_len);
    memset(&L.w, 0, sizeof L.w);
    L.w_start = t1;
}

static void on_report_timer(uv_timer_t *t)
{
    double now = gd_clock_now();
    /* The last requests get the client timeout (and a wall second) to end. */
    uint64_t inflight = L.inflight + gd_shoppers_inflight();
    int drained = inflight == 0 || now > L.duration + L.sc->client_timeout + gd_clock_speed();
    if (L.stopping && drained && !L.done) {
        if (inflight) gd_warn("unfinished_requests", "inflight=%llu", (unsigned long long)inflight);
        report_make(now);
        L.done = 1;
        uv_timer_stop(&L.report_timer);
        uv_timer_start(&L.report_timer, on_report_timer, 1000, 1000);
    } else if (!L.done) {
        report_make(now);
    }
    if (L.done && !L.rq_head) {
        uv_stop(L.loop);
        return;
    }
    report_send();
}

/* ---- metrics ---- */

static void on_metrics(gd_http_conn *c, gd_http_req *req, void *ud)
{
    static const char *names[] = {"ok", "error", "timeout", "wrong"};
    if (req->path_len == 7 && !memcmp(req->path, "/orders", 7)) {
        /* the shoppers' last verified orders, to read back through the shop */
        json_t *o = is_shop() ? gd_shoppers_orders() : json_array();
        char *s = json_dumps(o, JSON_COMPACT);
        gd_http_respond(c, 200, NULL, "application/json", s, strlen(s));
        free(s);
        json_decref(o);
        return;
    }
    gd_buf b;
    gd_buf_init(&b, 1 << 20);
    gd_prom_head(&b, "gameday_loadgen_requests_total", "counter", "Customer requests by outcome");
    for (int i = 0; i < 4; i++) {
        char l[64];
        snprintf(l, sizeof l, "team=\"%d\",outcome=\"%s\"", L.team, names[i]);
        gd_prom_sample(&b, "gameday_loadgen_requests_total", l, (double)L.total[i]);
    }
    char l[32];
    snprintf(l, sizeof l, "team=\"%d\"", L.team);
    gd_prom_head(&b, "gameday_loadgen_inflight", "gauge", "Requests sent and not answered");
    gd_prom_sample(&b, "gameday_loadgen_inflight", l, (double)L.inflight);
    gd_prom_head(&b, "gameday_loadgen_pending_reports", "gauge",
                 "Reports the server has not taken");
    gd_prom_sample(&b, "gameday_loadgen_pending_reports", l, L.rq_len);
    gd_prom_head(&b, "gameday_loadgen_reports_total", "counter", "Reports the server has taken");
    gd_prom_sample(&b, "gameday_loadgen_reports_total", l, (double)L.reports_taken);
    gd_prom_head(&b, "gameday_loadgen_clock_seconds", "gauge",
                 "The game clock as this loadgen reads it (it stands still while paused)");
    gd_prom_sample(&b, "gameday_loadgen_clock_seconds", l, gd_clock_now());
    if (is_shop()) gd_shoppers_metrics(&b, L.team);
    if (C.on) {
        gd_prom_head(&b, "gameday_loadgen_dns_lookups_total", "counter",
                     "Lookups of the service's name by the customers' resolvers");
        gd_prom_sample(&b, "gameday_loadgen_dns_lookups_total", l, (double)gd_resolver_asked());
        gd_prom_head(&b, "gameday_loadgen_dns_failures_total", "counter",
                     "Lookups that got no address (NXDOMAIN, no data, timeout)");
        gd_prom_sample(&b, "gameday_loadgen_dns_failures_total", l, (double)gd_resolver_failed());
        gd_prom_head(&b, "gameday_loadgen_sent_by_address_total", "counter",
                     "Requests sent, by the address the customer's answer gave");
        for (int i = 0; i < C.ndest; i++) {
            char ipb[16], dl[64];
            snprintf(dl, sizeof dl, "team=\"%d\",address=\"%s\"", L.team,
                     gd_ip_format(C.dest[i].ip, ipb));
            gd_prom_sample(&b, "gameday_loadgen_sent_by_address_total", dl, (double)C.dest[i].sent);
        }
    }
    gd_http_respond(c, 200, NULL, "text/plain; version=0.0.4", b.data, b.len);
    gd_buf_free(&b);
}

static void on_signal(uv_signal_t *s, int signum)
{
    gd_info("stopping", "signal=%d sent=%llu", signum, (unsigned long long)L.sent);
    fflush(stderr);
    _exit(0);
}

static int usage(int rc)
{
    fprintf(
        rc ? stderr : stdout,
        "usage: gameday loadgen --scenario FILE --team N --server IP:PORT [--endpoint IP:PORT]\n"
        "         [--dns IP:PORT --resolve NAME] [--rate RPS] [--duration D] [--metrics IP:PORT]\n"
        "The token comes from GAMEDAY_INTERNAL_TOKEN, the clock from GAMEDAY_SPEED and\n"
        "GAMEDAY_EPOCH_NS. --rate replaces the scenario's rate by a constant (game rps).\n"
        "With --dns, customers find the service by looking NAME up there (the scenario's\n"
        "dns section: port, customers, stale_share) instead of being told an endpoint.\n");
    return rc;
}

int gd_cmd_loadgen(int argc, char **argv)
{
    const char *scen = NULL, *server = NULL, *endpoint = NULL, *maddr = NULL, *dur = NULL;
    const char *dns = NULL, *resolve = NULL;
    L.team = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help")) return usage(0);
        if (!v) return usage(2);
        if (!strcmp(a, "--scenario"))
            scen = v;
        else if (!strcmp(a, "--team"))
            L.team = atoi(v);
        else if (!strcmp(a, "--server"))
            server = v;
        else if (!strcmp(a, "--endpoint"))
            endpoint = v;
        else if (!strcmp(a, "--rate"))
            L.rate_override = atof(v);
        else if (!strcmp(a, "--duration"))
            dur = v;
        else if (!strcmp(a, "--metrics"))
            maddr = v;
        else if (!strcmp(a, "--dns"))
            dns = v;
        else if (!strcmp(a, "--resolve"))
            resolve = v;
        else
            return usage(2);
        i++;
    }
    if (!scen) return usage(2);
    gd_log_init("loadgen");
    if (gd_clock_from_env() < 0) gd_clock_set(1.0, gd_clock_mono_ns());
    signal(SIGPIPE, SIG_IGN);
    gd_errs errs = {0};
    if (gd_scenario_load(scen, &L.sc, &errs) < 0) {
        for (int i = 0; i < errs.n; i++) fprintf(stderr, "%s\n", errs.msgs[i]);
        gd_errs_free(&errs);
        return 1;
    }
    L.duration = L.sc->duration;
    if (dur && gd_duration_parse(dur, &L.duration) < 0) {
        fprintf(stderr, "gameday loadgen: --duration: not a duration (e.g. 20m, 4h)\n");
        return 2;
    }
    L.loop = uv_default_loop();
    L.token = getenv("GAMEDAY_INTERNAL_TOKEN");
    if (!L.token) L.token = "";
    /* Same seed for every team: every team gets the same customers. */
    gd_rand_seed(&L.rnd, L.sc->seed);
    L.zipf = gd_calloc((size_t)L.sc->nkey_phases, sizeof *L.zipf);
    for (int i = 0; i < L.sc->nkey_phases; i++)
        if (gd_zipf_init(&L.zipf[i], L.sc->key_phases[i].space, L.sc->key_phases[i].zipf) < 0)
            return 1;
    uint32_t ip;
    int port;
    if (dns) {
        if (!resolve || strlen(resolve) >= sizeof C.name || gd_resolver_init(L.loop, dns) < 0)
            return usage(2);
        C.on = 1;
        snprintf(C.name, sizeof C.name, "%s", resolve);
        C.port = L.sc->dns.port;
        C.n = L.sc->dns.customers;
        C.c = gd_calloc((size_t)C.n, sizeof *C.c);
        gd_rand_seed(&C.rnd, L.sc->seed ^ 0x646e73ull);
        for (int i = 0; i < C.n; i++)
            C.c[i].keeper = gd_rand_double(&C.rnd) < L.sc->dns.stale_share;
    }
    if (endpoint && *endpoint) {
        if (gd_hostport_parse(endpoint, &ip, &port) < 0) return usage(2);
        snprintf(L.endpoint, sizeof L.endpoint, "%s", endpoint);
        L.pool = gd_httpc_pool_new(L.loop, ip, port, 4096, 65536);
    }
    if (is_shop()) {
        if (gd_shoppers_init(L.loop, L.sc, record) < 0) return 1;
        gd_shoppers_set_endpoint(L.pool, L.endpoint);
    }
    if (server) {
        if (gd_hostport_parse(server, &ip, &port) < 0) return usage(2);
        snprintf(L.server_addr, sizeof L.server_addr, "%s", server);
        L.server = gd_httpc_pool_new(L.loop, ip, port, 1, 16);
    }
    if (maddr) {
        char ipb[16];
        if (gd_hostport_parse(maddr, &ip, &port) < 0) return usage(2);
        gd_http_server_init(&L.metrics, L.loop, on_metrics, NULL);
        if (gd_http_server_listen(&L.metrics, gd_ip_format(ip, ipb), port) < 0)
            gd_warn("metrics_listen_failed", "addr=%s", maddr);
    }
    /* Report numbers grow across restarts of this loadgen (the server drops numbers it
     * has seen): start from the monotonic clock in microseconds. */
    L.seq = gd_clock_mono_ns() / 1000;
    double now = gd_clock_now();
    L.next_at = now > 0 ? now : 0;
    L.w_start = L.next_at;
    uv_timer_init(L.loop, &L.tick);
    uv_timer_start(&L.tick, on_tick, 0, TICK_MS);
    uv_timer_init(L.loop, &L.report_timer);
    uv_timer_start(&L.report_timer, on_report_timer, 1000, 1000);
    uv_signal_t sigterm, sigint;
    uv_signal_init(L.loop, &sigterm);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_init(L.loop, &sigint);
    uv_signal_start(&sigint, on_signal, SIGINT);
    gd_info("ready", "team=%d endpoint=%s resolve=%s dns=%s server=%s duration=%.0f customers=%s",
            L.team, L.endpoint[0] ? L.endpoint : "-", C.on ? C.name : "-", dns ? dns : "-",
            server ? server : "-", L.duration, is_shop() ? "shoppers" : "requests");
    uv_run(L.loop, UV_RUN_DEFAULT);
    gd_info("done", "ok=%llu error=%llu timeout=%llu wrong=%llu", (unsigned long long)L.total[0],
            (unsigned long long)L.total[1], (unsigned long long)L.total[2],
            (unsigned long long)L.total[3]);
    fflush(stderr);
    _exit(0);
}
