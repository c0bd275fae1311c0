/* Unit tests for src/core/conf.c: YAML to JSON, scalar typing, locations, syntax and
 * duplicate-key errors, anchors and merges, durations and error lists. */
#include <criterion/criterion.h>

#include "core/conf.h"
#include "core/err.h"
#include "core/mem.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static gd_conf *load_ok(const char *text)
{
    gd_conf *c = NULL;
    gd_errs e = {0};
    int rc = gd_conf_load_string("t.yaml", text, strlen(text), &c, &e);
    char *j = gd_errs_join(&e);
    cr_assert_eq(rc, 0, "load failed: %s", j);
    cr_assert_eq(e.n, 0, "unexpected errors: %s", j);
    gd_free(j);
    gd_errs_free(&e);
    return c;
}

/* Loads text that must fail; returns the joined messages (gd_free it). */
static char *load_bad(const char *text, int *n)
{
    gd_conf *c = (gd_conf *)1;
    gd_errs e = {0};
    int rc = gd_conf_load_string("t.yaml", text, strlen(text), &c, &e);
    cr_assert_eq(rc, GD_EINVAL, "expected GD_EINVAL, got %d", rc);
    cr_assert_null(c);
    char *j = gd_errs_join(&e);
    if (n) *n = e.n;
    gd_errs_free(&e);
    return j;
}

static char *dump(const json_t *j)
{
    return json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);
}

Test(conf, scalars_become_json_types)
{
    gd_conf *c = load_ok("i: 42\n"
                         "neg: -3\n"
                         "hex: 0x1F\n"
                         "oct: 0o17\n"
                         "f: 1.5\n"
                         "e: 1e3\n"
                         "t: true\n"
                         "F: False\n"
                         "n: null\n"
                         "tilde: ~\n"
                         "empty:\n"
                         "qi: \"42\"\n"
                         "si: '7'\n"
                         "tagged: !!str 12\n"
                         "yes: yes\n"
                         "dur: 4s\n"
                         "ver: 1.2.3\n"
                         "inf: .inf\n");
    char *d = dump(gd_conf_root(c));
    cr_assert_str_eq(d, "{\"F\":false,\"dur\":\"4s\",\"e\":1000.0,\"empty\":null,\"f\":1.5,"
                        "\"hex\":31,\"i\":42,\"inf\":\".inf\",\"n\":null,\"neg\":-3,\"oct\":15,"
                        "\"qi\":\"42\",\"si\":\"7\",\"t\":true,\"tagged\":\"12\",\"tilde\":null,"
                        "\"ver\":\"1.2.3\",\"yes\":\"yes\"}");
    cr_assert(json_is_integer(json_object_get(gd_conf_root(c), "i")));
    cr_assert(json_is_real(json_object_get(gd_conf_root(c), "f")));
    free(d);
    gd_conf_free(c);
}

Test(conf, json_input)
{
    gd_conf *c = load_ok("{\"a\": [1, 2.5, \"x\", true], \"b\": {\"c\": null}}");
    char *d = dump(gd_conf_root(c));
    cr_assert_str_eq(d, "{\"a\":[1,2.5,\"x\",true],\"b\":{\"c\":null}}");
    free(d);
    gd_conf_free(c);
}

Test(conf, where_names_line_and_column)
{
    gd_conf *c = load_ok("top:\n"
                         "  list:\n"
                         "    - {x: 1, y: \"two\"}\n"
                         "    - 3\n");
    char buf[64];
    json_t *root = gd_conf_root(c);
    json_t *top = json_object_get(root, "top");
    json_t *list = json_object_get(top, "list");
    json_t *m = json_array_get(list, 0);
    cr_assert_str_eq(gd_conf_where(c, root, "x", buf, sizeof buf), "t.yaml:1:1");
    cr_assert_str_eq(gd_conf_where(c, top, "x", buf, sizeof buf), "t.yaml:2:3");
    cr_assert_str_eq(gd_conf_where(c, list, "x", buf, sizeof buf), "t.yaml:3:5");
    cr_assert_str_eq(gd_conf_where(c, m, "x", buf, sizeof buf), "t.yaml:3:7");
    cr_assert_str_eq(gd_conf_where(c, json_object_get(m, "x"), "x", buf, sizeof buf),
                     "t.yaml:3:11");
    cr_assert_str_eq(gd_conf_where(c, json_object_get(m, "y"), "x", buf, sizeof buf), "t.yaml:3:17",
                     "a quoted scalar starts at its quote");
    cr_assert_str_eq(gd_conf_where(c, json_array_get(list, 1), "x", buf, sizeof buf), "t.yaml:4:7");
    cr_assert_str_eq(gd_conf_where_key(c, m, "y", "x", buf, sizeof buf), "t.yaml:3:14");
    cr_assert_str_eq(gd_conf_where_key(c, top, "list", "x", buf, sizeof buf), "t.yaml:2:3");
    cr_assert_str_eq(gd_conf_file(c), "t.yaml");

    json_t *other = json_integer(1);
    cr_assert_str_eq(gd_conf_where(c, other, "spec.port", buf, sizeof buf), "spec.port");
    cr_assert_str_eq(gd_conf_where(c, other, NULL, buf, sizeof buf), "?");
    cr_assert_str_eq(gd_conf_where(NULL, m, "api.path", buf, sizeof buf), "api.path");
    cr_assert_str_eq(gd_conf_where_key(c, m, "nope", "fb", buf, sizeof buf), "fb");
    json_decref(other);
    gd_conf_free(c);
}

