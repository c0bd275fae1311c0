/* One PostgreSQL connection through libpq's asynchronous API on a libuv loop
 * (PQconnectStart/PQconnectPoll, PQsendQuery, PQsocket watched by a uv_poll_t), so
 * that no query blocks the loop. Queries go one at a time, in order; each has a
 * deadline. The connection is made on the first query and made again after a failure,
 * not before a backoff (50 ms doubling to 2 s, wall time) has passed: a query asked
 * while it runs fails at once. The server's reconciler and the shop's pool use it. */
#ifndef GD_CORE_PGC_H
#define GD_CORE_PGC_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct gd_pgc gd_pgc;

#define GD_PGC_MAX_RESULTS 16 /* results of one query text kept (its statements) */

/* A query's end: err 0 with every result (borrowed for the call; a text of several
 * statements has one each), or GD_EDB (an error result: msg is PostgreSQL's message;
 * the results before it are given), GD_ETIMEDOUT, GD_EIO (the connection failed or
 * went; msg says why). */
typedef void (*gd_pgc_cb)(void *arg, int err, PGresult *const *res, int nres, const char *msg);

/** A connection to conninfo (libpq's key=value form; sslmode and gssencmode are turned
 *  off, it is loopback) that makes each query wait at most timeout_ms wall ms (a
 *  connect too). Not connected until the first query, or gd_pgc_connect. */
gd_pgc *gd_pgc_new(uv_loop_t *loop, const char *conninfo, uint64_t timeout_ms);
/** Starts connecting now unless up, connecting, or in its backoff. */
void gd_pgc_connect(gd_pgc *c);
/** Sends sql (one or more statements, PQsendQuery) once those before it are done. 0:
 *  cb is called once, later. GD_EAGAIN: the connection failed lately and its backoff
 *  runs, GD_EFULL: 64 queries wait already; cb is never called then. */
int gd_pgc_query(gd_pgc *c, const char *sql, gd_pgc_cb cb, void *arg);
/** 1 while connected (the last connect worked and nothing failed since). */
int gd_pgc_up(const gd_pgc *c);
/** 1 while a failed connection waits out its backoff (a query would be refused). */
int gd_pgc_backing_off(const gd_pgc *c);
/** 1 while a query is out or waiting. */
int gd_pgc_busy(const gd_pgc *c);
/** Why the last connect or query failed ("" when nothing did). */
const char *gd_pgc_error(const gd_pgc *c);
/** Closes the connection; queries still waiting are dropped without a call. May be
 *  called from a callback of c. The memory goes once libuv has closed its handles. */
void gd_pgc_free(gd_pgc *c);

/** s as an SQL string literal ('...' with ' doubled; standard_conforming_strings is on)
 *  into out. The length, or -1 when it does not fit or s has a byte below 0x20 other
 *  than tab and newline. */
int gd_pgc_quote(const char *s, char *out, size_t n);

#endif
