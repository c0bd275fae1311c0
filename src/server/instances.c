/* Instances: RunInstances and TerminateInstances (called through the operations
 * layer), booting a pending instance into its process, and the instances as the API
 * lists them, with their health as the edges see it. */
#include "core/addr.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/rand.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "model/db.h"
#include "model/registry.h"
#include "model/state.h"
#include "server/cache_cluster.h"
#include "server/launcher_int.h"
#include "server/faults.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <signal.h>

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

/* GD_ETOOBIG with AWS's message when one more instance of type itype would take the
 * team's pending and running vCPUs past the scenario's quota. */
static int vcpu_quota(gd_game *g, int team, const char *itype, char *err, size_t errlen)
{
    const gd_itype *want = gd_itype_find(itype);
    int n = want ? want->vcpu : 2;
    json_t *types = gd_store_live_types(g->db, team);
    const char *k;
    json_t *v;
    json_object_foreach(types, k, v)
    {
        const gd_itype *t = gd_itype_find(k);
        n += (t ? t->vcpu : 2) * (int)json_integer_value(v);
    }
    json_decref(types);
    if (n <= g->sc->quotas.vcpus) return 0;
    snprintf(err, errlen,
             "You have requested more vCPU capacity than your current vCPU limit of %d allows "
             "(this launch would make %d running)",
             g->sc->quotas.vcpus, n);
    return GD_ETOOBIG;
}

