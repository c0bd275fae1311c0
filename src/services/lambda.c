/* `gameday lambda`: one function (the `function` resource, Lambda-like). It answers
 * invocations on its address (an ALB target group of target_type lambda sends them
 * here) and runs each in an execution environment: a real `gameday instance` process
 * of its own, with one slot, on the function's address and a port of its own. An
 * invocation takes an idle environment (warm), or starts a new one (a cold start: the
 * process starts, then the function's init time passes) while the function is below
 * its concurrency; past it, the invocation is throttled (429 TooManyRequestsException).
 * An environment idle for the idle timeout is stopped. The server configures it over
 * the admin port (PUT /config) and reads its counters (GET /stats): invocations,
 * throttles, cold starts, durations, for the function's metrics and its bill. */
#include "services/lambda.h"
#include "core/addr.h"
#include "core/admin.h"
#include "core/check.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/http.h"
#include "core/httpc.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/promtext.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define ENV_MAGIC 0x454e5631u
#define INV_MAGIC 0x494e5631u
#define MAX_ENVS 256
#define FIRST_PORT 20000

enum env_state { ENV_STARTING, ENV_IDLE, ENV_BUSY, ENV_GONE };

struct inv;

struct env {
    uint32_t magic;
    int slot; /* its port is FIRST_PORT + slot */
    enum env_state state;
    uv_process_t proc;
    int exited;
    uint64_t spawned_ms, idle_since_ms; /* loop time */
    uint64_t init_until_ms;             /* a cold start: not before this */
    gd_httpc_pool *pool;
    struct inv *inv; /* the invocation it runs or will run */
    int probing;
    struct env *next;
};

struct inv {
    uint32_t magic;
    gd_http_conn *conn;
    char *req;
    size_t len;
    uint64_t t0_ns;
    int cold;
    struct env *env;
};

static struct {
    uv_loop_t *loop;
    gd_admin admin;
    gd_http_server front;
    char ip[16];
    int port;
    char exe[4096];
    /* configuration (PUT /config) */
    int concurrency;   /* at most this many environments */
    double init_ms;    /* game ms of a cold start's init */
    double idle_s;     /* game seconds an idle environment lives */
    double timeout_ms; /* game ms an invocation may run */
    double service_ms; /* game ms one invocation holds its environment */
    double memory_mb;  /* billed GB-seconds: memory x duration */
    char release[8];   /* the unicorn service's release */
    char service[16];  /* unicorn or time */
    int configured;
    /* environments */
    struct env *envs;
    char used[MAX_ENVS];
    uv_timer_t sweep;
    /* counters */
    uint64_t invocations, throttles, cold_starts, errors, timeouts, completed, inits;
    double duration_ms, init_total_ms, gb_s; /* game ms, billed GB-seconds */
    int busy, peak;
} F;

static void start_inv(struct env *e);

static double jnum(const json_t *o, const char *k, double def)
{
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : def;
}

static int live_envs(void)
{
    int n = 0;
    for (struct env *e = F.envs; e; e = e->next) n += e->state != ENV_GONE;
    return n;
}

static void env_unlink(struct env *e)
{
    for (struct env **pp = &F.envs; *pp; pp = &(*pp)->next)
        if (*pp == e) {
            *pp = e->next;
            return;
        }
}

static void on_env_closed(uv_handle_t *h)
{
    struct env *e = h->data;
    GD_CHECK_OBJ(e, ENV_MAGIC);
    F.used[e->slot] = 0;
    e->magic = 0;
    gd_free(e);
}

static void answer_error(struct inv *v, int status, const char *type, const char *msg)
{
    char extra[96];
    snprintf(extra, sizeof extra, "X-Amzn-ErrorType: %s\r\n", type);
    json_t *j = json_pack("{s:s,s:s}", "errorType", type, "message", msg);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    gd_http_respond(v->conn, status, extra, "application/json", s, strlen(s));
    free(s);
}

