/* Unit tests for src/core/schema.c: defaults, normalised durations, every kind of error
 * with its exact message, API paths and file:line:col locations. */
#include <criterion/criterion.h>

#include "core/conf.h"
#include "core/mem.h"
#include "model/schema.h"

#include <string.h>

static json_t *parse(const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    cr_assert_not_null(j, "bad test JSON: %s", err.text);
    return j;
}

static char *dump(const json_t *j)
{
    return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
}

/* Checks spec through the API path (no conf); returns the joined errors (gd_free it). */
static char *check_api(const char *type, const char *name, json_t *spec, int want_n)
{
    gd_errs e = {0};
    int n = gd_schema_check(type, name, spec, NULL, "spec", &e);
    char *j = gd_errs_join(&e);
    cr_assert_eq(n, want_n, "want %d errors, got %d: %s", want_n, n, j);
    cr_assert_eq(e.n, want_n);
    gd_errs_free(&e);
    return j;
}

Test(schema, types_and_prefixes)
{
    const char *const *t = gd_schema_types();
    const char *want[] = {
        "vpc",          "subnet", "launch_template", "instance",       "asg", "clb", "alb",
        "target_group", "cdn",    "alarm",           "scaling_policy", NULL};
    for (int i = 0; want[i]; i++) {
        cr_assert_not_null(t[i]);
        cr_assert_str_eq(t[i], want[i]);
        cr_assert_eq(gd_schema_known(want[i]), 1);
    }
    cr_assert_str_eq(t[11], "scheduled_action");
    cr_assert_str_eq(t[12], "dns_record");
    cr_assert_str_eq(t[13], "elastic_ip");
    cr_assert_str_eq(t[14], "security_group");
    cr_assert_str_eq(t[15], "reserved_instance");
    cr_assert_str_eq(t[16], "experiment_template");
    cr_assert_str_eq(t[17], "experiment");
    cr_assert_str_eq(t[18], "deny_policy");
    cr_assert_str_eq(t[19], "cache_cluster");
    cr_assert_str_eq(t[20], "db");
    cr_assert_str_eq(t[21], "cluster");
    cr_assert_str_eq(t[22], "task_definition");
    cr_assert_str_eq(t[23], "ecs_service");
    cr_assert_str_eq(t[24], "task");
    cr_assert_str_eq(t[25], "function");
    cr_assert_null(t[26]);
    cr_assert_eq(gd_schema_known("rocket"), 0);
    cr_assert_eq(gd_schema_known(NULL), 0);
    cr_assert_str_eq(gd_schema_id_prefix("vpc"), "vpc");
    cr_assert_str_eq(gd_schema_id_prefix("subnet"), "subnet");
    cr_assert_str_eq(gd_schema_id_prefix("launch_template"), "lt");
    cr_assert_str_eq(gd_schema_id_prefix("instance"), "i");
    cr_assert_str_eq(gd_schema_id_prefix("asg"), "asg");
    cr_assert_str_eq(gd_schema_id_prefix("clb"), "lb");
    cr_assert_str_eq(gd_schema_id_prefix("alb"), "alb");
    cr_assert_str_eq(gd_schema_id_prefix("target_group"), "tg");
    cr_assert_null(gd_schema_id_prefix("rocket"));
}

Test(schema, defaults_launch_template)
{
    json_t *s = parse("{\"service_time\": \"1m30s\"}");
    char *j = check_api("launch_template", "web", s, 0);
    gd_free(j);
    char *d = dump(s);
    cr_assert_str_eq(d, "{\"boot_time\":60,\"instance_type\":\"t3.micro\",\"market\":\"on-demand\","
                        "\"port\":8000,"
                        "\"queue\":32,\"service\":\"unicorn\",\"service_time\":90,"
                        "\"sessions\":\"memory\",\"slots\":5,\"termination_protection\":false}");
    free(d);
    json_decref(s);

    s = parse("{\"service_time\": \"250ms\", \"command\": [\"python3\", \"-m\", \"http.server\"]}");
    j = check_api("launch_template", "x", s, 0);
    gd_free(j);
    cr_assert(json_is_real(json_object_get(s, "service_time")));
    cr_assert_float_eq(json_real_value(json_object_get(s, "service_time")), 0.25, 1e-12);
    json_decref(s);
}

