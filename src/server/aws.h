/* The AWS-compatible API: the real aws CLI (and boto3, Terraform's endpoints) against
 * a game, under /aws on the API listener. Requests are signed with Signature Version 4
 * by per-team keys; each service's protocol (EC2's, the query protocol, JSON 1.1) is
 * spoken in aws_ec2.c, aws_autoscaling.c, aws_cloudwatch.c and aws_cloudtrail.c, and
 * every write is an operation of ops.c under the key's principal. See doc/aws.md. */
#ifndef GD_SERVER_AWS_H
#define GD_SERVER_AWS_H

#include "core/buf.h"
#include "core/http.h"
#include "server/game.h"

/** The path prefix the API listener hands to gd_aws_handle ("/aws" and "/aws/..."). */
#define GD_AWS_PREFIX "/aws"

/** 1 when the request's path is under GD_AWS_PREFIX. */
int gd_aws_path(const gd_http_req *req);

/** Answers one AWS API request (authentication, the service's action, its answer). */
void gd_aws_handle(gd_game *g, gd_http_conn *c, gd_http_req *req);

/** A team's keys, derived from the game's internal secret (so a restarted server
 *  finds the same): the access key id "AKIA" + 16 of [A-Z2-7] and a 40-character
 *  secret of [A-Za-z0-9+/]. admin: the instructor's key acting on that team. */
void gd_aws_keys(const char *internal_secret, int team, int admin, char id[21], char secret[41]);

/** Writes DIR/aws/config and DIR/aws/credentials (mode 0600): profiles team-N and
 *  admin-team-N, region us-east-1, the endpoint. 0, or a negative code. */
int gd_aws_write_profiles(gd_game *g);

/** Appends the AWS API's Prometheus metrics (requests by service and outcome). */
void gd_aws_metrics(gd_buf *b);

#endif
