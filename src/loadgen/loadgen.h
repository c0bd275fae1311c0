/* The loadgen role: a team's customers. It sends the scenario's traffic at the team's
 * endpoint, checks every answer and reports counts and points to the server. */
#ifndef GD_LOADGEN_H
#define GD_LOADGEN_H

/* argv[0] is the role name; returns the process exit code (0 ok, 1 failure, 2 usage). */
int gd_cmd_loadgen(int argc, char **argv);

#endif
