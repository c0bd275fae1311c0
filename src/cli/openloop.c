/* `gameday openloop URL --rate R`: an open-loop HTTP load at one URL, for comparing
 * proxies at the same offered load (bench/edge/run). Requests are due on a fixed
 * schedule (every 1/R s, or Poisson) whether or not earlier ones have returned; each
 * goes out on an idle keep-alive connection (at most --conns, no pipelining) or waits
 * in line for one, and its latency counts from the time it was due, so a stall is
 * charged to every request it delays (no coordinated omission, unlike a closed-loop
 * tool such as wrk). One thread, raw epoll, nanosecond waits (epoll_pwait2). */
#include "cli/roles.h"
#include "core/hist.h"
#include "core/rand.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <http_parser.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 4096
#define MAX_QUEUE (1u << 22)

enum { C_CLOSED, C_CONNECTING, C_IDLE, C_BUSY };

struct conn {
    int fd;
    int state;
    uint64_t due_ns; /* when the request on it was due (we woke to send it) */
    int status;
    int complete;
    http_parser parser;
};

static struct {
    struct sockaddr_in addr;
    char req[1024];
    size_t req_len;
    int ep;
    struct conn *c;
    int nconns, max_conns;
    uint64_t *queue; /* due times of requests waiting for a connection, a ring */
    uint32_t qhead, qlen;
    uint64_t start_ns, measure_ns, end_ns, timeout_ns;
    uint64_t sent, ok, bad_status, errors, timeouts, dropped, connects;
    gd_hist lat; /* nanoseconds, measured part only */
    volatile sig_atomic_t stop;
} O;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int on_status(http_parser *p, const char *at, size_t len)
{
    (void)at;
    (void)len;
    ((struct conn *)p->data)->status = (int)p->status_code;
    return 0;
}

static int on_complete(http_parser *p)
{
    ((struct conn *)p->data)->complete = 1;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings settings = {.on_status = on_status,
                                              .on_message_complete = on_complete};

static void conn_close(struct conn *c)
{
    if (c->state == C_CLOSED) return;
    epoll_ctl(O.ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->state = C_CLOSED;
    O.nconns--;
}

/* A request that was out on c did not get its answer. */
static void fail(struct conn *c)
{
    if (c->state == C_BUSY && c->due_ns >= O.measure_ns) O.errors++;
    conn_close(c);
}

static struct conn *conn_open(void)
{
    struct conn *c = NULL;
    for (int i = 0; i < O.max_conns; i++)
        if (O.c[i].state == C_CLOSED) {
            c = &O.c[i];
            break;
        }
    if (!c) return NULL;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return NULL;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&O.addr, sizeof O.addr) < 0 && errno != EINPROGRESS) {
        close(fd);
        O.errors++;
        return NULL;
    }
    c->fd = fd;
    c->state = C_CONNECTING;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    epoll_ctl(O.ep, EPOLL_CTL_ADD, fd, &ev);
    O.nconns++;
    O.connects++;
    return c;
}

static void send_on(struct conn *c, uint64_t due)
{
    c->due_ns = due;
    c->status = 0;
    c->complete = 0;
    http_parser_init(&c->parser, HTTP_RESPONSE);
    c->parser.data = c;
    ssize_t n = send(c->fd, O.req, O.req_len, MSG_NOSIGNAL | MSG_DONTWAIT);
    c->state = C_BUSY;
    O.sent++;
    if (n != (ssize_t)O.req_len) fail(c); /* a short request is a few hundred bytes */
}

/* Hands waiting requests to idle connections, opening new ones up to the cap. */
static void dispatch(void)
{
    int opening = 0;
    for (int i = 0; i < O.max_conns && O.qlen; i++) {
        struct conn *c = &O.c[i];
        if (c->state == C_CONNECTING) opening++;
        if (c->state != C_IDLE) continue;
        uint64_t due = O.queue[O.qhead];
        O.qhead = (O.qhead + 1) % MAX_QUEUE;
        O.qlen--;
        send_on(c, due);
    }
    while (O.qlen > (uint32_t)opening && O.nconns < O.max_conns) {
        if (!conn_open()) break;
        opening++;
    }
}

