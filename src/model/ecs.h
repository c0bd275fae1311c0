/* Containers (ECS), what is pure about them: the field tables of cluster,
 * task_definition, ecs_service and task with their checks, a task's slots (its share of
 * its container instance's emulated CPU, or of a Fargate vCPU), the resources a
 * container instance registers, Fargate's task sizes, and where a task goes
 * (bin-packing or spread by zone over the container instances). The server's
 * reconciler (src/server/ecs.c) runs the tasks' processes with these. */
#ifndef GD_MODEL_ECS_H
#define GD_MODEL_ECS_H

#include "model/arch.h"
#include "model/registry.h"
#include "model/schema.h"

#include <jansson.h>
#include <stddef.h>

/* Tasks a service may ask for (desired_count), which bounds a cluster's memory too. */
#define GD_ECS_MAX_TASKS 50
/* Slots one Fargate vCPU serves: an m5's (m5.large: 40 slots on 2 vCPUs). */
#define GD_ECS_FARGATE_SLOTS_PER_VCPU 20

/** The registry's field tables (registry.c's rows point at them). */
extern const gd_field gd_ecs_cluster_fields[];
extern const gd_field gd_ecs_taskdef_fields[];
extern const gd_field gd_ecs_service_fields[];
extern const gd_field gd_ecs_task_fields[];
/** The failed tasks that trip a service's deployment circuit breaker: half of
 *  desired_count rounded up, at least 3 and at most 200 (AWS's rule). */
int gd_ecs_breaker_threshold(int desired);
/** An ecs_service against its architecture: FARGATE needs subnets and a task
 *  definition of one of Fargate's sizes (gd_ecs_fargate_size_ok); EC2 names no subnets
 *  (its tasks take addresses in their container instance's subnet). */
void gd_ecs_service_check_arch(gd_arch_check *a, const json_t *res);

/** 1 when cpu units and memory MiB are a size Fargate offers (256 with 512..2048, 512
 *  with 1024..4096, 1024 with 2048..8192, 2048 with 4096..16384, 4096 with 8192..30720,
 *  memory in steps of 1024 above the smallest); else 0 and the allowed memory of that
 *  cpu (or the allowed cpus) in allow. */
int gd_ecs_fargate_size_ok(int cpu, int memory, char *allow, size_t n);

/** The slots a task of cpu units gets: on a container instance of type itype, its
 *  share of the type's slots (cpu / (vCPUs x 1024) of them); on Fargate (itype NULL),
 *  GD_ECS_FARGATE_SLOTS_PER_VCPU per 1024 units. Rounded, at least 1, and at most
 *  process_slots when that is > 0 (the service's own limit, doc/resources.md). */
int gd_ecs_task_slots(int cpu, const char *itype, int process_slots);
/** What a container instance of type itype registers: cpu units (vCPUs x 1024) and
 *  memory MiB (GiB x 1024). 0 for an unknown type. */
void gd_ecs_registered(const char *itype, int *cpu, int *memory);

/* A container instance as placement sees it. */
typedef struct gd_ecs_host {
    const char *az; /* its zone */
    int cpu_free;   /* cpu units not reserved by its tasks */
    int mem_free;   /* memory MiB not reserved by its tasks */
    int mine;       /* tasks of the service being placed that it runs */
} gd_ecs_host;

enum gd_ecs_strategy {
    GD_ECS_BINPACK, /* the host left with the least cpu (then memory) that still fits */
    GD_ECS_SPREAD,  /* the zone with the fewest of the service's tasks, bin-packed there */
};

/** Where a task of cpu units and memory MiB goes among n hosts: the index of the
 *  chosen one, or -1 with *reason "RESOURCE:CPU" (no host has the cpu free),
 *  "RESOURCE:MEMORY" (some have the cpu, none of them the memory) or
 *  "NO_CONTAINER_INSTANCES" (n is 0). Ties go to the lowest index. */
int gd_ecs_place(const gd_ecs_host *hosts, size_t n, int cpu, int memory,
                 enum gd_ecs_strategy strategy, const char **reason);

#endif
