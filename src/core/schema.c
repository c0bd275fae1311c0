/* The resource schema: one table of types and their fields (kind, default, range,
 * allowed values) and one checker that validates a spec in place, fills defaults and
 * normalises durations to seconds. Add a type by adding a table below. */
#include "core/schema.h"

#include "core/addr.h"
#include "core/err.h"
#include "core/mem.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum fkind {
    F_STR,  /* any string */
    F_INT,  /* integer, optionally in [min, max] */
    F_NUM,  /* number, optionally in [min, max] */
    F_BOOL, /* true or false */
    F_DUR,  /* duration, stored as seconds, optionally in [min, max] seconds */
    F_CIDR, /* "127.T.x.y/n" with prefix in [min, max] */
    F_REF,  /* the name of another resource */
    F_REFS, /* a list of names, at least min of them */
    F_ENUM, /* one of enums */
    F_MAP,  /* a nested mapping of sub fields */
    F_STRS, /* a list of strings, at least min of them */
    F_LIST, /* a list of mappings, at most max of them (checked further by its user) */
};

struct field {
    const char *name;
    enum fkind kind;
    int required;
    const char *def; /* default as JSON text; NULL: none (the field may be absent) */
    int ranged;      /* min and max apply */
    double min, max;
    const char *const *enums;
    const struct field *sub; /* F_MAP: fields, ended by a NULL name */
};

struct ctx;

struct rtype {
    const char *name, *prefix;
    const struct field *fields; /* ended by a NULL name */
    void (*cross)(struct ctx *x, json_t *spec);
};

#define F(n, k, req, dflt) .name = (n), .kind = (k), .required = (req), .def = (dflt)
#define RANGE(lo, hi) .ranged = 1, .min = (lo), .max = (hi)

static const char *const instance_types[] = {"t3.micro",  "t3.small", "t3.medium", "m5.large",
                                             "m5.xlarge", "c5.large", "c5.xlarge", NULL};
static const char *const services[] = {"unicorn", "time", "clothes", NULL};
static const char *const hc_types[] = {"EC2", "ELB", NULL};
static const char *const azs[] = {"a", "b", "c", "d", "e", "f", NULL};

static const struct field vpc_fields[] = {
    {F("cidr", F_CIDR, 0, "\"127.T.0.0/16\""), RANGE(16, 16)},
    {.name = NULL},
};

static const struct field subnet_fields[] = {
    {F("vpc", F_REF, 0, "\"main\"")},
    {F("cidr", F_CIDR, 1, NULL), RANGE(24, 28)},
    {F("az", F_ENUM, 0, "\"a\""), .enums = azs},
    {F("public", F_BOOL, 0, "false")},
    {.name = NULL},
};

static const struct field lt_fields[] = {
    {F("service", F_ENUM, 0, "\"unicorn\""), .enums = services},
    {F("command", F_STRS, 0, NULL), RANGE(1, 1e9)},
    {F("instance_type", F_ENUM, 0, "\"t3.micro\""), .enums = instance_types},
    {F("port", F_INT, 0, "8000"), RANGE(1024, 65535)},
    {F("slots", F_INT, 0, "5"), RANGE(1, 1000)},
    {F("queue", F_INT, 0, "32"), RANGE(0, 100000)},
    {F("service_time", F_DUR, 0, "4"), RANGE(0, 3600)},
    {F("boot_time", F_DUR, 0, "60"), RANGE(0, 3600)},
    {.name = NULL},
};

static const struct field instance_fields[] = {
    {F("launch_template", F_REF, 1, NULL)},
    {F("subnet", F_REF, 1, NULL)},
    {F("instance_type", F_ENUM, 0, NULL), .enums = instance_types},
    {.name = NULL},
};

static const struct field asg_fields[] = {
    {F("launch_template", F_REF, 1, NULL)},
    {F("subnets", F_REFS, 1, NULL), RANGE(1, 1e9)},
    {F("min", F_INT, 0, "1"), RANGE(0, 1000)},
    {F("max", F_INT, 0, "10"), RANGE(0, 1000)},
    {F("desired", F_INT, 0, NULL), RANGE(0, 1000)}, /* default: min (see asg_cross) */
    {F("load_balancers", F_REFS, 0, "[]"), RANGE(0, 1e9)},
    {F("target_groups", F_REFS, 0, "[]"), RANGE(0, 1e9)},
    {F("health_check_type", F_ENUM, 0, "\"EC2\""), .enums = hc_types},
    {F("health_check_grace", F_DUR, 0, "300"), RANGE(0, 7200)},
    {.name = NULL},
};

