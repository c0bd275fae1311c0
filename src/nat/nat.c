/* `gameday nat`: see nat.h. Its document is {"maps": [{"ip": "127.1.251.4", "port":
 * 8080, "to": "127.1.0.4:8080", "team": 1}]}, pushed on PUT /config of the admin
 * listener. A mapping's listener stays while the mapping does (moving the address to
 * another instance only changes where new connections go); connections are piped
 * both ways with backpressure, and closed together.
 *
 * A mapping may also have (a cache cluster's endpoints do):
 *  - "to" as a list of 0..8 "IP:PORT": each new connection goes to the next one (round
 *    robin); an empty list takes connections and closes them at once (nothing behind);
 *  - "allow": the source blocks that may connect (a security group's rules; absent:
 *    anyone), checked on the peer's address before a byte is read: a denied
 *    connection is closed at once, counted and logged (denied from=...);
 *  - "close_on_move": true closes the mapping's open connections to a target that a
 *    new document no longer lists (and all of them when the mapping goes): clients
 *    see their connection drop, as a failover drops them, and connect again. */
#include "nat/nat.h"
#include "core/acl.h"
#include "core/addr.h"
#include "core/admin.h"
#include "core/buf.h"
#include "core/check.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/http.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/promtext.h"

#include <jansson.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#define MAX_MAPS 256
#define MAX_TO 8             /* targets of one mapping (a reader endpoint's replicas) */
#define HIGH_WATER (1 << 20) /* bytes queued toward one side before the other stops reading */
#define LOW_WATER (1 << 18)
#define MAP_MAGIC 0x4e41544du
#define FLOW_MAGIC 0x464c4f57u

struct flow;

struct map {
    uint32_t magic;
    uint32_t ip;
    int port;
    uint32_t to_ip[MAX_TO];
    int to_port[MAX_TO];
    int nto;     /* targets; 0: connections are closed at once */
    unsigned rr; /* the next target, round robin */
    int team;
    int listening, closing, seen;
    int close_on_move;
    int refs; /* the list's (until its listener closed) and one per flow */
    char error[64];
    gd_acl acl; /* who may connect (off: anyone) */
    gd_acl_log denied_log;
    uv_tcp_t srv;
    uint64_t conns, refused, bytes, denied, moved;
    struct flow *flows; /* open connections, for close_on_move */
    struct map *next;
};

struct side {
    uv_tcp_t tcp;
    int reading;
};

struct flow {
    uint32_t magic;
    struct side c, t; /* the client, the target */
    uv_connect_t conn;
    int connected, closing, handles;
    uint32_t to_ip; /* the target it went to */
    int to_port;
    struct map *m;            /* a reference: counters outlive the mapping's removal */
    struct flow *prev, *next; /* in m->flows */
};

static struct {
    uv_loop_t *loop;
    gd_admin admin;
    struct map *maps;
    uint64_t flows, open_flows;
} N;

/* ---- flows ---- */

static void map_unref(struct map *m)
{
    if (--m->refs > 0) return;
    m->magic = 0;
    gd_free(m);
}

static void flow_freed(uv_handle_t *h)
{
    struct flow *f = h->data;
    if (--f->handles > 0) return;
    if (f->prev)
        f->prev->next = f->next;
    else
        f->m->flows = f->next;
    if (f->next) f->next->prev = f->prev;
    map_unref(f->m);
    f->magic = 0;
    N.open_flows--;
    gd_free(f);
}

static void flow_close(struct flow *f)
{
    if (f->closing) return;
    f->closing = 1;
    uv_close((uv_handle_t *)&f->c.tcp, flow_freed);
    uv_close((uv_handle_t *)&f->t.tcp, flow_freed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    b->base = gd_malloc(65536);
    b->len = 65536;
}

struct wreq {
    uv_write_t w;
    struct flow *f;
    char *data;
};

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b);

