/* CloudFront (API version 2020-05-31, rest-xml) over the team's cdn resources: each is
 * a distribution (its id "E" + 13 of A-Z0-9, derived from the cdn's), with its
 * configuration as CloudFront shapes it, and its invalidations. CreateInvalidation is
 * the operations layer's "invalidate" action under the key's principal (audited as
 * CreateInvalidation); the cdn's edge confirms it, which makes it Completed. */
#include "core/mem.h"
#include "server/aws_int.h"
#include "server/invalidations.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VERSION "2020-05-31"
#define XMLNS "http://cloudfront.amazonaws.com/doc/2020-05-31/"
#define MAX_BODY_PATHS GD_INV_MAX_PATHS

/* The request path's parts after /aws/2020-05-31/distribution: the distribution id,
 * what follows it ("", "config", "invalidation") and an invalidation id. */
struct route {
    int list; /* the path is .../distribution itself */
    char id[64], sub[32], inv[64];
    int ok;
};

static struct route parse(const gd_aws_call *k)
{
    struct route r = {0};
    const char *p = k->req->path + strlen(GD_AWS_PREFIX);
    const char *end = k->req->path + k->req->path_len;
    static const char base[] = "/" VERSION "/distribution";
    size_t bn = sizeof base - 1;
    if ((size_t)(end - p) < bn || memcmp(p, base, bn) != 0) return r;
    p += bn;
    char *parts[3] = {r.id, r.sub, r.inv};
    size_t sizes[3] = {sizeof r.id, sizeof r.sub, sizeof r.inv};
    int n = 0;
    while (p < end) {
        if (*p != '/' || n == 3) return r;
        p++;
        const char *s = p;
        while (p < end && *p != '/') p++;
        size_t len = (size_t)(p - s);
        if (!len && p == end) break; /* a trailing slash */
        if (!len || len >= sizes[n]) return r;
        memcpy(parts[n], s, len);
        parts[n][len] = 0;
        n++;
    }
    r.list = n == 0;
    r.ok = n == 0 || (n == 1) ||
           (n == 2 && (!strcmp(r.sub, "config") || !strcmp(r.sub, "invalidation"))) ||
           (n == 3 && !strcmp(r.sub, "invalidation"));
    return r;
}

static const char *route_action(gd_aws_call *k)
{
    struct route r = parse(k);
    int get = k->req->method == HTTP_GET, post = k->req->method == HTTP_POST;
    const char *name = !r.ok                      ? NULL
                       : r.list                   ? (get ? "ListDistributions" : NULL)
                       : !r.sub[0]                ? (get ? "GetDistribution" : NULL)
                       : !strcmp(r.sub, "config") ? (get ? "GetDistributionConfig" : NULL)
                       : r.inv[0]                 ? (get ? "GetInvalidation" : NULL)
                       : post                     ? "CreateInvalidation"
                       : get                      ? "ListInvalidations"
                                                  : NULL;
    if (!name)
        gd_aws_fail(k, r.ok ? 405 : 404, "InvalidAction",
                    "%s %.*s is not served by this game's CloudFront yet (allowed: "
                    "ListDistributions, GetDistribution, GetDistributionConfig, "
                    "CreateInvalidation, GetInvalidation, ListInvalidations); see doc/aws.md",
                    http_method_str(k->req->method), (int)k->req->path_len, k->req->path);
    return name;
}

/* ---- ids ---- */

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* The distribution id of a cdn: "E" and 13 of A-Z0-9 (into out, 16 bytes). */
static char *dist_id(const json_t *cdn, char *out)
{
    static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    uint64_t h = fnv(gd_jstr(cdn, "id"));
    out[0] = 'E';
    for (int i = 0; i < 13; i++) {
        out[1 + i] = set[h % 36];
        h = h / 36 ^ (h << 7) * 31;
    }
    out[14] = 0;
    return out;
}

