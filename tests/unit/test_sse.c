/* Tests of the server-sent events framing (src/core/sse.c) and of streamed answers on a
 * connection without a socket (src/core/http.c): the head, pieces refused past the
 * limit, the end. */
#include "core/err.h"
#include "core/http.h"
#include "core/sse.h"

#include <criterion/criterion.h>
#include <string.h>

static void expect(const char *name, const char *data, const char *want)
{
    gd_buf b;
    gd_buf_init(&b, 4096);
    cr_assert_eq(gd_sse_event(&b, name, data, strlen(data)), 0);
    cr_assert_eq(b.len, strlen(want), "length of %s", want);
    cr_assert(!memcmp(b.data, want, b.len), "got '%.*s', want '%s'", (int)b.len, b.data, want);
    gd_buf_free(&b);
}

Test(sse, one_line_event)
{
    expect("scoreboard", "{\"a\":1}", "event: scoreboard\ndata: {\"a\":1}\n\n");
    expect(NULL, "x", "data: x\n\n");
    expect("", "", "data: \n\n");
}

Test(sse, line_breaks_become_data_lines)
{
    expect("e", "a\nb", "event: e\ndata: a\ndata: b\n\n");
    expect("e", "a\r\nb\rc", "event: e\ndata: a\ndata: b\ndata: c\n\n");
    expect("e", "a\n", "event: e\ndata: a\ndata: \n\n");
}

Test(sse, a_name_with_a_break_is_refused)
{
    gd_buf b;
    gd_buf_init(&b, 4096);
    cr_assert_eq(gd_sse_event(&b, "a\nb", "x", 1), GD_EINVAL);
    cr_assert_eq(gd_sse_comment(&b, "a\rb"), GD_EINVAL);
    cr_assert_eq(b.len, 0);
    cr_assert_eq(gd_sse_comment(&b, "keep-alive"), 0);
    cr_assert_eq(b.len, strlen(": keep-alive\n\n"));
    gd_buf_free(&b);
}

Test(sse, a_frame_is_whole_or_not_at_all)
{
    gd_buf b;
    gd_buf_init(&b, 32);
    cr_assert_eq(gd_sse_event(&b, "e", "12345", 5), 0);
    size_t len = b.len;
    char big[64];
    memset(big, 'x', sizeof big);
    cr_assert_eq(gd_sse_event(&b, "e", big, sizeof big), GD_ETOOBIG);
    cr_assert_eq(b.len, len, "the buffer is as it was");
    gd_buf_free(&b);
}

/* ---- streamed answers ---- */

static gd_http_conn *streaming;

static void stream_handler(gd_http_conn *c, gd_http_req *req, void *ud)
{
    streaming = c;
    cr_assert_eq(gd_http_stream_begin(c, 200, "Cache-Control: no-store\r\n", "text/event-stream"),
                 0);
}

Test(http_stream, head_pieces_limit_and_end)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    gd_http_server s;
    gd_http_server_init(&s, &loop, stream_handler, NULL);
    gd_buf sink;
    gd_buf_init(&sink, 1 << 20);
    gd_http_conn *c = gd_http_conn_fake(&s, &sink);
    const char *req = "GET /api/v1/stream HTTP/1.1\r\nHost: x\r\n\r\n";
    gd_http_conn_feed(c, req, strlen(req));
    cr_assert_eq(streaming, c);
    const char *head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                       "Cache-Control: no-store\r\nConnection: close\r\n\r\n";
    cr_assert_eq(sink.len, strlen(head), "head: '%.*s'", (int)sink.len, sink.data);
    cr_assert(!memcmp(sink.data, head, sink.len));
    cr_assert(!strstr(gd_buf_cstr(&sink), "Content-Length"));
    cr_assert_eq(gd_http_stream_write(c, "data: 1\n\n", 9, 1024), 0);
    cr_assert_eq(sink.len, strlen(head) + 9);
    /* past the limit: nothing queued */
    cr_assert_eq(gd_http_stream_write(c, "data: 2\n\n", 9, 8), GD_EAGAIN);
    cr_assert_eq(sink.len, strlen(head) + 9);
    /* a request pipelined meanwhile is not parsed: the stream holds the connection */
    const char *more = "GET /x HTTP/1.1\r\nHost: x\r\n\r\n";
    streaming = NULL;
    gd_http_conn_feed(c, more, strlen(more));
    cr_assert_null(streaming, "no second dispatch while streaming");
    cr_assert(!gd_http_conn_closing(c));
    gd_http_stream_end(c);
    cr_assert(gd_http_conn_closing(c), "the connection closes after the stream");
    cr_assert_null(streaming, "nothing more is dispatched");
    cr_assert_eq(gd_http_stream_write(c, "x", 1, 1024), GD_ECLOSED);
    gd_http_conn_free_fake(c);
    gd_buf_free(&sink);
    uv_loop_close(&loop);
}