static struct side *other(struct flow *f, uv_stream_t *s)
{
    return s == (uv_stream_t *)&f->c.tcp ? &f->t : &f->c;
}

static void on_written(uv_write_t *w, int status)
{
    struct wreq *r = (struct wreq *)w;
    struct flow *f = r->f;
    uv_stream_t *to = w->handle;
    gd_free(r->data);
    gd_free(r);
    if (f->closing) return;
    if (status < 0) {
        flow_close(f);
        return;
    }
    /* The side written to drained: the side that feeds it may read again. */
    struct side *dst = to == (uv_stream_t *)&f->c.tcp ? &f->c : &f->t;
    struct side *src = dst == &f->c ? &f->t : &f->c;
    if (!src->reading && uv_stream_get_write_queue_size((uv_stream_t *)&dst->tcp) < LOW_WATER) {
        src->reading = 1;
        uv_read_start((uv_stream_t *)&src->tcp, on_alloc, on_read);
    }
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct flow *f = s->data;
    if (n <= 0) {
        gd_free(b->base);
        if (n < 0) flow_close(f);
        return;
    }
    struct side *dst = other(f, s);
    f->m->bytes += (uint64_t)n;
    struct wreq *r = gd_malloc(sizeof *r);
    r->f = f;
    r->data = b->base;
    uv_buf_t wb = uv_buf_init(b->base, (unsigned)n);
    if (uv_write(&r->w, (uv_stream_t *)&dst->tcp, &wb, 1, on_written) < 0) {
        gd_free(r->data);
        gd_free(r);
        flow_close(f);
        return;
    }
    if (uv_stream_get_write_queue_size((uv_stream_t *)&dst->tcp) > HIGH_WATER) {
        struct side *src = s == (uv_stream_t *)&f->c.tcp ? &f->c : &f->t;
        src->reading = 0;
        uv_read_stop(s);
    }
}

static void on_target_connected(uv_connect_t *req, int status)
{
    struct flow *f = req->data;
    if (f->closing) return;
    if (status < 0) { /* nothing answers behind the address: the client is refused */
        f->m->refused++;
        flow_close(f);
        return;
    }
    f->connected = 1;
    f->c.reading = f->t.reading = 1;
    uv_read_start((uv_stream_t *)&f->c.tcp, on_alloc, on_read);
    uv_read_start((uv_stream_t *)&f->t.tcp, on_alloc, on_read);
}

static void on_accept(uv_stream_t *srv, int status)
{
    struct map *m = srv->data;
    GD_CHECK_OBJ(m, MAP_MAGIC);
    if (status < 0) return;
    struct flow *f = gd_calloc(1, sizeof *f);
    f->magic = FLOW_MAGIC;
    f->m = m;
    m->refs++;
    f->next = m->flows;
    if (m->flows) m->flows->prev = f;
    m->flows = f;
    f->handles = 2;
    uv_tcp_init(N.loop, &f->c.tcp);
    uv_tcp_init(N.loop, &f->t.tcp);
    f->c.tcp.data = f->t.tcp.data = f;
    N.flows++;
    N.open_flows++;
    if (uv_accept(srv, (uv_stream_t *)&f->c.tcp) < 0) {
        flow_close(f);
        return;
    }
    /* The security group's rules, on the real source, before a byte is read. */
    struct sockaddr_storage ss;
    int sl = sizeof ss;
    uint32_t peer = 0;
    if (uv_tcp_getpeername(&f->c.tcp, (struct sockaddr *)&ss, &sl) == 0 && ss.ss_family == AF_INET)
        peer = ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr);
    if (!gd_acl_allows(&m->acl, peer)) {
        m->denied++;
        gd_acl_denied(&m->denied_log, peer, uv_now(N.loop));
        flow_close(f);
        return;
    }
    m->conns++;
    if (m->nto == 0) { /* nothing behind the address now (a failover under way) */
        m->refused++;
        flow_close(f);
        return;
    }
    unsigned k = m->rr++ % (unsigned)m->nto;
    f->to_ip = m->to_ip[k];
    f->to_port = m->to_port[k];
    uv_tcp_nodelay(&f->c.tcp, 1);
    uv_tcp_nodelay(&f->t.tcp, 1);
    struct sockaddr_in sa;
    char ipb[16];
    uv_ip4_addr(gd_ip_format(f->to_ip, ipb), f->to_port, &sa);
    f->conn.data = f;
    if (uv_tcp_connect(&f->conn, &f->t.tcp, (struct sockaddr *)&sa, on_target_connected) < 0) {
        m->refused++;
        flow_close(f);
    }
}

