/* Resource types and their fields: the one place that says what a resource spec may
 * hold, its defaults and allowed values. Used by the scenario loader (errors name
 * file:line:col) and by the API (errors name the JSON field path). */
#ifndef GD_SCHEMA_H
#define GD_SCHEMA_H

#include "core/conf.h"

#include <jansson.h>

/** The known resource type names, NULL-terminated. */
const char *const *gd_schema_types(void);
/** 1 if type is a known resource type. */
int gd_schema_known(const char *type);
/** The id prefix of a type ("i" for instance, "subnet", "lb", ...). */
const char *gd_schema_id_prefix(const char *type);

/** Checks a resource spec and fills in defaults, in place. Unknown fields, wrong
 *  kinds, out-of-range values each add one message to errs:
 *    "<where>: <type> '<name>': field '<f>': <what is wrong> (allowed: <what>)"
 *  where <where> comes from gd_conf_where(conf, node, path) when conf is given, else
 *  path + ".field". Returns the number of errors added (0 = valid). */
int gd_schema_check(const char *type, const char *name, json_t *spec, const gd_conf *conf,
                    const char *path, gd_errs *errs);

#endif
