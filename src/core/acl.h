/* Allow lists of source addresses: what a security group's ingress rules become for one
 * listener. Enforced at accept by the listeners gameday owns (the built-in services of
 * instances, the edges): a source not in the list is closed at once and counted. */
#ifndef GD_CORE_ACL_H
#define GD_CORE_ACL_H

#include "core/addr.h"

#include <jansson.h>

#include <stdint.h>
#include <stdio.h>

#define GD_ACL_MAX 256

typedef struct gd_acl {
    int on; /* 0: no list, everyone is allowed (no security group) */
    int n;
    gd_cidr c[GD_ACL_MAX];
} gd_acl;

/** Parses blocks separated by commas, spaces or newlines ("0.0.0.0/0" is anyone,
 *  "127.1.0.4/32" one address) into a (which is then on, even when empty: nobody).
 *  0, or -1 at the first block that is not one (a is then left as it was). */
int gd_acl_parse(const char *text, gd_acl *a);
/** The same from a JSON list of block strings (a config's "allow"); NULL: no list
 *  (everyone). 0, or -1 when it is not a list of at most GD_ACL_MAX blocks (a kept). */
int gd_acl_from_json(const json_t *list, gd_acl *a);
/** 1 if ip may connect. */
int gd_acl_allows(const gd_acl *a, uint32_t ip);

/* Rate-limited "denied" log lines: one a wall second at most, with the count since. */
typedef struct gd_acl_log {
    uint64_t denied, unlogged, last_ms;
} gd_acl_log;
/** Counts a denied connection from ip and logs ev=denied (from=, count=) when due. */
void gd_acl_denied(gd_acl_log *l, uint32_t ip, uint64_t now_ms);

#endif