/* The team's cdn whose distribution id (or our id or name) is id: a new reference, or
 * NULL after answering NoSuchDistribution. */
static json_t *find_cdn(gd_aws_call *k, const char *id)
{
    json_t *all = gd_store_res_list(k->g->db, k->team, "cdn", 0), *found = NULL;
    size_t i;
    json_t *r;
    json_array_foreach(all, i, r)
    {
        char d[16];
        if (!strcmp(dist_id(r, d), id) || !strcmp(gd_jstr(r, "id"), id) ||
            !strcmp(gd_jstr(r, "name"), id))
            found = json_incref(r);
        if (found) break;
    }
    json_decref(all);
    if (!found)
        gd_aws_fail(k, 404, "NoSuchDistribution",
                    "The specified distribution does not exist: '%.64s' is no cdn of this team",
                    id);
    return found;
}

static void quantity0(gd_xml *x, const char *tag)
{
    gd_xml_open(x, tag);
    gd_xml_text(x, "Quantity", "0");
    gd_xml_close(x, tag);
}

static void names_xml(gd_xml *x, const char *tag, const json_t *list)
{
    gd_xml_open(x, tag);
    gd_xml_textf(x, "Quantity", "%zu", json_array_size(list));
    if (json_array_size(list)) {
        gd_xml_open(x, "Items");
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v) gd_xml_text(x, "Name", json_string_value(v));
        gd_xml_close(x, "Items");
    }
    gd_xml_close(x, tag);
}

static void methods(gd_xml *x)
{
    gd_xml_raw(x, "<Quantity>2</Quantity><Items><Method>HEAD</Method><Method>GET</Method></Items>");
}

static void unsigned_xml(gd_xml *x, const char *tag)
{
    gd_xml_open(x, tag);
    gd_xml_text(x, "Enabled", "false");
    gd_xml_text(x, "Quantity", "0");
    gd_xml_close(x, tag);
}

/* Origins, DefaultCacheBehavior and the rest that a summary and a config share. */
static void origins_xml(gd_aws_call *k, gd_xml *x, const json_t *cdn)
{
    const json_t *spec = json_object_get(cdn, "spec");
    const char *origin = gd_jstr(spec, "origin");
    json_t *o = gd_store_res_get(k->g->db, k->team, origin);
    const json_t *ost = json_object_get(o, "status");
    gd_xml_raw(x, "<Origins><Quantity>1</Quantity><Items><Origin>");
    gd_xml_text(x, "Id", origin);
    gd_xml_text(x, "DomainName", gd_jstr(ost, "dns_name"));
    gd_xml_text(x, "OriginPath", "");
    quantity0(x, "CustomHeaders");
    gd_xml_open(x, "CustomOriginConfig");
    gd_xml_textf(x, "HTTPPort", "%.0f", gd_jnum(ost, "port", 8080));
    gd_xml_text(x, "HTTPSPort", "443");
    gd_xml_text(x, "OriginProtocolPolicy", "http-only");
    gd_xml_text(x, "OriginReadTimeout", "30");
    gd_xml_text(x, "OriginKeepaliveTimeout", "5");
    gd_xml_close(x, "CustomOriginConfig");
    gd_xml_text(x, "ConnectionAttempts", "3");
    gd_xml_text(x, "ConnectionTimeout", "10");
    gd_xml_raw(x, "</Origin></Items></Origins>");
    json_decref(o);
    quantity0(x, "OriginGroups");
    gd_xml_open(x, "DefaultCacheBehavior");
    gd_xml_text(x, "TargetOriginId", origin);
    unsigned_xml(x, "TrustedSigners");
    unsigned_xml(x, "TrustedKeyGroups");
    gd_xml_text(x, "ViewerProtocolPolicy", "allow-all");
    gd_xml_open(x, "AllowedMethods");
    methods(x);
    gd_xml_open(x, "CachedMethods");
    methods(x);
    gd_xml_close(x, "CachedMethods");
    gd_xml_close(x, "AllowedMethods");
    gd_xml_text(x, "SmoothStreaming", "false");
    gd_xml_text(x, "Compress", "false");
    quantity0(x, "LambdaFunctionAssociations");
    quantity0(x, "FunctionAssociations");
    gd_xml_text(x, "FieldLevelEncryptionId", "");
    gd_xml_open(x, "ForwardedValues");
    const json_t *inc = json_object_get(spec, "query_include");
    gd_xml_text(x, "QueryString",
                inc || !strcmp(gd_jstr(spec, "query_strings"), "all") ? "true" : "false");
    const json_t *cookies = json_object_get(spec, "cookies");
    gd_xml_open(x, "Cookies");
    gd_xml_text(x, "Forward", json_array_size(cookies) ? "whitelist" : "none");
    if (json_array_size(cookies)) names_xml(x, "WhitelistedNames", cookies);
    gd_xml_close(x, "Cookies");
    names_xml(x, "Headers", json_object_get(spec, "headers"));
    names_xml(x, "QueryStringCacheKeys", inc);
    gd_xml_close(x, "ForwardedValues");
    gd_xml_textf(x, "MinTTL", "%.0f", gd_jnum(spec, "min_ttl", 0));
    gd_xml_textf(x, "DefaultTTL", "%.0f", gd_jnum(spec, "default_ttl", 86400));
    gd_xml_textf(x, "MaxTTL", "%.0f", gd_jnum(spec, "max_ttl", 31536000));
    gd_xml_close(x, "DefaultCacheBehavior");
    quantity0(x, "CacheBehaviors");
    quantity0(x, "CustomErrorResponses");
}

