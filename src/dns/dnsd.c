/* `gameday dns`: see dnsd.h. One process for the game: a UDP socket and a TCP
 * listener on --listen, and the admin HTTP listener. Each query is answered from the
 * zones in memory: the longest zone suffix of the name, its records of that name, a
 * CNAME chased within our zones, routing among the record sets of the name, and the
 * faults a chaos experiment put on a record set (no answer, SERVFAIL, a wrong address). */
#include "dns/dnsd.h"
#include "core/addr.h"
#include "core/admin.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/dns.h"
#include "core/err.h"
#include "core/http.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/promtext.h"
#include "core/rand.h"

#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <uv.h>

#define MAX_ZONES 64
#define MAX_RECORDS 512   /* per zone */
#define MAX_VALUES 8      /* per record set, as a Route 53 answer stays small */
#define MAX_ANSWERS 24    /* records in one answer (CNAME chain included) */
#define CNAME_CHAIN 8     /* CNAMEs followed within our zones */
#define TCP_IDLE_MS 10000 /* a TCP client that says nothing for this long is closed */
#define TCP_MAX_CONNS 256
#define MAX_FAULTS 8 /* per record set */
#define DROPPED -2   /* handle(): an outage fault, send nothing and keep the connection */

enum { FO_NONE, FO_PRIMARY, FO_SECONDARY };

/* The faults of a record set, worst first: which one acts when several draw. */
enum { FK_OUTAGE, FK_SERVFAIL, FK_WRONG, FK_N };
static const char *const fault_kinds[FK_N] = {"outage", "servfail", "wrong"};

struct dfault {
    int kind;
    double probability; /* 0..1: the share of the name's queries it acts on */
    uint32_t address;   /* wrong: the A answer given instead */
    char id[64];        /* who put it there ("" when the document says not) */
};

/* One record set: a name, a type, a TTL and its values, with its routing. */
struct rrset {
    char name[GD_DNS_NAME_MAX + 1];
    uint16_t type;
    uint32_t ttl;
    int weight; /* -1: not weighted */
    int failover;
    int healthy;
    int nvals;
    uint32_t a[MAX_VALUES];
    uint8_t aaaa[MAX_VALUES][16];
    char target[GD_DNS_NAME_MAX + 1]; /* CNAME */
    int nfaults;
    struct dfault faults[MAX_FAULTS];
};

struct zone {
    char name[GD_DNS_NAME_MAX + 1];
    size_t nlen;
    int team;
    char ns[GD_DNS_NAME_MAX + 1], hostmaster[GD_DNS_NAME_MAX + 1];
    struct rrset *r;
    int nr;
    uint64_t queries;
};

static struct {
    uv_loop_t *loop;
    uv_udp_t udp;
    uv_tcp_t tcp;
    gd_admin admin;
    char listen[32];
    uint32_t listen_ip;
    struct zone *z;
    int nz;
    uint64_t serial;
    gd_rand rnd;
    gd_buf out;
    int tcp_conns;
    uint64_t queries, udp_q, tcp_q, truncated, dropped, by_rcode[6];
    uint64_t fault_answers[FK_N];
} D;

/* ---- configuration ---- */

static int type_of(const char *s)
{
    if (!s) return 0;
    if (!strcmp(s, "A")) return GD_DNS_A;
    if (!strcmp(s, "AAAA")) return GD_DNS_AAAA;
    if (!strcmp(s, "CNAME")) return GD_DNS_CNAME;
    return 0;
}

/* A record's name: "@" the apex, a relative name under the zone, or absolute with a
 * final dot (which must be in the zone). */
static int full_name(const char *rel, const struct zone *z, char *out)
{
    char tmp[GD_DNS_NAME_MAX * 2 + 2];
    size_t n = strlen(rel);
    if (!strcmp(rel, "@"))
        snprintf(tmp, sizeof tmp, "%s", z->name);
    else if (n && rel[n - 1] == '.')
        snprintf(tmp, sizeof tmp, "%s", rel);
    else
        snprintf(tmp, sizeof tmp, "%s.%s", rel, z->name);
    if (gd_dns_name_norm(tmp, strlen(tmp), out, GD_DNS_NAME_MAX + 1) < 0) return -1;
    size_t l = strlen(out);
    if (l < z->nlen || strcmp(out + l - z->nlen, z->name) != 0 ||
        (l > z->nlen && out[l - z->nlen - 1] != '.'))
        return -1;
    return 0;
}

static void zones_free(struct zone *z, int n)
{
    for (int i = 0; i < n; i++) gd_free(z[i].r);
    gd_free(z);
}

