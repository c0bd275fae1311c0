/* In-process sessions (src/services/session_mem.c): random ids, LRU eviction by count
 * and by bytes. */
#include "core/err.h"
#include "services/session_mem.h"

#include <criterion/criterion.h>
#include <string.h>

Test(session_mem, least_recently_used_goes_first)
{
    gd_smem *m = gd_smem_new(3, 1 << 20);
    char sid[4][GD_SID_LEN + 1];
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(gd_sid_new(sid[i]), 0);
        cr_assert(gd_sid_valid(sid[i], GD_SID_LEN));
    }
    cr_assert_str_neq(sid[0], sid[1], "random ids");
    for (int i = 0; i < 3; i++) cr_assert_eq(gd_smem_put(m, sid[i], "{}", 2), 0);
    size_t len;
    cr_assert_not_null(gd_smem_get(m, sid[0], &len)); /* 0 is now the most recent */
    cr_assert_eq(gd_smem_put(m, sid[3], "{\"a\":1}", 7), 0);
    cr_assert_eq(gd_smem_count(m), 3);
    cr_assert_eq(gd_smem_evicted(m), 1);
    cr_assert_null(gd_smem_get(m, sid[1], &len), "the least recently used went");
    const char *t = gd_smem_get(m, sid[3], &len);
    cr_assert_eq(len, 7);
    cr_assert_str_eq(t, "{\"a\":1}");
    cr_assert_not_null(gd_smem_get(m, sid[0], &len));
    /* a replacement changes the text, not the count */
    cr_assert_eq(gd_smem_put(m, sid[0], "{\"b\":22}", 8), 0);
    cr_assert_eq(gd_smem_count(m), 3);
    cr_assert_eq(gd_smem_bytes(m), 2 + 7 + 8);
    gd_smem_free(m);

    /* the byte budget evicts too, and a text over it alone is refused */
    m = gd_smem_new(100, 10);
    cr_assert_eq(gd_smem_put(m, sid[0], "123456", 6), 0);
    cr_assert_eq(gd_smem_put(m, sid[1], "123456", 6), 0);
    cr_assert_eq(gd_smem_count(m), 1);
    cr_assert_null(gd_smem_get(m, sid[0], &len));
    cr_assert_eq(gd_smem_put(m, sid[2], "12345678901", 11), GD_ETOOBIG);
    cr_assert_eq(gd_smem_count(m), 1);
    gd_smem_free(m);
    cr_assert_not(gd_sid_valid("ABCDEF0123456789abcdef0123456789", 32), "lowercase only");
    cr_assert_not(gd_sid_valid("abc", 3));
}