Test(schema, launch_template_sessions)
{
    /* redis sessions name their store; 127.T is the team's range */
    json_t *s = parse("{\"service\": \"clothes\", \"sessions\": \"redis\", "
                      "\"session_store\": \"127.T.0.50:6379\"}");
    gd_free(check_api("launch_template", "shop", s, 0));
    json_decref(s);
    s = parse("{\"service\": \"clothes\", \"sessions\": \"cookie\"}");
    gd_free(check_api("launch_template", "shop", s, 0));
    json_decref(s);
    struct {
        const char *spec, *want;
    } bad[] = {
        {"{\"sessions\": \"redis\"}",
         "spec.session_store: launch_template 'shop': field 'session_store': missing: sessions: "
         "redis needs the Redis server's address or a cache_cluster (allowed: IP:PORT of a "
         "Redis server in 127.0.0.0/8, like 127.T.0.50:6379, or the name of a cache_cluster)"},
        {"{\"sessions\": \"memory\", \"session_store\": \"127.1.0.50:6379\"}",
         "spec.session_store: launch_template 'shop': field 'session_store': the sessions are "
         "not kept in Redis (sessions: memory) (allowed: only with sessions: redis)"},
        {"{\"sessions\": \"redis\", \"session_store\": \"redis.example:6379\"}",
         "spec.session_store: launch_template 'shop': field 'session_store': not an address and "
         "port, nor a name (allowed: IP:PORT of a Redis server in 127.0.0.0/8, like "
         "127.T.0.50:6379, or the name of a cache_cluster)"},
        {"{\"sessions\": \"redis\", \"session_store\": \"127.1.0.50:0\"}",
         "spec.session_store: launch_template 'shop': field 'session_store': not an address and "
         "port, nor a name (allowed: IP:PORT of a Redis server in 127.0.0.0/8, like "
         "127.T.0.50:6379, or the name of a cache_cluster)"},
        {"{\"sessions\": \"redis\", \"session_store\": \"10.0.0.1:6379\"}",
         "spec.session_store: launch_template 'shop': field 'session_store': not an address and "
         "port, nor a name (allowed: IP:PORT of a Redis server in 127.0.0.0/8, like "
         "127.T.0.50:6379, or the name of a cache_cluster)"},
        {"{\"sessions\": \"disk\"}",
         "spec.sessions: launch_template 'shop': field 'sessions': \"disk\" is not one of the "
         "allowed values (allowed: memory, cookie, redis)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s = parse(bad[i].spec);
        char *j = check_api("launch_template", "shop", s, 1);
        cr_assert_str_eq(j, bad[i].want, "%s", bad[i].spec);
        gd_free(j);
        json_decref(s);
    }
}

Test(schema, launch_template_cache)
{
    /* cache: redis caches a database's reads in the session_store's Redis, whatever
     * the sessions' mode */
    json_t *s = parse("{\"service\": \"clothes\", \"database\": \"orders\", \"cache\": "
                      "\"redis\", \"session_store\": \"127.T.0.50:6379\", \"cache_ttl\": "
                      "\"2m\"}");
    gd_free(check_api("launch_template", "shop", s, 0));
    cr_assert_float_eq(json_number_value(json_object_get(s, "cache_ttl")), 120, 1e-9);
    json_decref(s);
    struct {
        const char *spec, *want;
    } bad[] = {
        {"{\"cache\": \"redis\", \"session_store\": \"127.T.0.50:6379\"}",
         "cache-aside caches a database's reads: the template names no database"},
        {"{\"cache\": \"redis\", \"database\": \"orders\"}",
         "missing: cache: redis needs the Redis server's address or a cache_cluster"},
        {"{\"cache\": \"memcached\"}", "(allowed: none, redis)"},
        {"{\"cache\": \"redis\", \"database\": \"orders\", \"session_store\": "
         "\"127.T.0.50:6379\", \"cache_ttl\": \"2d\"}",
         "field 'cache_ttl'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s = parse(bad[i].spec);
        char *j = check_api("launch_template", "shop", s, 1);
        cr_assert(strstr(j, bad[i].want), "%s: %s", bad[i].spec, j);
        gd_free(j);
        json_decref(s);
    }
}

Test(schema, defaults_vpc_subnet_instance)
{
    json_t *s = parse("{}");
    gd_free(check_api("vpc", "main", s, 0));
    char *d = dump(s);
    cr_assert_str_eq(d, "{\"cidr\":\"127.T.0.0/16\"}");
    free(d);
    json_decref(s);

    s = parse("{\"cidr\": \"127.T.1.0/28\"}");
    gd_free(check_api("subnet", "private-a", s, 0));
    d = dump(s);
    cr_assert_str_eq(d,
                     "{\"az\":\"a\",\"cidr\":\"127.T.1.0/28\",\"public\":false,\"vpc\":\"main\"}");
    free(d);
    json_decref(s);

    s = parse("{\"launch_template\": \"web\", \"subnet\": \"private-a\"}");
    gd_free(check_api("instance", "i1", s, 0));
    d = dump(s);
    cr_assert_str_eq(d,
                     "{\"launch_template\":\"web\",\"protected_from_scale_in\":false,"
                     "\"subnet\":\"private-a\"}",
                     "instance_type stays absent: it is an optional override");
    free(d);
    json_decref(s);
}

Test(schema, defaults_asg_and_clb)
{
    json_t *s = parse("{\"launch_template\": \"web\", \"subnets\": [\"a\"], \"min\": 2}");
    gd_free(check_api("asg", "web", s, 0));
    char *d = dump(s);
    cr_assert_str_eq(d, "{\"capacity_rebalance\":false,\"desired\":2,\"health_check_grace\":300,"
                        "\"health_check_type\":\"EC2\","
                        "\"launch_template\":\"web\","
                        "\"load_balancers\":[],\"max\":10,\"min\":2,"
                        "\"new_instances_protected_from_scale_in\":false,\"subnets\":[\"a\"],"
                        "\"target_groups\":[]}");
    free(d);
    json_decref(s);

    s = parse("{\"subnets\": [\"public-a\"], \"health_check\": {\"interval\": \"10s\"}}");
    gd_free(check_api("clb", "web-lb", s, 0));
    d = dump(s);
    cr_assert_str_eq(d, "{\"connection_draining\":300,"
                        "\"health_check\":{\"healthy_threshold\":10,\"interval\":10,"
                        "\"path\":\"/health\",\"timeout\":5,\"unhealthy_threshold\":2},"
                        "\"idle_timeout\":60,\"instance_port\":8000,\"instances\":[],"
                        "\"port\":8080,\"subnets\":[\"public-a\"]}");
    free(d);
    json_decref(s);
}

Test(schema, api_errors_name_the_path)
{
    json_t *s = parse("{\"port\": 80, \"slots\": \"five\", \"colour\": \"red\", "
                      "\"instance_type\": \"t3.nano\", \"boot_time\": \"2h\"}");
    char *j = check_api("launch_template", "web", s, 5);
    cr_assert_str_eq(
        j, "spec.colour: launch_template 'web': field 'colour': unknown field (allowed: service, "
           "service_version, command, instance_type, market, port, slots, queue, service_time, "
           "boot_time, "
           "sessions, session_store, database, read_from, db_pool, cache, cache_ttl, "
           "security_groups, tags, termination_protection, ecs_cluster)\n"
           "spec.instance_type: launch_template 'web': field 'instance_type': \"t3.nano\" is not "
           "one of the allowed values (allowed: t3.micro, t3.small, t3.medium, m5.large, "
           "m5.xlarge, c5.large, c5.xlarge)\n"
           "spec.port: launch_template 'web': field 'port': 80 is out of range (allowed: an "
           "integer 1024..65535)\n"
           "spec.slots: launch_template 'web': field 'slots': expected an integer, got a string "
           "\"five\" (allowed: an integer 1..1000)\n"
           "spec.boot_time: launch_template 'web': field 'boot_time': 2h is out of range "
           "(allowed: a duration 0s..1h)");
    gd_free(j);
    json_decref(s);
}

Test(schema, missing_and_bad_refs)
{
    json_t *s = parse("{\"subnets\": []}");
    char *j = check_api("asg", "web", s, 2);
    cr_assert_str_eq(j, "spec.launch_template: asg 'web': field 'launch_template': missing "
                        "(allowed: a resource name of [a-z0-9-], 1..48 characters)\n"
                        "spec.subnets: asg 'web': field 'subnets': the list is empty (allowed: a "
                        "list of at least 1 resource names of [a-z0-9-])");
    gd_free(j);
    json_decref(s);

    s = parse("{\"launch_template\": \"Web\", \"subnet\": \"a\", \"instance_type\": 3}");
    j = check_api("instance", "i1", s, 2);
    cr_assert_str_eq(j, "spec.launch_template: instance 'i1': field 'launch_template': \"Web\" is "
                        "not a valid resource name (allowed: a resource name of [a-z0-9-], "
                        "1..48 characters)\n"
                        "spec.instance_type: instance 'i1': field 'instance_type': 3 is not one "
                        "of the allowed values (allowed: t3.micro, t3.small, t3.medium, m5.large, "
                        "m5.xlarge, c5.large, c5.xlarge)");
    gd_free(j);
    json_decref(s);

    s = parse("{\"subnets\": [\"ok\", \"no_good\", 5]}");
    j = check_api("clb", "lb", s, 2);
    cr_assert_str_eq(j, "spec.subnets[1]: clb 'lb': field 'subnets[1]': \"no_good\" is not a valid "
                        "resource name (allowed: a list of at least 1 resource names of "
                        "[a-z0-9-])\n"
                        "spec.subnets[2]: clb 'lb': field 'subnets[2]': expected a string, got an "
                        "integer 5 (allowed: a list of at least 1 resource names of [a-z0-9-])");
    gd_free(j);
    json_decref(s);
}

Test(schema, cidr_rules)
{
    json_t *s = parse("{\"cidr\": \"127.T.0.0/24\"}");
    char *j = check_api("vpc", "main", s, 1);
    cr_assert_str_eq(j, "spec.cidr: vpc 'main': field 'cidr': prefix /24 is out of range (allowed: "
                        "a /16 block inside 127.0.0.0/8, e.g. 127.T.0.0/16)");
    gd_free(j);
    json_decref(s);

    const char *bad[][2] = {
        {"127.T.0.0/29", "prefix /29 is out of range"},
        {"127.T.0.0/23", "prefix /23 is out of range"},
        {"10.0.0.0/24", "\"10.0.0.0/24\" is outside 127.0.0.0/8"},
        {"127.T.0.1/24", "\"127.T.0.1/24\" is not a CIDR block"},
        {"banana", "\"banana\" is not a CIDR block"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s = json_pack("{s:s}", "cidr", bad[i][0]);
        j = check_api("subnet", "a", s, 1);
        char want[512];
        snprintf(want, sizeof want,
                 "spec.cidr: subnet 'a': field 'cidr': %s (allowed: a /24../28 block inside "
                 "127.0.0.0/8, e.g. 127.T.1.0/24)",
                 bad[i][1]);
        cr_assert_str_eq(j, want);
        gd_free(j);
        json_decref(s);
    }
}

Test(schema, asg_min_desired_max)
{
    json_t *s = parse("{\"launch_template\": \"web\", \"subnets\": [\"a\"], \"min\": 1, "
                      "\"max\": 3, \"desired\": 5}");
    char *j = check_api("asg", "web", s, 1);
    cr_assert_str_eq(j, "spec.desired: asg 'web': field 'desired': 5 is outside min..max "
                        "(allowed: 1..3)");
    gd_free(j);
    json_decref(s);

    s = parse("{\"launch_template\": \"web\", \"subnets\": [\"a\"], \"min\": 4, \"max\": 3}");
    j = check_api("asg", "web", s, 1);
    cr_assert_str_eq(j, "spec.max: asg 'web': field 'max': 3 is below min (4) (allowed: 4..1000)");
    gd_free(j);
    json_decref(s);

    /* a field already wrong is not reported twice by the cross check */
    s = parse("{\"launch_template\": \"web\", \"subnets\": [\"a\"], \"min\": 2000}");
    j = check_api("asg", "web", s, 1);
    cr_assert_str_eq(j, "spec.min: asg 'web': field 'min': 2000 is out of range (allowed: an "
                        "integer 0..1000)");
    gd_free(j);
    json_decref(s);
}

Test(schema, clb_health_check)
{
    json_t *s = parse("{\"subnets\": [\"a\"], \"health_check\": {\"interval\": \"5s\", "
                      "\"timeout\": 6, \"healthy_threshold\": 11, \"colour\": 1}}");
    char *j = check_api("clb", "lb", s, 3);
    cr_assert_str_eq(j, "spec.health_check.colour: clb 'lb': field 'health_check.colour': unknown "
                        "field (allowed: path, interval, timeout, healthy_threshold, "
                        "unhealthy_threshold)\n"
                        "spec.health_check.healthy_threshold: clb 'lb': field "
                        "'health_check.healthy_threshold': 11 is out of range (allowed: an "
                        "integer 2..10)\n"
                        "spec.health_check.timeout: clb 'lb': field 'health_check.timeout': 6s is "
                        "not shorter than the interval (allowed: shorter than "
                        "health_check.interval (5s))");
    gd_free(j);
    json_decref(s);

    s = parse("{\"subnets\": [\"a\"], \"health_check\": 5}");
    j = check_api("clb", "lb", s, 1);
    cr_assert_str_eq(j, "spec.health_check: clb 'lb': field 'health_check': expected a mapping, "
                        "got an integer 5 (allowed: path, interval, timeout, healthy_threshold, "
                        "unhealthy_threshold)");
    gd_free(j);
    json_decref(s);
}

Test(schema, unknown_type_and_not_a_mapping)
{
    json_t *s = parse("{}");
    char *j = check_api("rocket", "x", s, 1);
    cr_assert_str_eq(
        j, "spec: rocket 'x': unknown resource type (allowed: vpc, subnet, "
           "launch_template, instance, asg, clb, alb, target_group, cdn, alarm, "
           "scaling_policy, scheduled_action, dns_record, elastic_ip, security_group, "
           "reserved_instance, experiment_template, experiment, deny_policy, cache_cluster, db, "
           "cluster, task_definition, ecs_service, task, function)");
    gd_free(j);
    json_decref(s);
    s = json_integer(3);
    j = check_api("vpc", "main", s, 1);
    cr_assert_str_eq(j, "spec: vpc 'main': the spec must be a mapping (allowed: cidr)");
    gd_free(j);
    json_decref(s);
}

Test(schema, conf_errors_name_file_line_col)
{
    const char *text = "subnet:\n"
                       "  cidr: 127.T.0.0/20\n"
                       "  az: z\n"
                       "  public: true\n"
                       "  colour: red\n"
                       "  flag: false\n"
                       "lt:\n"
                       "  slots: 0\n";
    gd_conf *c;
    gd_errs e = {0};
    cr_assert_eq(gd_conf_load_string("arch.yaml", text, strlen(text), &c, &e), 0);
    json_t *root = gd_conf_root(c);
    int n = gd_schema_check("subnet", "a", json_object_get(root, "subnet"), c, "x", &e);
    cr_assert_eq(n, 4);
    n = gd_schema_check("launch_template", "web", json_object_get(root, "lt"), c, "x", &e);
    cr_assert_eq(n, 1);
    char *j = gd_errs_join(&e);
    cr_assert_str_eq(
        j, "arch.yaml:5:3: subnet 'a': field 'colour': unknown field (allowed: vpc, cidr, az, "
           "public)\n"
           "arch.yaml:6:3: subnet 'a': field 'flag': unknown field (allowed: vpc, cidr, az, "
           "public)\n"
           "arch.yaml:2:9: subnet 'a': field 'cidr': prefix /20 is out of range (allowed: a "
           "/24../28 block inside 127.0.0.0/8, e.g. 127.T.1.0/24)\n"
           "arch.yaml:3:7: subnet 'a': field 'az': \"z\" is not one of the allowed values "
           "(allowed: a, b, c, d, e, f)\n"
           "arch.yaml:8:10: launch_template 'web': field 'slots': 0 is out of range (allowed: an "
           "integer 1..1000)");
    gd_free(j);
    gd_errs_free(&e);

    /* missing fields point at the mapping that lacks them */
    const char *text2 = "- type: instance\n  subnet: a\n";
    gd_conf *c2;
    cr_assert_eq(gd_conf_load_string("b.yaml", text2, strlen(text2), &c2, &e), 0);
    n = gd_schema_check("instance", "i", json_array_get(gd_conf_root(c2), 0), c2, "x", &e);
    cr_assert_eq(n, 2);
    j = gd_errs_join(&e);
    cr_assert_str_eq(j, "b.yaml:1:3: instance 'i': field 'type': unknown field (allowed: "
                        "launch_template, subnet, instance_type, market, protected_from_scale_in, "
                        "security_groups, tags, termination_protection)\n"
                        "b.yaml:1:3: instance 'i': field 'launch_template': missing (allowed: a "
                        "resource name of [a-z0-9-], 1..48 characters)");
    gd_free(j);
    gd_errs_free(&e);
    gd_conf_free(c);
    gd_conf_free(c2);
}

Test(schema, bool_value_errors_point_at_the_key)
{
    /* true/false/null are shared jansson singletons: their place is the key's */
    const char *text = "lt:\n  port: true\n";
    gd_conf *c;
    gd_errs e = {0};
    cr_assert_eq(gd_conf_load_string("c.yaml", text, strlen(text), &c, &e), 0);
    int n = gd_schema_check("launch_template", "web", json_object_get(gd_conf_root(c), "lt"), c,
                            "x", &e);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(e.msgs[0], "c.yaml:2:3: launch_template 'web': field 'port': expected an "
                                "integer, got a boolean true (allowed: an integer 1024..65535)");
    gd_errs_free(&e);
    gd_conf_free(c);
}

Test(schema, null_field_is_absent)
{
    json_t *s = parse("{\"subnets\": [\"a\"], \"instances\": null}");
    gd_free(check_api("clb", "lb", s, 0));
    cr_assert(json_is_array(json_object_get(s, "instances")));
    cr_assert_eq(json_array_size(json_object_get(s, "instances")), 0);
    json_decref(s);
}

Test(schema, target_group_defaults)
{
    json_t *s = parse("{}");
    gd_free(check_api("target_group", "api", s, 0));
    char *d = dump(s);
    cr_assert_str_eq(d, "{\"algorithm\":\"round_robin\",\"cross_zone\":true,"
                        "\"deregistration_delay\":300,\"health_check\":{\"healthy_threshold\":5,"
                        "\"interval\":30,\"matcher\":\"200\",\"path\":\"/health\",\"timeout\":5,"
                        "\"unhealthy_threshold\":2},\"instances\":[],\"port\":8000,"
                        "\"slow_start\":0,\"stickiness\":{\"duration\":86400,\"type\":\"none\"}}");
    free(d);
    json_decref(s);

    s = parse("{\"port\": 9000, \"algorithm\": \"weighted_random\", \"slow_start\": \"1m\", "
              "\"deregistration_delay\": \"30s\", \"cross_zone\": false, \"instances\": [\"i1\"], "
              "\"stickiness\": {\"type\": \"lb_cookie\", \"duration\": \"1h\"}, "
              "\"health_check\": {\"interval\": \"10s\", \"timeout\": \"90s\"}}");
    /* an alb group's timeout may reach 2m, but stays shorter than the interval */
    char *j = check_api("target_group", "api", s, 1);
    cr_assert_str_eq(j, "spec.health_check.timeout: target_group 'api': field "
                        "'health_check.timeout': 1m30s is not shorter than the interval (allowed: "
                        "shorter than health_check.interval (10s))");
    gd_free(j);
    cr_assert_eq(json_integer_value(json_object_get(s, "slow_start")), 60);
    cr_assert_eq(json_integer_value(json_object_get(s, "deregistration_delay")), 30);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(s, "stickiness"), "duration")),
                 3600);
    json_decref(s);
}

