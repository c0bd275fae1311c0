/* Unit tests for src/server/audit.c: the parameters of GET /api/v1/audit as a filter,
 * and the refusals (which parameter, what it was, what is allowed). */
#include "server/audit.h"

#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

static gd_audit_query q;
static char err[256];

/* Parses query (a C string); the parser's result. */
static int parse(const char *query)
{
    return gd_audit_query_parse(&q, query, query ? strlen(query) : 0, err, sizeof err);
}

/* Parses a query that must be refused, and checks the whole message. */
static void refused(const char *query, const char *msg)
{
    cr_assert_eq(parse(query), -1, "'%s' was accepted", query);
    cr_assert_str_eq(err, msg, "for '%s'", query);
}

Test(audit, no_parameter_is_everything_of_the_default_size)
{
    cr_assert_eq(parse(NULL), 0);
    cr_assert_eq(q.f.limit, GD_AUDIT_DEFAULT_LIMIT);
    cr_assert_null(q.f.principal);
    cr_assert_null(q.f.event);
    cr_assert_null(q.f.resource);
    cr_assert(isinf(q.f.from) && q.f.from < 0);
    cr_assert(isinf(q.f.until) && q.f.until > 0);
    cr_assert_eq(q.f.errors, GD_AUDIT_ANY);
    cr_assert_eq(q.f.since, 0);
    cr_assert_eq(parse(""), 0);
    cr_assert_eq(q.f.limit, GD_AUDIT_DEFAULT_LIMIT);
}

Test(audit, every_parameter_sets_its_condition)
{
    cr_assert_eq(parse("principal=chaos%2Dmonkey&event=TerminateInstances&resource=i-0abc1234"
                       "&from=60&to=00:02:00&errors=none&since=7&limit=-20&team=2"),
                 0, "%s", err);
    cr_assert_str_eq(q.f.principal, "chaos-monkey", "percent-decoded");
    cr_assert_str_eq(q.f.event, "TerminateInstances");
    cr_assert_str_eq(q.f.resource, "i-0abc1234");
    cr_assert_float_eq(q.f.from, 60, 1e-9);
    cr_assert_float_eq(q.f.until, 121, 1e-9, "to=HH:MM:SS takes that whole second");
    cr_assert_eq(q.f.errors, GD_AUDIT_ERRORS_NONE);
    cr_assert_eq(q.f.since, 7);
    cr_assert_eq(q.f.limit, -20);
    cr_assert_eq(q.f.team, 0, "the team is who asks: the caller's");
    cr_assert_eq(parse("errors=only&limit=0"), 0);
    cr_assert_eq(q.f.errors, GD_AUDIT_ERRORS_ONLY);
    cr_assert_eq(q.f.limit, 0);
}

Test(audit, to_in_seconds_includes_that_time)
{
    cr_assert_eq(parse("to=90.5"), 0);
    cr_assert(q.f.until > 90.5 && q.f.until < 90.5 + 1e-9, "until just past 90.5: %.17g",
              q.f.until);
    cr_assert_eq(parse("from=00:01:30&to=00:01:30"), 0, "one second: %s", err);
    cr_assert_float_eq(q.f.from, 90, 1e-9);
    cr_assert_float_eq(q.f.until, 91, 1e-9);
}

Test(audit, game_times)
{
    double t = -1;
    cr_assert_eq(gd_audit_parse_time("0", &t), 0);
    cr_assert_float_eq(t, 0, 1e-9);
    cr_assert_eq(gd_audit_parse_time("723.25", &t), 0);
    cr_assert_float_eq(t, 723.25, 1e-9);
    cr_assert_eq(gd_audit_parse_time("00:12:03", &t), 1);
    cr_assert_float_eq(t, 723, 1e-9);
    cr_assert_eq(gd_audit_parse_time("1:00:00", &t), 1, "the status line's H:MM:SS");
    cr_assert_float_eq(t, 3600, 1e-9);
    cr_assert_eq(gd_audit_parse_time("100:00:01", &t), 1);
    cr_assert_float_eq(t, 360001, 1e-9);
    const char *bad[] = {"",        "x",       "-5",      "1e3",     "inf",      "nan",
                         "0x10",    "1.2.3",   ".",       "12:03",   "00:60:00", "00:00:60",
                         "00:1:02", "00:01:2", "a:00:00", "1:2:3:4", " 5",       "5 "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(gd_audit_parse_time(bad[i], &t), -1, "'%s' was read as a time", bad[i]);
}

Test(audit, bad_values_are_refused_saying_what_is_allowed)
{
    refused("from=x", "from: expected game seconds or HH:MM:SS, got 'x'");
    refused("to=12:3", "to: expected game seconds or HH:MM:SS, got '12:3'");
    refused("from=00:10:00&to=00:05:00",
            "from, to: from (600 s) is after to (300 s): no record is in between");
    refused("errors=some", "errors: expected only or none, got 'some'");
    refused("errors", "errors: expected only or none, got ''");
    refused("limit=1001",
            "limit: expected an integer from -1000 to 1000 (0: 1000; negative: the newest), got "
            "'1001'");
    refused("limit=ten",
            "limit: expected an integer from -1000 to 1000 (0: 1000; negative: the newest), got "
            "'ten'");
    refused("since=-1", "since: expected a record's seq (an integer, 0 or more), got '-1'");
    refused("principal=", "principal: expected 1..64 characters, got ''");
    refused("event=Stop%0AInstances",
            "event: control characters are not allowed, got 'Stop?Instances'");
    refused("team=two", "team: expected a team number (1..254), got 'two'");
    refused("princpal=team-1", "unknown parameter 'princpal' (allowed: principal, event, "
                               "resource, from, to, errors, since, limit, team)");
    refused("limit=5&limit=6", "limit: given more than once");
    char longv[300] = "resource=";
    memset(longv + 9, 'a', 150);
    longv[159] = 0;
    refused(longv, "resource: too long (at most 100 characters)");
    memcpy(longv, "from=", 5);
    memset(longv + 5, '1', 200);
    longv[205] = 0;
    refused(longv, "from: expected game seconds or HH:MM:SS, got '(too long)'");
}

Test(audit, quoted_values_are_cut_and_made_printable)
{
    refused("from=%27%FF", "from: expected game seconds or HH:MM:SS, got '?"
                           "?'");
    cr_assert_eq(parse("from=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
                 -1);
    cr_assert(strstr(err, "got 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...'") != NULL, "%s", err);
}
