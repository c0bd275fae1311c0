/* ElastiCache (API version 2015-02-02, the query protocol) over the game's
 * `cache_cluster` resources (Redis replication groups of real redis-server processes,
 * server/cache_cluster.c): one ReplicationGroup per cluster with one node group, one
 * CacheCluster per node, subnet groups as RDS's (aws_rds.c). Every write is an
 * operation (gd_op_create/update/delete/action). */
#include "core/mem.h"
#include "server/aws_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REPLICAS 5

static int auto_failover(const json_t *spec)
{
    const json_t *af = json_object_get(spec, "automatic_failover");
    return af ? json_is_true(af) : json_is_true(json_object_get(spec, "multi_az"));
}

/* "127.1.2.3:6379" as an <tag><Address/><Port/></tag>. */
static void endpoint_xml(gd_xml *x, const char *tag, const char *ep)
{
    if (!ep || !*ep) return;
    const char *colon = strrchr(ep, ':');
    gd_xml_open(x, tag);
    gd_xml_textf(x, "Address", "%.*s", (int)(colon ? colon - ep : (long)strlen(ep)), ep);
    gd_xml_text(x, "Port", colon ? colon + 1 : "6379");
    gd_xml_close(x, tag);
}

static const char *group_status(const json_t *st)
{
    const char *s = gd_jstr(st, "state");
    return *s ? s : "creating";
}

static void group_xml(gd_aws_call *k, gd_xml *x, const json_t *cl, const char *status)
{
    const json_t *spec = json_object_get(cl, "spec"), *st = json_object_get(cl, "status");
    char account[16], arn[200], when[32], az[16];
    gd_aws_account(k->team, account);
    gd_xml_open(x, "ReplicationGroup");
    gd_xml_text(x, "ReplicationGroupId", gd_jstr(cl, "name"));
    gd_xml_text(x, "Description", gd_jstr(cl, "name"));
    gd_xml_text(x, "Status", status ? status : group_status(st));
    gd_xml_open(x, "MemberClusters");
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(st, "nodes"), i, n)
        gd_xml_text(x, "ClusterId", gd_jstr(n, "id"));
    gd_xml_close(x, "MemberClusters");
    gd_xml_open(x, "NodeGroups");
    gd_xml_open(x, "NodeGroup");
    gd_xml_text(x, "NodeGroupId", "0001");
    gd_xml_text(x, "Status", status ? status : group_status(st));
    endpoint_xml(x, "PrimaryEndpoint", gd_jstr(st, "primary_endpoint"));
    endpoint_xml(x, "ReaderEndpoint", gd_jstr(st, "reader_endpoint"));
    gd_xml_open(x, "NodeGroupMembers");
    json_array_foreach(json_object_get(st, "nodes"), i, n)
    {
        char ep[64];
        gd_xml_open(x, "NodeGroupMember");
        gd_xml_text(x, "CacheClusterId", gd_jstr(n, "id"));
        gd_xml_text(x, "CacheNodeId", "0001");
        snprintf(ep, sizeof ep, "%s:%d", gd_jstr(n, "ip"), (int)gd_jnum(n, "port", 6379));
        if (*gd_jstr(n, "ip")) endpoint_xml(x, "ReadEndpoint", ep);
        gd_xml_text(x, "PreferredAvailabilityZone", gd_aws_az(gd_jstr(n, "az"), az));
        gd_xml_text(x, "CurrentRole", gd_jstr(n, "role"));
        gd_xml_close(x, "NodeGroupMember");
    }
    gd_xml_close(x, "NodeGroupMembers");
    gd_xml_close(x, "NodeGroup");
    gd_xml_close(x, "NodeGroups");
    gd_xml_text(x, "AutomaticFailover", auto_failover(spec) ? "enabled" : "disabled");
    gd_xml_text(x, "MultiAZ",
                json_is_true(json_object_get(spec, "multi_az")) ? "enabled" : "disabled");
    gd_xml_text(x, "SnapshotRetentionLimit", "0");
    gd_xml_text(x, "ClusterEnabled", "false");
    gd_xml_text(x, "CacheNodeType", gd_jstr(spec, "node_type"));
    gd_xml_text(x, "AuthTokenEnabled",
                json_is_false(json_object_get(spec, "auth")) ? "false" : "true");
    gd_xml_text(x, "TransitEncryptionEnabled", "false");
    gd_xml_text(x, "AtRestEncryptionEnabled", "false");
    snprintf(arn, sizeof arn, "arn:aws:elasticache:us-east-1:%s:replicationgroup:%s", account,
             gd_jstr(cl, "name"));
    gd_xml_text(x, "ARN", arn);
    gd_xml_text(x, "ReplicationGroupCreateTime",
                gd_aws_iso(gd_aws_wall_of(k->g, gd_jnum(cl, "created", 0)), when));
    gd_xml_close(x, "ReplicationGroup");
}

