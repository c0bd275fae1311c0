/* The control plane's durable state: teams, resources, audit log, score ledger and a
 * key/value table in one SQLite database (WAL). Every statement is prepared once at
 * open and reset after each use; user values are only ever bound, never spliced. */
#include "server/store.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "model/schema.h"
#include "model/state.h"

#include <fcntl.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* Prepared statements, by role. The RES_LIST ones are 8 variants picked by a bit mask
 * (1: team filter, 2: type filter, 4: include deleted) so that each can use an index. */
enum {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_TEAM_PUT,
    ST_TEAMS,
    ST_TEAM_BY_TOKEN,
    ST_RES_CREATE,
    ST_RES_SET_SPEC,
    ST_RES_SET_STATUS,
    ST_RES_DELETE,
    ST_RES_GET_ID,
    ST_RES_GET_ID_TEAM,
    ST_RES_GET_NAME,
    ST_RES_REF_ID,
    ST_RES_REF_ID_TEAM,
    ST_RES_REF_NAME,
    ST_AUDIT_ADD,
    ST_AUDIT_COUNT,
    ST_LEDGER_ADD,
    ST_SCORE_TEAM,
    ST_SCORE_ALL,
    ST_SCORE_BETWEEN_TEAM,
    ST_SCORE_BETWEEN_ALL,
    ST_LEDGER_LIST,
    ST_LEDGER_LIST_NEWEST,
    ST_KV_SET,
    ST_KV_DEL,
    ST_KV_GET,
    ST_LIVE_TYPES,
    ST_RES_LIST0,
    ST_N = ST_RES_LIST0 + 8
};

#define RES_COLS "id, team, type, name, spec, status, created, updated, deleted"
#define AUDIT_COLS                                                                                 \
    "seq, time, wall, team, principal, source_ip, event_name, request, response, error_code, "     \
    "resources"
#define REF_COLS "id, name, type"
#define LEDGER_COLS "seq, time, team, source, points, reason"

static const char *const sql_text[ST_RES_LIST0] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_TEAM_PUT] = "INSERT INTO teams (id, name, token) VALUES (?1, ?2, ?3) "
                    "ON CONFLICT(id) DO UPDATE SET name = excluded.name, token = excluded.token",
    [ST_TEAMS] = "SELECT id, name, token FROM teams ORDER BY id",
    [ST_TEAM_BY_TOKEN] = "SELECT id FROM teams WHERE token = ?1",
    [ST_RES_CREATE] = "INSERT INTO resources (id, team, type, name, spec, status, created, "
                      "updated, deleted) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, 0)",
    [ST_RES_SET_SPEC] =
        "UPDATE resources SET spec = ?2, updated = ?3 WHERE id = ?1 AND deleted = 0",
    [ST_RES_SET_STATUS] = "UPDATE resources SET status = ?2, updated = ?3 WHERE id = ?1",
    [ST_RES_DELETE] = "UPDATE resources SET deleted = 1, deleted_at = ?2, updated = ?2 "
                      "WHERE id = ?1 AND deleted = 0",
    [ST_RES_GET_ID] = "SELECT " RES_COLS " FROM resources WHERE id = ?1",
    [ST_RES_GET_ID_TEAM] = "SELECT " RES_COLS " FROM resources WHERE id = ?1 AND team = ?2",
    [ST_RES_GET_NAME] =
        "SELECT " RES_COLS " FROM resources WHERE team = ?1 AND name = ?2 AND deleted = 0",
    [ST_RES_REF_ID] = "SELECT " REF_COLS " FROM resources WHERE id = ?1",
    [ST_RES_REF_ID_TEAM] = "SELECT " REF_COLS " FROM resources WHERE id = ?1 AND team = ?2",
    /* a live resource of that name, else the newest deleted one */
    [ST_RES_REF_NAME] = "SELECT " REF_COLS " FROM resources WHERE team = ?1 AND name = ?2 "
                        "ORDER BY deleted, rowid DESC LIMIT 1",
    [ST_AUDIT_ADD] = "INSERT INTO audit (time, wall, team, principal, source_ip, event_name, "
                     "request, response, error_code, resources) "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [ST_AUDIT_COUNT] = "SELECT coalesce(max(seq), 0) FROM audit", /* rows are never deleted */
    [ST_LEDGER_ADD] =
        "INSERT INTO ledger (time, team, source, points, reason) VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_SCORE_TEAM] = "SELECT total(points) FROM ledger WHERE team = ?1",
    [ST_SCORE_ALL] = "SELECT total(points) FROM ledger",
    [ST_SCORE_BETWEEN_TEAM] =
        "SELECT total(points) FROM ledger WHERE team = ?1 AND time >= ?2 AND time < ?3",
    [ST_SCORE_BETWEEN_ALL] = "SELECT total(points) FROM ledger WHERE time >= ?2 AND time < ?3",
    [ST_LEDGER_LIST] = "SELECT " LEDGER_COLS " FROM ledger WHERE seq > ?2 AND "
                       "(?1 = 0 OR team = ?1) ORDER BY seq LIMIT ?3",
    [ST_LEDGER_LIST_NEWEST] = "SELECT * FROM (SELECT " LEDGER_COLS " FROM ledger WHERE seq > ?2 "
                              "AND (?1 = 0 OR team = ?1) ORDER BY seq DESC LIMIT ?3) ORDER BY seq",
    [ST_KV_SET] = "INSERT INTO kv (key, value) VALUES (?1, ?2) "
                  "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    [ST_KV_DEL] = "DELETE FROM kv WHERE key = ?1",
    [ST_KV_GET] = "SELECT value FROM kv WHERE key = ?1",
    [ST_LIVE_TYPES] = "SELECT json_extract(status, '$.instance_type'), count(*) FROM resources "
                      "WHERE team = ?1 AND type = 'instance' AND deleted = 0 AND "
                      "json_extract(status, '$.state') IN (?2, ?3) GROUP BY 1",
};

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS teams (id INTEGER PRIMARY KEY, name TEXT, token TEXT UNIQUE);"
    "CREATE TABLE IF NOT EXISTS resources (id TEXT PRIMARY KEY, team INTEGER, type TEXT,"
    " name TEXT, spec TEXT, status TEXT, created REAL, updated REAL,"
    " deleted INTEGER NOT NULL DEFAULT 0, deleted_at REAL);"
    "CREATE UNIQUE INDEX IF NOT EXISTS resources_live_name ON resources (team, name)"
    " WHERE deleted = 0;"
    "CREATE INDEX IF NOT EXISTS resources_team_type ON resources (team, type);"
    "CREATE INDEX IF NOT EXISTS resources_type ON resources (type);"
    "CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY AUTOINCREMENT, time REAL,"
    " wall TEXT, team INTEGER, principal TEXT, source_ip TEXT, event_name TEXT,"
    " request TEXT, response TEXT, error_code TEXT, resources TEXT);"
    "CREATE INDEX IF NOT EXISTS audit_team ON audit (team, seq);"
    /* the filters of gd_store_audit_find: who, what, when */
    "CREATE INDEX IF NOT EXISTS audit_principal ON audit (principal, seq);"
    "CREATE INDEX IF NOT EXISTS audit_event ON audit (event_name, seq);"
    "CREATE INDEX IF NOT EXISTS audit_time ON audit (time);"
    "CREATE TABLE IF NOT EXISTS ledger (seq INTEGER PRIMARY KEY AUTOINCREMENT, time REAL,"
    " team INTEGER, source TEXT, points REAL, reason TEXT);"
    "CREATE INDEX IF NOT EXISTS ledger_team_time ON ledger (team, time, points);"
    "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT);"
    "PRAGMA user_version = 2;";

