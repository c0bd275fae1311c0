/* The resource registry: every resource type's row (see registry.h) and what makes
 * it up: its fields with their defaults and ranges, its references, and its checks
 * within a spec and against the rest of the architecture. A new type is a new field
 * table, its checks and one row in `rows` below. */
#include "model/registry.h"
#include "core/dns.h"
#include "model/cache_cluster.h"
#include "model/cron.h"
#include "model/db.h"
#include "model/ecs.h"
#include "model/fis.h"
#include "model/stat.h"

#include "core/addr.h"
#include "core/err.h"
#include "core/mem.h"
#include "model/arch.h"
#include "model/rules.h"
#include "model/schema.h"
#include "model/state.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* ---- fields ------------------------------------------------------------------------ */

#define F(n, k, req, dflt) .name = (n), .kind = (k), .required = (req), .def = (dflt)
#define RANGE(lo, hi) .ranged = 1, .min = (lo), .max = (hi)

/* The instance-type catalogue, one row a type: name, vCPUs and memory as EC2 lists
 * them, slots. Slots: the burstable t3 types serve by their baseline CPU share (10 %
 * of 2 vCPUs for a micro, 20 % for a small and a medium), with more memory for the
 * same CPU as they grow; m5 (general purpose) and c5 (compute optimised, the fastest
 * cores) serve every vCPU whole. Per dollar c5 serves most, t3.micro next; bigger
 * types are fewer, larger steps, and every one lost takes more with it. The
 * instance_type enum is made from the same rows. */
#define ITYPES(X)                                                                                  \
    X("t3.micro", 2, 1, 5)                                                                         \
    X("t3.small", 2, 2, 10)                                                                        \
    X("t3.medium", 2, 4, 20)                                                                       \
    X("m5.large", 2, 8, 40)                                                                        \
    X("m5.xlarge", 4, 16, 80)                                                                      \
    X("c5.large", 2, 4, 48)                                                                        \
    X("c5.xlarge", 4, 8, 96)
#define ITYPE_NAME(n, v, m, s) n,
#define ITYPE_ROW(n, v, m, s) {n, v, m, s},
static const char *const instance_types[] = {ITYPES(ITYPE_NAME) NULL};
static const gd_itype itypes[] = {ITYPES(ITYPE_ROW)};

const gd_itype *gd_itype_all(size_t *n)
{
    *n = sizeof itypes / sizeof itypes[0];
    return itypes;
}

const gd_itype *gd_itype_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof itypes / sizeof itypes[0]; i++)
        if (!strcmp(itypes[i].name, name)) return &itypes[i];
    return NULL;
}

int gd_itype_slots(int lt_slots, const char *lt_type, const char *itype)
{
    const gd_itype *a = gd_itype_find(lt_type), *b = gd_itype_find(itype);
    if (!a || !b || a == b) return lt_slots;
    long s = lround((double)lt_slots * b->slots / a->slots);
    return s < 1 ? 1 : s > 100000 ? 100000 : (int)s;
}

static const char *const markets[] = {"on-demand", "spot", NULL};
static const char *const services[] = {"unicorn", "time", "clothes", NULL};
/* the unicorn service's releases (doc/resources.md): v1 fails now and then, v2 is fixed,
 * v3 keeps computed hashes, v4 is a broken build */
const char *const gd_releases[] = {"v1", "v2", "v3", "v4", NULL};
static const char *const session_modes[] = {"memory", "cookie", "redis", NULL};
static const char *const read_froms[] = {"primary", "replicas", NULL};
static const char *const cache_modes[] = {"none", "redis", NULL};
static const char *const hc_types[] = {"EC2", "ELB", NULL};
static const char *const azs[] = {"a", "b", "c", "d", "e", "f", NULL};

static const gd_field vpc_fields[] = {
    {F("cidr", GD_F_CIDR, 0, "\"127.T.0.0/16\""), RANGE(16, 16)},
    {.name = NULL},
};

static const gd_field subnet_fields[] = {
    {F("vpc", GD_F_REF, 0, "\"main\"")},
    {F("cidr", GD_F_CIDR, 1, NULL), RANGE(24, 28)},
    {F("az", GD_F_ENUM, 0, "\"a\""), .enums = azs},
    {F("public", GD_F_BOOL, 0, "false")},
    {.name = NULL},
};

static const gd_field lt_fields[] = {
    {F("service", GD_F_ENUM, 0, "\"unicorn\""), .enums = services},
    /* absent: v2 */
    {F("service_version", GD_F_ENUM, 0, NULL), .enums = gd_releases},
    {F("command", GD_F_STRS, 0, NULL), RANGE(1, 1e9)},
    {F("instance_type", GD_F_ENUM, 0, "\"t3.micro\""), .enums = instance_types},
    {F("market", GD_F_ENUM, 0, "\"on-demand\""), .enums = markets},
    {F("port", GD_F_INT, 0, "8000"), RANGE(1024, 65535)},
    {F("slots", GD_F_INT, 0, "5"), RANGE(1, 1000)},
    {F("queue", GD_F_INT, 0, "32"), RANGE(0, 100000)},
    {F("service_time", GD_F_DUR, 0, "4"), RANGE(0, 3600)},
    {F("boot_time", GD_F_DUR, 0, "60"), RANGE(0, 3600)},
    /* where the clothes service keeps its sessions (GAMEDAY_SESSIONS; see lt_cross) */
    {F("sessions", GD_F_ENUM, 0, "\"memory\""), .enums = session_modes},
    {F("session_store", GD_F_STR, 0, NULL)},
    /* the clothes service's database (a db of the team; doc/clothes.md): where product
     * reads go, its connections per instance, and a cache-aside in the Redis of
     * session_store */
    {F("database", GD_F_REF, 0, NULL)},
    /* absent: primary, 4, none, 60s */
    {F("read_from", GD_F_ENUM, 0, NULL), .enums = read_froms},
    {F("db_pool", GD_F_INT, 0, NULL), RANGE(1, 64)},
    {F("cache", GD_F_ENUM, 0, NULL), .enums = cache_modes},
    {F("cache_ttl", GD_F_DUR, 0, NULL), RANGE(1, 86400)},
    /* absent: no security group (everyone may connect), as before groups existed */
    {F("security_groups", GD_F_REFS, 0, NULL), RANGE(0, 5)},
    {F("tags", GD_F_TAGS, 0, NULL)},
    /* copied to each instance launched from it */
    {F("termination_protection", GD_F_BOOL, 0, "false")},
    /* its instances join this ECS cluster as container instances (ECS_CLUSTER) */
    {F("ecs_cluster", GD_F_REF, 0, NULL)},
    {.name = NULL},
};

static const gd_field instance_fields[] = {
    {F("launch_template", GD_F_REF, 1, NULL)},
    {F("subnet", GD_F_REF, 1, NULL)},
    {F("instance_type", GD_F_ENUM, 0, NULL), .enums = instance_types},
    {F("market", GD_F_ENUM, 0, NULL), .enums = markets},
    {F("protected_from_scale_in", GD_F_BOOL, 0, "false")},
    /* absent: its launch template's */
    {F("security_groups", GD_F_REFS, 0, NULL), RANGE(0, 5)},
    {F("tags", GD_F_TAGS, 0, NULL)},
    /* absent: its launch template's; true: TerminateInstances is refused (ops.c) */
    {F("termination_protection", GD_F_BOOL, 0, NULL)},
    {.name = NULL},
};

static const gd_field asg_fields[] = {
    {F("launch_template", GD_F_REF, 1, NULL)},
    {F("subnets", GD_F_REFS, 1, NULL), RANGE(1, 1e9)},
    {F("min", GD_F_INT, 0, "1"), RANGE(0, 1000)},
    {F("max", GD_F_INT, 0, "10"), RANGE(0, 1000)},
    {F("desired", GD_F_INT, 0, NULL), RANGE(0, 1000)}, /* default: min (see asg_cross) */
    {F("load_balancers", GD_F_REFS, 0, "[]"), RANGE(0, 1e9)},
    {F("target_groups", GD_F_REFS, 0, "[]"), RANGE(0, 1e9)},
    {F("health_check_type", GD_F_ENUM, 0, "\"EC2\""), .enums = hc_types},
    {F("health_check_grace", GD_F_DUR, 0, "300"), RANGE(0, 7200)},
    {F("new_instances_protected_from_scale_in", GD_F_BOOL, 0, "false")},
    {F("capacity_rebalance", GD_F_BOOL, 0, "false")},
    {F("tags", GD_F_TAGS, 0, NULL)},
    {.name = NULL},
};

static const gd_field clb_health_fields[] = {
    {F("path", GD_F_STR, 0, "\"/health\"")},
    {F("interval", GD_F_DUR, 0, "30"), RANGE(5, 300)},
    {F("timeout", GD_F_DUR, 0, "5"), RANGE(2, 60)},
    {F("healthy_threshold", GD_F_INT, 0, "10"), RANGE(2, 10)},
    {F("unhealthy_threshold", GD_F_INT, 0, "2"), RANGE(2, 10)},
    {.name = NULL},
};