Test(conf, syntax_error_has_location)
{
    char *j = load_bad("a: 1\nb: [1, 2\nc: 3\n", NULL);
    cr_assert_str_eq(j, "t.yaml:4:1: flow sequence without a closing bracket");
    gd_free(j);
    j = load_bad("a: \"open\n", NULL);
    cr_assert(strncmp(j, "t.yaml:1:", 9) == 0, "got '%s'", j);
    cr_assert(strstr(j, "double-quoted scalar without closing quote") != NULL, "got '%s'", j);
    gd_free(j);
}

Test(conf, duplicate_keys_are_errors)
{
    int n = 0;
    char *j = load_bad("a: 1\n"
                       "b:\n"
                       "  x: 1\n"
                       "  x: 2\n"
                       "a: 3\n",
                       &n);
    cr_assert_eq(n, 2, "both duplicates reported, got %d: %s", n, j);
    cr_assert_str_eq(j, "t.yaml:4:3: duplicate key 'x' (first at line 3) (allowed: each key once)\n"
                        "t.yaml:5:1: duplicate key 'a' (first at line 1) (allowed: each key once)");
    gd_free(j);
}

Test(conf, anchors_aliases_and_merges)
{
    gd_conf *c = load_ok("base: &b {x: 1, y: 2}\n"
                         "copy: *b\n"
                         "over: {<<: *b, y: 5}\n"
                         "many: {<<: [{p: 1}, {p: 2, q: 3}]}\n");
    char *d = dump(gd_conf_root(c));
    cr_assert_str_eq(d, "{\"base\":{\"x\":1,\"y\":2},\"copy\":{\"x\":1,\"y\":2},"
                        "\"many\":{\"p\":1,\"q\":3},\"over\":{\"x\":1,\"y\":5}}");
    free(d);
    /* an alias is a copy: changing it leaves the anchor alone */
    json_t *copy = json_object_get(gd_conf_root(c), "copy");
    json_object_set_new(copy, "x", json_integer(9));
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(gd_conf_root(c), "base"), "x")),
                 1);
    char buf[64];
    cr_assert_str_eq(gd_conf_where(c, json_object_get(copy, "y"), "-", buf, sizeof buf),
                     "t.yaml:1:20", "an alias points at its anchor's nodes");
    gd_conf_free(c);

    char *j = load_bad("a: *nope\n", NULL);
    cr_assert_str_eq(j, "t.yaml:1:4: unknown alias '*nope' (allowed: an anchor defined earlier)");
    gd_free(j);
    j = load_bad("a: &x [1, *x]\n", NULL);
    cr_assert_str_eq(j, "t.yaml:1:11: unknown alias '*x' (allowed: an anchor defined earlier)");
    gd_free(j);
}

Test(conf, one_document_only_and_empty)
{
    char *j = load_bad("- a\n---\n- b\n", NULL);
    cr_assert_str_eq(j, "t.yaml:2:1: a second YAML document (allowed: one document per file)");
    gd_free(j);
    gd_conf *c = load_ok("");
    cr_assert(json_is_null(gd_conf_root(c)));
    gd_conf_free(c);
}

Test(conf, load_file_and_missing_file)
{
    char path[] = "/tmp/gd_conf_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    const char *text = "k: v\nn: 2\n";
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    gd_conf *c = NULL;
    gd_errs e = {0};
    cr_assert_eq(gd_conf_load_file(path, &c, &e), 0);
    cr_assert_eq(e.n, 0);
    char buf[128], want[128];
    snprintf(want, sizeof want, "%s:2:4", path);
    cr_assert_str_eq(gd_conf_where(c, json_object_get(gd_conf_root(c), "n"), "-", buf, sizeof buf),
                     want);
    cr_assert_str_eq(gd_conf_file(c), path);
    gd_conf_free(c);
    unlink(path);

    cr_assert_eq(gd_conf_load_file("/nonexistent/x.yaml", &c, &e), GD_ENOENT);
    cr_assert_null(c);
    cr_assert_eq(e.n, 1);
    cr_assert_str_eq(e.msgs[0], "/nonexistent/x.yaml: cannot open: No such file or directory");
    gd_errs_free(&e);
}

