/* Links to the daemons the server configures: the edges (edgepush.c), and the
 * game-wide `gameday dns` and `gameday nat`, each with one process adopted across a
 * server restart through its pid in the store. Every one gets its JSON document over
 * its admin port (PUT /config) whenever it changes; a refused one is not sent again. */
#include "core/check.h"
#include "core/log.h"
#include "core/mem.h"
#include "server/game_int.h"
#include "server/launcher_int.h"
#include "server/metrics.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PUSH_MAGIC 0x4c4e4b50u

gd_edge_link *gd_link_get(gd_game *g, gd_edge_link **slot, const char *name, uint32_t ip,
                          int admin_port)
{
    if (!*slot) {
        gd_edge_link *e = *slot = gd_calloc(1, sizeof *e);
        e->magic = GD_EDGE_LINK_MAGIC;
        snprintf(e->res_id, sizeof e->res_id, "%s", name);
        e->admin = gd_httpc_pool_new(g->loop, ip, admin_port, 1, 8);
        e->admin_loop = g->loop;
    }
    return *slot;
}

gd_edge_link *gd_link_add(gd_game *g, gd_edge_link **list, const char *id, uint32_t ip,
                          int admin_port)
{
    gd_edge_link *e = gd_calloc(1, sizeof *e);
    e->magic = GD_EDGE_LINK_MAGIC;
    snprintf(e->res_id, sizeof e->res_id, "%s", id);
    e->admin = gd_httpc_pool_new(g->loop, ip, admin_port, 1, 8);
    e->admin_loop = g->loop;
    e->next = *list;
    *list = e;
    return e;
}

void gd_link_forget(gd_game *g, gd_edge_link **list, const json_t *live, enum gd_proc_kind kind,
                    const char *reason)
{
    for (gd_edge_link **pp = list; *pp;) {
        gd_edge_link *e = *pp;
        GD_CHECK_OBJ(e, GD_EDGE_LINK_MAGIC);
        int here = 0;
        size_t i;
        json_t *r;
        json_array_foreach(live, i, r) here |= !strcmp(gd_jstr(r, "id"), e->res_id);
        if (here) {
            pp = &e->next;
            continue;
        }
        gd_proc *pr = gd_proc_find(g, e->res_id, kind, 0);
        if (pr) gd_proc_stop(pr, SIGTERM, reason);
        *pp = e->next;
        gd_httpc_pool_close(e->admin);
        gd_free(e->pushed);
        gd_free(e->refused);
        json_decref(e->stats);
        e->magic = 0;
        gd_free(e);
    }
}

void gd_link_poll_stats(gd_game *g, gd_edge_link *e, gd_httpc_cb cb)
{
    if (e->stats_inflight || uv_now(g->loop) < e->stats_at + GD_METRIC_SAMPLE_MS) return;
    e->stats_at = uv_now(g->loop);
    static const char q[] = "GET /stats HTTP/1.1\r\nHost: daemon\r\n\r\n";
    if (gd_httpc_request(e->admin, q, sizeof q - 1, 2000, cb, e) == 0) e->stats_inflight = 1;
}

void gd_link_spawn(gd_game *g, gd_edge_link *e, enum gd_proc_kind kind, char **args,
                   const char *pid_key)
{
    if (gd_proc_find(g, e->res_id, kind, 0)) return;
    char e_tok[128], e_speed[64], e_epoch[64];
    snprintf(e_tok, sizeof e_tok, "GAMEDAY_ADMIN_TOKEN=%s", g->internal_token);
    gd_proc_clock_env(e_speed, e_epoch, sizeof e_speed);
    char *env[] = {e_tok, e_speed, e_epoch, NULL};
    gd_proc *p = gd_proc_spawn(g, kind, 0, e->res_id, args, env, e->res_id);
    gd_free(e->pushed);
    e->pushed = NULL;
    if (p) {
        char v[16];
        snprintf(v, sizeof v, "%d", p->pid);
        gd_store_kv_set(g->db, pid_key, v);
    }
}

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
        p->e->pushed_at = uv_now(p->e->admin_loop);
        gd_debug("config_pushed", "to=%s bytes=%zu", p->e->res_id, strlen(p->doc));
    } else {
        if (!err) {
            gd_free(p->e->refused);
            p->e->refused = gd_strdup(p->doc);
            gd_warn("config_refused", "to=%s status=%d body=%s", p->e->res_id, resp->status,
                    gd_log_q(resp->body));
        }
        gd_free(p->doc);
    }
    p->magic = 0;
    gd_free(p);
}

void gd_link_push(gd_game *g, gd_edge_link *e, json_t *doc)
{
    char *s = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(doc);
    if (!e->pushing && (!e->pushed || strcmp(e->pushed, s) != 0) &&
        (!e->refused || strcmp(e->refused, s) != 0)) {
        size_t len = strlen(s);
        char *head = gd_sprintf("PUT /config HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
                                "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                                e->res_id, g->internal_token, len);
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