#define BAD(...) (snprintf(err, errlen, __VA_ARGS__), GD_EINVAL)

/* One fault of a record set into out (out may be NULL: only checked). */
static int fault_parse(const json_t *f, struct dfault *out, char *err, size_t errlen)
{
    const char *kind = json_string_value(json_object_get(f, "kind"));
    int k = -1;
    for (int i = 0; kind && i < FK_N; i++)
        if (!strcmp(kind, fault_kinds[i])) k = i;
    if (!json_is_object(f) || k < 0)
        return BAD("kind: one of outage (no answer), servfail, wrong (another address)");
    const json_t *p = json_object_get(f, "probability");
    if (p && (!json_is_number(p) || !(json_number_value(p) >= 0 && json_number_value(p) <= 1)))
        return BAD("probability: a number 0..1 (default 1), the share of queries it acts on");
    const char *addr = json_string_value(json_object_get(f, "address"));
    struct in_addr a4;
    if (k == FK_WRONG && (!addr || inet_pton(AF_INET, addr, &a4) != 1))
        return BAD("address: the IPv4 address a wrong fault answers, like 127.1.0.99");
    const json_t *id = json_object_get(f, "id");
    if (id && !json_is_string(id)) return BAD("id: a string");
    if (out) {
        memset(out, 0, sizeof *out);
        out->kind = k;
        out->probability = p ? json_number_value(p) : 1;
        out->address = k == FK_WRONG ? ntohl(a4.s_addr) : 0;
        snprintf(out->id, sizeof out->id, "%s", id ? json_string_value(id) : "");
    }
    return 0;
}

int gd_dns_fault_check(const json_t *fault, char *err, size_t errlen)
{
    return fault_parse(fault, NULL, err, errlen);
}

/* The faults of record set r ("faults", optional); what is wrong goes to what. */
static int faults_parse(const json_t *list, struct rrset *r, char *what, size_t wn)
{
    if (!list) return 0;
    if (!json_is_array(list) || json_array_size(list) > MAX_FAULTS) {
        snprintf(what, wn, "faults: a list of at most %d faults", MAX_FAULTS);
        return -1;
    }
    size_t k;
    json_t *f;
    json_array_foreach(list, k, f)
    {
        char e[200];
        if (fault_parse(f, &r->faults[r->nfaults], e, sizeof e) < 0) {
            snprintf(what, wn, "faults[%zu].%s", k, e);
            return -1;
        }
        r->nfaults++;
    }
    return 0;
}

