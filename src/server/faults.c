/* Faults in force (see faults.h): a list in the game's memory, read by the reconcilers. */
#include "server/faults.h"

#include "core/log.h"
#include "server/game_int.h"

#include "core/rand.h"

#include <stdio.h>
#include <string.h>

static json_t *table(gd_game *g)
{
    if (!g->faults) g->faults = json_array();
    return g->faults;
}

static int index_of(json_t *t, const char *id)
{
    size_t i;
    json_t *f;
    json_array_foreach(t, i, f) if (!strcmp(gd_jstr(f, "id"), id)) return (int)i;
    return -1;
}

void gd_faults_add(gd_game *g, int team, const char *target_id, const char *id, const json_t *fault,
                   const char *by)
{
    json_t *t = table(g);
    json_t *f = json_deep_copy(fault);
    json_object_set_new(f, "id", json_string(id));
    json_t *row = json_pack("{s:s,s:i,s:s,s:s,s:o}", "id", id, "team", team, "target", target_id,
                            "by", by ? by : "", "fault", f);
    int at = index_of(t, id);
    if (at >= 0)
        json_array_set_new(t, (size_t)at, row);
    else
        json_array_append_new(t, row);
    gd_info("fault_on", "id=%s team=%d target=%s kind=%s by=%s", id, team, target_id,
            gd_jstr(fault, "kind"), by ? by : "-");
    gd_launcher_reconcile(g);
}

void gd_faults_remove(gd_game *g, const char *id)
{
    json_t *t = table(g);
    int at = index_of(t, id);
    if (at < 0) return;
    gd_info("fault_off", "id=%s target=%s", id, gd_jstr(json_array_get(t, (size_t)at), "target"));
    json_array_remove(t, (size_t)at);
    gd_launcher_reconcile(g);
}

json_t *gd_faults_for(gd_game *g, const char *target_id)
{
    json_t *out = json_array();
    size_t i;
    json_t *f;
    json_array_foreach(table(g), i, f) if (!strcmp(gd_jstr(f, "target"), target_id))
        json_array_append(out, json_object_get(f, "fault"));
    return out;
}

json_t *gd_faults_all(gd_game *g)
{
    return json_deep_copy(table(g));
}

static int lists(const json_t *list, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) if (!strcmp(json_string_value(v), s) ||
                                       !strcmp(json_string_value(v), "*")) return 1;
    return 0;
}

int gd_faults_refuse(gd_game *g, int team, int team_call, const char *event, const char *az,
                     const char **code, char *msg, size_t n)
{
    char api[32];
    snprintf(api, sizeof api, "api-%d", team);
    size_t i;
    json_t *row;
    json_array_foreach(table(g), i, row)
    {
        if (strcmp(gd_jstr(row, "target"), api) != 0) continue;
        const json_t *f = json_object_get(row, "fault");
        const char *kind = gd_jstr(f, "kind");
        int hit = 0;
        if (!strcmp(kind, "throttle") && team_call)
            hit = lists(json_object_get(f, "operations"), event);
        else if (!strcmp(kind, "insufficient_capacity") && !strcmp(event, "RunInstances"))
            hit = json_array_size(json_object_get(f, "azs")) == 0 ||
                  lists(json_object_get(f, "azs"), az ? az : "");
        if (!hit || gd_rand_double(&g->rnd) * 100.0 >= gd_jnum(f, "percentage", 100)) continue;
        if (!strcmp(kind, "throttle")) {
            *code = "ThrottlingException";
            snprintf(msg, n, "Rate exceeded (%s, injected by %s)", event, gd_jstr(row, "by"));
        } else {
            *code = "InsufficientInstanceCapacity";
            snprintf(msg, n,
                     "We currently do not have sufficient capacity in availability zone %s "
                     "(injected by %s)",
                     az ? az : "?", gd_jstr(row, "by"));
        }
        return 1;
    }
    return 0;
}