/* ---- mappings ---- */

static void map_closed(uv_handle_t *h)
{
    map_unref(h->data);
}

static struct map *map_find(uint32_t ip, int port)
{
    for (struct map *m = N.maps; m; m = m->next)
        if (m->ip == ip && m->port == port) return m;
    return NULL;
}

#define BAD(...) (snprintf(err, errlen, __VA_ARGS__), GD_EINVAL)

/* A mapping's "to": one "IP:PORT", or a list of 0..MAX_TO of them, each in
 * 127.0.0.0/8, into ips and ports (when given). Their number, or -1. */
static int targets_of(const json_t *to, uint32_t *ips, int *ports, int *n)
{
    int k = 0;
    const json_t *one[1] = {to};
    size_t cnt = json_is_array(to) ? json_array_size(to) : 1;
    if (cnt > MAX_TO || (!json_is_array(to) && !json_is_string(to))) return -1;
    for (size_t i = 0; i < cnt; i++) {
        const json_t *v = json_is_array(to) ? json_array_get(to, i) : one[0];
        uint32_t ip;
        int port;
        if (gd_hostport_parse(json_string_value(v), &ip, &port) < 0 || (ip >> 24) != 127) return -1;
        if (ips) ips[k] = ip, ports[k] = port;
        k++;
    }
    if (n) *n = k;
    return k;
}

/* With close_on_move, the mapping's connections to targets it no longer has go
 * (all of them when `all`): their clients connect again, to where it points now. */
static void close_moved(struct map *m, int all)
{
    if (!m->close_on_move) return;
    for (struct flow *f = m->flows; f; f = f->next) {
        if (f->closing) continue;
        int kept = 0;
        for (int i = 0; !all && i < m->nto; i++)
            kept |= f->to_ip == m->to_ip[i] && f->to_port == m->to_port[i];
        if (kept) continue;
        m->moved++;
        flow_close(f);
    }
}

static int config_check(const json_t *doc, char *err, size_t errlen)
{
    const json_t *maps = json_object_get(doc, "maps");
    if (!json_is_array(maps) || json_array_size(maps) > MAX_MAPS)
        return BAD("maps: a list of at most %d {\"ip\", \"port\", \"to\"}", MAX_MAPS);
    size_t i, k;
    json_t *m, *o;
    json_array_foreach(maps, i, m)
    {
        uint32_t ip;
        const json_t *port = json_object_get(m, "port");
        if (gd_ip_parse(json_string_value(json_object_get(m, "ip")), &ip) < 0 || (ip >> 24) != 127)
            return BAD("maps[%zu].ip: an address in 127.0.0.0/8", i);
        if (!json_is_integer(port) || json_integer_value(port) < 1 ||
            json_integer_value(port) > 65535)
            return BAD("maps[%zu].port: 1..65535", i);
        if (targets_of(json_object_get(m, "to"), NULL, NULL, NULL) < 0)
            return BAD("maps[%zu].to: \"IP:PORT\" in 127.0.0.0/8, or a list of at most %d", i,
                       MAX_TO);
        gd_acl acl;
        if (gd_acl_from_json(json_object_get(m, "allow"), &acl) < 0)
            return BAD("maps[%zu].allow: a list of at most %d blocks like \"127.1.0.0/16\"", i,
                       GD_ACL_MAX);
        const json_t *com = json_object_get(m, "close_on_move");
        if (com && !json_is_boolean(com)) return BAD("maps[%zu].close_on_move: true or false", i);
        json_array_foreach(maps, k, o)
        {
            if (k >= i) break;
            uint32_t oip;
            gd_ip_parse(json_string_value(json_object_get(o, "ip")), &oip);
            if (oip == ip &&
                json_integer_value(json_object_get(o, "port")) == json_integer_value(port))
                return BAD("maps[%zu]: the address and port of maps[%zu] again", i, k);
        }
    }
    return 0;
}

