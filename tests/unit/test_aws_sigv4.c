/* Unit tests for src/server/aws_sigv4.c: Signature Version 4 against the example
 * values of AWS's documentation (the secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY,
 * the "get-vanilla" request, the IAM ListUsers request, the 20120215 IAM signing key),
 * re-derived with an independent few lines of Python (hashlib, hmac), and the
 * canonical forms and refusals around them. */
#include "server/aws_sigv4.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static gd_http_header hdrs[16];
static int nh;

static void header(const char *name, const char *value)
{
    hdrs[nh++] = (gd_http_header){name, strlen(name), value, strlen(value)};
}

static gd_sigv4_req request(const char *method, const char *path, const char *query,
                            const char *body)
{
    return (gd_sigv4_req){.method = method,
                          .path = path,
                          .path_len = strlen(path),
                          .query = query,
                          .query_len = query ? strlen(query) : 0,
                          .headers = hdrs,
                          .nheaders = nh,
                          .body = body,
                          .body_len = body ? strlen(body) : 0};
}

static char err[300];

Test(aws_sigv4, signing_key_of_the_documentation)
{
    unsigned char k[32];
    char hex[65];
    gd_sigv4_signing_key(SECRET, "20120215", "us-east-1", "iam", k);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", k[i]);
    cr_assert_str_eq(hex, "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

Test(aws_sigv4, get_vanilla)
{
    nh = 0;
    header("Host", "example.amazonaws.com");
    header("X-Amz-Date", "20150830T123600Z");
    header("Authorization",
           "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
           "SignedHeaders=host;x-amz-date, "
           "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    gd_sigv4_req r = request("GET", "/", NULL, NULL);
    gd_sigv4_auth a;
    cr_assert_eq(gd_sigv4_parse(&r, &a, err, sizeof err), GD_SIGV4_OK, "%s", err);
    cr_assert_str_eq(a.access_key, "AKIDEXAMPLE");
    cr_assert_str_eq(a.date, "20150830");
    cr_assert_str_eq(a.region, "us-east-1");
    cr_assert_str_eq(a.service, "service");
    cr_assert_str_eq(a.signed_headers, "host;x-amz-date");

    gd_buf c, s;
    gd_buf_init(&c, 4096);
    gd_buf_init(&s, 4096);
    cr_assert_eq(gd_sigv4_canonical_request(&r, &a, &c, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(gd_buf_cstr(&c), "GET\n/\n\nhost:example.amazonaws.com\n"
                                      "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" EMPTY_SHA);
    cr_assert_eq(gd_sigv4_string_to_sign(&a, c.data, c.len, &s), 0);
    cr_assert_str_eq(gd_buf_cstr(&s),
                     "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
                     "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
    char sig[65];
    cr_assert_eq(gd_sigv4_sign(&r, &a, SECRET, sig, err, sizeof err), 0);
    cr_assert_str_eq(sig, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    cr_assert_eq(gd_sigv4_verify(&r, &a, SECRET, err, sizeof err), 1);
    cr_assert_eq(
        gd_sigv4_verify(&r, &a, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEz", err, sizeof err), 0,
        "another secret");
    gd_buf_free(&c);
    gd_buf_free(&s);
}

Test(aws_sigv4, a_changed_request_no_longer_verifies)
{
    nh = 0;
    header("Host", "example.amazonaws.com");
    header("X-Amz-Date", "20150830T123600Z");
    header("Authorization",
           "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
           "SignedHeaders=host;x-amz-date, "
           "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    gd_sigv4_auth a;
    gd_sigv4_req r = request("GET", "/", NULL, NULL);
    cr_assert_eq(gd_sigv4_parse(&r, &a, err, sizeof err), GD_SIGV4_OK);
    r = request("GET", "/", NULL, "a body");
    cr_assert_eq(gd_sigv4_verify(&r, &a, SECRET, err, sizeof err), 0, "the body");
    r = request("POST", "/", NULL, NULL);
    cr_assert_eq(gd_sigv4_verify(&r, &a, SECRET, err, sizeof err), 0, "the method");
    r = request("GET", "/x", NULL, NULL);
    cr_assert_eq(gd_sigv4_verify(&r, &a, SECRET, err, sizeof err), 0, "the path");
    r = request("GET", "/", "a=1", NULL);
    cr_assert_eq(gd_sigv4_verify(&r, &a, SECRET, err, sizeof err), 0, "the query");
    hdrs[0].value = "example.amazonaws.org";
    hdrs[0].value_len = strlen(hdrs[0].value);
    r = request("GET", "/", NULL, NULL);
    cr_assert_eq(gd_sigv4_verify(&r, &a, SECRET, err, sizeof err), 0, "a signed header");
    /* An unsigned header may change. */
    hdrs[0].value = "example.amazonaws.com";
    hdrs[0].value_len = strlen(hdrs[0].value);
    header("User-Agent", "anything");
    r = request("GET", "/", NULL, NULL);
    cr_assert_eq(gd_sigv4_verify(&r, &a, SECRET, err, sizeof err), 1, "%s", err);
}

Test(aws_sigv4, iam_list_users_with_a_query)
{
    nh = 0;
    header("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
    header("Host", "iam.amazonaws.com");
    header("X-Amz-Date", "20150830T123600Z");
    header("Authorization",
           "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
           "SignedHeaders=content-type;host;x-amz-date, "
           "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
    /* The query's order does not matter: the canonical form sorts it. */
    gd_sigv4_req r = request("GET", "/", "Version=2010-05-08&Action=ListUsers", NULL);
    gd_sigv4_auth a;
    cr_assert_eq(gd_sigv4_parse(&r, &a, err, sizeof err), GD_SIGV4_OK, "%s", err);
    gd_buf c;
    gd_buf_init(&c, 4096);
    cr_assert_eq(gd_sigv4_canonical_request(&r, &a, &c, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(gd_buf_cstr(&c),
                     "GET\n/\nAction=ListUsers&Version=2010-05-08\n"
                     "content-type:application/x-www-form-urlencoded; charset=utf-8\n"
                     "host:iam.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                     "content-type;host;x-amz-date\n" EMPTY_SHA);
    gd_buf_free(&c);
    cr_assert_eq(gd_sigv4_verify(&r, &a, SECRET, err, sizeof err), 1, "%s", err);
}

Test(aws_sigv4, a_form_post_as_the_aws_cli_sends_it)
{
    nh = 0;
    header("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
    header("Host", "127.0.0.1:8080");
    header("X-Amz-Date", "20150830T123600Z");
    header("Authorization",
           "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/ec2/aws4_request, "
           "SignedHeaders=content-type;host;x-amz-date, "
           "Signature=b14e53192ae05216a85da6028bac3a2f28c64edddab4fe5033632a07278ecd44");
    gd_sigv4_req r = request("POST", "/aws/", NULL, "Action=DescribeInstances&Version=2016-11-15");
    gd_sigv4_auth a;
    cr_assert_eq(gd_sigv4_parse(&r, &a, err, sizeof err), GD_SIGV4_OK, "%s", err);
    cr_assert_eq(gd_sigv4_verify(&r, &a, SECRET, err, sizeof err), 1, "%s", err);
}

Test(aws_sigv4, a_presigned_query)
{
    nh = 0;
    header("Host", "127.0.0.1:8080");
    gd_sigv4_req r =
        request("GET", "/aws/",
                "Action=DescribeInstances&Version=2016-11-15&X-Amz-Algorithm=AWS4-HMAC-SHA256"
                "&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fec2%2Faws4_request"
                "&X-Amz-Date=20150830T123600Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host"
                "&X-Amz-Signature=4e778a7c6ddb79b90df976fccfcfdd9ec65f0fdc6d4e6b630bf36c97268414c9",
                NULL);
    gd_sigv4_auth a;
    cr_assert_eq(gd_sigv4_parse(&r, &a, err, sizeof err), GD_SIGV4_OK, "%s", err);
    cr_assert(a.presigned);
    cr_assert_eq(a.expires, 60);
    cr_assert_str_eq(a.service, "ec2");
    cr_assert_eq(gd_sigv4_verify(&r, &a, SECRET, err, sizeof err), 1, "%s", err);
}

Test(aws_sigv4, canonical_forms)
{
    nh = 0;
    header("Host", "h");
    header("X-Amz-Date", "20150830T123600Z");
    header("My-Header", "  a   b \t c  ");
    header("my-header", "second");
    gd_sigv4_auth a = {.signed_headers = "host;my-header;x-amz-date",
                       .amz_date = "20150830T123600Z"};
    gd_sigv4_req r = request("GET", "/a/./b/../c//d e/", "z=1&b=%7e&a=x y&a=w", NULL);
    gd_buf c;
    gd_buf_init(&c, 4096);
    cr_assert_eq(gd_sigv4_canonical_request(&r, &a, &c, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(gd_buf_cstr(&c), "GET\n/a/c/d%20e/\na=w&a=x%20y&b=~&z=1\n"
                                      "host:h\nmy-header:a b c,second\n"
                                      "x-amz-date:20150830T123600Z\n\n"
                                      "host;my-header;x-amz-date\n" EMPTY_SHA);
    gd_buf_free(&c);
}

Test(aws_sigv4, refusals_say_what_is_wrong)
{
    gd_sigv4_auth a;
    nh = 0;
    header("Host", "h");
    gd_sigv4_req r = request("GET", "/", NULL, NULL);
    cr_assert_eq(gd_sigv4_parse(&r, &a, err, sizeof err), GD_SIGV4_NONE, "nothing signed");

    header("Authorization", "AWS4-HMAC-SHA1 Credential=K/20150830/us-east-1/ec2/aws4_request");
    r = request("GET", "/", NULL, NULL);
    cr_assert_eq(gd_sigv4_parse(&r, &a, err, sizeof err), GD_SIGV4_MALFORMED);
    cr_assert(strstr(err, "AWS4-HMAC-SHA256"), "%s", err);

    nh = 1;
    header("Authorization", "AWS4-HMAC-SHA256 Credential=K/20150830/us-east-1/ec2/aws4_request, "
                            "SignedHeaders=host");
    r = request("GET", "/", NULL, NULL);
    cr_assert_eq(gd_sigv4_parse(&r, &a, err, sizeof err), GD_SIGV4_MALFORMED);
    cr_assert(strstr(err, "'Signature'"), "%s", err);

    nh = 1;
    header("Authorization", "AWS4-HMAC-SHA256 Credential=K/20150830/us-east-1/ec2, "
                            "SignedHeaders=host, Signature=" EMPTY_SHA);
    r = request("GET", "/", NULL, NULL);
    cr_assert_eq(gd_sigv4_parse(&r, &a, err, sizeof err), GD_SIGV4_MALFORMED);
    cr_assert(strstr(err, "aws4_request"), "%s", err);

    nh = 1;
    header("X-Amz-Date", "20150831T000000Z");
    header("Authorization", "AWS4-HMAC-SHA256 Credential=K/20150830/us-east-1/ec2/aws4_request, "
                            "SignedHeaders=host;x-amz-date, Signature=" EMPTY_SHA);
    r = request("GET", "/", NULL, NULL);
    cr_assert_eq(gd_sigv4_parse(&r, &a, err, sizeof err), GD_SIGV4_MALFORMED);
    cr_assert(strstr(err, "does not match"), "%s", err);

    /* A header the client says it signed must be there. */
    nh = 1;
    header("X-Amz-Date", "20150830T000000Z");
    header("Authorization", "AWS4-HMAC-SHA256 Credential=K/20150830/us-east-1/ec2/aws4_request, "
                            "SignedHeaders=host;x-amz-date;x-amz-target, Signature=" EMPTY_SHA);
    r = request("GET", "/", NULL, NULL);
    cr_assert_eq(gd_sigv4_parse(&r, &a, err, sizeof err), GD_SIGV4_OK, "%s", err);
    cr_assert_eq(gd_sigv4_verify(&r, &a, SECRET, err, sizeof err), 0);
    cr_assert(strstr(err, "'x-amz-target' is not in the request"), "%s", err);
}

Test(aws_sigv4, times_and_escapes)
{
    time_t t;
    cr_assert_eq(gd_sigv4_time("20150830T123600Z", &t), 0);
    cr_assert_eq(t, 1440938160);
    cr_assert_lt(gd_sigv4_time("20150830T123600", &t), 0);
    cr_assert_lt(gd_sigv4_time("20151330T123600Z", &t), 0);
    char out[16];
    cr_assert_eq(gd_sigv4_decode("a%2Fb+c", 7, out, sizeof out), 5);
    cr_assert_str_eq(out, "a/b+c", "'+' stays '+'");
    cr_assert_lt(gd_sigv4_decode("a%2", 3, out, sizeof out), 0);
    cr_assert_lt(gd_sigv4_decode("%zz", 3, out, sizeof out), 0);
    gd_buf b;
    gd_buf_init(&b, 64);
    gd_sigv4_encode(&b, "a b/~*", 6, 0);
    cr_assert_str_eq(gd_buf_cstr(&b), "a%20b%2F~%2A");
    gd_buf_free(&b);
}
