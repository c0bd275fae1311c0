/* `gameday ctl experiment`: the FIS experiments of a team from the command line.
 * start and stop are the API's StartExperiment / StopExperiment; list, get and wait
 * read the experiment resources. wait polls the experiment once a second (wall) and
 * prints a line each time its state or one of its actions' changes, so a long
 * experiment shows its progress. */
#include "cli/ctl_fis.h"
#include "cli/http_client.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *S(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "-";
}

static int usage(const char *what, const char *arg)
{
    fprintf(stderr, "gameday ctl experiment: %s%s%s%s\nusage: %s\n", what, arg ? " '" : "",
            arg ? arg : "", arg ? "'" : "", GD_CTL_EXPERIMENT_USAGE);
    return 2;
}

static int api_error(const json_t *j, long status)
{
    if (status == 0) {
        fprintf(stderr, "gameday ctl: the server did not answer (is the game running?)\n");
        return 1;
    }
    const json_t *e = json_object_get(j, "error");
    fprintf(stderr, "gameday ctl: %ld %s: %s\n", status, S(e, "code"), S(e, "message"));
    return 1;
}

static void hms(const json_t *o, const char *k, char *out, size_t n)
{
    const json_t *v = json_object_get(o, k);
    if (json_is_number(v))
        gd_clock_hms(json_number_value(v), out, n);
    else
        snprintf(out, n, "-");
}

static int is_final(const char *state)
{
    return !strcmp(state, "completed") || !strcmp(state, "stopped") || !strcmp(state, "failed");
}

static void print_list(const json_t *list)
{
    printf("%-13s %-22s %-24s %-10s %-9s %s\n", "ID", "NAME", "TEMPLATE", "STATE", "CREATED",
           "REASON");
    size_t i;
    json_t *r;
    json_array_foreach(list, i, r)
    {
        const json_t *st = json_object_get(r, "status");
        char c[32];
        hms(st, "createdTime", c, sizeof c);
        printf("%-13s %-22s %-24s %-10s %-9s %s\n", S(r, "id"), S(r, "name"),
               S(st, "template_name"), S(st, "state"), c, S(st, "reason"));
    }
}

/* One experiment: its state and reason, each action's, and the hypothesis' result. */
static void print_one(const json_t *r)
{
    const json_t *st = json_object_get(r, "status");
    char a[32], b[32];
    hms(st, "startTime", a, sizeof a);
    hms(st, "endTime", b, sizeof b);
    printf("%s (%s) from template %s: %s (%s)\n  started %s  ended %s  (game time)\n", S(r, "id"),
           S(r, "name"), S(st, "template_name"), S(st, "state"), S(st, "reason"), a, b);
    printf("  %-20s %-10s %-9s %-9s %s\n", "ACTION", "STATE", "START", "END", "REASON");
    const char *k;
    json_t *act;
    json_object_foreach(json_object_get(st, "actions"), k, act)
    {
        hms(act, "startTime", a, sizeof a);
        hms(act, "endTime", b, sizeof b);
        printf("  %-20s %-10s %-9s %-9s %s\n", k, S(act, "state"), a, b, S(act, "reason"));
    }
    const json_t *h = json_object_get(st, "hypothesis");
    if (json_object_size(h))
        printf("  steady-state hypothesis: before %s, after %s, result %s\n",
               json_is_true(json_object_get(json_object_get(h, "before"), "passed")) ? "passed"
               : json_object_get(h, "before")                                        ? "failed"
                                                                                     : "-",
               json_is_true(json_object_get(json_object_get(h, "after"), "passed")) ? "passed"
               : json_object_get(h, "after")                                        ? "failed"
                                                                                    : "-",
               S(h, "result"));
}

static void print_json(const json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    printf("%s\n", s ? s : "null");
    free(s);
}

/* "state a:s b:s ..." of an experiment, to see when anything changed. */
static void summary(const json_t *r, gd_buf *b)
{
    const json_t *st = json_object_get(r, "status");
    b->len = 0;
    gd_buf_printf(b, "%s", S(st, "state"));
    const char *k;
    json_t *act;
    json_object_foreach(json_object_get(st, "actions"), k, act)
        gd_buf_printf(b, " %s:%s", k, S(act, "state"));
}

