/* CloudTrail (API version 2013-11-01, JSON 1.1): LookupEvents answered from the game's
 * audit trail, the same records the REST API's GET /api/v1/audit lists. Each record
 * is named as CloudTrail names the call (a CreateResource of a subnet is CreateSubnet
 * from ec2.amazonaws.com, an UpdateResource of an asg UpdateAutoScalingGroup from
 * autoscaling.amazonaws.com ...); Username is the record's principal. Read-only. */
#include "core/mem.h"
#include "server/audit.h"
#include "server/aws_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How far back one page looks: the store's most records per listing. */
#define LOOKBACK GD_AUDIT_MAX_ROWS

/* CloudTrail's name and source of our CreateResource, UpdateResource, DeleteResource
 * of each type. */
static const struct {
    const char *type, *create, *update, *del, *source, *aws_type;
} types[] = {
    {"vpc", "CreateVpc", "ModifyVpcAttribute", "DeleteVpc", "ec2", "AWS::EC2::VPC"},
    {"subnet", "CreateSubnet", "ModifySubnetAttribute", "DeleteSubnet", "ec2", "AWS::EC2::Subnet"},
    {"launch_template", "CreateLaunchTemplate", "CreateLaunchTemplateVersion",
     "DeleteLaunchTemplate", "ec2", "AWS::EC2::LaunchTemplate"},
    {"instance", "RunInstances", "ModifyInstanceAttribute", "TerminateInstances", "ec2",
     "AWS::EC2::Instance"},
    {"security_group", "CreateSecurityGroup", "ModifySecurityGroupRules", "DeleteSecurityGroup",
     "ec2", "AWS::EC2::SecurityGroup"},
    {"elastic_ip", "AllocateAddress", "AssociateAddress", "ReleaseAddress", "ec2", "AWS::EC2::EIP"},
    {"reserved_instance", "PurchaseReservedInstancesOffering", "ModifyReservedInstances",
     "DeleteReservedInstances", "ec2", "AWS::EC2::ReservedInstance"},
    {"asg", "CreateAutoScalingGroup", "UpdateAutoScalingGroup", "DeleteAutoScalingGroup",
     "autoscaling", "AWS::AutoScaling::AutoScalingGroup"},
    {"scaling_policy", "PutScalingPolicy", "PutScalingPolicy", "DeletePolicy", "autoscaling",
     "AWS::AutoScaling::ScalingPolicy"},
    {"scheduled_action", "PutScheduledUpdateGroupAction", "PutScheduledUpdateGroupAction",
     "DeleteScheduledAction", "autoscaling", "AWS::AutoScaling::ScheduledAction"},
    {"clb", "CreateLoadBalancer", "ModifyLoadBalancerAttributes", "DeleteLoadBalancer",
     "elasticloadbalancing", "AWS::ElasticLoadBalancing::LoadBalancer"},
    {"alb", "CreateLoadBalancer", "ModifyLoadBalancerAttributes", "DeleteLoadBalancer",
     "elasticloadbalancing", "AWS::ElasticLoadBalancingV2::LoadBalancer"},
    {"target_group", "CreateTargetGroup", "ModifyTargetGroup", "DeleteTargetGroup",
     "elasticloadbalancing", "AWS::ElasticLoadBalancingV2::TargetGroup"},
    {"cdn", "CreateDistribution", "UpdateDistribution", "DeleteDistribution", "cloudfront",
     "AWS::CloudFront::Distribution"},
    {"alarm", "PutMetricAlarm", "PutMetricAlarm", "DeleteAlarms", "monitoring",
     "AWS::CloudWatch::Alarm"},
    {"dns_record", "ChangeResourceRecordSets", "ChangeResourceRecordSets",
     "ChangeResourceRecordSets", "route53", "AWS::Route53::RecordSet"},
    {"experiment_template", "CreateExperimentTemplate", "UpdateExperimentTemplate",
     "DeleteExperimentTemplate", "fis", "AWS::FIS::ExperimentTemplate"},
    {"experiment", "StartExperiment", "StopExperiment", "DeleteExperiment", "fis",
     "AWS::FIS::Experiment"},
    {"deny_policy", "CreatePolicy", "UpdatePolicy", "DeletePolicy", "organizations",
     "AWS::Organizations::Policy"},
    {"db", "CreateDBInstance", "ModifyDBInstance", "DeleteDBInstance", "rds",
     "AWS::RDS::DBInstance"},
    {"cache_cluster", "CreateReplicationGroup", "ModifyReplicationGroup", "DeleteReplicationGroup",
     "elasticache", "AWS::ElastiCache::ReplicationGroup"},
    {"cluster", "CreateCluster", "UpdateCluster", "DeleteCluster", "ecs", "AWS::ECS::Cluster"},
    {"task_definition", "RegisterTaskDefinition", "RegisterTaskDefinition",
     "DeregisterTaskDefinition", "ecs", "AWS::ECS::TaskDefinition"},
    {"ecs_service", "CreateService", "UpdateService", "DeleteService", "ecs", "AWS::ECS::Service"},
};

