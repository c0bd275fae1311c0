/* The launcher's processes: children spawned with their log file and environment,
 * watched through libuv (or a pidfd when adopted after a restart), their exits
 * recorded on their resource; adopting the survivors of an earlier server life. */
#include "core/check.h"
#include "core/clock.h"
#include "model/registry.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "model/state.h"
#include "server/cache_cluster.h"
#include "server/functions.h"
#include "server/ecs.h"
#include "server/launcher_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PROC_MAGIC GD_PROC_MAGIC

extern char **environ;

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
    GD_CHECK_OBJ(p, PROC_MAGIC);
    if (p->pidfd >= 0) close(p->pidfd);
    p->magic = 0;
    gd_free(p);
}

gd_proc *gd_proc_find(gd_game *g, const char *res_id, enum gd_proc_kind kind, int team)
{
    for (gd_proc *p = g->procs; p; p = p->next)
        if (p->kind == kind && (res_id ? !strcmp(p->res_id, res_id) : p->team == team)) return p;
    return NULL;
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
        gd_inst_state was = r ? gd_inst_state_of_res(r) : GD_INST_TERMINATED;
        if (was != GD_INST_TERMINATED && was != GD_INST_STOPPED) {
            gd_launcher_set_status(
                g, p->res_id,
                json_pack("{s:s,s:f,s:s,s:i}", "state", gd_inst_state_name(GD_INST_TERMINATED),
                          "terminated_at", gd_game_now(g), "reason", why, "pid", 0));
            gd_game_audit(g, p->team, "ec2", NULL, "InstanceStateChange",
                          json_pack("{s:s}", "instanceId", p->res_id),
                          json_pack("{s:s,s:s}", "state", gd_inst_state_name(GD_INST_TERMINATED),
                                    "reason", why),
                          NULL);
        }
        json_decref(r);
    } else if (p->kind == GD_PROC_EDGE) {
        gd_launcher_set_status(g, p->res_id, json_pack("{s:i,s:s}", "pid", 0, "last_exit", why));
        for (gd_edge_link *e = g->edges; e; e = e->next)
            if (!strcmp(e->res_id, p->res_id)) {
                gd_free(e->pushed);
                e->pushed = NULL;
            }
    } else if (p->kind == GD_PROC_FUNCTION) {
        gd_launcher_set_status(g, p->res_id, json_pack("{s:i,s:s}", "pid", 0, "last_exit", why));
        gd_functions_exited(g, p->res_id);
    } else if (p->kind == GD_PROC_TASK) {
        gd_ecs_proc_exited(g, p->res_id, why);
    } else if (p->kind == GD_PROC_LOADGEN) {
        if (status == 0 && !sig) g->teams[p->team].loadgen_done = 1;
    } else if (p->kind == GD_PROC_REDIS) {
        gd_cache_proc_exited(g, p->res_id, why, p->killed);
    } else if (p->kind == GD_PROC_DB || p->kind == GD_PROC_DBTASK) {
        gd_db_proc_exited(g, p, status, sig);
    } else if ((p->kind == GD_PROC_DNS && g->dns) || (p->kind == GD_PROC_NAT && g->nat)) {
        gd_edge_link *l = p->kind == GD_PROC_DNS ? g->dns : g->nat;
        gd_free(l->pushed); /* a new one gets the whole document again */
        l->pushed = NULL;
    }
    proc_unlink(g, p);
}

static void on_exit_cb(uv_process_t *h, int64_t status, int sig)
{
    gd_proc *p = h->data;
    GD_CHECK_OBJ(p, PROC_MAGIC);
    gd_game *g = h->loop->data;
    proc_exited(g, p, status, sig);
    uv_close((uv_handle_t *)h, proc_free_cb);
}

static void on_pidfd(uv_poll_t *h, int status, int events)
{
    gd_proc *p = h->data;
    GD_CHECK_OBJ(p, PROC_MAGIC);
    gd_game *g = h->loop->data;
    uv_poll_stop(h);
    proc_exited(g, p, 0, 0);
    uv_close((uv_handle_t *)h, proc_free_cb);
}

gd_proc *gd_proc_spawn(gd_game *g, enum gd_proc_kind kind, int team, const char *res_id,
                       char **args, char **extra_env, const char *logname)
{
    return gd_proc_spawn_as(g, kind, team, res_id, args, extra_env, logname, -1, -1, NULL);
}

gd_proc *gd_proc_spawn_as(gd_game *g, enum gd_proc_kind kind, int team, const char *res_id,
                          char **args, char **extra_env, const char *logname, int uid, int gid,
                          const char *cwd)
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
    o.cwd = cwd;
    if (uid >= 0) { /* postgres will not run as root */
        o.flags |= UV_PROCESS_SETUID | UV_PROCESS_SETGID;
        o.uid = (uv_uid_t)uid;
        o.gid = (uv_gid_t)gid;
    }
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

