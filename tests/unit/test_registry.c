/* Unit tests for src/model/registry.c: every row is whole and consistent (prefixes,
 * references, flags, defaults), and src/model/arch.c's checks and dependents. */
#include <criterion/criterion.h>

#include "core/buf.h"
#include "core/conf.h"
#include "model/arch.h"
#include "model/registry.h"
#include "model/schema.h"

#include <string.h>

Test(registry, rows_are_whole)
{
    size_t n;
    const gd_rtype *rows = gd_registry_all(&n);
    cr_assert_geq(n, 9);
    for (size_t i = 0; i < n; i++) {
        const gd_rtype *t = &rows[i];
        cr_assert_not_null(t->name);
        cr_assert_not_null(t->prefix, "%s has an id prefix", t->name);
        cr_assert_not_null(t->summary, "%s has a summary", t->name);
        cr_assert_not_null(t->fields, "%s has fields", t->name);
        cr_assert_eq(gd_registry_find(t->name), t);
        for (size_t k = 0; k < i; k++) {
            cr_assert_str_neq(rows[k].name, t->name);
            cr_assert_str_neq(rows[k].prefix, t->prefix, "ids of %s and %s look alike",
                              rows[k].name, t->name);
        }
        /* Every reference field is a field of the type and names a type or a group. */
        for (const gd_ref *r = t->refs; r && r->field; r++) {
            int is_field = 0;
            for (const gd_field *f = t->fields; f->name; f++)
                is_field |=
                    !strcmp(f->name, r->field) && (f->kind == GD_F_REF || f->kind == GD_F_REFS);
            cr_assert(is_field, "%s.%s is a reference field", t->name, r->field);
            int target = gd_registry_find(r->target) != NULL || !strcmp(r->target, "lb") ||
                         !strcmp(r->target, "entry") || !strcmp(r->target, "any");
            cr_assert(target, "%s.%s names a known type: %s", t->name, r->field, r->target);
        }
        /* Customers enter through an edge process; a load balancer is one. */
        if (t->flags & GD_RT_ENTRY) cr_assert(t->flags & GD_RT_EDGE, "%s", t->name);
        if (t->flags & GD_RT_LB) cr_assert(t->flags & GD_RT_ENTRY, "%s", t->name);
    }
    cr_assert_null(gd_registry_find("rocket"));
    cr_assert_null(gd_registry_find(NULL));
}

Test(registry, groups_come_from_flags)
{
    const char *names[16];
    cr_assert_eq(gd_registry_names(GD_RT_LB, names, 16), 2);
    cr_assert_str_eq(names[0], "clb");
    cr_assert_str_eq(names[1], "alb");
    cr_assert_null(names[2]);
    cr_assert_eq(gd_registry_names(GD_RT_ENTRY, names, 16), 3);
    cr_assert_str_eq(names[2], "cdn");
    cr_assert_eq(gd_registry_has("cdn", GD_RT_ENTRY), 1);
    cr_assert_eq(gd_registry_has("cdn", GD_RT_LB), 0);
    cr_assert_eq(gd_schema_type_is("alb", "lb"), 1);
    cr_assert_eq(gd_schema_type_is("cdn", "lb"), 0);
    cr_assert_eq(gd_schema_type_is("cdn", "entry"), 1);
}

/* Every field's default is a valid value of the field: a spec with only the required
 * fields checks clean. */
Test(registry, defaults_pass_their_own_checks)
{
    static const char *const required[][2] = {
        {"subnet", "{\"cidr\": \"127.T.1.0/24\"}"},
        {"instance", "{\"launch_template\": \"t\", \"subnet\": \"s\"}"},
        {"asg", "{\"launch_template\": \"t\", \"subnets\": [\"s\"]}"},
        {"clb", "{\"subnets\": [\"s\"]}"},
        {"alb", "{\"subnets\": [\"s\"]}"},
        {"cdn", "{\"origin\": \"lb\"}"},
        {"alarm", "{\"resource\": \"lb\", \"metric\": \"RequestCount\", \"threshold\": 1}"},
        {"scaling_policy", "{\"asg\": \"web\", \"scaling_adjustment\": 1}"},
        {"scheduled_action", "{\"asg\": \"web\", \"at\": \"1h\", \"desired\": 4}"},
        {"dns_record", "{\"values\": [\"127.T.1.4\"]}"},
        {"reserved_instance", "{\"instance_type\": \"t3.micro\"}"},
        {"experiment_template",
         "{\"actions\": {\"w\": {\"actionId\": \"aws:fis:wait\", \"parameters\": "
         "{\"duration\": \"PT1M\"}}}}"},
        {"experiment", "{\"template\": \"t\"}"},
        {"deny_policy", "{\"principals\": [\"ceo\"]}"},
        {"cache_cluster", "{\"subnets\": [\"s\"]}"},
        {"db", "{\"subnets\": [\"s\"]}"},
        {"ecs_service", "{\"cluster\": \"c\", \"task_definition\": \"t\"}"},
        {"task", "{\"ecs_service\": \"s\", \"cluster\": \"c\", \"task_definition\": \"t\"}"},
        {"function", "{\"subnet\": \"s\"}"},
    };
    size_t n;
    const gd_rtype *rows = gd_registry_all(&n);
    for (size_t i = 0; i < n; i++) {
        const char *text = "{}";
        for (size_t k = 0; k < sizeof required / sizeof required[0]; k++)
            if (!strcmp(required[k][0], rows[i].name)) text = required[k][1];
        json_t *spec = json_loads(text, 0, NULL);
        gd_errs e = {0};
        int bad = gd_schema_check(rows[i].name, "x", spec, NULL, "spec", &e);
        cr_assert_eq(bad, 0, "%s: %s", rows[i].name, e.n ? e.msgs[0] : "");
        gd_errs_free(&e);
        json_decref(spec);
    }
}

