/* The board's arithmetic: the smoothed score series, the bill folding of the event
 * list and the before/after effect of an action. Pure: JSON in, JSON out. */
#include "server/board.h"

#include "core/mem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static double num(const json_t *o, const char *k)
{
    return json_number_value(json_object_get(o, k));
}

static int is_bill(const json_t *row)
{
    return strcmp(str(row, "source"), GD_BOARD_BILLING) == 0;
}

int gd_board_notable(const json_t *row)
{
    const char *s = str(row, "source");
    return strcmp(s, "customers") != 0 && strcmp(s, "shoppers") != 0;
}

/* The spread cost at time t: the bills up to the first one at or after t, the part of
 * that one accrued by t, or past the last bill that bill's rate carried on. */
static double cost_at(const double *bt, const double *bc, size_t nb, double t)
{
    double sum = 0, prev = 0;
    for (size_t i = 0; i < nb; i++) {
        if (bt[i] <= t) {
            sum += bc[i];
            prev = bt[i];
            continue;
        }
        double span = bt[i] - prev;
        return sum + (span > 0 ? bc[i] * (t - prev) / span : 0);
    }
    if (nb > 0) {
        double start = nb > 1 ? bt[nb - 2] : 0, span = bt[nb - 1] - start;
        if (span > 0 && t > bt[nb - 1]) sum += bc[nb - 1] * (t - bt[nb - 1]) / span;
    }
    return sum;
}

json_t *gd_board_series(const json_t *rows, double now, double step)
{
    size_t n = json_array_size(rows), nb = 0;
    double *bt = gd_calloc(n + 1, sizeof *bt), *bc = gd_calloc(n + 1, sizeof *bc);
    for (size_t i = 0; i < n; i++) {
        const json_t *r = json_array_get(rows, i);
        if (!is_bill(r)) continue;
        bt[nb] = num(r, "time");
        bc[nb++] = -num(r, "points");
    }
    json_t *out = json_array();
    double rev = 0, edge = 0;
    if (step <= 0) step = 60;
    size_t i = 0;
    for (;;) {
        double t = edge < now ? edge : now;
        for (; i < n; i++) { /* revenue of the rows before t */
            const json_t *r = json_array_get(rows, i);
            if (num(r, "time") >= t && t < now) break;
            if (!is_bill(r)) rev += num(r, "points");
        }
        double cost = cost_at(bt, bc, nb, t);
        json_array_append_new(out, json_pack("[f,f,f,f]", t, rev, cost, rev - cost));
        if (t >= now) break;
        edge += step;
    }
    gd_free(bt);
    gd_free(bc);
    return out;
}

/* The dollars of a bill row: its points over the points per dollar, else the "$X" of its
 * reason ("bill $1.23: ..."), 0 if none. */
static double usd_of(const json_t *row, double ppd)
{
    if (ppd > 0) return -num(row, "points") / ppd;
    const char *d = strchr(str(row, "reason"), '$');
    return d ? strtod(d + 1, NULL) : 0;
}

json_t *gd_board_fold_bills(const json_t *events, double period, double points_per_dollar)
{
    json_t *out = json_array();
    json_t *fold = NULL; /* the bills row being folded */
    long fold_period = -1;
    size_t i;
    json_t *e;
    if (period <= 0) period = 600;
    json_array_foreach(events, i, e)
    {
        if (!is_bill(e)) {
            json_array_append_new(out, json_deep_copy(e));
            continue;
        }
        double t = num(e, "time");
        long p = (long)floor(t / period);
        if (fold && p == fold_period) {
            json_int_t c = json_integer_value(json_object_get(fold, "count")) + 1;
            json_object_set_new(fold, "count", json_integer(c));
            json_object_set_new(fold, "time", json_real(t));
            json_object_set_new(fold, "points", json_real(num(fold, "points") + num(e, "points")));
            json_object_set_new(fold, "usd",
                                json_real(num(fold, "usd") + usd_of(e, points_per_dollar)));
            if (json_object_get(e, "seq")) json_object_set(fold, "seq", json_object_get(e, "seq"));
        } else {
            fold = json_pack("{s:f,s:f,s:s,s:s,s:I,s:f,s:f}", "time", t, "from", t, "source",
                             GD_BOARD_BILLING, "kind", "bills", "count", (json_int_t)1, "points",
                             num(e, "points"), "usd", usd_of(e, points_per_dollar));
            if (json_object_get(e, "seq")) json_object_set(fold, "seq", json_object_get(e, "seq"));
            fold_period = p;
            json_array_append_new(out, fold);
        }
    }
    json_array_foreach(out, i, e)
    {
        if (strcmp(str(e, "kind"), "bills") != 0) continue;
        char reason[128];
        json_int_t c = json_integer_value(json_object_get(e, "count"));
        snprintf(reason, sizeof reason, "%lld bill%s: $%.2f", (long long)c, c == 1 ? "" : "s",
                 num(e, "usd"));
        json_object_set_new(e, "reason", json_string(reason));
    }
    return out;
}