Test(schema, target_group_errors)
{
    json_t *s = parse("{\"port\": 80, \"algorithm\": \"random\", \"colour\": 1, "
                      "\"instances\": \"i1\", \"deregistration_delay\": \"2h\"}");
    char *j = check_api("target_group", "api", s, 5);
    cr_assert_str_eq(
        j, "spec.colour: target_group 'api': field 'colour': unknown field (allowed: port, "
           "algorithm, health_check, stickiness, deregistration_delay, slow_start, cross_zone, "
           "instances, function)\n"
           "spec.port: target_group 'api': field 'port': 80 is out of range (allowed: an integer "
           "1024..65535)\n"
           "spec.algorithm: target_group 'api': field 'algorithm': \"random\" is not one of the "
           "allowed values (allowed: round_robin, least_outstanding_requests, weighted_random)\n"
           "spec.deregistration_delay: target_group 'api': field 'deregistration_delay': 2h is "
           "out of range (allowed: a duration 0s..1h)\n"
           "spec.instances: target_group 'api': field 'instances': expected a list, got a string "
           "\"i1\" (allowed: a list of resource names of [a-z0-9-])");
    gd_free(j);
    json_decref(s);

    /* as an alb refuses it: slow start with least outstanding requests, and too short */
    s = parse("{\"algorithm\": \"least_outstanding_requests\", \"slow_start\": \"45s\"}");
    j = check_api("target_group", "api", s, 1);
    cr_assert_str_eq(j, "spec.slow_start: target_group 'api': field 'slow_start': slow start "
                        "cannot be used with least outstanding requests (as in AWS) (allowed: 0 "
                        "with least_outstanding_requests)");
    gd_free(j);
    json_decref(s);
    s = parse("{\"slow_start\": 10, \"stickiness\": {\"type\": \"app_cookie\"}}");
    j = check_api("target_group", "api", s, 2);
    cr_assert_str_eq(j, "spec.slow_start: target_group 'api': field 'slow_start': too short "
                        "(allowed: 0 (off) or 30s..15m)\n"
                        "spec.stickiness.cookie_name: target_group 'api': field "
                        "'stickiness.cookie_name': missing: app_cookie stickiness follows a cookie "
                        "the application sets (allowed: the application's cookie name)");
    gd_free(j);
    json_decref(s);

    /* "default" is the name of every alb's own group */
    s = parse("{}");
    j = check_api("target_group", "default", s, 1);
    cr_assert_str_eq(j, "spec: target_group 'default': the name is reserved for an alb's implicit "
                        "target group (allowed: any other name)");
    gd_free(j);
    json_decref(s);
}

