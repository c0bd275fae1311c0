/* Containers (ECS): the field tables and checks of cluster, task_definition,
 * ecs_service and task, a task's slots, what a container instance registers, Fargate's
 * sizes, and the placement of a task over container instances (pure: the unit tests
 * drive it with made-up hosts). */
#include "model/ecs.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define F(n, k, req, dflt) .name = (n), .kind = (k), .required = (req), .def = (dflt)
#define RANGE(lo, hi) .ranged = 1, .min = (lo), .max = (hi)

static const char *const task_services[] = {"unicorn", "time", NULL};
static const char *const launch_types[] = {"EC2", "FARGATE", NULL};
static const char *const strategies[] = {"binpack", "spread", NULL};
static const char *const task_states[] = {"pending", "running", "stopped", NULL};

const gd_field gd_ecs_cluster_fields[] = {
    {F("tags", GD_F_TAGS, 0, NULL)},
    {.name = NULL},
};

const gd_field gd_ecs_taskdef_fields[] = {
    {F("service", GD_F_ENUM, 0, "\"unicorn\""), .enums = task_services},
    /* the release its tasks run (absent: v2); a change is a new revision */
    {F("service_version", GD_F_ENUM, 0, NULL), .enums = gd_releases},
    /* cpu units (1024 a vCPU) and memory MiB the task reserves on its host */
    {F("cpu", GD_F_INT, 0, "256"), RANGE(128, 4096)},
    {F("memory", GD_F_INT, 0, "512"), RANGE(128, 30720)},
    {F("port", GD_F_INT, 0, "8000"), RANGE(1024, 65535)},
    {F("queue", GD_F_INT, 0, "32"), RANGE(0, 100000)},
    {F("service_time", GD_F_DUR, 0, "4"), RANGE(0, 3600)},
    /* from placement to the process starting (an image pull on a warm host) */
    {F("start_time", GD_F_DUR, 0, "10"), RANGE(0, 3600)},
    {F("tags", GD_F_TAGS, 0, NULL)},
    {.name = NULL},
};

const gd_field gd_ecs_service_fields[] = {
    {F("cluster", GD_F_REF, 1, NULL)},
    {F("task_definition", GD_F_REF, 1, NULL)},
    {F("desired_count", GD_F_INT, 0, "1"), RANGE(0, GD_ECS_MAX_TASKS)},
    {F("launch_type", GD_F_ENUM, 0, "\"EC2\""), .enums = launch_types},
    {F("placement_strategy", GD_F_ENUM, 0, "\"binpack\""), .enums = strategies},
    /* FARGATE only: where its tasks take their addresses */
    {F("subnets", GD_F_REFS, 0, NULL), RANGE(0, 6)},
    {F("target_groups", GD_F_REFS, 0, "[]"), RANGE(0, 5)},
    /* a running task its target groups find unhealthy is stopped, after this grace */
    {F("health_check_grace", GD_F_DUR, 0, "0"), RANGE(0, 7200)},
    /* the deployment circuit breaker: after gd_ecs_breaker_threshold failed tasks of
     * one task definition, no more are started (doc/resources.md) */
    {F("circuit_breaker", GD_F_BOOL, 0, "false")},
    /* with circuit_breaker: a failed deployment goes back to the last completed one */
    {F("rollback", GD_F_BOOL, 0, "false")},
    /* a rolling deployment keeps at least this share of desired_count healthy, and
     * runs at most maximum_percent of it (AWS's deploymentConfiguration) */
    {F("minimum_healthy_percent", GD_F_INT, 0, "100"), RANGE(0, 100)},
    {F("maximum_percent", GD_F_INT, 0, "200"), RANGE(100, 200)},
    {F("tags", GD_F_TAGS, 0, NULL)},
    {.name = NULL},
};

int gd_ecs_breaker_threshold(int desired)
{
    int half = (desired + 1) / 2; /* half of desired, rounded up */
    return half < 3 ? 3 : half > 200 ? 200 : half;
}

/* A task is made by its service's scheduler (src/server/ecs.c), never by a player. */
const gd_field gd_ecs_task_fields[] = {
    {F("ecs_service", GD_F_STR, 1, NULL)},
    {F("cluster", GD_F_STR, 1, NULL)},
    {F("task_definition", GD_F_STR, 1, NULL)},
    {F("launch_type", GD_F_ENUM, 0, "\"EC2\""), .enums = launch_types},
    {F("desired_status", GD_F_ENUM, 0, "\"running\""), .enums = task_states},
    {.name = NULL},
};

static const struct {
    int cpu, mem_min, mem_max;
} fargate_sizes[] = {
    {256, 512, 2048},    {512, 1024, 4096},   {1024, 2048, 8192},
    {2048, 4096, 16384}, {4096, 8192, 30720},
};

