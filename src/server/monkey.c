/* Chaos Monkey in a running game (see monkey.h): one walk of the seeded schedule per
 * group name, the kills due each tick for every team at once, the victim by rank, and
 * the progress kept in the store with each kill. Also what all chaos shares: the
 * candidates in launch order and the counts behind gameday_chaos_actions_total. */
#include "server/monkey.h"

#include "core/check.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/promtext.h"
#include "model/chaos.h"
#include "model/state.h"
#include "server/launcher_int.h"
#include "server/ops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GD_MONKEY_MAGIC 0x4d4f4e4bu /* struct gd_monkey.magic */
#define MAX_GROUPS 256              /* group names the monkey follows; more are left alone */
#define KILLS_PER_TICK 16           /* a long outage of the server is caught up over ticks */

/* One group name's walk through its schedule. */
struct mgroup {
    char name[64];
    gd_monkey_iter it;
    double next; /* the time of kill number `kills`, INFINITY when there is none */
    long kills;  /* kills done (or passed by, for a group that came late) */
};

struct gd_monkey {
    uint32_t magic;
    struct mgroup groups[MAX_GROUPS];
    int ngroups;
    int full_warned;
    char actors[GD_CHAOS_ACTORS][64];
    double counts[GD_MAX_TEAMS + 1][GD_CHAOS_ACTORS][GD_CHAOS_OUTCOMES];
};

static struct gd_monkey *state(gd_game *g)
{
    if (!g->monkey) {
        g->monkey = gd_calloc(1, sizeof *g->monkey);
        g->monkey->magic = GD_MONKEY_MAGIC;
    }
    GD_CHECK_OBJ(g->monkey, GD_MONKEY_MAGIC);
    return g->monkey;
}

/* ---- what chaos shares ----------------------------------------------------------- */

static double launched(const json_t *r)
{
    json_t *v = json_object_get(json_object_get(r, "status"), "launched_at");
    return json_is_number(v) ? json_number_value(v) : gd_jnum(r, "created", 0);
}

static int by_launch(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    double tx = launched(x), ty = launched(y);
    if (tx != ty) return tx < ty ? -1 : 1;
    return strcmp(gd_jstr(x, "id"), gd_jstr(y, "id"));
}

json_t *gd_chaos_candidates(const json_t *instances, int team, const char *asg)
{
    size_t n = json_array_size(instances), k = 0, i;
    json_t **v = gd_calloc(n ? n : 1, sizeof *v);
    json_t *r;
    json_array_foreach((json_t *)instances, i, r)
    {
        json_t *st = json_object_get(r, "status");
        if ((int)json_integer_value(json_object_get(r, "team")) != team ||
            gd_inst_state_of(st) != GD_INST_RUNNING || gd_instance_leaving(r) ||
            (asg && strcmp(gd_jstr(st, "asg"), asg) != 0))
            continue;
        v[k++] = r;
    }
    qsort(v, k, sizeof *v, by_launch);
    json_t *out = json_array();
    for (i = 0; i < k; i++) json_array_append(out, v[i]);
    gd_free(v);
    return out;
}

int gd_chaos_refused(const char *code)
{
    return code && (!strcmp(code, "AccessDenied") || !strcmp(code, "OperationNotPermitted"));
}

void gd_chaos_count(gd_game *g, int team, const char *actor, enum gd_chaos_outcome o)
{
    struct gd_monkey *m = state(g);
    if (team < 1 || team > GD_MAX_TEAMS || (int)o < 0 || o >= GD_CHAOS_OUTCOMES) return;
    for (int a = 0; a < GD_CHAOS_ACTORS; a++) {
        if (!m->actors[a][0]) snprintf(m->actors[a], sizeof m->actors[a], "%s", actor);
        if (strcmp(m->actors[a], actor) != 0) continue;
        m->counts[team][a][o]++;
        return;
    }
}

