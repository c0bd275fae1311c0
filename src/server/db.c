/* The managed databases (`db`, RDS for PostgreSQL): each node a real postgres started
 * by the launcher, its data in DIR/pg/<node>, listening on its own address of its
 * subnet, its unix socket in DIR/pg/<node>.s (the server's and the replicas' way in).
 * A primary's data is a copy of a template made once per game by initdb; a standby's
 * and a replica's are a pg_basebackup -R of the primary (streaming replication, hot
 * standby). pg_hba.conf comes from the db's security groups and is reloaded (SIGHUP)
 * when they change. The endpoint is a DNS name of the team's zone that the reconciler
 * points at the primary; a failover promotes the standby and moves the name. Each node
 * is sampled once a wall second (busy query slots, connections, replica lag) into the
 * metric store. The steps of a node are in step_node(); the states are in
 * doc/architecture.md. */
#include "core/addr.h"
#include "core/buf.h"
#include "core/check.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/pgc.h"
#include "model/db.h"
#include "model/registry.h"
#include "server/faults.h"
#include "server/launcher_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <pwd.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NODE_MAGIC 0x44424e44u
#define SUPERUSER "gameday"
#define SLOT_KEY 7342 /* the advisory lock class of the query slots */
#define SAMPLE_MS 1000
#define DEAD_AFTER 3 /* samples in a row unanswered: the node is taken for dead */
#define RESTART_MS 1000
#define ENDPOINT_TTL 5 /* seconds, as RDS's endpoint CNAME */
#define PRINCIPAL "rds"

/* A node as the server holds it between passes (its status is in the db's). */
struct node {
    uint32_t magic;
    gd_game *g;
    char id[48], db_id[40];
    char ip[16]; /* its address, as its status last said */
    int team;
    gd_pgc *admin;        /* superuser, database postgres, over the unix socket */
    gd_pgc *app;          /* superuser, the db's database: the bootstrap's second half */
    int boot_step;        /* primary: the next bootstrap step (0 role, 1 database, 2 schema) */
    int boot_inflight;    /* that step was sent */
    int boot_done, ready; /* bootstrapped; answered SELECT 1 since it started */
    int fresh;            /* a sample not yet put into the metric store */
    int checking;         /* SELECT 1 in flight */
    int sampling, missed; /* a sample in flight; samples in a row not answered */
    uint64_t sampled_at;  /* loop ms */
    uint64_t restart_at;  /* loop ms before which it is not spawned again */
    int task_running, task_done, task_rc;
    double busy, waiting, conns, lag_s, xacts;
    int paused;       /* replay paused by a replica-lag fault */
    int promoting;    /* pg_promote asked: the pass checks pg_is_in_recovery() */
    int promote_sent; /* pg_promote answered */
    int promoted;     /* out of recovery: finish_failover runs */
    gd_pgc *hold[64]; /* connections held by a connection-exhaustion fault */
    int nhold;
    char sync[64]; /* primary: the synchronous_standby_names in force ("" none) */
    int sync_busy; /* its change is on its way */
    int seen;
    struct node *next;
};

static struct node *nodes;
static int template_task, template_ok = -1; /* -1: not looked at yet */
static double template_ms;

/* ---- paths, users, binaries ---- */

static void bin_path(const char *prog, char *out, size_t n)
{
    static char dir[256];
    if (!dir[0]) {
        const char *env = getenv("GAMEDAY_PG_BIN");
        if (env && *env) {
            snprintf(dir, sizeof dir, "%s", env);
        } else {
            int best = 0;
            DIR *d = opendir("/usr/lib/postgresql");
            struct dirent *e;
            while (d && (e = readdir(d))) {
                int v = atoi(e->d_name);
                char p[300];
                snprintf(p, sizeof p, "/usr/lib/postgresql/%s/bin/postgres", e->d_name);
                if (v > best && access(p, X_OK) == 0) best = v;
            }
            if (d) closedir(d);
            snprintf(dir, sizeof dir, "/usr/lib/postgresql/%d/bin", best ? best : 15);
        }
    }
    snprintf(out, n, "%s/%s", dir, prog);
}

/* The user postgres runs as: the server's, or `postgres` when the server is root
 * (postgres refuses to run as root). 0, or -1 when root has no such user. */
static int pg_user(int *uid, int *gid)
{
    if (geteuid() != 0) {
        *uid = *gid = -1;
        return 0;
    }
    struct passwd *pw = getpwnam("postgres");
    if (!pw) return -1;
    *uid = (int)pw->pw_uid;
    *gid = (int)pw->pw_gid;
    return 0;
}

static void pg_dir(gd_game *g, char *out, size_t n)
{
    snprintf(out, n, "%s/pg", g->dir);
}

static void data_dir(gd_game *g, const char *node, char *out, size_t n)
{
    snprintf(out, n, "%s/pg/%s", g->dir, node);
}

static void sock_dir(gd_game *g, const char *node, char *out, size_t n)
{
    snprintf(out, n, "%s/pg/%s.s", g->dir, node);
}

/* A folder of the node's (its socket folder), owned by postgres' user, 0700. */
static void own_dir(const char *p, int uid, int gid)
{
    mkdir(p, 0700);
    chmod(p, 0700);
    if (uid >= 0 && chown(p, (uid_t)uid, (gid_t)gid) < 0)
        gd_warn("db_chown_failed", "path=%s err=%s", gd_log_q(p), strerror(errno));
}

/* DIR/pg ready for postgres' user: when the server is root, the game folder may be
 * entered (not read) by it (0711; every file in it stays 0600), and DIR/pg is its
 * (0700). */
static int prepare_dirs(gd_game *g, int uid, int gid)
{
    char p[PATH_MAX];
    pg_dir(g, p, sizeof p);
    if (mkdir(p, 0700) < 0 && errno != EEXIST) return -1;
    if (uid >= 0) {
        struct stat sb;
        if (stat(g->dir, &sb) == 0 && (sb.st_mode & 0777) != 0711) chmod(g->dir, 0711);
        if (stat(p, &sb) == 0 && sb.st_uid != (uid_t)uid) own_dir(p, uid, gid);
    }
    return 0;
}

/* Writes a file of a node's data folder whole, owned by postgres' user. */
static int write_owned(const char *path, const char *text, int uid, int gid)
{
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return -1;
    size_t len = strlen(text);
    ssize_t w = write(fd, text, len);
    if (uid >= 0 && fchown(fd, (uid_t)uid, (gid_t)gid) < 0) w = -1;
    close(fd);
    if (w != (ssize_t)len || rename(tmp, path) < 0) {
        gd_warn("db_file_write_failed", "path=%s err=%s", gd_log_q(path), strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* 'text' quoted for sh. */
static void shq(const char *s, char *out, size_t n)
{
    size_t o = 0;
    if (n < 3) return;
    out[o++] = '\'';
    for (; *s && o + 5 < n; s++) {
        if (*s == '\'') {
            memcpy(out + o, "'\\''", 4);
            o += 4;
        } else {
            out[o++] = *s;
        }
    }
    out[o++] = '\'';
    out[o] = 0;
}

static uv_timer_t soon;
static int soon_init;

static void on_soon(uv_timer_t *t)
{
    gd_launcher_reconcile(t->data);
}

/* A pass from the loop, once the process that ended is forgotten (proc.c unlinks it
 * after this call). */
static void reconcile_soon(gd_game *g)
{
    if (!soon_init) {
        uv_timer_init(g->loop, &soon);
        uv_unref((uv_handle_t *)&soon);
        soon_init = 1;
    }
    soon.data = g;
    uv_timer_start(&soon, on_soon, 0, 0);
}

/* ---- nodes in memory ---- */

static struct node *node_get(gd_game *g, const char *id, const char *db_id, int team)
{
    for (struct node *n = nodes; n; n = n->next)
        if (!strcmp(n->id, id)) return n;
    struct node *n = gd_calloc(1, sizeof *n);
    n->magic = NODE_MAGIC;
    n->g = g;
    snprintf(n->id, sizeof n->id, "%s", id);
    snprintf(n->db_id, sizeof n->db_id, "%s", db_id);
    n->team = team;
    n->next = nodes;
    nodes = n;
    return n;
}

static struct node *node_find(const char *id)
{
    for (struct node *n = nodes; n; n = n->next)
        if (!strcmp(n->id, id)) return n;
    return NULL;
}

static void release_holds(struct node *n)
{
    for (int i = 0; i < n->nhold; i++) gd_pgc_free(n->hold[i]);
    n->nhold = 0;
}

/* The node's connections go (its process ended, or it is gone): they are made again. */
static void node_reset(struct node *n)
{
    gd_pgc_free(n->admin);
    gd_pgc_free(n->app);
    n->admin = n->app = NULL;
    release_holds(n);
    n->ready = n->checking = n->sampling = n->missed = n->paused = n->promoting = 0;
    n->promote_sent = 0;
    n->sync[0] = 0;
    n->sync_busy = 0;
    n->boot_inflight = n->fresh = 0;
    if (!n->boot_done) n->boot_step = 0;
}

static gd_pgc *admin_of(gd_game *g, struct node *n, int port)
{
    if (!n->admin) {
        char sd[PATH_MAX], ci[PATH_MAX + 256];
        sock_dir(g, n->id, sd, sizeof sd);
        gd_db_conninfo(ci, sizeof ci, sd, port, "postgres", SUPERUSER, NULL,
                       "application_name=gameday-server");
        n->admin = gd_pgc_new(g->loop, ci, 2000);
    }
    return n->admin;
}

/* ---- status helpers ---- */

static json_t *node_at(json_t *st, const char *id)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(st, "nodes"), i,
                       v) if (!strcmp(gd_jstr(v, "id"), id)) return v;
    return NULL;
}

static json_t *node_role(json_t *st, const char *role)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(st, "nodes"), i,
                       v) if (!strcmp(gd_jstr(v, "role"), role)) return v;
    return NULL;
}