static void inv_free(struct inv *v)
{
    v->magic = 0;
    gd_free(v->req);
    gd_free(v);
}

/* The environment is done with: its process is stopped (or already gone). */
static void env_retire(struct env *e, const char *why)
{
    if (e->state == ENV_GONE) return;
    e->state = ENV_GONE;
    if (e->inv) {
        F.busy--;
        answer_error(e->inv, 502, "Unhandled", "the execution environment stopped");
        F.errors++;
        inv_free(e->inv);
        e->inv = NULL;
    }
    gd_info("env_stopped", "slot=%d reason=%s", e->slot, why);
    if (e->pool) gd_httpc_pool_close(e->pool);
    e->pool = NULL;
    if (!e->exited) uv_process_kill(&e->proc, SIGTERM);
}

static void on_env_exit(uv_process_t *p, int64_t status, int sig)
{
    struct env *e = p->data;
    GD_CHECK_OBJ(e, ENV_MAGIC);
    e->exited = 1;
    if (e->state != ENV_GONE) {
        gd_warn("env_exited", "slot=%d status=%lld signal=%d", e->slot, (long long)status, sig);
        env_retire(e, "exited");
    }
    env_unlink(e);
    uv_close((uv_handle_t *)p, on_env_closed);
}

static void on_probe(void *ud, int err, const gd_httpc_resp *resp);

/* A starting environment is ready once its process answers /health and its init time
 * has passed. */
static void probe(struct env *e)
{
    if (e->probing || e->state != ENV_STARTING || !e->pool) return;
    static const char q[] = "GET /health HTTP/1.1\r\nHost: env\r\n\r\n";
    if (gd_httpc_request(e->pool, q, sizeof q - 1, 50, on_probe, e) == 0) e->probing = 1;
}

static void on_probe(void *ud, int err, const gd_httpc_resp *resp)
{
    struct env *e = ud;
    GD_CHECK_OBJ(e, ENV_MAGIC);
    e->probing = 0;
    if (e->state != ENV_STARTING) return;
    if (err || resp->status != 200) return; /* the sweep asks again */
    if (uv_now(F.loop) < e->init_until_ms) return;
    double init = (double)(uv_now(F.loop) - e->spawned_ms);
    F.init_total_ms += gd_clock_game_ms((uint64_t)(init * 1e6));
    F.inits++;
    gd_info("env_ready", "slot=%d init_wall_ms=%.0f", e->slot, init);
    if (e->inv) {
        e->state = ENV_BUSY;
        start_inv(e);
    } else {
        e->state = ENV_IDLE;
        e->idle_since_ms = uv_now(F.loop);
    }
}

static struct env *spawn_env(void)
{
    int slot = -1;
    for (int i = 0; i < MAX_ENVS && slot < 0; i++)
        if (!F.used[i]) slot = i;
    if (slot < 0) return NULL;
    struct env *e = gd_calloc(1, sizeof *e);
    e->magic = ENV_MAGIC;
    e->slot = slot;
    char addr[48], sms[32], id[48];
    snprintf(addr, sizeof addr, "%s:%d", F.ip, FIRST_PORT + slot);
    snprintf(sms, sizeof sms, "%.0f", F.service_ms);
    snprintf(id, sizeof id, "env-%d", slot);
    char *args[] = {F.exe,     "instance", F.service,      "--addr", addr,   "--slots", "1",
                    "--queue", "0",        "--service-ms", sms,      "--id", id,        "--release",
                    F.release, NULL};
    uv_process_options_t o = {0};
    o.file = F.exe;
    o.args = args;
    o.exit_cb = on_env_exit;
    uv_stdio_container_t io[3] = {{.flags = UV_IGNORE},
                                  {.flags = UV_INHERIT_FD, .data.fd = 2},
                                  {.flags = UV_INHERIT_FD, .data.fd = 2}};
    o.stdio = io;
    o.stdio_count = 3;
    e->proc.data = e;
    int r = uv_spawn(F.loop, &e->proc, &o);
    if (r < 0) {
        gd_error("env_spawn_failed", "err=%s", uv_strerror(r));
        e->magic = 0;
        gd_free(e);
        return NULL;
    }
    F.used[slot] = 1;
    uint32_t ip;
    gd_ip_parse(F.ip, &ip);
    e->pool = gd_httpc_pool_new(F.loop, ip, FIRST_PORT + slot, 1, 4);
    e->state = ENV_STARTING;
    e->spawned_ms = uv_now(F.loop);
    e->init_until_ms = e->spawned_ms + gd_clock_wall_ms(F.init_ms);
    e->next = F.envs;
    F.envs = e;
    F.cold_starts++;
    gd_info("env_cold_start", "slot=%d pid=%d", slot, e->proc.pid);
    return e;
}

