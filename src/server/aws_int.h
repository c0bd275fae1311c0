/* What the AWS protocol layer's files share (aws.c and one file per service): the
 * call being answered, the services' tables, answers in each protocol's shape, and
 * AWS's forms of times, zones, accounts and pages. Private to src/server/aws*.c. */
#ifndef GD_SERVER_AWS_INT_H
#define GD_SERVER_AWS_INT_H

#include "server/aws.h"
#include "server/aws_query.h"
#include "server/aws_xml.h"
#include "server/game_int.h"
#include "server/ops.h"

#include <jansson.h>

enum gd_aws_protocol {
    GD_AWS_EC2,      /* EC2's query dialect: lowercase XML, <Response><Errors> */
    GD_AWS_QUERY,    /* the query protocol: <XResponse><XResult>, <ErrorResponse> */
    GD_AWS_JSON,     /* JSON 1.1 with X-Amz-Target */
    GD_AWS_REST_XML, /* rest-xml (CloudFront): the method and path name the action */
};

struct gd_aws_call;

typedef struct gd_aws_action {
    const char *name;
    void (*fn)(struct gd_aws_call *k);
} gd_aws_action;

typedef struct gd_aws_service {
    const char *signing_name; /* the credential scope's service: "ec2" */
    const char *version;      /* query: the Version parameter */
    const char *xmlns;
    enum gd_aws_protocol protocol;
    const char *target_prefix; /* JSON: X-Amz-Target is "<prefix>.<Action>" */
    const gd_aws_action *actions;
    int nactions;
    /* rest-xml: the action's name for the request's method and path (the URL's query
     * is in k->params), or NULL after answering. */
    const char *(*route)(struct gd_aws_call *k);
} gd_aws_service;

extern const gd_aws_service gd_aws_ec2, gd_aws_autoscaling, gd_aws_cloudwatch, gd_aws_cloudtrail;
extern const gd_aws_service gd_aws_rds, gd_aws_elasticache;
extern const gd_aws_service gd_aws_elbv2, gd_aws_cloudfront, gd_aws_ecs;

/* One request being answered. */
typedef struct gd_aws_call {
    gd_game *g;
    gd_http_conn *c;
    gd_http_req *req;
    const gd_aws_service *svc;
    const char *action;
    int team;  /* the key's team */
    int admin; /* an admin key (trust admin, principal "admin") */
    char principal[32];
    char access_key[24];
    char request_id[40];
    gd_aws_params params; /* query protocols */
    json_t *body;         /* JSON protocol: the request's object */
    int status;           /* the answer's, for the log line and the metrics */
    char code[64];        /* its error code, "" on success */
} gd_aws_call;

/* A call's view of its team: every live resource of it (gd_store_res_list) and its
 * account id, for the services' describes and ARNs. */
typedef struct gd_aws_ctx {
    gd_aws_call *k;
    json_t *all;
    char account[16];
} gd_aws_ctx;
void gd_aws_ctx_open(gd_aws_ctx *cx, gd_aws_call *k);
void gd_aws_ctx_close(gd_aws_ctx *cx);

/* ---- answers (aws.c): each answers the call exactly once ---- */

