/* The launcher and its reconcilers: autoscaling groups toward their desired count,
 * pending instances through their boot time into running processes, one edge
 * process per load balancer with its configuration pushed, one loadgen per team.
 * Children are watched through libuv (or a pidfd when adopted after a restart). */
#include "core/addr.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "model/schema.h"
#include "model/registry.h"
#include "server/game.h"
#include "model/state.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PROC_MAGIC 0x50524f43u
#define EDGE_ADMIN_PORT 9901

extern char **environ;

static double num(json_t *o, const char *k, double def)
{
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : def;
}

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* ---- processes ---- */

static void proc_unlink(gd_game *g, gd_proc *p)
{
    for (gd_proc **pp = &g->procs; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            return;
        }
}

static void proc_free_cb(uv_handle_t *h)
{
    gd_proc *p = h->data;
    if (p->pidfd >= 0) close(p->pidfd);
    p->magic = 0;
    gd_free(p);
}

static gd_proc *proc_find(gd_game *g, const char *res_id, enum gd_proc_kind kind, int team)
{
    for (gd_proc *p = g->procs; p; p = p->next)
        if (p->kind == kind && (res_id ? !strcmp(p->res_id, res_id) : p->team == team)) return p;
    return NULL;
}

static void set_status_fields(gd_game *g, const char *id, json_t *fields)
{
    json_t *r = gd_store_res_get(g->db, 0, id);
    if (!r) {
        json_decref(fields);
        return;
    }
    json_t *st = json_deep_copy(json_object_get(r, "status"));
    if (!json_is_object(st)) {
        json_decref(st);
        st = json_object();
    }
    json_object_update(st, fields);
    gd_store_res_set_status(g->db, id, st, gd_game_now(g));
    json_decref(st);
    json_decref(fields);
    json_decref(r);
}

/* A child ended: record why, and let the reconcilers act. */
static void proc_exited(gd_game *g, gd_proc *p, int64_t status, int sig)
{
    char why[160];
    if (p->killed)
        snprintf(why, sizeof why, "%s", p->kill_reason);
    else if (sig)
        snprintf(why, sizeof why, "process killed by signal %d", sig);
    else
        snprintf(why, sizeof why, "process exited with status %lld", (long long)status);
    gd_info("process_exit", "kind=%d res=%s team=%d pid=%d status=%lld signal=%d expected=%d",
            p->kind, p->res_id, p->team, p->pid, (long long)status, sig, p->killed);
    if (p->kind == GD_PROC_INSTANCE) {
        json_t *r = gd_store_res_get(g->db, 0, p->res_id);
        if (r && gd_inst_state_of_res(r) != GD_INST_TERMINATED) {
            set_status_fields(g, p->res_id,
                              json_pack("{s:s,s:f,s:s,s:i}", "state",
                                        gd_inst_state_name(GD_INST_TERMINATED), "terminated_at",
                                        gd_game_now(g), "reason", why, "pid", 0));
            gd_game_audit(g, p->team, "ec2", NULL, "InstanceStateChange",
                          json_pack("{s:s}", "instanceId", p->res_id),
                          json_pack("{s:s,s:s}", "state", gd_inst_state_name(GD_INST_TERMINATED),
                                    "reason", why),
                          NULL);
        }
        json_decref(r);
    } else if (p->kind == GD_PROC_EDGE) {
        set_status_fields(g, p->res_id, json_pack("{s:i,s:s}", "pid", 0, "last_exit", why));
        for (gd_edge_link *e = g->edges; e; e = e->next)
            if (!strcmp(e->res_id, p->res_id)) {
                gd_free(e->pushed);
                e->pushed = NULL;
            }
    } else if (p->kind == GD_PROC_LOADGEN) {
        if (status == 0 && !sig) g->teams[p->team].loadgen_done = 1;
    }
    proc_unlink(g, p);
}

static void on_exit_cb(uv_process_t *h, int64_t status, int sig)
{
    gd_proc *p = h->data;
    gd_game *g = h->loop->data;
    proc_exited(g, p, status, sig);
    uv_close((uv_handle_t *)h, proc_free_cb);
}

static void on_pidfd(uv_poll_t *h, int status, int events)
{
    gd_proc *p = h->data;
    gd_game *g = h->loop->data;
    uv_poll_stop(h);
    proc_exited(g, p, 0, 0);
    uv_close((uv_handle_t *)h, proc_free_cb);
}

static gd_proc *spawn(gd_game *g, enum gd_proc_kind kind, int team, const char *res_id, char **args,
                      char **extra_env, const char *logname)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/logs/%s.log", g->dir, logname);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int n = 0, m = 0;
    while (environ[n]) n++;
    while (extra_env && extra_env[m]) m++;
    char **env = gd_calloc((size_t)(n + m + 1), sizeof *env);
    int k = 0;
    for (int i = 0; i < n; i++) {
        /* Our own settings replace inherited ones of the same name. */
        int dup = 0;
        for (int j = 0; j < m; j++) {
            const char *eq = strchr(extra_env[j], '=');
            size_t kl = eq ? (size_t)(eq - extra_env[j] + 1) : 0;
            if (kl && !strncmp(environ[i], extra_env[j], kl)) dup = 1;
        }
        if (!dup) env[k++] = environ[i];
    }
    for (int j = 0; j < m; j++) env[k++] = extra_env[j];
    env[k] = NULL;
    uv_stdio_container_t stdio[3];
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = fd >= 0 ? UV_INHERIT_FD : UV_IGNORE;
    stdio[1].data.fd = fd;
    stdio[2] = stdio[1];
    gd_proc *p = gd_calloc(1, sizeof *p);
    p->magic = PROC_MAGIC;
    p->kind = kind;
    p->team = team;
    p->pidfd = -1;
    snprintf(p->res_id, sizeof p->res_id, "%s", res_id ? res_id : "");
    uv_process_options_t o = {0};
    o.file = args[0];
    o.args = args;
    o.env = env;
    o.exit_cb = on_exit_cb;
    o.stdio = stdio;
    o.stdio_count = 3;
    p->proc.data = p;
    int r = uv_spawn(g->loop, &p->proc, &o);
    gd_free(env);
    if (fd >= 0) close(fd);
    if (r < 0) {
        gd_error("spawn_failed", "cmd=%s err=%s", args[0], uv_strerror(r));
        uv_close((uv_handle_t *)&p->proc, proc_free_cb);
        return NULL;
    }
    p->pid = p->proc.pid;
    p->next = g->procs;
    g->procs = p;
    gd_info("spawned", "kind=%d res=%s team=%d pid=%d cmd=%s", kind, p->res_id, team, p->pid,
            args[0]);
    return p;
}

static void clock_env(char *speed, char *epoch, size_t n)
{
    snprintf(speed, n, "GAMEDAY_SPEED=%.17g", gd_clock_speed());
    snprintf(epoch, n, "GAMEDAY_EPOCH_NS=%llu", (unsigned long long)gd_clock_epoch_ns());
}

/* ---- addresses ---- */

static int subnet_of(gd_game *g, int team, const char *name, gd_cidr *c, json_t **out)
{
    json_t *s = gd_store_res_get(g->db, team, name);
    if (!s || strcmp(str(s, "type"), "subnet") != 0) {
        json_decref(s);
        return GD_ENOENT;
    }
    if (gd_cidr_parse(str(json_object_get(s, "spec"), "cidr"), team + g->net - 1, c) < 0) {
        json_decref(s);
        return GD_EINVAL;
    }
    if (out)
        *out = s;
    else
        json_decref(s);
    return 0;
}