static void on_answer(void *ud, int err, const gd_httpc_resp *resp)
{
    struct env *e = ud;
    GD_CHECK_OBJ(e, ENV_MAGIC);
    struct inv *v = e->inv;
    if (!v) return;
    GD_CHECK_OBJ(v, INV_MAGIC);
    e->inv = NULL;
    F.busy--;
    double ms = gd_clock_game_ms(gd_clock_mono_ns() - v->t0_ns);
    /* Billed: the duration rounded up to the millisecond, times the memory in GB. */
    double billed = ms < 1 ? 1 : (double)(uint64_t)(ms + 0.999);
    F.duration_ms += ms;
    F.completed++;
    F.gb_s += billed / 1000.0 * F.memory_mb / 1024.0;
    if (err) {
        int timed_out = err == GD_ETIMEDOUT;
        F.errors++;
        F.timeouts += timed_out;
        answer_error(v, timed_out ? 504 : 502, timed_out ? "Sandbox.Timedout" : "Unhandled",
                     timed_out ? "Task timed out" : "the execution environment failed");
        inv_free(v);
        env_retire(e, timed_out ? "invocation timed out" : "invocation failed");
        return;
    }
    if (resp->status >= 500) F.errors++;
    size_t n = 0;
    const char *ct = NULL;
    for (int i = 0; i < resp->nheaders; i++)
        if (resp->headers[i].name_len == 12 &&
            !strncasecmp(resp->headers[i].name, "content-type", 12)) {
            ct = resp->headers[i].value;
            n = resp->headers[i].value_len;
        }
    char ctype[96] = "application/json";
    if (ct) snprintf(ctype, sizeof ctype, "%.*s", (int)(n < 95 ? n : 95), ct);
    char extra[160];
    snprintf(extra, sizeof extra, "X-Amz-Executed-Version: $LATEST\r\nX-Gameday-Cold-Start: %s\r\n",
             v->cold ? "true" : "false");
    gd_http_respond(v->conn, resp->status, extra, ctype, resp->body, resp->body_len);
    inv_free(v);
    e->state = ENV_IDLE;
    e->idle_since_ms = uv_now(F.loop);
}

static void start_inv(struct env *e)
{
    struct inv *v = e->inv;
    v->t0_ns = gd_clock_mono_ns();
    if (gd_httpc_request_ref(e->pool, v->req, v->len, gd_clock_wall_ms(F.timeout_ms), on_answer,
                             e) < 0) {
        e->inv = NULL;
        F.busy--;
        answer_error(v, 502, "Unhandled", "the execution environment is not reachable");
        F.errors++;
        inv_free(v);
        env_retire(e, "unreachable");
    }
}