/* Builds the zones of doc; on error nothing is kept. */
static int compile(const json_t *doc, struct zone **out, int *nout, char *err, size_t errlen)
{
    *out = NULL;
    *nout = 0;
    const json_t *zs = json_object_get(doc, "zones");
    if (!json_is_object(doc) || !json_is_array(zs) || json_array_size(zs) > MAX_ZONES)
        return BAD("zones: expected {\"zones\": [{\"name\": \"team1.gameday.test\", \"records\": "
                   "[...]}]} with at most %d zones",
                   MAX_ZONES);
    struct zone *z = gd_calloc(json_array_size(zs) + 1, sizeof *z);
    int nz = 0;
    size_t i;
    json_t *zj;
    json_array_foreach(zs, i, zj)
    {
        struct zone *zz = &z[nz];
        const char *name = json_string_value(json_object_get(zj, "name"));
        if (!name || gd_dns_name_norm(name, strlen(name), zz->name, sizeof zz->name) < 0) {
            zones_free(z, nz);
            return BAD("zones[%zu].name: a domain name like \"team1.gameday.test\"", i);
        }
        for (int k = 0; k < nz; k++)
            if (!strcmp(z[k].name, zz->name)) {
                zones_free(z, nz);
                return BAD("zones[%zu].name: %s is there twice", i, zz->name);
            }
        zz->nlen = strlen(zz->name);
        zz->team = (int)json_integer_value(json_object_get(zj, "team"));
        snprintf(zz->ns, sizeof zz->ns, "ns.%s", zz->name);
        snprintf(zz->hostmaster, sizeof zz->hostmaster, "hostmaster.%s", zz->name);
        const json_t *rs = json_object_get(zj, "records");
        if (rs && (!json_is_array(rs) || json_array_size(rs) > MAX_RECORDS)) {
            zones_free(z, nz + 1);
            return BAD("zones[%zu].records: a list of at most %d records", i, MAX_RECORDS);
        }
        zz->r = gd_calloc(json_array_size(rs) + 1, sizeof *zz->r);
        size_t j;
        json_t *rj;
        json_array_foreach(rs, j, rj)
        {
            struct rrset *r = &zz->r[zz->nr];
            const char *rn = json_string_value(json_object_get(rj, "name"));
            const char *ty = json_string_value(json_object_get(rj, "type"));
            const json_t *ttl = json_object_get(rj, "ttl"), *vals = json_object_get(rj, "values");
            const json_t *w = json_object_get(rj, "weight");
            const char *fo = json_string_value(json_object_get(rj, "failover"));
            const json_t *h = json_object_get(rj, "healthy");
            int bad = 0;
            const char *what = "";
            char whatbuf[224];
            if (!rn || full_name(rn, zz, r->name) < 0)
                bad = 1, what = "name: \"@\", a name under the zone, or one ending in the zone's";
            else if (!(r->type = (uint16_t)type_of(ty)))
                bad = 1, what = "type: one of A, AAAA, CNAME";
            else if (!json_is_integer(ttl) || json_integer_value(ttl) < 0 ||
                     json_integer_value(ttl) > 2147483647)
                bad = 1, what = "ttl: seconds, 0..2147483647";
            else if (!json_is_array(vals) || json_array_size(vals) < 1 ||
                     json_array_size(vals) > MAX_VALUES ||
                     (r->type == GD_DNS_CNAME && json_array_size(vals) != 1))
                bad = 1, what = "values: 1..8 values (exactly one for a CNAME)";
            else if (w && !json_is_null(w) &&
                     (!json_is_integer(w) || json_integer_value(w) < 0 ||
                      json_integer_value(w) > 255))
                bad = 1, what = "weight: 0..255";
            else if (fo && strcmp(fo, "primary") && strcmp(fo, "secondary"))
                bad = 1, what = "failover: primary or secondary";
            if (!bad) {
                r->ttl = (uint32_t)json_integer_value(ttl);
                r->weight = w && json_is_integer(w) ? (int)json_integer_value(w) : -1;
                r->failover = !fo ? FO_NONE : !strcmp(fo, "primary") ? FO_PRIMARY : FO_SECONDARY;
                r->healthy = !h || json_is_true(h);
                size_t k;
                json_t *v;
                json_array_foreach(vals, k, v)
                {
                    const char *s = json_string_value(v);
                    struct in_addr a4;
                    if (!s) {
                        bad = 1;
                    } else if (r->type == GD_DNS_A) {
                        bad = inet_pton(AF_INET, s, &a4) != 1;
                        if (!bad) r->a[k] = ntohl(a4.s_addr);
                    } else if (r->type == GD_DNS_AAAA) {
                        bad = inet_pton(AF_INET6, s, r->aaaa[k]) != 1;
                    } else {
                        bad = gd_dns_name_norm(s, strlen(s), r->target, sizeof r->target) < 0;
                    }
                    if (bad) {
                        what = r->type == GD_DNS_A      ? "values: IPv4 addresses like 127.1.0.4"
                               : r->type == GD_DNS_AAAA ? "values: IPv6 addresses like ::1"
                                                        : "values: a domain name";
                        break;
                    }
                    r->nvals++;
                }
                if (!bad &&
                    faults_parse(json_object_get(rj, "faults"), r, whatbuf, sizeof whatbuf) < 0)
                    bad = 1, what = whatbuf;
            }
            if (bad) {
                zones_free(z, nz + 1);
                return BAD("zones[%zu].records[%zu].%s", i, j, what);
            }
            zz->nr++;
        }
        /* A CNAME is alone at its name (RFC 1034 3.6.2). */
        for (int a = 0; a < zz->nr; a++)
            for (int b = 0; b < zz->nr; b++)
                if (a != b && zz->r[a].type == GD_DNS_CNAME &&
                    !strcmp(zz->r[a].name, zz->r[b].name) &&
                    (zz->r[b].type != GD_DNS_CNAME ||
                     (zz->r[a].weight < 0 && zz->r[a].failover == FO_NONE))) {
                    char nm[GD_DNS_NAME_MAX + 1];
                    snprintf(nm, sizeof nm, "%s", zz->r[a].name);
                    zones_free(z, nz + 1);
                    return BAD("zones[%zu].records: %s has a CNAME and other records; a CNAME "
                               "is alone at its name (weighted or failover CNAMEs excepted)",
                               i, nm);
                }
        nz++;
    }
    *out = z;
    *nout = nz;
    return 0;
}

int gd_dns_config_check(const json_t *doc, char *err, size_t errlen)
{
    struct zone *z;
    int n;
    int r = compile(doc, &z, &n, err, errlen);
    if (r == 0) zones_free(z, n);
    return r;
}

