/* GET /api/v1/stream: the scoreboard JSON pushed as server-sent events (event
 * `scoreboard`) to a bounded number of clients, once a wall second or at a change of the
 * ledger or audit log (at most every GD_STREAM_MIN_GAP_MS) when the JSON changed,
 * with `ping` events as keep-alives; a slow reader's frames are skipped, never buffered. */
#ifndef GD_SERVER_STREAM_H
#define GD_SERVER_STREAM_H

#include "core/buf.h"
#include "core/http.h"

#include <stddef.h>
#include <stdint.h>

#define GD_STREAM_MAX_CLIENTS 32      /* more are answered 503 (GAMEDAY_STREAM_CLIENTS) */
#define GD_STREAM_CLIENTS_CAP 256     /* the most GAMEDAY_STREAM_CLIENTS may allow */
#define GD_STREAM_BUFFER (256 * 1024) /* unsent bytes a client may hold, plus one frame */
#define GD_STREAM_MIN_GAP_MS 400      /* a change is pushed this soon, not sooner */
#define GD_STREAM_PERIOD_MS 1000      /* a frame at least this often while the JSON changes */
#define GD_STREAM_KEEPALIVE_MS 10000  /* a `ping` event when nothing else was sent that long */

struct gd_game;
typedef struct gd_stream_hub gd_stream_hub;

/** A hub with no client; limits from GD_STREAM_* or the environment variables named
 *  there (for tests). Freed by gd_stream_hub_free. */
gd_stream_hub *gd_stream_hub_new(void);
void gd_stream_hub_free(gd_stream_hub *h);

/** Answers GET /api/v1/stream on c: 503 beyond the client limit, else the stream's head,
 *  the current scoreboard at once, then the hub's frames until the client goes or
 *  gd_stream_close_all. */
void gd_stream_open(struct gd_game *g, gd_http_conn *c);
/** From the game's tick: forgets clients that went away, and pushes the scoreboard (or
 *  a keep-alive) when due. Builds the scoreboard only when someone listens. */
void gd_stream_tick(struct gd_game *g);
/** Ends every stream: a last `end` event (best effort) and a clean close. */
void gd_stream_close_all(struct gd_game *g, const char *why);
/** Prometheus series: gameday_stream_clients, _opened_total, _refused_total,
 *  _frames_total{outcome="sent|dropped"}, _unsent_bytes. */
void gd_stream_metrics(struct gd_game *g, gd_buf *b);

#endif
