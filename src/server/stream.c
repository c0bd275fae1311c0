/* The scoreboard's live stream: server-sent events over connections whose answer never
 * ends (core/http.c's streamed answers). One frame is built per push and written to
 * every client; a client whose unsent bytes would pass its buffer misses that frame. */
#include "server/stream.h"
#include "core/check.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/promtext.h"
#include "core/sse.h"
#include "server/game_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HUB_MAGIC 0x53545248u

struct client {
    gd_http_conn *c;
    uint64_t opened_at; /* loop ms */
    uint64_t frames, dropped;
    char peer[16];
};

struct gd_stream_hub {
    uint32_t magic;
    int max;       /* clients allowed */
    size_t buffer; /* unsent bytes a client may hold */
    int n;
    struct client clients[GD_STREAM_CLIENTS_CAP];
    uint64_t last_frame, last_write; /* loop ms */
    char *last_json;                 /* the scoreboard of the last push (change test) */
    uint64_t changes;                /* gd_store_changes at the last push */
    uint64_t opened, refused, sent, dropped;
};

static long env_long(const char *name, long def, long lo, long hi)
{
    const char *v = getenv(name);
    char *end;
    long n = v ? strtol(v, &end, 10) : def;
    if (!v || *end || n < lo || n > hi) return def;
    return n;
}

gd_stream_hub *gd_stream_hub_new(void)
{
    gd_stream_hub *h = gd_calloc(1, sizeof *h);
    h->magic = HUB_MAGIC;
    h->max =
        (int)env_long("GAMEDAY_STREAM_CLIENTS", GD_STREAM_MAX_CLIENTS, 1, GD_STREAM_CLIENTS_CAP);
    h->buffer = (size_t)env_long("GAMEDAY_STREAM_BUFFER", GD_STREAM_BUFFER, 4096, 64L << 20);
    return h;
}

void gd_stream_hub_free(gd_stream_hub *h)
{
    if (!h) return;
    GD_CHECK_OBJ(h, HUB_MAGIC);
    gd_free(h->last_json);
    h->magic = 0;
    gd_free(h);
}

static gd_stream_hub *hub(struct gd_game *g)
{
    if (!g->streams) g->streams = gd_stream_hub_new();
    GD_CHECK_OBJ(g->streams, HUB_MAGIC);
    return g->streams;
}

/* Ends client i's answer and takes it out of the list (the last one fills its place). */
static void drop_client(struct gd_game *g, gd_stream_hub *h, int i, const char *why)
{
    struct client *k = &h->clients[i];
    gd_info("stream_close", "peer=%s frames=%llu dropped=%llu wall_s=%.1f why=%s clients=%d",
            k->peer, (unsigned long long)k->frames, (unsigned long long)k->dropped,
            (double)(uv_now(g->loop) - k->opened_at) / 1000.0, why, h->n - 1);
    gd_http_stream_end(k->c);
    h->clients[i] = h->clients[--h->n];
}

/* Writes frame to client k: counted as sent, or dropped when its unsent bytes would
 * pass the buffer. 0, or GD_ECLOSED when the client has gone. */
static int send_frame(gd_stream_hub *h, struct client *k, const gd_buf *frame, int counts)
{
    /* A frame always goes to a client that has nothing pending (whatever its size), so a
     * client holds at most its buffer plus one frame. */
    size_t lim = gd_http_conn_unsent(k->c) == 0 ? frame->len : h->buffer;
    int r = gd_http_stream_write(k->c, frame->data, frame->len, lim);
    if (r == GD_EAGAIN || r == GD_ETOOBIG) {
        if (counts) k->dropped++, h->dropped++;
        return 0;
    }
    if (r < 0) return r;
    if (counts) k->frames++, h->sent++;
    return 0;
}

/* The scoreboard as one `scoreboard` event (a new string in *json for the change test). */
static int scoreboard_frame(struct gd_game *g, gd_buf *frame, char **json)
{
    json_t *sb = gd_game_scoreboard(g);
    *json = json_dumps(sb, JSON_COMPACT);
    json_decref(sb);
    if (!*json) return GD_ENOMEM;
    return gd_sse_event(frame, "scoreboard", *json, strlen(*json));
}

void gd_stream_open(struct gd_game *g, gd_http_conn *c)
{
    gd_stream_hub *h = hub(g);
    if (h->n >= h->max) {
        h->refused++;
        gd_info("stream_refused", "peer=%s clients=%d max=%d", gd_http_conn_peer(c), h->n, h->max);
        gd_http_respond_error(c, 503, "TooManyStreams",
                              "the scoreboard stream has its most clients; poll "
                              "/api/v1/scoreboard instead");
        return;
    }
    struct client *k = &h->clients[h->n++];
    memset(k, 0, sizeof *k);
    k->c = c;
    k->opened_at = uv_now(g->loop);
    snprintf(k->peer, sizeof k->peer, "%s", gd_http_conn_peer(c));
    h->opened++;
    gd_info("stream_open", "peer=%s clients=%d", k->peer, h->n);
    /* The socket keeps little: a slow reader's backlog is in the bounded output. */
    gd_http_conn_set_sndbuf(c, (int)(h->buffer < 65536 ? h->buffer : 65536));
    gd_buf f;
    gd_buf_init(&f, 64 << 20);
    char *json = NULL;
    int r = gd_http_stream_begin(c, 200, "Cache-Control: no-store\r\nX-Accel-Buffering: no\r\n",
                                 "text/event-stream; charset=utf-8");
    if (r == 0) r = gd_sse_comment(&f, "gameday scoreboard: event scoreboard, ping when idle");
    if (r == 0) r = gd_buf_puts(&f, "retry: 2000\n\n");
    if (r == 0) r = scoreboard_frame(g, &f, &json);
    if (r == 0) r = send_frame(h, k, &f, 1);
    free(json);
    gd_buf_free(&f);
    if (r < 0) drop_client(g, h, h->n - 1, "gone");
}

