/* The AWS API's front door (see aws.h): per-team keys, Signature Version 4, the
 * service and action a request names, answers and errors in each protocol's shape,
 * one log line and the metrics per request. The services' actions live in
 * aws_ec2.c, aws_autoscaling.c, aws_cloudwatch.c, aws_cloudtrail.c, aws_elbv2.c and
 * aws_cloudfront.c. */
#include "server/aws.h"

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/promtext.h"
#include "server/aws_int.h"
#include "server/aws_sigv4.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <math.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* How far X-Amz-Date may be from the server's wall clock, as AWS allows. */
#define MAX_SKEW_S 900
#define REGION "us-east-1"

static const gd_aws_service *const services[] = {
    &gd_aws_ec2,         &gd_aws_autoscaling, &gd_aws_cloudwatch, &gd_aws_cloudtrail, &gd_aws_rds,
    &gd_aws_elasticache, &gd_aws_elbv2,       &gd_aws_cloudfront, &gd_aws_ecs};
#define NSERVICES (sizeof services / sizeof services[0])

int gd_aws_path(const gd_http_req *req)
{
    size_t n = strlen(GD_AWS_PREFIX);
    return req->path_len >= n && !memcmp(req->path, GD_AWS_PREFIX, n) &&
           (req->path_len == n || req->path[n] == '/');
}

/* ---- keys ---- */

