/* Entry points of the commands the CLI itself implements (the other roles declare
 * theirs in their own folder: edge/edge.h, server/game.h, loadgen/loadgen.h,
 * services/instance.h); argv[0] is the command name. Each returns the
 * process exit code (0 ok, 1 failure, 2 usage error). */
#ifndef GD_ROLES_H
#define GD_ROLES_H

int gd_cmd_play(int argc, char **argv);
int gd_cmd_host(int argc, char **argv);
int gd_cmd_ctl(int argc, char **argv);
int gd_cmd_hash(int argc, char **argv);
int gd_cmd_openloop(int argc, char **argv);
int gd_cmd_report(int argc, char **argv);

#endif
