/* Unit tests for src/model/cache_cluster.c: the node types, the cache_cluster spec's
 * defaults and every bad combination with its message, the Multi-AZ check against the
 * architecture, a launch template's session_store naming a cluster, placement across
 * zones, the failover's choice of replica, and reading Redis' INFO. */
#include <criterion/criterion.h>

#include "core/buf.h"
#include "core/conf.h"
#include "core/mem.h"
#include "model/arch.h"
#include "model/cache_cluster.h"
#include "model/fis.h"
#include "model/schema.h"

#include <string.h>

static json_t *parse(const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    cr_assert_not_null(j, "bad test JSON: %s: %s", err.text, text);
    return j;
}

/* The spec checked through the API path; the joined errors (gd_free them). */
static char *check(const char *type, json_t *spec, int want_n)
{
    gd_errs e = {0};
    int n = gd_schema_check(type, "sessions", spec, NULL, "spec", &e);
    char *j = gd_errs_join(&e);
    cr_assert_eq(n, want_n, "want %d errors, got %d: %s", want_n, n, j);
    gd_errs_free(&e);
    return j;
}

Test(cache_cluster, node_types_follow_the_enum_with_their_maxmemory)
{
    size_t n;
    const gd_cache_node_type *all = gd_cache_node_types(&n);
    cr_assert_eq(n, 4u);
    const gd_field *f = NULL;
    for (const gd_field *x = gd_cache_fields; x->name; x++)
        if (!strcmp(x->name, "node_type")) f = x;
    cr_assert_not_null(f);
    for (size_t k = 0; k < n; k++) cr_assert_str_eq(f->enums[k], all[k].name);
    cr_assert_null(f->enums[n]);
    cr_assert_eq(gd_cache_node_type_find("cache.t3.micro")->maxmemory, 536870912LL);
    cr_assert_eq(gd_cache_node_type_find("cache.r5.large")->maxmemory, 14037181153LL);
    cr_assert_null(gd_cache_node_type_find("cache.t2.nano"));
    cr_assert_null(gd_cache_node_type_find(NULL));
}

Test(cache_cluster, defaults_and_automatic_failover_follows_multi_az)
{
    json_t *s = parse("{\"subnets\": [\"a\"]}");
    gd_free(check("cache_cluster", s, 0));
    char *d = json_dumps(s, JSON_COMPACT | JSON_SORT_KEYS);
    cr_assert_str_eq(d, "{\"auth\":true,\"automatic_failover\":false,\"multi_az\":false,"
                        "\"node_type\":\"cache.t3.micro\",\"port\":6379,\"replicas\":0,"
                        "\"subnets\":[\"a\"]}");
    free(d);
    json_decref(s);
    s = parse("{\"subnets\": [\"a\", \"b\"], \"replicas\": 1, \"multi_az\": true}");
    gd_free(check("cache_cluster", s, 0));
    cr_assert(json_is_true(json_object_get(s, "automatic_failover")), "multi_az's default");
    json_decref(s);
    /* Automatic failover without Multi-AZ is allowed (replicas in one zone). */
    s = parse("{\"subnets\": [\"a\"], \"replicas\": 2, \"automatic_failover\": true}");
    gd_free(check("cache_cluster", s, 0));
    json_decref(s);
}

