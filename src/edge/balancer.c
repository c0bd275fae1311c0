/* Target groups (algorithms, slow start, stickiness, cross-zone, outlier ejection)
 * and listener rules for the edge's ALB and CLB modes. */
#include "edge/balancer.h"
#include "core/addr.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"

#include <ctype.h>
#include <math.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TG_MAGIC GD_TGROUP_MAGIC

/* ---- wildcards ---- */

int gd_wildcard(const char *pat, const char *s, size_t n, int icase)
{
    const char *star = NULL, *back = NULL, *end = s + n;
    while (s < end) {
        char a = *pat, b = *s;
        if (icase) {
            a = (char)tolower((unsigned char)a);
            b = (char)tolower((unsigned char)b);
        }
        if (*pat == '*') {
            star = pat++;
            back = s;
        } else if (*pat && (*pat == '?' || a == b)) {
            pat++;
            s++;
        } else if (star) {
            pat = star + 1;
            s = ++back;
        } else {
            return 0;
        }
    }
    while (*pat == '*') pat++;
    return *pat == 0;
}

/* ---- parsing helpers ---- */

static int num(const json_t *o, const char *k, double def, double lo, double hi, double *out,
               const char *where, char *err, size_t errlen)
{
    json_t *v = json_object_get(o, k);
    if (!v) {
        *out = def;
        return 0;
    }
    if (!json_is_number(v) || json_number_value(v) < lo || json_number_value(v) > hi) {
        snprintf(err, errlen, "%s.%s: must be a number in %g..%g", where, k, lo, hi);
        return -1;
    }
    *out = json_number_value(v);
    return 0;
}

static int matcher(const json_t *hc, gd_hc_conf *c, int clb, const char *where, char *err,
                   size_t errlen)
{
    c->matcher_lo = c->matcher_hi = 200;
    json_t *m = json_object_get(hc, "matcher");
    if (!m) return 0;
    const char *s = json_string_value(m);
    int lo, hi;
    if (json_is_integer(m)) {
        lo = hi = (int)json_integer_value(m);
    } else if (s && sscanf(s, "%d-%d", &lo, &hi) == 2) {
    } else if (s && sscanf(s, "%d", &lo) == 1) {
        hi = lo;
    } else {
        lo = hi = 0;
    }
    if (clb || lo < 200 || hi > 499 || lo > hi) {
        snprintf(err, errlen,
                 "%s.health_check.matcher: %s (allowed: a code or a range LO-HI "
                 "within 200-499)",
                 where, clb ? "a Classic LB expects 200" : "out of range");
        return -1;
    }
    c->matcher_lo = lo;
    c->matcher_hi = hi;
    return 0;
}

