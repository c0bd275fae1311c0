/* The operations layer (see ops.h): create, update, delete and the actions, each
 * checked through the model's registry, written to the store and audited once. */
#include "server/ops.h"
#include "server/refresh.h"
#include "server/fis.h"

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "model/arch.h"
#include "model/registry.h"
#include "model/schema.h"
#include "model/state.h"
#include "server/cache_cluster.h"
#include "server/faults.h"
#include "server/invalidations.h"
#include "server/ecs.h"
#include "server/launcher_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int fail(gd_op_result *o, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(gd_op_result *o, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->message, sizeof o->message, fmt, ap);
    va_end(ap);
    o->status = status;
    o->code = code;
    gd_op_field_of(o->message, o->field, sizeof o->field);
    return status == 404   ? GD_ENOENT
           : status == 409 ? GD_EEXIST
           : status == 403 ? GD_EPERM
                           : GD_EINVAL;
}

static int ok(gd_op_result *o, int status, json_t *body)
{
    o->status = status;
    o->code = NULL;
    o->body = body;
    return 0;
}

const char *gd_op_field_of(const char *msg, char *buf, size_t n)
{
    size_t i = 0;
    while (msg[i] && (isalnum((unsigned char)msg[i]) || strchr("_.[]-", msg[i]))) i++;
    if (i == 0 || i >= n || msg[i] != ':' || msg[i + 1] != ' ') i = 0;
    memcpy(buf, msg, i);
    buf[i] = 0;
    return buf;
}

json_t *gd_op_answer(gd_op_result *r)
{
    json_t *j;
    if (!r->code) {
        j = r->body ? r->body : json_object();
    } else {
        j = json_pack("{s:{s:s,s:s}}", "error", "code", r->code, "message", r->message);
        if (r->errors) json_object_set_new(json_object_get(j, "error"), "errors", r->errors);
        if (r->field[0])
            json_object_set_new(json_object_get(j, "error"), "field", json_string(r->field));
        json_decref(r->body);
    }
    r->body = r->errors = NULL;
    return j;
}

void gd_op_result_free(gd_op_result *r)
{
    json_decref(r->body);
    json_decref(r->errors);
    r->body = r->errors = NULL;
}

/* Audits the outcome of one operation: the one record it leaves. Takes request. */
static void audit(gd_game *g, const gd_actor *who, const char *event, json_t *request,
                  const gd_op_result *o)
{
    json_t *resp = NULL;
    if (o->code && o->message[0])
        resp = json_pack("{s:s}", "message", o->message);
    else if (!o->code && o->body)
        resp = json_pack("{s:s?}", "id", json_string_value(json_object_get(o->body, "id")));
    gd_game_audit(g, who->team, who->principal, who->source_ip, event, request, resp, o->code);
}

/* Top-level fields of a request body: anything else is a ValidationError, not ignored. */
static int known_keys(const json_t *body, const char *const *allowed, gd_op_result *o)
{
    if (body && !json_is_object(body))
        return fail(o, 400, "ValidationError", "the body must be a JSON object");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)body, k, v)
    {
        int known = 0;
        for (int i = 0; allowed[i]; i++) known |= !strcmp(allowed[i], k);
        if (known) continue;
        char allow[160];
        gd_join(allowed, allow, sizeof allow);
        return fail(o, 400, "ValidationError", "%s: unknown field (allowed: %s)", k, allow);
    }
    return 0;
}

/* An API throttle an experiment injected refuses the team's own call (audited by the
 * caller as refused, ThrottlingException). 0, or the negative code with out filled. */
static int throttled(gd_game *g, const gd_actor *who, const char *event, gd_op_result *o)
{
    const char *code;
    char msg[256];
    if (who->trust != GD_TRUST_TEAM ||
        !gd_faults_refuse(g, who->team, 1, event, NULL, &code, msg, sizeof msg))
        return 0;
    return fail(o, 400, code, "%s", msg);
}

static int valid_name(const char *n)
{
    size_t l = strlen(n);
    if (l == 0 || l > 48) return 0;
    for (const char *p = n; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')) return 0;
    return 1;
}

static int team_octet(const gd_game *g, int team)
{
    return team + g->net - 1;
}

static int check_team(gd_game *g, const gd_actor *who, gd_op_result *o)
{
    if (who->team >= 1 && who->team <= g->nteams) return 0;
    return fail(o, 404, "NoSuchTeam", "no team %d in this game (teams: 1..%d)", who->team,
                g->nteams);
}

/* ---- protections: deny policies and termination protection ------------------------- */

static int in_list(const json_t *list, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) if (s && !strcmp(json_string_value(v), s)) return 1;
    return 0;
}

/* Deny policies, like an AWS service control policy: `event` (an audit event name) on
 * `target` (a resource's id or name, or a new resource's name) by a principal the
 * scenario lets a team deny is refused when a deny_policy of the team names the
 * principal, the event (or "*") and the resource by id or name (or "*"): 403
 * AccessDenied, which the caller audits. Physical losses are no one's decision. Cheap
 * for everyone else: no store access unless the principal is deniable. */
static int denied(gd_game *g, const gd_actor *who, const char *event, const char *target,
                  gd_op_result *o)
{
    if (who->physical || !gd_scenario_deniable(g->sc, who->principal)) return 0;
    json_t *pols = gd_store_res_list(g->db, who->team, "deny_policy", 0);
    json_t *res = json_array_size(pols) && target && *target
                      ? gd_store_res_get(g->db, who->team, target)
                      : NULL;
    const char *id = res ? gd_jstr(res, "id") : target, *name = res ? gd_jstr(res, "name") : target;
    int r = 0;
    size_t i;
    json_t *p;
    json_array_foreach(pols, i, p)
    {
        json_t *spec = json_object_get(p, "spec"), *rs = json_object_get(spec, "resources");
        if (!in_list(json_object_get(spec, "principals"), who->principal) ||
            !(in_list(json_object_get(spec, "actions"), "*") ||
              in_list(json_object_get(spec, "actions"), event)) ||
            !(in_list(rs, "*") || in_list(rs, id) || in_list(rs, name)))
            continue;
        gd_info("access_denied", "team=%d principal=%s event=%s target=%s policy=%s", who->team,
                who->principal, event, target ? target : "-", gd_jstr(p, "name"));
        r = fail(o, 403, "AccessDenied",
                 "%s is not authorized to perform %s on '%s': explicitly denied by deny_policy "
                 "'%s'",
                 who->principal, event, target ? target : "", gd_jstr(p, "name"));
        break;
    }
    json_decref(res);
    json_decref(pols);
    return r;
}