/* 1 when zone set b has fault f of record set r (the same name, type and fault). */
static int has_fault(const struct zone *b, int nb, const struct rrset *r, const struct dfault *f)
{
    for (int i = 0; i < nb; i++)
        for (int j = 0; j < b[i].nr; j++) {
            const struct rrset *s = &b[i].r[j];
            if (!s->nfaults || s->type != r->type || strcmp(s->name, r->name)) continue;
            for (int k = 0; k < s->nfaults; k++) {
                const struct dfault *g = &s->faults[k];
                if (g->kind == f->kind && g->probability == f->probability &&
                    g->address == f->address && !strcmp(g->id, f->id))
                    return 1;
            }
        }
    return 0;
}

/* One log line for each fault of zones a that zones b lack. */
static void log_faults(const struct zone *a, int na, const struct zone *b, int nb, int on)
{
    for (int i = 0; i < na; i++)
        for (int j = 0; j < a[i].nr; j++) {
            const struct rrset *r = &a[i].r[j];
            for (int k = 0; k < r->nfaults; k++) {
                const struct dfault *f = &r->faults[k];
                if (has_fault(b, nb, r, f)) continue;
                char ab[16];
                gd_log(on ? GD_LOG_WARN : GD_LOG_INFO, on ? "dns_fault_on" : "dns_fault_off",
                       "name=%s type=%s kind=%s probability=%g address=%s id=%s", r->name,
                       r->type == GD_DNS_A      ? "A"
                       : r->type == GD_DNS_AAAA ? "AAAA"
                                                : "CNAME",
                       fault_kinds[f->kind], f->probability,
                       f->kind == FK_WRONG ? gd_ip_format(f->address, ab) : "-",
                       f->id[0] ? gd_log_q(f->id) : "-");
            }
        }
}

static int config_load(const json_t *doc, char *err, size_t errlen)
{
    struct zone *z;
    int n;
    int r = compile(doc, &z, &n, err, errlen);
    if (r < 0) return r;
    log_faults(D.z, D.nz, z, n, 0);
    log_faults(z, n, D.z, D.nz, 1);
    zones_free(D.z, D.nz);
    D.z = z;
    D.nz = n;
    json_decref(D.admin.config);
    D.admin.config = json_deep_copy(doc);
    D.admin.version++;
    D.serial++;
    int records = 0;
    for (int i = 0; i < n; i++) records += z[i].nr;
    gd_info("config_applied", "version=%llu zones=%d records=%d",
            (unsigned long long)D.admin.version, n, records);
    return 0;
}

/* ---- answering ---- */

static struct zone *zone_of(const char *name)
{
    size_t l = strlen(name);
    struct zone *best = NULL;
    for (int i = 0; i < D.nz; i++) {
        struct zone *z = &D.z[i];
        if (l < z->nlen || strcmp(name + l - z->nlen, z->name) != 0) continue;
        if (l > z->nlen && name[l - z->nlen - 1] != '.') continue;
        if (!best || z->nlen > best->nlen) best = z;
    }
    return best;
}

/* The record sets of name and type that routing picks: failover (the primary while
 * healthy), weighted (one set, drawn by weight among the healthy ones), or simple (all). */
static int pick(struct zone *z, const char *name, uint16_t type, const struct rrset **out, int max)
{
    const struct rrset *c[MAX_RECORDS];
    int n = 0;
    for (int i = 0; i < z->nr && n < MAX_RECORDS; i++)
        if (z->r[i].type == type && !strcmp(z->r[i].name, name)) c[n++] = &z->r[i];
    if (n == 0) return 0;
    int fo = 0, weighted = 0;
    for (int i = 0; i < n; i++) fo |= c[i]->failover != FO_NONE, weighted |= c[i]->weight >= 0;
    if (fo) { /* Route 53: the primary when healthy, else a healthy secondary, else the primary */
        const struct rrset *pri = NULL, *sec = NULL;
        for (int i = 0; i < n; i++) {
            if (c[i]->failover == FO_PRIMARY && !pri) pri = c[i];
            if (c[i]->failover == FO_SECONDARY && !sec) sec = c[i];
        }
        const struct rrset *use = pri && pri->healthy   ? pri
                                  : sec && sec->healthy ? sec
                                  : pri                 ? pri
                                                        : sec;
        out[0] = use;
        return 1;
    }
    if (weighted) { /* one set, by weight among the healthy (all, when none is healthy) */
        int healthy = 0;
        for (int i = 0; i < n; i++) healthy += c[i]->healthy;
        double total = 0;
        for (int i = 0; i < n; i++)
            if (c[i]->healthy || !healthy) total += c[i]->weight;
        double x = gd_rand_double(&D.rnd) * total;
        for (int i = 0; i < n; i++) {
            if (!(c[i]->healthy || !healthy)) continue;
            if (total == 0 || x < c[i]->weight) {
                out[0] = c[i];
                return 1;
            }
            x -= c[i]->weight;
        }
        out[0] = c[n - 1];
        return 1;
    }
    int k = 0;
    for (int i = 0; i < n && k < max; i++) out[k++] = c[i];
    return k;
}

