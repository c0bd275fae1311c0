/* Unit tests for src/model/state.c: instance states read from a status, by name. */
#include "model/state.h"

#include <criterion/criterion.h>

Test(state, names_round_trip)
{
    for (int s = GD_INST_PENDING; s <= GD_INST_TERMINATED; s++) {
        json_t *st = json_pack("{s:s}", "state", gd_inst_state_name((gd_inst_state)s));
        cr_expect_eq(gd_inst_state_of(st), s, "%s", gd_inst_state_name((gd_inst_state)s));
        json_t *res = json_pack("{s:o}", "status", st);
        cr_expect_eq(gd_inst_state_of_res(res), s);
        json_decref(res);
    }
}

Test(state, what_is_not_a_state_is_unknown)
{
    cr_expect_eq(gd_inst_state_of(NULL), GD_INST_UNKNOWN);
    json_t *st = json_pack("{s:s}", "state", "Running");
    cr_expect_eq(gd_inst_state_of(st), GD_INST_UNKNOWN, "states are compared exactly");
    json_decref(st);
    st = json_pack("{s:i}", "state", 1);
    cr_expect_eq(gd_inst_state_of(st), GD_INST_UNKNOWN);
    json_decref(st);
    cr_expect_str_eq(gd_inst_state_name((gd_inst_state)99), "unknown");
}

Test(state, live_is_pending_or_running)
{
    cr_expect(gd_inst_state_live(GD_INST_PENDING));
    cr_expect(gd_inst_state_live(GD_INST_RUNNING));
    cr_expect(!gd_inst_state_live(GD_INST_TERMINATED));
    cr_expect(!gd_inst_state_live(GD_INST_UNKNOWN));
}
