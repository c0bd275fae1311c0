/* `gameday ctl audit` and `gameday ctl trail`: the audit trail a team investigates
 * with. audit prints the records a filter selects, one line each; trail answers "who
 * terminated (or changed) this?" for one resource, then prints its whole history. Both
 * are one GET /api/v1/audit: the server filters, ctl only prints. */
#include "cli/ctl_audit.h"
#include "core/buf.h"
#include "core/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The options of `audit` that become query parameters, and the parameter each sets. */
static const struct {
    const char *opt, *param;
} audit_opts[] = {
    {"--principal", "principal"}, {"--event", "event"}, {"--resource", "resource"},
    {"--from", "from"},           {"--to", "to"},       {"--errors", "errors"},
    {"--limit", "limit"},         {"--team", "team"},
};
#define NOPTS (sizeof audit_opts / sizeof audit_opts[0])

/* The newest records `audit` shows when --limit is not given, and the most `trail`
 * reads (the API's bound). */
#define AUDIT_DEFAULT "-200"
#define TRAIL_LIMIT "-1000"

static int bad(const char *cmd, const char *usage, const char *what, const char *arg)
{
    fprintf(stderr, "gameday ctl %s: %s '%s' (usage: %s)\n", cmd, what, arg, usage);
    return 2;
}

/* Appends "&name=value" (the first one with '?') to b, value percent-encoded. */
static int add_param(gd_buf *b, const char *name, const char *value)
{
    int first = memchr(b->data ? b->data : "", '?', b->len) == NULL;
    if (gd_buf_printf(b, "%s%s=", first ? "?" : "&", name) < 0) return -1;
    return gd_http_urlencode(b, value, strlen(value));
}

int gd_ctl_audit_args(const char *cmd, int argc, char **argv, gd_ctl_audit *a)
{
    memset(a, 0, sizeof *a);
    a->trail = !strcmp(cmd, "trail");
    const char *usage = a->trail ? GD_CTL_TRAIL_USAGE : GD_CTL_AUDIT_USAGE;
    const char *vals[NOPTS] = {0}, *who = NULL;
    for (int i = 0; i < argc; i++) {
        const char *w = argv[i];
        if (!strcmp(w, "--json")) {
            a->json = 1;
            continue;
        }
        const char **dst = NULL;
        if (a->trail && !strcmp(w, "--who")) dst = &who;
        for (size_t k = 0; k < NOPTS && !dst; k++)
            if (!strcmp(w, audit_opts[k].opt) && (!a->trail || !strcmp(w, "--team")))
                dst = &vals[k];
        if (dst == NULL)
            return bad(cmd, usage, w[0] == '-' ? "unknown option" : "unexpected argument", w);
        if (i + 1 >= argc) {
            fprintf(stderr, "gameday ctl %s: %s needs a value (usage: %s)\n", cmd, w, usage);
            return 2;
        }
        if (*dst) return bad(cmd, usage, "option given twice:", w);
        *dst = argv[++i];
    }
    if (a->trail && (who == NULL || *who == 0)) {
        fprintf(stderr, "gameday ctl trail: missing --who ID|NAME (usage: %s)\n", usage);
        return 2;
    }
    if (who && strlen(who) >= sizeof a->who) return bad(cmd, usage, "--who: too long:", who);
    if (who) snprintf(a->who, sizeof a->who, "%s", who);
    gd_buf b;
    gd_buf_init(&b, sizeof a->path - 1);
    int r = gd_buf_puts(&b, "/api/v1/audit");
    if (a->trail) {
        if (r == 0) r = add_param(&b, "resource", who);
        if (r == 0) r = add_param(&b, "limit", TRAIL_LIMIT);
    } else if (vals[6] == NULL && r == 0) {
        r = add_param(&b, "limit", AUDIT_DEFAULT);
    }
    for (size_t k = 0; k < NOPTS && r == 0; k++)
        if (vals[k]) r = add_param(&b, audit_opts[k].param, vals[k]);
    if (r == 0) snprintf(a->path, sizeof a->path, "%s", gd_buf_cstr(&b));
    gd_buf_free(&b);
    if (r != 0) {
        fprintf(stderr, "gameday ctl %s: the options are too long (usage: %s)\n", cmd, usage);
        return 2;
    }
    return 0;
}

static const char *S(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "-";
}

/* A record's resources as "i-0abc1234 (web-3), asg-1f2e3d4c (web)". */
static void resources_text(const json_t *rec, char *out, size_t n)
{
    size_t o = 0, i;
    json_t *r;
    out[0] = 0;
    json_array_foreach(json_object_get(rec, "resources"), i, r)
    {
        const char *id = json_string_value(json_object_get(r, "id"));
        const char *name = json_string_value(json_object_get(r, "name"));
        int w;
        if (id && name && strcmp(id, name))
            w = snprintf(out + o, n - o, "%s%s (%s)", o ? ", " : "", id, name);
        else
            w = snprintf(out + o, n - o, "%s%s", o ? ", " : "", id ? id : name ? name : "?");
        if (w < 0 || (size_t)w >= n - o) break;
        o += (size_t)w;
    }
    if (o == 0) snprintf(out, n, "-");
}

static void print_table(json_t *records)
{
    printf("%-9s %-15s %-26s %-36s %s\n", "TIME", "PRINCIPAL", "EVENT", "RESOURCES", "OUTCOME");
    size_t i;
    json_t *r;
    json_array_foreach(records, i, r)
    {
        char res[512];
        resources_text(r, res, sizeof res);
        const char *code = json_string_value(json_object_get(r, "errorCode"));
        printf("%-9s %-15s %-26s %-36s %s\n", S(r, "gameTime"), S(r, "principal"),
               S(r, "eventName"), res, code ? code : "ok");
    }
}

