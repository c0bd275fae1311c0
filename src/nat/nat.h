/* `gameday nat`: the game's Elastic IP addresses (the one-to-one NAT an internet
 * gateway does). For every mapping of its document it listens on the Elastic IP and
 * port and forwards each TCP connection, both ways, to the instance behind it. */
#ifndef GD_NAT_NAT_H
#define GD_NAT_NAT_H

/* The nat role (argv[0] is its name); returns the process exit code. */
int gd_cmd_nat(int argc, char **argv);

#endif
