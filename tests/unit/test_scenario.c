/* Unit tests for src/core/scenario.c: the default game loads clean, broken copies give
 * every error with its file:line:col, defaults, rate interpolation, surges, points, prices. */
#include <criterion/criterion.h>

#include "core/err.h"
#include "core/mem.h"
#include "model/scenario.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_SCENARIO "scenarios/unicorn-rentals.yaml"

static char tmp_path[64];

static void write_tmp(const char *text)
{
    snprintf(tmp_path, sizeof tmp_path, "/tmp/gd_scenario_XXXXXX.yaml");
    int fd = mkstemps(tmp_path, 5);
    cr_assert(fd >= 0);
    size_t n = strlen(text);
    cr_assert_eq(write(fd, text, n), (ssize_t)n);
    close(fd);
}

static void rm_tmp(void)
{
    if (tmp_path[0]) unlink(tmp_path);
    tmp_path[0] = 0;
}

static gd_scenario *load_ok_text(const char *text)
{
    write_tmp(text);
    gd_scenario *s = NULL;
    gd_errs e = {0};
    int rc = gd_scenario_load(tmp_path, &s, &e);
    char *j = gd_errs_join(&e);
    cr_assert_eq(rc, 0, "load failed: %s", j);
    cr_assert_eq(e.n, 0, "unexpected errors: %s", j);
    gd_free(j);
    gd_errs_free(&e);
    rm_tmp();
    return s;
}

/* Loads text that must fail; fills e (caller frees). The path stays in tmp_path. */
static void load_bad_text(const char *text, gd_errs *e)
{
    write_tmp(text);
    gd_scenario *s = (gd_scenario *)1;
    int rc = gd_scenario_load(tmp_path, &s, e);
    cr_assert_eq(rc, GD_EINVAL, "expected GD_EINVAL, got %d", rc);
    cr_assert_null(s, "*out stays NULL on error");
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s (tests run from the project root)", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = 0;
    fclose(f);
    return s;
}

/* Replaces the first occurrence of from (which must exist) in *text. */
static void replace(char **text, const char *from, const char *to)
{
    char *at = strstr(*text, from);
    cr_assert_not_null(at, "'%s' not found in the scenario", from);
    size_t pre = (size_t)(at - *text), fl = strlen(from), tl = strlen(to);
    char *n = malloc(strlen(*text) - fl + tl + 1);
    memcpy(n, *text, pre);
    memcpy(n + pre, to, tl);
    strcpy(n + pre + tl, at + fl);
    free(*text);
    *text = n;
}

/* The 1-based line and column of the first occurrence of needle in text, plus off. */
static void pos_of(const char *text, const char *needle, int off, int *line, int *col)
{
    const char *at = strstr(text, needle);
    cr_assert_not_null(at, "'%s' not found", needle);
    at += off;
    *line = 1;
    const char *bol = text;
    for (const char *p = text; p < at; p++)
        if (*p == '\n') {
            (*line)++;
            bol = p + 1;
        }
    *col = (int)(at - bol) + 1;
}

/* Asserts that errs holds exactly want (same order). */
static void assert_errs(const gd_errs *e, const char *const *want, int n)
{
    gd_errs copy = *e;
    char *j = gd_errs_join(&copy);
    cr_assert_eq(e->n, n, "want %d errors, got %d:\n%s", n, e->n, j);
    for (int i = 0; i < n; i++) cr_assert_str_eq(e->msgs[i], want[i], "error %d of:\n%s", i, j);
    gd_free(j);
}

/* The same for messages given without the file: each is "<tmp_path>:<want[i]>". */
static void assert_errs_here(const gd_errs *e, const char *const *want, int n)
{
    char msgs[32][1024];
    const char *ptrs[32];
    cr_assert_leq(n, 32);
    for (int i = 0; i < n; i++) {
        snprintf(msgs[i], sizeof msgs[i], "%s:%s", tmp_path, want[i]);
        ptrs[i] = msgs[i];
    }
    assert_errs(e, ptrs, n);
}

Test(scenario, default_game_loads_clean)
{
    gd_scenario *s = NULL;
    gd_errs e = {0};
    int rc = gd_scenario_load(DEFAULT_SCENARIO, &s, &e);
    char *j = gd_errs_join(&e);
    cr_assert_eq(rc, 0, "errors: %s", j);
    cr_assert_eq(e.n, 0, "errors: %s", j);
    gd_free(j);
    cr_assert_str_eq(s->path, DEFAULT_SCENARIO);
    cr_assert_str_eq(s->name, "unicorn-rentals");
    cr_assert_str_eq(s->title, "Unicorn.Rentals");
    cr_assert(strstr(s->story, "GET /?key=K") != NULL);
    cr_assert(strstr(s->runbook, "gameday ctl scale web N") != NULL);
    cr_assert(strstr(s->runbook, "emulated") != NULL);
    cr_assert_float_eq(s->duration, 4 * 3600.0, 1e-9);
    cr_assert_float_eq(s->speed, 20.0, 1e-9);
    cr_assert_eq(s->seed, 42u);
    cr_assert_eq(s->teams, 1);
    cr_assert_str_eq(s->service, "unicorn");
    cr_assert_str_eq(s->salt, "unicorn-rentals");
    /* popular keys first, then more and flatter: a cache answers ever less */
    cr_assert_eq(s->key_space, 5000u);
    cr_assert_float_eq(s->zipf, 1.1, 1e-12);
    cr_assert_float_eq(s->key_drift, 1000, 1e-12);
    cr_assert_eq(s->nkey_phases, 3);
    for (int i = 1; i < s->nkey_phases; i++) {
        cr_assert(s->key_phases[i].space > s->key_phases[i - 1].space, "phase %d widens", i);
        cr_assert(s->key_phases[i].zipf < s->key_phases[i - 1].zipf, "phase %d flattens", i);
    }
    cr_assert_float_eq(s->client_timeout, 10.0, 1e-12);
    cr_assert_eq(s->nsurges, 3);
    cr_assert_float_eq(s->scoring.success_max, 10.0, 1e-12);
    cr_assert_float_eq(s->scoring.success_min, 0.1, 1e-12);
    cr_assert_float_eq(s->scoring.error, -5.0, 1e-12);
    cr_assert_float_eq(s->scoring.timeout, -5.0, 1e-12);
    cr_assert_float_eq(s->scoring.wrong, -20.0, 1e-12);
    cr_assert_float_eq(s->billing.multiplier, 4000.0, 1e-12);
    cr_assert_float_eq(s->billing.points_per_dollar, 100.0, 1e-12);
    cr_assert_float_eq(s->billing.interval, 60.0, 1e-12);
    cr_assert_float_eq(s->billing.minimum, 60.0, 1e-12);
    cr_assert_str_eq(s->endpoint, "web-lb");

    /* chaos at 45m, 1h10m, 2h05m, 2h40m, 3h08m, 3h40m, harder as the game goes, and
     * the CEO at 1h, in time order */
    double chaos[] = {2700, 4200, 7500, 9600, 11280, 13200};
    int counts[] = {1, 1, 2, 2, 3, 3};
    int nc = 0, nceo = 0;
    for (int i = 0; i < s->nevents; i++) {
        gd_event *ev = &s->events[i];
        if (i > 0) cr_assert(ev->at >= s->events[i - 1].at, "events are sorted by time");
        if (strcmp(ev->action, "terminate_random") == 0) {
            cr_assert(nc < 6);
            cr_assert_float_eq(ev->at, chaos[nc], 1e-9, "chaos %d at %g, want %g", nc, ev->at,
                               chaos[nc]);
            cr_assert_str_eq(ev->target, "asg/web");
            cr_assert_str_eq(ev->principal, "chaos-monkey");
            cr_assert_eq(ev->count, counts[nc], "chaos %d kills %d, want %d", nc, ev->count,
                         counts[nc]);
            nc++;
        } else {
            cr_assert_str_eq(ev->action, "message");
            cr_assert_str_eq(ev->principal, "ceo");
            cr_assert_not_null(ev->message);
            if (nceo == 0) {
                cr_assert_float_eq(ev->at, 3600.0, 1e-9);
                cr_assert(strstr(ev->message, "cut the bill") != NULL);
            }
            nceo++;
        }
    }
    cr_assert_eq(nc, 6);
    cr_assert_eq(nceo, 2);

    /* the starting architecture, defaults filled */
    cr_assert_eq(json_array_size(s->resources), 9u);
    const char *types[] = {"vpc",
                           "subnet",
                           "subnet",
                           "launch_template",
                           "asg",
                           "clb",
                           "experiment_template",
                           "launch_template",
                           "instance"};
    const char *names[] = {"main",   "public-a",     "private-a",      "web-template", "web",
                           "web-lb", "kill-one-web", "batch-template", "legacy-batch"};
    for (size_t i = 0; i < 9; i++) {
        json_t *r = json_array_get(s->resources, i);
        cr_assert_str_eq(json_string_value(json_object_get(r, "type")), types[i]);
        cr_assert_str_eq(json_string_value(json_object_get(r, "name")), names[i]);
        json_t *spec = json_object_get(r, "spec");
        cr_assert(json_is_object(spec));
        cr_assert_null(json_object_get(spec, "type"), "spec holds no type");
        cr_assert_null(json_object_get(spec, "name"), "spec holds no name");
    }
    json_t *priv = json_object_get(json_array_get(s->resources, 2), "spec");
    cr_assert_str_eq(json_string_value(json_object_get(priv, "cidr")), "127.T.1.0/28");
    cr_assert(json_is_false(json_object_get(priv, "public")));
    json_t *lt = json_object_get(json_array_get(s->resources, 3), "spec");
    cr_assert_eq(json_integer_value(json_object_get(lt, "slots")), 5);
    cr_assert_float_eq(json_number_value(json_object_get(lt, "service_time")), 4.0, 1e-12);
    cr_assert_float_eq(json_number_value(json_object_get(lt, "boot_time")), 60.0, 1e-12);
    json_t *asg = json_object_get(json_array_get(s->resources, 4), "spec");
    cr_assert_eq(json_integer_value(json_object_get(asg, "desired")), 3);
    cr_assert_eq(json_integer_value(json_object_get(asg, "min")), 1);
    cr_assert_eq(json_integer_value(json_object_get(asg, "max")), 10);
    cr_assert_float_eq(json_number_value(json_object_get(asg, "health_check_grace")), 300.0, 1e-12);
    json_t *hc =
        json_object_get(json_object_get(json_array_get(s->resources, 5), "spec"), "health_check");
    cr_assert_eq(json_integer_value(json_object_get(hc, "healthy_threshold")), 10);
    cr_assert_float_eq(json_number_value(json_object_get(hc, "interval")), 30.0, 1e-12);
    json_t *batch = json_object_get(json_array_get(s->resources, 7), "spec");
    cr_assert_str_eq(json_string_value(json_object_get(batch, "instance_type")), "m5.large");
    gd_errs_free(&e);
    gd_scenario_free(s);
}

