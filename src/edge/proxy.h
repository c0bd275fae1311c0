/* clb and alb forwarding (proxy.c): the modes that send each request to a target of a
 * target group, with retries and the access log. */
#ifndef GD_EDGE_PROXY_H
#define GD_EDGE_PROXY_H

#include "edge/edge.h"

/** The clb mode (one target group made of the document's top level) and the alb mode
 *  (target groups and listener rules). */
extern const gd_edge_mode_ops gd_clb_ops, gd_alb_ops;

/** Allocates the scratch buffers the hot path reuses; once, before serving. */
void gd_proxy_init(void);

#endif
