/* The post-game report: the score timeline of every team with its events and its
 * players' actions, what each action gained or cost (points per game minute before and
 * after it), the final bill by resource and the customers' latency and errors per game
 * minute. Built from the store alone, so that `gameday report DIR` works on a finished
 * game's folder as the running server's GET /api/v1/report does; rendered as Markdown
 * here and as HTML by web/report.html. */
#ifndef GD_SERVER_REPORT_H
#define GD_SERVER_REPORT_H

#include "core/buf.h"
#include "server/store.h"

#include <jansson.h>

/** Game seconds before and after an action whose points are compared (2 game minutes). */
#define GD_REPORT_WINDOW 120

typedef struct gd_report_opts {
    const char *name, *title; /* the scenario's */
    double duration;          /* game seconds */
    double now;               /* the game clock (the end of the data); 0: the last row's */
    double points_per_dollar; /* 0: bills' dollars from their reasons */
    const char *state;        /* "running", "ended", ... (NULL: "ended") */
} gd_report_opts;

/** The report as JSON: {"game": {name, title, duration, clock, state, window_s},
 *  "teams": [{id, name, score, series, customers, events, actions, bill}]}, where
 *  series is gd_board_series's, customers gd_board_customers's, events every notable
 *  event oldest first (bills folded) with the team's "score" just after it, actions the players'
 * mutations each with an "effect" (gd_board_effect over GD_REPORT_WINDOW), bill {"total_usd",
 *  "by_resource": [{resource, name, type, usd}] dearest first}. No token appears.
 *  A new object, or NULL on a database error. */
json_t *gd_report_build(gd_store *db, const gd_report_opts *o);

/** Appends the report as Markdown to b. 0 or GD_ETOOBIG. */
int gd_report_markdown(const json_t *report, gd_buf *b);

/** Appends a self-contained HTML page to b: web/report.html with its stylesheets and
 *  scripts inlined from the embedded assets and the report as JSON data, so that it
 *  opens from disk. 0, GD_ENOENT when an asset is missing, or GD_ETOOBIG. */
int gd_report_html(const json_t *report, gd_buf *b);

/** The mutations a team's players (its token, or the admin's) made among its newest
 *  `newest` audit records (0: every one), oldest first, as gd_board_action_row rows.
 *  A new array. */
json_t *gd_report_actions(gd_store *db, int team, int newest);
/** A team's notable events, oldest first: the rows of its ledger (oldest first) but the
 *  customers' and shoppers', and its players' mutations among its newest naudit audit
 *  records (0: all), by time, the bills folded (gd_board_fold_bills), each with a
 *  "kind" (bill(s), chaos, alarm, scaling, action, event). A new array. */
json_t *gd_report_team_events(gd_store *db, int team, const json_t *ledger, int naudit,
                              double points_per_dollar);
/** Sorts rows by their "time", in place (equal times keep their order). */
void gd_report_sort(json_t *rows);

#endif