static void tail_xml(gd_xml *x)
{
    gd_xml_text(x, "PriceClass", "PriceClass_All");
    gd_xml_text(x, "Enabled", "true");
    gd_xml_raw(x, "<ViewerCertificate><CloudFrontDefaultCertificate>true</"
                  "CloudFrontDefaultCertificate><MinimumProtocolVersion>TLSv1</"
                  "MinimumProtocolVersion><CertificateSource>cloudfront</CertificateSource></"
                  "ViewerCertificate>");
    gd_xml_raw(x, "<Restrictions><GeoRestriction><RestrictionType>none</RestrictionType>"
                  "<Quantity>0</Quantity></GeoRestriction></Restrictions>");
    gd_xml_text(x, "WebACLId", "");
    gd_xml_text(x, "HttpVersion", "http1.1");
    gd_xml_text(x, "IsIPV6Enabled", "false");
}

static void config_xml(gd_aws_call *k, gd_xml *x, const json_t *cdn)
{
    char ref[96];
    snprintf(ref, sizeof ref, "gameday-%s", gd_jstr(cdn, "id"));
    gd_xml_text(x, "CallerReference", ref);
    quantity0(x, "Aliases");
    gd_xml_text(x, "DefaultRootObject", "");
    origins_xml(k, x, cdn);
    gd_xml_textf(x, "Comment", "gameday cdn %s", gd_jstr(cdn, "name"));
    tail_xml(x);
    gd_xml_text(x, "Staging", "false");
}

static const char *dist_status(const json_t *cdn)
{
    return !strcmp(gd_jstr(json_object_get(cdn, "status"), "state"), "active") ? "Deployed"
                                                                               : "InProgress";
}

static void head_xml(gd_aws_call *k, gd_xml *x, const json_t *cdn)
{
    char id[16], acct[16], when[32];
    gd_xml_text(x, "Id", dist_id(cdn, id));
    gd_xml_textf(x, "ARN", "arn:aws:cloudfront::%s:distribution/%s", gd_aws_account(k->team, acct),
                 id);
    gd_xml_text(x, "Status", dist_status(cdn));
    double t = gd_jnum(cdn, "updated", gd_jnum(cdn, "created", 0));
    gd_xml_text(x, "LastModifiedTime", gd_aws_iso(gd_aws_wall_of(k->g, t), when));
}