static void on_front(gd_http_conn *c, gd_http_req *req, void *ud)
{
    (void)ud;
    if (gd_admin_path_is(req, "/health")) { /* the load balancer's check of the function */
        gd_http_respond(c, 200, NULL, "text/plain", "ok\n", 3);
        return;
    }
    if (!F.configured) {
        gd_http_respond_error(c, 503, "ServiceException", "the function is not configured yet");
        return;
    }
    F.invocations++;
    struct env *e = NULL;
    for (struct env *x = F.envs; x && !e; x = x->next)
        if (x->state == ENV_IDLE) e = x;
    int cold = 0;
    if (!e && live_envs() < F.concurrency) {
        e = spawn_env();
        cold = e != NULL;
    }
    if (!e) {
        F.throttles++;
        struct inv tmp = {.conn = c};
        answer_error(&tmp, 429, "TooManyRequestsException", "Rate Exceeded.");
        return;
    }
    struct inv *v = gd_calloc(1, sizeof *v);
    v->magic = INV_MAGIC;
    v->conn = c;
    v->cold = cold;
    size_t ul = req->url_len > 8000 ? 8000 : req->url_len;
    v->len = ul + 48;
    v->req = gd_malloc(v->len);
    v->len = (size_t)snprintf(v->req, v->len, "GET %.*s HTTP/1.1\r\nHost: function\r\n\r\n",
                              (int)ul, req->url);
    e->inv = v;
    F.busy++;
    if (F.busy > F.peak) F.peak = F.busy;
    if (e->state == ENV_IDLE) {
        e->state = ENV_BUSY;
        start_inv(e);
    } else {
        probe(e); /* a cold start: it runs once the environment is ready */
    }
}

/* Every 20 wall ms: starting environments are probed; idle ones past the idle timeout,
 * or beyond a lowered concurrency, stop. */
static void on_sweep(uv_timer_t *t)
{
    (void)t;
    uint64_t now = uv_now(F.loop), idle_ms = gd_clock_wall_ms(F.idle_s * 1000);
    int live = live_envs();
    for (struct env *e = F.envs; e; e = e->next) {
        if (e->state == ENV_STARTING) probe(e);
        if (e->state == ENV_IDLE && (now - e->idle_since_ms >= idle_ms || live > F.concurrency)) {
            env_retire(e, live > F.concurrency ? "over the concurrency" : "idle");
            live--;
        }
    }
}

static int load(const json_t *doc, char *err, size_t n)
{
    json_t *c = json_object_get(doc, "concurrency");
    const char *rel = json_string_value(json_object_get(doc, "release"));
    const char *svc = json_string_value(json_object_get(doc, "service"));
    if (!json_is_integer(c) || json_integer_value(c) < 0 || json_integer_value(c) > MAX_ENVS) {
        snprintf(err, n, "concurrency: an integer from 0 to %d", MAX_ENVS);
        return GD_EINVAL;
    }
    if (svc && strcmp(svc, "unicorn") && strcmp(svc, "time")) {
        snprintf(err, n, "service: unicorn or time");
        return GD_EINVAL;
    }
    if (rel && (strlen(rel) != 2 || rel[0] != 'v' || rel[1] < '1' || rel[1] > '4')) {
        snprintf(err, n, "release: v1 to v4");
        return GD_EINVAL;
    }
    F.concurrency = (int)json_integer_value(c);
    F.init_ms = jnum(doc, "init_ms", 1000);
    F.idle_s = jnum(doc, "idle_s", 600);
    F.timeout_ms = jnum(doc, "timeout_ms", 30000);
    F.service_ms = jnum(doc, "service_ms", 4000);
    F.memory_mb = jnum(doc, "memory_mb", 512);
    snprintf(F.release, sizeof F.release, "%s", rel ? rel : "v2");
    snprintf(F.service, sizeof F.service, "%s", svc ? svc : "unicorn");
    F.configured = 1;
    return 0;
}