void gd_chaos_metrics(gd_game *g, gd_buf *b)
{
    static const char *const outcomes[] = {"done", "refused", "skipped", "failed"};
    struct gd_monkey *m = state(g);
    gd_prom_head(b, "gameday_chaos_actions_total", "counter",
                 "Acts of chaos (Chaos Monkey's kills, the CEO's changes) by outcome");
    for (int t = 1; t <= g->nteams && t <= GD_MAX_TEAMS; t++)
        for (int a = 0; a < GD_CHAOS_ACTORS && m->actors[a][0]; a++)
            for (int o = 0; o < GD_CHAOS_OUTCOMES; o++) {
                char l[128];
                snprintf(l, sizeof l, "team=\"%d\",actor=\"%s\",outcome=\"%s\"", t, m->actors[a],
                         outcomes[o]);
                gd_prom_sample(b, "gameday_chaos_actions_total", l, m->counts[t][a][o]);
            }
}

/* ---- the monkey ------------------------------------------------------------------ */

static void advance(gd_game *g, struct mgroup *gr)
{
    gr->next = gd_monkey_iter_next(&gr->it, g->duration);
}

static void save(gd_game *g, const struct mgroup *gr)
{
    char key[96];
    snprintf(key, sizeof key, "monkey_kills_%s", gr->name);
    gd_game_kv_setf(g, key, "%ld", gr->kills);
}

static int in_architecture(const gd_scenario *sc, const char *name)
{
    size_t i;
    json_t *r;
    json_array_foreach(sc->resources, i, r) if (!strcmp(gd_jstr(r, "type"), "asg") &&
                                                !strcmp(gd_jstr(r, "name"), name)) return 1;
    return 0;
}

/* Starts following a group name: where the store says it was (after a restart), from
 * the game's start for a group of the scenario, else from now (a group a team made
 * later is not owed the kills of before it existed). */
static void follow(gd_game *g, struct gd_monkey *m, const char *name, double now)
{
    for (int i = 0; i < m->ngroups; i++)
        if (!strcmp(m->groups[i].name, name)) return;
    if (m->ngroups == MAX_GROUPS || strlen(name) >= sizeof m->groups[0].name) {
        if (!m->full_warned) gd_warn("chaos_monkey_skip", "group=%s reason=too-many-groups", name);
        m->full_warned = 1;
        return;
    }
    struct mgroup *gr = &m->groups[m->ngroups++];
    snprintf(gr->name, sizeof gr->name, "%s", name);
    gd_monkey_iter_init(&gr->it, &g->sc->monkey, g->sc->seed, name);
    gr->kills = 0;
    advance(g, gr);
    char key[96];
    snprintf(key, sizeof key, "monkey_kills_%s", name);
    char *saved = gd_store_kv_get(g->db, key);
    if (saved) {
        long n = strtol(saved, NULL, 10);
        while (gr->kills < n && isfinite(gr->next)) {
            gr->kills++;
            advance(g, gr);
        }
        gr->kills = n;
    } else if (!in_architecture(g->sc, name)) {
        while (gr->next <= now) {
            gr->kills++;
            advance(g, gr);
        }
        save(g, gr);
    }
    gd_free(saved);
    gd_info("chaos_monkey_follow", "group=%s kills=%ld next=%.0f", name, gr->kills, gr->next);
}

