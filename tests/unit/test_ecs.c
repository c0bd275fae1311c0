/* Unit tests for src/model/ecs.c: where a task goes (bin-packing, spread over zones,
 * the reasons a task stays pending), a task's slots on each instance type and on
 * Fargate with the service's process limit, what a container instance registers, and
 * Fargate's sizes. */
#include <criterion/criterion.h>

#include "model/ecs.h"

#include <string.h>

Test(ecs, binpack_fills_the_fullest_host_that_fits)
{
    gd_ecs_host h[] = {{"a", 2048, 8192, 0}, {"b", 1024, 8192, 0}, {"a", 512, 8192, 0}};
    const char *why = NULL;
    /* 512 fits all three: the one left with the least cpu is the third */
    cr_assert_eq(gd_ecs_place(h, 3, 512, 1024, GD_ECS_BINPACK, &why), 2);
    /* 1024 no longer fits the third: the second */
    cr_assert_eq(gd_ecs_place(h, 3, 1024, 1024, GD_ECS_BINPACK, &why), 1);
    /* 2048 only the first */
    cr_assert_eq(gd_ecs_place(h, 3, 2048, 1024, GD_ECS_BINPACK, &why), 0);
}

Test(ecs, binpack_packs_four_tasks_on_one_m5_large)
{
    int cpu, mem;
    gd_ecs_registered("m5.large", &cpu, &mem);
    cr_assert_eq(cpu, 2048);
    cr_assert_eq(mem, 8192);
    gd_ecs_host h[] = {{"a", cpu, mem, 0}, {"b", cpu, mem, 0}};
    const char *why = NULL;
    for (int k = 0; k < 4; k++) {
        int at = gd_ecs_place(h, 2, 512, 1024, GD_ECS_BINPACK, &why);
        cr_assert_eq(at, 0, "task %d went to host %d", k, at);
        h[at].cpu_free -= 512;
        h[at].mem_free -= 1024;
        h[at].mine++;
    }
    /* the first is full: the fifth goes to the second */
    cr_assert_eq(gd_ecs_place(h, 2, 512, 1024, GD_ECS_BINPACK, &why), 1);
}

Test(ecs, ties_go_to_the_lowest_index_then_less_memory)
{
    gd_ecs_host h[] = {{"a", 1024, 4096, 0}, {"b", 1024, 2048, 0}, {"c", 1024, 2048, 0}};
    const char *why = NULL;
    cr_assert_eq(gd_ecs_place(h, 3, 512, 512, GD_ECS_BINPACK, &why), 1);
}

Test(ecs, spread_takes_the_zone_with_fewest_of_the_service)
{
    /* zone a runs 2 of the service's tasks (over two hosts), zone b 1 */
    gd_ecs_host h[] = {
        {"a", 512, 8192, 1}, {"a", 2048, 8192, 1}, {"b", 1024, 8192, 1}, {"b", 1024, 8192, 0}};
    const char *why = NULL;
    /* zone b, and there the fuller host (bin-packed within the zone) */
    cr_assert_eq(gd_ecs_place(h, 4, 512, 1024, GD_ECS_SPREAD, &why), 2);
    /* binpack alone would take the fullest host anywhere: the first */
    cr_assert_eq(gd_ecs_place(h, 4, 512, 1024, GD_ECS_BINPACK, &why), 0);
    /* a task that fits only in zone a goes there, however many it has */
    cr_assert_eq(gd_ecs_place(h, 4, 2048, 1024, GD_ECS_SPREAD, &why), 1);
}

Test(ecs, spread_alternates_zones)
{
    gd_ecs_host h[] = {{"a", 2048, 8192, 0}, {"b", 2048, 8192, 0}};
    const char *why = NULL;
    const char *zones[4];
    for (int k = 0; k < 4; k++) {
        int at = gd_ecs_place(h, 2, 256, 512, GD_ECS_SPREAD, &why);
        cr_assert_geq(at, 0);
        zones[k] = h[at].az;
        h[at].cpu_free -= 256;
        h[at].mem_free -= 512;
        h[at].mine++;
    }
    cr_assert_str_eq(zones[0], "a");
    cr_assert_str_eq(zones[1], "b");
    cr_assert_str_eq(zones[2], "a");
    cr_assert_str_eq(zones[3], "b");
}

