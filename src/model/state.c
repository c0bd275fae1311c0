#include "model/state.h"

#include <string.h>

static const char *const names[] = {
    [GD_INST_UNKNOWN] = "unknown", [GD_INST_PENDING] = "pending",
    [GD_INST_RUNNING] = "running", [GD_INST_TERMINATED] = "terminated",
    [GD_INST_STOPPED] = "stopped",
};

gd_inst_state gd_inst_state_of(const json_t *status)
{
    const char *s = json_string_value(json_object_get(status, "state"));
    if (!s) return GD_INST_UNKNOWN;
    for (int i = GD_INST_PENDING; i <= GD_INST_STOPPED; i++)
        if (!strcmp(s, names[i])) return (gd_inst_state)i;
    return GD_INST_UNKNOWN;
}

gd_inst_state gd_inst_state_of_res(const json_t *res)
{
    return gd_inst_state_of(json_object_get(res, "status"));
}

const char *gd_inst_state_name(gd_inst_state s)
{
    return (unsigned)s <= GD_INST_STOPPED ? names[s] : names[GD_INST_UNKNOWN];
}

int gd_inst_state_live(gd_inst_state s)
{
    return s == GD_INST_PENDING || s == GD_INST_RUNNING;
}