/* An operation's refusal in ElastiCache's words. Frees r. */
static void fail_op(gd_aws_call *k, gd_op_result *r)
{
    const char *code = r->code ? r->code : "InternalFailure";
    int st = r->status == 403 ? 403 : r->status >= 500 ? 500 : 400;
    if (r->status == 404 || !strcmp(code, "ReplicationGroupNotFoundFault"))
        code = "ReplicationGroupNotFoundFault", st = 404;
    else if (!strcmp(code, "AlreadyExists"))
        code = "ReplicationGroupAlreadyExists";
    else if (!strcmp(code, "ValidationError"))
        code = strstr(r->message, "multi_az") || strstr(r->message, "automatic_failover")
                   ? "InvalidParameterCombination"
                   : "InvalidParameterValue";
    else if (!strcmp(code, "ConflictException") || !strcmp(code, "DependencyViolation"))
        code = "InvalidReplicationGroupState";
    gd_aws_fail(k, st, code, "%s", r->message[0] ? r->message : "the operation failed");
    gd_op_result_free(r);
}

static json_t *the_group(gd_aws_call *k, const char *id)
{
    if (!id || !*id) {
        gd_aws_fail(k, 400, "MissingParameter",
                    "The request must contain the parameter ReplicationGroupId");
        return NULL;
    }
    json_t *cl = gd_store_res_live(k->g->db, k->team, id, "cache_cluster");
    if (!cl)
        gd_aws_fail(k, 404, "ReplicationGroupNotFoundFault", "ReplicationGroup %.64s not found.",
                    id);
    return cl;
}

/* Answers <ReplicationGroup> of the team's cluster id (fresh from the store). */
static void send_group(gd_aws_call *k, const char *id, const char *status)
{
    json_t *cl = gd_store_res_live(k->g->db, k->team, id, "cache_cluster");
    gd_xml x;
    gd_aws_xml_begin(k, &x);
    if (cl) group_xml(k, &x, cl, status);
    gd_aws_xml_send(k, &x);
    json_decref(cl);
}

static int paging(gd_aws_call *k, long *max, long *start)
{
    return gd_aws_paging(k, "MaxRecords", 20, 100, 100, "InvalidParameterValue", "Marker",
                         "InvalidParameterValue", max, start);
}

static void describe_groups(gd_aws_call *k)
{
    long max, start;
    const char *id = gd_aws_param(&k->params, "ReplicationGroupId");
    if (paging(k, &max, &start) < 0 || gd_aws_unread(k) < 0) return;
    json_t *all = gd_store_res_list(k->g->db, k->team, "cache_cluster", 0);
    if (id && !gd_aws_find(all, "cache_cluster", id)) {
        gd_aws_fail(k, 404, "ReplicationGroupNotFoundFault", "ReplicationGroup %.64s not found.",
                    id);
        json_decref(all);
        return;
    }
    gd_xml x;
    gd_aws_xml_begin(k, &x);
    gd_xml_open(&x, "ReplicationGroups");
    long seen = 0, shown = 0;
    int more = 0;
    size_t i;
    json_t *r;
    json_array_foreach(all, i, r)
    {
        if (id && strcmp(gd_jstr(r, "name"), id) && strcmp(gd_jstr(r, "id"), id)) continue;
        if (seen++ < start) continue;
        if (shown == max) {
            more = 1;
            break;
        }
        shown++;
        group_xml(k, &x, r, NULL);
    }
    gd_xml_close(&x, "ReplicationGroups");
    if (more) {
        char tok[32];
        gd_xml_text(&x, "Marker", gd_aws_page_token(start + shown, tok));
    }
    json_decref(all);
    gd_aws_xml_send(k, &x);
}

