/* CloudWatch statistics (see stat.h). */
#include "model/stat.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int gd_stat_parse(const char *name, gd_stat *out)
{
    static const struct {
        const char *name;
        enum gd_stat_kind kind;
    } names[] = {{"Average", GD_STAT_AVERAGE},
                 {"Sum", GD_STAT_SUM},
                 {"Minimum", GD_STAT_MINIMUM},
                 {"Maximum", GD_STAT_MAXIMUM},
                 {"SampleCount", GD_STAT_SAMPLE_COUNT}};
    if (!name) return -1;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(name, names[i].name)) {
            *out = (gd_stat){.kind = names[i].kind};
            return 0;
        }
    if (name[0] != 'p' || name[1] < '0' || name[1] > '9') return -1;
    for (const char *q = name + 1; *q; q++) /* digits and one point: no 1e2, no nan */
        if (!((*q >= '0' && *q <= '9') || (*q == '.' && !strchr(q + 1, '.')))) return -1;
    char *end;
    double p = strtod(name + 1, &end);
    if (*end || !isfinite(p) || p < 0 || p > 100 || strlen(name) > 8) return -1;
    *out = (gd_stat){.kind = GD_STAT_PERCENTILE, .pct = p};
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double gd_stat_of(const gd_stat *s, double *v, size_t n)
{
    if (n == 0) return NAN;
    double acc = s->kind == GD_STAT_MINIMUM ? INFINITY : s->kind == GD_STAT_MAXIMUM ? -INFINITY : 0;
    switch (s->kind) {
    case GD_STAT_SAMPLE_COUNT:
        return (double)n;
    case GD_STAT_PERCENTILE: {
        qsort(v, n, sizeof *v, cmp_double);
        size_t rank = (size_t)ceil(s->pct / 100.0 * (double)n);
        return v[rank > 0 ? rank - 1 : 0];
    }
    default:
        break;
    }
    for (size_t i = 0; i < n; i++) {
        if (s->kind == GD_STAT_MINIMUM)
            acc = v[i] < acc ? v[i] : acc;
        else if (s->kind == GD_STAT_MAXIMUM)
            acc = v[i] > acc ? v[i] : acc;
        else
            acc += v[i];
    }
    return s->kind == GD_STAT_AVERAGE ? acc / (double)n : acc;
}

void gd_metric_kind(const char *name, const char **stat, const char **unit)
{
    static const struct {
        const char *prefix, *stat, *unit;
    } kinds[] = {
        {"RequestCount", "Sum", "Count"}, /* and RequestCountPerTarget */
        {"HTTPCode_", "Sum", "Count"},
        {"HealthyHostCount", "Average", "Count"},
        {"UnHealthyHostCount", "Average", "Count"},
        {"ActiveConnectionCount", "Average", "Count"},
        {"CacheHitRate", "Average", "None"}, /* a fraction, 0..1 */
        {"OriginLatency", "Average", "Milliseconds"},
        {"TargetResponseTime", "Average", "Seconds"},
        /* AWS/ElastiCache (src/server/cache_cluster.c) */
        {"CurrConnections", "Average", "Count"},
        {"CacheHits", "Sum", "Count"},
        {"CacheMisses", "Sum", "Count"},
        {"ReplicationLag", "Average", "Seconds"},
        {"DatabaseMemoryUsagePercentage", "Average", "Percent"},
        {"EngineCPUUtilization", "Average", "Percent"},
    };
    *stat = "Average";
    *unit = "None";
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (name && !strncmp(name, kinds[i].prefix, strlen(kinds[i].prefix))) {
            *stat = kinds[i].stat;
            *unit = kinds[i].unit;
            return;
        }
}
