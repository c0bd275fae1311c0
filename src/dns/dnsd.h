/* `gameday dns`: the game's authoritative DNS server (Route 53's part): every team's
 * hosted zone, over UDP and TCP on the real wire format, with simple, weighted and
 * failover routing. Its zones come as one JSON document (PUT /config on the admin
 * listener, or --config FILE); see doc/dns.md. */
#ifndef GD_DNS_DNSD_H
#define GD_DNS_DNSD_H

#include <jansson.h>
#include <stddef.h>

/** Checks a zones document; 0, or GD_EINVAL with "zones[i].records[j].field: what is
 *  wrong; what is allowed" in err. */
int gd_dns_config_check(const json_t *doc, char *err, size_t errlen);

/** Checks one fault of a record set ({"kind": "outage"|"servfail"|"wrong", "address",
 *  "probability", "id"}), as a zones document's "faults" are checked; 0, or GD_EINVAL
 *  with "field: what is allowed" in err. The server leaves out of its document a fault
 *  this refuses, so that one bad fault cannot stop the zones from being served. */
int gd_dns_fault_check(const json_t *fault, char *err, size_t errlen);

/* The dns role (argv[0] is its name); returns the process exit code. */
int gd_cmd_dns(int argc, char **argv);

#endif
