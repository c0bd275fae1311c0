/* The customers' stub resolver: see resolver.h. c-ares owns the sockets; libuv polls
 * them (ARES_OPT_SOCK_STATE_CB) and a timer drives c-ares' retries. */
#include "core/resolver.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"

#include <arpa/nameser.h>
#include <ares.h>
#include <stdlib.h>
#include <string.h>

#define RETRY_MS 50 /* how often c-ares gets to look at its timeouts */

struct sockpoll {
    ares_socket_t fd;
    uv_poll_t poll;
    struct sockpoll *next;
};

struct lookup {
    gd_resolve_cb cb;
    void *ud;
};

static struct {
    uv_loop_t *loop;
    ares_channel ch;
    uv_timer_t timer;
    struct sockpoll *polls;
    uint64_t asked, failed;
} R;

static void poll_closed(uv_handle_t *h)
{
    gd_free(h->data);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct sockpoll *sp = h->data;
    ares_socket_t r = status < 0 || (events & UV_READABLE) ? sp->fd : ARES_SOCKET_BAD;
    ares_socket_t w = status < 0 || (events & UV_WRITABLE) ? sp->fd : ARES_SOCKET_BAD;
    ares_process_fd(R.ch, r, w);
}

static void sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
    struct sockpoll **pp = &R.polls;
    while (*pp && (*pp)->fd != fd) pp = &(*pp)->next;
    struct sockpoll *sp = *pp;
    if (!readable && !writable) {
        if (sp) {
            *pp = sp->next;
            uv_poll_stop(&sp->poll);
            uv_close((uv_handle_t *)&sp->poll, poll_closed);
        }
        return;
    }
    if (!sp) {
        sp = gd_calloc(1, sizeof *sp);
        sp->fd = fd;
        if (uv_poll_init_socket(R.loop, &sp->poll, fd) < 0) {
            gd_free(sp);
            return;
        }
        sp->poll.data = sp;
        sp->next = R.polls;
        R.polls = sp;
    }
    uv_poll_start(&sp->poll, (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0), on_poll);
}

static void on_timer(uv_timer_t *t)
{
    ares_process_fd(R.ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
}

int gd_resolver_init(uv_loop_t *loop, const char *server)
{
    R.loop = loop;
    if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS) return GD_EIO;
    struct ares_options o;
    memset(&o, 0, sizeof o);
    o.sock_state_cb = sock_state;
    o.timeout = 1000; /* wall ms per try, then a second try */
    o.tries = 2;
    o.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
    int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS;
    if (ares_init_options(&R.ch, &o, mask) != ARES_SUCCESS) return GD_EIO;
    if (ares_set_servers_ports_csv(R.ch, server) != ARES_SUCCESS) return GD_EINVAL;
    uv_timer_init(loop, &R.timer);
    uv_timer_start(&R.timer, on_timer, RETRY_MS, RETRY_MS);
    return 0;
}

static void on_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    struct lookup *l = arg;
    uint32_t ips[8];
    int n = 0, err = 0;
    double ttl = 0;
    if (status == ARES_SUCCESS) {
        struct ares_addrttl at[8];
        int nat = 8;
        if (ares_parse_a_reply(abuf, alen, NULL, at, &nat) == ARES_SUCCESS && nat > 0) {
            for (int i = 0; i < nat; i++) {
                ips[n++] = ntohl(at[i].ipaddr.s_addr);
                if (i == 0 || at[i].ttl < ttl) ttl = at[i].ttl;
            }
        } else {
            err = GD_ENOENT;
        }
    } else {
        err = status == ARES_ENOTFOUND || status == ARES_ENODATA ? GD_ENOENT
              : status == ARES_ETIMEOUT                          ? GD_ETIMEDOUT
                                                                 : GD_EIO;
    }
    if (err) R.failed++;
    if (status != ARES_EDESTRUCTION) l->cb(l->ud, err, ips, n, ttl);
    gd_free(l);
}

void gd_resolver_lookup(const char *name, gd_resolve_cb cb, void *ud)
{
    struct lookup *l = gd_malloc(sizeof *l);
    l->cb = cb;
    l->ud = ud;
    R.asked++;
    ares_query(R.ch, name, ns_c_in, ns_t_a, on_answer, l);
}

uint64_t gd_resolver_asked(void)
{
    return R.asked;
}

uint64_t gd_resolver_failed(void)
{
    return R.failed;
}
