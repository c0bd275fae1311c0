/* An instance's built-in service: slots, a FIFO queue and service-time timers in
 * front of the answer (a SHA-256 for unicorn, the time in a zone for time), and the
 * faults a chaos experiment puts on it (fewer slots, a full disk, slow answers). */
#include "services/unicorn.h"
#include "core/acl.h"
#include "core/buf.h"
#include "core/check.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/promtext.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define MAX_KEY 1024
#define JOB_MAGIC 0x4a4f4221u
#define LATER_MAGIC 0x4c415452u
#define UNICORN_MAGIC 0x554e4943u
#define DISK_FULL "No space left on device"

struct job {
    uint32_t magic;
    uv_timer_t timer;
    gd_unicorn *u;
    gd_http_conn *conn;
    struct job *next; /* FIFO while queued */
    uint64_t queued_at;
    int text; /* time: answer text/plain */
    size_t keylen;
    char key[]; /* unicorn: the key; time: the zone */
};

struct gd_unicorn {
    uint32_t magic;
    uv_loop_t *loop;
    gd_http_server http;
    gd_unicorn_conf conf;
    char xid[128]; /* "X-Instance-Id: ...\r\n" */
    int busy;
    struct job *qhead, *qtail;
    int qlen;
    int timers;
    uint64_t served, rejected, bad, health;
    gd_acl acl;
    gd_acl_log denied;
    gd_inst_faults faults;
    uint64_t disk_full_answers, delayed_answers;
};

/* An answer held back by a latency fault: what gd_http_respond is given, copied. */
struct later {
    uint32_t magic;
    uv_timer_t timer;
    gd_http_conn *conn;
    int status;
    const char *extra, *ctype; /* static, or the service's own (it lives as long as the process) */
    size_t len;
    char body[];
};

static void start_job(gd_unicorn *u, struct job *j);

/* The slots requests may take now: those a slot_hog fault has not. */
static int capacity(const gd_unicorn *u)
{
    int c = u->conf.slots - u->faults.slot_hog;
    return c > 0 ? c : 0;
}

static void on_later_closed(uv_handle_t *h)
{
    struct later *l = h->data;
    GD_CHECK_OBJ(l, LATER_MAGIC);
    l->magic = 0;
    gd_free(l);
}

static void on_later(uv_timer_t *t)
{
    struct later *l = t->data;
    GD_CHECK_OBJ(l, LATER_MAGIC);
    gd_http_respond(l->conn, l->status, l->extra, l->ctype, l->body, l->len);
    uv_close((uv_handle_t *)&l->timer, on_later_closed);
}

/* Every answer of the service goes out here: at once, or after a latency fault's
 * delay (the connection waits; one whose client left only releases its request). */
static void reply(gd_unicorn *u, gd_http_conn *c, int status, const char *extra, const char *ctype,
                  const char *body, size_t len)
{
    if (u->faults.latency_ms <= 0) {
        gd_http_respond(c, status, extra, ctype, body, len);
        return;
    }
    struct later *l = gd_malloc(sizeof *l + len);
    l->magic = LATER_MAGIC;
    l->conn = c;
    l->status = status;
    l->extra = extra;
    l->ctype = ctype;
    l->len = len;
    memcpy(l->body, body, len);
    uv_timer_init(u->loop, &l->timer);
    l->timer.data = l;
    u->delayed_answers++;
    uv_timer_start(&l->timer, on_later, (uint64_t)(u->faults.latency_ms + 0.5), 0);
}

/* gd_http_respond_error's answer, through reply. */
static void reply_error(gd_unicorn *u, gd_http_conn *c, int status, const char *code,
                        const char *msg)
{
    json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    reply(u, c, status, "Cache-Control: no-store\r\n", "application/json", s, strlen(s));
    free(s);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct job *j = h->data;
    GD_CHECK_OBJ(j, JOB_MAGIC);
    j->u->timers--;
    j->magic = 0;
    gd_free(j);
}