Test(schema, alb_and_asg_name_target_groups)
{
    json_t *s = parse("{\"subnets\": [\"a\"], \"default_target_group\": \"web\"}");
    gd_free(check_api("alb", "lb", s, 0));
    cr_assert_str_eq(json_string_value(json_object_get(s, "default_target_group")), "web");
    json_decref(s);

    s = parse("{\"subnets\": [\"a\"]}");
    gd_free(check_api("alb", "lb", s, 0));
    cr_assert_null(json_object_get(s, "default_target_group"), "absent: the implicit group");
    json_decref(s);

    s = parse("{\"subnets\": [\"a\"], \"default_target_group\": [\"web\"]}");
    char *j = check_api("alb", "lb", s, 1);
    cr_assert_str_eq(j, "spec.default_target_group: alb 'lb': field 'default_target_group': "
                        "expected a resource name, got a list [\"web\"] (allowed: a resource name "
                        "of [a-z0-9-], 1..48 characters)");
    gd_free(j);
    json_decref(s);

    s = parse("{\"launch_template\": \"web\", \"subnets\": [\"a\"], "
              "\"target_groups\": [\"api\", \"Bad\"]}");
    j = check_api("asg", "web", s, 1);
    cr_assert_str_eq(j, "spec.target_groups[1]: asg 'web': field 'target_groups[1]': \"Bad\" is "
                        "not a valid resource name (allowed: a list of resource names of "
                        "[a-z0-9-])");
    gd_free(j);
    json_decref(s);

    /* the reference table: what the API and the scenario loader check */
    size_t n;
    const gd_schema_ref *refs = gd_schema_refs(&n);
    int seen = 0;
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(refs[i].type, "asg") && !strcmp(refs[i].field, "target_groups")) {
            seen |= 1;
            cr_assert_str_eq(refs[i].target, "target_group");
        }
        if (!strcmp(refs[i].type, "alb") && !strcmp(refs[i].field, "default_target_group")) {
            seen |= 2;
            cr_assert_str_eq(refs[i].target, "target_group");
        }
        if (!strcmp(refs[i].type, "target_group") && !strcmp(refs[i].field, "instances")) {
            seen |= 4;
            cr_assert_str_eq(refs[i].target, "instance");
        }
    }
    cr_assert_eq(seen, 7, "missing reference fields: %d", seen);
}