static void describe_clusters(gd_aws_call *k)
{
    long max;
    long start;
    int info;
    char err[200];
    const char *id = gd_aws_param(&k->params, "CacheClusterId");
    if (gd_aws_param_bool(&k->params, "ShowCacheNodeInfo", 0, &info, err, sizeof err) < 0) {
        gd_aws_fail(k, 400, "InvalidParameterValue", "%s", err);
        return;
    }
    gd_aws_param(&k->params, "ShowCacheClustersNotInReplicationGroups"); /* all are in one */
    if (paging(k, &max, &start) < 0 || gd_aws_unread(k) < 0) return;
    json_t *all = gd_store_res_list(k->g->db, k->team, NULL, 0);
    gd_xml x;
    gd_aws_xml_begin(k, &x);
    gd_xml_open(&x, "CacheClusters");
    long seen = 0, shown = 0;
    int more = 0, found = 0;
    char account[16];
    gd_aws_account(k->team, account);
    size_t i, j;
    json_t *cl, *n;
    json_array_foreach(all, i, cl)
    {
        if (strcmp(gd_jstr(cl, "type"), "cache_cluster") != 0) continue;
        const json_t *spec = json_object_get(cl, "spec");
        json_array_foreach(json_object_get(json_object_get(cl, "status"), "nodes"), j, n)
        {
            if (id && strcmp(id, gd_jstr(n, "id")) != 0) continue;
            found = 1;
            if (seen++ < start) continue;
            if (shown == max) {
                more = 1;
                break;
            }
            shown++;
            char az[16], when[32], arn[200], ep[64];
            const char *state = gd_jstr(n, "state");
            double t = gd_jnum(n, "started_at", gd_jnum(cl, "created", 0));
            gd_xml_open(&x, "CacheCluster");
            gd_xml_text(&x, "CacheClusterId", gd_jstr(n, "id"));
            gd_xml_text(&x, "CacheNodeType", gd_jstr(spec, "node_type"));
            gd_xml_text(&x, "Engine", "redis");
            gd_xml_text(&x, "EngineVersion", "7.0");
            gd_xml_text(&x, "CacheClusterStatus", *state ? state : "creating");
            gd_xml_text(&x, "NumCacheNodes", "1");
            gd_xml_text(&x, "PreferredAvailabilityZone", gd_aws_az(gd_jstr(n, "az"), az));
            gd_xml_text(&x, "CacheClusterCreateTime", gd_aws_iso(gd_aws_wall_of(k->g, t), when));
            gd_xml_text(&x, "CacheSubnetGroupName", gd_jstr(cl, "name"));
            if (info) {
                gd_xml_open(&x, "CacheNodes");
                gd_xml_open(&x, "CacheNode");
                gd_xml_text(&x, "CacheNodeId", "0001");
                gd_xml_text(&x, "CacheNodeStatus", *state ? state : "creating");
                gd_xml_text(&x, "CacheNodeCreateTime", when);
                snprintf(ep, sizeof ep, "%s:%d", gd_jstr(n, "ip"), (int)gd_jnum(n, "port", 6379));
                endpoint_xml(&x, "Endpoint", ep);
                gd_xml_text(&x, "CustomerAvailabilityZone", az);
                gd_xml_close(&x, "CacheNode");
                gd_xml_close(&x, "CacheNodes");
            }
            gd_xml_open(&x, "SecurityGroups");
            size_t s;
            json_t *sg;
            json_array_foreach(json_object_get(spec, "security_groups"), s, sg)
            {
                gd_xml_open(&x, "member");
                gd_xml_text(&x, "SecurityGroupId",
                            gd_aws_id_of(all, "security_group", json_string_value(sg)));
                gd_xml_text(&x, "Status", "active");
                gd_xml_close(&x, "member");
            }
            gd_xml_close(&x, "SecurityGroups");
            gd_xml_text(&x, "ReplicationGroupId", gd_jstr(cl, "name"));
            gd_xml_text(&x, "AuthTokenEnabled",
                        json_is_false(json_object_get(spec, "auth")) ? "false" : "true");
            snprintf(arn, sizeof arn, "arn:aws:elasticache:us-east-1:%s:cluster:%s", account,
                     gd_jstr(n, "id"));
            gd_xml_text(&x, "ARN", arn);
            gd_xml_close(&x, "CacheCluster");
        }
        if (more) break;
    }
    gd_xml_close(&x, "CacheClusters");
    if (more) {
        char tok[32];
        gd_xml_text(&x, "Marker", gd_aws_page_token(start + shown, tok));
    }
    json_decref(all);
    if (id && !found) {
        gd_xml_free(&x);
        gd_aws_fail(k, 404, "CacheClusterNotFound", "CacheCluster %.64s not found.", id);
        return;
    }
    gd_aws_xml_send(k, &x);
}

