/* Unit tests for src/model/cron.c: scheduled actions' recurrences in game time. */
#include <criterion/criterion.h>

#include "model/cron.h"

static gd_cron parse(const char *s)
{
    gd_cron c;
    char err[128];
    cr_assert_eq(gd_cron_parse(s, &c, err, sizeof err), 0, "%s: %s", s, err);
    return c;
}

Test(cron, fields)
{
    gd_cron c = parse("*/30 * * * *");
    cr_expect(gd_cron_match(&c, 0));
    cr_expect(gd_cron_match(&c, 30));
    cr_expect(!gd_cron_match(&c, 31));
    cr_expect(gd_cron_match(&c, 90));
    c = parse("15 2 * * *"); /* 2:15 of game time */
    cr_expect(gd_cron_match(&c, 2 * 60 + 15));
    cr_expect(!gd_cron_match(&c, 3 * 60 + 15));
    cr_expect(gd_cron_match(&c, 26 * 60 + 15), "the next game day");
    c = parse("0,10-20/5 1-3 * * *");
    cr_expect(gd_cron_match(&c, 60));
    cr_expect(gd_cron_match(&c, 60 + 15));
    cr_expect(!gd_cron_match(&c, 60 + 12));
    cr_expect(!gd_cron_match(&c, 4 * 60));
    cr_expect(!gd_cron_match(&c, -1));
}

Test(cron, errors)
{
    const char *bad[] = {"",           "* * * *",     "* * * * * *", "60 * * * *",
                         "* 24 * * *", "*/0 * * * *", "5-2 * * * *", "a * * * *",
                         "* * 1 * *",  "* * * * MON", "1- * * * *",  ",, * * * *"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gd_cron c;
        char err[128] = "";
        cr_expect_eq(gd_cron_parse(bad[i], &c, err, sizeof err), -1, "'%s' must not parse", bad[i]);
        cr_expect(err[0], "'%s' says why", bad[i]);
    }
}