Test(schema, alb_groups_in_use)
{
    json_t *s =
        parse("{\"default_target_group\": \"web\", \"rules\": ["
              "{\"priority\": 1, \"conditions\": {\"path\": \"/api/*\"}, "
              "\"action\": {\"type\": \"forward\", \"target_group\": \"api\"}},"
              "{\"priority\": 2, \"conditions\": {\"path\": \"/old\"}, "
              "\"action\": {\"type\": \"forward\", \"target_group\": \"default\"}},"
              "{\"priority\": 3, \"conditions\": {\"path\": \"/v2/*\"}, "
              "\"action\": {\"type\": \"forward\", \"target_group\": \"api\"}},"
              "{\"priority\": 4, \"conditions\": {\"path\": \"/x\"}, \"action\": {\"type\": "
              "\"fixed_response\"}},"
              "{\"priority\": 5, \"conditions\": {\"path\": \"/w\"}, "
              "\"action\": {\"type\": \"forward\", \"target_group\": \"web\"}}]}");
    json_t *used = gd_schema_alb_groups(s);
    char *d = dump(used);
    cr_assert_str_eq(d, "[\"web\",\"api\"]", "each once, without the implicit group");
    free(d);
    json_decref(used);
    cr_assert_str_eq(gd_schema_rule_forward(json_array_get(json_object_get(s, "rules"), 0)), "api");
    cr_assert_null(gd_schema_rule_forward(json_array_get(json_object_get(s, "rules"), 3)));
    json_decref(s);

    s = parse("{\"default_target_group\": \"default\"}");
    used = gd_schema_alb_groups(s);
    cr_assert_eq(json_array_size(used), 0);
    json_decref(used);
    json_decref(s);
}

Test(schema, fmt_dur_units_sign_and_extremes)
{
    char b[64];
    cr_assert_str_eq(gd_model_fmt_dur(5400, b, sizeof b), "1h30m");
    cr_assert_str_eq(gd_model_fmt_dur(0.25, b, sizeof b), "250ms");
    cr_assert_str_eq(gd_model_fmt_dur(0, b, sizeof b), "0s");
    cr_assert_str_eq(gd_model_fmt_dur(-300, b, sizeof b), "-5m");
    cr_assert_str_eq(gd_model_fmt_dur(1e300, b, sizeof b), "1e+300s");
    cr_assert_str_eq(gd_model_fmt_dur(-1e300, b, sizeof b), "-1e+300s");
}