static void describe_subnet_groups(gd_aws_call *k)
{
    long max, start;
    const char *want = gd_aws_param(&k->params, "CacheSubnetGroupName");
    if (paging(k, &max, &start) < 0 || gd_aws_unread(k) < 0) return;
    json_t *all = gd_store_res_list(k->g->db, k->team, NULL, 0);
    json_t *groups = gd_aws_subnet_group_names(all, "cache_cluster", want);
    size_t i;
    json_t *r;
    if (!groups) {
        gd_aws_fail(k, 400, "CacheSubnetGroupNotFoundFault",
                    "CacheSubnetGroup '%.64s' not found (this game's groups: 'default', every "
                    "subnet that is not public, and one per cache cluster, named after it)",
                    want);
        json_decref(all);
        return;
    }
    gd_xml x;
    gd_aws_xml_begin(k, &x);
    gd_xml_open(&x, "CacheSubnetGroups");
    long seen = 0, shown = 0;
    int more = 0;
    json_array_foreach(groups, i, r)
    {
        const char *name = json_string_value(r);
        if ((want && strcmp(want, name)) || seen++ < start) continue;
        if (shown == max) {
            more = 1;
            break;
        }
        shown++;
        json_t *names;
        gd_aws_subnet_group(all, name, &names);
        json_t *sn = gd_aws_find(all, "subnet", json_string_value(json_array_get(names, 0)));
        json_t *v = gd_aws_find(all, "vpc", gd_jstr(json_object_get(sn, "spec"), "vpc"));
        gd_xml_open(&x, "CacheSubnetGroup");
        gd_xml_text(&x, "CacheSubnetGroupName", name);
        gd_xml_text(&x, "CacheSubnetGroupDescription",
                    i == 0 ? "every subnet of the team that is not public"
                           : "the cache cluster's subnets");
        gd_xml_text(&x, "VpcId", gd_jstr(v, "id"));
        gd_aws_subnets_xml(&x, all, names, 0);
        gd_xml_close(&x, "CacheSubnetGroup");
        json_decref(names);
    }
    gd_xml_close(&x, "CacheSubnetGroups");
    if (more) {
        char tok[32];
        gd_xml_text(&x, "Marker", gd_aws_page_token(start + shown, tok));
    }
    json_decref(groups);
    json_decref(all);
    gd_aws_xml_send(k, &x);
}

/* MultiAZEnabled, AutomaticFailoverEnabled, CacheNodeType, SecurityGroupIds into spec;
 * 0, or -1 after answering. */
