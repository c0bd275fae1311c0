/* Chaos Monkey in a running game, and what chaos shares: the instances it may pick
 * from (in launch order, so that a rank means the same in every team) and its counts
 * for /metrics. The schedule itself is pure (model/chaos.h). */
#ifndef GD_SERVER_MONKEY_H
#define GD_SERVER_MONKEY_H

#include "core/buf.h"
#include "server/game.h"

#include <jansson.h>

/** Fires Chaos Monkey's kills due at game time `now` (every tick; nothing when the
 *  scenario has no chaos_monkey). Each kill, in every team that has the group and has
 *  not opted it out, terminates the running member of the kill's rank through the
 *  operations layer as "chaos-monkey", and leaves a ledger row. Its progress (kills
 *  done per group, kv monkey_kills_<group>) is stored with the kill, so a restarted
 *  server neither repeats nor skips one. */
void gd_monkey_run(gd_game *g, double now);

/** The running instances of `team` (of its group `asg`, or all of them when asg is
 *  NULL) among `instances` (any teams), not already leaving by a scale-in, in launch
 *  order: status.launched_at (else created), then id. A new array. */
json_t *gd_chaos_candidates(const json_t *instances, int team, const char *asg);

/** 1 if an operation's error code is a team's protection refusing it: AccessDenied (a
 *  deny_policy) or OperationNotPermitted (termination protection). */
int gd_chaos_refused(const char *code);

/* What one act of chaos came to, for gameday_chaos_actions_total. */
enum gd_chaos_outcome {
    GD_CHAOS_DONE,    /* terminated, changed */
    GD_CHAOS_REFUSED, /* by the team's protections */
    GD_CHAOS_SKIPPED, /* opted out, nothing to act on */
    GD_CHAOS_FAILED,  /* any other error */
};
#define GD_CHAOS_OUTCOMES 4

/** Counts one act of chaos of `actor` ("chaos-monkey", "ceo", ...: the first
 *  GD_CHAOS_ACTORS distinct ones) on a team. */
void gd_chaos_count(gd_game *g, int team, const char *actor, enum gd_chaos_outcome o);
#define GD_CHAOS_ACTORS 8
/** Appends gameday_chaos_actions_total{team,actor,outcome} in Prometheus text. */
void gd_chaos_metrics(gd_game *g, gd_buf *b);

#endif
