/* RDS (API version 2014-10-31, the query protocol) over the game's `db` resources
 * (RDS for PostgreSQL as real postgres processes, server/db.c): one DBInstance per db,
 * its read replicas listed by their node ids, subnet groups derived from the team's
 * subnets. Every write is an operation (gd_op_create/update/delete/action). */
#include "core/mem.h"
#include "server/aws_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SGS 5
#define MAX_TAGS 50

/* ---- subnet groups (shared with aws_elasticache.c) ---- */

int gd_aws_subnet_group(const json_t *all, const char *group, json_t **names)
{
    *names = json_array();
    if (!group || !strcmp(group, "default")) {
        size_t i;
        json_t *r;
        json_array_foreach(all, i, r)
        {
            if (strcmp(gd_jstr(r, "type"), "subnet") != 0) continue;
            if (json_is_true(json_object_get(json_object_get(r, "spec"), "public"))) continue;
            json_array_append_new(*names, json_string(gd_jstr(r, "name")));
        }
        return 0;
    }
    json_t *r = gd_aws_find(all, "db", group);
    if (!r) r = gd_aws_find(all, "cache_cluster", group);
    if (!r) {
        json_decref(*names);
        *names = NULL;
        return -1;
    }
    json_array_extend(*names, json_object_get(json_object_get(r, "spec"), "subnets"));
    return 0;
}

void gd_aws_subnets_xml(gd_xml *x, const json_t *all, const json_t *names, int rds)
{
    gd_xml_open(x, "Subnets");
    size_t i;
    json_t *n;
    json_array_foreach(names, i, n)
    {
        json_t *sn = gd_aws_find(all, "subnet", json_string_value(n));
        char az[16];
        gd_xml_open(x, "Subnet");
        gd_xml_text(x, "SubnetIdentifier", gd_jstr(sn, "id"));
        gd_xml_open(x, "SubnetAvailabilityZone");
        gd_xml_text(x, "Name", gd_aws_az(gd_jstr(json_object_get(sn, "spec"), "az"), az));
        gd_xml_close(x, "SubnetAvailabilityZone");
        if (rds) gd_xml_text(x, "SubnetStatus", "Active");
        gd_xml_close(x, "Subnet");
    }
    gd_xml_close(x, "Subnets");
}

/* The VPC id of the first of names. */
static const char *vpc_of(const json_t *all, const json_t *names)
{
    json_t *sn = gd_aws_find(all, "subnet", json_string_value(json_array_get(names, 0)));
    json_t *v = gd_aws_find(all, "vpc", gd_jstr(json_object_get(sn, "spec"), "vpc"));
    return gd_jstr(v, "id");
}

int gd_aws_security_groups(gd_aws_call *k, const char *prefix, const json_t *all, json_t **names)
{
    const char *ids[MAX_SGS];
    char err[200];
    *names = NULL;
    int n = gd_aws_param_list(&k->params, prefix, ids, MAX_SGS, err, sizeof err);
    if (n < 0) {
        gd_aws_fail(k, 400, "InvalidParameterValue", "%s (at most %d security groups)", err,
                    MAX_SGS);
        return -1;
    }
    if (n == 0) return 0;
    *names = json_array();
    for (int i = 0; i < n; i++) {
        json_t *sg = gd_aws_find(all, "security_group", ids[i]);
        if (!sg) {
            gd_aws_fail(k, 400, "InvalidParameterValue",
                        "The security group '%.64s' does not exist in this team's VPC", ids[i]);
            json_decref(*names);
            *names = NULL;
            return -1;
        }
        json_array_append_new(*names, json_string(gd_jstr(sg, "name")));
    }
    return 0;
}