/* Sets fields of one node of a db's status in the store. */
static void set_node(gd_game *g, const char *db_id, const char *node_id, json_t *fields)
{
    json_t *r = gd_store_res_get(g->db, 0, db_id);
    json_t *st = r ? json_deep_copy(json_object_get(r, "status")) : NULL;
    json_t *nd = st ? node_at(st, node_id) : NULL;
    if (nd) {
        json_object_update(nd, fields);
        gd_store_res_set_status(g->db, db_id, st, gd_game_now(g));
    }
    json_decref(st);
    json_decref(r);
    json_decref(fields);
}

static void event_line(gd_game *g, int team, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void event_line(gd_game *g, int team, const char *fmt, ...)
{
    char line[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    gd_store_ledger_add(g->db, gd_game_now(g), team, PRINCIPAL, 0, line);
}

/* ---- planning: addresses, roles, credentials ---- */

static void random_hex(char *out, size_t bytes)
{
    unsigned char b[32];
    if (bytes > sizeof b) bytes = sizeof b;
    if (RAND_bytes(b, (int)bytes) != 1)
        for (size_t i = 0; i < bytes; i++) b[i] = (unsigned char)rand();
    for (size_t i = 0; i < bytes; i++) snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* A new node of role in subnet (its address allocated); NULL with err when full. */
static json_t *new_node(gd_game *g, json_t *db, const char *role, const char *subnet, int k,
                        char *err, size_t errlen)
{
    int team = (int)json_integer_value(json_object_get(db, "team"));
    uint32_t ip;
    if (gd_net_alloc_ip(g, team, subnet, &ip, err, errlen) < 0) return NULL;
    json_t *sn = NULL;
    gd_cidr c;
    gd_net_subnet_of(g, team, subnet, &c, &sn);
    char ipb[16], id[48];
    snprintf(id, sizeof id, "%s-%d", gd_jstr(db, "id"), k);
    json_t *nd = json_pack("{s:s,s:s,s:s,s:s,s:s,s:i,s:i,s:s,s:f}", "id", id, "role", role, "az",
                           gd_jstr(json_object_get(sn, "spec"), "az"), "subnet", subnet, "ip",
                           gd_ip_format(ip, ipb), "port",
                           (int)gd_jnum(json_object_get(db, "spec"), "port", 5432), "pid", 0,
                           "state", "initializing", "replication_lag_s", 0.0);
    json_decref(sn);
    return nd;
}

/* The next free node number of a db. */
static int next_k(json_t *st)
{
    int k = 1;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(st, "nodes"), i, v)
    {
        const char *id = gd_jstr(v, "id"), *dash = strrchr(id, '-');
        int x = dash ? atoi(dash + 1) : 0;
        if (x >= k) k = x + 1;
    }
    return k;
}

/* A new db's nodes, placed by gd_db_place_nodes, with their addresses; or its failure. */
static void plan(gd_game *g, json_t *db)
{
    json_t *spec = json_object_get(db, "spec");
    int team = (int)json_integer_value(json_object_get(db, "team"));
    json_t *subnets = json_object_get(spec, "subnets");
    const char *azs[8], *names[8];
    size_t ns = 0, i;
    json_t *v;
    json_array_foreach(subnets, i, v)
    {
        if (ns >= 8) break;
        json_t *sn = gd_store_res_live(g->db, team, json_string_value(v), "subnet");
        static char azbuf[8][4];
        snprintf(azbuf[ns], sizeof azbuf[ns], "%s",
                 sn ? gd_jstr(json_object_get(sn, "spec"), "az") : "a");
        azs[ns] = azbuf[ns];
        names[ns++] = json_string_value(v);
        json_decref(sn);
    }
    gd_db_place pl[GD_DB_MAX_NODES];
    int n = gd_db_place_nodes(azs, ns, (int)gd_jnum(spec, "read_replicas", 0),
                              json_is_true(json_object_get(spec, "multi_az")), pl, GD_DB_MAX_NODES);
    json_t *list = json_array();
    char err[256] = "";
    for (int k = 0; k < n && !err[0]; k++) {
        json_t *nd = new_node(g, db, pl[k].role, names[pl[k].subnet], k + 1, err, sizeof err);
        if (nd) {
            json_array_append_new(list, nd);
            /* the next allocation must see this address taken */
            gd_launcher_set_status(g, gd_jstr(db, "id"), json_pack("{s:O}", "nodes", list));
        }
    }
    char pw[49];
    random_hex(pw, 24);
    char zone[64], addr[128], ro[128];
    gd_dns_zone(team, zone, sizeof zone);
    snprintf(addr, sizeof addr, "%s.db.%s", gd_jstr(db, "name"), zone);
    snprintf(ro, sizeof ro, "%s-ro.db.%s", gd_jstr(db, "name"), zone);
    const gd_dbclass *cl = gd_dbclass_find(gd_jstr(spec, "instance_class"));
    json_t *st =
        json_pack("{s:s,s:o,s:s,s:s,s:i,s:{s:s,s:s,s:s},s:f,s:f,s:s,s:i,s:i,s:[]}", "state",
                  err[0] ? "failed" : "creating", "nodes", list, "address", addr, "reader_address",
                  ro, "port", (int)gd_jnum(spec, "port", 5432), "credentials", "user",
                  gd_jstr(spec, "username"), "password", pw, "database", gd_jstr(spec, "db_name"),
                  "created_at", gd_game_now(g), "created_wall", (double)gd_clock_mono_ns() / 1e9,
                  "instance_class", gd_jstr(spec, "instance_class"), "slots", cl ? cl->slots : 5,
                  "max_connections", cl ? cl->max_connections : 100, "reader_endpoints");
    if (err[0]) json_object_set_new(st, "reason", json_string(err));
    gd_launcher_set_status(g, gd_jstr(db, "id"), st);
    gd_info("db_creating", "team=%d db=%s nodes=%d error=%s", team, gd_jstr(db, "id"), n,
            gd_log_q(err));
}

/* ---- configuration files ---- */

static void write_conf(gd_game *g, json_t *db, json_t *nd, int uid, int gid)
{
    char dd[PATH_MAX], sd[PATH_MAX], path[PATH_MAX + 32];
    data_dir(g, gd_jstr(nd, "id"), dd, sizeof dd);
    sock_dir(g, gd_jstr(nd, "id"), sd, sizeof sd);
    own_dir(sd, uid, gid);
    json_t *st = json_object_get(db, "status");
    char *conf = gd_sprintf(
        "# made by gameday for node %s of db %s (%s): do not edit\n"
        "listen_addresses = '%s'\nport = %d\nunix_socket_directories = '%s'\n"
        "max_connections = %d\nsuperuser_reserved_connections = 3\n"
        "shared_buffers = 16MB\nfsync = off\nsynchronous_commit = remote_write\n"
        "full_page_writes = off\nwal_level = replica\nmax_wal_senders = 10\n"
        "wal_keep_size = 64MB\nhot_standby = on\nhot_standby_feedback = on\n"
        "max_standby_streaming_delay = -1\nwal_retrieve_retry_interval = 100ms\n"
        "password_encryption = 'scram-sha-256'\nlog_line_prefix = '%%m [%%p] %s '\n"
        "log_min_messages = warning\ncluster_name = '%s'\n",
        gd_jstr(nd, "id"), gd_jstr(db, "name"), gd_jstr(st, "instance_class"), gd_jstr(nd, "ip"),
        (int)gd_jnum(nd, "port", 5432), sd, (int)gd_jnum(st, "max_connections", 100) + 3,
        gd_jstr(nd, "id"), gd_jstr(nd, "id"));
    snprintf(path, sizeof path, "%s/gameday.conf", dd);
    write_owned(path, conf, uid, gid);
    gd_free(conf);
}

/* The db's pg_hba.conf from its security groups (none: the team's network). */
static void hba_text(gd_game *g, json_t *db, gd_buf *out)
{
    int team = (int)json_integer_value(json_object_get(db, "team"));
    json_t *spec = json_object_get(db, "spec"), *groups = json_object_get(spec, "security_groups");
    gd_buf allow;
    gd_buf_init(&allow, 1 << 20);
    if (json_is_array(groups))
        gd_sg_allow(g, team, groups, (int)gd_jnum(spec, "port", 5432), &allow);
    else
        gd_buf_printf(&allow, "127.%d.0.0/16\n", team + g->net - 1);
    gd_db_hba(gd_buf_cstr(&allow), gd_jstr(spec, "db_name"), gd_jstr(spec, "username"), out);
    gd_buf_free(&allow);
}

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void write_hba(gd_game *g, const char *node, const char *text, int uid, int gid)
{
    char dd[PATH_MAX], path[PATH_MAX + 32];
    data_dir(g, node, dd, sizeof dd);
    snprintf(path, sizeof path, "%s/pg_hba.conf", dd);
    write_owned(path, text, uid, gid);
}

/* ---- processes ---- */

static void spawn_task(gd_game *g, struct node *n, const char *res, const char *script, int uid,
                       int gid)
{
    char pd[PATH_MAX];
    pg_dir(g, pd, sizeof pd);
    char *args[] = {"/bin/sh", "-c", (char *)script, NULL};
    gd_proc *p = gd_proc_spawn_as(g, GD_PROC_DBTASK, n ? n->team : 0, res, args, NULL,
                                  n ? n->id : "pg-template", uid, gid, pd);
    if (n) {
        n->task_running = p != NULL;
        n->task_done = p == NULL;
        n->task_rc = p ? 0 : -1;
    }
}

static void spawn_postgres(gd_game *g, json_t *db, json_t *nd, struct node *n, int uid, int gid)
{
    char bin[300], dd[PATH_MAX], pd[PATH_MAX];
    bin_path("postgres", bin, sizeof bin);
    data_dir(g, n->id, dd, sizeof dd);
    pg_dir(g, pd, sizeof pd);
    char *args[] = {bin, "-D", dd, NULL};
    gd_proc *p = gd_proc_spawn_as(g, GD_PROC_DB, n->team, n->id, args, NULL, n->id, uid, gid, pd);
    node_reset(n);
    n->restart_at = uv_now(g->loop) + RESTART_MS;
    set_node(g, gd_jstr(db, "id"), n->id,
             json_pack("{s:i,s:s}", "pid", p ? p->pid : 0, "state", p ? "starting" : "failed"));
    gd_info("db_node_start", "db=%s node=%s role=%s ip=%s pid=%d", gd_jstr(db, "id"), n->id,
            gd_jstr(nd, "role"), gd_jstr(nd, "ip"), p ? p->pid : 0);
}

void gd_db_proc_exited(gd_game *g, gd_proc *p, int64_t status, int sig)
{
    if (p->kind == GD_PROC_DBTASK) {
        if (!strcmp(p->res_id, "pg-template")) {
            template_task = 0;
            template_ok = status == 0 && !sig;
            gd_info("db_template_done", "ok=%d ms=%.0f", template_ok,
                    (double)gd_clock_mono_ns() / 1e6 - template_ms);
        }
        struct node *n = node_find(p->res_id);
        if (n) {
            n->task_running = 0;
            n->task_done = 1;
            n->task_rc = sig ? -sig : (int)status;
        }
        reconcile_soon(g);
        return;
    }
    struct node *n = node_find(p->res_id);
    if (n) node_reset(n);
    char db_id[40];
    snprintf(db_id, sizeof db_id, "%s", p->res_id);
    char *dash = strrchr(db_id, '-');
    if (dash) *dash = 0;
    char why[160];
    if (p->killed)
        snprintf(why, sizeof why, "%s", p->kill_reason);
    else if (sig)
        snprintf(why, sizeof why, "postgres killed by signal %d", sig);
    else
        snprintf(why, sizeof why, "postgres exited with status %lld", (long long)status);
    set_node(g, db_id, p->res_id,
             json_pack("{s:i,s:s,s:s,s:f}", "pid", 0, "state", "failed", "reason", why, "down_at",
                       (double)gd_clock_mono_ns() / 1e9));
    gd_warn("db_node_down", "db=%s node=%s why=%s", db_id, p->res_id, gd_log_q(why));
    reconcile_soon(g);
}

void gd_db_adopt(gd_game *g)
{
    json_t *dbs = gd_store_res_list(g->db, 0, "db", 0);
    size_t i, j;
    json_t *r, *nd;
    json_array_foreach(dbs, i, r)
    {
        json_array_foreach(json_object_get(json_object_get(r, "status"), "nodes"), j, nd)
        {
            char dd[PATH_MAX], want[PATH_MAX + 8];
            data_dir(g, gd_jstr(nd, "id"), dd, sizeof dd);
            snprintf(want, sizeof want, "-D %s", dd);
            int pid = (int)gd_jnum(nd, "pid", 0);
            if (gd_proc_alive_with(pid, want)) {
                gd_proc_adopt(g, GD_PROC_DB, (int)json_integer_value(json_object_get(r, "team")),
                              gd_jstr(nd, "id"), pid);
                struct node *n = node_get(g, gd_jstr(nd, "id"), gd_jstr(r, "id"),
                                          (int)json_integer_value(json_object_get(r, "team")));
                n->boot_done = json_is_true(json_object_get(nd, "bootstrapped"));
            }
        }
    }
    json_decref(dbs);
}

/* ---- the bootstrap of a primary: its user, database and query slots ---- */

static void on_boot(void *arg, int err, PGresult *const *res, int nres, const char *msg);

static void boot_next(gd_game *g, struct node *n, json_t *db)
{
    json_t *spec = json_object_get(db, "spec"), *st = json_object_get(db, "status");
    json_t *cred = json_object_get(st, "credentials");
    char pw[128], sql[2048];
    gd_pgc_quote(gd_jstr(cred, "password"), pw, sizeof pw);
    const char *user = gd_jstr(spec, "username"), *dbn = gd_jstr(spec, "db_name");
    gd_pgc *c = admin_of(g, n, (int)gd_jnum(spec, "port", 5432));
    if (n->boot_step == 0) {
        snprintf(sql, sizeof sql,
                 "DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '%s') THEN "
                 "CREATE ROLE %s LOGIN PASSWORD %s; ELSE ALTER ROLE %s PASSWORD %s; END IF; "
                 "END$$",
                 user, user, pw, user, pw);
    } else if (n->boot_step == 1) {
        snprintf(sql, sizeof sql, "CREATE DATABASE %s OWNER %s", dbn, user);
    } else {
        char sd[PATH_MAX], ci[PATH_MAX + 256];
        sock_dir(g, n->id, sd, sizeof sd);
        gd_db_conninfo(ci, sizeof ci, sd, (int)gd_jnum(spec, "port", 5432), dbn, SUPERUSER, NULL,
                       "application_name=gameday-server");
        gd_pgc_free(n->app);
        c = n->app = gd_pgc_new(g->loop, ci, 5000);
        int slots = (int)gd_jnum(st, "slots", 5);
        double hold_ms = gd_jnum(spec, "query_time", 0.02) * 1000;
        snprintf(sql, sizeof sql,
                 "CREATE SCHEMA IF NOT EXISTS gameday;\n"
                 "CREATE OR REPLACE FUNCTION gameday.take_slot() RETURNS double precision\n"
                 "LANGUAGE plpgsql AS $f$\n"
                 "DECLARE k int; s int := %d;\n"
                 "BEGIN\n"
                 "  FOR k IN 0..s - 1 LOOP\n"
                 "    IF pg_try_advisory_xact_lock(%d, k) THEN RETURN %g; END IF;\n"
                 "  END LOOP;\n"
                 "  PERFORM pg_advisory_xact_lock(%d, floor(random() * s)::int);\n"
                 "  RETURN %g;\n"
                 "END $f$;\n"
                 "COMMENT ON FUNCTION gameday.take_slot() IS 'the db''s emulated CPU: one of "
                 "%d query slots until the transaction ends; returns the game ms to hold it';\n"
                 "GRANT USAGE ON SCHEMA gameday TO %s;\n",
                 slots, SLOT_KEY, hold_ms, SLOT_KEY, hold_ms, slots, user);
    }
    if (gd_pgc_query(c, sql, on_boot, n) == 0) n->boot_inflight = 1;
}

static void on_boot(void *arg, int err, PGresult *const *res, int nres, const char *msg)
{
    struct node *n = arg;
    GD_CHECK_OBJ(n, NODE_MAGIC);
    n->boot_inflight = 0;
    /* the database made already (a bootstrap cut short by a restart) is fine */
    if (err && !(n->boot_step == 1 && strstr(msg, "already exists"))) {
        gd_warn("db_bootstrap_failed", "node=%s step=%d error=%s", n->id, n->boot_step,
                gd_log_q(msg));
        return; /* tried again next pass */
    }
    if (++n->boot_step == 3) {
        n->boot_done = 1;
        gd_info("db_bootstrapped", "node=%s", n->id);
    }
    gd_launcher_reconcile(n->g);
}

/* ---- sampling ---- */

static void on_check(void *arg, int err, PGresult *const *res, int nres, const char *msg)
{
    struct node *n = arg;
    GD_CHECK_OBJ(n, NODE_MAGIC);
    n->checking = 0;
    if (!err) {
        n->ready = 1;
        gd_launcher_reconcile(n->g);
    }
}

static void on_sample(void *arg, int err, PGresult *const *res, int nres, const char *msg)
{
    struct node *n = arg;
    GD_CHECK_OBJ(n, NODE_MAGIC);
    n->sampling = 0;
    if (err || nres < 1 || PQntuples(res[nres - 1]) < 1) {
        n->missed++;
        return;
    }
    n->missed = 0;
    n->fresh = 1;
    PGresult *r = res[nres - 1];
    n->busy = atof(PQgetvalue(r, 0, 0));
    n->waiting = atof(PQgetvalue(r, 0, 1));
    n->conns = atof(PQgetvalue(r, 0, 2));
    n->xacts = atof(PQgetvalue(r, 0, 3));
    n->lag_s = atof(PQgetvalue(r, 0, 4)) * gd_clock_speed(); /* wall seconds: game's */
}

static void sample(gd_game *g, struct node *n, json_t *db)
{
    uint64_t now = uv_now(g->loop);
    if (n->sampling || now < n->sampled_at + SAMPLE_MS || !n->admin) return;
    n->sampled_at = now;
    json_t *spec = json_object_get(db, "spec");
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %d "
             "AND granted), (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND "
             "classid = %d AND NOT granted), (SELECT count(*) FROM pg_stat_activity WHERE "
             "usename = '%s'), (SELECT coalesce(sum(xact_commit + xact_rollback), 0) FROM "
             "pg_stat_database WHERE datname = '%s'), CASE WHEN NOT pg_is_in_recovery() THEN 0 "
             "WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 ELSE coalesce("
             "extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0) END",
             SLOT_KEY, SLOT_KEY, gd_jstr(spec, "username"), gd_jstr(spec, "db_name"));
    if (gd_pgc_query(n->admin, sql, on_sample, n) == 0)
        n->sampling = 1;
    else
        n->missed++;
}

/* ---- faults of chaos experiments on a db: replay paused, connections held ---- */

static void on_fault_query(void *arg, int err, PGresult *const *res, int nres, const char *msg)
{
    struct node *n = arg;
    GD_CHECK_OBJ(n, NODE_MAGIC);
    if (err) gd_warn("db_fault_query_failed", "node=%s error=%s", n->id, gd_log_q(msg));
}

static void on_hold(void *arg, int err, PGresult *const *res, int nres, const char *msg)
{
    (void)arg;
    if (err) gd_warn("db_hold_failed", "error=%s", gd_log_q(msg));
}

static void apply_faults(gd_game *g, json_t *db, json_t *nd, struct node *n)
{
    json_t *faults = gd_faults_for(g, gd_jstr(db, "id"));
    int pause = 0, hold = 0;
    size_t i;
    json_t *f;
    json_array_foreach(faults, i, f)
    {
        if (!strcmp(gd_jstr(f, "kind"), "replica_lag")) pause = 1;
        if (!strcmp(gd_jstr(f, "kind"), "connection_exhaustion"))
            hold += (int)gd_jnum(f, "connections", 0);
    }
    json_decref(faults);
    int replica = !strcmp(gd_jstr(nd, "role"), GD_DB_REPLICA);
    if (replica && pause != n->paused && n->admin) {
        if (gd_pgc_query(n->admin,
                         pause ? "SELECT pg_wal_replay_pause()" : "SELECT pg_wal_replay_resume()",
                         on_fault_query, n) == 0) {
            n->paused = pause;
            gd_info("db_replay", "node=%s paused=%d", n->id, pause);
        }
    }
    if (strcmp(gd_jstr(nd, "role"), GD_DB_PRIMARY) != 0) hold = 0;
    if (hold > 64) hold = 64;
    if (hold < n->nhold) release_holds(n);
    json_t *spec = json_object_get(db, "spec");
    while (n->nhold < hold) {
        /* each held one is a real client of the db's own user, idle on a connection (by
         * the unix socket: the control plane is no source its security groups admit) */
        char ci[PATH_MAX + 256], sd[PATH_MAX];
        sock_dir(g, n->id, sd, sizeof sd);
        gd_db_conninfo(ci, sizeof ci, sd, (int)gd_jnum(nd, "port", 5432), gd_jstr(spec, "db_name"),
                       gd_jstr(spec, "username"), NULL, "application_name=gameday-fis-hold");
        gd_pgc *c = gd_pgc_new(g->loop, ci, 5000);
        gd_pgc_query(c, "SELECT 1", on_hold, NULL);
        n->hold[n->nhold++] = c;
    }
}

/* ---- failover ---- */

static void on_promoted(void *arg, int err, PGresult *const *res, int nres, const char *msg);

/* The primary is gone: promote the standby (pg_promote), then the endpoint moves to
 * it and the replicas follow it. */
static void start_failover(gd_game *g, json_t *db, json_t *primary, json_t *standby,
                           const char *cause)
{
    struct node *s = node_find(gd_jstr(standby, "id"));
    if (!s || !s->admin || s->promoting) return;
    if (!cause || !*cause) cause = "its primary's postgres is gone";
    if (gd_pgc_query(s->admin, "SELECT pg_promote(false)", on_promoted, s) < 0) return;
    s->promoting = 1;
    double down_at = gd_jnum(primary, "down_at", (double)gd_clock_mono_ns() / 1e9);
    gd_launcher_set_status(g, gd_jstr(db, "id"),
                           json_pack("{s:s,s:{s:s,s:s,s:s,s:f,s:f}}", "state", "failing-over",
                                     "failover", "from", gd_jstr(primary, "id"), "to",
                                     gd_jstr(standby, "id"), "cause", cause, "down_at", down_at,
                                     "started", gd_game_now(g)));
    gd_info("db_failover_start", "db=%s from=%s to=%s cause=%s", gd_jstr(db, "id"),
            gd_jstr(primary, "id"), gd_jstr(standby, "id"), gd_log_q(cause));
}

static void follow(gd_game *g, json_t *db, json_t *replica, const char *primary_id)
{
    struct node *r = node_find(gd_jstr(replica, "id"));
    if (!r || !r->admin) return;
    char sd[PATH_MAX], ci[PATH_MAX + 256], q[PATH_MAX + 512];
    sock_dir(g, primary_id, sd, sizeof sd);
    gd_db_conninfo(ci, sizeof ci, sd, (int)gd_jnum(replica, "port", 5432), "postgres", SUPERUSER,
                   NULL, NULL);
    char app[96];
    snprintf(app, sizeof app, " application_name=%s", r->id);
    strncat(ci, app, sizeof ci - strlen(ci) - 1);
    char lit[PATH_MAX + 400];
    gd_pgc_quote(ci, lit, sizeof lit);
    snprintf(q, sizeof q, "ALTER SYSTEM SET primary_conninfo = %s", lit);
    gd_pgc_query(r->admin, q, on_fault_query, r);
    gd_pgc_query(r->admin, "SELECT pg_reload_conf()", on_fault_query, r);
}

static void on_promoted(void *arg, int err, PGresult *const *res, int nres, const char *msg)
{
    struct node *s = arg;
    GD_CHECK_OBJ(s, NODE_MAGIC);
    if (err || nres < 1 || strcmp(PQgetvalue(res[nres - 1], 0, 0), "t") != 0) {
        gd_warn("db_promote_failed", "node=%s error=%s", s->id, gd_log_q(msg));
        s->promoting = 0; /* asked again by the next pass */
        return;
    }
    s->promote_sent = 1;
    reconcile_soon(s->g);
}

static void on_recovery(void *arg, int err, PGresult *const *res, int nres, const char *msg)
{
    struct node *s = arg;
    GD_CHECK_OBJ(s, NODE_MAGIC);
    s->checking = 0;
    if (err || nres < 1 || strcmp(PQgetvalue(res[nres - 1], 0, 0), "t") != 0) return;
    s->promoting = s->promote_sent = 0;
    s->boot_done = 1; /* a promoted standby has the primary's database already */
    s->boot_step = 3;
    s->promoted = 1; /* the roles, the endpoint and the audit: finish_failover */
    reconcile_soon(s->g);
}

/* A promoted standby: the roles change, the old primary becomes the standby again (a
 * fresh copy of the new primary), the replicas follow, the endpoint moves. */
static void finish_failover(gd_game *g, json_t *db, struct node *s)
{
    json_t *st = json_deep_copy(json_object_get(db, "status"));
    json_t *fo = json_object_get(st, "failover");
    json_t *newp = node_at(st, s->id), *old = node_at(st, gd_jstr(fo, "from"));
    if (!newp) {
        json_decref(st);
        return;
    }
    json_object_set_new(newp, "role", json_string(GD_DB_PRIMARY));
    json_object_set_new(newp, "bootstrapped", json_true());
    if (old) {
        json_object_set_new(old, "role", json_string(GD_DB_STANDBY));
        json_object_set_new(old, "state", json_string("initializing"));
        json_object_set_new(old, "rebuild", json_true());
        struct node *on = node_find(gd_jstr(old, "id"));
        if (on) on->task_done = on->task_running = 0;
    }
    size_t i;
    json_t *nd;
    json_array_foreach(json_object_get(st, "nodes"), i,
                       nd) if (!strcmp(gd_jstr(nd, "role"), GD_DB_REPLICA))
        follow(g, db, nd, s->id);
    double secs = ((double)gd_clock_mono_ns() / 1e9 - gd_jnum(fo, "down_at", 0)) * gd_clock_speed();
    json_t *last =
        json_pack("{s:f,s:s,s:s,s:s,s:f}", "time", gd_game_now(g), "from", gd_jstr(fo, "from"),
                  "to", s->id, "cause", gd_jstr(fo, "cause"), "unavailable_s", secs);
    json_object_set_new(st, "last_failover", last);
    json_object_del(st, "failover");
    json_object_set_new(st, "intent", json_string(""));
    json_object_set_new(st, "state", json_string("available"));
    int team = (int)json_integer_value(json_object_get(db, "team"));
    gd_store_res_set_status(g->db, gd_jstr(db, "id"), st, gd_game_now(g));
    gd_game_audit(g, team, PRINCIPAL, NULL, "FailoverDBCluster",
                  json_pack("{s:s,s:s}", "dbInstanceIdentifier", gd_jstr(db, "name"), "cause",
                            gd_jstr(fo, "cause")),
                  json_pack("{s:s,s:s,s:f}", "newPrimary", s->id, "address", gd_jstr(st, "address"),
                            "unavailableSeconds", secs),
                  NULL);
    event_line(g, team, "db %s failed over to %s (%s, zone %s): unavailable %.0f s (%s)",
               gd_jstr(db, "name"), s->id, gd_jstr(newp, "ip"), gd_jstr(newp, "az"), secs,
               gd_jstr(fo, "cause"));
    gd_info("db_failover_done", "db=%s primary=%s unavailable_s=%.1f", gd_jstr(db, "id"), s->id,
            secs);
    json_decref(st);
}

/* ---- the standby is synchronous (Multi-AZ loses no commit), the replicas not ---- */

static void on_sync(void *arg, int err, PGresult *const *res, int nres, const char *msg)
{
    struct node *n = arg;
    GD_CHECK_OBJ(n, NODE_MAGIC);
    n->sync_busy = 0;
    if (err) {
        gd_warn("db_sync_failed", "node=%s error=%s", n->id, gd_log_q(msg));
        n->sync[0] = '?'; /* tried again */
        n->sync[1] = 0;
    }
}

/* The primary waits for the standby's write of each commit while the standby is
 * available, and for nobody when it is not (a commit must not hang on a standby being
 * rebuilt): synchronous_standby_names, by ALTER SYSTEM and a reload. */
static void sync_standby(gd_game *g, json_t *db, struct node *n)
{
    json_t *sb = node_role(json_object_get(db, "status"), GD_DB_STANDBY);
    char want[64] = "";
    if (sb && !strcmp(gd_jstr(sb, "state"), "available"))
        snprintf(want, sizeof want, "\"%s\"", gd_jstr(sb, "id"));
    if (n->sync_busy || !strcmp(n->sync, want) || !n->admin) return;
    char q[160];
    snprintf(q, sizeof q, "ALTER SYSTEM SET synchronous_standby_names = '%s'", want);
    if (gd_pgc_query(n->admin, q, on_fault_query, n) < 0 ||
        gd_pgc_query(n->admin, "SELECT pg_reload_conf()", on_sync, n) < 0)
        return;
    n->sync_busy = 1;
    snprintf(n->sync, sizeof n->sync, "%s", want);
    gd_info("db_sync_standby", "node=%s standby=%s", n->id, want[0] ? want : "none");
}

/* ---- one node's steps ---- */

static void step_node(gd_game *g, json_t *db, json_t *nd, int uid, int gid)
{
    int team = (int)json_integer_value(json_object_get(db, "team"));
    struct node *n = node_get(g, gd_jstr(nd, "id"), gd_jstr(db, "id"), team);
    n->seen = 1;
    snprintf(n->ip, sizeof n->ip, "%s", gd_jstr(nd, "ip"));
    json_t *st = json_object_get(db, "status"), *spec = json_object_get(db, "spec");
    const char *state = gd_jstr(nd, "state"), *role = gd_jstr(nd, "role");
    json_t *primary = node_role(st, GD_DB_PRIMARY);
    gd_proc *p = gd_proc_find(g, n->id, GD_PROC_DB, 0);
    char dd[PATH_MAX], sdp[PATH_MAX];
    data_dir(g, n->id, dd, sizeof dd);
    /* Its zone is out (an az_outage event, FIS's zone action): its postgres dies with the
     * zone's power and does not start again before the zone is back. A multi_az primary
     * fails over to its standby in the other zone (below); a single-AZ db is down. */
    int zone_out = gd_az_down_until(g, gd_jstr(nd, "az")) > 0;
    if (zone_out && p && !p->killed) {
        gd_proc_stop(p, SIGKILL, "its availability zone lost power");
        return;
    }
    if (!strcmp(state, "initializing")) {
        if (n->task_running) return;
        if (n->task_done) {
            n->task_done = 0;
            if (n->task_rc != 0) {
                set_node(g, gd_jstr(db, "id"), n->id,
                         json_pack("{s:s,s:s}", "state", "failed", "reason",
                                   "its data could not be made: see logs/<node>.log"));
                return;
            }
            write_conf(g, db, nd, uid, gid);
            gd_buf hba;
            gd_buf_init(&hba, 1 << 20);
            hba_text(g, db, &hba);
            write_hba(g, n->id, gd_buf_cstr(&hba), uid, gid);
            gd_buf_free(&hba);
            spawn_postgres(g, db, nd, n, uid, gid);
            return;
        }
        char q1[PATH_MAX + 8], q2[PATH_MAX + 8], script[4 * PATH_MAX];
        shq(dd, q1, sizeof q1);
        if (!strcmp(role, GD_DB_PRIMARY)) {
            char t[PATH_MAX];
            snprintf(t, sizeof t, "%s/pg/template", g->dir);
            shq(t, q2, sizeof q2);
            snprintf(script, sizeof script, "rm -rf %s && cp -a %s %s", q1, q2, q1);
        } else {
            if (!primary || strcmp(gd_jstr(primary, "state"), "available") != 0) return;
            char bb[300], sq[PATH_MAX + 8];
            bin_path("pg_basebackup", bb, sizeof bb);
            sock_dir(g, gd_jstr(primary, "id"), sdp, sizeof sdp);
            shq(sdp, sq, sizeof sq);
            snprintf(script, sizeof script,
                     "rm -rf %s && %s -h %s -p %d -U %s -D %s -R -X stream -c fast -N -d "
                     "'application_name=%s' && rm -f %s/postmaster.pid",
                     q1, bb, sq, (int)gd_jnum(primary, "port", 5432), SUPERUSER, q1, n->id, q1);
        }
        gd_info("db_node_init", "db=%s node=%s role=%s", gd_jstr(db, "id"), n->id, role);
        spawn_task(g, n, n->id, script, uid, gid);
        return;
    }
    if (!strcmp(state, "failed") || (!p && strcmp(state, "stopped") != 0)) {
        /* its process is gone: a primary with a standby fails over; else it starts again */
        if (!p && !strcmp(role, GD_DB_PRIMARY) && json_is_true(json_object_get(spec, "multi_az"))) {
            json_t *sb = node_role(st, GD_DB_STANDBY);
            struct node *sn = sb ? node_find(gd_jstr(sb, "id")) : NULL;
            int retry = sn && !sn->promoting && !sn->promoted; /* a failed promote */
            if (sb && !strcmp(gd_jstr(sb, "state"), "available") &&
                (strcmp(gd_jstr(st, "state"), "failing-over") != 0 || retry) &&
                strcmp(gd_jstr(st, "intent"), "reboot") != 0) {
                start_failover(g, db, nd, sb,
                               *gd_jstr(st, "intent") ? gd_jstr(st, "intent")
                                                      : gd_jstr(nd, "reason"));
                return;
            }
            if (!strcmp(gd_jstr(st, "state"), "failing-over")) return;
        }
        if (zone_out && !strcmp(role, GD_DB_PRIMARY) &&
            strcmp(gd_jstr(st, "state"), "impaired") != 0 &&
            strcmp(gd_jstr(st, "state"), "creating") != 0) /* no standby took over */
            gd_launcher_set_status(g, gd_jstr(db, "id"),
                                   json_pack("{s:s,s:s}", "state", "impaired", "reason",
                                             "its primary's availability zone is down"));
        if (uv_now(g->loop) < n->restart_at || zone_out) return;
        if (!strcmp(role, GD_DB_PRIMARY) && strcmp(gd_jstr(st, "state"), "creating") != 0 &&
            strcmp(gd_jstr(st, "state"), "rebooting") != 0)
            gd_launcher_set_status(g, gd_jstr(db, "id"), json_pack("{s:s}", "state", "rebooting"));
        write_conf(g, db, nd, uid, gid);
        spawn_postgres(g, db, nd, n, uid, gid);
        return;
    }
    if (!p) return;
    gd_pgc *a = admin_of(g, n, (int)gd_jnum(nd, "port", 5432));
    if (!strcmp(state, "starting")) {
        if (!n->ready && !gd_pgc_up(a) && !gd_pgc_busy(a)) {
            /* a postgres starting: try again each pass, without the backoff */
            gd_pgc_free(n->admin);
            n->admin = NULL;
            a = admin_of(g, n, (int)gd_jnum(nd, "port", 5432));
        }
        if (!n->ready) {
            if (!n->checking && gd_pgc_query(a, "SELECT 1", on_check, n) == 0) n->checking = 1;
            return;
        }
        if (!strcmp(role, GD_DB_PRIMARY) && !n->boot_done &&
            !json_is_true(json_object_get(nd, "bootstrapped"))) {
            if (!n->boot_inflight) boot_next(g, n, db);
            return;
        }
        set_node(g, gd_jstr(db, "id"), n->id,
                 json_pack("{s:s,s:b,s:s}", "state", "available", "bootstrapped", 1, "reason", ""));
        gd_info("db_node_available", "db=%s node=%s role=%s", gd_jstr(db, "id"), n->id, role);
        return;
    }
    /* available */
    if (n->promote_sent && !n->checking &&
        gd_pgc_query(n->admin, "SELECT NOT pg_is_in_recovery()", on_recovery, n) == 0)
        n->checking = 1;
    if (n->promoted && !strcmp(role, GD_DB_STANDBY)) {
        n->promoted = 0;
        finish_failover(g, db, n);
        return;
    }
    sample(g, n, db);
    apply_faults(g, db, nd, n);
    if (!strcmp(role, GD_DB_PRIMARY)) sync_standby(g, db, n);
    if (n->missed >= DEAD_AFTER) {
        /* it answers nothing: taken for dead, so that it cannot come back as a second
         * primary */
        gd_warn("db_node_unresponsive", "node=%s missed=%d", n->id, n->missed);
        n->missed = 0;
        gd_proc_stop(p, SIGKILL, "the node stopped answering (killed by rds)");
    }
}

/* ---- a db ---- */

/* Writes the db's overall state, endpoints and metrics from its nodes. */
static void summarize(gd_game *g, json_t *db)
{
    json_t *st = json_object_get(db, "status");
    json_t *p = node_role(st, GD_DB_PRIMARY);
    const char *was = gd_jstr(st, "state");
    json_t *readers = json_array();
    int all = 1;
    size_t i;
    json_t *nd;
    double conns = 0, lag = 0;
    json_array_foreach(json_object_get(st, "nodes"), i, nd)
    {
        struct node *n = node_find(gd_jstr(nd, "id"));
        int up = !strcmp(gd_jstr(nd, "state"), "available");
        all &= up;
        char ep[48];
        snprintf(ep, sizeof ep, "%s:%d", gd_jstr(nd, "ip"), (int)gd_jnum(nd, "port", 5432));
        if (!strcmp(gd_jstr(nd, "role"), GD_DB_REPLICA) && up)
            json_array_append_new(readers, json_string(ep));
        if (n && up) {
            conns += n->conns;
            if (!strcmp(gd_jstr(nd, "role"), GD_DB_REPLICA) && n->lag_s > lag) lag = n->lag_s;
            if (fabs(gd_jnum(nd, "replication_lag_s", 0) - n->lag_s) > 0.5)
                set_node(g, gd_jstr(db, "id"), n->id,
                         json_pack("{s:f}", "replication_lag_s", n->lag_s));
        }
    }
    const char *state = was;
    int pup = p && !strcmp(gd_jstr(p, "state"), "available");
    if (!strcmp(was, "creating") && all)
        state = "available";
    else if (!strcmp(was, "rebooting") && pup)
        state = "available";
    else if (!strcmp(was, "modifying") && all)
        state = "available";
    char ep[48] = "";
    if (p) snprintf(ep, sizeof ep, "%s:%d", gd_jstr(p, "ip"), (int)gd_jnum(p, "port", 5432));
    json_t *fields = json_object();
    if (strcmp(state, was) != 0) {
        json_object_set_new(fields, "state", json_string(state));
        json_object_set_new(fields, "intent", json_string(""));
        if (!strcmp(was, "rebooting")) json_object_set_new(fields, "reason", json_string(""));
        if (!strcmp(was, "creating")) {
            double secs = (double)gd_clock_mono_ns() / 1e9 - gd_jnum(st, "created_wall", 0);
            json_object_set_new(fields, "available_at", json_real(gd_game_now(g)));
            json_object_set_new(fields, "create_wall_s", json_real(secs));
            gd_info("db_available", "db=%s nodes=%zu create_wall_ms=%.0f", gd_jstr(db, "id"),
                    json_array_size(json_object_get(st, "nodes")), secs * 1000);
        } else {
            gd_info("db_state", "db=%s state=%s", gd_jstr(db, "id"), state);
        }
    }
    if (strcmp(gd_jstr(st, "endpoint"), ep) != 0)
        json_object_set_new(fields, "endpoint", json_string(ep));
    if (!json_equal(readers, json_object_get(st, "reader_endpoints")))
        json_object_set(fields, "reader_endpoints", readers);
    json_decref(readers);
    if (json_object_size(fields))
        gd_launcher_set_status(g, gd_jstr(db, "id"), fields);
    else
        json_decref(fields);
    struct node *pn = p ? node_find(gd_jstr(p, "id")) : NULL;
    if (pn && pn->fresh) {
        pn->fresh = 0;
        double t = gd_game_now(g), slots = gd_jnum(st, "slots", 5);
        gd_metrics_put(g->metrics, gd_jstr(db, "id"), "CPUUtilization", t,
                       100.0 * (pn->busy > slots ? slots : pn->busy) / slots);
        gd_metrics_put(g->metrics, gd_jstr(db, "id"), "DBLoad", t, pn->busy + pn->waiting);
        gd_metrics_put(g->metrics, gd_jstr(db, "id"), "DatabaseConnections", t, conns);
        gd_metrics_put(g->metrics, gd_jstr(db, "id"), "ReplicaLag", t, lag);
        double rcpu = 0;
        int nr = 0;
        json_array_foreach(json_object_get(st, "nodes"), i, nd)
        {
            struct node *n = node_find(gd_jstr(nd, "id"));
            if (!n || strcmp(gd_jstr(nd, "role"), GD_DB_REPLICA) != 0) continue;
            rcpu += 100.0 * (n->busy > slots ? slots : n->busy) / slots;
            nr++;
        }
        if (nr)
            gd_metrics_put(g->metrics, gd_jstr(db, "id"), "ReplicaCPUUtilization", t, rcpu / nr);
    }
}

/* A db's spec changed (replicas, multi_az): nodes are added or retired. */
static void resize(gd_game *g, json_t *db)
{
    json_t *spec = json_object_get(db, "spec"), *st = json_object_get(db, "status");
    int want_r = (int)gd_jnum(spec, "read_replicas", 0);
    int want_s = json_is_true(json_object_get(spec, "multi_az"));
    int have_r = 0, have_s = 0;
    size_t i;
    json_t *nd;
    json_array_foreach(json_object_get(st, "nodes"), i, nd)
    {
        have_r += !strcmp(gd_jstr(nd, "role"), GD_DB_REPLICA);
        have_s += !strcmp(gd_jstr(nd, "role"), GD_DB_STANDBY);
    }
    if (want_r == have_r && want_s == have_s) return;
    if (!strcmp(gd_jstr(st, "state"), "failing-over")) return;
    json_t *nst = json_deep_copy(st), *list = json_object_get(nst, "nodes");
    /* retire: the newest replicas first, the standby */
    for (size_t k = json_array_size(list); k-- > 0;) {
        json_t *x = json_array_get(list, k);
        const char *role = gd_jstr(x, "role");
        int drop = (!strcmp(role, GD_DB_REPLICA) && have_r > want_r) ||
                   (!strcmp(role, GD_DB_STANDBY) && have_s > want_s);
        if (!drop) continue;
        if (!strcmp(role, GD_DB_REPLICA))
            have_r--;
        else
            have_s--;
        gd_proc *p = gd_proc_find(g, gd_jstr(x, "id"), GD_PROC_DB, 0);
        if (p) {
            gd_proc_stop(p, SIGINT, "retired (the db was modified)");
            gd_net_hold_ip(gd_jstr(x, "ip"), p->res_id, GD_PROC_DB);
        }
        struct node *n = node_find(gd_jstr(x, "id"));
        if (n) node_reset(n);
        json_array_remove(list, k);
    }
    char err[256] = "";
    json_t *subnets = json_object_get(spec, "subnets");
    size_t nsub = json_array_size(subnets);
    int team = (int)json_integer_value(json_object_get(db, "team"));
    json_t *prim = node_role(nst, GD_DB_PRIMARY);
    while (!err[0] && (have_s < want_s || have_r < want_r)) {
        const char *role = have_s < want_s ? GD_DB_STANDBY : GD_DB_REPLICA;
        const char *subnet = json_string_value(json_array_get(subnets, 0));
        for (size_t k = 0; k < nsub; k++) { /* another zone than the primary's when it can */
            json_t *sn = gd_store_res_live(g->db, team,
                                           json_string_value(json_array_get(subnets, k)), "subnet");
            int other =
                sn && strcmp(gd_jstr(json_object_get(sn, "spec"), "az"), gd_jstr(prim, "az")) != 0;
            json_decref(sn);
            if (other && (!strcmp(role, GD_DB_STANDBY) || (size_t)have_r % nsub == k % nsub)) {
                subnet = json_string_value(json_array_get(subnets, k));
                break;
            }
        }
        json_t *fake = json_pack("{s:O,s:O,s:O}", "id", json_object_get(db, "id"), "team",
                                 json_object_get(db, "team"), "spec", spec);
        json_t *x = new_node(g, fake, role, subnet, next_k(nst), err, sizeof err);
        json_decref(fake);
        if (!x) break;
        json_array_append_new(list, x);
        gd_store_res_set_status(g->db, gd_jstr(db, "id"), nst, gd_game_now(g));
        if (!strcmp(role, GD_DB_STANDBY))
            have_s++;
        else
            have_r++;
    }
    json_object_set_new(nst, "state", json_string(err[0] ? "available" : "modifying"));
    if (err[0]) json_object_set_new(nst, "reason", json_string(err));
    gd_store_res_set_status(g->db, gd_jstr(db, "id"), nst, gd_game_now(g));
    json_decref(nst);
    gd_info("db_modifying", "db=%s replicas=%d multi_az=%d error=%s", gd_jstr(db, "id"), want_r,
            want_s, gd_log_q(err));
}

/* The pg_hba.conf of every node when the security groups changed, and a reload. */
static void hba_update(gd_game *g, json_t *db, int uid, int gid)
{
    gd_buf b;
    gd_buf_init(&b, 1 << 20);
    hba_text(g, db, &b);
    char digest[24];
    snprintf(digest, sizeof digest, "%016llx", (unsigned long long)fnv(gd_buf_cstr(&b)));
    json_t *st = json_object_get(db, "status");
    if (strcmp(gd_jstr(st, "hba_digest"), digest) != 0) {
        size_t i;
        json_t *nd;
        json_array_foreach(json_object_get(st, "nodes"), i, nd)
        {
            if (!strcmp(gd_jstr(nd, "state"), "initializing")) continue;
            write_hba(g, gd_jstr(nd, "id"), gd_buf_cstr(&b), uid, gid);
            gd_proc *p = gd_proc_find(g, gd_jstr(nd, "id"), GD_PROC_DB, 0);
            if (p) kill(p->pid, SIGHUP); /* postgres reads pg_hba.conf again */
        }
        gd_launcher_set_status(g, gd_jstr(db, "id"), json_pack("{s:s}", "hba_digest", digest));
        gd_info("db_hba_applied", "db=%s digest=%s", gd_jstr(db, "id"), digest);
    }
    gd_buf_free(&b);
}

static int ensure_template(gd_game *g, int uid, int gid)
{
    char t[PATH_MAX], mark[PATH_MAX + 32];
    snprintf(t, sizeof t, "%s/pg/template", g->dir);
    snprintf(mark, sizeof mark, "%s/gameday.template", t);
    if (template_ok < 0 && !template_task) template_ok = access(mark, F_OK) == 0 ? 1 : -1;
    if (template_ok == 1) return 1;
    if (template_task) return 0;
    if (template_ok == 0) {
        static uint64_t retry_at;
        if (uv_now(g->loop) < retry_at) return 0;
        retry_at = uv_now(g->loop) + 5000;
    }
    char initdb[300], q[PATH_MAX + 8], script[3 * PATH_MAX];
    bin_path("initdb", initdb, sizeof initdb);
    shq(t, q, sizeof q);
    snprintf(script, sizeof script,
             "rm -rf %s && %s -D %s -U %s -A trust -N -E UTF8 --locale=C >/dev/null && echo "
             "\"include_if_exists = 'gameday.conf'\" >> %s/postgresql.conf && touch "
             "%s/gameday.template",
             q, initdb, q, SUPERUSER, q, q);
    template_ms = (double)gd_clock_mono_ns() / 1e6;
    template_task = 1;
    spawn_task(g, NULL, "pg-template", script, uid, gid);
    gd_info("db_template_start", "path=%s", gd_log_q(t));
    return 0;
}

/* 1 with the folder in far when a folder above dir may not be entered by other users
 * (postgres' user is one when the server is root). */
static int unreachable(const char *dir, char *far, size_t n)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s", dir);
    for (char *slash = strrchr(p, '/'); slash && slash != p; slash = strrchr(p, '/')) {
        *slash = 0;
        struct stat sb;
        if (stat(p, &sb) == 0 && !(sb.st_mode & S_IXOTH)) {
            snprintf(far, n, "%s", p);
            return 1;
        }
    }
    return 0;
}

