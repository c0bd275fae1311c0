/* Checks of one resource against the rest of its architecture: that every name it
 * refers to is a resource of the right type, then its type's own check_arch (a subnet
 * inside its VPC and the team's range, an alb's rules and target groups, ...). The
 * scenario loader runs it on every resource of a file; the operations layer on the
 * resource being created or updated, with the team's live resources around it. Both
 * get the same messages, only the place differs (file:line:col or spec.field). */
#ifndef GD_MODEL_ARCH_H
#define GD_MODEL_ARCH_H

#include "core/buf.h"
#include "core/conf.h"
#include "model/registry.h"

#include <jansson.h>

struct gd_arch_check {
    const json_t *resources; /* the architecture: objects {type, name, spec, ...} */
    size_t self;             /* the one being checked; pair checks look at those before it */
    int team;                /* the team's octet T of 127.T.0.0/16; 0 in a scenario */
    const gd_conf *conf;     /* the scenario's positions, or NULL */
    const char *path;        /* without conf, messages start "path.field" ("spec") */
    gd_errs *errs;
    int n; /* errors added */
};

/** Checks resources[a->self]: its references, then (when spec_ok, its spec having
 *  passed gd_schema_check) its type's check_arch. Returns the errors it added. */
int gd_arch_check_res(gd_arch_check *a, int spec_ok);

/** An architecture error at a field of the resource being checked. */
void gd_arch_fail(gd_arch_check *a, json_t *parent, const char *key, json_t *node,
                  const char *fpath, const char *allow, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

/** The resource being checked. */
const json_t *gd_arch_self(const gd_arch_check *a);
/** The resource named name of type (or group "lb", "entry") want; NULL if none. */
const json_t *gd_arch_find(const json_t *resources, const char *want, const char *name);
/** "main, other": the names of the resources of type (or group) want, for "allowed:";
 *  "no <want> is defined" when there are none. */
void gd_arch_names(const json_t *resources, const char *want, char *buf, size_t n);

/** Appends to out ("type name, type name") the resources among `resources` that
 *  depend on `on`: a reference field names it, or their type's depends hook says so.
 *  A non-empty out makes a delete a DependencyViolation. */
void gd_arch_dependents(const json_t *resources, const json_t *on, gd_buf *out);

#endif