static int name_exists(struct zone *z, const char *name)
{
    size_t l = strlen(name);
    if (!strcmp(name, z->name)) return 1;
    for (int i = 0; i < z->nr; i++) {
        size_t rl = strlen(z->r[i].name);
        if (!strcmp(z->r[i].name, name)) return 1;
        /* an empty non-terminal: a record below the name */
        if (rl > l && !strcmp(z->r[i].name + rl - l, name) && z->r[i].name[rl - l - 1] == '.')
            return 1;
    }
    return 0;
}

static void soa_of(const struct zone *z, gd_dns_rr *rr)
{
    memset(rr, 0, sizeof *rr);
    rr->name = z->name;
    rr->type = GD_DNS_SOA;
    rr->ttl = 60;
    rr->soa_mname = z->ns;
    rr->soa_rname = z->hostmaster;
    rr->soa_serial = (uint32_t)D.serial;
    rr->soa_refresh = 7200;
    rr->soa_retry = 900;
    rr->soa_expire = 1209600;
    rr->soa_minimum = 60; /* the negative-caching TTL (RFC 2308) */
}

/* Appends the values of s as answers owned by owner. */
static int add_values(gd_dns_rr *an, int n, const struct rrset *s, const char *owner)
{
    for (int v = 0; v < s->nvals && n < MAX_ANSWERS; v++) {
        gd_dns_rr *rr = &an[n++];
        memset(rr, 0, sizeof *rr);
        rr->name = owner;
        rr->type = s->type;
        rr->ttl = s->ttl;
        rr->a = s->a[v];
        memcpy(rr->aaaa, s->aaaa[v], 16);
        rr->target = s->target;
    }
    return n;
}

/* The fault that acts on this query at name, if one does: each fault of the name's
 * record sets draws against its probability, and the worst that drew wins. A wrong
 * fault acts only on A (and ANY) queries; *wrong_set is its record set. -1: none. */
static int fault_at(struct zone *z, const char *name, uint16_t qtype,
                    const struct rrset **wrong_set, const struct dfault **wrong)
{
    int best = -1;
    for (int i = 0; i < z->nr; i++) {
        const struct rrset *r = &z->r[i];
        if (!r->nfaults || strcmp(r->name, name)) continue;
        for (int k = 0; k < r->nfaults; k++) {
            const struct dfault *f = &r->faults[k];
            if (f->kind == FK_WRONG && qtype != GD_DNS_A && qtype != GD_DNS_ANY) continue;
            if (best >= 0 && f->kind >= best) continue; /* a worse one acts anyway */
            if (f->probability < 1 && !(gd_rand_double(&D.rnd) < f->probability)) continue;
            best = f->kind;
            if (f->kind == FK_WRONG) *wrong_set = r, *wrong = f;
        }
    }
    return best;
}