static const struct field clb_health_fields[] = {
    {F("path", F_STR, 0, "\"/health\"")},
    {F("interval", F_DUR, 0, "30"), RANGE(5, 300)},
    {F("timeout", F_DUR, 0, "5"), RANGE(2, 60)},
    {F("healthy_threshold", F_INT, 0, "10"), RANGE(2, 10)},
    {F("unhealthy_threshold", F_INT, 0, "2"), RANGE(2, 10)},
    {.name = NULL},
};

static const struct field clb_fields[] = {
    {F("subnets", F_REFS, 1, NULL), RANGE(1, 1e9)},
    {F("port", F_INT, 0, "8080"), RANGE(1024, 65535)},
    {F("instance_port", F_INT, 0, "8000"), RANGE(1024, 65535)},
    {F("instances", F_REFS, 0, "[]"), RANGE(0, 1e9)},
    {F("idle_timeout", F_DUR, 0, "60"), RANGE(1, 4000)},
    {F("health_check", F_MAP, 0, "{}"), .sub = clb_health_fields},
    /* seconds a deregistered instance keeps its requests in flight; 0: cut at once */
    {F("connection_draining", F_DUR, 0, "300"), RANGE(0, 3600)},
    {.name = NULL},
};

static const char *const algorithms[] = {"round_robin", "least_outstanding_requests",
                                         "weighted_random", NULL};
static const char *const sticky_types[] = {"none", "lb_cookie", "app_cookie", NULL};
static const char *const qs_modes[] = {"none", "all", NULL};

static const struct field alb_health_fields[] = {
    {F("path", F_STR, 0, "\"/health\"")},
    {F("interval", F_DUR, 0, "30"), RANGE(5, 300)},
    {F("timeout", F_DUR, 0, "5"), RANGE(2, 120)},
    {F("healthy_threshold", F_INT, 0, "5"), RANGE(2, 10)},
    {F("unhealthy_threshold", F_INT, 0, "2"), RANGE(2, 10)},
    {F("matcher", F_STR, 0, "\"200\"")},
    {.name = NULL},
};

static const struct field stickiness_fields[] = {
    {F("type", F_ENUM, 0, "\"none\""), .enums = sticky_types},
    {F("duration", F_DUR, 0, "86400"), RANGE(1, 604800)},
    {F("cookie_name", F_STR, 0, NULL)},
    {.name = NULL},
};

/* How a target group balances and checks: an alb's own group and a target_group. */
// clang-format off
#define TARGET_GROUP_SETTINGS                                                   \
    {F("algorithm", F_ENUM, 0, "\"round_robin\""), .enums = algorithms},         \
    {F("health_check", F_MAP, 0, "{}"), .sub = alb_health_fields},              \
    {F("stickiness", F_MAP, 0, "{}"), .sub = stickiness_fields},                \
    {F("deregistration_delay", F_DUR, 0, "300"), RANGE(0, 3600)},               \
    {F("slow_start", F_DUR, 0, "0"), RANGE(0, 900)},                            \
    {F("cross_zone", F_BOOL, 0, "true")}
// clang-format on

/* An Application LB. Its own fields make its implicit target group "default" (its
 * instances: the groups that name it in load_balancers, and `instances`); rules and
 * default_target_group may send requests to target_group resources instead. */
static const struct field alb_fields[] = {
    {F("subnets", F_REFS, 1, NULL), RANGE(1, 1e9)},
    {F("port", F_INT, 0, "8080"), RANGE(1024, 65535)},
    {F("instance_port", F_INT, 0, "8000"), RANGE(1024, 65535)},
    {F("instances", F_REFS, 0, "[]"), RANGE(0, 1e9)},
    {F("idle_timeout", F_DUR, 0, "60"), RANGE(1, 4000)},
    TARGET_GROUP_SETTINGS,
    /* listener rules as the edge takes them (doc/edge.md); they forward to "default" or
     * to a target_group of the team */
    {F("rules", F_LIST, 0, "[]"), RANGE(0, 100)},
    /* absent: the default action forwards to "default" */
    {F("default_target_group", F_REF, 0, NULL)},
    {.name = NULL},
};

