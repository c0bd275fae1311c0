/* Signed session cookies (src/services/session_cookie.c): base64url, a seal that opens
 * with the key and no other, every tampering refused with its reason, the 4 KB bound. */
#include "core/err.h"
#include "services/session_cookie.h"

#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

static const unsigned char KEY[32] = "0123456789abcdef0123456789abcdef";
static const unsigned char OTHER[32] = "fedcba9876543210fedcba9876543210";

static int open_value(const unsigned char *key, const char *v, char *out, size_t outlen,
                      enum gd_scookie_why *why)
{
    return gd_scookie_open(key, 32, v, strlen(v), out, outlen, why);
}

Test(session_cookie, base64url_round_trips_without_padding)
{
    /* RFC 4648 test vectors, in the URL alphabet and without '=' */
    const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *want[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        char enc[16];
        unsigned char dec[16];
        size_t n = gd_b64url_encode((const unsigned char *)in[i], strlen(in[i]), enc);
        cr_assert_str_eq(enc, want[i]);
        cr_assert_eq(n, strlen(want[i]));
        cr_assert_eq(gd_b64url_decode(enc, n, dec), (int)strlen(in[i]));
        cr_assert(!memcmp(dec, in[i], strlen(in[i])));
    }
    /* the URL alphabet: 0xfb 0xff is "-_8" (not "+/8") */
    char enc[8];
    gd_b64url_encode((const unsigned char *)"\xfb\xff", 2, enc);
    cr_assert_str_eq(enc, "-_8");
    unsigned char dec[8];
    cr_assert_eq(gd_b64url_decode("ab+c", 4, dec), GD_EINVAL, "'+' is not base64url");
    cr_assert_eq(gd_b64url_decode("abcde", 5, dec), GD_EINVAL, "5 characters cannot be");
}

Test(session_cookie, sealed_opens_with_its_key_only)
{
    const char *json = "{\"cart\":[{\"product\":3,\"qty\":2,\"price_cents\":2999}]}";
    char v[GD_SCOOKIE_MAX], out[GD_SCOOKIE_MAX];
    int n = gd_scookie_seal(KEY, 32, json, strlen(json), v, sizeof v);
    cr_assert_gt(n, 0);
    cr_assert_eq((size_t)n, strlen(v));
    /* the format: base64url(json) "." base64url(HMAC-SHA256(key, base64url(json))) */
    char payload[256], sig[64];
    size_t pl = gd_b64url_encode((const unsigned char *)json, strlen(json), payload);
    unsigned char mac[32];
    unsigned int ml = 32;
    HMAC(EVP_sha256(), KEY, 32, (const unsigned char *)payload, pl, mac, &ml);
    gd_b64url_encode(mac, 32, sig);
    char want[400];
    snprintf(want, sizeof want, "%s.%s", payload, sig);
    cr_assert_str_eq(v, want);

    enum gd_scookie_why why;
    int m = open_value(KEY, v, out, sizeof out, &why);
    cr_assert_eq(why, GD_SCOOKIE_OK);
    cr_assert_eq(m, (int)strlen(json));
    cr_assert_str_eq(out, json);
    cr_assert_eq(open_value(OTHER, v, out, sizeof out, &why), GD_EINVAL);
    cr_assert_eq(why, GD_SCOOKIE_BAD_SIGNATURE, "another team's key does not open it");
}

