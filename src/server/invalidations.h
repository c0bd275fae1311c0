/* CloudFront invalidations of a cdn: the records the operations layer makes (in the
 * cdn's status, `invalidations`, newest first) and their delivery to the cdn's edge
 * (POST /invalidations on its admin port), InProgress until the edge confirmed them,
 * then Completed. */
#ifndef GD_SERVER_INVALIDATIONS_H
#define GD_SERVER_INVALIDATIONS_H

#include "server/game.h"

#include <jansson.h>
#include <stddef.h>

/** The most paths one invalidation may name, the most records a cdn keeps, and the
 *  most that may be InProgress at once. */
#define GD_INV_MAX_PATHS 3000
#define GD_INV_KEPT 100
#define GD_INV_MAX_IN_PROGRESS 15

/** Checks {"paths": [...], "caller_reference": "..."} (caller_reference optional: one
 *  is made) against the cdn's records, at game time now. A new invalidation: 0 with
 *  *rec the new record and *list the cdn's new `invalidations` (both owned). The same
 *  caller_reference with the same paths: 1 with *rec that record (AWS's idempotency),
 *  *list NULL. Otherwise a negative code with err: GD_EINVAL (bad paths), GD_EEXIST
 *  (the caller_reference has other paths), GD_EAGAIN (too many in progress). */
int gd_inv_new(const json_t *cdn, const json_t *body, double now, json_t **rec, json_t **list,
               char *err, size_t errlen);

/** The cdn's record of invalidation id, or NULL (borrowed from cdn). */
json_t *gd_inv_find(const json_t *cdn, const char *id);

/** Delivers the cdn's oldest InProgress invalidation to its edge, one at a time, once
 *  the edge holds its configuration; the edge's 200 makes it Completed. Called by the
 *  edge push on each pass. */
void gd_inv_push(gd_game *g, const json_t *cdn, gd_edge_link *e);

#endif
