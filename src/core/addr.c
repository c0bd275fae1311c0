/* IPv4 addresses and CIDR blocks for the loopback "network" (127.0.0.0/8):
 * strict dotted-quad parsing, the "T" team octet, containment, overlap and the
 * AWS rule of 5 reserved addresses per subnet. */
#include "core/addr.h"

#include "core/err.h"

#include <stdio.h>
#include <string.h>

/* Parses a decimal number of at most maxdig digits (no sign, no leading zero unless
 * it is "0") from *s, advancing *s. Returns -1 if there is none. */
static long parse_dec(const char **s, int maxdig)
{
    const char *p = *s;
    long v = 0;
    int n = 0;
    while (*p >= '0' && *p <= '9') {
        if (++n > maxdig) return -1;
        v = v * 10 + (*p - '0');
        p++;
    }
    if (n == 0 || (n > 1 && **s == '0')) return -1;
    *s = p;
    return v;
}

/* Parses four octets from *s, advancing *s; an octet "T" becomes team. */
static int parse_quad(const char **s, int team, uint32_t *ip)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        long o;
        if (i > 0) {
            if (**s != '.') return GD_EINVAL;
            (*s)++;
        }
        if (**s == 'T') {
            if (team < 1 || team > 254) return GD_EINVAL;
            o = team;
            (*s)++;
        } else {
            o = parse_dec(s, 3);
            if (o < 0 || o > 255) return GD_EINVAL;
        }
        v = (v << 8) | (uint32_t)o;
    }
    *ip = v;
    return 0;
}

int gd_ip_parse(const char *s, uint32_t *ip)
{
    uint32_t v;
    if (s == NULL || parse_quad(&s, 0, &v) != 0 || *s != 0) return GD_EINVAL;
    *ip = v;
    return 0;
}

char *gd_ip_format(uint32_t ip, char *out)
{
    snprintf(out, 16, "%u.%u.%u.%u", (ip >> 24) & 255, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
    return out;
}

static uint32_t mask_of(int prefix)
{
    return prefix <= 0 ? 0 : prefix >= 32 ? 0xffffffffu : ~(0xffffffffu >> prefix);
}

int gd_cidr_parse(const char *s, int team, gd_cidr *out)
{
    uint32_t v;
    if (s == NULL || parse_quad(&s, team, &v) != 0 || *s != '/') return GD_EINVAL;
    s++;
    long p = parse_dec(&s, 2);
    if (p < 0 || p > 32 || *s != 0) return GD_EINVAL;
    if ((v & ~mask_of((int)p)) != 0) return GD_EINVAL;
    out->base = v;
    out->prefix = (int)p;
    return 0;
}

char *gd_cidr_format(gd_cidr c, char *out)
{
    char ip[16];
    snprintf(out, 19, "%s/%d", gd_ip_format(c.base, ip), c.prefix);
    return out;
}

uint64_t gd_cidr_size(gd_cidr c)
{
    return (uint64_t)1 << (32 - c.prefix);
}

int gd_cidr_contains_ip(gd_cidr c, uint32_t ip)
{
    return (ip & mask_of(c.prefix)) == c.base;
}

int gd_cidr_contains(gd_cidr outer, gd_cidr inner)
{
    return inner.prefix >= outer.prefix && gd_cidr_contains_ip(outer, inner.base);
}

int gd_cidr_overlaps(gd_cidr a, gd_cidr b)
{
    return gd_cidr_contains(a, b) || gd_cidr_contains(b, a);
}

uint32_t gd_cidr_usable(gd_cidr c)
{
    uint64_t n = gd_cidr_size(c);
    return n > 5 ? (uint32_t)(n - 5) : 0;
}

int gd_cidr_host(gd_cidr c, uint32_t idx, uint32_t *ip)
{
    if (idx >= gd_cidr_usable(c)) return GD_EFULL;
    *ip = c.base + 4 + idx;
    return 0;
}

int gd_hostport_parse(const char *s, uint32_t *ip, int *port)
{
    uint32_t v;
    if (s == NULL || parse_quad(&s, 0, &v) != 0 || *s != ':') return GD_EINVAL;
    s++;
    long p = parse_dec(&s, 5);
    if (p < 1 || p > 65535 || *s != 0) return GD_EINVAL;
    *ip = v;
    *port = (int)p;
    return 0;
}
