/* The stateless services of an instance: Unicorn.Rentals (a SHA-256 of the key) and
 * WhatsTheTime.com (the time in a zone). The slots, the queue, the faults and the
 * metrics are the machine's (services/slots.c); this file parses and answers. */
#include "services/unicorn.h"
#include "core/check.h"
#include "core/err.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define MAX_KEY 1024
#define JOB_MAGIC 0x4a4f4221u
#define UNICORN_MAGIC 0x554e4943u

/* A request between its arrival and its answer. */
struct job {
    uint32_t magic;
    gd_unicorn *u;
    gd_http_conn *conn;
    int text; /* time: answer text/plain */
    size_t keylen;
    char key[]; /* unicorn: the key; time: the zone */
};

/* v3's hashes of keys: a direct-mapped table by the key's hash, bounded. */
struct cached {
    uint64_t h;
    char key[64];
    char hash[65];
};

struct gd_unicorn {
    uint32_t magic;
    gd_slots *slots;
    gd_unicorn_conf conf;
    uint64_t answered; /* v1: every answer draws its failure from this count */
    struct cached *cache;
    uint64_t hits, misses;
};

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static uint64_t key_hash(const char *k, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)k[i]) * 1099511628211ull;
    return mix(h);
}

static struct cached *cache_slot(gd_unicorn *u, const char *k, size_t n)
{
    return &u->cache[key_hash(k, n) % GD_UNICORN_CACHE];
}

static const char *cache_get(gd_unicorn *u, const char *k, size_t n)
{
    if (!u->cache || n >= sizeof u->cache[0].key) return NULL;
    struct cached *c = cache_slot(u, k, n);
    return c->h == key_hash(k, n) && !strcmp(c->key, k) ? c->hash : NULL;
}

static void cache_put(gd_unicorn *u, const char *k, size_t n, const char *hash)
{
    if (!u->cache || n >= sizeof u->cache[0].key) return;
    struct cached *c = cache_slot(u, k, n);
    c->h = key_hash(k, n);
    memcpy(c->key, k, n + 1);
    memcpy(c->hash, hash, 65);
}

static void reply(gd_unicorn *u, gd_http_conn *c, int status, const char *extra, const char *ctype,
                  const char *body, size_t len)
{
    gd_slots_reply(u->slots, c, status, extra, ctype, body, len);
}

/* gd_http_respond_error's answer, through the machine's reply. */
static void reply_error(gd_unicorn *u, gd_http_conn *c, int status, const char *code,
                        const char *msg)
{
    json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    reply(u, c, status, "Cache-Control: no-store\r\n", "application/json", s, strlen(s));
    free(s);
}

/* The time now in zone tz (already checked against the tz database). */
static void answer_time(struct job *j)
{
    gd_unicorn *u = j->u;
    time_t now = time(NULL);
    struct tm tm, utc;
    setenv("TZ", j->key, 1);
    tzset();
    localtime_r(&now, &tm);
    gmtime_r(&now, &utc);
    char local[64], zulu[32], off[8];
    strftime(local, sizeof local, "%Y-%m-%dT%H:%M:%S", &tm);
    strftime(off, sizeof off, "%z", &tm); /* +0100 */
    strftime(zulu, sizeof zulu, "%Y-%m-%dT%H:%M:%SZ", &utc);
    char iso[80];
    snprintf(iso, sizeof iso, "%s%.3s:%s", local, off, off + 3);
    if (j->text) {
        char line[160], human[64];
        strftime(human, sizeof human, "%Y-%m-%d %H:%M:%S %Z", &tm);
        int n = snprintf(line, sizeof line, "%s (%s)\n", human, j->key);
        reply(u, j->conn, 200, gd_slots_xid(u->slots), "text/plain; charset=utf-8", line,
              (size_t)n);
    } else {
        json_t *body = json_pack("{s:s,s:s,s:s,s:s,s:i}", "tz", j->key, "time", iso, "utc", zulu,
                                 "abbreviation", tm.tm_zone ? tm.tm_zone : "", "utc_offset_s",
                                 (int)tm.tm_gmtoff);
        char *s = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        reply(u, j->conn, 200, gd_slots_xid(u->slots), "application/json", s, strlen(s));
        free(s);
    }
    gd_slots_count_served(u->slots);
}

/* A zone of the system's tz database: Area/City names of letters, digits, '_', '-',
 * '+' and '/', no "..", that name a file under /usr/share/zoneinfo. */