#define ID_ATTEMPTS 8
#define JSON_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY)

/* The conditions of an audit listing, as bits: each combination is one statement,
 * prepared on first use (find_stmt), so that each can use an index. */
enum {
    AF_TEAM = 1,
    AF_PRINCIPAL = 2,
    AF_EVENT = 4,
    AF_RESOURCE = 8,
    AF_FROM = 16,
    AF_UNTIL = 32,
    AF_ERRORS_ONLY = 64,
    AF_ERRORS_NONE = 128,
    AF_NEWEST = 256,
    AF_N = 512
};

struct gd_store {
    sqlite3 *db;
    int depth; /* gd_store_begin nesting */
    sqlite3_stmt *st[ST_N];
    sqlite3_stmt *find[AF_N]; /* audit listings, by AF_ mask; NULL until first used */
    uint64_t changes;         /* ledger and audit rows written by this process */
};

/* Logs the connection's last error for op and returns GD_EDB. */
static int db_fail(gd_store *s, const char *op)
{
    gd_error("db_error", "op=%s msg=%s", op, gd_log_q(sqlite3_errmsg(s->db)));
    return GD_EDB;
}

/* Returns a statement to its unused state: no row pending, no values bound. */
static void done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* Runs a statement that returns no rows and resets it. A constraint violation is
 * GD_EEXIST (not logged); any other failure is logged as GD_EDB. */
static int run(gd_store *s, sqlite3_stmt *st, const char *op)
{
    int rc = sqlite3_step(st);
    int err = 0;
    if (rc == SQLITE_ROW) rc = SQLITE_DONE; /* e.g. PRAGMA results: ignore */
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        err = GD_EEXIST;
    else if (rc != SQLITE_DONE)
        err = db_fail(s, op);
    done(st);
    return err;
}

/* JSON text of a value for binding: small documents stay on the stack. */
struct jtext {
    char stack[1024];
    char *heap;
    const char *p;
    size_t n;
};

/* Serializes j (NULL -> dflt, which may itself be NULL for SQL NULL). 0 or GD_EINVAL. */
static int jtext_make(struct jtext *t, const json_t *j, const char *dflt)
{
    t->heap = NULL;
    if (j == NULL) {
        t->p = dflt;
        t->n = dflt ? strlen(dflt) : 0;
        return 0;
    }
    size_t n = json_dumpb(j, t->stack, sizeof t->stack, JSON_FLAGS);
    if (n == 0) return GD_EINVAL;
    if (n > sizeof t->stack) {
        t->heap = gd_malloc(n);
        if (json_dumpb(j, t->heap, n, JSON_FLAGS) != n) {
            gd_free(t->heap);
            t->heap = NULL;
            return GD_EINVAL;
        }
        t->p = t->heap;
    } else {
        t->p = t->stack;
    }
    t->n = n;
    return 0;
}

static void jtext_free(struct jtext *t)
{
    gd_free(t->heap);
    t->heap = NULL;
}

static int bind_jtext(sqlite3_stmt *st, int i, const struct jtext *t)
{
    if (t->p == NULL) return sqlite3_bind_null(st, i);
    return sqlite3_bind_text64(st, i, t->p, t->n, SQLITE_STATIC, SQLITE_UTF8);
}

static int bind_str(sqlite3_stmt *st, int i, const char *v)
{
    return sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC); /* NULL binds SQL NULL */
}

/* A JSON string for a text column, or null for SQL NULL (or text that is not UTF-8). */
static json_t *col_str(sqlite3_stmt *st, int i)
{
    const char *v = (const char *)sqlite3_column_text(st, i);
    json_t *j = v ? json_stringn(v, (size_t)sqlite3_column_bytes(st, i)) : NULL;
    return j ? j : json_null();
}

/* The parsed JSON held by a text column; absent or unparsable gives dflt (a new
 * empty object when want_object, else null). */
static json_t *col_json(sqlite3_stmt *st, int i, int want_object)
{
    const char *v = (const char *)sqlite3_column_text(st, i);
    json_t *j = NULL;
    if (v) j = json_loadb(v, (size_t)sqlite3_column_bytes(st, i), JSON_DECODE_ANY, NULL);
    if (j == NULL) j = want_object ? json_object() : json_null();
    return j;
}

