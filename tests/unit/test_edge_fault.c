/* The edge's network faults (src/edge/fault.c): the config's "faults" list is checked
 * field by field with messages that say what is allowed, defaults are filled, and a
 * set put in force live keeps the counts of the faults that stay. */
#include "core/err.h"
#include "edge/fault.h"

#include <criterion/criterion.h>
#include <uv.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

static gd_edge_fault_set set;

static int parse(const char *text, char *err)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    cr_assert_not_null(j, "bad test JSON %s: %s", text, je.text);
    err[0] = 0;
    int r = gd_edge_faults_parse(j, &set, err, 256);
    json_decref(j);
    return r;
}

Test(edge_fault, defaults_and_values)
{
    char err[256];
    cr_assert_eq(parse("[{\"id\": \"exp-1/a\", \"kind\": \"error\", \"link\": \"client\"},"
                       " {\"id\": \"exp-1/b\", \"kind\": \"latency\", \"link\": \"upstream\","
                       "  \"latency_ms\": 400, \"jitter_ms\": 50, \"probability\": 0.25,"
                       "  \"targets\": [\"127.1.1.5:8000\"]},"
                       " {\"id\": \"exp-1/c\", \"kind\": \"slow_close\", \"link\": \"client\","
                       "  \"delay_ms\": 700}]",
                       err),
                 0, "%s", err);
    cr_assert_eq(set.n, 3);
    const gd_edge_fault *a = &set.f[0], *b = &set.f[1], *c = &set.f[2];
    cr_assert_str_eq(a->id, "exp-1/a");
    cr_assert_eq(a->kind, GD_EDGE_FAULT_ERROR);
    cr_assert_eq(a->link, GD_EDGE_FAULT_CLIENT);
    cr_assert_eq(a->status, 503, "an error fault's status defaults to 503");
    cr_assert_float_eq(a->probability, 1, 1e-12, "probability defaults to 1");
    cr_assert_eq(a->ntargets, -1, "no targets: every target");
    cr_assert_eq(b->kind, GD_EDGE_FAULT_LATENCY);
    cr_assert_eq(b->link, GD_EDGE_FAULT_UPSTREAM);
    cr_assert_float_eq(b->latency_ms, 400, 1e-12);
    cr_assert_float_eq(b->jitter_ms, 50, 1e-12);
    cr_assert_float_eq(b->probability, 0.25, 1e-12);
    cr_assert_eq(b->ntargets, 1);
    cr_assert_eq(b->targets[0].ip, (127u << 24) | (1u << 16) | (1u << 8) | 5u);
    cr_assert_eq(b->targets[0].port, 8000);
    cr_assert_eq(c->kind, GD_EDGE_FAULT_SLOW_CLOSE);
    cr_assert_float_eq(c->delay_ms, 700, 1e-12);
}

Test(edge_fault, none_is_an_empty_set)
{
    char err[256];
    set.n = 5;
    cr_assert_eq(gd_edge_faults_parse(NULL, &set, err, sizeof err), 0);
    cr_assert_eq(set.n, 0);
    cr_assert_eq(parse("[]", err), 0);
    cr_assert_eq(set.n, 0);
}

