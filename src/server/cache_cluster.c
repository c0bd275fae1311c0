/* cache_cluster: ElastiCache for Redis as real redis-server processes (see
 * cache_cluster.h and doc/architecture.md, "Cache clusters").
 *
 * What is durable is the cluster's status in the store: its endpoints' addresses, its
 * nodes (id, role, zone, subnet, address, pid, state), its last failover. What lives in
 * memory is how each node answers: a RESP client per node (core/resp.c) that PINGs it
 * every GD_CACHE_CHECK_MS and reads its INFO every metric sample, driven by one timer;
 * and a failover under way. After a server restart the nodes whose process still runs
 * are adopted (proc.c) and checked again from scratch.
 *
 * A pass, for each cluster: addresses (the two endpoints in the first subnet, one per
 * node in the subnet its placement chose), nodes toward 1 + replicas, a process for
 * each node that has none (a replica only once the primary answers, following it), the
 * primary's loss (promote the replica with the most data, or restart the primary empty
 * when that cannot be), replicas that follow the wrong primary told again, the
 * cluster's state, its metrics, and the nat's mappings for eips.c to push. */
#include "server/cache_cluster.h"

#include "core/addr.h"
#include "core/buf.h"
#include "core/check.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/promtext.h"
#include "core/resp.h"
#include "model/cache_cluster.h"
#include "server/faults.h"
#include "server/launcher_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NODE_MAGIC 0x43434e44u
#define CL_MAGIC 0x4343434cu
#define RT_MAGIC 0x43435254u
#define TIMER_MS 20          /* the checks' timer */
#define START_POLL_MS 20     /* a node that has not answered yet is asked this often */
#define START_GRACE_MS 15000 /* one that never answers by then is killed and started again */
#define FIX_MS 1000          /* a replica following the wrong primary is told at most this often */
#define RESTART_MS 1000      /* a node's process starts at most this often (a crash loop) */
#define MAX_NODES 6          /* a primary and 5 replicas */
#define PRINCIPAL "elasticache"

static const char *redis_server(void)
{
    const char *p = getenv("GAMEDAY_REDIS_SERVER");
    return p && *p ? p : "/usr/bin/redis-server";
}

/* ---- the run-time state ---- */

/* One node as the server sees it answer. */
struct cnode {
    uint32_t magic;
    gd_game *g;
    char key[48], cluster_id[40];
    char id[80]; /* as the status names it, "<name>-001" */
    int num, primary;
    char ip[16];
    int port;
    char password[80];
    gd_resp *conn;
    int ping_inflight, info_inflight;
    int fails;    /* checks missed in a row since it last answered */
    int answered; /* it answered since its process started */
    uint64_t started_ms, last_ping_ms, last_info_ms, fix_ms;
    uint64_t next_start_ms; /* not started again before (RESTART_MS after the last start) */
    /* its last INFO */
    int has_info, is_master, link_up;
    char master_host[16];
    int master_port;
    double offset, lag_s, clients, hits, misses, used_mem, maxmem, cpu_s;
    double rep_hits, rep_misses, rep_cpu_s; /* what the metrics took already */
    uint64_t rep_cpu_ms;
    int seen;
    struct cnode *next;
};

enum fo_state { FO_NONE, FO_PROMOTING };

/* One cluster: its failover under way, what the nat is to be told. */
struct ccl {
    uint32_t magic;
    char id[40], name[64];
    int team;
    uint64_t first_ms;   /* when this server first saw it (wall ms of the loop) */
    double prim_lost_at; /* game time its primary was lost, 0 while it runs */
    uint64_t prim_lost_ms;
    enum fo_state fo;
    char fo_to[48];           /* the node being promoted (its key) */
    char fo_reason[200];      /* why it fails over (a node loss, a TestFailover, a zone) */
    int tried[MAX_NODES + 1]; /* nodes whose promotion failed, by num */
    int announced;            /* the primary's loss was told (event, audit) */
    uint64_t metrics_ms;
    uint64_t failovers; /* completed since this server started */
    json_t *maps;       /* the nat's mappings for this cluster */
    int seen;
    struct ccl *next;
};

struct gd_cache_rt {
    uint32_t magic;
    gd_game *g;
    struct cnode *nodes;
    struct ccl *clusters;
    uv_timer_t timer; /* the checks */
    uv_timer_t kick;  /* a reconcile pass soon (a node answered, died, was promoted) */
};

static void on_kick(uv_timer_t *t)
{
    struct gd_cache_rt *rt = t->data;
    GD_CHECK_OBJ(rt, RT_MAGIC);
    gd_launcher_reconcile(rt->g);
}

static void kick(gd_game *g)
{
    if (g->cache) uv_timer_start(&g->cache->kick, on_kick, 0, 0);
}

static void check_nodes(uv_timer_t *t);

static struct gd_cache_rt *rt_of(gd_game *g)
{
    if (!g->cache) {
        struct gd_cache_rt *rt = gd_calloc(1, sizeof *rt);
        rt->magic = RT_MAGIC;
        rt->g = g;
        uv_timer_init(g->loop, &rt->timer);
        rt->timer.data = rt;
        uv_timer_start(&rt->timer, check_nodes, TIMER_MS, TIMER_MS);
        uv_unref((uv_handle_t *)&rt->timer);
        uv_timer_init(g->loop, &rt->kick);
        rt->kick.data = rt;
        uv_unref((uv_handle_t *)&rt->kick);
        g->cache = rt;
    }
    return g->cache;
}

static struct ccl *cl_find(gd_game *g, const char *id)
{
    for (struct ccl *c = g->cache ? g->cache->clusters : NULL; c; c = c->next)
        if (!strcmp(c->id, id)) return c;
    return NULL;
}

static struct ccl *cl_get(gd_game *g, const json_t *res)
{
    struct ccl *c = cl_find(g, gd_jstr(res, "id"));
    if (c) return c;
    struct gd_cache_rt *rt = rt_of(g);
    c = gd_calloc(1, sizeof *c);
    c->magic = CL_MAGIC;
    snprintf(c->id, sizeof c->id, "%s", gd_jstr(res, "id"));
    snprintf(c->name, sizeof c->name, "%s", gd_jstr(res, "name"));
    c->team = (int)json_integer_value(json_object_get(res, "team"));
    c->first_ms = uv_now(g->loop);
    c->next = rt->clusters;
    rt->clusters = c;
    return c;
}

static struct cnode *node_find(gd_game *g, const char *key)
{
    for (struct cnode *n = g->cache ? g->cache->nodes : NULL; n; n = n->next)
        if (!strcmp(n->key, key)) return n;
    return NULL;
}

void gd_cache_node_key(const char *cluster_id, int num, char *out, size_t n)
{
    snprintf(out, n, "%s-%03d", cluster_id, num);
}

/* The node's client: made again when its address or password changed. */
static struct cnode *node_get(gd_game *g, const char *cluster_id, const json_t *jn,
                              const char *password)
{
    char key[48];
    int num = (int)gd_jnum(jn, "num", 0);
    gd_cache_node_key(cluster_id, num, key, sizeof key);
    struct cnode *n = node_find(g, key);
    const char *ip = gd_jstr(jn, "ip");
    int port = (int)gd_jnum(jn, "port", 6379);
    if (!n) {
        struct gd_cache_rt *rt = rt_of(g);
        n = gd_calloc(1, sizeof *n);
        n->magic = NODE_MAGIC;
        n->g = g;
        snprintf(n->key, sizeof n->key, "%s", key);
        snprintf(n->cluster_id, sizeof n->cluster_id, "%s", cluster_id);
        n->num = num;
        n->started_ms = uv_now(g->loop);
        n->next = rt->nodes;
        rt->nodes = n;
    }
    if (!n->conn || strcmp(n->ip, ip) || n->port != port || strcmp(n->password, password)) {
        if (n->conn) gd_resp_close(n->conn);
        snprintf(n->ip, sizeof n->ip, "%s", ip);
        n->port = port;
        snprintf(n->password, sizeof n->password, "%s", password);
        n->conn = gd_resp_new(g->loop, n->ip, n->port, password, GD_CACHE_PING_TIMEOUT_MS);
        n->ping_inflight = n->info_inflight = 0;
    }
    return n;
}

