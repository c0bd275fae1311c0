/* `gameday instance <service>`: one instance process. Everything it needs comes from
 * the launcher as GAMEDAY_* environment variables (or the equivalent flags). */
#include "services/instance.h"
#include "core/addr.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/resolver.h"
#include "services/clothes.h"
#include "services/inst_faults.h"
#include "services/session_cookie.h"
#include "services/shop_cache.h"
#include "services/unicorn.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

static void on_signal(uv_signal_t *s, int signum)
{
    gd_info("stopping", "signal=%d", signum);
    fflush(stderr);
    _exit(0);
}

static gd_slots *the_machine; /* the service's: its ACL and faults */
static const char *acl_file, *fault_file;

/* The fault file (GAMEDAY_FAULT_FILE) into the service; a bad one changes nothing. */
static void load_faults(void)
{
    gd_inst_faults f;
    char err[256];
    if (gd_inst_faults_load(fault_file, &f, err, sizeof err) < 0) {
        gd_warn("fault_file_bad", "path=%s error=%s", gd_log_q(fault_file), gd_log_q(err));
        return;
    }
    gd_slots_set_faults(the_machine, &f);
}

/* SIGHUP: the server changed the instance's security groups or its faults. */
static void on_hup(uv_signal_t *s, int signum)
{
    gd_slots_load_acl(the_machine, acl_file);
    load_faults();
}

static const char *opt(int argc, char **argv, const char *flag, const char *env, const char *def)
{
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], flag)) return argv[i + 1];
    const char *e = getenv(env);
    return e && *e ? e : def;
}