int gd_aws_tags(gd_aws_call *k, const char *prefix, json_t **tags)
{
    *tags = NULL;
    for (int i = 1;; i++) {
        const char *key = gd_aws_param(&k->params, "%s.%d.Key", prefix, i);
        const char *val = gd_aws_param(&k->params, "%s.%d.Value", prefix, i);
        if (!key) break;
        if (i > MAX_TAGS) {
            gd_aws_fail(k, 400, "InvalidParameterValue", "at most %d tags", MAX_TAGS);
            json_decref(*tags);
            *tags = NULL;
            return -1;
        }
        if (!*tags) *tags = json_object();
        json_object_set_new(*tags, key, json_string(val ? val : ""));
    }
    return 0;
}

void gd_aws_tags_xml(gd_xml *x, const char *tag, const json_t *tags)
{
    gd_xml_open(x, tag);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)tags, key, v)
    {
        gd_xml_open(x, "Tag");
        gd_xml_text(x, "Key", key);
        gd_xml_text(x, "Value", json_string_value(v) ? json_string_value(v) : "");
        gd_xml_close(x, "Tag");
    }
    gd_xml_close(x, tag);
}

/* ---- DBInstance ---- */

static const json_t *node_of(const json_t *db, const char *role)
{
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(json_object_get(db, "status"), "nodes"), i, n)
    {
        if (!strcmp(gd_jstr(n, "role"), role)) return n;
    }
    return NULL;
}

/* A db's DBInstance; status overrides its state when not NULL ("deleting"). */
static void instance_xml(gd_aws_call *k, gd_xml *x, const json_t *db, const json_t *all,
                         const char *status)
{
    const json_t *spec = json_object_get(db, "spec"), *st = json_object_get(db, "status");
    char account[16], arn[200], when[32], az[16], rid[64];
    const char *state = *gd_jstr(st, "state") ? gd_jstr(st, "state") : "creating";
    gd_aws_account(k->team, account);
    gd_xml_open(x, "DBInstance");
    gd_xml_text(x, "DBInstanceIdentifier", gd_jstr(db, "name"));
    gd_xml_text(x, "DBInstanceClass", gd_jstr(spec, "instance_class"));
    gd_xml_text(x, "Engine", "postgres");
    gd_xml_text(x, "DBInstanceStatus", status ? status : state);
    gd_xml_text(x, "MasterUsername", gd_jstr(spec, "username"));
    gd_xml_text(x, "DBName", gd_jstr(spec, "db_name"));
    if (*gd_jstr(st, "address")) {
        gd_xml_open(x, "Endpoint");
        gd_xml_text(x, "Address", gd_jstr(st, "address"));
        gd_xml_textf(x, "Port", "%d", (int)gd_jnum(spec, "port", 5432));
        gd_xml_textf(x, "HostedZoneId", "ZGAMEDAYTEAM%d", k->team);
        gd_xml_close(x, "Endpoint");
    }
    gd_xml_textf(x, "AllocatedStorage", "%d", (int)gd_jnum(spec, "storage_gb", 20));
    gd_xml_text(x, "InstanceCreateTime",
                gd_aws_iso(gd_aws_wall_of(k->g, gd_jnum(db, "created", 0)), when));
    gd_xml_text(x, "BackupRetentionPeriod", "0");
    gd_xml_open(x, "VpcSecurityGroups");
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(spec, "security_groups"), i, v)
    {
        gd_xml_open(x, "VpcSecurityGroupMembership");
        gd_xml_text(x, "VpcSecurityGroupId",
                    gd_aws_id_of(all, "security_group", json_string_value(v)));
        gd_xml_text(x, "Status", "active");
        gd_xml_close(x, "VpcSecurityGroupMembership");
    }
    gd_xml_close(x, "VpcSecurityGroups");
    const json_t *p = node_of(db, "primary"), *sb = node_of(db, "standby");
    if (p) gd_xml_text(x, "AvailabilityZone", gd_aws_az(gd_jstr(p, "az"), az));
    const json_t *subnets = json_object_get(spec, "subnets");
    gd_xml_open(x, "DBSubnetGroup");
    gd_xml_text(x, "DBSubnetGroupName", gd_jstr(db, "name"));
    gd_xml_text(x, "DBSubnetGroupDescription", "the db's subnets (spec.subnets)");
    gd_xml_text(x, "VpcId", vpc_of(all, subnets));
    gd_xml_text(x, "SubnetGroupStatus", "Complete");
    gd_aws_subnets_xml(x, all, subnets, 1);
    gd_xml_close(x, "DBSubnetGroup");
    gd_xml_text(x, "MultiAZ", json_is_true(json_object_get(spec, "multi_az")) ? "true" : "false");
    gd_xml_text(x, "EngineVersion", "15");
    gd_xml_text(x, "AutoMinorVersionUpgrade", "false");
    gd_xml_open(x, "ReadReplicaDBInstanceIdentifiers");
    json_array_foreach(json_object_get(st, "nodes"), i, v)
    {
        if (!strcmp(gd_jstr(v, "role"), "replica"))
            gd_xml_text(x, "ReadReplicaDBInstanceIdentifier", gd_jstr(v, "id"));
    }
    gd_xml_close(x, "ReadReplicaDBInstanceIdentifiers");
    gd_xml_text(x, "LicenseModel", "postgresql-license");
    if (sb) gd_xml_text(x, "SecondaryAvailabilityZone", gd_aws_az(gd_jstr(sb, "az"), az));
    gd_xml_text(x, "PubliclyAccessible", "false");
    gd_xml_text(x, "StorageType", "gp2");
    gd_xml_textf(x, "DbInstancePort", "%d", (int)gd_jnum(spec, "port", 5432));
    gd_xml_text(x, "StorageEncrypted", "false");
    snprintf(rid, sizeof rid, "%s", gd_jstr(db, "id"));
    for (char *c = rid; *c; c++) *c = (char)toupper((unsigned char)*c);
    gd_xml_text(x, "DbiResourceId", rid);
    snprintf(arn, sizeof arn, "arn:aws:rds:us-east-1:%s:db:%s", account, gd_jstr(db, "name"));
    gd_xml_text(x, "DBInstanceArn", arn);
    gd_xml_text(x, "DeletionProtection", "false");
    gd_aws_tags_xml(x, "TagList", json_object_get(spec, "tags"));
    gd_xml_close(x, "DBInstance");
}