static int ip_in_use(json_t *list, uint32_t ip)
{
    size_t i;
    json_t *r;
    json_array_foreach(list, i, r)
    {
        json_t *st = json_object_get(r, "status");
        uint32_t used;
        if (gd_inst_state_of(st) == GD_INST_TERMINATED) continue;
        if (gd_ip_parse(str(st, "ip"), &used) == 0 && used == ip) return 1;
    }
    return 0;
}

/* The first free usable address of a subnet, as AWS hands them out. */
/* Every live resource of a team (0: all teams) whose type has every flag in flags. */
static json_t *list_flagged(gd_game *g, int team, unsigned flags)
{
    const char *names[32];
    size_t n = gd_registry_names(flags, names, 32);
    json_t *all = json_array();
    for (size_t k = 0; k < n; k++) {
        json_t *x = gd_store_res_list(g->db, team, names[k], 0);
        json_array_extend(all, x);
        json_decref(x);
    }
    return all;
}

static int alloc_ip(gd_game *g, int team, const char *subnet, uint32_t *ip, char *err, size_t n)
{
    gd_cidr c;
    if (subnet_of(g, team, subnet, &c, NULL) < 0) {
        snprintf(err, n, "subnet '%s' does not exist", subnet);
        return GD_ENOENT;
    }
    json_t *inst = gd_store_res_list(g->db, team, "instance", 0);
    json_t *lbs = list_flagged(g, team, GD_RT_LB); /* load balancers sit in subnets */
    int r = GD_EFULL;
    for (uint32_t i = 0; i < gd_cidr_usable(c); i++) {
        uint32_t cand;
        gd_cidr_host(c, i, &cand);
        if (!ip_in_use(inst, cand) && !ip_in_use(lbs, cand)) {
            *ip = cand;
            r = 0;
            break;
        }
    }
    json_decref(inst);
    json_decref(lbs);
    if (r < 0) {
        char cb[24];
        snprintf(err, n,
                 "InsufficientFreeAddressesInSubnet: subnet '%s' (%s) has no free address "
                 "(%u usable)",
                 subnet, gd_cidr_format(c, cb), gd_cidr_usable(c));
    }
    return r;
}

/* CDN distributions live outside the VPC: team t's edge locations are 127.X.250.4+. */
static int alloc_cdn_ip(gd_game *g, int team, uint32_t *ip)
{
    json_t *cdns = gd_store_res_list(g->db, team, "cdn", 0);
    uint32_t base = (127u << 24) | ((uint32_t)(team + g->net - 1) << 16) | (250u << 8);
    int r = GD_EFULL;
    for (uint32_t h = 4; h < 255; h++)
        if (!ip_in_use(cdns, base | h)) {
            *ip = base | h;
            r = 0;
            break;
        }
    json_decref(cdns);
    return r;
}

/* ---- instances ---- */

/* A new instance's name, "<group>-<8 hex digits>", unique across server restarts: the
 * digits come from a counter kept in the store (kv name_seq), mixed with the game's
 * epoch so that names look random, and a name a live resource has is skipped. */
static const char *gen_name(gd_game *g, int team, const char *base, char *out, size_t n)
{
    char *v = gd_store_kv_get(g->db, "name_seq");
    uint64_t seq = v ? strtoull(v, NULL, 10) : 0;
    gd_free(v);
    for (int tries = 0; tries < 64; tries++) {
        gd_rand r;
        gd_rand_seed(&r, gd_clock_epoch_ns() ^ (++seq * 0x9e3779b97f4a7c15ull));
        snprintf(out, n, "%s-%08x", base, (unsigned)gd_rand_u64(&r));
        json_t *taken = gd_store_res_get(g->db, team, out);
        json_decref(taken);
        if (!taken) break;
    }
    char b[32];
    snprintf(b, sizeof b, "%llu", (unsigned long long)seq);
    gd_store_kv_set(g->db, "name_seq", b);
    return out;
}

int gd_launcher_run_instance(gd_game *g, int team, const char *name, const char *lt_name,
                             const char *itype, const char *subnet, const char *asg, int booted,
                             const char *principal, const char *source_ip, char id_out[40],
                             char *err, size_t errlen)
{
    json_t *req = json_pack("{s:s,s:s,s:s?}", "launchTemplate", lt_name, "subnet", subnet,
                            "autoScalingGroup", asg);
    json_t *lt = gd_store_res_get(g->db, team, lt_name);
    json_t *sn = NULL;
    gd_cidr c;
    int r = 0;
    if (!lt || strcmp(str(lt, "type"), "launch_template") != 0) {
        snprintf(err, errlen, "launch template '%s' does not exist", lt_name);
        r = GD_ENOENT;
    } else if (subnet_of(g, team, subnet, &c, &sn) < 0) {
        snprintf(err, errlen, "subnet '%s' does not exist", subnet);
        r = GD_ENOENT;
    }
    uint32_t ip = 0;
    if (r == 0) r = alloc_ip(g, team, subnet, &ip, err, errlen);
    if (r < 0) {
        gd_game_audit(
            g, team, principal, source_ip, "RunInstances", req, json_pack("{s:s}", "message", err),
            r == GD_EFULL ? "InsufficientFreeAddressesInSubnet" : "InvalidParameterValue");
        json_decref(lt);
        json_decref(sn);
        return r;
    }
    json_t *lts = json_object_get(lt, "spec");
    double now = gd_game_now(g);
    char ipb[16], gen[64];
    gd_ip_format(ip, ipb);
    if (!name) name = gen_name(g, team, asg ? asg : lt_name, gen, sizeof gen);
    json_t *spec = json_pack("{s:s,s:s,s:s}", "launch_template", lt_name, "subnet", subnet,
                             "instance_type", itype ? itype : str(lts, "instance_type"));
    json_t *status = json_pack(
        "{s:s,s:s,s:i,s:s,s:s,s:s?,s:f,s:f,s:b,s:f}", "state", gd_inst_state_name(GD_INST_PENDING),
        "ip", ipb, "port", (int)num(lts, "port", 8000), "subnet", subnet, "az",
        str(json_object_get(sn, "spec"), "az"), "asg", asg, "launched_at", now, "boot_until",
        booted ? now : now + num(lts, "boot_time", 60), "initial", booted, "billed_until", now);
    json_object_set(status, "instance_type", json_object_get(spec, "instance_type"));
    char id[40];
    r = gd_store_res_create(g->db, team, "instance", name, spec, status, now, id);
    if (r == 0) {
        if (id_out) snprintf(id_out, 40, "%s", id);
        gd_game_audit(g, team, principal, source_ip, "RunInstances", req,
                      json_pack("{s:s,s:s,s:s}", "instanceId", id, "name", name, "privateIp", ipb),
                      NULL);
        gd_info("instance_pending", "team=%d id=%s ip=%s by=%s", team, id, ipb, principal);
    } else {
        snprintf(err, errlen,
                 r == GD_EEXIST ? "a resource named '%s' exists"
                                : "could not record the instance: %s",
                 r == GD_EEXIST ? name : gd_strerror(r));
        gd_game_audit(g, team, principal, source_ip, "RunInstances", req,
                      json_pack("{s:s}", "message", err),
                      r == GD_EEXIST ? "AlreadyExists" : "InternalError");
    }
    json_decref(spec);
    json_decref(status);
    json_decref(lt);
    json_decref(sn);
    return r;
}