static void on_readable(struct conn *c)
{
    char buf[16384];
    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
        if (n <= 0 || c->state != C_BUSY) {
            fail(c);
            return;
        }
        size_t used = http_parser_execute(&c->parser, &settings, buf, (size_t)n);
        if (c->complete) {
            uint64_t t = now_ns();
            if (c->due_ns >= O.measure_ns) {
                if (c->status >= 200 && c->status < 400) {
                    O.ok++;
                    gd_hist_add(&O.lat, t - c->due_ns);
                } else {
                    O.bad_status++;
                }
            }
            int keep = http_should_keep_alive(&c->parser) && used == (size_t)n;
            c->state = C_IDLE;
            if (!keep) conn_close(c);
            return;
        }
        if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK) {
            fail(c);
            return;
        }
        if ((size_t)n < sizeof buf) return;
    }
}

static void on_event(struct conn *c, uint32_t ev)
{
    if (c->state == C_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err || (ev & (EPOLLERR | EPOLLHUP))) {
            O.errors++;
            conn_close(c);
            return;
        }
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(O.ep, EPOLL_CTL_MOD, c->fd, &e);
        c->state = C_IDLE;
        return;
    }
    if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(c);
}

static void on_signal(int sig)
{
    (void)sig;
    O.stop = 1;
}

static int usage(int code)
{
    fprintf(code ? stderr : stdout,
            "usage: gameday openloop http://ADDR:PORT/PATH --rate R [--seconds S] [--warmup S]\n"
            "                        [--conns N] [--timeout S] [--poisson] [--batch-us U]\n"
            "                        [--json] [--quiet]\n"
            "Sends GET PATH at R requests per second on a fixed schedule (--poisson: random\n"
            "gaps with mean 1/R), on at most N keep-alive connections (64), for warmup S (1)\n"
            "then S (5) measured seconds. Wakes at most every U us (100) and sends what is\n"
            "due; a request's latency counts from that wake-up, waiting for a connection\n"
            "included (no coordinated omission).\n"
            "Prints sent, ok, errors, achieved rate and latency percentiles (--json: one\n"
            "JSON object). Progress once a second on stderr unless --quiet.\n");
    return code;
}

static int parse_url(const char *url, char *host, size_t hostlen, const char **path)
{
    if (strncmp(url, "http://", 7) != 0) return -1;
    const char *h = url + 7, *slash = strchr(h, '/'), *colon = strchr(h, ':');
    *path = slash ? slash : "/";
    size_t hl = (size_t)((colon && (!slash || colon < slash) ? colon
                          : slash                            ? slash
                                                             : h + strlen(h)) -
                         h);
    if (hl == 0 || hl >= hostlen || !colon || (slash && colon > slash)) return -1;
    memcpy(host, h, hl);
    host[hl] = 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (port < 1 || port > 65535 || (*end && *end != '/')) return -1;
    memset(&O.addr, 0, sizeof O.addr);
    O.addr.sin_family = AF_INET;
    O.addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &O.addr.sin_addr) != 1) return -1;
    return 0;
}

static double num_arg(const char *name, const char *v, double lo, double hi)
{
    char *end;
    double d = v ? strtod(v, &end) : NAN;
    if (!v || *end || !(d >= lo && d <= hi)) {
        fprintf(stderr, "openloop: %s wants a number in %g..%g, got '%s'\n", name, lo, hi,
                v ? v : "");
        exit(2);
    }
    return d;
}

static void progress(uint64_t t, uint64_t last_ok)
{
    double p99 = (double)gd_hist_percentile(&O.lat, 99) / 1e6;
    fprintf(stderr, "openloop: %5.1f s sent %llu ok %llu (+%llu) waiting %u conns %d p99 %.3f ms\n",
            (double)(t - O.start_ns) / 1e9, (unsigned long long)O.sent, (unsigned long long)O.ok,
            (unsigned long long)(O.ok - last_ok), O.qlen, O.nconns, p99);
}