/* An operation's refusal in RDS's words. Frees r. */
static void fail_op(gd_aws_call *k, gd_op_result *r)
{
    const char *code = r->code ? r->code : "InternalFailure";
    int st = r->status == 403 ? 403 : r->status >= 500 ? 500 : 400;
    if (r->status == 404)
        code = "DBInstanceNotFound", st = 404;
    else if (!strcmp(code, "AlreadyExists"))
        code = "DBInstanceAlreadyExists";
    else if (!strcmp(code, "ValidationError"))
        code = strstr(r->message, "multi_az") ? "InvalidParameterCombination"
                                              : "InvalidParameterValue";
    else if (!strcmp(code, "ConflictException") || !strcmp(code, "DependencyViolation"))
        code = "InvalidDBInstanceState";
    gd_aws_fail(k, st, code, "%s", r->message[0] ? r->message : "the operation failed");
    gd_op_result_free(r);
}

/* The team's db named by DBInstanceIdentifier (new reference), or NULL after answering. */
static json_t *the_db(gd_aws_call *k, const char *id)
{
    if (!id || !*id) {
        gd_aws_fail(k, 400, "MissingParameter",
                    "The request must contain the parameter DBInstanceIdentifier");
        return NULL;
    }
    json_t *db = gd_store_res_live(k->g->db, k->team, id, "db");
    if (!db) gd_aws_fail(k, 404, "DBInstanceNotFound", "DBInstance %.64s not found.", id);
    return db;
}

/* Answers <DBInstance> of the team's db id (fresh from the store). */
static void send_instance(gd_aws_call *k, const char *id, const char *status)
{
    json_t *all = gd_store_res_list(k->g->db, k->team, NULL, 0);
    json_t *db = gd_aws_find(all, "db", id);
    gd_xml x;
    gd_aws_xml_begin(k, &x);
    if (db) instance_xml(k, &x, db, all, status);
    gd_aws_xml_send(k, &x);
    json_decref(all);
}