int gd_tgroup_parse(const json_t *doc, int clb, gd_tgroup *g, char *err, size_t errlen)
{
    memset(g, 0, sizeof *g);
    g->magic = TG_MAGIC;
    const char *name = json_string_value(json_object_get(doc, "name"));
    snprintf(g->name, sizeof g->name, "%s", name ? name : "default");
    char where[96];
    snprintf(where, sizeof where, "target_groups[%s]", g->name);
    const json_t *hc = json_object_get(doc, "health_check");
    double v;
    /* AWS defaults: CLB 30/5/10/2, ALB 30/5/5/2; ranges as AWS allows them. */
    if (num(hc, "interval", 30, 5, 300, &g->hc.interval, where, err, errlen) ||
        num(hc, "timeout", 5, 2, clb ? 60 : 120, &g->hc.timeout, where, err, errlen) ||
        num(hc, "healthy_threshold", clb ? 10 : 5, 2, 10, &v, where, err, errlen))
        return GD_EINVAL;
    g->hc.healthy_threshold = (int)v;
    if (num(hc, "unhealthy_threshold", 2, 2, 10, &v, where, err, errlen)) return GD_EINVAL;
    g->hc.unhealthy_threshold = (int)v;
    if (num(hc, "port", 0, 0, 65535, &v, where, err, errlen)) return GD_EINVAL;
    g->hc.port = (int)v;
    if (g->hc.timeout >= g->hc.interval) {
        snprintf(err, errlen, "%s.health_check.timeout: must be shorter than the interval", where);
        return GD_EINVAL;
    }
    const char *path = json_string_value(json_object_get(hc, "path"));
    if (json_object_get(hc, "path") && (!path || path[0] != '/' || strlen(path) > 200)) {
        snprintf(err, errlen, "%s.health_check.path: must start with '/' (at most 200 bytes)",
                 where);
        return GD_EINVAL;
    }
    snprintf(g->hc.path, sizeof g->hc.path, "%s", path ? path : "/health");
    if (matcher(hc, &g->hc, clb, where, err, errlen)) return GD_EINVAL;
    const char *algo = json_string_value(json_object_get(doc, "algorithm"));
    if (!algo || !strcmp(algo, "round_robin"))
        g->algo = GD_ALGO_RR;
    else if (!clb && !strcmp(algo, "least_outstanding_requests"))
        g->algo = GD_ALGO_LOR;
    else if (!clb && !strcmp(algo, "weighted_random"))
        g->algo = GD_ALGO_WRANDOM;
    else {
        snprintf(err, errlen, "%s.algorithm: '%s' (allowed: %s)", where, algo,
                 clb ? "round_robin" : "round_robin, least_outstanding_requests, weighted_random");
        return GD_EINVAL;
    }
    if (num(doc, "deregistration_delay", clb ? 0 : 300, 0, 3600, &g->dereg_delay, where, err,
            errlen) ||
        num(doc, "slow_start", 0, 0, 900, &g->slow_start, where, err, errlen))
        return GD_EINVAL;
    if (g->slow_start > 0 && g->slow_start < 30) {
        snprintf(err, errlen, "%s.slow_start: 0 (off) or 30..900 seconds", where);
        return GD_EINVAL;
    }
    if (g->slow_start > 0 && g->algo == GD_ALGO_LOR) {
        snprintf(err, errlen,
                 "%s.slow_start: cannot be used with least_outstanding_requests "
                 "(as in AWS)",
                 where);
        return GD_EINVAL;
    }
    const json_t *st = json_object_get(doc, "stickiness");
    if (st) {
        const char *type = json_string_value(json_object_get(st, "type"));
        if (type && !strcmp(type, "lb_cookie"))
            g->sticky = GD_STICKY_LB;
        else if (type && !strcmp(type, "app_cookie"))
            g->sticky = GD_STICKY_APP;
        else {
            snprintf(err, errlen, "%s.stickiness.type: (allowed: lb_cookie, app_cookie)", where);
            return GD_EINVAL;
        }
        if (num(st, "duration", 86400, 1, 604800, &g->sticky_duration, where, err, errlen))
            return GD_EINVAL;
        const char *cn = json_string_value(json_object_get(st, "cookie_name"));
        if (g->sticky == GD_STICKY_APP && (!cn || !*cn || strlen(cn) > 60)) {
            snprintf(err, errlen,
                     "%s.stickiness.cookie_name: required for app_cookie (1..60 bytes)", where);
            return GD_EINVAL;
        }
        snprintf(g->app_cookie, sizeof g->app_cookie, "%s", cn ? cn : "");
    }
    json_t *cz = json_object_get(doc, "cross_zone");
    g->cross_zone = cz ? json_is_true(cz) : 1;
    g->fail_open = !clb;
    json_t *tt = json_object_get(doc, "target_type");
    if (tt && (!json_is_string(tt) ||
               (strcmp(json_string_value(tt), "lambda") && strcmp(json_string_value(tt), "ip")))) {
        snprintf(err, errlen, "%s.target_type: (allowed: ip, lambda)", where);
        return GD_EINVAL;
    }
    g->lambda = tt && !strcmp(json_string_value(tt), "lambda");
    json_t *od = json_object_get(doc, "outlier");
    if (num(od, "consecutive_failures", clb ? 0 : 5, 0, 100, &v, where, err, errlen) ||
        num(od, "base_ejection", 30, 1, 3600, &g->outlier_base, where, err, errlen) ||
        num(od, "max_ejected_share", 0.5, 0, 1, &g->outlier_max_share, where, err, errlen))
        return GD_EINVAL;
    g->outlier_5xx = (int)v;
    const json_t *ts = json_object_get(doc, "targets");
    if (ts && !json_is_array(ts)) {
        snprintf(err, errlen, "%s.targets: must be an array", where);
        return GD_EINVAL;
    }
    size_t i;
    json_t *t;
    json_array_foreach(ts, i, t)
    {
        const char *id = json_string_value(json_object_get(t, "id"));
        const char *addr = json_string_value(json_object_get(t, "addr"));
        uint32_t ip;
        int port;
        if (!id || !*id || strlen(id) >= 48) {
            snprintf(err, errlen, "%s.targets[%zu].id: a string of 1..47 bytes", where, i);
            return GD_EINVAL;
        }
        if (!addr || gd_hostport_parse(addr, &ip, &port) < 0 || (ip >> 24) != 127) {
            snprintf(err, errlen, "%s.targets[%zu].addr: \"IP:PORT\" in 127.0.0.0/8", where, i);
            return GD_EINVAL;
        }
        if (num(t, "weight", 1, 0, 1000, &v, where, err, errlen)) return GD_EINVAL;
    }
    return 0;
}