static const gd_field clb_fields[] = {
    {F("subnets", GD_F_REFS, 1, NULL), RANGE(1, 1e9)},
    {F("port", GD_F_INT, 0, "8080"), RANGE(1024, 65535)},
    {F("instance_port", GD_F_INT, 0, "8000"), RANGE(1024, 65535)},
    {F("instances", GD_F_REFS, 0, "[]"), RANGE(0, 1e9)},
    {F("idle_timeout", GD_F_DUR, 0, "60"), RANGE(1, 4000)},
    {F("health_check", GD_F_MAP, 0, "{}"), .sub = clb_health_fields},
    /* seconds a deregistered instance keeps its requests in flight; 0: cut at once */
    {F("connection_draining", GD_F_DUR, 0, "300"), RANGE(0, 3600)},
    {F("security_groups", GD_F_REFS, 0, NULL), RANGE(0, 5)},
    {.name = NULL},
};

static const char *const algorithms[] = {"round_robin", "least_outstanding_requests",
                                         "weighted_random", NULL};
static const char *const sticky_types[] = {"none", "lb_cookie", "app_cookie", NULL};
static const char *const qs_modes[] = {"none", "all", NULL};

static const gd_field alb_health_fields[] = {
    {F("path", GD_F_STR, 0, "\"/health\"")},
    {F("interval", GD_F_DUR, 0, "30"), RANGE(5, 300)},
    {F("timeout", GD_F_DUR, 0, "5"), RANGE(2, 120)},
    {F("healthy_threshold", GD_F_INT, 0, "5"), RANGE(2, 10)},
    {F("unhealthy_threshold", GD_F_INT, 0, "2"), RANGE(2, 10)},
    {F("matcher", GD_F_STR, 0, "\"200\"")},
    {.name = NULL},
};

static const gd_field stickiness_fields[] = {
    {F("type", GD_F_ENUM, 0, "\"none\""), .enums = sticky_types},
    {F("duration", GD_F_DUR, 0, "86400"), RANGE(1, 604800)},
    {F("cookie_name", GD_F_STR, 0, NULL)},
    {.name = NULL},
};

/* How a target group balances and checks: an alb's own group and a target_group. */
// clang-format off
#define TARGET_GROUP_SETTINGS                                                   \
    {F("algorithm", GD_F_ENUM, 0, "\"round_robin\""), .enums = algorithms},         \
    {F("health_check", GD_F_MAP, 0, "{}"), .sub = alb_health_fields},              \
    {F("stickiness", GD_F_MAP, 0, "{}"), .sub = stickiness_fields},                \
    {F("deregistration_delay", GD_F_DUR, 0, "300"), RANGE(0, 3600)},               \
    {F("slow_start", GD_F_DUR, 0, "0"), RANGE(0, 900)},                            \
    {F("cross_zone", GD_F_BOOL, 0, "true")}
// clang-format on

/* An Application LB. Its own fields make its implicit target group "default" (its
 * instances: the groups that name it in load_balancers, and `instances`); rules and
 * default_target_group may send requests to target_group resources instead. */
static const gd_field alb_fields[] = {
    {F("subnets", GD_F_REFS, 1, NULL), RANGE(1, 1e9)},
    {F("port", GD_F_INT, 0, "8080"), RANGE(1024, 65535)},
    {F("instance_port", GD_F_INT, 0, "8000"), RANGE(1024, 65535)},
    {F("instances", GD_F_REFS, 0, "[]"), RANGE(0, 1e9)},
    {F("idle_timeout", GD_F_DUR, 0, "60"), RANGE(1, 4000)},
    TARGET_GROUP_SETTINGS,
    /* listener rules as the edge takes them (doc/edge.md); they forward to "default" or
     * to a target_group of the team */
    {F("rules", GD_F_LIST, 0, "[]"), RANGE(0, 100)},
    /* absent: the default action forwards to "default" */
    {F("default_target_group", GD_F_REF, 0, NULL)},
    {F("security_groups", GD_F_REFS, 0, NULL), RANGE(0, 5)},
    {.name = NULL},
};

/* A target group of its own: an ALB's default_target_group or rules send to it, and
 * its targets are `instances` and the groups that name it in target_groups. */
static const gd_field tg_fields[] = {
    {F("port", GD_F_INT, 0, "8000"), RANGE(1024, 65535)},
    TARGET_GROUP_SETTINGS,
    {F("instances", GD_F_REFS, 0, "[]"), RANGE(0, 1e9)},
    /* target type lambda: the function is the group's one target */
    {F("function", GD_F_REF, 0, NULL)},
    {.name = NULL},
};

/* A function (Lambda): invocations run in execution environments, real processes of
 * the service, pooled; concurrency, cold starts and throttles (services/lambda.c). */
static const char *const fn_services[] = {"unicorn", "time", NULL};
static const gd_field function_fields[] = {
    {F("subnet", GD_F_REF, 1, NULL)},
    {F("service", GD_F_ENUM, 0, "\"unicorn\""), .enums = fn_services},
    /* absent: v2 */
    {F("service_version", GD_F_ENUM, 0, NULL), .enums = gd_releases},
    {F("memory", GD_F_INT, 0, "512"), RANGE(128, 10240)},
    {F("timeout", GD_F_DUR, 0, "30"), RANGE(1, 900)},
    {F("service_time", GD_F_DUR, 0, "4"), RANGE(0, 900)},
    {F("init_time", GD_F_DUR, 0, "1"), RANGE(0, 60)},
    {F("idle_timeout", GD_F_DUR, 0, "600"), RANGE(10, 7200)},
    /* absent: the account's unreserved concurrency */
    {F("reserved_concurrency", GD_F_INT, 0, NULL), RANGE(0, 1000)},
    {F("tags", GD_F_TAGS, 0, NULL)},
    {.name = NULL},
};

/* A CloudWatch alarm on one metric of one resource. */
static const char *const comparisons[] = {"GreaterThanOrEqualToThreshold", "GreaterThanThreshold",
                                          "LessThanThreshold", "LessThanOrEqualToThreshold", NULL};
static const char *const missing_modes[] = {"missing", "notBreaching", "breaching", "ignore", NULL};
static const gd_field alarm_fields[] = {
    {F("resource", GD_F_REF, 1, NULL)},
    {F("metric", GD_F_STR, 1, NULL)},
    {F("statistic", GD_F_STR, 0, "\"Average\"")},
    {F("period", GD_F_DUR, 0, "60"), RANGE(10, 86400)},
    {F("evaluation_periods", GD_F_INT, 0, "1"), RANGE(1, 100)},
    {F("datapoints_to_alarm", GD_F_INT, 0, NULL), RANGE(1, 100)},
    {F("threshold", GD_F_NUM, 1, NULL)},
    {F("comparison", GD_F_ENUM, 0, "\"GreaterThanThreshold\""), .enums = comparisons},
    {F("treat_missing_data", GD_F_ENUM, 0, "\"missing\""), .enums = missing_modes},
    {F("alarm_actions", GD_F_REFS, 0, "[]"), RANGE(0, 5)},
    {F("ok_actions", GD_F_REFS, 0, "[]"), RANGE(0, 5)},
    {F("notify", GD_F_BOOL, 0, "true")},
    {.name = NULL},
};

/* A Reserved Instance: a commitment to `count` instances of one type for the rest of
 * the game, billed every hour whether used or not, at the scenario's reserved discount;
 * running on-demand instances of that type are covered up to count (billing.c). */
static const gd_field ri_fields[] = {
    {F("instance_type", GD_F_ENUM, 1, NULL), .enums = instance_types},
    {F("count", GD_F_INT, 0, "1"), RANGE(1, 100)},
    {.name = NULL},
};

/* A security group: who may connect to what names it (instances, load balancers).
 * ingress: rules {from: "CIDR" | source_group: NAME, port: N} (port 0 or absent: all);
 * checked by sg_cross and sg_arch. */
static const gd_field sg_fields[] = {
    {F("ingress", GD_F_LIST, 0, "[]"), RANGE(0, 60)},
    {.name = NULL},
};

/* An Elastic IP: an address of the team's (127.T.251.x) that stays while instances
 * come and go; associated, it reaches its instance. */
static const gd_field eip_fields[] = {
    {F("instance", GD_F_REF, 0, NULL)},
    {.name = NULL},
};

/* A Route 53 record set in the team's hosted zone (team<T>.gameday.test). */
static const char *const dns_types[] = {"A", "AAAA", "CNAME", NULL};
static const char *const failovers[] = {"primary", "secondary", NULL};
/* A Route 53 health check of a record set: its first address (or its alias's target),
 * probed from outside as customers would reach it. */