void gd_proc_stop(gd_proc *p, int sig, const char *reason)
{
    GD_CHECK_OBJ(p, PROC_MAGIC);
    p->killed = 1;
    snprintf(p->kill_reason, sizeof p->kill_reason, "%s", reason);
    kill(p->pid, sig);
}

void gd_proc_clock_env(char *speed, char *epoch, size_t n)
{
    snprintf(speed, n, "GAMEDAY_SPEED=%.17g", gd_clock_speed());
    snprintf(epoch, n, "GAMEDAY_EPOCH_NS=%llu", (unsigned long long)gd_clock_epoch_ns());
}

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

int gd_proc_alive_with(int pid, const char *want)
{
    return pid > 0 && kill(pid, 0) == 0 && proc_has(pid, "cmdline", want);
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
        const char *type = gd_jstr(r, "type");
        json_t *st = json_object_get(r, "status");
        int pid = (int)gd_jnum(st, "pid", 0);
        int team = (int)json_integer_value(json_object_get(r, "team"));
        if (!strcmp(type, "cache_cluster")) {
            /* redis-server sets its title to "redis-server IP:PORT". */
            size_t k;
            json_t *jn;
            json_array_foreach(json_object_get(st, "nodes"), k, jn)
            {
                int npid = (int)gd_jnum(jn, "pid", 0);
                char want[64], key[48];
                snprintf(want, sizeof want, "redis-server %s:%d ", gd_jstr(jn, "ip"),
                         (int)gd_jnum(jn, "port", 0));
                gd_cache_node_key(gd_jstr(r, "id"), (int)gd_jnum(jn, "num", 0), key, sizeof key);
                if (npid > 0 && kill(npid, 0) == 0 && proc_has(npid, "cmdline", want))
                    adopt(g, GD_PROC_REDIS, team, key, npid);
            }
            continue;
        }
        if (pid <= 0) continue;
        if (!strcmp(type, "instance") && gd_inst_state_of(st) == GD_INST_RUNNING) {
            /* The launcher hands every instance its id in the environment. */
            char want[80];
            snprintf(want, sizeof want, " GAMEDAY_INSTANCE_ID=%s ", gd_jstr(r, "id"));
            if (kill(pid, 0) == 0 && proc_has(pid, "environ", want + 1))
                adopt(g, GD_PROC_INSTANCE, team, gd_jstr(r, "id"), pid);
        } else if (!strcmp(type, "function")) {
            char want[64];
            snprintf(want, sizeof want, "lambda --addr %s:", gd_jstr(st, "ip"));
            if (kill(pid, 0) == 0 && proc_has(pid, "cmdline", want))
                adopt(g, GD_PROC_FUNCTION, team, gd_jstr(r, "id"), pid);
        } else if (!strcmp(type, "task") && !strcmp(gd_jstr(st, "state"), "running")) {
            /* a task's process has its task id as GAMEDAY_INSTANCE_ID */
            char want[80];
            snprintf(want, sizeof want, " GAMEDAY_INSTANCE_ID=%s ", gd_jstr(r, "id"));
            if (kill(pid, 0) == 0 && proc_has(pid, "environ", want + 1))
                adopt(g, GD_PROC_TASK, team, gd_jstr(r, "id"), pid);
        } else if (gd_registry_has(type, GD_RT_EDGE)) {
            char want[64];
            snprintf(want, sizeof want, "edge --admin %s", gd_jstr(st, "admin"));
            if (kill(pid, 0) == 0 && proc_has(pid, "cmdline", want))
                adopt(g, GD_PROC_EDGE, team, gd_jstr(r, "id"), pid);
        }
    }
    json_decref(list);
    gd_db_adopt(g);
    char *dv = gd_store_kv_get(g->db, "dns_pid");
    int dpid = dv ? atoi(dv) : 0;
    gd_free(dv);
    if (dpid > 0 && kill(dpid, 0) == 0 && proc_has(dpid, "cmdline", "dns --listen"))
        adopt(g, GD_PROC_DNS, 0, "dns", dpid);
    char *nv = gd_store_kv_get(g->db, "nat_pid");
    int npid = nv ? atoi(nv) : 0;
    gd_free(nv);
    if (npid > 0 && kill(npid, 0) == 0 && proc_has(npid, "cmdline", "nat --admin"))
        adopt(g, GD_PROC_NAT, 0, "nat", npid);
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

void gd_proc_adopt(gd_game *g, enum gd_proc_kind kind, int team, const char *id, int pid)
{
    adopt(g, kind, team, id, pid);
}

void gd_launcher_stop_all(gd_game *g)
{
    g->stopping = 1;
    for (gd_proc *p = g->procs; p; p = p->next) gd_proc_stop(p, SIGTERM, "game stopped");
}
