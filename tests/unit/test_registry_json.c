/* Unit tests for src/model/registry_json.c: the registry's rows as GET /api/v1/types
 * answers them (names, fields with kinds, defaults, ranges, allowed values, the types
 * references name, flags). */
#include "model/registry_json.h"

#include <criterion/criterion.h>
#include <string.h>

/* The object of the array `a` whose "name" is name, or NULL. */
static json_t *named(json_t *a, const char *name)
{
    size_t i;
    json_t *o;
    json_array_foreach(
        a, i, o) if (!strcmp(json_string_value(json_object_get(o, "name")), name)) return o;
    return NULL;
}

Test(registry_json, every_row_in_the_registrys_order)
{
    size_t n;
    const gd_rtype *rows = gd_registry_all(&n);
    json_t *a = gd_registry_json();
    cr_assert_eq(json_array_size(a), n);
    for (size_t i = 0; i < n; i++)
        cr_assert_str_eq(json_string_value(json_object_get(json_array_get(a, i), "name")),
                         rows[i].name);
    json_decref(a);
}

Test(registry_json, an_asg_has_its_fields_defaults_ranges_and_references)
{
    json_t *a = gd_registry_json();
    json_t *asg = named(a, "asg");
    cr_assert_not_null(asg);
    cr_assert_str_eq(json_string_value(json_object_get(asg, "prefix")), "asg");
    cr_assert(json_is_true(json_object_get(asg, "creatable")));
    json_t *fields = json_object_get(asg, "fields");
    json_t *max = named(fields, "max");
    cr_assert_str_eq(json_string_value(json_object_get(max, "kind")), "int");
    cr_assert_eq(json_integer_value(json_object_get(max, "default")), 10);
    cr_assert_eq(json_number_value(json_object_get(max, "min")), 0);
    cr_assert_eq(json_number_value(json_object_get(max, "max")), 1000);
    cr_assert(json_is_false(json_object_get(max, "required")));
    json_t *lt = named(fields, "launch_template");
    cr_assert(json_is_true(json_object_get(lt, "required")));
    cr_assert_str_eq(json_string_value(json_object_get(lt, "ref")), "launch_template");
    cr_assert_str_eq(json_string_value(json_object_get(named(fields, "load_balancers"), "ref")),
                     "lb");
    cr_assert_null(json_object_get(named(fields, "desired"), "default"));
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(asg, "refs"), "target_groups")),
        "target_group");
    json_t *hc = named(fields, "health_check_type");
    cr_assert_str_eq(json_string_value(json_object_get(hc, "kind")), "enum");
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(hc, "enum"), 1)), "ELB");
    json_decref(a);
}

Test(registry_json, flags_and_nested_fields)
{
    json_t *a = gd_registry_json();
    json_t *alb = named(a, "alb");
    json_t *fl = json_object_get(alb, "flags");
    cr_assert_eq(json_array_size(fl), 3);
    cr_assert_str_eq(json_string_value(json_array_get(fl, 0)), "lb");
    cr_assert_str_eq(json_string_value(json_object_get(alb, "price")), "hourly");
    json_t *clb = named(a, "clb");
    json_t *hc = named(json_object_get(clb, "fields"), "health_check");
    cr_assert_str_eq(json_string_value(json_object_get(hc, "kind")), "map");
    json_t *path = named(json_object_get(hc, "fields"), "path");
    cr_assert_str_eq(json_string_value(json_object_get(path, "default")), "/health");
    json_t *ex = named(a, "experiment");
    cr_assert(json_is_false(json_object_get(ex, "creatable")));
    json_decref(a);
}

Test(registry_json, kind_names)
{
    cr_assert_str_eq(gd_fkind_name(GD_F_REFS), "refs");
    cr_assert_str_eq(gd_fkind_name(GD_F_DUR), "dur");
    cr_assert_str_eq(gd_fkind_name((enum gd_fkind)99), "unknown");
}
