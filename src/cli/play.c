/* `gameday play`: the one command a newcomer runs. Checks the scenario, starts the
 * server (which starts the teams' clouds and customers), prints where to look, a
 * status line every second, restarts the server if it dies, and at the end (or on
 * Ctrl-C) writes result.json and stops every process it started. */
#include "cli/http_client.h"
#include "cli/roles.h"
#include "core/clock.h"
#include "core/conf.h"
#include "core/mem.h"
#include "model/scenario.h"
#include "server/game.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    interrupted = 1;
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The `ctl` command that works from here, for the hints play prints: "./gameday ctl"
 * when the repo's wrapper runs this very binary, else the binary's absolute path; with
 * --game DIR when the game is not the newest var/<game> that ctl would find. */
static void ctl_command(const char *exe, const char *gamedir, char *out, size_t n)
{
    char wrapped[PATH_MAX];
    int ours =
        access("gameday", X_OK) == 0 && realpath("build/gameday", wrapped) && !strcmp(wrapped, exe);
    int k = snprintf(out, n, "%s ctl", ours ? "./gameday" : exe);
    if (gamedir && k > 0 && (size_t)k < n) snprintf(out + k, n - (size_t)k, " --game %s", gamedir);
}

/* The process groups of every server this play started (one per restart): each
 * server and all it starts live in a group of their own, outside the terminal's
 * foreground group, so that Ctrl-C reaches play alone and play ends the game. */
static pid_t groups[16];
static int ngroups;

static pid_t start_server(const char *exe, char **args, const char *dir)
{
    char log[PATH_MAX + 32];
    snprintf(log, sizeof log, "%s/logs/server.log", dir);
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        int nul = open("/dev/null", O_RDONLY);
        if (fd >= 0) {
            fchmod(fd, 0600);
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (nul >= 0) dup2(nul, 0);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        execv(exe, args);
        _exit(127);
    }
    if (pid > 0) {
        setpgid(pid, pid); /* also here: whichever runs first */
        if (ngroups < 16) groups[ngroups++] = pid;
    }
    return pid;
}

static int ours(pid_t pgid)
{
    for (int i = 0; i < ngroups; i++)
        if (groups[i] == pgid) return 1;
    return 0;
}

/* Stops every process of the game's groups, then reaps (orphans come to play, the
 * subreaper). */
static void stop_all(void)
{
    for (int i = 0; i < ngroups; i++) kill(-groups[i], SIGTERM);
    double until = mono() + 3;
    for (;;) {
        pid_t p = waitpid(-1, NULL, WNOHANG);
        if (p < 0 && errno == ECHILD) break;
        if (p == 0) {
            if (mono() > until) break;
            usleep(20000);
        }
    }
    /* Stragglers: SIGKILL, found through /proc. */
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < ngroups; i++) kill(-groups[i], SIGKILL);
        DIR *d = opendir("/proc");
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            pid_t pid = (pid_t)atoi(e->d_name);
            if (pid > 1 && ours(getpgid(pid))) kill(pid, SIGKILL);
        }
        if (d) closedir(d);
        usleep(50000);
        while (waitpid(-1, NULL, WNOHANG) > 0) {
        }
    }
}

/* The game is over: the server goes on serving it (the board, report.html, the API's
 * reads) until Ctrl-C; a server that dies meanwhile is started again. */
static void linger_on(const char *exe, char **resume_args, const char *dir, const char *api,
                      pid_t server)
{
    printf("game over: the scoreboard %s/ and the report %s/report.html stay up until Ctrl-C "
           "(gameday report %s writes it to files)\n",
           api, api, dir);
    fflush(stdout);
    int restarts = 0;
    while (!interrupted) {
        int status;
        if (waitpid(server, &status, WNOHANG) == server && ++restarts <= 5)
            server = start_server(exe, resume_args, dir);
        while (waitpid(-1, NULL, WNOHANG) > 0) {
        }
        usleep(100000);
    }
}

static int nteams_shown(json_t *game)
{
    return (int)json_array_size(json_object_get(game, "teams"));
}