/* Our other events' sources (their names are CloudTrail's already). */
static const struct {
    const char *event, *source;
} events[] = {
    {"RunInstances", "ec2"},
    {"TerminateInstances", "ec2"},
    {"StopInstances", "ec2"},
    {"StartInstances", "ec2"},
    {"InstanceStateChange", "ec2"},
    {"SpotInstanceInterruptionWarning", "ec2"},
    {"SetDesiredCapacity", "autoscaling"},
    {"DeregisterTargets", "elasticloadbalancing"},
    {"RegisterTargets", "elasticloadbalancing"},
    {"CreateListener", "elasticloadbalancing"},
    {"ModifyListener", "elasticloadbalancing"},
    {"CreateRule", "elasticloadbalancing"},
    {"DeleteRule", "elasticloadbalancing"},
    {"ModifyTargetGroupAttributes", "elasticloadbalancing"},
    {"CreateInvalidation", "cloudfront"},
    {"ChangeResourceRecordSets", "route53"},
    {"StartExperiment", "fis"},
    {"StopExperiment", "fis"},
    {"RebootDBInstance", "rds"},
    {"FailoverDBCluster", "rds"},
    {"TestFailover", "elasticache"},
    {"FailoverReplicationGroup", "elasticache"},
    {"RebootCacheNode", "elasticache"},
    {"RunTask", "ecs"},
    {"StopTask", "ecs"},
    {"TaskStateChange", "ecs"},
    {"UpdateService", "ecs"},
};

static int type_row(const char *type)
{
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(types[i].type, type)) return (int)i;
    return -1;
}

/* CloudTrail's eventName and eventSource ("ec2.amazonaws.com", into src, 64 bytes) of
 * an audit record. */
static const char *ct_name(const json_t *rec, char *src)
{
    const char *ev = gd_jstr(rec, "eventName");
    const json_t *res0 = json_array_get(json_object_get(rec, "resources"), 0);
    const char *type = gd_jstr(json_object_get(rec, "requestParameters"), "type");
    if (!*type) type = gd_jstr(res0, "type");
    int create = !strcmp(ev, "CreateResource"), update = !strcmp(ev, "UpdateResource"),
        del = !strcmp(ev, "DeleteResource");
    if (create || update || del) {
        int t = type_row(type);
        if (t >= 0) {
            snprintf(src, 64, "%s.amazonaws.com", types[t].source);
            return create ? types[t].create : update ? types[t].update : types[t].del;
        }
        snprintf(src, 64, "gameday");
        return ev;
    }
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++)
        if (!strcmp(events[i].event, ev)) {
            snprintf(src, 64, "%s.amazonaws.com", events[i].source);
            return ev;
        }
    snprintf(src, 64, "gameday");
    return ev;
}

/* The one eventName of ours whose records CloudTrail calls ct, for the store's filter;
 * NULL when several of ours may (ChangeResourceRecordSets is also a dns_record's
 * CreateResource ...): then every record is mapped and compared. */
static const char *our_event(const char *ct)
{
    const char *found = NULL;
    int n = 0;
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++)
        if (!strcmp(events[i].event, ct)) found = ct, n++;
    const char *kinds[3] = {"CreateResource", "UpdateResource", "DeleteResource"};
    for (int k = 0; k < 3; k++) {
        int hit = 0;
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
            const char *name = k == 0 ? types[i].create : k == 1 ? types[i].update : types[i].del;
            hit |= !strcmp(name, ct);
        }
        if (hit) found = kinds[k], n++;
    }
    return n == 1 ? found : NULL;
}