int gd_launcher_terminate(gd_game *g, int team, const char *id, int hard, const char *principal,
                          const char *source_ip, const char *reason)
{
    json_t *r = gd_store_res_get(g->db, team, id);
    if (!r || strcmp(str(r, "type"), "instance") != 0) {
        gd_game_audit(g, team, principal, source_ip, "TerminateInstances",
                      json_pack("{s:s}", "instanceId", id), NULL, "InvalidInstanceID.NotFound");
        json_decref(r);
        return GD_ENOENT;
    }
    const char *rid = str(r, "id");
    gd_inst_state prev = gd_inst_state_of_res(r);
    char why[160];
    snprintf(why, sizeof why, "%s by %s", reason ? reason : "terminated", principal);
    if (prev != GD_INST_TERMINATED) {
        gd_proc *p = proc_find(g, rid, GD_PROC_INSTANCE, 0);
        if (p) {
            p->killed = 1;
            snprintf(p->kill_reason, sizeof p->kill_reason, "%s", why);
            kill(p->pid, hard ? SIGKILL : SIGTERM);
        }
        set_status_fields(g, rid,
                          json_pack("{s:s,s:f,s:s}", "state",
                                    gd_inst_state_name(GD_INST_TERMINATED), "terminated_at",
                                    gd_game_now(g), "reason", why));
    }
    gd_game_audit(g, (int)json_integer_value(json_object_get(r, "team")), principal, source_ip,
                  "TerminateInstances", json_pack("{s:s,s:b}", "instanceId", rid, "force", hard),
                  json_pack("{s:s,s:s,s:s}", "instanceId", rid, "previousState",
                            gd_inst_state_name(prev), "currentState",
                            gd_inst_state_name(GD_INST_TERMINATED)),
                  NULL);
    gd_info("instance_terminated", "id=%s by=%s hard=%d", rid, principal, hard);
    json_decref(r);
    gd_launcher_reconcile(g); /* the edges stop sending to it now */
    return 0;
}

static void boot(gd_game *g, json_t *inst)
{
    int team = (int)json_integer_value(json_object_get(inst, "team"));
    const char *id = str(inst, "id");
    json_t *st = json_object_get(inst, "status");
    json_t *lt =
        gd_store_res_get(g->db, team, str(json_object_get(inst, "spec"), "launch_template"));
    json_t *lts = json_object_get(lt, "spec");
    char addr[64], e_addr[96], e_id[80], e_salt[160], e_slots[48], e_queue[48], e_svc[64];
    char e_speed[64], e_epoch[64], e_port[48];
    snprintf(addr, sizeof addr, "%s:%d", str(st, "ip"), (int)num(st, "port", 8000));
    snprintf(e_addr, sizeof e_addr, "GAMEDAY_ADDR=%s", addr);
    snprintf(e_port, sizeof e_port, "PORT=%d", (int)num(st, "port", 8000));
    snprintf(e_id, sizeof e_id, "GAMEDAY_INSTANCE_ID=%s", id);
    snprintf(e_salt, sizeof e_salt, "GAMEDAY_SALT=%s", g->sc->salt);
    snprintf(e_slots, sizeof e_slots, "GAMEDAY_SLOTS=%d", (int)num(lts, "slots", 5));
    snprintf(e_queue, sizeof e_queue, "GAMEDAY_QUEUE=%d", (int)num(lts, "queue", 32));
    snprintf(e_svc, sizeof e_svc, "GAMEDAY_SERVICE_MS=%.0f", num(lts, "service_time", 4) * 1000);
    clock_env(e_speed, e_epoch, sizeof e_speed);
    char e_ip[48];
    snprintf(e_ip, sizeof e_ip, "GAMEDAY_IP=%s", str(st, "ip"));
    char *env[] = {e_addr,  e_ip,  e_port,  e_id,    e_salt, e_slots,
                   e_queue, e_svc, e_speed, e_epoch, NULL};
    json_t *cmd = json_object_get(lts, "command");
    char *args[64];
    int na = 0;
    char svc[32];
    char *owned[64] = {0};
    if (json_is_array(cmd) && json_array_size(cmd) > 0) {
        /* Any HTTP server can be an instance: ${GAMEDAY_IP}, ${PORT} and
         * ${GAMEDAY_ADDR} in its arguments become this instance's address. */
        char ipport[2][64];
        snprintf(ipport[0], sizeof ipport[0], "%s", str(st, "ip"));
        snprintf(ipport[1], sizeof ipport[1], "%d", (int)num(st, "port", 8000));
        size_t i;
        json_t *a;
        json_array_foreach(cmd, i, a)
        {
            if (na >= 63) break;
            const char *v = json_string_value(a);
            gd_buf b;
            gd_buf_init(&b, 4096);
            for (const char *q = v; q && *q;) {
                if (!strncmp(q, "${GAMEDAY_IP}", 13)) {
                    gd_buf_puts(&b, ipport[0]);
                    q += 13;
                } else if (!strncmp(q, "${PORT}", 7)) {
                    gd_buf_puts(&b, ipport[1]);
                    q += 7;
                } else if (!strncmp(q, "${GAMEDAY_ADDR}", 15)) {
                    gd_buf_puts(&b, addr);
                    q += 15;
                } else {
                    gd_buf_append(&b, q++, 1);
                }
            }
            owned[na] = gd_strdup(gd_buf_cstr(&b));
            args[na] = owned[na];
            na++;
            gd_buf_free(&b);
        }
    } else {
        snprintf(svc, sizeof svc, "%s", lt ? str(lts, "service") : "unicorn");
        args[na++] = g->exe;
        args[na++] = "instance";
        args[na++] = svc[0] ? svc : "unicorn";
    }
    args[na] = NULL;
    gd_proc *p = spawn(g, GD_PROC_INSTANCE, team, id, args, env, id);
    for (int k = 0; k < 64; k++) gd_free(owned[k]);
    if (p) {
        set_status_fields(g, id,
                          json_pack("{s:s,s:i,s:f}", "state", gd_inst_state_name(GD_INST_RUNNING),
                                    "pid", p->pid, "running_at", gd_game_now(g)));
    } else {
        set_status_fields(g, id,
                          json_pack("{s:s,s:f,s:s}", "state",
                                    gd_inst_state_name(GD_INST_TERMINATED), "terminated_at",
                                    gd_game_now(g), "reason",
                                    "the instance command failed to start"));
    }
    json_decref(lt);
}

/* ---- autoscaling groups ---- */

/* 1 when a scale-in has deregistered the instance and it waits to be drained. */
static int leaving(json_t *inst)
{
    return !strcmp(str(json_object_get(inst, "status"), "lifecycle"), "Terminating");
}

/* 1 once no edge can still send to the instance or have a request in flight on it:
 * every edge has accepted a document without it and answered /stats since, and those
 * stats list it nowhere (an edge forgets a deregistered target when it is drained). */
static int drained(gd_game *g, const char *id)
{
    char quoted[48];
    snprintf(quoted, sizeof quoted, "\"%s\"", id);
    for (gd_edge_link *e = g->edges; e; e = e->next) {
        /* An edge with no accepted document yet (just spawned, or a restarted server
         * that has not pushed again) may still have the target. */
        if (!e->pushed || strstr(e->pushed, quoted)) return 0;
        if (e->stats_from <= e->pushed_at) return 0;
        size_t i;
        json_t *t;
        json_array_foreach(json_object_get(e->stats, "targets"), i,
                           t) if (!strcmp(str(t, "id"), id)) return 0;
    }
    return 1;
}