static int common_fields(gd_aws_call *k, const json_t *all, json_t *spec)
{
    static const struct {
        const char *param, *field;
    } bools[] = {{"MultiAZEnabled", "multi_az"},
                 {"AutomaticFailoverEnabled", "automatic_failover"}};
    char err[200];
    for (size_t i = 0; i < sizeof bools / sizeof bools[0]; i++) {
        int b;
        if (!gd_aws_param(&k->params, "%s", bools[i].param)) continue;
        if (gd_aws_param_bool(&k->params, bools[i].param, 0, &b, err, sizeof err) < 0) {
            gd_aws_fail(k, 400, "InvalidParameterValue", "%s", err);
            return -1;
        }
        json_object_set_new(spec, bools[i].field, json_boolean(b));
    }
    const char *type = gd_aws_param(&k->params, "CacheNodeType");
    if (type) json_object_set_new(spec, "node_type", json_string(type));
    json_t *sgs;
    if (gd_aws_security_groups(k, "SecurityGroupIds.SecurityGroupId", all, &sgs) < 0) return -1;
    if (sgs) json_object_set_new(spec, "security_groups", sgs);
    return 0;
}

static void create_group(gd_aws_call *k)
{
    char err[200];
    const char *id = gd_aws_param(&k->params, "ReplicationGroupId");
    const char *desc = gd_aws_param(&k->params, "ReplicationGroupDescription");
    const char *engine = gd_aws_param(&k->params, "Engine");
    const char *group = gd_aws_param(&k->params, "CacheSubnetGroupName");
    json_t *all = gd_store_res_list(k->g->db, k->team, NULL, 0);
    json_t *spec = json_object(), *tags = NULL, *subnets = NULL;
    long ncc = -1, rpg = -1, port;
    if (common_fields(k, all, spec) < 0 || gd_aws_tags(k, "Tags.Tag", &tags) < 0) goto out;
    if ((gd_aws_param(&k->params, "NumCacheClusters") &&
         gd_aws_param_int(&k->params, "NumCacheClusters", 1, 1 + MAX_REPLICAS, 1, &ncc, err,
                          sizeof err) < 0) ||
        (gd_aws_param(&k->params, "ReplicasPerNodeGroup") &&
         gd_aws_param_int(&k->params, "ReplicasPerNodeGroup", 0, MAX_REPLICAS, 0, &rpg, err,
                          sizeof err) < 0) ||
        gd_aws_param_int(&k->params, "Port", 1024, 65535, 6379, &port, err, sizeof err) < 0) {
        gd_aws_fail(k, 400, "InvalidParameterValue", "%s", err);
        goto out;
    }
    long ngroups;
    if (gd_aws_param_int(&k->params, "NumNodeGroups", 1, 1, 1, &ngroups, err, sizeof err) < 0) {
        gd_aws_fail(k, 400, "InvalidParameterValue",
                    "%s: a replication group of this game is Redis with cluster mode disabled "
                    "(one node group)",
                    err);
        goto out;
    }
    if (gd_aws_unread(k) < 0) goto out;
    if (!id || !*id) {
        gd_aws_fail(k, 400, "MissingParameter",
                    "The request must contain the parameter ReplicationGroupId");
        goto out;
    }
    if (!desc) {
        gd_aws_fail(k, 400, "MissingParameter",
                    "The request must contain the parameter ReplicationGroupDescription");
        goto out;
    }
    if (engine && strcmp(engine, "redis") != 0) {
        gd_aws_fail(k, 400, "InvalidParameterValue",
                    "Engine '%.32s' is not supported (this game's ElastiCache is Redis: redis)",
                    engine);
        goto out;
    }
    if (ncc >= 0 && rpg >= 0 && ncc != rpg + 1) {
        gd_aws_fail(k, 400, "InvalidParameterCombination",
                    "NumCacheClusters (%ld) and ReplicasPerNodeGroup (%ld) disagree: give one", ncc,
                    rpg);
        goto out;
    }
    if (gd_aws_subnet_group(all, group, &subnets) < 0) {
        gd_aws_fail(k, 400, "CacheSubnetGroupNotFoundFault",
                    "CacheSubnetGroup '%.64s' not found (allowed: default, or a cache cluster's "
                    "name: its subnets; see doc/aws.md)",
                    group);
        goto out;
    }
    if (!json_array_size(subnets)) {
        gd_aws_fail(k, 400, "InvalidParameterValue",
                    "the subnet group '%s' has no subnet: create a subnet that is not public",
                    group ? group : "default");
        goto out;
    }
    if (gd_aws_find(all, "cache_cluster", id)) {
        gd_aws_fail(k, 400, "ReplicationGroupAlreadyExists",
                    "Replication group %.64s already exists.", id);
        goto out;
    }
    json_object_set_new(spec, "subnets", subnets);
    subnets = NULL;
    long replicas = rpg >= 0 ? rpg : ncc >= 0 ? ncc - 1 : 0;
    json_object_set_new(spec, "replicas", json_integer(replicas));
    if (gd_aws_param(&k->params, "Port")) json_object_set_new(spec, "port", json_integer(port));
    if (tags) json_object_set_new(spec, "tags", tags), tags = NULL;
    gd_actor a = gd_aws_actor(k);
    gd_op_result r;
    json_t *body = json_pack("{s:s,s:s,s:O}", "type", "cache_cluster", "name", id, "spec", spec);
    gd_op_create(k->g, &a, body, &r);
    json_decref(body);
    if (r.code)
        fail_op(k, &r);
    else {
        gd_op_result_free(&r);
        send_group(k, id, NULL);
    }
out:
    json_decref(subnets);
    json_decref(tags);
    json_decref(spec);
    json_decref(all);
}

