/* Edge targets: pools, active health checks with thresholds in game time. */
#include "edge/target.h"
#include "edge/edge.h"
#include "edge/fault.h"
#include "core/check.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"

#include <stdio.h>
#include <string.h>

static void hc_done(void *ud, int err, const gd_httpc_resp *resp)
{
    gd_target *t = ud;
    GD_CHECK_OBJ(t, GD_TARGET_MAGIC);
    t->hc_running = 0;
    if (t->state == GD_TARGET_DRAINING) return;
    int ok = err == 0 && resp->status >= t->hc->matcher_lo && resp->status <= t->hc->matcher_hi;
    if (ok) {
        t->hc_ok++;
        t->fail_streak = 0;
        t->ok_streak++;
        if (t->state == GD_TARGET_OUT_OF_SERVICE && t->ok_streak >= t->hc->healthy_threshold) {
            t->state = GD_TARGET_IN_SERVICE;
            t->healthy_since = gd_clock_now();
            gd_info("target_healthy", "target=%s addr=%s checks=%d", t->id, t->addr, t->ok_streak);
        }
    } else {
        t->hc_fail++;
        t->ok_streak = 0;
        t->fail_streak++;
        if (t->state == GD_TARGET_IN_SERVICE && t->fail_streak >= t->hc->unhealthy_threshold) {
            t->state = GD_TARGET_OUT_OF_SERVICE;
            gd_warn("target_unhealthy", "target=%s addr=%s reason=%s", t->id, t->addr,
                    err ? gd_strerror(err) : "status");
        }
    }
}

static void hc_tick(uv_timer_t *tm)
{
    gd_target *t = tm->data;
    GD_CHECK_OBJ(t, GD_TARGET_MAGIC);
    if (t->hc_running) return;
    char req[512];
    /* A new connection each time, as ELB's checks make: a security group that stopped
     * letting the load balancer in fails the next check, whatever connections it keeps. */
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: gameday-health-check\r\n"
                     "Connection: close\r\n\r\n",
                     t->hc->path, t->addr);
    /* Through the upstream faults of the target's address, as its traffic goes. */
    if (gd_edge_faults_request(t->hc_pool, t->ip, t->port, req, (size_t)n, 1,
                               gd_clock_wall_ms(t->hc->timeout * 1000), hc_done, t) == 0)
        t->hc_running = 1;
}

gd_target *gd_target_new(uv_loop_t *loop, const char *id, uint32_t ip, int port, int healthy,
                         const gd_hc_conf *hc)
{
    gd_target *t = gd_calloc(1, sizeof *t);
    t->magic = GD_TARGET_MAGIC;
    snprintf(t->id, sizeof t->id, "%s", id);
    t->ip = ip;
    t->port = port;
    snprintf(t->addr, sizeof t->addr, "%u.%u.%u.%u:%d", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255,
             ip & 255, port);
    t->state = healthy ? GD_TARGET_IN_SERVICE : GD_TARGET_OUT_OF_SERVICE;
    t->healthy_since = healthy ? -1e9 : 0;
    t->weight = 1;
    t->hc = hc;
    t->pool = gd_httpc_pool_new(loop, ip, port, 512, 4096);
    t->hc_pool = gd_httpc_pool_new(loop, ip, hc->port ? hc->port : port, 1, 4);
    /* From the load balancer's own address, as its nodes connect in a VPC. */
    gd_httpc_pool_set_source(t->pool, gd_edge_source_ip());
    gd_httpc_pool_set_source(t->hc_pool, gd_edge_source_ip());
    uv_timer_init(loop, &t->hc_timer);
    t->hc_timer.data = t;
    gd_target_hc_restart(t);
    return t;
}

void gd_target_hc_restart(gd_target *t)
{
    uint64_t every = gd_clock_wall_ms(t->hc->interval * 1000);
    uv_timer_start(&t->hc_timer, hc_tick, 0, every ? every : 1);
}

static void on_timer_closed(uv_handle_t *h)
{
    gd_target *t = h->data;
    GD_CHECK_OBJ(t, GD_TARGET_MAGIC);
    t->magic = 0;
    gd_free(t);
}

void gd_target_free(gd_target *t)
{
    gd_httpc_pool_close(t->pool);
    gd_httpc_pool_close(t->hc_pool);
    uv_close((uv_handle_t *)&t->hc_timer, on_timer_closed);
}

const char *gd_target_state_name(gd_target_state s)
{
    switch (s) {
    case GD_TARGET_IN_SERVICE:
        return "InService";
    case GD_TARGET_DRAINING:
        return "draining";
    case GD_TARGET_OUT_OF_SERVICE:
        break;
    }
    return "OutOfService";
}

json_t *gd_target_json(const gd_target *t)
{
    /* state is what health checks say; ejected is the passive verdict on top of it. */
    return json_pack("{s:s,s:s,s:s,s:b,s:i,s:I,s:I,s:I,s:I,s:s}", "id", t->id, "addr", t->addr,
                     "state", gd_target_state_name(t->state), "ejected",
                     t->ejected_until > gd_clock_now(), "inflight", t->inflight, "requests",
                     (json_int_t)t->requests, "errors", (json_int_t)t->errors, "health_ok",
                     (json_int_t)t->hc_ok, "health_fail", (json_int_t)t->hc_fail, "az", t->az);
}
