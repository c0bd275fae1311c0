/* libFuzzer target for the faults a chaos experiment sends to a process: every input is
 * an instance's fault file (src/services/inst_faults.c), and, when it is JSON, the
 * "faults" of a DNS record in a zones document (src/dns/dnsd.c). A refused input must
 * say why and leave the faults in force as they were; a taken one stays in its bounds.
 * Build and run with fuzz/run faults. */
#include "core/err.h"
#include "dns/dnsd.h"
#include "services/inst_faults.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "faults_fuzz: check failed: %s (line %d)\n", #cond, __LINE__);         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gd_inst_faults f = {.slot_hog = 7, .disk_full = 1, .latency_ms = 3};
    char err[256] = "";
    int r = gd_inst_faults_parse((const char *)data, size, &f, err, sizeof err);
    if (r == 0) {
        CHECK(f.slot_hog >= 0 && f.slot_hog <= GD_FAULT_SLOTS_MAX);
        CHECK(f.disk_full == 0 || f.disk_full == 1);
        CHECK(f.latency_ms >= 0 && f.latency_ms <= GD_FAULT_LATENCY_MAX);
    } else {
        CHECK(r == GD_EINVAL && err[0]);
        CHECK(f.slot_hog == 7 && f.disk_full == 1 && f.latency_ms == 3);
    }
    json_t *faults = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (!faults) return 0;
    json_t *doc = json_pack("{s:[{s:s,s:[{s:s,s:s,s:i,s:[s],s:O}]}]}", "zones", "name",
                            "team1.gameday.test", "records", "name", "www", "type", "A", "ttl", 60,
                            "values", "127.1.0.4", "faults", faults);
    err[0] = 0;
    r = gd_dns_config_check(doc, err, sizeof err);
    CHECK(r == 0 || (r == GD_EINVAL && err[0]));
    int each = 0;
    if (json_is_array(faults)) {
        size_t i;
        json_t *x;
        json_array_foreach(faults, i, x)
        {
            err[0] = 0;
            int k = gd_dns_fault_check(x, err, sizeof err);
            CHECK(k == 0 || (k == GD_EINVAL && err[0]));
            each |= k;
        }
        /* the document takes a list of at most 8 faults exactly when each is good */
        CHECK((r == 0) == (each == 0 && json_array_size(faults) <= 8));
    }
    json_decref(doc);
    json_decref(faults);
    return 0;
}