static const gd_field dns_health_fields[] = {
    {F("path", GD_F_STR, 0, "\"/health\"")},
    {F("port", GD_F_INT, 0, "8080"), RANGE(1, 65535)},
    {F("interval", GD_F_DUR, 0, "30"), RANGE(10, 30)},
    {F("failure_threshold", GD_F_INT, 0, "3"), RANGE(1, 10)},
    {.name = NULL},
};

static const gd_field dns_record_fields[] = {
    /* the name in the zone ("www", "@" the apex); absent, the resource's own name */
    {F("record", GD_F_STR, 0, NULL)},
    {F("type", GD_F_ENUM, 0, "\"A\""), .enums = dns_types},
    {F("ttl", GD_F_DUR, 0, "300"), RANGE(0, 172800)},
    {F("values", GD_F_STRS, 0, "[]"), RANGE(0, 8)},
    /* an alias to a load balancer or cdn: its address, with the target's TTL (60 s) */
    {F("alias", GD_F_REF, 0, NULL)},
    {F("weight", GD_F_INT, 0, NULL), RANGE(0, 255)},
    {F("failover", GD_F_ENUM, 0, NULL), .enums = failovers},
    /* absent: always healthy, as a record without a health check is in Route 53 */
    {F("health_check", GD_F_MAP, 0, NULL), .sub = dns_health_fields},
    {.name = NULL},
};

/* An Auto Scaling group's scaling policy. */
static const char *const policy_types[] = {"SimpleScaling", "StepScaling", "TargetTrackingScaling",
                                           NULL};
static const char *const adjustment_types[] = {"ChangeInCapacity", "ExactCapacity",
                                               "PercentChangeInCapacity", NULL};
static const char *const tt_metrics[] = {"ASGAverageCPUUtilization", "ALBRequestCountPerTarget",
                                         "ECSServiceAverageCPUUtilization", NULL};
static const gd_field policy_fields[] = {
    /* what it scales: an asg, or an ecs_service (Application Auto Scaling: its
     * desired_count within min_capacity..max_capacity); one of them (policy_cross) */
    {F("asg", GD_F_REF, 0, NULL)},
    {F("ecs_service", GD_F_REF, 0, NULL)},
    {F("min_capacity", GD_F_INT, 0, NULL), RANGE(0, GD_ECS_MAX_TASKS)},
    {F("max_capacity", GD_F_INT, 0, NULL), RANGE(0, GD_ECS_MAX_TASKS)},
    {F("policy_type", GD_F_ENUM, 0, "\"SimpleScaling\""), .enums = policy_types},
    {F("adjustment_type", GD_F_ENUM, 0, "\"ChangeInCapacity\""), .enums = adjustment_types},
    {F("scaling_adjustment", GD_F_INT, 0, NULL), RANGE(-1000, 1000)},
    {F("min_adjustment_magnitude", GD_F_INT, 0, NULL), RANGE(1, 1000)},
    {F("cooldown", GD_F_DUR, 0, "300"), RANGE(0, 86400)},
    {F("step_adjustments", GD_F_LIST, 0, "[]"), RANGE(0, 20)},
    {F("metric", GD_F_ENUM, 0, NULL), .enums = tt_metrics},
    {F("target_value", GD_F_NUM, 0, NULL), RANGE(0.001, 1e9)},
    {F("target_group", GD_F_REF, 0, NULL)},
    {F("disable_scale_in", GD_F_BOOL, 0, "false")},
    {F("estimated_instance_warmup", GD_F_DUR, 0, "300"), RANGE(0, 86400)},
    {.name = NULL},
};

/* A scheduled action of an Auto Scaling group: once at a game time, or on a cron
 * recurrence of game time. */
static const gd_field sched_fields[] = {
    {F("asg", GD_F_REF, 1, NULL)},
    {F("at", GD_F_DUR, 0, NULL), RANGE(0, 604800)},
    {F("recurrence", GD_F_STR, 0, NULL)},
    {F("desired", GD_F_INT, 0, NULL), RANGE(0, 1000)},
    {F("min", GD_F_INT, 0, NULL), RANGE(0, 1000)},
    {F("max", GD_F_INT, 0, NULL), RANGE(0, 1000)},
    {.name = NULL},
};

/* A CDN distribution with one cache behaviour in front of a load balancer. */
static const gd_field cdn_fields[] = {
    {F("origin", GD_F_REF, 1, NULL)},
    {F("query_strings", GD_F_ENUM, 0, "\"none\""), .enums = qs_modes},
    {F("query_include", GD_F_STRS, 0, NULL), RANGE(1, 10)},
    {F("headers", GD_F_STRS, 0, "[]"), RANGE(0, 10)},
    {F("cookies", GD_F_STRS, 0, "[]"), RANGE(0, 10)},
    {F("min_ttl", GD_F_DUR, 0, "0"), RANGE(0, 31536000)},
    {F("default_ttl", GD_F_DUR, 0, "86400"), RANGE(0, 31536000)},
    {F("max_ttl", GD_F_DUR, 0, "31536000"), RANGE(0, 31536000)},
    {F("stale_while_revalidate", GD_F_DUR, 0, "0"), RANGE(0, 31536000)},
    {F("stale_if_error", GD_F_DUR, 0, "0"), RANGE(0, 31536000)},
    {F("max_bytes", GD_F_INT, 0, "67108864"), RANGE(65536, 17179869184.0)},
    {.name = NULL},
};

/* An FIS experiment template (checked by gd_fis_check_template, in FIS's own shape:
 * camelCase keys) and an experiment, which only start_experiment makes. */
static const gd_field fis_template_fields[] = {
    {F("description", GD_F_STR, 0, "\"\"")},
    {F("targets", GD_F_OBJ, 0, "{}"), RANGE(0, 10)},
    {F("actions", GD_F_OBJ, 1, NULL), RANGE(0, 20)},
    {F("stopConditions", GD_F_LIST, 0, "[]"), RANGE(0, 5)},
    {F("steadyStateHypothesis", GD_F_OBJ, 0, NULL), RANGE(0, 2)},
    {F("tags", GD_F_TAGS, 0, NULL)},
    {.name = NULL},
};

static const gd_field experiment_fields[] = {
    {F("template", GD_F_REF, 1, NULL)},
    {.name = NULL},
};

/* A deny policy, like an AWS service control policy: what the principals it names (those
 * the scenario's protections.deniable lets a team deny) may not do to the resources it
 * names. The operations layer refuses such an operation with AccessDenied (ops.c); the
 * scenario decides who is deniable (gd_scenario_check_deny). */
static const gd_field deny_fields[] = {
    {F("principals", GD_F_STRS, 1, NULL), RANGE(1, 20)},
    {F("actions", GD_F_STRS, 0, "[\"*\"]"), RANGE(1, 20)},
    {F("resources", GD_F_STRS, 0, "[\"*\"]"), RANGE(1, 50)},
    {.name = NULL},
};

/* ---- checks within a spec --------------------------------------------------------- */

static int int_field(json_t *spec, const char *k, long long *out)
{
    json_t *v = json_object_get(spec, k);
    if (!json_is_integer(v)) return 0;
    *out = json_integer_value(v);
    return 1;
}

/* A decimal number of 1..5 digits at *p, at most max; advances *p. -1 if none. */
static long dec(const char **p, long max)
{
    long v = 0;
    int n = 0;
    while (**p >= '0' && **p <= '9' && n < 6) v = v * 10 + (*(*p)++ - '0'), n++;
    return n == 0 || n > 5 || v > max ? -1 : v;
}

/* "127.B.C.D:PORT" or "127.T.C.D:PORT" (T: the team's number), PORT 1..65535. */
static int store_addr_ok(const char *s)
{
    if (!s || strncmp(s, "127.", 4)) return 0;
    const char *p = s + 4;
    if (*p == 'T')
        p++;
    else if (dec(&p, 255) < 0)
        return 0;
    for (int i = 0; i < 2; i++)
        if (*p++ != '.' || dec(&p, 255) < 0) return 0;
    if (*p++ != ':') return 0;
    long port = dec(&p, 65535);
    return port >= 1 && *p == 0;
}

/* A resource's name, as the operations take them: [a-z0-9-], 1..48 characters. */
static int name_ok(const char *s)
{
    size_t l = s ? strlen(s) : 0;
    if (l == 0 || l > 48) return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')) return 0;
    return 1;
}

#define STORE_ALLOWED                                                                              \
    "IP:PORT of a Redis server in 127.0.0.0/8, like 127.T.0.50:6379, or the name of a "            \
    "cache_cluster"

/* A launch template's sessions: a Redis mode names its store (an address, or a
 * cache_cluster by name: lt_arch checks that it is one), only it does. */
