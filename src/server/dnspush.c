/* The game's DNS server: one `gameday dns` process (Route 53's name servers) at
 * 127.N.255.53, started with the game, and the zones document built from every team's
 * dns_record resources (each team's zone is team<T>.gameday.test), pushed over its
 * admin port when it changes, as the edges' documents are. A record's faults in force
 * (server/faults.h: an experiment's outage, servfail or wrong address) go with it. */
#include "core/addr.h"
#include "core/check.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "dns/dnsd.h"
#include "model/state.h"
#include "server/faults.h"
#include "server/launcher_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DNS_ADMIN_PORT 9053
#define ALIAS_TTL 60 /* an alias answers with its target's TTL: a load balancer's is 60 s */

static int dns_port(void)
{
    return geteuid() == 0 ? 53 : 5353;
}

void gd_dns_addr(gd_game *g, char *out, size_t n)
{
    snprintf(out, n, "127.%d.255.53:%d", g->net, dns_port());
}

void gd_dns_zone(int team, char *out, size_t n)
{
    snprintf(out, n, "team%d.gameday.test", team);
}

/* ---- Route 53 health checks ----
 *
 * A record set with a health_check is probed from the server (outside the team's
 * network, as Route 53's checkers are): GET path on its first address (an alias: its
 * target's) at the check's port, every interval of game time. failure_threshold
 * answers in a row (a 2xx or 3xx, within 4 s wall, or not) make it healthy or
 * unhealthy; it starts healthy. Failover and weighted routing skip the unhealthy. */

#define HC_MAGIC 0x48434b21u

struct hcheck {
    uint32_t magic;
    char id[48];
    uint32_t ip;
    int port;
    char path[128];
    double interval; /* game seconds */
    int threshold, oks, fails, healthy, inflight, seen;
    uint64_t next_at; /* loop ms */
    gd_httpc_pool *pool;
    struct hcheck *next;
};

static struct hcheck *checks;

static void on_probe(void *ud, int err, const gd_httpc_resp *resp)
{
    struct hcheck *h = ud;
    if (h->magic != HC_MAGIC) return;
    h->inflight = 0;
    int ok = !err && resp->status >= 200 && resp->status < 400;
    if (ok) {
        h->fails = 0;
        if (++h->oks >= h->threshold && !h->healthy) {
            h->healthy = 1;
            gd_info("dns_health", "record=%s healthy=1", h->id);
        }
    } else {
        h->oks = 0;
        if (++h->fails >= h->threshold && h->healthy) {
            h->healthy = 0;
            gd_warn("dns_health", "record=%s healthy=0", h->id);
        }
    }
}

/* The check of record r (made, moved or probed as due); NULL when it has none. */
static struct hcheck *check_of(gd_game *g, const json_t *r, const char *ip_s, int alias_port)
{
    json_t *hc = json_object_get(json_object_get(r, "spec"), "health_check");
    uint32_t ip;
    if (!json_is_object(hc) || gd_ip_parse(ip_s, &ip) < 0) return NULL;
    int port = alias_port ? alias_port : (int)gd_jnum(hc, "port", 8080);
    struct hcheck *h = checks;
    while (h && strcmp(h->id, gd_jstr(r, "id")) != 0) h = h->next;
    if (h && (h->ip != ip || h->port != port)) { /* another endpoint: start over */
        gd_httpc_pool_close(h->pool);            /* a probe in flight ends now, with GD_ECLOSED */
        h->pool = NULL;
        h->oks = h->fails = 0;
        h->healthy = 1;
    }
    if (!h) {
        h = gd_calloc(1, sizeof *h);
        h->magic = HC_MAGIC;
        snprintf(h->id, sizeof h->id, "%s", gd_jstr(r, "id"));
        h->healthy = 1;
        h->next = checks;
        checks = h;
    }
    if (!h->pool) {
        h->ip = ip;
        h->port = port;
        h->pool = gd_httpc_pool_new(g->loop, ip, port, 1, 4);
        h->inflight = 0;
    }
    snprintf(h->path, sizeof h->path, "%s", gd_jstr(hc, "path"));
    h->interval = gd_jnum(hc, "interval", 30);
    h->threshold = (int)gd_jnum(hc, "failure_threshold", 3);
    h->seen = 1;
    uint64_t now = uv_now(g->loop);
    if (!h->inflight && now >= h->next_at) {
        h->next_at = now + gd_clock_wall_ms(h->interval * 1000);
        char req[256];
        int n = snprintf(req, sizeof req,
                         "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: Amazon-Route53-Health-Check-"
                         "Service (gameday)\r\nConnection: close\r\n\r\n",
                         h->path[0] == '/' ? h->path : "/", ip_s);
        if (gd_httpc_request(h->pool, req, (size_t)n, 4000, on_probe, h) == 0) h->inflight = 1;
    }
    return h;
}

/* Checks of records that are gone are dropped after each pass. */
static void checks_sweep(void)
{
    for (struct hcheck **pp = &checks; *pp;) {
        struct hcheck *h = *pp;
        if (h->seen) {
            h->seen = 0;
            pp = &h->next;
            continue;
        }
        *pp = h->next;
        gd_httpc_pool_close(h->pool); /* a probe in flight ends now, before h goes */
        h->magic = 0;
        gd_free(h);
    }
}

/* The faults in force on record r that the DNS server takes (gd_dns_fault_check);
 * NULL when none. One it would refuse is left out, so that the other records and
 * faults are still served, and named in the record's status (fault_refused) and the
 * log, once, until it changes. */
