/* The cache_cluster type's pure parts (see cache_cluster.h): node types, fields and
 * checks, placement, the failover's choice and INFO's fields. */
#include "model/cache_cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define F(n, k, req, dflt) .name = (n), .kind = (k), .required = (req), .def = (dflt)
#define RANGE(lo, hi) .ranged = 1, .min = (lo), .max = (hi)

/* ElastiCache's node types, one row a type: name, vCPUs, memory GiB, and the type's
 * maxmemory parameter (bytes) from ElastiCache's Redis node-type parameters. The
 * node_type enum is made from the same rows. */
#define NODE_TYPES(X)                                                                              \
    X("cache.t3.micro", 2, 0.5, 536870912LL)                                                       \
    X("cache.t3.small", 2, 1.37, 1471026299LL)                                                     \
    X("cache.m5.large", 2, 6.38, 6854542746LL)                                                     \
    X("cache.r5.large", 2, 13.07, 14037181153LL)
#define NT_NAME(n, v, m, mx) n,
#define NT_ROW(n, v, m, mx) {n, v, m, mx},
static const char *const node_type_names[] = {NODE_TYPES(NT_NAME) NULL};
static const gd_cache_node_type node_types[] = {NODE_TYPES(NT_ROW)};
#define NTYPES (sizeof node_types / sizeof node_types[0])

const gd_cache_node_type *gd_cache_node_types(size_t *n)
{
    *n = NTYPES;
    return node_types;
}

const gd_cache_node_type *gd_cache_node_type_find(const char *name)
{
    for (size_t i = 0; name && i < NTYPES; i++)
        if (!strcmp(node_types[i].name, name)) return &node_types[i];
    return NULL;
}

/* automatic_failover has no default of its own: it takes multi_az's (check_spec). */
const gd_field gd_cache_fields[] = {
    {F("node_type", GD_F_ENUM, 0, "\"cache.t3.micro\""), .enums = node_type_names},
    {F("replicas", GD_F_INT, 0, "0"), RANGE(0, 5)},
    {F("subnets", GD_F_REFS, 1, NULL), RANGE(1, 6)},
    {F("multi_az", GD_F_BOOL, 0, "false")},
    {F("automatic_failover", GD_F_BOOL, 0, NULL)},
    /* absent: only the team's own VPC may connect (its default security group) */
    {F("security_groups", GD_F_REFS, 0, NULL), RANGE(0, 5)},
    {F("port", GD_F_INT, 0, "6379"), RANGE(1024, 65535)},
    {F("auth", GD_F_BOOL, 0, "true")},
    {F("tags", GD_F_TAGS, 0, NULL)},
    {.name = NULL},
};

void gd_cache_check_spec(gd_spec_check *x, json_t *spec)
{
    json_t *ma = json_object_get(spec, "multi_az"),
           *af = json_object_get(spec, "automatic_failover");
    if (!af && json_is_boolean(ma) && !gd_spec_is_bad(x, "multi_az")) {
        json_object_set(spec, "automatic_failover", ma);
        af = ma;
    }
    json_t *rep = json_object_get(spec, "replicas");
    int none =
        json_is_integer(rep) && json_integer_value(rep) == 0 && !gd_spec_is_bad(x, "replicas");
    if (none && json_is_true(ma) && !gd_spec_is_bad(x, "multi_az")) {
        gd_spec_fail(x, spec, "multi_az", ma, "multi_az",
                     "false with replicas: 0, or replicas 1..5",
                     "a Multi-AZ cluster needs a replica in another zone to fail over to "
                     "(replicas is 0)");
    } else if (none && json_is_true(af) && !gd_spec_is_bad(x, "automatic_failover")) {
        gd_spec_fail(x, spec, "automatic_failover", af, "automatic_failover",
                     "false with replicas: 0, or replicas 1..5",
                     "automatic failover needs a replica to promote (replicas is 0)");
    } else if (json_is_true(ma) && json_is_false(af) && !gd_spec_is_bad(x, "automatic_failover")) {
        gd_spec_fail(x, spec, "automatic_failover", af, "automatic_failover",
                     "true with multi_az: true (as ElastiCache requires)",
                     "a Multi-AZ cluster fails over by itself: automatic_failover cannot be "
                     "false");
    }
}

