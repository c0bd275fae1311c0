/* The managed database's classes, fields, checks and pure helpers (see db.h). */
#include "model/db.h"
#include "core/addr.h"
#include "core/err.h"
#include "model/arch.h"

#include <stdio.h>
#include <string.h>

#define F(n, k, req, dflt) .name = (n), .kind = (k), .required = (req), .def = (dflt)
#define RANGE(lo, hi) .ranged = 1, .min = (lo), .max = (hi)

/* Prices: RDS for PostgreSQL, Single-AZ, on-demand, us-east-1 (a Multi-AZ instance is
 * billed as two: its standby is a node too). Slots in the unit where an instance's
 * t3.micro has 5: the burstable t3 by their baseline share, m5 and r5 every vCPU (r5
 * has more memory for the same CPU, so more connections, not more slots).
 * max_connections: RDS's default formula on the class's memory. */
static const gd_dbclass classes[] = {
    {"db.t3.micro", 2, 1, 0.018, 5, 112},
    {"db.t3.small", 2, 2, 0.036, 10, 225},
    {"db.m5.large", 2, 8, 0.178, 40, 901},
    {"db.r5.large", 2, 16, 0.25, 40, 1802},
};
#define NCLASSES (sizeof classes / sizeof classes[0])

static const char *const class_names[] = {"db.t3.micro", "db.t3.small", "db.m5.large",
                                          "db.r5.large", NULL};

const gd_dbclass *gd_dbclass_find(const char *name)
{
    for (size_t i = 0; name && i < NCLASSES; i++)
        if (!strcmp(classes[i].name, name)) return &classes[i];
    return NULL;
}

double gd_dbclass_price(const char *name)
{
    const gd_dbclass *c = gd_dbclass_find(name);
    return c ? c->price : -1;
}

const gd_dbclass *gd_dbclass_all(size_t *n)
{
    *n = NCLASSES;
    return classes;
}

const gd_field gd_db_fields[] = {
    {F("instance_class", GD_F_ENUM, 0, "\"db.t3.micro\""), .enums = class_names},
    {F("read_replicas", GD_F_INT, 0, "0"), RANGE(0, 5)},
    {F("multi_az", GD_F_BOOL, 0, "false")},
    {F("subnets", GD_F_REFS, 1, NULL), RANGE(1, 6)},
    /* absent: the team's own network (127.T.0.0/16) may connect, nothing else */
    {F("security_groups", GD_F_REFS, 0, NULL), RANGE(0, 5)},
    {F("port", GD_F_INT, 0, "5432"), RANGE(1150, 65535)},
    {F("storage_gb", GD_F_INT, 0, "20"), RANGE(20, 65536)},
    /* the database and the user the reconciler makes (its password is generated) */
    {F("db_name", GD_F_STR, 0, "\"shop\"")},
    {F("username", GD_F_STR, 0, "\"shop\"")},
    /* game time one query holds one of the db's slots (its emulated CPU) */
    {F("query_time", GD_F_DUR, 0, "0.02"), RANGE(0, 10)},
    {F("tags", GD_F_TAGS, 0, NULL)},
    {.name = NULL},
};

int gd_db_ident_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 63 || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_')) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return 0;
    return 1;
}

/* Names PostgreSQL keeps for itself, which a db's database or user may not take. */
static int reserved_ident(const char *s)
{
    static const char *const r[] = {"postgres", "template0", "template1",
                                    "gameday",  "public",    NULL};
    for (int i = 0; r[i]; i++)
        if (!strcmp(s, r[i]) || !strncmp(s, "pg_", 3)) return 1;
    return 0;
}

void gd_db_check_spec(gd_spec_check *x, json_t *spec)
{
    static const char *const idents[] = {"db_name", "username", NULL};
    for (int i = 0; idents[i]; i++) {
        json_t *v = json_object_get(spec, idents[i]);
        if (!v || gd_spec_is_bad(x, idents[i])) continue;
        const char *s = json_string_value(v);
        if (!gd_db_ident_ok(s))
            gd_spec_fail(x, spec, idents[i], v, idents[i],
                         "1..63 of a-z, 0-9 and _, starting with a letter or _",
                         "not a PostgreSQL name");
        else if (reserved_ident(s))
            gd_spec_fail(x, spec, idents[i], v, idents[i],
                         "a name other than postgres, template0, template1, gameday, public "
                         "and pg_*",
                         "'%s' is PostgreSQL's or gameday's own", s);
    }
}