Test(edge_fault, bad_faults_say_the_field_and_what_is_allowed)
{
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"{}", "field 'faults': a list of at most 16"},
        {"[7]", "field 'faults[0]': must be an object"},
        {"[{\"kind\": \"error\", \"link\": \"client\"}]", "field 'faults[0].id': required"},
        {"[{\"id\": \"a b\", \"kind\": \"error\", \"link\": \"client\"}]",
         "field 'faults[0].id': required, a text of 1..127 printable"},
        {"[{\"id\": \"x\", \"kind\": \"slow\", \"link\": \"client\"}]",
         "field 'faults[0].kind': 'slow' (allowed: latency, error, reset, bandwidth, blackhole, "
         "slow_close)"},
        {"[{\"id\": \"x\", \"kind\": \"slow-close\", \"link\": \"client\", \"delay_ms\": 1}]",
         "'faults[0].kind': 'slow-close' (allowed:"},
        {"[{\"id\": \"x\", \"kind\": \"error\"}]",
         "field 'faults[0].link': required (allowed: client, upstream)"},
        {"[{\"id\": \"x\", \"kind\": \"error\", \"link\": \"target\"}]",
         "field 'faults[0].link': unknown (allowed: client, upstream)"},
        {"[{\"id\": \"x\", \"kind\": \"latency\", \"link\": \"client\"}]",
         "field 'faults[0].latency_ms': required, a number in 0..60000 milliseconds"},
        {"[{\"id\": \"x\", \"kind\": \"latency\", \"link\": \"client\", \"latency_ms\": -1}]",
         "field 'faults[0].latency_ms': a number in 0..60000"},
        {"[{\"id\": \"x\", \"kind\": \"latency\", \"link\": \"client\", \"latency_ms\": 1,"
         " \"jitter_ms\": 60001}]",
         "field 'faults[0].jitter_ms': a number in 0..60000"},
        {"[{\"id\": \"x\", \"kind\": \"error\", \"link\": \"client\", \"status\": 302}]",
         "field 'faults[0].status': a number in 400..599"},
        {"[{\"id\": \"x\", \"kind\": \"error\", \"link\": \"client\", \"status\": 503.5}]",
         "field 'faults[0].status': an integer in 400..599"},
        {"[{\"id\": \"x\", \"kind\": \"error\", \"link\": \"client\", \"probability\": \"1\"}]",
         "field 'faults[0].probability': a number in 0..1"},
        {"[{\"id\": \"x\", \"kind\": \"bandwidth\", \"link\": \"client\"}]",
         "field 'faults[0].bytes_per_s': required, a number in 1..1e+09"},
        {"[{\"id\": \"x\", \"kind\": \"slow_close\", \"link\": \"client\"}]",
         "field 'faults[0].delay_ms': required"},
        {"[{\"id\": \"x\", \"kind\": \"reset\", \"link\": \"client\", \"targets\": []}]",
         "field 'faults[0].targets': only on an upstream fault"},
        {"[{\"id\": \"x\", \"kind\": \"reset\", \"link\": \"upstream\", \"targets\": "
         "[\"10.0.0.1:80\"]}]",
         "field 'faults[0].targets[0]': must be \"IP:PORT\" in 127.0.0.0/8"},
        {"[{\"id\": \"x\", \"kind\": \"reset\", \"link\": \"upstream\", \"targets\": "
         "\"127.0.0.1:80\"}]",
         "field 'faults[0].targets': a list of at most 256"},
        {"[{\"id\": \"x\", \"kind\": \"reset\", \"link\": \"client\", \"jitter\": 3}]",
         "field 'faults[0].jitter': unknown (allowed: id, kind, link, probability, latency_ms, "
         "jitter_ms, status, bytes_per_s, delay_ms, targets)"},
        {"[{\"id\": \"x\", \"kind\": \"reset\", \"link\": \"client\"},"
         " {\"id\": \"x\", \"kind\": \"error\", \"link\": \"client\"}]",
         "field 'faults[1].id': 'x' is also faults[0]'s"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256];
        cr_assert_eq(parse(cases[i].text, err), GD_EINVAL, "accepted: %s", cases[i].text);
        cr_assert(strstr(err, cases[i].want), "%s\n  said: %s\n  want: %s", cases[i].text, err,
                  cases[i].want);
    }
}

Test(edge_fault, at_most_sixteen)
{
    char text[4096] = "[", err[256];
    for (int i = 0; i < 17; i++) {
        char one[80];
        snprintf(one, sizeof one, "%s{\"id\": \"f%d\", \"kind\": \"reset\", \"link\": \"client\"}",
                 i ? "," : "", i);
        strcat(text, one);
        if (i == 15) {
            char sixteen[4096];
            snprintf(sixteen, sizeof sixteen, "%s]", text);
            cr_assert_eq(parse(sixteen, err), 0, "16 faults are allowed: %s", err);
            cr_assert_eq(set.n, 16);
        }
    }
    strcat(text, "]");
    cr_assert_eq(parse(text, err), GD_EINVAL);
    cr_assert(strstr(err, "at most 16"), "%s", err);
}

static json_int_t applied_of(const char *id)
{
    json_t *a = gd_edge_faults_json();
    json_int_t n = -1;
    size_t i;
    json_t *f;
    json_array_foreach(a, i, f)
    {
        if (!strcmp(json_string_value(json_object_get(f, "id")), id))
            n = json_integer_value(json_object_get(f, "applied"));
    }
    json_decref(a);
    return n;
}

/* A front request through the client faults, as the edge's on_front does; what the
 * faults leave to the edge is answered 200 here. */
static void front(gd_http_conn *c, gd_http_req *req, void *ud)
{
    if (gd_edge_faults_client(c, req)) return;
    gd_http_respond(c, 200, NULL, "text/plain", "served", 6);
}