Test(cache_cluster, bad_specs_name_the_field_and_what_is_allowed)
{
    struct {
        const char *spec, *want;
    } bad[] = {
        {"{\"subnets\": [\"a\"], \"multi_az\": true}",
         "spec.multi_az: cache_cluster 'sessions': field 'multi_az': a Multi-AZ cluster needs a "
         "replica in another zone to fail over to (replicas is 0) (allowed: false with replicas: "
         "0, or replicas 1..5)"},
        {"{\"subnets\": [\"a\"], \"automatic_failover\": true}",
         "spec.automatic_failover: cache_cluster 'sessions': field 'automatic_failover': "
         "automatic failover needs a replica to promote (replicas is 0) (allowed: false with "
         "replicas: 0, or replicas 1..5)"},
        {"{\"subnets\": [\"a\", \"b\"], \"replicas\": 1, \"multi_az\": true, "
         "\"automatic_failover\": false}",
         "spec.automatic_failover: cache_cluster 'sessions': field 'automatic_failover': a "
         "Multi-AZ cluster fails over by itself: automatic_failover cannot be false (allowed: "
         "true with multi_az: true (as ElastiCache requires))"},
        {"{\"subnets\": [\"a\"], \"replicas\": 6}",
         "spec.replicas: cache_cluster 'sessions': field 'replicas': 6 is out of range (allowed: "
         "an integer 0..5)"},
        {"{\"subnets\": [\"a\"], \"node_type\": \"cache.t2.nano\"}",
         "spec.node_type: cache_cluster 'sessions': field 'node_type': \"cache.t2.nano\" is not "
         "one of the allowed values (allowed: cache.t3.micro, cache.t3.small, cache.m5.large, "
         "cache.r5.large)"},
        {"{}", "spec.subnets: cache_cluster 'sessions': field 'subnets': missing (allowed: a list "
               "of at least 1 resource names of [a-z0-9-])"},
        {"{\"subnets\": [\"a\"], \"port\": 80}",
         "spec.port: cache_cluster 'sessions': field 'port': 80 is out of range (allowed: an "
         "integer 1024..65535)"},
        {"{\"subnets\": [\"a\"], \"auth\": \"yes\"}",
         "spec.auth: cache_cluster 'sessions': field 'auth': expected true or false, got a string "
         "\"yes\" (allowed: true, false)"},
        {"{\"subnets\": [\"a\"], \"engine\": \"valkey\"}",
         "spec.engine: cache_cluster 'sessions': field 'engine': unknown field (allowed: "
         "node_type, replicas, subnets, multi_az, automatic_failover, security_groups, port, "
         "auth, tags)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *s = parse(bad[i].spec);
        char *j = check("cache_cluster", s, 1);
        cr_assert_str_eq(j, bad[i].want, "%s", bad[i].spec);
        gd_free(j);
        json_decref(s);
    }
}

/* An architecture: two subnets in zone a, one in b, a cluster and a shop template. */
static json_t *arch(const char *cluster_spec, const char *lt_spec)
{
    char text[2048];
    snprintf(text, sizeof text,
             "[{\"type\":\"vpc\",\"name\":\"main\",\"spec\":{\"cidr\":\"127.T.0.0/16\"}},"
             " {\"type\":\"subnet\",\"name\":\"a1\",\"spec\":{\"cidr\":\"127.T.1.0/24\","
             "\"az\":\"a\"}},"
             " {\"type\":\"subnet\",\"name\":\"a2\",\"spec\":{\"cidr\":\"127.T.2.0/24\","
             "\"az\":\"a\"}},"
             " {\"type\":\"subnet\",\"name\":\"b1\",\"spec\":{\"cidr\":\"127.T.3.0/24\","
             "\"az\":\"b\"}},"
             " {\"type\":\"cache_cluster\",\"name\":\"sessions\",\"spec\":%s},"
             " {\"type\":\"launch_template\",\"name\":\"shop\",\"spec\":%s}]",
             cluster_spec, lt_spec);
    return parse(text);
}

/* Checks resources[self] as the operations do (its spec first); the errors joined. */
static char *arch_check(json_t *all, size_t self, int want_n)
{
    json_t *r = json_array_get(all, self);
    gd_errs e = {0};
    int ok = gd_schema_check(json_string_value(json_object_get(r, "type")), "x",
                             json_object_get(r, "spec"), NULL, "spec", &e) == 0;
    gd_arch_check a = {.resources = all, .self = self, .team = 1, .path = "spec", .errs = &e};
    gd_arch_check_res(&a, ok);
    char *j = gd_errs_join(&e);
    cr_assert_eq(e.n, want_n, "want %d errors, got %d: %s", want_n, e.n, j);
    gd_errs_free(&e);
    return j;
}

Test(cache_cluster, multi_az_needs_two_zones)
{
    json_t *all = arch("{\"subnets\":[\"a1\",\"a2\"],\"replicas\":1,\"multi_az\":true}", "{}");
    char *j = arch_check(all, 4, 1);
    cr_assert_str_eq(j, "spec.subnets: cache_cluster 'sessions': field 'subnets': every subnet is "
                        "in zone a: a Multi-AZ cluster keeps a replica in another zone (allowed: "
                        "subnets in at least two availability zones with multi_az: true)");
    gd_free(j);
    json_decref(all);
    all = arch("{\"subnets\":[\"a1\",\"b1\"],\"replicas\":1,\"multi_az\":true}", "{}");
    gd_free(arch_check(all, 4, 0));
    json_decref(all);
    /* A missing subnet is the reference check's, reported once. */
    all = arch("{\"subnets\":[\"a1\",\"zz\"],\"replicas\":1,\"multi_az\":true}", "{}");
    j = arch_check(all, 4, 1);
    cr_assert(strstr(j, "no subnet named 'zz'"), "%s", j);
    gd_free(j);
    json_decref(all);
}

Test(cache_cluster, a_session_store_names_a_cluster)
{
    json_t *all = arch("{\"subnets\":[\"a1\"]}", "{\"service\":\"clothes\",\"sessions\":\"redis\","
                                                 "\"session_store\":\"sessions\"}");
    gd_free(arch_check(all, 5, 0));
    json_decref(all);
    all = arch("{\"subnets\":[\"a1\"]}",
               "{\"service\":\"clothes\",\"sessions\":\"redis\",\"session_store\":\"carts\"}");
    char *j = arch_check(all, 5, 1);
    cr_assert_str_eq(j, "spec.session_store: launch_template 'shop': field 'session_store': no "
                        "cache_cluster named 'carts' (allowed: IP:PORT, or a cache_cluster: "
                        "sessions)");
    gd_free(j);
    /* ...and the cluster cannot go while the template names it. */
    json_t *tmpl = json_array_get(all, 5);
    json_object_set_new(json_object_get(tmpl, "spec"), "session_store", json_string("sessions"));
    gd_buf out;
    gd_buf_init(&out, 1024);
    gd_arch_dependents(all, json_array_get(all, 4), &out);
    cr_assert_str_eq(gd_buf_cstr(&out), "launch_template shop");
    gd_buf_free(&out);
    /* An address is still an address. */
    json_object_set_new(json_object_get(tmpl, "spec"), "session_store",
                        json_string("127.T.0.50:6379"));
    gd_free(arch_check(all, 5, 0));
    json_decref(all);
}

Test(cache_cluster, a_subnet_with_a_node_cannot_go)
{
    json_t *all = arch("{\"subnets\":[\"a1\"]}", "{}");
    json_t *cc = json_array_get(all, 4);
    /* the spec names a1 only; a node still has its address in b1 */
    json_object_set_new(cc, "status",
                        parse("{\"nodes\":[{\"id\":\"sessions-001\",\"subnet\":\"a1\"},"
                              "{\"id\":\"sessions-002\",\"subnet\":\"b1\"}]}"));
    gd_buf out;
    gd_buf_init(&out, 1024);
    gd_arch_dependents(all, json_array_get(all, 3), &out); /* subnet b1 */
    cr_assert_str_eq(gd_buf_cstr(&out), "cache_cluster sessions");
    gd_buf_reset(&out);
    gd_arch_dependents(all, json_array_get(all, 2), &out); /* subnet a2: nobody */
    cr_assert_str_eq(gd_buf_cstr(&out), "");
    gd_buf_free(&out);
    json_decref(all);
}

Test(cache_cluster, placement_spreads_over_zones_primary_first)
{
    const char *azs[] = {"a", "b", "a"};
    int ok[] = {1, 1, 1};
    const char *nodes[6] = {NULL};
    /* the primary, then each replica where its zone has the fewest nodes */
    cr_assert_eq(gd_cache_place(azs, ok, 3, nodes, 0), 0, "the primary: the first subnet");
    nodes[0] = "a";
    cr_assert_eq(gd_cache_place(azs, ok, 3, nodes, 1), 1, "the first replica: zone b");
    nodes[1] = "b";
    cr_assert_eq(gd_cache_place(azs, ok, 3, nodes, 2), 0, "a tie: the earliest subnet");
    nodes[2] = "a";
    cr_assert_eq(gd_cache_place(azs, ok, 3, nodes, 3), 1, "b has fewer");
    /* A zone that is down takes nothing; none left: -1. */
    int down_b[] = {1, 0, 1};
    cr_assert_eq(gd_cache_place(azs, down_b, 3, nodes, 3), 0);
    int none[] = {0, 0, 0};
    cr_assert_eq(gd_cache_place(azs, none, 3, nodes, 3), -1);
    cr_assert_eq(gd_cache_place(azs, ok, 0, nodes, 3), -1);
}

Test(cache_cluster, failover_promotes_the_replica_with_the_most_data)
{
    gd_cache_candidate c[] = {
        {.usable = 1, .offset = 1000, .lag_s = 0},
        {.usable = 1, .offset = 1500, .lag_s = 1},
        {.usable = 0, .offset = 9000, .lag_s = 0}, /* not answering: never */
        {.usable = 1, .offset = 1500, .lag_s = 0},
    };
    cr_assert_eq(gd_cache_pick_promotion(c, 4), 3, "the most data, then the least lag");
    c[3].lag_s = 1;
    cr_assert_eq(gd_cache_pick_promotion(c, 4), 1, "a full tie: the first");
    cr_assert_eq(gd_cache_pick_promotion(c, 1), 0);
    gd_cache_candidate dead[] = {{.usable = 0, .offset = 5}};
    cr_assert_eq(gd_cache_pick_promotion(dead, 1), -1);
    cr_assert_eq(gd_cache_pick_promotion(c, 0), -1);
}

Test(cache_cluster, info_fields)
{
    const char info[] = "# Replication\r\nrole:master\r\nconnected_slaves:1\r\n"
                        "slave0:ip=127.1.2.5,port=6379,state=online,offset=4242,lag=1\r\n"
                        "master_repl_offset:4300\r\nused_memory:1048576\r\nnot a field\r\n"
                        "keyspace_hits:x\n";
    size_t n = sizeof info - 1;
    char v[128];
    cr_assert_eq(gd_cache_info_field(info, n, "role", v, sizeof v), 0);
    cr_assert_str_eq(v, "master");
    cr_assert_eq(gd_cache_info_num(info, n, "master_repl_offset", -1), 4300);
    cr_assert_eq(gd_cache_info_num(info, n, "used_memory", -1), 1048576);
    cr_assert_eq(gd_cache_info_num(info, n, "keyspace_hits", -1), -1, "not a number");
    cr_assert_eq(gd_cache_info_num(info, n, "used_memory_rss", -1), -1, "absent");
    cr_assert_eq(gd_cache_info_field(info, n, "connected", v, sizeof v), -1,
                 "a prefix is not a key");
    cr_assert_eq(gd_cache_info_field(info, n, "slave0", v, sizeof v), 0);
    char sub[32];
    cr_assert_eq(gd_cache_info_sub(v, "ip", sub, sizeof sub), 0);
    cr_assert_str_eq(sub, "127.1.2.5");
    cr_assert_eq(gd_cache_info_sub(v, "lag", sub, sizeof sub), 0);
    cr_assert_str_eq(sub, "1");
    cr_assert_eq(gd_cache_info_sub(v, "offset", sub, sizeof sub), 0);
    cr_assert_str_eq(sub, "4242");
    cr_assert_eq(gd_cache_info_sub(v, "state=", sub, sizeof sub), -1);
    cr_assert_eq(gd_cache_info_sub(v, "lagx", sub, sizeof sub), -1);
    /* A value cut to fit. */
    char small[4];
    cr_assert_eq(gd_cache_info_field(info, n, "role", small, sizeof small), 0);
    cr_assert_str_eq(small, "mas");
}

Test(cache_cluster, chaos_actions_take_cache_clusters)
{
    json_t *t = parse(
        "{\"targets\": {\"c\": {\"resourceType\": \"aws:elasticache:replicationgroup\", "
        "\"resourceIds\": [\"sessions\"]}},"
        " \"actions\": {\"kill\": {\"actionId\": \"gameday:elasticache:node-loss\", "
        "\"parameters\": {\"role\": \"replica\"}, \"targets\": {\"ReplicationGroups\": \"c\"}},"
        " \"power\": {\"actionId\": \"aws:elasticache:replicationgroup-interrupt-az-power\", "
        "\"parameters\": {\"duration\": \"PT2M\", \"availabilityZone\": \"b\"}, "
        "\"targets\": {\"ReplicationGroups\": \"c\"}}}}");
    gd_free(check("experiment_template", t, 0));
    json_decref(t);
    t = parse("{\"targets\": {\"c\": {\"resourceType\": \"aws:ec2:instance\", "
              "\"resourceIds\": [\"web\"]}},"
              " \"actions\": {\"kill\": {\"actionId\": \"gameday:elasticache:node-loss\", "
              "\"parameters\": {\"role\": \"leader\"}, \"targets\": {\"ReplicationGroups\": "
              "\"c\"}}}}");
    char *j = check("experiment_template", t, 2);
    cr_assert(strstr(j, "field 'actions.kill.parameters.role': \"leader\" is not one of the "
                        "allowed values (allowed: primary, replica)"),
              "%s", j);
    cr_assert(strstr(j, "gameday:elasticache:node-loss acts on cache_cluster, and target 'c' is "
                        "of instance"),
              "%s", j);
    gd_free(j);
    json_decref(t);
    cr_assert_str_eq(gd_fis_resource_type("aws:elasticache:replicationgroup"), "cache_cluster");
}