int gd_launcher_run_instance(gd_game *g, int team, const char *name, const char *lt_name,
                             const char *itype, const char *subnet, const char *asg, int flags,
                             const char *principal, const char *source_ip, char id_out[40],
                             char *err, size_t errlen)
{
    int booted = flags & GD_LAUNCH_BOOTED;
    json_t *req = json_pack("{s:s,s:s,s:s?}", "launchTemplate", lt_name, "subnet", subnet,
                            "autoScalingGroup", asg);
    json_t *lt = gd_store_res_get(g->db, team, lt_name);
    json_t *sn = NULL;
    gd_cidr c;
    int r = 0;
    if (!lt || strcmp(gd_jstr(lt, "type"), "launch_template") != 0) {
        snprintf(err, errlen, "launch template '%s' does not exist", lt_name);
        r = GD_ENOENT;
    } else if (gd_net_subnet_of(g, team, subnet, &c, &sn) < 0) {
        snprintf(err, errlen, "subnet '%s' does not exist", subnet);
        r = GD_ENOENT;
    }
    double down = r == 0 ? gd_az_down_until(g, gd_jstr(json_object_get(sn, "spec"), "az")) : 0;
    if (down > 0) {
        char hms[32];
        gd_clock_hms(down, hms, sizeof hms);
        snprintf(err, errlen,
                 "availability zone %s is impaired until %s: we do not have capacity there",
                 gd_jstr(json_object_get(sn, "spec"), "az"), hms);
        r = GD_EAGAIN;
    }
    const char *ice = NULL;
    if (r == 0 && gd_faults_refuse(g, team, 0, "RunInstances",
                                   gd_jstr(json_object_get(sn, "spec"), "az"), &ice, err, errlen))
        r = GD_EAGAIN;
    if (r == 0)
        r = vcpu_quota(g, team,
                       itype ? itype : gd_jstr(json_object_get(lt, "spec"), "instance_type"), err,
                       errlen);
    uint32_t ip = 0;
    if (r == 0) r = gd_net_alloc_ip(g, team, subnet, &ip, err, errlen);
    if (r < 0) {
        gd_game_audit(g, team, principal, source_ip, "RunInstances", req,
                      json_pack("{s:s}", "message", err),
                      r == GD_EFULL     ? "InsufficientFreeAddressesInSubnet"
                      : r == GD_ETOOBIG ? "VcpuLimitExceeded"
                      : r == GD_EAGAIN  ? "InsufficientInstanceCapacity"
                                        : "InvalidParameterValue");
        json_decref(lt);
        json_decref(sn);
        return r;
    }
    json_t *lts = json_object_get(lt, "spec");
    double now = gd_game_now(g);
    char ipb[16], gen[64];
    gd_ip_format(ip, ipb);
    if (!name) name = gen_name(g, team, asg ? asg : lt_name, gen, sizeof gen);
    json_t *spec = json_pack("{s:s,s:s,s:s,s:b,s:b}", "launch_template", lt_name, "subnet", subnet,
                             "instance_type", itype ? itype : gd_jstr(lts, "instance_type"),
                             "protected_from_scale_in", (flags & GD_LAUNCH_PROTECTED) != 0,
                             "termination_protection",
                             json_is_true(json_object_get(lts, "termination_protection")));
    json_t *status = json_pack(
        "{s:s,s:s,s:i,s:s,s:s,s:s?,s:f,s:f,s:b,s:f}", "state", gd_inst_state_name(GD_INST_PENDING),
        "ip", ipb, "port", (int)gd_jnum(lts, "port", 8000), "subnet", subnet, "az",
        gd_jstr(json_object_get(sn, "spec"), "az"), "asg", asg, "launched_at", now, "boot_until",
        booted ? now : now + gd_jnum(lts, "boot_time", 60), "initial", booted, "billed_until", now);
    json_object_set(status, "instance_type", json_object_get(spec, "instance_type"));
    const char *market = (flags & GD_LAUNCH_SPOT)        ? "spot"
                         : (flags & GD_LAUNCH_ON_DEMAND) ? "on-demand"
                                                         : gd_jstr(lts, "market");
    json_object_set_new(status, "market", json_string(*market ? market : "on-demand"));
    if (flags & (GD_LAUNCH_SPOT | GD_LAUNCH_ON_DEMAND))
        json_object_set_new(spec, "market", json_string(market));
    json_object_set_new(
        status, "slots",
        json_integer(gd_itype_slots((int)gd_jnum(lts, "slots", 5), gd_jstr(lts, "instance_type"),
                                    gd_jstr(spec, "instance_type"))));
    /* What it was launched from: the template's version and the service's release stay
     * the instance's own when the template changes (an instance refresh replaces it). */
    json_object_set_new(
        status, "lt_version",
        json_integer((json_int_t)gd_jnum(json_object_get(lt, "status"), "version", 1)));
    json_object_set_new(
        status, "release",
        json_string(*gd_jstr(lts, "service_version") ? gd_jstr(lts, "service_version") : "v2"));
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

/* The audit record of a state change EC2 answers with {instanceId, previousState,
 * currentState}; `req` is the request's parameters (taken). */
static void audit_state(gd_game *g, int team, const char *principal, const char *source_ip,
                        const char *event, json_t *req, const char *id, gd_inst_state prev,
                        gd_inst_state cur)
{
    gd_game_audit(g, team, principal, source_ip, event, req,
                  json_pack("{s:s,s:s,s:s}", "instanceId", id, "previousState",
                            gd_inst_state_name(prev), "currentState", gd_inst_state_name(cur)),
                  NULL);
}

int gd_launcher_terminate(gd_game *g, int team, const char *id, int hard, const char *principal,
                          const char *source_ip, const char *reason)
{
    json_t *r = gd_store_res_get(g->db, team, id);
    if (!r || strcmp(gd_jstr(r, "type"), "instance") != 0) {
        gd_game_audit(g, team, principal, source_ip, "TerminateInstances",
                      json_pack("{s:s}", "instanceId", id), NULL, "InvalidInstanceID.NotFound");
        json_decref(r);
        return GD_ENOENT;
    }
    const char *rid = gd_jstr(r, "id");
    gd_inst_state prev = gd_inst_state_of_res(r);
    char why[160];
    snprintf(why, sizeof why, "%s by %s", reason ? reason : "terminated", principal);
    if (prev != GD_INST_TERMINATED) {
        gd_proc *p = gd_proc_find(g, rid, GD_PROC_INSTANCE, 0);
        if (p) gd_proc_stop(p, hard ? SIGKILL : SIGTERM, why);
        gd_launcher_set_status(g, rid,
                               json_pack("{s:s,s:f,s:s}", "state",
                                         gd_inst_state_name(GD_INST_TERMINATED), "terminated_at",
                                         gd_game_now(g), "reason", why));
    }
    audit_state(g, (int)json_integer_value(json_object_get(r, "team")), principal, source_ip,
                "TerminateInstances", json_pack("{s:s,s:b}", "instanceId", rid, "force", hard), rid,
                prev, GD_INST_TERMINATED);
    gd_info("instance_terminated", "id=%s by=%s hard=%d", rid, principal, hard);
    json_decref(r);
    gd_launcher_reconcile(g); /* the edges stop sending to it now */
    return 0;
}

int gd_launcher_stop(gd_game *g, int team, const char *id, const char *principal,
                     const char *source_ip, char *err, size_t errlen)
{
    json_t *r = gd_store_res_get(g->db, team, id);
    json_t *req = json_pack("{s:s}", "instanceId", id);
    int rc = 0;
    const char *code = NULL;
    gd_inst_state prev = r ? gd_inst_state_of_res(r) : GD_INST_UNKNOWN;
    if (!r || strcmp(gd_jstr(r, "type"), "instance") != 0) {
        snprintf(err, errlen, "no instance of that id or name");
        code = "InvalidInstanceID.NotFound", rc = GD_ENOENT;
    } else if (*gd_jstr(json_object_get(r, "status"), "asg")) {
        snprintf(err, errlen,
                 "%s belongs to the Auto Scaling group '%s': change the group's capacity, or "
                 "terminate it and let the group replace it",
                 gd_jstr(r, "id"), gd_jstr(json_object_get(r, "status"), "asg"));
        code = "UnsupportedOperation", rc = GD_EINVAL;
    } else if (prev != GD_INST_RUNNING && prev != GD_INST_PENDING) {
        snprintf(err, errlen, "the instance is %s: only a pending or running one can stop",
                 gd_inst_state_name(prev));
        code = "IncorrectInstanceState", rc = GD_EEXIST;
    }
    if (rc < 0) {
        gd_game_audit(g, team, principal, source_ip, "StopInstances", req,
                      json_pack("{s:s}", "message", err), code);
        json_decref(r);
        return rc;
    }
    const char *rid = gd_jstr(r, "id");
    double now = gd_game_now(g);
    gd_launcher_set_status(g, rid,
                           json_pack("{s:s,s:f,s:i}", "state", gd_inst_state_name(GD_INST_STOPPED),
                                     "stopped_at", now, "pid", 0));
    gd_proc *p = gd_proc_find(g, rid, GD_PROC_INSTANCE, 0);
    char why[96];
    snprintf(why, sizeof why, "stopped by %s", principal);
    if (p) gd_proc_stop(p, SIGTERM, why);
    audit_state(g, team, principal, source_ip, "StopInstances", req, rid, prev, GD_INST_STOPPED);
    gd_info("instance_stopped", "id=%s by=%s", rid, principal);
    json_decref(r);
    gd_launcher_reconcile(g); /* the edges stop sending to it now */
    return 0;
}

static double *az_slot(gd_game *g, const char *az)
{
    if (!g->az_loaded) { /* once, from the store: an outage outlives a server restart */
        for (int i = 0; i < 6; i++) {
            char key[32];
            snprintf(key, sizeof key, "az_down_%c", 'a' + i);
            g->az_down[i] = gd_game_kv_num(g, key, 0);
        }
        g->az_loaded = 1;
    }
    return az && az[0] >= 'a' && az[0] <= 'f' && !az[1] ? &g->az_down[az[0] - 'a'] : NULL;
}

double gd_az_down_until(gd_game *g, const char *az)
{
    double *d = az_slot(g, az);
    return d && *d > gd_game_now(g) ? *d : 0;
}

int gd_az_any_down(gd_game *g)
{
    az_slot(g, NULL);
    for (int i = 0; i < 6; i++)
        if (g->az_down[i] > gd_game_now(g)) return 1;
    return 0;
}

void gd_az_set_down(gd_game *g, const char *az, double until)
{
    double *d = az_slot(g, az);
    if (!d) return;
    *d = until;
    char key[32];
    snprintf(key, sizeof key, "az_down_%s", az);
    gd_game_kv_setf(g, key, "%.3f", until);
}

int gd_launcher_start(gd_game *g, int team, const char *id, const char *principal,
                      const char *source_ip, char *err, size_t errlen)
{
    json_t *r = gd_store_res_get(g->db, team, id);
    json_t *req = json_pack("{s:s}", "instanceId", id);
    gd_inst_state prev = r ? gd_inst_state_of_res(r) : GD_INST_UNKNOWN;
    const char *code = NULL;
    int rc = 0;
    json_t *lt = NULL;
    if (!r || strcmp(gd_jstr(r, "type"), "instance") != 0) {
        snprintf(err, errlen, "no instance of that id or name");
        code = "InvalidInstanceID.NotFound", rc = GD_ENOENT;
    } else if (prev != GD_INST_STOPPED) {
        snprintf(err, errlen, "the instance is %s: only a stopped one can start",
                 gd_inst_state_name(prev));
        code = "IncorrectInstanceState", rc = GD_EEXIST;
    } else if (!(lt = gd_store_res_get(g->db, team,
                                       gd_jstr(json_object_get(r, "spec"), "launch_template")))) {
        snprintf(err, errlen, "its launch template is gone");
        code = "InvalidLaunchTemplateName.NotFoundException", rc = GD_ENOENT;
    } else if (gd_az_down_until(g, gd_jstr(json_object_get(r, "status"), "az")) > 0) {
        snprintf(err, errlen, "availability zone %s is impaired: we do not have capacity there",
                 gd_jstr(json_object_get(r, "status"), "az"));
        code = "InsufficientInstanceCapacity", rc = GD_EAGAIN;
        json_decref(lt);
        lt = NULL;
    }
    if (rc < 0) {
        gd_game_audit(g, team, principal, source_ip, "StartInstances", req,
                      json_pack("{s:s}", "message", err), code);
        json_decref(r);
        return rc;
    }
    /* It boots again, as the type its spec says now (changed while stopped, or not),
     * and is billed from now with a new minimum, as EC2 bills each start. */
    const char *rid = gd_jstr(r, "id");
    json_t *lts = json_object_get(lt, "spec");
    const char *itype = gd_jstr(json_object_get(r, "spec"), "instance_type");
    double now = gd_game_now(g);
    int slots = gd_itype_slots((int)gd_jnum(lts, "slots", 5), gd_jstr(lts, "instance_type"), itype);
    gd_launcher_set_status(g, rid,
                           json_pack("{s:s,s:f,s:f,s:f,s:s,s:i,s:b}", "state",
                                     gd_inst_state_name(GD_INST_PENDING), "launched_at", now,
                                     "billed_until", now, "boot_until",
                                     now + gd_jnum(lts, "boot_time", 60), "instance_type", itype,
                                     "slots", slots, "initial", 0));
    gd_game_audit(g, team, principal, source_ip, "StartInstances", req,
                  json_pack("{s:s,s:s,s:s,s:s}", "instanceId", rid, "previousState",
                            gd_inst_state_name(prev), "currentState",
                            gd_inst_state_name(GD_INST_PENDING), "instanceType", itype),
                  NULL);
    gd_info("instance_started", "id=%s type=%s by=%s", rid, itype, principal);
    json_decref(lt);
    json_decref(r);
    gd_launcher_reconcile(g);
    return 0;
}

/* The key of a team's signed session cookies (GAMEDAY_SESSION_KEY): hex HMAC-SHA256
 * of "<salt>:<team>" under the game's internal secret, so that every instance of a team
 * has the same one (and keeps it across a server restart: the secret is stored), and
 * no other team, nor anyone who knows the scenario's salt, can make it. */
static void session_key(const gd_game *g, int team, char out[65])
{
    char msg[256];
    snprintf(msg, sizeof msg, "%s:%d", g->sc->salt ? g->sc->salt : "", team);
    unsigned char mac[32];
    unsigned int ml = sizeof mac;
    HMAC(EVP_sha256(), g->internal_token, (int)strlen(g->internal_token),
         (const unsigned char *)msg, strlen(msg), mac, &ml);
    for (unsigned i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", mac[i]);
}

/* A launch template's session_store for a team: "127.T." becomes the team's network,
 * 127.<team + net - 1>. */
static void store_addr(const gd_game *g, const char *tmpl, int team, char *out, size_t n)
{
    if (!strncmp(tmpl, "127.T.", 6))
        snprintf(out, n, "127.%d.%s", team + g->net - 1, tmpl + 6);
    else
        snprintf(out, n, "%s", tmpl);
}

void gd_instance_boot(gd_game *g, json_t *inst)
{
    int team = (int)json_integer_value(json_object_get(inst, "team"));
    const char *id = gd_jstr(inst, "id");
    json_t *st = json_object_get(inst, "status");
    json_t *lt =
        gd_store_res_get(g->db, team, gd_jstr(json_object_get(inst, "spec"), "launch_template"));
    json_t *lts = json_object_get(lt, "spec");
    char addr[64], e_addr[96], e_id[80], e_salt[160], e_slots[48], e_queue[48], e_svc[64];
    char e_speed[64], e_epoch[64], e_port[48];
    snprintf(addr, sizeof addr, "%s:%d", gd_jstr(st, "ip"), (int)gd_jnum(st, "port", 8000));
    snprintf(e_addr, sizeof e_addr, "GAMEDAY_ADDR=%s", addr);
    snprintf(e_port, sizeof e_port, "PORT=%d", (int)gd_jnum(st, "port", 8000));
    snprintf(e_id, sizeof e_id, "GAMEDAY_INSTANCE_ID=%s", id);
    snprintf(e_salt, sizeof e_salt, "GAMEDAY_SALT=%s", g->sc->salt);
    /* The machine has status.slots; one process of the service uses at most the
     * scenario's service.process_slots of them (doc/resources.md). */
    int slots = (int)gd_jnum(st, "slots", gd_jnum(lts, "slots", 5));
    if (g->sc->process_slots > 0 && slots > g->sc->process_slots) slots = g->sc->process_slots;
    snprintf(e_slots, sizeof e_slots, "GAMEDAY_SLOTS=%d", slots);
    snprintf(e_queue, sizeof e_queue, "GAMEDAY_QUEUE=%d", (int)gd_jnum(lts, "queue", 32));
    snprintf(e_svc, sizeof e_svc, "GAMEDAY_SERVICE_MS=%.0f",
             gd_jnum(lts, "service_time", 4) * 1000);
    gd_proc_clock_env(e_speed, e_epoch, sizeof e_speed);
    char e_ip[48];
    snprintf(e_ip, sizeof e_ip, "GAMEDAY_IP=%s", gd_jstr(st, "ip"));
    /* Its security groups' allow list: gd_sgs_reconcile wrote it earlier in this pass,
     * and SIGHUPs the instance when it changes. */
    char e_acl[PATH_MAX + 64];
    snprintf(e_acl, sizeof e_acl, "GAMEDAY_ALLOW_FILE=%s/acl/%s", g->dir, id);
    /* Its fault file, written by the same reconciler (absent while no fault is on it). */
    char e_fault[PATH_MAX + 64];
    snprintf(e_fault, sizeof e_fault, "GAMEDAY_FAULT_FILE=%s/faults/%s.json", g->dir, id);
    /* The clothes service's sessions (doc/clothes.md): the mode, the team's cookie key,
     * and the Redis server when the template names one: an address, or a cache_cluster
     * (its primary endpoint, and its password when it has auth). */
    char e_sess[48], e_key[96], e_redis[128] = "", e_rpw[128] = "", e_rsrc[64] = "", key[65];
    snprintf(e_sess, sizeof e_sess, "GAMEDAY_SESSIONS=%s",
             gd_jstr(lts, "sessions")[0] ? gd_jstr(lts, "sessions") : "memory");
    session_key(g, team, key);
    snprintf(e_key, sizeof e_key, "GAMEDAY_SESSION_KEY=%s", key);
    const char *store = gd_jstr(lts, "session_store");
    if (store[0] && !strchr(store, ':')) {
        char ep[64], pw[80];
        if (gd_cache_endpoint(g, team, store, ep, sizeof ep, pw, sizeof pw) == 0) {
            snprintf(e_redis, sizeof e_redis, "GAMEDAY_REDIS=%s", ep);
            /* from its own address: the cluster's security groups check it at the nat */
            snprintf(e_rsrc, sizeof e_rsrc, "GAMEDAY_REDIS_SOURCE=%s", gd_jstr(st, "ip"));
            if (pw[0]) snprintf(e_rpw, sizeof e_rpw, "GAMEDAY_REDIS_PASSWORD=%s", pw);
        }
    } else if (store[0]) {
        char a[96];
        store_addr(g, store, team, a, sizeof a);
        snprintf(e_redis, sizeof e_redis, "GAMEDAY_REDIS=%s", a);
    }
    /* The clothes service's database (doc/clothes.md): the db's endpoint by its DNS name
     * (its failover moves the name), the readers' name when product reads go to the
     * replicas, the pool, and the game's DNS server that answers those names. */
    char e_dburl[640] = "", e_dbread[640] = "", e_pool[48] = "", e_dns[64] = "";
    const char *dbname = gd_jstr(lts, "database");
    json_t *db = *dbname ? gd_store_res_live(g->db, team, dbname, "db") : NULL;
    json_t *dbst = json_object_get(db, "status"), *cred = json_object_get(dbst, "credentials");
    if (db && *gd_jstr(dbst, "address")) {
        char ci[560];
        int port = (int)gd_jnum(dbst, "port", 5432);
        gd_db_conninfo(ci, sizeof ci, gd_jstr(dbst, "address"), port, gd_jstr(cred, "database"),
                       gd_jstr(cred, "user"), gd_jstr(cred, "password"), NULL);
        snprintf(e_dburl, sizeof e_dburl, "GAMEDAY_DB_URL=%s", ci);
        if (!strcmp(gd_jstr(lts, "read_from"), "replicas")) {
            gd_db_conninfo(ci, sizeof ci, gd_jstr(dbst, "reader_address"), port,
                           gd_jstr(cred, "database"), gd_jstr(cred, "user"),
                           gd_jstr(cred, "password"), NULL);
            snprintf(e_dbread, sizeof e_dbread, "GAMEDAY_DB_READ_URL=%s", ci);
        }
        snprintf(e_pool, sizeof e_pool, "GAMEDAY_DB_POOL=%d", (int)gd_jnum(lts, "db_pool", 4));
        char dns[48];
        gd_dns_addr(g, dns, sizeof dns);
        snprintf(e_dns, sizeof e_dns, "GAMEDAY_DNS=%s", dns);
    }
    json_decref(db);
    /* The cache-aside of the product reads (doc/clothes.md) in the session_store's Redis
     * (whose address and password are above whatever the sessions' mode): its TTL in game
     * seconds, 300 when the template has no cache_ttl. */
    char e_cache[48] = "", e_cttl[48] = "";
    if (!strcmp(gd_jstr(lts, "cache"), "redis")) {
        snprintf(e_cache, sizeof e_cache, "GAMEDAY_CACHE=redis");
        snprintf(e_cttl, sizeof e_cttl, "GAMEDAY_CACHE_TTL=%.0f", gd_jnum(lts, "cache_ttl", 300));
    }
    /* The release it was launched with (a template's change does not reach it). */
    char e_rel[48];
    snprintf(e_rel, sizeof e_rel, "GAMEDAY_SERVICE_VERSION=%s",
             *gd_jstr(st, "release")            ? gd_jstr(st, "release")
             : *gd_jstr(lts, "service_version") ? gd_jstr(lts, "service_version")
                                                : "v2");
    char *env[32] = {e_addr, e_ip,    e_port,  e_id,  e_salt,  e_slots, e_queue,
                     e_svc,  e_speed, e_epoch, e_acl, e_fault, e_sess,  e_key};
    int ne = 14;
    char *more[] = {e_redis, e_rsrc, e_rpw,   e_dburl, e_dbread,
                    e_pool,  e_dns,  e_cache, e_cttl,  e_rel};
    for (size_t k = 0; k < sizeof more / sizeof more[0]; k++)
        if (more[k][0]) env[ne++] = more[k];
    env[ne] = NULL;
    json_t *cmd = json_object_get(lts, "command");
    char *args[64];
    int na = 0;
    char svc[32];
    char *owned[64] = {0};
    if (json_is_array(cmd) && json_array_size(cmd) > 0) {
        /* Any HTTP server can be an instance: ${GAMEDAY_IP}, ${PORT} and
         * ${GAMEDAY_ADDR} in its arguments become this instance's address. */
        char ipport[2][64];
        snprintf(ipport[0], sizeof ipport[0], "%s", gd_jstr(st, "ip"));
        snprintf(ipport[1], sizeof ipport[1], "%d", (int)gd_jnum(st, "port", 8000));
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
        snprintf(svc, sizeof svc, "%s", lt ? gd_jstr(lts, "service") : "unicorn");
        args[na++] = g->exe;
        args[na++] = "instance";
        args[na++] = svc[0] ? svc : "unicorn";
    }
    args[na] = NULL;
    gd_proc *p = gd_proc_spawn(g, GD_PROC_INSTANCE, team, id, args, env, id);
    for (int k = 0; k < 64; k++) gd_free(owned[k]);
    if (p) {
        gd_launcher_set_status(g, id,
                               json_pack("{s:s,s:i,s:f,s:i}", "state",
                                         gd_inst_state_name(GD_INST_RUNNING), "pid", p->pid,
                                         "running_at", gd_game_now(g), "process_slots", slots));
    } else {
        gd_launcher_set_status(g, id,
                               json_pack("{s:s,s:f,s:s}", "state",
                                         gd_inst_state_name(GD_INST_TERMINATED), "terminated_at",
                                         gd_game_now(g), "reason",
                                         "the instance command failed to start"));
    }
    json_decref(lt);
}

/* 1 when a scale-in has deregistered the instance and it waits to be drained. */
int gd_instance_leaving(json_t *inst)
{
    return !strcmp(gd_jstr(json_object_get(inst, "status"), "lifecycle"), "Terminating");
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
                               t) if (!strcmp(gd_jstr(t, "id"), gd_jstr(r, "id"))) health =
                gd_jstr(t, "state");
        }
        json_object_set_new(json_object_get(r, "status"), "health", json_string(health));
    }
    return list;
}
