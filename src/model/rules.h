/* The grammar of an alb's listener rules, checked as JSON: priorities, conditions
 * (path, host, query, header) and actions (forward, fixed_response, redirect). The
 * scenario loader, the API and the edge all apply this one check; the edge then builds
 * its matcher from a document that passed it. */
#ifndef GD_MODEL_RULES_H
#define GD_MODEL_RULES_H

#include <jansson.h>
#include <stddef.h>

/** Most conditions in one rule, and most patterns in one condition (as in AWS). */
#define GD_RULES_MAX_CONDS 8
#define GD_RULES_MAX_VALUES 5

/** Checks one action (a rule's, or the default action when where is
 *  "default_action"); a forward must name one of tg_names (NULL-terminated). 0, or
 *  GD_EINVAL with "<where>.<field>: what is wrong" in err. */
int gd_rules_check_action(const json_t *action, const char *const *tg_names, const char *where,
                          char *err, size_t errlen);

/** Checks listener rules (NULL or an array) whose forwards may name the target groups
 *  in tg_names (NULL-terminated, at least one). 0, or GD_EINVAL with the first problem
 *  in err, e.g. "rules[2].priority: 7 is used twice". */
int gd_rules_check(const json_t *rules, const char *const *tg_names, char *err, size_t errlen);

#endif
