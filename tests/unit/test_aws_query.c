/* Unit tests for src/server/aws_query.c: the query protocol's form-encoded parameters
 * (decoding, numbered lists, integers and booleans, refusals, what no lookup read). */
#include "server/aws_query.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static gd_aws_params ps;
static char err[256];

static int parse(const char *query, const char *body)
{
    return gd_aws_params_parse(&ps, query, query ? strlen(query) : 0, body, body ? strlen(body) : 0,
                               err, sizeof err);
}

Test(aws_query, decodes_pairs_of_the_query_and_the_body)
{
    cr_assert_eq(parse("Action=DescribeInstances", "Version=2016-11-15&Filter.1.Name=tag%3AName"
                                                   "&Filter.1.Value.1=web+*&Empty=&Bare"),
                 0, "%s", err);
    cr_assert_eq(ps.n, 6);
    cr_assert_str_eq(gd_aws_param(&ps, "Action"), "DescribeInstances");
    cr_assert_str_eq(gd_aws_param(&ps, "Filter.%d.Name", 1), "tag:Name", "%%3A decoded");
    cr_assert_str_eq(gd_aws_param(&ps, "Filter.1.Value.1"), "web *", "'+' is a space");
    cr_assert_str_eq(gd_aws_param(&ps, "Empty"), "");
    cr_assert_str_eq(gd_aws_param(&ps, "Bare"), "", "a key without '=' has an empty value");
    cr_assert_null(gd_aws_param(&ps, "Missing"));
    gd_aws_params_free(&ps);
}

Test(aws_query, the_signature_parameters_are_not_the_actions)
{
    cr_assert_eq(parse("X-Amz-Signature=abc&X-Amz-Date=1&Action=A", NULL), 0, "%s", err);
    cr_assert_eq(ps.n, 1);
    cr_assert_null(gd_aws_params_unread(&ps), "Action is never unread");
    gd_aws_params_free(&ps);
}

Test(aws_query, lists_stop_at_the_first_gap_and_refuse_what_lies_beyond)
{
    const char *v[4];
    cr_assert_eq(parse(NULL, "InstanceId.2=b&InstanceId.1=a&InstanceId.3=c"), 0);
    cr_assert_eq(gd_aws_param_list(&ps, "InstanceId", v, 4, err, sizeof err), 3);
    cr_assert_str_eq(v[0], "a");
    cr_assert_str_eq(v[2], "c");
    cr_assert_eq(gd_aws_param_list(&ps, "InstanceId", v, 2, err, sizeof err), -1);
    cr_assert_str_eq(err, "InstanceId: at most 2 values");
    gd_aws_params_free(&ps);
    cr_assert_eq(parse(NULL, "InstanceId.1=a&InstanceId.3=c"), 0);
    cr_assert_eq(gd_aws_param_list(&ps, "InstanceId", v, 4, err, sizeof err), -1);
    cr_assert_str_eq(err, "InstanceId: member 3 given without member 2");
    gd_aws_params_free(&ps);
    cr_assert_eq(parse(NULL, "Other=1"), 0);
    cr_assert_eq(gd_aws_param_list(&ps, "InstanceId", v, 4, err, sizeof err), 0, "none");
    gd_aws_params_free(&ps);
}

Test(aws_query, numbers_and_booleans_are_checked)
{
    long n;
    int b;
    cr_assert_eq(parse(NULL, "MaxResults=3&Big=99999999999999999999&DryRun=true&Bad=yes"), 0);
    cr_assert_eq(gd_aws_param_int(&ps, "MaxResults", 5, 1000, 7, &n, err, sizeof err), -1);
    cr_assert_str_eq(err, "MaxResults: '3' is not an integer in 5..1000");
    cr_assert_eq(gd_aws_param_int(&ps, "Big", 0, 10, 7, &n, err, sizeof err), -1);
    cr_assert_eq(gd_aws_param_int(&ps, "Absent", 0, 10, 7, &n, err, sizeof err), 0);
    cr_assert_eq(n, 7, "the default when absent");
    cr_assert_eq(gd_aws_param_bool(&ps, "DryRun", 0, &b, err, sizeof err), 0);
    cr_assert_eq(b, 1);
    cr_assert_eq(gd_aws_param_bool(&ps, "Bad", 0, &b, err, sizeof err), -1);
    cr_assert_str_eq(err, "Bad: 'yes' is not a boolean (allowed: true, false)");
    gd_aws_params_free(&ps);
}

Test(aws_query, unread_parameters_are_found)
{
    cr_assert_eq(parse(NULL, "Action=X&Version=1&Known=1&Stray=2"), 0);
    gd_aws_param(&ps, "Known");
    cr_assert_str_eq(gd_aws_params_unread(&ps), "Stray");
    gd_aws_param(&ps, "Stray");
    cr_assert_null(gd_aws_params_unread(&ps));
    gd_aws_params_free(&ps);
}

Test(aws_query, malformed_forms_are_refused)
{
    cr_assert_eq(parse(NULL, "a=%zz"), -1);
    cr_assert_str_eq(err, "parameter 'a': malformed %-escape in its value");
    gd_aws_params_free(&ps);
    cr_assert_eq(parse(NULL, "=1"), -1);
    cr_assert_str_eq(err, "a parameter name must be 1..128 characters");
    gd_aws_params_free(&ps);
    cr_assert_eq(parse("a=1", "a=2"), -1);
    cr_assert_str_eq(err, "parameter 'a' is given twice");
    gd_aws_params_free(&ps);
    cr_assert_eq(parse(NULL, NULL), 0, "no query and no body (found by fuzz/aws_fuzz.c)");
    cr_assert_eq(ps.n, 0);
    gd_aws_params_free(&ps);
    cr_assert_eq(parse(NULL, "&&a=1&&"), 0, "empty pieces are skipped");
    cr_assert_eq(ps.n, 1);
    gd_aws_params_free(&ps);
}

Test(aws_query, too_many_parameters_are_refused)
{
    static char body[GD_AWS_MAX_PARAMS * 12];
    size_t off = 0;
    for (int i = 0; i <= GD_AWS_MAX_PARAMS; i++)
        off += (size_t)snprintf(body + off, sizeof body - off, "k%d=1&", i);
    cr_assert_eq(parse(NULL, body), -1);
    cr_assert_str_eq(err, "more than 1000 parameters");
    gd_aws_params_free(&ps);
}
