/* IPv4 addresses and CIDR blocks inside 127.0.0.0/8. Team t's VPC is 127.t.0.0/16;
 * scenario files write the team number as T ("127.T.1.0/28"). As in AWS, a subnet
 * reserves 5 addresses: the first four (network, router, DNS, future) and the last. */
#ifndef GD_ADDR_H
#define GD_ADDR_H

#include <stdint.h>

typedef struct gd_cidr {
    uint32_t base; /* host byte order, host bits zero */
    int prefix;    /* 0..32 */
} gd_cidr;

/** Parses "a.b.c.d" (host order result). GD_EINVAL if malformed. */
int gd_ip_parse(const char *s, uint32_t *ip);
/** Formats an address into out (at least 16 bytes). Returns out. */
char *gd_ip_format(uint32_t ip, char *out);
/** Parses "a.b.c.d/n"; an octet written T is replaced by team (1..254; 0 leaves T an
 *  error). GD_EINVAL if malformed or if host bits are set. */
int gd_cidr_parse(const char *s, int team, gd_cidr *out);
/** Formats "a.b.c.d/n" into out (at least 19 bytes). Returns out. */
char *gd_cidr_format(gd_cidr c, char *out);
uint64_t gd_cidr_size(gd_cidr c);
int gd_cidr_contains_ip(gd_cidr c, uint32_t ip);
/** 1 if inner lies wholly inside outer. */
int gd_cidr_contains(gd_cidr outer, gd_cidr inner);
int gd_cidr_overlaps(gd_cidr a, gd_cidr b);
/** Usable host addresses of a subnet (size - 5, 0 if smaller). */
uint32_t gd_cidr_usable(gd_cidr c);
/** The idx-th usable address (0-based, skipping the 4 reserved first ones).
 *  GD_EFULL when idx >= gd_cidr_usable(c). */
int gd_cidr_host(gd_cidr c, uint32_t idx, uint32_t *ip);
/** Parses "a.b.c.d:port". GD_EINVAL if malformed or port is 0 or > 65535. */
int gd_hostport_parse(const char *s, uint32_t *ip, int *port);

#endif
