/* Elastic IPs: each elastic_ip resource gets an address of its team's 127.N.251.0/24
 * (outside every subnet) that it keeps until it is released, and `gameday nat` (one
 * per game, admin at 127.K.255.52:9052) forwards connections to that address and the
 * instance's port to the instance it is associated with. An association to an
 * instance that is not running answers nothing (connections are refused); one to a
 * terminated instance ends, as AWS disassociates it. */
#include "core/addr.h"
#include "core/log.h"
#include "core/mem.h"
#include "model/state.h"
#include "server/cache_cluster.h"
#include "server/launcher_int.h"

#include <stdio.h>
#include <string.h>

#define NAT_ADMIN_PORT 9052

static int in_use(json_t *eips, uint32_t ip)
{
    size_t i;
    json_t *r;
    json_array_foreach(eips, i, r)
    {
        uint32_t u;
        if (gd_ip_parse(gd_jstr(json_object_get(r, "status"), "ip"), &u) == 0 && u == ip) return 1;
    }
    return 0;
}

static json_t *find_inst(json_t *instances, int team, const char *name)
{
    size_t i;
    json_t *r;
    json_array_foreach(instances, i, r)
    {
        if ((int)json_integer_value(json_object_get(r, "team")) == team &&
            (!strcmp(gd_jstr(r, "name"), name) || !strcmp(gd_jstr(r, "id"), name)))
            return r;
    }
    return NULL;
}

void gd_eips_reconcile(gd_game *g, json_t *eips, json_t *instances)
{
    json_t *maps = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(eips, i, r)
    {
        int team = (int)json_integer_value(json_object_get(r, "team"));
        const char *id = gd_jstr(r, "id");
        json_t *st = json_object_get(r, "status");
        if (!*gd_jstr(st, "ip")) {
            uint32_t base = (127u << 24) | ((uint32_t)(team + g->net - 1) << 16) | (251u << 8),
                     ip = 0;
            for (uint32_t h = 4; h < 255 && !ip; h++)
                if (!in_use(eips, base | h)) ip = base | h;
            char ipb[16];
            gd_launcher_set_status(
                g, id,
                ip ? json_pack("{s:s,s:s}", "ip", gd_ip_format(ip, ipb), "state", "allocated")
                   : json_pack("{s:s,s:s}", "state", "failed", "last_error",
                               "no free Elastic IP address"));
            continue; /* mapped on the next pass, with its address */
        }
        const char *name =
            json_string_value(json_object_get(json_object_get(r, "spec"), "instance"));
        json_t *inst = name ? find_inst(instances, team, name) : NULL;
        json_t *ist = json_object_get(inst, "status");
        gd_inst_state s = inst ? gd_inst_state_of(ist) : GD_INST_TERMINATED;
        const char *assoc = inst && s != GD_INST_TERMINATED ? gd_jstr(inst, "id") : "";
        if (strcmp(gd_jstr(st, "association"), assoc) != 0)
            gd_launcher_set_status(g, id,
                                   json_pack("{s:s,s:s}", "association", assoc, "state",
                                             *assoc ? "associated" : "allocated"));
        if (!*assoc || !*gd_jstr(ist, "ip")) continue;
        char to[48];
        int port = (int)gd_jnum(ist, "port", 8000);
        snprintf(to, sizeof to, "%s:%d", gd_jstr(ist, "ip"), port);
        json_array_append_new(maps, json_pack("{s:s,s:i,s:s,s:i}", "ip", gd_jstr(st, "ip"), "port",
                                              port, "to", to, "team", team));
    }
    gd_cache_nat_maps(g, maps); /* the cache clusters' endpoints */
    char admin[48];
    snprintf(admin, sizeof admin, "127.%d.255.52:%d", g->net, NAT_ADMIN_PORT);
    uint32_t aip;
    int aport;
    gd_hostport_parse(admin, &aip, &aport);
    gd_edge_link *e = gd_link_get(g, &g->nat, "nat", aip, NAT_ADMIN_PORT);
    char *args[] = {g->exe, "nat", "--admin", admin, NULL};
    gd_link_spawn(g, e, GD_PROC_NAT, args, "nat_pid");
    gd_link_push(g, e, json_pack("{s:o}", "maps", maps));
}
