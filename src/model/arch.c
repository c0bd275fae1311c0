/* One resource against its architecture (see arch.h): references first, the type's
 * own check_arch after, and the dependents that block a delete. */
#include "model/arch.h"

#include "core/err.h"
#include "model/schema.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

const json_t *gd_arch_self(const gd_arch_check *a)
{
    return json_array_get(a->resources, a->self);
}

void gd_arch_fail(gd_arch_check *a, json_t *parent, const char *key, json_t *node,
                  const char *fpath, const char *allow, const char *fmt, ...)
{
    const json_t *self = gd_arch_self(a);
    char w[512], what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    gd_model_where(a->conf, a->path, json_object_get(self, "spec"), parent, key, node, fpath, w,
                   sizeof w);
    gd_model_err(a->errs, w, str(self, "type"), str(self, "name"), fpath, allow, what);
    a->n++;
}

const json_t *gd_arch_find(const json_t *resources, const char *want, const char *name)
{
    size_t i;
    json_t *r;
    json_array_foreach(resources, i, r)
    {
        if (gd_schema_type_is(str(r, "type"), want) && !strcmp(str(r, "name"), name)) return r;
    }
    return NULL;
}

void gd_arch_names(const json_t *resources, const char *want, char *buf, size_t n)
{
    size_t i, off = 0;
    json_t *r;
    buf[0] = 0;
    json_array_foreach(resources, i, r)
    {
        if (!gd_schema_type_is(str(r, "type"), want) || off >= n) continue;
        off += (size_t)snprintf(buf + off, n - off, "%s%s", off ? ", " : "", str(r, "name"));
    }
    if (off == 0) snprintf(buf, n, "no %s is defined", want);
}

/* One name a reference field holds (node, at fpath) must be a resource of `target`. */
static void check_ref(gd_arch_check *a, const gd_ref *ref, json_t *parent, json_t *node,
                      const char *fpath)
{
    if (!json_is_string(node)) return;
    const char *name = json_string_value(node);
    /* An alb's own group: the same as no default_target_group. */
    if (!strcmp(ref->target, "target_group") && !strcmp(name, GD_SCHEMA_IMPLICIT_TG)) return;
    if (gd_arch_find(a->resources, ref->target, name)) return;
    char allow[512];
    gd_arch_names(a->resources, ref->target, allow, sizeof allow);
    gd_arch_fail(a, parent, ref->field, node, fpath, allow, "no %s named '%s'",
                 strcmp(ref->target, "any") ? ref->target : "resource", name);
}

int gd_arch_check_res(gd_arch_check *a, int spec_ok)
{
    const json_t *self = gd_arch_self(a);
    const gd_rtype *t = gd_registry_find(str(self, "type"));
    int before = a->n;
    if (!t) return 0;
    json_t *spec = json_object_get(self, "spec");
    for (const gd_ref *ref = t->refs; ref && ref->field; ref++) {
        json_t *v = json_object_get(spec, ref->field);
        if (!json_is_array(v)) {
            check_ref(a, ref, spec, v, ref->field);
            continue;
        }
        size_t j;
        json_t *e;
        json_array_foreach(v, j, e)
        {
            char fp[96];
            snprintf(fp, sizeof fp, "%s[%zu]", ref->field, j);
            check_ref(a, ref, v, e, fp);
        }
    }
    if (spec_ok && t->check_arch) t->check_arch(a, self);
    return a->n - before;
}

void gd_arch_dependents(const json_t *resources, const json_t *on, gd_buf *out)
{
    const char *name = str(on, "name"), *type = str(on, "type");
    size_t i;
    json_t *r;
    json_array_foreach(resources, i, r)
    {
        if (json_is_true(json_object_get(r, "deleted")) || r == on || !strcmp(str(r, "name"), name))
            continue;
        const gd_rtype *t = gd_registry_find(str(r, "type"));
        if (!t) continue;
        int dep = t->depends ? t->depends(r, on) : 0;
        if (dep < 0) continue;
        json_t *spec = json_object_get(r, "spec");
        for (const gd_ref *ref = t->refs; !dep && ref && ref->field; ref++) {
            if (!gd_schema_type_is(type, ref->target)) continue;
            json_t *v = json_object_get(spec, ref->field);
            if (json_is_string(v) && !strcmp(json_string_value(v), name)) dep = 1;
            size_t q;
            json_t *x;
            json_array_foreach(v, q, x) dep |=
                json_is_string(x) && !strcmp(json_string_value(x), name);
        }
        if (dep)
            gd_buf_printf(out, "%s%s %s", out->len ? ", " : "", str(r, "type"), str(r, "name"));
    }
}