static const char *aws_type(const char *type)
{
    int t = type_row(type);
    return t >= 0 ? types[t].aws_type : type;
}

/* The access key of a principal of the team, or NULL for the game's own. */
static const char *key_of(gd_aws_call *k, const char *principal, char id[21])
{
    char secret[41], mine[32];
    snprintf(mine, sizeof mine, "team-%d", k->team);
    if (!strcmp(principal, mine))
        gd_aws_keys(k->g->internal_token, k->team, 0, id, secret);
    else if (!strcmp(principal, "admin"))
        gd_aws_keys(k->g->internal_token, k->team, 1, id, secret);
    else
        return NULL;
    return id;
}

static void event_id(const json_t *rec, char out[40])
{
    snprintf(out, 40, "%08x-0000-4000-8000-%012llx",
             (unsigned)json_integer_value(json_object_get(rec, "team")),
             (unsigned long long)json_integer_value(json_object_get(rec, "seq")));
}

/* One record as a LookupEvents event. A new object. */
static json_t *event_of(gd_aws_call *k, const json_t *rec)
{
    char src[64], id[40], key[21], account[16], arn[128], when[32];
    const char *name = ct_name(rec, src), *who = gd_jstr(rec, "principal");
    const char *akey = key_of(k, who, key);
    double wall = 0;
    gd_aws_parse_time(gd_jstr(rec, "eventWall"), &wall);
    event_id(rec, id);
    gd_aws_account(k->team, account);
    json_t *resources = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(rec, "resources"), i, r)
    {
        /* AWS names groups, alarms, policies and classic load balancers by name, the
         * rest by id. */
        const char *type = gd_jstr(r, "type"), *rid = gd_jstr(r, "id"), *rname = gd_jstr(r, "name");
        int by_name = !strcmp(type, "asg") || !strcmp(type, "alarm") || !strcmp(type, "clb") ||
                      !strcmp(type, "scaling_policy") || !strcmp(type, "scheduled_action");
        json_array_append_new(resources,
                              json_pack("{s:s,s:s}", "ResourceType", aws_type(type), "ResourceName",
                                        (by_name && *rname) || !*rid ? rname : rid));
    }
    int player = akey != NULL, service = !strcmp(who, "autoscaling") || !strcmp(who, "ec2") ||
                                         !strcmp(who, "ec2-spot") || !strcmp(who, "gameday");
    snprintf(arn, sizeof arn, "arn:aws:iam::%s:%s/%s", account,
             player    ? "user"
             : service ? "service"
                       : "role",
             who);
    json_t *identity =
        json_pack("{s:s,s:s,s:s,s:s,s:s}", "type",
                  player    ? "IAMUser"
                  : service ? "AWSService"
                            : "AssumedRole",
                  "principalId", who, "arn", arn, "accountId", account, "userName", who);
    if (akey) json_object_set_new(identity, "accessKeyId", json_string(akey));
    if (service) {
        char inv[64];
        snprintf(inv, sizeof inv, "%s.amazonaws.com",
                 !strcmp(who, "gameday")   ? "gameday"
                 : !strncmp(who, "ec2", 3) ? "ec2"
                                           : who);
        json_object_set_new(identity, "invokedBy", json_string(inv));
    }
    char iso[32];
    snprintf(iso, sizeof iso, "%.19sZ", gd_aws_iso(wall, when));
    json_t *ct = json_pack("{s:s,s:o,s:s,s:s,s:s,s:s,s:s,s:s,s:O?,s:O?,s:s,s:b,s:s,s:b,s:s,s:s}",
                           "eventVersion", "1.08", "userIdentity", identity, "eventTime", iso,
                           "eventSource", src, "eventName", name, "awsRegion", "us-east-1",
                           "sourceIPAddress", gd_jstr(rec, "sourceIP"), "userAgent", "gameday",
                           "requestParameters", json_object_get(rec, "requestParameters"),
                           "responseElements", json_object_get(rec, "responseElements"), "eventID",
                           id, "readOnly", 0, "eventType", "AwsApiCall", "managementEvent", 1,
                           "recipientAccountId", account, "eventCategory", "Management");
    if (*gd_jstr(rec, "errorCode")) {
        json_object_set(ct, "errorCode", json_object_get(rec, "errorCode"));
        json_t *msg = json_object_get(rec, "errorMessage");
        if (json_is_string(msg)) json_object_set(ct, "errorMessage", msg);
    }
    json_object_set_new(ct, "gameday",
                        json_pack("{s:O,s:s,s:O,s:O}", "seq", json_object_get(rec, "seq"),
                                  "eventName", gd_jstr(rec, "eventName"), "eventTime",
                                  json_object_get(rec, "eventTime"), "gameTime",
                                  json_object_get(rec, "gameTime")));
    char *text = json_dumps(ct, JSON_COMPACT);
    json_decref(ct);
    json_t *e = json_pack("{s:s,s:s,s:s,s:f,s:s,s:s,s:o,s:s}", "EventId", id, "EventName", name,
                          "ReadOnly", "false", "EventTime", wall, "EventSource", src, "Username",
                          who, "Resources", resources, "CloudTrailEvent", text ? text : "{}");
    if (akey) json_object_set_new(e, "AccessKeyId", json_string(akey));
    free(text);
    return e;
}

