/* Scenario files: loads the YAML, validates every section (collecting all errors with
 * file:line:col), checks the starting architecture (names, references, subnet CIDRs)
 * and answers the game's questions: customer rate at t, points per request, prices. */
#include "model/scenario.h"
#include "core/dns.h"

#include "core/addr.h"
#include "core/err.h"
#include "core/mem.h"
#include "core/rand.h"
#include "model/arch.h"
#include "model/chaos.h"
#include "model/schema.h"
#include "model/rules.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a small table-driven reader for the scenario's own sections ------------------- */

enum skind {
    S_STR,  /* char *, gd_strdup'd */
    S_NAME, /* char *, [a-z0-9-]{1,64} */
    S_NUM,  /* double in [lo, hi] */
    S_INT,  /* int in [lo, hi] */
    S_U32,  /* uint32_t in [lo, hi] */
    S_U64,  /* uint64_t in [lo, hi] */
    S_DUR,  /* double seconds in [lo, hi] */
    S_BOOL, /* int 0/1 */
    S_ENUM, /* char *, one of enums */
    S_SUB,  /* a nested section read by code: only listed as an allowed key */
};

struct sfield {
    const char *key;
    enum skind kind;
    int required;
    const char *def; /* default, written as in YAML ("10s", "1", "chaos-monkey"); NULL none */
    double lo, hi;
    size_t off; /* offset of the destination in the struct being filled */
    const char *const *enums;
};

#define END                                                                                        \
    {                                                                                              \
        .key = NULL                                                                                \
    }
#define OFF(T, m) offsetof(T, m)

struct sctx {
    gd_conf *conf;
    gd_errs *errs;
    int n;
};

/* Where to point for a problem with key `key` of `parent` whose value is `node`. */
static const char *where(struct sctx *x, json_t *parent, const char *key, json_t *node, char *buf,
                         size_t n)
{
    if (node && *gd_conf_where(x->conf, node, "", buf, n)) return buf;
    if (parent && key && *gd_conf_where_key(x->conf, parent, key, "", buf, n)) return buf;
    if (parent && *gd_conf_where(x->conf, parent, "", buf, n)) return buf;
    snprintf(buf, n, "%s:1:1", gd_conf_file(x->conf));
    return buf;
}

static void serr(struct sctx *x, json_t *parent, const char *key, json_t *node, const char *path,
                 const char *allow, const char *fmt, ...) __attribute__((format(printf, 7, 8)));

/* Adds "<where>: field '<path>': <what> (allowed: <allow>)". */
static void serr(struct sctx *x, json_t *parent, const char *key, json_t *node, const char *path,
                 const char *allow, const char *fmt, ...)
{
    char w[512], what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    where(x, parent, key, node, w, sizeof w);
    gd_errs_add(x->errs, "%s: field '%s': %s (allowed: %s)", w, path, what, allow);
    x->n++;
}

static char *fmt_val(const json_t *v, char *buf, size_t n)
{
    char *d = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (d == NULL)
        snprintf(buf, n, "?");
    else if (strlen(d) > 40)
        snprintf(buf, n, "%.37s...", d);
    else
        snprintf(buf, n, "%s", d);
    free(d);
    return buf;
}

static void join_keys(const struct sfield *f, char *buf, size_t n)
{
    size_t off = 0;
    buf[0] = 0;
    for (int i = 0; f[i].key && off < n; i++)
        off += (size_t)snprintf(buf + off, n - off, "%s%s", i ? ", " : "", f[i].key);
}

static void allowed(const struct sfield *f, char *buf, size_t n)
{
    char a[32], b[32];
    switch (f->kind) {
    case S_STR:
        snprintf(buf, n, "text");
        break;
    case S_NAME:
        snprintf(buf, n, "[a-z0-9-], 1..64 characters");
        break;
    case S_NUM:
    case S_INT:
    case S_U32:
    case S_U64:
        snprintf(buf, n, "%.15g..%.15g", f->lo, f->hi);
        break;
    case S_DUR:
        snprintf(buf, n, "%s..%s", gd_model_fmt_dur(f->lo, a, sizeof a),
                 gd_model_fmt_dur(f->hi, b, sizeof b));
        break;
    case S_BOOL:
        snprintf(buf, n, "true, false");
        break;
    case S_ENUM:
        gd_join(f->enums, buf, n);
        break;
    case S_SUB:
        snprintf(buf, n, "a mapping");
        break;
    }
}

static int valid_name(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n < 1 || n > max) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return 0;
    return 1;
}

/* Reads one value (v may be a default built from f->def) into base + f->off. */
static void read_value(struct sctx *x, const struct sfield *f, json_t *obj, json_t *v,
                       const char *path, void *base)
{
    char allow[256], vb[64], a[32];
    char *dst = (char *)base + f->off;
    allowed(f, allow, sizeof allow);
    switch (f->kind) {
    case S_STR:
    case S_NAME:
    case S_ENUM: {
        if (!json_is_string(v)) {
            serr(x, obj, f->key, v, path, allow, "expected text, got %s", fmt_val(v, vb, 64));
            return;
        }
        const char *s = json_string_value(v);
        if (f->kind == S_NAME && !valid_name(s, 64)) {
            serr(x, obj, f->key, v, path, allow, "%s is not a valid name", fmt_val(v, vb, 64));
            return;
        }
        if (f->kind == S_ENUM) {
            int ok = 0;
            for (int i = 0; f->enums[i]; i++) ok |= strcmp(f->enums[i], s) == 0;
            if (!ok) {
                serr(x, obj, f->key, v, path, allow, "%s is not one of the allowed values",
                     fmt_val(v, vb, 64));
                return;
            }
        }
        gd_free(*(char **)dst);
        *(char **)dst = gd_strdup(s);
        return;
    }
    case S_NUM:
    case S_INT:
    case S_U32:
    case S_U64: {
        int intish = f->kind != S_NUM;
        if (intish ? !json_is_integer(v) : !json_is_number(v)) {
            serr(x, obj, f->key, v, path, allow, "expected %s, got %s",
                 intish ? "an integer" : "a number", fmt_val(v, vb, 64));
            return;
        }
        double d = json_number_value(v);
        if (d < f->lo || d > f->hi) {
            serr(x, obj, f->key, v, path, allow, "%s is out of range", fmt_val(v, vb, 64));
            return;
        }
        if (f->kind == S_NUM) *(double *)dst = d;
        if (f->kind == S_INT) *(int *)dst = (int)json_integer_value(v);
        if (f->kind == S_U32) *(uint32_t *)dst = (uint32_t)json_integer_value(v);
        if (f->kind == S_U64) *(uint64_t *)dst = (uint64_t)json_integer_value(v);
        return;
    }
    case S_DUR: {
        double s;
        if (gd_duration_json(v, &s) != 0) {
            serr(x, obj, f->key, v, path, allow, "%s is not a duration (like 30s, 5m, 1h30m)",
                 fmt_val(v, vb, 64));
            return;
        }
        if (s < f->lo || s > f->hi) {
            serr(x, obj, f->key, v, path, allow, "%s is out of range",
                 gd_model_fmt_dur(s, a, sizeof a));
            return;
        }
        *(double *)dst = s;
        return;
    }
    case S_BOOL:
        if (!json_is_boolean(v)) {
            serr(x, obj, f->key, v, path, allow, "expected true or false, got %s",
                 fmt_val(v, vb, 64));
            return;
        }
        *(int *)dst = json_is_true(v);
        return;
    case S_SUB:
        return;
    }
}

/* A default written as in YAML, as a JSON value. */
static json_t *default_json(const struct sfield *f)
{
    switch (f->kind) {
    case S_NUM:
    case S_INT:
    case S_U32:
    case S_U64: {
        double d = strtod(f->def, NULL);
        return f->kind == S_NUM ? json_real(d) : json_integer((json_int_t)d);
    }
    case S_BOOL:
        return json_boolean(strcmp(f->def, "true") == 0);
    default:
        return json_string(f->def);
    }
}

/* Reads the mapping obj (at path, may be NULL when absent) into base following
 * fields: unknown keys, missing required keys and bad values are errors; absent
 * optional keys take their default. Returns obj when it is a mapping, else NULL. */