void gd_tgroup_sync(gd_tgroup *g, uv_loop_t *loop, const json_t *targets, gd_target **draining,
                    int *added, int *removed)
{
    gd_target *keep = NULL, **tail = &keep;
    size_t i;
    json_t *jt;
    double now = gd_clock_now();
    json_array_foreach(targets, i, jt)
    {
        const char *id = json_string_value(json_object_get(jt, "id"));
        const char *addr = json_string_value(json_object_get(jt, "addr"));
        const char *az = json_string_value(json_object_get(jt, "az"));
        json_t *w = json_object_get(jt, "weight");
        uint32_t ip;
        int port;
        gd_hostport_parse(addr, &ip, &port);
        gd_target *found = NULL;
        for (gd_target **pp = &g->targets; *pp; pp = &(*pp)->next) {
            if (!strcmp((*pp)->id, id) && (*pp)->ip == ip && (*pp)->port == port) {
                found = *pp;
                *pp = found->next;
                break;
            }
        }
        if (!found) {
            found = gd_target_new(loop, id, ip, port, json_is_true(json_object_get(jt, "healthy")),
                                  &g->hc);
            (*added)++;
        } else {
            gd_target_hc_restart(found);
        }
        snprintf(found->az, sizeof found->az, "%s", az ? az : "a");
        found->weight = w ? json_number_value(w) : 1;
        found->next = NULL;
        *tail = found;
        tail = &found->next;
    }
    while (g->targets) {
        gd_target *t = g->targets;
        g->targets = t->next;
        t->state = GD_TARGET_DRAINING;
        t->drain_until = now + g->dereg_delay;
        uv_timer_stop(&t->hc_timer);
        t->next = *draining;
        *draining = t;
        (*removed)++;
    }
    g->targets = keep;
}

void gd_tgroup_counts(const gd_tgroup *g, int *healthy, int *unhealthy)
{
    *healthy = *unhealthy = 0;
    for (gd_target *t = g->targets; t; t = t->next)
        t->state == GD_TARGET_IN_SERVICE ? (*healthy)++ : (*unhealthy)++;
}

/* ---- picking ---- */

static int usable(const gd_target *t, double now, int fail_open)
{
    if (t->ejected_until > now) return 0;
    return t->state == GD_TARGET_IN_SERVICE || fail_open;
}

/* Slow start: a newly healthy target's share grows linearly over the window. */
static double ramp(const gd_tgroup *g, const gd_target *t, double now)
{
    if (g->slow_start <= 0) return 1;
    double f = (now - t->healthy_since) / g->slow_start;
    return f >= 1 ? 1 : f < 0.05 ? 0.05 : f;
}

static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;

static double rnd01(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return (double)(rnd_state >> 11) / 9007199254740992.0;
}

