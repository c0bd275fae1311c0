/* Instance refresh of an autoscaling group (refresh.c). */
#ifndef GD_SERVER_REFRESH_H
#define GD_SERVER_REFRESH_H

#include "server/game.h"

#include <jansson.h>
#include <stddef.h>

/** Starts one on the group (body: instance_warmup game seconds, auto_rollback); 200, or
 *  400/409 with the reason in err. */
int gd_refresh_start(gd_game *g, json_t *asg, const json_t *body, char *err, size_t n);
/** Cancels the one in progress; 200 or 409. */
int gd_refresh_cancel(gd_game *g, json_t *asg, char *err, size_t n);
/** 1 while the group's refresh is in progress or rolling back. */
int gd_refresh_active(const json_t *asg);
/** 1 if the refresh in progress is to replace this member of the group. */
int gd_refresh_outdated(const json_t *asg, const json_t *inst);
/** The template version it replaces instances with, 0 when none is in progress. */
int gd_refresh_target(const json_t *asg);
/** One reconcile pass of the group: advances its refresh and returns the capacity to
 *  reconcile to now (desired, one more while an instance of the new version is
 *  launched, or what it has while new ones warm up). */
int gd_refresh_step(gd_game *g, json_t *asg, json_t *mine, int desired);

#endif