/* The row of a RES_COLS select as a resource object. */
static json_t *res_row(sqlite3_stmt *st)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", col_str(st, 0));
    json_object_set_new(o, "team", json_integer(sqlite3_column_int(st, 1)));
    json_object_set_new(o, "type", col_str(st, 2));
    json_object_set_new(o, "name", col_str(st, 3));
    json_object_set_new(o, "spec", col_json(st, 4, 1));
    json_object_set_new(o, "status", col_json(st, 5, 1));
    json_object_set_new(o, "created", json_real(sqlite3_column_double(st, 6)));
    json_object_set_new(o, "updated", json_real(sqlite3_column_double(st, 7)));
    json_object_set_new(o, "deleted", json_boolean(sqlite3_column_int(st, 8)));
    return o;
}

/* The row of an AUDIT_COLS select as a CloudTrail-like record (see store.h). */
static json_t *audit_row(sqlite3_stmt *st)
{
    json_t *o = json_object();
    double t = sqlite3_column_double(st, 1);
    long secs = t > 0 ? (long)t : 0;
    char hms[32];
    snprintf(hms, sizeof hms, "%02ld:%02ld:%02ld", secs / 3600, secs / 60 % 60, secs % 60);
    /* CloudTrail's eventTime is to the second: "2026-12-07T03:10:00Z" */
    const char *wall = (const char *)sqlite3_column_text(st, 2);
    char wsec[24];
    int whole = wall && strlen(wall) >= 19;
    if (whole) snprintf(wsec, sizeof wsec, "%.19sZ", wall);
    json_t *resp = col_json(st, 8, 0);
    json_t *code = col_str(st, 9);
    const char *msg = json_string_value(json_object_get(resp, "message"));
    json_t *res = col_json(st, 10, 0);
    if (!json_is_array(res)) {
        json_decref(res);
        res = json_array();
    }
    json_object_set_new(o, "seq", json_integer(sqlite3_column_int64(st, 0)));
    json_object_set_new(o, "eventTime", json_real(t));
    json_t *w = whole ? json_string(wsec) : NULL;
    json_object_set_new(o, "eventTimeWall", w ? w : col_str(st, 2));
    json_object_set_new(o, "eventWall", col_str(st, 2));
    json_object_set_new(o, "gameTime", json_string(hms));
    json_object_set_new(o, "team", json_integer(sqlite3_column_int(st, 3)));
    json_object_set_new(o, "principal", col_str(st, 4));
    json_object_set_new(o, "sourceIPAddress", col_str(st, 5));
    json_object_set_new(o, "sourceIP", col_str(st, 5));
    json_object_set_new(o, "eventName", col_str(st, 6));
    json_object_set_new(o, "readOnly", json_false());
    json_object_set_new(o, "requestParameters", col_json(st, 7, 0));
    json_object_set_new(o, "errorMessage",
                        json_is_string(code) && msg ? json_string(msg) : json_null());
    json_object_set_new(o, "responseElements", resp);
    json_object_set_new(o, "errorCode", code);
    json_object_set_new(o, "resources", res);
    return o;
}

static json_t *ledger_row(sqlite3_stmt *st)
{
    json_t *o = json_object();
    json_object_set_new(o, "seq", json_integer(sqlite3_column_int64(st, 0)));
    json_object_set_new(o, "time", json_real(sqlite3_column_double(st, 1)));
    json_object_set_new(o, "team", json_integer(sqlite3_column_int(st, 2)));
    json_object_set_new(o, "source", col_str(st, 3));
    json_object_set_new(o, "points", json_real(sqlite3_column_double(st, 4)));
    json_object_set_new(o, "reason", col_str(st, 5));
    return o;
}

/* Steps a bound select to its end, collecting rows into a new array; resets the
 * statement. NULL (logged) on a database error. */
static json_t *collect(gd_store *s, sqlite3_stmt *st, json_t *(*row)(sqlite3_stmt *),
                       const char *op)
{
    json_t *arr = json_array();
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) json_array_append_new(arr, row(st));
    if (rc != SQLITE_DONE) {
        db_fail(s, op);
        json_decref(arr);
        arr = NULL;
    }
    done(st);
    return arr;
}

/* Binds (team, since, limit) for the list statements and picks the forward or the
 * newest-first variant. limit 0 means no limit. */
static sqlite3_stmt *bind_range(gd_store *s, int fwd, int newest, int team, int64_t since,
                                int limit)
{
    sqlite3_stmt *st = s->st[limit < 0 ? newest : fwd];
    sqlite3_int64 lim = limit < 0 ? -(sqlite3_int64)limit : limit > 0 ? limit : -1;
    if (sqlite3_bind_int(st, 1, team) || sqlite3_bind_int64(st, 2, since) ||
        sqlite3_bind_int64(st, 3, lim)) {
        done(st);
        return NULL;
    }
    return st;
}

/* Writes the current UTC wall time as ISO-8601 with milliseconds into buf[32]. */
static void wall_iso(char buf[32])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, 32 - n, ".%03dZ", (int)(ts.tv_nsec / 1000000));
}

/* 32 random bits from the kernel (getrandom, else /dev/urandom, else the clock). */
static uint32_t random32(void)
{
    uint32_t v = 0;
    if (getrandom(&v, sizeof v, GRND_NONBLOCK) == (ssize_t)sizeof v) return v;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, &v, sizeof v);
        close(fd);
        if (n == (ssize_t)sizeof v) return v;
    }
    static uint32_t counter;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)ts.tv_nsec ^ (uint32_t)ts.tv_sec * 2654435761u ^ ++counter * 40503u;
}

static int prepare(gd_store *s, int i, const char *sql)
{
    if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL) != SQLITE_OK)
        return db_fail(s, "prepare");
    return 0;
}

