/* `gameday ctl audit` (the audit trail as a table, filtered) and `gameday ctl trail`
 * (who terminated or changed one resource, then its history): their options, the
 * GET /api/v1/audit they make, and how its records are printed. */
#ifndef GD_CTL_AUDIT_H
#define GD_CTL_AUDIT_H

#include <jansson.h>

/** The usage lines of the two commands. */
#define GD_CTL_AUDIT_USAGE                                                                         \
    "gameday ctl audit [--principal P] [--event E] [--resource R] [--from T] [--to T] "            \
    "[--errors only|none] [--limit N] [--team N] [--json]"
#define GD_CTL_TRAIL_USAGE "gameday ctl trail --who ID|NAME [--team N] [--json]"

/** One command line of either command, parsed. */
typedef struct gd_ctl_audit {
    int trail;       /* 0: audit, 1: trail */
    int json;        /* --json: the API's records as they are */
    char who[128];   /* trail: the resource asked about */
    char path[2048]; /* the API path to GET, query included (values percent-encoded) */
} gd_ctl_audit;

/** Parses the words after the command name (`audit` or `trail`). 0, or 2 after saying
 *  on stderr what was wrong and the command's usage (an unknown option, a missing
 *  value, an argument neither takes, trail without --who). Needs no game. */
int gd_ctl_audit_args(const char *cmd, int argc, char **argv, gd_ctl_audit *a);

/** Prints the answer (the array of records GET a->path returned) as a's command does
 *  and returns the exit code: 0, or 1 when trail found no record naming its resource
 *  (with a message on stderr). */
int gd_ctl_audit_print(const gd_ctl_audit *a, json_t *records);

#endif