/* The longest deregistration delay of the load balancers and target groups an asg
 * registers its instances with (clb: connection_draining), game seconds; 0 when none. */
static double asg_drain_delay(gd_game *g, int team, json_t *spec)
{
    double d = 0;
    static const char *const fields[] = {"load_balancers", "target_groups"};
    for (int f = 0; f < 2; f++) {
        size_t i;
        json_t *n;
        json_array_foreach(json_object_get(spec, fields[f]), i, n)
        {
            json_t *r = gd_store_res_get(g->db, team, json_string_value(n));
            json_t *rs = json_object_get(r, "spec");
            double x = !strcmp(str(r, "type"), "clb")   ? num(rs, "connection_draining", 300)
                       : !strcmp(str(r, "type"), "cdn") ? 0
                                                        : num(rs, "deregistration_delay", 300);
            if (r && x > d) d = x;
            json_decref(r);
        }
    }
    return d;
}

static void reconcile_asg(gd_game *g, json_t *asg, json_t *instances)
{
    int team = (int)json_integer_value(json_object_get(asg, "team"));
    const char *name = str(asg, "name");
    json_t *spec = json_object_get(asg, "spec");
    int desired = (int)num(spec, "desired", 0);
    json_t *mine = json_array();
    size_t i;
    json_t *r;
    double now = gd_game_now(g);
    json_array_foreach(instances, i, r)
    {
        json_t *st = json_object_get(r, "status");
        if ((int)json_integer_value(json_object_get(r, "team")) != team ||
            strcmp(str(st, "asg"), name) != 0 || !gd_inst_state_live(gd_inst_state_of(st)))
            continue;
        if (!leaving(r)) {
            json_array_append(mine, r);
        } else if (now >= num(st, "drain_until", 0) || drained(g, str(r, "id"))) {
            /* Deregistered and drained: it goes now. Terminating reconciles again with
             * what is true now, so this stale pass stops here. */
            gd_launcher_terminate(g, team, str(r, "id"), 0, "autoscaling", NULL, "scale-in");
            json_decref(mine);
            return;
        }
    }
    /* Health check type ELB: an instance its load balancers report out of service,
     * once past the grace period, is replaced (EC2: only a dead process is). */
    if (!strcmp(str(spec, "health_check_type"), "ELB")) {
        double grace = num(spec, "health_check_grace", 300);
        for (size_t k = json_array_size(mine); k-- > 0;) {
            json_t *m = json_array_get(mine, k);
            json_t *mst = json_object_get(m, "status");
            if (gd_inst_state_of(mst) != GD_INST_RUNNING ||
                now < num(mst, "running_at", now) + grace)
                continue;
            /* Out of service in any group of any edge. A target that has failed
             * fewer than two checks (the least unhealthy threshold) is still
             * `initial`, as AWS has it: just registered, e.g. in a group it joined. An
             * InService target needs at least two failures to go out anyway. */
            int out = 0;
            for (gd_edge_link *e = g->edges; e; e = e->next) {
                size_t q;
                json_t *t;
                json_array_foreach(json_object_get(e->stats, "targets"), q, t)
                {
                    if (!strcmp(str(t, "id"), str(m, "id")) &&
                        !strcmp(str(t, "state"), "OutOfService") && num(t, "health_fail", 2) >= 2)
                        out = 1;
                }
            }
            if (out) {
                /* Terminating reconciles again, this group included, with what is
                 * true now: the replacement and any other unhealthy member are
                 * handled there, so this stale pass stops here. */
                gd_launcher_terminate(g, team, str(m, "id"), 0, "autoscaling", NULL,
                                      "ELB health check failed");
                json_decref(mine);
                return;
            }
        }
    }
    int have = (int)json_array_size(mine);
    json_t *ast = json_object_get(asg, "status");
    if (have < desired && now >= num(ast, "retry_at", 0)) {
        json_t *subnets = json_object_get(spec, "subnets");
        for (int k = have; k < desired; k++) {
            /* Spread over the group's subnets: the one with fewest of ours first. */
            const char *best = NULL;
            int best_n = 1 << 30;
            size_t si;
            json_t *sj;
            json_array_foreach(subnets, si, sj)
            {
                int cnt = 0;
                size_t mi;
                json_t *m;
                json_array_foreach(mine, mi, m) cnt +=
                    !strcmp(str(json_object_get(m, "status"), "subnet"), json_string_value(sj));
                if (cnt < best_n) {
                    best_n = cnt;
                    best = json_string_value(sj);
                }
            }
            char err[256], id[40];
            int rc =
                gd_launcher_run_instance(g, team, NULL, str(spec, "launch_template"), NULL, best,
                                         name, 0, "autoscaling", NULL, id, err, sizeof err);
            if (rc == GD_EFULL && json_array_size(subnets) > 1) {
                /* Try the other subnets before giving up. */
                json_array_foreach(subnets, si, sj)
                {
                    if (!strcmp(json_string_value(sj), best)) continue;
                    rc = gd_launcher_run_instance(g, team, NULL, str(spec, "launch_template"), NULL,
                                                  json_string_value(sj), name, 0, "autoscaling",
                                                  NULL, id, err, sizeof err);
                    if (rc == 0) break;
                }
            }
            if (rc < 0) {
                gd_warn("asg_launch_failed", "team=%d asg=%s err=%s", team, name, gd_log_q(err));
                set_status_fields(g, str(asg, "id"),
                                  json_pack("{s:s,s:f}", "last_error", err, "retry_at", now + 30));
                break;
            }
            json_t *inst = gd_store_res_get(g->db, team, id);
            if (inst) json_array_append_new(mine, inst);
            if (json_object_get(ast, "last_error"))
                set_status_fields(g, str(asg, "id"),
                                  json_pack("{s:n,s:i}", "last_error", "retry_at", 0));
        }
    } else if (have > desired) {
        /* Scale in: the newest instances go first. One registered with load balancers
         * is deregistered first and terminated once its edges have drained it (no
         * request in flight) or its longest deregistration delay has passed, as EC2
         * Auto Scaling does; the others go at once. */
        double delay = asg_drain_delay(g, team, spec);
        for (int k = have - 1; k >= desired; k--) {
            json_t *m = json_array_get(mine, (size_t)k);
            const char *mid = str(m, "id");
            if (delay > 0 && gd_inst_state_of_res(m) == GD_INST_RUNNING) {
                set_status_fields(g, mid,
                                  json_pack("{s:s,s:f,s:f}", "lifecycle", "Terminating",
                                            "drain_since", now, "drain_until", now + delay));
                gd_game_audit(g, team, "autoscaling", NULL, "DeregisterTargets",
                              json_pack("{s:s,s:s}", "instanceId", mid, "asg", name),
                              json_pack("{s:s,s:f}", "lifecycle", "Terminating",
                                        "deregistration_delay", delay),
                              NULL);
                gd_info("instance_draining", "id=%s asg=%s delay=%.0f", mid, name, delay);
            } else {
                gd_launcher_terminate(g, team, mid, 0, "autoscaling", NULL, "scale-in");
            }
        }
    }
    json_decref(mine);
}

/* ---- edges ---- */

static gd_edge_link *edge_link(gd_game *g, const char *res_id)
{
    for (gd_edge_link *e = g->edges; e; e = e->next)
        if (!strcmp(e->res_id, res_id)) return e;
    return NULL;
}

/* The health an edge last reported for a target of one of its groups (1 InService), or
 * -1 unknown. */