static json_t *faults_of(gd_game *g, const json_t *r)
{
    const char *id = gd_jstr(r, "id");
    json_t *all = gd_faults_for(g, id), *ok = json_array();
    char refused[256] = "";
    size_t i;
    json_t *f;
    json_array_foreach(all, i, f)
    {
        char err[200];
        if (gd_dns_fault_check(f, err, sizeof err) == 0)
            json_array_append(ok, f);
        else if (!refused[0])
            snprintf(refused, sizeof refused, "fault %s: %s", gd_jstr(f, "id"), err);
    }
    json_decref(all);
    if (strcmp(gd_jstr(json_object_get(r, "status"), "fault_refused"), refused) != 0) {
        if (refused[0]) gd_warn("dns_fault_refused", "record=%s error=%s", id, gd_log_q(refused));
        gd_launcher_set_status(g, id, json_pack("{s:s}", "fault_refused", refused));
    }
    if (json_array_size(ok) == 0) {
        json_decref(ok);
        return NULL;
    }
    return ok;
}

/* One record set of the document, or NULL when it cannot answer yet (an alias whose
 * target has no address). */
static json_t *record_of(gd_game *g, const json_t *r, int team)
{
    json_t *spec = json_object_get(r, "spec");
    const char *alias = json_string_value(json_object_get(spec, "alias"));
    json_t *vals = json_array();
    double ttl = gd_jnum(spec, "ttl", 300);
    const char *type = gd_jstr(spec, "type");
    if (!*type) type = "A";
    struct hcheck *h = NULL;
    if (alias) {
        json_t *t = gd_store_res_get(g->db, team, alias);
        json_t *tst = json_object_get(t, "status");
        const char *ip = gd_jstr(tst, "ip");
        if (*ip) json_array_append_new(vals, json_string(ip));
        if (*ip) h = check_of(g, r, ip, (int)gd_jnum(tst, "port", 8080));
        json_decref(t);
        ttl = ALIAS_TTL;
    } else {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(spec, "values"), i, v)
        {
            char with[64], ipb[16];
            gd_cidr c;
            snprintf(with, sizeof with, "%s/32", json_string_value(v) ? json_string_value(v) : "");
            if (!strcmp(type, "A") && gd_cidr_parse(with, team + g->net - 1, &c) == 0) {
                json_array_append_new(vals, json_string(gd_ip_format(c.base, ipb)));
            } else if (!strcmp(type, "CNAME") && json_is_string(v)) {
                /* a name in the team's own zone: customers never leave it */
                char zone[64], *fq;
                gd_dns_zone(team, zone, sizeof zone);
                fq = !strcmp(json_string_value(v), "@")
                         ? gd_strdup(zone)
                         : gd_sprintf("%s.%s", json_string_value(v), zone);
                json_array_append_new(vals, json_string(fq));
                gd_free(fq);
            } else {
                json_array_append(vals, v);
            }
        }
    }
    if (!alias && !strcmp(type, "A") && json_array_size(vals) > 0)
        h = check_of(g, r, json_string_value(json_array_get(vals, 0)), 0);
    const char *health = !h ? "" : h->healthy ? "Healthy" : "Unhealthy";
    if (strcmp(gd_jstr(json_object_get(r, "status"), "health"), health) != 0)
        gd_launcher_set_status(g, gd_jstr(r, "id"), json_pack("{s:s}", "health", health));
    if (json_array_size(vals) == 0) {
        json_decref(vals);
        return NULL;
    }
    const char *name = json_string_value(json_object_get(spec, "record"));
    json_t *rec =
        json_pack("{s:s,s:s,s:I,s:o,s:s}", "name", name ? name : gd_jstr(r, "name"), "type", type,
                  "ttl", (json_int_t)ttl, "values", vals, "id", gd_jstr(r, "id"));
    json_t *w = json_object_get(spec, "weight"), *fo = json_object_get(spec, "failover");
    if (json_is_integer(w)) json_object_set(rec, "weight", w);
    if (json_is_string(fo)) json_object_set(rec, "failover", fo);
    if (h) json_object_set_new(rec, "healthy", json_boolean(h->healthy));
    json_t *faults = faults_of(g, r);
    if (faults) json_object_set_new(rec, "faults", faults);
    return rec;
}

static json_t *zones_doc(gd_game *g, json_t *records)
{
    json_t *zones = json_array();
    for (int t = 1; t <= g->nteams; t++) {
        char zone[64];
        gd_dns_zone(t, zone, sizeof zone);
        json_t *recs = json_array();
        size_t i;
        json_t *r;
        json_array_foreach(records, i, r)
        {
            if ((int)json_integer_value(json_object_get(r, "team")) != t) continue;
            json_t *rec = record_of(g, r, t);
            if (rec) json_array_append_new(recs, rec);
        }
        gd_db_dns_records(g, t, recs); /* the dbs' endpoints (server/db.c) */
        json_array_append_new(zones,
                              json_pack("{s:s,s:i,s:o}", "name", zone, "team", t, "records", recs));
    }
    return json_pack("{s:o}", "zones", zones);
}

void gd_dnspush_reconcile(gd_game *g, json_t *records)
{
    char addr[48], admin[48], ipb[16];
    gd_dns_addr(g, addr, sizeof addr);
    uint32_t ip;
    int port;
    gd_hostport_parse(addr, &ip, &port);
    gd_edge_link *e = gd_link_get(g, &g->dns, "dns", ip, DNS_ADMIN_PORT);
    snprintf(admin, sizeof admin, "%s:%d", gd_ip_format(ip, ipb), DNS_ADMIN_PORT);
    char *args[] = {g->exe, "dns", "--listen", addr, "--admin", admin, NULL};
    gd_link_spawn(g, e, GD_PROC_DNS, args, "dns_pid");
    gd_link_push(g, e, zones_doc(g, records));
    checks_sweep();
}
