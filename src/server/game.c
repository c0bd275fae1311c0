/* `gameday server`: the control plane's life. Creates (or, after a restart, resumes)
 * a game from its scenario, then once per tick fires the scenario's events
 * (events.c) and Chaos Monkey's kills (monkey.c), charges the bill each billing
 * interval (billing.c), runs the reconcilers (launcher.c) and ends the game at its
 * duration. Reports become score in score.c; the JSON views are in views.c. */
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "server/aws.h"
#include "server/fis.h"
#include "server/launcher_int.h"
#include "server/monkey.h"
#include "server/ops.h"
#include "server/stream.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define TICK_MS 100

static gd_game G;

double gd_game_now(const gd_game *g)
{
    double t = gd_clock_now();
    return t < 0 ? 0 : t;
}

void gd_game_audit(gd_game *g, int team, const char *principal, const char *source_ip,
                   const char *event, json_t *request, json_t *response, const char *error_code)
{
    gd_store_audit(g->db, gd_game_now(g), team, principal, source_ip ? source_ip : "internal",
                   event, request, response, error_code);
    gd_info("audit", "team=%d principal=%s event=%s error=%s", team, principal, event,
            error_code ? error_code : "-");
    json_decref(request);
    json_decref(response);
}

static void random_token(char out[65])
{
    unsigned char b[32];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
        for (size_t i = 0; i < sizeof b; i++) b[i] = (unsigned char)rand();
    }
    for (int i = 0; i < 32; i++) sprintf(out + 2 * i, "%02x", b[i]);
}

void gd_game_kv_setf(gd_game *g, const char *key, const char *fmt, ...)
{
    char v[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v, sizeof v, fmt, ap);
    va_end(ap);
    gd_store_kv_set(g->db, key, v);
}

double gd_game_kv_num(gd_game *g, const char *key, double def)
{
    char *v = gd_store_kv_get(g->db, key);
    double d = v ? strtod(v, NULL) : def;
    gd_free(v);
    return d;
}

const char *gd_game_team_name(const gd_game *g, int team)
{
    static char fallback[24];
    if (team >= 1 && team <= GD_MAX_TEAMS && g->team_names[team][0]) return g->team_names[team];
    snprintf(fallback, sizeof fallback, "team-%d", team);
    return fallback;
}

int gd_game_read_teams(const char *path, char names[][GD_TEAM_NAME_MAX + 1], int max, char *err,
                       size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, n, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[256];
    int count = 0, no = 0;
    while (fgets(line, sizeof line, f)) {
        no++;
        size_t len = strcspn(line, "\r\n");
        if (line[len] == 0 && !feof(f)) {
            snprintf(err, n, "%s:%d: line too long (a team name has at most %d characters)", path,
                     no, GD_TEAM_NAME_MAX);
            fclose(f);
            return -1;
        }
        line[len] = 0;
        char *s = line;
        while (*s == ' ' || *s == '\t') s++;
        char *e = s + strlen(s);
        while (e > s && (e[-1] == ' ' || e[-1] == '\t')) *--e = 0;
        if (!*s || *s == '#') continue;
        const char *bad = NULL;
        for (const char *p = s; *p && !bad; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || strchr(" _.-", *p)))
                bad = p;
        if (bad || strlen(s) > GD_TEAM_NAME_MAX) {
            snprintf(err, n,
                     "%s:%d: '%.40s' is not a team name (1 to %d letters, digits, spaces, '_', "
                     "'.' or '-')",
                     path, no, s, GD_TEAM_NAME_MAX);
            fclose(f);
            return -1;
        }
        if (count == max) {
            snprintf(err, n, "%s:%d: more than %d teams (a game has at most %d)", path, no, max,
                     max);
            fclose(f);
            return -1;
        }
        for (int k = 0; k < count; k++)
            if (!strcmp(names[k], s)) {
                snprintf(err, n, "%s:%d: team '%s' is named twice", path, no, s);
                fclose(f);
                return -1;
            }
        snprintf(names[count++], GD_TEAM_NAME_MAX + 1, "%s", s);
    }
    fclose(f);
    if (count == 0) {
        snprintf(err, n, "%s: no team names (one per line)", path);
        return -1;
    }
    return count;
}

