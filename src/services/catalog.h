/* MyClothes.com's catalogue: GD_CATALOG_N products whose names, prices and stock are
 * drawn from the scenario's salt (SHA-256 of "<salt>:product:<id>"), so that every
 * instance of a game, and the loadgen that checks them, agree on it without sharing
 * anything. Prices and stock do not change while a game runs (no database yet). */
#ifndef GD_SERVICES_CATALOG_H
#define GD_SERVICES_CATALOG_H

#include <jansson.h>

#define GD_CATALOG_N 200 /* products, ids 1..GD_CATALOG_N */

typedef struct gd_product {
    int id;
    char name[48];
    int price_cents; /* 499..11599, ending in 99 */
    int stock;       /* 10..500 */
} gd_product;

typedef struct gd_catalog {
    gd_product p[GD_CATALOG_N];
} gd_catalog;

/** Fills c from salt (NULL: ""). The same salt gives the same catalogue. */
void gd_catalog_make(gd_catalog *c, const char *salt);

/** The product with this id, NULL when there is none. */
const gd_product *gd_catalog_find(const gd_catalog *c, long long id);

/** {"id","name","price_cents","stock"}, a new reference. */
json_t *gd_product_json(const gd_product *p);

#endif