static int prepare_all(gd_store *s)
{
    for (int i = 0; i < ST_RES_LIST0; i++)
        if (prepare(s, i, sql_text[i])) return GD_EDB;
    for (int m = 0; m < 8; m++) {
        char sql[512];
        snprintf(sql, sizeof sql, "SELECT " RES_COLS " FROM resources WHERE 1%s%s%s ORDER BY rowid",
                 (m & 1) ? " AND team = ?1" : "", (m & 2) ? " AND type = ?2" : "",
                 (m & 4) ? "" : " AND deleted = 0");
        if (prepare(s, ST_RES_LIST0 + m, sql)) return GD_EDB;
    }
    return 0;
}

/* 1 if table has column col, 0 if not, -1 on a database error. */
static int has_column(gd_store *s, const char *table, const char *col)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2", -1, &st,
                           NULL) != SQLITE_OK) {
        db_fail(s, "table_info");
        return -1;
    }
    int found = -1;
    if (bind_str(st, 1, table) == SQLITE_OK && bind_str(st, 2, col) == SQLITE_OK) {
        int rc = sqlite3_step(st);
        found = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
    }
    if (found < 0) db_fail(s, "table_info");
    sqlite3_finalize(st);
    return found;
}

/* Columns that later versions added to tables an older state.db already has: added
 * empty before any statement that names them is prepared (see backfill_audit). */
static int migrate_columns(gd_store *s, const char *path)
{
    int has = has_column(s, "audit", "resources");
    if (has < 0) return GD_EDB;
    if (has) return 0;
    char *msg = NULL;
    if (sqlite3_exec(s->db, "ALTER TABLE audit ADD COLUMN resources TEXT", NULL, NULL, &msg) !=
        SQLITE_OK) {
        gd_error("db_error", "op=migrate path=%s msg=%s", gd_log_q(path),
                 gd_log_q(msg ? msg : sqlite3_errmsg(s->db)));
        sqlite3_free(msg);
        return GD_EDB;
    }
    gd_info("store_migrated", "path=%s table=audit column=resources", gd_log_q(path));
    return 0;
}

static json_t *touched(gd_store *s, int team, const json_t *request, const json_t *response);

/* Fills the resources of the audit records written before the column existed (from
 * their request and response, as gd_store_audit does), in one transaction. */
static int backfill_audit(gd_store *s)
{
    sqlite3_stmt *sel = NULL, *upd = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT seq, team, request, response FROM audit WHERE resources IS "
                           "NULL ORDER BY seq",
                           -1, &sel, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db, "UPDATE audit SET resources = ?2 WHERE seq = ?1", -1, &upd,
                           NULL) != SQLITE_OK) {
        sqlite3_finalize(sel);
        return db_fail(s, "backfill_prepare");
    }
    /* read first, then write: the rows are not changed under the select */
    json_t *rows = json_array();
    int rc;
    while ((rc = sqlite3_step(sel)) == SQLITE_ROW)
        json_array_append_new(rows, json_pack("[I,i,o,o]", (json_int_t)sqlite3_column_int64(sel, 0),
                                              sqlite3_column_int(sel, 1), col_json(sel, 2, 0),
                                              col_json(sel, 3, 0)));
    int err = rc == SQLITE_DONE ? 0 : db_fail(s, "backfill_select");
    sqlite3_finalize(sel);
    if (err == 0 && json_array_size(rows) > 0) err = gd_store_begin(s);
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        if (err) break;
        json_t *refs = touched(s, (int)json_integer_value(json_array_get(row, 1)),
                               json_array_get(row, 2), json_array_get(row, 3));
        char *text = json_dumps(refs, JSON_FLAGS);
        json_decref(refs);
        if (sqlite3_bind_int64(upd, 1, json_integer_value(json_array_get(row, 0))) ||
            sqlite3_bind_text(upd, 2, text ? text : "[]", -1, SQLITE_TRANSIENT))
            err = db_fail(s, "backfill");
        else
            err = run(s, upd, "backfill");
        free(text);
    }
    if (json_array_size(rows) > 0 && err == 0) err = gd_store_commit(s);
    if (err && s->depth > 0) { /* give up the half: the records stay as they were */
        s->depth = 0;
        run(s, s->st[ST_ROLLBACK], "rollback");
    }
    if (err == 0 && json_array_size(rows) > 0)
        gd_info("audit_backfilled", "records=%zu", json_array_size(rows));
    sqlite3_finalize(upd);
    json_decref(rows);
    return err;
}

int gd_store_open(const char *path, gd_store **out)
{
    if (out) *out = NULL;
    if (path == NULL || out == NULL) return GD_EINVAL;
    gd_store *s = gd_calloc(1, sizeof *s);
    int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        if (s->db)
            db_fail(s, "open");
        else
            gd_error("db_error", "op=open msg=%s", gd_log_q(sqlite3_errstr(rc)));
        gd_store_close(s);
        return GD_EDB;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, 2000);
    char *msg = NULL;
    if (sqlite3_exec(s->db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                     "PRAGMA foreign_keys=ON;",
                     NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_exec(s->db, schema_sql, NULL, NULL, &msg) != SQLITE_OK) {
        gd_error("db_error", "op=open_schema path=%s msg=%s", gd_log_q(path),
                 gd_log_q(msg ? msg : sqlite3_errmsg(s->db)));
        sqlite3_free(msg);
        gd_store_close(s);
        return GD_EDB;
    }
    if (migrate_columns(s, path) || prepare_all(s) || backfill_audit(s)) {
        gd_store_close(s);
        return GD_EDB;
    }
    *out = s;
    return 0;
}

void gd_store_close(gd_store *s)
{
    if (s == NULL) return;
    if (s->depth > 0 && s->st[ST_COMMIT]) {
        gd_warn("store_close_in_transaction", "depth=%d", s->depth);
        s->depth = 1;
        gd_store_commit(s);
    }
    for (int i = 0; i < ST_N; i++) sqlite3_finalize(s->st[i]);
    for (int i = 0; i < AF_N; i++) sqlite3_finalize(s->find[i]);
    if (s->db && sqlite3_close(s->db) != SQLITE_OK) db_fail(s, "close");
    gd_free(s);
}

