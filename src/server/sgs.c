/* Security groups: what their ingress rules let in, computed for every instance and
 * load balancer that names groups, as the blocks its listener admits. An instance's
 * list goes to DIR/acl/<id>, which its built-in service reads at start and on SIGHUP
 * (sent when the list changed); a load balancer's goes in its edge's config ("allow").
 * A rule's source_group lets in every instance and load balancer of the team that has
 * that group (their addresses: a load balancer's edge connects to its targets from its
 * own). Customers, players and Route 53's checkers come from 127.0.0.1, outside every
 * team's range: only a rule for 0.0.0.0/0 (or 127.0.0.1) lets them in. A command
 * instance (any HTTP binary) gets the file too, but only the built-in services enforce
 * it.
 * The same pass writes each instance's fault file, DIR/faults/<id>.json: the faults in
 * force on it (server/faults.h) as {"faults": [...]}, none when there are none; one
 * SIGHUP tells a built-in service that either file changed. */
#include "core/addr.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"
#include "model/registry.h"
#include "model/state.h"
#include "server/faults.h"
#include "server/launcher_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The groups an instance is in: its own list, else its launch template's; NULL: none. */
static json_t *groups_of_instance(gd_game *g, const json_t *inst, int team)
{
    json_t *own = json_object_get(json_object_get(inst, "spec"), "security_groups");
    if (json_is_array(own)) return json_incref(own);
    json_t *lt =
        gd_store_res_get(g->db, team, gd_jstr(json_object_get(inst, "spec"), "launch_template"));
    json_t *l = json_object_get(json_object_get(lt, "spec"), "security_groups");
    json_t *r = json_is_array(l) ? json_incref(l) : NULL;
    json_decref(lt);
    return r;
}

static int has_group(const json_t *groups, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(groups, i, v) if (!strcmp(json_string_value(v), name)) return 1;
    return 0;
}

/* The addresses of the team's instances and load balancers in group `name`. */
static void members(gd_game *g, int team, const char *name, gd_buf *out)
{
    json_t *inst = gd_store_res_list(g->db, team, "instance", 0);
    size_t i;
    json_t *r;
    json_array_foreach(inst, i, r)
    {
        json_t *st = json_object_get(r, "status");
        gd_inst_state s = gd_inst_state_of(st);
        if (s == GD_INST_TERMINATED || !*gd_jstr(st, "ip")) continue;
        json_t *gs = groups_of_instance(g, r, team);
        if (gs && has_group(gs, name)) gd_buf_printf(out, "%s/32\n", gd_jstr(st, "ip"));
        json_decref(gs);
    }
    json_decref(inst);
    json_t *lbs = gd_launcher_list_flagged(g, team, GD_RT_LB);
    json_array_foreach(lbs, i, r)
    {
        json_t *gs = json_object_get(json_object_get(r, "spec"), "security_groups");
        const char *ip = gd_jstr(json_object_get(r, "status"), "ip");
        if (*ip && json_is_array(gs) && has_group(gs, name)) gd_buf_printf(out, "%s/32\n", ip);
    }
    json_decref(lbs);
}

void gd_sg_allow(gd_game *g, int team, const json_t *groups, int port, gd_buf *out)
{
    gd_buf_reset(out);
    size_t i;
    json_t *name;
    json_array_foreach(groups, i, name)
    {
        json_t *sg = gd_store_res_get(g->db, team, json_string_value(name));
        size_t k;
        json_t *rule;
        json_array_foreach(json_object_get(json_object_get(sg, "spec"), "ingress"), k, rule)
        {
            int rp = (int)gd_jnum(rule, "port", 0);
            if (rp != 0 && rp != port) continue;
            const char *from = json_string_value(json_object_get(rule, "from"));
            const char *src = json_string_value(json_object_get(rule, "source_group"));
            gd_cidr c;
            char cb[24];
            if (from && gd_cidr_parse(from, team + g->net - 1, &c) == 0)
                gd_buf_printf(out, "%s\n", gd_cidr_format(c, cb));
            else if (src)
                members(g, team, src, out);
        }
        json_decref(sg);
    }
}

