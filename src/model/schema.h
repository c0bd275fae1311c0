/* The spec checker over the registry's field tables (src/model/registry.h): what a
 * resource spec may hold, its defaults and allowed values. Used by the scenario loader
 * (errors name file:line:col) and by the operations layer (errors name the JSON field
 * path), so that both say the same thing about the same spec. */
#ifndef GD_MODEL_SCHEMA_H
#define GD_MODEL_SCHEMA_H

#include "core/conf.h"
#include "model/registry.h"

#include <jansson.h>

/** The known resource type names (the registry's rows), NULL-terminated. */
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

/* A field of one type that names a resource of another ("lb": a clb or an alb;
 * "entry": a clb, an alb or a cdn). */
typedef struct gd_schema_ref {
    const char *type, *field, *target;
} gd_schema_ref;

/** The reference fields of every type; *n gets their number. */
const gd_schema_ref *gd_schema_refs(size_t *n);
/** 1 if a resource of `type` can be named where `want` (a type, "lb" or "entry") is. */
int gd_schema_type_is(const char *type, const char *want);

/* The target group an alb makes of its own fields. Rules may forward to it by this
 * name, and no target_group resource may take it. */
#define GD_SCHEMA_IMPLICIT_TG "default"

/** The target group a listener rule forwards to, or NULL when its action is not a
 *  forward (or names none). Points into rule. */
const char *gd_schema_rule_forward(const json_t *rule);
/** The target_group names a checked alb spec uses: its default_target_group, then
 *  those its rules forward to, each once, without the implicit "default". Returns a
 *  new array of strings (the caller decrefs it). */
json_t *gd_schema_alb_groups(const json_t *spec);
/** The alb among `resources` (objects with type, name, spec) other than the one named
 *  self that sends to target group tg; with before_self, only one listed before self.
 *  NULL if none. A target group serves one load balancer, as in AWS. */
const char *gd_schema_tg_owner(const json_t *resources, const char *self, const char *tg,
                               int before_self);
/** The names a listener rule may forward to: GD_SCHEMA_IMPLICIT_TG, then every
 *  target_group among `resources`, into names (NULL-terminated, at most max - 1) and
 *  as "default, a, b" into allow. Returns how many. */
size_t gd_schema_tg_names(const json_t *resources, const char **names, size_t max, char *allow,
                          size_t allowlen);

/* ---- for the registry's per-type checks ---- */

/** Adds "<where>: <type> '<name>': field '<fpath>': <what> (allowed: <allow>)" to errs:
 *  the one shape of every spec and architecture error. */
void gd_model_err(gd_errs *errs, const char *where, const char *type, const char *name,
                  const char *fpath, const char *allow, const char *what);
/** Where a problem with `key` of `parent` (its value `node`, may be NULL) was written:
 *  file:line:col of the value, else of the key, the mapping or top, when conf is given;
 *  else "path.fpath" (the API's field path). Returns buf. */
const char *gd_model_where(const gd_conf *conf, const char *path, json_t *top, json_t *parent,
                           const char *key, json_t *node, const char *fpath, char *buf, size_t n);
/** "1h30m", "4s", "250ms", "0s". Returns buf. */
char *gd_model_fmt_dur(double s, char *buf, size_t n);
/** The value as written, for messages: strings quoted, long ones cut. Returns buf. */
char *gd_model_fmt_val(const json_t *v, char *buf, size_t n);

/** A spec check's own error, at a field (see gd_model_err). */
void gd_spec_fail(gd_spec_check *x, json_t *parent, const char *key, json_t *node,
                  const char *fpath, const char *allow, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
/** 1 if field fpath already has an error (a check between fields then leaves it be). */
int gd_spec_is_bad(const gd_spec_check *x, const char *fpath);
/** Checks a nested mapping against a field table, as the spec's own fields are (unknown
 *  keys, kinds, ranges; defaults filled); prefix names it in messages ("actions.a1"). */
/** The whole spec being checked. */
json_t *gd_spec_top(const gd_spec_check *x);
void gd_spec_check_fields(gd_spec_check *x, const gd_field *fields, json_t *obj,
                          const char *prefix);

#endif
