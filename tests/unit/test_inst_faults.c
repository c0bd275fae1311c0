/* The fault file of an instance (src/services/inst_faults.c): what the kinds add up
 * to, and that a bad file is refused whole, saying where and what is allowed. */
#include "core/err.h"
#include "services/inst_faults.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int parse(const char *text, gd_inst_faults *f, char *err)
{
    return gd_inst_faults_parse(text, strlen(text), f, err, 256);
}

Test(inst_faults, kinds_add_up)
{
    gd_inst_faults f = {0};
    char err[256] = "";
    cr_assert_eq(parse("{\"faults\": [{\"id\": \"f-1\", \"kind\": \"slot_hog\", \"slots\": 2},"
                       " {\"id\": \"f-2\", \"kind\": \"slot_hog\", \"slots\": 3},"
                       " {\"kind\": \"disk_full\"},"
                       " {\"kind\": \"latency\", \"latency_ms\": 150},"
                       " {\"kind\": \"latency\", \"latency_ms\": 50.5}]}",
                       &f, err),
                 0, "%s", err);
    cr_assert_eq(f.slot_hog, 5, "two slot_hogs take 2 + 3 slots");
    cr_assert_eq(f.disk_full, 1);
    cr_assert_float_eq(f.latency_ms, 200.5, 1e-9);
}

Test(inst_faults, an_empty_list_is_no_fault)
{
    gd_inst_faults f = {.slot_hog = 4, .disk_full = 1, .latency_ms = 9};
    char err[256];
    cr_assert_eq(parse("{\"faults\": []}", &f, err), 0);
    cr_assert_eq(f.slot_hog, 0);
    cr_assert_eq(f.disk_full, 0);
    cr_assert_float_eq(f.latency_ms, 0, 1e-9);
}

Test(inst_faults, bad_files_change_nothing)
{
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"", "expected {\"faults\""},
        {"{\"faults\": [", "expected {\"faults\""},
        {"[]", "faults: expected"},
        {"{\"faults\": {}}", "faults: expected"},
        {"{\"faults\": [{\"kind\": \"cpu_stress\"}]}",
         "faults[0].kind: unknown kind \"cpu_stress\""},
        {"{\"faults\": [{\"slots\": 1}]}", "faults[0].kind: one of slot_hog, disk_full, latency"},
        {"{\"faults\": [7]}", "faults[0].kind:"},
        {"{\"faults\": [{\"kind\": \"disk_full\"}, {\"kind\": \"slot_hog\"}]}",
         "faults[1].slots: the slots slot_hog takes, a whole number 1..100000"},
        {"{\"faults\": [{\"kind\": \"slot_hog\", \"slots\": 0}]}", "faults[0].slots:"},
        {"{\"faults\": [{\"kind\": \"slot_hog\", \"slots\": -2}]}", "faults[0].slots:"},
        {"{\"faults\": [{\"kind\": \"slot_hog\", \"slots\": 1.5}]}", "faults[0].slots:"},
        {"{\"faults\": [{\"kind\": \"slot_hog\", \"slots\": \"2\"}]}", "faults[0].slots:"},
        {"{\"faults\": [{\"kind\": \"slot_hog\", \"slots\": 1e300}]}", "faults[0].slots:"},
        {"{\"faults\": [{\"kind\": \"slot_hog\", \"slots\": 60000},"
         " {\"kind\": \"slot_hog\", \"slots\": 60000}]}",
         "faults[1].slots: slot_hog faults take at most 100000 slots in all"},
        {"{\"faults\": [{\"kind\": \"latency\"}]}",
         "faults[0].latency_ms: wall milliseconds added to each answer, 0..600000"},
        {"{\"faults\": [{\"kind\": \"latency\", \"latency_ms\": -1}]}", "faults[0].latency_ms:"},
        {"{\"faults\": [{\"kind\": \"latency\", \"latency_ms\": 600001}]}",
         "faults[0].latency_ms:"},
        {"{\"faults\": [], \"faults\": []}", "duplicate"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gd_inst_faults f = {.slot_hog = 1, .disk_full = 0, .latency_ms = 25};
        char err[256] = "";
        cr_assert_eq(parse(cases[i].text, &f, err), GD_EINVAL, "refused: %s", cases[i].text);
        cr_assert(strstr(err, cases[i].want), "%s: error %s names %s", cases[i].text, err,
                  cases[i].want);
        cr_assert_eq(f.slot_hog, 1, "kept");
        cr_assert_eq(f.disk_full, 0, "kept");
        cr_assert_float_eq(f.latency_ms, 25, 1e-9, "kept");
    }
}

Test(inst_faults, too_many_faults)
{
    char text[8192];
    size_t n = (size_t)snprintf(text, sizeof text, "{\"faults\": [");
    for (int i = 0; i <= GD_FAULTS_MAX; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "%s{\"kind\": \"disk_full\"}",
                              i ? "," : "");
    snprintf(text + n, sizeof text - n, "]}");
    gd_inst_faults f = {0};
    char err[256];
    cr_assert_eq(parse(text, &f, err), GD_EINVAL);
    cr_assert(strstr(err, "at most 64 faults"), "%s", err);
}

Test(inst_faults, a_missing_file_is_no_fault_a_bad_one_keeps_the_old)
{
    char path[] = "/tmp/gd-inst-faults-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    const char *good = "{\"faults\": [{\"kind\": \"slot_hog\", \"slots\": 3}]}";
    cr_assert_eq(write(fd, good, strlen(good)), (ssize_t)strlen(good));
    close(fd);
    gd_inst_faults f = {0};
    char err[256] = "";
    cr_assert_eq(gd_inst_faults_load(path, &f, err, sizeof err), 0, "%s", err);
    cr_assert_eq(f.slot_hog, 3);
    FILE *fp = fopen(path, "w");
    fputs("{\"faults\": [{\"kind\": \"slot_hog\", \"slots\": 0}]}", fp);
    fclose(fp);
    cr_assert_eq(gd_inst_faults_load(path, &f, err, sizeof err), GD_EINVAL);
    cr_assert_eq(f.slot_hog, 3, "a bad file keeps the faults in force");
    fp = fopen(path, "w");
    for (int i = 0; i < GD_FAULT_FILE_MAX + 1; i++) fputc(' ', fp);
    fclose(fp);
    cr_assert_eq(gd_inst_faults_load(path, &f, err, sizeof err), GD_ETOOBIG);
    cr_assert(strstr(err, "over 65536 bytes"), "%s", err);
    cr_assert_eq(f.slot_hog, 3);
    unlink(path);
    cr_assert_eq(gd_inst_faults_load(path, &f, err, sizeof err), 0, "no file: no fault");
    cr_assert_eq(f.slot_hog, 0);
    cr_assert_eq(gd_inst_faults_load(NULL, &f, err, sizeof err), 0);
}
