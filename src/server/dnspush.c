/* The game's DNS server: one `gameday dns` process (Route 53's name servers) at
 * 127.N.255.53, started with the game, and the zones document built from every team's
 * dns_record resources (each team's zone is team<T>.gameday.test), pushed over its
 * admin port when it changes, as the edges' documents are. */
#include "core/addr.h"
#include "core/check.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "model/state.h"
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
    if (alias) {
        json_t *t = gd_store_res_get(g->db, team, alias);
        const char *ip = gd_jstr(json_object_get(t, "status"), "ip");
        if (*ip) json_array_append_new(vals, json_string(ip));
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
        json_array_append_new(zones,
                              json_pack("{s:s,s:i,s:o}", "name", zone, "team", t, "records", recs));
    }
    return json_pack("{s:o}", "zones", zones);
}

#define PUSH_MAGIC 0x444e5350u

struct push {
    uint32_t magic;
    gd_edge_link *e;
    char *doc;
};

static void on_pushed(void *ud, int err, const gd_httpc_resp *resp)
{
    struct push *p = ud;
    GD_CHECK_OBJ(p, PUSH_MAGIC);
    GD_CHECK_OBJ(p->e, GD_EDGE_LINK_MAGIC);
    p->e->pushing = 0;
    if (!err && resp->status == 200) {
        gd_free(p->e->pushed);
        p->e->pushed = p->doc;
        gd_debug("dns_config_pushed", "bytes=%zu", strlen(p->doc));
    } else {
        if (!err) {
            gd_free(p->e->refused);
            p->e->refused = gd_strdup(p->doc);
            gd_warn("dns_config_refused", "status=%d body=%s", resp->status, gd_log_q(resp->body));
        }
        gd_free(p->doc);
    }
    p->magic = 0;
    gd_free(p);
}

void gd_dnspush_reconcile(gd_game *g, json_t *records)
{
    char addr[48], ipb[16];
    gd_dns_addr(g, addr, sizeof addr);
    uint32_t ip;
    int port;
    gd_hostport_parse(addr, &ip, &port);
    gd_edge_link *e = g->dns;
    if (!e) {
        e = g->dns = gd_calloc(1, sizeof *e);
        e->magic = GD_EDGE_LINK_MAGIC;
        snprintf(e->res_id, sizeof e->res_id, "dns");
        e->admin = gd_httpc_pool_new(g->loop, ip, DNS_ADMIN_PORT, 1, 8);
        e->admin_loop = g->loop;
    }
    if (!gd_proc_find(g, "dns", GD_PROC_DNS, 0)) {
        char admin[48], e_tok[128], e_speed[64], e_epoch[64];
        snprintf(admin, sizeof admin, "%s:%d", gd_ip_format(ip, ipb), DNS_ADMIN_PORT);
        snprintf(e_tok, sizeof e_tok, "GAMEDAY_ADMIN_TOKEN=%s", g->internal_token);
        gd_proc_clock_env(e_speed, e_epoch, sizeof e_speed);
        char *env[] = {e_tok, e_speed, e_epoch, NULL};
        char *args[] = {g->exe, "dns", "--listen", addr, "--admin", admin, NULL};
        gd_proc *p = gd_proc_spawn(g, GD_PROC_DNS, 0, "dns", args, env, "dns");
        gd_free(e->pushed);
        e->pushed = NULL;
        if (p) {
            char v[16];
            snprintf(v, sizeof v, "%d", p->pid);
            gd_store_kv_set(g->db, "dns_pid", v);
        }
    }
    json_t *doc = zones_doc(g, records);
    char *s = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(doc);
    if (!e->pushing && (!e->pushed || strcmp(e->pushed, s) != 0) &&
        (!e->refused || strcmp(e->refused, s) != 0)) {
        size_t len = strlen(s);
        char *head = gd_sprintf("PUT /config HTTP/1.1\r\nHost: dns\r\nAuthorization: Bearer %s\r\n"
                                "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                                g->internal_token, len);
        size_t hl = strlen(head);
        char *full = gd_malloc(hl + len);
        memcpy(full, head, hl);
        memcpy(full + hl, s, len);
        struct push *p = gd_malloc(sizeof *p);
        p->magic = PUSH_MAGIC;
        p->e = e;
        p->doc = gd_strdup(s);
        if (gd_httpc_request(e->admin, full, hl + len, 2000, on_pushed, p) == 0) {
            e->pushing = 1;
        } else {
            gd_free(p->doc);
            gd_free(p);
        }
        gd_free(head);
        gd_free(full);
    }
    free(s);
}
