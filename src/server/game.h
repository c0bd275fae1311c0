/* The control plane's in-memory state and the operations every caller shares: the
 * API (players), the autoscaler, chaos and the launcher all mutate resources through
 * these functions, so that each mutation leaves exactly one audit record. */
#ifndef GD_GAME_H
#define GD_GAME_H

#include "core/conf.h"
#include "core/hist.h"
#include "core/http.h"
#include "core/httpc.h"
#include "core/rand.h"
#include "model/scenario.h"
#include "server/metrics.h"
#include "server/store.h"

#include <jansson.h>
#include <limits.h>
#include <uv.h>

#define GD_MAX_TEAMS 16
#define GD_TEAM_NAME_MAX 32

/* GD_PROC_REDIS: a cache_cluster's node, a redis-server (cache_cluster.c) */
enum gd_proc_kind {
    GD_PROC_INSTANCE,
    GD_PROC_EDGE,
    GD_PROC_LOADGEN,
    GD_PROC_DNS,
    GD_PROC_NAT,
    GD_PROC_REDIS,
    GD_PROC_DB,       /* a db node's postgres (server/db.c); res_id is the node's id */
    GD_PROC_DBTASK,   /* initdb, a copy or a pg_basebackup for a db node (server/db.c) */
    GD_PROC_FUNCTION, /* a function's `gameday lambda` (server/functions.c) */
    GD_PROC_TASK,     /* an ECS task's process (server/ecs.c); res_id is the task's id */
};

#define GD_PROC_MAGIC 0x50524f43u /* gd_proc.magic */

/* A child process the server started (or found alive after a restart). */
typedef struct gd_proc {
    uint32_t magic;
    enum gd_proc_kind kind;
    int team;
    char res_id[40];
    int pid;
    int adopted; /* found alive after a restart: watched through a pidfd */
    int killed;  /* we asked it to stop; its exit is not a crash */
    char kill_reason[128];
    uv_process_t proc;
    uv_poll_t poll;
    int pidfd;
    struct gd_proc *next;
} gd_proc;

/* An edge (load balancer process) the server pushes configuration to. */
#define GD_EDGE_LINK_MAGIC 0x45444c4bu /* gd_edge_link.magic */

typedef struct gd_edge_link {
    uint32_t magic;
    char res_id[40];
    gd_httpc_pool *admin;
    uv_loop_t *admin_loop;
    char *pushed;        /* the last document the edge accepted */
    char *refused;       /* the last document the edge refused (not pushed again) */
    uint64_t stats_at;   /* loop time (ms) of the last /stats request */
    uint64_t stats_from; /* stats_at of the request e->stats answers */
    uint64_t pushed_at;  /* loop time (ms) the edge accepted `pushed` */
    int pushing;
    json_t *stats; /* the edge's last /stats answer */
    int stats_inflight;
    int inv_inflight; /* a cdn: an invalidation is on its way (invalidations.c) */
    uint64_t inv_at;  /* loop time (ms) it was last sent */
    struct gd_edge_link *next;
} gd_edge_link;

typedef struct gd_team_stats {
    uint64_t n[4]; /* cumulative by outcome */
    gd_hist hist;  /* cumulative latency of answered requests */
    uint64_t last_n[4];
    gd_hist last_hist; /* the last report's window */
    double last_span;  /* game seconds the last report covered */
    int64_t last_seq;
    double cost_usd;
    int loadgen_done;
    /* MyClothes.com's shoppers (service.kind clothes): cumulative by gd_shop_outcome,
     * answers that found the session gone, and the shoppers in the shop at the last
     * report */
    uint64_t shop[GD_SHOP_NOUT];
    uint64_t sessions_lost;
    int64_t shoppers_active;
} gd_team_stats;