/* A target group of its own: an ALB's default_target_group or rules send to it, and
 * its targets are `instances` and the groups that name it in target_groups. */
static const struct field tg_fields[] = {
    {F("port", F_INT, 0, "8000"), RANGE(1024, 65535)},
    TARGET_GROUP_SETTINGS,
    {F("instances", F_REFS, 0, "[]"), RANGE(0, 1e9)},
    {.name = NULL},
};

/* A CDN distribution with one cache behaviour in front of a load balancer. */
static const struct field cdn_fields[] = {
    {F("origin", F_REF, 1, NULL)},
    {F("query_strings", F_ENUM, 0, "\"none\""), .enums = qs_modes},
    {F("query_include", F_STRS, 0, NULL), RANGE(1, 10)},
    {F("headers", F_STRS, 0, "[]"), RANGE(0, 10)},
    {F("cookies", F_STRS, 0, "[]"), RANGE(0, 10)},
    {F("min_ttl", F_DUR, 0, "0"), RANGE(0, 31536000)},
    {F("default_ttl", F_DUR, 0, "86400"), RANGE(0, 31536000)},
    {F("max_ttl", F_DUR, 0, "31536000"), RANGE(0, 31536000)},
    {F("stale_while_revalidate", F_DUR, 0, "0"), RANGE(0, 31536000)},
    {F("stale_if_error", F_DUR, 0, "0"), RANGE(0, 31536000)},
    {F("max_bytes", F_INT, 0, "67108864"), RANGE(65536, 17179869184.0)},
    {.name = NULL},
};

static void asg_cross(struct ctx *x, json_t *spec);
static void clb_cross(struct ctx *x, json_t *spec);
static void group_cross(struct ctx *x, json_t *spec);

static const struct rtype types[] = {
    {"vpc", "vpc", vpc_fields, NULL},           {"subnet", "subnet", subnet_fields, NULL},
    {"launch_template", "lt", lt_fields, NULL}, {"instance", "i", instance_fields, NULL},
    {"asg", "asg", asg_fields, asg_cross},      {"clb", "lb", clb_fields, clb_cross},
    {"alb", "alb", alb_fields, group_cross},    {"target_group", "tg", tg_fields, group_cross},
    {"cdn", "cdn", cdn_fields, NULL},
};
#define NTYPES (sizeof types / sizeof types[0])

static const char *const type_names[] = {"vpc", "subnet", "launch_template", "instance", "asg",
                                         "clb", "alb",    "target_group",    "cdn",      NULL};

static const gd_schema_ref refs[] = {
    {"subnet", "vpc", "vpc"},
    {"instance", "launch_template", "launch_template"},
    {"instance", "subnet", "subnet"},
    {"asg", "launch_template", "launch_template"},
    {"asg", "subnets", "subnet"},
    {"asg", "load_balancers", "lb"},
    {"asg", "target_groups", "target_group"},
    {"clb", "subnets", "subnet"},
    {"clb", "instances", "instance"},
    {"alb", "subnets", "subnet"},
    {"alb", "instances", "instance"},
    {"alb", "default_target_group", "target_group"},
    {"target_group", "instances", "instance"},
    {"cdn", "origin", "lb"},
};

const gd_schema_ref *gd_schema_refs(size_t *n)
{
    *n = sizeof refs / sizeof refs[0];
    return refs;
}

int gd_schema_type_is(const char *type, const char *want)
{
    if (!strcmp(want, "lb")) return !strcmp(type, "clb") || !strcmp(type, "alb");
    if (!strcmp(want, "entry"))
        return !strcmp(type, "clb") || !strcmp(type, "alb") || !strcmp(type, "cdn");
    return !strcmp(type, want);
}

const char *const *gd_schema_types(void)
{
    return type_names;
}

static const struct rtype *find_type(const char *type)
{
    for (size_t i = 0; type && i < NTYPES; i++)
        if (strcmp(types[i].name, type) == 0) return &types[i];
    return NULL;
}

int gd_schema_known(const char *type)
{
    return find_type(type) != NULL;
}