/* EC2's termination protection (DisableApiTermination): an instance whose spec has
 * termination_protection is terminated only by its group (autoscaling: scale-in,
 * health replacement) or by a physical loss; anyone else gets 400
 * OperationNotPermitted, which the caller audits. */
static int termination_refused(gd_game *g, const gd_actor *who, const char *id, gd_op_result *o)
{
    if (who->physical || !strcmp(who->principal, "autoscaling")) return 0;
    json_t *inst = gd_store_res_live(g->db, who->team, id, "instance");
    int r = 0;
    if (inst && gd_inst_state_of_res(inst) != GD_INST_TERMINATED &&
        json_is_true(json_object_get(json_object_get(inst, "spec"), "termination_protection")))
        r = fail(o, 400, "OperationNotPermitted",
                 "The instance '%s' may not be terminated. Modify its 'termination_protection' "
                 "instance attribute and try again.",
                 gd_jstr(inst, "id"));
    json_decref(inst);
    return r;
}

/* A deny_policy may name only the principals the scenario lets a team deny. */
static int deny_policy_ok(gd_game *g, const char *type, const char *name, const json_t *spec,
                          gd_op_result *o)
{
    if (strcmp(type, "deny_policy") != 0) return 0;
    gd_errs errs = {0};
    if (gd_scenario_check_deny(g->sc, name, spec, NULL, "spec", &errs) == 0) return 0;
    o->errors = json_array();
    for (int i = 0; i < errs.n; i++) json_array_append_new(o->errors, json_string(errs.msgs[i]));
    fail(o, 400, "ValidationError", "%s", errs.msgs[0]);
    gd_errs_free(&errs);
    return GD_EINVAL;
}

/* A launch template's command runs as the server's user: only the scenario, the
 * instructor, or an entry of the scenario's allowed_commands may set one. */
static int command_allowed(const gd_actor *who, const json_t *spec, const json_t *old_spec,
                           const json_t *allowed, gd_op_result *o)
{
    json_t *cmd = json_object_get(spec, "command");
    if (!cmd || who->trust != GD_TRUST_TEAM) return 0;
    if (old_spec && json_equal(cmd, json_object_get(old_spec, "command"))) return 0;
    size_t i;
    json_t *a;
    json_array_foreach(allowed, i, a) if (json_equal(a, cmd)) return 0;
    return fail(o, 403, "UnauthorizedOperation",
                "spec.command: a team may run only the commands the scenario lists in "
                "allowed_commands (%zu listed); the built-in services need no command",
                json_array_size(allowed));
}

int gd_op_check_spec(const gd_actor *who, const char *type, const char *name, json_t *spec,
                     const json_t *old_spec, const json_t *resources, int team_octet,
                     const json_t *allowed_commands, gd_op_result *out)
{
    if (!strcmp(type, "launch_template") &&
        command_allowed(who, spec, old_spec, allowed_commands, out) < 0)
        return GD_EPERM;
    gd_errs errs = {0};
    if (gd_schema_check(type, name, spec, NULL, "spec", &errs) == 0) {
        json_t *arch = json_array();
        size_t i;
        json_t *r;
        json_array_foreach(resources, i, r) if (strcmp(gd_jstr(r, "name"), name) != 0)
            json_array_append(arch, r);
        json_array_append_new(arch,
                              json_pack("{s:s,s:s,s:O}", "type", type, "name", name, "spec", spec));
        gd_arch_check a = {.resources = arch,
                           .self = json_array_size(arch) - 1,
                           .team = team_octet,
                           .path = "spec",
                           .errs = &errs};
        gd_arch_check_res(&a, 1);
        json_decref(arch);
    }
    if (errs.n == 0) return 0;
    out->errors = json_array();
    for (int i = 0; i < errs.n; i++) json_array_append_new(out->errors, json_string(errs.msgs[i]));
    fail(out, 400, "ValidationError", "%s", errs.msgs[0]);
    gd_errs_free(&errs);
    return GD_EINVAL;
}

/* ---- create, update, delete --------------------------------------------------------- */