static json_t *stats(void)
{
    int idle = 0, starting = 0;
    for (struct env *e = F.envs; e; e = e->next) {
        idle += e->state == ENV_IDLE;
        starting += e->state == ENV_STARTING;
    }
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:f,s:f,s:i,s:i,s:i,s:i,s:i,s:i}", "inits",
                     (json_int_t)F.inits, "invocations", (json_int_t)F.invocations, "completed",
                     (json_int_t)F.completed, "throttles", (json_int_t)F.throttles, "cold_starts",
                     (json_int_t)F.cold_starts, "errors", (json_int_t)F.errors, "timeouts",
                     (json_int_t)F.timeouts, "duration_ms", F.duration_ms, "init_ms",
                     F.init_total_ms, "gb_seconds", F.gb_s, "concurrent", F.busy, "peak", F.peak,
                     "environments", live_envs(), "idle", idle, "starting", starting, "concurrency",
                     F.concurrency);
}

static void metrics(gd_buf *b)
{
    static const struct {
        const char *name, *type, *help;
    } m[] = {
        {"gameday_function_invocations_total", "counter", "Invocations received"},
        {"gameday_function_throttles_total", "counter",
         "Invocations refused (429) at the concurrency"},
        {"gameday_function_cold_starts_total", "counter", "Execution environments started"},
        {"gameday_function_errors_total", "counter", "Invocations that failed (5xx)"},
        {"gameday_function_concurrent", "gauge", "Invocations running now"},
        {"gameday_function_environments", "gauge", "Execution environments alive"},
    };
    double v[] = {(double)F.invocations, (double)F.throttles, (double)F.cold_starts,
                  (double)F.errors,      (double)F.busy,      (double)live_envs()};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        gd_prom_head(b, m[i].name, m[i].type, m[i].help);
        gd_prom_sample(b, m[i].name, "", v[i]);
    }
}

static void before_exit(void)
{
    for (struct env *e = F.envs; e; e = e->next)
        if (!e->exited) kill(e->proc.pid, SIGTERM);
}

int gd_cmd_lambda(int argc, char **argv)
{
    const char *addr = NULL, *admin = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help")) {
            printf("usage: gameday lambda --addr IP:PORT --admin IP:PORT\n"
                   "Runs one function: invocations on --addr, each in an execution environment\n"
                   "(a gameday instance process of its own); configured over --admin (PUT\n"
                   "/config with GAMEDAY_ADMIN_TOKEN), counters at GET /stats and /metrics.\n");
            return 0;
        }
        if (i + 1 >= argc) break;
        if (!strcmp(argv[i], "--addr"))
            addr = argv[++i];
        else if (!strcmp(argv[i], "--admin"))
            admin = argv[++i];
    }
    uint32_t ip;
    int port;
    if (!addr || gd_hostport_parse(addr, &ip, &port) < 0 || !admin) {
        fprintf(stderr, "gameday lambda: --addr IP:PORT and --admin IP:PORT are required\n");
        return 2;
    }
    gd_daemon_init("lambda");
    ssize_t n = readlink("/proc/self/exe", F.exe, sizeof F.exe - 1);
    if (n <= 0) return 1;
    F.exe[n] = 0;
    gd_ip_format(ip, F.ip);
    F.port = port;
    F.loop = uv_default_loop();
    gd_admin_init(&F.admin, "/config /stats /metrics /health", stats, metrics, load);
    if (gd_admin_listen(&F.admin, F.loop, admin) < 0) return 1;
    gd_http_server_init(&F.front, F.loop, on_front, NULL);
    int r = gd_http_server_listen(&F.front, F.ip, port);
    if (r < 0) {
        gd_error("listen_failed", "addr=%s err=%s", addr, gd_strerror(r));
        return 1;
    }
    uv_timer_init(F.loop, &F.sweep);
    uv_timer_start(&F.sweep, on_sweep, 20, 20);
    gd_daemon_signals(F.loop, before_exit);
    gd_info("ready", "addr=%s admin=%s", addr, admin);
    uv_run(F.loop, UV_RUN_DEFAULT);
    return 0;
}
