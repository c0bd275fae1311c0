/* The managed database (`db`, RDS for PostgreSQL): its instance classes (vCPUs,
 * memory, us-east-1 list price, query slots, max_connections), its registry fields and
 * checks, and the pure pieces its reconciler (src/server/db.c) and the shop build on:
 * where its nodes go, the pg_hba.conf its security groups make, and a libpq conninfo.
 * Pure: no store, no process. */
#ifndef GD_MODEL_DB_H
#define GD_MODEL_DB_H

#include "core/buf.h"
#include "model/registry.h"
#include "model/schema.h"

#include <jansson.h>
#include <stddef.h>

typedef struct gd_dbclass {
    const char *name; /* "db.t3.micro" */
    int vcpu;
    double memory_gib;
    double price;        /* $/hour, Single-AZ PostgreSQL on-demand, us-east-1 */
    int slots;           /* queries worked on at once (the emulated CPU), like an itype's */
    int max_connections; /* RDS's default: LEAST(memory / 9531392, 5000) */
} gd_dbclass;

/** The class of that name, NULL when unknown. */
const gd_dbclass *gd_dbclass_find(const char *name);
/** A class's list price, $/hour (RDS for PostgreSQL, Single-AZ, us-east-1); -1 when
 *  unknown. */
double gd_dbclass_price(const char *name);
/** Every class, *n of them. */
const gd_dbclass *gd_dbclass_all(size_t *n);

/** The fields of a db spec (the registry row's). */
extern const gd_field gd_db_fields[];
/** Checks between the fields of a db spec (the row's check_spec). */
void gd_db_check_spec(gd_spec_check *x, json_t *spec);
/** Checks against the architecture (the row's check_arch): subnets distinct, and a
 *  multi_az db has subnets in two zones at least. */
void gd_db_check_arch(gd_arch_check *a, const json_t *res);

/* Roles of a node. */
#define GD_DB_PRIMARY "primary"
#define GD_DB_STANDBY "standby"
#define GD_DB_REPLICA "replica"
#define GD_DB_MAX_NODES 7 /* a primary, a standby, 5 replicas */

typedef struct gd_db_place {
    const char *role; /* GD_DB_* */
    size_t subnet;    /* index into the db's subnets */
} gd_db_place;

/** Where a db's nodes go: the primary in the first subnet, the standby (multi_az) in
 *  the first subnet of another zone, the replicas round robin over the subnets from the
 *  second on (the primary's zone last), so that they spread. azs[i] is subnet i's zone.
 *  Returns the number of nodes (1 + standby + replicas), or GD_EINVAL when multi_az has
 *  no second zone. */
int gd_db_place_nodes(const char *const *azs, size_t nsubnets, int replicas, int multi_az,
                      gd_db_place *out, size_t max);

/** pg_hba.conf for a db: the unix socket (the server and the replicas, in a folder only
 *  the server's user can enter) trusted, then one `host DB USER CIDR scram-sha-256` line
 *  per block of allow (blocks one a line, as gd_sg_allow writes them); nothing else, so
 *  PostgreSQL refuses every other source itself. A line of allow that is not a block is
 *  skipped. 0, or GD_ETOOBIG when out is full. */
int gd_db_hba(const char *allow, const char *dbname, const char *user, gd_buf *out);

/** A libpq conninfo "host=... port=... dbname=... user=... password=..." with every
 *  value quoted as libpq wants ('...' with \ and ' escaped); extra (may be NULL) is
 *  appended as it is. The length written, or GD_ETOOBIG when it does not fit. */
int gd_db_conninfo(char *out, size_t n, const char *host, int port, const char *dbname,
                   const char *user, const char *password, const char *extra);

/** 1 if s is a name PostgreSQL takes unquoted for our roles and databases
 *  ([a-z_][a-z0-9_]{0,62}). */
int gd_db_ident_ok(const char *s);

#endif
