/* CloudWatch statistics over a set of datapoints: Average, Sum, Minimum, Maximum,
 * SampleCount and percentiles pNN (p0..p100, decimals allowed: p99.9). Pure: the metric
 * store, alarms and scaling policies use it, and the scenario loader and the API check
 * a statistic's name with it. */
#ifndef GD_MODEL_STAT_H
#define GD_MODEL_STAT_H

#include <stddef.h>

enum gd_stat_kind {
    GD_STAT_AVERAGE,
    GD_STAT_SUM,
    GD_STAT_MINIMUM,
    GD_STAT_MAXIMUM,
    GD_STAT_SAMPLE_COUNT,
    GD_STAT_PERCENTILE,
};

typedef struct gd_stat {
    enum gd_stat_kind kind;
    double pct; /* GD_STAT_PERCENTILE: 0..100 */
} gd_stat;

/** What the statistics' names may be, for error messages. */
#define GD_STAT_ALLOWED "Average, Sum, Minimum, Maximum, SampleCount, p0..p100"

/** Parses a statistic's name ("Average", "p99", "p99.9"); 0, or -1 when it is none. */
int gd_stat_parse(const char *name, gd_stat *out);
/** The statistic of v[0..n-1] (n > 0). Reorders v for a percentile, which is the
 *  nearest-rank one (the smallest value with at least pct % of the values at or below
 *  it), as CloudWatch reports for a small sample. */
double gd_stat_of(const gd_stat *s, double *v, size_t n);

/** How a metric's datapoints read, as CloudWatch names them: the statistic that makes
 *  sense of one of its periods ("Sum" for counts, "Average" for gauges) and its unit
 *  ("Count", "Milliseconds", "Percent", "None"). Unknown names: Average, None. */
void gd_metric_kind(const char *name, const char **stat, const char **unit);

#endif