/* ---- the tick ---- */

static void on_tick(uv_timer_t *t)
{
    gd_game *g = t->data;
    double now = gd_game_now(g);
    while (g->next_event < g->sc->nevents && g->sc->events[g->next_event].at <= now &&
           g->sc->events[g->next_event].at < g->duration) {
        gd_events_fire(g, &g->sc->events[g->next_event]);
        g->next_event++;
        gd_game_kv_setf(g, "next_event", "%d", g->next_event);
    }
    gd_monkey_run(g, now);
    double end = now < g->duration ? now : g->duration;
    if (end - g->last_billing >= g->sc->billing.interval ||
        (g->ended == 0 && now >= g->duration && end > g->last_billing))
        gd_billing_charge(g, end);
    if (!g->ended && now >= g->duration) {
        g->ended = 1;
        gd_store_kv_set(g->db, "ended", "1");
        gd_info("game_ended", "duration=%.0f", g->duration);
    }
    if (!g->ended) gd_fis_tick(g);
    gd_launcher_reconcile(g);
    if (g->ended && !g->finished) {
        int done = 1;
        for (gd_proc *p = g->procs; p; p = p->next)
            if (p->kind == GD_PROC_LOADGEN) done = 0;
        /* Loadgens flush their last report and exit; give them the client timeout. */
        if (done || now > g->duration + g->sc->client_timeout + 30 * gd_clock_speed()) {
            g->finished = 1;
            gd_info("game_finished", "loadgens_done=%d", done);
        }
    }
    gd_stream_tick(g);
}

/* ---- start ---- */

static int bootstrap(gd_game *g)
{
    double now = gd_game_now(g);
    const gd_scenario *sc = g->sc;
    for (int t = 1; t <= g->nteams; t++) {
        char tok[65], name[GD_TEAM_NAME_MAX + 8], key[32];
        random_token(tok);
        snprintf(name, sizeof name, "%s", gd_game_team_name(g, t));
        gd_store_team_put(g->db, t, name, tok);
        size_t i;
        json_t *r;
        json_array_foreach(sc->resources, i, r)
        {
            const char *type = gd_jstr(r, "type");
            if (!strcmp(type, "instance")) continue;
            char id[40];
            /* Load balancers of the starting architecture already serve their fleet. */
            json_t *st0 = json_pack("{s:b}", "bootstrap", 1);
            int rc = gd_store_res_create(g->db, t, type, gd_jstr(r, "name"),
                                         json_object_get(r, "spec"), st0, now, id);
            json_decref(st0);
            if (rc < 0) {
                gd_error("bootstrap_failed", "team=%d resource=%s err=%s", t, gd_jstr(r, "name"),
                         gd_strerror(rc));
                return rc;
            }
            gd_game_audit(g, t, "gameday", NULL, "CreateResource",
                          json_pack("{s:s,s:s}", "type", type, "name", gd_jstr(r, "name")),
                          json_pack("{s:s}", "id", id), NULL);
        }
        /* The game starts with a running system: initial instances are booted and
         * healthy, launched through the operations layer as any instance is. */
        json_array_foreach(sc->resources, i, r)
        {
            const char *type = gd_jstr(r, "type");
            json_t *spec = json_object_get(r, "spec");
            gd_launch l = {.launch_template = gd_jstr(spec, "launch_template"), .booted = 1};
            gd_actor who = {.team = t, .principal = "gameday", .trust = GD_TRUST_GAME};
            int n = 0;
            if (!strcmp(type, "instance")) {
                l.name = gd_jstr(r, "name");
                l.instance_type = json_string_value(json_object_get(spec, "instance_type"));
                l.subnet = gd_jstr(spec, "subnet");
                l.security_groups = json_object_get(spec, "security_groups");
                l.termination_protection = json_object_get(spec, "termination_protection");
                n = 1;
            } else if (!strcmp(type, "asg")) {
                l.termination_protection = json_object_get(spec, "termination_protection");
                l.asg = gd_jstr(r, "name");
                who.principal = "autoscaling";
                n = (int)json_integer_value(json_object_get(spec, "desired"));
            }
            json_t *subnets = json_object_get(spec, "subnets");
            for (size_t k = 0; k < (size_t)(n > 0 ? n : 0); k++) {
                gd_op_result res;
                size_t ns = json_array_size(subnets);
                if (l.asg) l.subnet = ns ? json_string_value(json_array_get(subnets, k % ns)) : "";
                if (gd_op_run_instance(g, &who, &l, NULL, &res) < 0)
                    gd_warn("bootstrap_instance_failed", "team=%d code=%s err=%s", t, res.code,
                            gd_log_q(res.message));
                gd_op_result_free(&res);
            }
        }
        snprintf(key, sizeof key, "endpoint_%d", t);
        if (sc->endpoint) gd_store_kv_set(g->db, key, sc->endpoint);
    }
    return 0;
}

