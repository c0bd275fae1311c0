/* Unit tests for src/core/hash.c against digests computed by sha256sum. */
#include <criterion/criterion.h>

#include "core/hash.h"
#include "core/mem.h"

#include <stdio.h>
#include <string.h>

Test(hash, known_vector)
{
    /* printf 'salt:abc' | sha256sum */
    char out[65];
    gd_hash_key("salt", "abc", 3, out);
    cr_assert_str_eq(out, "3581c353fcf9b9ac030a9991798806c3416d6d5c71b14f2d6a0246bec768c208");
}

Test(hash, uses_keylen_not_nul)
{
    /* printf 'unicorn:key-12345' | sha256sum */
    char out[65];
    gd_hash_key("unicorn", "key-12345&more", 9, out);
    cr_assert_str_eq(out, "b094e8cca1a7e9ba3db1d951652f95cacd0e13129c186d6eebccfdd0ee856214");
}

Test(hash, empty_salt_and_key)
{
    /* printf ':' | sha256sum */
    char out[65];
    gd_hash_key("", "", 0, out);
    cr_assert_str_eq(out, "e7ac0786668e0ff0f02b62bd04f45ff636fd82db63b1104601c975dc005f3a67");
}

Test(hash, embedded_nul_in_key)
{
    /* printf 'a:b\0c' | sha256sum */
    char out[65];
    gd_hash_key("a", "b\0c", 3, out);
    cr_assert_str_eq(out, "f1bb0ca6c7ffab359b80aba12b97054db77fc18693cdc3cd2b0b58afc2a6ebb3");
}

Test(hash, long_key_is_allocated_and_freed)
{
    /* (printf 's:'; python3 -c "print('x'*2000, end='')") | sha256sum */
    char key[2000], out[65];
    memset(key, 'x', sizeof key);
    long live = gd_mem_live();
    gd_hash_key("s", key, sizeof key, out);
    cr_assert_str_eq(out, "bc141aa1ce0789949daf4f2d9ab0ada4a2a45b0ea69a69cbd283c28153e072fa");
    cr_assert_eq(gd_mem_live(), live);
}

Test(hash, same_input_same_answer)
{
    char a[65], b[65], c[65];
    gd_hash_key("salt", "k1", 2, a);
    gd_hash_key("salt", "k1", 2, b);
    gd_hash_key("salt", "k2", 2, c);
    cr_assert_str_eq(a, b);
    cr_assert_str_neq(a, c);
    cr_assert_eq(strlen(a), 64);
}

Test(hash, secrets_compare_whole)
{
    const char *tok = "8be2835cdee15e0d39127660f632cd4587b99fde1a1ffe8b31ff9d3ade2f3406";
    char copy[80];
    snprintf(copy, sizeof copy, "%s", tok);
    cr_assert_eq(gd_secret_eq(tok, copy), 1);
    copy[63] ^= 1; /* the last byte differs */
    cr_assert_eq(gd_secret_eq(tok, copy), 0);
    copy[63] ^= 1;
    copy[0] ^= 1; /* the first byte differs */
    cr_assert_eq(gd_secret_eq(tok, copy), 0);
    cr_assert_eq(gd_secret_eq(tok, "8be2835c"), 0, "a prefix is not the token");
    cr_assert_eq(gd_secret_eq("8be2835c", tok), 0);
    cr_assert_eq(gd_secret_eq("", ""), 0, "an empty token matches nothing");
    cr_assert_eq(gd_secret_eq(NULL, tok), 0);
    cr_assert_eq(gd_secret_eq(tok, NULL), 0);
}
