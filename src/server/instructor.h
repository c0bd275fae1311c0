/* The instructor's acts on a running game: pause, resume, extend, end, message,
 * trigger (instructor.c). */
#ifndef GD_SERVER_INSTRUCTOR_H
#define GD_SERVER_INSTRUCTOR_H

#include "server/game.h"

#include <jansson.h>
#include <stddef.h>

/** Does the act `name` with its body (may be NULL) and audits it; returns the HTTP status
 *  (200, or 400/404/409 with the reason in err). *answer (always set, owned by the caller)
 *  holds the clock, the duration and whether the game is paused. */
int gd_instructor_act(gd_game *g, const char *name, const json_t *body, const char *source_ip,
                      json_t **answer, char *err, size_t n);

#endif