static int usage(int rc)
{
    fprintf(rc ? stderr : stdout,
            "usage: gameday play [SCENARIO] [--speed N] [--duration D] [--port P] [--teams N]\n"
            "         [--headless] [--linger] [--out DIR] [--net K]\n"
            "Starts a whole game (default scenario: scenarios/unicorn-rentals.yaml) and prints\n"
            "the scoreboard URL, the team token and the public endpoint, then a status line\n"
            "every second (redrawn in place on a terminal unless --headless). At the end, or\n"
            "on Ctrl-C, writes DIR/result.json (DIR defaults to\n"
            "var/<scenario name>) and stops every process it started. --net K moves team t's\n"
            "addresses to 127.(K+t-1).0.0/16 so that games can run side by side.\n"
            "When the game ends by itself, play keeps serving the finished game read-only\n"
            "(scoreboard, report.html, the API's reads) until Ctrl-C, unless --headless;\n"
            "--linger does so with --headless too. 'gameday report DIR' writes the report.\n");
    return rc;
}

/* gameday host: the same game, for an instructor and several teams (join links, the
 * admin token, and the finished game kept up until Ctrl-C). */
static int host_mode;

static int host_usage(int rc)
{
    fprintf(rc ? stderr : stdout,
            "usage: gameday host SCENARIO (--teams N | --teams-file FILE) [--speed N]\n"
            "         [--duration D] [--port P] [--headless] [--out DIR] [--net K]\n"
            "Runs a game for an instructor and N teams: one board for everyone, each team's\n"
            "join link and token, and the instructor's token (pause, resume, extend, end,\n"
            "messages, events: 'gameday ctl game ...' or the board's instructor panel).\n"
            "FILE names the teams, one per line. The finished game stays up, read-only,\n"
            "until Ctrl-C. See doc/cli.md.\n");
    return rc;
}

int gd_cmd_host(int argc, char **argv)
{
    host_mode = 1;
    return gd_cmd_play(argc, argv);
}