static json_t *read_section(struct sctx *x, json_t *parent, const char *pkey, json_t *obj,
                            const char *path, const struct sfield *fields, void *base)
{
    char p[256], allow[512], vb[64];
    if (obj != NULL && !json_is_object(obj) && !json_is_null(obj)) {
        join_keys(fields, allow, sizeof allow);
        serr(x, parent, pkey, obj, path, allow, "expected a mapping, got %s",
             fmt_val(obj, vb, sizeof vb));
        return NULL;
    }
    if (json_is_null(obj)) obj = NULL;
    if (obj) {
        const char *k;
        json_t *v;
        json_object_foreach(obj, k, v)
        {
            int known = 0;
            for (int i = 0; fields[i].key; i++) known |= strcmp(fields[i].key, k) == 0;
            if (known) continue;
            snprintf(p, sizeof p, "%s%s%s", path, *path ? "." : "", k);
            join_keys(fields, allow, sizeof allow);
            char w[512];
            if (*gd_conf_where_key(x->conf, obj, k, "", w, sizeof w))
                serr(x, obj, k, NULL, p, allow, "unknown field");
            else
                serr(x, obj, k, v, p, allow, "unknown field");
        }
    }
    for (int i = 0; fields[i].key; i++) {
        const struct sfield *f = &fields[i];
        snprintf(p, sizeof p, "%s%s%s", path, *path ? "." : "", f->key);
        json_t *v = obj ? json_object_get(obj, f->key) : NULL;
        if (json_is_null(v)) v = NULL;
        if (f->kind == S_SUB && (v != NULL || !f->required)) continue;
        if (v == NULL && f->required) {
            allowed(f, allow, sizeof allow);
            serr(x, obj ? obj : parent, NULL, NULL, p, allow, "missing");
            continue;
        }
        if (v == NULL && f->def == NULL) continue;
        if (v == NULL) {
            json_t *d = default_json(f);
            read_value(x, f, obj, d, p, base);
            json_decref(d);
        } else {
            read_value(x, f, obj, v, p, base);
        }
    }
    return obj;
}

/* ---- sections ---------------------------------------------------------------------------- */

static const char *const service_kinds[] = {"unicorn", "time", "clothes", NULL};
static const char *const actions[] = {
    "terminate_random",    "terminate",        "scale", "message", "az_outage", "update",
    "detach_target_group", "start_experiment", NULL};

static const struct sfield top_fields[] = {
    {"name", S_NAME, 1, NULL, 0, 0, OFF(gd_scenario, name), NULL},
    {"title", S_STR, 0, NULL, 0, 0, OFF(gd_scenario, title), NULL},
    {"story", S_STR, 0, "", 0, 0, OFF(gd_scenario, story), NULL},
    {"runbook", S_STR, 0, "", 0, 0, OFF(gd_scenario, runbook), NULL},
    {"duration", S_DUR, 1, NULL, 60, 7 * 86400, OFF(gd_scenario, duration), NULL},
    {"speed", S_NUM, 0, "1", 0.1, 10000, OFF(gd_scenario, speed), NULL},
    {"seed", S_U64, 0, "1", 0, 9.2e18, OFF(gd_scenario, seed), NULL},
    {"teams", S_INT, 0, "1", 1, 16, OFF(gd_scenario, teams), NULL},
    {"service", S_SUB, 0, NULL, 0, 0, 0, NULL},
    {"traffic", S_SUB, 1, NULL, 0, 0, 0, NULL},
    {"shoppers", S_SUB, 0, NULL, 0, 0, 0, NULL},
    {"scoring", S_SUB, 0, NULL, 0, 0, 0, NULL},
    {"billing", S_SUB, 0, NULL, 0, 0, 0, NULL},
    {"spot", S_SUB, 0, NULL, 0, 0, 0, NULL},
    {"quotas", S_SUB, 0, NULL, 0, 0, 0, NULL},
    {"dns", S_SUB, 0, NULL, 0, 0, 0, NULL},
    {"reserved", S_SUB, 0, NULL, 0, 0, 0, NULL},
    {"events", S_SUB, 0, NULL, 0, 0, 0, NULL},
    {"chaos_monkey", S_SUB, 0, NULL, 0, 0, 0, NULL},
    {"ceo", S_SUB, 0, NULL, 0, 0, 0, NULL},
    {"protections", S_SUB, 0, NULL, 0, 0, 0, NULL},
    {"architecture", S_SUB, 1, NULL, 0, 0, 0, NULL},
    {"allowed_commands", S_SUB, 0, NULL, 0, 0, 0, NULL},
    END,
};

static const struct sfield service_fields[] = {
    {"kind", S_ENUM, 0, "unicorn", 0, 0, OFF(gd_scenario, service), service_kinds},
    {"salt", S_STR, 0, NULL, 0, 0, OFF(gd_scenario, salt), NULL},
    {"process_slots", S_INT, 0, "0", 0, 1000, OFF(gd_scenario, process_slots), NULL},
    END,
};

static const struct sfield traffic_fields[] = {
    {"keys", S_SUB, 0, NULL, 0, 0, 0, NULL},
    {"client_timeout", S_DUR, 0, "10s", 0.1, 600, OFF(gd_scenario, client_timeout), NULL},
    {"rate", S_SUB, 1, NULL, 0, 0, 0, NULL},
    {"surges", S_SUB, 0, NULL, 0, 0, 0, NULL},
    END,
};

static const struct sfield keys_fields[] = {
    {"space", S_U32, 0, "10000", 1, 10000000, OFF(gd_scenario, key_space), NULL},
    {"zipf", S_NUM, 0, "1.0", 0, 5, OFF(gd_scenario, zipf), NULL},
    {"drift", S_NUM, 0, "0", 0, 1e6, OFF(gd_scenario, key_drift), NULL},
    {"widen", S_SUB, 0, NULL, 0, 0, 0, NULL},
    END,
};

static const struct sfield key_phase_fields[] = {
    {"at", S_DUR, 1, NULL, 0, 7 * 86400, OFF(gd_key_phase, at), NULL},
    {"space", S_U32, 1, NULL, 1, 10000000, OFF(gd_key_phase, space), NULL},
    {"zipf", S_NUM, 1, NULL, 0, 5, OFF(gd_key_phase, zipf), NULL},
    END,
};

static const struct sfield rate_fields[] = {
    {"at", S_DUR, 1, NULL, 0, 7 * 86400, OFF(gd_rate_point, at), NULL},
    {"rps", S_NUM, 1, NULL, 0, 1e6, OFF(gd_rate_point, rps), NULL},
    {"ramp", S_BOOL, 0, "false", 0, 0, OFF(gd_rate_point, ramp), NULL},
    END,
};

static const struct sfield surge_fields[] = {
    {"at", S_DUR, 1, NULL, 0, 7 * 86400, OFF(gd_surge, at), NULL},
    {"for", S_DUR, 1, NULL, 0.001, 7 * 86400, OFF(gd_surge, duration), NULL},
    {"x", S_NUM, 1, NULL, 0, 100, OFF(gd_surge, multiplier), NULL},
    END,
};

static const struct sfield scoring_fields[] = {
    {"success_max", S_NUM, 0, "10", 0, 1e6, OFF(gd_scenario, scoring.success_max), NULL},
    {"success_min", S_NUM, 0, "0.1", 0, 1e6, OFF(gd_scenario, scoring.success_min), NULL},
    {"error", S_NUM, 0, "-5", -1e6, 1e6, OFF(gd_scenario, scoring.error), NULL},
    {"timeout", S_NUM, 0, "-5", -1e6, 1e6, OFF(gd_scenario, scoring.timeout), NULL},
    {"wrong", S_NUM, 0, "-20", -1e6, 1e6, OFF(gd_scenario, scoring.wrong), NULL},
    {"checkout", S_NUM, 0, "30", 0, 1e6, OFF(gd_scenario, scoring.shop[GD_SHOP_CHECKOUT]), NULL},
    {"cart_lost", S_NUM, 0, "-20", -1e6, 0, OFF(gd_scenario, scoring.shop[GD_SHOP_CART_LOST]),
     NULL},
    {"item_lost", S_NUM, 0, "-10", -1e6, 0, OFF(gd_scenario, scoring.shop[GD_SHOP_ITEM_LOST]),
     NULL},
    {"checkout_failed", S_NUM, 0, "-20", -1e6, 0,
     OFF(gd_scenario, scoring.shop[GD_SHOP_CHECKOUT_FAILED]), NULL},
    {"order_wrong", S_NUM, 0, "-50", -1e6, 0, OFF(gd_scenario, scoring.shop[GD_SHOP_ORDER_WRONG]),
     NULL},
    {"stale_price", S_NUM, 0, "-10", -1e6, 0, OFF(gd_scenario, scoring.shop[GD_SHOP_STALE_PRICE]),
     NULL},
    END,
};

