/* Listener rules as JSON: the one check of their grammar (see rules.h). The messages
 * name the rule by its place in the list, as the edge's document and an alb's spec
 * both hold it. */
#include "model/rules.h"

#include "core/err.h"

#include <stdio.h>
#include <string.h>

int gd_rules_check_action(const json_t *j, const char *const *tg_names, const char *where,
                          char *err, size_t errlen)
{
    const char *type = json_string_value(json_object_get(j, "type"));
    json_t *st = json_object_get(j, "status");
    if (type && !strcmp(type, "forward")) {
        const char *tg = json_string_value(json_object_get(j, "target_group"));
        for (int i = 0; tg && tg_names[i]; i++)
            if (!strcmp(tg_names[i], tg)) return 0;
        snprintf(err, errlen, "%s.target_group: no target group named '%s'", where, tg ? tg : "");
        return GD_EINVAL;
    }
    if (type && !strcmp(type, "fixed_response")) {
        json_int_t s = st ? json_integer_value(st) : 200;
        if (s < 200 || s > 599) {
            snprintf(err, errlen, "%s.status: 200..599", where);
            return GD_EINVAL;
        }
        const char *body = json_string_value(json_object_get(j, "body"));
        if (body && strlen(body) > 1024) {
            snprintf(err, errlen, "%s.body: at most 1024 bytes (as in AWS)", where);
            return GD_EINVAL;
        }
        return 0;
    }
    if (type && !strcmp(type, "redirect")) {
        json_int_t s = st ? json_integer_value(st) : 301;
        const char *loc = json_string_value(json_object_get(j, "location"));
        if ((s != 301 && s != 302) || !loc || !*loc) {
            snprintf(err, errlen, "%s: a redirect needs status 301 or 302 and a location", where);
            return GD_EINVAL;
        }
        return 0;
    }
    snprintf(err, errlen, "%s.type: '%s' (allowed: forward, fixed_response, redirect)", where,
             type ? type : "");
    return GD_EINVAL;
}

/* A condition's patterns: one string, or a list of 1..GD_RULES_MAX_VALUES strings. */
static int values_ok(const json_t *v)
{
    if (json_is_string(v)) return 1;
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > GD_RULES_MAX_VALUES)
        return 0;
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) if (!json_is_string(x)) return 0;
    return 1;
}

/* The number of conditions in a rule's "conditions", or -1 when one is malformed. */
static int count_conds(const json_t *conds)
{
    static const char *const kinds[] = {"path", "host", "query", "header"};
    int n = 0;
    for (int k = 0; k < 4; k++) {
        json_t *v = json_object_get(conds, kinds[k]);
        if (!v) continue;
        if (k <= 1) {
            if (!values_ok(v)) return -1;
            n++;
            continue;
        }
        /* {"name": value-or-values, ...} */
        if (!json_is_object(v)) return -1;
        const char *key;
        json_t *val;
        json_object_foreach(v, key, val)
        {
            if (!values_ok(val)) return -1;
            n++;
        }
    }
    return n;
}

int gd_rules_check(const json_t *rules, const char *const *tg_names, char *err, size_t errlen)
{
    if (!tg_names[0]) {
        snprintf(err, errlen, "rules: no target group to forward to");
        return GD_EINVAL;
    }
    if (rules && !json_is_array(rules)) {
        snprintf(err, errlen, "rules: must be an array");
        return GD_EINVAL;
    }
    size_t i, k;
    json_t *r;
    json_array_foreach(rules, i, r)
    {
        char where[48];
        snprintf(where, sizeof where, "rules[%zu]", i);
        json_t *pr = json_object_get(r, "priority");
        if (!json_is_integer(pr) || json_integer_value(pr) < 1 || json_integer_value(pr) > 50000) {
            snprintf(err, errlen, "%s.priority: an integer in 1..50000", where);
            return GD_EINVAL;
        }
        for (k = 0; k < i; k++)
            if (json_integer_value(json_object_get(json_array_get(rules, k), "priority")) ==
                json_integer_value(pr)) {
                snprintf(err, errlen, "%s.priority: %d is used twice", where,
                         (int)json_integer_value(pr));
                return GD_EINVAL;
            }
        int n = count_conds(json_object_get(r, "conditions"));
        if (n < 1 || n > GD_RULES_MAX_CONDS) {
            snprintf(err, errlen,
                     "%s.conditions: at least one of path, host (1..5 patterns), query, "
                     "header ({name: patterns}); at most 8 in all",
                     where);
            return GD_EINVAL;
        }
        if (gd_rules_check_action(json_object_get(r, "action"), tg_names, where, err, errlen) < 0)
            return GD_EINVAL;
    }
    return 0;
}
