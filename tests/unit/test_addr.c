/* Unit tests for src/core/addr.c: parsing, the T octet, containment, reserved addresses. */
#include <criterion/criterion.h>

#include "core/addr.h"
#include "core/err.h"

#include <string.h>

Test(addr, ip_parse_and_format)
{
    uint32_t ip = 0;
    char buf[16];
    cr_assert_eq(gd_ip_parse("127.1.2.3", &ip), 0);
    cr_assert_eq(ip, 0x7f010203u, "got %#x", ip);
    cr_assert_str_eq(gd_ip_format(ip, buf), "127.1.2.3");
    cr_assert_eq(gd_ip_parse("0.0.0.0", &ip), 0);
    cr_assert_eq(ip, 0u);
    cr_assert_eq(gd_ip_parse("255.255.255.255", &ip), 0);
    cr_assert_eq(ip, 0xffffffffu);
    cr_assert_str_eq(gd_ip_format(ip, buf), "255.255.255.255");
}

Test(addr, ip_parse_rejects_malformed)
{
    uint32_t ip = 42;
    const char *bad[] = {"",           "127.0.0",    "127.0.0.1.", "127.0.0.256", "127.0.0.-1",
                         "127.0.01.1", "127.0.0.1 ", " 127.0.0.1", "127..0.1",    "a.b.c.d",
                         "127.T.0.1",  "1270.0.0.1", NULL};
    for (int i = 0; bad[i]; i++)
        cr_assert_eq(gd_ip_parse(bad[i], &ip), GD_EINVAL, "'%s' should be GD_EINVAL", bad[i]);
    cr_assert_eq(ip, 42u, "output untouched on error");
    cr_assert_eq(gd_ip_parse(NULL, &ip), GD_EINVAL);
}

Test(addr, cidr_parse_with_team)
{
    gd_cidr c;
    char buf[19];
    cr_assert_eq(gd_cidr_parse("127.T.1.0/28", 7, &c), 0);
    cr_assert_eq(c.base, 0x7f070100u, "got %#x", c.base);
    cr_assert_eq(c.prefix, 28);
    cr_assert_str_eq(gd_cidr_format(c, buf), "127.7.1.0/28");
    cr_assert_eq(gd_cidr_parse("127.T.0.0/16", 254, &c), 0);
    cr_assert_str_eq(gd_cidr_format(c, buf), "127.254.0.0/16");
    cr_assert_eq(gd_cidr_parse("0.0.0.0/0", 0, &c), 0);
    cr_assert_eq(c.prefix, 0);
    cr_assert_eq(gd_cidr_parse("127.0.0.1/32", 0, &c), 0);
    cr_assert_eq(c.base, 0x7f000001u);
}

Test(addr, cidr_parse_rejects)
{
    gd_cidr c;
    cr_assert_eq(gd_cidr_parse("127.T.0.0/16", 0, &c), GD_EINVAL, "team 0 leaves T an error");
    cr_assert_eq(gd_cidr_parse("127.T.0.0/16", 255, &c), GD_EINVAL, "team 255 is out of range");
    cr_assert_eq(gd_cidr_parse("127.1.1.1/24", 1, &c), GD_EINVAL, "host bits set");
    cr_assert_eq(gd_cidr_parse("127.1.0.0/33", 1, &c), GD_EINVAL);
    cr_assert_eq(gd_cidr_parse("127.1.0.0/", 1, &c), GD_EINVAL);
    cr_assert_eq(gd_cidr_parse("127.1.0.0", 1, &c), GD_EINVAL);
    cr_assert_eq(gd_cidr_parse("127.1.0.0/08", 1, &c), GD_EINVAL);
    cr_assert_eq(gd_cidr_parse("127.t.0.0/16", 1, &c), GD_EINVAL, "only capital T");
    cr_assert_eq(gd_cidr_parse("127.TT.0.0/16", 1, &c), GD_EINVAL);
}

