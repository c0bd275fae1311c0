/* libFuzzer target for the scenario loader (gd_scenario_load: YAML through src/core/conf.c,
 * then the schema and architecture checks): each input is one scenario file, written to a
 * temp file since the loader reads a path. Build and run with `fuzz/run scenario`. */
#include "core/conf.h"
#include "core/err.h"
#include "core/mem.h"
#include "model/scenario.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "scenario_fuzz: check failed: %s (line %d)\n", #cond, __LINE__);       \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

static void remove_temp(void)
{
    if (path[0]) unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0]) {
        snprintf(path, sizeof path, "/tmp/scenario_fuzz.%ld.yaml", (long)getpid());
        atexit(remove_temp);
    }
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK(fwrite(data, 1, size, f) == size);
    CHECK(fclose(f) == 0);

    long live = gd_mem_live();
    gd_errs errs = {0};
    gd_scenario *sc = (gd_scenario *)1;
    int rc = gd_scenario_load(path, &sc, &errs);
    if (rc == 0) {
        /* a scenario that loads is whole and says nothing is wrong */
        CHECK(sc != NULL && sc != (gd_scenario *)1);
        CHECK(errs.n == 0);
        CHECK(sc->name != NULL && sc->resources != NULL);
        gd_scenario_free(sc);
    } else {
        /* a refused one leaves nothing behind and says where and what */
        CHECK(rc < 0 && sc == NULL);
        CHECK(errs.n > 0);
        for (int i = 0; i < errs.n; i++) CHECK(errs.msgs[i] && errs.msgs[i][0]);
    }
    gd_errs_free(&errs);
    CHECK(gd_mem_live() == live);
    return 0;
}
