/* The spec checker: validates one resource spec in place against its type's fields
 * in the registry (kind, default, range, allowed values), fills defaults and
 * normalises durations to seconds; then the type's own check_spec. Messages say
 * where (file:line:col, or the API's field path), what is wrong and what is allowed. */
#include "model/schema.h"

#include "core/addr.h"
#include "core/err.h"
#include "core/mem.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- formatting helpers ------------------------------------------------------------- */

/* "1h30m", "4s", "250ms", "0s", "-5m". */
char *gd_model_fmt_dur(double s, char *buf, size_t n)
{
    /* Past a million days (or not a number) units say nothing, and s * 1000 might not
     * fit a long long: the seconds as they are. */
    if (!isfinite(s) || fabs(s) > 86400e6) {
        snprintf(buf, n, "%gs", s);
        return buf;
    }
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
    if (ms < 0) {
        off += (size_t)snprintf(buf, n, "-");
        ms = -ms;
    }
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
char *gd_model_fmt_val(const json_t *v, char *buf, size_t n)
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

static void join_fields(const gd_field *f, char *buf, size_t n)
{
    size_t off = 0;
    buf[0] = 0;
    for (int i = 0; f[i].name && off < n; i++)
        off += (size_t)snprintf(buf + off, n - off, "%s%s", i ? ", " : "", f[i].name);
}

/* What a field allows, for "(allowed: ...)". */
static void allowed(const gd_field *f, char *buf, size_t n)
{
    char a[32], b[32];
    switch (f->kind) {
    case GD_F_STR:
        snprintf(buf, n, "text");
        break;
    case GD_F_INT:
        if (f->ranged)
            snprintf(buf, n, "an integer %s..%s", fmt_num(f->min, a, 32), fmt_num(f->max, b, 32));
        else
            snprintf(buf, n, "an integer");
        break;
    case GD_F_NUM:
        if (f->ranged)
            snprintf(buf, n, "a number %s..%s", fmt_num(f->min, a, 32), fmt_num(f->max, b, 32));
        else
            snprintf(buf, n, "a number");
        break;
    case GD_F_BOOL:
        snprintf(buf, n, "true, false");
        break;
    case GD_F_DUR:
        if (f->ranged)
            snprintf(buf, n, "a duration %s..%s", gd_model_fmt_dur(f->min, a, 32),
                     gd_model_fmt_dur(f->max, b, 32));
        else
            snprintf(buf, n, "a duration like 30s, 5m, 1h30m");
        break;
    case GD_F_CIDR:
        if (f->min == f->max)
            snprintf(buf, n, "a /%d block inside 127.0.0.0/8, e.g. 127.T.0.0/%d", (int)f->min,
                     (int)f->min);
        else
            snprintf(buf, n, "a /%d../%d block inside 127.0.0.0/8, e.g. 127.T.1.0/%d", (int)f->min,
                     (int)f->max, (int)f->min);
        break;
    case GD_F_REF:
        snprintf(buf, n, "a resource name of [a-z0-9-], 1..48 characters");
        break;
    case GD_F_REFS:
        snprintf(buf, n, "a list of %sresource names of [a-z0-9-]",
                 f->min >= 1 ? "at least 1 " : "");
        break;
    case GD_F_ENUM:
        gd_join(f->enums, buf, n);
        break;
    case GD_F_MAP:
        join_fields(f->sub, buf, n);
        break;
    case GD_F_STRS:
        snprintf(buf, n, "a list of %sstrings", f->min >= 1 ? "at least 1 " : "");
        break;
    case GD_F_LIST:
        snprintf(buf, n, "a list of at most %.0f mappings", f->max);
        break;
    case GD_F_OBJ:
        snprintf(buf, n, "a mapping of at most %.0f entries", f->max);
        break;
    case GD_F_TAGS:
        snprintf(buf, n, "a mapping of at most 50 tags, key: value (text)");
        break;
    }
}

/* ---- the checker ----------------------------------------------------------------------- */

struct gd_spec_check {
    const char *type, *name, *path;
    const gd_conf *conf;
    gd_errs *errs;
    json_t *top; /* the whole spec */
    int n;
    char bad[16][64]; /* fields with an error: cross checks leave them alone */
    int nbad;
};

int gd_spec_is_bad(const gd_spec_check *x, const char *fpath)
{
    for (int i = 0; i < x->nbad; i++)
        if (strcmp(x->bad[i], fpath) == 0) return 1;
    return x->nbad == 16; /* too many to track: assume the worst */
}

const char *gd_model_where(const gd_conf *conf, const char *path, json_t *top, json_t *parent,
                           const char *key, json_t *node, const char *fpath, char *buf, size_t n)
{
    if (conf) {
        if (node && *gd_conf_where(conf, node, "", buf, n)) return buf;
        if (parent && key && *gd_conf_where_key(conf, parent, key, "", buf, n)) return buf;
        if (parent && *gd_conf_where(conf, parent, "", buf, n)) return buf;
        if (top && *gd_conf_where(conf, top, "", buf, n)) return buf;
    }
    if (path && *path)
        snprintf(buf, n, "%s.%s", path, fpath);
    else
        snprintf(buf, n, "%s", fpath);
    return buf;
}

void gd_model_err(gd_errs *errs, const char *where, const char *type, const char *name,
                  const char *fpath, const char *allow, const char *what)
{
    gd_errs_add(errs, "%s: %s '%s': field '%s': %s (allowed: %s)", where, type, name ? name : "",
                fpath, what, allow);
}

void gd_spec_fail(gd_spec_check *x, json_t *parent, const char *key, json_t *node,
                  const char *fpath, const char *allow, const char *fmt, ...)
{
    char w[512], what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    gd_model_where(x->conf, x->path, x->top, parent, key, node, fpath, w, sizeof w);
    gd_model_err(x->errs, w, x->type, x->name, fpath, allow, what);
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

static void check_fields(gd_spec_check *x, const gd_field *fields, json_t *obj, const char *prefix);

/* Checks one list element of a GD_F_REFS / GD_F_STRS field. */
static void check_item(gd_spec_check *x, const gd_field *f, json_t *arr, json_t *v,
                       const char *fpath, const char *allow)
{
    char vb[64];
    if (!json_is_string(v)) {
        gd_spec_fail(x, arr, NULL, v, fpath, allow, "expected a string, got %s %s", kind_name(v),
                     gd_model_fmt_val(v, vb, sizeof vb));
        return;
    }
    if (f->kind == GD_F_REFS && !valid_name(json_string_value(v)))
        gd_spec_fail(x, arr, NULL, v, fpath, allow, "%s is not a valid resource name",
                     gd_model_fmt_val(v, vb, sizeof vb));
}

/* Checks (and normalises) the value of one field. */
static void check_value(gd_spec_check *x, const gd_field *f, json_t *obj, json_t *v,
                        const char *fpath)
{
    char allow[256], vb[64], a[32];
    allowed(f, allow, sizeof allow);
    switch (f->kind) {
    case GD_F_STR:
        if (!json_is_string(v))
            gd_spec_fail(x, obj, f->name, v, fpath, allow, "expected a string, got %s %s",
                         kind_name(v), gd_model_fmt_val(v, vb, sizeof vb));
        break;
    case GD_F_INT:
    case GD_F_NUM:
        if (f->kind == GD_F_INT ? !json_is_integer(v) : !json_is_number(v)) {
            gd_spec_fail(x, obj, f->name, v, fpath, allow, "expected %s, got %s %s",
                         f->kind == GD_F_INT ? "an integer" : "a number", kind_name(v),
                         gd_model_fmt_val(v, vb, sizeof vb));
        } else if (f->ranged && (json_number_value(v) < f->min || json_number_value(v) > f->max)) {
            gd_spec_fail(x, obj, f->name, v, fpath, allow, "%s is out of range",
                         fmt_num(json_number_value(v), a, sizeof a));
        }
        break;
    case GD_F_BOOL:
        if (!json_is_boolean(v))
            gd_spec_fail(x, obj, f->name, v, fpath, allow, "expected true or false, got %s %s",
                         kind_name(v), gd_model_fmt_val(v, vb, sizeof vb));
        break;
    case GD_F_DUR: {
        double s;
        if (gd_duration_json(v, &s) != 0) {
            gd_spec_fail(x, obj, f->name, v, fpath, allow, "%s is not a duration",
                         gd_model_fmt_val(v, vb, sizeof vb));
        } else if (f->ranged && (s < f->min || s > f->max)) {
            gd_spec_fail(x, obj, f->name, v, fpath, allow, "%s is out of range",
                         gd_model_fmt_dur(s, a, sizeof a));
        } else if (!json_is_number(v)) {
            json_object_set_new(obj, f->name,
                                s == floor(s) && s < 9e15 ? json_integer((json_int_t)s)
                                                          : json_real(s));
        }
        break;
    }
    case GD_F_CIDR: {
        gd_cidr c, net8 = {0x7f000000u, 8};
        if (!json_is_string(v) || gd_cidr_parse(json_string_value(v), 1, &c) != 0) {
            gd_spec_fail(x, obj, f->name, v, fpath, allow, "%s is not a CIDR block",
                         gd_model_fmt_val(v, vb, sizeof vb));
        } else if (!gd_cidr_contains(net8, c)) {
            gd_spec_fail(x, obj, f->name, v, fpath, allow, "%s is outside 127.0.0.0/8",
                         gd_model_fmt_val(v, vb, sizeof vb));
        } else if (c.prefix < f->min || c.prefix > f->max) {
            gd_spec_fail(x, obj, f->name, v, fpath, allow, "prefix /%d is out of range", c.prefix);
        }
        break;
    }
    case GD_F_REF:
        if (!json_is_string(v))
            gd_spec_fail(x, obj, f->name, v, fpath, allow, "expected a resource name, got %s %s",
                         kind_name(v), gd_model_fmt_val(v, vb, sizeof vb));
        else if (!valid_name(json_string_value(v)))
            gd_spec_fail(x, obj, f->name, v, fpath, allow, "%s is not a valid resource name",
                         gd_model_fmt_val(v, vb, sizeof vb));
        break;
    case GD_F_REFS:
    case GD_F_STRS:
        if (!json_is_array(v)) {
            gd_spec_fail(x, obj, f->name, v, fpath, allow, "expected a list, got %s %s",
                         kind_name(v), gd_model_fmt_val(v, vb, sizeof vb));
        } else if (f->ranged && (double)json_array_size(v) < f->min) {
            gd_spec_fail(x, obj, f->name, v, fpath, allow, "the list is empty");
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
    case GD_F_ENUM: {
        int ok = 0;
        if (json_is_string(v))
            for (int i = 0; f->enums[i]; i++)
                if (strcmp(f->enums[i], json_string_value(v)) == 0) ok = 1;
        if (!ok)
            gd_spec_fail(x, obj, f->name, v, fpath, allow, "%s is not one of the allowed values",
                         gd_model_fmt_val(v, vb, sizeof vb));
        break;
    }
    case GD_F_MAP:
        if (!json_is_object(v))
            gd_spec_fail(x, obj, f->name, v, fpath, allow, "expected a mapping, got %s %s",
                         kind_name(v), gd_model_fmt_val(v, vb, sizeof vb));
        else
            check_fields(x, f->sub, v, fpath);
        break;
    case GD_F_LIST: {
        size_t i;
        json_t *e;
        int ok = json_is_array(v) && json_array_size(v) <= (size_t)f->max;
        json_array_foreach(v, i, e) ok &= json_is_object(e);
        if (!ok)
            gd_spec_fail(x, obj, f->name, v, fpath, allow, "expected %s, got %s %s", allow,
                         kind_name(v), gd_model_fmt_val(v, vb, sizeof vb));
        break;
    }
    case GD_F_OBJ:
        if (!json_is_object(v) || json_object_size(v) > (size_t)f->max)
            gd_spec_fail(x, obj, f->name, v, fpath, allow, "expected %s, got %s %s", allow,
                         kind_name(v), gd_model_fmt_val(v, vb, sizeof vb));
        break;
    case GD_F_TAGS: {
        if (!json_is_object(v) || json_object_size(v) > 50) {
            gd_spec_fail(x, obj, f->name, v, fpath, allow, "expected %s, got %s %s", allow,
                         kind_name(v), gd_model_fmt_val(v, vb, sizeof vb));
            break;
        }
        const char *k;
        json_t *tv;
        json_object_foreach(v, k, tv)
        {
            char tp[224];
            snprintf(tp, sizeof tp, "%s.%s", fpath, k);
            size_t kl = strlen(k);
            if (kl < 1 || kl > 128)
                gd_spec_fail(x, v, k, tv, tp, allow, "a tag key is 1..128 characters");
            else if (!json_is_string(tv) || strlen(json_string_value(tv)) > 256)
                gd_spec_fail(x, v, k, tv, tp, allow,
                             "expected text of at most 256 characters, "
                             "got %s %s",
                             kind_name(tv), gd_model_fmt_val(tv, vb, sizeof vb));
        }
        break;
    }
    }
}

/* Checks the keys of obj against fields, fills defaults; prefix names nested maps. */
static void check_fields(gd_spec_check *x, const gd_field *fields, json_t *obj, const char *prefix)
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
            gd_spec_fail(x, obj, k, at ? NULL : v, fpath, allow, "unknown field");
        } else if (json_is_null(v)) {
            json_object_del(obj, k); /* "field:" with no value is the same as absent */
        }
    }
    for (int i = 0; fields[i].name; i++) {
        const gd_field *f = &fields[i];
        snprintf(fpath, sizeof fpath, "%s%s%s", prefix ? prefix : "", prefix ? "." : "", f->name);
        v = json_object_get(obj, f->name);
        if (v == NULL) {
            if (f->required) {
                allowed(f, allow, sizeof allow);
                gd_spec_fail(x, obj, NULL, NULL, fpath, allow, "missing");
                continue;
            }
            if (f->def == NULL) continue;
            v = json_loads(f->def, JSON_DECODE_ANY, NULL);
            json_object_set_new(obj, f->name, v);
        }
        check_value(x, f, obj, v, fpath);
    }
}

