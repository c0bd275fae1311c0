/* The DNS wire format (src/core/dns.c): queries parsed, answers written, names. */
#include "core/buf.h"
#include "core/dns.h"
#include "core/err.h"

#include <criterion/criterion.h>
#include <string.h>

/* A query for name/type made by our own writer, optionally with an OPT of udp bytes. */
static size_t query(uint8_t *m, const char *name, uint16_t type, int udp)
{
    gd_buf b;
    gd_buf_init(&b, 4096);
    int n = gd_dns_write_query(&b, 0x1234, name, type);
    cr_assert_gt(n, 0);
    memcpy(m, b.data, b.len);
    size_t len = b.len;
    gd_buf_free(&b);
    if (udp) {
        m[11] = 1; /* ARCOUNT */
        const uint8_t opt[] = {0, 0, 41, (uint8_t)(udp >> 8), (uint8_t)udp, 0, 0, 0, 0, 0, 0};
        memcpy(m + len, opt, sizeof opt);
        len += sizeof opt;
    }
    return len;
}

Test(dns, parse_query)
{
    uint8_t m[512];
    size_t n = query(m, "WWW.Team1.gameday.test", GD_DNS_A, 0);
    gd_dns_query q;
    cr_assert_eq(gd_dns_parse_query(m, n, &q), GD_DNS_NOERROR);
    cr_assert_eq(q.id, 0x1234);
    cr_assert_str_eq(q.name, "www.team1.gameday.test.", "lowercased, with the final dot");
    cr_assert_eq(q.qtype, GD_DNS_A);
    cr_assert_eq(q.qclass, 1);
    cr_assert_eq(q.edns, 0);
    cr_assert_eq(q.udp_size, 512);
    n = query(m, "a.test", GD_DNS_AAAA, 4096);
    cr_assert_eq(gd_dns_parse_query(m, n, &q), GD_DNS_NOERROR);
    cr_assert_eq(q.edns, 1);
    cr_assert_eq(q.udp_size, GD_DNS_UDP_MAX, "EDNS sizes are capped");
    n = query(m, "a.test", GD_DNS_A, 100);
    cr_assert_eq(gd_dns_parse_query(m, n, &q), GD_DNS_NOERROR);
    cr_assert_eq(q.udp_size, 512, "and never under 512");
}

Test(dns, parse_refuses_what_is_not_a_query)
{
    uint8_t m[512] = {0};
    gd_dns_query q;
    cr_assert_eq(gd_dns_parse_query(m, 5, &q), -1, "shorter than a header");
    size_t n = query(m, "a.test", GD_DNS_A, 0);
    m[2] |= 0x80; /* QR: a response */
    cr_assert_eq(gd_dns_parse_query(m, n, &q), GD_DNS_FORMERR);
    n = query(m, "a.test", GD_DNS_A, 0);
    m[2] |= 0x10; /* opcode 2: STATUS */
    cr_assert_eq(gd_dns_parse_query(m, n, &q), GD_DNS_NOTIMP);
    n = query(m, "a.test", GD_DNS_A, 0);
    m[5] = 2; /* two questions */
    cr_assert_eq(gd_dns_parse_query(m, n, &q), GD_DNS_FORMERR);
    n = query(m, "a.test", GD_DNS_A, 0);
    cr_assert_eq(gd_dns_parse_query(m, n - 1, &q), GD_DNS_FORMERR, "truncated question");
    n = query(m, "a.test", GD_DNS_A, 0);
    m[n++] = 0; /* trailing junk */
    cr_assert_eq(gd_dns_parse_query(m, n, &q), GD_DNS_FORMERR);
    /* a compression loop in the question */
    uint8_t loop[] = {0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1};
    cr_assert_eq(gd_dns_parse_query(loop, sizeof loop, &q), GD_DNS_FORMERR);
    /* a byte no host name has */
    n = query(m, "ab.test", GD_DNS_A, 0);
    m[13] = '!';
    cr_assert_eq(gd_dns_parse_query(m, n, &q), GD_DNS_FORMERR);
}

