/* The resource registry: one row per resource type, with everything the rest of
 * gameday needs to know about it (fields and defaults, id prefix, references to other
 * types, checks within a spec and against the rest of the architecture, what blocks a
 * delete, whether customers may enter there, how it is billed). The scenario loader,
 * the API's operations, the reconcilers, billing and the docs all read these rows:
 * adding a type is adding a row (src/model/registry.c), its reconciler and its docs. */
#ifndef GD_MODEL_REGISTRY_H
#define GD_MODEL_REGISTRY_H

#include <jansson.h>
#include <stddef.h>

/* What a field holds. */
enum gd_fkind {
    GD_F_STR,  /* any string */
    GD_F_INT,  /* integer, optionally in [min, max] */
    GD_F_NUM,  /* number, optionally in [min, max] */
    GD_F_BOOL, /* true or false */
    GD_F_DUR,  /* duration, stored as seconds, optionally in [min, max] seconds */
    GD_F_CIDR, /* "127.T.x.y/n" with prefix in [min, max], inside the team's /16 */
    GD_F_REF,  /* the name of another resource */
    GD_F_REFS, /* a list of names, at least min of them */
    GD_F_ENUM, /* one of enums */
    GD_F_MAP,  /* a nested mapping of sub fields */
    GD_F_STRS, /* a list of strings, at least min of them */
    GD_F_LIST, /* a list of mappings, at most max of them (checked further by its type) */
    GD_F_OBJ,  /* a mapping of user-chosen keys, at most max of them (checked by its type) */
    GD_F_TAGS, /* tags: a mapping of string keys (1..128 chars) to string values (0..256) */
};

/* One field of a spec. Tables of fields end with a NULL name. */
typedef struct gd_field {
    const char *name;
    enum gd_fkind kind;
    int required;
    const char *def; /* default as JSON text; NULL: none (the field may be absent) */
    int ranged;      /* min and max apply */
    double min, max;
    const char *const *enums;
    const struct gd_field *sub; /* GD_F_MAP: fields */
} gd_field;

/* A field that names a resource of another type. target is a type name or a group:
 * "lb" (any type with GD_RT_LB) or "entry" (GD_RT_ENTRY). */
typedef struct gd_ref {
    const char *field, *target;
} gd_ref;

/* Row flags. */
#define GD_RT_LB 1u    /* a load balancer: an asg's load_balancers and a cdn's origin name it */
#define GD_RT_ENTRY 2u /* customers may enter here (architecture.endpoint, ctl endpoint) */
#define GD_RT_EDGE 4u  /* runs as a `gameday edge` process on an address of its own */
#define GD_RT_GAME 8u  /* made by the game (an experiment: start_experiment), never created */

/* How a type is billed (prices come from the scenario's billing.prices). */
enum gd_price_model {
    GD_PRICE_NONE,
    GD_PRICE_INSTANCE, /* per second of its instance_type's hourly price, a minimum first */
    GD_PRICE_HOURLY,   /* per resource-hour at the price named like the type */
    GD_PRICE_REQUESTS, /* per 10,000 requests it answered (RequestCount), price named like the type
                        */
    GD_PRICE_NODES,    /* per node-hour at its node type's (or class's) price, and a db's storage */
    GD_PRICE_INVOCATIONS, /* per request and per GB-second of its invocations (a function) */
    GD_PRICE_TASK,        /* a FARGATE task: per vCPU-second and GB-second, a minimum first */
};

typedef struct gd_spec_check gd_spec_check; /* a spec being checked (schema.c) */
typedef struct gd_arch_check gd_arch_check; /* a resource checked against its architecture */

typedef struct gd_rtype {
    const char *name;    /* "alb" */
    const char *prefix;  /* of its ids: "alb" makes "alb-3f2a..." */
    const char *summary; /* one line, for docs, ctl and the console */
    unsigned flags;      /* GD_RT_* */
    const gd_field *fields;
    const gd_ref *refs; /* ends with a NULL field */
    /* Checks between the fields of one spec, after each field passed (may be NULL). */
    void (*check_spec)(gd_spec_check *x, json_t *spec);
    /* Checks against the rest of the architecture, after its references (may be NULL). */
    void (*check_arch)(gd_arch_check *a, const json_t *res);
    /* Beyond its reference fields: 1 if res depends on `on` (a delete of `on` is then a
     * DependencyViolation), -1 if res never blocks a delete, 0 if only its refs count. */
    int (*depends)(const json_t *res, const json_t *on);
    enum gd_price_model price;
    /* GD_PRICE_NODES: the spec field naming each node's size, which the scenario's
     * billing.prices price by the hour (else list_price, when not NULL), and the unit of
     * its bill line ("<size> <unit>"). A spec with `storage_gb` also pays its storage. */
    const char *price_size, *price_unit;
    double (*list_price)(const char *size);
} gd_rtype;

/** Every row, in the order types are listed to users; *n gets their number. */
const gd_rtype *gd_registry_all(size_t *n);
/** The unicorn service's releases, a `service_version` (doc/resources.md): v1 fails now
 *  and then, v2 is fixed, v3 keeps computed hashes, v4 is a broken build. */
extern const char *const gd_releases[];

/* The instance-type catalogue: what each type has, and how many slots (requests
 * worked on at once, the emulated CPU) it serves relative to the others. The list
 * prices are the scenario's (billing.prices). */
typedef struct gd_itype {
    const char *name;
    int vcpu;
    double memory_gib;
    int slots; /* a service's slots on this type, in the unit where t3.micro has 5 */
} gd_itype;
/** The catalogue entry of a type, NULL when unknown. */
const gd_itype *gd_itype_find(const char *name);
/** The catalogue, n entries, in the order of the instance_type enum. */
const gd_itype *gd_itype_all(size_t *n);
/** The slots an instance of type `itype` gets from a launch template that gives
 *  `lt_slots` on `lt_type`: lt_slots x slots(itype) / slots(lt_type), rounded, at least
 *  1 (lt_slots when either type is unknown). */
int gd_itype_slots(int lt_slots, const char *lt_type, const char *itype);
/** The row of a type, or NULL when it is not a resource type. */
const gd_rtype *gd_registry_find(const char *type);
/** 1 if type has every flag in flags (0 for an unknown type). */
int gd_registry_has(const char *type, unsigned flags);
/** The names of the types with every flag in flags (0: every type), NULL-terminated
 *  into names (at most max - 1); returns how many. */
size_t gd_registry_names(unsigned flags, const char **names, size_t max);

#endif