/* shoppers: MyClothes.com's virtual shoppers (service.kind clothes). */
static const struct sfield shopper_fields[] = {
    {"think_time", S_DUR, 0, "10s", 0, 600, OFF(gd_scenario, shoppers.think_time), NULL},
    {"items_min", S_INT, 0, "1", 1, 20, OFF(gd_scenario, shoppers.items_min), NULL},
    {"items_max", S_INT, 0, "4", 1, 20, OFF(gd_scenario, shoppers.items_max), NULL},
    {"qty_max", S_INT, 0, "3", 1, 9, OFF(gd_scenario, shoppers.qty_max), NULL},
    {"remove_share", S_NUM, 0, "0.2", 0, 1, OFF(gd_scenario, shoppers.remove_share), NULL},
    {"checkout_share", S_NUM, 0, "0.6", 0, 1, OFF(gd_scenario, shoppers.checkout_share), NULL},
    {"profile_share", S_NUM, 0, "0.2", 0, 1, OFF(gd_scenario, shoppers.profile_share), NULL},
    {"max_active", S_INT, 0, "2000", 1, 20000, OFF(gd_scenario, shoppers.max_active), NULL},
    END,
};

static const struct sfield billing_fields[] = {
    {"multiplier", S_NUM, 0, "1", 0, 1e6, OFF(gd_scenario, billing.multiplier), NULL},
    {"points_per_dollar", S_NUM, 0, "100", 0, 1e9, OFF(gd_scenario, billing.points_per_dollar),
     NULL},
    {"interval", S_DUR, 0, "60s", 1, 86400, OFF(gd_scenario, billing.interval), NULL},
    {"minimum", S_DUR, 0, "60s", 0, 86400, OFF(gd_scenario, billing.minimum), NULL},
    {"prices", S_SUB, 0, NULL, 0, 0, 0, NULL},
    END,
};

static const struct sfield event_fields[] = {
    {"at", S_DUR, 1, NULL, 0, 7 * 86400, OFF(gd_event, at), NULL},
    {"action", S_ENUM, 1, NULL, 0, 0, OFF(gd_event, action), actions},
    {"target", S_STR, 0, NULL, 0, 0, OFF(gd_event, target), NULL},
    {"count", S_INT, 0, "1", 0, 1000, OFF(gd_event, count), NULL},
    {"principal", S_NAME, 0, "chaos-monkey", 0, 0, OFF(gd_event, principal), NULL},
    {"message", S_STR, 0, NULL, 0, 0, OFF(gd_event, message), NULL},
    {"for", S_DUR, 0, "10m", 60, 86400, OFF(gd_event, for_s), NULL},
    {"patch", S_SUB, 0, NULL, 0, 0, 0, NULL},
    {"group", S_NAME, 0, NULL, 0, 0, OFF(gd_event, group), NULL},
    {"template", S_NAME, 0, NULL, 0, 0, OFF(gd_event, template), NULL},
    END,
};

static const struct sfield monkey_fields[] = {
    {"probability", S_NUM, 1, NULL, 0, 1, OFF(gd_scenario, monkey.probability), NULL},
    {"period", S_DUR, 0, "1h", 60, 86400, OFF(gd_scenario, monkey.period), NULL},
    {"window", S_STR, 0, "00:00-24:00", 0, 0, OFF(gd_scenario, monkey.window), NULL},
    {"min_gap", S_DUR, 0, "0s", 0, 7 * 86400, OFF(gd_scenario, monkey.min_gap), NULL},
    {"opt_out_tag", S_STR, 0, "chaos-monkey:opt-out", 0, 0, OFF(gd_scenario, monkey.opt_out_tag),
     NULL},
    {"groups", S_SUB, 0, NULL, 0, 0, 0, NULL},
    {"refusal_penalty", S_NUM, 0, "0", 0, 1e6, OFF(gd_scenario, monkey.refusal_penalty), NULL},
    END,
};

static const struct sfield ceo_fields[] = {
    {"refusal_penalty", S_NUM, 0, "0", 0, 1e6, OFF(gd_scenario, ceo.refusal_penalty), NULL},
    END,
};

static const struct sfield protections_fields[] = {
    {"deniable", S_SUB, 0, NULL, 0, 0, 0, NULL},
    END,
};

static const struct sfield arch_fields[] = {
    /* required unless the customers find the service by name (dns.resolve) */
    {"endpoint", S_NAME, 0, NULL, 0, 0, OFF(gd_scenario, endpoint), NULL},
    {"resources", S_SUB, 1, NULL, 0, 0, 0, NULL},
    END,
};

/* Built-in list prices, $/hour (AWS us-east-1). */
static const struct {
    const char *kind;
    double price;
} default_prices[] = {
    {"t3.micro", 0.0104},
    {"t3.small", 0.0208},
    {"t3.medium", 0.0416},
    {"m5.large", 0.096},
    {"m5.xlarge", 0.192},
    {"c5.large", 0.085},
    {"c5.xlarge", 0.17},
    {"clb", 0.025},
    {"alb", 0.0225},
    {"cdn", 0.0075},       /* per 10,000 requests, not per hour (CloudFront, HTTPS)
                            */
    {"alarm", 0.10 / 730}, /* $0.10 an alarm-month (730 hours) */
    {"elastic_ip", 0.005}, /* a public IPv4 address-hour, in use or idle (AWS since 2024) */
    /* ElastiCache for Redis, on-demand, per node-hour */
    {"cache.t3.micro", 0.017},
    {"cache.t3.small", 0.034},
    {"cache.m5.large", 0.156},
    {"cache.r5.large", 0.216},
    /* Fargate, Linux/x86: per vCPU-hour and per GB-hour of a task's size */
    {"fargate.vcpu", 0.04048},
    {"fargate.gb", 0.004445},
};

/* A list of mappings at obj[key]: returns the array (or NULL if absent/invalid). */
static json_t *get_list(struct sctx *x, json_t *obj, const char *key, const char *path,
                        int required, const char *allow)
{
    json_t *v = obj ? json_object_get(obj, key) : NULL;
    char vb[64];
    if (v == NULL || json_is_null(v)) {
        if (required) serr(x, obj, NULL, NULL, path, allow, "missing");
        return NULL;
    }
    if (!json_is_array(v)) {
        serr(x, obj, key, v, path, allow, "expected a list, got %s", fmt_val(v, vb, sizeof vb));
        return NULL;
    }
    if (required && json_array_size(v) == 0) {
        serr(x, obj, key, v, path, allow, "the list is empty");
        return NULL;
    }
    return v;
}

/* The commands a team token may give a launch template (each a list of strings, matched
 * whole): the scenario's and the instructor's own commands need no entry. */
static void read_allowed_commands(struct sctx *x, gd_scenario *s, json_t *root)
{
    static const char allow[] = "a list of commands, each a non-empty list of strings";
    s->allowed_commands = json_array();
    json_t *list = get_list(x, root, "allowed_commands", "allowed_commands", 0, allow);
    size_t i, k;
    json_t *c, *a;
    char p[64], vb[64];
    json_array_foreach(list, i, c)
    {
        int ok = json_is_array(c) && json_array_size(c) > 0 && json_array_size(c) <= 64;
        json_array_foreach(c, k, a) ok &= json_is_string(a) && json_string_length(a) > 0;
        snprintf(p, sizeof p, "allowed_commands[%zu]", i);
        if (!ok)
            serr(x, list, NULL, c, p, allow, "%s is not a list of strings",
                 fmt_val(c, vb, sizeof vb));
        else
            json_array_append(s->allowed_commands, c);
    }
}

