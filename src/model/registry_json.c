/* The registry's rows as JSON (see registry_json.h): what the console draws its lists,
 * forms and diagram links from, so that a new row needs no new page code. */
#include "model/registry_json.h"

#include <string.h>

const char *gd_fkind_name(enum gd_fkind k)
{
    static const char *const names[] = {
        [GD_F_STR] = "str",   [GD_F_INT] = "int",   [GD_F_NUM] = "num",   [GD_F_BOOL] = "bool",
        [GD_F_DUR] = "dur",   [GD_F_CIDR] = "cidr", [GD_F_REF] = "ref",   [GD_F_REFS] = "refs",
        [GD_F_ENUM] = "enum", [GD_F_MAP] = "map",   [GD_F_STRS] = "strs", [GD_F_LIST] = "list",
        [GD_F_OBJ] = "obj",   [GD_F_TAGS] = "tags",
    };
    if ((size_t)k >= sizeof names / sizeof names[0] || !names[k]) return "unknown";
    return names[k];
}

static const char *price_name(enum gd_price_model p)
{
    switch (p) {
    case GD_PRICE_INSTANCE:
        return "instance";
    case GD_PRICE_HOURLY:
        return "hourly";
    case GD_PRICE_REQUESTS:
        return "requests";
    case GD_PRICE_NODES:
        return "nodes";
    case GD_PRICE_INVOCATIONS:
        return "invocations";
    case GD_PRICE_TASK:
        return "task";
    case GD_PRICE_NONE:
        break;
    }
    return "none";
}

/* The type a top-level field names, from the row's references; NULL if none. */
static const char *ref_target(const gd_rtype *t, const char *field)
{
    for (const gd_ref *r = t->refs; r && r->field; r++)
        if (!strcmp(r->field, field)) return r->target;
    return NULL;
}

static json_t *fields_json(const gd_rtype *t, const gd_field *fields, int top)
{
    json_t *a = json_array();
    for (const gd_field *f = fields; f && f->name; f++) {
        json_t *o = json_pack("{s:s,s:s,s:b}", "name", f->name, "kind", gd_fkind_name(f->kind),
                              "required", f->required);
        if (f->def) {
            json_t *d = json_loads(f->def, JSON_DECODE_ANY, NULL);
            if (d) json_object_set_new(o, "default", d);
        }
        if (f->ranged) {
            json_object_set_new(o, "min", json_real(f->min));
            json_object_set_new(o, "max", json_real(f->max));
        }
        if (f->enums) {
            json_t *e = json_array();
            for (const char *const *s = f->enums; *s; s++)
                json_array_append_new(e, json_string(*s));
            json_object_set_new(o, "enum", e);
        }
        const char *ref = top ? ref_target(t, f->name) : NULL;
        if (ref) json_object_set_new(o, "ref", json_string(ref));
        if (f->kind == GD_F_MAP && f->sub)
            json_object_set_new(o, "fields", fields_json(t, f->sub, 0));
        json_array_append_new(a, o);
    }
    return a;
}

json_t *gd_registry_type_json(const gd_rtype *t)
{
    static const struct {
        unsigned flag;
        const char *name;
    } flags[] = {
        {GD_RT_LB, "lb"}, {GD_RT_ENTRY, "entry"}, {GD_RT_EDGE, "edge"}, {GD_RT_GAME, "game"}};
    json_t *fl = json_array();
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (t->flags & flags[i].flag) json_array_append_new(fl, json_string(flags[i].name));
    json_t *refs = json_object();
    for (const gd_ref *r = t->refs; r && r->field; r++)
        json_object_set_new(refs, r->field, json_string(r->target));
    return json_pack("{s:s,s:s,s:s,s:o,s:b,s:s,s:o,s:o}", "name", t->name, "prefix",
                     t->prefix ? t->prefix : "", "summary", t->summary ? t->summary : "", "flags",
                     fl, "creatable", !(t->flags & GD_RT_GAME), "price", price_name(t->price),
                     "fields", fields_json(t, t->fields, 1), "refs", refs);
}

json_t *gd_registry_json(void)
{
    size_t n;
    const gd_rtype *rows = gd_registry_all(&n);
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, gd_registry_type_json(&rows[i]));
    return a;
}