static void open_doc(gd_xml *x, const char *root)
{
    gd_xml_init(x, GD_XML_MAX);
    gd_xml_raw(x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<");
    gd_xml_raw(x, root);
    gd_xml_raw(x, " xmlns=\"" XMLNS "\">");
}

/* MaxItems (1..1000, default 100); -1 after answering. */
static int max_items(gd_aws_call *k, long *max)
{
    char err[200];
    if (gd_aws_param_int(&k->params, "MaxItems", 1, 1000, 100, max, err, sizeof err) < 0) {
        gd_aws_fail(k, 400, "InvalidArgument", "%s", err);
        return -1;
    }
    return 0;
}

static void list_distributions(gd_aws_call *k)
{
    long max;
    const char *marker = gd_aws_param(&k->params, "Marker");
    if (max_items(k, &max) < 0 || gd_aws_unread(k) < 0) return;
    json_t *all = gd_store_res_list(k->g->db, k->team, "cdn", 0);
    size_t start = 0, i, n = json_array_size(all);
    json_t *r;
    if (marker && *marker) {
        start = n;
        json_array_foreach(all, i, r)
        {
            char d[16];
            if (!strcmp(dist_id(r, d), marker)) start = i;
        }
        if (start == n) {
            gd_aws_fail(k, 400, "InvalidArgument",
                        "Marker '%.64s' is not a distribution id this game listed", marker);
            json_decref(all);
            return;
        }
    }
    size_t stop = start + (size_t)max < n ? start + (size_t)max : n;
    gd_xml x;
    open_doc(&x, "DistributionList");
    gd_xml_text(&x, "Marker", marker ? marker : "");
    if (stop < n) {
        char d[16];
        gd_xml_text(&x, "NextMarker", dist_id(json_array_get(all, stop), d));
    }
    gd_xml_textf(&x, "MaxItems", "%ld", max);
    gd_xml_text(&x, "IsTruncated", stop < n ? "true" : "false");
    gd_xml_textf(&x, "Quantity", "%zu", stop - start);
    if (stop > start) {
        gd_xml_open(&x, "Items");
        for (i = start; i < stop; i++) {
            r = json_array_get(all, i);
            gd_xml_open(&x, "DistributionSummary");
            head_xml(k, &x, r);
            gd_xml_text(&x, "DomainName", gd_jstr(json_object_get(r, "status"), "dns_name"));
            quantity0(&x, "Aliases");
            origins_xml(k, &x, r);
            gd_xml_textf(&x, "Comment", "gameday cdn %s", gd_jstr(r, "name"));
            tail_xml(&x);
            gd_xml_text(&x, "Staging", "false");
            gd_xml_close(&x, "DistributionSummary");
        }
        gd_xml_close(&x, "Items");
    }
    gd_xml_close(&x, "DistributionList");
    json_decref(all);
    gd_aws_rest_send(k, 200, NULL, &x);
}

static int in_progress(const json_t *cdn)
{
    int n = 0;
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(json_object_get(cdn, "status"), "invalidations"), i, r) n +=
        !strcmp(gd_jstr(r, "status"), "InProgress");
    return n;
}

/* The ETag of a distribution's configuration: it changes with the spec. */
static void etag(const json_t *cdn, char *hdr, size_t n)
{
    char *s = json_dumps(json_object_get(cdn, "spec"), JSON_COMPACT | JSON_SORT_KEYS);
    snprintf(hdr, n, "ETag: E%013llX\r\n", (unsigned long long)(fnv(s ? s : "") >> 12));
    free(s);
}