int gd_op_create(gd_game *g, const gd_actor *who, const json_t *body, gd_op_result *out)
{
    static const char *const keys[] = {"type", "name", "spec", NULL};
    memset(out, 0, sizeof *out);
    json_t *req = json_deep_copy(body);
    const char *type = gd_jstr(body, "type"), *name = gd_jstr(body, "name");
    json_t *given = json_object_get(body, "spec");
    json_t *spec = given ? json_deep_copy(given) : json_object();
    int r = check_team(g, who, out);
    if (r == 0)
        r = throttled(g, who, !strcmp(type, "instance") ? "RunInstances" : "CreateResource", out);
    if (r == 0) r = denied(g, who, "CreateResource", name, out);
    if (r == 0) r = known_keys(body, keys, out);
    if (r == 0 && !gd_registry_find(type)) {
        const char *names[64];
        char allow[512];
        gd_registry_names(0, names, 64);
        gd_join(names, allow, sizeof allow);
        r = fail(out, 400, "ValidationError", "type: '%s' is not a resource type (allowed: %s)",
                 type, allow);
    } else if (r == 0 && gd_registry_has(type, GD_RT_GAME)) {
        r = fail(out, 400, "ValidationError",
                 "type: an %s is made by the start_experiment action of an "
                 "experiment_template, not created (allowed: any other type)",
                 type);
    } else if (r == 0 && !valid_name(name)) {
        r = fail(out, 400, "ValidationError",
                 "name: '%s' is not a valid name (allowed: [a-z0-9-], 1..48 characters)", name);
    } else if (r == 0 && !json_is_object(spec)) {
        r = fail(out, 400, "ValidationError", "spec: must be a mapping of the type's fields");
    }
    if (r == 0) {
        json_t *all = gd_store_res_list(g->db, who->team, NULL, 0);
        r = gd_op_check_spec(who, type, name, spec, NULL, all, team_octet(g, who->team),
                             g->sc->allowed_commands, out);
        if (r == 0) r = deny_policy_ok(g, type, name, spec, out);
        /* The team's quotas, as AWS's service quotas refuse: LimitExceeded. */
        int quota = !strcmp(type, "asg")          ? g->sc->quotas.asgs
                    : !strcmp(type, "alarm")      ? g->sc->quotas.alarms
                    : !strcmp(type, "elastic_ip") ? g->sc->quotas.eips
                                                  : -1;
        if (r == 0 && quota >= 0) {
            int n = 0;
            size_t i;
            json_t *x;
            json_array_foreach(all, i, x) n += !strcmp(gd_jstr(x, "type"), type);
            if (n >= quota)
                r = fail(out, 400, "LimitExceeded",
                         "the team has %d of %d %s allowed (the scenario's quotas)", n, quota,
                         !strcmp(type, "asg")     ? "auto scaling groups"
                         : !strcmp(type, "alarm") ? "alarms"
                                                  : "Elastic IPs");
        }
        json_decref(all);
    }
    if (r < 0) {
        audit(g, who, "CreateResource", req, out);
        json_decref(spec);
        return r;
    }
    char id[40];
    if (!strcmp(type, "instance")) {
        /* RunInstances: audited by the launch itself. */
        json_decref(req);
        gd_launch l = {.name = name,
                       .launch_template = gd_jstr(spec, "launch_template"),
                       .instance_type = json_string_value(json_object_get(spec, "instance_type")),
                       .subnet = gd_jstr(spec, "subnet"),
                       .protect = json_is_true(json_object_get(spec, "protected_from_scale_in")),
                       .market = json_string_value(json_object_get(spec, "market")),
                       .security_groups = json_object_get(spec, "security_groups"),
                       .termination_protection = json_object_get(spec, "termination_protection")};
        r = gd_op_run_instance(g, who, &l, id, out);
    } else {
        r = gd_store_res_create(g->db, who->team, type, name, spec, NULL, gd_game_now(g), id);
        if (r == GD_EEXIST)
            fail(out, 409, "AlreadyExists", "a resource named '%s' exists", name);
        else if (r < 0)
            fail(out, 500, "InternalError", "%s", gd_strerror(r));
        else
            ok(out, 201, gd_store_res_get(g->db, who->team, id));
        audit(g, who, "CreateResource", req, out);
    }
    json_decref(spec);
    if (r < 0) return r;
    if (!out->body) ok(out, 201, gd_store_res_get(g->db, who->team, id));
    out->status = 201;
    gd_launcher_reconcile(g);
    return 0;
}

/* A live resource of the team by id or name; NULL (and 404) if none. */
static json_t *live(gd_game *g, const gd_actor *who, const char *id, gd_op_result *out)
{
    json_t *res = gd_store_res_live(g->db, who->team, id, NULL); /* deleted: read, not changed */
    if (!res) fail(out, 404, "ResourceNotFound", "no resource of that id or name: '%s'", id);
    return res;
}

/* Merges patch into res's spec, checks and stores it; audited as event with params. */
static int update(gd_game *g, const gd_actor *who, json_t *res, const json_t *patch,
                  const char *event, json_t *params, gd_op_result *out)
{
    const char *type = gd_jstr(res, "type"), *name = gd_jstr(res, "name");
    json_t *old = json_object_get(res, "spec");
    json_t *spec = json_deep_copy(old);
    json_object_update(spec, (json_t *)patch);
    json_t *all = gd_store_res_list(g->db, who->team, NULL, 0);
    int r = gd_op_check_spec(who, type, name, spec, old, all, team_octet(g, who->team),
                             g->sc->allowed_commands, out);
    json_decref(all);
    if (r == 0) r = deny_policy_ok(g, type, name, spec, out);
    /* EC2 changes an instance's type only while it is stopped. */
    if (r == 0 && !strcmp(type, "instance") &&
        strcmp(gd_jstr(spec, "instance_type"), gd_jstr(old, "instance_type")) != 0 &&
        gd_inst_state_of_res(res) != GD_INST_STOPPED)
        r = fail(out, 409, "IncorrectInstanceState",
                 "instance '%s' is %s: stop it before changing its instance_type", name,
                 gd_inst_state_name(gd_inst_state_of_res(res)));
    /* A replication group keeps its port, and here its AUTH too: the instances that use
     * it were given both when they started. */
    static const char *const fixed[] = {"port", "auth", NULL};
    for (int k = 0; r == 0 && !strcmp(type, "cache_cluster") && fixed[k]; k++)
        if (!json_equal(json_object_get(spec, fixed[k]), json_object_get(old, fixed[k])))
            r = fail(out, 400, "InvalidParameterCombination",
                     "spec.%s: cache_cluster '%s' keeps the %s it was created with (allowed: "
                     "the same value; another %s is another cluster)",
                     fixed[k], name, fixed[k], fixed[k]);
    if (r == 0) {
        r = gd_store_res_set_spec(g->db, gd_jstr(res, "id"), spec, gd_game_now(g));
        if (r < 0) {
            fail(out, 500, "InternalError", "%s", gd_strerror(r));
        } else {
            /* A launch template's change is a new version of it: instances launched
             * before keep theirs until an instance refresh replaces them. */
            if (!strcmp(type, "launch_template") && !json_equal(spec, old)) {
                json_t *st = json_object_get(res, "status");
                int v = (int)gd_jnum(st, "version", 1);
                gd_launcher_set_status(g, gd_jstr(res, "id"),
                                       json_pack("{s:i,s:i,s:O}", "version", v + 1,
                                                 "previous_version", v, "previous_spec", old));
            }
            /* A task definition's change is a new revision; its services deploy it,
             * and the old ones stay for a rollback (the last few, bounded). */
            if (!strcmp(type, "task_definition") && !json_equal(spec, old))
                gd_ecs_new_revision(g, res, old);
            ok(out, 200, gd_store_res_get(g->db, who->team, gd_jstr(res, "id")));
        }
    }
    audit(g, who, event, params, out);
    json_decref(spec);
    if (r == 0) gd_launcher_reconcile(g);
    return r;
}

int gd_op_update(gd_game *g, const gd_actor *who, const char *id, const json_t *body,
                 gd_op_result *out)
{
    return gd_op_update_as(g, who, "UpdateResource", id, body, out);
}

