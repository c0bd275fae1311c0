/* `gameday lambda`: one function's invocations and execution environments (lambda.c). */
#ifndef GD_SERVICES_LAMBDA_H
#define GD_SERVICES_LAMBDA_H

int gd_cmd_lambda(int argc, char **argv);

#endif