/** An error in the protocol's shape; status 400, 403, 404 or 500. */
void gd_aws_fail(gd_aws_call *k, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/** An operation's refusal, with its code (ops.c's codes are AWS's) and message; 4xx
 *  become 400 (403 stays). code_for_404, when not NULL, replaces a 404's code. */
void gd_aws_fail_op(gd_aws_call *k, const gd_op_result *r, const char *code_for_404);
/** Opens the answer document: the XML declaration, <ActionResponse xmlns=...> and, for
 *  the query protocol, <ActionResult>; EC2's <requestId>. */
void gd_aws_xml_begin(gd_aws_call *k, gd_xml *x);
/** Closes what gd_aws_xml_begin opened (with the query protocol's ResponseMetadata),
 *  sends it and frees x. A document that overflowed is a 500 instead. */
void gd_aws_xml_send(gd_aws_call *k, gd_xml *x);
/** A rest-xml answer: status, extra header lines (each ending "\r\n", or NULL), the
 *  document x (sent and freed; one that overflowed is a 500 instead). */
void gd_aws_rest_send(gd_aws_call *k, int status, const char *headers, gd_xml *x);
/** A JSON protocol answer (takes j). */
void gd_aws_json_send(gd_aws_call *k, json_t *j);

/** -1 after answering UnknownParameter when the request has a parameter the action
 *  did not read; 0 otherwise. Writes call it before acting. */
int gd_aws_unread(gd_aws_call *k);
/** The actor of an operation: the key's team and principal, the caller's address. */
gd_actor gd_aws_actor(const gd_aws_call *k);

/* ---- AWS's forms ---- */

/** Wall-clock seconds (since the epoch) of game time t, and back. AWS's instants are
 *  wall-clock times (those of the CLI's clock and of SigV4); durations (periods) stay
 *  game seconds, as everywhere in gameday. */
double gd_aws_wall_of(const gd_game *g, double game_t);
double gd_aws_game_of(const gd_game *g, double wall);
/** ISO 8601 UTC with milliseconds ("2026-12-07T10:00:00.000Z") into out (32 bytes). */
char *gd_aws_iso(double wall, char *out);
/** Parses an ISO 8601 time (date, 'T', time, optional fraction, 'Z' or +-HH:MM; a
 *  date alone is midnight UTC) or epoch seconds; 0 or -1. */
int gd_aws_parse_time(const char *s, double *wall);
/** "us-east-1a" for zone "a" into out (16 bytes); "" for none. */
char *gd_aws_az(const char *az, char *out);
/** The game's zone ("a".."f") of an AWS name ("us-east-1a"), or 0. */
char gd_aws_zone(const char *name);
/** The team's 12-digit account id into out (16 bytes). */
char *gd_aws_account(int team, char *out);
/** 1 when value matches an AWS filter value (* and ? wildcards). */
int gd_aws_match(const char *pattern, const char *value);

/** Pages: the offset a NextToken stands for (0 without one); -1 after answering
 *  InvalidNextToken (or the action's own code) for a token this layer did not make. */
int gd_aws_page_start(gd_aws_call *k, const char *token, const char *code);
/* A describe's page: the page size from the parameter `size` (lo..hi, def when absent;
 * a bad one answered 400 size_code) and the start from the token parameter `token` (a
 * bad one answered token_code). 0, or -1 after answering. */
int gd_aws_paging(gd_aws_call *k, const char *size, long lo, long hi, long def,
                  const char *size_code, const char *token, const char *token_code, long *max,
                  long *start);
/* s is one of the n strings of l. */
int gd_aws_in_list(const char **l, int n, const char *s);
/** The NextToken for a page that continues at offset (into out, 32 bytes). */
char *gd_aws_page_token(long offset, char *out);

/** The id of the team's resource of type and name in list (the team's resources), or
 *  "" when there is none. */
const char *gd_aws_id_of(const json_t *list, const char *type, const char *name);
/** The resource of type whose id (or name) is id in list, or NULL (borrowed). */
json_t *gd_aws_find(const json_t *list, const char *type, const char *id);

/* ---- the data services' shared forms (aws_rds.c, for RDS and ElastiCache) ---- */

/* The derived subnet groups' names of a team (`all` its resources): "default", then one
 * per resource of `type`, named after it. NULL when `want` (may be NULL: all) names
 * none of them. */
json_t *gd_aws_subnet_group_names(const json_t *all, const char *type, const char *want);
/** The subnets' names (a new array into names) of a subnet group: "default" (or NULL)
 *  is every subnet of the team that is not public, in the store's order; a db's or a
 *  cache_cluster's name is its subnets. 0, or -1 for a group there is not. */
int gd_aws_subnet_group(const json_t *all, const char *group, json_t **names);
/** <Subnets> of those names (with SubnetStatus for RDS). */
void gd_aws_subnets_xml(gd_xml *x, const json_t *all, const json_t *names, int rds);
/** The security groups' names (a new array, NULL when none is given) of the list
 *  parameter prefix ("VpcSecurityGroupIds.VpcSecurityGroupId"), ids or names. 0, or -1
 *  after answering InvalidParameterValue. */
int gd_aws_security_groups(gd_aws_call *k, const char *prefix, const json_t *all, json_t **names);
/** The tags (a new object, NULL when none) of prefix.N.Key/Value; 0 or -1 after
 *  answering. */
int gd_aws_tags(gd_aws_call *k, const char *prefix, json_t **tags);
/** <tag><Tag><Key/><Value/></Tag>...</tag> of a spec's tags. */
void gd_aws_tags_xml(gd_xml *x, const char *tag, const json_t *tags);

#endif
