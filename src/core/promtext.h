/* Prometheus text exposition format (version 0.0.4) builder for /metrics pages. */
#ifndef GD_PROMTEXT_H
#define GD_PROMTEXT_H

#include "core/buf.h"

/** Writes "# HELP name help\n# TYPE name type\n" (type: counter, gauge, histogram). */
int gd_prom_head(gd_buf *b, const char *name, const char *type, const char *help);
/** Writes one sample: name{labels} value. labels is "" or 'k="v",k2="v2"' (no braces). */
int gd_prom_sample(gd_buf *b, const char *name, const char *labels, double value);

#endif