int gd_op_update_as(gd_game *g, const gd_actor *who, const char *event, const char *id,
                    const json_t *body, gd_op_result *out)
{
    static const char *const keys[] = {"spec", NULL};
    memset(out, 0, sizeof *out);
    json_t *params = json_pack("{s:s,s:O?}", "id", id, "spec", json_object_get(body, "spec"));
    int r = check_team(g, who, out);
    if (r == 0) r = throttled(g, who, "UpdateResource", out);
    if (r == 0) r = denied(g, who, "UpdateResource", id, out);
    if (r == 0) r = known_keys(body, keys, out);
    if (r == 0 && !json_is_object(json_object_get(body, "spec")))
        r = fail(out, 400, "ValidationError", "the body must be {\"spec\": {field: value, ...}}");
    json_t *res = r == 0 ? live(g, who, id, out) : NULL;
    if (r == 0 && !res) r = GD_ENOENT;
    if (r == 0 && gd_registry_has(gd_jstr(res, "type"), GD_RT_GAME)) {
        r = fail(out, 400, "ValidationError",
                 "an experiment is not changed: stop it with the stop_experiment action");
        json_decref(res);
    }
    if (r < 0) {
        audit(g, who, event, params, out);
        return r;
    }
    r = update(g, who, res, json_object_get(body, "spec"), event, params, out);
    json_decref(res);
    return r;
}

int gd_op_delete(gd_game *g, const gd_actor *who, const char *id, gd_op_result *out)
{
    memset(out, 0, sizeof *out);
    int r = check_team(g, who, out);
    if (r == 0) r = throttled(g, who, "DeleteResource", out);
    if (r == 0) r = denied(g, who, "DeleteResource", id, out);
    json_t *res = r == 0 ? live(g, who, id, out) : NULL;
    if (!res) {
        audit(g, who, "DeleteResource", json_pack("{s:s}", "id", id), out);
        return r < 0 ? r : GD_ENOENT;
    }
    const char *rid = gd_jstr(res, "id"), *type = gd_jstr(res, "type");
    if (!strcmp(type, "instance") && termination_refused(g, who, rid, out) < 0) {
        audit(g, who, "TerminateInstances", json_pack("{s:s}", "instanceId", rid), out);
        json_decref(res);
        return GD_EINVAL;
    }
    if (!strcmp(type, "instance")) { /* TerminateInstances: audited by the launcher */
        gd_launcher_terminate(g, who->team, rid, 0, who->principal, who->source_ip, "terminated");
        ok(out, 200, gd_store_res_get(g->db, who->team, rid));
        json_decref(res);
        return 0;
    }
    json_t *params = json_pack("{s:s,s:s}", "id", rid, "type", type);
    if (!strcmp(type, "experiment") && !gd_fis_final(res)) {
        fail(out, 409, "ConflictException",
             "experiment '%s' is %s: stop it (stop_experiment) before deleting it", rid,
             gd_jstr(json_object_get(res, "status"), "state"));
        audit(g, who, "DeleteResource", params, out);
        json_decref(res);
        return GD_EEXIST;
    }
    if (!strcmp(type, "reserved_instance") && who->trust != GD_TRUST_GAME) {
        /* A reservation is a commitment: it cannot be cancelled, as in EC2. */
        fail(out, 400, "OperationNotPermitted",
             "a reserved instance is paid until the end of the game; it cannot be cancelled");
        audit(g, who, "DeleteResource", params, out);
        json_decref(res);
        return GD_EINVAL;
    }
    json_t *all = gd_store_res_list(g->db, who->team, NULL, 0);
    gd_buf deps;
    gd_buf_init(&deps, 4096);
    gd_arch_dependents(all, res, &deps);
    json_decref(all);
    if (deps.len) {
        fail(out, 409, "DependencyViolation", "%s '%s' is in use by: %s", type,
             gd_jstr(res, "name"), gd_buf_cstr(&deps));
        audit(g, who, "DeleteResource", params, out);
        gd_buf_free(&deps);
        json_decref(res);
        return GD_EEXIST;
    }
    gd_buf_free(&deps);
    if (!strcmp(type, "asg")) {
        /* Deleting a group terminates its instances (AWS: force delete). */
        json_t *inst = gd_store_res_list(g->db, who->team, "instance", 0);
        size_t i;
        json_t *x;
        json_array_foreach(inst, i, x)
        {
            json_t *st = json_object_get(x, "status");
            if (!strcmp(gd_jstr(st, "asg"), gd_jstr(res, "name")) &&
                gd_inst_state_of(st) != GD_INST_TERMINATED)
                gd_launcher_terminate(g, who->team, gd_jstr(x, "id"), 0, who->principal,
                                      who->source_ip, "group deleted");
        }
        json_decref(inst);
    }
    r = gd_store_res_delete(g->db, rid, gd_game_now(g));
    if (r < 0)
        fail(out, 404, "ResourceNotFound", "no resource of that id: '%s'", rid);
    else
        ok(out, 200, json_pack("{s:s,s:b}", "id", rid, "deleted", 1));
    audit(g, who, "DeleteResource", params, out);
    json_decref(res);
    gd_launcher_reconcile(g);
    return r < 0 ? GD_ENOENT : 0;
}

/* ---- actions ------------------------------------------------------------------------ */

/* SetDesiredCapacity: {"desired": N} within the group's min..max. */
/* An ecs_service's desired_count, from a scale action (UpdateService); its range is the
 * registry's (the update's check). */
static int scale_service(gd_game *g, const gd_actor *who, json_t *svc, const json_t *d,
                         gd_op_result *out)
{
    json_t *params = json_pack("{s:s,s:O?}", "service", gd_jstr(svc, "name"), "desiredCount", d);
    if (!json_is_integer(d)) {
        int r = fail(out, 400, "ValidationError", "desired: must be an integer");
        audit(g, who, "UpdateService", params, out);
        return r;
    }
    json_t *patch = json_pack("{s:O}", "desired_count", d);
    int r = update(g, who, svc, patch, "UpdateService", params, out);
    json_decref(patch);
    return r;
}

