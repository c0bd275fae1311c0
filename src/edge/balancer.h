/* Target groups and listener rules: how the edge chooses where a request goes.
 * A target group holds targets, their health-check settings, the algorithm (round
 * robin, least outstanding requests, weighted random), slow start, stickiness,
 * cross-zone balancing, passive outlier ejection and the deregistration delay.
 * Rules match path, host, query string and headers in priority order and forward,
 * answer a fixed response, or redirect. */
#ifndef GD_EDGE_BALANCER_H
#define GD_EDGE_BALANCER_H

#include "core/buf.h"
#include "core/http.h"
#include "edge/target.h"
#include "model/rules.h"

#include <jansson.h>

enum gd_algo { GD_ALGO_RR, GD_ALGO_LOR, GD_ALGO_WRANDOM };
enum gd_sticky { GD_STICKY_NONE, GD_STICKY_LB, GD_STICKY_APP };

#define GD_TGROUP_MAGIC 0x54475250u /* gd_tgroup.magic */

typedef struct gd_tgroup {
    uint32_t magic;
    char name[64];
    enum gd_algo algo;
    gd_hc_conf hc; /* targets point here: the group outlives its targets' checks */
    gd_target *targets;
    double dereg_delay; /* game seconds a removed target may finish its requests */
    double slow_start;  /* game seconds of ramp for a newly healthy target, 0 = off */
    enum gd_sticky sticky;
    double sticky_duration; /* game seconds */
    char app_cookie[64];
    int cross_zone;
    int fail_open;            /* every target unhealthy: send to all (ALB); 0 for CLB */
    int lambda;               /* target_type lambda: a throttled function is the ALB's 503 */
    int outlier_5xx;          /* consecutive failures that eject a target, 0 = off */
    double outlier_base;      /* game seconds of the first ejection */
    double outlier_max_share; /* at most this share of targets ejected */
    unsigned rr, rr_zone, rr_in_zone[16];
    int inflight;
    int removed; /* gone from the config; freed when inflight reaches 0 */
    uint64_t requests;
    struct gd_tgroup *next;
} gd_tgroup;

enum gd_action_type { GD_ACT_FORWARD, GD_ACT_FIXED, GD_ACT_REDIRECT };

typedef struct gd_action {
    enum gd_action_type type;
    gd_tgroup *tg;
    int status;
    char *content_type, *body, *location;
} gd_action;

enum gd_cond_kind { GD_COND_PATH, GD_COND_HOST, GD_COND_QUERY, GD_COND_HEADER };

typedef struct gd_cond {
    enum gd_cond_kind kind;
    char *name;    /* query key or header name */
    char **values; /* any of them matches; wildcards * and ? */
    int nvalues;
} gd_cond;

typedef struct gd_rule {
    int priority;
    gd_cond *conds;
    int nconds;
    gd_action action;
} gd_rule;

typedef struct gd_rules {
    gd_rule *rules; /* sorted by priority */
    int n;
    gd_action def;
} gd_rules;

/** Wildcard match: '*' any run, '?' one character; icase for host names. */
int gd_wildcard(const char *pat, const char *s, size_t n, int icase);

/** Parses and checks a target group document into a fresh group (no targets yet).
 *  clb selects Classic LB defaults and ranges. 0, or GD_EINVAL with err set. */
int gd_tgroup_parse(const json_t *doc, int clb, gd_tgroup *out, char *err, size_t errlen);
/** Applies doc's targets to g: known ones (same id and address) keep their pool and
 *  health, new ones start health checks, the rest are moved to *draining. */
void gd_tgroup_sync(gd_tgroup *g, uv_loop_t *loop, const json_t *targets, gd_target **draining,
                    int *added, int *removed);
/** Chooses a target for a request, or NULL when there is none. sticky_id (may be
 *  NULL) names a target a valid cookie pinned; exclude skips one (a retry). */
gd_target *gd_tgroup_pick(gd_tgroup *g, const char *sticky_id, const gd_target *exclude,
                          double now);
/** Records an answer (or failure) from a target for passive outlier ejection. */
void gd_tgroup_outcome(gd_tgroup *g, gd_target *t, int failed, double now);
/** Healthy and unhealthy counts. */
void gd_tgroup_counts(const gd_tgroup *g, int *healthy, int *unhealthy);

/** Parses listener rules and the default action; groups are found by name in tgs. */
int gd_rules_parse(const json_t *rules, const json_t *def, gd_tgroup *tgs, gd_rules *out, char *err,
                   size_t errlen);
void gd_rules_free(gd_rules *r);
/** The action for a request: the first rule (by priority) whose conditions all match. */
const gd_action *gd_rules_match(const gd_rules *r, const gd_http_req *req);
/** Writes the redirect target of a request into out (AWS #{host} #{path} #{query}
 *  #{port} #{protocol} placeholders). */
int gd_redirect_location(const char *tmpl, const gd_http_req *req, const char *listen_port,
                         gd_buf *out);

/** Stickiness cookies: "<target id>.<expiry>.<mac>" signed with HMAC-SHA256. */
void gd_sticky_set_secret(const unsigned char *key, size_t n);
/** Writes the cookie value for target id valid until expiry (game seconds). */
int gd_sticky_make(const char *id, double expiry, gd_buf *out);
/** Checks a cookie value; on success copies the target id into id (64 bytes). */
int gd_sticky_check(const char *v, size_t n, double now, char id[64]);

#endif