static void lt_cross(gd_spec_check *x, json_t *spec)
{
    json_t *mode = json_object_get(spec, "sessions"),
           *store = json_object_get(spec, "session_store");
    if (gd_spec_is_bad(x, "sessions") || gd_spec_is_bad(x, "session_store")) return;
    json_t *cache = json_object_get(spec, "cache"), *db = json_object_get(spec, "database");
    int cached = json_is_string(cache) && !strcmp(json_string_value(cache), "redis");
    json_t *rf = json_object_get(spec, "read_from");
    if (!db && json_is_string(rf) && !strcmp(json_string_value(rf), "replicas") &&
        !gd_spec_is_bad(x, "read_from"))
        gd_spec_fail(x, spec, "read_from", rf, "read_from", "primary, or name a database",
                     "reads go to a database's replicas: the template names no database");
    if (cached && !db && !gd_spec_is_bad(x, "cache"))
        gd_spec_fail(x, spec, "cache", cache, "cache", "none, or name a database",
                     "cache-aside caches a database's reads: the template names no database");
    int redis = (json_is_string(mode) && !strcmp(json_string_value(mode), "redis")) || cached;
    const char *s = json_string_value(store);
    if (store && !store_addr_ok(s) && !name_ok(s)) {
        gd_spec_fail(x, spec, "session_store", store, "session_store", STORE_ALLOWED,
                     "not an address and port, nor a name");
    } else if (store && !redis) {
        gd_spec_fail(x, spec, "session_store", store, "session_store", "only with sessions: redis",
                     "the sessions are not kept in Redis (sessions: %s)",
                     json_is_string(mode) ? json_string_value(mode) : "memory");
    } else if (redis && !store) {
        gd_spec_fail(x, spec, "session_store", NULL, "session_store", STORE_ALLOWED,
                     cached &&
                             strcmp(json_string_value(mode) ? json_string_value(mode) : "", "redis")
                         ? "missing: cache: redis needs the Redis server's address or a "
                           "cache_cluster"
                         : "missing: sessions: redis needs the Redis server's address or a "
                           "cache_cluster");
    }
}

/* A session_store that is a name names a cache_cluster of the architecture. */
static void lt_arch(gd_arch_check *a, const json_t *res)
{
    json_t *spec = json_object_get(res, "spec"), *store = json_object_get(spec, "session_store");
    const char *s = json_string_value(store);
    if (!s || store_addr_ok(s) || !name_ok(s) || gd_arch_find(a->resources, "cache_cluster", s))
        return;
    char names[256], allow[320];
    gd_arch_names(a->resources, "cache_cluster", names, sizeof names);
    snprintf(allow, sizeof allow, "IP:PORT, or a cache_cluster: %s", names);
    gd_arch_fail(a, spec, "session_store", store, "session_store", allow,
                 "no cache_cluster named '%s'", s);
}

/* A template whose sessions live in a cache_cluster needs it. */
static int lt_depends(const json_t *res, const json_t *on)
{
    const char *s =
        json_string_value(json_object_get(json_object_get(res, "spec"), "session_store"));
    return s && !strcmp(str(on, "type"), "cache_cluster") && !strcmp(str(on, "name"), s);
}

static void asg_cross(gd_spec_check *x, json_t *spec)
{
    long long mn = 0, mx = 0, d = 0;
    int okmin = !gd_spec_is_bad(x, "min") && int_field(spec, "min", &mn),
        okmax = !gd_spec_is_bad(x, "max") && int_field(spec, "max", &mx);
    if (json_object_get(spec, "desired") == NULL && okmin)
        json_object_set_new(spec, "desired", json_integer(mn));
    if (!okmin || !okmax) return;
    char allow[64];
    if (mn > mx) {
        snprintf(allow, sizeof allow, "%lld..1000", mn);
        gd_spec_fail(x, spec, "max", json_object_get(spec, "max"), "max", allow,
                     "%lld is below min (%lld)", mx, mn);
        return;
    }
    if (!gd_spec_is_bad(x, "desired") && int_field(spec, "desired", &d) && (d < mn || d > mx)) {
        snprintf(allow, sizeof allow, "%lld..%lld", mn, mx);
        gd_spec_fail(x, spec, "desired", json_object_get(spec, "desired"), "desired", allow,
                     "%lld is outside min..max", d);
    }
}

static void clb_cross(gd_spec_check *x, json_t *spec)
{
    json_t *hc = json_object_get(spec, "health_check");
    if (!json_is_object(hc)) return;
    json_t *iv = json_object_get(hc, "interval"), *to = json_object_get(hc, "timeout");
    if (!json_is_number(iv) || !json_is_number(to) || gd_spec_is_bad(x, "health_check.interval") ||
        gd_spec_is_bad(x, "health_check.timeout"))
        return;
    double i = json_number_value(iv), t = json_number_value(to);
    if (t >= i) {
        char allow[96], a[32], b[32];
        snprintf(allow, sizeof allow, "shorter than health_check.interval (%s)",
                 gd_model_fmt_dur(i, a, sizeof a));
        gd_spec_fail(x, hc, "timeout", to, "health_check.timeout", allow,
                     "%s is not shorter than the interval", gd_model_fmt_dur(t, b, sizeof b));
    }
}

/* What an alb and a target_group share: the settings of a target group. */
static void group_cross(gd_spec_check *x, json_t *spec)
{
    clb_cross(x, spec);
    json_t *ss = json_object_get(spec, "slow_start"), *al = json_object_get(spec, "algorithm");
    if (json_is_number(ss) && json_number_value(ss) > 0 && json_is_string(al) &&
        !strcmp(json_string_value(al), "least_outstanding_requests") &&
        !gd_spec_is_bad(x, "slow_start"))
        gd_spec_fail(x, spec, "slow_start", ss, "slow_start", "0 with least_outstanding_requests",
                     "slow start cannot be used with least outstanding requests (as in AWS)");
    if (json_is_number(ss) && json_number_value(ss) > 0 && json_number_value(ss) < 30 &&
        !gd_spec_is_bad(x, "slow_start"))
        gd_spec_fail(x, spec, "slow_start", ss, "slow_start", "0 (off) or 30s..15m", "too short");
    json_t *st = json_object_get(spec, "stickiness");
    json_t *ty = json_object_get(st, "type");
    if (json_is_string(ty) && !strcmp(json_string_value(ty), "app_cookie") &&
        !json_is_string(json_object_get(st, "cookie_name")))
        gd_spec_fail(x, st, "cookie_name", NULL, "stickiness.cookie_name",
                     "the application's cookie name",
                     "missing: app_cookie stickiness follows a cookie the application sets");
}

/* The audit log's event names a deny_policy may name; "*" is every one. */
static const char *const deny_events[] = {"*",
                                          "CreateResource",
                                          "RunInstances",
                                          "UpdateResource",
                                          "DeleteResource",
                                          "SetDesiredCapacity",
                                          "TerminateInstances",
                                          "StopInstances",
                                          "StartInstances",
                                          "ChangeResourceRecordSets",
                                          "StartExperiment",
                                          "StopExperiment",
                                          NULL};

/* A principal is a name of the audit log ([a-z0-9-], 1..64), never a team's, the
 * instructor's or the game's own; an action one of deny_events; a resource a name or id
 * of the team's, or "*". At most max of each. */
static void deny_list(gd_spec_check *x, json_t *spec, const char *field, size_t max)
{
    json_t *list = json_object_get(spec, field);
    if (gd_spec_is_bad(x, field) || !json_is_array(list)) return;
    char fp[48], allow[400];
    if (json_array_size(list) > max) {
        snprintf(allow, sizeof allow, "at most %zu", max);
        gd_spec_fail(x, spec, field, list, field, allow, "%zu entries", json_array_size(list));
        return;
    }
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        const char *s = json_string_value(v);
        size_t n = s ? strlen(s) : 0;
        int ok = n >= 1;
        for (size_t k = 0; k < n; k++)
            ok &= (s[k] >= 'a' && s[k] <= 'z') || (s[k] >= '0' && s[k] <= '9') || s[k] == '-';
        snprintf(fp, sizeof fp, "%s[%zu]", field, i);
        if (!strcmp(field, "principals")) {
            int team = s && !strncmp(s, "team-", 5) && s[5] && strspn(s + 5, "0123456789") == n - 5;
            if (!ok || n > 64)
                gd_spec_fail(x, list, NULL, v, fp, "a principal of the audit log, [a-z0-9-]",
                             "not a principal");
            else if (team || !strcmp(s, "admin") || !strcmp(s, "gameday") || !strcmp(s, "fis"))
                gd_spec_fail(x, list, NULL, v, fp,
                             "a principal the scenario lets a team deny, e.g. ceo, chaos-monkey",
                             "'%s' cannot be denied", s);
        } else if (!strcmp(field, "actions")) {
            int known = 0;
            for (int k = 0; s && deny_events[k]; k++) known |= !strcmp(deny_events[k], s);
            gd_join(deny_events, allow, sizeof allow);
            if (!known) gd_spec_fail(x, list, NULL, v, fp, allow, "not an action");
        } else if (!(s && !strcmp(s, "*")) && (!ok || n > 48)) {
            gd_spec_fail(x, list, NULL, v, fp, "a resource's name or id, or \"*\"",
                         "not a resource");
        }
    }
}

