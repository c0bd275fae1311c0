/* libcurl wrappers used by play and ctl. */
#include "cli/http_client.h"
#include "core/buf.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    return gd_buf_append(ud, p, size * n) == 0 ? size * n : 0;
}

json_t *gd_cli_call(const char *method, const char *api, const char *path, const char *token,
                    json_t *body, long *status)
{
    static int inited;
    if (!inited) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        inited = 1;
    }
    if (status) *status = 0;
    CURL *c = curl_easy_init();
    if (!c) return NULL;
    char url[1024], auth[200];
    snprintf(url, sizeof url, "%s%s", api, path);
    struct curl_slist *h = NULL;
    if (token && *token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    char *payload = NULL;
    if (body) {
        payload = json_dumps(body, JSON_COMPACT);
        h = curl_slist_append(h, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload);
    }
    gd_buf b;
    gd_buf_init(&b, 64 << 20);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    json_t *j = NULL;
    if (curl_easy_perform(c) == CURLE_OK) {
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        if (status) *status = code;
        j = json_loadb(b.data ? b.data : "", b.len, JSON_DECODE_ANY, NULL);
    }
    gd_buf_free(&b);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    free(payload);
    return j;
}

json_t *gd_cli_get(const char *api, const char *path, const char *token, long *status)
{
    long st = 0;
    json_t *j = gd_cli_call("GET", api, path, token, NULL, &st);
    if (status) *status = st;
    if (st < 200 || st >= 300) {
        json_decref(j);
        return NULL;
    }
    return j;
}
