/* "Did you mean ...?" for the command lines: the known name nearest to a mistyped one,
 * by edit distance (insertions, deletions, substitutions and swaps of neighbours). */
#ifndef GD_SUGGEST_H
#define GD_SUGGEST_H

#include <stddef.h>

/** The edit distance between a and b (optimal string alignment: a swap of two
 *  neighbouring characters counts 1). Words longer than 63 bytes count as far apart. */
int gd_suggest_distance(const char *a, const char *b);
/** Of the n names, the one nearest to word if it is near enough to be a typo (at most
 *  2 edits, and fewer than the word's length), else NULL. Borrowed from names. */
const char *gd_suggest(const char *word, const char *const *names, size_t n);

#endif