static void deny_cross(gd_spec_check *x, json_t *spec)
{
    deny_list(x, spec, "principals", 20);
    deny_list(x, spec, "actions", 20);
    deny_list(x, spec, "resources", 50);
}

/* ---- checks against the architecture ------------------------------------------------ */

/* gameday's own addresses in every team's /16: cdns (127.T.250.x), the loadgen's
 * metrics and the game's network lock (127.T.255.x). */
static const char *const reserved[] = {"127.T.250.0/24", "127.T.251.0/24", "127.T.255.0/24", NULL};

/* A block must lie in the team's own 127.T.0.0/16, written with T in a scenario (every
 * team gets its own copy), and a subnet outside gameday's reserved blocks. 0 if so. */
static int in_team_range(gd_arch_check *a, json_t *spec, json_t *cv, int subnet, gd_cidr *out)
{
    const char *s = json_string_value(cv);
    gd_cidr c, c2, team;
    int t = a->team ? a->team : 1;
    if (!s || gd_cidr_parse(s, t, &c) != 0) return -1; /* reported by the spec check */
    char allow[96], own[24];
    team.base = 0x7f000000u | ((uint32_t)t << 16);
    team.prefix = 16;
    if (a->team == 0) {
        snprintf(allow, sizeof allow, "a block of 127.T.0.0/16, with T for each team's octet");
        if (gd_cidr_parse(s, 2, &c2) == 0 && c2.base == c.base) {
            gd_arch_fail(a, spec, "cidr", cv, "cidr", allow,
                         "%s names one team's addresses; write the second octet as T", s);
            return -1;
        }
    } else {
        snprintf(allow, sizeof allow, "a block inside %s (this team's range)",
                 gd_cidr_format(team, own));
        if (!gd_cidr_contains(team, c)) {
            gd_arch_fail(a, spec, "cidr", cv, "cidr", allow, "%s is outside this team's range", s);
            return -1;
        }
    }
    for (int i = 0; subnet && reserved[i]; i++) {
        gd_cidr r;
        gd_cidr_parse(reserved[i], t, &r);
        if (gd_cidr_overlaps(c, r)) {
            gd_arch_fail(
                a, spec, "cidr", cv, "cidr", "a block outside 127.T.250.0/24 and 127.T.255.0/24",
                "%s overlaps %s, which gameday keeps for its own addresses", s, reserved[i]);
            return -1;
        }
    }
    *out = c;
    return 0;
}

/* VPCs lie in the team's range and overlap no earlier VPC. */
static void vpc_arch(gd_arch_check *a, const json_t *res)
{
    json_t *spec = json_object_get(res, "spec"), *cv = json_object_get(spec, "cidr");
    gd_cidr c, d;
    char x[24], y[24];
    if (in_team_range(a, spec, cv, 0, &c) < 0) return;
    for (size_t j = 0; j < a->self; j++) {
        const json_t *q = json_array_get(a->resources, j);
        if (strcmp(str(q, "type"), "vpc") != 0) continue;
        json_t *qv = json_object_get(json_object_get(q, "spec"), "cidr");
        if (gd_cidr_parse(json_string_value(qv), a->team ? a->team : 1, &d) != 0 ||
            !gd_cidr_overlaps(c, d))
            continue;
        gd_arch_fail(a, spec, "cidr", cv, "cidr", "a block that overlaps no other vpc",
                     "%s overlaps vpc '%s' (%s)", gd_cidr_format(c, x), str(q, "name"),
                     gd_cidr_format(d, y));
    }
}

/* Subnets lie in the team's range, inside their VPC, and overlap no earlier subnet. */
static void subnet_arch(gd_arch_check *a, const json_t *res)
{
    json_t *spec = json_object_get(res, "spec"), *cv = json_object_get(spec, "cidr");
    int t = a->team ? a->team : 1;
    gd_cidr c, v, d;
    if (in_team_range(a, spec, cv, 1, &c) < 0) return;
    const char *vpcname = json_string_value(json_object_get(spec, "vpc"));
    const json_t *vpc = vpcname ? gd_arch_find(a->resources, "vpc", vpcname) : NULL;
    json_t *vc = vpc ? json_object_get(json_object_get(vpc, "spec"), "cidr") : NULL;
    if (vc && gd_cidr_parse(json_string_value(vc), t, &v) == 0 && !gd_cidr_contains(v, c)) {
        char allow[64];
        snprintf(allow, sizeof allow, "a block inside %s", json_string_value(vc));
        gd_arch_fail(a, spec, "cidr", cv, "cidr", allow, "%s is not inside vpc '%s' (%s)",
                     json_string_value(cv), vpcname, json_string_value(vc));
        return;
    }
    for (size_t j = 0; j < a->self; j++) {
        const json_t *q = json_array_get(a->resources, j);
        if (strcmp(str(q, "type"), "subnet") != 0) continue;
        json_t *qv = json_object_get(json_object_get(q, "spec"), "cidr");
        if (gd_cidr_parse(json_string_value(qv), t, &d) != 0 || !gd_cidr_overlaps(c, d)) continue;
        gd_arch_fail(a, spec, "cidr", cv, "cidr", "a block that overlaps no other subnet",
                     "%s overlaps subnet '%s' (%s)", json_string_value(cv), str(q, "name"),
                     json_string_value(qv));
    }
}

/* An alb's rules forward to "default" or to a target_group of the architecture; then
 * their grammar (src/model/rules.c); and a target group serves one load balancer, as in
 * AWS (TargetGroupAssociationLimit), reported at the later alb. */
static void alb_arch(gd_arch_check *a, const json_t *res)
{
    json_t *spec = json_object_get(res, "spec"), *rules = json_object_get(spec, "rules");
    const char *names[102];
    char allow[512];
    gd_schema_tg_names(a->resources, names, 102, allow, sizeof allow);
    size_t i;
    json_t *r;
    int bad = 0;
    json_array_foreach(rules, i, r)
    {
        const char *tg = gd_schema_rule_forward(r);
        if (!tg || !strcmp(tg, GD_SCHEMA_IMPLICIT_TG) ||
            gd_arch_find(a->resources, "target_group", tg))
            continue;
        json_t *action = json_object_get(r, "action");
        char fp[96];
        snprintf(fp, sizeof fp, "rules[%zu].action.target_group", i);
        gd_arch_fail(a, action, "target_group", json_object_get(action, "target_group"), fp, allow,
                     "no target_group named '%s'", tg);
        bad = 1;
    }
    char e[256];
    if (!bad && json_array_size(rules) && gd_rules_check(rules, names, e, sizeof e) < 0)
        gd_arch_fail(a, spec, "rules", rules, "rules",
                     "listener rules as doc/edge.md describes them", "%s", e);
    /* Only albs before this one count as owners: with the candidate last, that is every
     * other alb of the team. */
    json_t *before = json_array();
    for (size_t j = 0; j < a->self; j++) json_array_append(before, json_array_get(a->resources, j));
    static const char owned[] = "a target_group no other alb sends to";
    const char *name = str(res, "name"), *owner;
    json_t *d = json_object_get(spec, "default_target_group");
    if (json_is_string(d) && (owner = gd_schema_tg_owner(before, name, json_string_value(d), 0)))
        gd_arch_fail(a, spec, "default_target_group", d, "default_target_group", owned,
                     "target_group '%s' already serves alb '%s'", json_string_value(d), owner);
    json_array_foreach(rules, i, r)
    {
        const char *tg = gd_schema_rule_forward(r);
        if (!tg || !(owner = gd_schema_tg_owner(before, name, tg, 0))) continue;
        json_t *action = json_object_get(r, "action");
        char fp[96];
        snprintf(fp, sizeof fp, "rules[%zu].action.target_group", i);
        gd_arch_fail(a, action, "target_group", json_object_get(action, "target_group"), fp, owned,
                     "target_group '%s' already serves alb '%s'", tg, owner);
    }
    json_decref(before);
}

/* ---- what blocks a delete, beyond reference fields ------------------------------------ */

/* An alb's rules name target groups inside their actions. */
static int alb_depends(const json_t *res, const json_t *on)
{
    if (strcmp(str(on, "type"), "target_group") != 0) return 0;
    json_t *used = gd_schema_alb_groups(json_object_get(res, "spec"));
    size_t i;
    json_t *x;
    int dep = 0;
    json_array_foreach(used, i, x) dep |= !strcmp(json_string_value(x), str(on, "name"));
    json_decref(used);
    return dep;
}

/* A terminated instance blocks nothing; one launched by a group sits in its subnet
 * without naming it. */
static int instance_depends(const json_t *res, const json_t *on)
{
    const json_t *st = json_object_get(res, "status");
    if (gd_inst_state_of(st) == GD_INST_TERMINATED) return -1;
    return !strcmp(str(on, "type"), "subnet") && !strcmp(str(st, "subnet"), str(on, "name"));
}

/* ---- security groups ------------------------------------------------------------------ */