static int act_scale(gd_game *g, const gd_actor *who, const char *name, const json_t *body,
                     gd_op_result *out)
{
    static const char *const keys[] = {"desired", NULL};
    json_t *svc = known_keys(body, keys, out) == 0
                      ? gd_store_res_live(g->db, who->team, name, "ecs_service")
                      : NULL;
    if (svc) { /* an ECS service scales by its desired_count */
        int r = scale_service(g, who, svc, json_object_get(body, "desired"), out);
        json_decref(svc);
        return r;
    }
    json_t *params = json_pack("{s:s,s:O?}", "autoScalingGroupName", name, "desiredCapacity",
                               json_object_get(body, "desired"));
    int r = known_keys(body, keys, out);
    json_t *asg = r == 0 ? gd_store_res_live(g->db, who->team, name, "asg") : NULL;
    json_t *d = json_object_get(body, "desired");
    if (r == 0 && !asg) {
        r = fail(out, 404, "ResourceNotFound", "no autoscaling group named '%s'", name);
    } else if (r == 0 && !json_is_integer(d)) {
        r = fail(out, 400, "ValidationError", "desired: must be an integer");
    } else if (r == 0) {
        json_t *spec = json_object_get(asg, "spec");
        json_int_t mn = json_integer_value(json_object_get(spec, "min"));
        json_int_t mx = json_integer_value(json_object_get(spec, "max"));
        json_int_t v = json_integer_value(d);
        if (v < mn || v > mx) {
            r = fail(out, 400, "ValidationError",
                     "desired %lld is outside the group's min..max (%lld..%lld); change max first",
                     (long long)v, (long long)mn, (long long)mx);
            snprintf(out->field, sizeof out->field, "desired");
        }
    }
    if (r < 0) {
        audit(g, who, "SetDesiredCapacity", params, out);
        json_decref(asg);
        return r;
    }
    json_t *patch = json_pack("{s:O}", "desired", d);
    r = update(g, who, asg, patch, "SetDesiredCapacity", params, out);
    json_decref(patch);
    json_decref(asg);
    return r;
}

/* StartInstanceRefresh and CancelInstanceRefresh of a group (refresh.c). */
static int act_refresh(gd_game *g, const gd_actor *who, const char *name, const json_t *body,
                       gd_op_result *out, int cancel)
{
    static const char *const keys[] = {"instance_warmup",
                                       "auto_rollback",
                                       "min_healthy_percentage",
                                       "max_healthy_percentage",
                                       "checkpoint_percentages",
                                       "checkpoint_delay",
                                       NULL};
    const char *event = cancel ? "CancelInstanceRefresh" : "StartInstanceRefresh";
    json_t *params = json_is_object(body) ? json_deep_copy(body) : json_object();
    json_object_set_new(params, "autoScalingGroupName", json_string(name));
    int r = cancel ? 0 : known_keys(body, keys, out);
    json_t *asg = r == 0 ? gd_store_res_live(g->db, who->team, name, "asg") : NULL;
    if (r == 0 && !asg)
        r = fail(out, 404, "ResourceNotFound", "no autoscaling group named '%s'", name);
    if (r == 0) {
        char err[300];
        int st = cancel ? gd_refresh_cancel(g, asg, err, sizeof err)
                        : gd_refresh_start(g, asg, body, err, sizeof err);
        if (st != 200)
            r = fail(out, st, st == 409 ? "InstanceRefreshInProgress" : "ValidationError", "%s",
                     err);
        else
            ok(out, 200, gd_store_res_get(g->db, who->team, gd_jstr(asg, "id")));
    }
    audit(g, who, event, params, out);
    json_decref(asg);
    if (r == 0) gd_launcher_reconcile(g);
    return r;
}

static int act_start_refresh(gd_game *g, const gd_actor *who, const char *name, const json_t *body,
                             gd_op_result *out)
{
    return act_refresh(g, who, name, body, out, 0);
}

static int act_cancel_refresh(gd_game *g, const gd_actor *who, const char *name, const json_t *body,
                              gd_op_result *out)
{
    return act_refresh(g, who, name, body, out, 1);
}

/* TerminateInstances: optional {"force": bool}; the launcher audits it. */
static int act_terminate(gd_game *g, const gd_actor *who, const char *id, const json_t *body,
                         gd_op_result *out)
{
    static const char *const keys[] = {"force", NULL};
    json_t *force = json_object_get(body, "force");
    int r = known_keys(body, keys, out);
    if (r == 0 && force && !json_is_boolean(force))
        r = fail(out, 400, "ValidationError", "force: must be true or false");
    if (r < 0) {
        audit(g, who, "TerminateInstances", json_pack("{s:s}", "instanceId", id), out);
        return r;
    }
    return gd_op_terminate(g, who, id, json_is_true(force),
                           who->trust == GD_TRUST_GAME ? "chaos" : "terminated", out);
}

/* StopInstances and StartInstances (audited by the launcher). */
static int act_stop_start(gd_game *g, const gd_actor *who, const char *id, const json_t *body,
                          gd_op_result *out, int start)
{
    static const char *const keys[] = {NULL};
    int r = known_keys(body, keys, out);
    if (r < 0) {
        audit(g, who, start ? "StartInstances" : "StopInstances",
              json_pack("{s:s}", "instanceId", id), out);
        return r;
    }
    char err[256];
    r = start ? gd_launcher_start(g, who->team, id, who->principal, who->source_ip, err, sizeof err)
              : gd_launcher_stop(g, who->team, id, who->principal, who->source_ip, err, sizeof err);
    if (r < 0)
        return fail(out,
                    r == GD_ENOENT   ? 404
                    : r == GD_EEXIST ? 409
                                     : 400,
                    r == GD_ENOENT   ? "InvalidInstanceID.NotFound"
                    : r == GD_EEXIST ? "IncorrectInstanceState"
                    : r == GD_EAGAIN ? "InsufficientInstanceCapacity"
                                     : "UnsupportedOperation",
                    "%s", err);
    json_t *res = gd_store_res_get(g->db, who->team, id);
    return ok(out, 200, res);
}

static int act_stop(gd_game *g, const gd_actor *who, const char *id, const json_t *body,
                    gd_op_result *out)
{
    return act_stop_start(g, who, id, body, out, 0);
}

static int act_start(gd_game *g, const gd_actor *who, const char *id, const json_t *body,
                     gd_op_result *out)
{
    return act_stop_start(g, who, id, body, out, 1);
}

/* ---- the game's own operations (bootstrap, the autoscaler) ---- */