void gd_db_reconcile(gd_game *g, json_t *dbs)
{
    int uid = -1, gid = -1;
    size_t i;
    json_t *r;
    for (struct node *n = nodes; n; n = n->next) n->seen = 0;
    if (json_array_size(dbs) > 0) {
        if (pg_user(&uid, &gid) < 0) {
            json_array_foreach(dbs, i, r) if (strcmp(gd_jstr(json_object_get(r, "status"), "state"),
                                                     "failed") != 0)
                gd_launcher_set_status(
                    g, gd_jstr(r, "id"),
                    json_pack("{s:s,s:s}", "state", "failed", "reason",
                              "the server runs as root and there is no user 'postgres' to run "
                              "postgres as (postgres refuses root): scripts/install-deps.sh "
                              "installs postgresql, which makes it"));
            return;
        }
        char far[PATH_MAX];
        if (uid >= 0 && unreachable(g->dir, far, sizeof far)) {
            char why[PATH_MAX + 256];
            snprintf(why, sizeof why,
                     "postgres runs as the user postgres and cannot enter %s (every folder above "
                     "the game's must let others enter: chmod o+x, or play with --out elsewhere)",
                     far);
            json_array_foreach(dbs, i, r) if (strcmp(gd_jstr(json_object_get(r, "status"), "state"),
                                                     "failed") != 0)
                gd_launcher_set_status(g, gd_jstr(r, "id"),
                                       json_pack("{s:s,s:s}", "state", "failed", "reason", why));
            return;
        }
        char sd[PATH_MAX];
        snprintf(sd, sizeof sd, "%s/pg/db-00000000-9.s/.s.PGSQL.65535", g->dir);
        if (strlen(sd) >= 107) {
            json_array_foreach(dbs, i, r) if (strcmp(gd_jstr(json_object_get(r, "status"), "state"),
                                                     "failed") != 0)
                gd_launcher_set_status(
                    g, gd_jstr(r, "id"),
                    json_pack("{s:s,s:s}", "state", "failed", "reason",
                              "the game folder's path is too long for PostgreSQL's unix socket "
                              "(at most 107 bytes): play with a shorter --out"));
            return;
        }
        prepare_dirs(g, uid, gid);
    }
    json_array_foreach(dbs, i, r)
    {
        json_t *st = json_object_get(r, "status");
        size_t j;
        json_t *nd;
        json_array_foreach(json_object_get(st, "nodes"), j, nd)
        {
            struct node *n = node_find(gd_jstr(nd, "id"));
            if (n) n->seen = 1; /* a live db's nodes are kept whatever this pass does */
        }
        if (!json_object_get(st, "nodes")) {
            plan(g, r);
            continue;
        }
        if (!strcmp(gd_jstr(st, "state"), "failed")) continue;
        if (!ensure_template(g, uid, gid)) continue;
        resize(g, r);
        json_t *fresh = gd_store_res_get(g->db, 0, gd_jstr(r, "id"));
        json_array_foreach(json_object_get(json_object_get(fresh, "status"), "nodes"), j, nd)
        {
            json_t *cur = gd_store_res_get(g->db, 0, gd_jstr(r, "id"));
            json_t *cn = node_at(json_object_get(cur, "status"), gd_jstr(nd, "id"));
            if (cn) step_node(g, cur, cn, uid, gid);
            json_decref(cur);
        }
        json_decref(fresh);
        fresh = gd_store_res_get(g->db, 0, gd_jstr(r, "id"));
        hba_update(g, fresh, uid, gid);
        summarize(g, fresh);
        json_decref(fresh);
    }
    /* the nodes of deleted dbs (or retired) stop */
    for (struct node **pp = &nodes; *pp;) {
        struct node *n = *pp;
        if (n->seen || n->task_running) {
            pp = &n->next;
            continue;
        }
        gd_proc *p = gd_proc_find(g, n->id, GD_PROC_DB, 0);
        if (p) {
            gd_proc_stop(p, SIGINT, "the db was deleted");
            gd_net_hold_ip(n->ip, n->id, GD_PROC_DB);
        }
        *pp = n->next;
        node_reset(n);
        n->magic = 0;
        gd_free(n);
    }
}

