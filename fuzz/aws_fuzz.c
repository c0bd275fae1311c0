/* libFuzzer target for what an AWS API client sends (src/server/aws_sigv4.c,
 * aws_query.c, aws_xml.c): each input is one request, written as
 *   METHOD SP PATH[?QUERY] LF  (Name: value LF)*  LF  BODY
 * whose claim is read (Authorization header or presigned query), canonicalised and
 * verified, whose form parameters are parsed and looked up, and whose values are
 * escaped into XML. Build and run with fuzz/run aws. */
#include "core/buf.h"
#include "core/mem.h"
#include "server/aws_query.h"
#include "server/aws_sigv4.h"
#include "server/aws_xml.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "aws_fuzz: check failed: %s (line %d)\n", #cond, __LINE__);            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A line of p (up to LF or the end): its length; *next after it. */
static size_t line(const char *p, const char *end, const char **next)
{
    const char *lf = memchr(p, '\n', (size_t)(end - p));
    *next = lf ? lf + 1 : end;
    return (size_t)((lf ? lf : end) - p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size + 1);
    memcpy(in, data, size);
    in[size] = 0;
    const char *p = in, *end = in + size, *next;
    size_t n = line(p, end, &next);
    const char *sp = memchr(p, ' ', n);
    char method[16] = "GET";
    const char *target = p;
    size_t tlen = n;
    if (sp && (size_t)(sp - p) < sizeof method) {
        snprintf(method, sizeof method, "%.*s", (int)(sp - p), p);
        target = sp + 1;
        tlen = n - (size_t)(sp - p) - 1;
    }
    const char *q = memchr(target, '?', tlen);
    gd_http_header h[GD_HTTP_MAX_HEADERS];
    int nh = 0;
    p = next;
    while (p < end) {
        n = line(p, end, &next);
        if (n == 0) {
            p = next;
            break;
        }
        const char *colon = memchr(p, ':', n);
        if (colon && nh < GD_HTTP_MAX_HEADERS) {
            const char *v = colon + 1;
            while (v < p + n && *v == ' ') v++;
            h[nh++] = (gd_http_header){p, (size_t)(colon - p), v, (size_t)(p + n - v)};
        }
        p = next;
    }
    gd_sigv4_req r = {.method = method,
                      .path = target,
                      .path_len = q ? (size_t)(q - target) : tlen,
                      .query = q ? q + 1 : NULL,
                      .query_len = q ? tlen - (size_t)(q - target) - 1 : 0,
                      .headers = h,
                      .nheaders = nh,
                      .body = p,
                      .body_len = (size_t)(end - p)};
    gd_sigv4_auth a;
    char err[300];
    enum gd_sigv4_parsed parsed = gd_sigv4_parse(&r, &a, err, sizeof err);
    CHECK(parsed == GD_SIGV4_OK || parsed == GD_SIGV4_NONE || parsed == GD_SIGV4_MALFORMED);
    if (parsed == GD_SIGV4_OK) {
        CHECK(strlen(a.amz_date) == 16 && strlen(a.date) == 8);
        char sig[65];
        if (gd_sigv4_sign(&r, &a, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", sig, err,
                          sizeof err) == 0) {
            CHECK(strlen(sig) == 64);
            /* Signed with the signature it should carry, the request verifies. */
            memcpy(a.signature, sig, 65);
            CHECK(gd_sigv4_verify(&r, &a, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", err,
                                  sizeof err) == 1);
        }
    }
    gd_aws_params ps;
    if (gd_aws_params_parse(&ps, r.query, r.query_len, r.body, r.body_len, err, sizeof err) == 0) {
        const char *list[16];
        long v;
        int b;
        gd_aws_param_list(&ps, "InstanceId", list, 16, err, sizeof err);
        gd_aws_param_int(&ps, "MaxResults", 5, 1000, 0, &v, err, sizeof err);
        gd_aws_param_bool(&ps, "DryRun", 0, &b, err, sizeof err);
        gd_aws_param(&ps, "Filter.%d.Name", 1);
        gd_xml x;
        gd_xml_init(&x, 1 << 16);
        for (int i = 0; i < ps.n; i++) {
            gd_xml_open(&x, "item");
            gd_xml_text(&x, "key", ps.key[i]);
            gd_xml_text(&x, "value", ps.val[i]);
            gd_xml_close(&x, "item");
        }
        /* What was escaped holds no markup but the tags written. */
        if (!x.err)
            for (size_t i = 0; i < x.b.len; i++) CHECK(x.b.data[i] != '"' && x.b.data[i] != '\'');
        gd_xml_free(&x);
        gd_aws_params_unread(&ps);
    }
    gd_aws_params_free(&ps);
    free(in);
    return 0;
}