void gd_aws_keys(const char *internal_secret, int team, int admin, char id[21], char secret[41])
{
    static const char idset[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    static const char secretset[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char msg[64];
    unsigned char md[32], md2[32];
    unsigned int len = 32;
    const char *who = admin ? "admin" : "team";
    snprintf(msg, sizeof msg, "aws-access-key-id:%s:%d", who, team);
    HMAC(EVP_sha256(), internal_secret, (int)strlen(internal_secret), (unsigned char *)msg,
         strlen(msg), md, &len);
    memcpy(id, "AKIA", 4);
    for (int i = 0; i < 16; i++) id[4 + i] = idset[md[i] & 31];
    id[20] = 0;
    snprintf(msg, sizeof msg, "aws-secret-access-key:%s:%d", who, team);
    HMAC(EVP_sha256(), internal_secret, (int)strlen(internal_secret), (unsigned char *)msg,
         strlen(msg), md, &len);
    snprintf(msg, sizeof msg, "aws-secret-access-key:%s:%d:2", who, team);
    HMAC(EVP_sha256(), internal_secret, (int)strlen(internal_secret), (unsigned char *)msg,
         strlen(msg), md2, &len);
    for (int i = 0; i < 40; i++) secret[i] = secretset[(i < 32 ? md[i] : md2[i - 32]) & 63];
    secret[40] = 0;
}

/* Every key of the game, made once (the internal secret never changes in a game). */
static struct keytab {
    const gd_game *g;
    int n;
    struct {
        char id[21], secret[41];
    } k[GD_MAX_TEAMS + 1][2]; /* [team][admin] */
} keys;

static void load_keys(gd_game *g)
{
    if (keys.g == g && keys.n == g->nteams) return;
    for (int t = 1; t <= g->nteams && t <= GD_MAX_TEAMS; t++)
        for (int a = 0; a < 2; a++)
            gd_aws_keys(g->internal_token, t, a, keys.k[t][a].id, keys.k[t][a].secret);
    keys.g = g;
    keys.n = g->nteams;
}

/* The team and kind of an access key id; 0 when the game has no such key. */
static int key_team(gd_game *g, const char *id, int *admin, const char **secret)
{
    load_keys(g);
    for (int t = 1; t <= keys.n; t++)
        for (int a = 0; a < 2; a++)
            if (!strcmp(keys.k[t][a].id, id)) {
                *admin = a;
                *secret = keys.k[t][a].secret;
                return t;
            }
    return 0;
}

/* Writes path whole (a temporary file, then a rename), mode 0600. */
static int write_file(const char *path, const char *text)
{
    char tmp[PATH_MAX + 16];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return GD_EIO;
    size_t n = strlen(text);
    ssize_t w = write(fd, text, n);
    close(fd);
    if (w < 0 || (size_t)w != n || rename(tmp, path) < 0) {
        unlink(tmp);
        return GD_EIO;
    }
    return 0;
}

int gd_aws_write_profiles(gd_game *g)
{
    char dir[PATH_MAX + 8], path[PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s/aws", g->dir);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) return GD_EIO;
    load_keys(g);
    gd_buf cfg, cred;
    gd_buf_init(&cfg, 64 * 1024);
    gd_buf_init(&cred, 64 * 1024);
    gd_buf_printf(&cfg,
                  "# The aws CLI's profiles for this game (doc/aws.md). awscli >= 2.13 reads\n"
                  "# endpoint_url; older ones (Debian's 2.9) need --endpoint-url "
                  "http://%s:%d%s\n",
                  g->host, g->port, GD_AWS_PREFIX);
    gd_buf_puts(&cred, "# Keys of this game's teams (doc/aws.md); they reach only their team.\n");
    for (int t = 1; t <= keys.n; t++)
        for (int a = 0; a < 2; a++) {
            char prof[32];
            snprintf(prof, sizeof prof, "%steam-%d", a ? "admin-" : "", t);
            gd_buf_printf(&cfg,
                          "\n[profile %s]\nregion = %s\noutput = json\nendpoint_url = "
                          "http://%s:%d%s\n",
                          prof, REGION, g->host, g->port, GD_AWS_PREFIX);
            gd_buf_printf(&cred, "\n[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n",
                          prof, keys.k[t][a].id, keys.k[t][a].secret);
        }
    snprintf(path, sizeof path, "%s/config", dir);
    int r = write_file(path, gd_buf_cstr(&cfg));
    snprintf(path, sizeof path, "%s/credentials", dir);
    if (r == 0) r = write_file(path, gd_buf_cstr(&cred));
    gd_buf_free(&cfg);
    gd_buf_free(&cred);
    if (r < 0)
        gd_warn("aws_profiles_failed", "dir=%s err=%s", dir, gd_strerror(r));
    else
        gd_info("aws_profiles_written", "dir=%s teams=%d", dir, keys.n);
    return r;
}

/* ---- metrics ---- */

enum outcome { OUT_OK, OUT_ERROR, OUT_REFUSED, NOUT };
static const char *const outcome_names[NOUT] = {"ok", "error", "refused"};
static uint64_t counts[NSERVICES + 1][NOUT]; /* the last row: no service known */

void gd_aws_metrics(gd_buf *b)
{
    gd_prom_head(b, "gameday_aws_requests_total", "counter",
                 "AWS API requests by service and outcome (refused: not authenticated)");
    for (size_t s = 0; s <= NSERVICES; s++)
        for (int o = 0; o < NOUT; o++) {
            char l[96];
            snprintf(l, sizeof l, "service=\"%s\",outcome=\"%s\"",
                     s < NSERVICES ? services[s]->signing_name : "unknown", outcome_names[o]);
            gd_prom_sample(b, "gameday_aws_requests_total", l, (double)counts[s][o]);
        }
}

/* ---- answers ---- */

static enum gd_aws_protocol protocol_of(const gd_aws_call *k)
{
    if (k->svc) return k->svc->protocol;
    size_t n;
    return gd_http_header_get(k->req->headers, k->req->nheaders, "x-amz-target", &n) ? GD_AWS_JSON
                                                                                     : GD_AWS_QUERY;
}

static void respond(gd_aws_call *k, int status, const char *ctype, const char *body, size_t len)
{
    char hdr[128];
    snprintf(hdr, sizeof hdr, "x-amzn-RequestId: %s\r\n", k->request_id);
    k->status = status;
    gd_http_respond(k->c, status, hdr, ctype, body, len);
}

void gd_aws_fail(gd_aws_call *k, int status, const char *code, const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(k->code, sizeof k->code, "%s", code);
    enum gd_aws_protocol p = protocol_of(k);
    if (p == GD_AWS_JSON) {
        json_t *j = json_pack("{s:s,s:s}", "__type", code, "message", msg);
        char *s = json_dumps(j, JSON_COMPACT);
        char hdr[200];
        snprintf(hdr, sizeof hdr, "x-amzn-RequestId: %s\r\nX-Amzn-ErrorType: %s\r\n", k->request_id,
                 code);
        k->status = status;
        gd_http_respond(k->c, status, hdr, "application/x-amz-json-1.1", s, strlen(s));
        free(s);
        json_decref(j);
        return;
    }
    gd_xml x;
    gd_xml_init(&x, 64 * 1024);
    gd_xml_raw(&x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    if (p == GD_AWS_EC2) {
        gd_xml_raw(&x, "<Response><Errors><Error>");
        gd_xml_text(&x, "Code", code);
        gd_xml_text(&x, "Message", msg);
        gd_xml_raw(&x, "</Error></Errors>");
        gd_xml_text(&x, "RequestID", k->request_id);
        gd_xml_raw(&x, "</Response>");
    } else {
        gd_xml_raw(&x, "<ErrorResponse");
        if (k->svc) {
            gd_xml_raw(&x, " xmlns=\"");
            gd_xml_raw(&x, k->svc->xmlns);
            gd_xml_raw(&x, "\"");
        }
        gd_xml_raw(&x, "><Error>");
        gd_xml_text(&x, "Type", status >= 500 ? "Receiver" : "Sender");
        gd_xml_text(&x, "Code", code);
        gd_xml_text(&x, "Message", msg);
        gd_xml_raw(&x, "</Error>");
        gd_xml_text(&x, "RequestId", k->request_id);
        gd_xml_raw(&x, "</ErrorResponse>");
    }
    respond(k, status, "text/xml;charset=UTF-8", x.b.data, x.b.len);
    gd_xml_free(&x);
}

void gd_aws_fail_op(gd_aws_call *k, const gd_op_result *r, const char *code_for_404)
{
    int st = r->status == 403 ? 403 : r->status >= 500 ? 500 : 400;
    const char *code = r->code ? r->code : "InternalError";
    if (r->status == 404 && code_for_404) code = code_for_404;
    gd_aws_fail(k, st, code, "%s", r->message[0] ? r->message : "the operation failed");
}

void gd_aws_xml_begin(gd_aws_call *k, gd_xml *x)
{
    gd_xml_init(x, GD_XML_MAX);
    gd_xml_raw(x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<");
    gd_xml_raw(x, k->action);
    gd_xml_raw(x, "Response xmlns=\"");
    gd_xml_raw(x, k->svc->xmlns);
    gd_xml_raw(x, "\">");
    if (k->svc->protocol == GD_AWS_EC2) {
        gd_xml_text(x, "requestId", k->request_id);
    } else {
        gd_xml_raw(x, "<");
        gd_xml_raw(x, k->action);
        gd_xml_raw(x, "Result>");
    }
}

void gd_aws_xml_send(gd_aws_call *k, gd_xml *x)
{
    if (k->svc->protocol != GD_AWS_EC2) {
        gd_xml_raw(x, "</");
        gd_xml_raw(x, k->action);
        gd_xml_raw(x, "Result><ResponseMetadata>");
        gd_xml_text(x, "RequestId", k->request_id);
        gd_xml_raw(x, "</ResponseMetadata>");
    }
    gd_xml_raw(x, "</");
    gd_xml_raw(x, k->action);
    gd_xml_raw(x, "Response>");
    if (x->err)
        gd_aws_fail(k, 500, "InternalError",
                    "the answer is larger than %d MiB; ask for fewer results (MaxResults)",
                    GD_XML_MAX >> 20);
    else
        respond(k, 200, "text/xml;charset=UTF-8", x->b.data, x->b.len);
    gd_xml_free(x);
}

void gd_aws_rest_send(gd_aws_call *k, int status, const char *headers, gd_xml *x)
{
    if (x->err) {
        gd_xml_free(x);
        gd_aws_fail(k, 500, "InternalError", "the answer is larger than %d MiB", GD_XML_MAX >> 20);
        return;
    }
    char *hdr = gd_sprintf("x-amzn-RequestId: %s\r\n%s", k->request_id, headers ? headers : "");
    k->status = status;
    gd_http_respond(k->c, status, hdr, "text/xml", x->b.data, x->b.len);
    gd_free(hdr);
    gd_xml_free(x);
}

void gd_aws_json_send(gd_aws_call *k, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!s) {
        gd_aws_fail(k, 500, "InternalError", "the answer could not be written");
        return;
    }
    respond(k, 200, "application/x-amz-json-1.1", s, strlen(s));
    free(s);
}

int gd_aws_unread(gd_aws_call *k)
{
    const char *p = gd_aws_params_unread(&k->params);
    if (!p) return 0;
    gd_aws_fail(k, 400, "UnknownParameter",
                "The parameter %s is not recognized by %s in this game (see doc/aws.md)", p,
                k->action);
    return -1;
}

gd_actor gd_aws_actor(const gd_aws_call *k)
{
    return (gd_actor){.team = k->team,
                      .principal = k->principal,
                      .source_ip = gd_http_conn_peer(k->c),
                      .trust = k->admin ? GD_TRUST_ADMIN : GD_TRUST_TEAM};
}

/* ---- AWS's forms ---- */

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

double gd_aws_wall_of(const gd_game *g, double game_t)
{
    return wall_now() - (gd_game_now(g) - game_t) / gd_clock_speed();
}

double gd_aws_game_of(const gd_game *g, double wall)
{
    return gd_game_now(g) - (wall_now() - wall) * gd_clock_speed();
}

json_t *gd_aws_subnet_group_names(const json_t *all, const char *type, const char *want)
{
    json_t *groups = json_array();
    json_array_append_new(groups, json_string("default"));
    size_t i;
    json_t *r;
    json_array_foreach(all, i, r) if (!strcmp(gd_jstr(r, "type"), type))
        json_array_append_new(groups, json_string(gd_jstr(r, "name")));
    int found = !want;
    json_array_foreach(groups, i, r) found |= want && !strcmp(want, json_string_value(r));
    if (!found) {
        json_decref(groups);
        return NULL;
    }
    return groups;
}

void gd_aws_ctx_open(gd_aws_ctx *cx, gd_aws_call *k)
{
    cx->k = k;
    cx->all = gd_store_res_list(k->g->db, k->team, NULL, 0);
    gd_aws_account(k->team, cx->account);
}

void gd_aws_ctx_close(gd_aws_ctx *cx)
{
    json_decref(cx->all);
}

char *gd_aws_iso(double wall, char *out)
{
    /* to the nearest millisecond: two computations of one instant that differ in their
     * last bits (a period's start, a datapoint's time) print the same */
    long long all = llround(wall * 1000.0);
    time_t s = (time_t)(all / 1000);
    int ms = (int)(all % 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
    return out;
}

/* n digits at *p as a number; -1 when they are not digits. */
static int digits(const char **p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (**p < '0' || **p > '9') return -1;
        v = v * 10 + (**p - '0');
    }
    return v;
}

int gd_aws_parse_time(const char *s, double *wall)
{
    if (!s || !*s) return -1;
    char *end;
    double num = strtod(s, &end);
    if (*end == 0 && strchr(s, '-') == NULL) { /* epoch seconds */
        if (!isfinite(num) || num < 0) return -1;
        *wall = num;
        return 0;
    }
    const char *p = s;
    struct tm tm = {0};
    int y = digits(&p, 4);
    if (y < 0 || *p++ != '-') return -1;
    int mo = digits(&p, 2);
    if (mo < 1 || mo > 12 || *p++ != '-') return -1;
    int d = digits(&p, 2);
    if (d < 1 || d > 31) return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    double frac = 0, off = 0;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        int h = digits(&p, 2);
        if (h < 0 || h > 23 || *p++ != ':') return -1;
        int mi = digits(&p, 2);
        if (mi < 0 || mi > 59) return -1;
        int se = 0;
        if (*p == ':') {
            p++;
            se = digits(&p, 2);
            if (se < 0 || se > 60) return -1;
        }
        tm.tm_hour = h;
        tm.tm_min = mi;
        tm.tm_sec = se;
        if (*p == '.') {
            double scale = 0.1;
            p++;
            if (*p < '0' || *p > '9') return -1;
            while (*p >= '0' && *p <= '9') {
                frac += (*p++ - '0') * scale;
                scale /= 10;
            }
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p++ == '-' ? -1 : 1;
            int oh = digits(&p, 2);
            if (oh < 0 || oh > 23) return -1;
            if (*p == ':') p++;
            int om = digits(&p, 2);
            if (om < 0 || om > 59) return -1;
            off = sign * (oh * 3600 + om * 60);
        } else if (*p) {
            return -1;
        }
    }
    if (*p) return -1;
    *wall = (double)timegm(&tm) + frac - off;
    return 0;
}

char *gd_aws_az(const char *az, char *out)
{
    if (az && *az)
        snprintf(out, 16, "%s%s", REGION, az);
    else
        out[0] = 0;
    return out;
}

char gd_aws_zone(const char *name)
{
    size_t n = strlen(REGION);
    if (!name || strncmp(name, REGION, n) != 0 || strlen(name) != n + 1) return 0;
    char z = name[n];
    return z >= 'a' && z <= 'f' ? z : 0;
}

char *gd_aws_account(int team, char *out)
{
    snprintf(out, 16, "%012d", team);
    return out;
}

int gd_aws_match(const char *pattern, const char *value)
{
    return fnmatch(pattern, value ? value : "", FNM_NOESCAPE) == 0;
}

int gd_aws_page_start(gd_aws_call *k, const char *token, const char *code)
{
    if (!token) return 0;
    char *end;
    errno = 0;
    long v = strncmp(token, "gd-page-", 8) == 0 ? strtol(token + 8, &end, 10) : -1;
    if (v < 0 || errno || *end || v > 10000000) {
        gd_aws_fail(k, 400, code ? code : "InvalidNextToken",
                    "The NextToken '%.40s' is not one this game gave", token);
        return -1;
    }
    return (int)v;
}

int gd_aws_paging(gd_aws_call *k, const char *size, long lo, long hi, long def,
                  const char *size_code, const char *token, const char *token_code, long *max,
                  long *start)
{
    char err[200];
    if (gd_aws_param_int(&k->params, size, lo, hi, def, max, err, sizeof err) < 0) {
        gd_aws_fail(k, 400, size_code, "%s", err);
        return -1;
    }
    int s = gd_aws_page_start(k, gd_aws_param(&k->params, "%s", token), token_code);
    if (s < 0) return -1;
    *start = s;
    return 0;
}

int gd_aws_in_list(const char **l, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(l[i], s)) return 1;
    return 0;
}

char *gd_aws_page_token(long offset, char *out)
{
    snprintf(out, 32, "gd-page-%ld", offset);
    return out;
}

const char *gd_aws_id_of(const json_t *list, const char *type, const char *name)
{
    size_t i;
    json_t *r;
    json_array_foreach(list, i, r) if (!strcmp(gd_jstr(r, "type"), type) &&
                                       !strcmp(gd_jstr(r, "name"), name)) return gd_jstr(r, "id");
    return "";
}

json_t *gd_aws_find(const json_t *list, const char *type, const char *id)
{
    size_t i;
    json_t *r;
    json_array_foreach(list, i, r) if (!strcmp(gd_jstr(r, "type"), type) &&
                                       (!strcmp(gd_jstr(r, "id"), id) ||
                                        !strcmp(gd_jstr(r, "name"), id))) return r;
    return NULL;
}

/* ---- the front door ---- */

static void request_id(char out[40])
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1) memset(b, 0, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 40, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

static const gd_aws_service *service_named(const char *name)
{
    for (size_t i = 0; i < NSERVICES; i++)
        if (!strcmp(services[i]->signing_name, name)) return services[i];
    return NULL;
}

static size_t service_index(const gd_aws_service *s)
{
    for (size_t i = 0; i < NSERVICES; i++)
        if (services[i] == s) return i;
    return NSERVICES;
}

/* Authenticates the call: its key, its clock, its signature. 0, or -1 after the
 * refusal AWS would answer. */
static int authenticate(gd_aws_call *k)
{
    gd_http_req *req = k->req;
    gd_sigv4_req sr = {.method = http_method_str(req->method),
                       .path = req->path,
                       .path_len = req->path_len,
                       .query = req->query,
                       .query_len = req->query ? req->query_len : 0,
                       .headers = req->headers,
                       .nheaders = req->nheaders,
                       .body = req->body,
                       .body_len = req->body_len};
    gd_sigv4_auth a;
    char err[300];
    enum gd_sigv4_parsed p = gd_sigv4_parse(&sr, &a, err, sizeof err);
    int json = protocol_of(k) == GD_AWS_JSON;
    if (p == GD_SIGV4_NONE) {
        gd_aws_fail(k, json ? 400 : 403,
                    json ? "MissingAuthenticationTokenException" : "MissingAuthenticationToken",
                    "Request is missing Authentication Token: sign it with Signature Version 4 "
                    "and a key of DIR/aws/credentials (doc/aws.md)");
        return -1;
    }
    if (p == GD_SIGV4_MALFORMED) {
        gd_aws_fail(k, 400, json ? "IncompleteSignatureException" : "IncompleteSignature", "%s",
                    err);
        return -1;
    }
    k->svc = service_named(a.service);
    if (!k->svc) {
        const char *names[NSERVICES + 1];
        for (size_t i = 0; i < NSERVICES; i++) names[i] = services[i]->signing_name;
        names[NSERVICES] = NULL;
        char allow[128];
        gd_join(names, allow, sizeof allow);
        gd_aws_fail(k, 400, json ? "UnknownOperationException" : "InvalidAction",
                    "this game does not speak the service '%s' yet (allowed: %s); see doc/aws.md",
                    a.service, allow);
        return -1;
    }
    json = k->svc->protocol == GD_AWS_JSON;
    const char *sigcode = json ? "InvalidSignatureException" : "SignatureDoesNotMatch";
    if (strcmp(a.region, REGION) != 0) {
        gd_aws_fail(k, json ? 400 : 403, sigcode,
                    "Credential should be scoped to a valid region, not '%s': this game is %s "
                    "only (set region = %s in the profile)",
                    a.region, REGION, REGION);
        return -1;
    }
    const char *secret = NULL;
    k->team = key_team(k->g, a.access_key, &k->admin, &secret);
    snprintf(k->access_key, sizeof k->access_key, "%s", a.access_key);
    if (!k->team) {
        gd_aws_fail(k, json ? 400 : 403,
                    json ? "UnrecognizedClientException" : "InvalidClientTokenId",
                    "The security token included in the request is invalid: no key '%.24s' in "
                    "this game (its keys are in DIR/aws/credentials)",
                    a.access_key);
        return -1;
    }
    time_t t;
    gd_sigv4_time(a.amz_date, &t);
    time_t now = time(NULL);
    char nowbuf[20], limbuf[20];
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(nowbuf, sizeof nowbuf, "%Y%m%dT%H%M%SZ", &tm);
    int expired = a.presigned && a.expires && now > t + a.expires;
    if (expired || t < now - MAX_SKEW_S || t > now + MAX_SKEW_S) {
        time_t lim = t < now ? now - MAX_SKEW_S : now + MAX_SKEW_S;
        gmtime_r(&lim, &tm);
        strftime(limbuf, sizeof limbuf, "%Y%m%dT%H%M%SZ", &tm);
        if (k->svc->protocol == GD_AWS_EC2)
            gd_aws_fail(k, 400, "RequestExpired",
                        "Request has expired: its X-Amz-Date %s is more than 15 minutes from the "
                        "server's clock (%s)",
                        a.amz_date, nowbuf);
        else if (expired)
            gd_aws_fail(k, json ? 400 : 403, sigcode,
                        "Signature expired: the presigned request "
                        "of %s lasted %ld s (now %s)",
                        a.amz_date, a.expires, nowbuf);
        else
            gd_aws_fail(k, json ? 400 : 403, sigcode,
                        "Signature %s: %s is now %s than %s (%s %s 15 min.)",
                        t < now ? "expired" : "not yet current", a.amz_date,
                        t < now ? "earlier" : "later", limbuf, nowbuf, t < now ? "-" : "+");
        return -1;
    }
    if (!gd_sigv4_verify(&sr, &a, secret, err, sizeof err)) {
        gd_aws_fail(k, json ? 400 : 403, sigcode,
                    "The request signature we calculated does not match the signature you "
                    "provided. Check your AWS Secret Access Key and signing method.%s%s",
                    err[0] ? " " : "", err);
        return -1;
    }
    if (k->admin)
        snprintf(k->principal, sizeof k->principal, "admin");
    else
        snprintf(k->principal, sizeof k->principal, "team-%d", k->team);
    return 0;
}

/* The action the request names, in the service's protocol; NULL after answering. */
static const gd_aws_action *find_action(gd_aws_call *k)
{
    const gd_aws_service *s = k->svc;
    char err[300];
    const char *name;
    char target[128];
    if (s->protocol == GD_AWS_JSON) {
        size_t n;
        const char *t = gd_http_header_get(k->req->headers, k->req->nheaders, "x-amz-target", &n);
        size_t pl = strlen(s->target_prefix);
        if (!t || n <= pl + 1 || n >= sizeof target || strncmp(t, s->target_prefix, pl) != 0 ||
            t[pl] != '.') {
            gd_aws_fail(k, 400, "UnknownOperationException", "X-Amz-Target must be %s.<Operation>",
                        s->target_prefix);
            return NULL;
        }
        snprintf(target, sizeof target, "%.*s", (int)(n - pl - 1), t + pl + 1);
        name = target;
        json_error_t je;
        k->body =
            k->req->body_len ? json_loadb(k->req->body, k->req->body_len, 0, &je) : json_object();
        if (!json_is_object(k->body)) {
            gd_aws_fail(k, 400, "SerializationException",
                        "the body must be a JSON object (line %d column %d: %s)", je.line,
                        je.column, k->body ? "not an object" : je.text);
            return NULL;
        }
    } else if (s->protocol == GD_AWS_REST_XML) { /* the body is the action's XML */
        if (gd_aws_params_parse(&k->params, k->req->query, k->req->query ? k->req->query_len : 0,
                                NULL, 0, err, sizeof err) < 0) {
            gd_aws_fail(k, 400, "MalformedQueryString", "%s", err);
            return NULL;
        }
        name = s->route(k);
        if (!name) return NULL;
    } else {
        if (gd_aws_params_parse(&k->params, k->req->query, k->req->query ? k->req->query_len : 0,
                                k->req->body, k->req->body_len, err, sizeof err) < 0) {
            gd_aws_fail(k, 400, "MalformedQueryString", "%s", err);
            return NULL;
        }
        name = gd_aws_param(&k->params, "Action");
        const char *v = gd_aws_param(&k->params, "Version");
        if (!name || !*name) {
            gd_aws_fail(k, 400, "MissingAction", "The request must contain the parameter Action");
            return NULL;
        }
        if (v && strcmp(v, s->version) != 0) {
            gd_aws_fail(k, 400, "NoSuchVersion",
                        "The requested version (%.20s) of service %s does not exist (allowed: %s)",
                        v, s->signing_name, s->version);
            return NULL;
        }
    }
    for (int i = 0; i < s->nactions; i++)
        if (!strcmp(s->actions[i].name, name)) {
            k->action = s->actions[i].name;
            return &s->actions[i];
        }
    char allow[600] = "";
    size_t off = 0;
    for (int i = 0; i < s->nactions && off < sizeof allow; i++)
        off += (size_t)snprintf(allow + off, sizeof allow - off, "%s%s", i ? ", " : "",
                                s->actions[i].name);
    gd_aws_fail(k, 400, s->protocol == GD_AWS_JSON ? "UnknownOperationException" : "InvalidAction",
                "The action %.64s is not valid for this web service in this game yet (allowed: "
                "%s); see doc/aws.md",
                name, allow);
    return NULL;
}

void gd_aws_handle(gd_game *g, gd_http_conn *c, gd_http_req *req)
{
    gd_aws_call *k = gd_calloc(1, sizeof *k);
    k->g = g;
    k->c = c;
    k->req = req;
    k->action = "-";
    request_id(k->request_id);
    int authed = authenticate(k) == 0;
    const gd_aws_action *act = authed ? find_action(k) : NULL;
    /* The finished game is served read-only: reads go on, writes are refused, as in the
     * game's own API (409 GameOver there). */
    static const char *const reads[] = {"Describe", "List", "Get", "Lookup"};
    int read = 0;
    for (size_t i = 0; act && i < sizeof reads / sizeof reads[0]; i++)
        read |= !strncmp(act->name, reads[i], strlen(reads[i]));
    if (act && g->finished && !read) {
        gd_aws_fail(k, 400, "GameOver",
                    "the game has ended: it is served read-only (%s is a change); see "
                    "report.html",
                    act->name);
        act = NULL;
    }
    if (act) act->fn(k);
    size_t si = service_index(k->svc);
    counts[si][!authed ? OUT_REFUSED : k->code[0] ? OUT_ERROR : OUT_OK]++;
    gd_info(authed ? "aws_call" : "aws_refused",
            "service=%s action=%s principal=%s key=%s status=%d code=%s request_id=%s",
            k->svc ? k->svc->signing_name : "-", k->action, k->principal[0] ? k->principal : "-",
            k->access_key[0] ? k->access_key : "-", k->status, k->code[0] ? k->code : "-",
            k->request_id);
    gd_aws_params_free(&k->params);
    json_decref(k->body);
    gd_free(k);
}
