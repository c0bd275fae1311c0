/* The admin listener the daemons share (gameday edge, dns, nat): GET /health,
 * /metrics, /stats, /config, and PUT /config with Authorization: Bearer <admin token>,
 * plus the routes of a daemon of its own. Its configuration is one JSON document. */
#ifndef GD_CORE_ADMIN_H
#define GD_CORE_ADMIN_H

#include "core/buf.h"
#include "core/http.h"

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

typedef struct gd_admin gd_admin;
struct gd_admin {
    gd_http_server http;
    const char *token; /* "" refuses every mutation */
    const char *paths; /* named by the 404: "/config /stats /metrics /health" */
    json_t *(*stats)(void);
    void (*metrics)(gd_buf *b);
    /** PUT /config: 0, or a negative error with err set (the document is not taken). */
    int (*load)(const json_t *doc, char *err, size_t errlen);
    json_t *config; /* the document in use (the daemon sets it once loaded) */
    uint64_t version;
    /** Other routes: 1 when it answered the request (may be NULL). */
    int (*route)(gd_admin *a, gd_http_conn *c, gd_http_req *req);
};

/** Sets the routes' handlers, and the token from GAMEDAY_ADMIN_TOKEN ("" when unset). */
void gd_admin_init(gd_admin *a, const char *paths, json_t *(*stats)(void),
                   void (*metrics)(gd_buf *b), int (*load)(const json_t *, char *, size_t));
/** What every daemon does first: its log name, the game clock from GAMEDAY_SPEED and
 *  GAMEDAY_EPOCH_NS (speed 1 from now without them), SIGPIPE ignored. */
void gd_daemon_init(const char *name);
/** Listens on addr ("IP:PORT" in 127.0.0.0/8). 0 or a gd error. */
int gd_admin_listen(gd_admin *a, uv_loop_t *loop, const char *addr);
/** The request's JSON body when it carries the admin token; else answers 401 (or 400
 *  InvalidJSON) and returns NULL. */
json_t *gd_admin_body(gd_admin *a, gd_http_conn *c, gd_http_req *req);
/** 1 if the request's path is p. */
int gd_admin_path_is(const gd_http_req *r, const char *p);
/** SIGTERM and SIGINT: log `stopping` and exit 0 (then calls before, which may be NULL). */
void gd_daemon_signals(uv_loop_t *loop, void (*before)(void));

#endif
