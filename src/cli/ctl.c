/* `gameday ctl`: look around and act on a running game through its API. Tables for
 * people, --json for scripts. Finds the game from --api/--token, GAMEDAY_API and
 * GAMEDAY_TOKEN, or the newest var/<game>/game.json (the first team's token). */
#include "cli/ctl_audit.h"
#include "cli/ctl_fis.h"
#include "cli/http_client.h"
#include "cli/roles.h"
#include "cli/suggest.h"
#include "core/clock.h"
#include "core/conf.h"
#include "core/hash.h"
#include "core/mem.h"
#include "model/scenario.h"
#include "model/stat.h"

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *S(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "-";
}

static double N(json_t *o, const char *k)
{
    return json_number_value(json_object_get(o, k));
}

/* The commands: name, arguments (optional ones in brackets), what it does, and how many
 * arguments it takes (max -1: any number; extra ones are ignored, as they always were). */
static const struct ctl_cmd {
    const char *name, *args, *help;
    int min, max;
} cmds[] = {
    {"status", "", "game clock, rate, latency, score, bill", 0, -1},
    {"instances", "", "instances, their address, state and health", 0, -1},
    {"resources", "[TYPE]", "every resource (vpc, subnet, asg, alb, cdn...)", 0, -1},
    {"get", "NAME|ID", "one resource, spec and status", 1, 1},
    {"scale", "NAME COUNT",
     "set an autoscaling group's desired capacity, or an ECS service's desired count", 2, 2},
    {"failover", "NAME", "fail a cache cluster's primary over to a replica (TestFailover)", 1, 1},
    {"invalidate", "CDN PATH...",
     "remove a cdn's cached objects by path ('/a.html', '/img/*'): CreateInvalidation", 2, -1},
    {"terminate", "ID|NAME [--force]", "terminate an instance (--force: SIGKILL)", 1, -1},
    {"stop", "ID|NAME", "stop an instance (not billed; keeps its address)", 1, 1},
    {"start", "ID|NAME", "start a stopped instance (it boots again, as its instance_type)", 1, 1},
    {"create", "TYPE NAME [k=v...]", "create a resource (values are JSON or plain strings)", 2, -1},
    {"update", "NAME k=v [k=v...]", "change fields of a resource's spec", 2, -1},
    {"delete", "NAME|ID", "delete a resource (an instance is terminated)", 1, 1},
    {"metrics", "NAME [METRIC]",
     "latest metrics, or a metric's datapoints; --statistic S --period P --window W: per "
     "period",
     1, 2},
    {"endpoint", "[NAME]", "where the team's customers go; with NAME, point them there", 0, 1},
    {"score", "", "the team's score", 0, -1},
    {"bill", "", "the bill so far, by line and by resource", 0, 0},
    {"events", "", "score events: time, source, points, reason", 0, -1},
    {"audit", "[FILTERS]",
     "the audit trail, newest 200: who did what; --principal P --event E --resource R "
     "--from T --to T --errors only|none --limit N",
     0, -1},
    {"trail", "--who ID|NAME", "who terminated or changed a resource, then its history", 1, -1},
    {"experiment", "SUBCOMMAND",
     "FIS experiments: start TEMPLATE [--wait], stop ID, list, get ID, wait ID", 1, -1},
    {"game", "ACT [ARGS]",
     "the instructor (admin token): pause, resume, extend DURATION, end, say TEXT..., "
     "trigger EVENT-INDEX | trigger ACTION [TARGET] [k=v...]",
     1, -1},
    {"help", "", "this list (also --help, -h)", 0, -1},
};
#define NCMDS (sizeof cmds / sizeof cmds[0])

static int usage(int rc)
{
    FILE *f = rc ? stderr : stdout;
    fprintf(f, "usage: gameday ctl [--api URL] [--token T] [--game DIR] [--json] COMMAND [ARGS]\n"
               "commands:\n");
    for (size_t i = 0; i < NCMDS; i++) {
        char head[40];
        snprintf(head, sizeof head, "%s %s", cmds[i].name, cmds[i].args);
        fprintf(f, "  %-28s %s\n", head, cmds[i].help);
    }
    fprintf(f,
            "The game is found from --api/--token, GAMEDAY_API and GAMEDAY_TOKEN, or the newest\n"
            "var/<game>/game.json. --json prints the API's answer as it is. See doc/cli.md.\n");
    return rc;
}