static void write_game_json(gd_game *g)
{
    json_t *teams = gd_store_teams(g->db);
    json_t *j = json_pack("{s:s,s:s,s:s,s:i,s:o}", "api", "", "admin_token", g->admin_token, "dir",
                          g->dir, "server_pid", (int)getpid(), "teams", teams);
    char api[64];
    snprintf(api, sizeof api, "http://%s:%d", g->host, g->port);
    json_object_set_new(j, "api", json_string(api));
    char dns[48];
    gd_dns_addr(g, dns, sizeof dns);
    json_object_set_new(j, "dns", json_string(dns));
    char path[PATH_MAX + 16], tmp[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/game.json", g->dir);
    snprintf(tmp, sizeof tmp, "%s/game.json.tmp", g->dir);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
        char *s = json_dumps(j, JSON_INDENT(2));
        ssize_t w = write(fd, s, strlen(s));
        (void)w;
        close(fd);
        free(s);
        rename(tmp, path);
    }
    json_decref(j);
}

/* Every game holds a listener at 127.X.255.254:9999 for each of its teams' address
 * ranges, so that a second game on the same --net stops at once with a clear error
 * instead of fighting over addresses. */
static int claim_nets(gd_game *g)
{
    for (int t = 1; t <= g->nteams; t++) {
        uv_tcp_t *h = gd_calloc(1, sizeof *h);
        struct sockaddr_in sa;
        char ip[32];
        snprintf(ip, sizeof ip, "127.%d.255.254", g->net + t - 1);
        uv_ip4_addr(ip, 9999, &sa);
        uv_tcp_init(g->loop, h);
        int r = uv_tcp_bind(h, (struct sockaddr *)&sa, 0);
        if (r == 0) r = uv_listen((uv_stream_t *)h, 1, NULL);
        if (r < 0) {
            fprintf(stderr,
                    "gameday server: another game already uses 127.%d.0.0/16 (team %d); start "
                    "this one with another --net\n",
                    g->net + t - 1, t);
            gd_error("net_in_use", "net=%d", g->net + t - 1);
            return -1;
        }
    }
    return 0;
}

static void on_signal(uv_signal_t *s, int signum)
{
    gd_game *g = s->data;
    gd_info("stopping", "signal=%d", signum);
    gd_stream_close_all(g, "server stopping");
    gd_launcher_stop_all(g);
    gd_store_close(g->db);
    fflush(stderr);
    _exit(0);
}

static int usage(int rc)
{
    fprintf(rc ? stderr : stdout,
            "usage: gameday server --scenario FILE --dir DIR [--port P] [--speed N]\n"
            "         [--duration D] [--teams N] [--teams-file F] [--net K]\n"
            "Runs the control plane: API and scoreboard on 127.0.0.1:P (8080), the launcher,\n"
            "billing, scoring and chaos. State lives in DIR/state.db; started again on the\n"
            "same DIR it resumes the game where it was (see doc/architecture.md).\n"
            "--net K puts team t's VPC at 127.(K+t-1).0.0/16 (default 1), so that several\n"
            "games can run on one machine. --teams-file names the teams (one per line; their\n"
            "number is the number of teams).\n");
    return rc;
}