void gd_stream_tick(struct gd_game *g)
{
    if (!g->streams) return;
    gd_stream_hub *h = hub(g);
    for (int i = h->n; i-- > 0;)
        if (gd_http_conn_closing(h->clients[i].c)) drop_client(g, h, i, "client");
    if (h->n == 0) return;
    uint64_t now = uv_now(g->loop), changes = gd_store_changes(g->db);
    /* Once a period, or sooner when the ledger or the audit log moved (a bill, chaos, an
     * action), but not more often than GD_STREAM_MIN_GAP_MS. */
    if (now - h->last_frame < GD_STREAM_MIN_GAP_MS) return;
    if (now - h->last_frame < GD_STREAM_PERIOD_MS && changes == h->changes) return;
    h->last_frame = now;
    h->changes = changes;
    gd_buf f;
    gd_buf_init(&f, 64 << 20);
    char *json = NULL;
    int counts = 1;
    if (scoreboard_frame(g, &f, &json) < 0) {
        free(json);
        gd_buf_free(&f);
        return;
    }
    if (h->last_json && !strcmp(h->last_json, json)) { /* unchanged: a keep-alive, if due */
        gd_buf_reset(&f);
        counts = 0;
        if (now - h->last_write < GD_STREAM_KEEPALIVE_MS) {
            free(json);
            gd_buf_free(&f);
            return;
        }
        gd_sse_event(&f, "ping", "{}", 2); /* an event: EventSource never sees comments */
    }
    h->last_write = now;
    for (int i = h->n; i-- > 0;)
        if (send_frame(h, &h->clients[i], &f, counts) < 0) drop_client(g, h, i, "gone");
    if (counts) {
        gd_free(h->last_json);
        h->last_json = gd_strdup(json);
    }
    free(json);
    gd_buf_free(&f);
}

void gd_stream_close_all(struct gd_game *g, const char *why)
{
    if (!g->streams) return;
    gd_stream_hub *h = hub(g);
    gd_buf f;
    gd_buf_init(&f, 4096);
    char data[160];
    snprintf(data, sizeof data, "{\"reason\":\"%s\"}", why);
    gd_sse_event(&f, "end", data, strlen(data));
    while (h->n > 0) {
        send_frame(h, &h->clients[h->n - 1], &f, 0);
        drop_client(g, h, h->n - 1, why);
    }
    gd_buf_free(&f);
}

void gd_stream_metrics(struct gd_game *g, gd_buf *b)
{
    gd_stream_hub *h = hub(g);
    size_t unsent = 0;
    for (int i = 0; i < h->n; i++) unsent += gd_http_conn_unsent(h->clients[i].c);
    gd_prom_head(b, "gameday_stream_clients", "gauge", "Open scoreboard streams (/api/v1/stream)");
    gd_prom_sample(b, "gameday_stream_clients", "", h->n);
    gd_prom_head(b, "gameday_stream_clients_max", "gauge", "Streams allowed at once");
    gd_prom_sample(b, "gameday_stream_clients_max", "", h->max);
    gd_prom_head(b, "gameday_stream_opened_total", "counter", "Scoreboard streams opened");
    gd_prom_sample(b, "gameday_stream_opened_total", "", (double)h->opened);
    gd_prom_head(b, "gameday_stream_refused_total", "counter",
                 "Scoreboard streams refused (503, over the limit)");
    gd_prom_sample(b, "gameday_stream_refused_total", "", (double)h->refused);
    gd_prom_head(b, "gameday_stream_frames_total", "counter",
                 "Scoreboard frames by outcome (dropped: the client's buffer was full)");
    gd_prom_sample(b, "gameday_stream_frames_total", "outcome=\"sent\"", (double)h->sent);
    gd_prom_sample(b, "gameday_stream_frames_total", "outcome=\"dropped\"", (double)h->dropped);
    gd_prom_head(b, "gameday_stream_unsent_bytes", "gauge",
                 "Bytes queued to stream clients and not yet written");
    gd_prom_sample(b, "gameday_stream_unsent_bytes", "", (double)unsent);
    gd_prom_head(b, "gameday_stream_buffer_bytes", "gauge", "Unsent bytes one client may hold");
    gd_prom_sample(b, "gameday_stream_buffer_bytes", "", (double)h->buffer);
}