Test(conf, durations)
{
    struct {
        const char *s;
        double want;
    } ok[] = {{"250ms", 0.25}, {"4s", 4},     {"20m", 1200},    {"4h", 14400},  {"1h30m", 5400},
              {"2d", 172800},  {"60", 60},    {"0", 0},         {"1.5", 1.5},   {"1.5h", 5400},
              {"0m", 0},       {"1m30s", 90}, {"1s500ms", 1.5}, {"2h05m", 7500}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        double s = -1;
        cr_assert_eq(gd_duration_parse(ok[i].s, &s), 0, "'%s' should parse", ok[i].s);
        cr_assert(fabs(s - ok[i].want) < 1e-9, "'%s' = %g, want %g", ok[i].s, s, ok[i].want);
    }
    const char *bad[] = {"",      "-4s", "x",   "4x", "s",   "4 s", "30m1h", "1h1h",
                         "1..5s", "-1",  "4sm", "h",  " 4s", "4s ", NULL};
    for (int i = 0; bad[i]; i++) {
        double s = 7;
        cr_assert_eq(gd_duration_parse(bad[i], &s), GD_EINVAL, "'%s' should be GD_EINVAL", bad[i]);
        cr_assert_eq(s, 7, "output untouched");
    }
    double s;
    json_t *j = json_integer(90);
    cr_assert_eq(gd_duration_json(j, &s), 0);
    cr_assert_eq(s, 90);
    json_decref(j);
    j = json_string("1h");
    cr_assert_eq(gd_duration_json(j, &s), 0);
    cr_assert_eq(s, 3600);
    json_decref(j);
    j = json_real(-1);
    cr_assert_eq(gd_duration_json(j, &s), GD_EINVAL);
    json_decref(j);
    cr_assert_eq(gd_duration_json(json_true(), &s), GD_EINVAL);
}

Test(conf, errs_add_join_free)
{
    gd_errs e = {0};
    char *j = gd_errs_join(&e);
    cr_assert_str_eq(j, "");
    gd_free(j);
    gd_errs_add(&e, "a.yaml:%d:%d: first", 1, 2);
    gd_errs_add(&e, "second %s", "two");
    cr_assert_eq(e.n, 2);
    j = gd_errs_join(&e);
    cr_assert_str_eq(j, "a.yaml:1:2: first\nsecond two");
    gd_free(j);
    gd_errs_free(&e);
    cr_assert_eq(e.n, 0);
    cr_assert_null(e.msgs);
}

Test(conf, frees_everything)
{
    long before = gd_mem_live();
    gd_conf *c = load_ok("a: &x {b: [1, 2, {c: d}]}\ne: *x\n");
    gd_conf_free(c);
    int n;
    char *j = load_bad("a: 1\na: 2\n", &n);
    gd_free(j);
    cr_assert_eq(gd_mem_live(), before, "live allocations %ld, want %ld", gd_mem_live(), before);
}

/* A document of depth levels, in flow style ("[[[...]]]") or block style ("- - - x"). */
static char *deep_doc(int depth, int flow)
{
    size_t n = (size_t)depth * 2 + 4;
    char *s = gd_malloc(n), *p = s;
    for (int i = 0; i < depth; i++) {
        if (flow) {
            *p++ = '[';
        } else {
            *p++ = '-';
            *p++ = ' ';
        }
    }
    if (flow)
        for (int i = 0; i < depth; i++) *p++ = ']';
    else
        *p++ = 'x';
    *p++ = '\n';
    *p = 0;
    return s;
}

