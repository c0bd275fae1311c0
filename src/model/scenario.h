/* A scenario: story, runbook, duration, traffic, scoring, billing, chaos events and
 * the starting architecture, loaded and fully validated from YAML. */
#ifndef GD_MODEL_SCENARIO_H
#define GD_MODEL_SCENARIO_H

#include "core/conf.h"
#include "core/rand.h"

#include <jansson.h>
#include <stdint.h>

/* Outcomes of one customer request, as scored. */
enum gd_outcome { GD_OK_ANSWER = 0, GD_ERROR = 1, GD_TIMEOUT = 2, GD_WRONG = 3 };

/* What a MyClothes.com shopper (service.kind clothes) finds besides its pages' own
 * outcomes, each scored with its own scoring key (the names below, as the loadgen
 * reports them): an order placed as expected, a cart gone (a new session), a part of
 * it gone, a checkout that failed, an order unlike the cart, a price that is not the
 * catalogue's. */
enum gd_shop_outcome {
    GD_SHOP_CHECKOUT = 0,
    GD_SHOP_CART_LOST,
    GD_SHOP_ITEM_LOST,
    GD_SHOP_CHECKOUT_FAILED,
    GD_SHOP_ORDER_WRONG,
    GD_SHOP_STALE_PRICE,
    GD_SHOP_NOUT
};

typedef struct gd_rate_point {
    double at;  /* game seconds */
    double rps; /* game requests per second from here */
    int ramp;   /* 1: rate ramps linearly from the previous point to this one */
} gd_rate_point;

/* From `at` on, customers' keys follow a Zipf law of exponent zipf over space keys. */
typedef struct gd_key_phase {
    double at;
    uint32_t space;
    double zipf;
} gd_key_phase;

typedef struct gd_surge {
    double at, duration, multiplier;
} gd_surge;

typedef struct gd_event {
    double at; /* game seconds */
    /* terminate_random | terminate | scale | message | az_outage | update |
     * detach_target_group | start_experiment */
    char *action;
    char *target;    /* e.g. "asg/web", "instance/legacy-batch", "az/a", NULL */
    char *principal; /* who acts: chaos-monkey; ceo (update, detach), fis (experiments) */
    char *message;   /* text shown on the scoreboard, may be NULL */
    int count;       /* terminate_random: how many; scale: desired */
    double for_s;    /* az_outage: how long the zone stays down (game seconds) */
    json_t *patch;   /* update: the fields merged into the target's spec (owned) */
    char *group;     /* detach_target_group: the target group the asg leaves */
    char *template;  /* start_experiment: the experiment_template's name */
} gd_event;

/* Chaos Monkey, the scenario's `chaos_monkey` section (on is 0 when it is absent): in
 * each period of its working window a group loses one instance with probability
 * `probability`. Its schedule is model/chaos.h's. */
typedef struct gd_monkey_conf {
    int on;
    double probability; /* 0..1, each period of each group */
    double period;      /* game seconds (the window is cut into periods of this length) */
    char *window;       /* as written, "09:00-17:00" */
    /* The window in seconds of the game day (the game starts at 00:00:00); from < to,
     * and to passes 86400 when the window goes over midnight ("22:00-06:00"). */
    double window_from, window_to;
    double min_gap;         /* game seconds at least between two kills in one group */
    char *opt_out_tag;      /* a group whose tag of this key is "true" is left alone */
    json_t *groups;         /* the group names it works on; NULL: every group */
    double refusal_penalty; /* points a team loses each time its protections refuse a kill */
} gd_monkey_conf;

