/* Game clock shared by every process of a game. */
#include "core/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double speed = 1.0;
static uint64_t epoch;
static int is_set;

/* The shared page (DIR/clock): the server writes it, every other process of the game maps
 * it read-only. A seqlock: the writer makes seq odd, writes, makes it even; a reader retries
 * while seq is odd or changed under it. */
#define PAGE_MAGIC 0x6764636c6f636b31ull /* "gdclock1" */
struct page {
    uint64_t magic;
    uint64_t seq;
    uint64_t epoch_ns;
    uint64_t paused;  /* 1 while the clock stands still */
    double paused_at; /* game seconds the clock stands at */
    double speed;
};
static struct page *shared;
static int writable;

struct snap {
    uint64_t epoch_ns;
    int paused;
    double paused_at;
};

static struct snap read_page(void)
{
    struct snap s = {epoch, 0, 0};
    if (!shared) return s;
    for (int tries = 0; tries < 1000; tries++) {
        uint64_t a = __atomic_load_n(&shared->seq, __ATOMIC_ACQUIRE);
        if (a & 1) continue;
        s.epoch_ns = __atomic_load_n(&shared->epoch_ns, __ATOMIC_RELAXED);
        s.paused = (int)__atomic_load_n(&shared->paused, __ATOMIC_RELAXED);
        uint64_t pa = __atomic_load_n((uint64_t *)&shared->paused_at, __ATOMIC_RELAXED);
        memcpy(&s.paused_at, &pa, sizeof pa);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&shared->seq, __ATOMIC_RELAXED) == a) return s;
    }
    return s; /* a writer died mid-write: the last values read */
}