static void get_distribution(gd_aws_call *k, int config_only)
{
    if (gd_aws_unread(k) < 0) return;
    struct route rt = parse(k);
    json_t *cdn = find_cdn(k, rt.id);
    if (!cdn) return;
    gd_xml x;
    if (config_only) {
        open_doc(&x, "DistributionConfig");
        config_xml(k, &x, cdn);
        gd_xml_close(&x, "DistributionConfig");
    } else {
        open_doc(&x, "Distribution");
        head_xml(k, &x, cdn);
        gd_xml_textf(&x, "InProgressInvalidationBatches", "%d", in_progress(cdn));
        gd_xml_text(&x, "DomainName", gd_jstr(json_object_get(cdn, "status"), "dns_name"));
        unsigned_xml(&x, "ActiveTrustedSigners");
        unsigned_xml(&x, "ActiveTrustedKeyGroups");
        gd_xml_open(&x, "DistributionConfig");
        config_xml(k, &x, cdn);
        gd_xml_close(&x, "DistributionConfig");
        gd_xml_close(&x, "Distribution");
    }
    char hdr[64];
    etag(cdn, hdr, sizeof hdr);
    json_decref(cdn);
    gd_aws_rest_send(k, 200, hdr, &x);
}

static void get_dist(gd_aws_call *k)
{
    get_distribution(k, 0);
}

static void get_dist_config(gd_aws_call *k)
{
    get_distribution(k, 1);
}

static void invalidation_xml(gd_aws_call *k, gd_xml *x, const json_t *inv, int whole)
{
    char when[32];
    gd_xml_text(x, "Id", gd_jstr(inv, "id"));
    if (!whole)
        gd_xml_text(x, "CreateTime",
                    gd_aws_iso(gd_aws_wall_of(k->g, gd_jnum(inv, "time", 0)), when));
    gd_xml_text(x, "Status", gd_jstr(inv, "status"));
    if (!whole) return;
    gd_xml_text(x, "CreateTime", gd_aws_iso(gd_aws_wall_of(k->g, gd_jnum(inv, "time", 0)), when));
    const json_t *paths = json_object_get(inv, "paths");
    gd_xml_raw(x, "<InvalidationBatch><Paths>");
    gd_xml_textf(x, "Quantity", "%zu", json_array_size(paths));
    gd_xml_open(x, "Items");
    size_t i;
    json_t *p;
    json_array_foreach(paths, i, p) gd_xml_text(x, "Path", json_string_value(p));
    gd_xml_close(x, "Items");
    gd_xml_raw(x, "</Paths>");
    gd_xml_text(x, "CallerReference", gd_jstr(inv, "caller_reference"));
    gd_xml_raw(x, "</InvalidationBatch>");
}

/* ---- the request's XML: the few elements CreateInvalidation has ---- */

/* Decodes the character data s[0..n) (the five entities and &#N; / &#xN;) into out;
 * -1 when an entity is not one of them or out is too small. */
static int xml_text(const char *s, size_t n, char *out, size_t outn)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        char c = s[i];
        if (c == '<') return -1;
        if (c == '&') {
            static const struct {
                const char *e;
                char c;
            } ents[] = {
                {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
            int hit = 0;
            for (size_t j = 0; j < 5 && !hit; j++) {
                size_t l = strlen(ents[j].e);
                if (n - i >= l && !memcmp(s + i, ents[j].e, l)) {
                    c = ents[j].c;
                    i += l;
                    hit = 1;
                }
            }
            if (!hit) {
                if (n - i < 4 || s[i + 1] != '#') return -1;
                /* &#N; or &#xN; of ASCII, read from a bounded copy (the body is not
                 * NUL-terminated) */
                char num[12], *end;
                size_t m = 0, at = i + 2;
                while (at + m < n && s[at + m] != ';' && m < sizeof num - 1) {
                    num[m] = s[at + m];
                    m++;
                }
                num[m] = 0;
                int hex = num[0] == 'x';
                long v = strtol(num + hex, &end, hex ? 16 : 10);
                if (at + m >= n || s[at + m] != ';' || *end || end == num + hex || v < 1 || v > 127)
                    return -1;
                c = (char)v;
                i = at + m + 1;
            }
        } else {
            i++;
        }
        if (o + 1 >= outn) return -1;
        out[o++] = c;
    }
    out[o] = 0;
    return 0;
}

