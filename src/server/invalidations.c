/* CloudFront invalidations of a cdn (see invalidations.h): checked and recorded for the
 * operations layer, then delivered to the cdn's edge, which drops the objects. */
#include "server/invalidations.h"

#include "core/check.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "server/launcher_int.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#define INV_MAGIC 0x494e5644u
#define RETRY_MS 500 /* how soon an invalidation the edge did not take is sent again */
#define MAX_REF 128

json_t *gd_inv_find(const json_t *cdn, const char *id)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(json_object_get(cdn, "status"), "invalidations"), i, r)
    {
        if (!strcmp(gd_jstr(r, "id"), id)) return r;
    }
    return NULL;
}

/* "I" and 13 of A-Z0-9, as CloudFront's ids (into out, 16 bytes). */
static void new_id(char *out)
{
    static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    unsigned char b[13];
    if (RAND_bytes(b, sizeof b) != 1) memset(b, 7, sizeof b);
    out[0] = 'I';
    for (int i = 0; i < 13; i++) out[1 + i] = set[b[i] % 36];
    out[14] = 0;
}

/* The paths as the edge takes them: 1..GD_INV_MAX_PATHS, each starting with '/', at
 * most one '*', the last byte. 0 or -1 with err. */
static int check_paths(const json_t *paths, char *err, size_t errlen)
{
    if (!json_is_array(paths) || json_array_size(paths) == 0 ||
        json_array_size(paths) > GD_INV_MAX_PATHS) {
        snprintf(err, errlen, "paths: give a list of 1..%d paths (\"/index.html\", \"/img/*\")",
                 GD_INV_MAX_PATHS);
        return -1;
    }
    size_t i;
    json_t *p;
    json_array_foreach(paths, i, p)
    {
        const char *s = json_string_value(p);
        const char *star = s ? strchr(s, '*') : NULL;
        if (!s || s[0] != '/' || strlen(s) > 4096 || (star && star[1] != 0)) {
            snprintf(err, errlen,
                     "paths[%zu]: '%.80s' is not a path: it must start with '/', be at most "
                     "4096 bytes and may end with one '*'",
                     i, s ? s : "(not a string)");
            return -1;
        }
    }
    return 0;
}

int gd_inv_new(const json_t *cdn, const json_t *body, double now, json_t **rec, json_t **list,
               char *err, size_t errlen)
{
    *rec = *list = NULL;
    const json_t *paths = json_object_get(body, "paths");
    const json_t *ref = json_object_get(body, "caller_reference");
    if (check_paths(paths, err, errlen) < 0) return GD_EINVAL;
    if (ref &&
        (!json_is_string(ref) || !json_string_length(ref) || json_string_length(ref) > MAX_REF)) {
        snprintf(err, errlen, "caller_reference: a string of 1..%d characters", MAX_REF);
        return GD_EINVAL;
    }
    const json_t *old = json_object_get(json_object_get(cdn, "status"), "invalidations");
    int running = 0;
    size_t i;
    json_t *r;
    json_array_foreach(old, i, r)
    {
        running += !strcmp(gd_jstr(r, "status"), "InProgress");
        if (!ref || strcmp(gd_jstr(r, "caller_reference"), json_string_value(ref)) != 0) continue;
        if (json_equal(json_object_get(r, "paths"), (json_t *)paths)) {
            *rec = json_incref(r);
            return 1;
        }
        snprintf(err, errlen,
                 "the caller reference '%s' is invalidation %s's, of other paths: give a new "
                 "caller reference for a new batch",
                 json_string_value(ref), gd_jstr(r, "id"));
        return GD_EEXIST;
    }
    if (running >= GD_INV_MAX_IN_PROGRESS) {
        snprintf(err, errlen, "%d invalidations of this distribution are in progress (at most %d)",
                 running, GD_INV_MAX_IN_PROGRESS);
        return GD_EAGAIN;
    }
    char id[16], made[40];
    new_id(id);
    if (!ref) snprintf(made, sizeof made, "gameday-%s", id);
    *rec = json_pack("{s:s,s:s,s:O,s:s,s:f}", "id", id, "caller_reference",
                     ref ? json_string_value(ref) : made, "paths", paths, "status", "InProgress",
                     "time", now);
    *list = json_array();
    json_array_append(*list, *rec);
    json_array_foreach(old, i, r)
    {
        if (json_array_size(*list) < GD_INV_KEPT || !strcmp(gd_jstr(r, "status"), "InProgress"))
            json_array_append(*list, r);
    }
    return 0;
}

