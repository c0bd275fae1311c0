/* Latency histogram: log-linear buckets (128 sub-buckets per power of two, so under
 * 1% relative error), values are unsigned integers (gameday uses game milliseconds
 * times 1000, i.e. game microseconds). Fixed size, no allocation: safe in hot paths. */
#ifndef GD_HIST_H
#define GD_HIST_H

#include <jansson.h>
#include <stdint.h>

#define GD_HIST_SUB 128
#define GD_HIST_NBUCKETS (GD_HIST_SUB * 42)

typedef struct gd_hist {
    uint64_t count;
    uint64_t max;
    double sum;
    uint32_t b[GD_HIST_NBUCKETS];
} gd_hist;

void gd_hist_reset(gd_hist *h);
/** Adds one value. Values past the last bucket count in the last bucket. */
void gd_hist_add(gd_hist *h, uint64_t v);
void gd_hist_merge(gd_hist *dst, const gd_hist *src);
/** The value at percentile p (0..100): the upper edge of the bucket that holds it,
 *  clamped to max. 0 for an empty histogram. */
uint64_t gd_hist_percentile(const gd_hist *h, double p);
double gd_hist_mean(const gd_hist *h);
/** Sparse JSON form: {"n":count,"max":max,"sum":sum,"b":[[index,count],...]}. New reference. */
json_t *gd_hist_to_json(const gd_hist *h);
/** Adds (merges) the JSON form into h. GD_EPROTO if malformed; h unchanged then. */
int gd_hist_add_json(gd_hist *h, const json_t *j);

#endif
