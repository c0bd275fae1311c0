/* The DNS wire format (RFC 1035, with EDNS(0) from RFC 6891): parsing the one
 * question of a query and writing an authoritative answer, for `gameday dns`. Names
 * are kept as lowercase dotted text with the trailing dot ("www.team1.gameday.test.").
 * No allocation; everything is bounded by the message sizes. */
#ifndef GD_CORE_DNS_H
#define GD_CORE_DNS_H

#include "core/buf.h"

#include <stddef.h>
#include <stdint.h>

#define GD_DNS_NAME_MAX 255 /* bytes of a name in dotted text, the final dot included */
#define GD_DNS_UDP_MIN 512  /* a UDP answer's size without EDNS (RFC 1035 4.2.1) */
#define GD_DNS_UDP_MAX                                                                             \
    1232 /* the most we answer over UDP, whatever EDNS offers (DNS flag day 2020) */

enum gd_dns_type {
    GD_DNS_A = 1,
    GD_DNS_NS = 2,
    GD_DNS_CNAME = 5,
    GD_DNS_SOA = 6,
    GD_DNS_AAAA = 28,
    GD_DNS_OPT = 41,
    GD_DNS_ANY = 255,
};

enum gd_dns_rcode {
    GD_DNS_NOERROR = 0,
    GD_DNS_FORMERR = 1,
    GD_DNS_SERVFAIL = 2,
    GD_DNS_NXDOMAIN = 3,
    GD_DNS_NOTIMP = 4,
    GD_DNS_REFUSED = 5,
};

typedef struct gd_dns_query {
    uint16_t id, flags; /* flags as received (RD is echoed) */
    char name[GD_DNS_NAME_MAX + 1];
    size_t name_len;
    uint16_t qtype, qclass;
    int edns;            /* an OPT record was present */
    uint16_t udp_size;   /* the requester's EDNS UDP size (GD_DNS_UDP_MIN without EDNS) */
    size_t question_end; /* offset just past the question (for echoing it) */
} gd_dns_query;

/** Parses a query message m[0..n). Returns GD_DNS_NOERROR and fills q, or the rcode
 *  to answer with: GD_DNS_FORMERR (a response, no or several questions, a bad name,
 *  truncated), GD_DNS_NOTIMP (an opcode other than QUERY). -1 when m is too short to
 *  hold even a header (nothing can be answered). q->id and q->flags are set whenever
 *  the header could be read. */
int gd_dns_parse_query(const uint8_t *m, size_t n, gd_dns_query *q);

/* One resource record to write. */
typedef struct gd_dns_rr {
    const char *name; /* owner, dotted with the final dot */
    uint16_t type;
    uint32_t ttl;
    /* rdata by type: A ip (host order), AAAA ip6, CNAME / NS target, SOA fields */
    uint32_t a;
    uint8_t aaaa[16];
    const char *target;
    const char *soa_mname, *soa_rname;
    uint32_t soa_serial, soa_refresh, soa_retry, soa_expire, soa_minimum;
} gd_dns_rr;

/** Writes the answer to q into out (replacing it): the header (QR, AA when aa, RD
 *  echoed, rcode), the question echoed, then answers an[0..nan) and authority
 *  au[0..nau), and an OPT record when the query had one. When the message would pass
 *  max bytes, the answer and authority sections are left out and TC is set (the client
 *  asks again over TCP). Names equal to the question's are compressed to it. Returns
 *  the message length, or a negative gd error when out cannot hold it. */
int gd_dns_write_answer(gd_buf *out, const gd_dns_query *q, int rcode, int aa, const gd_dns_rr *an,
                        int nan, const gd_dns_rr *au, int nau, size_t max);

/** Writes a query for name/qtype with id (RD set) into out, for a client: returns its
 *  length or a negative gd error (a bad name). */
int gd_dns_write_query(gd_buf *out, uint16_t id, const char *name, uint16_t qtype);

/** Lowercases a dotted name and makes sure it ends with one dot, into out (cap bytes);
 *  returns its length, or -1 when it is not a valid name (an empty label, a label over
 *  63 bytes, over GD_DNS_NAME_MAX, or a byte that is not a letter, digit, '-', '_' or
 *  '*'). */
int gd_dns_name_norm(const char *in, size_t n, char *out, size_t cap);

#endif