/* The next <tag>text</tag> at or after *pos in body (text into out); 1 found, 0 none,
 * -1 malformed. */
static int next_elem(const char *body, size_t len, size_t *pos, const char *tag, char *out,
                     size_t outn)
{
    char open[48], close[48];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    size_t ol = strlen(open), cl = strlen(close);
    for (size_t i = *pos; i + ol <= len; i++) {
        if (memcmp(body + i, open, ol) != 0) continue;
        size_t s = i + ol;
        for (size_t j = s; j + cl <= len; j++) {
            if (memcmp(body + j, close, cl) != 0) continue;
            *pos = j + cl;
            return xml_text(body + s, j - s, out, outn) < 0 ? -1 : 1;
        }
        return -1;
    }
    return 0;
}

static void create_invalidation(gd_aws_call *k)
{
    if (gd_aws_unread(k) < 0) return;
    struct route rt = parse(k);
    const char *body = k->req->body;
    size_t len = k->req->body_len;
    if (!len) {
        gd_aws_fail(k, 400, "MissingBody", "give an InvalidationBatch document");
        return;
    }
    if (!memmem(body, len, "<InvalidationBatch", 18)) {
        gd_aws_fail(k, 400, "MalformedInput", "the body is not an InvalidationBatch document");
        return;
    }
    json_t *paths = json_array();
    char text[4200], ref[200] = "", qty[24] = "";
    size_t pos = 0;
    int r;
    while ((r = next_elem(body, len, &pos, "Path", text, sizeof text)) == 1 &&
           json_array_size(paths) <= MAX_BODY_PATHS)
        json_array_append_new(paths, json_string(text));
    size_t p2 = 0, p3 = 0;
    int rr = r < 0 ? -1 : next_elem(body, len, &p2, "CallerReference", ref, sizeof ref);
    int rq = rr < 0 ? -1 : next_elem(body, len, &p3, "Quantity", qty, sizeof qty);
    if (r < 0 || rr < 0 || rq < 0) {
        gd_aws_fail(k, 400, "MalformedInput", "the InvalidationBatch document is not well formed");
        json_decref(paths);
        return;
    }
    if (json_array_size(paths) > MAX_BODY_PATHS) {
        gd_aws_fail(k, 413, "BatchTooLarge", "at most %d paths an invalidation", MAX_BODY_PATHS);
        json_decref(paths);
        return;
    }
    if (rr == 0 || !*ref) {
        gd_aws_fail(k, 400, "InvalidArgument", "InvalidationBatch.CallerReference is required");
        json_decref(paths);
        return;
    }
    if (rq == 0 || strtol(qty, NULL, 10) != (long)json_array_size(paths)) {
        gd_aws_fail(k, 400, "InconsistentQuantities",
                    "Paths.Quantity (%s) is not the number of paths given (%zu)", qty,
                    json_array_size(paths));
        json_decref(paths);
        return;
    }
    json_t *cdn = find_cdn(k, rt.id);
    if (!cdn) {
        json_decref(paths);
        return;
    }
    char id[16];
    dist_id(cdn, id);
    json_t *req = json_pack("{s:o,s:s}", "paths", paths, "caller_reference", ref);
    gd_actor a = gd_aws_actor(k);
    gd_op_result res;
    gd_op_action(k->g, &a, "invalidate", gd_jstr(cdn, "id"), req, &res);
    json_decref(req);
    json_decref(cdn);
    if (res.code) {
        int st = res.status == 404   ? 404
                 : res.status == 413 ? 413
                 : res.status == 403 ? 403
                 : res.status == 409 ? 409
                                     : 400;
        gd_aws_fail(k, st, res.code, "%s", res.message);
        gd_op_result_free(&res);
        return;
    }
    gd_xml x;
    open_doc(&x, "Invalidation");
    invalidation_xml(k, &x, res.body, 1);
    gd_xml_close(&x, "Invalidation");
    char hdr[300];
    snprintf(hdr, sizeof hdr, "Location: http://%s:%d%s/%s/distribution/%s/invalidation/%s\r\n",
             k->g->host, k->g->port, GD_AWS_PREFIX, VERSION, id, gd_jstr(res.body, "id"));
    gd_op_result_free(&res);
    gd_aws_rest_send(k, 201, hdr, &x);
}

