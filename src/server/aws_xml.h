/* XML for the AWS query and EC2 protocols' answers: elements with escaped text in a
 * bounded buffer. A write that does not fit marks the document failed (err) and
 * later writes do nothing, so a builder checks once at the end. Pure. */
#ifndef GD_SERVER_AWS_XML_H
#define GD_SERVER_AWS_XML_H

#include "core/buf.h"

#include <stddef.h>

/** The largest answer a document may grow to. */
#define GD_XML_MAX (4 * 1024 * 1024)

typedef struct gd_xml {
    gd_buf b;
    int err; /* a write did not fit */
} gd_xml;

/** An empty document of at most max bytes. */
void gd_xml_init(gd_xml *x, size_t max);
void gd_xml_free(gd_xml *x);

/** Appends s[0..n) as XML character data: & < > " ' as entities, control characters
 *  that XML 1.0 forbids and bytes that are not UTF-8 as U+FFFD. */
void gd_xml_escape(gd_xml *x, const char *s, size_t n);
/** <tag> and </tag>. */
void gd_xml_open(gd_xml *x, const char *tag);
void gd_xml_close(gd_xml *x, const char *tag);
/** <tag>escaped s</tag>; nothing when s is NULL. */
void gd_xml_text(gd_xml *x, const char *tag, const char *s);
/** <tag>escaped printf text</tag>. */
void gd_xml_textf(gd_xml *x, const char *tag, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/** Markup as it is (the caller's constant text). */
void gd_xml_raw(gd_xml *x, const char *s);

#endif