static json_t *arch(void)
{
    return json_loads(
        "[{\"type\":\"vpc\",\"name\":\"main\",\"spec\":{\"cidr\":\"127.T.0.0/16\"}},"
        " {\"type\":\"subnet\",\"name\":\"a\",\"spec\":{\"vpc\":\"main\",\"cidr\":\"127.T.1.0/"
        "24\"}},"
        " {\"type\":\"target_group\",\"name\":\"api\",\"spec\":{}},"
        " {\"type\":\"alb\",\"name\":\"lb\",\"spec\":{\"subnets\":[\"a\"],\"rules\":[{\"priority\":"
        "1,"
        "  "
        "\"conditions\":{\"path\":\"/"
        "a\"},\"action\":{\"type\":\"forward\",\"target_group\":\"api\"}}]}},"
        " {\"type\":\"instance\",\"name\":\"i1\",\"spec\":{\"subnet\":\"a\"},"
        "  \"status\":{\"state\":\"terminated\",\"subnet\":\"a\"}},"
        " {\"type\":\"instance\",\"name\":\"i2\",\"spec\":{},\"status\":{\"state\":\"running\","
        "  \"subnet\":\"a\"}}]",
        0, NULL);
}

Test(arch, dependents_block_deletes)
{
    json_t *all = arch();
    gd_buf out;
    gd_buf_init(&out, 1024);
    gd_arch_dependents(all, json_array_get(all, 2), &out); /* target_group api */
    cr_assert_str_eq(gd_buf_cstr(&out), "alb lb", "an alb's rule names it");
    gd_buf_reset(&out);
    gd_arch_dependents(all, json_array_get(all, 1), &out); /* subnet a */
    cr_assert_str_eq(gd_buf_cstr(&out), "alb lb, instance i2",
                     "a terminated instance blocks nothing; a running one in it does");
    gd_buf_reset(&out);
    gd_arch_dependents(all, json_array_get(all, 3), &out); /* alb lb */
    cr_assert_str_eq(gd_buf_cstr(&out), "");
    gd_buf_free(&out);
    json_decref(all);
}

Test(arch, a_team_keeps_to_its_range)
{
    json_t *all = arch();
    json_array_append_new(all, json_loads("{\"type\":\"subnet\",\"name\":\"b\",\"spec\":"
                                          "{\"vpc\":\"main\",\"cidr\":\"127.7.2.0/24\"}}",
                                          0, NULL));
    gd_errs e = {0};
    gd_arch_check a = {
        .resources = all, .self = json_array_size(all) - 1, .team = 3, .path = "spec", .errs = &e};
    cr_assert_eq(gd_arch_check_res(&a, 1), 1);
    cr_assert_str_eq(e.msgs[0], "spec.cidr: subnet 'b': field 'cidr': 127.7.2.0/24 is outside "
                                "this team's range (allowed: a block inside 127.3.0.0/16 (this "
                                "team's range))");
    gd_errs_free(&e);
    /* The same block written for team 7 is fine for team 7. */
    a.team = 7;
    a.n = 0;
    cr_assert_eq(gd_arch_check_res(&a, 1), 0);
    json_decref(all);
}

/* The instance-type catalogue: every type of the instance_type enum has an entry, and a
 * template's slots scale with the type an instance runs as. */