static int answer(const gd_dns_query *q, size_t max)
{
    gd_dns_rr an[MAX_ANSWERS], au[1];
    int nan = 0, nau = 0, rcode = GD_DNS_NOERROR;
    struct zone *z = q->qclass == 1 || q->qclass == 255 ? zone_of(q->name) : NULL;
    if (!z) {
        rcode = GD_DNS_REFUSED; /* authoritative only: not ours */
    } else {
        z->queries++;
        const char *name = q->name;
        for (int hop = 0; hop <= CNAME_CHAIN; hop++) {
            struct zone *zz = zone_of(name);
            if (!zz) break; /* a CNAME out of our zones: the resolver follows it */
            const struct rrset *ws = NULL;
            const struct dfault *wf = NULL;
            int fk = fault_at(zz, name, q->qtype, &ws, &wf);
            if (fk >= 0) D.fault_answers[fk]++;
            if (fk == FK_OUTAGE) return DROPPED;
            if (fk == FK_SERVFAIL) {
                D.by_rcode[GD_DNS_SERVFAIL]++;
                return gd_dns_write_answer(&D.out, q, GD_DNS_SERVFAIL, 0, NULL, 0, NULL, 0, max);
            }
            if (fk == FK_WRONG) { /* the name answers the fault's address, with its TTL */
                if (nan < MAX_ANSWERS) {
                    gd_dns_rr *rr = &an[nan++];
                    memset(rr, 0, sizeof *rr);
                    rr->name = name, rr->type = GD_DNS_A, rr->ttl = ws->ttl, rr->a = wf->address;
                }
                break;
            }
            const struct rrset *sets[MAX_VALUES];
            if (!strcmp(name, zz->name) && (q->qtype == GD_DNS_SOA || q->qtype == GD_DNS_NS)) {
                if (q->qtype == GD_DNS_SOA) {
                    soa_of(zz, &an[nan++]);
                } else {
                    gd_dns_rr *rr = &an[nan++];
                    memset(rr, 0, sizeof *rr);
                    rr->name = zz->name, rr->type = GD_DNS_NS, rr->ttl = 172800,
                    rr->target = zz->ns;
                }
                break;
            }
            int ncn = q->qtype == GD_DNS_CNAME ? 0 : pick(zz, name, GD_DNS_CNAME, sets, 1);
            if (ncn) {
                nan = add_values(an, nan, sets[0], name);
                name = sets[0]->target;
                continue;
            }
            int found = 0;
            uint16_t want[2] = {q->qtype, 0};
            if (q->qtype == GD_DNS_ANY) want[0] = GD_DNS_A, want[1] = GD_DNS_AAAA;
            for (int t = 0; t < 2 && want[t]; t++) {
                int k = pick(zz, name, want[t], sets, MAX_VALUES);
                for (int i = 0; i < k; i++) nan = add_values(an, nan, sets[i], name);
                found += k;
            }
            if (!found && nan == 0) {
                rcode = name_exists(zz, name) ? GD_DNS_NOERROR : GD_DNS_NXDOMAIN;
                soa_of(zz, &au[0]);
                nau = 1;
            }
            break;
        }
    }
    D.by_rcode[rcode]++;
    return gd_dns_write_answer(&D.out, q, rcode, rcode != GD_DNS_REFUSED, an, nan, au, nau, max);
}

/* Parses and answers one message; the answer is in D.out. Over UDP it may take 512
 * bytes, or what the query's EDNS offers (at most GD_DNS_UDP_MAX); over TCP 65535.
 * -1: nothing to send (not a query); DROPPED: nothing to send (an outage). */
static int handle(const uint8_t *m, size_t n, int udp)
{
    gd_dns_query q;
    int rc = gd_dns_parse_query(m, n, &q);
    if (rc < 0) return -1;
    D.queries++;
    size_t max = udp ? q.udp_size : 65535;
    if (rc != GD_DNS_NOERROR) {
        D.by_rcode[rc]++;
        q.name_len = 0; /* a malformed question is not echoed */
        q.edns = 0;
        return gd_dns_write_answer(&D.out, &q, rc, 0, NULL, 0, NULL, 0, max);
    }
    return answer(&q, max);
}

/* ---- UDP ---- */

static void on_udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char slab[65536];
    buf->base = slab;
    buf->len = sizeof slab;
}

static void on_udp(uv_udp_t *u, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                   unsigned flags)
{
    if (nread <= 0 || !addr) return;
    D.udp_q++;
    int len = handle((const uint8_t *)buf->base, (size_t)nread, 1);
    if (len < 0) return;
    if (D.out.len >= 3 && (D.out.data[2] & 0x02)) D.truncated++;
    uv_buf_t b = uv_buf_init(D.out.data, (unsigned)len);
    if (uv_udp_try_send(u, &b, 1, addr) < 0) D.dropped++;
}

/* ---- TCP: two-byte length, then the message (RFC 1035 4.2.2, RFC 7766) ---- */

struct tconn {
    uv_tcp_t tcp;
    uv_timer_t idle;
    gd_buf in;
    int closing, handles;
};

/* Both handles close; the last one to go frees the connection. */
static void tconn_freed(uv_handle_t *h)
{
    struct tconn *c = h->data;
    if (--c->handles > 0) return;
    gd_buf_free(&c->in);
    gd_free(c);
    D.tcp_conns--;
}

static void tconn_close(struct tconn *c)
{
    if (c->closing) return;
    c->closing = 1;
    uv_close((uv_handle_t *)&c->tcp, tconn_freed);
    uv_close((uv_handle_t *)&c->idle, tconn_freed);
}

static void on_tcp_idle(uv_timer_t *t)
{
    tconn_close(t->data);
}

static void on_tcp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct tconn *c = h->data;
    if (gd_buf_reserve(&c->in, 4096) < 0) {
        buf->base = NULL;
        buf->len = 0;
        return;
    }
    buf->base = c->in.data + c->in.len;
    buf->len = c->in.cap - c->in.len;
}