static void write_page(void)
{
    if (!shared || !writable) return;
    uint64_t q = __atomic_load_n(&shared->seq, __ATOMIC_RELAXED);
    if (q & 1) q++; /* a writer (an earlier server) died mid-write */
    __atomic_store_n(&shared->seq, q + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    __atomic_store_n(&shared->epoch_ns, epoch, __ATOMIC_RELAXED);
    shared->speed = speed;
    __atomic_store_n(&shared->seq, q + 2, __ATOMIC_RELEASE);
}

static int map_page(const char *path, int rw)
{
    int fd = open(path, rw ? O_RDWR | O_CREAT | O_CLOEXEC : O_RDONLY | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0 ||
        (rw && st.st_size < (off_t)sizeof(struct page) && ftruncate(fd, sizeof(struct page)) < 0)) {
        int e = -errno;
        close(fd);
        return e;
    }
    if (!rw && st.st_size < (off_t)sizeof(struct page)) {
        close(fd);
        return -EINVAL;
    }
    void *m =
        mmap(NULL, sizeof(struct page), rw ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED) return -errno;
    if (shared) munmap(shared, sizeof(struct page));
    shared = m;
    writable = rw;
    return 0;
}

int gd_clock_share(const char *path, int paused, double paused_at)
{
    int r = map_page(path, 1);
    if (r < 0) return r;
    shared->magic = PAGE_MAGIC;
    uint64_t q = __atomic_load_n(&shared->seq, __ATOMIC_RELAXED);
    if (q & 1) q++;
    __atomic_store_n(&shared->seq, q + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    __atomic_store_n(&shared->epoch_ns, epoch, __ATOMIC_RELAXED);
    __atomic_store_n(&shared->paused, (uint64_t)(paused != 0), __ATOMIC_RELAXED);
    uint64_t pa;
    memcpy(&pa, &paused_at, sizeof pa);
    __atomic_store_n((uint64_t *)&shared->paused_at, pa, __ATOMIC_RELAXED);
    shared->speed = speed;
    __atomic_store_n(&shared->seq, q + 2, __ATOMIC_RELEASE);
    return 0;
}

int gd_clock_attach(const char *path)
{
    int r = map_page(path, 0);
    if (r < 0) return r;
    if (shared->magic != PAGE_MAGIC) {
        munmap(shared, sizeof(struct page));
        shared = NULL;
        return -EINVAL;
    }
    return 0;
}

int gd_clock_paused(void)
{
    return read_page().paused;
}

int gd_clock_pause(void)
{
    if (!shared || !writable) return -EPERM;
    struct snap s = read_page();
    if (s.paused) return 0;
    double at = ((double)gd_clock_mono_ns() - (double)s.epoch_ns) / 1e9 * speed;
    uint64_t q = __atomic_load_n(&shared->seq, __ATOMIC_RELAXED);
    __atomic_store_n(&shared->seq, q + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    uint64_t pa;
    memcpy(&pa, &at, sizeof pa);
    __atomic_store_n((uint64_t *)&shared->paused_at, pa, __ATOMIC_RELAXED);
    __atomic_store_n(&shared->paused, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&shared->seq, q + 2, __ATOMIC_RELEASE);
    return 1;
}

int gd_clock_resume(void)
{
    if (!shared || !writable) return -EPERM;
    struct snap s = read_page();
    if (!s.paused) return 0;
    /* The epoch moves on by the pause, so the clock goes on from where it stood. */
    uint64_t now = gd_clock_mono_ns();
    double back = s.paused_at / speed * 1e9;
    epoch = back < (double)now ? now - (uint64_t)back : 0;
    uint64_t q = __atomic_load_n(&shared->seq, __ATOMIC_RELAXED);
    __atomic_store_n(&shared->seq, q + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    __atomic_store_n(&shared->epoch_ns, epoch, __ATOMIC_RELAXED);
    __atomic_store_n(&shared->paused, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&shared->seq, q + 2, __ATOMIC_RELEASE);
    return 1;
}

void gd_clock_set(double s, uint64_t epoch_ns)
{
    speed = s > 0 ? s : 1.0;
    epoch = epoch_ns;
    is_set = 1;
    write_page();
}

int gd_clock_from_env(void)
{
    const char *s = getenv("GAMEDAY_SPEED"), *e = getenv("GAMEDAY_EPOCH_NS");
    if (!s || !e) return -1;
    char *end;
    double sp = strtod(s, &end);
    if (*end || sp <= 0) return -1;
    unsigned long long ep = strtoull(e, &end, 10);
    if (*end) return -1;
    gd_clock_set(sp, ep);
    /* A game's processes follow its shared page, so that the clock can stand still. */
    const char *page_path = getenv("GAMEDAY_CLOCK");
    if (page_path && *page_path && gd_clock_attach(page_path) < 0)
        fprintf(stderr, "gameday: GAMEDAY_CLOCK=%s: not a game clock; the clock cannot pause\n",
                page_path);
    return 0;
}

void gd_clock_to_env(void)
{
    char b[64];
    snprintf(b, sizeof b, "%.17g", speed);
    setenv("GAMEDAY_SPEED", b, 1);
    snprintf(b, sizeof b, "%llu", (unsigned long long)epoch);
    setenv("GAMEDAY_EPOCH_NS", b, 1);
}

int gd_clock_is_set(void)
{
    return is_set;
}

double gd_clock_speed(void)
{
    return speed;
}

uint64_t gd_clock_epoch_ns(void)
{
    return read_page().epoch_ns;
}

uint64_t gd_clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double gd_clock_game_at(uint64_t mono_ns)
{
    struct snap s = read_page();
    double t = ((double)mono_ns - (double)s.epoch_ns) / 1e9 * speed;
    return s.paused && t > s.paused_at ? s.paused_at : t;
}

double gd_clock_now(void)
{
    return gd_clock_game_at(gd_clock_mono_ns());
}

uint64_t gd_clock_wall_ms(double game_ms)
{
    if (game_ms <= 0) return 0;
    double w = game_ms / speed;
    return w < 1 ? 1 : (uint64_t)(w + 0.5);
}

double gd_clock_game_ms(uint64_t wall_ns)
{
    return (double)wall_ns / 1e6 * speed;
}

char *gd_clock_hms(double s, char *out, size_t n)
{
    long t = (long)s;
    snprintf(out, n, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    return out;
}
