/* Unit tests for src/server/invalidations.c: a cdn's invalidation records (their checks,
 * ids, CloudFront's idempotency by caller reference, the cap on those in progress and
 * how many are kept). The delivery to an edge is tested end to end
 * (tests/e2e/test_aws_elb.py). */
#include "core/err.h"
#include "server/invalidations.h"

#include <criterion/criterion.h>
#include <string.h>

static char err[512];

/* A cdn whose status holds list (taken; NULL: none). */
static json_t *cdn_with(json_t *list)
{
    json_t *st = list ? json_pack("{s:o}", "invalidations", list) : json_object();
    return json_pack("{s:s,s:s,s:o}", "id", "cdn-1", "type", "cdn", "status", st);
}

static json_t *body(const char *paths_json, const char *ref)
{
    json_t *b = json_pack("{s:o}", "paths", json_loads(paths_json, 0, NULL));
    if (ref) json_object_set_new(b, "caller_reference", json_string(ref));
    return b;
}

Test(invalidations, a_new_one_is_in_progress_with_a_cloudfront_id)
{
    json_t *cdn = cdn_with(NULL), *b = body("[\"/a.html\", \"/img/*\"]", "deploy-1");
    json_t *rec, *list;
    cr_assert_eq(gd_inv_new(cdn, b, 12.5, &rec, &list, err, sizeof err), 0, "%s", err);
    const char *id = json_string_value(json_object_get(rec, "id"));
    cr_assert_eq(strlen(id), 14);
    cr_assert_eq(id[0], 'I');
    for (int i = 1; i < 14; i++)
        cr_assert((id[i] >= 'A' && id[i] <= 'Z') || (id[i] >= '0' && id[i] <= '9'), "%s", id);
    cr_assert_str_eq(json_string_value(json_object_get(rec, "status")), "InProgress");
    cr_assert_str_eq(json_string_value(json_object_get(rec, "caller_reference")), "deploy-1");
    cr_assert_eq(json_real_value(json_object_get(rec, "time")), 12.5);
    cr_assert_eq(json_array_size(list), 1);
    cr_assert(json_equal(json_array_get(list, 0), rec));
    json_decref(rec);
    json_decref(list);
    json_decref(b);
    json_decref(cdn);
}

Test(invalidations, the_same_reference_is_the_same_one_other_paths_a_conflict)
{
    json_t *cdn = cdn_with(NULL), *b = body("[\"/a\"]", "r1");
    json_t *rec, *list;
    cr_assert_eq(gd_inv_new(cdn, b, 1, &rec, &list, err, sizeof err), 0);
    json_decref(cdn);
    cdn = cdn_with(list);
    json_t *again, *none;
    cr_assert_eq(gd_inv_new(cdn, b, 2, &again, &none, err, sizeof err), 1, "the same one");
    cr_assert_null(none);
    cr_assert_str_eq(json_string_value(json_object_get(again, "id")),
                     json_string_value(json_object_get(rec, "id")));
    json_t *other = body("[\"/b\"]", "r1"), *x, *y;
    cr_assert_eq(gd_inv_new(cdn, other, 3, &x, &y, err, sizeof err), GD_EEXIST);
    cr_assert(strstr(err, "r1") && strstr(err, json_string_value(json_object_get(rec, "id"))), "%s",
              err);
    cr_assert_null(x);
    json_t *fresh = body("[\"/b\"]", "r2");
    cr_assert_eq(gd_inv_new(cdn, fresh, 4, &x, &y, err, sizeof err), 0, "a new reference");
    cr_assert_eq(json_array_size(y), 2, "newest first, the old one kept");
    cr_assert(json_equal(json_array_get(y, 0), x));
    json_decref(x);
    json_decref(y);
    json_decref(fresh);
    json_decref(other);
    json_decref(again);
    json_decref(rec);
    json_decref(b);
    json_decref(cdn);
}

Test(invalidations, bad_paths_and_references_are_refused)
{
    static const char *const bad[] = {"[]",  "[\"no-slash\"]", "[\"/a*b\"]", "[\"/a**\"]",
                                      "[1]", "\"/a\""};
    json_t *cdn = cdn_with(NULL), *rec, *list;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *b = body(bad[i], NULL);
        cr_assert_eq(gd_inv_new(cdn, b, 0, &rec, &list, err, sizeof err), GD_EINVAL, "%s", bad[i]);
        cr_assert(strstr(err, "path"), "%s: %s", bad[i], err);
        cr_assert_null(rec);
        json_decref(b);
    }
    json_t *b = body("[\"/a\"]", "");
    cr_assert_eq(gd_inv_new(cdn, b, 0, &rec, &list, err, sizeof err), GD_EINVAL);
    cr_assert(strstr(err, "caller_reference"), "%s", err);
    json_decref(b);
    json_decref(cdn);
}

Test(invalidations, at_most_fifteen_in_progress_and_a_hundred_kept)
{
    json_t *list = json_array();
    for (int i = 0; i < GD_INV_KEPT + 20; i++)
        json_array_append_new(list,
                              json_pack("{s:s,s:s,s:[s]}", "id", "I0", "status",
                                        i < GD_INV_MAX_IN_PROGRESS ? "InProgress" : "Completed",
                                        "paths", "/x"));
    json_t *cdn = cdn_with(list), *b = body("[\"/a\"]", NULL), *rec, *out;
    cr_assert_eq(gd_inv_new(cdn, b, 0, &rec, &out, err, sizeof err), GD_EAGAIN);
    cr_assert(strstr(err, "in progress"), "%s", err);
    json_decref(cdn);
    /* One fewer in progress: accepted, and the list is cut to GD_INV_KEPT. */
    list = json_array();
    for (int i = 0; i < GD_INV_KEPT + 20; i++)
        json_array_append_new(
            list, json_pack("{s:s,s:s}", "id", "I0", "status",
                            i < GD_INV_MAX_IN_PROGRESS - 1 ? "InProgress" : "Completed"));
    cdn = cdn_with(list);
    cr_assert_eq(gd_inv_new(cdn, b, 0, &rec, &out, err, sizeof err), 0, "%s", err);
    cr_assert_eq(json_array_size(out), GD_INV_KEPT);
    cr_assert_not_null(gd_inv_find(cdn, "I0"));
    cr_assert_null(gd_inv_find(cdn, "I1"));
    const char *made = json_string_value(json_object_get(rec, "caller_reference"));
    cr_assert(strncmp(made, "gameday-I", 9) == 0, "a reference made: %s", made);
    json_decref(rec);
    json_decref(out);
    json_decref(b);
    json_decref(cdn);
}
