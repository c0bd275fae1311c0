/* Tests of the report's rendering (src/server/report.c): the Markdown lists each team's
 * actions with points per minute before and after, and the HTML page is self-contained
 * (assets inlined, the data in a JSON script whose '<' cannot end it). */
#include "core/buf.h"
#include "server/report.h"

#include <criterion/criterion.h>
#include <string.h>

static json_t *sample(void)
{
    json_t *r = json_loads(
        "{\"game\":{\"name\":\"g\",\"title\":\"A </script> game\",\"duration\":600,\"clock\":600,"
        "\"state\":\"ended\",\"window_s\":120},\"teams\":[{\"id\":1,\"name\":\"team-1\","
        "\"score\":10,\"series\":[[0,0,0,0],[600,12,2,10]],\"customers\":[[60,5,1,0,0,120]],"
        "\"events\":[{\"time\":60,\"from\":60,\"kind\":\"bills\",\"source\":\"billing\","
        "\"points\":-2,\"reason\":\"2 bills: $0.02\"},{\"time\":200,\"kind\":\"action\","
        "\"source\":\"team-1\",\"points\":0,\"reason\":\"SetDesiredCapacity web a|b\"}],"
        "\"actions\":[{\"time\":200,\"source\":\"team-1\",\"reason\":\"SetDesiredCapacity web "
        "a|b\","
        "\"effect\":{\"before\":12.5,\"after\":3,\"delta\":-9.5}},{\"time\":10,\"source\":\"team-"
        "1\","
        "\"reason\":\"TerminateInstances i-1\",\"effect\":{\"before\":null,\"after\":1,"
        "\"delta\":null}}],\"bill\":{\"total_usd\":0.02,\"by_resource\":[{\"resource\":\"i-1\","
        "\"name\":\"web\",\"type\":\"instance\",\"usd\":0.02}]}}]}",
        0, NULL);
    cr_assert(r);
    return r;
}

Test(report, markdown_lists_actions_with_their_effect)
{
    json_t *r = sample();
    gd_buf b;
    gd_buf_init(&b, 1 << 20);
    cr_assert_eq(gd_report_markdown(r, &b), 0);
    const char *md = gd_buf_cstr(&b);
    cr_assert(
        strstr(md, "| 0:03:20 | SetDesiredCapacity web a\\|b | team-1 | +12.5 | +3.0 | -9.5 |"),
        "%s", md);
    cr_assert(strstr(md, "| 0:00:10 | TerminateInstances i-1 | team-1 | n/a | +1.0 | n/a |"), "%s",
              md);
    cr_assert(strstr(md, "| 1 | team-1 | 10.0 | 12.0 | 2.0 | $0.02 |"), "%s", md);
    cr_assert(strstr(md, "| i-1 | web | instance | 0.0200 |"), "%s", md);
    cr_assert(strstr(md, "| 0:01:00 | 5 | 1 | 0 | 0 | 120 |"), "%s", md);
    gd_buf_free(&b);
    json_decref(r);
}

Test(report, html_is_self_contained)
{
    json_t *r = sample();
    gd_buf b;
    gd_buf_init(&b, 64 << 20);
    cr_assert_eq(gd_report_html(r, &b), 0);
    const char *h = gd_buf_cstr(&b);
    cr_assert(strstr(h, "<script type=\"application/json\" id=\"report-data\">"));
    cr_assert_null(strstr(h, "<script src="), "no script is loaded from elsewhere");
    cr_assert_null(strstr(h, "<link rel=\"stylesheet\""), "no stylesheet either");
    cr_assert(strstr(h, "A \\u003c/script> game"), "the data's '<' is escaped");
    cr_assert(strstr(h, "uPlot"), "uPlot is inlined");
    cr_assert(strstr(h, "window.GD"), "charts.js is inlined");
    gd_buf_free(&b);
    json_decref(r);
}
