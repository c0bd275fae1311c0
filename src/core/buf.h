/* Growable byte buffer with a hard maximum: reaching it is GD_ETOOBIG, never a
 * realloc loop. */
#ifndef GD_BUF_H
#define GD_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct gd_buf {
    char *data;
    size_t len, cap, max;
} gd_buf;

/** Initialises an empty buffer that may grow to max bytes. */
void gd_buf_init(gd_buf *b, size_t max);
void gd_buf_free(gd_buf *b);
/** Makes room for n more bytes; GD_ETOOBIG past the maximum. */
int gd_buf_reserve(gd_buf *b, size_t n);
int gd_buf_append(gd_buf *b, const void *p, size_t n);
int gd_buf_puts(gd_buf *b, const char *s);
int gd_buf_printf(gd_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Drops the first n bytes. */
void gd_buf_consume(gd_buf *b, size_t n);
void gd_buf_reset(gd_buf *b);
/** Keeps data NUL-terminated for callers that need a C string (not counted in len). */
const char *gd_buf_cstr(gd_buf *b);

#endif