Test(addr, size_usable_and_hosts)
{
    gd_cidr c;
    uint32_t ip;
    char buf[16];
    cr_assert_eq(gd_cidr_parse("127.1.1.0/28", 0, &c), 0);
    cr_assert_eq(gd_cidr_size(c), 16u);
    cr_assert_eq(gd_cidr_usable(c), 11u);
    cr_assert_eq(gd_cidr_host(c, 0, &ip), 0);
    cr_assert_str_eq(gd_ip_format(ip, buf), "127.1.1.4");
    cr_assert_eq(gd_cidr_host(c, 10, &ip), 0);
    cr_assert_str_eq(gd_ip_format(ip, buf), "127.1.1.14", "the last address .15 is reserved");
    cr_assert_eq(gd_cidr_host(c, 11, &ip), GD_EFULL);

    cr_assert_eq(gd_cidr_parse("127.1.0.0/24", 0, &c), 0);
    cr_assert_eq(gd_cidr_size(c), 256u);
    cr_assert_eq(gd_cidr_usable(c), 251u);
    cr_assert_eq(gd_cidr_parse("127.1.0.0/16", 0, &c), 0);
    cr_assert_eq(gd_cidr_size(c), 65536u);
    cr_assert_eq(gd_cidr_parse("0.0.0.0/0", 0, &c), 0);
    cr_assert_eq(gd_cidr_size(c), 4294967296ull);
    cr_assert_eq(gd_cidr_parse("127.1.1.0/30", 0, &c), 0);
    cr_assert_eq(gd_cidr_usable(c), 0u, "4 addresses, 5 reserved");
    cr_assert_eq(gd_cidr_host(c, 0, &ip), GD_EFULL);
    cr_assert_eq(gd_cidr_parse("127.1.1.0/29", 0, &c), 0);
    cr_assert_eq(gd_cidr_usable(c), 3u);
}

Test(addr, contains_and_overlaps)
{
    gd_cidr vpc, a, b, other;
    cr_assert_eq(gd_cidr_parse("127.T.0.0/16", 1, &vpc), 0);
    cr_assert_eq(gd_cidr_parse("127.T.0.0/24", 1, &a), 0);
    cr_assert_eq(gd_cidr_parse("127.T.0.128/25", 1, &b), 0);
    cr_assert_eq(gd_cidr_parse("127.2.0.0/24", 1, &other), 0);
    cr_assert_eq(gd_cidr_contains(vpc, a), 1);
    cr_assert_eq(gd_cidr_contains(a, vpc), 0, "a /24 cannot hold a /16");
    cr_assert_eq(gd_cidr_contains(vpc, other), 0);
    cr_assert_eq(gd_cidr_contains(vpc, vpc), 1);
    cr_assert_eq(gd_cidr_overlaps(a, b), 1);
    cr_assert_eq(gd_cidr_overlaps(b, a), 1);
    cr_assert_eq(gd_cidr_overlaps(a, other), 0);
    cr_assert_eq(gd_cidr_contains_ip(a, 0x7f0100ffu), 1);
    cr_assert_eq(gd_cidr_contains_ip(a, 0x7f010100u), 0);
}

Test(addr, hostport)
{
    uint32_t ip;
    int port;
    cr_assert_eq(gd_hostport_parse("127.0.0.1:8080", &ip, &port), 0);
    cr_assert_eq(ip, 0x7f000001u);
    cr_assert_eq(port, 8080);
    cr_assert_eq(gd_hostport_parse("127.3.1.4:65535", &ip, &port), 0);
    cr_assert_eq(port, 65535);
    cr_assert_eq(gd_hostport_parse("127.0.0.1:0", &ip, &port), GD_EINVAL);
    cr_assert_eq(gd_hostport_parse("127.0.0.1:65536", &ip, &port), GD_EINVAL);
    cr_assert_eq(gd_hostport_parse("127.0.0.1", &ip, &port), GD_EINVAL);
    cr_assert_eq(gd_hostport_parse("127.0.0.1:", &ip, &port), GD_EINVAL);
    cr_assert_eq(gd_hostport_parse("127.0.0.1:80x", &ip, &port), GD_EINVAL);
}
