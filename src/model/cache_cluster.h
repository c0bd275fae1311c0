/* The cache_cluster type (ElastiCache for Redis, a replication group), what is pure
 * about it: the node types with their memory, the spec's field table and its checks
 * (within a spec and against the architecture), where a new node goes (placement
 * across the subnets' zones), which replica a failover promotes, and reading the
 * fields of Redis' INFO. The server's reconciler (src/server/cache_cluster.c) runs the
 * real redis-server processes with these. */
#ifndef GD_MODEL_CACHE_CLUSTER_H
#define GD_MODEL_CACHE_CLUSTER_H

#include "model/arch.h"
#include "model/registry.h"
#include "model/schema.h"

#include <jansson.h>
#include <stddef.h>

/* A node type as ElastiCache lists it. Its price is the scenario's (billing.prices,
 * by the type's name: us-east-1 list prices by default). */
typedef struct gd_cache_node_type {
    const char *name;    /* "cache.t3.micro" */
    int vcpu;            /* vCPUs */
    double memory_gib;   /* the node's memory */
    long long maxmemory; /* bytes: ElastiCache's maxmemory parameter for the type */
} gd_cache_node_type;

/** Every node type, *n gets their number (in the order of the node_type enum). */
const gd_cache_node_type *gd_cache_node_types(size_t *n);
/** The node type of that name, NULL when unknown. */
const gd_cache_node_type *gd_cache_node_type_find(const char *name);

/** The registry's field table of a cache_cluster (registry.c's row points at it). */
extern const gd_field gd_cache_fields[];
/** The registry's check between the fields of one spec (check_spec): fills
 *  automatic_failover (default: multi_az), then multi_az and automatic_failover each
 *  need replicas >= 1, and multi_az needs automatic_failover. */
void gd_cache_check_spec(gd_spec_check *x, json_t *spec);
/** The registry's check against the architecture (check_arch): multi_az needs its
 *  subnets in at least two availability zones. */
void gd_cache_check_arch(gd_arch_check *a, const json_t *res);

/** The registry's depends hook: 1 when `on` is a subnet one of the cluster's nodes
 *  (its status) has its address in, even after the spec stopped naming it; else 0 (its
 *  reference fields count). */
int gd_cache_depends(const json_t *res, const json_t *on);

/** Where a new node goes: the index of the subnet (of nsub, with their zones in
 *  subnet_azs and 0 in subnet_ok[i] for one that cannot take a node now, its zone being
 *  down) whose zone has the fewest of the cluster's nodes (their zones in node_azs,
 *  nnodes of them), the earliest such subnet on a tie. -1 when no subnet can. The
 *  primary goes in the first subnet (nnodes 0 makes that the answer when it can). */
int gd_cache_place(const char *const *subnet_azs, const int *subnet_ok, size_t nsub,
                   const char *const *node_azs, size_t nnodes);

/* A replica a failover could promote, as its last INFO described it. */
typedef struct gd_cache_candidate {
    int usable;    /* its process runs and answers PING */
    double offset; /* its replication offset: how much of the primary's stream it has */
    double lag_s;  /* seconds since it last acknowledged the primary (INFO's lag) */
} gd_cache_candidate;

/** The replica to promote: among the usable ones, the one with the highest offset
 *  (the least data behind), then the smallest lag, then the first. -1 when none. */
int gd_cache_pick_promotion(const gd_cache_candidate *c, size_t n);

/** The value of `key` in Redis' INFO text ("key:value" lines, CRLF or LF), copied into
 *  out (n bytes, NUL-terminated, cut to fit). 0, or -1 when the key is absent. */
int gd_cache_info_field(const char *info, size_t len, const char *key, char *out, size_t n);
/** The same as a number, def when absent or not a number. */
double gd_cache_info_num(const char *info, size_t len, const char *key, double def);
/** One "key=value" of a comma-separated INFO value (a replica line "ip=...,port=...,
 *  lag=1"), copied into out. 0, or -1 when absent. */
int gd_cache_info_sub(const char *value, const char *key, char *out, size_t n);

#endif