static uint64_t fnv(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

/* path gets data whole or not at all (a reader never sees half a file): written to
 * path.tmp, then renamed. 0, or -1 (logged) when it could not be. */
static int write_atomic(const char *path, const char *data, size_t len)
{
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        gd_warn("file_write_failed", "path=%s err=%s", gd_log_q(tmp), strerror(errno));
        return -1;
    }
    ssize_t w = write(fd, data, len);
    int werr = w < 0 ? errno : ENOSPC; /* a short write: the disk is full */
    close(fd);
    if (w != (ssize_t)len || rename(tmp, path) < 0) {
        gd_warn("file_write_failed", "path=%s err=%s", gd_log_q(path),
                strerror(w != (ssize_t)len ? werr : errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int sg_write(gd_game *g, json_t *inst)
{
    int team = (int)json_integer_value(json_object_get(inst, "team"));
    const char *id = gd_jstr(inst, "id");
    json_t *st = json_object_get(inst, "status");
    json_t *groups = groups_of_instance(g, inst, team);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/acl", g->dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/acl/%s", g->dir, id);
    char digest[24] = "none";
    gd_buf b;
    gd_buf_init(&b, 1 << 20);
    if (groups) {
        gd_sg_allow(g, team, groups, (int)gd_jnum(st, "port", 8000), &b);
        snprintf(digest, sizeof digest, "%016llx", (unsigned long long)fnv(b.data, b.len));
    }
    int changed = strcmp(gd_jstr(st, "sg_digest"), digest) != 0;
    if (changed) {
        if (!groups)
            unlink(path);
        else if (write_atomic(path, b.data, b.len) < 0)
            changed = 0; /* tried again next pass */
        if (changed) gd_launcher_set_status(g, id, json_pack("{s:s}", "sg_digest", digest));
    }
    gd_buf_free(&b);
    json_decref(groups);
    return changed;
}

/* Whether pid already ignores or catches SIGHUP (its /proc status masks). A process
 * just spawned, still before `gameday instance` set it up, would die of the default
 * action; it needs no signal either, as it reads both files once its handler is in
 * place. */
static int hup_is_safe(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    unsigned long long bit = 1ull << (SIGHUP - 1), ign = 0, cgt = 0;
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "SigIgn:", 7)) ign = strtoull(line + 7, NULL, 16);
        if (!strncmp(line, "SigCgt:", 7)) cgt = strtoull(line + 7, NULL, 16);
    }
    fclose(f);
    return ((ign | cgt) & bit) != 0;
}

/* The instance's fault file, when what it should say differs from what it was last
 * written with (its status' fault_digest). 1 when it changed. A file that could not be
 * written is tried again next pass. */
static int fault_write(gd_game *g, json_t *inst)
{
    const char *id = gd_jstr(inst, "id");
    json_t *list = gd_faults_for(g, id);
    char *text = NULL, digest[24] = "none";
    if (json_array_size(list) > 0) {
        json_t *doc = json_pack("{s:O}", "faults", list);
        text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(doc);
        snprintf(digest, sizeof digest, "%016llx", (unsigned long long)fnv(text, strlen(text)));
    }
    json_decref(list);
    const char *was = gd_jstr(json_object_get(inst, "status"), "fault_digest");
    int changed = strcmp(*was ? was : "none", digest) != 0; /* never written: no file */
    if (changed) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/faults", g->dir);
        mkdir(path, 0700);
        snprintf(path, sizeof path, "%s/faults/%s.json", g->dir, id);
        if (!text) {
            if (unlink(path) < 0 && errno != ENOENT) changed = 0;
        } else if (write_atomic(path, text, strlen(text)) < 0) {
            changed = 0;
        }
        if (changed) {
            gd_launcher_set_status(g, id, json_pack("{s:s}", "fault_digest", digest));
            gd_info("instance_faults_written", "instance=%s faults=%s", id, text ? digest : "none");
        }
    }
    free(text);
    return changed;
}

void gd_sgs_reconcile(gd_game *g, json_t *instances)
{
    /* A game without security groups (most of them, and every large fleet) pays one
     * query a pass here: only an instance that still has a list needs it taken away. */
    json_t *sgs = gd_store_res_list(g->db, 0, "security_group", 0);
    int none = json_array_size(sgs) == 0;
    json_decref(sgs);
    /* Likewise for faults: with none in force, only an instance that had some. */
    int no_faults = !g->faults || json_array_size(g->faults) == 0;
    size_t i;
    json_t *r;
    json_array_foreach(instances, i, r)
    {
        json_t *st = json_object_get(r, "status");
        gd_inst_state s = gd_inst_state_of(st);
        if (s != GD_INST_RUNNING && s != GD_INST_PENDING) continue;
        const char *digest = gd_jstr(st, "sg_digest");
        const char *fdigest = gd_jstr(st, "fault_digest");
        int acl = !(none && (!*digest || !strcmp(digest, "none"))) && sg_write(g, r);
        int faults = !(no_faults && (!*fdigest || !strcmp(fdigest, "none"))) && fault_write(g, r);
        if (!acl && !faults) continue;
        /* A running built-in service reads both files again (a command might not take a
         * SIGHUP: it gets the allow file at its next start, and ignores the faults). */
        gd_proc *p = gd_proc_find(g, gd_jstr(r, "id"), GD_PROC_INSTANCE, 0);
        json_t *lt = gd_store_res_get(g->db, (int)json_integer_value(json_object_get(r, "team")),
                                      gd_jstr(json_object_get(r, "spec"), "launch_template"));
        int builtin = !json_is_array(json_object_get(json_object_get(lt, "spec"), "command"));
        json_decref(lt);
        if (p && builtin && hup_is_safe(p->pid)) {
            kill(p->pid, SIGHUP);
            if (acl) gd_info("security_groups_applied", "instance=%s", gd_jstr(r, "id"));
            if (faults) gd_info("instance_faults_applied", "instance=%s", gd_jstr(r, "id"));
        }
    }
}