/* One UpdateResource of the team's cluster; answers its ReplicationGroup. Takes patch. */
static void update(gd_aws_call *k, const char *id, json_t *patch)
{
    gd_actor a = gd_aws_actor(k);
    gd_op_result r;
    json_t *body = json_pack("{s:o}", "spec", patch);
    gd_op_update(k->g, &a, id, body, &r);
    json_decref(body);
    if (r.code) {
        fail_op(k, &r);
        return;
    }
    gd_op_result_free(&r);
    send_group(k, id, NULL);
}

static void modify_group(gd_aws_call *k)
{
    char err[200] = "";
    int now;
    const char *id = gd_aws_param(&k->params, "ReplicationGroupId");
    json_t *all = gd_store_res_list(k->g->db, k->team, NULL, 0);
    json_t *patch = json_object();
    if (common_fields(k, all, patch) < 0) goto out;
    if (gd_aws_param_bool(&k->params, "ApplyImmediately", 1, &now, err, sizeof err) < 0) {
        gd_aws_fail(k, 400, "InvalidParameterValue", "%s", err);
        goto out;
    }
    if (gd_aws_unread(k) < 0) goto out;
    json_t *cl = the_group(k, id);
    if (!cl) goto out;
    /* as ElastiCache: turning Multi-AZ on turns automatic failover on with it, and off
     * while it stays on is refused by the model */
    if (json_is_true(json_object_get(patch, "multi_az")) &&
        !json_object_get(patch, "automatic_failover"))
        json_object_set_new(patch, "automatic_failover", json_true());
    json_decref(cl);
    update(k, id, patch);
    patch = NULL;
out:
    json_decref(patch);
    json_decref(all);
}

/* IncreaseReplicaCount (up) and DecreaseReplicaCount. */
static void replica_count(gd_aws_call *k, int up)
{
    char err[200];
    long n;
    int now;
    const char *id = gd_aws_param(&k->params, "ReplicationGroupId");
    const char *given = gd_aws_param(&k->params, "NewReplicaCount");
    if (gd_aws_param_int(&k->params, "NewReplicaCount", 0, MAX_REPLICAS, 0, &n, err, sizeof err) <
            0 ||
        gd_aws_param_bool(&k->params, "ApplyImmediately", 0, &now, err, sizeof err) < 0) {
        gd_aws_fail(k, 400, "InvalidParameterValue", "%s", err);
        return;
    }
    if (gd_aws_unread(k) < 0) return;
    if (!given) {
        gd_aws_fail(k, 400, "InvalidParameterValue",
                    "NewReplicaCount is required for a replication group with cluster mode "
                    "disabled");
        return;
    }
    if (!now) {
        gd_aws_fail(k, 400, "InvalidParameterValue",
                    "ApplyImmediately must be true: this game applies changes at once");
        return;
    }
    json_t *cl = the_group(k, id);
    if (!cl) return;
    long have = (long)gd_jnum(json_object_get(cl, "spec"), "replicas", 0);
    json_decref(cl);
    if (up ? n <= have : n >= have) {
        gd_aws_fail(k, 400, "InvalidParameterValue",
                    "NewReplicaCount %ld must be %s than the group's %ld replicas", n,
                    up ? "more" : "fewer", have);
        return;
    }
    update(k, id, json_pack("{s:I}", "replicas", (json_int_t)n));
}

