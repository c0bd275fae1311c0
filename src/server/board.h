/* What the scoreboard and the post-game report compute from a team's ledger and audit
 * rows, as pure functions over JSON: the score's series without a cliff at each bill,
 * the events that matter with the bills folded, and what an action gained or cost. */
#ifndef GD_SERVER_BOARD_H
#define GD_SERVER_BOARD_H

#include <jansson.h>

/** The source of the ledger's bill rows (billing.c). */
#define GD_BOARD_BILLING "billing"

/** A team's score over time from its ledger rows (oldest first, as gd_store_ledger_list
 *  gives them: {"time","source","points",...}): one point per `step` game seconds and
 *  one at `now`, each [t, revenue, cost, smooth]. revenue sums every row but the bills,
 *  cost is the bills' points made positive, spread evenly over the interval each bill
 *  covers (since the one before, or 0), and after the last bill grown at that bill's
 *  rate; smooth = revenue - cost: the score without a cliff at each bill. The point at
 *  `now` counts every row, also those stamped later (the customers' last reports arrive
 *  after a game's end). A new array. */
json_t *gd_board_series(const json_t *rows, double now, double step);

/** 1 when a ledger row matters on the board: not the customers' or shoppers' per-report
 *  rows. */
int gd_board_notable(const json_t *row);

/** The events of one team, oldest first ({"time","source","points","reason",...}),
 *  with the bill rows (source GD_BOARD_BILLING) folded: the bills of each `period`
 *  game seconds (from 0) become one row {"time": the last bill's, "from": the first's,
 *  "source": "billing", "kind": "bills", "count", "points": their sum, "usd": the sum of
 *  their points over points_per_dollar (when > 0, else the "$X" of their reasons),
 *  "reason"}, at the place of the period's first bill. Other rows are copied, in order.
 *  A new array. */
json_t *gd_board_fold_bills(const json_t *events, double period, double points_per_dollar);

/** What happened around game time `at`: the points per game minute of the ledger rows
 *  in [at - window, at) and in [at, at + window), each window clipped to [0, end).
 *  {"before": pts/min or null, "after": pts/min or null, "delta": after - before or
 *  null, "before_s", "after_s": the seconds each covers}. A window shorter than a
 *  tenth of `window` gives null (too little data to tell). rows as for
 *  gd_board_series. A new object. */
json_t *gd_board_effect(const json_t *rows, double at, double window, double end);

/** The bills of this many game seconds share one line of the board (10 game minutes). */
#define GD_BOARD_FOLD_PERIOD 600

/** A board row for one audit record (gd_store_audit_find's shape): {"time",
 *  "source": its principal, "kind": "action", "points": 0, "event": its eventName,
 *  "reason": "<eventName> <resources>", up to 3 " key=value" of the request's numbers
 *  and flags, and " (refused: <errorCode>)" when it failed,
 *  "error": bool}. A new object. */
json_t *gd_board_action_row(const json_t *audit);

/** The customers' answers per `step` game seconds, from their ledger rows (oldest
 *  first; source "customers", reason "<ok> ok (p50 <ms> ms), <n> errors, <n> timeouts,
 *  <n> wrong"): [[t, ok, errors, timeouts, wrong, p50_ms], ...], t the start of the
 *  step the reports arrived in (at most `end` when end > 0: the reports that arrive
 *  after the game's end join its last point), p50_ms the mean of their p50s. Rows of
 *  another shape are skipped. A new array. */
json_t *gd_board_customers(const json_t *rows, double step, double end);

#endif