/* ---- the endpoint's records ---- */

void gd_db_dns_records(gd_game *g, int team, json_t *recs)
{
    json_t *dbs = gd_store_res_list(g->db, team, "db", 0);
    size_t i, j;
    json_t *r, *nd;
    json_array_foreach(dbs, i, r)
    {
        json_t *st = json_object_get(r, "status");
        json_t *p = node_role(st, GD_DB_PRIMARY);
        char name[96];
        if (p && strcmp(gd_jstr(st, "state"), "failing-over") != 0) {
            snprintf(name, sizeof name, "%s.db", gd_jstr(r, "name"));
            json_array_append_new(recs, json_pack("{s:s,s:s,s:i,s:[s],s:s}", "name", name, "type",
                                                  "A", "ttl", ENDPOINT_TTL, "values",
                                                  gd_jstr(p, "ip"), "id", gd_jstr(r, "id")));
        }
        json_t *vals = json_array();
        json_array_foreach(json_object_get(st, "nodes"), j,
                           nd) if (!strcmp(gd_jstr(nd, "role"), GD_DB_REPLICA) &&
                                   !strcmp(gd_jstr(nd, "state"), "available"))
            json_array_append_new(vals, json_string(gd_jstr(nd, "ip")));
        /* no replica in service (none yet, or all lost): the readers' name answers the
         * primary, as Aurora's reader endpoint does, so that reads go on */
        if (!json_array_size(vals) && p && strcmp(gd_jstr(st, "state"), "failing-over") != 0)
            json_array_append_new(vals, json_string(gd_jstr(p, "ip")));
        snprintf(name, sizeof name, "%s-ro.db", gd_jstr(r, "name"));
        if (json_array_size(vals))
            json_array_append_new(recs, json_pack("{s:s,s:s,s:i,s:o,s:s}", "name", name, "type",
                                                  "A", "ttl", ENDPOINT_TTL, "values", vals, "id",
                                                  gd_jstr(r, "id")));
        else
            json_decref(vals);
    }
    json_decref(dbs);
}