const char *gd_schema_id_prefix(const char *type)
{
    const struct rtype *t = find_type(type);
    return t ? t->prefix : NULL;
}

/* ---- formatting helpers ------------------------------------------------------------- */

/* "1h30m", "4s", "250ms", "0s". */
static char *fmt_dur(double s, char *buf, size_t n)
{
    long long ms = llround(s * 1000);
    if (ms == 0) {
        snprintf(buf, n, "0s");
        return buf;
    }
    static const struct {
        const char *u;
        long long ms;
    } units[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}};
    size_t off = 0;
    buf[0] = 0;
    for (int i = 0; i < 5 && off < n; i++) {
        if (ms >= units[i].ms) {
            off += (size_t)snprintf(buf + off, n - off, "%lld%s", ms / units[i].ms, units[i].u);
            ms %= units[i].ms;
        }
    }
    return buf;
}

static char *fmt_num(double v, char *buf, size_t n)
{
    snprintf(buf, n, "%.15g", v);
    return buf;
}

/* The value as it appeared, for messages: strings quoted, long ones cut. */
static char *fmt_val(const json_t *v, char *buf, size_t n)
{
    char *d = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (d == NULL) {
        snprintf(buf, n, "?");
        return buf;
    }
    if (strlen(d) > 40)
        snprintf(buf, n, "%.37s...", d);
    else
        snprintf(buf, n, "%s", d);
    free(d);
    return buf;
}

static const char *kind_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "a mapping";
    case JSON_ARRAY:
        return "a list";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "?";
}

static void join_fields(const struct field *f, char *buf, size_t n)
{
    size_t off = 0;
    buf[0] = 0;
    for (int i = 0; f[i].name && off < n; i++)
        off += (size_t)snprintf(buf + off, n - off, "%s%s", i ? ", " : "", f[i].name);
}

/* What a field allows, for "(allowed: ...)". */
static void allowed(const struct field *f, char *buf, size_t n)
{
    char a[32], b[32];
    switch (f->kind) {
    case F_STR:
        snprintf(buf, n, "text");
        break;
    case F_INT:
        if (f->ranged)
            snprintf(buf, n, "an integer %s..%s", fmt_num(f->min, a, 32), fmt_num(f->max, b, 32));
        else
            snprintf(buf, n, "an integer");
        break;
    case F_NUM:
        if (f->ranged)
            snprintf(buf, n, "a number %s..%s", fmt_num(f->min, a, 32), fmt_num(f->max, b, 32));
        else
            snprintf(buf, n, "a number");
        break;
    case F_BOOL:
        snprintf(buf, n, "true, false");
        break;
    case F_DUR:
        if (f->ranged)
            snprintf(buf, n, "a duration %s..%s", fmt_dur(f->min, a, 32), fmt_dur(f->max, b, 32));
        else
            snprintf(buf, n, "a duration like 30s, 5m, 1h30m");
        break;
    case F_CIDR:
        if (f->min == f->max)
            snprintf(buf, n, "a /%d block inside 127.0.0.0/8, e.g. 127.T.0.0/%d", (int)f->min,
                     (int)f->min);
        else
            snprintf(buf, n, "a /%d../%d block inside 127.0.0.0/8, e.g. 127.T.1.0/%d", (int)f->min,
                     (int)f->max, (int)f->min);
        break;
    case F_REF:
        snprintf(buf, n, "a resource name of [a-z0-9-], 1..48 characters");
        break;
    case F_REFS:
        snprintf(buf, n, "a list of %sresource names of [a-z0-9-]",
                 f->min >= 1 ? "at least 1 " : "");
        break;
    case F_ENUM:
        gd_join(f->enums, buf, n);
        break;
    case F_MAP:
        join_fields(f->sub, buf, n);
        break;
    case F_STRS:
        snprintf(buf, n, "a list of %sstrings", f->min >= 1 ? "at least 1 " : "");
        break;
    case F_LIST:
        snprintf(buf, n, "a list of at most %.0f mappings", f->max);
        break;
    }
}

/* ---- the checker ----------------------------------------------------------------------- */

struct ctx {
    const char *type, *name, *path;
    const gd_conf *conf;
    gd_errs *errs;
    json_t *top; /* the whole spec */
    int n;
    char bad[16][64]; /* fields with an error: cross checks leave them alone */
    int nbad;
};

