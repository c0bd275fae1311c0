/* Server-sent events framing: an event is "event:" and "data:" lines and an empty line;
 * data with line breaks becomes several data lines. A frame is appended whole or not. */
#include "core/sse.h"
#include "core/err.h"

#include <string.h>

static int has_break(const char *s)
{
    return s && strpbrk(s, "\r\n") != NULL;
}

int gd_sse_event(gd_buf *b, const char *name, const char *data, size_t len)
{
    if (has_break(name)) return GD_EINVAL;
    size_t start = b->len;
    int r = 0;
    if (name && *name) r |= gd_buf_puts(b, "event: ") | gd_buf_puts(b, name) | gd_buf_puts(b, "\n");
    for (size_t i = 0;;) {
        size_t j = i;
        while (j < len && data[j] != '\n' && data[j] != '\r') j++;
        r |= gd_buf_puts(b, "data: ") | gd_buf_append(b, data + i, j - i) | gd_buf_puts(b, "\n");
        if (j >= len) break;
        if (data[j] == '\r' && j + 1 < len && data[j + 1] == '\n') j++;
        i = j + 1;
    }
    r |= gd_buf_puts(b, "\n");
    if (r) {
        b->len = start;
        return GD_ETOOBIG;
    }
    return 0;
}

int gd_sse_comment(gd_buf *b, const char *text)
{
    if (has_break(text)) return GD_EINVAL;
    size_t start = b->len;
    if (gd_buf_puts(b, ": ") | gd_buf_puts(b, text) | gd_buf_puts(b, "\n\n")) {
        b->len = start;
        return GD_ETOOBIG;
    }
    return 0;
}
