/* The instructor's acts on a running game (`gameday host`, the admin token): pause and
 * resume the game clock, extend or end the game, a message on every board, and a
 * scenario event or a chaos action now. Each is audited under the principal
 * "instructor" (team 0: the whole game) and written to every team's score events as a
 * row of 0 points, so that the boards and the report show it. */
#include "core/clock.h"
#include "core/conf.h"
#include "core/log.h"
#include "server/game_int.h"
#include "server/instructor.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define PRINCIPAL "instructor"

/* "the instructor paused the game" on every team's events. */
static void tell_teams(gd_game *g, const char *what)
{
    for (int t = 1; t <= g->nteams; t++)
        gd_store_ledger_add(g->db, gd_game_now(g), t, PRINCIPAL, 0, what);
}

static int refuse(char *err, size_t n, int status, const char *fmt, const char *arg)
{
    snprintf(err, n, fmt, arg);
    return status;
}

static int pause_game(gd_game *g, char *err, size_t n)
{
    if (g->ended) return refuse(err, n, 409, "the game has %s", "ended");
    int r = gd_clock_pause();
    if (r < 0) return refuse(err, n, 500, "the clock is not shared (%s)", "no DIR/clock");
    if (r == 0) return refuse(err, n, 409, "the game is already %s", "paused");
    gd_store_begin(g->db);
    gd_game_kv_setf(g, "paused", "1");
    gd_game_kv_setf(g, "paused_at", "%.17g", gd_game_now(g));
    tell_teams(g, "the instructor paused the game");
    gd_store_commit(g->db);
    return 200;
}

static int resume_game(gd_game *g, char *err, size_t n)
{
    int r = gd_clock_resume();
    if (r < 0) return refuse(err, n, 500, "the clock is not shared (%s)", "no DIR/clock");
    if (r == 0) return refuse(err, n, 409, "the game is not %s", "paused");
    gd_store_begin(g->db);
    gd_game_kv_setf(g, "paused", "0");
    gd_game_kv_setf(g, "epoch_ns", "%llu", (unsigned long long)gd_clock_epoch_ns());
    tell_teams(g, "the instructor resumed the game");
    gd_store_commit(g->db);
    return 200;
}

static int set_duration(gd_game *g, double d, const char *what)
{
    g->duration = d;
    char hms[16], line[96];
    gd_clock_hms(d, hms, sizeof hms);
    snprintf(line, sizeof line, "the instructor %s: the game now ends at %s", what, hms);
    gd_store_begin(g->db);
    gd_game_kv_setf(g, "duration", "%.17g", d);
    tell_teams(g, line);
    gd_store_commit(g->db);
    return 200;
}

static int extend_game(gd_game *g, const json_t *body, char *err, size_t n)
{
    if (g->ended) return refuse(err, n, 409, "the game has %s; it cannot be extended", "ended");
    const char *by = json_string_value(json_object_get(body, "by"));
    double secs;
    if (!by || gd_duration_parse(by, &secs) < 0 || secs <= 0 || secs > 24 * 3600)
        return refuse(err, n, 400,
                      "by: a duration from 1s to 24h is required, e.g. {\"by\": \"10m\"}%s", "");
    return set_duration(g, g->duration + secs, "extended the game");
}

static int end_game(gd_game *g, char *err, size_t n)
{
    if (g->ended) return refuse(err, n, 409, "the game has already %s", "ended");
    if (gd_clock_paused()) resume_game(g, err, n); /* the end is a moment of the clock */
    return set_duration(g, gd_game_now(g), "ended the game");
}

static int message_game(gd_game *g, const json_t *body, char *err, size_t n)
{
    const char *text = json_string_value(json_object_get(body, "text"));
    size_t len = text ? strlen(text) : 0;
    if (len == 0 || len >= sizeof g->message)
        return refuse(err, n, 400, "text: a message of 1 to 500 characters is required%s", "");
    for (const char *p = text; *p; p++)
        if ((unsigned char)*p < 0x20)
            return refuse(err, n, 400, "text: control characters are not allowed%s", "");
    snprintf(g->message, sizeof g->message, "%s", text);
    gd_store_begin(g->db);
    gd_store_kv_set(g->db, "message", g->message);
    tell_teams(g, text);
    gd_store_commit(g->db);
    return 200;
}