int gd_op_run_instance(gd_game *g, const gd_actor *who, const gd_launch *l, char id_out[40],
                       gd_op_result *out)
{
    char err[256], id[40];
    memset(out, 0, sizeof *out);
    int r = gd_launcher_run_instance(
        g, who->team, l->name, l->launch_template, l->instance_type, l->subnet, l->asg,
        (l->booted ? GD_LAUNCH_BOOTED : 0) | (l->protect ? GD_LAUNCH_PROTECTED : 0) |
            (l->market && !strcmp(l->market, "spot") ? GD_LAUNCH_SPOT
             : l->market                             ? GD_LAUNCH_ON_DEMAND
                                                     : 0),
        who->principal, who->source_ip, id, err, sizeof err);
    if (r < 0)
        return fail(out, r == GD_EEXIST ? 409 : 400,
                    r == GD_EFULL     ? "InsufficientFreeAddressesInSubnet"
                    : r == GD_ETOOBIG ? "VcpuLimitExceeded"
                    : r == GD_EEXIST  ? "AlreadyExists"
                    : r == GD_EAGAIN  ? "InsufficientInstanceCapacity"
                                      : "InvalidParameterValue",
                    "%s", err);
    if (id_out) snprintf(id_out, 40, "%s", id);
    /* Its own groups and protection, in place of the template's. */
    if (json_is_array(l->security_groups) || json_is_boolean(l->termination_protection)) {
        json_t *res = gd_store_res_get(g->db, who->team, id);
        json_t *spec = json_deep_copy(json_object_get(res, "spec"));
        if (json_is_array(l->security_groups))
            json_object_set(spec, "security_groups", (json_t *)l->security_groups);
        if (json_is_boolean(l->termination_protection))
            json_object_set(spec, "termination_protection", (json_t *)l->termination_protection);
        gd_store_res_set_spec(g->db, id, spec, gd_game_now(g));
        json_decref(spec);
        json_decref(res);
    }
    return ok(out, 201, gd_store_res_get(g->db, who->team, id));
}

int gd_op_terminate(gd_game *g, const gd_actor *who, const char *id, int hard, const char *reason,
                    gd_op_result *out)
{
    memset(out, 0, sizeof *out);
    if (denied(g, who, "TerminateInstances", id, out) < 0 ||
        termination_refused(g, who, id, out) < 0) {
        audit(g, who, "TerminateInstances", json_pack("{s:s,s:b}", "instanceId", id, "force", hard),
              out);
        return out->status == 403 ? GD_EPERM : GD_EINVAL;
    }
    if (gd_launcher_terminate(g, who->team, id, hard, who->principal, who->source_ip, reason) < 0)
        return fail(out, 404, "InvalidInstanceID.NotFound", "no instance of that id or name");
    return ok(out, 200, gd_store_res_get(g->db, who->team, id));
}

int gd_op_deregister(gd_game *g, const gd_actor *who, const char *id, const char *asg, double delay,
                     gd_op_result *out)
{
    memset(out, 0, sizeof *out);
    json_t *inst = gd_store_res_get(g->db, who->team, id);
    json_t *req = json_pack("{s:s,s:s}", "instanceId", id, "asg", asg);
    int r = 0;
    if (!inst || strcmp(gd_jstr(inst, "type"), "instance") != 0) {
        r = fail(out, 404, "InvalidInstanceID.NotFound", "no instance of that id or name");
        audit(g, who, "DeregisterTargets", req, out);
    } else {
        double now = gd_game_now(g);
        gd_launcher_set_status(g, gd_jstr(inst, "id"),
                               json_pack("{s:s,s:f,s:f}", "lifecycle", "Terminating", "drain_since",
                                         now, "drain_until", now + delay));
        gd_game_audit(
            g, who->team, who->principal, who->source_ip, "DeregisterTargets", req,
            json_pack("{s:s,s:f}", "lifecycle", "Terminating", "deregistration_delay", delay),
            NULL);
        gd_info("instance_draining", "id=%s asg=%s delay=%.0f", gd_jstr(inst, "id"), asg, delay);
        ok(out, 200, json_incref(inst));
    }
    json_decref(inst);
    return r;
}

/* ChangeResourceRecordSets: points the team's public name at another entry point
 * (a type with GD_RT_ENTRY), like changing a Route 53 alias record. */
static int act_set_endpoint(gd_game *g, const gd_actor *who, const char *target, const json_t *body,
                            gd_op_result *out)
{
    static const char *const keys[] = {"name", NULL};
    const char *name = gd_jstr(body, "name");
    int r = known_keys(body, keys, out);
    json_t *res = r == 0 ? gd_store_res_live(g->db, who->team, name, NULL) : NULL;
    if (r == 0 && (!res || !gd_registry_has(gd_jstr(res, "type"), GD_RT_ENTRY))) {
        const char *names[16];
        char allow[160];
        gd_registry_names(GD_RT_ENTRY, names, 16);
        gd_join(names, allow, sizeof allow);
        r = fail(out, 400, "InvalidChangeBatch",
                 "name: not a live resource of this team of type %s", allow);
    }
    if (r == 0) {
        char key[32];
        snprintf(key, sizeof key, "endpoint_%d", who->team);
        gd_store_kv_set(g->db, key, name);
        ok(out, 200, json_pack("{s:s}", "name", name));
    }
    gd_game_audit(g, who->team, who->principal, who->source_ip, "ChangeResourceRecordSets",
                  json_deep_copy(body), r == 0 ? json_pack("{s:s}", "endpoint", name) : NULL,
                  out->code);
    json_decref(res);
    return r;
}

/* StartExperiment: a new experiment of a template of the team, run by fis.c from the
 * next tick on (its first step right away). Optional {"tags": {...}}. At most
 * MAX_RUNNING experiments of a team run at once, and MAX_KEPT are kept. */