/* A whole number in lo..hi from text; 0, or -1 with a message on stderr. */
static int whole(const char *what, const char *text, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi) {
        fprintf(stderr, "gameday instance: %s: '%s' is not a whole number %ld..%ld\n", what, text,
                lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

/* The clothes shop from its flags and GAMEDAY_* variables (doc/clothes.md). Returns 0
 * with *machine set, or the exit code (1: cannot listen, 2: usage). */
static int start_clothes(int argc, char **argv, uv_loop_t *loop, const char *ip, int port,
                         gd_slots **machine, const char **mode_out)
{
    gd_clothes_conf conf = {
        .id = opt(argc, argv, "--id", "GAMEDAY_INSTANCE_ID", "local"),
        .salt = opt(argc, argv, "--salt", "GAMEDAY_SALT", "my-clothes"),
        .slots = atoi(opt(argc, argv, "--slots", "GAMEDAY_SLOTS", "5")),
        .queue = atoi(opt(argc, argv, "--queue", "GAMEDAY_QUEUE", "32")),
        .service_ms = atof(opt(argc, argv, "--service-ms", "GAMEDAY_SERVICE_MS", "4000")),
    };
    const char *mode = opt(argc, argv, "--sessions", "GAMEDAY_SESSIONS", "memory");
    if (gd_sess_mode_parse(mode, &conf.sessions) < 0) {
        fprintf(stderr,
                "gameday instance: --sessions or GAMEDAY_SESSIONS: unknown mode '%s' (allowed: "
                "memory, cookie, redis)\n",
                mode);
        return 2;
    }
    long v;
    if (whole("--session-ttl or GAMEDAY_SESSION_TTL (game seconds)",
              opt(argc, argv, "--session-ttl", "GAMEDAY_SESSION_TTL", "3600"), 1, 30 * 86400,
              &v) < 0)
        return 2;
    conf.ttl_s = (double)v;
    if (whole("--max-sessions or GAMEDAY_SESSION_MAX",
              opt(argc, argv, "--max-sessions", "GAMEDAY_SESSION_MAX", "10000"), 1, 1000000,
              &v) < 0)
        return 2;
    conf.max_sessions = (size_t)v;
    const char *key = opt(argc, argv, "--session-key", "GAMEDAY_SESSION_KEY", NULL);
    if (conf.sessions == GD_SESS_COOKIE) {
        int n = key ? gd_scookie_key_hex(key, conf.key) : GD_EINVAL;
        if (n < 0) {
            fprintf(stderr,
                    "gameday instance: cookie sessions need --session-key or "
                    "GAMEDAY_SESSION_KEY: %d..%d hex digits (the launcher derives one per "
                    "team)\n",
                    2 * GD_SCOOKIE_KEY_MIN, 2 * GD_SCOOKIE_KEY_MAX);
            return 2;
        }
        conf.keylen = (size_t)n;
    }
    /* the cache-aside of the database mode (doc/clothes.md) */
    const char *cache = opt(argc, argv, "--cache", "GAMEDAY_CACHE", "none");
    if (gd_shopcache_mode_parse(cache, &conf.cache) < 0) {
        fprintf(stderr,
                "gameday instance: --cache or GAMEDAY_CACHE: unknown mode '%s' (allowed: none, "
                "redis)\n",
                cache);
        return 2;
    }
    if (whole("--cache-ttl or GAMEDAY_CACHE_TTL (game seconds)",
              opt(argc, argv, "--cache-ttl", "GAMEDAY_CACHE_TTL", "300"), 1, GD_SHOPCACHE_TTL_MAX_S,
              &v) < 0)
        return 2;
    conf.cache_ttl_s = (double)v;
    const char *url = getenv("GAMEDAY_DB_URL");
    if (conf.cache && !(url && *url)) {
        fprintf(stderr, "gameday instance: --cache redis caches the database's reads: it needs "
                        "GAMEDAY_DB_URL (the launch template's database)\n");
        return 2;
    }
    char rip[16];
    if (conf.sessions == GD_SESS_REDIS || conf.cache) {
        const char *redis = opt(argc, argv, "--redis", "GAMEDAY_REDIS", NULL);
        uint32_t a;
        int p;
        if (!redis || gd_hostport_parse(redis, &a, &p) < 0) {
            fprintf(stderr,
                    "gameday instance: %s --redis or GAMEDAY_REDIS: "
                    "IP:PORT of the Redis server (an address, not a name)\n",
                    conf.sessions == GD_SESS_REDIS ? "redis sessions need" : "a redis cache needs");
            return 2;
        }
        if (whole("GAMEDAY_REDIS_TIMEOUT_MS",
                  opt(argc, argv, "--redis-timeout-ms", "GAMEDAY_REDIS_TIMEOUT_MS", "1000"), 1,
                  60000, &v) < 0)
            return 2;
        gd_ip_format(a, rip);
        conf.redis = (gd_sredis_conf){.ip = rip,
                                      .port = p,
                                      /* a cache_cluster's security groups check it */
                                      .source_ip = getenv("GAMEDAY_REDIS_SOURCE"),
                                      .user = getenv("GAMEDAY_REDIS_USER"),
                                      .password = getenv("GAMEDAY_REDIS_PASSWORD"),
                                      .timeout_ms = (uint64_t)v};
    }
    /* database mode (doc/clothes.md): the launcher's GAMEDAY_DB_URL names the db by its
     * endpoint's DNS name, resolved in the game's DNS server (GAMEDAY_DNS) */
    if (url && *url) {
        if (whole("GAMEDAY_DB_POOL", opt(argc, argv, "--db-pool", "GAMEDAY_DB_POOL", "4"), 1, 64,
                  &v) < 0)
            return 2;
        conf.db = (gd_shopdb_conf){.url = url,
                                   .read_url = getenv("GAMEDAY_DB_READ_URL"),
                                   .src_ip = ip,
                                   .pool = (int)v,
                                   .timeout_ms = 2000};
        const char *dns = getenv("GAMEDAY_DNS");
        if (dns && *dns && gd_resolver_init(loop, dns) < 0) {
            fprintf(stderr, "gameday instance: GAMEDAY_DNS: '%s' is not IP:PORT\n", dns);
            return 2;
        }
    }
    gd_clothes *c;
    int r = gd_clothes_start(loop, &conf, ip, port, &c);
    if (r < 0) {
        if (r == GD_EINVAL && conf.db.url) {
            fprintf(stderr, "gameday instance: GAMEDAY_DB_URL: not a libpq conninfo with a host "
                            "(host=NAME port=N dbname=D user=U password=P)\n");
            return 2;
        }
        gd_error("listen_failed", "addr=%s:%d err=%s", ip, port, gd_strerror(r));
        return 1;
    }
    *machine = gd_clothes_slots(c);
    *mode_out = gd_sess_mode_name(conf.sessions);
    return 0;
}

int gd_cmd_instance(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || argv[1][0] == '-') {
        fprintf(argc < 2 ? stderr : stdout,
                "usage: gameday instance unicorn|time|clothes [--addr IP:PORT] [--slots N]\n"
                "         [--queue N] [--service-ms GAME_MS] [--salt S] [--id ID] [--release vN]\n"
                "         [--fault-file PATH]\n"
                "  clothes: [--sessions memory|cookie|redis] [--session-key HEX]\n"
                "         [--redis IP:PORT] [--session-ttl GAME_S] [--max-sessions N]\n"
                "         [--cache none|redis] [--cache-ttl GAME_S]\n"
                "Defaults come from GAMEDAY_ADDR, GAMEDAY_SLOTS (5), GAMEDAY_QUEUE (32),\n"
                "GAMEDAY_SERVICE_MS (4000), GAMEDAY_SALT, GAMEDAY_INSTANCE_ID,\n"
                "GAMEDAY_FAULT_FILE; the game clock from GAMEDAY_SPEED and GAMEDAY_EPOCH_NS\n"
                "(speed 1 when absent). SIGHUP reads GAMEDAY_ALLOW_FILE and the fault file\n"
                "again. clothes also reads GAMEDAY_SESSIONS, GAMEDAY_SESSION_KEY,\n"
                "GAMEDAY_REDIS, GAMEDAY_REDIS_USER, GAMEDAY_REDIS_PASSWORD, GAMEDAY_REDIS_SOURCE,\n"
                "GAMEDAY_SESSION_TTL, GAMEDAY_SESSION_MAX, GAMEDAY_DB_URL, GAMEDAY_CACHE and\n"
                "GAMEDAY_CACHE_TTL (300) (doc/clothes.md).\n");
        return argc < 2 ? 2 : 0;
    }
    /* A SIGHUP that comes before the loop listens for it (the server's, for files it
     * changed just after the spawn) must not end the process: the files are read after
     * the handler is in place, so their change is not lost either. */
    signal(SIGHUP, SIG_IGN);
    const char *service = argv[1];
    gd_log_init("instance");
    if (strcmp(service, "unicorn") != 0 && strcmp(service, "time") != 0 &&
        strcmp(service, "clothes") != 0) {
        fprintf(stderr,
                "gameday instance: unknown service '%s' (allowed: unicorn, time, clothes)\n",
                service);
        return 2;
    }
    if (gd_clock_from_env() < 0) gd_clock_set(1.0, gd_clock_mono_ns());
    const char *addr = opt(argc, argv, "--addr", "GAMEDAY_ADDR", NULL);
    uint32_t ip;
    int port;
    if (!addr || gd_hostport_parse(addr, &ip, &port) < 0) {
        fprintf(stderr,
                "gameday instance: --addr or GAMEDAY_ADDR must be IP:PORT in 127.0.0.0/8\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    uv_loop_t *loop = uv_default_loop();
    char ipbuf[16];
    gd_ip_format(ip, ipbuf);
    gd_unicorn_conf conf = {
        .kind = !strcmp(service, "time") ? GD_SVC_TIME : GD_SVC_UNICORN,
        .id = opt(argc, argv, "--id", "GAMEDAY_INSTANCE_ID", "local"),
        .salt = opt(argc, argv, "--salt", "GAMEDAY_SALT", "unicorn-rentals"),
        .slots = atoi(opt(argc, argv, "--slots", "GAMEDAY_SLOTS", "5")),
        .queue = atoi(opt(argc, argv, "--queue", "GAMEDAY_QUEUE", "32")),
        .service_ms = atof(opt(argc, argv, "--service-ms", "GAMEDAY_SERVICE_MS", "4000")),
    };
    const char *release = opt(argc, argv, "--release", "GAMEDAY_SERVICE_VERSION", "v2");
    if (strlen(release) != 2 || release[0] != 'v' || release[1] < '1' || release[1] > '4') {
        fprintf(stderr, "gameday instance: --release '%s': one of v1, v2, v3, v4\n", release);
        return 2;
    }
    conf.version = release[1] - '0';
    const char *sessions = NULL; /* clothes: its session mode */
    if (!strcmp(service, "clothes")) {
        int rc = start_clothes(argc, argv, loop, ipbuf, port, &the_machine, &sessions);
        if (rc) return rc;
    } else {
        gd_unicorn *u;
        int r = gd_unicorn_start(loop, &conf, ipbuf, port, &u);
        if (r < 0) {
            gd_error("listen_failed", "addr=%s err=%s", addr, gd_strerror(r));
            return 1;
        }
        the_machine = gd_unicorn_slots(u);
    }
    uv_signal_t sigterm, sigint, sighup;
    uv_signal_init(loop, &sighup);
    uv_signal_start(&sighup, on_hup, SIGHUP);
    acl_file = getenv("GAMEDAY_ALLOW_FILE");
    gd_slots_load_acl(the_machine, acl_file);
    fault_file = opt(argc, argv, "--fault-file", "GAMEDAY_FAULT_FILE", NULL);
    load_faults();
    uv_signal_init(loop, &sigterm);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_init(loop, &sigint);
    uv_signal_start(&sigint, on_signal, SIGINT);
    gd_info("ready",
            "service=%s id=%s addr=%s slots=%d queue=%d service_ms=%.0f speed=%g release=%s%s%s",
            service, conf.id, addr, conf.slots, conf.queue, conf.service_ms, gd_clock_speed(),
            release, sessions ? " sessions=" : "", sessions ? sessions : "");
    uv_run(loop, UV_RUN_DEFAULT);
    return 0;
}
