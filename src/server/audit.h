/* The audit trail's query grammar: the parameters of GET /api/v1/audit (principal,
 * event, resource, from, to, errors, since, limit, team) as a gd_audit_filter for the
 * store. Pure: no store, no game; every refusal says which parameter, what it was and
 * what is allowed. */
#ifndef GD_AUDIT_H
#define GD_AUDIT_H

#include "server/store.h"

#include <stddef.h>

/** The records one listing returns when limit= is absent. */
#define GD_AUDIT_DEFAULT_LIMIT 500
/** The longest principal= and event= values, and resource= (an id or a name). */
#define GD_AUDIT_NAME_MAX 64
#define GD_AUDIT_RESOURCE_MAX 100

/** A parsed query: the filter, and the texts its string conditions point into. */
typedef struct gd_audit_query {
    gd_audit_filter f; /* f.team is 0: the caller sets it from who asks */
    char principal[GD_AUDIT_NAME_MAX + 1];
    char event[GD_AUDIT_NAME_MAX + 1];
    char resource[GD_AUDIT_RESOURCE_MAX + 1];
} gd_audit_query;

/** Parses a query string (the bytes after '?'; NULL or empty: no parameter) into q.
 *  Each parameter may appear once; team= must be a team number (authentication reads
 *  its value). from/to take game seconds or HH:MM:SS (to= HH:MM:SS includes that
 *  whole second), errors only|none, since a seq (0 or more), limit -1000..1000
 *  (default GD_AUDIT_DEFAULT_LIMIT; 0: GD_AUDIT_MAX_ROWS; negative: the newest).
 *  0, or -1 with the reason in err (e.g. "from: expected game seconds or HH:MM:SS,
 *  got 'x'"); q is then unusable. */
int gd_audit_query_parse(gd_audit_query *q, const char *query, size_t qlen, char *err,
                         size_t errlen);

/** A game time: seconds (digits with at most one '.') or [H]H:MM:SS (minutes and
 *  seconds below 60). 0 for seconds, 1 for a clock time, -1 when it is neither. */
int gd_audit_parse_time(const char *s, double *out);

#endif