int gd_store_begin(gd_store *s)
{
    if (s == NULL) return GD_EINVAL;
    if (s->depth == 0) {
        int err = run(s, s->st[ST_BEGIN], "begin");
        if (err) return err == GD_EEXIST ? GD_EDB : err;
    }
    s->depth++;
    return 0;
}

int gd_store_commit(gd_store *s)
{
    if (s == NULL || s->depth <= 0) return GD_EINVAL;
    if (--s->depth > 0) return 0;
    int err = run(s, s->st[ST_COMMIT], "commit");
    if (err) {
        /* A failed COMMIT may leave the transaction open: end it, losing its writes. */
        if (!sqlite3_get_autocommit(s->db)) run(s, s->st[ST_ROLLBACK], "rollback");
        return GD_EDB;
    }
    return 0;
}

/* ---- teams ---- */

int gd_store_team_put(gd_store *s, int team, const char *name, const char *token)
{
    if (s == NULL || team < 1 || team > 254) return GD_EINVAL;
    sqlite3_stmt *st = s->st[ST_TEAM_PUT];
    if (sqlite3_bind_int(st, 1, team) || bind_str(st, 2, name) || bind_str(st, 3, token)) {
        done(st);
        return db_fail(s, "team_put");
    }
    return run(s, st, "team_put");
}

static json_t *team_row(sqlite3_stmt *st)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(sqlite3_column_int(st, 0)));
    json_object_set_new(o, "name", col_str(st, 1));
    json_object_set_new(o, "token", col_str(st, 2));
    return o;
}

json_t *gd_store_teams(gd_store *s)
{
    if (s == NULL) return NULL;
    return collect(s, s->st[ST_TEAMS], team_row, "teams");
}

int gd_store_team_by_token(gd_store *s, const char *token)
{
    if (s == NULL || token == NULL || *token == 0) return 0;
    sqlite3_stmt *st = s->st[ST_TEAM_BY_TOKEN];
    int team = 0;
    if (bind_str(st, 1, token) == SQLITE_OK) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            team = sqlite3_column_int(st, 0);
        else if (rc != SQLITE_DONE)
            db_fail(s, "team_by_token");
    }
    done(st);
    return team;
}

/* ---- resources ---- */

int gd_store_res_create(gd_store *s, int team, const char *type, const char *name,
                        const json_t *spec, const json_t *status, double now, char id_out[40])
{
    if (id_out) id_out[0] = 0;
    if (s == NULL || type == NULL || *type == 0 || name == NULL || *name == 0) return GD_EINVAL;
    const char *prefix = gd_schema_id_prefix(type);
    if (prefix == NULL || *prefix == 0) prefix = "r";
    if (strlen(prefix) > 30) return GD_EINVAL; /* "<prefix>-xxxxxxxx" must fit in 40 */
    struct jtext jspec, jstatus;
    if (jtext_make(&jspec, spec, "{}")) return GD_EINVAL;
    if (jtext_make(&jstatus, status, "{}")) {
        jtext_free(&jspec);
        return GD_EINVAL;
    }
    sqlite3_stmt *st = s->st[ST_RES_CREATE];
    char id[40];
    int err = GD_EDB;
    for (int attempt = 0; attempt < ID_ATTEMPTS; attempt++) {
        snprintf(id, sizeof id, "%s-%08x", prefix, random32());
        if (bind_str(st, 1, id) || sqlite3_bind_int(st, 2, team) || bind_str(st, 3, type) ||
            bind_str(st, 4, name) || bind_jtext(st, 5, &jspec) || bind_jtext(st, 6, &jstatus) ||
            sqlite3_bind_double(st, 7, now)) {
            err = db_fail(s, "res_create");
            done(st);
            break;
        }
        int rc = sqlite3_step(st);
        done(st);
        if (rc == SQLITE_DONE) {
            err = 0;
            break;
        }
        if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) continue; /* id collision: draw again */
        if (rc == SQLITE_CONSTRAINT_UNIQUE)
            err = GD_EEXIST;
        else
            err = db_fail(s, "res_create");
        break;
    }
    jtext_free(&jspec);
    jtext_free(&jstatus);
    if (err == 0 && id_out) memcpy(id_out, id, strlen(id) + 1);
    return err;
}

/* Sets one JSON column (spec or status) of resource id through statement idx. */
static int res_set(gd_store *s, int idx, const char *id, const json_t *v, double now,
                   const char *op)
{
    if (s == NULL || id == NULL) return GD_EINVAL;
    struct jtext t;
    if (jtext_make(&t, v, "{}")) return GD_EINVAL;
    sqlite3_stmt *st = s->st[idx];
    int err;
    if (bind_str(st, 1, id) || bind_jtext(st, 2, &t) || sqlite3_bind_double(st, 3, now)) {
        done(st);
        err = db_fail(s, op);
    } else {
        err = run(s, st, op);
        if (err == 0 && sqlite3_changes(s->db) == 0) err = GD_ENOENT;
    }
    jtext_free(&t);
    return err;
}

int gd_store_res_set_spec(gd_store *s, const char *id, const json_t *spec, double now)
{
    return res_set(s, ST_RES_SET_SPEC, id, spec, now, "res_set_spec");
}

int gd_store_res_set_status(gd_store *s, const char *id, const json_t *status, double now)
{
    return res_set(s, ST_RES_SET_STATUS, id, status, now, "res_set_status");
}

int gd_store_res_delete(gd_store *s, const char *id, double now)
{
    if (s == NULL || id == NULL) return GD_EINVAL;
    sqlite3_stmt *st = s->st[ST_RES_DELETE];
    if (bind_str(st, 1, id) || sqlite3_bind_double(st, 2, now)) {
        done(st);
        return db_fail(s, "res_delete");
    }
    int err = run(s, st, "res_delete");
    if (err == 0 && sqlite3_changes(s->db) == 0) err = GD_ENOENT;
    return err;
}