#define MAX_RUNNING 5
#define MAX_KEPT 200
static int act_start_experiment(gd_game *g, const gd_actor *who, const char *target,
                                const json_t *body, gd_op_result *out)
{
    static const char *const keys[] = {"tags", NULL};
    json_t *req = json_pack("{s:s}", "experimentTemplateId", target);
    int r = known_keys(body, keys, out);
    json_t *tags = json_object_get(body, "tags");
    if (r == 0 && tags && !json_is_object(tags))
        r = fail(out, 400, "ValidationError", "tags: expected a mapping of key: value");
    json_t *tmpl =
        r == 0 ? gd_store_res_live(g->db, who->team, target, "experiment_template") : NULL;
    if (r == 0 && !tmpl)
        r = fail(out, 404, "ResourceNotFoundException",
                 "no experiment_template of that id or name: '%s'", target);
    json_t *all = r == 0 ? gd_store_res_list(g->db, who->team, "experiment", 1) : NULL;
    int running = 0, ordinal = 1;
    size_t i;
    json_t *e;
    json_array_foreach(all, i, e)
    {
        running += !json_is_true(json_object_get(e, "deleted")) && !gd_fis_final(e);
        ordinal += !strcmp(gd_jstr(json_object_get(e, "spec"), "template"), gd_jstr(tmpl, "name"));
    }
    if (r == 0 && running >= MAX_RUNNING)
        r = fail(out, 400, "ServiceQuotaExceededException",
                 "the team runs %d experiments already (at most %d at once)", running, MAX_RUNNING);
    if (r == 0 && json_array_size(all) >= MAX_KEPT)
        r = fail(out, 400, "ServiceQuotaExceededException",
                 "the team has made %d experiments, the most a game keeps", MAX_KEPT);
    json_decref(all);
    char id[40] = "", name[64];
    if (r == 0) {
        snprintf(name, sizeof name, "%.36s-%d", gd_jstr(tmpl, "name"), ordinal);
        json_t *spec = json_pack("{s:s}", "template", gd_jstr(tmpl, "name"));
        if (tags) json_object_set(spec, "tags", tags);
        json_t *st = gd_fis_new_status(g, tmpl, ordinal);
        int rc =
            gd_store_res_create(g->db, who->team, "experiment", name, spec, st, gd_game_now(g), id);
        json_decref(spec);
        json_decref(st);
        if (rc < 0) r = fail(out, 500, "InternalError", "%s", gd_strerror(rc));
    }
    if (r == 0) ok(out, 201, gd_store_res_get(g->db, who->team, id));
    audit(g, who, "StartExperiment", req, out);
    if (r == 0) {
        gd_info("experiment_started", "team=%d id=%s template=%s by=%s", who->team, id,
                gd_jstr(tmpl, "name"), who->principal);
        char line[200];
        snprintf(line, sizeof line, "experiment %s started from template %s by %s", id,
                 gd_jstr(tmpl, "name"), who->principal);
        gd_store_ledger_add(g->db, gd_game_now(g), who->team, "fis", 0, line);
        gd_fis_tick(g);
        json_decref(out->body);
        out->body = gd_store_res_get(g->db, who->team, id);
    }
    json_decref(tmpl);
    return r;
}

/* StopExperiment: every running action is undone at once, pending ones cancelled. */
static int act_stop_experiment(gd_game *g, const gd_actor *who, const char *target,
                               const json_t *body, gd_op_result *out)
{
    static const char *const keys[] = {NULL};
    json_t *req = json_pack("{s:s}", "id", target);
    int r = known_keys(body, keys, out);
    json_t *exp = r == 0 ? gd_store_res_live(g->db, who->team, target, "experiment") : NULL;
    if (r == 0 && !exp)
        r = fail(out, 404, "ResourceNotFoundException", "no experiment of that id or name: '%s'",
                 target);
    if (r == 0 && gd_fis_final(exp))
        r = fail(out, 409, "ConflictException", "experiment '%s' has ended (%s)",
                 gd_jstr(exp, "id"), gd_jstr(json_object_get(exp, "status"), "state"));
    if (r == 0) {
        char why[128];
        snprintf(why, sizeof why, "stopped by %s", who->principal);
        gd_launcher_set_status(g, gd_jstr(exp, "id"), json_pack("{s:s}", "stop_requested", why));
        gd_fis_tick(g);
        ok(out, 200, gd_store_res_get(g->db, who->team, gd_jstr(exp, "id")));
    }
    audit(g, who, "StopExperiment", req, out);
    json_decref(exp);
    return r;
}

/* TestFailover: a cache cluster's primary fails (kill -9) and automatic failover promotes
 * a replica (src/server/cache_cluster.c); the failover itself is recorded by
 * `elasticache` when it completes. No body. */
static int act_cache_failover(gd_game *g, const gd_actor *who, const char *target,
                              const json_t *body, gd_op_result *out)
{
    static const char *const keys[] = {NULL};
    json_t *req = json_pack("{s:s}", "resourceId", target ? target : "");
    int r = known_keys(body, keys, out);
    char err[512];
    int rc = r == 0 ? gd_cache_test_failover(g, who->team, target ? target : "", who->principal,
                                             err, sizeof err)
                    : 0;
    if (r == 0 && rc < 0)
        r = fail(out, rc == GD_ENOENT ? 404 : 400,
                 rc == GD_ENOENT   ? "ReplicationGroupNotFoundFault"
                 : rc == GD_EAGAIN ? "InvalidReplicationGroupState"
                                   : "InvalidParameterCombination",
                 "%s", err);
    if (r == 0) {
        json_t *res = gd_store_res_live(g->db, who->team, target, "cache_cluster");
        ok(out, 200, res);
    }
    audit(g, who, "TestFailover", req, out);
    if (r == 0) gd_launcher_reconcile(g);
    return r;
}

/* FailoverDBCluster and RebootDBInstance of a db (audited by server/db.c). */
static int act_db(gd_game *g, const gd_actor *who, const char *id, const json_t *body,
                  gd_op_result *out, int failover)
{
    static const char *const keys[] = {NULL};
    const char *event = failover ? "FailoverDBCluster" : "RebootDBInstance";
    int r = known_keys(body, keys, out);
    if (r < 0) {
        audit(g, who, event, json_pack("{s:s}", "dbInstanceIdentifier", id), out);
        return r;
    }
    char err[256];
    r = failover ? gd_db_failover(g, who->team, id, who->principal, who->source_ip, "failover", err,
                                  sizeof err)
                 : gd_db_reboot(g, who->team, id, who->principal, who->source_ip, err, sizeof err);
    if (r < 0)
        return fail(out,
                    r == GD_ENOENT   ? 404
                    : r == GD_EEXIST ? 409
                                     : 400,
                    r == GD_ENOENT   ? "DBInstanceNotFound"
                    : r == GD_EEXIST ? "InvalidDBInstanceState"
                                     : "InvalidParameterCombination",
                    "%s", err);
    gd_launcher_reconcile(g);
    return ok(out, 200, gd_store_res_get(g->db, who->team, id));
}