/* A time field: epoch seconds (a number, as botocore sends) or an ISO 8601 string. 0,
 * 1 when absent, -1 when malformed. */
static int time_field(const json_t *body, const char *key, double *wall)
{
    json_t *v = json_object_get(body, key);
    if (!v) return 1;
    if (json_is_number(v)) {
        *wall = json_number_value(v);
        return isfinite(*wall) ? 0 : -1;
    }
    return json_is_string(v) && gd_aws_parse_time(json_string_value(v), wall) == 0 ? 0 : -1;
}

static const char *const attribute_keys[] = {"EventId",     "EventName",    "ReadOnly",
                                             "Username",    "ResourceType", "ResourceName",
                                             "EventSource", "AccessKeyId",  NULL};

static void lookup_events(gd_aws_call *k)
{
    static const char *const fields[] = {
        "LookupAttributes", "StartTime", "EndTime", "EventCategory",
        "MaxResults",       "NextToken", NULL};
    const char *f;
    json_t *v;
    json_object_foreach(k->body, f, v)
    {
        int known = 0;
        for (int i = 0; fields[i]; i++) known |= !strcmp(fields[i], f);
        if (!known) {
            char allow[200];
            gd_join(fields, allow, sizeof allow);
            gd_aws_fail(k, 400, "InvalidParameterException",
                        "%.60s: not a parameter of LookupEvents (allowed: %s)", f, allow);
            return;
        }
    }
    json_t *attrs = json_object_get(k->body, "LookupAttributes");
    const char *akey = NULL, *aval = NULL;
    if (attrs && (!json_is_array(attrs) || json_array_size(attrs) > 1)) {
        gd_aws_fail(k, 400, "InvalidLookupAttributesException",
                    "LookupAttributes: a list of at most one {AttributeKey, AttributeValue}");
        return;
    }
    if (json_array_size(attrs)) {
        json_t *a = json_array_get(attrs, 0);
        akey = json_string_value(json_object_get(a, "AttributeKey"));
        aval = json_string_value(json_object_get(a, "AttributeValue"));
        int known = 0;
        for (int i = 0; akey && attribute_keys[i]; i++) known |= !strcmp(attribute_keys[i], akey);
        if (!known || !aval || !*aval || strlen(aval) > 2000) {
            char allow[200];
            gd_join(attribute_keys, allow, sizeof allow);
            gd_aws_fail(k, 400, "InvalidLookupAttributesException",
                        "LookupAttributes: AttributeKey must be one of %s and AttributeValue "
                        "1..2000 characters",
                        allow);
            return;
        }
    }
    double w0 = -INFINITY, w1 = INFINITY;
    int s0 = time_field(k->body, "StartTime", &w0), s1 = time_field(k->body, "EndTime", &w1);
    if (s0 < 0 || s1 < 0 || (s0 == 0 && s1 == 0 && w0 > w1)) {
        gd_aws_fail(k, 400, "InvalidTimeRangeException",
                    "StartTime and EndTime must be times (epoch seconds or ISO 8601), StartTime "
                    "not after EndTime");
        return;
    }
    json_t *cat = json_object_get(k->body, "EventCategory");
    if (cat && !(json_is_string(cat) && !strcmp(json_string_value(cat), "insight"))) {
        gd_aws_fail(k, 400, "InvalidEventCategoryException", "EventCategory: allowed: insight");
        return;
    }
    json_t *mr = json_object_get(k->body, "MaxResults");
    long max = 50;
    if (mr) {
        if (!json_is_integer(mr) || json_integer_value(mr) < 1 || json_integer_value(mr) > 50) {
            gd_aws_fail(k, 400, "InvalidMaxResultsException", "MaxResults: allowed 1..50");
            return;
        }
        max = (long)json_integer_value(mr);
    }
    json_t *nt = json_object_get(k->body, "NextToken");
    long long before = 0;
    if (nt) {
        const char *s = json_string_value(nt);
        char *end = NULL;
        before = s && !strncmp(s, "gd-before-", 10) ? strtoll(s + 10, &end, 10) : 0;
        if (before <= 0 || !end || *end) {
            gd_aws_fail(k, 400, "InvalidNextTokenException",
                        "NextToken: not a token this game gave");
            return;
        }
    }
    json_t *out = json_array();
    /* Insight events are not kept: none. */
    if (!cat && !(akey && !strcmp(akey, "ReadOnly") && !strcmp(aval, "true"))) {
        gd_audit_filter flt;
        gd_audit_filter_init(&flt);
        flt.team = k->team;
        flt.limit = -LOOKBACK;
        if (akey && !strcmp(akey, "Username")) flt.principal = aval;
        if (akey && !strcmp(akey, "ResourceName")) flt.resource = aval;
        if (akey && !strcmp(akey, "EventName")) flt.event = our_event(aval);
        if (s0 == 0) flt.from = gd_aws_game_of(k->g, w0);
        if (s1 == 0) flt.until = gd_aws_game_of(k->g, w1);
        if (before) { /* the page before record `before`: records up to its time */
            gd_audit_filter one;
            gd_audit_filter_init(&one);
            one.team = k->team;
            one.since = before - 1;
            one.limit = 1;
            json_t *r = gd_store_audit_find(k->g->db, &one);
            double t = gd_jnum(json_array_get(r, 0), "eventTime", INFINITY);
            if (t < flt.until) flt.until = nextafter(t, INFINITY);
            json_decref(r);
        }
        json_t *recs = gd_store_audit_find(k->g->db, &flt);
        if (!recs) {
            json_decref(out);
            gd_aws_fail(k, 500, "InternalError", "the audit trail could not be read");
            return;
        }
        long long last = 0;
        int more = 0;
        for (size_t i = json_array_size(recs); i-- > 0;) { /* newest first */
            json_t *rec = json_array_get(recs, i);
            long long seq = json_integer_value(json_object_get(rec, "seq"));
            if (before && seq >= before) continue;
            json_t *e = event_of(k, rec);
            int pass = 1;
            if (akey && !strcmp(akey, "EventName")) pass = !strcmp(gd_jstr(e, "EventName"), aval);
            if (akey && !strcmp(akey, "EventSource"))
                pass = !strcmp(gd_jstr(e, "EventSource"), aval);
            if (akey && !strcmp(akey, "EventId")) pass = !strcmp(gd_jstr(e, "EventId"), aval);
            if (akey && !strcmp(akey, "AccessKeyId"))
                pass = !strcmp(gd_jstr(e, "AccessKeyId"), aval);
            if (akey && !strcmp(akey, "ResourceType")) {
                pass = 0;
                size_t j;
                json_t *r;
                json_array_foreach(json_object_get(e, "Resources"), j, r) pass |=
                    !strcmp(gd_jstr(r, "ResourceType"), aval);
            }
            if (!pass) {
                json_decref(e);
                continue;
            }
            if ((long)json_array_size(out) == max) {
                json_decref(e);
                more = 1;
                break;
            }
            json_array_append_new(out, e);
            last = seq;
        }
        json_decref(recs);
        if (more) {
            char tok[40];
            snprintf(tok, sizeof tok, "gd-before-%lld", last);
            gd_aws_json_send(k, json_pack("{s:o,s:s}", "Events", out, "NextToken", tok));
            return;
        }
    }
    gd_aws_json_send(k, json_pack("{s:o}", "Events", out));
}

static const gd_aws_action actions[] = {
    {"LookupEvents", lookup_events},
};

const gd_aws_service gd_aws_cloudtrail = {
    .signing_name = "cloudtrail",
    .version = "2013-11-01",
    .protocol = GD_AWS_JSON,
    .target_prefix = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101",
    .actions = actions,
    .nactions = sizeof actions / sizeof actions[0],
};