static const struct ctl_cmd *find_cmd(const char *name)
{
    for (size_t i = 0; i < NCMDS; i++)
        if (!strcmp(cmds[i].name, name)) return &cmds[i];
    return NULL;
}

static int unknown_cmd(const char *name)
{
    const char *names[NCMDS];
    for (size_t i = 0; i < NCMDS; i++) names[i] = cmds[i].name;
    const char *near = gd_suggest(name, names, NCMDS);
    if (near)
        fprintf(stderr, "gameday ctl: unknown command '%s'; did you mean '%s'?\n", name, near);
    else
        fprintf(stderr, "gameday ctl: unknown command '%s'\n", name);
    return usage(2);
}

/* Checks the number of arguments of c; on a mismatch says which argument is missing
 * (or which one is too many) and the command's usage, and returns 2. */
static int check_args(const struct ctl_cmd *c, int nargs, char **args)
{
    if (nargs >= c->min && (c->max < 0 || nargs <= c->max)) return 0;
    if (nargs < c->min) {
        /* the (nargs+1)-th word of the argument list names what is missing */
        const char *w = c->args;
        for (int k = 0; k < nargs && w; k++) {
            w = strchr(w, ' ');
            if (w) w++;
        }
        int len = w ? (int)strcspn(w, " ") : 0;
        fprintf(stderr, "gameday ctl %s: missing argument %.*s (usage: gameday ctl %s %s)\n",
                c->name, len, w ? w : "", c->name, c->args);
    } else {
        fprintf(stderr, "gameday ctl %s: unexpected argument '%s' (usage: gameday ctl %s %s)\n",
                c->name, args[c->max], c->name, c->args);
    }
    return 2;
}

/* Finds api and token from flags, the environment, or the newest game.json. */
/* The instructor's acts (ctl game) take the admin token from game.json. */
static int want_admin;

static int locate(const char **api, const char **token, const char *gamedir, char *apibuf,
                  char *tokbuf)
{
    if (!*api) *api = getenv("GAMEDAY_API");
    if (!*token) *token = getenv("GAMEDAY_TOKEN");
    if (*api && *token) return 0;
    char path[4096] = "";
    if (gamedir) {
        snprintf(path, sizeof path, "%s/game.json", gamedir);
    } else {
        glob_t gl;
        if (glob("var/*/game.json", 0, NULL, &gl) == 0) {
            time_t best = 0;
            for (size_t i = 0; i < gl.gl_pathc; i++) {
                struct stat st;
                if (stat(gl.gl_pathv[i], &st) == 0 && st.st_mtime >= best) {
                    best = st.st_mtime;
                    snprintf(path, sizeof path, "%s", gl.gl_pathv[i]);
                }
            }
            globfree(&gl);
        }
    }
    json_t *g = path[0] ? json_load_file(path, 0, NULL) : NULL;
    if (!g) {
        fprintf(stderr, "gameday ctl: no game found: start one with 'gameday play', or give "
                        "--api URL --token T (or GAMEDAY_API, GAMEDAY_TOKEN)\n");
        return -1;
    }
    if (!*api) {
        snprintf(apibuf, 128, "%s", S(g, "api"));
        *api = apibuf;
    }
    if (!*token) {
        snprintf(tokbuf, 128, "%s",
                 want_admin ? S(g, "admin_token")
                            : S(json_array_get(json_object_get(g, "teams"), 0), "token"));
        *token = tokbuf;
    }
    json_decref(g);
    return 0;
}