static int act_db_failover(gd_game *g, const gd_actor *who, const char *id, const json_t *body,
                           gd_op_result *out)
{
    return act_db(g, who, id, body, out, 1);
}

static int act_reboot(gd_game *g, const gd_actor *who, const char *id, const json_t *body,
                      gd_op_result *out)
{
    return act_db(g, who, id, body, out, 0);
}

/* CreateInvalidation: a CloudFront invalidation of a cdn's paths, recorded in its status
 * (InProgress) and delivered to its edge by the edge push (invalidations.c), which
 * makes it Completed. {"paths": [...], "caller_reference": "..."}; the same reference
 * with the same paths is the same invalidation (200), with others a 409. */
static int act_invalidate(gd_game *g, const gd_actor *who, const char *target, const json_t *body,
                          gd_op_result *out)
{
    static const char *const keys[] = {"paths", "caller_reference", NULL};
    json_t *req = json_is_object(body) ? json_deep_copy(body) : json_object();
    json_object_set_new(req, "distributionId", json_string(target ? target : ""));
    int r = known_keys(body, keys, out);
    json_t *cdn = r == 0 ? gd_store_res_live(g->db, who->team, target ? target : "", "cdn") : NULL;
    if (r == 0 && !cdn)
        r = fail(out, 404, "NoSuchDistribution", "no cdn of that id or name: '%s'",
                 target ? target : "");
    json_t *rec = NULL, *list = NULL;
    char err[512];
    int rc = r == 0 ? gd_inv_new(cdn, body, gd_game_now(g), &rec, &list, err, sizeof err) : 0;
    if (r == 0 && rc < 0)
        r = fail(out, rc == GD_EEXIST ? 409 : 400,
                 rc == GD_EEXIST   ? "InvalidationBatchAlreadyExists"
                 : rc == GD_EAGAIN ? "TooManyInvalidationsInProgress"
                                   : "InvalidArgument",
                 "%s", err);
    if (r == 0 && rc == 0)
        gd_launcher_set_status(g, gd_jstr(cdn, "id"), json_pack("{s:o}", "invalidations", list));
    if (r == 0) {
        json_object_set_new(rec, "distribution", json_string(gd_jstr(cdn, "name")));
        ok(out, rc == 0 ? 201 : 200, rec);
    } else {
        json_decref(rec);
    }
    audit(g, who, "CreateInvalidation", req, out);
    if (r == 0 && rc == 0) {
        gd_info("invalidation_created", "team=%d cdn=%s id=%s paths=%zu by=%s", who->team,
                gd_jstr(cdn, "name"), gd_jstr(rec, "id"),
                json_array_size(json_object_get(rec, "paths")), who->principal);
        gd_launcher_reconcile(g);
    }
    json_decref(cdn);
    return r;
}

static const struct {
    const char *name, *event; /* the action, the event its audit record has */
    int (*fn)(gd_game *g, const gd_actor *who, const char *target, const json_t *body,
              gd_op_result *out);
} actions[] = {
    {"start_experiment", "StartExperiment", act_start_experiment},
    {"stop_experiment", "StopExperiment", act_stop_experiment},
    {"scale", "SetDesiredCapacity", act_scale},
    {"start_instance_refresh", "StartInstanceRefresh", act_start_refresh},
    {"cancel_instance_refresh", "CancelInstanceRefresh", act_cancel_refresh},
    {"terminate", "TerminateInstances", act_terminate},
    {"stop", "StopInstances", act_stop},
    {"start", "StartInstances", act_start},
    {"set_endpoint", "ChangeResourceRecordSets", act_set_endpoint},
    {"failover", "TestFailover", act_cache_failover},
    {"db_failover", "FailoverDBCluster", act_db_failover},
    {"reboot", "RebootDBInstance", act_reboot},
    {"invalidate", "CreateInvalidation", act_invalidate},
};

int gd_op_action(gd_game *g, const gd_actor *who, const char *action, const char *target,
                 const json_t *body, gd_op_result *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++) {
        if (strcmp(actions[i].name, action) != 0) continue;
        int r = check_team(g, who, out);
        if (r < 0) return r;
        if (throttled(g, who, actions[i].event, out) < 0) {
            audit(g, who, actions[i].event, json_pack("{s:s}", "target", target ? target : ""),
                  out);
            return -1;
        }
        if ((r = denied(g, who, actions[i].event, target, out)) < 0) {
            json_t *req = json_is_object(body) ? json_deep_copy(body) : json_object();
            json_object_set_new(req, "target", json_string(target ? target : ""));
            audit(g, who, actions[i].event, req, out);
            return r;
        }
        return actions[i].fn(g, who, target, body, out);
    }
    return fail(out, 400, "InvalidAction", "no action '%s'", action);
}

int gd_op_run_task(gd_game *g, const gd_actor *who, const char *service, gd_op_result *out)
{
    memset(out, 0, sizeof *out);
    json_t *svc = gd_store_res_live(g->db, who->team, service, "ecs_service");
    if (!svc) return fail(out, 404, "ServiceNotFoundException", "no ecs_service '%s'", service);
    char id[40];
    int r = gd_ecs_run_task(g, who->team, svc, who->principal, id);
    json_decref(svc);
    if (r < 0) return fail(out, 400, "ClientException", "%s", gd_strerror(r));
    return ok(out, 201, gd_store_res_get(g->db, who->team, id));
}

int gd_op_stop_task(gd_game *g, const gd_actor *who, const char *id, int hard, const char *reason,
                    gd_op_result *out)
{
    memset(out, 0, sizeof *out);
    int r = gd_ecs_stop_task(g, who->team, id, hard, who->principal, reason);
    if (r == GD_ENOENT) return fail(out, 404, "ClientException", "no task '%s'", id);
    if (r < 0) return fail(out, 400, "InvalidParameterException", "task '%s' is stopped", id);
    return ok(out, 200, gd_store_res_get(g->db, who->team, id));
}
