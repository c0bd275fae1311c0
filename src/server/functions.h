/* Functions (Lambda): their `gameday lambda` daemons, metrics and bill (functions.c). */
#ifndef GD_SERVER_FUNCTIONS_H
#define GD_SERVER_FUNCTIONS_H

#include "server/game.h"

#include <jansson.h>

/** Every function: its address, its daemon, its configuration and its counters; the
 *  daemons of deleted ones stop. */
void gd_functions_reconcile(gd_game *g);
/** Its daemon exited: the next one gets the whole configuration again. */
void gd_functions_exited(gd_game *g, const char *id);
/** The function's last counters (its daemon's /stats), NULL before the first. */
const json_t *gd_function_stats(gd_game *g, const char *id);
/** Bills the team's functions' invocations since their last bill into bill (requests and
 *  GB-seconds, times multiplier); the dollars. */
double gd_functions_bill(gd_game *g, int team, json_t *bill, double multiplier);
/** One line of a bill (billing.c). */
void gd_bill_add(json_t *b, json_t *r, const char *line, const char *unit, double qty, double usd);

#endif