static void sg_cross(gd_spec_check *x, json_t *spec)
{
    json_t *rules = json_object_get(spec, "ingress");
    if (gd_spec_is_bad(x, "ingress")) return;
    size_t i;
    json_t *r;
    static const char *allow = "{from: \"CIDR\"} or {source_group: NAME}, and port 0..65535 "
                               "(0 or absent: every port)";
    json_array_foreach(rules, i, r)
    {
        char fp[48];
        snprintf(fp, sizeof fp, "ingress[%zu]", i);
        if (!json_is_object(r)) {
            gd_spec_fail(x, rules, NULL, r, fp, allow, "not a mapping");
            continue;
        }
        const char *k;
        json_t *v;
        int bad = 0;
        json_object_foreach(r, k, v) bad |=
            strcmp(k, "from") && strcmp(k, "source_group") && strcmp(k, "port");
        json_t *from = json_object_get(r, "from"), *sg = json_object_get(r, "source_group"),
               *port = json_object_get(r, "port");
        gd_cidr c;
        if (bad)
            gd_spec_fail(x, rules, NULL, r, fp, allow, "an unknown key");
        else if ((from != NULL) == (sg != NULL))
            gd_spec_fail(x, rules, NULL, r, fp, allow, "give from or source_group, one of them");
        else if (from &&
                 (!json_is_string(from) || gd_cidr_parse(json_string_value(from), 1, &c) != 0))
            gd_spec_fail(x, r, "from", from, fp, "a block like 0.0.0.0/0 or 127.T.0.0/16",
                         "not a CIDR block");
        else if (sg && !json_is_string(sg))
            gd_spec_fail(x, r, "source_group", sg, fp, "the name of a security group",
                         "not a name");
        else if (port && (!json_is_integer(port) || json_integer_value(port) < 0 ||
                          json_integer_value(port) > 65535))
            gd_spec_fail(x, r, "port", port, fp, "0..65535 (0: every port)", "not a port");
    }
}

/* A rule's source_group is a security group of the architecture. */
static void sg_arch(gd_arch_check *a, const json_t *res)
{
    json_t *spec = json_object_get(res, "spec"), *rules = json_object_get(spec, "ingress");
    size_t i;
    json_t *r;
    json_array_foreach(rules, i, r)
    {
        const char *sg = json_string_value(json_object_get(r, "source_group"));
        if (!sg || gd_arch_find(a->resources, "security_group", sg)) continue;
        char fp[48], allow[256];
        snprintf(fp, sizeof fp, "ingress[%zu].source_group", i);
        gd_arch_names(a->resources, "security_group", allow, sizeof allow);
        gd_arch_fail(a, r, "source_group", json_object_get(r, "source_group"), fp, allow,
                     "no security_group named '%s'", sg);
    }
}

/* ---- experiment templates ------------------------------------------------------------- */

/* Its stop conditions name alarms, its probes resources, of the same architecture. */
static void fis_template_arch(gd_arch_check *a, const json_t *res)
{
    json_t *spec = json_object_get(res, "spec");
    json_t *stops = json_object_get(spec, "stopConditions");
    size_t i;
    json_t *c;
    char fp[96], allow[256];
    json_array_foreach(stops, i, c)
    {
        const char *alarm = json_string_value(json_object_get(c, "value"));
        if (!alarm || gd_arch_find(a->resources, "alarm", alarm)) continue;
        snprintf(fp, sizeof fp, "stopConditions[%zu].value", i);
        gd_arch_names(a->resources, "alarm", allow, sizeof allow);
        gd_arch_fail(a, c, "value", json_object_get(c, "value"), fp, allow, "no alarm named '%s'",
                     alarm);
    }
    json_t *probes = json_object_get(json_object_get(spec, "steadyStateHypothesis"), "probes");
    json_array_foreach(probes, i, c)
    {
        const char *r = json_string_value(json_object_get(c, "resource"));
        if (!r || gd_arch_find(a->resources, "any", r)) continue;
        snprintf(fp, sizeof fp, "steadyStateHypothesis.probes[%zu].resource", i);
        gd_arch_fail(a, c, "resource", json_object_get(c, "resource"), fp,
                     "a resource of the architecture", "no resource named '%s'", r);
    }
}

/* ---- dns records ---------------------------------------------------------------------- */

/* A record's name in the zone: "@", or a relative DNS name (no final dot). */
static int record_name_ok(const char *s)
{
    char n[GD_DNS_NAME_MAX + 1];
    size_t l = s ? strlen(s) : 0;
    return l && (!strcmp(s, "@") ||
                 (l <= 200 && s[l - 1] != '.' && gd_dns_name_norm(s, l, n, sizeof n) >= 0));
}

static void dns_record_cross(gd_spec_check *x, json_t *spec)
{
    json_t *rec = json_object_get(spec, "record"), *vals = json_object_get(spec, "values");
    json_t *alias = json_object_get(spec, "alias"), *ty = json_object_get(spec, "type");
    const char *type = json_string_value(ty) ? json_string_value(ty) : "A";
    if (rec && !gd_spec_is_bad(x, "record") && !record_name_ok(json_string_value(rec)))
        gd_spec_fail(x, spec, "record", rec, "record",
                     "\"@\" (the zone's apex) or a name in the zone like \"www\" or \"api.v2\"",
                     "not a name in the zone");
    if (gd_spec_is_bad(x, "values") || gd_spec_is_bad(x, "alias") || gd_spec_is_bad(x, "type"))
        return;
    size_t n = json_array_size(vals);
    if ((n > 0) == (alias != NULL)) {
        gd_spec_fail(
            x, spec, alias ? "alias" : "values", alias ? alias : vals, alias ? "alias" : "values",
            "values (addresses or one name) or alias, not both",
            alias ? "a record has values or an alias, not both" : "no values and no alias");
        return;
    }
    if (alias && strcmp(type, "A") != 0) {
        gd_spec_fail(x, spec, "alias", alias, "alias", "an alias on an A record",
                     "an alias answers an address: the record's type must be A");
        return;
    }
    if (!strcmp(type, "CNAME") && n != 1) {
        gd_spec_fail(x, spec, "values", vals, "values", "exactly one name",
                     "a CNAME has one target, not %zu", n);
        return;
    }
    size_t i;
    json_t *v;
    json_array_foreach(vals, i, v)
    {
        const char *s = json_string_value(v);
        char fp[32];
        snprintf(fp, sizeof fp, "values[%zu]", i);
        gd_cidr c;
        char with[64];
        snprintf(with, sizeof with, "%s/32", s ? s : "");
        if (!strcmp(type, "A") && (!s || gd_cidr_parse(with, 1, &c) != 0))
            gd_spec_fail(x, vals, NULL, v, fp, "an address of the team's range, like 127.T.1.4",
                         "not an IPv4 address");
        else if (!strcmp(type, "AAAA") && (!s || strcmp(s, "::1") != 0))
            gd_spec_fail(x, vals, NULL, v, fp, "::1 (the one IPv6 loopback address)",
                         "not an address customers can reach");
        else if (!strcmp(type, "CNAME") && !record_name_ok(s))
            gd_spec_fail(x, vals, NULL, v, fp,
                         "a name in the team's zone, relative (\"www\") like record",
                         "not a name in the zone");
    }
}

/* An A record's addresses are the team's own: customers must never be sent to another
 * team's instances. */
static void dns_record_arch(gd_arch_check *a, const json_t *res)
{
    json_t *spec = json_object_get(res, "spec"), *vals = json_object_get(spec, "values");
    json_t *ty = json_object_get(spec, "type");
    if (json_is_string(ty) && strcmp(json_string_value(ty), "A") != 0) return;
    int t = a->team ? a->team : 1;
    gd_cidr team = {.base = 0x7f000000u | ((uint32_t)t << 16), .prefix = 16}, c;
    size_t i;
    json_t *v;
    json_array_foreach(vals, i, v)
    {
        char with[64], own[24], fp[32], allow[96];
        snprintf(with, sizeof with, "%s/32", json_string_value(v) ? json_string_value(v) : "");
        if (gd_cidr_parse(with, t, &c) != 0 || !a->team || gd_cidr_contains(team, c)) continue;
        snprintf(fp, sizeof fp, "values[%zu]", i);
        snprintf(allow, sizeof allow, "an address inside %s (this team's range)",
                 gd_cidr_format(team, own));
        gd_arch_fail(a, vals, NULL, v, fp, allow, "%s is outside this team's range",
                     json_string_value(v));
    }
}

/* ---- alarms and scaling policies ---------------------------------------------------- */

