/* The DNS wire format: see dns.h. RFC 1035 section 4 (messages), RFC 3596 (AAAA),
 * RFC 6891 (EDNS(0) OPT), RFC 2181 (TTLs are 31-bit). */
#include "core/dns.h"
#include "core/err.h"

#include <string.h>

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static int name_byte_ok(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '*';
}

static uint8_t lower8(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* Reads a name at m[*off] (following compression pointers, at most 32 of them) into
 * out as lowercase dotted text; *off moves past the name as it stands in place.
 * Returns its length or -1. */
static int read_name(const uint8_t *m, size_t n, size_t *off, char *out)
{
    size_t p = *off, len = 0;
    int jumps = 0, jumped = 0;
    for (;;) {
        if (p >= n) return -1;
        uint8_t l = m[p];
        if ((l & 0xc0) == 0xc0) {
            if (p + 1 >= n || ++jumps > 32) return -1;
            if (!jumped) *off = p + 2;
            jumped = 1;
            p = (size_t)((l & 0x3f) << 8 | m[p + 1]);
            continue;
        }
        if (l & 0xc0) return -1; /* the 0x40 / 0x80 label types are gone (RFC 6891) */
        p++;
        if (l == 0) break;
        if (p + l > n || len + l + 1 > GD_DNS_NAME_MAX) return -1;
        for (uint8_t i = 0; i < l; i++) {
            uint8_t c = lower8(m[p + i]);
            if (!name_byte_ok(c)) return -1;
            out[len++] = (char)c;
        }
        out[len++] = '.';
        p += l;
    }
    if (len == 0) out[len++] = '.'; /* the root */
    out[len] = 0;
    if (!jumped) *off = p;
    return (int)len;
}

int gd_dns_parse_query(const uint8_t *m, size_t n, gd_dns_query *q)
{
    memset(q, 0, sizeof *q);
    q->udp_size = GD_DNS_UDP_MIN;
    if (n < 12) return -1;
    q->id = rd16(m);
    q->flags = rd16(m + 2);
    if (q->flags & 0x8000) return GD_DNS_FORMERR;            /* a response */
    if (((q->flags >> 11) & 0xf) != 0) return GD_DNS_NOTIMP; /* not QUERY */
    uint16_t qd = rd16(m + 4), an = rd16(m + 6), ns = rd16(m + 8), ar = rd16(m + 10);
    if (qd != 1 || an != 0 || ns != 0 || ar > 1) return GD_DNS_FORMERR;
    size_t off = 12;
    int l = read_name(m, n, &off, q->name);
    if (l < 0 || off + 4 > n) return GD_DNS_FORMERR;
    q->name_len = (size_t)l;
    q->qtype = rd16(m + off);
    q->qclass = rd16(m + off + 2);
    off += 4;
    q->question_end = off;
    if (ar == 1) { /* the OPT pseudo-record: root name, type 41, class = UDP size */
        char root[GD_DNS_NAME_MAX + 1];
        if (read_name(m, n, &off, root) != 1 || off + 10 > n) return GD_DNS_FORMERR;
        if (rd16(m + off) != GD_DNS_OPT) return GD_DNS_FORMERR;
        uint16_t size = rd16(m + off + 2), rdlen = rd16(m + off + 8);
        if (off + 10 + rdlen > n) return GD_DNS_FORMERR;
        q->edns = 1;
        q->udp_size = size < GD_DNS_UDP_MIN   ? GD_DNS_UDP_MIN
                      : size > GD_DNS_UDP_MAX ? GD_DNS_UDP_MAX
                                              : size;
        off += 10 + rdlen;
    }
    if (off != n) return GD_DNS_FORMERR;
    return GD_DNS_NOERROR;
}

static int put16(gd_buf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    return gd_buf_append(b, x, 2);
}

static int put32(gd_buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    return gd_buf_append(b, x, 4);
}

/* A dotted name as labels; the question's own name becomes a pointer to offset 12. */
static int put_name(gd_buf *b, const char *name, const gd_dns_query *q)
{
    if (q && !strcmp(name, q->name)) return put16(b, 0xc00c);
    const char *s = name;
    while (*s && strcmp(s, ".") != 0) {
        const char *dot = strchr(s, '.');
        size_t l = dot ? (size_t)(dot - s) : strlen(s);
        if (l == 0 || l > 63) return GD_EINVAL;
        uint8_t lb = (uint8_t)l;
        int r = gd_buf_append(b, &lb, 1);
        if (!r) r = gd_buf_append(b, s, l);
        if (r) return r;
        s += l + (dot ? 1 : 0);
    }
    uint8_t z = 0;
    return gd_buf_append(b, &z, 1);
}

static int put_rr(gd_buf *b, const gd_dns_rr *rr, const gd_dns_query *q)
{
    int r = put_name(b, rr->name, q);
    if (!r) r = put16(b, rr->type);
    if (!r) r = put16(b, 1); /* IN */
    if (!r) r = put32(b, rr->ttl > 0x7fffffffu ? 0x7fffffffu : rr->ttl);
    if (r) return r;
    size_t lenat = b->len;
    if ((r = put16(b, 0))) return r;
    switch (rr->type) {
    case GD_DNS_A:
        r = put32(b, rr->a);
        break;
    case GD_DNS_AAAA:
        r = gd_buf_append(b, rr->aaaa, 16);
        break;
    case GD_DNS_CNAME:
    case GD_DNS_NS:
        r = put_name(b, rr->target, q);
        break;
    case GD_DNS_SOA:
        r = put_name(b, rr->soa_mname, q);
        if (!r) r = put_name(b, rr->soa_rname, q);
        if (!r) r = put32(b, rr->soa_serial);
        if (!r) r = put32(b, rr->soa_refresh);
        if (!r) r = put32(b, rr->soa_retry);
        if (!r) r = put32(b, rr->soa_expire);
        if (!r) r = put32(b, rr->soa_minimum);
        break;
    default:
        return GD_EINVAL;
    }
    if (r) return r;
    size_t rdlen = b->len - lenat - 2;
    b->data[lenat] = (char)(rdlen >> 8);
    b->data[lenat + 1] = (char)rdlen;
    return 0;
}

static int write_msg(gd_buf *out, const gd_dns_query *q, int rcode, int aa, const gd_dns_rr *an,
                     int nan, const gd_dns_rr *au, int nau, int tc)
{
    gd_buf_reset(out);
    uint16_t flags = 0x8000 | (q->flags & 0x0100) | (aa ? 0x0400 : 0) | (tc ? 0x0200 : 0) |
                     (uint16_t)(rcode & 0xf);
    int qd = q->name_len > 0;
    int r = put16(out, q->id);
    if (!r) r = put16(out, flags);
    if (!r) r = put16(out, (uint16_t)qd);
    if (!r) r = put16(out, (uint16_t)(tc ? 0 : nan));
    if (!r) r = put16(out, (uint16_t)(tc ? 0 : nau));
    if (!r) r = put16(out, (uint16_t)(q->edns ? 1 : 0));
    if (!r && qd) {
        r = put_name(out, q->name, NULL);
        if (!r) r = put16(out, q->qtype);
        if (!r) r = put16(out, q->qclass);
    }
    for (int i = 0; !r && !tc && i < nan; i++) r = put_rr(out, &an[i], q);
    for (int i = 0; !r && !tc && i < nau; i++) r = put_rr(out, &au[i], q);
    if (!r && q->edns) { /* OPT: root, type 41, our UDP size, no extended rcode, no options */
        uint8_t z = 0;
        r = gd_buf_append(out, &z, 1);
        if (!r) r = put16(out, GD_DNS_OPT);
        if (!r) r = put16(out, GD_DNS_UDP_MAX);
        if (!r) r = put32(out, 0);
        if (!r) r = put16(out, 0);
    }
    return r ? r : (int)out->len;
}

int gd_dns_write_answer(gd_buf *out, const gd_dns_query *q, int rcode, int aa, const gd_dns_rr *an,
                        int nan, const gd_dns_rr *au, int nau, size_t max)
{
    int len = write_msg(out, q, rcode, aa, an, nan, au, nau, 0);
    if (len >= 0 && (size_t)len > max) len = write_msg(out, q, rcode, aa, an, nan, au, nau, 1);
    return len;
}

int gd_dns_write_query(gd_buf *out, uint16_t id, const char *name, uint16_t qtype)
{
    gd_buf_reset(out);
    char norm[GD_DNS_NAME_MAX + 1];
    if (gd_dns_name_norm(name, strlen(name), norm, sizeof norm) < 0) return GD_EINVAL;
    int r = put16(out, id);
    if (!r) r = put16(out, 0x0100);
    if (!r) r = put16(out, 1);
    if (!r) r = put16(out, 0);
    if (!r) r = put16(out, 0);
    if (!r) r = put16(out, 0);
    if (!r) r = put_name(out, norm, NULL);
    if (!r) r = put16(out, qtype);
    if (!r) r = put16(out, 1);
    return r ? r : (int)out->len;
}

int gd_dns_name_norm(const char *in, size_t n, char *out, size_t cap)
{
    if (n == 1 && in[0] == '.') {
        if (cap < 2) return -1;
        out[0] = '.', out[1] = 0;
        return 1;
    }
    size_t len = 0, label = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = lower8((uint8_t)in[i]);
        if (c == '.') {
            if (label == 0) return -1;
            label = 0;
        } else {
            if (!name_byte_ok(c) || ++label > 63) return -1;
        }
        if (len + 2 > cap || len + 1 > GD_DNS_NAME_MAX) return -1;
        out[len++] = (char)c;
    }
    if (len == 0) return -1;
    if (out[len - 1] != '.') {
        if (len + 2 > cap || len + 1 > GD_DNS_NAME_MAX) return -1;
        out[len++] = '.';
    }
    out[len] = 0;
    return (int)len;
}