/* traffic.keys.widen: later phases of the customers' keys, 'at' increasing. */
static void read_key_phases(struct sctx *x, gd_scenario *s, json_t *keys)
{
    json_t *w = keys ? get_list(x, keys, "widen", "traffic.keys.widen", 0,
                                "a list of {at, space, zipf}, 'at' increasing")
                     : NULL;
    size_t n = w ? json_array_size(w) : 0;
    s->key_phases = gd_calloc(n + 1, sizeof(gd_key_phase));
    s->key_phases[0] = (gd_key_phase){0, s->key_space, s->zipf};
    s->nkey_phases = 1;
    char p[64], a[32], b[32];
    size_t i;
    json_t *it;
    json_array_foreach(w, i, it)
    {
        snprintf(p, sizeof p, "traffic.keys.widen[%zu]", i);
        gd_key_phase *k = &s->key_phases[s->nkey_phases];
        k->at = -1;
        int n0 = x->n;
        if (read_section(x, w, NULL, it, p, key_phase_fields, k) == NULL && x->n == n0)
            serr(x, w, NULL, it, p, "a mapping {at, space, zipf}", "missing phase");
        if (x->n != n0) continue;
        double last = s->key_phases[s->nkey_phases - 1].at;
        snprintf(p, sizeof p, "traffic.keys.widen[%zu].at", i);
        if (k->at <= last)
            serr(x, it, "at", json_object_get(it, "at"), p, "a time after the previous phase",
                 "%s is not after the previous phase (%s)", gd_model_fmt_dur(k->at, a, sizeof a),
                 gd_model_fmt_dur(last, b, sizeof b));
        else if (s->duration > 0 && k->at >= s->duration)
            serr(x, it, "at", json_object_get(it, "at"), p, "0s..duration",
                 "%s is after the end of the game (%s)", gd_model_fmt_dur(k->at, a, sizeof a),
                 gd_model_fmt_dur(s->duration, b, sizeof b));
        else
            s->nkey_phases++;
    }
}

static void read_traffic(struct sctx *x, gd_scenario *s, json_t *root)
{
    json_t *tr = json_object_get(root, "traffic");
    if (tr == NULL || json_is_null(tr)) return; /* reported as missing by the top reader */
    tr = read_section(x, root, "traffic", tr, "traffic", traffic_fields, s);
    if (tr == NULL) return;
    json_t *keys =
        read_section(x, tr, "keys", json_object_get(tr, "keys"), "traffic.keys", keys_fields, s);
    read_key_phases(x, s, keys);

    char p[128], a[32], b[32];
    json_t *rate = get_list(x, tr, "rate", "traffic.rate", 1,
                            "a list of {at, rps, ramp}, the first at 0, 'at' increasing");
    if (rate) {
        size_t i;
        json_t *it;
        double last = -1; /* the previous point's time, -1 before the first or if unread */
        s->rate = gd_calloc(json_array_size(rate), sizeof(gd_rate_point));
        json_array_foreach(rate, i, it)
        {
            snprintf(p, sizeof p, "traffic.rate[%zu]", i);
            gd_rate_point *r = &s->rate[s->nrate++];
            r->at = -1;
            int n0 = x->n;
            if (read_section(x, rate, NULL, it, p, rate_fields, r) == NULL) {
                if (x->n == n0)
                    serr(x, rate, NULL, it, p, "a mapping {at, rps, ramp}", "missing point");
                last = -1;
                continue;
            }
            if (r->at < 0) { /* 'at' was missing or bad: already reported */
                last = -1;
                continue;
            }
            json_t *at = json_object_get(it, "at");
            snprintf(p, sizeof p, "traffic.rate[%zu].at", i);
            if (i == 0 && r->at != 0)
                serr(x, it, "at", at, p, "0s", "the first point must be at 0s, not %s",
                     gd_model_fmt_dur(r->at, a, sizeof a));
            else if (i > 0 && last >= 0 && r->at <= last)
                serr(x, it, "at", at, p, "a time after the previous point",
                     "%s is not after the previous point (%s)",
                     gd_model_fmt_dur(r->at, a, sizeof a), gd_model_fmt_dur(last, b, sizeof b));
            else if (s->duration > 0 && r->at > s->duration)
                serr(x, it, "at", at, p, "0s..duration", "%s is after the end of the game (%s)",
                     gd_model_fmt_dur(r->at, a, sizeof a),
                     gd_model_fmt_dur(s->duration, b, sizeof b));
            last = r->at;
        }
    }

    json_t *surges = get_list(x, tr, "surges", "traffic.surges", 0, "a list of {at, for, x}");
    if (surges && json_array_size(surges) > 0) {
        size_t i;
        json_t *it;
        s->surges = gd_calloc(json_array_size(surges), sizeof(gd_surge));
        json_array_foreach(surges, i, it)
        {
            snprintf(p, sizeof p, "traffic.surges[%zu]", i);
            gd_surge *g = &s->surges[s->nsurges];
            int n0 = x->n;
            if (read_section(x, surges, NULL, it, p, surge_fields, g) == NULL && x->n == n0)
                serr(x, surges, NULL, it, p, "a mapping {at, for, x}", "missing surge");
            if (x->n != n0) continue;
            snprintf(p, sizeof p, "traffic.surges[%zu].at", i);
            if (s->duration > 0 && g->at >= s->duration)
                serr(x, it, "at", json_object_get(it, "at"), p, "0s..duration",
                     "%s is after the end of the game (%s)", gd_model_fmt_dur(g->at, a, sizeof a),
                     gd_model_fmt_dur(s->duration, b, sizeof b));
            else
                s->nsurges++;
        }
    }
}

/* shoppers: read with its defaults whatever the service (the loadgen and the server's
 * bounds use them only for clothes); written for another service, it is an error. */
static void read_shoppers(struct sctx *x, gd_scenario *s, json_t *root)
{
    json_t *v = json_object_get(root, "shoppers");
    json_t *sh = read_section(x, root, "shoppers", v, "shoppers", shopper_fields, s);
    if (v && !json_is_null(v) && !gd_scenario_is_shop(s)) {
        serr(x, root, "shoppers", NULL, "shoppers", "a shoppers section with service.kind clothes",
             "the customers of service.kind %s are not shoppers",
             s->service ? s->service : "unicorn");
        return;
    }
    if (sh && s->shoppers.items_min > s->shoppers.items_max) {
        char allow[64];
        snprintf(allow, sizeof allow, "1..%d (items_max)", s->shoppers.items_max);
        serr(x, sh, "items_min", json_object_get(sh, "items_min"), "shoppers.items_min", allow,
             "%d is above items_max", s->shoppers.items_min);
    }
    if (gd_scenario_is_shop(s) && s->dns.resolve) {
        json_t *d = json_object_get(root, "dns");
        serr(x, d, "resolve", json_object_get(d, "resolve"), "dns.resolve",
             "no dns.resolve with service.kind clothes",
             "shoppers are told the endpoint; they do not look a name up");
    }
}

static const struct sfield spot_fields[] = {
    {"discount", S_NUM, 0, "0.7", 0, 0.95, OFF(gd_scenario, spot.discount), NULL},
    {"interruptions_per_hour", S_NUM, 0, "1", 0, 3600, OFF(gd_scenario, spot.per_hour), NULL},
    {"notice", S_DUR, 0, "2m", 0, 3600, OFF(gd_scenario, spot.notice), NULL},
    END,
};

static const struct sfield quota_fields[] = {
    {"vcpus", S_INT, 0, "256", 0, 1000000, OFF(gd_scenario, quotas.vcpus), NULL},
    {"auto_scaling_groups", S_INT, 0, "20", 0, 10000, OFF(gd_scenario, quotas.asgs), NULL},
    {"alarms", S_INT, 0, "100", 0, 100000, OFF(gd_scenario, quotas.alarms), NULL},
    {"elastic_ips", S_INT, 0, "5", 0, 1000, OFF(gd_scenario, quotas.eips), NULL},
    {"concurrency", S_INT, 0, "50", 0, 1000, OFF(gd_scenario, quotas.concurrency), NULL},
    END,
};

static const struct sfield reserved_fields[] = {
    {"discount", S_NUM, 0, "0.4", 0, 0.9, OFF(gd_scenario, reserved.discount), NULL},
    END,
};