/* The past participle of a destructive event ("terminated"), or NULL if it is not
 * one: TerminateInstances, DeleteResource, StopInstances and any event whose name
 * says Terminate, Delete or Stop; also an InstanceStateChange that ended in a state
 * of those (the instance's process went away by itself). */
static const char *destroyed(const json_t *rec)
{
    const char *ev = S(rec, "eventName");
    if (strstr(ev, "Terminate")) return "terminated";
    if (strstr(ev, "Delete")) return "deleted";
    if (strstr(ev, "Stop")) return "stopped";
    if (!strcmp(ev, "InstanceStateChange")) {
        const char *st = S(json_object_get(rec, "responseElements"), "state");
        if (!strcmp(st, "terminated") || !strcmp(st, "stopped")) return st;
    }
    return NULL;
}

/* "<id> was <what> by <principal> at 00:12:03 game time (<wall>) from <ip>: <event>" */
static void answer_line(char *out, size_t n, const char *id, const char *what, const json_t *rec)
{
    snprintf(out, n, "%s was %s by %s at %s game time (%s) from %s: %s", id, what,
             S(rec, "principal"), S(rec, "gameTime"), S(rec, "eventTimeWall"),
             S(rec, "sourceIPAddress"), S(rec, "eventName"));
}

/* The id (and name) of the resource `who` names, as the newest record that has it
 * says; who itself when no record gives an id. */
static void resolve(json_t *records, const char *who, const char **id, const char **name)
{
    *id = who;
    *name = NULL;
    for (size_t i = json_array_size(records); i-- > 0;) {
        size_t k;
        json_t *r;
        json_array_foreach(json_object_get(json_array_get(records, i), "resources"), k, r)
        {
            const char *rid = json_string_value(json_object_get(r, "id"));
            const char *rname = json_string_value(json_object_get(r, "name"));
            if ((rid && !strcmp(rid, who)) || (rname && !strcmp(rname, who))) {
                if (rid) *id = rid;
                *name = rname;
                return;
            }
        }
    }
}

static int print_trail(const gd_ctl_audit *a, json_t *records)
{
    size_t n = json_array_size(records);
    if (n == 0) {
        fprintf(stderr,
                "gameday ctl trail: no audit record names '%s' (a team's token sees its own "
                "team's records; the admin's sees every team's, or --team N's)\n",
                a->who);
        return 1;
    }
    const char *id, *name;
    resolve(records, a->who, &id, &name);
    json_t *destr = NULL, *last = NULL;
    size_t di = 0, li = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *r = json_array_get(records, i);
        if (json_is_string(json_object_get(r, "errorCode"))) continue;
        last = r;
        li = i;
        if (destroyed(r)) {
            destr = r;
            di = i;
        }
    }
    json_t *lines = json_array(), *refused = json_array();
    char line[1024];
    if (destr) {
        answer_line(line, sizeof line, id, destroyed(destr), destr);
        json_array_append_new(lines, json_string(line));
    }
    if (last && (!destr || li > di)) {
        answer_line(line, sizeof line, id, "last changed", last);
        json_array_append_new(lines, json_string(line));
    }
    if (!last) {
        snprintf(line, sizeof line, "%s was never changed: every call that named it was refused",
                 id);
        json_array_append_new(lines, json_string(line));
    }
    size_t i;
    json_t *r;
    json_array_foreach(records, i, r)
    {
        if (!json_is_string(json_object_get(r, "errorCode"))) continue;
        snprintf(line, sizeof line, "refused: %s %s %s", S(r, "principal"), S(r, "eventName"),
                 S(r, "errorCode"));
        json_array_append_new(refused, json_string(line));
    }
    if (a->json) {
        json_t *o = json_pack("{s:s,s:s?,s:O,s:O,s:O}", "resource", id, "name", name, "answer",
                              lines, "refused", refused, "history", records);
        char *s = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
        printf("%s\n", s ? s : "null");
        free(s);
        json_decref(o);
    } else {
        json_t *l;
        json_array_foreach(lines, i, l) printf("%s\n", json_string_value(l));
        json_array_foreach(refused, i, l) printf("%s\n", json_string_value(l));
        printf("\nhistory of %s%s%s%s: %zu record%s, oldest first%s\n", id, name ? " (" : "",
               name ? name : "", name ? ")" : "", n, n == 1 ? "" : "s",
               n >= 1000 ? " (the newest 1000: see ctl audit --resource ID --to T for older)" : "");
        print_table(records);
    }
    json_decref(lines);
    json_decref(refused);
    return 0;
}

int gd_ctl_audit_print(const gd_ctl_audit *a, json_t *records)
{
    if (!json_is_array(records)) {
        fprintf(stderr, "gameday ctl %s: the server's answer is not a list of records\n",
                a->trail ? "trail" : "audit");
        return 1;
    }
    if (a->trail) return print_trail(a, records);
    if (a->json) {
        char *s = json_dumps(records, JSON_INDENT(2) | JSON_SORT_KEYS);
        printf("%s\n", s ? s : "null");
        free(s);
        return 0;
    }
    print_table(records);
    if (json_array_size(records) == 0) fprintf(stderr, "gameday ctl audit: no record matches\n");
    return 0;
}