static void on_tcp_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct tconn *c = s->data;
    if (nread < 0) {
        tconn_close(c);
        return;
    }
    c->in.len += (size_t)nread;
    uv_timer_again(&c->idle);
    size_t off = 0;
    while (c->in.len - off >= 2) {
        const uint8_t *p = (const uint8_t *)c->in.data + off;
        size_t mlen = (size_t)(p[0] << 8 | p[1]);
        if (c->in.len - off < 2 + mlen) break;
        D.tcp_q++;
        int len = handle(p + 2, mlen, 0);
        off += 2 + mlen;
        if (len == DROPPED) continue; /* the client waits for an answer that never comes */
        if (len < 0) {
            tconn_close(c);
            return;
        }
        char prefix[2] = {(char)(len >> 8), (char)len};
        uv_buf_t bufs[2] = {uv_buf_init(prefix, 2), uv_buf_init(D.out.data, (unsigned)len)};
        int sent = uv_try_write(s, bufs, 2);
        if (sent != len + 2) { /* a client that does not read its answers is dropped */
            tconn_close(c);
            return;
        }
    }
    if (off) {
        memmove(c->in.data, c->in.data + off, c->in.len - off);
        c->in.len -= off;
    }
}

static void on_tcp_conn(uv_stream_t *srv, int status)
{
    if (status < 0) return;
    struct tconn *c = gd_calloc(1, sizeof *c);
    uv_tcp_init(D.loop, &c->tcp);
    uv_timer_init(D.loop, &c->idle);
    c->tcp.data = c->idle.data = c;
    c->handles = 2;
    gd_buf_init(&c->in, 65537 + 4096);
    D.tcp_conns++;
    if (uv_accept(srv, (uv_stream_t *)&c->tcp) < 0 || D.tcp_conns > TCP_MAX_CONNS) {
        tconn_close(c);
        return;
    }
    uv_timer_start(&c->idle, on_tcp_idle, TCP_IDLE_MS, TCP_IDLE_MS);
    uv_read_start((uv_stream_t *)&c->tcp, on_tcp_alloc, on_tcp_read);
}

/* ---- admin ---- */

static json_t *stats_json(void)
{
    json_t *zones = json_array();
    for (int i = 0; i < D.nz; i++)
        json_array_append_new(zones, json_pack("{s:s,s:i,s:i,s:I}", "name", D.z[i].name, "team",
                                               D.z[i].team, "records", D.z[i].nr, "queries",
                                               (json_int_t)D.z[i].queries));
    json_t *st = json_pack(
        "{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:{s:I,s:I,s:I,s:I,s:I,s:I},s:o}", "listen", D.listen,
        "version", (json_int_t)D.admin.version, "queries", (json_int_t)D.queries, "udp",
        (json_int_t)D.udp_q, "tcp", (json_int_t)D.tcp_q, "truncated", (json_int_t)D.truncated,
        "dropped", (json_int_t)D.dropped, "rcodes", "NOERROR", (json_int_t)D.by_rcode[0], "FORMERR",
        (json_int_t)D.by_rcode[1], "SERVFAIL", (json_int_t)D.by_rcode[2], "NXDOMAIN",
        (json_int_t)D.by_rcode[3], "NOTIMP", (json_int_t)D.by_rcode[4], "REFUSED",
        (json_int_t)D.by_rcode[5], "zones", zones);
    json_t *fa = json_object();
    for (int i = 0; i < FK_N; i++)
        json_object_set_new(fa, fault_kinds[i], json_integer((json_int_t)D.fault_answers[i]));
    json_object_set_new(st, "fault_answers", fa);
    return st;
}