static void increase_replicas(gd_aws_call *k)
{
    replica_count(k, 1);
}

static void decrease_replicas(gd_aws_call *k)
{
    replica_count(k, 0);
}

static void delete_group(gd_aws_call *k)
{
    char err[200];
    int retain;
    const char *id = gd_aws_param(&k->params, "ReplicationGroupId");
    if (gd_aws_param_bool(&k->params, "RetainPrimaryCluster", 0, &retain, err, sizeof err) < 0) {
        gd_aws_fail(k, 400, "InvalidParameterValue", "%s", err);
        return;
    }
    if (gd_aws_unread(k) < 0) return;
    if (retain) {
        gd_aws_fail(k, 400, "InvalidParameterCombination",
                    "RetainPrimaryCluster: the primary is a node of the group in this game and "
                    "goes with it");
        return;
    }
    json_t *cl = the_group(k, id);
    if (!cl) return;
    gd_actor a = gd_aws_actor(k);
    gd_op_result r;
    gd_op_delete(k->g, &a, gd_jstr(cl, "id"), &r);
    if (r.code) {
        fail_op(k, &r);
    } else {
        gd_op_result_free(&r);
        gd_xml x;
        gd_aws_xml_begin(k, &x);
        group_xml(k, &x, cl, "deleting");
        gd_aws_xml_send(k, &x);
    }
    json_decref(cl);
}

static void test_failover(gd_aws_call *k)
{
    const char *id = gd_aws_param(&k->params, "ReplicationGroupId");
    const char *ng = gd_aws_param(&k->params, "NodeGroupId");
    if (gd_aws_unread(k) < 0) return;
    if (!ng) {
        gd_aws_fail(k, 400, "MissingParameter",
                    "The request must contain the parameter NodeGroupId");
        return;
    }
    json_t *cl = the_group(k, id);
    if (!cl) return;
    json_decref(cl);
    if (strcmp(ng, "0001") != 0) {
        gd_aws_fail(k, 404, "NodeGroupNotFoundFault",
                    "NodeGroup %.32s not found (a replication group of this game has one: 0001)",
                    ng);
        return;
    }
    gd_actor a = gd_aws_actor(k);
    gd_op_result r;
    gd_op_action(k->g, &a, "failover", id, NULL, &r); /* audited, refused or not */
    if (r.code) {
        fail_op(k, &r);
        return;
    }
    gd_op_result_free(&r);
    send_group(k, id, NULL);
}

static const gd_aws_action actions[] = {
    {"CreateReplicationGroup", create_group},
    {"DecreaseReplicaCount", decrease_replicas},
    {"DeleteReplicationGroup", delete_group},
    {"DescribeCacheClusters", describe_clusters},
    {"DescribeCacheSubnetGroups", describe_subnet_groups},
    {"DescribeReplicationGroups", describe_groups},
    {"IncreaseReplicaCount", increase_replicas},
    {"ModifyReplicationGroup", modify_group},
    {"TestFailover", test_failover},
};

const gd_aws_service gd_aws_elasticache = {
    .signing_name = "elasticache",
    .version = "2015-02-02",
    .xmlns = "http://elasticache.amazonaws.com/doc/2015-02-02/",
    .protocol = GD_AWS_QUERY,
    .actions = actions,
    .nactions = sizeof actions / sizeof actions[0],
};