/* Turns k=v arguments into a JSON object; values parse as JSON when they can. */
static json_t *kv_args(int argc, char **argv)
{
    json_t *o = json_object();
    for (int i = 0; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) {
            fprintf(stderr, "gameday ctl: '%s': expected field=value\n", argv[i]);
            json_decref(o);
            return NULL;
        }
        *eq = 0;
        json_t *v = json_loads(eq + 1, JSON_DECODE_ANY, NULL);
        if (!v) v = json_string(eq + 1);
        json_object_set_new(o, argv[i], v);
        *eq = '=';
    }
    return o;
}

static int show_error(json_t *j, long status)
{
    json_t *e = json_object_get(j, "error");
    if (status == 0) {
        fprintf(stderr, "gameday ctl: the server did not answer (is the game running?)\n");
        return 1;
    }
    fprintf(stderr, "gameday ctl: %ld %s: %s\n", status, S(e, "code"), S(e, "message"));
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(e, "errors"), i,
                       m) if (i > 0 || json_array_size(json_object_get(e, "errors")) > 1)
        fprintf(stderr, "  %s\n", json_string_value(m));
    return 1;
}

static void print_instances(json_t *list)
{
    printf("%-13s %-22s %-16s %-10s %-13s %-10s %-12s %s\n", "ID", "NAME", "ADDRESS", "TYPE",
           "STATE", "AZ", "HEALTH", "REASON");
    size_t i;
    json_t *r;
    json_array_foreach(list, i, r)
    {
        json_t *st = json_object_get(r, "status");
        char addr[40];
        snprintf(addr, sizeof addr, "%s:%d", S(st, "ip"), (int)N(st, "port"));
        printf("%-13s %-22s %-16s %-10s %-13s %-10s %-12s %s\n", S(r, "id"), S(r, "name"), addr,
               S(st, "instance_type"), S(st, "state"), S(st, "az"), S(st, "health"),
               json_object_get(st, "reason") ? S(st, "reason") : "");
    }
}

static void print_resources(json_t *list)
{
    printf("%-16s %-16s %-18s %s\n", "ID", "TYPE", "NAME", "SPEC");
    size_t i;
    json_t *r;
    json_array_foreach(list, i, r)
    {
        char *spec = json_dumps(json_object_get(r, "spec"), JSON_COMPACT | JSON_SORT_KEYS);
        printf("%-16s %-16s %-18s %s\n", S(r, "id"), S(r, "type"), S(r, "name"), spec ? spec : "");
        free(spec);
    }
}

static void print_events(json_t *list)
{
    printf("%-9s %-14s %10s  %s\n", "TIME", "SOURCE", "POINTS", "REASON");
    size_t i;
    json_t *r;
    json_array_foreach(list, i, r)
    {
        char t[32];
        gd_clock_hms(N(r, "time"), t, sizeof t);
        printf("%-9s %-14s %+10.1f  %s\n", t, S(r, "source"), N(r, "points"), S(r, "reason"));
    }
}

static void print_bill(json_t *b)
{
    printf("team-%lld bill $%.2f (list prices x%g) = %.0f points, %.1f%% of the %.0f points "
           "earned\n",
           (long long)json_integer_value(json_object_get(b, "team")), N(b, "total_usd"),
           N(b, "multiplier"), N(b, "points"), 100 * N(b, "share_of_earnings"),
           N(b, "score") - N(b, "points"));
    printf("\n%-34s %12s %-15s %10s\n", "LINE", "QUANTITY", "UNIT", "USD");
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(b, "by_line"), i, r) printf(
        "%-34s %12.3f %-15s %10.2f\n", S(r, "line"), N(r, "quantity"), S(r, "unit"), N(r, "usd"));
    printf("\n%-24s %-16s %-14s %10s\n", "RESOURCE", "TYPE", "ID", "USD");
    json_array_foreach(json_object_get(b, "by_resource"), i, r) printf(
        "%-24s %-16s %-14s %10.2f\n", S(r, "name"), S(r, "type"), S(r, "resource"), N(r, "usd"));
}

/* One metric's datapoints ([[time, value], ...]) as a table, one period a row, oldest
 * first, like `aws cloudwatch get-metric-statistics --output table`. */