static void metrics(gd_buf *b)
{
    static const char *rc[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"};
    gd_prom_head(b, "gameday_dns_responses_total", "counter", "DNS answers by rcode");
    for (int i = 0; i < 6; i++) {
        char l[48];
        snprintf(l, sizeof l, "rcode=\"%s\"", rc[i]);
        gd_prom_sample(b, "gameday_dns_responses_total", l, (double)D.by_rcode[i]);
    }
    gd_prom_head(b, "DNSQueries", "counter", "Queries per hosted zone (Route 53's metric)");
    for (int i = 0; i < D.nz; i++) {
        char l[GD_DNS_NAME_MAX + 32];
        snprintf(l, sizeof l, "zone=\"%s\",team=\"%d\"", D.z[i].name, D.z[i].team);
        gd_prom_sample(b, "DNSQueries", l, (double)D.z[i].queries);
    }
    struct {
        const char *name;
        uint64_t v;
    } cs[] = {{"gameday_dns_udp_queries_total", D.udp_q},
              {"gameday_dns_tcp_queries_total", D.tcp_q},
              {"gameday_dns_truncated_total", D.truncated},
              {"gameday_dns_dropped_total", D.dropped}};
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        gd_prom_head(b, cs[i].name, "counter", "dns counter");
        gd_prom_sample(b, cs[i].name, "", (double)cs[i].v);
    }
    gd_prom_head(b, "gameday_dns_fault_answers_total", "counter",
                 "Queries a record's fault acted on (outage: not answered)");
    for (int i = 0; i < FK_N; i++) {
        char l[32];
        snprintf(l, sizeof l, "kind=\"%s\"", fault_kinds[i]);
        gd_prom_sample(b, "gameday_dns_fault_answers_total", l, (double)D.fault_answers[i]);
    }
}

int gd_cmd_dns(int argc, char **argv)
{
    const char *listen = NULL, *admin = NULL, *file = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--listen") && i + 1 < argc)
            listen = argv[++i];
        else if (!strcmp(argv[i], "--admin") && i + 1 < argc)
            admin = argv[++i];
        else if (!strcmp(argv[i], "--config") && i + 1 < argc)
            file = argv[++i];
        else {
            int help = !strcmp(argv[i], "--help");
            fprintf(help ? stdout : stderr,
                    "usage: gameday dns --listen IP:PORT [--admin IP:PORT] [--config FILE]\n"
                    "Runs the game's authoritative DNS server (UDP and TCP on --listen) for the\n"
                    "zones of its configuration: PUT /config on the admin listener\n"
                    "(Authorization: Bearer $GAMEDAY_ADMIN_TOKEN), or FILE. GET /config,\n"
                    "/stats, /metrics, /health. See doc/dns.md.\n");
            return help ? 0 : 2;
        }
    }
    gd_daemon_init("dns");
    uint32_t ip;
    int port;
    if (!listen || gd_hostport_parse(listen, &ip, &port) < 0 || (ip >> 24) != 127) {
        fprintf(stderr, "gameday dns: --listen IP:PORT in 127.0.0.0/8 is required\n");
        return 2;
    }
    D.loop = uv_default_loop();
    gd_admin_init(&D.admin, "/config /stats /metrics /health", stats_json, metrics, config_load);
    uint64_t seed;
    if (getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed) seed = (uint64_t)getpid();
    gd_rand_seed(&D.rnd, seed);
    gd_buf_init(&D.out, 65536 + 1024);
    snprintf(D.listen, sizeof D.listen, "%s", listen);
    if (file) {
        json_error_t je;
        json_t *doc = json_load_file(file, 0, &je);
        char err[256];
        if (!doc) {
            fprintf(stderr, "%s:%d:%d: %s\n", file, je.line, je.column, je.text);
            return 1;
        }
        int r = config_load(doc, err, sizeof err);
        json_decref(doc);
        if (r < 0) {
            fprintf(stderr, "%s: %s\n", file, err);
            return 1;
        }
    }
    char ipb[16];
    struct sockaddr_in sa;
    uv_ip4_addr(gd_ip_format(ip, ipb), port, &sa);
    uv_udp_init(D.loop, &D.udp);
    uv_tcp_init(D.loop, &D.tcp);
    int r = uv_udp_bind(&D.udp, (struct sockaddr *)&sa, 0);
    if (r == 0) r = uv_udp_recv_start(&D.udp, on_udp_alloc, on_udp);
    if (r == 0) r = uv_tcp_bind(&D.tcp, (struct sockaddr *)&sa, 0);
    if (r == 0) r = uv_listen((uv_stream_t *)&D.tcp, 128, on_tcp_conn);
    if (r < 0) {
        gd_error("listen_failed", "addr=%s err=%s", listen, uv_strerror(r));
        fprintf(stderr, "gameday dns: cannot listen on %s: %s\n", listen, uv_strerror(r));
        return 1;
    }
    if (admin && (r = gd_admin_listen(&D.admin, D.loop, admin)) < 0) {
        gd_error("listen_failed", "addr=%s err=%s", admin, gd_strerror(r));
        fprintf(stderr, "gameday dns: --admin must be a free IP:PORT in 127.0.0.0/8\n");
        return r == GD_EINVAL ? 2 : 1;
    }
    gd_daemon_signals(D.loop, NULL);
    gd_info("ready", "listen=%s admin=%s", listen, admin ? admin : "-");
    uv_run(D.loop, UV_RUN_DEFAULT);
    return 0;
}