Test(registry, instance_type_catalogue_and_slots)
{
    size_t n;
    const gd_itype *all = gd_itype_all(&n);
    cr_assert_eq(n, 7u);
    const gd_rtype *lt = gd_registry_find("launch_template");
    const gd_field *f = NULL;
    for (const gd_field *x = lt->fields; x->name; x++)
        if (!strcmp(x->name, "instance_type")) f = x;
    cr_assert_not_null(f);
    size_t k = 0;
    for (; f->enums[k]; k++) {
        cr_assert_lt(k, n);
        cr_assert_str_eq(all[k].name, f->enums[k], "the catalogue follows the enum");
        cr_assert(all[k].vcpu >= 2 && all[k].memory_gib >= 1 && all[k].slots >= 5);
    }
    cr_assert_eq(k, n);
    cr_assert_eq(gd_itype_find("t3.micro")->slots, 5);
    cr_assert_null(gd_itype_find("x1.32xlarge"));
    cr_assert_null(gd_itype_find(NULL));
    cr_assert_eq(gd_itype_slots(5, "t3.micro", "t3.micro"), 5);
    cr_assert_eq(gd_itype_slots(5, "t3.micro", "t3.small"), 10);
    cr_assert_eq(gd_itype_slots(5, "t3.micro", "c5.xlarge"), 96);
    cr_assert_eq(gd_itype_slots(40, "m5.large", "t3.micro"), 5);
    cr_assert_eq(gd_itype_slots(1, "c5.xlarge", "t3.micro"), 1, "at least one slot");
    cr_assert_eq(gd_itype_slots(7, "t3.micro", "z9.huge"), 7, "unknown: the template's");
}

/* A spec of type passes its checks (want NULL), or fails with want in its message. */
static void expect_spec(const char *type, const char *text, const char *want)
{
    json_t *spec = json_loads(text, 0, NULL);
    cr_assert_not_null(spec, "%s", text);
    gd_errs e = {0};
    int bad = gd_schema_check(type, "x", spec, NULL, "spec", &e);
    if (!want)
        cr_assert_eq(bad, 0, "%s: %s", text, e.n ? e.msgs[0] : "");
    else
        cr_assert(bad && e.n && strstr(e.msgs[0], want), "%s: got %s", text,
                  e.n ? e.msgs[0] : "no error");
    gd_errs_free(&e);
    json_decref(spec);
}

Test(registry, dns_record_checks)
{
    static const struct {
        const char *spec, *want; /* want: NULL passes, else a piece of the message */
    } rows[] = {
        {"{\"values\": [\"127.T.1.4\", \"127.T.1.5\"]}", NULL},
        {"{\"alias\": \"lb\"}", NULL},
        {"{\"record\": \"@\", \"type\": \"CNAME\", \"values\": [\"www\"]}", NULL},
        {"{\"type\": \"AAAA\", \"values\": [\"::1\"]}", NULL},
        {"{\"values\": [\"127.T.1.4\"], \"weight\": 3, \"failover\": \"primary\"}", NULL},
        {"{}", "no values and no alias"},
        {"{\"values\": [\"127.T.1.4\"], \"alias\": \"lb\"}", "not both"},
        {"{\"type\": \"CNAME\", \"alias\": \"lb\"}", "must be A"},
        {"{\"type\": \"CNAME\", \"values\": [\"a\", \"b\"]}", "one target"},
        {"{\"values\": [\"localhost\"]}", "not an IPv4 address"},
        {"{\"type\": \"AAAA\", \"values\": [\"2001:db8::1\"]}", "::1"},
        {"{\"record\": \"a..b\", \"values\": [\"127.T.1.4\"]}", "not a name in the zone"},
        {"{\"record\": \"bad name\", \"values\": [\"127.T.1.4\"]}", "not a name in the zone"},
        {"{\"values\": [\"127.T.1.4\"], \"ttl\": \"3d\"}", "ttl"},
        {"{\"values\": [\"127.T.1.4\"], \"weight\": 300}", "weight"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        expect_spec("dns_record", rows[i].spec, rows[i].want);
}

Test(registry, security_group_rules)
{
    static const struct {
        const char *spec, *want;
    } rows[] = {
        {"{\"ingress\": [{\"from\": \"0.0.0.0/0\"}]}", NULL},
        {"{\"ingress\": [{\"from\": \"127.T.0.0/16\", \"port\": 8000}, {\"source_group\": "
         "\"lb\"}]}",
         NULL},
        {"{}", NULL},
        {"{\"ingress\": [{\"port\": 80}]}", "give from or source_group"},
        {"{\"ingress\": [{\"from\": \"0.0.0.0/0\", \"source_group\": \"lb\"}]}",
         "give from or source_group"},
        {"{\"ingress\": [{\"from\": \"everywhere\"}]}", "not a CIDR block"},
        {"{\"ingress\": [{\"from\": \"0.0.0.0/0\", \"port\": 70000}]}", "not a port"},
        {"{\"ingress\": [{\"from\": \"0.0.0.0/0\", \"proto\": \"tcp\"}]}", "an unknown key"},
        {"{\"ingress\": [42]}", "a list of at most 60 mappings"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        expect_spec("security_group", rows[i].spec, rows[i].want);
}