static int paging(gd_aws_call *k, long *max, long *start)
{
    return gd_aws_paging(k, "MaxRecords", 20, 100, 100, "InvalidParameterValue", "Marker",
                         "InvalidParameterValue", max, start);
}

static void describe_instances(gd_aws_call *k)
{
    long max, start;
    const char *id = gd_aws_param(&k->params, "DBInstanceIdentifier");
    if (paging(k, &max, &start) < 0 || gd_aws_unread(k) < 0) return;
    json_t *all = gd_store_res_list(k->g->db, k->team, NULL, 0);
    if (id && !gd_aws_find(all, "db", id)) {
        gd_aws_fail(k, 404, "DBInstanceNotFound", "DBInstance %.64s not found.", id);
        json_decref(all);
        return;
    }
    gd_xml x;
    gd_aws_xml_begin(k, &x);
    gd_xml_open(&x, "DBInstances");
    long seen = 0, shown = 0;
    int more = 0;
    size_t i;
    json_t *r;
    json_array_foreach(all, i, r)
    {
        if (strcmp(gd_jstr(r, "type"), "db") != 0) continue;
        if (id && strcmp(gd_jstr(r, "name"), id) && strcmp(gd_jstr(r, "id"), id)) continue;
        if (seen++ < start) continue;
        if (shown == max) {
            more = 1;
            break;
        }
        shown++;
        instance_xml(k, &x, r, all, NULL);
    }
    gd_xml_close(&x, "DBInstances");
    if (more) {
        char tok[32];
        gd_xml_text(&x, "Marker", gd_aws_page_token(start + shown, tok));
    }
    json_decref(all);
    gd_aws_xml_send(k, &x);
}

static void describe_subnet_groups(gd_aws_call *k)
{
    long max, start;
    const char *want = gd_aws_param(&k->params, "DBSubnetGroupName");
    if (paging(k, &max, &start) < 0 || gd_aws_unread(k) < 0) return;
    json_t *all = gd_store_res_list(k->g->db, k->team, NULL, 0);
    json_t *groups = gd_aws_subnet_group_names(all, "db", want);
    size_t i;
    json_t *r;
    if (!groups) {
        gd_aws_fail(k, 404, "DBSubnetGroupNotFoundFault",
                    "DB Subnet group '%.64s' not found (this game's groups: 'default', every "
                    "subnet that is not public, and one per db, named after it)",
                    want);
        json_decref(all);
        return;
    }
    gd_xml x;
    gd_aws_xml_begin(k, &x);
    gd_xml_open(&x, "DBSubnetGroups");
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
        char account[16], arn[200];
        gd_xml_open(&x, "DBSubnetGroup");
        gd_xml_text(&x, "DBSubnetGroupName", name);
        gd_xml_text(&x, "DBSubnetGroupDescription",
                    i == 0 ? "every subnet of the team that is not public" : "the db's subnets");
        gd_xml_text(&x, "VpcId", vpc_of(all, names));
        gd_xml_text(&x, "SubnetGroupStatus", "Complete");
        gd_aws_subnets_xml(&x, all, names, 1);
        snprintf(arn, sizeof arn, "arn:aws:rds:us-east-1:%s:subgrp:%s",
                 gd_aws_account(k->team, account), name);
        gd_xml_text(&x, "DBSubnetGroupArn", arn);
        gd_xml_close(&x, "DBSubnetGroup");
        json_decref(names);
    }
    gd_xml_close(&x, "DBSubnetGroups");
    if (more) {
        char tok[32];
        gd_xml_text(&x, "Marker", gd_aws_page_token(start + shown, tok));
    }
    json_decref(groups);
    json_decref(all);
    gd_aws_xml_send(k, &x);
}

/* The spec fields every write may set: DBInstanceClass, AllocatedStorage, MultiAZ,
 * VpcSecurityGroupIds. 0, or -1 after answering. */