static void node_free(struct cnode *n)
{
    if (n->conn) gd_resp_close(n->conn);
    n->magic = 0;
    gd_free(n);
}

/* A node's process started (again): what it answered before says nothing now. */
static void node_reset(gd_game *g, struct cnode *n)
{
    n->answered = n->fails = n->has_info = n->is_master = n->link_up = 0;
    n->started_ms = uv_now(g->loop);
    n->offset = n->lag_s = 0;
    n->rep_hits = n->rep_misses = n->rep_cpu_s = 0;
    n->hits = n->misses = n->cpu_s = 0;
    n->rep_cpu_ms = 0;
}

/* ---- checks: PING and INFO, from the timer ---- */

static void on_ping(void *arg, int status, const redisReply *r)
{
    struct cnode *n = arg;
    GD_CHECK_OBJ(n, NODE_MAGIC);
    (void)r;
    n->ping_inflight = 0;
    /* An answer, even an error (a refused AUTH), says the server is alive. */
    if (status == 0 || status == GD_EPERM) {
        n->fails = 0;
        if (!n->answered) {
            n->answered = 1;
            gd_info("cache_node_answers", "node=%s addr=%s:%d ms_since_start=%llu", n->key, n->ip,
                    n->port, (unsigned long long)(uv_now(n->g->loop) - n->started_ms));
            kick(n->g);
        }
    } else if (n->answered) {
        if (++n->fails == GD_CACHE_FAILED_CHECKS) kick(n->g);
    }
}

/* The replicas a primary lists: "slaveN:ip=...,port=...,state=online,offset=...,lag=..".
 * Each of those nodes takes its lag as the primary sees it. */
static void replicas_seen(gd_game *g, struct cnode *prim, const char *info, size_t len)
{
    for (int k = 0; k < 16; k++) {
        char key[16], v[256], ip[32], port[16], lag[32], off[32];
        snprintf(key, sizeof key, "slave%d", k);
        if (gd_cache_info_field(info, len, key, v, sizeof v) < 0) break;
        if (gd_cache_info_sub(v, "ip", ip, sizeof ip) < 0 ||
            gd_cache_info_sub(v, "port", port, sizeof port) < 0)
            continue;
        for (struct cnode *n = g->cache->nodes; n; n = n->next) {
            if (strcmp(n->cluster_id, prim->cluster_id) || strcmp(n->ip, ip) ||
                n->port != atoi(port))
                continue;
            if (gd_cache_info_sub(v, "lag", lag, sizeof lag) == 0) n->lag_s = atof(lag);
            if (gd_cache_info_sub(v, "offset", off, sizeof off) == 0 && !n->has_info)
                n->offset = atof(off);
        }
    }
}

static void on_info(void *arg, int status, const redisReply *r)
{
    struct cnode *n = arg;
    GD_CHECK_OBJ(n, NODE_MAGIC);
    n->info_inflight = 0;
    if (status != 0 || !r || r->type != REDIS_REPLY_STRING) return;
    const char *s = r->str;
    size_t len = r->len;
    char role[16] = "", link[16] = "";
    gd_cache_info_field(s, len, "role", role, sizeof role);
    int was_master = n->is_master, was_up = n->link_up, had = n->has_info;
    n->is_master = !strcmp(role, "master");
    gd_cache_info_field(s, len, "master_link_status", link, sizeof link);
    n->link_up = !strcmp(link, "up");
    if (gd_cache_info_field(s, len, "master_host", n->master_host, sizeof n->master_host) < 0)
        n->master_host[0] = 0;
    n->master_port = (int)gd_cache_info_num(s, len, "master_port", 0);
    n->offset = n->is_master ? gd_cache_info_num(s, len, "master_repl_offset", 0)
                             : gd_cache_info_num(s, len, "slave_repl_offset", 0);
    n->clients = gd_cache_info_num(s, len, "connected_clients", 0);
    n->hits = gd_cache_info_num(s, len, "keyspace_hits", 0);
    n->misses = gd_cache_info_num(s, len, "keyspace_misses", 0);
    n->used_mem = gd_cache_info_num(s, len, "used_memory", 0);
    n->maxmem = gd_cache_info_num(s, len, "maxmemory", 0);
    n->cpu_s = gd_cache_info_num(s, len, "used_cpu_sys", 0) +
               gd_cache_info_num(s, len, "used_cpu_user", 0);
    n->has_info = 1;
    if (n->is_master) {
        n->lag_s = 0;
        replicas_seen(n->g, n, s, len);
    }
    if (!had || was_master != n->is_master || was_up != n->link_up) kick(n->g);
}

static void check_nodes(uv_timer_t *t)
{
    struct gd_cache_rt *rt = t->data;
    GD_CHECK_OBJ(rt, RT_MAGIC);
    uint64_t now = uv_now(rt->g->loop);
    for (struct cnode *n = rt->nodes; n; n = n->next) {
        if (!gd_proc_find(rt->g, n->key, GD_PROC_REDIS, 0)) continue;
        uint64_t every = n->answered ? GD_CACHE_CHECK_MS : START_POLL_MS;
        if (!n->ping_inflight && now - n->last_ping_ms >= every) {
            static const char *const ping[] = {"PING"};
            if (gd_resp_cmd(n->conn, on_ping, n, 1, ping) == 0) n->ping_inflight = 1;
            n->last_ping_ms = now;
        }
        /* INFO each metric sample; more often while a replica has not caught up. */
        uint64_t info_every =
            n->has_info && (n->is_master || n->link_up) ? GD_METRIC_SAMPLE_MS : START_POLL_MS;
        if (n->answered && !n->info_inflight && now - n->last_info_ms >= info_every) {
            static const char *const info[] = {"INFO"};
            if (gd_resp_cmd(n->conn, on_info, n, 1, info) == 0) n->info_inflight = 1;
            n->last_info_ms = now;
        }
    }
}

/* ---- helpers on a cluster's status ---- */

/* The cluster's password: hex HMAC-SHA256 of "cache:<id>" under the game's internal
 * secret: the same across server restarts, and no other team can know it. */
