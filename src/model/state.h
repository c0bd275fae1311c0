/* The lifecycle of an instance, as EC2 names it. The state is kept as its AWS name in
 * the resource's status (the API and the console show it as is); code that decides by
 * it reads it once through gd_inst_state_of and compares enums.
 *
 *   pending --(boot time over, process up)--> running --(terminate, exit)--> terminated
 *      \______________________(terminate, launch failed)________________________/
 *   running/pending --(stop)--> stopped --(start: boots again)--> pending
 *   stopped --(terminate)--> terminated
 * A stopped instance has no process and is not billed; it keeps its address.
 */
#ifndef GD_MODEL_STATE_H
#define GD_MODEL_STATE_H

#include <jansson.h>

typedef enum {
    GD_INST_UNKNOWN = 0, /* no status yet, or a state this release does not know */
    GD_INST_PENDING,
    GD_INST_RUNNING,
    GD_INST_TERMINATED,
    GD_INST_STOPPED,
} gd_inst_state;

/* The state named by status.state (status may be NULL). */
gd_inst_state gd_inst_state_of(const json_t *status);
/* The state of a resource row ({"status": {...}}). */
gd_inst_state gd_inst_state_of_res(const json_t *res);
/* The AWS name: "pending", "running", "terminated", "stopped" ("unknown" for
 * GD_INST_UNKNOWN). */
const char *gd_inst_state_name(gd_inst_state s);
/* Whether an instance in state s still runs or will (pending or running). */
int gd_inst_state_live(gd_inst_state s);

#endif
