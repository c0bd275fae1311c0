/* libFuzzer target for the DNS wire format (src/core/dns.c): every input is one
 * message from a hostile client, parsed as a query and, when it is one, answered with
 * records named like it, under a UDP and a TCP size limit; the answer must parse back
 * as a message of that size with the question's id. Build and run with fuzz/run dns. */
#include "core/buf.h"
#include "core/dns.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "dns_fuzz: check failed: %s (line %d)\n", #cond, __LINE__);            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gd_dns_query q;
    int rc = gd_dns_parse_query(data, size, &q);
    if (rc < 0) return 0;
    CHECK(rc >= 0 && rc <= GD_DNS_REFUSED);
    gd_buf out;
    gd_buf_init(&out, 65536 + 1024);
    if (rc == GD_DNS_NOERROR) {
        CHECK(q.name_len == strlen(q.name) && q.name[q.name_len - 1] == '.');
        CHECK(q.udp_size >= GD_DNS_UDP_MIN && q.udp_size <= GD_DNS_UDP_MAX);
        gd_dns_rr an[3] = {{.name = q.name, .type = GD_DNS_CNAME, .ttl = 5, .target = q.name},
                           {.name = q.name, .type = GD_DNS_A, .ttl = 60, .a = 0x7f000001},
                           {.name = q.name, .type = GD_DNS_AAAA, .ttl = 60}};
        gd_dns_rr soa = {.name = q.name,
                         .type = GD_DNS_SOA,
                         .soa_mname = q.name,
                         .soa_rname = q.name,
                         .soa_minimum = 60};
        size_t limits[2] = {q.udp_size, 65535};
        for (int i = 0; i < 2; i++) {
            int len = gd_dns_write_answer(&out, &q, rc, 1, an, 3, &soa, 1, limits[i]);
            CHECK(len > 0 && (size_t)len <= limits[i]);
            const uint8_t *r = (const uint8_t *)out.data;
            CHECK((r[0] << 8 | r[1]) == q.id && (r[2] & 0x80));
        }
        /* Our own query for the name parses back to the same name. */
        int n = gd_dns_write_query(&out, q.id, q.name, q.qtype);
        if (n > 0) {
            gd_dns_query q2;
            CHECK(gd_dns_parse_query((const uint8_t *)out.data, (size_t)n, &q2) == GD_DNS_NOERROR);
            CHECK(!strcmp(q2.name, q.name) && q2.qtype == q.qtype);
        }
    } else {
        q.name_len = 0; /* as gameday dns answers a bad query: the header alone */
        q.edns = 0;
        int len = gd_dns_write_answer(&out, &q, rc, 0, NULL, 0, NULL, 0, 512);
        CHECK(len == 12);
    }
    gd_buf_free(&out);
    return 0;
}