static void password_of(const gd_game *g, const char *id, char out[65])
{
    char msg[96];
    snprintf(msg, sizeof msg, "cache:%s", id);
    unsigned char mac[32];
    unsigned int ml = sizeof mac;
    HMAC(EVP_sha256(), g->internal_token, (int)strlen(g->internal_token),
         (const unsigned char *)msg, strlen(msg), mac, &ml);
    for (unsigned i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", mac[i]);
}

static const char *role_of(const json_t *jn)
{
    return gd_jstr(jn, "role");
}

static json_t *primary_of(json_t *nodes)
{
    size_t i;
    json_t *jn;
    json_array_foreach(nodes, i, jn) if (!strcmp(role_of(jn), "primary")) return jn;
    return NULL;
}

static gd_proc *proc_of(gd_game *g, const char *cluster_id, const json_t *jn)
{
    char key[48];
    gd_cache_node_key(cluster_id, (int)gd_jnum(jn, "num", 0), key, sizeof key);
    return gd_proc_find(g, key, GD_PROC_REDIS, 0);
}

/* Zone az is out for the cluster: an az_outage, or a power interruption (FIS). */
static int zone_down(gd_game *g, const char *cluster_id, const char *az)
{
    if (gd_az_down_until(g, az) > 0) return 1;
    if (!g->faults) return 0;
    json_t *f = gd_faults_for(g, cluster_id);
    size_t i;
    json_t *x;
    int down = 0;
    json_array_foreach(f, i, x) down |=
        !strcmp(gd_jstr(x, "kind"), "az_power") && !strcmp(gd_jstr(x, "az"), az);
    json_decref(f);
    return down;
}

/* The event stream: a line of the team's score events, without points. */
static void say(gd_game *g, int team, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(gd_game *g, int team, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    gd_store_ledger_add(g->db, gd_game_now(g), team, PRINCIPAL, 0, line);
}

/* A subnet's CIDR and zone. 0, or -1 when it is gone. */
static int subnet_info(gd_game *g, int team, const char *name, char *az, size_t azn)
{
    gd_cidr c;
    json_t *sn = NULL;
    if (gd_net_subnet_of(g, team, name, &c, &sn) < 0) return -1;
    const char *z = gd_jstr(json_object_get(sn, "spec"), "az");
    snprintf(az, azn, "%s", *z ? z : "a");
    json_decref(sn);
    return 0;
}

/* ---- addresses and nodes ---- */

/* An address of subnet `subnet` written at once into the status at `field` (and the
 * store: the next allocation must see it taken). 0, or -1 with last_error. */
static int take_ip(gd_game *g, const char *id, int team, json_t *st, const char *subnet,
                   char out[16])
{
    uint32_t ip;
    char err[256];
    if (gd_net_alloc_ip(g, team, subnet, &ip, err, sizeof err) < 0) {
        json_object_set_new(st, "last_error", json_string(err));
        gd_store_res_set_status(g->db, id, st, gd_game_now(g));
        return -1;
    }
    gd_ip_format(ip, out);
    return 0;
}

/* The primary and reader endpoints: addresses of the first subnet. */
static int endpoints(gd_game *g, const json_t *res, json_t *st)
{
    const char *id = gd_jstr(res, "id");
    int team = (int)json_integer_value(json_object_get(res, "team"));
    json_t *spec = json_object_get(res, "spec");
    const char *first = json_string_value(json_array_get(json_object_get(spec, "subnets"), 0));
    int port = (int)gd_jnum(spec, "port", 6379);
    static const char *const fields[] = {"primary_endpoint", "reader_endpoint"};
    for (int k = 0; k < 2; k++) {
        const char *have = gd_jstr(st, fields[k]);
        if (*have) {
            /* The port follows the spec; the address stays. */
            char ipb[16], ep[32];
            snprintf(ipb, sizeof ipb, "%.*s", (int)strcspn(have, ":"), have);
            snprintf(ep, sizeof ep, "%s:%d", ipb, port);
            if (strcmp(ep, have) != 0) json_object_set_new(st, fields[k], json_string(ep));
            continue;
        }
        char ip[16], ep[32];
        if (!first || take_ip(g, id, team, st, first, ip) < 0) return -1;
        snprintf(ep, sizeof ep, "%s:%d", ip, port);
        json_object_set_new(st, fields[k], json_string(ep));
        gd_store_res_set_status(g->db, id, st, gd_game_now(g));
    }
    return 0;
}

/* Adds nodes toward 1 + replicas (placed by gd_cache_place), or takes the newest
 * replicas away. 0, or -1 when an address could not be had (last_error says why). */
static int size_nodes(gd_game *g, const json_t *res, json_t *st, json_t *nodes)
{
    const char *id = gd_jstr(res, "id"), *name = gd_jstr(res, "name");
    int team = (int)json_integer_value(json_object_get(res, "team"));
    json_t *spec = json_object_get(res, "spec"), *subnets = json_object_get(spec, "subnets");
    size_t want = 1 + (size_t)gd_jnum(spec, "replicas", 0);
    while (json_array_size(nodes) < want) {
        const char *azs[MAX_NODES], *node_azs[MAX_NODES + 1];
        char azb[MAX_NODES][8];
        int ok[MAX_NODES];
        size_t nsub = json_array_size(subnets) < MAX_NODES ? json_array_size(subnets) : MAX_NODES;
        for (size_t i = 0; i < nsub; i++) {
            ok[i] = subnet_info(g, team, json_string_value(json_array_get(subnets, i)), azb[i],
                                sizeof azb[i]) == 0;
            azs[i] = azb[i];
            ok[i] = ok[i] && !zone_down(g, id, azb[i]);
        }
        size_t nn = json_array_size(nodes);
        int maxnum = 0;
        for (size_t k = 0; k < nn && k <= MAX_NODES; k++) {
            json_t *jn = json_array_get(nodes, k);
            node_azs[k] = gd_jstr(jn, "az");
            if ((int)gd_jnum(jn, "num", 0) > maxnum) maxnum = (int)gd_jnum(jn, "num", 0);
        }
        /* The primary goes in the first subnet (when it can take it). */
        int at = nn == 0 && nsub > 0 && ok[0] ? 0 : gd_cache_place(azs, ok, nsub, node_azs, nn);
        if (at < 0) {
            json_object_set_new(st, "last_error",
                                json_string("no subnet of the cluster can take a node now (its "
                                            "zones are down)"));
            return -1;
        }
        char ip[16], nid[80];
        const char *subnet = json_string_value(json_array_get(subnets, (size_t)at));
        if (take_ip(g, id, team, st, subnet, ip) < 0) return -1;
        snprintf(nid, sizeof nid, "%s-%03d", name, maxnum + 1);
        json_array_append_new(nodes, json_pack("{s:s,s:i,s:s,s:s,s:s,s:s,s:i,s:i,s:s,s:n}", "id",
                                               nid, "num", maxnum + 1, "role",
                                               primary_of(nodes) ? "replica" : "primary", "az",
                                               azs[at], "subnet", subnet, "ip", ip, "port",
                                               (int)gd_jnum(spec, "port", 6379), "pid", 0, "state",
                                               "creating", "replication_lag_s"));
        json_object_set(st, "nodes", nodes);
        json_object_del(st, "last_error");
        gd_store_res_set_status(g->db, id, st, gd_game_now(g));
        gd_info("cache_node_placed", "cluster=%s node=%s az=%s subnet=%s ip=%s", id, nid, azs[at],
                subnet, ip);
    }
    while (json_array_size(nodes) > want) { /* the newest replica goes */
        size_t pick = SIZE_MAX;
        int best = -1;
        size_t i;
        json_t *jn;
        json_array_foreach(nodes, i, jn)
        {
            if (!strcmp(role_of(jn), "primary")) continue;
            if ((int)gd_jnum(jn, "num", 0) > best) best = (int)gd_jnum(jn, "num", 0), pick = i;
        }
        if (pick == SIZE_MAX) break;
        jn = json_array_get(nodes, pick);
        gd_proc *p = proc_of(g, id, jn);
        if (p) {
            gd_proc_stop(p, SIGTERM, "node removed (fewer replicas)");
            gd_net_hold_ip(gd_jstr(jn, "ip"), p->res_id, GD_PROC_REDIS);
        }
        gd_info("cache_node_removed", "cluster=%s node=%s", id, gd_jstr(jn, "id"));
        json_array_remove(nodes, pick);
    }
    return 0;
}

static int mkdirs(const char *path)
{
    return mkdir(path, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

/* Starts a node's redis-server: a primary, or a replica of `primary` (a node). Its
 * password is in a 0600 file, not on its command line (anyone may read that in /proc).
 * 0, or -1 with the node's reason set. */
static int spawn_node(gd_game *g, const json_t *res, json_t *jn, const json_t *primary)
{
    const char *id = gd_jstr(res, "id");
    int team = (int)json_integer_value(json_object_get(res, "team"));
    json_t *spec = json_object_get(res, "spec");
    char key[48], dir[PATH_MAX], conf[PATH_MAX + 16];
    int num = (int)gd_jnum(jn, "num", 0);
    gd_cache_node_key(id, num, key, sizeof key);
    struct cnode *was = node_find(g, key);
    if (was && uv_now(g->loop) < was->next_start_ms) return -1; /* soon */
    snprintf(dir, sizeof dir, "%s/redis", g->dir);
    mkdirs(dir);
    snprintf(dir, sizeof dir, "%s/redis/%s", g->dir, key);
    mkdirs(dir);
    snprintf(conf, sizeof conf, "%s/redis.conf", dir);
    int auth = json_is_true(json_object_get(spec, "auth"));
    char pw[65] = "";
    if (auth) password_of(g, id, pw);
    int fd = open(conf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
        char text[256];
        int l =
            auth ? snprintf(text, sizeof text,
                            "# written by gameday for %s\nrequirepass %s\nmasterauth %s\n",
                            gd_jstr(jn, "id"), pw, pw)
                 : snprintf(text, sizeof text, "# written by gameday for %s\n", gd_jstr(jn, "id"));
        ssize_t w = write(fd, text, (size_t)l);
        close(fd);
        if (w != l) fd = -1;
    }
    if (fd < 0) {
        json_object_set_new(jn, "reason", json_string("could not write its redis.conf"));
        return -1;
    }
    const gd_cache_node_type *nt = gd_cache_node_type_find(gd_jstr(spec, "node_type"));
    char port[16], maxmem[32], pport[16];
    snprintf(port, sizeof port, "%d", (int)gd_jnum(spec, "port", 6379));
    snprintf(maxmem, sizeof maxmem, "%lld", nt ? nt->maxmemory : 536870912LL);
    const char *ip = gd_jstr(jn, "ip");
    char *args[40] = {(char *)redis_server(), conf, "--bind", (char *)ip, "--port", port, "--dir",
                      dir, "--save", "", "--appendonly", "no", "--protected-mode", "no",
                      "--daemonize", "no", "--maxmemory", maxmem, "--maxmemory-policy",
                      "volatile-lru",
                      /* replicas sync at once, from their own address */
                      "--repl-diskless-sync-delay", "0", "--bind-source-addr", (char *)ip};
    int na = 24;
    if (primary) {
        snprintf(pport, sizeof pport, "%d", (int)gd_jnum(primary, "port", 6379));
        args[na++] = "--replicaof";
        args[na++] = (char *)gd_jstr(primary, "ip");
        args[na++] = pport;
    }
    args[na] = NULL;
    gd_proc *p = gd_proc_spawn(g, GD_PROC_REDIS, team, key, args, NULL, key);
    if (was) was->next_start_ms = uv_now(g->loop) + RESTART_MS;
    if (!p) {
        char why[160];
        snprintf(why, sizeof why,
                 "%s did not start (scripts/install-deps.sh installs redis-server)",
                 redis_server());
        json_object_set_new(jn, "reason", json_string(why));
        return -1;
    }
    json_object_set_new(jn, "pid", json_integer(p->pid));
    json_object_set_new(jn, "state", json_string("creating"));
    json_object_set_new(jn, "started_at", json_real(gd_game_now(g)));
    json_object_set_new(jn, "port", json_integer((int)gd_jnum(spec, "port", 6379)));
    json_object_del(jn, "reason");
    struct cnode *n = node_get(g, id, jn, pw);
    node_reset(g, n);
    gd_info("cache_node_started", "cluster=%s node=%s role=%s addr=%s:%s pid=%d%s%s", id,
            gd_jstr(jn, "id"), role_of(jn), ip, port, p->pid, primary ? " replicaof=" : "",
            primary ? gd_jstr(primary, "ip") : "");
    return 0;
}

/* ---- failover ---- */

static void fo_done(gd_game *g, struct ccl *cl, struct cnode *to);

static void on_promoted(void *arg, int status, const redisReply *r)
{
    struct cnode *n = arg;
    GD_CHECK_OBJ(n, NODE_MAGIC);
    struct ccl *cl = cl_find(n->g, n->cluster_id);
    if (!cl || cl->fo != FO_PROMOTING || strcmp(cl->fo_to, n->key) != 0) return;
    if (status != 0 || !r || r->type == REDIS_REPLY_ERROR) {
        gd_warn("cache_promotion_failed", "cluster=%s node=%s status=%s reply=%s", cl->id, n->key,
                gd_strerror(status), r && r->type == REDIS_REPLY_ERROR ? gd_log_q(r->str) : "-");
        if (n->num >= 0 && n->num <= MAX_NODES) cl->tried[n->num] = 1;
        cl->fo = FO_NONE;
        kick(n->g);
        return;
    }
    fo_done(n->g, cl, n);
}

static void on_fix(void *arg, int status, const redisReply *r)
{
    struct cnode *n = arg;
    GD_CHECK_OBJ(n, NODE_MAGIC);
    if (status != 0 || (r && r->type == REDIS_REPLY_ERROR))
        gd_warn("cache_node_command_failed", "node=%s status=%s reply=%s", n->key,
                gd_strerror(status), r && r->type == REDIS_REPLY_ERROR ? gd_log_q(r->str) : "-");
}

/* Sends REPLICAOF to a node: of `primary`, or NO ONE when primary is NULL. */
static void replicaof(struct cnode *n, const json_t *primary, gd_resp_cb cb)
{
    char port[16];
    const char *argv[3] = {"REPLICAOF", "NO", "ONE"};
    if (primary) {
        snprintf(port, sizeof port, "%d", (int)gd_jnum(primary, "port", 6379));
        argv[1] = gd_jstr(primary, "ip");
        argv[2] = port;
    }
    if (gd_resp_cmd(n->conn, cb, n, 3, argv) < 0 && cb == on_promoted) {
        struct ccl *cl = cl_find(n->g, n->cluster_id);
        if (cl) cl->fo = FO_NONE, cl->tried[n->num <= MAX_NODES ? n->num : 0] = 1;
    }
    n->fix_ms = uv_now(n->g->loop);
}

/* The promoted replica answered REPLICAOF NO ONE: it is the primary. The others follow
 * it, the old primary's node will start again as a replica, the endpoint moves (the
 * pass this asks for pushes the nat's mappings), and the failover is recorded. */
static void fo_done(gd_game *g, struct ccl *cl, struct cnode *to)
{
    cl->fo = FO_NONE;
    cl->failovers++;
    memset(cl->tried, 0, sizeof cl->tried);
    json_t *res = gd_store_res_live(g->db, 0, cl->id, "cache_cluster");
    if (!res) return;
    json_t *st = json_deep_copy(json_object_get(res, "status"));
    json_t *nodes = json_object_get(st, "nodes");
    json_t *old = primary_of(nodes), *neu = NULL;
    size_t i;
    json_t *jn;
    json_array_foreach(nodes, i, jn) if ((int)gd_jnum(jn, "num", -1) == to->num) neu = jn;
    if (!neu) {
        json_decref(st);
        json_decref(res);
        return;
    }
    char from[80];
    snprintf(from, sizeof from, "%s", old ? gd_jstr(old, "id") : "?");
    if (old) {
        json_object_set_new(old, "role", json_string("replica"));
        json_object_set_new(old, "replication_lag_s", json_null());
    }
    json_object_set_new(neu, "role", json_string("primary"));
    json_object_set_new(neu, "replication_lag_s", json_null());
    to->is_master = 1;
    /* The other running replicas follow the new primary now (the pass checks later
     * that they did, from their INFO). */
    json_array_foreach(nodes, i, jn)
    {
        if (jn == neu || jn == old || !proc_of(g, cl->id, jn)) continue;
        char key[48];
        gd_cache_node_key(cl->id, (int)gd_jnum(jn, "num", 0), key, sizeof key);
        struct cnode *n = node_find(g, key);
        if (n) replicaof(n, neu, on_fix);
    }
    double now = gd_game_now(g), took = cl->prim_lost_at > 0 ? now - cl->prim_lost_at : 0;
    uint64_t wall = cl->prim_lost_ms ? uv_now(g->loop) - cl->prim_lost_ms : 0;
    const char *why = cl->fo_reason[0] ? cl->fo_reason : "the primary's process was lost";
    json_object_set_new(st, "last_failover",
                        json_pack("{s:f,s:s,s:s,s:s,s:f,s:I}", "time", now, "from", from, "to",
                                  gd_jstr(neu, "id"), "reason", why, "duration_s", took, "wall_ms",
                                  (json_int_t)wall));
    gd_store_res_set_status(g->db, cl->id, st, now);
    gd_game_audit(
        g, cl->team, PRINCIPAL, NULL, "FailoverReplicationGroup",
        json_pack("{s:s,s:s,s:s}", "resourceId", cl->id, "primaryNode", from, "reason", why),
        json_pack("{s:s,s:f}", "newPrimaryNode", gd_jstr(neu, "id"), "durationSeconds", took),
        NULL);
    say(g, cl->team, "cache_cluster %s: primary failed over from %s to %s in %.1f s (%s)", cl->name,
        from, gd_jstr(neu, "id"), took, why);
    gd_info("cache_failover", "cluster=%s from=%s to=%s game_s=%.2f wall_ms=%llu reason=%s", cl->id,
            from, gd_jstr(neu, "id"), took, (unsigned long long)wall, gd_log_q(why));
    cl->prim_lost_at = 0;
    cl->prim_lost_ms = 0;
    cl->fo_reason[0] = 0;
    cl->announced = 0;
    json_decref(st);
    json_decref(res);
    kick(g);
}

/* The primary has no process. Promote the best replica when automatic failover is on
 * and one answers; else start the primary again, empty (no persistence). */
static void primary_lost(gd_game *g, struct ccl *cl, const json_t *res, json_t *nodes, json_t *prim)
{
    json_t *spec = json_object_get(res, "spec");
    if (cl->fo == FO_PROMOTING) return;
    if (!json_object_get(prim, "started_at")) { /* its first start, not a loss */
        if (!zone_down(g, cl->id, gd_jstr(prim, "az"))) spawn_node(g, res, prim, NULL);
        return;
    }
    if (cl->prim_lost_at <= 0) {
        cl->prim_lost_at = gd_game_now(g);
        cl->prim_lost_ms = uv_now(g->loop);
    }
    if (json_is_true(json_object_get(spec, "automatic_failover"))) {
        gd_cache_candidate cand[MAX_NODES + 1];
        struct cnode *who[MAX_NODES + 1];
        size_t n = 0, i;
        json_t *jn;
        json_array_foreach(nodes, i, jn)
        {
            if (jn == prim || n > MAX_NODES) continue;
            char key[48];
            int num = (int)gd_jnum(jn, "num", 0);
            gd_cache_node_key(cl->id, num, key, sizeof key);
            struct cnode *c = node_find(g, key);
            int ok = c && proc_of(g, cl->id, jn) && c->answered && c->fails == 0 &&
                     !(num >= 0 && num <= MAX_NODES && cl->tried[num]);
            cand[n] = (gd_cache_candidate){
                .usable = ok, .offset = c ? c->offset : 0, .lag_s = c ? c->lag_s : 0};
            who[n++] = c;
        }
        int pick = gd_cache_pick_promotion(cand, n);
        if (pick >= 0) {
            struct cnode *c = who[pick];
            cl->fo = FO_PROMOTING;
            snprintf(cl->fo_to, sizeof cl->fo_to, "%s", c->key);
            gd_info("cache_promoting", "cluster=%s node=%s offset=%.0f lag_s=%.0f", cl->id, c->key,
                    c->offset, c->lag_s);
            replicaof(c, NULL, on_promoted);
            return;
        }
    }
    /* No failover: the primary starts again where it was, with nothing in it. */
    if (zone_down(g, cl->id, gd_jstr(prim, "az"))) {
        json_object_set_new(prim, "reason",
                            json_string("its availability zone is down: it starts again when "
                                        "the zone is back"));
        return;
    }
    if (!cl->announced) {
        const char *why = !json_is_true(json_object_get(spec, "automatic_failover"))
                              ? "automatic failover is off"
                              : "no replica can be promoted";
        say(g, cl->team,
            "cache_cluster %s: primary %s lost and %s: it starts again empty (no persistence: "
            "its data is gone)",
            cl->name, gd_jstr(prim, "id"), why);
        gd_game_audit(g, cl->team, PRINCIPAL, NULL, "RebootCacheNode",
                      json_pack("{s:s,s:s}", "resourceId", cl->id, "node", gd_jstr(prim, "id")),
                      json_pack("{s:s}", "reason", why), NULL);
        cl->announced = 1;
    }
    if (spawn_node(g, res, prim, NULL) == 0) {
        memset(cl->tried, 0, sizeof cl->tried);
        cl->prim_lost_at = 0;
        cl->prim_lost_ms = 0;
    }
}

/* ---- one cluster, one pass ---- */

static const char *node_state(gd_game *g, struct ccl *cl, json_t *jn, const json_t *prim)
{
    if (!proc_of(g, cl->id, jn)) return "failed";
    char key[48];
    gd_cache_node_key(cl->id, (int)gd_jnum(jn, "num", 0), key, sizeof key);
    struct cnode *n = node_find(g, key);
    if (!n || !n->answered) return "creating";
    if (!strcmp(role_of(jn), "primary")) return "available";
    if (!n->has_info || !n->link_up || !prim || strcmp(n->master_host, gd_jstr(prim, "ip")) ||
        n->master_port != (int)gd_jnum(prim, "port", 0))
        return "syncing";
    return "available";
}

/* The nat's mappings of the cluster: the primary endpoint to the primary node while its
 * process runs, the reader endpoint to the replicas that are in sync (the primary
 * when there are none), both closing their clients' connections when they move. */
static void build_maps(gd_game *g, struct ccl *cl, const json_t *res, json_t *st, json_t *nodes)
{
    json_t *spec = json_object_get(res, "spec");
    int port = (int)gd_jnum(spec, "port", 6379);
    json_t *allow = json_array();
    json_t *sgs = json_object_get(spec, "security_groups");
    if (json_is_array(sgs)) {
        gd_buf b;
        gd_buf_init(&b, 1 << 20);
        gd_sg_allow(g, cl->team, sgs, port, &b);
        char *text = gd_strndup(b.data ? b.data : "", b.len);
        for (char *save, *tok = strtok_r(text, "\n", &save); tok; tok = strtok_r(NULL, "\n", &save))
            if (json_array_size(allow) < 256) json_array_append_new(allow, json_string(tok));
        gd_free(text);
        gd_buf_free(&b);
    } else { /* the VPC's default group: the team's own network */
        char vpc[24];
        snprintf(vpc, sizeof vpc, "127.%d.0.0/16", cl->team + g->net - 1);
        json_array_append_new(allow, json_string(vpc));
    }
    json_t *prim_to = json_array(), *read_to = json_array();
    json_t *prim = primary_of(nodes);
    size_t i;
    json_t *jn;
    json_array_foreach(nodes, i, jn)
    {
        char to[32];
        snprintf(to, sizeof to, "%s:%d", gd_jstr(jn, "ip"), (int)gd_jnum(jn, "port", port));
        const char *s = gd_jstr(jn, "state");
        if (jn == prim && proc_of(g, cl->id, jn) && cl->fo == FO_NONE)
            json_array_append_new(prim_to, json_string(to));
        else if (jn != prim && !strcmp(s, "available"))
            json_array_append_new(read_to, json_string(to));
    }
    if (json_array_size(read_to) == 0) json_array_extend(read_to, prim_to);
    json_decref(cl->maps);
    cl->maps = json_array();
    const char *eps[2] = {gd_jstr(st, "primary_endpoint"), gd_jstr(st, "reader_endpoint")};
    json_t *tos[2] = {prim_to, read_to};
    for (int k = 0; k < 2; k++) {
        char ipb[16];
        snprintf(ipb, sizeof ipb, "%.*s", (int)strcspn(eps[k], ":"), eps[k]);
        if (!*ipb) continue;
        json_array_append_new(cl->maps, json_pack("{s:s,s:i,s:O,s:i,s:O,s:b}", "ip", ipb, "port",
                                                  port, "to", tos[k], "team", cl->team, "allow",
                                                  allow, "close_on_move", 1));
    }
    json_decref(prim_to);
    json_decref(read_to);
    json_decref(allow);
}

/* Datapoints of the cluster, once a metric sample, from its nodes' last INFO. */
static void put_metrics(gd_game *g, struct ccl *cl, json_t *nodes)
{
    uint64_t now_ms = uv_now(g->loop);
    if (now_ms - cl->metrics_ms < GD_METRIC_SAMPLE_MS) return;
    cl->metrics_ms = now_ms;
    double t = gd_game_now(g), conns = 0, hits = 0, misses = 0, lag = -1;
    int any = 0;
    json_t *prim = primary_of(nodes);
    size_t i;
    json_t *jn;
    json_array_foreach(nodes, i, jn)
    {
        char key[48];
        gd_cache_node_key(cl->id, (int)gd_jnum(jn, "num", 0), key, sizeof key);
        struct cnode *n = node_find(g, key);
        if (!n || !n->has_info || !proc_of(g, cl->id, jn)) continue;
        any = 1;
        conns += n->clients > 0 ? n->clients - 1 : 0; /* our own connection is not a client */
        hits += n->hits >= n->rep_hits ? n->hits - n->rep_hits : n->hits;
        misses += n->misses >= n->rep_misses ? n->misses - n->rep_misses : n->misses;
        n->rep_hits = n->hits;
        n->rep_misses = n->misses;
        if (jn != prim && n->lag_s > lag) lag = n->lag_s;
        if (jn == prim) {
            if (n->maxmem > 0)
                gd_metrics_put(g->metrics, cl->id, "DatabaseMemoryUsagePercentage", t,
                               100.0 * n->used_mem / n->maxmem);
            if (n->rep_cpu_ms && now_ms > n->rep_cpu_ms && n->cpu_s >= n->rep_cpu_s)
                gd_metrics_put(g->metrics, cl->id, "EngineCPUUtilization", t,
                               100.0 * (n->cpu_s - n->rep_cpu_s) /
                                   ((double)(now_ms - n->rep_cpu_ms) / 1000.0));
            n->rep_cpu_s = n->cpu_s;
            n->rep_cpu_ms = now_ms;
        }
    }
    if (!any) return;
    gd_metrics_put(g->metrics, cl->id, "CurrConnections", t, conns);
    gd_metrics_put(g->metrics, cl->id, "CacheHits", t, hits);
    gd_metrics_put(g->metrics, cl->id, "CacheMisses", t, misses);
    if (lag >= 0) gd_metrics_put(g->metrics, cl->id, "ReplicationLag", t, lag);
}

static void reconcile_one(gd_game *g, const json_t *res)
{
    const char *id = gd_jstr(res, "id");
    json_t *spec = json_object_get(res, "spec");
    struct ccl *cl = cl_get(g, res);
    cl->seen = 1;
    json_t *st0 = json_object_get(res, "status");
    json_t *st = json_is_object(st0) ? json_deep_copy(st0) : json_object();
    json_t *before = json_deep_copy(st);
    char pw[65] = "";
    int auth = json_is_true(json_object_get(spec, "auth"));
    if (auth) password_of(g, id, pw);
    if (auth && strcmp(gd_jstr(st, "auth_token"), pw) != 0)
        json_object_set_new(st, "auth_token", json_string(pw));
    else if (!auth)
        json_object_del(st, "auth_token");
    json_t *nodes = json_object_get(st, "nodes");
    if (!json_is_array(nodes)) {
        nodes = json_array();
        json_object_set_new(st, "nodes", nodes);
        json_object_set_new(st, "state", json_string("creating"));
    }
    if (endpoints(g, res, st) == 0 && size_nodes(g, res, st, nodes) == 0)
        json_object_del(st, "last_error");
    json_t *prim = primary_of(nodes);
    const gd_cache_node_type *nt = gd_cache_node_type_find(gd_jstr(spec, "node_type"));
    uint64_t now_ms = uv_now(g->loop);
    size_t i;
    json_t *jn;
    /* Each node: its process, its zone, its checks. */
    json_array_foreach(nodes, i, jn)
    {
        struct cnode *n = node_get(g, id, jn, pw);
        n->seen = 1;
        n->primary = jn == prim;
        snprintf(n->id, sizeof n->id, "%s", gd_jstr(jn, "id"));
        gd_proc *p = proc_of(g, id, jn);
        const char *az = gd_jstr(jn, "az");
        int down = zone_down(g, id, az);
        if (p && down) {
            char why[96];
            snprintf(why, sizeof why, "availability zone %s lost power", az);
            if (strlen(cl->fo_reason) == 0 && jn == prim)
                snprintf(cl->fo_reason, sizeof cl->fo_reason, "%s", why);
            kill(p->pid, SIGKILL); /* a crash, as far as anyone can tell */
            continue;
        }
        if (p) {
            if (n->answered && n->fails >= GD_CACHE_FAILED_CHECKS && !p->killed) {
                char why[128];
                snprintf(why, sizeof why, "it stopped answering PING (%d checks in a row)",
                         n->fails);
                if (jn == prim && !cl->fo_reason[0])
                    snprintf(cl->fo_reason, sizeof cl->fo_reason, "%s", why);
                gd_warn("cache_node_unresponsive", "node=%s fails=%d", n->key, n->fails);
                kill(p->pid, SIGKILL); /* fenced: it cannot come back as a second primary */
            } else if (!n->answered && now_ms - n->started_ms > START_GRACE_MS && !p->killed) {
                gd_proc_stop(p, SIGKILL, "it did not answer PING after its start");
            }
            continue;
        }
        if (jn == prim || down) continue; /* the primary: below; a zone down: it waits */
        /* A replica with no process starts once the primary answers, following it. */
        char pkey[48];
        if (!prim) continue;
        gd_cache_node_key(id, (int)gd_jnum(prim, "num", 0), pkey, sizeof pkey);
        struct cnode *pn = node_find(g, pkey);
        if (cl->fo == FO_NONE && proc_of(g, id, prim) && pn && pn->answered)
            spawn_node(g, res, jn, prim);
    }
    if (prim && !proc_of(g, id, prim)) primary_lost(g, cl, res, nodes, prim);
    /* Replicas that follow another address than the primary's (a failover's REPLICAOF
     * that did not arrive, a node adopted after a restart) are told again; the primary
     * takes its role back; maxmemory follows the node type. */
    json_array_foreach(nodes, i, jn)
    {
        char key[48];
        gd_cache_node_key(id, (int)gd_jnum(jn, "num", 0), key, sizeof key);
        struct cnode *n = node_find(g, key);
        if (!n || !n->has_info || !proc_of(g, id, jn) || cl->fo != FO_NONE ||
            now_ms - n->fix_ms < FIX_MS)
            continue;
        if (jn == prim && !n->is_master) {
            replicaof(n, NULL, on_fix);
        } else if (jn != prim && prim && proc_of(g, id, prim) &&
                   (n->is_master || strcmp(n->master_host, gd_jstr(prim, "ip")) ||
                    n->master_port != (int)gd_jnum(prim, "port", 0))) {
            replicaof(n, prim, on_fix);
        } else if (nt && n->maxmem != (double)nt->maxmemory) {
            char mm[32];
            snprintf(mm, sizeof mm, "%lld", nt->maxmemory);
            const char *argv[] = {"CONFIG", "SET", "maxmemory", mm};
            gd_resp_cmd(n->conn, on_fix, n, 4, argv);
            n->fix_ms = now_ms;
        }
    }
    /* What is observed: each node's state and lag, the cluster's state. */
    int all = json_array_size(nodes) > 0, prim_ok = 0;
    json_array_foreach(nodes, i, jn)
    {
        const char *s = node_state(g, cl, jn, prim);
        if (strcmp(gd_jstr(jn, "state"), s) != 0) json_object_set_new(jn, "state", json_string(s));
        if (!strcmp(s, "failed") && (int)gd_jnum(jn, "pid", 0) != 0)
            json_object_set_new(jn, "pid", json_integer(0));
        all &= !strcmp(s, "available");
        if (jn == prim) prim_ok = !strcmp(s, "available");
        char key[48];
        gd_cache_node_key(id, (int)gd_jnum(jn, "num", 0), key, sizeof key);
        struct cnode *n = node_find(g, key);
        json_t *lag = jn != prim && n && n->has_info && !strcmp(s, "available")
                          ? json_real(n->lag_s)
                          : json_null();
        if (!json_equal(json_object_get(jn, "replication_lag_s"), lag))
            json_object_set(jn, "replication_lag_s", lag);
        json_decref(lag);
    }
    /* creating until it was available once; then available when every node is, else
     * modifying (a node replaced, replicas added or catching up); failing-over while a
     * replica is being promoted. */
    const char *state = cl->fo != FO_NONE                      ? "failing-over"
                        : all                                  ? "available"
                        : !json_object_get(st, "available_at") ? "creating"
                                                               : "modifying";
    if (prim_ok) cl->announced = 0; /* a later loss of the primary is told again */
    if (all && !json_object_get(st, "available_at")) {
        uint64_t wall = now_ms - cl->first_ms;
        json_object_set_new(st, "available_at", json_real(gd_game_now(g)));
        /* The wall time from the first pass that saw it (its creation, unless the server
         * restarted in between) to every node answering and in sync. */
        json_object_set_new(st, "create_wall_ms", json_integer((json_int_t)wall));
        gd_info("cache_available", "cluster=%s nodes=%zu wall_ms=%llu", id, json_array_size(nodes),
                (unsigned long long)wall);
    }
    if (strcmp(gd_jstr(st, "state"), state) != 0) {
        gd_info("cache_state", "cluster=%s state=%s", id, state);
        json_object_set_new(st, "state", json_string(state));
    }
    build_maps(g, cl, res, st, nodes);
    put_metrics(g, cl, nodes);
    if (!json_equal(before, st)) gd_store_res_set_status(g->db, id, st, gd_game_now(g));
    json_decref(before);
    json_decref(st);
}

void gd_cache_reconcile(gd_game *g, json_t *clusters)
{
    if (!g->cache && json_array_size(clusters) == 0) return;
    struct gd_cache_rt *rt = rt_of(g);
    for (struct ccl *c = rt->clusters; c; c = c->next) c->seen = 0;
    for (struct cnode *n = rt->nodes; n; n = n->next) n->seen = 0;
    size_t i;
    json_t *r;
    json_array_foreach(clusters, i, r) reconcile_one(g, r);
    /* Nodes no longer in a cluster, clusters deleted: their processes stop. */
    for (struct cnode **pp = &rt->nodes; *pp;) {
        struct cnode *n = *pp;
        if (n->seen) {
            pp = &n->next;
            continue;
        }
        gd_proc *p = gd_proc_find(g, n->key, GD_PROC_REDIS, 0);
        if (p) {
            gd_proc_stop(p, SIGTERM, "node deleted");
            gd_net_hold_ip(n->ip, n->key, GD_PROC_REDIS);
        }
        *pp = n->next;
        node_free(n);
    }
    for (struct ccl **pp = &rt->clusters; *pp;) {
        struct ccl *c = *pp;
        if (c->seen) {
            pp = &c->next;
            continue;
        }
        gd_info("cache_cluster_gone", "cluster=%s", c->id);
        *pp = c->next;
        json_decref(c->maps);
        c->magic = 0;
        gd_free(c);
    }
    /* Processes of nodes nobody knows (a cluster deleted while the server was down). */
    for (gd_proc *p = g->procs; p; p = p->next)
        if (p->kind == GD_PROC_REDIS && !p->killed && !node_find(g, p->res_id))
            gd_proc_stop(p, SIGTERM, "its cluster is gone");
}

/* ---- what the rest of the server asks ---- */

void gd_cache_metrics(gd_game *g, gd_buf *b)
{
    gd_prom_head(b, "gameday_cache_node_up", "gauge",
                 "1 while a cache cluster's node answers PING, by cluster, node and role");
    for (struct cnode *n = g->cache ? g->cache->nodes : NULL; n; n = n->next) {
        struct ccl *cl = cl_find(g, n->cluster_id);
        char l[256];
        snprintf(l, sizeof l, "team=\"%d\",cluster=\"%s\",node=\"%s\",role=\"%s\"",
                 cl ? cl->team : 0, cl ? cl->name : "", n->id, n->primary ? "primary" : "replica");
        gd_prom_sample(b, "gameday_cache_node_up", l,
                       gd_proc_find(g, n->key, GD_PROC_REDIS, 0) && n->answered && !n->fails);
    }
    gd_prom_head(b, "gameday_cache_failovers_total", "counter",
                 "Failovers of a cache cluster completed (since the server started)");
    for (struct ccl *c = g->cache ? g->cache->clusters : NULL; c; c = c->next) {
        char l[160];
        snprintf(l, sizeof l, "team=\"%d\",cluster=\"%s\"", c->team, c->name);
        gd_prom_sample(b, "gameday_cache_failovers_total", l, (double)c->failovers);
    }
}

void gd_cache_nat_maps(gd_game *g, json_t *maps)
{
    for (struct ccl *c = g->cache ? g->cache->clusters : NULL; c; c = c->next)
        if (c->maps) json_array_extend(maps, c->maps);
}

static int holds(const char *addr, uint32_t ip)
{
    char b[16];
    uint32_t a;
    snprintf(b, sizeof b, "%.*s", (int)strcspn(addr, ":"), addr);
    return *b && gd_ip_parse(b, &a) == 0 && a == ip;
}

int gd_cache_holds_ip(const json_t *clusters, uint32_t ip)
{
    size_t i, k;
    json_t *r, *jn;
    json_array_foreach(clusters, i, r)
    {
        json_t *st = json_object_get(r, "status");
        if (holds(gd_jstr(st, "primary_endpoint"), ip) || holds(gd_jstr(st, "reader_endpoint"), ip))
            return 1;
        json_array_foreach(json_object_get(st, "nodes"), k,
                           jn) if (holds(gd_jstr(jn, "ip"), ip)) return 1;
    }
    return 0;
}

int gd_cache_endpoint(gd_game *g, int team, const char *name, char *ep, size_t epn, char *pw,
                      size_t pwn)
{
    json_t *r = gd_store_res_live(g->db, team, name, "cache_cluster");
    if (!r) return GD_ENOENT;
    json_t *st = json_object_get(r, "status");
    int rc = *gd_jstr(st, "primary_endpoint") ? 0 : GD_EAGAIN;
    snprintf(ep, epn, "%s", gd_jstr(st, "primary_endpoint"));
    pw[0] = 0;
    if (json_is_true(json_object_get(json_object_get(r, "spec"), "auth")) && pwn >= 65) {
        char p[65];
        password_of(g, gd_jstr(r, "id"), p);
        snprintf(pw, pwn, "%s", p);
    }
    json_decref(r);
    return rc;
}

void gd_cache_proc_exited(gd_game *g, const char *res_id, const char *why, int expected)
{
    char cid[40];
    const char *dash = strrchr(res_id, '-');
    if (!dash) return;
    snprintf(cid, sizeof cid, "%.*s", (int)(dash - res_id), res_id);
    int num = atoi(dash + 1);
    struct cnode *n = node_find(g, res_id);
    if (n) node_reset(g, n);
    json_t *r = gd_store_res_live(g->db, 0, cid, "cache_cluster");
    if (r) {
        json_t *st = json_deep_copy(json_object_get(r, "status"));
        size_t i;
        json_t *jn;
        json_array_foreach(json_object_get(st, "nodes"), i, jn)
        {
            if ((int)gd_jnum(jn, "num", -1) != num) continue;
            json_object_set_new(jn, "state", json_string("failed"));
            json_object_set_new(jn, "pid", json_integer(0));
            json_object_set_new(jn, "last_exit", json_string(why));
            int team = (int)json_integer_value(json_object_get(r, "team"));
            int primary = !strcmp(role_of(jn), "primary");
            struct ccl *cl = cl_find(g, cid);
            if (primary && cl && cl->prim_lost_at <= 0) {
                cl->prim_lost_at = gd_game_now(g);
                cl->prim_lost_ms = uv_now(g->loop);
            }
            if (!expected) {
                gd_game_audit(g, team, PRINCIPAL, NULL, "CacheNodeStateChange",
                              json_pack("{s:s,s:s}", "resourceId", cid, "node", gd_jstr(jn, "id")),
                              json_pack("{s:s,s:s,s:s}", "state", "failed", "role", role_of(jn),
                                        "reason", why),
                              NULL);
                say(g, team, "cache_cluster %s: node %s (%s) lost: %s", gd_jstr(r, "name"),
                    gd_jstr(jn, "id"), role_of(jn), why);
            }
        }
        gd_store_res_set_status(g->db, cid, st, gd_game_now(g));
        json_decref(st);
        json_decref(r);
    }
    kick(g); /* after the process is forgotten: the pass must not find it */
}

/* The running node of a team's cluster with that role (the first replica by number). */
static json_t *running_node(gd_game *g, json_t *res, const char *role)
{
    json_t *best = NULL;
    size_t i;
    json_t *jn;
    json_array_foreach(json_object_get(json_object_get(res, "status"), "nodes"), i, jn)
    {
        if (strcmp(role_of(jn), role) != 0 || !proc_of(g, gd_jstr(res, "id"), jn)) continue;
        if (!best || gd_jnum(jn, "num", 0) < gd_jnum(best, "num", 0)) best = jn;
    }
    return best;
}

int gd_cache_test_failover(gd_game *g, int team, const char *cluster, const char *principal,
                           char *err, size_t errlen)
{
    json_t *r = gd_store_res_live(g->db, team, cluster, "cache_cluster");
    if (!r) {
        snprintf(err, errlen, "no cache_cluster of that id or name: '%s'", cluster);
        return GD_ENOENT;
    }
    json_t *st = json_object_get(r, "status");
    struct ccl *cl = cl_find(g, gd_jstr(r, "id"));
    json_t *prim = running_node(g, r, "primary"), *rep = running_node(g, r, "replica");
    int rc = 0;
    if (!json_is_true(json_object_get(json_object_get(r, "spec"), "automatic_failover"))) {
        snprintf(err, errlen,
                 "cache_cluster '%s' has no automatic failover (allowed: a cluster with "
                 "automatic_failover: true and a replica)",
                 gd_jstr(r, "name"));
        rc = GD_EINVAL;
    } else if (!cl || strcmp(gd_jstr(st, "state"), "available") != 0 || !prim) {
        snprintf(err, errlen,
                 "cache_cluster '%s' is %s: a test failover needs it available (allowed: wait "
                 "until its state is available)",
                 gd_jstr(r, "name"), *gd_jstr(st, "state") ? gd_jstr(st, "state") : "creating");
        rc = GD_EAGAIN;
    } else if (!rep) {
        snprintf(err, errlen, "cache_cluster '%s' has no running replica to promote",
                 gd_jstr(r, "name"));
        rc = GD_EINVAL;
    } else {
        gd_proc *p = proc_of(g, gd_jstr(r, "id"), prim);
        snprintf(cl->fo_reason, sizeof cl->fo_reason, "TestFailover by %s", principal);
        gd_info("cache_test_failover", "cluster=%s primary=%s by=%s", cl->id, gd_jstr(prim, "id"),
                principal);
        kill(p->pid, SIGKILL); /* the primary fails, as the test means it to */
    }
    json_decref(r);
    return rc;
}

int gd_cache_kill_node(gd_game *g, int team, const char *cluster_id, const char *role,
                       const char *by, char *node, size_t noden)
{
    json_t *r = gd_store_res_live(g->db, team, cluster_id, "cache_cluster");
    json_t *jn = r ? running_node(g, r, !strcmp(role, "replica") ? "replica" : "primary") : NULL;
    if (!jn) {
        json_decref(r);
        return GD_ENOENT;
    }
    gd_proc *p = proc_of(g, gd_jstr(r, "id"), jn);
    struct ccl *cl = cl_find(g, gd_jstr(r, "id"));
    if (cl && !strcmp(role_of(jn), "primary"))
        snprintf(cl->fo_reason, sizeof cl->fo_reason, "node loss (%s)", by);
    if (node) snprintf(node, noden, "%s", gd_jstr(jn, "id"));
    gd_info("cache_node_kill", "cluster=%s node=%s pid=%d by=%s", gd_jstr(r, "id"),
            gd_jstr(jn, "id"), p->pid, by);
    kill(p->pid, SIGKILL);
    json_decref(r);
    return 0;
}