int gd_db_ip_in_use(gd_game *g, int team, uint32_t ip)
{
    json_t *dbs = gd_store_res_list(g->db, team, "db", 0);
    size_t i, j;
    json_t *r, *nd;
    int used = 0;
    json_array_foreach(dbs, i, r)
        json_array_foreach(json_object_get(json_object_get(r, "status"), "nodes"), j, nd)
    {
        uint32_t x;
        if (gd_ip_parse(gd_jstr(nd, "ip"), &x) == 0 && x == ip) used = 1;
    }
    json_decref(dbs);
    return used;
}

/* ---- actions ---- */

static json_t *live_db(gd_game *g, int team, const char *id, char *err, size_t errlen)
{
    json_t *r = gd_store_res_live(g->db, team, id, "db");
    if (!r) snprintf(err, errlen, "no db of that id or name: '%s'", id);
    return r;
}

int gd_db_failover(gd_game *g, int team, const char *id, const char *principal,
                   const char *source_ip, const char *cause, char *err, size_t errlen)
{
    json_t *r = live_db(g, team, id, err, errlen);
    int rc = 0;
    const char *code = NULL;
    json_t *st = r ? json_object_get(r, "status") : NULL;
    json_t *p = st ? node_role(st, GD_DB_PRIMARY) : NULL,
           *sb = st ? node_role(st, GD_DB_STANDBY) : NULL;
    if (!r) {
        rc = GD_ENOENT, code = "DBInstanceNotFound";
    } else if (!json_is_true(json_object_get(json_object_get(r, "spec"), "multi_az"))) {
        snprintf(err, errlen,
                 "db '%s' is not multi_az: it has no standby to fail over to (reboot restarts "
                 "it; multi_az: true adds a standby)",
                 gd_jstr(r, "name"));
        rc = GD_EINVAL, code = "InvalidParameterCombination";
    } else if (strcmp(gd_jstr(st, "state"), "available") != 0 || !p || !sb ||
               strcmp(gd_jstr(sb, "state"), "available") != 0) {
        snprintf(err, errlen,
                 "db '%s' is %s%s: only an available db with an available standby "
                 "fails over",
                 gd_jstr(r, "name"), gd_jstr(st, "state"),
                 sb && strcmp(gd_jstr(sb, "state"), "available") ? " (its standby is not ready)"
                                                                 : "");
        rc = GD_EEXIST, code = "InvalidDBInstanceState";
    }
    json_t *req = json_pack("{s:s}", "dbInstanceIdentifier", id);
    if (rc < 0) {
        gd_game_audit(g, team, principal, source_ip, "FailoverDBCluster", req,
                      json_pack("{s:s}", "message", err), code);
        json_decref(r);
        return rc;
    }
    gd_game_audit(g, team, principal, source_ip, "FailoverDBCluster", req,
                  json_pack("{s:s,s:s}", "from", gd_jstr(p, "id"), "to", gd_jstr(sb, "id")), NULL);
    char why[160];
    snprintf(why, sizeof why, "%s by %s", cause ? cause : "failover", principal);
    gd_launcher_set_status(g, gd_jstr(r, "id"), json_pack("{s:s}", "intent", why));
    gd_proc *pp = gd_proc_find(g, gd_jstr(p, "id"), GD_PROC_DB, 0);
    if (pp) gd_proc_stop(pp, SIGKILL, why);
    gd_info("db_failover_asked", "db=%s by=%s", gd_jstr(r, "id"), principal);
    json_decref(r);
    return 0;
}

