/* Entry points of the gameday roles; argv[0] is the role name. Each returns the
 * process exit code (0 ok, 1 failure, 2 usage error). */
#ifndef GD_ROLES_H
#define GD_ROLES_H

int gd_cmd_play(int argc, char **argv);
int gd_cmd_server(int argc, char **argv);
int gd_cmd_edge(int argc, char **argv);
int gd_cmd_instance(int argc, char **argv);
int gd_cmd_loadgen(int argc, char **argv);
int gd_cmd_ctl(int argc, char **argv);
int gd_cmd_hash(int argc, char **argv);
int gd_cmd_openloop(int argc, char **argv);

#endif
