/* Fault injection as AWS FIS runs it: the action registry (every action an experiment
 * may take, with its target's resource types, its parameters and whether it lasts and
 * is undone at its end) and the checker of an experiment_template's spec (targets,
 * actions with startAfter ordering, stop conditions, a steady-state hypothesis).
 * Pure: the server's runner (src/server/fis.c) carries the actions out. A new action
 * is a row here and its effect there. */
#ifndef GD_MODEL_FIS_H
#define GD_MODEL_FIS_H

#include "model/registry.h"
#include "model/schema.h"

#include <jansson.h>
#include <stddef.h>

/* Action flags. */
#define GD_FIS_LASTS 1u /* has a "duration" parameter; undone (rolled back) at its end */

typedef struct gd_fis_action {
    const char *id;          /* "aws:ec2:terminate-instances" */
    const char *summary;     /* one line, for docs and ctl */
    const char *target_key;  /* the key of its `targets` ("Instances"); NULL: no target */
    const char *target_type; /* what that target must be: a type or "lb" (clb, alb, cdn) */
    const gd_field *params;  /* its parameters, NULL-name terminated */
    unsigned flags;          /* GD_FIS_* */
} gd_fis_action;

/** Every action, *n gets their number. */
const gd_fis_action *gd_fis_actions(size_t *n);
/** The action of that id, or NULL. */
const gd_fis_action *gd_fis_action_find(const char *id);
/** Our resource type for a target's resourceType: ours ("instance") or FIS's
 *  ("aws:ec2:instance"); "lb" for aws:elasticloadbalancing:loadbalancer (a clb or an
 *  alb). NULL if unknown. */
const char *gd_fis_resource_type(const char *name);
/** 1 if a resource of type `type` can be a target of resourceType `rt` (as mapped by
 *  gd_fis_resource_type). */
int gd_fis_type_matches(const char *rt, const char *type);

/* A target's selectionMode. */
typedef struct gd_fis_selection {
    enum { GD_FIS_ALL, GD_FIS_COUNT, GD_FIS_PERCENT } mode;
    double n; /* COUNT: how many; PERCENT: 0..100 */
} gd_fis_selection;
/** Parses "ALL", "COUNT(n)", "PERCENT(p)". 0 or -1. */
int gd_fis_selection_parse(const char *s, gd_fis_selection *out);
/** How many of `have` candidates a selection takes. */
size_t gd_fis_selection_take(const gd_fis_selection *s, size_t have);
/** A duration as FIS writes it ("PT5M", "PT1H30M", "PT45S") or as gameday does ("5m",
 *  300). 0 or -1. */
int gd_fis_duration(const json_t *v, double *seconds);

/** The registry's check of an experiment_template's spec (its check_spec). */
void gd_fis_check_template(gd_spec_check *x, json_t *spec);

#endif
