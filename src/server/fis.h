/* The FIS experiment runner (fis.c): experiments from start_experiment to their end. */
#ifndef GD_SERVER_FIS_H
#define GD_SERVER_FIS_H

#include "server/game.h"

#include <jansson.h>

/** Advances every experiment that has not ended (called each tick, and right after a
 *  start or a stop so that they take effect at once). */
void gd_fis_tick(gd_game *g);
/** 1 if the experiment (a resource) has ended: completed, stopped or failed. */
int gd_fis_final(const json_t *exp);
/** The status of a new experiment of template tmpl (a resource), the ordinal-th of it. */
json_t *gd_fis_new_status(gd_game *g, const json_t *tmpl, int ordinal);

#endif
