/* Temporary: roles not yet written. Removed as each role lands. */
#include "cli/roles.h"

#include <stdio.h>

#define STUB(f) int f(int argc, char **argv) { (void)argc; fprintf(stderr, "%s: not yet built\n", argv[0]); return 1; }
STUB(gd_cmd_play)
STUB(gd_cmd_server)
STUB(gd_cmd_edge)
STUB(gd_cmd_instance)
STUB(gd_cmd_loadgen)
STUB(gd_cmd_ctl)
STUB(gd_cmd_hash)