gd_target *gd_tgroup_pick(gd_tgroup *g, const char *sticky_id, const gd_target *exclude, double now)
{
    int healthy = 0, n = 0;
    for (gd_target *t = g->targets; t; t = t->next) {
        n++;
        if (t->state == GD_TARGET_IN_SERVICE && t->ejected_until <= now) healthy++;
    }
    if (n == 0) return NULL;
    /* ALB fails open: with no healthy target, every target takes traffic. */
    int open = healthy == 0 && g->fail_open;
    if (healthy == 0 && !open) return NULL;
    if (sticky_id) {
        for (gd_target *t = g->targets; t; t = t->next)
            if (!strcmp(t->id, sticky_id) && usable(t, now, open) && t != exclude) return t;
    }
    /* Without cross-zone balancing each zone gets an equal share first. */
    char zone[8] = "";
    unsigned *rr = &g->rr; /* the rotation: the group's, or the chosen zone's own */
    if (!g->cross_zone) {
        char zones[16][8];
        int nz = 0;
        for (gd_target *t = g->targets; t; t = t->next) {
            if (!usable(t, now, open) || t == exclude) continue;
            int seen = 0;
            for (int k = 0; k < nz; k++) seen |= !strcmp(zones[k], t->az);
            if (!seen && nz < 16) snprintf(zones[nz++], 8, "%s", t->az);
        }
        if (nz > 0) {
            unsigned zi = g->rr_zone++ % (unsigned)nz;
            snprintf(zone, sizeof zone, "%s", zones[zi]);
            rr = &g->rr_in_zone[zi];
        }
    }
#define CANDIDATE(t)                                                                               \
    (usable(t, now, open) && (t) != exclude && (!zone[0] || !strcmp((t)->az, zone)))
    gd_target *best = NULL;
    if (g->algo == GD_ALGO_LOR) {
        /* Fewest requests in flight; ties go to the first after a rotating start. */
        unsigned start = (*rr)++ % (unsigned)n;
        for (int pass = 0; pass < 2; pass++) {
            unsigned k = 0;
            for (gd_target *t = g->targets; t; t = t->next, k++) {
                if ((pass == 0) != (k >= start) || !CANDIDATE(t)) continue;
                if (!best || t->inflight < best->inflight) best = t;
            }
        }
        return best;
    }
    if (g->algo == GD_ALGO_WRANDOM) {
        double total = 0;
        for (gd_target *t = g->targets; t; t = t->next)
            if (CANDIDATE(t)) total += t->weight * ramp(g, t, now);
        if (total <= 0) return NULL;
        double x = rnd01() * total;
        for (gd_target *t = g->targets; t; t = t->next) {
            if (!CANDIDATE(t)) continue;
            best = t;
            x -= t->weight * ramp(g, t, now);
            if (x < 0) break;
        }
        return best;
    }
    /* Round robin, thinned by slow start. */
    int m = 0;
    for (gd_target *t = g->targets; t; t = t->next) m += CANDIDATE(t);
    if (m == 0) return NULL;
    for (int tries = 0; tries < 2 * m; tries++) {
        unsigned k = (*rr)++ % (unsigned)m;
        for (gd_target *t = g->targets; t; t = t->next) {
            if (!CANDIDATE(t)) continue;
            if (k-- == 0) {
                best = t;
                break;
            }
        }
        if (best && (g->slow_start <= 0 || rnd01() < ramp(g, best, now))) return best;
    }
#undef CANDIDATE
    return best;
}

void gd_tgroup_outcome(gd_tgroup *g, gd_target *t, int failed, double now)
{
    if (!failed) {
        t->fail_run = 0;
        return;
    }
    t->fail_run++;
    if (g->outlier_5xx <= 0 || t->fail_run < g->outlier_5xx || t->ejected_until > now) return;
    int n = 0, ejected = 0;
    for (gd_target *x = g->targets; x; x = x->next) {
        n++;
        ejected += x->ejected_until > now;
    }
    if ((double)(ejected + 1) > g->outlier_max_share * n) return;
    t->ejections++;
    /* Each ejection lasts longer than the one before. */
    t->ejected_until = now + g->outlier_base * t->ejections;
    t->fail_run = 0;
    gd_warn("target_ejected", "group=%s target=%s for=%.0f", g->name, t->id,
            g->outlier_base * t->ejections);
}

/* ---- rules ---- */

static void action_free(gd_action *a)
{
    gd_free(a->content_type);
    gd_free(a->body);
    gd_free(a->location);
}

/* Builds an action from JSON that gd_rules_check_action accepted. */
static void action_build(const json_t *j, gd_tgroup *tgs, gd_action *a)
{
    memset(a, 0, sizeof *a);
    const char *type = json_string_value(json_object_get(j, "type"));
    json_t *st = json_object_get(j, "status");
    if (!strcmp(type, "forward")) {
        const char *tg = json_string_value(json_object_get(j, "target_group"));
        for (gd_tgroup *g = tgs; g; g = g->next)
            if (!strcmp(g->name, tg)) a->tg = g;
        a->type = GD_ACT_FORWARD;
    } else if (!strcmp(type, "fixed_response")) {
        const char *ct = json_string_value(json_object_get(j, "content_type"));
        const char *body = json_string_value(json_object_get(j, "body"));
        a->type = GD_ACT_FIXED;
        a->status = st ? (int)json_integer_value(st) : 200;
        a->content_type = gd_strdup(ct ? ct : "text/plain");
        a->body = gd_strdup(body ? body : "");
    } else {
        a->type = GD_ACT_REDIRECT;
        a->status = st ? (int)json_integer_value(st) : 301;
        a->location = gd_strdup(json_string_value(json_object_get(j, "location")));
    }
}

