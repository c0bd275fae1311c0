/* Unit tests for src/server/aws_xml.c: escaping (entities, forbidden control
 * characters, bytes that are not UTF-8), elements, and the bound of a document. */
#include "server/aws_xml.h"

#include <criterion/criterion.h>
#include <string.h>

static const char *text(gd_xml *x)
{
    return gd_buf_cstr(&x->b);
}

Test(aws_xml, escapes_markup)
{
    gd_xml x;
    gd_xml_init(&x, 1024);
    const char *s = "a<b>&\"c'd";
    gd_xml_escape(&x, s, strlen(s));
    cr_assert_str_eq(text(&x), "a&lt;b&gt;&amp;&quot;c&apos;d");
    gd_xml_free(&x);
}

Test(aws_xml, replaces_what_xml_cannot_carry)
{
    gd_xml x;
    gd_xml_init(&x, 1024);
    const char s[] = "ok\x01\tz\xc3\xa9\xff\xc3\x28\xed\xa0\x80\xe2\x82\xac";
    gd_xml_escape(&x, s, sizeof s - 1);
    /* \x01 and the stray \xff, \xc3 (before '('), and an encoded surrogate become U+FFFD;
     * the tab, é and € stay. */
    cr_assert_str_eq(text(&x), "ok\xEF\xBF\xBD\tz\xc3\xa9\xEF\xBF\xBD\xEF\xBF\xBD(\xEF\xBF\xBD"
                               "\xEF\xBF\xBD\xEF\xBF\xBD\xe2\x82\xac");
    cr_assert_eq(x.err, 0);
    gd_xml_free(&x);
}

Test(aws_xml, elements)
{
    gd_xml x;
    gd_xml_init(&x, 1024);
    gd_xml_open(&x, "item");
    gd_xml_text(&x, "key", "Name");
    gd_xml_text(&x, "none", NULL);
    gd_xml_textf(&x, "code", "%d", 16);
    gd_xml_close(&x, "item");
    cr_assert_str_eq(text(&x), "<item><key>Name</key><code>16</code></item>");
    gd_xml_free(&x);
}

Test(aws_xml, a_full_document_fails_once_and_stays_failed)
{
    gd_xml x;
    gd_xml_init(&x, 16);
    gd_xml_text(&x, "a", "0123456789");
    cr_assert_eq(x.err, 1);
    size_t len = x.b.len;
    gd_xml_raw(&x, "x");
    cr_assert_eq(x.b.len, len, "nothing more is written");
    gd_xml_free(&x);
}