typedef struct gd_scenario {
    char *path;
    char *name, *title, *story, *runbook;
    double duration; /* game seconds */
    double speed;    /* default speed */
    uint64_t seed;
    int teams;     /* default number of teams */
    char *service; /* the customers' service: "unicorn", "time" or "clothes" */
    char *salt;    /* unicorn hash salt */
    /* service.process_slots: the most slots one process of the service can use (a
     * server that keeps one vCPU busy at most); 0, the default: no limit */
    int process_slots;
    uint32_t key_space;       /* keys are "k<rank>" for rank in 1..key_space (phase 0) */
    double zipf;              /* Zipf exponent of key popularity (phase 0) */
    double key_drift;         /* new keys a game hour that enter at the top of the ranking */
    gd_key_phase *key_phases; /* [0] is {0, key_space, zipf}, then traffic.keys.widen */
    int nkey_phases;
    double client_timeout; /* game seconds */
    gd_rate_point *rate;
    int nrate;
    gd_surge *surges;
    int nsurges;
    struct {
        double success_max, success_min, error, timeout, wrong;
        double shop[GD_SHOP_NOUT]; /* by gd_shop_outcome: checkout, cart_lost, ... */
    } scoring;
    /* service.kind clothes: the virtual shoppers (traffic.rate is shoppers arriving a
     * game second). */
    struct {
        double think_time;     /* mean game seconds a shopper waits between two steps */
        int items_min;         /* products a visit adds to the cart, at least */
        int items_max;         /*   and at most */
        int qty_max;           /* units of one product an add asks for, at most */
        double remove_share;   /* share of visits that remove one line again */
        double checkout_share; /* share of visits that check out */
        double profile_share;  /* share that sets a profile and reads its orders back */
        int max_active;        /* shoppers in the shop at once, at most */
    } shoppers;
    struct {
        double multiplier;        /* applied to list prices so that cost bites */
        double points_per_dollar; /* ledger points charged per billed dollar */
        double interval;          /* game seconds between charges (60) */
        double minimum;           /* minimum billed seconds per instance (60) */
        json_t *prices;           /* {"t3.micro": 0.0104, ...} $/hour, "clb": per LB-hour */
    } billing;
    struct {
        int vcpus;       /* running (pending and running) vCPUs a team may have */
        int asgs;        /* auto scaling groups */
        int alarms;      /* alarms */
        int eips;        /* Elastic IPs (5, as AWS's default per region) */
        int concurrency; /* functions' execution environments at once (the account's) */
    } quotas;
    struct {
        double discount; /* off the on-demand price of a reserved_instance's hours */
    } reserved;
    struct {
        double discount; /* off the on-demand price (0.7: a spot hour costs 30 %) */
        double per_hour; /* interruptions a game hour (every team's oldest spot one) */
        double notice;   /* game seconds from the notice to the termination */
    } spot;
    struct {
        char *resolve;      /* the record customers look up in their team's zone (NULL: they
                               are told the endpoint by the game instead) */
        int port;           /* the port they connect to at the address they get */
        int customers;      /* distinct resolvers, each caching its answer for its TTL */
        double stale_share; /* share of them that keep an answer past its TTL, until it fails */
    } dns;
    gd_event *events;
    int nevents;
    gd_monkey_conf monkey; /* chaos_monkey */
    struct {
        double refusal_penalty; /* points a team loses when its protections refuse the CEO */
    } ceo;
    struct {
        json_t *deniable; /* the principals a team's deny_policy may name (strings) */
    } protections;
    char *endpoint;           /* name of the resource customers reach (architecture.endpoint) */
    json_t *resources;        /* array of {"type","name","spec"} in file order, defaults filled */
    json_t *allowed_commands; /* commands a team may give a launch template: [[argv...]] */
    gd_conf *conf;
} gd_scenario;

/** Loads and validates a scenario. Every problem is added to errs as
 *  "file:line:col: what is wrong (allowed: ...)"; on any error returns GD_EINVAL and
 *  *out stays NULL. */
int gd_scenario_load(const char *path, gd_scenario **out, gd_errs *errs);
void gd_scenario_free(gd_scenario *s);
/** Customer rate (game requests per second) at game time t, surges included. */
double gd_scenario_rate(const gd_scenario *s, double t);
/** The key phase in force at game time t (an index into key_phases). */
int gd_scenario_key_phase(const gd_scenario *s, double t);
/** The key number the customers' rank-th most popular key is at game time t: with a
 *  drift, a new key takes rank 1 every 3600/drift game seconds and the others move
 *  one rank down. Always >= 1. */
uint64_t gd_scenario_key_of(const gd_scenario *s, double t, uint32_t rank);
/** The spot interruption times, one after another, from the scenario's seed: the same
 *  for every team and every run. Init, then each next() is the following time, in
 *  game seconds; INFINITY when there are none. */
typedef struct gd_spot_times {
    gd_rand rnd;
    double t, rate;
} gd_spot_times;
void gd_spot_times_init(gd_spot_times *it, const gd_scenario *s);
double gd_spot_times_next(gd_spot_times *it);
/** The k-th of them (k = 0, 1, ...): O(k). */
double gd_scenario_spot_at(const gd_scenario *s, int k);
/** 1 if a team's deny_policy may name `principal` (protections.deniable). */
int gd_scenario_deniable(const gd_scenario *s, const char *principal);
/** Checks that a deny_policy's principals are deniable in this scenario; each one that
 *  is not adds "<where>: deny_policy '<name>': field 'principals[i]': ... (allowed: the
 *  deniable ones)" to errs (where: file:line:col with conf, else path.principals[i]).
 *  Returns the number added. */
int gd_scenario_check_deny(const gd_scenario *s, const char *name, const json_t *spec,
                           const gd_conf *conf, const char *path, gd_errs *errs);
/** When an asg's patch moves min or max past the group's desired (spec is its spec now)
 *  and sets no desired itself, adds the desired that keeps it within the new bounds, as
 *  the operations layer requires. Other types: nothing. */
void gd_scenario_patch_fit(const char *type, const json_t *spec, json_t *patch);
/** The scoring key and name of a shop outcome ("checkout", "cart_lost", ...); NULL
 *  out of range. */
const char *gd_shop_outcome_name(enum gd_shop_outcome o);
/** 1 when the customers are MyClothes.com's shoppers (service.kind clothes). */
int gd_scenario_is_shop(const gd_scenario *s);
/** The most requests one shopper's visit makes (its steps with the scenario's
 *  shoppers settings). */
int gd_scenario_visit_steps(const gd_scenario *s);
/** Points for one request: success earns max(success_min, success_max*(1-latency/timeout)). */
double gd_scenario_points(const gd_scenario *s, enum gd_outcome o, double latency_s);
/** List price in $/hour of an instance type or resource kind; -1 when unknown. */
double gd_scenario_price(const gd_scenario *s, const char *kind);

#endif
