/* The AWS query protocol's parameters: a form-encoded body (and the URL's query) as
 * a bounded list of decoded key/value pairs, read by name ("InstanceId.1",
 * "Filter.2.Value.1"), each read marked so that parameters nobody read can be refused
 * as AWS refuses them (UnknownParameter). Pure: no game. */
#ifndef GD_SERVER_AWS_QUERY_H
#define GD_SERVER_AWS_QUERY_H

#include <stddef.h>

/** The most parameters one request may carry, and the longest key. */
#define GD_AWS_MAX_PARAMS 1000
#define GD_AWS_MAX_KEY 128

typedef struct gd_aws_params {
    int n;
    char *mem; /* the decoded keys and values, NUL-terminated, one block */
    const char *key[GD_AWS_MAX_PARAMS];
    const char *val[GD_AWS_MAX_PARAMS];
    unsigned char read[GD_AWS_MAX_PARAMS]; /* looked up by a handler */
} gd_aws_params;

/** Parses the pairs of two form-encoded strings (the query, then the body; either may
 *  be NULL): '&'-separated key=value, '+' a space, %XX a byte. The signature's own
 *  X-Amz-* parameters are left out. 0, or -1 with what is wrong in err (a bad escape,
 *  an empty or too long key, a key given twice, too many parameters); ps is then empty.
 *  gd_aws_params_free releases it either way. */
int gd_aws_params_parse(gd_aws_params *ps, const char *a, size_t an, const char *b, size_t bn,
                        char *err, size_t errlen);
void gd_aws_params_free(gd_aws_params *ps);

/** The value of the parameter whose key the printf format gives, or NULL when absent;
 *  marks it read. */
const char *gd_aws_param(gd_aws_params *ps, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/** The values of a numbered list, key "<prefix>.1", "<prefix>.2", ... up to the first
 *  gap, into out (at most max). Their count, or -1 when the list is longer than max or
 *  has a gap before a higher number (err says which). */
int gd_aws_param_list(gd_aws_params *ps, const char *prefix, const char **out, int max, char *err,
                      size_t errlen);

/** An integer parameter within lo..hi: 0 with *out set (def when absent), or -1 with
 *  the reason in err ("MaxResults: '3' is not an integer in 5..1000"). */
int gd_aws_param_int(gd_aws_params *ps, const char *key, long lo, long hi, long def, long *out,
                     char *err, size_t errlen);
/** A boolean parameter ("true"/"false"): 0 with *out (def when absent), or -1. */
int gd_aws_param_bool(gd_aws_params *ps, const char *key, int def, int *out, char *err,
                      size_t errlen);

/** The first parameter no lookup has read (besides Action and Version), or NULL: what
 *  the action does not take. */
const char *gd_aws_params_unread(const gd_aws_params *ps);

#endif