static const struct sfield dns_fields[] = {
    {"resolve", S_STR, 0, NULL, 0, 0, OFF(gd_scenario, dns.resolve), NULL},
    {"port", S_INT, 0, "8080", 1024, 65535, OFF(gd_scenario, dns.port), NULL},
    {"customers", S_INT, 0, "1000", 1, 100000, OFF(gd_scenario, dns.customers), NULL},
    {"stale_share", S_NUM, 0, "0.05", 0, 1, OFF(gd_scenario, dns.stale_share), NULL},
    END,
};

static void read_billing(struct sctx *x, gd_scenario *s, json_t *root)
{
    read_section(x, root, "reserved", json_object_get(root, "reserved"), "reserved",
                 reserved_fields, s);
    read_section(x, root, "dns", json_object_get(root, "dns"), "dns", dns_fields, s);
    const char *rs = s->dns.resolve;
    char norm[GD_DNS_NAME_MAX + 1];
    if (rs && (!*rs || strlen(rs) > 200 || rs[strlen(rs) - 1] == '.' ||
               gd_dns_name_norm(rs, strlen(rs), norm, sizeof norm) < 0)) {
        json_t *d = json_object_get(root, "dns");
        serr(x, d, "resolve", json_object_get(d, "resolve"), "dns.resolve",
             "a name in the team's zone, like www", "not a record name");
    }
    read_section(x, root, "spot", json_object_get(root, "spot"), "spot", spot_fields, s);
    read_section(x, root, "quotas", json_object_get(root, "quotas"), "quotas", quota_fields, s);
    s->billing.prices = json_object();
    for (size_t i = 0; i < sizeof default_prices / sizeof default_prices[0]; i++)
        json_object_set_new(s->billing.prices, default_prices[i].kind,
                            json_real(default_prices[i].price));
    json_t *bl = read_section(x, root, "billing", json_object_get(root, "billing"), "billing",
                              billing_fields, s);
    if (bl == NULL) return;
    json_t *pr = json_object_get(bl, "prices");
    if (pr == NULL || json_is_null(pr)) return;
    char p[160], vb[64];
    if (!json_is_object(pr)) {
        serr(x, bl, "prices", pr, "billing.prices", "a mapping of kind: $/hour",
             "expected a mapping, got %s", fmt_val(pr, vb, sizeof vb));
        return;
    }
    const char *k;
    json_t *v;
    json_object_foreach(pr, k, v)
    {
        snprintf(p, sizeof p, "billing.prices.%s", k);
        if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 1e6)
            serr(x, pr, k, v, p, "a price in $/hour, 0..1000000", "%s is not a price",
                 fmt_val(v, vb, sizeof vb));
        else
            json_object_set_new(s->billing.prices, k, json_real(json_number_value(v)));
    }
}

/* ---- the architecture -------------------------------------------------------------------- */

static void read_architecture(struct sctx *x, gd_scenario *s, json_t *root)
{
    s->resources = json_array();
    json_t *arch = json_object_get(root, "architecture");
    if (arch == NULL || json_is_null(arch)) return; /* reported as missing */
    arch = read_section(x, root, "architecture", arch, "architecture", arch_fields, s);
    if (arch == NULL) return;
    json_t *list = get_list(x, arch, "resources", "architecture.resources", 1,
                            "a list of {type, name, ...fields of that type}");
    char p[128], allow[512], vb[64];
    if (list) {
        size_t i;
        json_t *it;
        const char *const *types = gd_schema_types();
        json_array_foreach(list, i, it)
        {
            snprintf(p, sizeof p, "architecture.resources[%zu]", i);
            if (!json_is_object(it)) {
                serr(x, list, NULL, it, p, "a mapping {type, name, ...}",
                     "expected a mapping, got %s", fmt_val(it, vb, sizeof vb));
                continue;
            }
            json_t *tv = json_object_get(it, "type"), *nv = json_object_get(it, "name");
            int ok = 1;
            char pt[160];
            snprintf(pt, sizeof pt, "%s.type", p);
            gd_join(types, allow, sizeof allow);
            if (tv == NULL) {
                serr(x, it, NULL, NULL, pt, allow, "missing");
                ok = 0;
            } else if (!json_is_string(tv) || !gd_schema_known(json_string_value(tv))) {
                serr(x, it, "type", tv, pt, allow, "%s is not a resource type",
                     fmt_val(tv, vb, sizeof vb));
                ok = 0;
            } else if (gd_registry_has(json_string_value(tv), GD_RT_GAME)) {
                serr(x, it, "type", tv, pt, "any type an architecture starts with",
                     "an %s is made in the game (start_experiment), not written in a scenario",
                     json_string_value(tv));
                ok = 0;
            }
            snprintf(pt, sizeof pt, "%s.name", p);
            if (nv == NULL) {
                serr(x, it, NULL, NULL, pt, "[a-z0-9-], 1..48 characters", "missing");
                ok = 0;
            } else if (!json_is_string(nv) || !valid_name(json_string_value(nv), 48)) {
                serr(x, it, "name", nv, pt, "[a-z0-9-], 1..48 characters", "%s is not a valid name",
                     fmt_val(nv, vb, sizeof vb));
                ok = 0;
            } else {
                json_t *prev;
                size_t k;
                json_array_foreach(s->resources, k, prev)
                {
                    /* One namespace per team: 'gameday ctl get web' must mean one
                     * thing, so a launch template and a group cannot share a name. */
                    if (ok && strcmp(json_string_value(json_object_get(prev, "name")),
                                     json_string_value(nv)) == 0) {
                        char w[256];
                        gd_conf_where(x->conf, json_object_get(prev, "spec"), "?", w, sizeof w);
                        serr(x, it, "name", nv, pt,
                             "a name used once per team (all types share names)",
                             "%s '%s' is already defined (at %s)",
                             json_string_value(json_object_get(prev, "type")),
                             json_string_value(nv), w);
                        ok = 0;
                        break;
                    }
                }
            }
            if (!ok) continue;
            json_t *r = json_object();
            json_object_set(r, "type", tv);
            json_object_set(r, "name", nv);
            json_object_del(it, "type");
            json_object_del(it, "name");
            if (gd_schema_check(json_string_value(tv), json_string_value(nv), it, x->conf, p,
                                x->errs) > 0) {
                x->n++;
                if (!strcmp(json_string_value(tv), "target_group") &&
                    !strcmp(json_string_value(nv), GD_SCHEMA_IMPLICIT_TG)) {
                    json_decref(r); /* reserved: no one may name it as a target_group */
                    continue;
                }
            } else {
                json_object_set_new(r, "spec_ok", json_true()); /* its own checks: below */
            }
            json_object_set(r, "spec", it);
            json_array_append_new(s->resources, r);
        }
    }
    /* Each resource against the rest (references, then its type's own checks), with
     * the same checks the operations layer applies to an API request. */
    gd_arch_check ac = {.resources = s->resources, .conf = x->conf, .errs = x->errs};
    for (ac.self = 0; ac.self < json_array_size(s->resources); ac.self++) {
        json_t *r = json_array_get(s->resources, ac.self);
        gd_arch_check_res(&ac, json_is_true(json_object_get(r, "spec_ok")));
        json_object_del(r, "spec_ok");
    }
    x->n += ac.n;
    if (!s->endpoint && !s->dns.resolve) {
        gd_arch_names(s->resources, "entry", allow, sizeof allow);
        serr(x, arch, NULL, NULL, "architecture.endpoint", allow,
             "missing (needed unless dns.resolve names the record customers look up)");
    }
    if (s->endpoint && !gd_arch_find(s->resources, "entry", s->endpoint)) {
        gd_arch_names(s->resources, "entry", allow, sizeof allow);
        json_t *ev = json_object_get(arch, "endpoint");
        serr(x, arch, "endpoint", ev, "architecture.endpoint", allow,
             "no load balancer or cdn named '%s'", s->endpoint);
    }
}

/* A scenario's own JSON list of strings as "a, b, c" (for "allowed:"). */
static void join_list(const json_t *list, char *buf, size_t n)
{
    size_t off = 0, i;
    json_t *v;
    buf[0] = 0;
    json_array_foreach(list, i, v) if (off < n) off +=
        (size_t)snprintf(buf + off, n - off, "%s%s", i ? ", " : "", json_string_value(v));
    if (!json_array_size(list)) snprintf(buf, n, "none (the list is empty)");
}

