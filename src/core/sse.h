/* Server-sent events framing (the text/event-stream format of the HTML standard):
 * events with a name and data lines, and comment lines that keep a stream alive. */
#ifndef GD_SSE_H
#define GD_SSE_H

#include "core/buf.h"

#include <stddef.h>

/** Appends one event to b: "event: NAME\n" (when name is not NULL or ""), then one
 *  "data: " line per line of data (split at LF, CRLF or CR: a reader joins them back
 *  with LF), then the empty line that dispatches it. name must hold no CR or LF
 *  (GD_EINVAL). 0, or GD_ETOOBIG when b would pass its maximum (b is then left as it
 *  was: a frame is written whole or not at all). */
int gd_sse_event(gd_buf *b, const char *name, const char *data, size_t len);
/** Appends ": TEXT\n\n", a comment readers ignore (a keep-alive). text must hold no CR
 *  or LF (GD_EINVAL). 0, or GD_ETOOBIG with b unchanged. */
int gd_sse_comment(gd_buf *b, const char *text);

#endif