json_t *gd_spec_top(const gd_spec_check *x)
{
    return x->top;
}

void gd_spec_check_fields(gd_spec_check *x, const gd_field *fields, json_t *obj, const char *prefix)
{
    check_fields(x, fields, obj, prefix);
}

int gd_schema_check(const char *type, const char *name, json_t *spec, const gd_conf *conf,
                    const char *path, gd_errs *errs)
{
    gd_spec_check x = {.type = type ? type : "?",
                       .name = name,
                       .path = path,
                       .conf = conf,
                       .errs = errs,
                       .top = spec};
    const gd_rtype *t = gd_registry_find(type);
    char w[512], allow[512];
    if (t == NULL) {
        const char *names[64];
        gd_registry_names(0, names, 64);
        gd_join(names, allow, sizeof allow);
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
    if (t->check_spec) t->check_spec(&x, spec);
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

/* ---- the registry's rows as the older flat lists ----------------------------------- */

const char *const *gd_schema_types(void)
{
    static const char *names[64];
    if (!names[0]) gd_registry_names(0, names, 64);
    return names;
}

int gd_schema_known(const char *type)
{
    return gd_registry_find(type) != NULL;
}

const char *gd_schema_id_prefix(const char *type)
{
    const gd_rtype *t = gd_registry_find(type);
    return t ? t->prefix : NULL;
}

const gd_schema_ref *gd_schema_refs(size_t *n)
{
    static gd_schema_ref flat[128];
    static size_t nflat;
    if (!nflat) {
        size_t nt;
        const gd_rtype *rows = gd_registry_all(&nt);
        for (size_t i = 0; i < nt; i++)
            for (const gd_ref *r = rows[i].refs; r && r->field && nflat < 128; r++)
                flat[nflat++] = (gd_schema_ref){rows[i].name, r->field, r->target};
    }
    *n = nflat;
    return flat;
}

int gd_schema_type_is(const char *type, const char *want)
{
    if (!type || !want) return 0;
    if (!strcmp(want, "any")) return gd_registry_find(type) != NULL;
    if (!strcmp(want, "lb")) return gd_registry_has(type, GD_RT_LB);
    if (!strcmp(want, "entry")) return gd_registry_has(type, GD_RT_ENTRY);
    return !strcmp(type, want);
}