static void config_apply(const json_t *doc)
{
    for (struct map *m = N.maps; m; m = m->next) m->seen = 0;
    size_t i;
    json_t *j;
    json_array_foreach(json_object_get(doc, "maps"), i, j)
    {
        uint32_t ip;
        int port = (int)json_integer_value(json_object_get(j, "port"));
        gd_ip_parse(json_string_value(json_object_get(j, "ip")), &ip);
        struct map *m = map_find(ip, port);
        if (!m) {
            m = gd_calloc(1, sizeof *m);
            m->magic = MAP_MAGIC;
            m->refs = 1;
            m->ip = ip;
            m->port = port;
            m->next = N.maps;
            N.maps = m;
            uv_tcp_init(N.loop, &m->srv);
            m->srv.data = m;
            struct sockaddr_in sa;
            char ipb[16];
            uv_ip4_addr(gd_ip_format(ip, ipb), port, &sa);
            int r = uv_tcp_bind(&m->srv, (struct sockaddr *)&sa, 0);
            if (r == 0) r = uv_listen((uv_stream_t *)&m->srv, 512, on_accept);
            if (r < 0) {
                snprintf(m->error, sizeof m->error, "%s", uv_strerror(r));
                gd_warn("listen_failed", "addr=%s:%d err=%s", ipb, port, m->error);
            } else {
                m->listening = 1;
            }
        }
        m->seen = 1;
        targets_of(json_object_get(j, "to"), m->to_ip, m->to_port, &m->nto);
        m->team = (int)json_integer_value(json_object_get(j, "team"));
        gd_acl_from_json(json_object_get(j, "allow"), &m->acl);
        m->close_on_move = json_is_true(json_object_get(j, "close_on_move"));
        close_moved(m, 0);
    }
    /* Mappings no longer in the document stop listening; their flows go on. */
    for (struct map **pp = &N.maps; *pp;) {
        struct map *m = *pp;
        if (m->seen) {
            pp = &m->next;
            continue;
        }
        *pp = m->next;
        close_moved(m, 1);
        uv_close((uv_handle_t *)&m->srv, map_closed);
    }
}

static int config_load(const json_t *doc, char *err, size_t errlen)
{
    int r = config_check(doc, err, errlen);
    if (r < 0) return r;
    config_apply(doc);
    json_decref(N.admin.config);
    N.admin.config = json_deep_copy(doc);
    N.admin.version++;
    int n = 0;
    for (struct map *m = N.maps; m; m = m->next) n++;
    gd_info("config_applied", "version=%llu maps=%d", (unsigned long long)N.admin.version, n);
    return 0;
}

/* ---- admin ---- */

