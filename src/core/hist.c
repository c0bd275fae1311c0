/* Log-linear latency histogram: values 0..127 have a bucket each, every power of two
 * above is split into 128 equal sub-buckets. Fixed array, nothing allocated in add. */
#include "core/hist.h"
#include "core/err.h"

#include <math.h>
#include <string.h>

/* Sub-buckets per power of two is 2^SUB_BITS. */
#define SUB_BITS 7
/* The highest exponent with buckets of its own; larger values go to the last bucket. */
#define MAX_EXP (GD_HIST_NBUCKETS / GD_HIST_SUB + SUB_BITS - 2)

/* The bucket index of v. For v >= 128 with highest set bit e, the bucket is the e-th
 * power-of-two group and the next SUB_BITS bits pick the sub-bucket. */
static unsigned bucket_of(uint64_t v)
{
    if (v < GD_HIST_SUB) return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v);
    if (e > MAX_EXP) return GD_HIST_NBUCKETS - 1;
    unsigned sub = (unsigned)(v >> (e - SUB_BITS)) - GD_HIST_SUB;
    return (e - SUB_BITS + 1) * GD_HIST_SUB + sub;
}

/* The largest value that lands in bucket i (inclusive upper edge). */
static uint64_t bucket_top(unsigned i)
{
    if (i < GD_HIST_SUB) return i;
    unsigned shift = i / GD_HIST_SUB - 1;
    uint64_t lo = (uint64_t)(GD_HIST_SUB + i % GD_HIST_SUB) << shift;
    return lo + ((uint64_t)1 << shift) - 1;
}

void gd_hist_reset(gd_hist *h)
{
    memset(h, 0, sizeof *h);
}

void gd_hist_add(gd_hist *h, uint64_t v)
{
    h->b[bucket_of(v)]++;
    h->count++;
    h->sum += (double)v;
    if (v > h->max) h->max = v;
}

void gd_hist_merge(gd_hist *dst, const gd_hist *src)
{
    for (unsigned i = 0; i < GD_HIST_NBUCKETS; i++) dst->b[i] += src->b[i];
    dst->count += src->count;
    dst->sum += src->sum;
    if (src->max > dst->max) dst->max = src->max;
}

uint64_t gd_hist_percentile(const gd_hist *h, double p)
{
    if (h->count == 0) return 0;
    if (!(p > 0)) p = 0; /* also catches NaN */
    if (p > 100) p = 100;
    /* The rank (1-based) of the p-th value among count values. */
    uint64_t rank = (uint64_t)ceil(p / 100.0 * (double)h->count);
    if (rank < 1) rank = 1;
    if (rank > h->count) rank = h->count;
    uint64_t seen = 0;
    for (unsigned i = 0; i < GD_HIST_NBUCKETS; i++) {
        seen += h->b[i];
        if (seen >= rank) {
            if (i == GD_HIST_NBUCKETS - 1) return h->max; /* the overflow bucket */
            uint64_t top = bucket_top(i);
            return top < h->max ? top : h->max;
        }
    }
    return h->max; /* buckets disagree with count (should not happen) */
}

double gd_hist_mean(const gd_hist *h)
{
    return h->count ? h->sum / (double)h->count : 0.0;
}

json_t *gd_hist_to_json(const gd_hist *h)
{
    json_t *b = json_array();
    for (unsigned i = 0; i < GD_HIST_NBUCKETS; i++) {
        if (h->b[i] == 0) continue;
        json_array_append_new(b, json_pack("[II]", (json_int_t)i, (json_int_t)h->b[i]));
    }
    return json_pack("{s:I,s:I,s:f,s:o}", "n", (json_int_t)h->count, "max", (json_int_t)h->max,
                     "sum", h->sum, "b", b);
}

int gd_hist_add_json(gd_hist *h, const json_t *j)
{
    json_t *n = json_object_get(j, "n"), *max = json_object_get(j, "max");
    json_t *sum = json_object_get(j, "sum"), *b = json_object_get(j, "b");
    if (!json_is_object(j) || !json_is_integer(n) || !json_is_integer(max) ||
        !json_is_number(sum) || !json_is_array(b))
        return GD_EPROTO;
    if (json_integer_value(n) < 0 || json_integer_value(max) < 0) return GD_EPROTO;
    double s = json_number_value(sum);
    if (!isfinite(s) || s < 0) return GD_EPROTO;

    /* Check everything before touching h, so that a bad document changes nothing. */
    uint64_t total = 0;
    json_int_t prev = -1;
    size_t k;
    json_t *e;
    json_array_foreach(b, k, e)
    {
        json_t *ji = json_array_get(e, 0), *jc = json_array_get(e, 1);
        if (!json_is_array(e) || json_array_size(e) != 2 || !json_is_integer(ji) ||
            !json_is_integer(jc))
            return GD_EPROTO;
        json_int_t i = json_integer_value(ji), c = json_integer_value(jc);
        /* Indices strictly increase (as written by gd_hist_to_json): no duplicates. */
        if (i <= prev || i >= GD_HIST_NBUCKETS || c < 0 || c > UINT32_MAX) return GD_EPROTO;
        prev = i;
        if ((uint64_t)h->b[i] + (uint64_t)c > UINT32_MAX) return GD_EPROTO;
        total += (uint64_t)c;
    }
    if (total != (uint64_t)json_integer_value(n)) return GD_EPROTO;

    json_array_foreach(b, k, e)
    {
        h->b[json_integer_value(json_array_get(e, 0))] +=
            (uint32_t)json_integer_value(json_array_get(e, 1));
    }
    h->count += total;
    h->sum += s;
    if ((uint64_t)json_integer_value(max) > h->max) h->max = (uint64_t)json_integer_value(max);
    return 0;
}