void gd_cache_check_arch(gd_arch_check *a, const json_t *res)
{
    json_t *spec = json_object_get(res, "spec"), *subnets = json_object_get(spec, "subnets");
    if (!json_is_true(json_object_get(spec, "multi_az"))) return;
    const char *first = NULL;
    int zones = 0;
    size_t i;
    json_t *v;
    json_array_foreach(subnets, i, v)
    {
        const json_t *sn = gd_arch_find(a->resources, "subnet", json_string_value(v));
        if (!sn) return; /* reported by the reference check */
        const char *az = json_string_value(json_object_get(json_object_get(sn, "spec"), "az"));
        if (!az) az = "a";
        if (!first)
            first = az, zones = 1;
        else if (strcmp(first, az) != 0)
            zones = 2;
    }
    if (zones < 2)
        gd_arch_fail(a, spec, "subnets", subnets, "subnets",
                     "subnets in at least two availability zones with multi_az: true",
                     "every subnet is in zone %s: a Multi-AZ cluster keeps a replica in "
                     "another zone",
                     first ? first : "a");
}

int gd_cache_depends(const json_t *res, const json_t *on)
{
    const char *type = json_string_value(json_object_get(on, "type"));
    const char *name = json_string_value(json_object_get(on, "name"));
    if (!type || !name || strcmp(type, "subnet") != 0) return 0;
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(json_object_get(res, "status"), "nodes"), i, n)
    {
        const char *s = json_string_value(json_object_get(n, "subnet"));
        if (s && !strcmp(s, name)) return 1;
    }
    return 0;
}

int gd_cache_place(const char *const *subnet_azs, const int *subnet_ok, size_t nsub,
                   const char *const *node_azs, size_t nnodes)
{
    int best = -1;
    size_t best_n = 0;
    for (size_t i = 0; i < nsub; i++) {
        if (!subnet_ok[i]) continue;
        size_t n = 0;
        for (size_t k = 0; k < nnodes; k++) n += node_azs[k] && !strcmp(node_azs[k], subnet_azs[i]);
        if (best < 0 || n < best_n) {
            best = (int)i;
            best_n = n;
        }
    }
    return best;
}

int gd_cache_pick_promotion(const gd_cache_candidate *c, size_t n)
{
    int best = -1;
    for (size_t i = 0; i < n; i++) {
        if (!c[i].usable) continue;
        if (best < 0 || c[i].offset > c[best].offset ||
            (c[i].offset == c[best].offset && c[i].lag_s < c[best].lag_s))
            best = (int)i;
    }
    return best;
}

int gd_cache_info_field(const char *info, size_t len, const char *key, char *out, size_t n)
{
    size_t kl = strlen(key);
    const char *p = info, *end = info + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        if ((size_t)(le - p) > kl && !memcmp(p, key, kl) && p[kl] == ':') {
            const char *v = p + kl + 1, *ve = le;
            if (ve > v && ve[-1] == '\r') ve--;
            size_t vl = (size_t)(ve - v);
            if (n) {
                if (vl >= n) vl = n - 1;
                memcpy(out, v, vl);
                out[vl] = 0;
            }
            return 0;
        }
        p = nl ? nl + 1 : end;
    }
    return -1;
}

double gd_cache_info_num(const char *info, size_t len, const char *key, double def)
{
    char b[64], *e;
    if (gd_cache_info_field(info, len, key, b, sizeof b) < 0) return def;
    double v = strtod(b, &e);
    return e == b || *e ? def : v;
}

int gd_cache_info_sub(const char *value, const char *key, char *out, size_t n)
{
    size_t kl = strlen(key);
    for (const char *p = value; p && *p;) {
        const char *c = strchr(p, ',');
        size_t l = c ? (size_t)(c - p) : strlen(p);
        if (l > kl && !strncmp(p, key, kl) && p[kl] == '=') {
            size_t vl = l - kl - 1;
            if (n) {
                if (vl >= n) vl = n - 1;
                memcpy(out, p + kl + 1, vl);
                out[vl] = 0;
            }
            return 0;
        }
        p = c ? c + 1 : NULL;
    }
    return -1;
}