static json_t *stats_json(void)
{
    json_t *maps = json_array();
    for (struct map *m = N.maps; m; m = m->next) {
        char a[16], b[16];
        json_t *to = json_array();
        for (int i = 0; i < m->nto; i++) {
            char t[32];
            snprintf(t, sizeof t, "%s:%d", gd_ip_format(m->to_ip[i], b), m->to_port[i]);
            json_array_append_new(to, json_string(t));
        }
        json_t *x = json_pack("{s:s,s:i,s:s,s:i,s:o,s:i,s:b,s:I,s:I,s:I,s:I,s:I,s:b,s:b}", "ip",
                              gd_ip_format(m->ip, a), "port", m->port, "to_ip",
                              m->nto ? gd_ip_format(m->to_ip[0], b) : "", "to_port",
                              m->nto ? m->to_port[0] : 0, "to", to, "team", m->team, "listening",
                              m->listening, "connections", (json_int_t)m->conns, "refused",
                              (json_int_t)m->refused, "bytes", (json_int_t)m->bytes, "denied",
                              (json_int_t)m->denied, "moved", (json_int_t)m->moved, "acl",
                              m->acl.on, "close_on_move", m->close_on_move);
        if (m->error[0]) json_object_set_new(x, "error", json_string(m->error));
        json_array_append_new(maps, x);
    }
    return json_pack("{s:I,s:I,s:I,s:o}", "version", (json_int_t)N.admin.version, "flows",
                     (json_int_t)N.flows, "open_flows", (json_int_t)N.open_flows, "maps", maps);
}

static void metrics(gd_buf *b)
{
    static const struct {
        const char *name, *help;
        size_t off;
    } per_map[] = {
        {"gameday_nat_connections_total", "Connections to an Elastic IP, by address",
         offsetof(struct map, conns)},
        {"gameday_nat_refused_total", "Connections nothing answered behind the address",
         offsetof(struct map, refused)},
        {"gameday_nat_denied_total",
         "Connections the address's allow list (security groups) closed at once",
         offsetof(struct map, denied)},
        {"gameday_nat_moved_total",
         "Connections closed because their mapping moved to another target (a failover)",
         offsetof(struct map, moved)},
    };
    for (size_t k = 0; k < sizeof per_map / sizeof per_map[0]; k++) {
        gd_prom_head(b, per_map[k].name, "counter", per_map[k].help);
        for (struct map *m = N.maps; m; m = m->next) {
            char l[96], ipb[16];
            uint64_t v;
            memcpy(&v, (char *)m + per_map[k].off, sizeof v);
            snprintf(l, sizeof l, "address=\"%s\",team=\"%d\"", gd_ip_format(m->ip, ipb), m->team);
            gd_prom_sample(b, per_map[k].name, l, (double)v);
        }
    }
    gd_prom_head(b, "gameday_nat_open_flows", "gauge", "Connections being forwarded now");
    gd_prom_sample(b, "gameday_nat_open_flows", "", (double)N.open_flows);
}

int gd_cmd_nat(int argc, char **argv)
{
    const char *admin = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--admin") && i + 1 < argc) {
            admin = argv[++i];
        } else {
            int help = !strcmp(argv[i], "--help");
            fprintf(help ? stdout : stderr,
                    "usage: gameday nat --admin IP:PORT\n"
                    "Forwards each Elastic IP of its document (PUT /config with Authorization:\n"
                    "Bearer $GAMEDAY_ADMIN_TOKEN) to its instance, and each cache cluster's\n"
                    "endpoints to its nodes. GET /config, /stats, /metrics, /health. See\n"
                    "doc/resources.md (elastic_ip, cache_cluster).\n");
            return help ? 0 : 2;
        }
    }
    uint32_t ip;
    int port;
    if (!admin || gd_hostport_parse(admin, &ip, &port) < 0 || (ip >> 24) != 127) {
        fprintf(stderr, "gameday nat: --admin IP:PORT in 127.0.0.0/8 is required\n");
        return 2;
    }
    gd_daemon_init("nat");
    N.loop = uv_default_loop();
    gd_admin_init(&N.admin, "/config /stats /metrics /health", stats_json, metrics, config_load);
    int r = gd_admin_listen(&N.admin, N.loop, admin);
    if (r < 0) {
        gd_error("listen_failed", "addr=%s err=%s", admin, gd_strerror(r));
        return 1;
    }
    gd_daemon_signals(N.loop, NULL);
    gd_info("ready", "admin=%s", admin);
    uv_run(N.loop, UV_RUN_DEFAULT);
    return 0;
}