int gd_cmd_play(int argc, char **argv)
{
    const char *scen = NULL, *speed = NULL, *dur = NULL, *out = NULL, *teams = NULL, *net = NULL;
    const char *teams_file = NULL;
    int port = 8080, headless = 0, linger = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return host_mode ? host_usage(0) : usage(0);
        if (!strcmp(a, "--headless")) {
            headless = 1;
            continue;
        }
        if (!strcmp(a, "--linger")) {
            linger = 1;
            continue;
        }
        if (a[0] != '-') {
            if (scen) return usage(2);
            scen = a;
            continue;
        }
        if (!v) return usage(2);
        if (!strcmp(a, "--speed"))
            speed = v;
        else if (!strcmp(a, "--duration"))
            dur = v;
        else if (!strcmp(a, "--port"))
            port = atoi(v);
        else if (!strcmp(a, "--out"))
            out = v;
        else if (!strcmp(a, "--net"))
            net = v;
        else if (!strcmp(a, "--teams"))
            teams = v;
        else if (!strcmp(a, "--teams-file"))
            teams_file = v;
        else
            return host_mode ? host_usage(2) : usage(2);
        i++;
    }
    if (host_mode && !scen) {
        fprintf(stderr, "gameday host: missing SCENARIO (e.g. scenarios/unicorn-rentals.yaml)\n");
        return host_usage(2);
    }
    if (host_mode && !teams && !teams_file) {
        fprintf(stderr, "gameday host: give --teams N or --teams-file FILE\n");
        return host_usage(2);
    }
    char teams_path[PATH_MAX] = "";
    if (teams_file) {
        static char names[GD_MAX_TEAMS][GD_TEAM_NAME_MAX + 1];
        char err[400];
        int nt = gd_game_read_teams(teams_file, names, GD_MAX_TEAMS, err, sizeof err);
        if (nt < 0) {
            fprintf(stderr, "gameday: --teams-file %s; nothing was started\n", err);
            return 2;
        }
        if (teams && atoi(teams) != nt) {
            fprintf(stderr, "gameday: --teams %s but %s names %d teams\n", teams, teams_file, nt);
            return 2;
        }
        if (!realpath(teams_file, teams_path))
            snprintf(teams_path, sizeof teams_path, "%s", teams_file);
    }
    if (teams && (atoi(teams) < 1 || atoi(teams) > GD_MAX_TEAMS)) {
        fprintf(stderr, "gameday: --teams must be 1 to %d\n", GD_MAX_TEAMS);
        return 2;
    }
    if (!scen) scen = "scenarios/unicorn-rentals.yaml";
    /* Check everything before starting anything. */
    gd_errs errs = {0};
    gd_scenario *sc = NULL;
    if (gd_scenario_load(scen, &sc, &errs) < 0) {
        for (int i = 0; i < errs.n; i++) fprintf(stderr, "%s\n", errs.msgs[i]);
        fprintf(stderr, "gameday play: %d error%s in %s; nothing was started\n", errs.n,
                errs.n == 1 ? "" : "s", scen);
        gd_errs_free(&errs);
        return 1;
    }
    double duration = sc->duration, sp = sc->speed;
    if (dur && gd_duration_parse(dur, &duration) < 0) {
        fprintf(stderr, "gameday play: --duration '%s': not a duration (e.g. 20m, 4h, 90s)\n", dur);
        gd_scenario_free(sc);
        return 2;
    }
    if (speed && (sp = atof(speed)) <= 0) {
        fprintf(stderr, "gameday play: --speed '%s': must be a number > 0\n", speed);
        gd_scenario_free(sc);
        return 2;
    }
    if (port < 1024 || port > 65535) {
        fprintf(stderr, "gameday play: --port must be in 1024..65535\n");
        gd_scenario_free(sc);
        return 2;
    }
    char dir[PATH_MAX];
    if (out)
        snprintf(dir, sizeof dir, "%s", out);
    else
        snprintf(dir, sizeof dir, "var/%s", sc->name);
    char path[PATH_MAX + 64];
    /* The game's folder holds every team's token: private to this user, whatever
     * the folder was before (a game kept in it under an older release). */
    mkdir("var", 0755); /* before the umask: postgres (a db's) must be able to enter it */
    umask(077);
    if ((mkdir(dir, 0700) < 0 && errno != EEXIST) || chmod(dir, 0700) < 0) {
        fprintf(stderr, "gameday play: cannot create %s: %s\n", dir, strerror(errno));
        gd_scenario_free(sc);
        return 1;
    }
    snprintf(path, sizeof path, "%s/logs", dir);
    mkdir(path, 0700);
    chmod(path, 0700);
    /* A new game in a folder that held one: keep the old state aside. */
    snprintf(path, sizeof path, "%s/state.db", dir);
    if (access(path, F_OK) == 0) {
        char old[PATH_MAX + 96];
        snprintf(old, sizeof old, "%s/state.db.%ld", dir, (long)time(NULL));
        rename(path, old);
        snprintf(path, sizeof path, "%s/state.db-wal", dir);
        unlink(path);
        snprintf(path, sizeof path, "%s/state.db-shm", dir);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/result.json", dir);
    unlink(path);

    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        gd_scenario_free(sc);
        return 1;
    }
    exe[n] = 0;
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {0};
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    char sport[16], sspeed[32], sdur[32];
    snprintf(sport, sizeof sport, "%d", port);
    snprintf(sspeed, sizeof sspeed, "%.17g", sp);
    snprintf(sdur, sizeof sdur, "%.3f", duration);
    char *args[24];
    int na = 0;
    args[na++] = exe;
    args[na++] = "server";
    args[na++] = "--scenario";
    args[na++] = (char *)scen;
    args[na++] = "--dir";
    args[na++] = dir;
    args[na++] = "--port";
    args[na++] = sport;
    args[na++] = "--speed";
    args[na++] = sspeed;
    args[na++] = "--duration";
    args[na++] = sdur;
    if (teams) {
        args[na++] = "--teams";
        args[na++] = (char *)teams;
    }
    if (net) {
        args[na++] = "--net";
        args[na++] = (char *)net;
    }
    if (teams_path[0]) {
        args[na++] = "--teams-file";
        args[na++] = teams_path;
    }
    args[na] = NULL;
    char *resume_args[] = {exe, "server", "--dir", dir, "--port", sport, NULL};

    char api[64];
    snprintf(api, sizeof api, "http://127.0.0.1:%d", port);
    char realdir[PATH_MAX] = "";
    if (!realpath(dir, realdir)) realdir[0] = 0;
    pid_t server = start_server(exe, args, dir);
    /* Wait until the API answers (or the server gives up). */
    double t0 = mono();
    int ready = 0;
    while (!interrupted && mono() - t0 < 15) {
        int status;
        if (waitpid(server, &status, WNOHANG) == server) break;
        json_t *h = gd_cli_get(api, "/api/v1/status", NULL, NULL);
        if (h) {
            /* Another game may hold the port: only our own server counts. */
            const char *d = json_string_value(json_object_get(h, "dir"));
            ready = d && realdir[0] && !strcmp(d, realdir);
            if (!ready)
                fprintf(stderr, "gameday play: %s answers for another game (%s); use --port\n", api,
                        d ? d : "?");
            json_decref(h);
            break;
        }
        usleep(50000);
    }
    if (!ready) {
        fprintf(stderr, "gameday play: the server did not start; its log (%s/logs/server.log):\n",
                dir);
        char cmd[PATH_MAX + 64];
        snprintf(cmd, sizeof cmd, "tail -n 20 '%s/logs/server.log' >&2", dir);
        if (system(cmd) != 0) {
        }
        stop_all();
        gd_scenario_free(sc);
        return 1;
    }
    snprintf(path, sizeof path, "%s/game.json", dir);
    json_t *game = json_load_file(path, 0, NULL);
    json_t *st = gd_cli_get(api, "/api/v1/status", NULL, NULL);
    const char *token = json_string_value(
        json_object_get(json_array_get(json_object_get(game, "teams"), 0), "token"));
    const char *ep = json_string_value(
        json_object_get(json_array_get(json_object_get(st, "teams"), 0), "endpoint"));
    char dh[32];
    gd_clock_hms(duration, dh, sizeof dh);
    printf("gameday: %s, %s of game time at x%g (about %.0f s of wall time)\n",
           sc->title ? sc->title : sc->name, dh, sp, duration / sp);
    printf("scoreboard: %s/\n", api);
    printf("token: %s\n", token ? token : "?");
    if (host_mode) {
        /* One join line per team, and the instructor's: what the host hands out. */
        size_t ti;
        json_t *tj;
        json_array_foreach(json_object_get(game, "teams"), ti, tj)
            printf("join: team %lld \"%s\": console %s/console.html token %s\n",
                   (long long)json_integer_value(json_object_get(tj, "id")),
                   json_string_value(json_object_get(tj, "name")), api,
                   json_string_value(json_object_get(tj, "token")));
        printf("instructor: %s/#instructor admin token %s (pause, resume, extend, end, "
               "messages: the board's instructor panel or 'gameday ctl game')\n",
               api, json_string_value(json_object_get(game, "admin_token")));
    }
    printf("endpoint: http://%s/\n", ep && *ep ? ep : "(none yet)");
    const char *dns = json_string_value(json_object_get(game, "dns"));
    const char *zone =
        json_string_value(json_object_get(json_array_get(json_object_get(st, "teams"), 0), "zone"));
    if (dns && zone) {
        char host[32];
        snprintf(host, sizeof host, "%.*s", (int)strcspn(dns, ":"), dns);
        const char *dport = strchr(dns, ':');
        printf("dns: %s serves %s (dig @%s%s%s %s%s%s)\n", dns, zone, host,
               dport && strcmp(dport, ":53") ? " -p " : "",
               dport && strcmp(dport, ":53") ? dport + 1 : "",
               sc->dns.resolve ? sc->dns.resolve : "", sc->dns.resolve ? "." : "", zone);
    }
    printf("state: %s (game.json has every team's token and the admin token)\n", dir);
    char ctl[2 * PATH_MAX + 32];
    ctl_command(exe, out ? (realdir[0] ? realdir : dir) : NULL, ctl, sizeof ctl);
    printf("runbook: the 'runbook' section of %s; try: %s instances\n", scen, ctl);
    printf("ctl: %s --help lists the commands (status, instances, scale, metrics...)\n", ctl);
    /* The AWS API's profiles, written by the server (doc/aws.md): one line per team. */
    const char *gd = realdir[0] ? realdir : dir;
    snprintf(path, sizeof path, "%s/aws/credentials", gd);
    size_t nteams = access(path, R_OK) == 0 ? json_array_size(json_object_get(game, "teams")) : 0;
    for (size_t t = 1; t <= nteams; t++)
        printf("aws: AWS_CONFIG_FILE=%s/aws/config AWS_SHARED_CREDENTIALS_FILE=%s/aws/credentials "
               "aws --profile team-%zu --endpoint-url %s/aws ec2 describe-instances\n",
               gd, gd, t, api);
    printf("note: instances are real processes; only their CPU time is emulated (a request holds "
           "one of the instance's slots for its service time on a timer).\n");
    fflush(stdout);
    json_decref(st);

    int live = !headless && isatty(1) && nteams_shown(game) == 1;
    int restarts = 0;
    double next = mono();
    const char *end_state = "ended";
    for (;;) {
        if (interrupted) {
            end_state = "interrupted";
            break;
        }
        int status;
        if (waitpid(server, &status, WNOHANG) == server) {
            fprintf(stderr, "gameday play: the server exited (%s %d); restarting it\n",
                    WIFSIGNALED(status) ? "signal" : "status",
                    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
            if (++restarts > 5) {
                fprintf(stderr, "gameday play: the server keeps dying; giving up\n");
                end_state = "failed";
                break;
            }
            server = start_server(exe, resume_args, dir);
        }
        /* Orphans (reparented to us) are reaped here. */
        while (waitpid(-1, NULL, WNOHANG) > 0) {
        }
        double now = mono();
        if (now < next) {
            usleep((useconds_t)((next - now) * 1e6 > 100000 ? 100000 : (next - now) * 1e6));
            continue;
        }
        next += 1.0;
        json_t *s = gd_cli_get(api, "/api/v1/status", NULL, NULL);
        if (!s) continue;
        const char *state = json_string_value(json_object_get(s, "state"));
        char ch[32];
        gd_clock_hms(json_number_value(json_object_get(s, "clock")), ch, sizeof ch);
        size_t i;
        json_t *t;
        json_array_foreach(json_object_get(s, "teams"), i, t)
        {
            /* On a terminal (not --headless) one line per team is redrawn in place;
             * otherwise (logs, CI, pipes) every second adds lines. */
            printf("%s%s team-%lld  rps %.1f  p50 %.0f ms  p99 %.0f ms  errors %lld  "
                   "score %.0f  spent $%.2f  instances %lld%s",
                   live ? "\r\033[K" : "", ch,
                   (long long)json_integer_value(json_object_get(t, "id")),
                   json_number_value(json_object_get(t, "rps")),
                   json_number_value(json_object_get(t, "p50_ms")),
                   json_number_value(json_object_get(t, "p99_ms")),
                   (long long)(json_integer_value(json_object_get(t, "errors")) +
                               json_integer_value(json_object_get(t, "timeouts")) +
                               json_integer_value(json_object_get(t, "wrong"))),
                   json_number_value(json_object_get(t, "score")),
                   json_number_value(json_object_get(t, "cost_usd")),
                   (long long)json_integer_value(json_object_get(t, "instances")),
                   live && i + 1 == json_array_size(json_object_get(s, "teams")) ? "" : "\n");
        }
        fflush(stdout);
        int ended = state && !strcmp(state, "ended");
        json_decref(s);
        if (ended) break;
    }
    if (live) printf("\n");
    json_t *res = gd_cli_get(api, "/api/v1/result", NULL, NULL);
    int rc = 0;
    if (res) {
        json_object_set_new(res, "state", json_string(end_state));
        snprintf(path, sizeof path, "%s/result.json", dir);
        json_dump_file(res, path, JSON_INDENT(2));
        json_t *rq = json_object_get(res, "requests");
        printf("result: score %.0f  ok %lld  error %lld  timeout %lld  wrong %lld  p50 %.0f ms  "
               "p99 %.0f ms  cost $%.2f\n",
               json_number_value(json_object_get(res, "score")),
               (long long)json_integer_value(json_object_get(rq, "ok")),
               (long long)json_integer_value(json_object_get(rq, "error")),
               (long long)json_integer_value(json_object_get(rq, "timeout")),
               (long long)json_integer_value(json_object_get(rq, "wrong")),
               json_number_value(json_object_get(json_object_get(res, "latency_ms"), "p50")),
               json_number_value(json_object_get(json_object_get(res, "latency_ms"), "p99")),
               json_number_value(json_object_get(res, "cost_usd")));
        printf("result.json: %s\n", path);
        json_decref(res);
    } else {
        fprintf(stderr, "gameday play: could not read the result from the server\n");
        rc = 1;
    }
    fflush(stdout);
    /* host keeps the finished game up for the debrief, as play does on a terminal. */
    if ((linger || !headless || host_mode) && !strcmp(end_state, "ended"))
        linger_on(exe, resume_args, dir, api, server);
    json_decref(game);
    gd_scenario_free(sc);
    stop_all();
    return strcmp(end_state, "failed") ? rc : 1;
}