static int last_health(gd_edge_link *e, const char *id, const char *group)
{
    size_t k;
    json_t *t;
    json_array_foreach(json_object_get(e ? e->stats : NULL, "targets"), k, t)
    {
        if (!strcmp(str(t, "id"), id) && !strcmp(str(t, "target_group"), group))
            return !strcmp(str(t, "state"), "InService");
    }
    return -1;
}

/* The first live resource of `team` named `name` in list, or NULL. */
static json_t *find_res(json_t *list, int team, const char *name)
{
    size_t i;
    json_t *r;
    json_array_foreach(list, i, r)
    {
        if ((int)json_integer_value(json_object_get(r, "team")) == team &&
            !strcmp(str(r, "name"), name))
            return r;
    }
    return NULL;
}

/* The running instances of `team` registered with a target group: named in `names` (by
 * name or id), or launched by a group whose spec field `field` ("load_balancers" or
 * "target_groups") lists `owner`. Each is reached at its ip:port. Its healthy flag is
 * what edge e last said of it in `group`; unknown, it is `boot` for the instances the
 * game started with. */
static json_t *group_targets(int team, json_t *names, const char *field, const char *owner,
                             int port, int boot, json_t *instances, json_t *asgs, gd_edge_link *e,
                             const char *group)
{
    json_t *targets = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(instances, i, r)
    {
        if ((int)json_integer_value(json_object_get(r, "team")) != team) continue;
        json_t *ist = json_object_get(r, "status");
        if (gd_inst_state_of(ist) != GD_INST_RUNNING || leaving(r)) continue;
        int reg = 0;
        size_t k;
        json_t *x;
        json_array_foreach(names, k, x)
        {
            const char *n = json_string_value(x);
            if (n && (!strcmp(n, str(r, "name")) || !strcmp(n, str(r, "id")))) reg = 1;
        }
        json_t *asg = *str(ist, "asg") ? find_res(asgs, team, str(ist, "asg")) : NULL;
        json_array_foreach(json_object_get(json_object_get(asg, "spec"), field), k, x)
        {
            if (json_string_value(x) && !strcmp(json_string_value(x), owner)) reg = 1;
        }
        if (!reg) continue;
        char addr[40];
        snprintf(addr, sizeof addr, "%s:%d", str(ist, "ip"), port);
        int known = last_health(e, str(r, "id"), group);
        int healthy = known >= 0 ? known : boot && json_is_true(json_object_get(ist, "initial"));
        json_array_append_new(targets, json_pack("{s:s,s:s,s:s,s:b}", "id", str(r, "id"), "addr",
                                                 addr, "az", str(ist, "az"), "healthy", healthy));
    }
    return targets;
}

/* An alb target group document from the settings an alb or a target_group holds
 * (algorithm, health_check, stickiness, deregistration_delay, slow_start,
 * cross_zone); its targets are reached, and checked, at `port`. Takes targets. */
static json_t *group_doc(const char *name, json_t *spec, int port, json_t *targets)
{
    json_t *hc = json_object_get(spec, "health_check");
    json_t *hcd =
        json_pack("{s:s,s:i,s:f,s:f,s:i,s:i}", "path", hc ? str(hc, "path") : "/health", "port",
                  port, "interval", num(hc, "interval", 30), "timeout", num(hc, "timeout", 5),
                  "healthy_threshold", (int)num(hc, "healthy_threshold", 5), "unhealthy_threshold",
                  (int)num(hc, "unhealthy_threshold", 2));
    if (json_object_get(hc, "matcher"))
        json_object_set(hcd, "matcher", json_object_get(hc, "matcher"));
    json_t *tg = json_pack("{s:s,s:s,s:o,s:f,s:f,s:b,s:o}", "name", name, "algorithm",
                           str(spec, "algorithm"), "health_check", hcd, "deregistration_delay",
                           num(spec, "deregistration_delay", 300), "slow_start",
                           num(spec, "slow_start", 0), "cross_zone",
                           !json_is_false(json_object_get(spec, "cross_zone")), "targets", targets);
    json_t *sticky = json_object_get(spec, "stickiness");
    if (strcmp(str(sticky, "type"), "lb_cookie") == 0 ||
        strcmp(str(sticky, "type"), "app_cookie") == 0) {
        json_t *sj = json_pack("{s:s,s:f}", "type", str(sticky, "type"), "duration",
                               num(sticky, "duration", 86400));
        if (json_object_get(sticky, "cookie_name"))
            json_object_set(sj, "cookie_name", json_object_get(sticky, "cookie_name"));
        json_object_set_new(tg, "stickiness", sj);
    }
    return tg;
}

/* The document an edge process is configured with, for a clb, alb or cdn resource.
 * tgs lists the target_group resources. */
static json_t *edge_config(gd_game *g, json_t *lb, json_t *instances, json_t *asgs, json_t *tgs)
{
    const char *type = str(lb, "type");
    json_t *spec = json_object_get(lb, "spec"), *st = json_object_get(lb, "status");
    int iport = (int)num(spec, "instance_port", 8000);
    char listen[40];
    snprintf(listen, sizeof listen, "%s:%d", str(st, "ip"), (int)num(st, "port", 8080));
    json_t *doc =
        json_pack("{s:s,s:s,s:s,s:s,s:f}", "mode", type, "id", str(lb, "id"), "name",
                  str(lb, "name"), "listen", listen, "idle_timeout", num(spec, "idle_timeout", 60));
    int team = (int)json_integer_value(json_object_get(lb, "team"));
    if (!strcmp(type, "cdn")) {
        /* The origin is a load balancer of the same team. */
        json_t *o = gd_store_res_get(g->db, team, str(spec, "origin"));
        json_t *ost = json_object_get(o, "status");
        char origin[40];
        snprintf(origin, sizeof origin, "%s:%d", str(ost, "ip"), (int)num(ost, "port", 8080));
        json_t *qs = json_object_get(spec, "query_include")
                         ? json_pack("{s:O}", "include", json_object_get(spec, "query_include"))
                         : json_string(str(spec, "query_strings"));
        json_object_set_new(doc, "origin",
                            json_pack("{s:s}", "addr", *str(ost, "ip") ? origin : "127.0.0.1:1"));
        json_object_set_new(
            doc, "cache",
            json_pack("{s:I,s:[{s:s,s:o,s:O,s:O,s:f,s:f,s:f,s:f,s:f}]}", "max_bytes",
                      (json_int_t)num(spec, "max_bytes", 67108864), "behaviors", "path", "*",
                      "query_strings", qs, "headers", json_object_get(spec, "headers"), "cookies",
                      json_object_get(spec, "cookies"), "min_ttl", num(spec, "min_ttl", 0),
                      "default_ttl", num(spec, "default_ttl", 86400), "max_ttl",
                      num(spec, "max_ttl", 31536000), "stale_while_revalidate",
                      num(spec, "stale_while_revalidate", 0), "stale_if_error",
                      num(spec, "stale_if_error", 0)));
        json_decref(o);
        return doc;
    }
    /* The game starts with a running system: the first fleet behind the first load
     * balancers is in service. Later, a respawned edge keeps what its predecessor
     * knew; anything else must pass its health checks. */
    int boot = json_is_true(json_object_get(st, "bootstrap"));
    gd_edge_link *e = edge_link(g, str(lb, "id"));
    json_t *targets =
        group_targets(team, json_object_get(spec, "instances"), "load_balancers", str(lb, "name"),
                      iport, boot, instances, asgs, e, GD_SCHEMA_IMPLICIT_TG);
    if (!strcmp(type, "clb")) {
        json_object_set_new(doc, "deregistration_delay",
                            json_real(num(spec, "connection_draining", 300)));
        json_t *hc = json_object_get(spec, "health_check");
        json_object_set_new(
            doc, "health_check",
            json_pack("{s:s,s:i,s:f,s:f,s:i,s:i}", "path", hc ? str(hc, "path") : "/health", "port",
                      iport, "interval", num(hc, "interval", 30), "timeout", num(hc, "timeout", 5),
                      "healthy_threshold", (int)num(hc, "healthy_threshold", 10),
                      "unhealthy_threshold", (int)num(hc, "unhealthy_threshold", 2)));
        json_object_set_new(doc, "targets", targets);
        return doc;
    }
    /* An alb: its own group "default", then each target_group it sends to. */
    json_t *groups = json_pack("[o]", group_doc(GD_SCHEMA_IMPLICIT_TG, spec, iport, targets));
    json_t *used = gd_schema_alb_groups(spec);
    size_t i;
    json_t *n;
    json_array_foreach(used, i, n)
    {
        const char *name = json_string_value(n);
        json_t *tg = find_res(tgs, team, name), *tgs_spec = json_object_get(tg, "spec");
        if (!tg) continue; /* the edge refuses the document: it names a group it lacks */
        int port = (int)num(tgs_spec, "port", 8000);
        json_array_append_new(
            groups,
            group_doc(name, tgs_spec, port,
                      group_targets(team, json_object_get(tgs_spec, "instances"), "target_groups",
                                    name, port, boot, instances, asgs, e, name)));
    }
    json_decref(used);
    json_object_set_new(doc, "target_groups", groups);
    const char *dflt = json_string_value(json_object_get(spec, "default_target_group"));
    json_object_set_new(doc, "default_action",
                        json_pack("{s:s,s:s}", "type", "forward", "target_group",
                                  dflt ? dflt : GD_SCHEMA_IMPLICIT_TG));
    json_t *rules = json_object_get(spec, "rules");
    if (json_array_size(rules)) json_object_set(doc, "rules", rules);
    return doc;
}