int gd_cmd_openloop(int argc, char **argv)
{
    const char *url = NULL;
    double rate = 0, seconds = 5, warmup = 1, timeout = 5;
    double batch_us = 100;
    int conns = 64, json = 0, quiet = 0, poisson = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help")) return usage(0);
        if (!strcmp(a, "--rate"))
            rate = num_arg(a, v, 1, 1e7), i++;
        else if (!strcmp(a, "--seconds"))
            seconds = num_arg(a, v, 0.1, 3600), i++;
        else if (!strcmp(a, "--warmup"))
            warmup = num_arg(a, v, 0, 3600), i++;
        else if (!strcmp(a, "--timeout"))
            timeout = num_arg(a, v, 0.01, 600), i++;
        else if (!strcmp(a, "--batch-us"))
            batch_us = num_arg(a, v, 0, 100000), i++;
        else if (!strcmp(a, "--conns"))
            conns = (int)num_arg(a, v, 1, MAX_CONNS), i++;
        else if (!strcmp(a, "--json"))
            json = 1;
        else if (!strcmp(a, "--quiet"))
            quiet = 1;
        else if (!strcmp(a, "--poisson"))
            poisson = 1;
        else if (a[0] != '-' && !url)
            url = a;
        else {
            fprintf(stderr, "openloop: unknown argument '%s'\n", a);
            return usage(2);
        }
    }
    char host[64];
    const char *path;
    if (!url || rate <= 0) return usage(2);
    if (parse_url(url, host, sizeof host, &path) < 0) {
        fprintf(stderr, "openloop: '%s' is not http://IPV4:PORT/PATH\n", url);
        return 2;
    }
    int n = snprintf(O.req, sizeof O.req, "GET %s HTTP/1.1\r\nHost: %s:%u\r\n\r\n", path, host,
                     (unsigned)ntohs(O.addr.sin_port));
    if (n < 0 || (size_t)n >= sizeof O.req) {
        fprintf(stderr, "openloop: the URL is too long\n");
        return 2;
    }
    O.req_len = (size_t)n;
    O.max_conns = conns;
    O.c = calloc((size_t)conns, sizeof *O.c);
    O.queue = malloc(MAX_QUEUE * sizeof *O.queue);
    O.ep = epoll_create1(EPOLL_CLOEXEC);
    if (!O.c || !O.queue || O.ep < 0) {
        fprintf(stderr, "openloop: out of memory or descriptors\n");
        return 1;
    }
    gd_hist_reset(&O.lat);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0); /* wake on time, not up to 50 us late */

    gd_rand rnd;
    gd_rand_seed(&rnd, 1);
    O.start_ns = now_ns();
    O.measure_ns = O.start_ns + (uint64_t)(warmup * 1e9);
    O.end_ns = O.measure_ns + (uint64_t)(seconds * 1e9);
    O.timeout_ns = (uint64_t)(timeout * 1e9);
    double gap_ns = 1e9 / rate;
    uint64_t batch_ns = (uint64_t)(batch_us * 1e3);
    double next = (double)O.start_ns;
    uint64_t next_progress = O.start_ns + 1000000000ull, last_ok = 0;
    struct epoll_event evs[256];
    for (;;) {
        uint64_t t = now_ns();
        while (!O.stop && next <= (double)t && next < (double)O.end_ns) {
            if (O.qlen < MAX_QUEUE) {
                /* Its clock starts now, when we woke to send it: a wake-up up to one
                 * batch late is ours, not the server's. Waiting for a connection counts. */
                O.queue[(O.qhead + O.qlen) % MAX_QUEUE] =
                    (uint64_t)next < O.measure_ns ? (uint64_t)next : t;
                O.qlen++;
            } else {
                O.dropped++;
            }
            next += poisson ? gd_rand_exp(&rnd, 1.0) * gap_ns : gap_ns;
        }
        dispatch();
        int busy = 0;
        for (int i = 0; i < O.max_conns; i++) {
            struct conn *c = &O.c[i];
            if (c->state != C_BUSY) continue;
            if (t - c->due_ns > O.timeout_ns) {
                if (c->due_ns >= O.measure_ns) O.timeouts++;
                conn_close(c);
            } else {
                busy++;
            }
        }
        if (t >= next_progress) {
            if (!quiet) progress(t, last_ok);
            last_ok = O.ok;
            next_progress += 1000000000ull;
        }
        int scheduling = !O.stop && next < (double)O.end_ns;
        if (!scheduling && !busy && !O.qlen) break;
        if (O.stop && !busy) break;
        if (!scheduling && t > O.end_ns + O.timeout_ns) break;
        uint64_t wake = scheduling ? (uint64_t)next : t + 10000000ull;
        if (wake < t + batch_ns)
            wake = t + batch_ns; /* a timer per request costs more than
                                   the request: send in batches */
        if (wake > next_progress) wake = next_progress;
        struct timespec ts = {0, 0};
        if (wake > t)
            ts = (struct timespec){(time_t)((wake - t) / 1000000000ull),
                                   (long)((wake - t) % 1000000000ull)};
        int k = epoll_pwait2(O.ep, evs, 256, &ts, NULL);
        if (k < 0 && errno == ENOSYS) {
            k = epoll_wait(O.ep, evs, 256, (int)((wake > t ? wake - t : 0) / 1000000ull));
        }
        for (int i = 0; i < k; i++) on_event(evs[i].data.ptr, evs[i].events);
    }
    for (uint32_t i = 0; i < O.qlen; i++) /* due, never sent */
        if (O.queue[(O.qhead + i) % MAX_QUEUE] >= O.measure_ns) O.timeouts++;
    double secs = seconds;
    double p[5] = {50, 90, 99, 99.9, 100};
    double ms[5];
    for (int i = 0; i < 5; i++)
        ms[i] = (i == 4 ? (double)O.lat.max : (double)gd_hist_percentile(&O.lat, p[i])) / 1e6;
    if (json) {
        printf("{\"url\":\"%s\",\"rate\":%.1f,\"seconds\":%.1f,\"conns\":%d,\"sent\":%llu,"
               "\"ok\":%llu,\"bad_status\":%llu,\"errors\":%llu,\"timeouts\":%llu,"
               "\"dropped\":%llu,\"connects\":%llu,\"achieved_rps\":%.1f,\"p50_ms\":%.4f,"
               "\"p90_ms\":%.4f,\"p99_ms\":%.4f,\"p999_ms\":%.4f,\"max_ms\":%.4f}\n",
               url, rate, secs, conns, (unsigned long long)O.sent, (unsigned long long)O.ok,
               (unsigned long long)O.bad_status, (unsigned long long)O.errors,
               (unsigned long long)O.timeouts, (unsigned long long)O.dropped,
               (unsigned long long)O.connects, (double)O.ok / secs, ms[0], ms[1], ms[2], ms[3],
               ms[4]);
    } else {
        printf("offered %.0f req/s for %.1f s on up to %d connections: ok %llu (%.0f/s), bad "
               "status %llu, errors %llu, timeouts %llu\n",
               rate, secs, conns, (unsigned long long)O.ok, (double)O.ok / secs,
               (unsigned long long)O.bad_status, (unsigned long long)O.errors,
               (unsigned long long)O.timeouts);
        printf("latency from due time, ms: p50 %.3f p90 %.3f p99 %.3f p99.9 %.3f max %.3f\n", ms[0],
               ms[1], ms[2], ms[3], ms[4]);
    }
    return O.ok > 0 && O.errors + O.timeouts == 0 ? 0 : 1;
}
