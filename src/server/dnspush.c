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
}
