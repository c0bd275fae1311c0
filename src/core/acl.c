/* Allow lists of source addresses: see acl.h. */
#include "core/acl.h"
#include "core/log.h"

#include <string.h>

int gd_acl_parse(const char *text, gd_acl *a)
{
    gd_acl t = {.on = 1};
    const char *s = text ? text : "";
    while (*s) {
        while (*s == ',' || *s == ' ' || *s == '\n' || *s == '\t' || *s == '\r') s++;
        if (!*s) break;
        char item[64];
        size_t n = strcspn(s, ", \n\t\r");
        if (n >= sizeof item || t.n == GD_ACL_MAX) return -1;
        memcpy(item, s, n);
        item[n] = 0;
        s += n;
        if (gd_cidr_parse(item, 1, &t.c[t.n]) != 0) return -1; /* 0.0.0.0/0 is anyone */
        t.n++;
    }
    *a = t;
    return 0;
}

int gd_acl_from_json(const json_t *list, gd_acl *a)
{
    gd_acl t = {.on = list != NULL};
    if (list && (!json_is_array(list) || json_array_size(list) > GD_ACL_MAX)) return -1;
    for (size_t i = 0; i < json_array_size(list); i++) {
        const char *s = json_string_value(json_array_get(list, i));
        if (!s || gd_cidr_parse(s, 1, &t.c[t.n]) != 0) return -1;
        t.n++;
    }
    *a = t;
    return 0;
}

int gd_acl_allows(const gd_acl *a, uint32_t ip)
{
    if (!a->on) return 1;
    for (int i = 0; i < a->n; i++)
        if (gd_cidr_contains_ip(a->c[i], ip)) return 1;
    return 0;
}

void gd_acl_denied(gd_acl_log *l, uint32_t ip, uint64_t now_ms)
{
    l->denied++;
    l->unlogged++;
    if (l->last_ms && now_ms - l->last_ms < 1000) return;
    char ipb[16];
    gd_warn("denied", "from=%s count=%llu total=%llu", gd_ip_format(ip, ipb),
            (unsigned long long)l->unlogged, (unsigned long long)l->denied);
    l->unlogged = 0;
    l->last_ms = now_ms;
}