static int common_fields(gd_aws_call *k, const json_t *all, json_t *spec)
{
    char err[200];
    const char *cls = gd_aws_param(&k->params, "DBInstanceClass");
    if (cls) json_object_set_new(spec, "instance_class", json_string(cls));
    if (gd_aws_param(&k->params, "AllocatedStorage")) {
        long gb;
        if (gd_aws_param_int(&k->params, "AllocatedStorage", 20, 65536, 20, &gb, err, sizeof err) <
            0) {
            gd_aws_fail(k, 400, "InvalidParameterValue", "%s (GB)", err);
            return -1;
        }
        json_object_set_new(spec, "storage_gb", json_integer(gb));
    }
    if (gd_aws_param(&k->params, "MultiAZ")) {
        int b;
        if (gd_aws_param_bool(&k->params, "MultiAZ", 0, &b, err, sizeof err) < 0) {
            gd_aws_fail(k, 400, "InvalidParameterValue", "%s", err);
            return -1;
        }
        json_object_set_new(spec, "multi_az", json_boolean(b));
    }
    json_t *sgs;
    if (gd_aws_security_groups(k, "VpcSecurityGroupIds.VpcSecurityGroupId", all, &sgs) < 0)
        return -1;
    if (sgs) json_object_set_new(spec, "security_groups", sgs);
    return 0;
}

static void create_instance(gd_aws_call *k)
{
    char err[200];
    const char *id = gd_aws_param(&k->params, "DBInstanceIdentifier");
    const char *engine = gd_aws_param(&k->params, "Engine");
    const char *version = gd_aws_param(&k->params, "EngineVersion");
    const char *group = gd_aws_param(&k->params, "DBSubnetGroupName");
    const char *dbname = gd_aws_param(&k->params, "DBName");
    const char *user = gd_aws_param(&k->params, "MasterUsername");
    json_t *all = gd_store_res_list(k->g->db, k->team, NULL, 0);
    json_t *spec = json_object(), *tags = NULL, *subnets = NULL;
    long port;
    if (common_fields(k, all, spec) < 0 || gd_aws_tags(k, "Tags.Tag", &tags) < 0) goto out;
    if (gd_aws_param_int(&k->params, "Port", 1150, 65535, 5432, &port, err, sizeof err) < 0) {
        gd_aws_fail(k, 400, "InvalidParameterValue", "%s", err);
        goto out;
    }
    if (gd_aws_unread(k) < 0) goto out;
    const char *missing = !id                                        ? "DBInstanceIdentifier"
                          : !engine                                  ? "Engine"
                          : !json_object_get(spec, "instance_class") ? "DBInstanceClass"
                                                                     : NULL;
    if (missing) {
        gd_aws_fail(k, 400, "MissingParameter", "The request must contain the parameter %s",
                    missing);
        goto out;
    }
    if (strcmp(engine, "postgres") != 0) {
        gd_aws_fail(k, 400, "InvalidParameterValue",
                    "Invalid DB engine: %.32s (this game's RDS is PostgreSQL: postgres)", engine);
        goto out;
    }
    if (version && strcmp(version, "15") && strncmp(version, "15.", 3)) {
        gd_aws_fail(k, 400, "InvalidParameterCombination",
                    "Cannot find version %.32s for postgres (allowed: 15)", version);
        goto out;
    }
    if (gd_aws_subnet_group(all, group, &subnets) < 0) {
        gd_aws_fail(k, 404, "DBSubnetGroupNotFoundFault",
                    "DBSubnetGroup '%.64s' not found (allowed: default, or a db's name: its "
                    "subnets; see doc/aws.md)",
                    group);
        goto out;
    }
    if (!json_array_size(subnets)) {
        gd_aws_fail(k, 400, "InvalidParameterValue",
                    "the subnet group '%s' has no subnet: create a subnet that is not public",
                    group ? group : "default");
        goto out;
    }
    if (gd_aws_find(all, "db", id)) {
        gd_aws_fail(k, 400, "DBInstanceAlreadyExists", "DB instance already exists: %.64s", id);
        goto out;
    }
    json_object_set_new(spec, "subnets", subnets);
    subnets = NULL;
    if (gd_aws_param(&k->params, "Port")) json_object_set_new(spec, "port", json_integer(port));
    if (dbname) json_object_set_new(spec, "db_name", json_string(dbname));
    if (user) json_object_set_new(spec, "username", json_string(user));
    if (tags) json_object_set_new(spec, "tags", tags), tags = NULL;
    gd_actor a = gd_aws_actor(k);
    gd_op_result r;
    json_t *body = json_pack("{s:s,s:s,s:O}", "type", "db", "name", id, "spec", spec);
    gd_op_create(k->g, &a, body, &r);
    json_decref(body);
    if (r.code)
        fail_op(k, &r);
    else {
        gd_op_result_free(&r);
        send_instance(k, id, NULL);
    }
out:
    json_decref(subnets);
    json_decref(tags);
    json_decref(spec);
    json_decref(all);
}