/* One invalidation on its way to an edge. */
struct inflight {
    uint32_t magic;
    gd_game *g;
    char cdn[40], id[16];
};

static void on_done(void *ud, int err, const gd_httpc_resp *resp)
{
    struct inflight *f = ud;
    GD_CHECK_OBJ(f, INV_MAGIC);
    gd_edge_link *e = gd_edge_link_find(f->g, f->cdn);
    if (e) e->inv_inflight = 0;
    if (!err && resp->status == 200) {
        json_t *cdn = gd_store_res_get(f->g->db, 0, f->cdn);
        json_t *list =
            json_deep_copy(json_object_get(json_object_get(cdn, "status"), "invalidations"));
        json_t *body = json_loadb(resp->body, resp->body_len, 0, NULL);
        size_t i;
        json_t *r;
        json_array_foreach(list, i, r)
        {
            if (strcmp(gd_jstr(r, "id"), f->id) != 0) continue;
            json_object_set_new(r, "status", json_string("Completed"));
            json_object_set_new(r, "completed", json_real(gd_game_now(f->g)));
            json_object_set(r, "objects", json_object_get(body, "invalidated"));
        }
        json_decref(body);
        gd_info("invalidation_completed", "cdn=%s id=%s", f->cdn, f->id);
        if (cdn && list)
            gd_launcher_set_status(f->g, f->cdn, json_pack("{s:o}", "invalidations", list));
        else
            json_decref(list);
        json_decref(cdn);
    } else {
        gd_warn("invalidation_not_taken", "cdn=%s id=%s status=%d", f->cdn, f->id,
                err ? 0 : resp->status);
    }
    f->magic = 0;
    gd_free(f);
}

void gd_inv_push(gd_game *g, const json_t *cdn, gd_edge_link *e)
{
    if (!e || e->inv_inflight || !e->pushed || uv_now(g->loop) < e->inv_at + RETRY_MS) return;
    const json_t *list = json_object_get(json_object_get(cdn, "status"), "invalidations");
    const json_t *next = NULL;
    size_t i;
    json_t *r;
    json_array_foreach(list, i, r) if (!strcmp(gd_jstr(r, "status"), "InProgress")) next = r;
    if (!next) return;
    json_t *doc = json_pack("{s:O}", "paths", json_object_get(next, "paths"));
    char *s = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    size_t len = strlen(s);
    char *head = gd_sprintf("POST /invalidations HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer "
                            "%s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                            e->res_id, g->internal_token, len);
    size_t hl = strlen(head);
    char *full = gd_malloc(hl + len);
    memcpy(full, head, hl);
    memcpy(full + hl, s, len);
    struct inflight *f = gd_calloc(1, sizeof *f);
    f->magic = INV_MAGIC;
    f->g = g;
    snprintf(f->cdn, sizeof f->cdn, "%s", gd_jstr(cdn, "id"));
    snprintf(f->id, sizeof f->id, "%s", gd_jstr(next, "id"));
    e->inv_at = uv_now(g->loop);
    if (gd_httpc_request(e->admin, full, hl + len, 2000, on_done, f) == 0) {
        e->inv_inflight = 1;
    } else {
        f->magic = 0;
        gd_free(f);
    }
    gd_free(head);
    gd_free(full);
    free(s);
}
