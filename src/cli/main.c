/* gameday: one multi-call binary; the first argument names the role. */
#include "cli/roles.h"
#include "dns/dnsd.h"
#include "edge/edge.h"
#include "loadgen/loadgen.h"
#include "nat/nat.h"
#include "server/game.h"
#include "services/instance.h"
#include "services/lambda.h"
#include "cli/suggest.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} roles[] = {
    {"play", gd_cmd_play, "start a whole game: server, teams, customers, status line"},
    {"host", gd_cmd_host, "run a game for an instructor and several teams (join links)"},
    {"server", gd_cmd_server, "run the control plane (API, scoreboard, launcher, billing)"},
    {"edge", gd_cmd_edge, "run one load balancer / CDN process"},
    {"dns", gd_cmd_dns, "run the game's authoritative DNS server (Route 53)"},
    {"nat", gd_cmd_nat, "run the game's Elastic IPs (one-to-one NAT to instances)"},
    {"instance", gd_cmd_instance, "run one built-in service instance (unicorn)"},
    {"lambda", gd_cmd_lambda, "run one function's invocations and execution environments"},
    {"loadgen", gd_cmd_loadgen, "run one team's customers"},
    {"ctl", gd_cmd_ctl, "talk to a running game's API"},
    {"report", gd_cmd_report, "write a game's report (report.md, report.html) from its folder"},
    {"hash", gd_cmd_hash, "print the hash the unicorn service answers for a key"},
    {"openloop", gd_cmd_openloop, "drive an open-loop HTTP load at one URL (benchmarks)"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: gameday <command> [args]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        fprintf(f, "  %-9s %s\n", roles[i].name, roles[i].help);
    fprintf(f, "\n'gameday <command> --help' tells more. See doc/cli.md.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (!strcmp(argv[1], roles[i].name)) return roles[i].fn(argc - 1, argv + 1);
    const char *names[sizeof roles / sizeof roles[0]];
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) names[i] = roles[i].name;
    const char *near = gd_suggest(argv[1], names, sizeof roles / sizeof roles[0]);
    if (near)
        fprintf(stderr, "gameday: unknown command '%s'; did you mean '%s'?\n", argv[1], near);
    else
        fprintf(stderr, "gameday: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
