/* Temporary: cdn mode until the cache core lands. */
#include "edge/edge.h"
#include "core/err.h"

int gd_cdn_check(const json_t *doc, char *err, size_t errlen)
{
    snprintf(err, errlen, "field 'mode': cdn is not built yet (allowed: clb, alb)");
    return GD_EINVAL;
}
int gd_cdn_apply(gd_edge *e, const json_t *doc, char *err, size_t errlen)
{
    return GD_EINVAL;
}
void gd_cdn_handle(gd_edge *e, gd_http_conn *c, gd_http_req *req)
{
    gd_edge_error(c, 503, "cdn not built");
}
void gd_cdn_metrics(gd_edge *e, gd_buf *b, const char *labels)
{
}
json_t *gd_cdn_stats(gd_edge *e)
{
    return json_object();
}
int gd_cdn_invalidate(gd_edge *e, const json_t *paths, char *err, size_t errlen)
{
    return GD_EINVAL;
}
