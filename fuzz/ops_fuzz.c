/* libFuzzer target: an API request body for POST /api/v1/resources, through the
 * operations layer's check (gd_op_check_spec: who may ask for what, the spec's fields
 * from the registry, the resource against the rest of the architecture). The team's
 * architecture is the default scenario's, loaded once. Any input must give 0 or an
 * error with a status and a code, and never crash, leak or read out of bounds. */
#include "core/conf.h"
#include "model/scenario.h"
#include "server/ops.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static gd_scenario *sc;

static void load(void)
{
    gd_errs errs = {0};
    const char *path = getenv("GD_FUZZ_SCENARIO");
    if (gd_scenario_load(path ? path : "scenarios/unicorn-rentals.yaml", &sc, &errs) < 0) {
        fprintf(stderr, "ops_fuzz: cannot load the scenario: %s\n", errs.n ? errs.msgs[0] : "?");
        abort();
    }
    gd_errs_free(&errs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!sc) load();
    json_t *body = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (!body) return 0;
    const char *type = json_string_value(json_object_get(body, "type"));
    const char *name = json_string_value(json_object_get(body, "name"));
    json_t *spec = json_deep_copy(json_object_get(body, "spec"));
    int trust = (int)json_integer_value(json_object_get(body, "trust")) % 3;
    json_t *old = json_object_get(body, "old_spec");
    if (type && gd_registry_find(type) && name && json_is_object(spec)) {
        gd_actor who = {.team = 1, .principal = "team-1", .trust = (enum gd_trust)trust};
        gd_op_result out = {0};
        int r = gd_op_check_spec(&who, type, name, spec, json_is_object(old) ? old : NULL,
                                 sc->resources, 1 + (int)(size % 200), sc->allowed_commands, &out);
        if (r < 0 && (out.status < 400 || !out.code)) abort(); /* an error says what it is */
        if (r == 0 && out.code) abort();
        json_decref(gd_op_answer(&out));
    }
    json_decref(spec);
    json_decref(body);
    return 0;
}