int gd_ecs_fargate_size_ok(int cpu, int memory, char *allow, size_t n)
{
    for (size_t i = 0; i < sizeof fargate_sizes / sizeof fargate_sizes[0]; i++) {
        if (fargate_sizes[i].cpu != cpu) continue;
        int lo = fargate_sizes[i].mem_min, hi = fargate_sizes[i].mem_max;
        /* 256 cpu also takes 512; above the smallest, steps of 1024 */
        int ok = memory >= lo && memory <= hi && (memory == 512 || memory % 1024 == 0);
        if (!ok && allow) snprintf(allow, n, "%d..%d MiB (steps of 1024) with cpu %d", lo, hi, cpu);
        return ok;
    }
    if (allow) snprintf(allow, n, "cpu 256, 512, 1024, 2048 or 4096");
    return 0;
}

int gd_ecs_task_slots(int cpu, const char *itype, int process_slots)
{
    double share;
    if (itype) {
        const gd_itype *t = gd_itype_find(itype);
        share = t ? (double)cpu * t->slots / (t->vcpu * 1024.0) : 1;
    } else {
        share = (double)cpu * GD_ECS_FARGATE_SLOTS_PER_VCPU / 1024.0;
    }
    long s = lround(share);
    if (s < 1) s = 1;
    if (process_slots > 0 && s > process_slots) s = process_slots;
    return s > 100000 ? 100000 : (int)s;
}

void gd_ecs_registered(const char *itype, int *cpu, int *memory)
{
    const gd_itype *t = gd_itype_find(itype);
    *cpu = t ? t->vcpu * 1024 : 0;
    *memory = t ? (int)lround(t->memory_gib * 1024) : 0;
}

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

void gd_ecs_service_check_arch(gd_arch_check *a, const json_t *res)
{
    json_t *spec = json_object_get(res, "spec");
    json_t *minp = json_object_get(spec, "minimum_healthy_percent");
    json_t *maxp = json_object_get(spec, "maximum_percent");
    int lo = minp ? (int)json_integer_value(minp) : 100;
    int hi = maxp ? (int)json_integer_value(maxp) : 200;
    if (hi <= lo) {
        char allow[64];
        snprintf(allow, sizeof allow, "more than minimum_healthy_percent (%d)", lo);
        gd_arch_fail(a, spec, "maximum_percent", maxp, "maximum_percent", allow,
                     "a deployment could neither start a new task nor stop an old one");
        return;
    }
    if (json_is_true(json_object_get(spec, "rollback")) &&
        !json_is_true(json_object_get(spec, "circuit_breaker"))) {
        gd_arch_fail(a, spec, "rollback", json_object_get(spec, "rollback"), "rollback",
                     "true only with circuit_breaker: true",
                     "the circuit breaker is what decides to roll back");
        return;
    }
    json_t *subnets = json_object_get(spec, "subnets");
    int fargate = !strcmp(jstr(spec, "launch_type"), "FARGATE");
    if (fargate && json_array_size(subnets) == 0) {
        gd_arch_fail(a, spec, "subnets", subnets, "subnets", "1..6 subnets",
                     "a FARGATE service needs subnets for its tasks' addresses");
        return;
    }
    if (!fargate && json_array_size(subnets) > 0) {
        gd_arch_fail(a, spec, "subnets", subnets, "subnets",
                     "none: EC2 tasks take addresses in their container instance's subnet",
                     "only a FARGATE service names subnets");
        return;
    }
    const json_t *td = gd_arch_find(a->resources, "task_definition", jstr(spec, "task_definition"));
    if (!fargate || !td) return;
    json_t *ts = json_object_get(td, "spec");
    int cpu = (int)json_integer_value(json_object_get(ts, "cpu"));
    int mem = (int)json_integer_value(json_object_get(ts, "memory"));
    char allow[96];
    if (!gd_ecs_fargate_size_ok(cpu, mem, allow, sizeof allow))
        gd_arch_fail(a, spec, "launch_type", json_object_get(spec, "launch_type"), "launch_type",
                     allow, "task definition '%s' (cpu %d, memory %d) is not a Fargate size",
                     jstr(spec, "task_definition"), cpu, mem);
}

/* The zone's count of the service's tasks, over every host in it. */
static int zone_count(const gd_ecs_host *hosts, size_t n, const char *az)
{
    int c = 0;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(hosts[i].az ? hosts[i].az : "", az ? az : "")) c += hosts[i].mine;
    return c;
}

int gd_ecs_place(const gd_ecs_host *hosts, size_t n, int cpu, int memory,
                 enum gd_ecs_strategy strategy, const char **reason)
{
    if (n == 0) {
        *reason = "NO_CONTAINER_INSTANCES";
        return -1;
    }
    int best = -1, best_zone = 0, cpu_fits = 0;
    for (size_t i = 0; i < n; i++) {
        const gd_ecs_host *h = &hosts[i];
        if (h->cpu_free < cpu) continue;
        cpu_fits = 1;
        if (h->mem_free < memory) continue;
        int zone = strategy == GD_ECS_SPREAD ? zone_count(hosts, n, h->az) : 0;
        if (best < 0 || zone < best_zone ||
            (zone == best_zone &&
             (h->cpu_free < hosts[best].cpu_free ||
              (h->cpu_free == hosts[best].cpu_free && h->mem_free < hosts[best].mem_free)))) {
            best = (int)i;
            best_zone = zone;
        }
    }
    if (best < 0) *reason = cpu_fits ? "RESOURCE:MEMORY" : "RESOURCE:CPU";
    return best;
}
