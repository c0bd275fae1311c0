/* The nearest known name to a mistyped command, for "did you mean ...?" in the usage
 * errors of gameday and gameday ctl. */
#include "cli/suggest.h"

#include <string.h>

#define MAXW 64

int gd_suggest_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la >= MAXW || lb >= MAXW) return MAXW;
    int d[MAXW][MAXW];
    for (size_t i = 0; i <= la; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int cost = a[i - 1] != b[j - 1];
            int v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v) v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[la][lb];
}

const char *gd_suggest(const char *word, const char *const *names, size_t n)
{
    const char *best = NULL;
    int bestd = 3;
    for (size_t i = 0; i < n; i++) {
        int dist = gd_suggest_distance(word, names[i]);
        if (dist < bestd) {
            bestd = dist;
            best = names[i];
        }
    }
    return best && (size_t)bestd < strlen(word) ? best : NULL;
}