static void print_datapoints(const char *metric, json_t *list)
{
    const char *stat, *unit;
    gd_metric_kind(metric, &stat, &unit);
    printf("%-9s %14s  %-10s %s\n", "TIME", "VALUE", "STATISTIC", "UNIT");
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p)
    {
        char t[32];
        gd_clock_hms(json_number_value(json_array_get(p, 0)), t, sizeof t);
        printf("%-9s %14.6g  %-10s %s\n", t, json_number_value(json_array_get(p, 1)), stat, unit);
    }
    if (json_array_size(list) == 0)
        fprintf(stderr,
                "gameday ctl metrics: no datapoints of %s yet ('gameday ctl metrics "
                "NAME' lists the metrics the resource has)\n",
                metric);
}

/* GetMetricStatistics' answer as a table: one period a row, oldest first. */
static void print_statistics(json_t *j)
{
    const char *stat = S(j, "Statistic");
    printf("%-9s %14s  %-11s %7s  %s\n", "TIME", "VALUE", "STATISTIC", "SAMPLES", "UNIT");
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(j, "Datapoints"), i, p)
    {
        char t[32];
        gd_clock_hms(N(p, "Timestamp"), t, sizeof t);
        printf("%-9s %14.6g  %-11s %7lld  %s\n", t, N(p, stat), stat,
               (long long)json_integer_value(json_object_get(p, "SampleCount")), S(p, "Unit"));
    }
    if (json_array_size(json_object_get(j, "Datapoints")) == 0)
        fprintf(stderr, "gameday ctl metrics: no datapoints of %s in the window\n", S(j, "Label"));
}