Test(scenario, default_game_traffic_shape)
{
    gd_scenario *s = NULL;
    gd_errs e = {0};
    cr_assert_eq(gd_scenario_load(DEFAULT_SCENARIO, &s, &e), 0);
    /* 3 instances x 5 slots / 4 s = 3.75 rps: the first 30 minutes stay at <= 2 rps */
    for (double t = 0; t <= 1800; t += 1)
        cr_assert(gd_scenario_rate(s, t) <= 2.0 + 1e-9, "rate at %gs is %g, want <= 2", t,
                  gd_scenario_rate(s, t));
    cr_assert_float_eq(gd_scenario_rate(s, 0), 1.5, 1e-9);
    cr_assert_float_eq(gd_scenario_rate(s, 40 * 60), 3.0, 1e-9);
    cr_assert_float_eq(gd_scenario_rate(s, 90 * 60), 5.0, 1e-9);
    cr_assert_float_eq(gd_scenario_rate(s, 160 * 60), 7.0, 1e-9);
    cr_assert_float_eq(gd_scenario_rate(s, 3 * 3600 - 1), 7.0, 1e-9);
    cr_assert_float_eq(gd_scenario_rate(s, 3 * 3600), 21.0, 1e-9, "surge x3 at 3h");
    cr_assert_float_eq(gd_scenario_rate(s, 3 * 3600 + 29 * 60), 21.0, 1e-9, "for 30 minutes");
    cr_assert_float_eq(gd_scenario_rate(s, 3 * 3600 + 30 * 60), 7.0, 1e-9, "surge over at 3h30m");
    /* 2h25m: an unannounced x3 on the ramp 5 -> 7 (at 5 + 2*55/60) for 10 minutes */
    cr_assert_float_eq(gd_scenario_rate(s, 145 * 60), 3 * (5 + 2.0 * 55 / 60), 1e-9);
    cr_assert_float_eq(gd_scenario_rate(s, 155 * 60), 7.0, 1e-9, "over at 2h35m");
    /* 1h50m: ramp 5 -> 7 between 1h30m and 2h30m is at 5 + 2*20/60, doubled */
    cr_assert_float_eq(gd_scenario_rate(s, 110 * 60), 2 * (5 + 2.0 * 20 / 60), 1e-9);
    cr_assert_float_eq(gd_scenario_rate(s, 120 * 60), 5 + 2.0 * 30 / 60, 1e-9);
    cr_assert_float_eq(gd_scenario_rate(s, 4 * 3600), 7.0, 1e-9);
    gd_scenario_free(s);
}

static const char *minimal = "name: tiny\n"
                             "duration: 1h\n"
                             "traffic:\n"
                             "  rate:\n"
                             "    - {at: 0, rps: 1}\n"
                             "architecture:\n"
                             "  endpoint: lb\n"
                             "  resources:\n"
                             "    - {type: vpc, name: main}\n"
                             "    - {type: subnet, name: a, cidr: 127.T.0.0/24}\n"
                             "    - {type: clb, name: lb, subnets: [a]}\n";

Test(scenario, defaults_of_a_minimal_scenario)
{
    long before = gd_mem_live();
    gd_scenario *s = load_ok_text(minimal);
    cr_assert_str_eq(s->name, "tiny");
    cr_assert_str_eq(s->title, "tiny", "title defaults to the name");
    cr_assert_str_eq(s->story, "");
    cr_assert_str_eq(s->runbook, "");
    cr_assert_float_eq(s->speed, 1.0, 1e-12);
    cr_assert_eq(s->seed, 1u);
    cr_assert_eq(s->teams, 1);
    cr_assert_str_eq(s->service, "unicorn");
    cr_assert_str_eq(s->salt, "tiny", "salt defaults to the name");
    cr_assert_eq(s->key_space, 10000u);
    cr_assert_float_eq(s->zipf, 1.0, 1e-12);
    cr_assert_float_eq(s->client_timeout, 10.0, 1e-12);
    cr_assert_eq(s->nrate, 1);
    cr_assert_eq(s->rate[0].ramp, 0);
    cr_assert_eq(s->nsurges, 0);
    cr_assert_eq(s->nevents, 0);
    cr_assert_float_eq(s->scoring.success_max, 10.0, 1e-12);
    cr_assert_float_eq(s->scoring.wrong, -20.0, 1e-12);
    cr_assert_float_eq(s->billing.multiplier, 1.0, 1e-12);
    cr_assert_float_eq(s->billing.points_per_dollar, 100.0, 1e-12);
    cr_assert_float_eq(s->billing.interval, 60.0, 1e-12);
    cr_assert_float_eq(s->billing.minimum, 60.0, 1e-12);
    cr_assert_eq(s->quotas.vcpus, 256);
    cr_assert_eq(s->quotas.asgs, 20);
    cr_assert_eq(s->quotas.alarms, 100);
    cr_assert_float_eq(s->spot.notice, 120, 1e-12);
    struct {
        const char *k;
        double p;
    } prices[] = {{"t3.micro", 0.0104}, {"t3.small", 0.0208}, {"t3.medium", 0.0416},
                  {"m5.large", 0.096},  {"m5.xlarge", 0.192}, {"c5.large", 0.085},
                  {"c5.xlarge", 0.17},  {"clb", 0.025},       {"alb", 0.0225}};
    for (size_t i = 0; i < sizeof prices / sizeof prices[0]; i++)
        cr_assert_float_eq(gd_scenario_price(s, prices[i].k), prices[i].p, 1e-12, "%s",
                           prices[i].k);
    cr_assert_float_eq(gd_scenario_price(s, "x1.32xlarge"), -1.0, 1e-12);
    cr_assert_float_eq(gd_scenario_price(s, NULL), -1.0, 1e-12);
    gd_scenario_free(s);
    cr_assert_eq(gd_mem_live(), before, "live allocations %ld, want %ld", gd_mem_live(), before);
}

Test(scenario, prices_merge_over_defaults)
{
    char *text = strdup(minimal);
    replace(&text, "traffic:", "billing:\n  prices: {t3.micro: 0.5, custom: 2}\ntraffic:");
    gd_scenario *s = load_ok_text(text);
    cr_assert_float_eq(gd_scenario_price(s, "t3.micro"), 0.5, 1e-12);
    cr_assert_float_eq(gd_scenario_price(s, "custom"), 2.0, 1e-12);
    cr_assert_float_eq(gd_scenario_price(s, "m5.large"), 0.096, 1e-12);
    gd_scenario_free(s);
    free(text);
}