/* A target_group's status: the albs that send to it, its registered running instances,
 * and how many of those its albs' edges last counted InService (in every alb that
 * has it) or OutOfService. Written only when it changes. */
static void tg_status(gd_game *g, json_t *tg, json_t *lbs, json_t *instances, json_t *asgs)
{
    int team = (int)json_integer_value(json_object_get(tg, "team"));
    const char *name = str(tg, "name");
    json_t *spec = json_object_get(tg, "spec");
    json_t *albs = json_array(), *seen = json_object();
    size_t i, k;
    json_t *r, *t;
    json_array_foreach(lbs, i, r)
    {
        if (strcmp(str(r, "type"), "alb") != 0 ||
            (int)json_integer_value(json_object_get(r, "team")) != team)
            continue;
        json_t *used = gd_schema_alb_groups(json_object_get(r, "spec"));
        int uses = 0;
        json_array_foreach(used, k, t) uses |= !strcmp(json_string_value(t), name);
        json_decref(used);
        if (!uses) continue;
        json_array_append_new(albs, json_string(str(r, "name")));
        gd_edge_link *e = edge_link(g, str(r, "id"));
        json_array_foreach(json_object_get(e ? e->stats : NULL, "targets"), k, t)
        {
            if (strcmp(str(t, "target_group"), name) != 0) continue;
            const char *state = str(t, "state");
            if (!strcmp(state, "OutOfService"))
                json_object_set_new(seen, str(t, "id"), json_false());
            else if (!strcmp(state, "InService") && !json_object_get(seen, str(t, "id")))
                json_object_set_new(seen, str(t, "id"), json_true());
        }
    }
    int healthy = 0, unhealthy = 0;
    const char *id;
    json_object_foreach(seen, id, t)
    {
        healthy += json_is_true(t);
        unhealthy += json_is_false(t);
    }
    json_decref(seen);
    json_t *reg = group_targets(team, json_object_get(spec, "instances"), "target_groups", name,
                                8000, 0, instances, asgs, NULL, name);
    json_t *fresh =
        json_pack("{s:o,s:i,s:i,s:i}", "load_balancers", albs, "targets", (int)json_array_size(reg),
                  "healthy", healthy, "unhealthy", unhealthy);
    json_decref(reg);
    json_t *st = json_object_get(tg, "status");
    int same = 1;
    json_object_foreach(fresh, id, t) same &= json_equal(json_object_get(st, id), t);
    if (same)
        json_decref(fresh);
    else
        set_status_fields(g, str(tg, "id"), fresh);
}

struct push {
    gd_edge_link *e;
    char *doc;
};

static void on_pushed(void *ud, int err, const gd_httpc_resp *resp)
{
    struct push *p = ud;
    p->e->pushing = 0;
    if (!err && resp->status == 200) {
        gd_free(p->e->pushed);
        p->e->pushed = p->doc;
        p->e->pushed_at = uv_now(p->e->admin_loop);
        gd_debug("edge_config_pushed", "lb=%s", p->e->res_id);
    } else {
        if (!err) {
            gd_free(p->e->refused);
            p->e->refused = gd_strdup(p->doc);
        }
        if (!err)
            gd_warn("edge_config_refused", "lb=%s status=%d body=%s", p->e->res_id, resp->status,
                    gd_log_q(resp->body));
        gd_free(p->doc);
    }
    gd_free(p);
}

/* The metrics of the target_group resources an alb's edge sends to, from its stats
 * (its own group "default" is the alb's, in the alb's metrics). */
static void group_metrics(gd_game *g, gd_edge_link *e, double now, const json_t *cur)
{
    json_t *groups = json_object_get(cur, "target_groups");
    if (json_array_size(groups) < 2) return;
    json_t *lb = gd_store_res_get(g->db, 0, e->res_id);
    int team = (int)json_integer_value(json_object_get(lb, "team"));
    json_decref(lb);
    size_t i, k;
    json_t *x, *p;
    json_array_foreach(groups, i, x)
    {
        const char *name = str(x, "name");
        if (!strcmp(name, GD_SCHEMA_IMPLICIT_TG)) continue;
        json_t *tg = gd_store_res_get(g->db, team, name);
        if (tg && !strcmp(str(tg, "type"), "target_group")) {
            const json_t *prev = NULL;
            json_array_foreach(json_object_get(e->stats, "target_groups"), k,
                               p) if (!strcmp(str(p, "name"), name)) prev = p;
            gd_metrics_from_group(g->metrics, str(tg, "id"), now, prev, x);
        }
        json_decref(tg);
    }
}

static void on_stats(void *ud, int err, const gd_httpc_resp *resp)
{
    gd_edge_link *e = ud;
    e->stats_inflight = 0;
    if (err || resp->status != 200) return;
    json_t *j = json_loadb(resp->body, resp->body_len, 0, NULL);
    if (j) {
        gd_game *g = e->admin_loop->data;
        double now = gd_game_now(g);
        gd_metrics_from_edge(g->metrics, e->res_id, now, e->stats, j);
        group_metrics(g, e, now, j);
        json_decref(e->stats);
        e->stats = j;
        e->stats_from = e->stats_at;
    }
}