/* The first row of a bound RES_COLS select as an object, or NULL; resets st. */
static json_t *res_one(gd_store *s, sqlite3_stmt *st)
{
    json_t *o = NULL;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        o = res_row(st);
    else if (rc != SQLITE_DONE)
        db_fail(s, "res_get");
    done(st);
    return o;
}

json_t *gd_store_res_get(gd_store *s, int team, const char *id_or_name)
{
    if (s == NULL || id_or_name == NULL) return NULL;
    sqlite3_stmt *st;
    if (team == 0) {
        st = s->st[ST_RES_GET_ID];
        if (bind_str(st, 1, id_or_name)) goto fail;
        return res_one(s, st);
    }
    st = s->st[ST_RES_GET_ID_TEAM];
    if (bind_str(st, 1, id_or_name) || sqlite3_bind_int(st, 2, team)) goto fail;
    json_t *o = res_one(s, st);
    if (o) return o;
    st = s->st[ST_RES_GET_NAME];
    if (sqlite3_bind_int(st, 1, team) || bind_str(st, 2, id_or_name)) goto fail;
    return res_one(s, st);
fail:
    done(st);
    db_fail(s, "res_get");
    return NULL;
}

json_t *gd_store_res_live(gd_store *s, int team, const char *id_or_name, const char *type)
{
    json_t *r = gd_store_res_get(s, team, id_or_name);
    const char *t = json_string_value(json_object_get(r, "type"));
    if (r && (json_is_true(json_object_get(r, "deleted")) || (type && (!t || strcmp(t, type))))) {
        json_decref(r);
        return NULL;
    }
    return r;
}

json_t *gd_store_res_list(gd_store *s, int team, const char *type, int include_deleted)
{
    if (s == NULL) return NULL;
    int m = (team != 0 ? 1 : 0) | (type != NULL ? 2 : 0) | (include_deleted ? 4 : 0);
    sqlite3_stmt *st = s->st[ST_RES_LIST0 + m];
    if (((m & 1) && sqlite3_bind_int(st, 1, team)) || ((m & 2) && bind_str(st, 2, type))) {
        done(st);
        db_fail(s, "res_list");
        return NULL;
    }
    return collect(s, st, res_row, "res_list");
}

/* ---- audit ---- */

/* Keys of a request or a response whose values name resources the call touched: ids
 * (looked up as an id first) and names (as a name first). "spec" and "status" are
 * never looked into: what a spec refers to is not touched by the call. */
static const char *const ref_id_keys[] = {
    "instanceId",   "instanceIds",          "id",           "ids",
    "resourceId",   "resourceIds",          "target",       "targets",
    "experimentId", "experimentTemplateId", "allocationId", NULL};
static const char *const ref_name_keys[] = {
    "name",     "names",        "asg", "autoScalingGroupName", "autoScalingGroup", "endpoint",
    "resource", "resourceName", NULL};

enum { REF_NONE, REF_ID, REF_NAME };

static int ref_kind(const char *key)
{
    for (int i = 0; ref_id_keys[i]; i++)
        if (!strcmp(key, ref_id_keys[i])) return REF_ID;
    for (int i = 0; ref_name_keys[i]; i++)
        if (!strcmp(key, ref_name_keys[i])) return REF_NAME;
    return REF_NONE;
}

/* {"id","name","type"} of the resource a bound REF_COLS select finds, or NULL. */
static json_t *ref_one(gd_store *s, sqlite3_stmt *st)
{
    json_t *o = NULL;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        o = json_pack("{s:o,s:o,s:o}", "id", col_str(st, 0), "name", col_str(st, 1), "type",
                      col_str(st, 2));
    else if (rc != SQLITE_DONE)
        db_fail(s, "audit_ref");
    done(st);
    return o;
}

static json_t *ref_by_id(gd_store *s, int team, const char *v)
{
    sqlite3_stmt *st = s->st[team ? ST_RES_REF_ID_TEAM : ST_RES_REF_ID];
    if (bind_str(st, 1, v) || (team && sqlite3_bind_int(st, 2, team))) {
        done(st);
        return NULL;
    }
    return ref_one(s, st);
}

static json_t *ref_by_name(gd_store *s, int team, const char *v)
{
    if (team == 0) return NULL; /* names are per team */
    sqlite3_stmt *st = s->st[ST_RES_REF_NAME];
    if (sqlite3_bind_int(st, 1, team) || bind_str(st, 2, v)) {
        done(st);
        return NULL;
    }
    return ref_one(s, st);
}

/* Appends the resource value v names (resolved, or as given) to out, once. */
static void ref_add(gd_store *s, int team, int kind, const char *v, json_t *out)
{
    size_t n = strlen(v);
    if (n == 0 || n > 100 || json_array_size(out) >= GD_AUDIT_MAX_RESOURCES) return;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] <= ' ' || v[i] == 0x7f) return; /* not an id nor a name */
    json_t *r = kind == REF_ID ? ref_by_id(s, team, v) : ref_by_name(s, team, v);
    if (!r) r = kind == REF_ID ? ref_by_name(s, team, v) : ref_by_id(s, team, v);
    if (!r) r = json_pack("{s:s}", kind == REF_ID ? "id" : "name", v);
    if (!r) return; /* not UTF-8 */
    const char *id = json_string_value(json_object_get(r, "id"));
    const char *name = json_string_value(json_object_get(r, "name"));
    size_t i;
    json_t *x;
    json_array_foreach(out, i, x)
    {
        const char *xid = json_string_value(json_object_get(x, "id"));
        const char *xname = json_string_value(json_object_get(x, "name"));
        if ((id && xid && !strcmp(id, xid)) ||
            (!id && !xid && name && xname && !strcmp(name, xname))) {
            json_decref(r);
            return;
        }
    }
    json_array_append_new(out, r);
}