static void get_invalidation(gd_aws_call *k)
{
    if (gd_aws_unread(k) < 0) return;
    struct route rt = parse(k);
    json_t *cdn = find_cdn(k, rt.id);
    if (!cdn) return;
    const json_t *inv = gd_inv_find(cdn, rt.inv);
    if (!inv) {
        gd_aws_fail(k, 404, "NoSuchInvalidation",
                    "The specified invalidation does not exist: no '%.64s' on distribution '%s'",
                    rt.inv, rt.id);
        json_decref(cdn);
        return;
    }
    gd_xml x;
    open_doc(&x, "Invalidation");
    invalidation_xml(k, &x, inv, 1);
    gd_xml_close(&x, "Invalidation");
    json_decref(cdn);
    gd_aws_rest_send(k, 200, NULL, &x);
}

static void list_invalidations(gd_aws_call *k)
{
    long max;
    const char *marker = gd_aws_param(&k->params, "Marker");
    if (max_items(k, &max) < 0 || gd_aws_unread(k) < 0) return;
    struct route rt = parse(k);
    json_t *cdn = find_cdn(k, rt.id);
    if (!cdn) return;
    const json_t *all = json_object_get(json_object_get(cdn, "status"), "invalidations");
    size_t n = json_array_size(all), start = 0, i;
    if (marker && *marker) {
        start = n;
        for (i = 0; i < n; i++)
            if (!strcmp(gd_jstr(json_array_get(all, i), "id"), marker)) start = i;
        if (start == n) {
            gd_aws_fail(k, 400, "InvalidArgument",
                        "Marker '%.64s' is not an invalidation id this game listed", marker);
            json_decref(cdn);
            return;
        }
    }
    size_t stop = start + (size_t)max < n ? start + (size_t)max : n;
    gd_xml x;
    open_doc(&x, "InvalidationList");
    gd_xml_text(&x, "Marker", marker ? marker : "");
    if (stop < n) gd_xml_text(&x, "NextMarker", gd_jstr(json_array_get(all, stop), "id"));
    gd_xml_textf(&x, "MaxItems", "%ld", max);
    gd_xml_text(&x, "IsTruncated", stop < n ? "true" : "false");
    gd_xml_textf(&x, "Quantity", "%zu", stop - start);
    if (stop > start) {
        gd_xml_open(&x, "Items");
        for (i = start; i < stop; i++) {
            gd_xml_open(&x, "InvalidationSummary");
            invalidation_xml(k, &x, json_array_get(all, i), 0);
            gd_xml_close(&x, "InvalidationSummary");
        }
        gd_xml_close(&x, "Items");
    }
    gd_xml_close(&x, "InvalidationList");
    json_decref(cdn);
    gd_aws_rest_send(k, 200, NULL, &x);
}

static const gd_aws_action actions[] = {
    {"ListDistributions", list_distributions},  {"GetDistribution", get_dist},
    {"GetDistributionConfig", get_dist_config}, {"CreateInvalidation", create_invalidation},
    {"GetInvalidation", get_invalidation},      {"ListInvalidations", list_invalidations},
};

const gd_aws_service gd_aws_cloudfront = {
    .signing_name = "cloudfront",
    .version = VERSION,
    .xmlns = XMLNS,
    .protocol = GD_AWS_REST_XML,
    .actions = actions,
    .nactions = sizeof actions / sizeof actions[0],
    .route = route_action,
};