static void alarm_cross(gd_spec_check *x, json_t *spec)
{
    json_t *st = json_object_get(spec, "statistic");
    gd_stat stat;
    if (!gd_spec_is_bad(x, "statistic") && json_is_string(st) &&
        gd_stat_parse(json_string_value(st), &stat) < 0)
        gd_spec_fail(x, spec, "statistic", st, "statistic", GD_STAT_ALLOWED,
                     "%s is not a statistic", json_string_value(st));
    long long n = 0, m = 0;
    if (!gd_spec_is_bad(x, "evaluation_periods") && int_field(spec, "evaluation_periods", &n) &&
        !gd_spec_is_bad(x, "datapoints_to_alarm") && int_field(spec, "datapoints_to_alarm", &m) &&
        m > n) {
        char allow[32];
        snprintf(allow, sizeof allow, "1..%lld", n);
        gd_spec_fail(x, spec, "datapoints_to_alarm", json_object_get(spec, "datapoints_to_alarm"),
                     "datapoints_to_alarm", allow, "%lld is more than evaluation_periods (%lld)", m,
                     n);
    }
}

/* What each policy type needs, and the shape of each step adjustment. */
static void policy_cross(gd_spec_check *x, json_t *spec)
{
    json_t *asg = json_object_get(spec, "asg"), *svc = json_object_get(spec, "ecs_service");
    if (!asg == !svc && !gd_spec_is_bad(x, "asg") && !gd_spec_is_bad(x, "ecs_service"))
        gd_spec_fail(x, spec, asg ? "ecs_service" : "asg", asg ? svc : NULL,
                     asg ? "ecs_service" : "asg", "an asg, or an ecs_service",
                     asg ? "give asg or ecs_service, not both" : "missing (or give ecs_service)");
    const char *m = str(spec, "metric");
    if (*m && !gd_spec_is_bad(x, "metric") && strcmp(m, "ALBRequestCountPerTarget") != 0 &&
        (svc != NULL) != !strcmp(m, "ECSServiceAverageCPUUtilization"))
        gd_spec_fail(x, spec, "metric", json_object_get(spec, "metric"), "metric",
                     svc ? "ECSServiceAverageCPUUtilization, ALBRequestCountPerTarget (with "
                           "ecs_service)"
                         : "ASGAverageCPUUtilization, ALBRequestCountPerTarget (with asg)",
                     "not a metric of %s", svc ? "an ecs_service" : "an asg");
    json_t *mn = json_object_get(spec, "min_capacity"), *mx = json_object_get(spec, "max_capacity");
    if ((mn || mx) && !svc && !gd_spec_is_bad(x, "min_capacity"))
        gd_spec_fail(x, spec, mn ? "min_capacity" : "max_capacity", mn ? mn : mx,
                     mn ? "min_capacity" : "max_capacity",
                     "only with ecs_service (an asg has min and max)",
                     "an asg's policy takes its group's min and max");
    if (svc && json_is_integer(mn) && json_is_integer(mx) &&
        json_integer_value(mn) > json_integer_value(mx))
        gd_spec_fail(x, spec, "min_capacity", mn, "min_capacity", "min_capacity <= max_capacity",
                     "above max_capacity");
    const char *type = str(spec, "policy_type");
    const char *need = !strcmp(type, "SimpleScaling")           ? "scaling_adjustment"
                       : !strcmp(type, "TargetTrackingScaling") ? "metric"
                                                                : NULL;
    if (need && !gd_spec_is_bad(x, "policy_type") && !json_object_get(spec, need))
        gd_spec_fail(x, spec, need, NULL, need, "see doc/resources.md", "missing (a %s needs it)",
                     type);
    if (!strcmp(type, "TargetTrackingScaling") && !json_object_get(spec, "target_value"))
        gd_spec_fail(x, spec, "target_value", NULL, "target_value", "a number above 0",
                     "missing (a TargetTrackingScaling needs it)");
    json_t *steps = json_object_get(spec, "step_adjustments");
    if (!strcmp(type, "StepScaling") && json_array_size(steps) == 0 &&
        !gd_spec_is_bad(x, "step_adjustments"))
        gd_spec_fail(x, spec, "step_adjustments", steps, "step_adjustments",
                     "[{lower, upper, adjustment}, ...]", "a StepScaling needs at least one step");
    size_t i;
    json_t *st;
    json_array_foreach(steps, i, st)
    {
        char fp[48];
        snprintf(fp, sizeof fp, "step_adjustments[%zu]", i);
        const char *k;
        json_t *v;
        int bad = !json_is_object(st) || !json_is_integer(json_object_get(st, "adjustment"));
        json_object_foreach(st, k, v) bad |=
            strcmp(k, "lower") && strcmp(k, "upper") && strcmp(k, "adjustment");
        json_object_foreach(st, k, v) bad |= !json_is_number(v);
        if (bad)
            gd_spec_fail(x, steps, NULL, st, fp, "{lower: N, upper: N, adjustment: N}",
                         "not a step adjustment (adjustment an integer; lower, upper numbers, "
                         "either may be left out for no bound)");
    }
}

/* Exactly one of at and recurrence; a valid recurrence; something to set, within
 * itself (min <= desired <= max where given). */
static void sched_cross(gd_spec_check *x, json_t *spec)
{
    json_t *at = json_object_get(spec, "at"), *rec = json_object_get(spec, "recurrence");
    if (!at == !rec && !gd_spec_is_bad(x, "at") && !gd_spec_is_bad(x, "recurrence"))
        gd_spec_fail(x, spec, at ? "recurrence" : "at", at ? rec : NULL, at ? "recurrence" : "at",
                     "at: a game time, or recurrence: a cron line",
                     at ? "give at or recurrence, not both" : "missing (or give recurrence)");
    char err[128];
    gd_cron c;
    if (json_is_string(rec) && !gd_spec_is_bad(x, "recurrence") &&
        gd_cron_parse(json_string_value(rec), &c, err, sizeof err) < 0)
        gd_spec_fail(x, spec, "recurrence", rec, "recurrence",
                     "minute hour * * * in game time, e.g. \"0 */1 * * *\"", "%s", err);
    long long d = -1, mn = -1, mx = -1;
    int hd = int_field(spec, "desired", &d), hmin = int_field(spec, "min", &mn),
        hmax = int_field(spec, "max", &mx);
    if (!hd && !hmin && !hmax && !gd_spec_is_bad(x, "desired"))
        gd_spec_fail(x, spec, "desired", NULL, "desired", "desired, min and/or max",
                     "missing (a scheduled action sets desired, min or max)");
    if ((hmin && hmax && mn > mx) || (hd && hmin && d < mn) || (hd && hmax && d > mx))
        gd_spec_fail(x, spec, "desired", json_object_get(spec, "desired"), "desired",
                     "min <= desired <= max", "the action's own min, desired and max disagree");
}

/* ---- the rows ------------------------------------------------------------------------ */

static const gd_ref subnet_refs[] = {{"vpc", "vpc"}, {NULL, NULL}};
static const gd_ref instance_refs[] = {{"launch_template", "launch_template"},
                                       {"subnet", "subnet"},
                                       {"security_groups", "security_group"},
                                       {NULL, NULL}};
static const gd_ref lt_refs[] = {{"security_groups", "security_group"},
                                 {"database", "db"},
                                 {"ecs_cluster", "cluster"},
                                 {NULL, NULL}};
static const gd_ref ecs_service_refs[] = {{"cluster", "cluster"},
                                          {"task_definition", "task_definition"},
                                          {"subnets", "subnet"},
                                          {"target_groups", "target_group"},
                                          {NULL, NULL}};
static const gd_ref asg_refs[] = {{"launch_template", "launch_template"},
                                  {"subnets", "subnet"},
                                  {"load_balancers", "lb"},
                                  {"target_groups", "target_group"},
                                  {NULL, NULL}};
static const gd_ref clb_refs[] = {{"subnets", "subnet"},
                                  {"instances", "instance"},
                                  {"security_groups", "security_group"},
                                  {NULL, NULL}};
static const gd_ref alb_refs[] = {{"subnets", "subnet"},
                                  {"instances", "instance"},
                                  {"default_target_group", "target_group"},
                                  {"security_groups", "security_group"},
                                  {NULL, NULL}};
static const gd_ref tg_refs[] = {{"instances", "instance"}, {"function", "function"}, {NULL, NULL}};
static const gd_ref function_refs[] = {{"subnet", "subnet"}, {NULL, NULL}};
static const gd_ref cdn_refs[] = {{"origin", "lb"}, {NULL, NULL}};
static const gd_ref alarm_refs[] = {{"resource", "any"},
                                    {"alarm_actions", "scaling_policy"},
                                    {"ok_actions", "scaling_policy"},
                                    {NULL, NULL}};
static const gd_ref sched_refs[] = {{"asg", "asg"}, {NULL, NULL}};
static const gd_ref experiment_refs[] = {{"template", "experiment_template"}, {NULL, NULL}};
static const gd_ref dns_record_refs[] = {{"alias", "entry"}, {NULL, NULL}};
static const gd_ref eip_refs[] = {{"instance", "instance"}, {NULL, NULL}};
static const gd_ref cache_refs[] = {
    {"subnets", "subnet"}, {"security_groups", "security_group"}, {NULL, NULL}};