/* One UpdateResource of the team's db; answers its DBInstance. Takes patch. */
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
    send_instance(k, id, NULL);
}

static void modify_instance(gd_aws_call *k)
{
    char err[200] = "";
    int now;
    const char *id = gd_aws_param(&k->params, "DBInstanceIdentifier");
    json_t *all = gd_store_res_list(k->g->db, k->team, NULL, 0);
    json_t *patch = json_object();
    if (common_fields(k, all, patch) < 0 ||
        gd_aws_param_bool(&k->params, "ApplyImmediately", 1, &now, err, sizeof err) < 0) {
        if (err[0] && !k->code[0]) gd_aws_fail(k, 400, "InvalidParameterValue", "%s", err);
        goto out;
    }
    if (gd_aws_unread(k) < 0) goto out;
    json_t *db = the_db(k, id);
    if (!db) goto out;
    json_decref(db);
    update(k, id, patch);
    patch = NULL;
out:
    json_decref(patch);
    json_decref(all);
}

static void create_read_replica(gd_aws_call *k)
{
    const char *id = gd_aws_param(&k->params, "DBInstanceIdentifier");
    const char *src = gd_aws_param(&k->params, "SourceDBInstanceIdentifier");
    if (gd_aws_unread(k) < 0) return;
    if (!id || !*id) {
        gd_aws_fail(k, 400, "MissingParameter",
                    "The request must contain the parameter DBInstanceIdentifier");
        return;
    }
    if (!src || !*src) {
        gd_aws_fail(k, 400, "MissingParameter",
                    "The request must contain the parameter SourceDBInstanceIdentifier");
        return;
    }
    json_t *db = gd_store_res_live(k->g->db, k->team, src, "db");
    if (!db) {
        gd_aws_fail(k, 404, "DBInstanceNotFound", "DBInstance %.64s not found.", src);
        return;
    }
    int n = (int)gd_jnum(json_object_get(db, "spec"), "read_replicas", 0);
    json_decref(db);
    json_t *patch = json_pack("{s:i}", "read_replicas", n + 1);
    gd_actor a = gd_aws_actor(k);
    gd_op_result r;
    json_t *body = json_pack("{s:o}", "spec", patch);
    gd_op_update(k->g, &a, src, body, &r);
    json_decref(body);
    if (r.code) {
        fail_op(k, &r);
        return;
    }
    gd_op_result_free(&r);
    /* The replica is a node of the source db: answered as AWS answers a new replica,
     * with the name asked for; DescribeDBInstances lists it by its node id in the
     * source's ReadReplicaDBInstanceIdentifiers. */
    json_t *all = gd_store_res_list(k->g->db, k->team, NULL, 0);
    json_t *s = gd_aws_find(all, "db", src);
    gd_xml x;
    gd_aws_xml_begin(k, &x);
    if (s) {
        const json_t *spec = json_object_get(s, "spec");
        char account[16], arn[200];
        gd_xml_open(&x, "DBInstance");
        gd_xml_text(&x, "DBInstanceIdentifier", id);
        gd_xml_text(&x, "DBInstanceClass", gd_jstr(spec, "instance_class"));
        gd_xml_text(&x, "Engine", "postgres");
        gd_xml_text(&x, "DBInstanceStatus", "creating");
        gd_xml_text(&x, "MultiAZ", "false");
        gd_xml_text(&x, "EngineVersion", "15");
        gd_xml_text(&x, "ReadReplicaSourceDBInstanceIdentifier", gd_jstr(s, "name"));
        snprintf(arn, sizeof arn, "arn:aws:rds:us-east-1:%s:db:%s",
                 gd_aws_account(k->team, account), id);
        gd_xml_text(&x, "DBInstanceArn", arn);
        gd_xml_close(&x, "DBInstance");
    }
    gd_aws_xml_send(k, &x);
    json_decref(all);
}