static void values_build(const json_t *v, gd_cond *c)
{
    if (json_is_string(v)) {
        c->values = gd_calloc(1, sizeof *c->values);
        c->values[0] = gd_strdup(json_string_value(v));
        c->nvalues = 1;
        return;
    }
    c->values = gd_calloc(json_array_size(v), sizeof *c->values);
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) c->values[c->nvalues++] = gd_strdup(json_string_value(x));
}

static void rule_free(gd_rule *r)
{
    for (int i = 0; i < r->nconds; i++) {
        for (int k = 0; k < r->conds[i].nvalues; k++) gd_free(r->conds[i].values[k]);
        gd_free(r->conds[i].values);
        gd_free(r->conds[i].name);
    }
    gd_free(r->conds);
    action_free(&r->action);
}

static int by_priority(const void *a, const void *b)
{
    return ((const gd_rule *)a)->priority - ((const gd_rule *)b)->priority;
}

int gd_rules_parse(const json_t *rules, const json_t *def, gd_tgroup *tgs, gd_rules *out, char *err,
                   size_t errlen)
{
    memset(out, 0, sizeof *out);
    /* One grammar for the scenario, the API and the edge: src/model/rules.c. */
    size_t ng = 0;
    for (gd_tgroup *g = tgs; g; g = g->next) ng++;
    const char **names = gd_calloc(ng + 1, sizeof *names);
    ng = 0;
    for (gd_tgroup *g = tgs; g; g = g->next) names[ng++] = g->name;
    int rc = gd_rules_check(rules, names, err, errlen);
    if (rc == 0 && !def) {
        snprintf(err, errlen,
                 "default_action: missing (allowed: forward, fixed_response, redirect)");
        rc = GD_EINVAL;
    }
    if (rc == 0) rc = gd_rules_check_action(def, names, "default_action", err, errlen);
    gd_free(names);
    if (rc < 0) return GD_EINVAL;
    size_t n = json_array_size(rules), i;
    out->rules = gd_calloc(n ? n : 1, sizeof *out->rules);
    json_t *r;
    json_array_foreach(rules, i, r)
    {
        gd_rule *x = &out->rules[out->n++];
        x->priority = (int)json_integer_value(json_object_get(r, "priority"));
        json_t *conds = json_object_get(r, "conditions");
        x->conds = gd_calloc(GD_RULES_MAX_CONDS, sizeof *x->conds);
        static const char *const kinds[] = {"path", "host", "query", "header"};
        for (int k = 0; k < 4; k++) {
            json_t *v = json_object_get(conds, kinds[k]);
            if (!v) continue;
            if (k <= 1) {
                gd_cond *c = &x->conds[x->nconds++];
                c->kind = (enum gd_cond_kind)k;
                values_build(v, c);
                continue;
            }
            const char *key;
            json_t *val;
            json_object_foreach(v, key, val)
            {
                gd_cond *c = &x->conds[x->nconds++];
                c->kind = (enum gd_cond_kind)k;
                c->name = gd_strdup(key);
                values_build(val, c);
            }
        }
        action_build(json_object_get(r, "action"), tgs, &x->action);
    }
    qsort(out->rules, (size_t)out->n, sizeof *out->rules, by_priority);
    action_build(def, tgs, &out->def);
    return 0;
}

void gd_rules_free(gd_rules *r)
{
    for (int i = 0; i < r->n; i++) rule_free(&r->rules[i]);
    gd_free(r->rules);
    action_free(&r->def);
    memset(r, 0, sizeof *r);
}