/* One request on a connection without a socket; returns what the connection wrote. */
static void one_request(gd_http_server *srv, gd_buf *out)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: e\r\n\r\n";
    gd_buf_reset(out);
    gd_http_conn *c = gd_http_conn_fake(srv, out);
    cr_assert_eq(gd_http_conn_feed(c, req, sizeof req - 1), sizeof req - 1);
    gd_http_conn_free_fake(c);
}

Test(edge_fault, a_new_set_replaces_the_old_and_keeps_the_counts_of_those_that_stay)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    gd_http_server srv;
    gd_http_server_init(&srv, &loop, front, NULL);
    gd_buf out;
    gd_buf_init(&out, 1 << 16);
    gd_edge_faults_init();
    char err[256];
    cr_assert_eq(parse("[{\"id\": \"a\", \"kind\": \"error\", \"link\": \"client\","
                       "  \"status\": 418},"
                       " {\"id\": \"b\", \"kind\": \"error\", \"link\": \"upstream\"}]",
                       err),
                 0, "%s", err);
    set.f[0].applied = 7; /* apply takes the counts from the set in force, not from here */
    gd_edge_faults_apply(&set);
    cr_assert_eq(gd_edge_faults_now.client, 1);
    cr_assert_eq(gd_edge_faults_now.upstream, 1);
    cr_assert_eq(applied_of("a"), 0, "a new fault starts at 0");
    one_request(&srv, &out);
    cr_assert(strstr(gd_buf_cstr(&out), "HTTP/1.1 418 ") &&
                  strstr(gd_buf_cstr(&out), "fault injected: a"),
              "the edge answers the fault's status itself: %s", gd_buf_cstr(&out));
    one_request(&srv, &out);
    cr_assert_eq(applied_of("a"), 2);
    /* "a" stays (another status: same id, kind and link), "b" changes kind, "c" is new */
    cr_assert_eq(parse("[{\"id\": \"a\", \"kind\": \"error\", \"link\": \"client\","
                       "  \"status\": 503},"
                       " {\"id\": \"b\", \"kind\": \"latency\", \"link\": \"upstream\","
                       "  \"latency_ms\": 3},"
                       " {\"id\": \"c\", \"kind\": \"bandwidth\", \"link\": \"upstream\","
                       "  \"bytes_per_s\": 1000}]",
                       err),
                 0, "%s", err);
    gd_edge_faults_apply(&set);
    cr_assert_eq(gd_edge_faults_now.client, 1);
    cr_assert_eq(gd_edge_faults_now.upstream, 2);
    cr_assert_eq(applied_of("a"), 2, "a fault that stays keeps its count");
    one_request(&srv, &out);
    cr_assert(strstr(gd_buf_cstr(&out), "HTTP/1.1 503 "), "the new status: %s", gd_buf_cstr(&out));
    cr_assert_eq(applied_of("a"), 3);
    json_t *a = gd_edge_faults_json();
    cr_assert_eq(json_array_size(a), 3);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(a, 1), "kind")), "latency");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(a, 2), "link")), "upstream");
    json_decref(a);
    /* a config without "faults" clears them: the request is served */
    cr_assert_eq(gd_edge_faults_parse(NULL, &set, err, sizeof err), 0);
    gd_edge_faults_apply(&set);
    cr_assert_eq(gd_edge_faults_now.client, 0);
    cr_assert_eq(gd_edge_faults_now.upstream, 0);
    a = gd_edge_faults_json();
    cr_assert_eq(json_array_size(a), 0, "no \"faults\": none in force");
    json_decref(a);
    one_request(&srv, &out);
    cr_assert(strstr(gd_buf_cstr(&out), "HTTP/1.1 200 "), "served again: %s", gd_buf_cstr(&out));
    gd_buf_free(&out);
    gd_http_server_close(&srv, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
}

Test(edge_fault, metrics_name_each_fault)
{
    char err[256];
    cr_assert_eq(parse("[{\"id\": \"exp-9/slow\", \"kind\": \"latency\", \"link\": \"client\","
                       "  \"latency_ms\": 5}]",
                       err),
                 0, "%s", err);
    gd_edge_faults_apply(&set);
    gd_buf b;
    gd_buf_init(&b, 1 << 16);
    gd_edge_faults_metrics(&b);
    cr_assert(strstr(gd_buf_cstr(&b), "gameday_edge_fault_applied_total{id=\"exp-9/slow\","
                                      "kind=\"latency\",link=\"client\"} 0\n"),
              "%s", gd_buf_cstr(&b));
    gd_buf_free(&b);
}
