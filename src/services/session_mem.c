/* In-process sessions (see session_mem.h): a chained hash table of session ids with a
 * doubly linked recency list through the same entries. */
#include "services/session_mem.h"
#include "core/err.h"
#include "core/mem.h"

#include <openssl/rand.h>
#include <string.h>

#define NBUCKETS 16384

struct entry {
    char sid[GD_SID_LEN + 1];
    char *text;
    size_t len;
    struct entry *hnext;         /* bucket chain */
    struct entry *newer, *older; /* recency list */
};

struct gd_smem {
    struct entry *buckets[NBUCKETS];
    struct entry *newest, *oldest;
    size_t n, max, bytes, max_bytes;
    uint64_t evicted;
};

static size_t bucket(const char *sid)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const char *p = sid; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return (size_t)(h % NBUCKETS);
}

gd_smem *gd_smem_new(size_t max, size_t max_bytes)
{
    gd_smem *m = gd_calloc(1, sizeof *m);
    m->max = max ? max : 1;
    m->max_bytes = max_bytes ? max_bytes : 1;
    return m;
}

void gd_smem_free(gd_smem *m)
{
    if (!m) return;
    for (struct entry *e = m->newest, *next; e; e = next) {
        next = e->older;
        gd_free(e->text);
        gd_free(e);
    }
    gd_free(m);
}

static void unlink_lru(gd_smem *m, struct entry *e)
{
    if (e->newer)
        e->newer->older = e->older;
    else
        m->newest = e->older;
    if (e->older)
        e->older->newer = e->newer;
    else
        m->oldest = e->newer;
    e->newer = e->older = NULL;
}

static void push_newest(gd_smem *m, struct entry *e)
{
    e->older = m->newest;
    e->newer = NULL;
    if (m->newest) m->newest->newer = e;
    m->newest = e;
    if (!m->oldest) m->oldest = e;
}

static struct entry *find(gd_smem *m, const char *sid, struct entry ***link)
{
    struct entry **l = &m->buckets[bucket(sid)];
    for (; *l; l = &(*l)->hnext)
        if (!strcmp((*l)->sid, sid)) break;
    if (link) *link = l;
    return *l;
}

const char *gd_smem_get(gd_smem *m, const char *sid, size_t *len)
{
    struct entry *e = find(m, sid, NULL);
    if (!e) return NULL;
    unlink_lru(m, e);
    push_newest(m, e);
    *len = e->len;
    return e->text;
}

static void drop(gd_smem *m, struct entry *e)
{
    struct entry **l;
    find(m, e->sid, &l);
    *l = e->hnext;
    unlink_lru(m, e);
    m->bytes -= e->len;
    m->n--;
    gd_free(e->text);
    gd_free(e);
}

int gd_smem_put(gd_smem *m, const char *sid, const char *text, size_t len)
{
    if (len > m->max_bytes) return GD_ETOOBIG;
    struct entry **l, *e = find(m, sid, &l);
    if (!e) {
        e = gd_calloc(1, sizeof *e);
        memcpy(e->sid, sid, GD_SID_LEN);
        e->sid[GD_SID_LEN] = 0;
        l = &m->buckets[bucket(e->sid)];
        e->hnext = *l;
        *l = e;
        m->n++;
    } else {
        unlink_lru(m, e);
        m->bytes -= e->len;
        gd_free(e->text);
    }
    e->text = gd_malloc(len + 1);
    memcpy(e->text, text, len);
    e->text[len] = 0;
    e->len = len;
    m->bytes += len;
    /* The others go, oldest first, until the table is within its bounds. */
    while ((m->n > m->max || m->bytes > m->max_bytes) && m->oldest) {
        drop(m, m->oldest);
        m->evicted++;
    }
    push_newest(m, e);
    return 0;
}

size_t gd_smem_count(const gd_smem *m)
{
    return m->n;
}

size_t gd_smem_bytes(const gd_smem *m)
{
    return m->bytes;
}

uint64_t gd_smem_evicted(const gd_smem *m)
{
    return m->evicted;
}

int gd_sid_valid(const char *s, size_t n)
{
    if (!s || n != GD_SID_LEN) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return 1;
}

int gd_sid_new(char out[GD_SID_LEN + 1])
{
    unsigned char b[GD_SID_LEN / 2];
    if (RAND_bytes(b, sizeof b) != 1) return GD_EIO;
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof b; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[GD_SID_LEN] = 0;
    return 0;
}