int gd_cmd_server(int argc, char **argv)
{
    const char *scen = NULL, *dir = NULL, *dur = NULL, *teams_file = NULL;
    double speed = 0;
    int port = 8080, teams = 0, net = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help")) return usage(0);
        if (!v) return usage(2);
        if (!strcmp(a, "--scenario"))
            scen = v;
        else if (!strcmp(a, "--dir"))
            dir = v;
        else if (!strcmp(a, "--port"))
            port = atoi(v);
        else if (!strcmp(a, "--speed"))
            speed = atof(v);
        else if (!strcmp(a, "--duration"))
            dur = v;
        else if (!strcmp(a, "--net"))
            net = atoi(v);
        else if (!strcmp(a, "--teams"))
            teams = atoi(v);
        else if (!strcmp(a, "--teams-file"))
            teams_file = v;
        else
            return usage(2);
        i++;
    }
    if (!dir) return usage(2);
    int named = 0;
    if (teams_file) {
        char err[400];
        named = gd_game_read_teams(teams_file, &G.team_names[1], GD_MAX_TEAMS, err, sizeof err);
        if (named < 0) {
            fprintf(stderr, "gameday server: --teams-file %s\n", err);
            return 2;
        }
        if (teams > 0 && teams != named) {
            fprintf(stderr, "gameday server: --teams %d but %s names %d teams\n", teams, teams_file,
                    named);
            return 2;
        }
        teams = named;
    }
    gd_log_init("server");
    signal(SIGPIPE, SIG_IGN);
    gd_game *g = &G;
    snprintf(g->host, sizeof g->host, "127.0.0.1");
    g->port = port;
    /* The folder holds every token (state.db, game.json): nobody else may read it,
     * and whatever the server and its children create in it is theirs alone. */
    umask(077);
    if (!realpath(dir, g->dir)) {
        if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
            fprintf(stderr, "gameday server: cannot create %s: %s\n", dir, strerror(errno));
            return 1;
        }
        if (!realpath(dir, g->dir)) return 1;
    }
    char path[PATH_MAX + 32];
    chmod(g->dir, 0700);
    snprintf(path, sizeof path, "%s/logs", g->dir);
    mkdir(path, 0700);
    chmod(path, 0700);
    static const char *const secret[] = {"state.db", "state.db-wal", "state.db-shm", "game.json",
                                         NULL};
    for (int k = 0; secret[k]; k++) { /* a folder an older version made */
        snprintf(path, sizeof path, "%s/%s", g->dir, secret[k]);
        chmod(path, 0600);
    }
    ssize_t n = readlink("/proc/self/exe", g->exe, sizeof g->exe - 1);
    if (n <= 0) return 1;
    g->exe[n] = 0;
    snprintf(path, sizeof path, "%s/state.db", g->dir);
    if (gd_store_open(path, &g->db) < 0) {
        fprintf(stderr, "gameday server: cannot open %s\n", path);
        return 1;
    }
    char *saved = gd_store_kv_get(g->db, "scenario");
    int resume = saved != NULL;
    if (resume && !scen) scen = saved;
    if (!scen) return usage(2);
    gd_errs errs = {0};
    if (gd_scenario_load(scen, &g->sc, &errs) < 0) {
        for (int i = 0; i < errs.n; i++) fprintf(stderr, "%s\n", errs.msgs[i]);
        gd_errs_free(&errs);
        return 1;
    }
    if (resume) {
        gd_clock_set(gd_game_kv_num(g, "speed", 1), (uint64_t)gd_game_kv_num(g, "epoch_ns", 0));
        g->duration = gd_game_kv_num(g, "duration", g->sc->duration);
        g->nteams = (int)gd_game_kv_num(g, "teams", 1);
        json_t *tl = gd_store_teams(g->db);
        size_t ti;
        json_t *tj;
        json_array_foreach(tl, ti, tj)
        {
            int id = (int)json_integer_value(json_object_get(tj, "id"));
            if (id >= 1 && id <= GD_MAX_TEAMS)
                snprintf(g->team_names[id], sizeof g->team_names[id], "%s", gd_jstr(tj, "name"));
        }
        json_decref(tl);
        g->net = (int)gd_game_kv_num(g, "net", 1);
        char *a = gd_store_kv_get(g->db, "admin_token"),
             *it = gd_store_kv_get(g->db, "internal_token");
        snprintf(g->admin_token, sizeof g->admin_token, "%s", a ? a : "");
        snprintf(g->internal_token, sizeof g->internal_token, "%s", it ? it : "");
        gd_free(a);
        gd_free(it);
        g->next_event = (int)gd_game_kv_num(g, "next_event", 0);
        g->last_billing = gd_game_kv_num(g, "last_billing", 0);
        g->ended = gd_game_kv_num(g, "ended", 0) > 0;
        char *m = gd_store_kv_get(g->db, "message");
        if (m) snprintf(g->message, sizeof g->message, "%s", m);
        gd_free(m);
        for (int t = 1; t <= g->nteams; t++) gd_score_load(g, t);
        gd_info("resumed", "dir=%s clock=%.1f", g->dir, gd_game_now(g));
    } else {
        if (speed <= 0) speed = g->sc->speed;
        gd_clock_set(speed, gd_clock_mono_ns());
        g->duration = g->sc->duration;
        if (dur && gd_duration_parse(dur, &g->duration) < 0) {
            fprintf(stderr, "gameday server: --duration: not a duration (e.g. 20m, 4h)\n");
            return 2;
        }
        g->nteams = teams > 0 ? teams : g->sc->teams;
        if (g->nteams > GD_MAX_TEAMS) g->nteams = GD_MAX_TEAMS;
        g->net = net;
        if (net < 1 || net + g->nteams - 1 > 254) {
            fprintf(stderr, "gameday server: --net %d: teams would leave 127.1-254.x.x\n", net);
            return 2;
        }
        random_token(g->admin_token);
        random_token(g->internal_token);
        char real[PATH_MAX];
        gd_store_begin(g->db);
        gd_store_kv_set(g->db, "scenario", realpath(scen, real) ? real : scen);
        gd_game_kv_setf(g, "speed", "%.17g", gd_clock_speed());
        gd_game_kv_setf(g, "epoch_ns", "%llu", (unsigned long long)gd_clock_epoch_ns());
        gd_game_kv_setf(g, "duration", "%.17g", g->duration);
        gd_game_kv_setf(g, "teams", "%d", g->nteams);
        gd_game_kv_setf(g, "net", "%d", g->net);
        gd_store_kv_set(g->db, "admin_token", g->admin_token);
        gd_store_kv_set(g->db, "internal_token", g->internal_token);
        gd_store_commit(g->db);
    }
    gd_free(saved);
    /* The clock is shared in DIR/clock, so that the instructor can stop it for all. */
    snprintf(path, sizeof path, "%s/clock", g->dir);
    int paused = resume && gd_game_kv_num(g, "paused", 0) > 0;
    int cr = gd_clock_share(path, paused, gd_game_kv_num(g, "paused_at", 0));
    if (cr < 0)
        gd_warn("clock_not_shared", "path=%s err=%s", path, strerror(-cr));
    else
        setenv("GAMEDAY_CLOCK", path, 1);
    g->loop = uv_default_loop();
    g->loop->data = g;
    g->metrics = gd_metrics_new();
    gd_rand_seed(&g->rnd, g->sc->seed ^ gd_clock_epoch_ns());
    if (gd_api_start(g) < 0) return 1;
    if (claim_nets(g) < 0) return 1;
    if (resume) {
        gd_launcher_adopt(g);
    } else {
        gd_store_begin(g->db);
        int r = bootstrap(g);
        gd_store_commit(g->db);
        if (r < 0) return 1;
    }
    write_game_json(g);
    gd_aws_write_profiles(g); /* DIR/aws/: the aws CLI's profiles of the teams' keys */
    uv_timer_init(g->loop, &g->tick);
    g->tick.data = g;
    uv_timer_start(&g->tick, on_tick, 0, TICK_MS);
    uv_signal_t sigterm, sigint;
    uv_signal_init(g->loop, &sigterm);
    sigterm.data = g;
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_init(g->loop, &sigint);
    sigint.data = g;
    uv_signal_start(&sigint, on_signal, SIGINT);
    gd_info("ready", "api=http://%s:%d dir=%s speed=%g duration=%.0f teams=%d", g->host, g->port,
            g->dir, gd_clock_speed(), g->duration, g->nteams);
    uv_run(g->loop, UV_RUN_DEFAULT);
    return 0;
}