/* Kill number gr->kills in one team: its running member of the kill's rank. */
static void kill_in_team(gd_game *g, const struct mgroup *gr, int team, uint64_t draw,
                         const json_t *instances)
{
    const gd_monkey_conf *mc = &g->sc->monkey;
    json_t *asg = gd_store_res_live(g->db, team, gr->name, "asg");
    if (!asg) return; /* this team has no such group */
    json_t *tags = json_object_get(json_object_get(asg, "spec"), "tags");
    const char *opt = json_string_value(json_object_get(tags, mc->opt_out_tag));
    int opted_out = opt && !strcmp(opt, "true");
    json_decref(asg);
    if (opted_out) {
        gd_info("chaos_monkey_skip", "team=%d group=%s kill=%ld reason=opt-out", team, gr->name,
                gr->kills);
        gd_chaos_count(g, team, "chaos-monkey", GD_CHAOS_SKIPPED);
        return;
    }
    json_t *cand = gd_chaos_candidates(instances, team, gr->name);
    size_t n = json_array_size(cand);
    if (n == 0) {
        gd_info("chaos_monkey_skip", "team=%d group=%s kill=%ld reason=no-running-instance", team,
                gr->name, gr->kills);
        gd_chaos_count(g, team, "chaos-monkey", GD_CHAOS_SKIPPED);
        json_decref(cand);
        return;
    }
    size_t rank = (size_t)gd_chaos_rank(draw, n);
    char id[48], line[400], due[32];
    snprintf(id, sizeof id, "%s", gd_jstr(json_array_get(cand, rank), "id"));
    gd_clock_hms(gr->next, due, sizeof due); /* the schedule's time, the same in every team */
    json_decref(cand);
    gd_actor who = {.team = team, .principal = "chaos-monkey", .trust = GD_TRUST_GAME};
    json_t *body = json_pack("{s:b}", "force", 1);
    gd_op_result r;
    gd_op_action(g, &who, "terminate", id, body, &r);
    json_decref(body);
    double now = gd_game_now(g);
    if (!r.code) {
        snprintf(line, sizeof line,
                 "%s terminated by chaos-monkey (group %s, kill %ld due %s, rank %zu of %zu)", id,
                 gr->name, gr->kills, due, rank + 1, n);
        gd_store_ledger_add(g->db, now, team, "chaos-monkey", 0, line);
        gd_info("chaos_monkey_kill", "team=%d group=%s kill=%ld rank=%zu of=%zu id=%s", team,
                gr->name, gr->kills, rank + 1, n, id);
        gd_chaos_count(g, team, "chaos-monkey", GD_CHAOS_DONE);
    } else if (gd_chaos_refused(r.code)) {
        double pen = mc->refusal_penalty;
        snprintf(line, sizeof line,
                 "chaos-monkey's termination of %s (group %s, kill %ld due %s, rank %zu of %zu) "
                 "was refused: %s",
                 id, gr->name, gr->kills, due, rank + 1, n, r.code);
        gd_store_ledger_add(g->db, now, team, "chaos-monkey", pen > 0 ? -pen : 0, line);
        gd_info("chaos_monkey_refused", "team=%d group=%s kill=%ld rank=%zu of=%zu id=%s code=%s",
                team, gr->name, gr->kills, rank + 1, n, id, r.code);
        gd_chaos_count(g, team, "chaos-monkey", GD_CHAOS_REFUSED);
    } else {
        snprintf(line, sizeof line, "chaos-monkey could not terminate %s (group %s): %s", id,
                 gr->name, r.code);
        gd_store_ledger_add(g->db, now, team, "chaos-monkey", 0, line);
        gd_warn("chaos_monkey_failed", "team=%d group=%s kill=%ld id=%s code=%s msg=%s", team,
                gr->name, gr->kills, id, r.code, gd_log_q(r.message));
        gd_chaos_count(g, team, "chaos-monkey", GD_CHAOS_FAILED);
    }
    gd_op_result_free(&r);
}

/* One kill of a group, in every team, and the progress that says it is done: one
 * transaction, so that a crash leaves both or neither. */
static void strike(gd_game *g, struct mgroup *gr)
{
    gd_rand rnd;
    gd_chaos_rand(&rnd, g->sc->seed, "kill", gr->name, (uint64_t)gr->kills);
    uint64_t draw = gd_rand_u64(&rnd);
    gd_info("chaos_monkey_strike", "group=%s kill=%ld at=%.3f", gr->name, gr->kills, gr->next);
    gd_store_begin(g->db);
    json_t *instances = gd_store_res_list(g->db, 0, "instance", 0);
    for (int t = 1; t <= g->nteams; t++) kill_in_team(g, gr, t, draw, instances);
    json_decref(instances);
    gr->kills++;
    save(g, gr);
    gd_store_commit(g->db);
    advance(g, gr);
}

void gd_monkey_run(gd_game *g, double now)
{
    const gd_monkey_conf *mc = &g->sc->monkey;
    if (!mc->on) return;
    struct gd_monkey *m = state(g);
    if (mc->groups) {
        size_t i;
        json_t *v;
        json_array_foreach(mc->groups, i, v) follow(g, m, json_string_value(v), now);
    } else {
        json_t *asgs = gd_store_res_list(g->db, 0, "asg", 0);
        size_t i;
        json_t *a;
        json_array_foreach(asgs, i, a) follow(g, m, gd_jstr(a, "name"), now);
        json_decref(asgs);
    }
    for (int i = 0; i < m->ngroups; i++) {
        struct mgroup *gr = &m->groups[i];
        for (int k = 0; k < KILLS_PER_TICK && gr->next <= now && gr->next < g->duration; k++)
            strike(g, gr);
    }
}