static int known_zone(const char *tz, size_t n)
{
    if (n == 0 || n > 64 || tz[0] == '/' || strstr(tz, "..")) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = tz[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '+' || c == '/'))
            return 0;
    }
    char path[128];
    snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", tz);
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static void answer(struct job *j)
{
    gd_unicorn *u = j->u;
    if (u->conf.kind == GD_SVC_TIME) {
        answer_time(j);
        return;
    }
    u->answered++;
    if (u->conf.version == 4 ||
        (u->conf.version == 1 &&
         (double)(mix(u->answered ^ 0x7631u) % 10000) < GD_UNICORN_V1_FAIL * 10000)) {
        reply_error(u, j->conn, 500, "InternalError",
                    u->conf.version == 4 ? "v4: bad configuration, nothing is served"
                                         : "v1: the hash worker crashed on this request");
        gd_slots_count_served(u->slots);
        return;
    }
    char hash[65];
    const char *hit = cache_get(u, j->key, j->keylen);
    if (hit) {
        memcpy(hash, hit, sizeof hash);
    } else {
        gd_hash_key(u->conf.salt, j->key, j->keylen, hash);
        cache_put(u, j->key, j->keylen, hash);
    }
    json_t *body = json_pack("{s:s%,s:s}", "key", j->key, j->keylen, "hash", hash);
    char *s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    reply(u, j->conn, 200, gd_slots_xid(u->slots), "application/json", s, strlen(s));
    free(s);
    gd_slots_count_served(u->slots);
}

static int path_is(const gd_http_req *r, const char *p)
{
    size_t n = strlen(p);
    return r->path_len == n && !memcmp(r->path, p, n);
}

/* The request has held its slot for the service time: answer, give the slot back. */
static void on_turn(gd_slots *s, void *arg)
{
    struct job *j = arg;
    GD_CHECK_OBJ(j, JOB_MAGIC);
    answer(j);
    j->magic = 0;
    gd_free(j);
    gd_slots_release(s);
}

static void on_request(gd_slots *s, gd_http_conn *c, gd_http_req *req, void *ud)
{
    gd_unicorn *u = ud;
    GD_CHECK_OBJ(u, UNICORN_MAGIC);
    if (req->method != HTTP_GET && req->method != HTTP_HEAD) {
        reply_error(u, c, 405, "MethodNotAllowed", "only GET is served");
        return;
    }
    char key[MAX_KEY];
    int n, text = 0;
    if (u->conf.kind == GD_SVC_TIME) {
        if (!path_is(req, "/time") && !path_is(req, "/")) {
            reply_error(u, c, 404, "NotFound", "GET /time?tz=Area/City");
            return;
        }
        n = gd_http_query_get(req->query, req->query_len, "tz", key, sizeof key);
        if (n < 0 && n != GD_ETOOBIG) n = snprintf(key, sizeof key, "UTC");
        if (n <= 0 || !known_zone(key, (size_t)n)) {
            gd_slots_count_bad(s);
            reply_error(u, c, 400, "UnknownTimeZone",
                        "tz: a zone of the tz database, like Europe/Paris or "
                        "America/New_York (default UTC)");
            return;
        }
        char fmt[16];
        size_t al;
        const char *accept = gd_http_header_get(req->headers, req->nheaders, "accept", &al);
        text = (gd_http_query_get(req->query, req->query_len, "format", fmt, sizeof fmt) > 0 &&
                !strcmp(fmt, "text")) ||
               (accept && al >= 10 && !strncmp(accept, "text/plain", 10));
    } else {
        n = gd_http_query_get(req->query, req->query_len, "key", key, sizeof key);
        if (n <= 0) {
            gd_slots_count_bad(s);
            reply_error(u, c, 400, n == GD_ETOOBIG ? "KeyTooLong" : "MissingKey",
                        n == GD_ETOOBIG ? "the key query parameter is over 1023 bytes"
                                        : "GET /?key=K: the key query parameter is required");
            return;
        }
    }
    struct job *j = gd_malloc(sizeof *j + (size_t)n + 1);
    j->magic = JOB_MAGIC;
    j->u = u;
    j->conn = c;
    j->text = text;
    j->keylen = (size_t)n;
    memcpy(j->key, key, (size_t)n + 1);
    double ms = u->conf.service_ms;
    if (u->cache && cache_get(u, key, (size_t)n)) {
        ms /= 20; /* v3: a hash already computed is only looked up */
        u->hits++;
    } else if (u->cache) {
        u->misses++;
    }
    if (gd_slots_run(s, ms, on_turn, j) < 0) {
        j->magic = 0;
        gd_free(j);
        reply_error(u, c, 503, "Overloaded", "all slots busy and the queue is full");
    }
}

gd_slots *gd_unicorn_slots(gd_unicorn *u)
{
    GD_CHECK_OBJ(u, UNICORN_MAGIC);
    return u->slots;
}

int gd_unicorn_start(uv_loop_t *loop, const gd_unicorn_conf *conf, const char *ip, int port,
                     gd_unicorn **out)
{
    gd_unicorn *u = gd_calloc(1, sizeof *u);
    u->magic = UNICORN_MAGIC;
    u->conf = *conf;
    gd_slots_conf sc = {.id = conf->id ? conf->id : "local",
                        .slots = conf->slots,
                        .queue = conf->queue,
                        .handler = on_request,
                        .ud = u,
                        .broken = conf->version == 4};
    if (conf->kind == GD_SVC_UNICORN && conf->version == 3)
        u->cache = gd_calloc(GD_UNICORN_CACHE, sizeof *u->cache);
    int r = gd_slots_start(loop, &sc, ip, port, &u->slots);
    if (r < 0) {
        u->magic = 0;
        gd_free(u->cache);
        gd_free(u);
        return r;
    }
    *out = u;
    return 0;
}