static int wait_for(const char *api, const char *token, const char *id, double timeout, int as_json)
{
    char path[300];
    gd_buf p, seen, now;
    gd_buf_init(&p, 1024);
    gd_buf_init(&seen, 1 << 16);
    gd_buf_init(&now, 1 << 16);
    gd_http_urlencode(&p, id, strlen(id));
    snprintf(path, sizeof path, "/api/v1/resources/%.*s", (int)p.len, p.data);
    gd_buf_free(&p);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = 1;
    for (;;) {
        long status = 0;
        json_t *r = gd_cli_call("GET", api, path, token, NULL, &status);
        if (status != 200) {
            rc = api_error(r, status);
            json_decref(r);
            break;
        }
        const json_t *st = json_object_get(r, "status");
        summary(r, &now);
        if (!as_json &&
            (!seen.len || seen.len != now.len || memcmp(seen.data, now.data, now.len))) {
            char c[32];
            gd_clock_hms(json_number_value(json_object_get(r, "updated")), c, sizeof c);
            printf("%s %s: %.*s (%s)\n", c, id, (int)now.len, now.data, S(st, "reason"));
            fflush(stdout);
            seen.len = 0;
            gd_buf_append(&seen, now.data, now.len);
        }
        if (is_final(S(st, "state"))) {
            if (as_json)
                print_json(r);
            else
                print_one(r);
            rc = strcmp(S(st, "state"), "failed") == 0;
            json_decref(r);
            break;
        }
        json_decref(r);
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if ((double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9 > timeout) {
            fprintf(stderr, "gameday ctl experiment wait: %s has not ended after %.0f s\n", id,
                    timeout);
            break;
        }
        struct timespec one = {1, 0};
        nanosleep(&one, NULL); /* a poll of the API, not a synchronisation */
    }
    gd_buf_free(&seen);
    gd_buf_free(&now);
    return rc;
}

int gd_ctl_experiment_args(int argc, char **argv, gd_ctl_exp *x)
{
    memset(x, 0, sizeof *x);
    x->timeout = 600;
    const char *words[2] = {NULL, NULL};
    int nw = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            x->json = 1;
        else if (!strcmp(argv[i], "--wait"))
            x->wait = 1;
        else if (!strcmp(argv[i], "--timeout")) {
            char *end = NULL;
            if (i + 1 >= argc) return usage("--timeout needs a number of seconds", NULL);
            x->timeout = strtod(argv[++i], &end);
            if (!end || *end || end == argv[i] || !(x->timeout > 0))
                return usage("--timeout: expected seconds > 0, got", argv[i]);
        } else if (argv[i][0] == '-')
            return usage("unknown option", argv[i]);
        else if (nw < 2)
            words[nw++] = argv[i];
        else
            return usage("too many arguments at", argv[i]);
    }
    if (nw == 0) return usage("missing a subcommand (start, stop, list, get, wait)", NULL);
    const char *sub = words[0], *arg = words[1];
    if (strcmp(sub, "start") && strcmp(sub, "stop") && strcmp(sub, "list") && strcmp(sub, "get") &&
        strcmp(sub, "wait"))
        return usage("unknown subcommand (allowed: start, stop, list, get, wait)", sub);
    int needs = strcmp(sub, "list") != 0;
    if (needs && !arg)
        return usage(!strcmp(sub, "start") ? "start needs a TEMPLATE" : "needs an ID", NULL);
    if (!needs && arg) return usage("list takes no argument, got", arg);
    if (x->wait && strcmp(sub, "start")) return usage("--wait goes with start", NULL);
    if (arg && strlen(arg) >= sizeof x->arg) return usage("name too long", arg);
    snprintf(x->sub, sizeof x->sub, "%s", sub);
    if (arg) snprintf(x->arg, sizeof x->arg, "%s", arg);
    return 0;
}

int gd_ctl_experiment(const char *api, const char *token, const gd_ctl_exp *x)
{
    const char *sub = x->sub, *arg = x->arg[0] ? x->arg : NULL;
    int as_json = x->json, wait = x->wait;
    double timeout = x->timeout;
    if (!strcmp(sub, "wait")) return wait_for(api, token, arg, timeout, as_json);

    gd_buf enc;
    gd_buf_init(&enc, 1024);
    if (arg) gd_http_urlencode(&enc, arg, strlen(arg));
    char path[300];
    const char *method = "GET";
    if (!strcmp(sub, "start")) {
        method = "POST";
        snprintf(path, sizeof path, "/api/v1/experiment_templates/%.*s/start", (int)enc.len,
                 enc.data);
    } else if (!strcmp(sub, "stop")) {
        method = "POST";
        snprintf(path, sizeof path, "/api/v1/experiments/%.*s/stop", (int)enc.len, enc.data);
    } else if (!strcmp(sub, "get")) {
        snprintf(path, sizeof path, "/api/v1/resources/%.*s", (int)enc.len, enc.data);
    } else {
        snprintf(path, sizeof path, "/api/v1/resources?type=experiment");
    }
    gd_buf_free(&enc);
    long status = 0;
    json_t *j = gd_cli_call(method, api, path, token, NULL, &status);
    if (status < 200 || status >= 300) {
        int rc = api_error(j, status);
        json_decref(j);
        return rc;
    }
    if (!strcmp(sub, "get") && strcmp(S(j, "type"), "experiment") != 0) {
        fprintf(stderr, "gameday ctl experiment get: '%s' is a %s, not an experiment\n", arg,
                S(j, "type"));
        json_decref(j);
        return 1;
    }
    int rc = 0;
    if (!strcmp(sub, "start") && wait) {
        char id[64];
        snprintf(id, sizeof id, "%s", S(j, "id"));
        if (!as_json) printf("%s started from template %s\n", id, arg);
        rc = wait_for(api, token, id, timeout, as_json);
    } else if (as_json)
        print_json(j);
    else if (!strcmp(sub, "list"))
        print_list(j);
    else if (!strcmp(sub, "start") || !strcmp(sub, "stop")) {
        const json_t *st = json_object_get(j, "status");
        printf("%s %s: %s (%s)\n", S(j, "id"), !strcmp(sub, "start") ? "started" : "stopping",
               S(st, "state"), S(st, "reason"));
    } else
        print_one(j);
    json_decref(j);
    return rc;
}
