/* The fault file of an instance (see inst_faults.h): parsed whole, so that a bad file
 * changes nothing. */
#include "services/inst_faults.h"
#include "core/err.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define BAD(...) (snprintf(err, errlen, __VA_ARGS__), GD_EINVAL)

/* A whole number in lo..hi (a JSON integer, or a real with no fraction). */
static int whole_in(const json_t *v, double lo, double hi, double *out)
{
    if (!json_is_number(v)) return 0;
    double d = json_number_value(v);
    if (d != d || d < lo || d > hi || d != (double)(long long)d) return 0;
    *out = d;
    return 1;
}

int gd_inst_faults_parse(const char *text, size_t len, gd_inst_faults *out, char *err,
                         size_t errlen)
{
    json_error_t je;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        return BAD("line %d column %d: %s (expected {\"faults\": [{\"kind\": ...}]})", je.line,
                   je.column, je.text);
    gd_inst_faults f = {0};
    int rc = 0;
    const json_t *list = json_object_get(doc, "faults");
    if (!json_is_object(doc) || !json_is_array(list) || json_array_size(list) > GD_FAULTS_MAX) {
        rc = BAD("faults: expected {\"faults\": [...]} with at most %d faults", GD_FAULTS_MAX);
        goto done;
    }
    size_t i;
    const json_t *x;
    json_array_foreach(list, i, x)
    {
        const char *kind = json_string_value(json_object_get(x, "kind"));
        double v = 0;
        if (!json_is_object(x) || !kind) {
            rc = BAD("faults[%zu].kind: one of slot_hog, disk_full, latency", i);
        } else if (!strcmp(kind, "slot_hog")) {
            if (!whole_in(json_object_get(x, "slots"), 1, GD_FAULT_SLOTS_MAX, &v))
                rc = BAD("faults[%zu].slots: the slots slot_hog takes, a whole number "
                         "1..%d",
                         i, GD_FAULT_SLOTS_MAX);
            else if (f.slot_hog + v > GD_FAULT_SLOTS_MAX)
                rc = BAD("faults[%zu].slots: slot_hog faults take at most %d slots in all", i,
                         GD_FAULT_SLOTS_MAX);
            else
                f.slot_hog += (int)v;
        } else if (!strcmp(kind, "disk_full")) {
            f.disk_full = 1;
        } else if (!strcmp(kind, "latency")) {
            const json_t *ms = json_object_get(x, "latency_ms");
            v = json_is_number(ms) ? json_number_value(ms) : -1;
            if (!(v >= 0 && v <= GD_FAULT_LATENCY_MAX))
                rc = BAD("faults[%zu].latency_ms: wall milliseconds added to each answer, "
                         "0..%d",
                         i, GD_FAULT_LATENCY_MAX);
            else if (f.latency_ms + v > GD_FAULT_LATENCY_MAX)
                rc = BAD("faults[%zu].latency_ms: latency faults add at most %d ms in all", i,
                         GD_FAULT_LATENCY_MAX);
            else
                f.latency_ms += v;
        } else {
            rc = BAD("faults[%zu].kind: unknown kind \"%.40s\"; one of slot_hog, disk_full, "
                     "latency",
                     i, kind);
        }
        if (rc < 0) goto done;
    }
    *out = f;
done:
    json_decref(doc);
    return rc;
}

int gd_inst_faults_load(const char *path, gd_inst_faults *out, char *err, size_t errlen)
{
    if (!path || !*path) {
        *out = (gd_inst_faults){0};
        return 0;
    }
    FILE *fp = fopen(path, "r");
    if (!fp) {
        if (errno == ENOENT) { /* no file: no fault */
            *out = (gd_inst_faults){0};
            return 0;
        }
        return BAD("cannot read it: %s", strerror(errno));
    }
    static char text[GD_FAULT_FILE_MAX + 1];
    size_t n = fread(text, 1, sizeof text, fp);
    int rerr = ferror(fp);
    fclose(fp);
    if (rerr) return BAD("cannot read it");
    if (n > GD_FAULT_FILE_MAX) {
        snprintf(err, errlen, "over %d bytes", GD_FAULT_FILE_MAX);
        return GD_ETOOBIG;
    }
    return gd_inst_faults_parse(text, n, out, err, errlen);
}
