/* The deterministic catalogue of MyClothes.com (see catalog.h). */
#include "services/catalog.h"
#include "core/hash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const fits[] = {"Slim",      "Relaxed",  "Classic", "Cropped",
                                   "Oversized", "Tailored", "Vintage", "Everyday"};
static const char *const colours[] = {"Navy",  "Black", "Olive", "Sand",  "Rust", "Grey",
                                      "White", "Denim", "Plum",  "Ochre", "Teal", "Cream"};
static const char *const garments[] = {
    "T-Shirt", "Hoodie", "Chinos", "Jeans",  "Jacket",   "Sweater", "Shirt",  "Dress",
    "Skirt",   "Parka",  "Shorts", "Blazer", "Cardigan", "Scarf",   "Beanie", "Trainers"};

#define NUM(a) (sizeof a / sizeof a[0])

/* n hex digits of h from position at, as a number. */
static unsigned long hexnum(const char *h, int at, int n)
{
    char d[9];
    memcpy(d, h + at, (size_t)n);
    d[n] = 0;
    return strtoul(d, NULL, 16);
}

void gd_catalog_make(gd_catalog *c, const char *salt)
{
    for (int i = 0; i < GD_CATALOG_N; i++) {
        char key[32], h[65];
        int kl = snprintf(key, sizeof key, "product:%d", i + 1);
        gd_hash_key(salt ? salt : "", key, (size_t)kl, h);
        gd_product *p = &c->p[i];
        p->id = i + 1;
        snprintf(p->name, sizeof p->name, "%s %s %s", fits[hexnum(h, 0, 4) % NUM(fits)],
                 colours[hexnum(h, 4, 4) % NUM(colours)],
                 garments[hexnum(h, 8, 4) % NUM(garments)]);
        p->price_cents = (int)(5 + hexnum(h, 12, 6) % 112) * 100 - 1;
        p->stock = 10 + (int)(hexnum(h, 18, 6) % 491);
    }
}

const gd_product *gd_catalog_find(const gd_catalog *c, long long id)
{
    return id >= 1 && id <= GD_CATALOG_N ? &c->p[id - 1] : NULL;
}

json_t *gd_product_json(const gd_product *p)
{
    return json_pack("{s:i,s:s,s:i,s:i}", "id", p->id, "name", p->name, "price_cents",
                     p->price_cents, "stock", p->stock);
}
