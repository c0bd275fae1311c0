/* The one allocation wrapper family. Out of memory aborts with a log line:
 * a game process has nothing sensible to do without memory. gd_mem_live()
 * counts live allocations so tests can check that a module frees what it takes. */
#ifndef GD_MEM_H
#define GD_MEM_H

#include <stdarg.h>
#include <stddef.h>

void *gd_malloc(size_t n);
void *gd_calloc(size_t n, size_t size);
void *gd_realloc(void *p, size_t n);
void gd_free(void *p);
char *gd_strdup(const char *s);
char *gd_strndup(const char *s, size_t n);
/** printf into a new string the caller frees with gd_free. */
char *gd_sprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/** The same with a va_list. */
char *gd_vsprintf(const char *fmt, va_list ap);
/** Writes the NULL-terminated items as "a, b, c" into buf (n bytes, truncated). */
void gd_join(const char *const *items, char *buf, size_t n);
/** Number of gd_ allocations not yet freed (approximate: realloc counts once). */
long gd_mem_live(void);

#endif
