/* What the files of the game (game.c, score.c, billing.c, events.c, views.c) share,
 * and the JSON getters every file of the server uses. Private to src/server. */
#ifndef GD_SERVER_GAME_INT_H
#define GD_SERVER_GAME_INT_H

#include "server/game.h"

#include <jansson.h>

/* o[k] as a string, "" when absent or not a string. */
static inline const char *gd_jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* o[k] as a number, def when absent or not a number. */
static inline double gd_jnum(const json_t *o, const char *k, double def)
{
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : def;
}

/* ---- game.c ---- */
/** Sets the store's key to a formatted value. */
void gd_game_kv_setf(gd_game *g, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/** The store's key as a number, def when unset. */
double gd_game_kv_num(gd_game *g, const char *key, double def);

/* ---- score.c ---- */
/** Writes a team's running totals (counts, latency, cost) to the store. */
void gd_score_save(gd_game *g, int team);
/** Reads them back after a restart. */
void gd_score_load(gd_game *g, int team);
/** MyClothes.com games: the shoppers' outcomes of every team as Prometheus series
 *  (gameday_shop_outcomes_total{team,outcome}); nothing for other games. */
void gd_score_metrics(gd_game *g, gd_buf *b);

/* ---- billing.c ---- */
/** Charges every team for what ran from the last billing to `to` (game seconds). */
void gd_billing_charge(gd_game *g, double to);

/* ---- events.c ---- */
/** Fires one scenario event for every team. */
void gd_events_fire(gd_game *g, const gd_event *ev);

#endif
