/* The emulated machine under an instance's built-in service (see slots.h): slots, a FIFO
 * queue and service-time timers in front of the service's answer, the security groups'
 * allow list at accept, the faults of a chaos experiment, /health and /metrics. */
#include "services/slots.h"
#include "core/acl.h"
#include "core/check.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/promtext.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS_MAGIC 0x534c4f54u
#define JOB_MAGIC 0x4a4f4221u
#define LATER_MAGIC 0x4c415452u
#define DISK_FULL "No space left on device"

/* A request that waits for a slot or holds one for its service time. */
struct job {
    uint32_t magic;
    uv_timer_t timer;
    gd_slots *s;
    struct job *next; /* FIFO while queued */
    double service_ms;
    gd_slots_fn fn;
    void *arg;
};

struct gd_slots {
    uint32_t magic;
    uv_loop_t *loop;
    gd_http_server http;
    gd_slots_conf conf;
    char xid[128]; /* "X-Instance-Id: ...\r\n" */
    int busy;
    struct job *qhead, *qtail;
    int qlen;
    uint64_t served, rejected, bad;
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
    const char *ctype; /* static */
    char *extra;       /* NULL or points into data */
    char *body;        /* points into data */
    size_t len;
    char data[];
};

static void start_job(gd_slots *s, struct job *j);

int gd_slots_capacity(const gd_slots *s)
{
    int c = s->conf.slots - s->faults.slot_hog;
    return c > 0 ? c : 0;
}

int gd_slots_busy(const gd_slots *s)
{
    return s->busy;
}

const char *gd_slots_xid(const gd_slots *s)
{
    return s->xid;
}

void gd_slots_count_served(gd_slots *s)
{
    s->served++;
}