/* The time now in zone tz (already checked against the tz database). */
static void answer_time(struct job *j)
{
    gd_unicorn *u = j->u;
    time_t now = time(NULL);
    struct tm tm, utc;
    setenv("TZ", j->key, 1);
    tzset();
    localtime_r(&now, &tm);
    gmtime_r(&now, &utc);
    char local[64], zulu[32], off[8];
    strftime(local, sizeof local, "%Y-%m-%dT%H:%M:%S", &tm);
    strftime(off, sizeof off, "%z", &tm); /* +0100 */
    strftime(zulu, sizeof zulu, "%Y-%m-%dT%H:%M:%SZ", &utc);
    char iso[80];
    snprintf(iso, sizeof iso, "%s%.3s:%s", local, off, off + 3);
    if (j->text) {
        char line[160], human[64];
        strftime(human, sizeof human, "%Y-%m-%d %H:%M:%S %Z", &tm);
        int n = snprintf(line, sizeof line, "%s (%s)\n", human, j->key);
        reply(u, j->conn, 200, u->xid, "text/plain; charset=utf-8", line, (size_t)n);
    } else {
        json_t *body = json_pack("{s:s,s:s,s:s,s:s,s:i}", "tz", j->key, "time", iso, "utc", zulu,
                                 "abbreviation", tm.tm_zone ? tm.tm_zone : "", "utc_offset_s",
                                 (int)tm.tm_gmtoff);
        char *s = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        reply(u, j->conn, 200, u->xid, "application/json", s, strlen(s));
        free(s);
    }
    u->served++;
}

/* A zone of the system's tz database: Area/City names of letters, digits, '_', '-',
 * '+' and '/', no "..", that name a file under /usr/share/zoneinfo. */
static int known_zone(const char *tz, size_t n)
{
    if (n == 0 || n > 64 || tz[0] == '/' || strstr(tz, "..")) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = tz[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '+' || c == '/'))
            return 0;
    }
    char path[128];
    snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", tz);
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static void answer(struct job *j)
{
    gd_unicorn *u = j->u;
    if (u->conf.kind == GD_SVC_TIME) {
        answer_time(j);
        return;
    }
    char hash[65];
    gd_hash_key(u->conf.salt, j->key, j->keylen, hash);
    json_t *body = json_pack("{s:s%,s:s}", "key", j->key, j->keylen, "hash", hash);
    char *s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    reply(u, j->conn, 200, u->xid, "application/json", s, strlen(s));
    free(s);
    u->served++;
}

/* Freed slots go to the oldest waiting requests, as many as there are free. */
static void drain(gd_unicorn *u)
{
    while (u->qhead && u->busy < capacity(u)) {
        struct job *n = u->qhead;
        u->qhead = n->next;
        if (!u->qhead) u->qtail = NULL;
        u->qlen--;
        start_job(u, n);
    }
}

static void on_service_done(uv_timer_t *t)
{
    struct job *j = t->data;
    GD_CHECK_OBJ(j, JOB_MAGIC);
    gd_unicorn *u = j->u;
    GD_CHECK_OBJ(u, UNICORN_MAGIC);
    answer(j);
    u->busy--;
    uv_close((uv_handle_t *)&j->timer, on_timer_closed);
    /* The slot is free: the oldest waiting request takes it (unless a slot_hog came
     * meanwhile and holds it). */
    drain(u);
}

static void start_job(gd_unicorn *u, struct job *j)
{
    u->busy++;
    uv_timer_start(&j->timer, on_service_done, gd_clock_wall_ms(u->conf.service_ms), 0);
}