/* Collects the resources named under the reference keys of j (at most 4 levels down). */
static void ref_walk(gd_store *s, int team, const json_t *j, int depth, json_t *out)
{
    if (depth > 4 || j == NULL) return;
    if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) ref_walk(s, team, v, depth + 1, out);
        return;
    }
    if (!json_is_object(j)) return;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)j, key, v)
    {
        if (!strcmp(key, "spec") || !strcmp(key, "status")) continue;
        int kind = ref_kind(key);
        if (kind != REF_NONE && json_is_string(v)) {
            ref_add(s, team, kind, json_string_value(v), out);
        } else if (kind != REF_NONE && json_is_array(v)) {
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e)
            {
                if (json_is_string(e))
                    ref_add(s, team, kind, json_string_value(e), out);
                else
                    ref_walk(s, team, e, depth + 1, out);
            }
        } else if (json_is_object(v) || json_is_array(v)) {
            ref_walk(s, team, v, depth + 1, out);
        }
    }
}

/* The resources a call touched, from its request then its response: a new array. */
static json_t *touched(gd_store *s, int team, const json_t *request, const json_t *response)
{
    json_t *out = json_array();
    ref_walk(s, team, request, 0, out);
    ref_walk(s, team, response, 0, out);
    return out;
}

int gd_store_audit(gd_store *s, double game_t, int team, const char *principal,
                   const char *source_ip, const char *event_name, const json_t *request,
                   const json_t *response, const char *error_code)
{
    if (s == NULL) return GD_EINVAL;
    struct jtext req, resp, res;
    if (jtext_make(&req, request, NULL)) return GD_EINVAL;
    if (jtext_make(&resp, response, NULL)) {
        jtext_free(&req);
        return GD_EINVAL;
    }
    json_t *refs = touched(s, team, request, response);
    if (jtext_make(&res, refs, "[]")) jtext_make(&res, NULL, "[]");
    json_decref(refs);
    char wall[32];
    wall_iso(wall);
    sqlite3_stmt *st = s->st[ST_AUDIT_ADD];
    int err;
    if (sqlite3_bind_double(st, 1, game_t) || bind_str(st, 2, wall) ||
        sqlite3_bind_int(st, 3, team) || bind_str(st, 4, principal) || bind_str(st, 5, source_ip) ||
        bind_str(st, 6, event_name) || bind_jtext(st, 7, &req) || bind_jtext(st, 8, &resp) ||
        bind_str(st, 9, error_code) || bind_jtext(st, 10, &res)) {
        done(st);
        err = db_fail(s, "audit");
    } else {
        err = run(s, st, "audit");
    }
    if (err == 0) s->changes++;
    jtext_free(&req);
    jtext_free(&resp);
    jtext_free(&res);
    return err;
}

void gd_audit_filter_init(gd_audit_filter *f)
{
    memset(f, 0, sizeof *f);
    f->from = -INFINITY;
    f->until = INFINITY;
}

/* The listing statement of mask m (AF_ bits), prepared on its first use. Parameters:
 * ?1 team, ?2 since, ?3 limit, ?4 principal, ?5 event, ?6 resource, ?7 from, ?8 until. */
static sqlite3_stmt *find_stmt(gd_store *s, unsigned m)
{
    if (s->find[m]) return s->find[m];
    char where[1024];
    snprintf(where, sizeof where, "seq > ?2%s%s%s%s%s%s%s%s", (m & AF_TEAM) ? " AND team = ?1" : "",
             (m & AF_PRINCIPAL) ? " AND principal = ?4" : "",
             (m & AF_EVENT) ? " AND event_name = ?5" : "",
             (m & AF_RESOURCE) ? " AND EXISTS (SELECT 1 FROM json_each(audit.resources) r"
                                 " WHERE json_extract(r.value, '$.id') = ?6"
                                 " OR json_extract(r.value, '$.name') = ?6)"
                               : "",
             (m & AF_FROM) ? " AND time >= ?7" : "", (m & AF_UNTIL) ? " AND time < ?8" : "",
             (m & AF_ERRORS_ONLY) ? " AND error_code IS NOT NULL" : "",
             (m & AF_ERRORS_NONE) ? " AND error_code IS NULL" : "");
    char sql[1400];
    if (m & AF_NEWEST)
        snprintf(sql, sizeof sql,
                 "SELECT * FROM (SELECT " AUDIT_COLS " FROM audit WHERE %s ORDER BY seq DESC "
                 "LIMIT ?3) ORDER BY seq",
                 where);
    else
        snprintf(sql, sizeof sql, "SELECT " AUDIT_COLS " FROM audit WHERE %s ORDER BY seq LIMIT ?3",
                 where);
    if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->find[m], NULL) !=
        SQLITE_OK) {
        db_fail(s, "audit_prepare");
        s->find[m] = NULL;
    }
    return s->find[m];
}