static int is_bad(const struct ctx *x, const char *fpath)
{
    for (int i = 0; i < x->nbad; i++)
        if (strcmp(x->bad[i], fpath) == 0) return 1;
    return x->nbad == 16; /* too many to track: assume the worst */
}

/* Where a problem with key `key` of `parent` (value node, may be NULL) was written:
 * the value, else the key, else the mapping, else the top spec; without a conf (or a
 * place) the API path "path.field". */
static const char *where(struct ctx *x, json_t *parent, const char *key, json_t *node,
                         const char *fpath, char *buf, size_t n)
{
    if (x->conf) {
        if (node && *gd_conf_where(x->conf, node, "", buf, n)) return buf;
        if (parent && key && *gd_conf_where_key(x->conf, parent, key, "", buf, n)) return buf;
        if (parent && *gd_conf_where(x->conf, parent, "", buf, n)) return buf;
        if (*gd_conf_where(x->conf, x->top, "", buf, n)) return buf;
    }
    if (x->path && *x->path)
        snprintf(buf, n, "%s.%s", x->path, fpath);
    else
        snprintf(buf, n, "%s", fpath);
    return buf;
}

static void fail(struct ctx *x, json_t *parent, const char *key, json_t *node, const char *fpath,
                 const char *allow, const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static void fail(struct ctx *x, json_t *parent, const char *key, json_t *node, const char *fpath,
                 const char *allow, const char *fmt, ...)
{
    char w[512], what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    where(x, parent, key, node, fpath, w, sizeof w);
    gd_errs_add(x->errs, "%s: %s '%s': field '%s': %s (allowed: %s)", w, x->type,
                x->name ? x->name : "", fpath, what, allow);
    x->n++;
    if (x->nbad < 16) snprintf(x->bad[x->nbad++], sizeof x->bad[0], "%s", fpath);
}

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 48) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return 0;
    return 1;
}

static void check_fields(struct ctx *x, const struct field *fields, json_t *obj,
                         const char *prefix);

/* Checks one list element of a F_REFS / F_STRS field. */
static void check_item(struct ctx *x, const struct field *f, json_t *arr, json_t *v,
                       const char *fpath, const char *allow)
{
    char vb[64];
    if (!json_is_string(v)) {
        fail(x, arr, NULL, v, fpath, allow, "expected a string, got %s %s", kind_name(v),
             fmt_val(v, vb, sizeof vb));
        return;
    }
    if (f->kind == F_REFS && !valid_name(json_string_value(v)))
        fail(x, arr, NULL, v, fpath, allow, "%s is not a valid resource name",
             fmt_val(v, vb, sizeof vb));
}

