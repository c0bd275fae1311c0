/* Unit tests for src/server/aws.c's pure parts: the teams' derived keys, AWS's
 * timestamps, zones, accounts and filter patterns. */
#include "server/aws_int.h"

#include <criterion/criterion.h>
#include <string.h>

Test(aws, keys_are_derived_stable_and_distinct)
{
    char id[21], secret[41], id2[21], secret2[41], id3[21], secret3[41];
    gd_aws_keys("internal-secret", 1, 0, id, secret);
    cr_assert_eq(strlen(id), 20);
    cr_assert_eq(strncmp(id, "AKIA", 4), 0);
    for (int i = 4; i < 20; i++)
        cr_assert(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", id[i]), "%s", id);
    cr_assert_eq(strlen(secret), 40);
    for (int i = 0; i < 40; i++)
        cr_assert(
            strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", secret[i]));
    gd_aws_keys("internal-secret", 1, 0, id2, secret2);
    cr_assert_str_eq(id, id2, "the same secret gives the same key (a restarted server)");
    cr_assert_str_eq(secret, secret2);
    gd_aws_keys("internal-secret", 2, 0, id2, secret2);
    gd_aws_keys("internal-secret", 1, 1, id3, secret3);
    cr_assert_str_neq(id, id2, "another team");
    cr_assert_str_neq(secret, secret2);
    cr_assert_str_neq(id, id3, "the admin's key of the team");
    gd_aws_keys("another-game", 1, 0, id2, secret2);
    cr_assert_str_neq(id, id2, "another game");
    cr_assert_str_neq(secret, secret2);
}

Test(aws, timestamps)
{
    double t;
    cr_assert_eq(gd_aws_parse_time("2015-08-30T12:36:00Z", &t), 0);
    cr_assert_float_eq(t, 1440938160, 1e-6);
    cr_assert_eq(gd_aws_parse_time("2015-08-30T12:36:00.250Z", &t), 0);
    cr_assert_float_eq(t, 1440938160.25, 1e-6);
    cr_assert_eq(gd_aws_parse_time("2015-08-30T14:36:00+02:00", &t), 0);
    cr_assert_float_eq(t, 1440938160, 1e-6);
    cr_assert_eq(gd_aws_parse_time("2015-08-30", &t), 0);
    cr_assert_float_eq(t, 1440892800, 1e-6);
    cr_assert_eq(gd_aws_parse_time("1440938160.5", &t), 0, "epoch seconds");
    cr_assert_float_eq(t, 1440938160.5, 1e-6);
    const char *bad[] = {"",
                         "yesterday",
                         "2015-13-01",
                         "2015-08-30T25:00:00Z",
                         "2015-08-30T12:36:00Q",
                         "2015-08-30T12:36:00+2",
                         NULL};
    for (int i = 0; bad[i]; i++) cr_assert_eq(gd_aws_parse_time(bad[i], &t), -1, "%s", bad[i]);
    char out[32];
    cr_assert_str_eq(gd_aws_iso(1440938160.25, out), "2015-08-30T12:36:00.250Z");
}

Test(aws, zones_accounts_and_patterns)
{
    char out[16];
    cr_assert_str_eq(gd_aws_az("c", out), "us-east-1c");
    cr_assert_str_eq(gd_aws_az("", out), "");
    cr_assert_eq(gd_aws_zone("us-east-1f"), 'f');
    cr_assert_eq(gd_aws_zone("us-east-1g"), 0);
    cr_assert_eq(gd_aws_zone("us-west-2a"), 0);
    cr_assert_str_eq(gd_aws_account(3, out), "000000000003");
    cr_assert(gd_aws_match("web-*", "web-1a2b"));
    cr_assert(gd_aws_match("i-?bc", "i-abc"));
    cr_assert(!gd_aws_match("web-*", "db-1"));
    cr_assert(!gd_aws_match("x", NULL));
}