json_t *gd_board_effect(const json_t *rows, double at, double window, double end)
{
    double b0 = at - window < 0 ? 0 : at - window, b1 = at;
    double a0 = at, a1 = at + window > end ? end : at + window;
    double before = 0, after = 0;
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
    {
        double t = num(r, "time");
        if (t >= b0 && t < b1) before += num(r, "points");
        if (t >= a0 && t < a1) after += num(r, "points");
    }
    double bs = b1 - b0, as = a1 - a0, min = window / 10;
    json_t *o = json_object();
    json_t *bv = bs >= min && bs > 0 ? json_real(before * 60 / bs) : json_null();
    json_t *av = as >= min && as > 0 ? json_real(after * 60 / as) : json_null();
    json_object_set_new(o, "delta",
                        json_is_real(bv) && json_is_real(av)
                            ? json_real(json_real_value(av) - json_real_value(bv))
                            : json_null());
    json_object_set_new(o, "before", bv);
    json_object_set_new(o, "after", av);
    json_object_set_new(o, "before_s", json_real(bs > 0 ? bs : 0));
    json_object_set_new(o, "after_s", json_real(as > 0 ? as : 0));
    return o;
}

json_t *gd_board_action_row(const json_t *a)
{
    char reason[256];
    size_t l = (size_t)snprintf(reason, sizeof reason, "%s", str(a, "eventName"));
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(a, "resources"), i, r)
    {
        const char *name = str(r, "name");
        if (l < sizeof reason)
            l += (size_t)snprintf(reason + l, sizeof reason - l, "%s%s", i ? ", " : " ",
                                  *name ? name : str(r, "id"));
    }
    /* The request's numbers and flags say what changed ("desiredCapacity=4"): up to 3. */
    const char *key;
    json_t *v;
    int shown = 0;
    json_object_foreach(json_object_get(a, "requestParameters"), key, v)
    {
        if (shown == 3 || l >= sizeof reason) break;
        if (json_is_integer(v))
            l += (size_t)snprintf(reason + l, sizeof reason - l, " %s=%lld", key,
                                  (long long)json_integer_value(v));
        else if (json_is_real(v))
            l += (size_t)snprintf(reason + l, sizeof reason - l, " %s=%g", key, json_real_value(v));
        else if (json_is_boolean(v))
            l += (size_t)snprintf(reason + l, sizeof reason - l, " %s=%s", key,
                                  json_is_true(v) ? "true" : "false");
        else
            continue;
        shown++;
    }
    const char *err = str(a, "errorCode");
    if (*err && l < sizeof reason) snprintf(reason + l, sizeof reason - l, " (refused: %s)", err);
    json_t *o = json_pack("{s:f,s:s,s:s,s:f,s:s,s:s,s:b}", "time", num(a, "eventTime"), "source",
                          str(a, "principal"), "kind", "action", "points", 0.0, "event",
                          str(a, "eventName"), "reason", reason, "error", *err != 0);
    if (json_object_get(a, "seq")) json_object_set(o, "audit_seq", json_object_get(a, "seq"));
    return o;
}

json_t *gd_board_customers(const json_t *rows, double step, double end)
{
    json_t *out = json_array();
    if (step <= 0) step = 60;
    double cur = -1, acc[4] = {0}, p50 = 0;
    int reports = 0;
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
    {
        if (strcmp(str(r, "source"), "customers") != 0) continue;
        long long ok, err, to, wrong;
        double ms;
        if (sscanf(str(r, "reason"), "%lld ok (p50 %lf ms), %lld errors, %lld timeouts, %lld wrong",
                   &ok, &ms, &err, &to, &wrong) != 5)
            continue;
        double at = floor(num(r, "time") / step) * step;
        if (end > 0 && at > end) at = end;
        if (at != cur && reports > 0) {
            json_array_append_new(out, json_pack("[f,f,f,f,f,f]", cur, acc[0], acc[1], acc[2],
                                                 acc[3], p50 / reports));
            memset(acc, 0, sizeof acc);
            p50 = 0;
            reports = 0;
        }
        cur = at;
        acc[0] += (double)ok, acc[1] += (double)err, acc[2] += (double)to, acc[3] += (double)wrong;
        p50 += ms;
        reports++;
    }
    if (reports > 0)
        json_array_append_new(
            out, json_pack("[f,f,f,f,f,f]", cur, acc[0], acc[1], acc[2], acc[3], p50 / reports));
    return out;
}