void gd_slots_count_bad(gd_slots *s)
{
    s->bad++;
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

void gd_slots_reply(gd_slots *s, gd_http_conn *c, int status, const char *extra, const char *ctype,
                    const char *body, size_t len)
{
    GD_CHECK_OBJ(s, SLOTS_MAGIC);
    if (s->faults.latency_ms <= 0) {
        gd_http_respond(c, status, extra, ctype, body, len);
        return;
    }
    size_t xl = extra ? strlen(extra) + 1 : 0;
    struct later *l = gd_malloc(sizeof *l + xl + len + 1);
    l->magic = LATER_MAGIC;
    l->conn = c;
    l->status = status;
    l->ctype = ctype;
    l->extra = extra ? memcpy(l->data, extra, xl) : NULL;
    l->body = l->data + xl;
    l->len = len;
    if (len) memcpy(l->body, body, len);
    uv_timer_init(s->loop, &l->timer);
    l->timer.data = l;
    s->delayed_answers++;
    uv_timer_start(&l->timer, on_later, (uint64_t)(s->faults.latency_ms + 0.5), 0);
}

static void on_job_closed(uv_handle_t *h)
{
    struct job *j = h->data;
    GD_CHECK_OBJ(j, JOB_MAGIC);
    j->magic = 0;
    gd_free(j);
}

/* Freed slots go to the oldest waiting requests, as many as there are free. */
static void drain(gd_slots *s)
{
    while (s->qhead && s->busy < gd_slots_capacity(s)) {
        struct job *n = s->qhead;
        s->qhead = n->next;
        if (!s->qhead) s->qtail = NULL;
        s->qlen--;
        start_job(s, n);
    }
}

static void on_service_done(uv_timer_t *t)
{
    struct job *j = t->data;
    GD_CHECK_OBJ(j, JOB_MAGIC);
    gd_slots *s = j->s;
    GD_CHECK_OBJ(s, SLOTS_MAGIC);
    uv_close((uv_handle_t *)&j->timer, on_job_closed);
    /* The service answers and gives the slot back (now or once its session store has
     * answered); the oldest waiting request then takes it. */
    j->fn(s, j->arg);
}

static void start_job(gd_slots *s, struct job *j)
{
    s->busy++;
    uv_timer_start(&j->timer, on_service_done, gd_clock_wall_ms(j->service_ms), 0);
}

int gd_slots_run(gd_slots *s, double service_ms, gd_slots_fn fn, void *arg)
{
    GD_CHECK_OBJ(s, SLOTS_MAGIC);
    if (s->busy >= gd_slots_capacity(s) && s->qlen >= s->conf.queue) {
        s->rejected++;
        return GD_EAGAIN;
    }
    struct job *j = gd_malloc(sizeof *j);
    j->magic = JOB_MAGIC;
    j->s = s;
    j->next = NULL;
    j->service_ms = service_ms > 0 ? service_ms : 0;
    j->fn = fn;
    j->arg = arg;
    uv_timer_init(s->loop, &j->timer);
    j->timer.data = j;
    if (s->busy < gd_slots_capacity(s)) {
        start_job(s, j);
    } else {
        if (s->qtail)
            s->qtail->next = j;
        else
            s->qhead = j;
        s->qtail = j;
        s->qlen++;
    }
    return 0;
}

void gd_slots_release(gd_slots *s)
{
    GD_CHECK_OBJ(s, SLOTS_MAGIC);
    if (s->busy > 0) s->busy--;
    /* The slot is free: the oldest waiting request takes it (unless a slot_hog came
     * meanwhile and holds it). */
    drain(s);
}

static void metrics(gd_slots *s, gd_http_conn *c)
{
    gd_buf b;
    gd_buf_init(&b, 1 << 20);
    char l[160];
    snprintf(l, sizeof l, "instance=\"%s\"", s->conf.id);
    gd_prom_head(&b, "gameday_instance_slots", "gauge", "Slots (concurrent requests worked on)");
    gd_prom_sample(&b, "gameday_instance_slots", l, s->conf.slots);
    gd_prom_head(&b, "gameday_instance_busy_slots", "gauge", "Slots busy now");
    gd_prom_sample(&b, "gameday_instance_busy_slots", l, s->busy);
    int hogged = s->faults.slot_hog < s->conf.slots ? s->faults.slot_hog : s->conf.slots;
    gd_prom_head(&b, "gameday_instance_hogged_slots", "gauge",
                 "Slots a slot_hog fault holds (no request can take them)");
    gd_prom_sample(&b, "gameday_instance_hogged_slots", l, hogged);
    double cpu = (double)(s->busy + hogged) / s->conf.slots;
    gd_prom_head(&b, "gameday_instance_cpu_utilization", "gauge",
                 "Emulated CPUUtilization: (busy + hogged slots) / slots (0..1)");
    gd_prom_sample(&b, "gameday_instance_cpu_utilization", l, cpu < 1 ? cpu : 1);
    gd_prom_head(&b, "gameday_instance_queue_depth", "gauge", "Requests waiting for a slot");
    gd_prom_sample(&b, "gameday_instance_queue_depth", l, s->qlen);
    gd_prom_head(&b, "gameday_instance_served_total", "counter", "Requests answered 2xx");
    gd_prom_sample(&b, "gameday_instance_served_total", l, (double)s->served);
    gd_prom_head(&b, "gameday_instance_rejected_total", "counter",
                 "Requests refused 503 (queue full)");
    gd_prom_sample(&b, "gameday_instance_rejected_total", l, (double)s->rejected);
    gd_prom_head(&b, "gameday_instance_denied_total", "counter",
                 "Connections closed at accept: not allowed by the security groups");
    gd_prom_sample(&b, "gameday_instance_denied_total", l, (double)s->denied.denied);
    gd_prom_head(&b, "gameday_instance_bad_requests_total", "counter", "Requests refused 400");
    gd_prom_sample(&b, "gameday_instance_bad_requests_total", l, (double)s->bad);
    struct {
        const char *kind;
        int on;
        double answers;
    } fk[] = {{"slot_hog", s->faults.slot_hog > 0, -1},
              {"disk_full", s->faults.disk_full, (double)s->disk_full_answers},
              {"latency", s->faults.latency_ms > 0, (double)s->delayed_answers}};
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
    if (s->conf.metrics) s->conf.metrics(s, &b, l, s->conf.ud);
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
    gd_slots *s = ud;
    GD_CHECK_OBJ(s, SLOTS_MAGIC);
    /* The metrics answer whatever the faults: they are how one sees them. */
    if (path_is(req, "/metrics")) {
        metrics(s, c);
        return;
    }
    if (s->faults.disk_full) { /* the health check too, and without taking a slot */
        s->disk_full_answers++;
        gd_slots_reply(s, c, 500, s->xid, "text/plain", DISK_FULL, strlen(DISK_FULL));
        return;
    }
    if (path_is(req, "/health")) {
        if (s->conf.broken)
            gd_slots_reply(s, c, 500, s->xid, "text/plain", "not ready: bad configuration\n", 29);
        else
            gd_slots_reply(s, c, 200, s->xid, "text/plain", "ok\n", 3);
        return;
    }
    s->conf.handler(s, c, req, s->conf.ud);
}

static int admit(gd_http_server *h, uint32_t peer)
{
    gd_slots *s = h->admit_ud;
    if (gd_acl_allows(&s->acl, peer)) return 1;
    gd_acl_denied(&s->denied, peer, uv_now(s->loop));
    return 0;
}

int gd_slots_load_acl(gd_slots *s, const char *path)
{
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f) {
        s->acl.on = 0; /* no file: no security group */
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
    s->acl = a;
    gd_info("acl_loaded", "blocks=%d", a.n);
    return 0;
}

void gd_slots_set_faults(gd_slots *s, const gd_inst_faults *f)
{
    GD_CHECK_OBJ(s, SLOTS_MAGIC);
    gd_inst_faults was = s->faults;
    s->faults = *f;
    if (f->slot_hog != was.slot_hog) {
        if (f->slot_hog)
            gd_info("fault_on", "kind=slot_hog slots=%d capacity=%d of=%d", f->slot_hog,
                    gd_slots_capacity(s), s->conf.slots);
        else
            gd_info("fault_off", "kind=slot_hog capacity=%d", gd_slots_capacity(s));
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
    drain(s); /* slots given back start the waiting requests now */
}

int gd_slots_start(uv_loop_t *loop, const gd_slots_conf *conf, const char *ip, int port,
                   gd_slots **out)
{
    gd_slots *s = gd_calloc(1, sizeof *s);
    s->magic = SLOTS_MAGIC;
    s->loop = loop;
    s->conf = *conf;
    if (!s->conf.id) s->conf.id = "local";
    if (s->conf.slots < 1) s->conf.slots = 1;
    if (s->conf.queue < 0) s->conf.queue = 0;
    snprintf(s->xid, sizeof s->xid, "X-Instance-Id: %s\r\n", s->conf.id);
    gd_http_server_init(&s->http, loop, on_request, s);
    if (conf->max_body) s->http.max_body = conf->max_body;
    s->http.admit = admit;
    s->http.admit_ud = s;
    int r = gd_http_server_listen(&s->http, ip, port);
    if (r < 0) {
        s->magic = 0;
        gd_free(s);
        return r;
    }
    *out = s;
    return 0;
}
