/* Magic numbers on heap objects that live across callbacks (Varnish's
 * CHECK_OBJ_NOTNULL): a callback checks its object on entry, so a stale or wrong
 * pointer fails loudly at once instead of corrupting memory later. */
#ifndef GD_CHECK_H
#define GD_CHECK_H

#include "core/log.h"

#include <stdlib.h>

/** Aborts, after one log line naming the object's type, unless p is non-NULL and
 *  p->magic equals m. Every heap struct that a callback receives carries a
 *  `uint32_t magic` set when it is made and cleared when it is freed. */
#define GD_CHECK_OBJ(p, m)                                                                         \
    do {                                                                                           \
        if ((p) == NULL || (p)->magic != (m)) {                                                    \
            gd_error("bad_magic", "what=%s ptr=%p file=%s line=%d", #p, (const void *)(p),         \
                     __FILE__, __LINE__);                                                          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