/* Checks (and normalises) the value of one field. */
static void check_value(struct ctx *x, const struct field *f, json_t *obj, json_t *v,
                        const char *fpath)
{
    char allow[256], vb[64], a[32];
    allowed(f, allow, sizeof allow);
    switch (f->kind) {
    case F_STR:
        if (!json_is_string(v))
            fail(x, obj, f->name, v, fpath, allow, "expected a string, got %s %s", kind_name(v),
                 fmt_val(v, vb, sizeof vb));
        break;
    case F_INT:
    case F_NUM:
        if (f->kind == F_INT ? !json_is_integer(v) : !json_is_number(v)) {
            fail(x, obj, f->name, v, fpath, allow, "expected %s, got %s %s",
                 f->kind == F_INT ? "an integer" : "a number", kind_name(v),
                 fmt_val(v, vb, sizeof vb));
        } else if (f->ranged && (json_number_value(v) < f->min || json_number_value(v) > f->max)) {
            fail(x, obj, f->name, v, fpath, allow, "%s is out of range",
                 fmt_num(json_number_value(v), a, sizeof a));
        }
        break;
    case F_BOOL:
        if (!json_is_boolean(v))
            fail(x, obj, f->name, v, fpath, allow, "expected true or false, got %s %s",
                 kind_name(v), fmt_val(v, vb, sizeof vb));
        break;
    case F_DUR: {
        double s;
        if (gd_duration_json(v, &s) != 0) {
            fail(x, obj, f->name, v, fpath, allow, "%s is not a duration",
                 fmt_val(v, vb, sizeof vb));
        } else if (f->ranged && (s < f->min || s > f->max)) {
            fail(x, obj, f->name, v, fpath, allow, "%s is out of range", fmt_dur(s, a, sizeof a));
        } else if (!json_is_number(v)) {
            json_object_set_new(obj, f->name,
                                s == floor(s) && s < 9e15 ? json_integer((json_int_t)s)
                                                          : json_real(s));
        }
        break;
    }
    case F_CIDR: {
        gd_cidr c, net8 = {0x7f000000u, 8};
        if (!json_is_string(v) || gd_cidr_parse(json_string_value(v), 1, &c) != 0) {
            fail(x, obj, f->name, v, fpath, allow, "%s is not a CIDR block",
                 fmt_val(v, vb, sizeof vb));
        } else if (!gd_cidr_contains(net8, c)) {
            fail(x, obj, f->name, v, fpath, allow, "%s is outside 127.0.0.0/8",
                 fmt_val(v, vb, sizeof vb));
        } else if (c.prefix < f->min || c.prefix > f->max) {
            fail(x, obj, f->name, v, fpath, allow, "prefix /%d is out of range", c.prefix);
        }
        break;
    }
    case F_REF:
        if (!json_is_string(v))
            fail(x, obj, f->name, v, fpath, allow, "expected a resource name, got %s %s",
                 kind_name(v), fmt_val(v, vb, sizeof vb));
        else if (!valid_name(json_string_value(v)))
            fail(x, obj, f->name, v, fpath, allow, "%s is not a valid resource name",
                 fmt_val(v, vb, sizeof vb));
        break;
    case F_REFS:
    case F_STRS:
        if (!json_is_array(v)) {
            fail(x, obj, f->name, v, fpath, allow, "expected a list, got %s %s", kind_name(v),
                 fmt_val(v, vb, sizeof vb));
        } else if (f->ranged && (double)json_array_size(v) < f->min) {
            fail(x, obj, f->name, v, fpath, allow, "the list is empty");
        } else {
            size_t i;
            json_t *it;
            json_array_foreach(v, i, it)
            {
                char ip[192];
                snprintf(ip, sizeof ip, "%s[%zu]", fpath, i);
                check_item(x, f, v, it, ip, allow);
            }
        }
        break;
    case F_ENUM: {
        int ok = 0;
        if (json_is_string(v))
            for (int i = 0; f->enums[i]; i++)
                if (strcmp(f->enums[i], json_string_value(v)) == 0) ok = 1;
        if (!ok)
            fail(x, obj, f->name, v, fpath, allow, "%s is not one of the allowed values",
                 fmt_val(v, vb, sizeof vb));
        break;
    }
    case F_MAP:
        if (!json_is_object(v))
            fail(x, obj, f->name, v, fpath, allow, "expected a mapping, got %s %s", kind_name(v),
                 fmt_val(v, vb, sizeof vb));
        else
            check_fields(x, f->sub, v, fpath);
        break;
    case F_LIST: {
        size_t i;
        json_t *e;
        int ok = json_is_array(v) && json_array_size(v) <= (size_t)f->max;
        json_array_foreach(v, i, e) ok &= json_is_object(e);
        if (!ok)
            fail(x, obj, f->name, v, fpath, allow, "expected %s, got %s %s", allow, kind_name(v),
                 fmt_val(v, vb, sizeof vb));
        break;
    }
    }
}

/* Checks the keys of obj against fields, fills defaults; prefix names nested maps. */
static void check_fields(struct ctx *x, const struct field *fields, json_t *obj, const char *prefix)
{
    char fpath[160], allow[256];
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(obj, tmp, k, v)
    {
        int known = 0;
        for (int i = 0; fields[i].name; i++)
            if (strcmp(fields[i].name, k) == 0) known = 1;
        if (!known) {
            snprintf(fpath, sizeof fpath, "%s%s%s", prefix ? prefix : "", prefix ? "." : "", k);
            join_fields(fields, allow, sizeof allow);
            char w[512];
            const char *at = NULL;
            if (x->conf && *gd_conf_where_key(x->conf, obj, k, "", w, sizeof w)) at = w;
            fail(x, obj, k, at ? NULL : v, fpath, allow, "unknown field");
        } else if (json_is_null(v)) {
            json_object_del(obj, k); /* "field:" with no value is the same as absent */
        }
    }
    for (int i = 0; fields[i].name; i++) {
        const struct field *f = &fields[i];
        snprintf(fpath, sizeof fpath, "%s%s%s", prefix ? prefix : "", prefix ? "." : "", f->name);
        v = json_object_get(obj, f->name);
        if (v == NULL) {
            if (f->required) {
                allowed(f, allow, sizeof allow);
                fail(x, obj, NULL, NULL, fpath, allow, "missing");
                continue;
            }
            if (f->def == NULL) continue;
            v = json_loads(f->def, JSON_DECODE_ANY, NULL);
            json_object_set_new(obj, f->name, v);
        }
        check_value(x, f, obj, v, fpath);
    }
}