Test(dns, answer_round_trip)
{
    uint8_t m[512];
    size_t n = query(m, "www.t.test", GD_DNS_A, 0);
    gd_dns_query q;
    cr_assert_eq(gd_dns_parse_query(m, n, &q), GD_DNS_NOERROR);
    gd_dns_rr an[2] = {{.name = "www.t.test.", .type = GD_DNS_A, .ttl = 60, .a = 0x7f010004},
                       {.name = "www.t.test.", .type = GD_DNS_A, .ttl = 60, .a = 0x7f010005}};
    gd_buf out;
    gd_buf_init(&out, 65536);
    int len = gd_dns_write_answer(&out, &q, GD_DNS_NOERROR, 1, an, 2, NULL, 0, 512);
    const uint8_t *r = (const uint8_t *)out.data;
    cr_assert_gt(len, 12);
    cr_assert_eq(r[0] << 8 | r[1], 0x1234);
    cr_assert(r[2] & 0x80, "QR");
    cr_assert(r[2] & 0x04, "AA");
    cr_assert(r[2] & 0x01, "RD echoed");
    cr_assert_eq(r[3] & 0x0f, 0, "NOERROR");
    cr_assert_eq(r[7], 2, "two answers");
    /* question (12 + 12 name bytes + 4) then the first answer: pointer to 12, A, IN, 60, 4, ip */
    size_t a = 12 + 12 + 4;
    const uint8_t want[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 1, 0, 4};
    cr_assert(memcmp(r + a, want, sizeof want) == 0, "first answer compressed to the question");
    cr_assert_eq((size_t)len, a + 2 * sizeof want);
    /* Too big for 512 bytes: TC and no records. */
    gd_dns_rr many[40];
    for (int i = 0; i < 40; i++)
        many[i] = (gd_dns_rr){.name = "other.name.that.is.long.t.test.",
                              .type = GD_DNS_A,
                              .ttl = 1,
                              .a = (uint32_t)i};
    len = gd_dns_write_answer(&out, &q, GD_DNS_NOERROR, 1, many, 40, NULL, 0, 512);
    r = (const uint8_t *)out.data;
    cr_assert(r[2] & 0x02, "TC");
    cr_assert_eq(r[6] | r[7], 0, "no answers when truncated");
    cr_assert_leq(len, 512);
    len = gd_dns_write_answer(&out, &q, GD_DNS_NOERROR, 1, many, 40, NULL, 0, 65535);
    cr_assert_eq(((const uint8_t *)out.data)[7], 40, "over TCP they all fit");
    gd_buf_free(&out);
}

Test(dns, name_norm)
{
    char o[300];
    cr_assert_eq(gd_dns_name_norm("WWW.Example.TEST", 16, o, sizeof o), 17);
    cr_assert_str_eq(o, "www.example.test.");
    cr_assert_eq(gd_dns_name_norm("a.b.", 4, o, sizeof o), 4);
    cr_assert_eq(gd_dns_name_norm(".", 1, o, sizeof o), 1);
    cr_assert_eq(gd_dns_name_norm("a..b", 4, o, sizeof o), -1, "empty label");
    cr_assert_eq(gd_dns_name_norm("", 0, o, sizeof o), -1);
    cr_assert_eq(gd_dns_name_norm("a b", 3, o, sizeof o), -1);
    char label[70];
    memset(label, 'a', 64);
    label[64] = 0;
    cr_assert_eq(gd_dns_name_norm(label, 64, o, sizeof o), -1, "a label over 63 bytes");
    char lng[300];
    for (int i = 0; i < 130; i++) lng[2 * i] = 'a', lng[2 * i + 1] = '.';
    cr_assert_eq(gd_dns_name_norm(lng, 260, o, sizeof o), -1, "over 255 bytes");
}