void gd_scenario_patch_fit(const char *type, const json_t *spec, json_t *patch)
{
    if (strcmp(type, "asg") != 0 || json_object_get(patch, "desired")) return;
    json_t *mn = json_object_get(patch, "min"), *mx = json_object_get(patch, "max");
    if (!mn && !mx) return;
    if (!mn) mn = json_object_get(spec, "min");
    if (!mx) mx = json_object_get(spec, "max");
    json_t *d = json_object_get(spec, "desired");
    if (!json_is_integer(mn) || !json_is_integer(mx) || !json_is_integer(d) ||
        json_integer_value(mn) > json_integer_value(mx))
        return; /* the check says what is wrong */
    json_int_t v = json_integer_value(d);
    if (v > json_integer_value(mx)) v = json_integer_value(mx);
    if (v < json_integer_value(mn)) v = json_integer_value(mn);
    if (v != json_integer_value(d)) json_object_set_new(patch, "desired", json_integer(v));
}

/* An update event's patch: a mapping of the target's fields, checked as the operations
 * layer will check it, merged into the target as the architecture starts it (its own
 * fields, then against the rest: references, rules). The game gets a copy. */
static void check_patch(struct sctx *x, gd_scenario *s, json_t *it, gd_event *e, const char *p,
                        const char *type, const char *name)
{
    char pf[160], vb[64];
    snprintf(pf, sizeof pf, "%s.patch", p);
    json_t *pv = json_object_get(it, "patch");
    static const char allow[] = "a mapping of the target's fields to set, e.g. {max: 2}";
    if (pv == NULL || json_is_null(pv)) {
        serr(x, it, NULL, NULL, pf, allow, "missing (an update sets something)");
        return;
    }
    if (!json_is_object(pv) || json_object_size(pv) == 0) {
        serr(x, it, "patch", pv, pf, allow, "expected a non-empty mapping, got %s",
             fmt_val(pv, vb, sizeof vb));
        return;
    }
    e->patch = json_deep_copy(pv);
    const json_t *res = gd_arch_find(s->resources, type, name);
    if (!res) return; /* reported with the target */
    /* The document's own nodes are checked (their positions are known); the fields the
     * patch leaves are copies of the target's. */
    const json_t *spec = json_object_get(res, "spec");
    gd_scenario_patch_fit(type, spec, pv);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)spec, k, v) if (!json_object_get(pv, k))
        json_object_set_new(pv, k, json_deep_copy(v));
    int bad = gd_schema_check(type, name, pv, x->conf, pf, x->errs);
    x->n += bad;
    if (bad) return;
    json_t *arch = json_array();
    size_t i, self = 0;
    json_t *r;
    json_array_foreach(s->resources, i, r)
    {
        if (r != res) {
            json_array_append(arch, r);
            continue;
        }
        self = i;
        json_array_append_new(arch,
                              json_pack("{s:s,s:s,s:O}", "type", type, "name", name, "spec", pv));
    }
    gd_arch_check ac = {.resources = arch, .self = self, .conf = x->conf, .errs = x->errs};
    gd_arch_check_res(&ac, 1);
    x->n += ac.n;
    json_decref(arch);
}

/* A detach_target_group event: an asg leaves one of the architecture's target groups. */
static void check_detach(struct sctx *x, gd_scenario *s, json_t *it, gd_event *e, const char *p,
                         const char *type)
{
    char pf[160], allow[512];
    if (strcmp(type, "asg") != 0) {
        snprintf(pf, sizeof pf, "%s.target", p);
        gd_arch_names(s->resources, "asg", allow, sizeof allow);
        serr(x, it, "target", json_object_get(it, "target"), pf, allow,
             "detach_target_group acts on an asg, not a %s", type);
    }
    snprintf(pf, sizeof pf, "%s.group", p);
    gd_arch_names(s->resources, "target_group", allow, sizeof allow);
    if (e->group == NULL)
        serr(x, it, NULL, NULL, pf, allow, "missing (the target group the asg leaves)");
    else if (!gd_arch_find(s->resources, "target_group", e->group))
        serr(x, it, "group", json_object_get(it, "group"), pf, allow, "no target_group named '%s'",
             e->group);
}

/* A start_experiment event: an experiment_template of the architecture, and no target
 * (the template says what it acts on). */
static void check_start_experiment(struct sctx *x, gd_scenario *s, json_t *it, gd_event *e,
                                   const char *p)
{
    char pf[160], allow[512];
    snprintf(pf, sizeof pf, "%s.target", p);
    if (e->target)
        serr(x, it, "target", json_object_get(it, "target"), pf,
             "no target: the experiment template names its targets",
             "a start_experiment event takes no target");
    snprintf(pf, sizeof pf, "%s.template", p);
    gd_arch_names(s->resources, "experiment_template", allow, sizeof allow);
    if (e->template == NULL)
        serr(x, it, NULL, NULL, pf, allow, "missing (the experiment_template to start)");
    else if (!gd_arch_find(s->resources, "experiment_template", e->template))
        serr(x, it, "template", json_object_get(it, "template"), pf, allow,
             "no experiment_template named '%s'", e->template);
}

static void read_events(struct sctx *x, gd_scenario *s, json_t *root)
{
    json_t *list =
        get_list(x, root, "events", "events", 0,
                 "a list of {at, action, target, count, principal, message, for, patch, group, "
                 "template}");
    if (list == NULL || json_array_size(list) == 0) return;
    s->events = gd_calloc(json_array_size(list), sizeof(gd_event));
    char p[128], a[32], b[32], allow[512];
    size_t i;
    json_t *it;
    json_array_foreach(list, i, it)
    {
        snprintf(p, sizeof p, "events[%zu]", i);
        gd_event *e = &s->events[s->nevents++]; /* kept even when bad: freed with the rest */
        int n0 = x->n;
        if (read_section(x, list, NULL, it, p, event_fields, e) == NULL) {
            if (x->n == n0)
                serr(x, list, NULL, it, p, "a mapping {at, action, ...}", "missing event");
            continue;
        }
        if (x->n != n0) continue;
        char pf[160];
        int is_update = !strcmp(e->action, "update");
        int is_detach = !strcmp(e->action, "detach_target_group");
        int is_fis = !strcmp(e->action, "start_experiment");
        /* The CEO's changes are the CEO's, an experiment FIS's, unless the event names
         * someone else. */
        if ((is_update || is_detach || is_fis) && json_object_get(it, "principal") == NULL) {
            gd_free(e->principal);
            e->principal = gd_strdup(is_fis ? "fis" : "ceo");
        }
        json_t *pv = json_object_get(it, "patch");
        snprintf(pf, sizeof pf, "%s.patch", p);
        if (pv && !json_is_null(pv) && !is_update)
            serr(x, it, "patch", pv, pf, "a patch only with action: update",
                 "a %s event takes no patch", e->action);
        snprintf(pf, sizeof pf, "%s.group", p);
        if (e->group && !is_detach)
            serr(x, it, "group", json_object_get(it, "group"), pf,
                 "a group only with action: detach_target_group", "a %s event takes no group",
                 e->action);
        if (s->duration > 0 && e->at > s->duration) {
            snprintf(pf, sizeof pf, "%s.at", p);
            serr(x, it, "at", json_object_get(it, "at"), pf, "0s..duration",
                 "%s is after the end of the game (%s)", gd_model_fmt_dur(e->at, a, sizeof a),
                 gd_model_fmt_dur(s->duration, b, sizeof b));
        }
        if (is_fis) {
            check_start_experiment(x, s, it, e, p);
            continue;
        }
        snprintf(pf, sizeof pf, "%s.template", p);
        if (e->template)
            serr(x, it, "template", json_object_get(it, "template"), pf,
                 "a template only with action: start_experiment", "a %s event takes no template",
                 e->action);
        int is_msg = strcmp(e->action, "message") == 0;
        snprintf(pf, sizeof pf, "%s.message", p);
        if (is_msg && e->message == NULL)
            serr(x, it, NULL, NULL, pf, "the text to show", "missing");
        snprintf(pf, sizeof pf, "%s.target", p);
        json_t *tv = json_object_get(it, "target");
        if (e->target == NULL) {
            if (!is_msg) serr(x, it, NULL, NULL, pf, "TYPE/NAME, e.g. asg/web", "missing");
            continue;
        }
        const char *slash = strchr(e->target, '/');
        if (!strcmp(e->action, "az_outage")) { /* a zone, not a resource */
            const char *z = slash ? slash + 1 : "";
            if (strncmp(e->target, "az/", 3) != 0 || strlen(z) != 1 || z[0] < 'a' || z[0] > 'f')
                serr(x, it, "target", tv, pf, "az/a .. az/f", "'%s' is not an availability zone",
                     e->target);
            continue;
        }
        char type[64];
        if (slash == NULL || (size_t)(slash - e->target) >= sizeof type) {
            serr(x, it, "target", tv, pf, "TYPE/NAME, e.g. asg/web", "'%s' is not TYPE/NAME",
                 e->target);
            continue;
        }
        memcpy(type, e->target, (size_t)(slash - e->target));
        type[slash - e->target] = 0;
        if (!gd_schema_known(type)) {
            gd_join(gd_schema_types(), allow, sizeof allow);
            serr(x, it, "target", tv, pf, allow, "'%s' is not a resource type", type);
        } else if (!gd_arch_find(s->resources, type, slash + 1)) {
            gd_arch_names(s->resources, type, allow, sizeof allow);
            serr(x, it, "target", tv, pf, allow, "no %s named '%s'", type, slash + 1);
        } else if (is_update) {
            check_patch(x, s, it, e, p, type, slash + 1);
        } else if (is_detach) {
            check_detach(x, s, it, e, p, type);
        }
    }
}

