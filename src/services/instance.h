/* The instance role: one EC2-like instance, an HTTP service whose CPU time is
 * emulated (a request holds one of its slots for its service time on a timer). */
#ifndef GD_INSTANCE_H
#define GD_INSTANCE_H

/* argv[0] is the role name; returns the process exit code (0 ok, 1 failure, 2 usage). */
int gd_cmd_instance(int argc, char **argv);

#endif