/* A scenario event (by its index in the scenario), or one of the chaos actions, now. */
static int trigger(gd_game *g, const json_t *body, json_t **answer, char *err, size_t n)
{
    if (g->ended) return refuse(err, n, 409, "the game has %s", "ended");
    json_t *jev = json_object_get(body, "event");
    if (jev) {
        if (!json_is_integer(jev) || json_integer_value(jev) < 0 ||
            json_integer_value(jev) >= g->sc->nevents) {
            if (g->sc->nevents == 0)
                snprintf(err, n, "event: the scenario has no events; give an action instead");
            else
                snprintf(err, n, "event: the index of one of the scenario's %d events (0..%d)",
                         g->sc->nevents, g->sc->nevents - 1);
            return 400;
        }
        const gd_event *ev = &g->sc->events[json_integer_value(jev)];
        gd_events_fire(g, ev);
        *answer = json_pack("{s:I,s:s,s:s?}", "event", json_integer_value(jev), "action",
                            ev->action, "target", ev->target);
        return 200;
    }
    const char *action = json_string_value(json_object_get(body, "action"));
    const char *target = json_string_value(json_object_get(body, "target"));
    static const char *const allowed[] = {"terminate_random", "terminate", "az_outage", NULL};
    int ok = 0;
    for (int i = 0; action && allowed[i]; i++) ok |= !strcmp(action, allowed[i]);
    if (!ok)
        return refuse(err, n, 400,
                      "give {\"event\": INDEX} (a scenario event) or {\"action\": A}, A one of "
                      "terminate_random (target asg/NAME, count), terminate (target "
                      "instance/NAME), az_outage (target az/X, for)%s",
                      "");
    gd_event ev = {
        .at = gd_game_now(g), .action = (char *)action, .principal = PRINCIPAL, .count = 1};
    json_t *jc = json_object_get(body, "count");
    if (jc) {
        if (!json_is_integer(jc) || json_integer_value(jc) < 1 || json_integer_value(jc) > 100)
            return refuse(err, n, 400, "count: an integer from 1 to 100%s", "");
        ev.count = (int)json_integer_value(jc);
    }
    if (!strcmp(action, "terminate") && (!target || strncmp(target, "instance/", 9) != 0))
        return refuse(err, n, 400, "target: instance/NAME is required for %s", action);
    if (!strcmp(action, "terminate_random") && target && strncmp(target, "asg/", 4) != 0)
        return refuse(err, n, 400, "target: asg/NAME, or none for any instance (%s)", action);
    if (!strcmp(action, "az_outage")) {
        if (!target || strlen(target) != 4 || strncmp(target, "az/", 3) != 0 || target[3] < 'a' ||
            target[3] > 'f')
            return refuse(err, n, 400, "target: az/a to az/f is required for %s", action);
        const char *f = json_string_value(json_object_get(body, "for"));
        if (!f || gd_duration_parse(f, &ev.for_s) < 0 || ev.for_s <= 0)
            return refuse(err, n, 400, "for: how long the zone stays down, e.g. \"5m\" (%s)",
                          action);
    }
    const char *m = json_string_value(json_object_get(body, "message"));
    if (m && strlen(m) >= sizeof g->message)
        return refuse(err, n, 400, "message: at most 500 characters%s", "");
    ev.target = (char *)target;
    ev.message = (char *)m;
    gd_events_fire(g, &ev);
    *answer = json_pack("{s:s,s:s?}", "action", action, "target", target);
    return 200;
}

static const struct act {
    const char *name, *event; /* the API's act, the audit's eventName */
} acts[] = {
    {"pause", "PauseGame"}, {"resume", "ResumeGame"},       {"extend", "ExtendGame"},
    {"end", "EndGame"},     {"message", "SendGameMessage"}, {"trigger", "TriggerGameEvent"},
};

int gd_instructor_act(gd_game *g, const char *name, const json_t *body, const char *source_ip,
                      json_t **answer, char *err, size_t n)
{
    *answer = NULL;
    err[0] = 0;
    const struct act *a = NULL;
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++)
        if (!strcmp(acts[i].name, name)) a = &acts[i];
    if (!a) return refuse(err, n, 404, "no instructor act '%s'", name);
    int status;
    if (!strcmp(name, "pause"))
        status = pause_game(g, err, n);
    else if (!strcmp(name, "resume"))
        status = resume_game(g, err, n);
    else if (!strcmp(name, "extend"))
        status = extend_game(g, body, err, n);
    else if (!strcmp(name, "end"))
        status = end_game(g, err, n);
    else if (!strcmp(name, "message"))
        status = message_game(g, body, err, n);
    else
        status = trigger(g, body, answer, err, n);
    if (!*answer) *answer = json_object();
    json_object_set_new(*answer, "clock", json_real(gd_game_now(g)));
    json_object_set_new(*answer, "duration", json_real(g->duration));
    json_object_set_new(*answer, "paused", json_boolean(gd_clock_paused()));
    gd_info("instructor", "act=%s status=%d clock=%.1f paused=%d", name, status, gd_game_now(g),
            gd_clock_paused());
    gd_game_audit(g, 0, PRINCIPAL, source_ip, a->event, body ? json_deep_copy(body) : json_object(),
                  status == 200 ? json_deep_copy(*answer) : NULL,
                  status == 200   ? NULL
                  : status == 409 ? "IncorrectState"
                  : status == 400 ? "ValidationError"
                                  : "InternalError");
    return status;
}
