/* An instance's faults, as a chaos experiment puts them on it: the fault file the
 * server writes at GAMEDAY_FAULT_FILE, {"faults": [{"id", "kind", params...}]}, read
 * into the few numbers the built-in service acts on (see doc/resources.md, "Instance
 * faults"). The parser is pure: the service decides what a change does. */
#ifndef GD_SERVICES_INST_FAULTS_H
#define GD_SERVICES_INST_FAULTS_H

#include <stddef.h>

#define GD_FAULT_FILE_MAX (64 * 1024) /* bytes of a fault file */
#define GD_FAULTS_MAX 64              /* faults in one file */
#define GD_FAULT_LATENCY_MAX 600000   /* wall ms one latency fault may add */
#define GD_FAULT_SLOTS_MAX 100000     /* slots one slot_hog may take */

/* What the faults in force add up to. All zero: no fault. */
typedef struct gd_inst_faults {
    int slot_hog;      /* slots taken as by a runaway process (the sum of slot_hog faults) */
    int disk_full;     /* 1: every request is answered 500 "No space left on device" */
    double latency_ms; /* wall ms before each answer (the sum of latency faults) */
} gd_inst_faults;

/** Parses the text of a fault file (len bytes, need not end in NUL). 0 with *out set,
 *  or GD_EINVAL with err "faults[1].slots: what is wrong; what is allowed" and *out
 *  left as it was. Unknown keys in a fault (its "id", say) are ignored. */
int gd_inst_faults_parse(const char *text, size_t len, gd_inst_faults *out, char *err,
                         size_t errlen);

/** Reads the fault file at path: no path or no file is no fault (0, *out zeroed); an
 *  unreadable, oversized or bad file is GD_EINVAL (or GD_ETOOBIG) with err set and *out
 *  left as it was. */
int gd_inst_faults_load(const char *path, gd_inst_faults *out, char *err, size_t errlen);

#endif