static void metrics(gd_unicorn *u, gd_http_conn *c)
{
    gd_buf b;
    gd_buf_init(&b, 1 << 20);
    char l[160];
    snprintf(l, sizeof l, "instance=\"%s\"", u->conf.id);
    gd_prom_head(&b, "gameday_instance_slots", "gauge", "Slots (concurrent requests worked on)");
    gd_prom_sample(&b, "gameday_instance_slots", l, u->conf.slots);
    gd_prom_head(&b, "gameday_instance_busy_slots", "gauge", "Slots busy now");
    gd_prom_sample(&b, "gameday_instance_busy_slots", l, u->busy);
    int hogged = u->faults.slot_hog < u->conf.slots ? u->faults.slot_hog : u->conf.slots;
    gd_prom_head(&b, "gameday_instance_hogged_slots", "gauge",
                 "Slots a slot_hog fault holds (no request can take them)");
    gd_prom_sample(&b, "gameday_instance_hogged_slots", l, hogged);
    double cpu = (double)(u->busy + hogged) / u->conf.slots;
    gd_prom_head(&b, "gameday_instance_cpu_utilization", "gauge",
                 "Emulated CPUUtilization: (busy + hogged slots) / slots (0..1)");
    gd_prom_sample(&b, "gameday_instance_cpu_utilization", l, cpu < 1 ? cpu : 1);
    gd_prom_head(&b, "gameday_instance_queue_depth", "gauge", "Requests waiting for a slot");
    gd_prom_sample(&b, "gameday_instance_queue_depth", l, u->qlen);
    gd_prom_head(&b, "gameday_instance_served_total", "counter", "Requests answered 200");
    gd_prom_sample(&b, "gameday_instance_served_total", l, (double)u->served);
    gd_prom_head(&b, "gameday_instance_rejected_total", "counter",
                 "Requests refused 503 (queue full)");
    gd_prom_sample(&b, "gameday_instance_rejected_total", l, (double)u->rejected);
    gd_prom_head(&b, "gameday_instance_denied_total", "counter",
                 "Connections closed at accept: not allowed by the security groups");
    gd_prom_sample(&b, "gameday_instance_denied_total", l, (double)u->denied.denied);
    gd_prom_head(&b, "gameday_instance_bad_requests_total", "counter", "Requests refused 400");
    gd_prom_sample(&b, "gameday_instance_bad_requests_total", l, (double)u->bad);
    struct {
        const char *kind;
        int on;
        double answers;
    } fk[] = {{"slot_hog", u->faults.slot_hog > 0, -1},
              {"disk_full", u->faults.disk_full, (double)u->disk_full_answers},
              {"latency", u->faults.latency_ms > 0, (double)u->delayed_answers}};
    char fl[200];
    gd_prom_head(&b, "gameday_instance_fault_active", "gauge",
                 "1 while a fault of this kind is in force (the fault file)");
    for (size_t i = 0; i < sizeof fk / sizeof fk[0]; i++) {
        snprintf(fl, sizeof fl, "%s,kind=\"%s\"", l, fk[i].kind);
        gd_prom_sample(&b, "gameday_instance_fault_active", fl, fk[i].on);
    }
    gd_prom_head(&b, "gameday_instance_fault_answers_total", "counter",
                 "Answers a fault made: 500 for disk_full, delayed for latency");
    for (size_t i = 0; i < sizeof fk / sizeof fk[0]; i++) {
        if (fk[i].answers < 0) continue;
        snprintf(fl, sizeof fl, "%s,kind=\"%s\"", l, fk[i].kind);
        gd_prom_sample(&b, "gameday_instance_fault_answers_total", fl, fk[i].answers);
    }
    gd_http_respond(c, 200, NULL, "text/plain; version=0.0.4", b.data, b.len);
    gd_buf_free(&b);
}

static int path_is(const gd_http_req *r, const char *p)
{
    size_t n = strlen(p);
    return r->path_len == n && !memcmp(r->path, p, n);
}

static void on_request(gd_http_conn *c, gd_http_req *req, void *ud)
{
    gd_unicorn *u = ud;
    GD_CHECK_OBJ(u, UNICORN_MAGIC);
    /* The metrics answer whatever the faults: they are how one sees them. */
    if (path_is(req, "/metrics")) {
        metrics(u, c);
        return;
    }
    if (u->faults.disk_full) { /* the health check too, and without taking a slot */
        u->disk_full_answers++;
        reply(u, c, 500, u->xid, "text/plain", DISK_FULL, strlen(DISK_FULL));
        return;
    }
    if (path_is(req, "/health")) {
        u->health++;
        reply(u, c, 200, u->xid, "text/plain", "ok\n", 3);
        return;
    }
    if (req->method != HTTP_GET && req->method != HTTP_HEAD) {
        reply_error(u, c, 405, "MethodNotAllowed", "only GET is served");
        return;
    }
    char key[MAX_KEY];
    int n, text = 0;
    if (u->conf.kind == GD_SVC_TIME) {
        if (!path_is(req, "/time") && !path_is(req, "/")) {
            reply_error(u, c, 404, "NotFound", "GET /time?tz=Area/City");
            return;
        }
        n = gd_http_query_get(req->query, req->query_len, "tz", key, sizeof key);
        if (n < 0 && n != GD_ETOOBIG) n = snprintf(key, sizeof key, "UTC");
        if (n <= 0 || !known_zone(key, (size_t)n)) {
            u->bad++;
            reply_error(u, c, 400, "UnknownTimeZone",
                        "tz: a zone of the tz database, like Europe/Paris or "
                        "America/New_York (default UTC)");
            return;
        }
        char fmt[16];
        size_t al;
        const char *accept = gd_http_header_get(req->headers, req->nheaders, "accept", &al);
        text = (gd_http_query_get(req->query, req->query_len, "format", fmt, sizeof fmt) > 0 &&
                !strcmp(fmt, "text")) ||
               (accept && al >= 10 && !strncmp(accept, "text/plain", 10));
    } else {
        n = gd_http_query_get(req->query, req->query_len, "key", key, sizeof key);
        if (n <= 0) {
            u->bad++;
            reply_error(u, c, 400, n == GD_ETOOBIG ? "KeyTooLong" : "MissingKey",
                        n == GD_ETOOBIG ? "the key query parameter is over 1023 bytes"
                                        : "GET /?key=K: the key query parameter is required");
            return;
        }
    }
    if (u->busy >= capacity(u) && u->qlen >= u->conf.queue) {
        u->rejected++;
        reply_error(u, c, 503, "Overloaded", "all slots busy and the queue is full");
        return;
    }
    struct job *j = gd_malloc(sizeof *j + (size_t)n + 1);
    j->magic = JOB_MAGIC;
    j->u = u;
    j->conn = c;
    j->next = NULL;
    j->text = text;
    j->keylen = (size_t)n;
    memcpy(j->key, key, (size_t)n + 1);
    uv_timer_init(u->loop, &j->timer);
    j->timer.data = j;
    u->timers++;
    if (u->busy < capacity(u)) {
        start_job(u, j);
    } else {
        if (u->qtail)
            u->qtail->next = j;
        else
            u->qhead = j;
        u->qtail = j;
        u->qlen++;
    }
}