Test(scenario, rate_steps_ramps_and_surges)
{
    char *text = strdup(minimal);
    replace(&text, "    - {at: 0, rps: 1}\n",
            "    - {at: 0, rps: 1}\n"
            "    - {at: 10m, rps: 3}\n"             /* step */
            "    - {at: 20m, rps: 5, ramp: true}\n" /* 3 -> 5 over 10 minutes */
            "    - {at: 30m, rps: 2, ramp: true}\n" /* 5 -> 2 */
            "  surges:\n"
            "    - {at: 40m, for: 5m, x: 3}\n"
            "    - {at: 42m, for: 10m, x: 2}\n");
    gd_scenario *s = load_ok_text(text);
    free(text);
    cr_assert_eq(s->nrate, 4);
    struct {
        double t, want;
    } cases[] = {
        {0, 1},    {599.9, 1},  {600, 3},   {900, 4},  {1199, 3 + 2 * 599.0 / 600},
        {1200, 5}, {1500, 3.5}, {1800, 2},  {2399, 2}, {2400, 6},
        {2519, 6}, {2520, 12},  {2699, 12}, {2700, 4}, {3119, 4},
        {3120, 2}, {3600, 2},   {-5, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_assert_float_eq(gd_scenario_rate(s, cases[i].t), cases[i].want, 1e-9,
                           "rate(%g) = %g, want %g", cases[i].t, gd_scenario_rate(s, cases[i].t),
                           cases[i].want);
    gd_scenario_free(s);
}

Test(scenario, points_per_outcome)
{
    gd_scenario *s = load_ok_text(minimal);
    cr_assert_float_eq(gd_scenario_points(s, GD_OK_ANSWER, 0), 10.0, 1e-12);
    cr_assert_float_eq(gd_scenario_points(s, GD_OK_ANSWER, 4), 6.0, 1e-12);
    cr_assert_float_eq(gd_scenario_points(s, GD_OK_ANSWER, 0.004), 9.996, 1e-12);
    cr_assert_float_eq(gd_scenario_points(s, GD_OK_ANSWER, 9.95), 0.1, 1e-12, "floor");
    cr_assert_float_eq(gd_scenario_points(s, GD_OK_ANSWER, 30), 0.1, 1e-12, "floor");
    cr_assert_float_eq(gd_scenario_points(s, GD_ERROR, 1), -5.0, 1e-12);
    cr_assert_float_eq(gd_scenario_points(s, GD_TIMEOUT, 10), -5.0, 1e-12);
    cr_assert_float_eq(gd_scenario_points(s, GD_WRONG, 0.1), -20.0, 1e-12);
    gd_scenario_free(s);
}

Test(scenario, missing_file)
{
    gd_scenario *s = (gd_scenario *)1;
    gd_errs e = {0};
    cr_assert_eq(gd_scenario_load("scenarios/no-such-game.yaml", &s, &e), GD_ENOENT);
    cr_assert_null(s);
    cr_assert_eq(e.n, 1);
    cr_assert_str_eq(e.msgs[0],
                     "scenarios/no-such-game.yaml: cannot open: No such file or directory");
    gd_errs_free(&e);
}

Test(scenario, syntax_error)
{
    gd_errs e = {0};
    load_bad_text("name: x\ntraffic: [1, 2\n", &e);
    char want[256];
    snprintf(want, sizeof want, "%s:3:1: flow sequence without a closing bracket", tmp_path);
    const char *w[] = {want};
    assert_errs(&e, w, 1);
    gd_errs_free(&e);
    rm_tmp();
}

/* A broken copy of the default game: every problem is reported, in file order. */
Test(scenario, broken_default_game_reports_all_errors)
{
    long before = gd_mem_live();
    char *text = read_all(DEFAULT_SCENARIO);
    replace(&text, "speed: 20\n", "speed: fast\n");
    replace(&text, "teams: 1\n", "teams: 1\ncolour: blue\n");
    replace(&text, "{at: 40m, rps: 3, ramp: true}", "{at: 20m, rps: 3, ramp: true}");
    replace(&text, "{at: 3h, for: 30m, x: 3}", "{at: 5h, for: 20m, x: 3}");
    replace(&text, "{at: 45m, action: terminate_random, target: asg/web,",
            "{at: 45m, action: terminate_random, target: asg/webb,");
    replace(&text, "name: private-a, vpc: main, cidr: 127.T.1.0/28",
            "name: private-a, vpc: main, cidr: 127.T.0.16/28");
    replace(&text, "      desired: 3\n", "      desired: 30\n");
    replace(&text, "      port: 8080\n", "      port: 80\n");
    replace(&text, "subnet: private-a}", "subnet: private-b}");
    replace(&text, "  endpoint: web-lb\n", "  endpoint: web\n");
    write_tmp(text);

    struct {
        const char *needle;
        int off;
        const char *msg;
    } want[] = {
        {"speed: fast", 7, "field 'speed': expected a number, got \"fast\" (allowed: 0.1..10000)"},
        {"colour: blue", 0,
         "field 'colour': unknown field (allowed: name, title, story, runbook, duration, speed, "
         "seed, teams, service, traffic, shoppers, scoring, billing, spot, quotas, dns, reserved, "
         "events, "
         "chaos_monkey, ceo, protections, architecture, "
         "allowed_commands)"},
        {"{at: 20m, rps: 3", 5,
         "field 'traffic.rate[2].at': 20m is not after the previous point (30m) (allowed: a time "
         "after the previous point)"},
        {"{at: 5h, for: 20m", 5,
         "field 'traffic.surges[2].at': 5h is after the end of the game (4h) (allowed: "
         "0s..duration)"},
        {"target: asg/webb", 8, "field 'events[0].target': no asg named 'webb' (allowed: web)"},
        {"endpoint: web\n", 10,
         "field 'architecture.endpoint': no load balancer or cdn named 'web' (allowed: "
         "web-lb)"},
        {"cidr: 127.T.0.16/28", 6,
         "subnet 'private-a': field 'cidr': 127.T.0.16/28 overlaps subnet 'public-a' "
         "(127.T.0.0/24) (allowed: a block that overlaps no other subnet)"},
        {"desired: 30", 9, "asg 'web': field 'desired': 30 is outside min..max (allowed: 1..10)"},
        {"port: 80\n", 6,
         "clb 'web-lb': field 'port': 80 is out of range (allowed: an integer "
         "1024..65535)"},
        {"subnet: private-b}", 8,
         "instance 'legacy-batch': field 'subnet': no subnet named 'private-b' (allowed: "
         "public-a, private-a)"},
    };
    int n = (int)(sizeof want / sizeof want[0]);
    char msgs[16][512];
    const char *ptrs[16];
    for (int i = 0; i < n; i++) {
        int line, col;
        pos_of(text, want[i].needle, want[i].off, &line, &col);
        snprintf(msgs[i], sizeof msgs[i], "%s:%d:%d: %s", tmp_path, line, col, want[i].msg);
        ptrs[i] = msgs[i];
    }
    /* expected in file order */
    for (int i = 1; i < n; i++)
        for (int k = i; k > 0; k--) {
            const char *a = ptrs[k - 1] + strlen(tmp_path) + 1, *b = ptrs[k] + strlen(tmp_path) + 1;
            long la = strtol(a, (char **)&a, 10), lb = strtol(b, (char **)&b, 10);
            long ca = strtol(a + 1, NULL, 10), cb = strtol(b + 1, NULL, 10);
            if (la * 100000 + ca <= lb * 100000 + cb) break;
            const char *t = ptrs[k];
            ptrs[k] = ptrs[k - 1];
            ptrs[k - 1] = t;
        }
    gd_scenario *s = (gd_scenario *)1;
    gd_errs e = {0};
    cr_assert_eq(gd_scenario_load(tmp_path, &s, &e), GD_EINVAL);
    cr_assert_null(s);
    assert_errs(&e, ptrs, n);
    gd_errs_free(&e);
    rm_tmp();
    free(text);
    cr_assert_eq(gd_mem_live(), before, "live allocations %ld, want %ld", gd_mem_live(), before);
}

Test(scenario, section_errors)
{
    gd_errs e = {0};
    load_bad_text("name: Bad_Name\n"                                  /* 1 */
                  "duration: 10d\n"                                   /* 2 */
                  "traffic:\n"                                        /* 3 */
                  "  keys: {space: 0, zipf: 9}\n"                     /* 4 */
                  "  client_timeout: 50ms\n"                          /* 5 */
                  "  rate:\n"                                         /* 6 */
                  "    - {at: 5m, rps: 1}\n"                          /* 7 */
                  "    - {rps: 2, ramp: maybe}\n"                     /* 8 */
                  "  surges:\n"                                       /* 9 */
                  "    - {at: 1h, x: 2}\n"                            /* 10 */
                  "scoring: {success_min: 20}\n"                      /* 11 */
                  "service: {kind: clock}\n"                          /* 12 */
                  "events:\n"                                         /* 13 */
                  "  - {at: 1m, action: explode}\n"                   /* 14 */
                  "  - {at: 2m, action: terminate}\n"                 /* 15 */
                  "  - {at: 3m, action: message}\n"                   /* 16 */
                  "  - {at: 4m, action: scale, target: web}\n"        /* 17 */
                  "  - {at: 5m, action: scale, target: rocket/web}\n" /* 18 */
                  "architecture:\n"                                   /* 19 */
                  "  resources: []\n",                                /* 20 */
                  &e);
    const char *w[] = {
        "1:7: field 'name': \"Bad_Name\" is not a valid name (allowed: [a-z0-9-], 1..64 "
        "characters)",
        "2:11: field 'duration': 10d is out of range (allowed: 1m..7d)",
        "4:17: field 'traffic.keys.space': 0 is out of range (allowed: 1..10000000)",
        "4:26: field 'traffic.keys.zipf': 9 is out of range (allowed: 0..5)",
        "5:19: field 'traffic.client_timeout': 50ms is out of range (allowed: 100ms..10m)",
        "7:12: field 'traffic.rate[0].at': the first point must be at 0s, not 5m (allowed: 0s)",
        "8:7: field 'traffic.rate[1].at': missing (allowed: 0s..7d)",
        "8:22: field 'traffic.rate[1].ramp': expected true or false, got \"maybe\" (allowed: true, "
        "false)",
        "10:7: field 'traffic.surges[0].for': missing (allowed: 1ms..7d)",
        "11:24: field 'scoring.success_min': 20 is above success_max (allowed: 0..10 "
        "(success_max))",
        "12:17: field 'service.kind': \"clock\" is not one of the allowed values (allowed: "
        "unicorn, time, clothes)",
        "14:22: field 'events[0].action': \"explode\" is not one of the allowed values (allowed: "
        "terminate_random, terminate, scale, message, az_outage, update, detach_target_group, "
        "start_experiment)",
        "15:5: field 'events[1].target': missing (allowed: TYPE/NAME, e.g. asg/web)",
        "16:5: field 'events[2].message': missing (allowed: the text to show)",
        "17:37: field 'events[3].target': 'web' is not TYPE/NAME (allowed: TYPE/NAME, e.g. "
        "asg/web)",
        "18:37: field 'events[4].target': 'rocket' is not a resource type (allowed: vpc, subnet, "
        "launch_template, instance, asg, clb, alb, target_group, cdn, alarm, "
        "scaling_policy, scheduled_action, dns_record, elastic_ip, security_group, "
        "reserved_instance, experiment_template, experiment, deny_policy, cache_cluster, db, "
        "cluster, task_definition, ecs_service, task, function)",
        "20:3: field 'architecture.endpoint': missing (needed unless dns.resolve names the record "
        "customers look up) (allowed: no entry is defined)",
        "20:14: field 'architecture.resources': the list is empty (allowed: a list of {type, "
        "name, ...fields of that type})",
    };
    assert_errs_here(&e, w, (int)(sizeof w / sizeof w[0]));
    gd_errs_free(&e);
    rm_tmp();
}

Test(scenario, architecture_errors)
{
    gd_errs e = {0};
    load_bad_text("name: arch\n"                                                           /* 1 */
                  "duration: 1h\n"                                                         /* 2 */
                  "traffic: {rate: [{at: 0, rps: 1}]}\n"                                   /* 3 */
                  "architecture:\n"                                                        /* 4 */
                  "  endpoint: lb\n"                                                       /* 5 */
                  "  resources:\n"                                                         /* 6 */
                  "    - {type: vpc, name: main}\n"                                        /* 7 */
                  "    - {type: subnet, name: a, cidr: 127.T.0.0/24}\n"                    /* 8 */
                  "    - {type: subnet, name: b, cidr: 127.9.0.0/24}\n"                    /* 9 */
                  "    - {type: subnet, name: c, cidr: 127.T.0.0/26, vpc: other}\n"        /* 10 */
                  "    - {type: rocket, name: r}\n"                                        /* 11 */
                  "    - {name: nameless}\n"                                               /* 12 */
                  "    - {type: subnet, name: a, cidr: 127.T.5.0/24}\n"                    /* 13 */
                  "    - {type: asg, name: web, launch_template: tpl, subnets: [a, zz],\n" /* 14 */
                  "       load_balancers: [lb]}\n"                                         /* 15 */
                  "    - {type: launch_template, name: tpl, colour: red}\n"                /* 16 */
                  "    - {type: clb, name: lb, subnets: [a], instances: [web]}\n"          /* 17 */
                  "    - 42\n",                                                            /* 18 */
                  &e);
    const char *w[] = {
        "9:37: subnet 'b': field 'cidr': 127.9.0.0/24 names one team's addresses; write the "
        "second octet as T (allowed: a block of 127.T.0.0/16, with T for each team's octet)",
        "10:37: subnet 'c': field 'cidr': 127.T.0.0/26 overlaps subnet 'a' (127.T.0.0/24) "
        "(allowed: a block that overlaps no other subnet)",
        "10:56: subnet 'c': field 'vpc': no vpc named 'other' (allowed: main)",
        "11:14: field 'architecture.resources[4].type': \"rocket\" is not a resource type "
        "(allowed: vpc, subnet, launch_template, instance, asg, clb, alb, target_group, cdn, "
        "alarm, "
        "scaling_policy, scheduled_action, dns_record, elastic_ip, security_group, "
        "reserved_instance, experiment_template, experiment, deny_policy, cache_cluster, db, "
        "cluster, task_definition, ecs_service, task, function)",
        "12:7: field 'architecture.resources[5].type': missing (allowed: vpc, subnet, "
        "launch_template, instance, asg, clb, alb, target_group, cdn, alarm, "
        "scaling_policy, scheduled_action, dns_record, elastic_ip, security_group, "
        "reserved_instance, experiment_template, experiment, deny_policy, cache_cluster, db, "
        "cluster, task_definition, ecs_service, task, function)",
        "13:28: field 'architecture.resources[6].name': subnet 'a' is already defined (at "
        "TMP:8:7) (allowed: a name used once per team (all types share names))",
        "14:65: asg 'web': field 'subnets[1]': no subnet named 'zz' (allowed: a, b, c)",
        "16:42: launch_template 'tpl': field 'colour': unknown field (allowed: service, "
        "service_version, command, "
        "instance_type, market, port, slots, queue, service_time, boot_time, sessions, "
        "session_store, database, read_from, db_pool, cache, cache_ttl, security_groups, tags, "
        "termination_protection, ecs_cluster)",
        "17:55: clb 'lb': field 'instances[0]': no instance named 'web' (allowed: no instance is "
        "defined)",
        "18:7: field 'architecture.resources[10]': expected a mapping, got 42 (allowed: a "
        "mapping {type, name, ...})",
    };
    int n = (int)(sizeof w / sizeof w[0]);
    char msgs[32][1024];
    const char *ptrs[32];
    for (int i = 0; i < n; i++) {
        char tmp[512];
        snprintf(tmp, sizeof tmp, "%s", w[i]);
        char *t = strstr(tmp, "TMP");
        if (t) {
            *t = 0;
            snprintf(msgs[i], sizeof msgs[i], "%s:%s%s%s", tmp_path, tmp, tmp_path, t + 3);
        } else {
            snprintf(msgs[i], sizeof msgs[i], "%s:%s", tmp_path, tmp);
        }
        ptrs[i] = msgs[i];
    }
    assert_errs(&e, ptrs, n);
    gd_errs_free(&e);
    rm_tmp();
}

Test(scenario, not_a_mapping)
{
    gd_errs e = {0};
    load_bad_text("- just\n- a list\n", &e);
    char want[256];
    snprintf(want, sizeof want,
             "%s:1:1: field '': the document must be a mapping, got [\"just\",\"a list\"] "
             "(allowed: a mapping with name, duration, traffic, architecture)",
             tmp_path);
    const char *w[] = {want};
    assert_errs(&e, w, 1);
    gd_errs_free(&e);
    rm_tmp();

    load_bad_text("name: x\n", &e);
    char w1[256], w2[256], w3[256];
    snprintf(w1, sizeof w1, "%s:1:1: field 'duration': missing (allowed: 1m..7d)", tmp_path);
    snprintf(w2, sizeof w2, "%s:1:1: field 'traffic': missing (allowed: a mapping)", tmp_path);
    snprintf(w3, sizeof w3, "%s:1:1: field 'architecture': missing (allowed: a mapping)", tmp_path);
    const char *ww[] = {w1, w2, w3};
    assert_errs(&e, ww, 3);
    gd_errs_free(&e);
    rm_tmp();
}

Test(scenario, alb_rules_are_checked_with_their_place)
{
    gd_errs e = {0};
    load_bad_text(
        "name: rules\n"                                       /* 1 */
        "duration: 1h\n"                                      /* 2 */
        "traffic: {rate: [{at: 0, rps: 1}]}\n"                /* 3 */
        "architecture:\n"                                     /* 4 */
        "  endpoint: lb\n"                                    /* 5 */
        "  resources:\n"                                      /* 6 */
        "    - {type: vpc, name: main}\n"                     /* 7 */
        "    - {type: subnet, name: a, cidr: 127.T.0.0/24}\n" /* 8 */
        "    - type: alb\n"                                   /* 9 */
        "      name: lb\n"                                    /* 10 */
        "      subnets: [a]\n"                                /* 11 */
        "      rules:\n"                                      /* 12 */
        "        - {priority: 7, conditions: {path: /a}, action: {type: fixed_response}}\n"
        "        - {priority: 7, conditions: {path: /b}, action: {type: fixed_response}}\n",
        &e);
    char want[512];
    snprintf(want, sizeof want,
             "%s:13:9: alb 'lb': field 'rules': rules[1].priority: 7 is used twice (allowed: "
             "listener rules as doc/edge.md describes them)",
             tmp_path);
    const char *w[] = {want};
    assert_errs(&e, w, 1);
    gd_errs_free(&e);
    rm_tmp();
}

Test(scenario, target_groups_are_checked_with_their_place)
{
    gd_errs e = {0};
    load_bad_text("name: tgs\n"                                         /* 1 */
                  "duration: 1h\n"                                      /* 2 */
                  "traffic: {rate: [{at: 0, rps: 1}]}\n"                /* 3 */
                  "architecture:\n"                                     /* 4 */
                  "  endpoint: lb\n"                                    /* 5 */
                  "  resources:\n"                                      /* 6 */
                  "    - {type: vpc, name: main}\n"                     /* 7 */
                  "    - {type: subnet, name: a, cidr: 127.T.0.0/24}\n" /* 8 */
                  "    - type: alb\n"                                   /* 9 */
                  "      name: lb\n"                                    /* 10 */
                  "      subnets: [a]\n"                                /* 11 */
                  "      default_target_group: nope\n"                  /* 12 */
                  "      rules:\n"                                      /* 13 */
                  "        - {priority: 1, conditions: {path: /a}, action: {type: forward, "
                  "target_group: api}}\n" /* 14 */
                  "        - {priority: 2, conditions: {path: /b}, action: {type: forward, "
                  "target_group: lost}}\n"                                      /* 15 */
                  "    - {type: target_group, name: api, instances: [ghost]}\n" /* 16 */
                  "    - {type: launch_template, name: tpl}\n"                  /* 17 */
                  "    - {type: asg, name: web, launch_template: tpl, subnets: [a], "
                  "target_groups: [api, gone]}\n"                /* 18 */
                  "    - {type: target_group, name: default}\n", /* 19 */
                  &e);
    const char *w[] = {
        "12:29: alb 'lb': field 'default_target_group': no target_group named 'nope' (allowed: "
        "api)",
        "15:87: alb 'lb': field 'rules[1].action.target_group': no target_group named 'lost' "
        "(allowed: default, api)",
        "16:51: target_group 'api': field 'instances[0]': no instance named 'ghost' (allowed: no "
        "instance is defined)",
        "18:87: asg 'web': field 'target_groups[1]': no target_group named 'gone' (allowed: api)",
        "19:7: target_group 'default': the name is reserved for an alb's implicit target group "
        "(allowed: any other name)",
    };
    assert_errs_here(&e, w, (int)(sizeof w / sizeof w[0]));
    gd_errs_free(&e);
    rm_tmp();
}

Test(scenario, a_target_group_serves_one_alb)
{
    gd_errs e = {0};
    load_bad_text("name: tgs\n"                                         /* 1 */
                  "duration: 1h\n"                                      /* 2 */
                  "traffic: {rate: [{at: 0, rps: 1}]}\n"                /* 3 */
                  "architecture:\n"                                     /* 4 */
                  "  endpoint: lb\n"                                    /* 5 */
                  "  resources:\n"                                      /* 6 */
                  "    - {type: vpc, name: main}\n"                     /* 7 */
                  "    - {type: subnet, name: a, cidr: 127.T.0.0/24}\n" /* 8 */
                  "    - {type: target_group, name: web-tg}\n"          /* 9 */
                  "    - {type: target_group, name: api-tg}\n"          /* 10 */
                  "    - {type: alb, name: lb, subnets: [a], default_target_group: web-tg, "
                  "rules: [{priority: 1, conditions: {path: /a}, action: {type: forward, "
                  "target_group: api-tg}}]}\n" /* 11 */
                  "    - {type: alb, name: lb2, subnets: [a], default_target_group: web-tg}\n"
                  /* 12 */
                  "    - {type: alb, name: lb3, subnets: [a], rules: [{priority: 1, conditions: "
                  "{path: /a}, action: {type: forward, target_group: api-tg}}]}\n", /* 13 */
                  &e);
    const char *w[] = {
        "12:66: alb 'lb2': field 'default_target_group': target_group 'web-tg' already serves "
        "alb 'lb' (allowed: a target_group no other alb sends to)",
        "13:128: alb 'lb3': field 'rules[0].action.target_group': target_group 'api-tg' "
        "already serves alb 'lb' (allowed: a target_group no other alb sends to)",
    };
    assert_errs_here(&e, w, (int)(sizeof w / sizeof w[0]));
    gd_errs_free(&e);
    rm_tmp();
}

Test(scenario, alb_rules_forward_to_target_groups_defined_later)
{
    gd_scenario *s =
        load_ok_text("name: tgs\n"
                     "duration: 1h\n"
                     "traffic: {rate: [{at: 0, rps: 1}]}\n"
                     "architecture:\n"
                     "  endpoint: lb\n"
                     "  resources:\n"
                     "    - {type: vpc, name: main}\n"
                     "    - {type: subnet, name: a, cidr: 127.T.0.0/24}\n"
                     "    - type: alb\n"
                     "      name: lb\n"
                     "      subnets: [a]\n"
                     "      default_target_group: web-tg\n"
                     "      rules:\n"
                     "        - {priority: 1, conditions: {path: /api/*}, action: {type: forward, "
                     "target_group: api-tg}}\n"
                     "        - {priority: 2, conditions: {path: /old/*}, action: {type: forward, "
                     "target_group: default}}\n"
                     "    - {type: launch_template, name: tpl}\n"
                     "    - {type: asg, name: web, launch_template: tpl, subnets: [a], "
                     "target_groups: [web-tg]}\n"
                     "    - {type: asg, name: api, launch_template: tpl, subnets: [a], "
                     "target_groups: [api-tg]}\n"
                     "    - {type: target_group, name: web-tg}\n"
                     "    - {type: target_group, name: api-tg, port: 8000, algorithm: "
                     "least_outstanding_requests}\n");
    size_t i, tgs = 0;
    json_t *r;
    json_array_foreach(s->resources, i, r)
    {
        cr_assert_null(json_object_get(r, "checked"), "no bookkeeping is left in a resource");
        if (!strcmp(json_string_value(json_object_get(r, "type")), "target_group")) tgs++;
    }
    cr_assert_eq(tgs, 2);
    gd_scenario_free(s);

    /* the edge's own check of the rules still applies, once the names are known */
    gd_errs e = {0};
    load_bad_text("name: tgs\n"
                  "duration: 1h\n"
                  "traffic: {rate: [{at: 0, rps: 1}]}\n"
                  "architecture:\n"
                  "  endpoint: lb\n"
                  "  resources:\n"
                  "    - {type: vpc, name: main}\n"
                  "    - {type: subnet, name: a, cidr: 127.T.0.0/24}\n"
                  "    - type: alb\n"
                  "      name: lb\n"
                  "      subnets: [a]\n"
                  "      rules:\n"
                  "        - {priority: 1, conditions: {}, action: {type: forward, "
                  "target_group: api}}\n"
                  "    - {type: target_group, name: api}\n",
                  &e);
    char want[512];
    snprintf(want, sizeof want,
             "%s:13:9: alb 'lb': field 'rules': rules[0].conditions: at least one "
             "of path, host (1..5 patterns), query, header ({name: patterns}); at most 8 in all "
             "(allowed: listener rules as doc/edge.md describes them)",
             tmp_path);
    const char *ww[] = {want};
    assert_errs(&e, ww, 1);
    gd_errs_free(&e);
    rm_tmp();
}

/* Found by fuzz/run scenario: a duration too large for milliseconds in a long long
 * was formatted through a signed overflow (UBSan). It is refused with its value. */
Test(scenario, huge_duration_is_refused_in_seconds)
{
    gd_errs e = {0};
    char *text = gd_strdup(minimal);
    replace(&text, "duration: 1h", "duration: 177777777777777777777777777777777777777777h30m");
    load_bad_text(text, &e);
    cr_assert_eq(e.n, 1, "want one error, got %d", e.n);
    cr_assert(strstr(e.msgs[0], "2:11: field 'duration': 6.4e+44s is out of range") != NULL,
              "got: %s", e.msgs[0]);
    gd_errs_free(&e);
    gd_free(text);
    rm_tmp();
}

/* traffic.keys.widen and drift: the phase in force at each time, keys that stay >= 1
 * and a new key at rank 1 every 3600/drift game seconds. */
Test(scenario, key_phases_and_drift)
{
    char *text = strdup(minimal);
    replace(&text, "traffic:\n",
            "traffic:\n"
            "  keys:\n"
            "    space: 100\n"
            "    zipf: 1.2\n"
            "    drift: 60\n"
            "    widen:\n"
            "      - {at: 10m, space: 1000, zipf: 0.9}\n"
            "      - {at: 30m, space: 5000, zipf: 0.5}\n");
    gd_scenario *s = load_ok_text(text);
    cr_assert_eq(s->nkey_phases, 3);
    cr_assert_eq(s->key_phases[0].space, 100u);
    cr_assert_float_eq(s->key_phases[1].zipf, 0.9, 1e-12);
    cr_assert_eq(gd_scenario_key_phase(s, 0), 0);
    cr_assert_eq(gd_scenario_key_phase(s, 599), 0);
    cr_assert_eq(gd_scenario_key_phase(s, 600), 1);
    cr_assert_eq(gd_scenario_key_phase(s, 3599), 2);
    /* drift 60 an hour over a 1 h game: rank 1 is key 61 at 0, key 60 a minute later */
    cr_assert_eq(gd_scenario_key_of(s, 0, 1), 61u);
    cr_assert_eq(gd_scenario_key_of(s, 60, 1), 60u);
    cr_assert_eq(gd_scenario_key_of(s, 60, 2), 61u, "the old top key is now second");
    cr_assert_eq(gd_scenario_key_of(s, 3600, 1), 1u);
    cr_assert_eq(gd_scenario_key_of(s, 7200, 1), 1u, "the drift stops at the game's end");
    gd_scenario_free(s);
    free(text);

    /* no drift: the key is the rank */
    s = load_ok_text(minimal);
    cr_assert_eq(s->nkey_phases, 1);
    cr_assert_eq(gd_scenario_key_of(s, 1000, 7), 7u);
    gd_scenario_free(s);
}

Test(scenario, key_phase_errors)
{
    char *text = strdup(minimal);
    replace(&text, "traffic:\n",
            "traffic:\n"                                   /* 3 */
            "  keys:\n"                                    /* 4 */
            "    widen:\n"                                 /* 5 */
            "      - {at: 20m, space: 10, zipf: 1}\n"      /* 6 */
            "      - {at: 10m, space: 10, zipf: 1}\n"      /* 7 */
            "      - {at: 2h, space: 10, zipf: 1}\n"       /* 8 */
            "      - {at: 30m, space: 0, zipf: 1, x: 1}\n" /* 9 */
            "      - {at: 40m}\n");                        /* 10 */
    gd_errs e = {0};
    load_bad_text(text, &e);
    const char *w[] = {
        "7:14: field 'traffic.keys.widen[1].at': 10m is not after the previous phase (20m) "
        "(allowed: a time after the previous phase)",
        "8:14: field 'traffic.keys.widen[2].at': 2h is after the end of the game (1h) (allowed: "
        "0s..duration)",
        "9:26: field 'traffic.keys.widen[3].space': 0 is out of range (allowed: 1..10000000)",
        "9:38: field 'traffic.keys.widen[3].x': unknown field (allowed: at, space, zipf)",
        "10:9: field 'traffic.keys.widen[4].space': missing (allowed: 1..10000000)",
        "10:9: field 'traffic.keys.widen[4].zipf': missing (allowed: 0..5)",
    };
    assert_errs_here(&e, w, (int)(sizeof w / sizeof w[0]));
    gd_errs_free(&e);
    rm_tmp();
    free(text);
}

/* Spot interruptions: from the scenario alone (the same every run and for every team),
 * increasing, about 3600 / interruptions_per_hour apart; none at a rate of 0. */
Test(scenario, spot_interruptions_are_seeded)
{
    char *text = strdup(minimal);
    replace(&text, "traffic:", "spot: {interruptions_per_hour: 6, notice: 90s}\ntraffic:");
    gd_scenario *s = load_ok_text(text);
    cr_assert_float_eq(s->spot.notice, 90, 1e-12);
    cr_assert_float_eq(s->spot.discount, 0.7, 1e-12, "the default discount");
    double prev = 0, sum = 0;
    for (int k = 0; k < 200; k++) {
        double t = gd_scenario_spot_at(s, k);
        cr_assert(t > prev, "interruption %d at %g after %g", k, t, prev);
        cr_assert_float_eq(t, gd_scenario_spot_at(s, k), 0, "the same every time");
        sum += t - prev;
        prev = t;
    }
    double mean = sum / 200;
    cr_assert(mean > 450 && mean < 750, "mean gap %g s, want about 600", mean);
    double first = gd_scenario_spot_at(s, 0);
    gd_scenario_free(s);
    replace(&text, "name: tiny\n", "name: tiny\nseed: 2\n");
    s = load_ok_text(text);
    cr_assert(gd_scenario_spot_at(s, 0) != first, "another seed, other times");
    gd_scenario_free(s);
    free(text);

    s = load_ok_text(minimal);
    cr_assert_float_eq(s->spot.per_hour, 1, 1e-12);
    gd_scenario_free(s);
    text = strdup(minimal);
    replace(&text, "traffic:", "spot: {interruptions_per_hour: 0}\ntraffic:");
    s = load_ok_text(text);
    cr_assert(isinf(gd_scenario_spot_at(s, 0)), "no interruptions");
    gd_scenario_free(s);
    free(text);
}

Test(scenario, dns_section)
{
    gd_scenario *s = load_ok_text(minimal);
    cr_assert_null(s->dns.resolve, "customers are told the endpoint by default");
    cr_assert_eq(s->dns.port, 8080);
    cr_assert_eq(s->dns.customers, 1000);
    cr_assert_float_eq(s->dns.stale_share, 0.05, 1e-12);
    gd_scenario_free(s);
    char *text = strdup(minimal);
    replace(&text, "traffic:", "dns: {resolve: www, port: 8000, customers: 50}\ntraffic:");
    replace(&text, "  endpoint: lb\n", "");
    s = load_ok_text(text);
    cr_assert_str_eq(s->dns.resolve, "www");
    cr_assert_eq(s->dns.port, 8000);
    cr_assert_eq(s->dns.customers, 50);
    cr_assert_null(s->endpoint, "no endpoint needed when customers resolve a name");
    gd_scenario_free(s);
    free(text);
    /* bad names and a missing endpoint without dns.resolve are errors */
    static const struct {
        const char *dns, *want;
    } bad[] = {
        {"dns: {resolve: 'WWW!'}\n", "field 'dns.resolve': not a record name"},
        {"dns: {resolve: a..b}\n", "field 'dns.resolve': not a record name"},
        {"dns: {stale_share: 2}\n", "field 'dns.stale_share'"},
        {"dns: {port: 80}\n", "field 'dns.port'"},
        {"", "field 'architecture.endpoint': missing (needed unless dns.resolve"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        text = strdup(minimal);
        char with[128];
        snprintf(with, sizeof with, "%straffic:", bad[i].dns);
        replace(&text, "traffic:", with);
        if (!*bad[i].dns) replace(&text, "  endpoint: lb\n", "");
        gd_errs e = {0};
        load_bad_text(text, &e);
        int found = 0;
        for (int k = 0; k < e.n; k++) found |= strstr(e.msgs[k], bad[i].want) != NULL;
        cr_assert(found, "%s: want %s, got %s", bad[i].dns, bad[i].want, e.n ? e.msgs[0] : "none");
        gd_errs_free(&e);
        free(text);
    }
}

Test(scenario, clothes_shoppers_take_their_defaults)
{
    long before = gd_mem_live();
    char *text = strdup(minimal);
    replace(&text, "traffic:", "service: {kind: clothes}\ntraffic:");
    gd_scenario *s = load_ok_text(text);
    cr_assert(gd_scenario_is_shop(s));
    cr_assert_float_eq(s->shoppers.think_time, 10.0, 1e-12);
    cr_assert_eq(s->shoppers.items_min, 1);
    cr_assert_eq(s->shoppers.items_max, 4);
    cr_assert_eq(s->shoppers.qty_max, 3);
    cr_assert_float_eq(s->shoppers.remove_share, 0.2, 1e-12);
    cr_assert_float_eq(s->shoppers.checkout_share, 0.6, 1e-12);
    cr_assert_float_eq(s->shoppers.profile_share, 0.2, 1e-12);
    cr_assert_eq(s->shoppers.max_active, 2000);
    cr_assert_eq(gd_scenario_visit_steps(s), 14, "6 steps and 2 per item of at most 4");
    static const double want[GD_SHOP_NOUT] = {30, -20, -10, -20, -50, -10};
    for (int o = 0; o < GD_SHOP_NOUT; o++)
        cr_assert_float_eq(s->scoring.shop[o], want[o], 1e-12, "%s",
                           gd_shop_outcome_name((enum gd_shop_outcome)o));
    cr_assert_str_eq(gd_shop_outcome_name(GD_SHOP_CART_LOST), "cart_lost");
    cr_assert_null(gd_shop_outcome_name(GD_SHOP_NOUT));
    gd_scenario_free(s);
    free(text);
    /* unicorn customers are not shoppers */
    s = load_ok_text(minimal);
    cr_assert_not(gd_scenario_is_shop(s));
    gd_scenario_free(s);
    cr_assert_eq(gd_mem_live(), before, "live allocations %ld, want %ld", gd_mem_live(), before);
}

Test(scenario, my_clothes_loads_clean)
{
    gd_scenario *s = NULL;
    gd_errs e = {0};
    int rc = gd_scenario_load("scenarios/my-clothes.yaml", &s, &e);
    char *j = gd_errs_join(&e);
    cr_assert_eq(rc, 0, "scenarios/my-clothes.yaml: %s", j);
    gd_free(j);
    gd_errs_free(&e);
    cr_assert(gd_scenario_is_shop(s));
    cr_assert_str_eq(s->endpoint, "shop-alb");
    cr_assert_float_eq(gd_scenario_rate(s, 0), 0.5, 1e-9, "shoppers a second at the start");
    cr_assert_gt(gd_scenario_rate(s, 45 * 60), 1.8, "the newsletter doubles the shoppers");
    cr_assert_lt(gd_scenario_rate(s, 56 * 60), 1.0, "and is over at 0:55");
    cr_assert(s->monkey.on, "Chaos Monkey works in this game");
    cr_assert_gt(s->scoring.shop[GD_SHOP_CHECKOUT], s->scoring.success_max * 10,
                 "an order earns more than a page view");
    cr_assert_lt(s->scoring.shop[GD_SHOP_CART_LOST], 0);
    int kill = 0;
    for (int i = 0; i < s->nevents; i++)
        kill |= !strcmp(s->events[i].action, "terminate_random") && s->events[i].at < 20 * 60;
    cr_assert(kill, "an instance is lost within the first 20 minutes");
    gd_scenario_free(s);
}

Test(scenario, clothes_shoppers_as_written)
{
    char *text = strdup(minimal);
    replace(&text, "traffic:",
            "service: {kind: clothes, salt: shop}\n"
            "shoppers: {think_time: 30s, items_min: 2, items_max: 6, qty_max: 1,\n"
            "           remove_share: 0, checkout_share: 1, profile_share: 0.5, max_active: 50}\n"
            "scoring: {checkout: 50, cart_lost: -40, item_lost: -15, checkout_failed: -25,\n"
            "          order_wrong: -100, stale_price: -5}\n"
            "traffic:");
    gd_scenario *s = load_ok_text(text);
    cr_assert_str_eq(s->salt, "shop");
    cr_assert_float_eq(s->shoppers.think_time, 30.0, 1e-12);
    cr_assert_eq(s->shoppers.items_min, 2);
    cr_assert_eq(s->shoppers.items_max, 6);
    cr_assert_eq(s->shoppers.qty_max, 1);
    cr_assert_float_eq(s->shoppers.remove_share, 0, 1e-12);
    cr_assert_float_eq(s->shoppers.checkout_share, 1, 1e-12);
    cr_assert_float_eq(s->shoppers.profile_share, 0.5, 1e-12);
    cr_assert_eq(s->shoppers.max_active, 50);
    cr_assert_eq(gd_scenario_visit_steps(s), 18);
    static const double want[GD_SHOP_NOUT] = {50, -40, -15, -25, -100, -5};
    for (int o = 0; o < GD_SHOP_NOUT; o++)
        cr_assert_float_eq(s->scoring.shop[o], want[o], 1e-12, "%s",
                           gd_shop_outcome_name((enum gd_shop_outcome)o));
    gd_scenario_free(s);
    free(text);
}

Test(scenario, clothes_shopper_errors_say_where_and_what_is_allowed)
{
    gd_errs e = {0};
    load_bad_text("name: shop\n"                                                  /* 1 */
                  "duration: 1h\n"                                                /* 2 */
                  "service: {kind: clothes}\n"                                    /* 3 */
                  "shoppers: {think_time: 11m, items_min: 5, items_max: 3,\n"     /* 4 */
                  "           checkout_share: 1.5, max_active: 0, colour: red}\n" /* 5 */
                  "scoring: {checkout: -1, cart_lost: 5}\n"                       /* 6 */
                  "dns: {resolve: www}\n"                                         /* 7 */
                  "traffic:\n"                                                    /* 8 */
                  "  rate:\n"                                                     /* 9 */
                  "    - {at: 0, rps: 1}\n"                                       /* 10 */
                  "architecture:\n"                                               /* 11 */
                  "  endpoint: lb\n"                                              /* 12 */
                  "  resources:\n"                                                /* 13 */
                  "    - {type: vpc, name: main}\n"                               /* 14 */
                  "    - {type: subnet, name: a, cidr: 127.T.0.0/24}\n"           /* 15 */
                  "    - {type: clb, name: lb, subnets: [a]}\n",                  /* 16 */
                  &e);
    const char *w[] = {
        "4:24: field 'shoppers.think_time': 11m is out of range (allowed: 0s..10m)",
        "4:40: field 'shoppers.items_min': 5 is above items_max (allowed: 1..3 (items_max))",
        "5:28: field 'shoppers.checkout_share': 1.5 is out of range (allowed: 0..1)",
        "5:45: field 'shoppers.max_active': 0 is out of range (allowed: 1..20000)",
        "5:48: field 'shoppers.colour': unknown field (allowed: think_time, items_min, items_max, "
        "qty_max, remove_share, checkout_share, profile_share, max_active)",
        "6:21: field 'scoring.checkout': -1 is out of range (allowed: 0..1000000)",
        "6:36: field 'scoring.cart_lost': 5 is out of range (allowed: -1000000..0)",
        "7:16: field 'dns.resolve': shoppers are told the endpoint; they do not look a name up "
        "(allowed: no dns.resolve with service.kind clothes)",
    };
    assert_errs_here(&e, w, (int)(sizeof w / sizeof w[0]));
    gd_errs_free(&e);
    rm_tmp();
    /* a shoppers section for customers who are not shoppers */
    char *text = strdup(minimal);
    replace(&text, "traffic:", "shoppers: {think_time: 5s}\ntraffic:");
    gd_errs e2 = {0};
    load_bad_text(text, &e2);
    const char *w2[] = {
        "3:1: field 'shoppers': the customers of service.kind unicorn are not shoppers (allowed: "
        "a shoppers section with service.kind clothes)",
    };
    assert_errs_here(&e2, w2, 1);
    gd_errs_free(&e2);
    rm_tmp();
    free(text);
}

Test(scenario, az_outage_events)
{
    char *text = strdup(minimal);
    replace(&text, "architecture:",
            "events:\n  - {at: 5m, action: az_outage, target: az/b}\n"
            "  - {at: 9m, action: az_outage, target: az/a, for: 30m}\narchitecture:");
    gd_scenario *s = load_ok_text(text);
    cr_assert_eq(s->nevents, 2);
    cr_assert_str_eq(s->events[0].target, "az/b");
    cr_assert_float_eq(s->events[0].for_s, 600, 1e-9, "10 minutes by default");
    cr_assert_float_eq(s->events[1].for_s, 1800, 1e-9);
    gd_scenario_free(s);
    free(text);
    static const char *const bad[] = {"az/z", "az/ab", "subnet/public-a", "a"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        text = strdup(minimal);
        char ev[160];
        snprintf(ev, sizeof ev,
                 "events:\n  - {at: 5m, action: az_outage, target: %s}\narchitecture:", bad[i]);
        replace(&text, "architecture:", ev);
        gd_errs e = {0};
        load_bad_text(text, &e);
        cr_assert(e.n == 1 && strstr(e.msgs[0], "is not an availability zone"), "%s: %s", bad[i],
                  e.n ? e.msgs[0] : "no error");
        gd_errs_free(&e);
        free(text);
    }
}

/* ---- chaos_monkey, ceo, protections and the CEO's and FIS's events ---------------- */

static const char *chaos_base =
    "name: chaos\n"                                                         /* 1 */
    "duration: 2h\n"                                                        /* 2 */
    "traffic:\n"                                                            /* 3 */
    "  rate:\n"                                                             /* 4 */
    "    - {at: 0, rps: 1}\n"                                               /* 5 */
    "SECTIONS"                                                              /* 6.. */
    "architecture:\n"                                                       /* +1 */
    "  endpoint: lb\n"                                                      /* +2 */
    "  resources:\n"                                                        /* +3 */
    "    - {type: vpc, name: main}\n"                                       /* +4 */
    "    - {type: subnet, name: a, cidr: 127.T.0.0/24}\n"                   /* +5 */
    "    - {type: launch_template, name: lt}\n"                             /* +6 */
    "    - {type: target_group, name: tg}\n"                                /* +7 */
    "    - {type: alb, name: lb, subnets: [a], default_target_group: tg}\n" /* +8 */
    "    - {type: asg, name: web, launch_template: lt, subnets: [a], min: 1, max: 4, desired: 3, "
    "target_groups: [tg]}\n" /* +9 */
    "    - {type: experiment_template, name: pause, actions: {w: {actionId: \"aws:fis:wait\", "
    "parameters: {duration: PT1M}}}}\n"; /* +10 */

static char *chaos_text(const char *sections)
{
    char *text = strdup(chaos_base);
    replace(&text, "SECTIONS", sections);
    return text;
}

Test(scenario, chaos_sections_default_off_and_deny_ceo_and_the_monkey)
{
    char *text = chaos_text("");
    gd_scenario *s = load_ok_text(text);
    cr_assert_eq(s->monkey.on, 0, "no chaos_monkey section: no monkey");
    cr_assert_float_eq(s->ceo.refusal_penalty, 0, 1e-12);
    cr_assert_eq(json_array_size(s->protections.deniable), 2);
    cr_assert_str_eq(json_string_value(json_array_get(s->protections.deniable, 0)), "ceo");
    cr_assert_str_eq(json_string_value(json_array_get(s->protections.deniable, 1)), "chaos-monkey");
    cr_assert(gd_scenario_deniable(s, "ceo") && !gd_scenario_deniable(s, "team-1"));
    gd_scenario_free(s);
    free(text);

    text = chaos_text("chaos_monkey: {probability: 0.5}\n");
    s = load_ok_text(text);
    cr_assert_eq(s->monkey.on, 1);
    cr_assert_float_eq(s->monkey.probability, 0.5, 1e-12);
    cr_assert_float_eq(s->monkey.period, 3600, 1e-9, "1h by default");
    cr_assert_str_eq(s->monkey.window, "00:00-24:00");
    cr_assert(s->monkey.window_from == 0 && s->monkey.window_to == 86400);
    cr_assert_float_eq(s->monkey.min_gap, 0, 1e-12);
    cr_assert_str_eq(s->monkey.opt_out_tag, "chaos-monkey:opt-out");
    cr_assert_null(s->monkey.groups, "every group");
    cr_assert_float_eq(s->monkey.refusal_penalty, 0, 1e-12);
    gd_scenario_free(s);
    free(text);
}

Test(scenario, chaos_sections_as_written)
{
    char *text = chaos_text("chaos_monkey:\n"
                            "  probability: 1\n"
                            "  period: 20m\n"
                            "  window: \"22:00-06:00\"\n"
                            "  min_gap: 10m\n"
                            "  opt_out_tag: no-chaos\n"
                            "  groups: [web]\n"
                            "  refusal_penalty: 5\n"
                            "ceo: {refusal_penalty: 50}\n"
                            "protections: {deniable: [ceo, intern]}\n");
    gd_scenario *s = load_ok_text(text);
    const gd_monkey_conf *m = &s->monkey;
    cr_assert(m->on && m->probability == 1 && m->period == 1200 && m->min_gap == 600);
    cr_assert(m->window_from == 22 * 3600 && m->window_to == 30 * 3600, "over midnight");
    cr_assert_str_eq(m->opt_out_tag, "no-chaos");
    cr_assert_eq(json_array_size(m->groups), 1);
    cr_assert_str_eq(json_string_value(json_array_get(m->groups, 0)), "web");
    cr_assert_float_eq(m->refusal_penalty, 5, 1e-12);
    cr_assert_float_eq(s->ceo.refusal_penalty, 50, 1e-12);
    cr_assert(gd_scenario_deniable(s, "intern") && !gd_scenario_deniable(s, "chaos-monkey"));
    gd_scenario_free(s);
    free(text);
}

Test(scenario, chaos_section_errors_say_where_and_what_is_allowed)
{
    gd_errs e = {0};
    char *text = chaos_text("chaos_monkey:\n"                                   /* 6 */
                            "  probability: 1.5\n"                              /* 7 */
                            "  period: 30s\n"                                   /* 8 */
                            "  window: \"9-17\"\n"                              /* 9 */
                            "  groups: [web, nope, web]\n"                      /* 10 */
                            "  colour: red\n"                                   /* 11 */
                            "ceo: {refusal_penalty: -1}\n"                      /* 12 */
                            "protections: {deniable: [team-2, admin, fis]}\n"); /* 13 */
    load_bad_text(text, &e);
    const char *w[] = {
        "7:16: field 'chaos_monkey.probability': 1.5 is out of range (allowed: 0..1)",
        "8:11: field 'chaos_monkey.period': 30s is out of range (allowed: 1m..1d)",
        "9:11: field 'chaos_monkey.window': '9-17' is not a working window (allowed: "
        "\"HH:MM-HH:MM\" of the game clock, e.g. \"09:00-17:00\"; the game starts at 00:00, "
        "24:00 ends a day, an end before the start goes over midnight)",
        "10:17: field 'chaos_monkey.groups[1]': no asg named 'nope' (allowed: web)",
        "10:23: field 'chaos_monkey.groups[2]': 'web' is listed twice (allowed: each group once)",
        "11:3: field 'chaos_monkey.colour': unknown field (allowed: probability, period, window, "
        "min_gap, opt_out_tag, groups, refusal_penalty)",
        "12:24: field 'ceo.refusal_penalty': -1 is out of range (allowed: 0..1000000)",
        "13:26: field 'protections.deniable[0]': 'team-2' cannot be denied (allowed: a list of "
        "principals, e.g. [ceo, chaos-monkey]; not team-N, admin, gameday or fis)",
        "13:34: field 'protections.deniable[1]': 'admin' cannot be denied (allowed: a list of "
        "principals, e.g. [ceo, chaos-monkey]; not team-N, admin, gameday or fis)",
        "13:41: field 'protections.deniable[2]': 'fis' cannot be denied (allowed: a list of "
        "principals, e.g. [ceo, chaos-monkey]; not team-N, admin, gameday or fis)",
    };
    assert_errs_here(&e, w, (int)(sizeof w / sizeof w[0]));
    gd_errs_free(&e);
    rm_tmp();
    free(text);
}

Test(scenario, ceo_and_fis_events_load_with_their_principals)
{
    char *text =
        chaos_text("events:\n"
                   "  - {at: 5m, action: update, target: asg/web, patch: {max: 2}}\n"
                   "  - {at: 6m, action: update, target: alb/lb, principal: board,\n"
                   "     patch: {rules: [{priority: 10, conditions: {path: /api/*}, action: {type: "
                   "forward, target_group: tg}}]}}\n"
                   "  - {at: 7m, action: detach_target_group, target: asg/web, group: tg}\n"
                   "  - {at: 8m, action: start_experiment, template: pause}\n");
    gd_scenario *s = load_ok_text(text);
    cr_assert_eq(s->nevents, 4);
    cr_assert_str_eq(s->events[0].principal, "ceo", "the CEO's by default");
    char *p = json_dumps(s->events[0].patch, JSON_COMPACT);
    cr_assert_str_eq(p, "{\"max\":2}", "the patch as written (fitted when it runs)");
    free(p);
    cr_assert_str_eq(s->events[1].principal, "board");
    cr_assert(json_is_array(json_object_get(s->events[1].patch, "rules")));
    cr_assert_str_eq(s->events[2].principal, "ceo");
    cr_assert_str_eq(s->events[2].group, "tg");
    cr_assert_null(s->events[2].patch);
    cr_assert_str_eq(s->events[3].principal, "fis");
    cr_assert_str_eq(s->events[3].template, "pause");
    cr_assert_null(s->events[3].target);
    gd_scenario_free(s);
    free(text);
}

Test(scenario, ceo_and_fis_event_errors_say_where_and_what_is_allowed)
{
    gd_errs e = {0};
    char *text = chaos_text(
        "events:\n"                                                                  /* 6 */
        "  - {at: 5m, action: update, target: asg/web}\n"                            /* 7 */
        "  - {at: 5m, action: update, target: asg/web, patch: {max: 0}}\n"           /* 8 */
        "  - {at: 5m, action: update, target: asg/web, patch: {colour: red}}\n"      /* 9 */
        "  - {at: 5m, action: update, target: rocket/x, patch: {max: 2}}\n"          /* 10 */
        "  - {at: 5m, action: scale, target: asg/web, patch: {max: 2}}\n"            /* 11 */
        "  - {at: 5m, action: detach_target_group, target: alb/lb, group: tg}\n"     /* 12 */
        "  - {at: 5m, action: detach_target_group, target: asg/web, group: nope}\n"  /* 13 */
        "  - {at: 5m, action: start_experiment, template: nope}\n"                   /* 14 */
        "  - {at: 5m, action: start_experiment, target: asg/web, template: pause}\n" /* 15 */
        "  - {at: 5m, action: message, message: hi, template: pause}\n"              /* 16 */
        "  - {at: 5m, action: update, target: asg/web, patch: []}\n");               /* 17 */
    load_bad_text(text, &e);
    const char *w[] = {
        "7:5: field 'events[0].patch': missing (an update sets something) (allowed: a mapping "
        "of the target's fields to set, e.g. {max: 2})",
        "8:60: asg 'web': field 'max': 0 is below min (1) (allowed: 1..1000)",
        "9:55: asg 'web': field 'colour': unknown field (allowed: launch_template, subnets, min, "
        "max, desired, load_balancers, target_groups, health_check_type, health_check_grace, "
        "new_instances_protected_from_scale_in, capacity_rebalance, tags)",
        "10:38: field 'events[3].target': 'rocket' is not a resource type (allowed: vpc, subnet, "
        "launch_template, instance, asg, clb, alb, target_group, cdn, alarm, scaling_policy, "
        "scheduled_action, dns_record, elastic_ip, security_group, reserved_instance, "
        "experiment_template, experiment, deny_policy, cache_cluster, db, "
        "cluster, task_definition, ecs_service, task, function)",
        "11:53: field 'events[4].patch': a scale event takes no patch (allowed: a patch only "
        "with action: update)",
        "12:51: field 'events[5].target': detach_target_group acts on an asg, not a alb "
        "(allowed: web)",
        "13:67: field 'events[6].group': no target_group named 'nope' (allowed: tg)",
        "14:50: field 'events[7].template': no experiment_template named 'nope' (allowed: "
        "pause)",
        "15:48: field 'events[8].target': a start_experiment event takes no target (allowed: no "
        "target: the experiment template names its targets)",
        "16:54: field 'events[9].template': a message event takes no template (allowed: a "
        "template only with action: start_experiment)",
        "17:54: field 'events[10].patch': expected a non-empty mapping, got [] (allowed: a "
        "mapping of the target's fields to set, e.g. {max: 2})",
    };
    assert_errs_here(&e, w, (int)(sizeof w / sizeof w[0]));
    gd_errs_free(&e);
    rm_tmp();
    free(text);
}

Test(scenario, a_deny_policy_names_only_deniable_principals)
{
    gd_errs e = {0};
    char *text = chaos_text("protections: {deniable: [ceo]}\n");
    replace(&text, "    - {type: vpc, name: main}\n",
            "    - {type: vpc, name: main}\n"
            "    - {type: deny_policy, name: d, principals: [chaos-monkey, admin]}\n");
    load_bad_text(text, &e);
    const char *w[] = {
        "11:49: deny_policy 'd': field 'principals[0]': 'chaos-monkey' is not one of the "
        "principals this scenario lets a team deny (protections.deniable) (allowed: ceo)",
        "11:63: deny_policy 'd': field 'principals[1]': 'admin' cannot be denied (allowed: a "
        "principal the scenario lets a team deny, e.g. ceo, chaos-monkey)",
    };
    assert_errs_here(&e, w, (int)(sizeof w / sizeof w[0]));
    gd_errs_free(&e);
    rm_tmp();
    free(text);
}

Test(scenario, a_shrunk_max_takes_desired_with_it)
{
    json_t *spec = json_pack("{s:i,s:i,s:i}", "min", 1, "max", 4, "desired", 3);
    json_t *patch = json_pack("{s:i}", "max", 2);
    gd_scenario_patch_fit("asg", spec, patch);
    cr_assert_eq(json_integer_value(json_object_get(patch, "desired")), 2);
    json_decref(patch);
    patch = json_pack("{s:i}", "max", 3); /* desired 3 fits already */
    gd_scenario_patch_fit("asg", spec, patch);
    cr_assert_null(json_object_get(patch, "desired"));
    json_decref(patch);
    patch = json_pack("{s:i}", "min", 4); /* a raised min raises desired */
    gd_scenario_patch_fit("asg", spec, patch);
    cr_assert_eq(json_integer_value(json_object_get(patch, "desired")), 4);
    json_decref(patch);
    patch = json_pack("{s:i,s:i}", "max", 2, "desired", 1); /* the patch's own desired */
    gd_scenario_patch_fit("asg", spec, patch);
    cr_assert_eq(json_integer_value(json_object_get(patch, "desired")), 1);
    json_decref(patch);
    patch = json_pack("{s:i}", "max", 1);
    gd_scenario_patch_fit("alb", spec, patch); /* other types: nothing */
    cr_assert_null(json_object_get(patch, "desired"));
    json_decref(patch);
    json_decref(spec);
}