static const gd_ref db_refs[] = {
    {"subnets", "subnet"}, {"security_groups", "security_group"}, {NULL, NULL}};
static const gd_ref policy_refs[] = {
    {"asg", "asg"}, {"ecs_service", "ecs_service"}, {"target_group", "target_group"}, {NULL, NULL}};

/* Alarms and policies never block a delete: as in AWS, an alarm on a deleted resource
 * has no data, and a policy of a deleted group does nothing. */
static int never_blocks(const json_t *res, const json_t *on)
{
    (void)res;
    (void)on;
    return -1;
}

static const gd_rtype rows[] = {
    {.name = "vpc",
     .prefix = "vpc",
     .summary = "the team's network, 127.T.0.0/16",
     .fields = vpc_fields,
     .check_arch = vpc_arch},
    {.name = "subnet",
     .prefix = "subnet",
     .summary = "a block of the VPC in one availability zone; instances take its addresses",
     .fields = subnet_fields,
     .refs = subnet_refs,
     .check_arch = subnet_arch},
    {.name = "launch_template",
     .prefix = "lt",
     .summary = "what an instance runs: service or command, type, slots, service and boot time",
     .fields = lt_fields,
     .refs = lt_refs,
     .check_spec = lt_cross,
     .check_arch = lt_arch,
     .depends = lt_depends},
    {.name = "instance",
     .prefix = "i",
     .summary = "one server: a real process on its own address",
     .fields = instance_fields,
     .refs = instance_refs,
     .depends = instance_depends,
     .price = GD_PRICE_INSTANCE},
    {.name = "asg",
     .prefix = "asg",
     .summary = "an auto scaling group: keeps `desired` instances running in its subnets",
     .fields = asg_fields,
     .refs = asg_refs,
     .check_spec = asg_cross},
    {.name = "clb",
     .prefix = "lb",
     .summary = "a Classic Load Balancer: round robin over its instances",
     .flags = GD_RT_LB | GD_RT_ENTRY | GD_RT_EDGE,
     .fields = clb_fields,
     .refs = clb_refs,
     .check_spec = clb_cross,
     .price = GD_PRICE_HOURLY},
    {.name = "alb",
     .prefix = "alb",
     .summary = "an Application Load Balancer: listener rules, target groups, health, stickiness",
     .flags = GD_RT_LB | GD_RT_ENTRY | GD_RT_EDGE,
     .fields = alb_fields,
     .refs = alb_refs,
     .check_spec = group_cross,
     .check_arch = alb_arch,
     .depends = alb_depends,
     .price = GD_PRICE_HOURLY},
    {.name = "target_group",
     .prefix = "tg",
     .summary = "targets an alb's rules forward to, with their own health check",
     .fields = tg_fields,
     .refs = tg_refs,
     .check_spec = group_cross},
    {.name = "cdn",
     .prefix = "cdn",
     .summary = "a CDN distribution: a cache in front of a load balancer",
     .flags = GD_RT_ENTRY | GD_RT_EDGE,
     .fields = cdn_fields,
     .refs = cdn_refs,
     .price = GD_PRICE_REQUESTS},
    {.name = "alarm",
     .prefix = "alarm",
     .summary = "a CloudWatch alarm: a metric against a threshold, OK / ALARM / INSUFFICIENT_DATA",
     .fields = alarm_fields,
     .refs = alarm_refs,
     .check_spec = alarm_cross,
     .depends = never_blocks,
     .price = GD_PRICE_HOURLY},
    {.name = "scaling_policy",
     .prefix = "policy",
     .summary = "how an asg scales: simple or step (on alarms), or target tracking",
     .fields = policy_fields,
     .refs = policy_refs,
     .check_spec = policy_cross,
     .depends = never_blocks},
    {.name = "scheduled_action",
     .prefix = "sched",
     .summary = "sets an asg's desired, min or max at a game time, once or on a recurrence",
     .fields = sched_fields,
     .refs = sched_refs,
     .check_spec = sched_cross,
     .depends = never_blocks},
    {.name = "dns_record",
     .prefix = "rrset",
     .summary = "a Route 53 record set in the team's zone: A, AAAA, CNAME or an alias, with a TTL",
     .fields = dns_record_fields,
     .refs = dns_record_refs,
     .check_spec = dns_record_cross,
     .check_arch = dns_record_arch,
     .depends = never_blocks},
    {.name = "elastic_ip",
     .prefix = "eipalloc",
     .summary =
         "an Elastic IP: an address of the team's that reaches the instance it is associated with",
     .fields = eip_fields,
     .refs = eip_refs,
     .depends = never_blocks,
     .price = GD_PRICE_HOURLY},
    {.name = "security_group",
     .prefix = "sg",
     .summary =
         "a security group: the sources (blocks or other groups) that may connect to what names it",
     .fields = sg_fields,
     .check_spec = sg_cross,
     .check_arch = sg_arch},
    {.name = "reserved_instance",
     .prefix = "ri",
     .summary = "a Reserved Instance: instances of one type paid ahead, cheaper, used or not",
     .fields = ri_fields,
     .depends = never_blocks},
    {.name = "experiment_template",
     .prefix = "ext",
     .summary = "an FIS experiment template: targets, actions in order, stop conditions, a "
                "steady-state hypothesis",
     .fields = fis_template_fields,
     .check_spec = gd_fis_check_template,
     .check_arch = fis_template_arch},
    {.name = "experiment",
     .prefix = "exp",
     .summary = "one run of an experiment template (start_experiment makes it): its state, "
                "targets and actions",
     .flags = GD_RT_GAME,
     .fields = experiment_fields,
     .refs = experiment_refs,
     .depends = never_blocks},
    {.name = "deny_policy",
     .prefix = "deny",
     .summary = "a deny policy (like an SCP): what the CEO or Chaos Monkey may not do to which "
                "resources",
     .fields = deny_fields,
     .check_spec = deny_cross,
     .depends = never_blocks},
    {.name = "cache_cluster",
     .prefix = "cache",
     .summary = "ElastiCache for Redis: a primary and replicas (real redis-server processes) "
                "behind a primary and a reader endpoint, with automatic failover",
     .fields = gd_cache_fields,
     .refs = cache_refs,
     .check_spec = gd_cache_check_spec,
     .check_arch = gd_cache_check_arch,
     .depends = gd_cache_depends,
     .price = GD_PRICE_NODES,
     .price_size = "node_type",
     .price_unit = "node-hours"},
    {.name = "db",
     .prefix = "db",
     .summary = "an RDS for PostgreSQL database: real postgres processes, a primary, read "
                "replicas, a multi-AZ standby",
     .fields = gd_db_fields,
     .refs = db_refs,
     .check_spec = gd_db_check_spec,
     .check_arch = gd_db_check_arch,
     .price = GD_PRICE_NODES,
     .price_size = "instance_class",
     .price_unit = "instance-hours",
     .list_price = gd_dbclass_price},
    {.name = "cluster",
     .prefix = "cluster",
     .summary = "an ECS cluster: the container instances (an asg's, by its launch template's "
                "ecs_cluster) its services place tasks on",
     .fields = gd_ecs_cluster_fields},
    {.name = "task_definition",
     .prefix = "td",
     .summary = "what an ECS task runs: service, cpu units, memory, port, service time",
     .fields = gd_ecs_taskdef_fields},
    {.name = "ecs_service",
     .prefix = "svc",
     .summary = "an ECS service: keeps desired_count tasks running, bin-packed or spread on "
                "its cluster (EC2) or on Fargate, registered in target groups",
     .fields = gd_ecs_service_fields,
     .refs = ecs_service_refs,
     .check_arch = gd_ecs_service_check_arch},
    {.name = "task",
     .prefix = "task",
     .summary = "one ECS task (its service makes it): a real process on its own address",
     .flags = GD_RT_GAME,
     .fields = gd_ecs_task_fields,
     .depends = never_blocks,
     .price = GD_PRICE_TASK},
    {.name = "function",
     .prefix = "fn",
     .summary = "a Lambda function: each invocation runs in an execution environment (a real "
                "process, pooled), with cold starts, concurrency and throttles",
     .fields = function_fields,
     .refs = function_refs,
     .price = GD_PRICE_INVOCATIONS},
};
#define NROWS (sizeof rows / sizeof rows[0])

const gd_rtype *gd_registry_all(size_t *n)
{
    *n = NROWS;
    return rows;
}

const gd_rtype *gd_registry_find(const char *type)
{
    for (size_t i = 0; type && i < NROWS; i++)
        if (!strcmp(rows[i].name, type)) return &rows[i];
    return NULL;
}

int gd_registry_has(const char *type, unsigned flags)
{
    const gd_rtype *t = gd_registry_find(type);
    return t && (t->flags & flags) == flags;
}

size_t gd_registry_names(unsigned flags, const char **names, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < NROWS && n + 1 < max; i++)
        if ((rows[i].flags & flags) == flags) names[n++] = rows[i].name;
    if (max) names[n] = NULL;
    return n;
}