static int admit(gd_http_server *s, uint32_t peer)
{
    gd_unicorn *u = s->admit_ud;
    if (gd_acl_allows(&u->acl, peer)) return 1;
    gd_acl_denied(&u->denied, peer, uv_now(u->loop));
    return 0;
}

int gd_unicorn_load_acl(gd_unicorn *u, const char *path)
{
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f) {
        u->acl.on = 0; /* no file: no security group */
        return 0;
    }
    char text[GD_ACL_MAX * 20];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    gd_acl a;
    if (gd_acl_parse(text, &a) < 0) {
        gd_warn("acl_refused", "file=%s", path);
        return -1;
    }
    u->acl = a;
    gd_info("acl_loaded", "blocks=%d", a.n);
    return 0;
}

void gd_unicorn_set_faults(gd_unicorn *u, const gd_inst_faults *f)
{
    GD_CHECK_OBJ(u, UNICORN_MAGIC);
    gd_inst_faults was = u->faults;
    u->faults = *f;
    if (f->slot_hog != was.slot_hog) {
        if (f->slot_hog)
            gd_info("fault_on", "kind=slot_hog slots=%d capacity=%d of=%d", f->slot_hog,
                    capacity(u), u->conf.slots);
        else
            gd_info("fault_off", "kind=slot_hog capacity=%d", capacity(u));
    }
    if (f->disk_full != was.disk_full) {
        if (f->disk_full)
            gd_info("fault_on", "kind=disk_full");
        else
            gd_info("fault_off", "kind=disk_full");
    }
    if (f->latency_ms != was.latency_ms) {
        if (f->latency_ms > 0)
            gd_info("fault_on", "kind=latency latency_ms=%.0f", f->latency_ms);
        else
            gd_info("fault_off", "kind=latency");
    }
    drain(u); /* slots given back start the waiting requests now */
}

int gd_unicorn_start(uv_loop_t *loop, const gd_unicorn_conf *conf, const char *ip, int port,
                     gd_unicorn **out)
{
    gd_unicorn *u = gd_calloc(1, sizeof *u);
    u->magic = UNICORN_MAGIC;
    u->loop = loop;
    u->conf = *conf;
    if (u->conf.slots < 1) u->conf.slots = 1;
    if (u->conf.queue < 0) u->conf.queue = 0;
    snprintf(u->xid, sizeof u->xid, "X-Instance-Id: %s\r\n", conf->id ? conf->id : "local");
    gd_http_server_init(&u->http, loop, on_request, u);
    u->http.admit = admit;
    u->http.admit_ud = u;
    int r = gd_http_server_listen(&u->http, ip, port);
    if (r < 0) {
        gd_free(u);
        return r;
    }
    *out = u;
    return 0;
}