Test(conf, nesting_depth_is_capped)
{
    char *s = deep_doc(GD_CONF_MAX_DEPTH, 1);
    gd_conf *c = load_ok(s);
    gd_conf_free(c);
    gd_free(s);
    s = deep_doc(GD_CONF_MAX_DEPTH, 0);
    c = load_ok(s);
    gd_conf_free(c);
    gd_free(s);

    s = deep_doc(GD_CONF_MAX_DEPTH + 1, 1);
    char *j = load_bad(s, NULL);
    cr_assert_str_eq(j, "t.yaml:1:65: nested deeper than 64 levels (allowed: at most 64)");
    gd_free(j);
    gd_free(s);

    /* 50,000 levels overflowed the stack of the recursive build */
    s = deep_doc(50000, 1);
    j = load_bad(s, NULL);
    cr_assert_str_eq(j, "t.yaml:1:65: nested deeper than 64 levels (allowed: at most 64)");
    gd_free(j);
    gd_free(s);
    s = deep_doc(50000, 0);
    j = load_bad(s, NULL);
    cr_assert_str_eq(j, "t.yaml:1:129: nested deeper than 64 levels (allowed: at most 64)");
    gd_free(j);
    gd_free(s);

    /* a flow mapping nested as deep, and a mix of both styles */
    char *m = gd_malloc(50000 * 4 + 8), *p = m;
    for (int i = 0; i < 50000; i++) p += sprintf(p, "{a: ");
    strcpy(p, "1\n");
    j = load_bad(m, NULL);
    cr_assert_str_eq(j, "t.yaml:1:257: nested deeper than 64 levels (allowed: at most 64)");
    gd_free(j);
    gd_free(m);

    /* brackets in text are not nesting: quotes, comments, block scalars, plain scalars */
    char br[80];
    memset(br, '[', 70);
    br[70] = 0;
    m = gd_malloc(1024);
    snprintf(m, 1024, "a: '%s'\nb: \"%s\"\n# %s\nc: |\n  %s\n  %s\nd: x%s\ne: [\"%s\", '%s']\n", br,
             br, br, br, br, br, br, br);
    c = load_ok(m);
    cr_assert_eq(strlen(json_string_value(json_object_get(gd_conf_root(c), "d"))), 71);
    gd_conf_free(c);
    gd_free(m);

    /* an alias counts at the depth where it is copied: 40 levels inside 40 is too deep */
    char *a = deep_doc(40, 1);
    a[strlen(a) - 1] = 0;
    m = gd_malloc(strlen(a) + 200);
    p = m +
        sprintf(m,
                "a: &x %s\nb: "
                "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[*x]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
                a);
    j = load_bad(m, NULL);
    cr_assert(strstr(j, "t.yaml:2:42: nested deeper than 64 levels (allowed: at most 64)"),
              "got '%s'", j);
    gd_free(j);
    gd_free(m);
    gd_free(a);
}

/* Bytes that are not UTF-8 are refused before libfyaml sees them: it looped forever on
 * a directive holding one, leaked a quoted scalar's text before one, and ended the
 * stream early at one in a comment (the first two found by fuzz/scenario_fuzz.c). */
Test(conf, text_that_is_not_utf8_is_refused, .timeout = 10)
{
    char *j = load_bad("%\xff\n", NULL);
    cr_assert_str_eq(j, "t.yaml:1:2: not valid UTF-8 text (allowed: UTF-8)");
    gd_free(j);
    j = load_bad("key: |\n  [[arhcite[[[\n% {{#me:  \"\xff\xfe\"\n[\"\n\n", NULL);
    cr_assert_str_eq(j, "t.yaml:3:12: not valid UTF-8 text (allowed: UTF-8)");
    gd_free(j);
    j = load_bad("a: 1\n%YAML\x80 1.2\n", NULL);
    cr_assert_str_eq(j, "t.yaml:2:6: not valid UTF-8 text (allowed: UTF-8)");
    gd_free(j);
    long before = gd_mem_live();
    j = load_bad("b:\n''''''''''''''\x83", NULL);
    cr_assert_str_eq(j, "t.yaml:2:15: not valid UTF-8 text (allowed: UTF-8)");
    gd_free(j);
    cr_assert_eq(gd_mem_live(), before);
    j = load_bad("# caf\xe9\na: 1\n", NULL);
    cr_assert_str_eq(j, "t.yaml:1:6: not valid UTF-8 text (allowed: UTF-8)");
    gd_free(j);
    j = load_bad("a: \"\xc3\xa9\xed\xa0\x80\"\n", NULL); /* a UTF-16 surrogate */
    cr_assert_str_eq(j, "t.yaml:1:6: not valid UTF-8 text (allowed: UTF-8)");
    gd_free(j);
    /* UTF-8 loads as before, a byte-order mark included */
    gd_conf *c =
        load_ok("\xef\xbb\xbf# caf\xc3\xa9\na: \"\xc3\xa9 \xe2\x82\xac \xf0\x9f\xa6\x84\"\n");
    cr_assert_str_eq(json_string_value(json_object_get(gd_conf_root(c), "a")),
                     "\xc3\xa9 \xe2\x82\xac \xf0\x9f\xa6\x84");
    gd_conf_free(c);
}