json_t *gd_store_audit_find(gd_store *s, const gd_audit_filter *f)
{
    if (s == NULL || f == NULL) return NULL;
    unsigned m = (f->team ? AF_TEAM : 0) | (f->principal ? AF_PRINCIPAL : 0) |
                 (f->event ? AF_EVENT : 0) | (f->resource ? AF_RESOURCE : 0) |
                 (isfinite(f->from) ? AF_FROM : 0) | (isfinite(f->until) ? AF_UNTIL : 0) |
                 (f->errors == GD_AUDIT_ERRORS_ONLY   ? AF_ERRORS_ONLY
                  : f->errors == GD_AUDIT_ERRORS_NONE ? AF_ERRORS_NONE
                                                      : 0) |
                 (f->limit < 0 ? AF_NEWEST : 0);
    /* NaN bounds select nothing, as no time compares with them */
    if (isnan(f->from) || isnan(f->until)) return json_array();
    sqlite3_stmt *st = find_stmt(s, m);
    if (st == NULL) return NULL;
    sqlite3_int64 lim = f->limit < 0 ? -(sqlite3_int64)f->limit : f->limit;
    if (lim == 0 || lim > GD_AUDIT_MAX_ROWS) lim = GD_AUDIT_MAX_ROWS;
    if (((m & AF_TEAM) && sqlite3_bind_int(st, 1, f->team)) ||
        sqlite3_bind_int64(st, 2, f->since) || sqlite3_bind_int64(st, 3, lim) ||
        ((m & AF_PRINCIPAL) && bind_str(st, 4, f->principal)) ||
        ((m & AF_EVENT) && bind_str(st, 5, f->event)) ||
        ((m & AF_RESOURCE) && bind_str(st, 6, f->resource)) ||
        ((m & AF_FROM) && sqlite3_bind_double(st, 7, f->from)) ||
        ((m & AF_UNTIL) && sqlite3_bind_double(st, 8, f->until))) {
        done(st);
        db_fail(s, "audit_find");
        return NULL;
    }
    return collect(s, st, audit_row, "audit_find");
}

json_t *gd_store_audit_list(gd_store *s, int team, int64_t since, int limit)
{
    gd_audit_filter f;
    gd_audit_filter_init(&f);
    f.team = team;
    f.since = since;
    f.limit = limit;
    return gd_store_audit_find(s, &f);
}

int64_t gd_store_audit_count(gd_store *s)
{
    if (s == NULL) return 0;
    sqlite3_stmt *st = s->st[ST_AUDIT_COUNT];
    int64_t n = 0;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    else
        db_fail(s, "audit_count");
    done(st);
    return n;
}

/* ---- score ledger ---- */

int gd_store_ledger_add(gd_store *s, double game_t, int team, const char *source, double points,
                        const char *reason)
{
    if (s == NULL) return GD_EINVAL;
    sqlite3_stmt *st = s->st[ST_LEDGER_ADD];
    if (sqlite3_bind_double(st, 1, game_t) || sqlite3_bind_int(st, 2, team) ||
        bind_str(st, 3, source) || sqlite3_bind_double(st, 4, points) || bind_str(st, 5, reason)) {
        done(st);
        return db_fail(s, "ledger_add");
    }
    int r = run(s, st, "ledger_add");
    if (r == 0) s->changes++;
    return r;
}

uint64_t gd_store_changes(const gd_store *s)
{
    return s ? s->changes : 0;
}

/* Runs a bound "SELECT total(...)" and returns its value (0 on error, logged). */
static double sum(gd_store *s, sqlite3_stmt *st, const char *op)
{
    double v = 0;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        v = sqlite3_column_double(st, 0);
    else
        db_fail(s, op);
    done(st);
    return v;
}

double gd_store_score(gd_store *s, int team)
{
    if (s == NULL) return 0;
    sqlite3_stmt *st = s->st[team ? ST_SCORE_TEAM : ST_SCORE_ALL];
    if (team && sqlite3_bind_int(st, 1, team)) {
        done(st);
        db_fail(s, "score");
        return 0;
    }
    return sum(s, st, "score");
}

double gd_store_score_between(gd_store *s, int team, double t0, double t1)
{
    if (s == NULL) return 0;
    sqlite3_stmt *st = s->st[team ? ST_SCORE_BETWEEN_TEAM : ST_SCORE_BETWEEN_ALL];
    if ((team && sqlite3_bind_int(st, 1, team)) || sqlite3_bind_double(st, 2, t0) ||
        sqlite3_bind_double(st, 3, t1)) {
        done(st);
        db_fail(s, "score_between");
        return 0;
    }
    return sum(s, st, "score_between");
}

json_t *gd_store_ledger_list(gd_store *s, int team, int64_t since, int limit)
{
    if (s == NULL) return NULL;
    sqlite3_stmt *st = bind_range(s, ST_LEDGER_LIST, ST_LEDGER_LIST_NEWEST, team, since, limit);
    if (st == NULL) {
        db_fail(s, "ledger_list");
        return NULL;
    }
    return collect(s, st, ledger_row, "ledger_list");
}

/* ---- key/value ---- */

int gd_store_kv_set(gd_store *s, const char *key, const char *value)
{
    if (s == NULL || key == NULL) return GD_EINVAL;
    sqlite3_stmt *st = s->st[value ? ST_KV_SET : ST_KV_DEL];
    if (bind_str(st, 1, key) || (value && bind_str(st, 2, value))) {
        done(st);
        return db_fail(s, "kv_set");
    }
    return run(s, st, "kv_set");
}

json_t *gd_store_live_types(gd_store *s, int team)
{
    if (s == NULL) return NULL;
    sqlite3_stmt *st = s->st[ST_LIVE_TYPES];
    json_t *o = json_object();
    if (sqlite3_bind_int(st, 1, team) || bind_str(st, 2, gd_inst_state_name(GD_INST_PENDING)) ||
        bind_str(st, 3, gd_inst_state_name(GD_INST_RUNNING))) {
        done(st);
        db_fail(s, "live_types");
        return o;
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        json_object_set_new(o, t ? t : "", json_integer(sqlite3_column_int64(st, 1)));
    }
    if (rc != SQLITE_DONE) db_fail(s, "live_types");
    done(st);
    return o;
}

char *gd_store_kv_get(gd_store *s, const char *key)
{
    if (s == NULL || key == NULL) return NULL;
    sqlite3_stmt *st = s->st[ST_KV_GET];
    char *v = NULL;
    if (bind_str(st, 1, key) == SQLITE_OK) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            const char *t = (const char *)sqlite3_column_text(st, 0);
            if (t) v = gd_strndup(t, (size_t)sqlite3_column_bytes(st, 0));
        } else if (rc != SQLITE_DONE) {
            db_fail(s, "kv_get");
        }
    } else {
        db_fail(s, "kv_get");
    }
    done(st);
    return v;
}