Test(ecs, reasons_a_task_stays_pending)
{
    const char *why = NULL;
    cr_assert_eq(gd_ecs_place(NULL, 0, 256, 512, GD_ECS_BINPACK, &why), -1);
    cr_assert_str_eq(why, "NO_CONTAINER_INSTANCES");
    gd_ecs_host h[] = {{"a", 256, 8192, 0}, {"b", 1024, 1024, 0}};
    /* no host has 2048 cpu free */
    cr_assert_eq(gd_ecs_place(h, 2, 2048, 512, GD_ECS_BINPACK, &why), -1);
    cr_assert_str_eq(why, "RESOURCE:CPU");
    /* the second has the cpu, but not the memory; the first has the memory only */
    cr_assert_eq(gd_ecs_place(h, 2, 1024, 4096, GD_ECS_SPREAD, &why), -1);
    cr_assert_str_eq(why, "RESOURCE:MEMORY");
}

Test(ecs, task_slots_are_a_share_of_the_host)
{
    /* m5.large: 40 slots on 2048 units; 512 units are a quarter */
    cr_assert_eq(gd_ecs_task_slots(512, "m5.large", 0), 10);
    cr_assert_eq(gd_ecs_task_slots(2048, "m5.large", 0), 40);
    /* the service's own limit caps a task as it caps an instance's process */
    cr_assert_eq(gd_ecs_task_slots(2048, "m5.large", 10), 10);
    cr_assert_eq(gd_ecs_task_slots(512, "m5.large", 10), 10);
    /* t3.micro: 5 slots on 2048 units; at least 1 */
    cr_assert_eq(gd_ecs_task_slots(512, "t3.micro", 0), 1);
    cr_assert_eq(gd_ecs_task_slots(128, "t3.micro", 0), 1);
    /* Fargate: 20 slots a vCPU */
    cr_assert_eq(gd_ecs_task_slots(256, NULL, 0), 5);
    cr_assert_eq(gd_ecs_task_slots(1024, NULL, 0), GD_ECS_FARGATE_SLOTS_PER_VCPU);
    cr_assert_eq(gd_ecs_task_slots(4096, NULL, 10), 10);
}

Test(ecs, registered_resources_by_type)
{
    int cpu, mem;
    gd_ecs_registered("c5.xlarge", &cpu, &mem);
    cr_assert_eq(cpu, 4096);
    cr_assert_eq(mem, 8192);
    gd_ecs_registered("t3.micro", &cpu, &mem);
    cr_assert_eq(cpu, 2048);
    cr_assert_eq(mem, 1024);
    gd_ecs_registered("z9.huge", &cpu, &mem);
    cr_assert_eq(cpu, 0);
    cr_assert_eq(mem, 0);
}

Test(ecs, fargate_sizes)
{
    char allow[96];
    cr_assert(gd_ecs_fargate_size_ok(256, 512, allow, sizeof allow));
    cr_assert(gd_ecs_fargate_size_ok(256, 2048, allow, sizeof allow));
    cr_assert(gd_ecs_fargate_size_ok(4096, 30720, allow, sizeof allow));
    cr_assert_not(gd_ecs_fargate_size_ok(256, 4096, allow, sizeof allow));
    cr_assert_str_eq(allow, "512..2048 MiB (steps of 1024) with cpu 256");
    cr_assert_not(gd_ecs_fargate_size_ok(512, 1536, allow, sizeof allow));
    cr_assert_not(gd_ecs_fargate_size_ok(384, 1024, allow, sizeof allow));
    cr_assert_str_eq(allow, "cpu 256, 512, 1024, 2048 or 4096");
}

Test(ecs, circuit_breaker_threshold)
{
    cr_assert_eq(gd_ecs_breaker_threshold(0), 3);
    cr_assert_eq(gd_ecs_breaker_threshold(2), 3);
    cr_assert_eq(gd_ecs_breaker_threshold(7), 4);
    cr_assert_eq(gd_ecs_breaker_threshold(50), 25);
    cr_assert_eq(gd_ecs_breaker_threshold(1000), 200);
}