int gd_cmd_ctl(int argc, char **argv)
{
    const char *api = NULL, *token = NULL, *gamedir = NULL;
    int as_json = 0, i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--json"))
            as_json = 1;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return usage(0);
        else if (!strcmp(argv[i], "--api") || !strcmp(argv[i], "--token") ||
                 !strcmp(argv[i], "--game")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "gameday ctl: option %s needs a value\n", argv[i]);
                return usage(2);
            }
            const char **dst = argv[i][2] == 'a' ? &api : argv[i][2] == 't' ? &token : &gamedir;
            *dst = argv[++i];
        } else {
            fprintf(stderr, "gameday ctl: unknown option '%s'\n", argv[i]);
            return usage(2);
        }
    }
    if (i >= argc) {
        fprintf(stderr, "gameday ctl: missing COMMAND\n");
        return usage(2);
    }
    const char *cmd = argv[i++];
    const struct ctl_cmd *cc = find_cmd(cmd);
    if (cc == NULL) return unknown_cmd(cmd);
    if (!strcmp(cmd, "help")) return usage(0);
    if (!strcmp(cmd, "audit") || !strcmp(cmd, "trail")) { /* their own options: ctl_audit.c */
        gd_ctl_audit a;
        int rc = gd_ctl_audit_args(cmd, argc - i, argv + i, &a);
        if (rc) return rc;
        char apib[128], tokb[128];
        if (locate(&api, &token, gamedir, apib, tokb) < 0) return 1;
        long st = 0;
        json_t *j = gd_cli_call("GET", api, a.path, token, NULL, &st);
        a.json |= as_json;
        rc = st >= 200 && st < 300 ? gd_ctl_audit_print(&a, j) : show_error(j, st);
        json_decref(j);
        return rc;
    }
    if (!strcmp(cmd, "experiment")) { /* its own subcommands: ctl_fis.c */
        gd_ctl_exp x;
        int rc = gd_ctl_experiment_args(argc - i, argv + i, &x);
        if (rc) return rc;
        x.json |= as_json;
        char apib[128], tokb[128];
        if (locate(&api, &token, gamedir, apib, tokb) < 0) return 1;
        return gd_ctl_experiment(api, token, &x);
    }
    /* --json may also follow the command. */
    int nargs = 0;
    char *args[32];
    /* metrics' options: statistics per period, as get-metric-statistics */
    const char *m_stat = NULL, *m_period = NULL, *m_window = NULL;
    for (; i < argc && nargs < 32; i++) {
        const char **opt = NULL;
        if (!strcmp(cmd, "metrics"))
            opt = !strcmp(argv[i], "--statistic") ? &m_stat
                  : !strcmp(argv[i], "--period")  ? &m_period
                  : !strcmp(argv[i], "--window")  ? &m_window
                                                  : NULL;
        if (opt) {
            if (i + 1 >= argc) {
                fprintf(stderr, "gameday ctl metrics: %s needs a value\n", argv[i]);
                return 2;
            }
            *opt = argv[++i];
        } else if (!strcmp(argv[i], "--json"))
            as_json = 1;
        else
            args[nargs++] = argv[i];
    }
    if (check_args(cc, nargs, args)) return 2;
    if (!strcmp(cmd, "scale")) {
        char *end;
        long n = strtol(args[1], &end, 10);
        if (*end || n < 0 || end == args[1]) {
            fprintf(stderr, "gameday ctl scale: '%s' is not a count (allowed: 0 or more)\n",
                    args[1]);
            return 2;
        }
    }
    char apibuf[128], tokbuf[128];
    want_admin = !strcmp(cmd, "game");
    if (locate(&api, &token, gamedir, apibuf, tokbuf) < 0) return 1;
    const char *method = "GET";
    char path[512];
    json_t *body = NULL;
    enum { RAW, INSTANCES, RESOURCES, EVENTS, STATUS, SCORE, BILL, METRICS, STATISTICS } kind = RAW;
    if (!strcmp(cmd, "status")) {
        snprintf(path, sizeof path, "/api/v1/status");
        kind = STATUS;
    } else if (!strcmp(cmd, "instances")) {
        snprintf(path, sizeof path, "/api/v1/instances");
        kind = INSTANCES;
    } else if (!strcmp(cmd, "resources")) {
        snprintf(path, sizeof path, "/api/v1/resources%s%s", nargs ? "?type=" : "",
                 nargs ? args[0] : "");
        kind = RESOURCES;
    } else if (!strcmp(cmd, "get")) {
        snprintf(path, sizeof path, "/api/v1/resources/%s", args[0]);
    } else if (!strcmp(cmd, "scale")) {
        long n = strtol(args[1], NULL, 10);
        method = "POST";
        snprintf(path, sizeof path, "/api/v1/asgs/%s/scale", args[0]);
        body = json_pack("{s:i}", "desired", (int)n);
    } else if (!strcmp(cmd, "game")) {
        const char *act = args[0];
        method = "POST";
        if (!strcmp(act, "say")) {
            char text[600] = "";
            for (int a = 1; a < nargs; a++)
                snprintf(text + strlen(text), sizeof text - strlen(text), "%s%s", a > 1 ? " " : "",
                         args[a]);
            body = json_pack("{s:s}", "text", text);
            act = "message";
        } else if (!strcmp(act, "extend")) {
            if (nargs < 2) {
                fprintf(stderr, "gameday ctl game extend: missing DURATION (e.g. 10m)\n");
                return 2;
            }
            body = json_pack("{s:s}", "by", args[1]);
        } else if (!strcmp(act, "trigger")) {
            char *end = NULL;
            long ev = nargs >= 2 ? strtol(args[1], &end, 10) : -1;
            if (nargs < 2) {
                fprintf(stderr, "gameday ctl game trigger: missing EVENT-INDEX or ACTION\n");
                return 2;
            }
            if (end && !*end && ev >= 0) {
                body = json_pack("{s:i}", "event", (int)ev);
            } else {
                body = kv_args(nargs > 3 ? nargs - 3 : 0, args + 3);
                if (!body) return 2;
                json_object_set_new(body, "action", json_string(args[1]));
                if (nargs > 2) json_object_set_new(body, "target", json_string(args[2]));
            }
        } else if (strcmp(act, "pause") && strcmp(act, "resume") && strcmp(act, "end")) {
            fprintf(stderr,
                    "gameday ctl game: unknown act '%s' (allowed: pause, resume, extend, end, "
                    "say, trigger)\n",
                    act);
            return 2;
        }
        snprintf(path, sizeof path, "/api/v1/game/%s", act);
    } else if (!strcmp(cmd, "failover")) {
        method = "POST";
        snprintf(path, sizeof path, "/api/v1/cache_clusters/%s/failover", args[0]);
    } else if (!strcmp(cmd, "invalidate")) {
        method = "POST";
        snprintf(path, sizeof path, "/api/v1/cdns/%s/invalidations", args[0]);
        json_t *paths = json_array();
        for (int a = 1; a < nargs; a++) json_array_append_new(paths, json_string(args[a]));
        body = json_pack("{s:o}", "paths", paths);
    } else if (!strcmp(cmd, "terminate")) {
        method = "POST";
        snprintf(path, sizeof path, "/api/v1/instances/%s/terminate", args[0]);
        body = json_pack("{s:b}", "force", nargs > 1 && !strcmp(args[1], "--force"));
    } else if (!strcmp(cmd, "stop") || !strcmp(cmd, "start")) {
        method = "POST";
        snprintf(path, sizeof path, "/api/v1/instances/%s/%s", args[0], cmd);
    } else if (!strcmp(cmd, "create")) {
        json_t *spec = kv_args(nargs - 2, args + 2);
        if (!spec) return 2;
        method = "POST";
        snprintf(path, sizeof path, "/api/v1/resources");
        body = json_pack("{s:s,s:s,s:o}", "type", args[0], "name", args[1], "spec", spec);
    } else if (!strcmp(cmd, "update")) {
        json_t *spec = kv_args(nargs - 1, args + 1);
        if (!spec) return 2;
        method = "PATCH";
        snprintf(path, sizeof path, "/api/v1/resources/%s", args[0]);
        body = json_pack("{s:o}", "spec", spec);
    } else if (!strcmp(cmd, "delete")) {
        method = "DELETE";
        snprintf(path, sizeof path, "/api/v1/resources/%s", args[0]);
    } else if (!strcmp(cmd, "metrics")) {
        snprintf(path, sizeof path, "/api/v1/metrics?resource=%s%s%s", args[0],
                 nargs == 2 ? "&metric=" : "", nargs == 2 ? args[1] : "");
        if (nargs == 2) kind = METRICS;
        if ((m_stat || m_period || m_window) && nargs < 2) {
            fprintf(stderr, "gameday ctl metrics: --statistic, --period and --window need a "
                            "METRIC (gameday ctl metrics NAME METRIC --statistic Average)\n");
            return 2;
        }
        if (nargs == 2 && (m_stat || m_period || m_window)) {
            double p = 60, w = 3600;
            if ((m_period && gd_duration_parse(m_period, &p) < 0) ||
                (m_window && gd_duration_parse(m_window, &w) < 0)) {
                fprintf(stderr, "gameday ctl metrics: --period and --window take a duration "
                                "(60, 5m, 1h)\n");
                return 2;
            }
            size_t l = strlen(path);
            snprintf(path + l, sizeof path - l, "&statistic=%s&period=%.0f&window=%.0f",
                     m_stat ? m_stat : "", p, w);
            kind = STATISTICS;
        }
    } else if (!strcmp(cmd, "endpoint")) {
        snprintf(path, sizeof path, "/api/v1/endpoint");
        if (nargs == 1) {
            method = "POST";
            body = json_pack("{s:s}", "name", args[0]);
        }
    } else if (!strcmp(cmd, "score")) {
        snprintf(path, sizeof path, "/api/v1/score");
        kind = SCORE;
    } else if (!strcmp(cmd, "bill")) {
        snprintf(path, sizeof path, "/api/v1/bill");
        kind = BILL;
    } else if (!strcmp(cmd, "events")) {
        snprintf(path, sizeof path, "/api/v1/score/events?limit=-100");
        kind = EVENTS;
    } else {
        return usage(2);
    }
    long status = 0;
    json_t *j = gd_cli_call(method, api, path, token, body, &status);
    json_decref(body);
    if (status < 200 || status >= 300) {
        int rc = show_error(j, status);
        json_decref(j);
        return rc;
    }
    if (as_json || kind == RAW) {
        char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
        printf("%s\n", s ? s : "null");
        free(s);
    } else if (kind == INSTANCES) {
        print_instances(j);
    } else if (kind == RESOURCES) {
        print_resources(j);
    } else if (kind == EVENTS) {
        print_events(j);
    } else if (kind == METRICS) {
        print_datapoints(args[1], j);
    } else if (kind == STATISTICS) {
        print_statistics(j);
    } else if (kind == BILL) {
        print_bill(j);
    } else if (kind == SCORE) {
        printf("team-%lld score %.1f\n", (long long)json_integer_value(json_object_get(j, "team")),
               N(j, "score"));
    } else if (kind == STATUS) {
        char c[32], d[32];
        gd_clock_hms(N(j, "clock"), c, sizeof c);
        gd_clock_hms(N(j, "duration"), d, sizeof d);
        printf("%s  %s / %s  x%g  %s\n", S(j, "title"), c, d, N(j, "speed"), S(j, "state"));
        size_t k;
        json_t *t;
        json_array_foreach(json_object_get(j, "teams"), k, t)
        {
            printf(
                "team-%lld  endpoint %s  rps %.1f  p50 %.0f ms  p99 %.0f ms  ok %lld  errors %lld"
                "  timeouts %lld  wrong %lld  score %.0f  spent $%.2f  instances %lld",
                (long long)json_integer_value(json_object_get(t, "id")), S(t, "endpoint"),
                N(t, "rps"), N(t, "p50_ms"), N(t, "p99_ms"),
                (long long)json_integer_value(json_object_get(t, "ok")),
                (long long)json_integer_value(json_object_get(t, "errors")),
                (long long)json_integer_value(json_object_get(t, "timeouts")),
                (long long)json_integer_value(json_object_get(t, "wrong")), N(t, "score"),
                N(t, "cost_usd"), (long long)json_integer_value(json_object_get(t, "instances")));
            if (json_object_get(t, "checkouts")) /* MyClothes.com's shoppers */
                printf("  checkouts %lld  carts lost %lld  items lost %lld  checkouts failed %lld",
                       (long long)json_integer_value(json_object_get(t, "checkouts")),
                       (long long)json_integer_value(json_object_get(t, "carts_lost")),
                       (long long)json_integer_value(json_object_get(t, "items_lost")),
                       (long long)json_integer_value(json_object_get(t, "checkouts_failed")));
            printf("\n");
        }
    }
    json_decref(j);
    return 0;
}