static void reconcile_lb(gd_game *g, json_t *lb, json_t *instances, json_t *asgs, json_t *tgs)
{
    int team = (int)json_integer_value(json_object_get(lb, "team"));
    const char *id = str(lb, "id");
    json_t *spec = json_object_get(lb, "spec"), *st = json_object_get(lb, "status");
    if (!*str(st, "ip")) {
        uint32_t ip;
        char err[256], ipb[16];
        const char *subnet = json_string_value(json_array_get(json_object_get(spec, "subnets"), 0));
        int cdn = !strcmp(str(lb, "type"), "cdn");
        if (cdn ? alloc_cdn_ip(g, team, &ip) < 0
                : (!subnet || alloc_ip(g, team, subnet, &ip, err, sizeof err) < 0)) {
            if (cdn) snprintf(err, sizeof err, "no free edge address");
            set_status_fields(g, id,
                              json_pack("{s:s,s:s}", "state", "failed", "last_error",
                                        subnet || cdn ? err : "no subnet"));
            return;
        }
        gd_ip_format(ip, ipb);
        char dns[128];
        snprintf(dns, sizeof dns,
                 cdn ? "%s-%d.cloudfront.gameday.internal" : "%s-%d.elb.gameday.internal",
                 str(lb, "name"), team);
        set_status_fields(g, id,
                          json_pack("{s:s,s:s,s:i,s:s}", "state", "active", "ip", ipb, "port",
                                    (int)num(spec, "port", 8080), "dns_name", dns));
        return; /* picked up on the next pass with its address */
    }
    gd_edge_link *e = edge_link(g, id);
    uint32_t ip;
    gd_ip_parse(str(st, "ip"), &ip);
    if (!e) {
        e = gd_calloc(1, sizeof *e);
        snprintf(e->res_id, sizeof e->res_id, "%s", id);
        e->admin = gd_httpc_pool_new(g->loop, ip, EDGE_ADMIN_PORT, 1, 8);
        e->admin_loop = g->loop;
        e->next = g->edges;
        g->edges = e;
    }
    if (!proc_find(g, id, GD_PROC_EDGE, 0)) {
        char admin[48], e_tok[128], e_speed[64], e_epoch[64];
        snprintf(admin, sizeof admin, "%s:%d", str(st, "ip"), EDGE_ADMIN_PORT);
        snprintf(e_tok, sizeof e_tok, "GAMEDAY_ADMIN_TOKEN=%s", g->internal_token);
        clock_env(e_speed, e_epoch, sizeof e_speed);
        char *env[] = {e_tok, e_speed, e_epoch, NULL};
        char *args[] = {g->exe, "edge", "--admin", admin, NULL};
        gd_proc *p = spawn(g, GD_PROC_EDGE, team, id, args, env, id);
        gd_free(e->pushed);
        e->pushed = NULL;
        if (p) set_status_fields(g, id, json_pack("{s:i,s:s}", "pid", p->pid, "admin", admin));
    }
    json_t *doc = edge_config(g, lb, instances, asgs, tgs);
    char *s = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(doc);
    if (!e->pushing && (!e->pushed || strcmp(e->pushed, s) != 0) &&
        (!e->refused || strcmp(e->refused, s) != 0)) {
        size_t len = strlen(s);
        char *req = gd_sprintf("PUT /config HTTP/1.1\r\nHost: edge\r\nAuthorization: Bearer %s\r\n"
                               "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                               g->internal_token, len);
        size_t hl = strlen(req);
        char *full = gd_malloc(hl + len);
        memcpy(full, req, hl);
        memcpy(full + hl, s, len);
        struct push *p = gd_malloc(sizeof *p);
        p->e = e;
        p->doc = gd_strdup(s);
        if (gd_httpc_request(e->admin, full, hl + len, 2000, on_pushed, p) == 0)
            e->pushing = 1;
        else {
            gd_free(p->doc);
            gd_free(p);
        }
        gd_free(req);
        gd_free(full);
    }
    free(s);
    if (!e->stats_inflight && uv_now(g->loop) >= e->stats_at + 1000) {
        e->stats_at = uv_now(g->loop);
        static const char q[] = "GET /stats HTTP/1.1\r\nHost: edge\r\n\r\n";
        if (gd_httpc_request(e->admin, q, sizeof q - 1, 2000, on_stats, e) == 0)
            e->stats_inflight = 1;
    }
}

/* ---- loadgens ---- */

void gd_launcher_start_loadgen(gd_game *g, int team)
{
    if (proc_find(g, NULL, GD_PROC_LOADGEN, team)) return;
    char steam[16], server[48], endpoint[48], dur[32], e_tok[128], e_speed[64], e_epoch[64];
    char logname[32];
    snprintf(steam, sizeof steam, "%d", team);
    snprintf(server, sizeof server, "%s:%d", g->host, g->port);
    gd_game_endpoint(g, team, endpoint, sizeof endpoint);
    snprintf(dur, sizeof dur, "%.3f", g->duration);
    snprintf(e_tok, sizeof e_tok, "GAMEDAY_INTERNAL_TOKEN=%s", g->internal_token);
    snprintf(logname, sizeof logname, "loadgen-%d", team);
    clock_env(e_speed, e_epoch, sizeof e_speed);
    char *env[] = {e_tok, e_speed, e_epoch, NULL};
    char maddr[48];
    snprintf(maddr, sizeof maddr, "127.%d.255.250:9100", team + g->net - 1);
    char *args[] = {g->exe,       "loadgen",  "--scenario", g->sc->path,  "--team",
                    steam,        "--server", server,       "--endpoint", endpoint,
                    "--duration", dur,        "--metrics",  maddr,        NULL};
    gd_proc *p = spawn(g, GD_PROC_LOADGEN, team, NULL, args, env, logname);
    if (p) {
        char key[32], val[16];
        snprintf(key, sizeof key, "loadgen_pid_%d", team);
        snprintf(val, sizeof val, "%d", p->pid);
        gd_store_kv_set(g->db, key, val);
    }
}

/* ---- reconcile ---- */

/* Customers arrive once the team's endpoint serves: its edge took its first config. */
static int endpoint_ready(gd_game *g, int team)
{
    char key[32];
    snprintf(key, sizeof key, "endpoint_%d", team);
    char *name = gd_store_kv_get(g->db, key);
    json_t *r = name ? gd_store_res_get(g->db, team, name) : NULL;
    gd_free(name);
    int ready = 1;
    if (r && gd_registry_has(str(r, "type"), GD_RT_EDGE)) {
        gd_edge_link *e = edge_link(g, str(r, "id"));
        ready = e && e->pushed;
    }
    json_decref(r);
    return ready;
}

/* What one reconcile pass reads: the store's view, refreshed after each step that
 * changes it. */
struct pass {
    double now;
    json_t *asgs, *instances, *edges, *tgs;
};

static void refresh_instances(gd_game *g, struct pass *p)
{
    json_decref(p->instances);
    p->instances = gd_store_res_list(g->db, 0, "instance", 0);
}

/* Auto scaling groups: launch or terminate toward desired (autoscaler). */
static void rc_asgs(gd_game *g, struct pass *p)
{
    size_t i;
    json_t *r;
    json_array_foreach(p->asgs, i, r) reconcile_asg(g, r, p->instances);
    refresh_instances(g, p);
}

/* Instances: boot the pending ones that are due; a running one with no process is lost. */
static void rc_instances(gd_game *g, struct pass *p)
{
    size_t i;
    json_t *r;
    json_array_foreach(p->instances, i, r)
    {
        json_t *st = json_object_get(r, "status");
        gd_inst_state state = gd_inst_state_of(st);
        if (state == GD_INST_PENDING && p->now >= num(st, "boot_until", 0)) {
            boot(g, r);
        } else if (state == GD_INST_RUNNING && !proc_find(g, str(r, "id"), GD_PROC_INSTANCE, 0)) {
            set_status_fields(g, str(r, "id"),
                              json_pack("{s:s,s:f,s:s}", "state",
                                        gd_inst_state_name(GD_INST_TERMINATED), "terminated_at",
                                        p->now, "reason", "the process was lost"));
        }
    }
    refresh_instances(g, p);
}

/* Every type that runs as an edge (GD_RT_EDGE: clb, alb, cdn): its process, its
 * configuration document and its stats; the edges of deleted ones stop. */
static void rc_edges(gd_game *g, struct pass *p)
{
    size_t i;
    json_t *r;
    json_array_foreach(p->edges, i, r) reconcile_lb(g, r, p->instances, p->asgs, p->tgs);
    for (gd_edge_link **pp = &g->edges; *pp;) {
        gd_edge_link *e = *pp;
        int live = 0;
        json_array_foreach(p->edges, i, r) live |= !strcmp(str(r, "id"), e->res_id);
        if (!live) {
            gd_proc *pr = proc_find(g, e->res_id, GD_PROC_EDGE, 0);
            if (pr) {
                pr->killed = 1;
                snprintf(pr->kill_reason, sizeof pr->kill_reason, "load balancer deleted");
                kill(pr->pid, SIGTERM);
            }
            *pp = e->next;
            gd_httpc_pool_close(e->admin);
            gd_free(e->pushed);
            gd_free(e->refused);
            json_decref(e->stats);
            gd_free(e);
        } else {
            pp = &e->next;
        }
    }
}

/* Target groups: their status from the edges that use them. */
static void rc_target_groups(gd_game *g, struct pass *p)
{
    size_t i;
    json_t *r;
    json_array_foreach(p->tgs, i, r) tg_status(g, r, p->edges, p->instances, p->asgs);
}

/* Loadgens: a team's customers start once its endpoint serves. */
static void rc_loadgens(gd_game *g, struct pass *p)
{
    if (g->ended) return;
    for (int t = 1; t <= g->nteams; t++)
        if (!g->teams[t].loadgen_done && endpoint_ready(g, t)) gd_launcher_start_loadgen(g, t);
}

/* The reconciler table, in the order a pass runs them. A new resource type that
 * needs one adds a line here (see doc/architecture.md, "Adding a resource type"). */
static const struct {
    const char *what;
    void (*fn)(gd_game *g, struct pass *p);
} reconcilers[] = {
    {"asg", rc_asgs},          {"instance", rc_instances},
    {"edges", rc_edges},       {"target_group", rc_target_groups},
    {"loadgens", rc_loadgens},
};

void gd_launcher_reconcile(gd_game *g)
{
    if (g->stopping) return;
    struct pass p = {.now = gd_game_now(g),
                     .asgs = gd_store_res_list(g->db, 0, "asg", 0),
                     .instances = gd_store_res_list(g->db, 0, "instance", 0),
                     .edges = list_flagged(g, 0, GD_RT_EDGE),
                     .tgs = gd_store_res_list(g->db, 0, "target_group", 0)};
    for (size_t k = 0; k < sizeof reconcilers / sizeof reconcilers[0]; k++)
        reconcilers[k].fn(g, &p);
    json_decref(p.asgs);
    json_decref(p.instances);
    json_decref(p.edges);
    json_decref(p.tgs);
}

/* ---- restart ---- */

/* 1 if /proc/PID/FILE (cmdline or environ: NUL-separated) holds want. */
static int proc_has(int pid, const char *file, const char *want)
{
    char path[64], buf[16384];
    snprintf(path, sizeof path, "/proc/%d/%s", pid, file);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    for (ssize_t i = 0; i < n; i++)
        if (!buf[i]) buf[i] = ' ';
    buf[n] = 0;
    return strstr(buf, want) != NULL;
}

static void adopt(gd_game *g, enum gd_proc_kind kind, int team, const char *id, int pid)
{
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0) return;
    gd_proc *p = gd_calloc(1, sizeof *p);
    p->magic = PROC_MAGIC;
    p->kind = kind;
    p->team = team;
    p->pid = pid;
    p->adopted = 1;
    p->pidfd = fd;
    snprintf(p->res_id, sizeof p->res_id, "%s", id ? id : "");
    uv_poll_init(g->loop, &p->poll, fd);
    p->poll.data = p;
    uv_poll_start(&p->poll, UV_READABLE, on_pidfd);
    p->next = g->procs;
    g->procs = p;
    gd_info("adopted", "kind=%d res=%s team=%d pid=%d", kind, p->res_id, team, pid);
}