Test(session_cookie, tampering_is_refused_with_its_reason)
{
    const char *json = "{\"cart\":[{\"product\":3,\"qty\":2,\"price_cents\":2999}]}";
    char v[GD_SCOOKIE_MAX], t[GD_SCOOKIE_MAX], out[GD_SCOOKIE_MAX];
    gd_scookie_seal(KEY, 32, json, strlen(json), v, sizeof v);
    enum gd_scookie_why why;

    /* one character of the payload changed (qty 2 -> more): the signature fails */
    strcpy(t, v);
    t[10] = t[10] == 'A' ? 'B' : 'A';
    cr_assert_eq(open_value(KEY, t, out, sizeof out, &why), GD_EINVAL);
    cr_assert_eq(why, GD_SCOOKIE_BAD_SIGNATURE);
    cr_assert_str_eq(gd_scookie_why_text(why), "bad signature");

    /* one character of the signature changed */
    strcpy(t, v);
    size_t L = strlen(t);
    t[L - 2] = t[L - 2] == 'A' ? 'B' : 'A';
    cr_assert_eq(open_value(KEY, t, out, sizeof out, &why), GD_EINVAL);
    cr_assert_eq(why, GD_SCOOKIE_BAD_SIGNATURE);

    /* not the format: no dot, a short signature, characters outside base64url */
    cr_assert_eq(open_value(KEY, "bm90IGEgY29va2ll", out, sizeof out, &why), GD_EINVAL);
    cr_assert_eq(why, GD_SCOOKIE_BAD_ENCODING);
    cr_assert_eq(open_value(KEY, "e30.c2ln", out, sizeof out, &why), GD_EINVAL);
    cr_assert_eq(why, GD_SCOOKIE_BAD_ENCODING);
    strcpy(t, v);
    t[3] = '%';
    cr_assert_eq(open_value(KEY, t, out, sizeof out, &why), GD_EINVAL);
    cr_assert_eq(why, GD_SCOOKIE_BAD_ENCODING);
    cr_assert_str_eq(gd_scookie_why_text(why), "bad encoding");
    cr_assert_eq(open_value(KEY, "", out, sizeof out, &why), GD_EINVAL);
    cr_assert_eq(why, GD_SCOOKIE_BAD_ENCODING);

    /* a well signed payload that is not JSON opens: the caller refuses it (bad JSON) */
    cr_assert_gt(gd_scookie_seal(KEY, 32, "not json", 8, t, sizeof t), 0);
    cr_assert_eq(open_value(KEY, t, out, sizeof out, &why), 8);
    cr_assert_str_eq(out, "not json");
    cr_assert_str_eq(gd_scookie_why_text(GD_SCOOKIE_BAD_JSON), "bad JSON");
}

Test(session_cookie, four_kilobytes_at_most)
{
    /* "session=" + base64url(n) + "." + 43 <= 4096: 4044 characters of payload, so n =
     * 3033 bytes fit and 3034 do not */
    static char json[5000], v[GD_SCOOKIE_MAX + 200], out[GD_SCOOKIE_MAX];
    memset(json, 'x', sizeof json);
    int fit = gd_scookie_seal(KEY, 32, json, 3033, v, sizeof v);
    cr_assert_gt(fit, 0);
    cr_assert_eq(strlen("session=") + (size_t)fit, GD_SCOOKIE_MAX);
    cr_assert_eq(gd_scookie_seal(KEY, 32, json, 3034, v, sizeof v), GD_ETOOBIG);
    cr_assert_eq(gd_scookie_seal(KEY, 32, json, 5000, v, sizeof v), GD_ETOOBIG, "a 5 KB session");
    /* a cookie over 4 KB sent by a client is refused before any HMAC */
    static char big[5200];
    memset(big, 'A', sizeof big - 1);
    enum gd_scookie_why why;
    cr_assert_eq(open_value(KEY, big, out, sizeof out, &why), GD_EINVAL);
    cr_assert_eq(why, GD_SCOOKIE_TOO_LARGE);
    cr_assert_str_eq(gd_scookie_why_label(why), "too_large");
}

Test(session_cookie, keys_from_hex)
{
    unsigned char k[GD_SCOOKIE_KEY_MAX];
    cr_assert_eq(gd_scookie_key_hex("00112233445566778899aabbccddeeff", k), 16);
    cr_assert_eq(k[0], 0x00);
    cr_assert_eq(k[15], 0xff);
    char h[200];
    memset(h, 'a', 128);
    h[128] = 0;
    cr_assert_eq(gd_scookie_key_hex(h, k), 64);
    h[128] = 'a';
    h[129] = 'a';
    h[130] = 0;
    cr_assert_eq(gd_scookie_key_hex(h, k), GD_EINVAL, "over 64 bytes");
    cr_assert_eq(gd_scookie_key_hex("0011", k), GD_EINVAL, "under 16 bytes");
    cr_assert_eq(gd_scookie_key_hex("zz112233445566778899aabbccddeeff", k), GD_EINVAL);
    cr_assert_eq(gd_scookie_key_hex(NULL, k), GD_EINVAL);
}