static int int_field(json_t *spec, const char *k, long long *out)
{
    json_t *v = json_object_get(spec, k);
    if (!json_is_integer(v)) return 0;
    *out = json_integer_value(v);
    return 1;
}

static void asg_cross(struct ctx *x, json_t *spec)
{
    long long mn = 0, mx = 0, d = 0;
    int okmin = !is_bad(x, "min") && int_field(spec, "min", &mn),
        okmax = !is_bad(x, "max") && int_field(spec, "max", &mx);
    if (json_object_get(spec, "desired") == NULL && okmin)
        json_object_set_new(spec, "desired", json_integer(mn));
    if (!okmin || !okmax) return;
    char allow[64];
    if (mn > mx) {
        snprintf(allow, sizeof allow, "%lld..1000", mn);
        fail(x, spec, "max", json_object_get(spec, "max"), "max", allow, "%lld is below min (%lld)",
             mx, mn);
        return;
    }
    if (!is_bad(x, "desired") && int_field(spec, "desired", &d) && (d < mn || d > mx)) {
        snprintf(allow, sizeof allow, "%lld..%lld", mn, mx);
        fail(x, spec, "desired", json_object_get(spec, "desired"), "desired", allow,
             "%lld is outside min..max", d);
    }
}

static void clb_cross(struct ctx *x, json_t *spec)
{
    json_t *hc = json_object_get(spec, "health_check");
    if (!json_is_object(hc)) return;
    json_t *iv = json_object_get(hc, "interval"), *to = json_object_get(hc, "timeout");
    if (!json_is_number(iv) || !json_is_number(to) || is_bad(x, "health_check.interval") ||
        is_bad(x, "health_check.timeout"))
        return;
    double i = json_number_value(iv), t = json_number_value(to);
    if (t >= i) {
        char allow[96], a[32], b[32];
        snprintf(allow, sizeof allow, "shorter than health_check.interval (%s)",
                 fmt_dur(i, a, sizeof a));
        fail(x, hc, "timeout", to, "health_check.timeout", allow,
             "%s is not shorter than the interval", fmt_dur(t, b, sizeof b));
    }
}

/* What an alb and a target_group share: the settings of a target group. */
static void group_cross(struct ctx *x, json_t *spec)
{
    clb_cross(x, spec);
    json_t *ss = json_object_get(spec, "slow_start"), *al = json_object_get(spec, "algorithm");
    if (json_is_number(ss) && json_number_value(ss) > 0 && json_is_string(al) &&
        !strcmp(json_string_value(al), "least_outstanding_requests") && !is_bad(x, "slow_start"))
        fail(x, spec, "slow_start", ss, "slow_start", "0 with least_outstanding_requests",
             "slow start cannot be used with least outstanding requests (as in AWS)");
    if (json_is_number(ss) && json_number_value(ss) > 0 && json_number_value(ss) < 30 &&
        !is_bad(x, "slow_start"))
        fail(x, spec, "slow_start", ss, "slow_start", "0 (off) or 30s..15m", "too short");
    json_t *st = json_object_get(spec, "stickiness");
    json_t *ty = json_object_get(st, "type");
    if (json_is_string(ty) && !strcmp(json_string_value(ty), "app_cookie") &&
        !json_is_string(json_object_get(st, "cookie_name")))
        fail(x, st, "cookie_name", NULL, "stickiness.cookie_name", "the application's cookie name",
             "missing: app_cookie stickiness follows a cookie the application sets");
}

