/* cache_cluster resources (ElastiCache for Redis): their reconciler, which runs each
 * node as a real redis-server process on an address of its subnet, checks it (PING,
 * INFO), fails over to a replica when the primary dies, and gives the cluster's primary
 * and reader endpoints to the game's nat; and what the rest of the server asks of it
 * (the endpoint and password a launch template's session_store names, the addresses
 * it holds, the nat's mappings, a node's exit, a test failover, a chaos node loss).
 * Private to src/server. */
#ifndef GD_SERVER_CACHE_CLUSTER_H
#define GD_SERVER_CACHE_CLUSTER_H

#include "core/buf.h"
#include "server/game.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* How the server watches a node, in wall time: a PING every GD_CACHE_CHECK_MS (one at a
 * time, answered within GD_CACHE_PING_TIMEOUT_MS), and a node that has answered since it
 * started and then misses GD_CACHE_FAILED_CHECKS in a row is taken for dead (and killed,
 * so that it cannot come back as a second primary). */
#define GD_CACHE_CHECK_MS 250
#define GD_CACHE_PING_TIMEOUT_MS 500
#define GD_CACHE_FAILED_CHECKS 3

/** Runs every cache cluster in `clusters` (live cache_cluster resources of every team):
 *  addresses, node processes, checks, failover, status, metrics; and stops the nodes of
 *  clusters no longer there. */
void gd_cache_reconcile(gd_game *g, json_t *clusters);

/** Appends to maps the nat's mappings of every cluster the last pass saw: its primary
 *  endpoint to the primary node, its reader endpoint to the replicas (round robin; the
 *  primary when there is none), each with the allow list of the cluster's security
 *  groups and close_on_move (a failover drops the clients' connections). */
void gd_cache_nat_maps(gd_game *g, json_t *maps);

/** 1 if one of `clusters` (cache_cluster resources) holds address ip: a node's or an
 *  endpoint's. */
int gd_cache_holds_ip(const json_t *clusters, uint32_t ip);

/** A team's cluster by name: its primary endpoint ("IP:PORT") into ep and its password
 *  into pw ("" without auth). 0, or GD_ENOENT when there is no such cluster, or GD_EAGAIN
 *  when it has no endpoint yet. */
int gd_cache_endpoint(gd_game *g, int team, const char *name, char *ep, size_t epn, char *pw,
                      size_t pwn);

/** Appends the server's series of the cache clusters to b (Prometheus text):
 *  gameday_cache_node_up{team,cluster,node,role} (1 while it answers PING) and
 *  gameday_cache_failovers_total{team,cluster} (since this server started). */
void gd_cache_metrics(gd_game *g, gd_buf *b);

/** A node's process (res_id: its key) ended; `expected` when the server stopped it. */
void gd_cache_proc_exited(gd_game *g, const char *res_id, const char *why, int expected);

/** The key of a node (its process's res_id, log and data folder): "<cluster id>-<num>". */
void gd_cache_node_key(const char *cluster_id, int num, char *out, size_t n);

/** TestFailover: the primary of a team's cluster (id or name) is made to fail (kill -9),
 *  and automatic failover promotes a replica. 0, or GD_ENOENT (no such cluster),
 *  GD_EINVAL (no automatic failover, or no replica to promote) or GD_EAGAIN (the cluster
 *  is not available) with a message in err. */
int gd_cache_test_failover(gd_game *g, int team, const char *cluster, const char *principal,
                           char *err, size_t errlen);

/** Chaos: kill -9 of one node of a team's cluster (id): its primary (role "primary"), or
 *  its first running replica ("replica"). The node's id goes to node (may be NULL). 0, or
 *  GD_ENOENT when there is no such running node. */
int gd_cache_kill_node(gd_game *g, int team, const char *cluster_id, const char *role,
                       const char *by, char *node, size_t noden);

#endif
