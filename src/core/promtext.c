/* Prometheus text exposition format (0.0.4): HELP/TYPE headers and samples written
 * into a bounded gd_buf. A write that does not fit leaves the buffer as it was. */
#include "core/promtext.h"
#include "core/err.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Metric names match [a-zA-Z_:][a-zA-Z0-9_:]*. */
static int valid_name(const char *s)
{
    if (s == NULL || *s == 0 || (*s >= '0' && *s <= '9')) return 0;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == ':'))
            return 0;
    }
    return 1;
}

static int valid_type(const char *t)
{
    static const char *types[] = {"counter", "gauge", "histogram", "summary", "untyped"};
    if (t == NULL) return 0;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(t, types[i])) return 1;
    return 0;
}

/* HELP text escapes backslash and newline. */
static int put_help(gd_buf *b, const char *s)
{
    int r = 0;
    for (const char *p = s; *p && r == 0; p++) {
        if (*p == '\\')
            r = gd_buf_puts(b, "\\\\");
        else if (*p == '\n')
            r = gd_buf_puts(b, "\\n");
        else
            r = gd_buf_append(b, p, 1);
    }
    return r;
}

/* Formats v as Prometheus reads it: integers without a decimal point, other
 * finite values with %.17g (round-trips a double), NaN, +Inf, -Inf. */
static void format_value(char *out, size_t n, double v)
{
    if (isnan(v))
        snprintf(out, n, "NaN");
    else if (isinf(v))
        snprintf(out, n, v > 0 ? "+Inf" : "-Inf");
    else if (v == 0)
        snprintf(out, n, "0"); /* also -0 */
    else if (v == trunc(v) && fabs(v) < 9007199254740992.0)
        snprintf(out, n, "%lld", (long long)v);
    else
        snprintf(out, n, "%.17g", v);
}

int gd_prom_head(gd_buf *b, const char *name, const char *type, const char *help)
{
    if (!valid_name(name) || !valid_type(type)) return GD_EINVAL;
    size_t mark = b->len;
    int r = gd_buf_printf(b, "# HELP %s ", name);
    if (r == 0) r = put_help(b, help ? help : "");
    if (r == 0) r = gd_buf_printf(b, "\n# TYPE %s %s\n", name, type);
    if (r) {
        b->len = mark;
        if (b->data) b->data[mark] = 0;
    }
    return r;
}

int gd_prom_sample(gd_buf *b, const char *name, const char *labels, double value)
{
    if (!valid_name(name)) return GD_EINVAL;
    char v[32];
    format_value(v, sizeof v, value);
    /* One printf: it either fits whole or writes nothing. */
    if (labels == NULL || *labels == 0) return gd_buf_printf(b, "%s %s\n", name, v);
    return gd_buf_printf(b, "%s{%s} %s\n", name, labels, v);
}