int gd_schema_check(const char *type, const char *name, json_t *spec, const gd_conf *conf,
                    const char *path, gd_errs *errs)
{
    struct ctx x = {.type = type ? type : "?",
                    .name = name,
                    .path = path,
                    .conf = conf,
                    .errs = errs,
                    .top = spec};
    const struct rtype *t = find_type(type);
    char w[512], allow[256];
    if (t == NULL) {
        gd_join(type_names, allow, sizeof allow);
        gd_conf_where(conf, spec, path ? path : "?", w, sizeof w);
        gd_errs_add(errs, "%s: %s '%s': unknown resource type (allowed: %s)", w, x.type,
                    name ? name : "", allow);
        return 1;
    }
    if (!json_is_object(spec)) {
        join_fields(t->fields, allow, sizeof allow);
        gd_conf_where(conf, spec, path ? path : "?", w, sizeof w);
        gd_errs_add(errs, "%s: %s '%s': the spec must be a mapping (allowed: %s)", w, x.type,
                    name ? name : "", allow);
        return 1;
    }
    if (!strcmp(t->name, "target_group") && name && !strcmp(name, GD_SCHEMA_IMPLICIT_TG)) {
        gd_conf_where(conf, spec, path ? path : "?", w, sizeof w);
        gd_errs_add(errs,
                    "%s: target_group '%s': the name is reserved for an alb's implicit target "
                    "group (allowed: any other name)",
                    w, name);
        x.n++;
    }
    check_fields(&x, t->fields, spec, NULL);
    if (t->cross) t->cross(&x, spec);
    return x.n;
}

/* Adds name to the list unless it is there already. */
static void add_once(json_t *list, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) if (!strcmp(json_string_value(v), name)) return;
    json_array_append_new(list, json_string(name));
}

const char *gd_schema_rule_forward(const json_t *rule)
{
    const json_t *a = json_object_get(rule, "action");
    const char *type = json_string_value(json_object_get(a, "type"));
    if (!type || strcmp(type, "forward") != 0) return NULL;
    return json_string_value(json_object_get(a, "target_group"));
}

json_t *gd_schema_alb_groups(const json_t *spec)
{
    json_t *out = json_array();
    const char *d = json_string_value(json_object_get(spec, "default_target_group"));
    if (d && strcmp(d, GD_SCHEMA_IMPLICIT_TG) != 0) add_once(out, d);
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(spec, "rules"), i, r)
    {
        const char *n = gd_schema_rule_forward(r);
        if (n && strcmp(n, GD_SCHEMA_IMPLICIT_TG) != 0) add_once(out, n);
    }
    return out;
}

const char *gd_schema_tg_owner(const json_t *resources, const char *self, const char *tg,
                               int before_self)
{
    size_t i, k;
    json_t *r, *t;
    json_array_foreach(resources, i, r)
    {
        const char *name = json_string_value(json_object_get(r, "name"));
        if (name && self && !strcmp(name, self)) {
            if (before_self) break;
            continue;
        }
        const char *type = json_string_value(json_object_get(r, "type"));
        if (!type || strcmp(type, "alb") != 0) continue;
        json_t *theirs = gd_schema_alb_groups(json_object_get(r, "spec"));
        int owns = 0;
        json_array_foreach(theirs, k, t) owns |= !strcmp(json_string_value(t), tg);
        json_decref(theirs);
        if (owns) return name;
    }
    return NULL;
}

size_t gd_schema_tg_names(const json_t *resources, const char **names, size_t max, char *allow,
                          size_t allowlen)
{
    size_t n = 0, off = (size_t)snprintf(allow, allowlen, "%s", GD_SCHEMA_IMPLICIT_TG), i;
    if (max > 1) names[n++] = GD_SCHEMA_IMPLICIT_TG;
    json_t *r;
    json_array_foreach(resources, i, r)
    {
        const char *type = json_string_value(json_object_get(r, "type"));
        const char *name = json_string_value(json_object_get(r, "name"));
        if (!type || !name || strcmp(type, "target_group") != 0) continue;
        if (n + 1 < max) names[n++] = name;
        if (off < allowlen) off += (size_t)snprintf(allow + off, allowlen - off, ", %s", name);
    }
    if (max) names[n] = NULL;
    return n;
}
