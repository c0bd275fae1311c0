/* Addresses: an instance or load balancer takes the first free usable address of
 * its subnet, as AWS hands them out; a cdn's edge locations sit outside the VPC. */
#include "core/addr.h"
#include "model/registry.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "model/state.h"
#include "server/cache_cluster.h"
#include "server/ecs.h"
#include "server/launcher_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gd_net_subnet_of(gd_game *g, int team, const char *name, gd_cidr *c, json_t **out)
{
    json_t *s = gd_store_res_get(g->db, team, name);
    if (!s || strcmp(gd_jstr(s, "type"), "subnet") != 0) {
        json_decref(s);
        return GD_ENOENT;
    }
    if (gd_cidr_parse(gd_jstr(json_object_get(s, "spec"), "cidr"), team + g->net - 1, c) < 0) {
        json_decref(s);
        return GD_EINVAL;
    }
    if (out)
        *out = s;
    else
        json_decref(s);
    return 0;
}

/* Addresses given back while their server still stops (a deleted cache node or db
 * node: redis-server and postgres take some ms to exit and hold their address until
 * then). They are not handed out again before that process is gone: a new node there
 * would fail to bind and start again a second later. */
#define HELD_MAX 64
static struct held {
    uint32_t ip;
    char key[48];
    enum gd_proc_kind kind;
} held[HELD_MAX];
static int nheld;

void gd_net_hold_ip(const char *ip, const char *key, enum gd_proc_kind kind)
{
    uint32_t a;
    if (gd_ip_parse(ip, &a) < 0 || nheld == HELD_MAX) return;
    held[nheld].ip = a;
    snprintf(held[nheld].key, sizeof held[nheld].key, "%s", key);
    held[nheld].kind = kind;
    nheld++;
}

static int ip_held(gd_game *g, uint32_t ip)
{
    int busy = 0;
    for (int i = 0; i < nheld;) {
        if (!gd_proc_find(g, held[i].key, held[i].kind, 0)) { /* its process is gone */
            held[i] = held[--nheld];
            continue;
        }
        busy |= held[i].ip == ip;
        i++;
    }
    return busy;
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
        if (gd_ip_parse(gd_jstr(st, "ip"), &used) == 0 && used == ip) return 1;
    }
    return 0;
}

int gd_net_alloc_ip(gd_game *g, int team, const char *subnet, uint32_t *ip, char *err, size_t n)
{
    gd_cidr c;
    if (gd_net_subnet_of(g, team, subnet, &c, NULL) < 0) {
        snprintf(err, n, "subnet '%s' does not exist", subnet);
        return GD_ENOENT;
    }
    json_t *inst = gd_store_res_list(g->db, team, "instance", 0);
    json_t *lbs = gd_launcher_list_flagged(g, team, GD_RT_LB); /* load balancers sit in subnets */
    json_t *caches = gd_store_res_list(g->db, team, "cache_cluster", 0); /* nodes, endpoints */
    json_t *tasks = gd_store_res_list(g->db, team, "task", 0); /* ECS tasks' own addresses */
    int r = GD_EFULL;
    for (uint32_t i = 0; i < gd_cidr_usable(c); i++) {
        uint32_t cand;
        gd_cidr_host(c, i, &cand);
        if (!ip_in_use(inst, cand) && !ip_in_use(lbs, cand) && !gd_cache_holds_ip(caches, cand) &&
            !gd_db_ip_in_use(g, team, cand) && !gd_ecs_ip_in_use(tasks, cand) &&
            !ip_held(g, cand)) {
            *ip = cand;
            r = 0;
            break;
        }
    }
    json_decref(inst);
    json_decref(lbs);
    json_decref(caches);
    json_decref(tasks);
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
int gd_net_alloc_cdn_ip(gd_game *g, int team, uint32_t *ip)
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
