/* Bounded growable buffers. */
#include "core/buf.h"
#include "core/err.h"
#include "core/mem.h"

#include <stdio.h>
#include <string.h>

void gd_buf_init(gd_buf *b, size_t max)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->max = max;
}

void gd_buf_free(gd_buf *b)
{
    gd_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int gd_buf_reserve(gd_buf *b, size_t n)
{
    if (b->len + n + 1 <= b->cap) return 0;
    if (b->len + n > b->max) return GD_ETOOBIG;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1) cap *= 2;
    if (cap > b->max + 1) cap = b->max + 1;
    b->data = gd_realloc(b->data, cap);
    b->cap = cap;
    return 0;
}

int gd_buf_append(gd_buf *b, const void *p, size_t n)
{
    int r = gd_buf_reserve(b, n);
    if (r) return r;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return 0;
}

int gd_buf_puts(gd_buf *b, const char *s)
{
    return gd_buf_append(b, s, strlen(s));
}

int gd_buf_printf(gd_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    int r = gd_buf_reserve(b, (size_t)n);
    if (r) return r;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void gd_buf_consume(gd_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
    } else {
        memmove(b->data, b->data + n, b->len - n);
        b->len -= n;
    }
    if (b->data) b->data[b->len] = 0;
}

void gd_buf_reset(gd_buf *b)
{
    b->len = 0;
    if (b->data) b->data[0] = 0;
}

const char *gd_buf_cstr(gd_buf *b)
{
    if (b->data == NULL) return "";
    return b->data;
}