/* ---- chaos_monkey, ceo, protections ------------------------------------------------------ */

/* chaos_monkey: absent (or written with no value) the monkey is off. */
static void read_monkey(struct sctx *x, gd_scenario *s, json_t *root)
{
    json_t *v = json_object_get(root, "chaos_monkey");
    if (v == NULL || json_is_null(v)) return;
    int n0 = x->n;
    json_t *m = read_section(x, root, "chaos_monkey", v, "chaos_monkey", monkey_fields, s);
    if (m == NULL) return;
    gd_monkey_conf *c = &s->monkey;
    if (c->window && gd_monkey_window_parse(c->window, &c->window_from, &c->window_to) < 0)
        serr(x, m, "window", json_object_get(m, "window"), "chaos_monkey.window",
             "\"HH:MM-HH:MM\" of the game clock, e.g. \"09:00-17:00\"; the game starts at 00:00, "
             "24:00 ends a day, an end before the start goes over midnight",
             "'%s' is not a working window", c->window);
    size_t tl = c->opt_out_tag ? strlen(c->opt_out_tag) : 1;
    if (tl < 1 || tl > 128)
        serr(x, m, "opt_out_tag", json_object_get(m, "opt_out_tag"), "chaos_monkey.opt_out_tag",
             "a tag key, 1..128 characters", "a tag key of %zu characters", tl);
    char allow[512], p[96], vb[64];
    gd_arch_names(s->resources, "asg", allow, sizeof allow);
    json_t *list = get_list(x, m, "groups", "chaos_monkey.groups", 0, allow);
    if (list) c->groups = json_array();
    size_t i, k;
    json_t *g, *seen;
    json_array_foreach(list, i, g)
    {
        snprintf(p, sizeof p, "chaos_monkey.groups[%zu]", i);
        const char *name = json_string_value(g);
        if (!name || !valid_name(name, 48)) {
            serr(x, list, NULL, g, p, allow, "%s is not a group name", fmt_val(g, vb, sizeof vb));
            continue;
        }
        if (!gd_arch_find(s->resources, "asg", name)) {
            serr(x, list, NULL, g, p, allow, "no asg named '%s'", name);
            continue;
        }
        int dup = 0;
        json_array_foreach(c->groups, k, seen) dup |= !strcmp(json_string_value(seen), name);
        if (dup)
            serr(x, list, NULL, g, p, "each group once", "'%s' is listed twice", name);
        else
            json_array_append(c->groups, g);
    }
    if (x->n == n0) c->on = 1;
}

/* The principals no deny_policy may name: the players themselves, the instructor and
 * the game (its bootstrap, its experiments). */
static int undeniable(const char *p)
{
    static const char *const fixed[] = {"admin", "gameday", "fis", NULL};
    for (int i = 0; fixed[i]; i++)
        if (!strcmp(fixed[i], p)) return 1;
    if (strncmp(p, "team-", 5) != 0 || !p[5]) return 0;
    for (const char *q = p + 5; *q; q++)
        if (*q < '0' || *q > '9') return 0;
    return 1;
}

/* protections.deniable: whom a team's deny_policy may name (default: the CEO and Chaos
 * Monkey). */
static void read_protections(struct sctx *x, gd_scenario *s, json_t *root)
{
    static const char allow[] =
        "a list of principals, e.g. [ceo, chaos-monkey]; not team-N, admin, gameday or fis";
    json_t *pr = read_section(x, root, "protections", json_object_get(root, "protections"),
                              "protections", protections_fields, s);
    s->protections.deniable = json_array();
    json_t *list = pr ? json_object_get(pr, "deniable") : NULL;
    if (list == NULL || json_is_null(list)) {
        json_array_append_new(s->protections.deniable, json_string("ceo"));
        json_array_append_new(s->protections.deniable, json_string("chaos-monkey"));
        return;
    }
    list = get_list(x, pr, "deniable", "protections.deniable", 0, allow);
    size_t i;
    json_t *v;
    char p[96], vb[64];
    json_array_foreach(list, i, v)
    {
        snprintf(p, sizeof p, "protections.deniable[%zu]", i);
        const char *name = json_string_value(v);
        if (!name || !valid_name(name, 64))
            serr(x, list, NULL, v, p, allow, "%s is not a principal", fmt_val(v, vb, sizeof vb));
        else if (undeniable(name))
            serr(x, list, NULL, v, p, allow, "'%s' cannot be denied", name);
        else if (!gd_scenario_deniable(s, name))
            json_array_append(s->protections.deniable, v);
    }
}

int gd_scenario_deniable(const gd_scenario *s, const char *principal)
{
    size_t i;
    json_t *v;
    json_array_foreach(s->protections.deniable, i,
                       v) if (principal && !strcmp(json_string_value(v), principal)) return 1;
    return 0;
}

int gd_scenario_check_deny(const gd_scenario *s, const char *name, const json_t *spec,
                           const gd_conf *conf, const char *path, gd_errs *errs)
{
    json_t *list = json_object_get(spec, "principals");
    char allow[512], fp[48], w[512], what[160];
    join_list(s->protections.deniable, allow, sizeof allow);
    int n = 0;
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        const char *p = json_string_value(v);
        /* the registry's check names the undeniable ones (team-N, admin, ...) */
        if (!p || gd_scenario_deniable(s, p) || undeniable(p)) continue;
        snprintf(fp, sizeof fp, "principals[%zu]", i);
        snprintf(what, sizeof what,
                 "'%.64s' is not one of the principals this scenario lets a team deny "
                 "(protections.deniable)",
                 p);
        gd_model_where(conf, path, (json_t *)spec, list, NULL, v, fp, w, sizeof w);
        gd_model_err(errs, w, "deny_policy", name, fp, allow, what);
        n++;
    }
    return n;
}

/* The starting architecture's deny policies name only deniable principals. */
static void check_deny_policies(struct sctx *x, gd_scenario *s)
{
    size_t i;
    json_t *r;
    json_array_foreach(s->resources, i,
                       r) if (!strcmp(json_string_value(json_object_get(r, "type")), "deny_policy"))
        x->n += gd_scenario_check_deny(s, json_string_value(json_object_get(r, "name")),
                                       json_object_get(r, "spec"), x->conf, "", x->errs);
}

/* Orders messages by their "file:line:col" so they read top to bottom. */
static long msg_pos(const char *m, size_t flen)
{
    if (strlen(m) <= flen || m[flen] != ':') return 0;
    char *end;
    long line = strtol(m + flen + 1, &end, 10);
    long col = *end == ':' ? strtol(end + 1, NULL, 10) : 0;
    return line * 100000 + col;
}