static int cond_match(const gd_cond *c, const gd_http_req *req)
{
    const char *v = NULL;
    size_t n = 0;
    char qv[512];
    int icase = 0;
    switch (c->kind) {
    case GD_COND_PATH:
        v = req->path;
        n = req->path_len;
        break;
    case GD_COND_HOST:
        v = gd_http_header_get(req->headers, req->nheaders, "host", &n);
        icase = 1;
        if (v) {
            const char *colon = memchr(v, ':', n);
            if (colon) n = (size_t)(colon - v);
        }
        break;
    case GD_COND_QUERY: {
        int k = gd_http_query_get(req->query, req->query_len, c->name, qv, sizeof qv);
        if (k < 0) return 0;
        v = qv;
        n = (size_t)k;
        break;
    }
    case GD_COND_HEADER:
        v = gd_http_header_get(req->headers, req->nheaders, c->name, &n);
        icase = 1;
        break;
    }
    if (!v) return 0;
    for (int i = 0; i < c->nvalues; i++)
        if (gd_wildcard(c->values[i], v, n, icase)) return 1;
    return 0;
}

const gd_action *gd_rules_match(const gd_rules *r, const gd_http_req *req)
{
    for (int i = 0; i < r->n; i++) {
        int ok = 1;
        for (int k = 0; k < r->rules[i].nconds && ok; k++)
            ok = cond_match(&r->rules[i].conds[k], req);
        if (ok) return &r->rules[i].action;
    }
    return &r->def;
}

int gd_redirect_location(const char *tmpl, const gd_http_req *req, const char *listen_port,
                         gd_buf *out)
{
    size_t hl = 0;
    const char *host = gd_http_header_get(req->headers, req->nheaders, "host", &hl);
    if (host) {
        const char *colon = memchr(host, ':', hl);
        if (colon) hl = (size_t)(colon - host);
    }
    for (const char *p = tmpl; *p;) {
        if (!strncmp(p, "#{host}", 7)) {
            gd_buf_append(out, host ? host : "", hl);
            p += 7;
        } else if (!strncmp(p, "#{path}", 7)) {
            /* AWS: the path without its leading slash */
            if (req->path_len > 1) gd_buf_append(out, req->path + 1, req->path_len - 1);
            p += 7;
        } else if (!strncmp(p, "#{query}", 8)) {
            gd_buf_append(out, req->query ? req->query : "", req->query_len);
            p += 8;
        } else if (!strncmp(p, "#{port}", 7)) {
            gd_buf_puts(out, listen_port);
            p += 7;
        } else if (!strncmp(p, "#{protocol}", 11)) {
            gd_buf_puts(out, "http");
            p += 11;
        } else {
            gd_buf_append(out, p++, 1);
        }
    }
    return 0;
}

/* ---- stickiness ---- */

static unsigned char secret[32];
static size_t secret_len;

void gd_sticky_set_secret(const unsigned char *key, size_t n)
{
    secret_len = n < sizeof secret ? n : sizeof secret;
    memcpy(secret, key, secret_len);
}

static void mac(const char *msg, size_t n, char out[33])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int ml = 0;
    HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)msg, n, md, &ml);
    for (int i = 0; i < 16; i++) sprintf(out + 2 * i, "%02x", md[i]);
}

int gd_sticky_make(const char *id, double expiry, gd_buf *out)
{
    char msg[96], m[33];
    int n = snprintf(msg, sizeof msg, "%s.%.0f", id, floor(expiry));
    mac(msg, (size_t)n, m);
    gd_buf_append(out, msg, (size_t)n);
    gd_buf_append(out, ".", 1);
    return gd_buf_append(out, m, 32);
}

int gd_sticky_check(const char *v, size_t n, double now, char id[64])
{
    if (n < 36 || n > 120) return GD_EINVAL;
    const char *dot2 = v + n - 33;
    if (*dot2 != '.') return GD_EINVAL;
    char m[33];
    mac(v, (size_t)(dot2 - v), m);
    if (CRYPTO_memcmp(m, dot2 + 1, 32) != 0) return GD_EPERM;
    const char *dot1 = NULL;
    for (const char *p = dot2 - 1; p > v; p--)
        if (*p == '.') {
            dot1 = p;
            break;
        }
    if (!dot1 || dot1 - v >= 64) return GD_EINVAL;
    /* The expiry is the digits between the two dots (strtod would read on into the mac,
     * taking "3e12..." for an exponent). */
    double expiry = 0;
    for (const char *p = dot1 + 1; p < dot2; p++) {
        if (*p < '0' || *p > '9') return GD_EINVAL;
        expiry = expiry * 10 + (*p - '0');
    }
    if (expiry < now) return GD_ETIMEDOUT;
    memcpy(id, v, (size_t)(dot1 - v));
    id[dot1 - v] = 0;
    return 0;
}