void gd_db_check_arch(gd_arch_check *a, const json_t *res)
{
    json_t *spec = json_object_get(res, "spec"), *subnets = json_object_get(spec, "subnets");
    const char *azs[8];
    size_t n = 0, i, j;
    json_t *v;
    json_array_foreach(subnets, i, v)
    {
        for (j = 0; j < i; j++)
            if (json_equal(v, json_array_get(subnets, j))) {
                char fp[32];
                snprintf(fp, sizeof fp, "subnets[%zu]", i);
                gd_arch_fail(a, subnets, NULL, v, fp, "each subnet once",
                             "subnet '%s' is listed twice", json_string_value(v));
                return;
            }
        const json_t *sn = gd_arch_find(a->resources, "subnet", json_string_value(v));
        const char *az = json_string_value(json_object_get(json_object_get(sn, "spec"), "az"));
        if (n < 8) azs[n++] = az ? az : "a";
    }
    if (!json_is_true(json_object_get(spec, "multi_az"))) return;
    gd_db_place pl[GD_DB_MAX_NODES];
    if (gd_db_place_nodes(azs, n, 0, 1, pl, GD_DB_MAX_NODES) < 0)
        gd_arch_fail(a, spec, "subnets", subnets, "subnets",
                     "subnets in at least two availability zones (the standby lives in another "
                     "zone than the primary)",
                     "multi_az needs a subnet in a second availability zone; all of these are "
                     "in zone %s",
                     n ? azs[0] : "a");
}

int gd_db_place_nodes(const char *const *azs, size_t nsubnets, int replicas, int multi_az,
                      gd_db_place *out, size_t max)
{
    if (nsubnets == 0 || max < 1) return GD_EINVAL;
    size_t k = 0;
    out[k++] = (gd_db_place){GD_DB_PRIMARY, 0};
    if (multi_az) {
        size_t s = 0;
        for (size_t i = 1; i < nsubnets && !s; i++)
            if (strcmp(azs[i], azs[0]) != 0) s = i;
        if (!s) return GD_EINVAL;
        if (k < max) out[k++] = (gd_db_place){GD_DB_STANDBY, s};
    }
    for (int r = 0; r < replicas && k < max; r++)
        out[k++] = (gd_db_place){GD_DB_REPLICA, nsubnets == 1 ? 0 : (size_t)(1 + r) % nsubnets};
    return (int)k;
}

int gd_db_hba(const char *allow, const char *dbname, const char *user, gd_buf *out)
{
    int rc = 0;
    rc |= gd_buf_printf(out, "# made by gameday from the db's security groups: do not edit\n"
                             "# TYPE  DATABASE     USER     ADDRESS              METHOD\n"
                             "local   all          all                           trust\n"
                             "local   replication  all                           trust\n");
    for (const char *p = allow ? allow : ""; *p;) {
        const char *e = strchr(p, '\n');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        char line[64];
        gd_cidr c;
        if (l > 0 && l < sizeof line) {
            memcpy(line, p, l);
            line[l] = 0;
            char cb[24];
            if (gd_cidr_parse(line, 1, &c) == 0)
                rc |= gd_buf_printf(out, "host    %-12s %-8s %-20s scram-sha-256\n", dbname, user,
                                    gd_cidr_format(c, cb));
        }
        p += l + (e != NULL);
    }
    return rc < 0 ? GD_ETOOBIG : 0;
}

/* Appends key='value' to out (at *off), quoting as libpq's conninfo wants. */
static int kv(char *out, size_t n, size_t *off, const char *key, const char *val)
{
    size_t o = *off;
    int w = snprintf(out + o, o < n ? n - o : 0, "%s%s='", o ? " " : "", key);
    if (w < 0) return GD_ETOOBIG;
    o += (size_t)w;
    for (const char *p = val ? val : ""; *p; p++) {
        if (*p == '\'' || *p == '\\') {
            if (o + 1 < n) out[o] = '\\';
            o++;
        }
        if (o + 1 < n) out[o] = *p;
        o++;
    }
    if (o + 1 < n) out[o] = '\'';
    o++;
    if (o >= n) return GD_ETOOBIG;
    out[o] = 0;
    *off = o;
    return 0;
}

int gd_db_conninfo(char *out, size_t n, const char *host, int port, const char *dbname,
                   const char *user, const char *password, const char *extra)
{
    if (n == 0) return GD_ETOOBIG;
    out[0] = 0;
    size_t off = 0;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    if (kv(out, n, &off, "host", host) < 0 || kv(out, n, &off, "port", ps) < 0 ||
        kv(out, n, &off, "dbname", dbname) < 0 || kv(out, n, &off, "user", user) < 0 ||
        (password && kv(out, n, &off, "password", password) < 0))
        return GD_ETOOBIG;
    if (extra && *extra) {
        int w = snprintf(out + off, n - off, " %s", extra);
        if (w < 0 || (size_t)w >= n - off) return GD_ETOOBIG;
        off += (size_t)w;
    }
    return (int)off;
}