typedef struct gd_game {
    uv_loop_t *loop;
    gd_store *db;
    gd_scenario *sc;
    char dir[PATH_MAX];
    char exe[PATH_MAX];
    char host[16];
    int port;
    char admin_token[65], internal_token[65];
    double duration;
    int nteams;
    int net;      /* team t's VPC is 127.(net + t - 1).0.0/16 */
    int ended;    /* game clock passed the duration */
    int finished; /* ended and every loadgen reported its last */
    double last_billing;
    int next_event;
    char message[512];
    gd_http_server api;
    uv_timer_t tick;
    gd_proc *procs;
    gd_edge_link *edges;
    gd_edge_link *dns;       /* the game's DNS server (dnspush.c), a link like an edge's */
    gd_edge_link *nat;       /* the game's Elastic IPs (eips.c) */
    gd_edge_link *functions; /* each function's `gameday lambda` (functions.c) */
    double az_down[6];       /* zones a..f: game time an az_outage lasts until (kv az_down_<z>) */
    int az_loaded;           /* az_down read from the store (after a restart) */
    gd_team_stats teams[GD_MAX_TEAMS + 1];
    char team_names[GD_MAX_TEAMS + 1][GD_TEAM_NAME_MAX + 1]; /* shown on the boards */
    gd_rand rnd;
    gd_metrics *metrics; /* CloudWatch-like series of the edges */
    int stopping;
    uint64_t fleet_sampled_at; /* loop time (ms) of the fleet's last metrics */
    uint64_t ecs_sampled_at;   /* loop time (ms) of the ECS metrics' last sample (ecs.c) */
    int spot_next;             /* the next spot interruption to give notice of (spot.c) */
    int spot_loaded;           /* spot_next read from the store, spot_times past it */
    gd_spot_times spot_times;  /* its generator: spot_at is interruption spot_next */
    double spot_at;
    int reconciling;     /* a reconcile pass is running */
    int reconcile_again; /* a write during it asked for another */
    json_t *faults;      /* faults in force (faults.c), NULL until the first */
    int fis_loaded;      /* the running experiments' faults were put back after a start */
    int fis_busy;        /* the experiment runner is advancing them */
    /* Chaos Monkey's progress and chaos's counts (monkey.c), NULL until the first */
    struct gd_monkey *monkey;
    /* cache clusters' nodes as they answer (cache_cluster.c), NULL until the first */
    struct gd_cache_rt *cache;
    /* the scoreboard's live stream clients (stream.c), NULL until the first */
    struct gd_stream_hub *streams;
} gd_game;

/* ---- game.c ---- */
/** Game time now, in seconds. */
double gd_game_now(const gd_game *g);
/** Audits one mutation (principal: "team-1", "admin", "autoscaling", "chaos-monkey"...). */
void gd_game_audit(gd_game *g, int team, const char *principal, const char *source_ip,
                   const char *event, json_t *request, json_t *response, const char *error_code);

/** The team's name on the boards: the teams file's (gameday host), else "team-T". */
const char *gd_game_team_name(const gd_game *g, int team);
/** Reads a teams file (one name per line; '#' comments and blank lines skipped) into
 *  names; the count, or -1 with "FILE:LINE: what is wrong" in err. */
int gd_game_read_teams(const char *path, char names[][GD_TEAM_NAME_MAX + 1], int max, char *err,
                       size_t n);

/* ---- score.c ---- */
/** Takes a loadgen report; 0 or GD_EINVAL with a message in err. */
int gd_game_report(gd_game *g, json_t *report, char *err, size_t errlen);

/* ---- views.c ---- */
/** The team's endpoint "IP:PORT" (its architecture.endpoint resource), "" if none. */
void gd_game_endpoint(gd_game *g, int team, char *out, size_t n);
json_t *gd_game_scoreboard(gd_game *g);
json_t *gd_game_status(gd_game *g);
json_t *gd_game_result(gd_game *g);
/** A team's bill so far: total, by resource, by line (instance-hours by type, load
 *  balancer hours, CDN requests, alarm-months) and every item, dearest first, with the
 *  multiplier and the share of what the team earned that it cost (billing.c). */
json_t *gd_billing_bill(gd_game *g, int team);
json_t *gd_game_info(gd_game *g);

/* ---- launcher.c ---- */
/** Runs every reconciler once: autoscaling groups, instance boots, edges, loadgens. */
void gd_launcher_reconcile(gd_game *g);
/** Starts the processes of a team's loadgen. */
void gd_launcher_start_loadgen(gd_game *g, int team);
/** Finds processes from an earlier server life (after a restart) and watches them. */
void gd_launcher_adopt(gd_game *g);
/** Signals every child (SIGTERM) and forgets them. */
void gd_launcher_stop_all(gd_game *g);
/** Instances of a team (0 = all) with their health as the edges see it. */
json_t *gd_launcher_instances(gd_game *g, int team);

/* ---- api.c ---- */
/** Starts the HTTP API and the scoreboard on host:port. */
int gd_api_start(gd_game *g);

/* The server role (argv[0] is its name); returns the process exit code. */
int gd_cmd_server(int argc, char **argv);

#endif
