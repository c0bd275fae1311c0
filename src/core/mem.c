/* Allocation wrappers: abort on exhaustion, count live blocks. */
#include "core/mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long live;

static void *check(void *p, size_t n)
{
    if (p == NULL && n != 0) {
        fprintf(stderr, "lvl=fatal ev=out_of_memory bytes=%zu\n", n);
        abort();
    }
    return p;
}

void *gd_malloc(size_t n)
{
    live++;
    return check(malloc(n ? n : 1), n ? n : 1);
}

void *gd_calloc(size_t n, size_t size)
{
    live++;
    return check(calloc(n ? n : 1, size ? size : 1), 1);
}

void *gd_realloc(void *p, size_t n)
{
    if (p == NULL) live++;
    return check(realloc(p, n ? n : 1), n ? n : 1);
}

void gd_free(void *p)
{
    if (p == NULL) return;
    live--;
    free(p);
}

char *gd_strdup(const char *s)
{
    return gd_strndup(s, strlen(s));
}

char *gd_strndup(const char *s, size_t n)
{
    char *d = gd_malloc(n + 1);
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

char *gd_vsprintf(const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    char *s = gd_malloc((size_t)n + 1);
    vsnprintf(s, (size_t)n + 1, fmt, again);
    va_end(again);
    return s;
}

char *gd_sprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = gd_vsprintf(fmt, ap);
    va_end(ap);
    return s;
}

long gd_mem_live(void)
{
    return live;
}

void gd_join(const char *const *items, char *buf, size_t n)
{
    size_t off = 0;
    if (n) buf[0] = 0;
    for (int i = 0; items[i] && off < n; i++)
        off += (size_t)snprintf(buf + off, n - off, "%s%s", i ? ", " : "", items[i]);
}