static void delete_instance(gd_aws_call *k)
{
    char err[200];
    int skip, backups;
    const char *id = gd_aws_param(&k->params, "DBInstanceIdentifier");
    const char *snap = gd_aws_param(&k->params, "FinalDBSnapshotIdentifier");
    if (gd_aws_param_bool(&k->params, "SkipFinalSnapshot", 0, &skip, err, sizeof err) < 0 ||
        gd_aws_param_bool(&k->params, "DeleteAutomatedBackups", 1, &backups, err, sizeof err) < 0) {
        gd_aws_fail(k, 400, "InvalidParameterValue", "%s", err);
        return;
    }
    if (gd_aws_unread(k) < 0) return;
    if (snap || !skip) {
        gd_aws_fail(k, 400, "InvalidParameterCombination",
                    "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is "
                    "specified; this game has no snapshots: give --skip-final-snapshot");
        return;
    }
    json_t *db = the_db(k, id);
    if (!db) return;
    json_t *all = gd_store_res_list(k->g->db, k->team, NULL, 0);
    gd_actor a = gd_aws_actor(k);
    gd_op_result r;
    gd_op_delete(k->g, &a, gd_jstr(db, "id"), &r);
    if (r.code) {
        fail_op(k, &r);
    } else {
        gd_op_result_free(&r);
        gd_xml x;
        gd_aws_xml_begin(k, &x);
        instance_xml(k, &x, db, all, "deleting");
        gd_aws_xml_send(k, &x);
    }
    json_decref(all);
    json_decref(db);
}

static void reboot_instance(gd_aws_call *k)
{
    char err[200];
    int force;
    const char *id = gd_aws_param(&k->params, "DBInstanceIdentifier");
    if (gd_aws_param_bool(&k->params, "ForceFailover", 0, &force, err, sizeof err) < 0) {
        gd_aws_fail(k, 400, "InvalidParameterValue", "%s", err);
        return;
    }
    if (gd_aws_unread(k) < 0) return;
    if (!id || !*id) {
        gd_aws_fail(k, 400, "MissingParameter",
                    "The request must contain the parameter DBInstanceIdentifier");
        return;
    }
    gd_actor a = gd_aws_actor(k);
    gd_op_result r;
    gd_op_action(k->g, &a, force ? "db_failover" : "reboot", id, NULL, &r); /* audited */
    if (r.code) {
        fail_op(k, &r);
        return;
    }
    gd_op_result_free(&r);
    send_instance(k, id, force ? "rebooting" : NULL);
}

static const gd_aws_action actions[] = {
    {"CreateDBInstance", create_instance},
    {"CreateDBInstanceReadReplica", create_read_replica},
    {"DeleteDBInstance", delete_instance},
    {"DescribeDBInstances", describe_instances},
    {"DescribeDBSubnetGroups", describe_subnet_groups},
    {"ModifyDBInstance", modify_instance},
    {"RebootDBInstance", reboot_instance},
};

const gd_aws_service gd_aws_rds = {
    .signing_name = "rds",
    .version = "2014-10-31",
    .xmlns = "http://rds.amazonaws.com/doc/2014-10-31/",
    .protocol = GD_AWS_QUERY,
    .actions = actions,
    .nactions = sizeof actions / sizeof actions[0],
};
