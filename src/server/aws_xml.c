/* XML answers (see aws_xml.h). */
#include "server/aws_xml.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define REPLACEMENT "\xEF\xBF\xBD" /* U+FFFD */

void gd_xml_init(gd_xml *x, size_t max)
{
    gd_buf_init(&x->b, max);
    x->err = 0;
}

void gd_xml_free(gd_xml *x)
{
    gd_buf_free(&x->b);
}

static void put(gd_xml *x, const char *p, size_t n)
{
    if (!x->err && gd_buf_append(&x->b, p, n) < 0) x->err = 1;
}

/* The length of the valid UTF-8 sequence at s (n bytes left), or 0 when it is not one
 * (overlong forms, surrogates and code points past U+10FFFF are not). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min, cp;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2, cp = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, cp = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

void gd_xml_escape(gd_xml *x, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, run = 0; /* bytes [i - run, i) need no escape */
    while (i < n) {
        unsigned char c = u[i];
        const char *rep = NULL;
        size_t skip = 1;
        if (c == '&')
            rep = "&amp;";
        else if (c == '<')
            rep = "&lt;";
        else if (c == '>')
            rep = "&gt;";
        else if (c == '"')
            rep = "&quot;";
        else if (c == '\'')
            rep = "&apos;";
        else if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
            rep = REPLACEMENT;
        else if (c == 0x7F)
            rep = REPLACEMENT;
        else if (c >= 0x80) {
            size_t l = utf8_len(u + i, n - i);
            if (l == 0)
                rep = REPLACEMENT;
            else {
                i += l;
                run += l;
                continue;
            }
        }
        if (rep) {
            put(x, s + i - run, run);
            put(x, rep, strlen(rep));
            run = 0;
            i += skip;
        } else {
            i++;
            run++;
        }
    }
    put(x, s + i - run, run);
}

void gd_xml_open(gd_xml *x, const char *tag)
{
    put(x, "<", 1);
    put(x, tag, strlen(tag));
    put(x, ">", 1);
}

void gd_xml_close(gd_xml *x, const char *tag)
{
    put(x, "</", 2);
    put(x, tag, strlen(tag));
    put(x, ">", 1);
}

void gd_xml_text(gd_xml *x, const char *tag, const char *s)
{
    if (!s) return;
    gd_xml_open(x, tag);
    gd_xml_escape(x, s, strlen(s));
    gd_xml_close(x, tag);
}

void gd_xml_textf(gd_xml *x, const char *tag, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    gd_xml_open(x, tag);
    gd_xml_escape(x, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
    gd_xml_close(x, tag);
}

void gd_xml_raw(gd_xml *x, const char *s)
{
    put(x, s, strlen(s));
}
