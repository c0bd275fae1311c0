/* Unit tests for the error answers of src/server/ops.c: an operation's refusal names the
 * request field it is about ("field"), next to the code, message and errors it had. */
#include "server/ops.h"

#include <criterion/criterion.h>
#include <string.h>

static const char *field_of(const char *msg)
{
    static char buf[128];
    return gd_op_field_of(msg, buf, sizeof buf);
}

Test(ops_answer, the_field_is_the_messages_leading_path)
{
    cr_assert_str_eq(field_of("spec.max: asg 'web': field 'max': -1 is out of range"), "spec.max");
    cr_assert_str_eq(field_of("desired: must be an integer"), "desired");
    cr_assert_str_eq(field_of("spec.subnets[0]: asg 'web': field 'subnets[0]': x"),
                     "spec.subnets[0]");
    cr_assert_str_eq(field_of("spec.health_check.path: clb 'a': x"), "spec.health_check.path");
    cr_assert_str_eq(field_of("no resource of that id or name: 'x'"), "");
    cr_assert_str_eq(field_of("desired 99 is outside the group's min..max"), "");
    cr_assert_str_eq(field_of("start, end: must be game seconds"), "");
    cr_assert_str_eq(field_of(""), "");
    cr_assert_str_eq(field_of("name:no space"), "");
}

Test(ops_answer, a_too_long_path_names_no_field)
{
    char msg[300];
    memset(msg, 'a', 200);
    strcpy(msg + 200, ": x");
    cr_assert_str_eq(field_of(msg), "");
}

/* A bad asg spec through the same check the API's update runs. */
Test(ops_answer, a_bad_max_is_answered_at_spec_max)
{
    gd_actor who = {.team = 1, .principal = "team-1", .trust = GD_TRUST_TEAM};
    json_t *spec = json_pack("{s:s,s:[s],s:i}", "launch_template", "lt", "subnets", "a", "max", -1);
    json_t *res = json_array();
    gd_op_result r = {0};
    int rc = gd_op_check_spec(&who, "asg", "web", spec, NULL, res, 1, NULL, &r);
    cr_assert_lt(rc, 0);
    json_t *j = gd_op_answer(&r);
    json_t *e = json_object_get(j, "error");
    cr_assert_str_eq(json_string_value(json_object_get(e, "code")), "ValidationError");
    cr_assert_str_eq(json_string_value(json_object_get(e, "field")), "spec.max");
    cr_assert_not_null(strstr(json_string_value(json_object_get(e, "message")), "out of range"));
    cr_assert(json_array_size(json_object_get(e, "errors")) >= 1);
    json_decref(j);
    json_decref(spec);
    json_decref(res);
}

Test(ops_answer, a_success_has_no_error)
{
    gd_op_result r = {.status = 200, .body = json_pack("{s:s}", "name", "web")};
    json_t *j = gd_op_answer(&r);
    cr_assert_null(json_object_get(j, "error"));
    cr_assert_str_eq(json_string_value(json_object_get(j, "name")), "web");
    json_decref(j);
}
