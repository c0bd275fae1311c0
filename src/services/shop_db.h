/* The shop's database (doc/clothes.md, "database mode"): the catalogue (products with
 * price and stock) and the orders in a real PostgreSQL, the managed `db` of the
 * launch template's `database`. libpq's asynchronous API on the instance's loop
 * (core/pgc.h), a bounded pool of connections leased one transaction at a time, and
 * each query holding one of the db's slots (its emulated CPU: gameday.take_slot(), an
 * advisory lock held until the transaction ends) for the game ms the db says.
 * libpq cannot choose its source address, and the db's pg_hba.conf admits the
 * instance's address only: libpq talks to a relay of this process on an abstract
 * unix socket, which connects to the db from the instance's own address, after
 * resolving the db's endpoint name in the game's DNS (its TTL honoured: a failover's
 * new address is found on the next connection). */
#ifndef GD_SERVICES_SHOP_DB_H
#define GD_SERVICES_SHOP_DB_H

#include "core/buf.h"
#include "services/catalog.h"

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

typedef struct gd_shopdb gd_shopdb;

typedef struct gd_shopdb_conf {
    const char *url;      /* GAMEDAY_DB_URL: a libpq conninfo; host the endpoint's name or IP */
    const char *read_url; /* GAMEDAY_DB_READ_URL: the replicas' (product reads), or NULL */
    const char *src_ip;   /* the instance's address: every connection comes from it */
    int pool;             /* connections per endpoint, 1..64 */
    uint64_t timeout_ms;  /* wall ms a query (or a connect) may take; 0: 2000 */
} gd_shopdb_conf;

/* A query's end: err 0 with doc (a new reference the callee takes), GD_EFULL (a
 * checkout: a product's stock is short; msg names it), GD_EAGAIN (the database is down
 * or every connection busy and the queue full), GD_EIO (it failed meanwhile). */
typedef void (*gd_shopdb_cb)(void *arg, int err, json_t *doc, const char *msg);

/** Starts the relays and the pools on loop, and seeds the schema and the catalogue
 *  (idempotently: every instance does it). 0, or GD_EINVAL (a url libpq does not parse,
 *  a pool out of range). */
int gd_shopdb_start(uv_loop_t *loop, const gd_shopdb_conf *conf, const gd_catalog *cat,
                    gd_shopdb **out);
/** 1 while the primary's pool has a connection up or none has failed lately. */
int gd_shopdb_up(const gd_shopdb *d);
/** A product (id 1..), or the whole catalogue (id 0), read from the primary or the
 *  replicas. 0: cb later; GD_EAGAIN at once (down; cb never called). */
int gd_shopdb_products(gd_shopdb *d, long long id, gd_shopdb_cb cb, void *arg);
/** A checkout in one transaction: each line's stock taken (none if one is short) and
 *  the order ({"order_id","items","total_cents"}) inserted with the session id. */
int gd_shopdb_checkout(gd_shopdb *d, const char *sid, const json_t *order, gd_shopdb_cb cb,
                       void *arg);
/** The database's series (Prometheus text) with labels. */
void gd_shopdb_metrics(const gd_shopdb *d, gd_buf *b, const char *labels);

#endif