void gd_launcher_adopt(gd_game *g)
{
    json_t *list = gd_store_res_list(g->db, 0, NULL, 0);
    size_t i;
    json_t *r;
    json_array_foreach(list, i, r)
    {
        const char *type = str(r, "type");
        json_t *st = json_object_get(r, "status");
        int pid = (int)num(st, "pid", 0);
        int team = (int)json_integer_value(json_object_get(r, "team"));
        if (pid <= 0) continue;
        if (!strcmp(type, "instance") && gd_inst_state_of(st) == GD_INST_RUNNING) {
            /* The launcher hands every instance its id in the environment. */
            char want[80];
            snprintf(want, sizeof want, " GAMEDAY_INSTANCE_ID=%s ", str(r, "id"));
            if (kill(pid, 0) == 0 && proc_has(pid, "environ", want + 1))
                adopt(g, GD_PROC_INSTANCE, team, str(r, "id"), pid);
        } else if (gd_registry_has(type, GD_RT_EDGE)) {
            char want[64];
            snprintf(want, sizeof want, "edge --admin %s", str(st, "admin"));
            if (kill(pid, 0) == 0 && proc_has(pid, "cmdline", want))
                adopt(g, GD_PROC_EDGE, team, str(r, "id"), pid);
        }
    }
    json_decref(list);
    for (int t = 1; t <= g->nteams; t++) {
        char key[32];
        snprintf(key, sizeof key, "loadgen_pid_%d", t);
        char *v = gd_store_kv_get(g->db, key);
        int pid = v ? atoi(v) : 0;
        gd_free(v);
        char want[64];
        snprintf(want, sizeof want, "loadgen --scenario");
        if (pid > 0 && kill(pid, 0) == 0 && proc_has(pid, "cmdline", want))
            adopt(g, GD_PROC_LOADGEN, t, NULL, pid);
    }
}

void gd_launcher_stop_all(gd_game *g)
{
    g->stopping = 1;
    for (gd_proc *p = g->procs; p; p = p->next) {
        p->killed = 1;
        snprintf(p->kill_reason, sizeof p->kill_reason, "game stopped");
        kill(p->pid, SIGTERM);
    }
}

json_t *gd_launcher_instances(gd_game *g, int team)
{
    json_t *list = gd_store_res_list(g->db, team, "instance", 0);
    size_t i;
    json_t *r;
    json_array_foreach(list, i, r)
    {
        const char *health = "-";
        for (gd_edge_link *e = g->edges; e; e = e->next) {
            size_t k;
            json_t *t;
            json_array_foreach(json_object_get(e->stats, "targets"), k,
                               t) if (!strcmp(str(t, "id"), str(r, "id"))) health = str(t, "state");
        }
        json_object_set_new(json_object_get(r, "status"), "health", json_string(health));
    }
    return list;
}
