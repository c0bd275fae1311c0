/* `gameday ctl experiment`: start, stop, list, show and wait for FIS experiments.
 * Every subcommand is one or a few calls of the API's experiment routes; ctl only
 * parses and prints. */
#ifndef GD_CTL_FIS_H
#define GD_CTL_FIS_H

#define GD_CTL_EXPERIMENT_USAGE                                                                    \
    "gameday ctl experiment start TEMPLATE [--wait] | stop ID | list | get ID | wait ID "          \
    "[--timeout SECONDS] [--json]"

/** One command line, parsed. */
typedef struct gd_ctl_exp {
    char sub[8];    /* start, stop, list, get, wait */
    char arg[128];  /* the template (start) or the experiment's id or name */
    int json, wait; /* --json; --wait (start only) */
    double timeout; /* --timeout: wall seconds wait waits (default 600) */
} gd_ctl_exp;

/** Parses the words after `experiment`. 0, or 2 after saying on stderr what was wrong
 *  and the usage. Needs no game. */
int gd_ctl_experiment_args(int argc, char **argv, gd_ctl_exp *x);

/** Runs it against api/token. Returns the exit code: 0; 1 when the API refused (its
 *  error printed) or, for wait, when the experiment ended failed or the timeout passed. */
int gd_ctl_experiment(const char *api, const char *token, const gd_ctl_exp *x);

#endif