int gd_db_reboot(gd_game *g, int team, const char *id, const char *principal, const char *source_ip,
                 char *err, size_t errlen)
{
    json_t *r = live_db(g, team, id, err, errlen);
    int rc = 0;
    const char *code = NULL;
    json_t *st = r ? json_object_get(r, "status") : NULL;
    json_t *p = st ? node_role(st, GD_DB_PRIMARY) : NULL;
    if (!r) {
        rc = GD_ENOENT, code = "DBInstanceNotFound";
    } else if (strcmp(gd_jstr(st, "state"), "available") != 0 || !p) {
        snprintf(err, errlen, "db '%s' is %s: only an available db reboots", gd_jstr(r, "name"),
                 gd_jstr(st, "state"));
        rc = GD_EEXIST, code = "InvalidDBInstanceState";
    }
    json_t *req = json_pack("{s:s}", "dbInstanceIdentifier", id);
    if (rc < 0) {
        gd_game_audit(g, team, principal, source_ip, "RebootDBInstance", req,
                      json_pack("{s:s}", "message", err), code);
        json_decref(r);
        return rc;
    }
    gd_game_audit(g, team, principal, source_ip, "RebootDBInstance", req,
                  json_pack("{s:s}", "node", gd_jstr(p, "id")), NULL);
    char why[160];
    snprintf(why, sizeof why, "rebooted by %s", principal);
    gd_launcher_set_status(g, gd_jstr(r, "id"),
                           json_pack("{s:s,s:s}", "intent", "reboot", "state", "rebooting"));
    gd_proc *pp = gd_proc_find(g, gd_jstr(p, "id"), GD_PROC_DB, 0);
    if (pp) gd_proc_stop(pp, SIGINT, why); /* a fast shutdown, then it starts again */
    event_line(g, team, "db %s rebooting (%s)", gd_jstr(r, "name"), why);
    json_decref(r);
    return 0;
}