int gd_cmd_hash(int argc, char **argv)
{
    const char *key = NULL, *scen = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--scenario") && i + 1 < argc)
            scen = argv[++i];
        else if (!strcmp(argv[i], "--help")) {
            printf("usage: gameday hash KEY [--scenario FILE]\nPrints the hash the unicorn "
                   "service answers for KEY: SHA-256 of \"<salt>:<KEY>\",\nthe salt from the "
                   "scenario (default scenarios/unicorn-rentals.yaml).\n");
            return 0;
        } else if (!key)
            key = argv[i];
        else {
            fprintf(stderr, "usage: gameday hash KEY [--scenario FILE]\n");
            return 2;
        }
    }
    if (!key) {
        fprintf(stderr, "usage: gameday hash KEY [--scenario FILE]\n");
        return 2;
    }
    if (!scen) scen = "scenarios/unicorn-rentals.yaml";
    gd_errs errs = {0};
    gd_scenario *sc;
    if (gd_scenario_load(scen, &sc, &errs) < 0) {
        for (int i = 0; i < errs.n; i++) fprintf(stderr, "%s\n", errs.msgs[i]);
        gd_errs_free(&errs);
        return 1;
    }
    char h[65];
    gd_hash_key(sc->salt, key, strlen(key), h);
    printf("%s\n", h);
    gd_scenario_free(sc);
    return 0;
}
