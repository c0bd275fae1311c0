/* The control plane's durable state in SQLite (WAL, synchronous=NORMAL: a crash of
 * the server process loses nothing that was written). Teams, resources (typed
 * records with a desired spec and an observed status), the audit log, the score
 * ledger and a small key/value table. Every function returns 0 or a gd_err; JSON
 * results are new references the caller json_decref()s. One thread only. */
#ifndef GD_STORE_H
#define GD_STORE_H

#include <jansson.h>
#include <stdint.h>

typedef struct gd_store gd_store;

/** Opens (creating if needed) the database at path and its schema. */
int gd_store_open(const char *path, gd_store **out);
void gd_store_close(gd_store *s);
/** Groups many writes into one transaction (nestable: only the outer pair counts). */
int gd_store_begin(gd_store *s);
int gd_store_commit(gd_store *s);

/* ---- teams ---- */
/** Creates or replaces team `team` (1..254) with its name and API token. */
int gd_store_team_put(gd_store *s, int team, const char *name, const char *token);
/** [{"id":1,"name":"team-1","token":"..."}...] ordered by id. */
json_t *gd_store_teams(gd_store *s);
/** The team whose token this is, or 0. */
int gd_store_team_by_token(gd_store *s, const char *token);

/* ---- resources ---- */
/** Creates a resource; its id is "<prefix>-<8 hex digits>" (prefix from the type, see
 *  gd_schema_id_prefix), written into id_out. GD_EEXIST if a live resource of that
 *  team already has that name. spec/status are copied (not stolen); status may be NULL
 *  ({}). created/updated are game seconds. */
int gd_store_res_create(gd_store *s, int team, const char *type, const char *name,
                        const json_t *spec, const json_t *status, double now, char id_out[40]);
int gd_store_res_set_spec(gd_store *s, const char *id, const json_t *spec, double now);
int gd_store_res_set_status(gd_store *s, const char *id, const json_t *status, double now);
/** Marks deleted (the row stays, for history); GD_ENOENT if no live resource has id. */
int gd_store_res_delete(gd_store *s, const char *id, double now);
/** One resource by id, or by name within team (team 0: by id only). NULL if none.
 *  {"id","team","type","name","spec":{},"status":{},"created","updated","deleted":bool} */
json_t *gd_store_res_get(gd_store *s, int team, const char *id_or_name);
/** The same, only if it is not deleted and (type not NULL) of that type; NULL else. */
json_t *gd_store_res_live(gd_store *s, int team, const char *id_or_name, const char *type);
/** Resources of a team (0 = all teams) and type (NULL = all), live only unless
 *  include_deleted, ordered by creation. An array of objects as above. */
json_t *gd_store_res_list(gd_store *s, int team, const char *type, int include_deleted);

/* ---- audit (CloudTrail-like) ---- */
/** The most records one listing returns (page on with since = the last seq). */
#define GD_AUDIT_MAX_ROWS 1000
/** The most resources one record names. */
#define GD_AUDIT_MAX_RESOURCES 16

/** Appends a record. request/response may be NULL; error_code NULL on success. The
 *  resources it touched are found at once in request and response (their instanceId,
 *  id, name, asg, target... values, see doc/api.md) and resolved against the
 *  resources table: each one becomes {"id","name","type"} (what is known of it). */
int gd_store_audit(gd_store *s, double game_t, int team, const char *principal,
                   const char *source_ip, const char *event_name, const json_t *request,
                   const json_t *response, const char *error_code);

/** Which records a listing returns: every condition set holds (AND). Strings are the
 *  caller's and must outlive the call. Zero-initialised plus from/until open (see
 *  gd_audit_filter_init) it selects every record of every team. */
typedef struct gd_audit_filter {
    int team;              /* 0: every team */
    const char *principal; /* exact; NULL: any */
    const char *event;     /* eventName, exact; NULL: any */
    const char *resource;  /* an id or a name among the record's resources; NULL: any */
    double from;           /* eventTime >= from (-INFINITY: no bound) */
    double until;          /* eventTime < until (INFINITY: no bound) */
    int errors;            /* GD_AUDIT_ANY, GD_AUDIT_ERRORS_ONLY or GD_AUDIT_ERRORS_NONE */
    int64_t since;         /* seq > since */
    int limit;             /* at most limit, oldest first; < 0: the newest -limit (still
                              oldest first); 0 or beyond GD_AUDIT_MAX_ROWS: that many */
} gd_audit_filter;

enum { GD_AUDIT_ANY = 0, GD_AUDIT_ERRORS_ONLY = 1, GD_AUDIT_ERRORS_NONE = 2 };

/** Sets f to "everything": no condition, limit 0. */
void gd_audit_filter_init(gd_audit_filter *f);

/** The records f selects, by seq, oldest first (NULL on a database error):
 *  [{"seq","eventTime","eventTimeWall","eventWall","gameTime","team","principal",
 *    "sourceIPAddress","sourceIP","eventName","readOnly","requestParameters",
 *    "responseElements","errorCode","errorMessage","resources":[{"id","name","type"}]}]
 *  eventTime in game seconds, gameTime "HH:MM:SS" of it, eventTimeWall ISO 8601 UTC
 *  to the second (eventWall: with milliseconds). One SQL statement per combination of
 *  conditions, prepared on first use; every value is bound. */
json_t *gd_store_audit_find(gd_store *s, const gd_audit_filter *f);
/** gd_store_audit_find with only team, since and limit. */
json_t *gd_store_audit_list(gd_store *s, int team, int64_t since, int limit);
/** The number of audit records written so far (every team). */
int64_t gd_store_audit_count(gd_store *s);

/* ---- score ledger ---- */
int gd_store_ledger_add(gd_store *s, double game_t, int team, const char *source, double points,
                        const char *reason);
/** How many ledger and audit rows this process has written: a change counter (the
 *  scoreboard stream pushes when it moves). */
uint64_t gd_store_changes(const gd_store *s);
/** Sum of a team's ledger. */
double gd_store_score(gd_store *s, int team);
/** Sum of a team's ledger rows with t0 <= time < t1. */
double gd_store_score_between(gd_store *s, int team, double t0, double t1);
/** Rows with seq > since, oldest first, at most limit; limit < 0 gives the newest -limit
 *  rows (still oldest first): [{"seq","time","team","source","points","reason"}]. */
json_t *gd_store_ledger_list(gd_store *s, int team, int64_t since, int limit);

/** A team's pending and running instances by status.instance_type: {"t3.micro": 3, ...}
 *  (counted by SQLite: no row is parsed). */
json_t *gd_store_live_types(gd_store *s, int team);

/* ---- key/value (game settings, counters) ---- */
int gd_store_kv_set(gd_store *s, const char *key, const char *value);
/** A new string (gd_free it) or NULL when absent. */
char *gd_store_kv_get(gd_store *s, const char *key);

#endif