static void sort_errors(gd_errs *errs, int from, size_t flen)
{
    for (int i = from + 1; i < errs->n; i++) { /* insertion sort: stable, lists are short */
        char *m = errs->msgs[i];
        long k = msg_pos(m, flen);
        int j = i - 1;
        while (j >= from && msg_pos(errs->msgs[j], flen) > k) {
            errs->msgs[j + 1] = errs->msgs[j];
            j--;
        }
        errs->msgs[j + 1] = m;
    }
}

static int cmp_event(const void *a, const void *b)
{
    const gd_event *x = a, *y = b;
    if (x->at != y->at) return x->at < y->at ? -1 : 1;
    return x < y ? -1 : x > y;
}

int gd_scenario_load(const char *path, gd_scenario **out, gd_errs *errs)
{
    *out = NULL;
    gd_conf *conf;
    int rc = gd_conf_load_file(path, &conf, errs);
    if (rc != 0) return rc;
    int from = errs->n;
    struct sctx x = {.conf = conf, .errs = errs};
    gd_scenario *s = gd_calloc(1, sizeof *s);
    s->path = gd_strdup(path);
    s->conf = conf;
    json_t *root = gd_conf_root(conf);
    if (!json_is_object(root)) {
        char vb[64];
        serr(&x, NULL, NULL, root, "", "a mapping with name, duration, traffic, architecture",
             "the document must be a mapping, got %s", fmt_val(root, vb, sizeof vb));
        gd_scenario_free(s);
        return GD_EINVAL;
    }
    read_section(&x, NULL, NULL, root, "", top_fields, s);
    if (s->title == NULL && s->name) s->title = gd_strdup(s->name);
    read_section(&x, root, "service", json_object_get(root, "service"), "service", service_fields,
                 s);
    if (s->salt == NULL && s->name) s->salt = gd_strdup(s->name);
    read_traffic(&x, s, root);
    json_t *sc = read_section(&x, root, "scoring", json_object_get(root, "scoring"), "scoring",
                              scoring_fields, s);
    if (s->scoring.success_min > s->scoring.success_max) {
        char allow[64];
        snprintf(allow, sizeof allow, "0..%.15g (success_max)", s->scoring.success_max);
        serr(&x, sc ? sc : root, "success_min", sc ? json_object_get(sc, "success_min") : NULL,
             "scoring.success_min", allow, "%.15g is above success_max", s->scoring.success_min);
    }
    read_billing(&x, s, root);
    read_shoppers(&x, s, root);
    read_allowed_commands(&x, s, root);
    read_architecture(&x, s, root);
    read_events(&x, s, root);
    read_monkey(&x, s, root);
    read_section(&x, root, "ceo", json_object_get(root, "ceo"), "ceo", ceo_fields, s);
    read_protections(&x, s, root);
    check_deny_policies(&x, s);
    if (x.n > 0 || errs->n > from) {
        sort_errors(errs, from, strlen(path));
        gd_scenario_free(s);
        return GD_EINVAL;
    }
    if (s->nevents > 1) qsort(s->events, (size_t)s->nevents, sizeof(gd_event), cmp_event);
    *out = s;
    return 0;
}

void gd_scenario_free(gd_scenario *s)
{
    if (s == NULL) return;
    gd_free(s->path);
    gd_free(s->name);
    gd_free(s->title);
    gd_free(s->story);
    gd_free(s->runbook);
    gd_free(s->dns.resolve);
    gd_free(s->service);
    gd_free(s->salt);
    json_decref(s->allowed_commands);
    gd_free(s->rate);
    gd_free(s->key_phases);
    gd_free(s->surges);
    for (int i = 0; i < s->nevents; i++) {
        gd_free(s->events[i].action);
        gd_free(s->events[i].target);
        gd_free(s->events[i].principal);
        gd_free(s->events[i].message);
        gd_free(s->events[i].group);
        gd_free(s->events[i].template);
        json_decref(s->events[i].patch);
    }
    gd_free(s->monkey.window);
    gd_free(s->monkey.opt_out_tag);
    json_decref(s->monkey.groups);
    json_decref(s->protections.deniable);
    gd_free(s->events);
    gd_free(s->endpoint);
    json_decref(s->billing.prices);
    json_decref(s->resources);
    gd_conf_free(s->conf);
    gd_free(s);
}

double gd_scenario_rate(const gd_scenario *s, double t)
{
    if (s == NULL || s->nrate == 0) return 0;
    int i = 0;
    while (i + 1 < s->nrate && s->rate[i + 1].at <= t) i++;
    double r = s->rate[i].rps;
    if (i + 1 < s->nrate && s->rate[i + 1].ramp && t > s->rate[i].at) {
        const gd_rate_point *a = &s->rate[i], *b = &s->rate[i + 1];
        r = a->rps + (b->rps - a->rps) * (t - a->at) / (b->at - a->at);
    }
    for (int k = 0; k < s->nsurges; k++)
        if (t >= s->surges[k].at && t < s->surges[k].at + s->surges[k].duration)
            r *= s->surges[k].multiplier;
    return r;
}

void gd_spot_times_init(gd_spot_times *it, const gd_scenario *s)
{
    /* Exponential gaps of mean 3600 / per_hour from a generator seeded by the scenario
     * alone (not the game's start), so every team and every run sees the same ones. */
    gd_rand_seed(&it->rnd, s->seed ^ 0x5b07b07b07b07b07ull);
    it->t = 0;
    it->rate = s->spot.per_hour / 3600; /* a game second */
}

double gd_spot_times_next(gd_spot_times *it)
{
    if (!(it->rate > 0)) return INFINITY;
    it->t += gd_rand_exp(&it->rnd, it->rate);
    return it->t;
}

double gd_scenario_spot_at(const gd_scenario *s, int k)
{
    if (k < 0) return INFINITY;
    gd_spot_times it;
    gd_spot_times_init(&it, s);
    double t = INFINITY;
    for (int i = 0; i <= k; i++) t = gd_spot_times_next(&it);
    return t;
}

int gd_scenario_key_phase(const gd_scenario *s, double t)
{
    int i = 0;
    while (i + 1 < s->nkey_phases && s->key_phases[i + 1].at <= t) i++;
    return i;
}

uint64_t gd_scenario_key_of(const gd_scenario *s, double t, uint32_t rank)
{
    if (!(s->key_drift > 0)) return rank;
    /* Key numbers count down from the last new key of the game, so they stay >= 1; the
     * drift stops at the game's end. */
    uint64_t most = (uint64_t)(s->key_drift * (s->duration > 0 ? s->duration : 0) / 3600);
    uint64_t now = t > 0 ? (uint64_t)(s->key_drift * t / 3600) : 0;
    return (uint64_t)rank + most - (now < most ? now : most);
}

const char *gd_shop_outcome_name(enum gd_shop_outcome o)
{
    static const char *const names[GD_SHOP_NOUT] = {
        "checkout", "cart_lost", "item_lost", "checkout_failed", "order_wrong", "stale_price"};
    return (int)o >= 0 && o < GD_SHOP_NOUT ? names[o] : NULL;
}

int gd_scenario_is_shop(const gd_scenario *s)
{
    return s && s->service && !strcmp(s->service, "clothes");
}

int gd_scenario_visit_steps(const gd_scenario *s)
{
    /* the catalogue, a profile, a product page and an add per item, the cart, a removal,
     * the checkout, the orders */
    return 1 + 1 + 2 * s->shoppers.items_max + 1 + 1 + 1 + 1;
}

double gd_scenario_points(const gd_scenario *s, enum gd_outcome o, double latency_s)
{
    switch (o) {
    case GD_OK_ANSWER: {
        double p = s->scoring.success_max * (1 - latency_s / s->client_timeout);
        return p > s->scoring.success_min ? p : s->scoring.success_min;
    }
    case GD_ERROR:
        return s->scoring.error;
    case GD_TIMEOUT:
        return s->scoring.timeout;
    case GD_WRONG:
        return s->scoring.wrong;
    }
    return 0;
}

double gd_scenario_price(const gd_scenario *s, const char *kind)
{
    json_t *v = kind ? json_object_get(s->billing.prices, kind) : NULL;
    return json_is_number(v) ? json_number_value(v) : -1;
}
