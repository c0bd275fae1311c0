/* Faults in force: what a running experiment's action (FIS) has done to one resource
 * (an edge's link, an instance, a DNS record) until it is rolled back. The experiment
 * runner adds and removes them; each reconciler asks here what to add to the
 * configuration of the process it pushes to (the edge's "faults", an instance's fault
 * file, a record's faults in the DNS server's zones), so a fault reaches the real
 * process the same way any other change does. In memory only: after a server restart
 * the runner adds again the faults of the experiments still running. */
#ifndef GD_SERVER_FAULTS_H
#define GD_SERVER_FAULTS_H

#include "server/game.h"

#include <jansson.h>

/** Adds (or replaces, by id) a fault on the resource of id target_id of a team.
 *  fault is what the process is told, {"kind": ..., params...}; "id" is set in it.
 *  by names who put it there ("fis exp-1a2b3c4d"). Copies fault; runs the reconcilers
 *  so that it reaches its process. */
void gd_faults_add(gd_game *g, int team, const char *target_id, const char *id, const json_t *fault,
                   const char *by);
/** Removes the fault of that id (nothing if there is none) and runs the reconcilers. */
void gd_faults_remove(gd_game *g, const char *id);
/** The faults on a resource, as the process is told them: a new array of
 *  {"id", "kind", params...}, empty when none. */
json_t *gd_faults_for(gd_game *g, const char *target_id);
/** Every fault in force: a new array of {"id","team","target","by","fault":{...}}. */
json_t *gd_faults_all(gd_game *g);

/** Whether a fault in force on the team's API refuses a call: a throttle of `event`
 *  (by its audit name, or all with "*"), or, for a launch (event RunInstances) in zone
 *  az, no capacity. Each fault refuses its percentage of the calls it covers. 1 with
 *  the AWS error code in *code and a message in msg when refused; 0 else. Throttles
 *  cover only the team's own calls (team_call), capacity every launch. */
int gd_faults_refuse(gd_game *g, int team, int team_call, const char *event, const char *az,
                     const char **code, char *msg, size_t n);

#endif
