/* Configuration documents: YAML/JSON parsed with libfyaml's event parser into a
 * jansson tree, with a pointer-keyed table of where each node (and each mapping key)
 * was written, so errors can name file:line:col. Also game-time durations. */
#include "core/conf.h"

#include "core/err.h"
#include "core/mem.h"

#include <errno.h>
#include <libfyaml.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILE_BYTES (16u << 20) /* a configuration file larger than this is refused */
#define MAX_NODES 1000000L         /* nodes per document, aliases included */

/* ---- error lists ---------------------------------------------------------------- */

void gd_errs_add(gd_errs *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *m = gd_vsprintf(fmt, ap);
    va_end(ap);
    e->msgs = gd_realloc(e->msgs, sizeof(char *) * (size_t)(e->n + 1));
    e->msgs[e->n++] = m;
}

void gd_errs_free(gd_errs *e)
{
    for (int i = 0; i < e->n; i++) gd_free(e->msgs[i]);
    gd_free(e->msgs);
    e->msgs = NULL;
    e->n = 0;
}

char *gd_errs_join(const gd_errs *e)
{
    size_t len = 1;
    for (int i = 0; i < e->n; i++) len += strlen(e->msgs[i]) + 1;
    char *s = gd_malloc(len), *p = s;
    for (int i = 0; i < e->n; i++) {
        size_t l = strlen(e->msgs[i]);
        memcpy(p, e->msgs[i], l);
        p += l;
        if (i + 1 < e->n) *p++ = '\n';
    }
    *p = 0;
    return s;
}

/* ---- the location table ------------------------------------------------------------ */

/* One entry: a node (key == NULL) or the key `key` of the mapping `node`. The table
 * holds a reference on every node so that no address is reused while the conf lives. */
struct loc {
    json_t *node;
    char *key;
    int line, col; /* 1-based */
};

struct gd_conf {
    char *file;
    json_t *root;
    struct loc *tab;
    size_t cap, used;
};

static size_t loc_hash(const void *node, const char *key)
{
    uint64_t h = (uint64_t)(uintptr_t)node * 0x9e3779b97f4a7c15ull;
    if (key)
        for (const unsigned char *p = (const unsigned char *)key; *p; p++)
            h = (h ^ *p) * 0x100000001b3ull;
    return (size_t)(h ^ (h >> 29));
}

static struct loc *loc_find(const gd_conf *c, const void *node, const char *key)
{
    if (c == NULL || c->cap == 0 || node == NULL) return NULL;
    size_t i = loc_hash(node, key) & (c->cap - 1);
    for (;;) {
        struct loc *l = &c->tab[i];
        if (l->node == NULL) return NULL;
        if (l->node == node &&
            ((key == NULL && l->key == NULL) || (key && l->key && strcmp(key, l->key) == 0)))
            return l;
        i = (i + 1) & (c->cap - 1);
    }
}

static void loc_put(gd_conf *c, json_t *node, const char *key, int line, int col);

static void loc_grow(gd_conf *c)
{
    struct loc *old = c->tab;
    size_t oldcap = c->cap;
    c->cap = oldcap ? oldcap * 2 : 256;
    c->tab = gd_calloc(c->cap, sizeof(struct loc));
    c->used = 0;
    for (size_t i = 0; i < oldcap; i++) {
        if (old[i].node == NULL) continue;
        size_t j = loc_hash(old[i].node, old[i].key) & (c->cap - 1);
        while (c->tab[j].node) j = (j + 1) & (c->cap - 1);
        c->tab[j] = old[i];
        c->used++;
    }
    gd_free(old);
}

/* Records where node (or its key) was written. Singletons (true, false, null) are
 * shared by jansson and cannot carry a place of their own: they are skipped. */
static void loc_put(gd_conf *c, json_t *node, const char *key, int line, int col)
{
    if (node == NULL || (key == NULL && (json_is_boolean(node) || json_is_null(node)))) return;
    struct loc *l = loc_find(c, node, key);
    if (l) {
        l->line = line;
        l->col = col;
        return;
    }
    if ((c->used + 1) * 2 > c->cap) loc_grow(c);
    size_t i = loc_hash(node, key) & (c->cap - 1);
    while (c->tab[i].node) i = (i + 1) & (c->cap - 1);
    c->tab[i].node = key ? node : json_incref(node);
    c->tab[i].key = key ? gd_strdup(key) : NULL;
    c->tab[i].line = line;
    c->tab[i].col = col;
    c->used++;
}

static const char *format_where(const gd_conf *c, const struct loc *l, const char *fallback,
                                char *buf, size_t n)
{
    if (n == 0) return buf;
    if (l)
        snprintf(buf, n, "%s:%d:%d", c->file, l->line, l->col);
    else
        snprintf(buf, n, "%s", fallback ? fallback : "?");
    return buf;
}

const char *gd_conf_where(const gd_conf *c, const json_t *node, const char *fallback, char *buf,
                          size_t n)
{
    return format_where(c, loc_find(c, node, NULL), fallback, buf, n);
}

const char *gd_conf_where_key(const gd_conf *c, const json_t *obj, const char *key,
                              const char *fallback, char *buf, size_t n)
{
    return format_where(c, key ? loc_find(c, obj, key) : NULL, fallback, buf, n);
}

json_t *gd_conf_root(const gd_conf *c)
{
    return c->root;
}

const char *gd_conf_file(const gd_conf *c)
{
    return c->file;
}

void gd_conf_free(gd_conf *c)
{
    if (c == NULL) return;
    for (size_t i = 0; i < c->cap; i++) {
        if (c->tab[i].node == NULL) continue;
        if (c->tab[i].key)
            gd_free(c->tab[i].key);
        else
            json_decref(c->tab[i].node);
    }
    gd_free(c->tab);
    json_decref(c->root);
    gd_free(c->file);
    gd_free(c);
}

/* ---- building the tree from parser events ---------------------------------------- */

struct anchor {
    char *name;
    json_t *node;
};

struct builder {
    gd_conf *c;
    struct fy_parser *p;
    struct fy_diag *diag;
    gd_errs *errs;
    int nerr;
    int fatal; /* a syntax error: the event stream is over */
    struct anchor *anchors;
    int nanchors;
    long nodes;
    int depth; /* mappings and sequences open around the event being built */
};

static void berr(struct builder *b, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void berr(struct builder *b, int line, int col, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    gd_errs_add(b->errs, "%s:%d:%d: %s", b->c->file, line, col, msg);
    b->nerr++;
}

/* Reports the parser's own diagnostics (a syntax error ends the stream). */
static void syntax_errors(struct builder *b)
{
    void *it = NULL;
    struct fy_diag_error *de;
    int n = 0;
    while ((de = fy_diag_errors_iterate(b->diag, &it)) != NULL) {
        berr(b, de->line > 0 ? de->line : 1, de->column > 0 ? de->column : 1, "%s",
             de->msg ? de->msg : "syntax error");
        n++;
    }
    if (n == 0) {
        gd_errs_add(b->errs, "%s: YAML syntax error", b->c->file);
        b->nerr++;
    }
    b->fatal = 1;
}

static struct fy_event *next_event(struct builder *b)
{
    if (b->fatal) return NULL;
    struct fy_event *e = fy_parser_parse(b->p);
    if (e == NULL) syntax_errors(b);
    return e;
}

static void mark_of(struct fy_event *e, int *line, int *col)
{
    const struct fy_mark *m = fy_event_start_mark(e);
    *line = m ? m->line + 1 : 1;
    *col = m ? m->column + 1 : 1;
    /* the mark of a quoted scalar or an alias is its first character: point at the
     * quote or the '*' instead */
    if (e->type == FYET_SCALAR && *col > 1) {
        enum fy_scalar_style st = fy_token_scalar_style(e->scalar.value);
        if (st == FYSS_SINGLE_QUOTED || st == FYSS_DOUBLE_QUOTED) (*col)--;
    }
    if (e->type == FYET_ALIAS && *col > 1) (*col)--;
}

static int count_node(struct builder *b, int line, int col)
{
    if (++b->nodes <= MAX_NODES) return 0;
    if (b->nodes == MAX_NODES + 1)
        berr(b, line, col, "document too large (allowed: at most %ld nodes)", MAX_NODES);
    return -1;
}

/* A collection at nesting level `level` (the root is 1): past GD_CONF_MAX_DEPTH it is an
 * error that ends the document, so that no recursion here (nor the schema's walk of the
 * tree, nor jansson's) goes deeper than that. */
static int check_depth(struct builder *b, int level, int line, int col)
{
    if (level <= GD_CONF_MAX_DEPTH) return 0;
    berr(b, line, col, "nested deeper than %d levels (allowed: at most %d)", GD_CONF_MAX_DEPTH,
         GD_CONF_MAX_DEPTH);
    b->fatal = 1;
    return -1;
}

static int ieq(const char *s, size_t n, const char *w)
{
    return strlen(w) == n && memcmp(s, w, n) == 0;
}

/* YAML 1.2 core schema for plain scalars: null, booleans, integers (decimal, 0x, 0o)
 * and floats; anything else (and .inf/.nan, which JSON cannot hold) is a string. */
static json_t *plain_scalar(const char *s, size_t n)
{
    if (n == 0 || ieq(s, n, "~") || ieq(s, n, "null") || ieq(s, n, "Null") || ieq(s, n, "NULL"))
        return json_null();
    if (ieq(s, n, "true") || ieq(s, n, "True") || ieq(s, n, "TRUE")) return json_true();
    if (ieq(s, n, "false") || ieq(s, n, "False") || ieq(s, n, "FALSE")) return json_false();
    if (n > 64 || memchr(s, 0, n)) return json_stringn(s, n);
    char tmp[72];
    memcpy(tmp, s, n);
    tmp[n] = 0;
    size_t i = 0;
    int base = 10;
    if (n > 2 && tmp[0] == '0' && (tmp[1] == 'x' || tmp[1] == 'o')) {
        base = tmp[1] == 'x' ? 16 : 8;
        i = 2;
        for (size_t k = i; k < n; k++)
            if (!(base == 16
                      ? (tmp[k] >= '0' && tmp[k] <= '9') || (tmp[k] >= 'a' && tmp[k] <= 'f') ||
                            (tmp[k] >= 'A' && tmp[k] <= 'F')
                      : tmp[k] >= '0' && tmp[k] <= '7'))
                return json_stringn(s, n);
        errno = 0;
        unsigned long long v = strtoull(tmp + 2, NULL, base);
        if (errno || v > (unsigned long long)INT64_MAX) return json_stringn(s, n);
        return json_integer((json_int_t)v);
    }
    if (tmp[i] == '+' || tmp[i] == '-') i++;
    size_t d0 = i, intdig, fracdig = 0;
    while (tmp[i] >= '0' && tmp[i] <= '9') i++;
    intdig = i - d0;
    int isfloat = 0;
    if (tmp[i] == '.') {
        isfloat = 1;
        size_t f0 = ++i;
        while (tmp[i] >= '0' && tmp[i] <= '9') i++;
        fracdig = i - f0;
    }
    if (intdig + fracdig == 0) return json_stringn(s, n);
    if (tmp[i] == 'e' || tmp[i] == 'E') {
        isfloat = 1;
        i++;
        if (tmp[i] == '+' || tmp[i] == '-') i++;
        size_t e0 = i;
        while (tmp[i] >= '0' && tmp[i] <= '9') i++;
        if (i == e0) return json_stringn(s, n);
    }
    if (i != n) return json_stringn(s, n);
    if (!isfloat) {
        errno = 0;
        long long v = strtoll(tmp, NULL, 10);
        if (errno == 0) return json_integer((json_int_t)v);
    }
    double d = strtod(tmp, NULL);
    if (!isfinite(d)) return json_stringn(s, n);
    return json_real(d);
}

static json_t *scalar_node(struct builder *b, struct fy_event *e, int line, int col)
{
    size_t n = 0;
    const char *s = fy_token_get_text(e->scalar.value, &n);
    if (s == NULL) s = "", n = 0;
    int as_string = fy_token_scalar_style(e->scalar.value) != FYSS_PLAIN;
    if (e->scalar.tag) {
        const char *tag = fy_token_get_text0(e->scalar.tag);
        if (tag && (strcmp(tag, "tag:yaml.org,2002:str") == 0 || strcmp(tag, "!") == 0))
            as_string = 1;
    }
    json_t *j = as_string ? json_stringn(s, n) : plain_scalar(s, n);
    if (j == NULL) berr(b, line, col, "scalar is not valid UTF-8 text");
    return j;
}

/* A deep copy of src that keeps the places of src's nodes (for aliases and merges);
 * level is the nesting level the copy will have, capped like the nodes written out. */
static json_t *copy_node(struct builder *b, json_t *src, int line, int col, int level)
{
    if (count_node(b, line, col)) return NULL;
    if ((json_is_object(src) || json_is_array(src)) && check_depth(b, level, line, col))
        return NULL;
    json_t *dst;
    if (json_is_object(src)) {
        dst = json_object();
        const char *k;
        json_t *v;
        json_object_foreach(src, k, v)
        {
            json_t *cv = copy_node(b, v, line, col, level + 1);
            if (cv == NULL) {
                json_decref(dst);
                return NULL;
            }
            json_object_set_new(dst, k, cv);
            struct loc *kl = loc_find(b->c, src, k);
            if (kl) loc_put(b->c, dst, k, kl->line, kl->col);
        }
    } else if (json_is_array(src)) {
        dst = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(src, i, v)
        {
            json_t *cv = copy_node(b, v, line, col, level + 1);
            if (cv == NULL) {
                json_decref(dst);
                return NULL;
            }
            json_array_append_new(dst, cv);
        }
    } else {
        dst = json_copy(src);
    }
    struct loc *l = loc_find(b->c, src, NULL);
    loc_put(b->c, dst, NULL, l ? l->line : line, l ? l->col : col);
    return dst;
}

static void add_anchor(struct builder *b, char *name, json_t *node)
{
    for (int i = 0; i < b->nanchors; i++)
        if (strcmp(b->anchors[i].name, name) == 0) {
            b->anchors[i].node = node; /* a later anchor of the same name wins */
            gd_free(name);
            return;
        }
    b->anchors = gd_realloc(b->anchors, sizeof(struct anchor) * (size_t)(b->nanchors + 1));
    b->anchors[b->nanchors].name = name;
    b->anchors[b->nanchors].node = node;
    b->nanchors++;
}

static json_t *find_anchor(struct builder *b, const char *name)
{
    for (int i = b->nanchors - 1; i >= 0; i--)
        if (strcmp(b->anchors[i].name, name) == 0) return b->anchors[i].node;
    return NULL;
}

static json_t *build(struct builder *b, struct fy_event *e);

/* Applies YAML merge keys ("<<: *base" or "<<: [*a, *b]"): keys written explicitly
 * win, then earlier sources over later ones. */
static void apply_merges(struct builder *b, json_t *obj, json_t *merges)
{
    size_t i;
    json_t *src;
    json_array_foreach(merges, i, src)
    {
        const char *k;
        json_t *v;
        json_object_foreach(src, k, v)
        {
            if (json_object_get(obj, k)) continue;
            struct loc *l = loc_find(b->c, v, NULL);
            json_t *cv = copy_node(b, v, l ? l->line : 1, l ? l->col : 1, b->depth + 1);
            if (cv == NULL) return;
            json_object_set_new(obj, k, cv);
            struct loc *kl = loc_find(b->c, src, k);
            if (kl) loc_put(b->c, obj, k, kl->line, kl->col);
        }
    }
}

static json_t *build_mapping(struct builder *b, int line, int col)
{
    json_t *obj = json_object(), *merges = json_array();
    loc_put(b->c, obj, NULL, line, col);
    for (;;) {
        struct fy_event *ke = next_event(b);
        if (ke == NULL) break;
        if (ke->type == FYET_MAPPING_END) {
            fy_parser_event_free(b->p, ke);
            apply_merges(b, obj, merges);
            json_decref(merges);
            return obj;
        }
        int kl, kc;
        mark_of(ke, &kl, &kc);
        char *key = NULL;
        int merge = 0;
        if (ke->type == FYET_SCALAR) {
            size_t n = 0;
            const char *s = fy_token_get_text(ke->scalar.value, &n);
            key = gd_strndup(s ? s : "", s ? n : 0);
            merge = fy_token_scalar_style(ke->scalar.value) == FYSS_PLAIN && strcmp(key, "<<") == 0;
            fy_parser_event_free(b->p, ke);
        } else if (ke->type == FYET_ALIAS) {
            const char *name = fy_token_get_text0(ke->alias.anchor);
            json_t *t = name ? find_anchor(b, name) : NULL;
            if (t && json_is_string(t)) key = gd_strdup(json_string_value(t));
            fy_parser_event_free(b->p, ke);
            if (key == NULL) berr(b, kl, kc, "mapping key must be a string (allowed: text)");
        } else {
            json_t *junk = build(b, ke); /* consume the complex key */
            json_decref(junk);
            if (!b->fatal) berr(b, kl, kc, "mapping key must be a string (allowed: text)");
        }
        struct fy_event *ve = next_event(b);
        if (ve == NULL) {
            gd_free(key);
            break;
        }
        int vl, vc;
        mark_of(ve, &vl, &vc);
        json_t *v = build(b, ve);
        if (b->fatal) {
            gd_free(key);
            json_decref(v);
            break;
        }
        if (key && v && merge) {
            int ok = json_is_object(v);
            if (json_is_array(v)) {
                size_t i;
                json_t *m;
                ok = 1;
                json_array_foreach(v, i, m) ok = ok && json_is_object(m);
                if (ok) json_array_extend(merges, v);
            } else if (ok) {
                json_array_append(merges, v);
            }
            if (!ok)
                berr(b, vl, vc,
                     "merge key '<<' needs a mapping (allowed: a mapping or a list of "
                     "mappings)");
        } else if (key && v) {
            if (json_object_get(obj, key)) {
                struct loc *first = loc_find(b->c, obj, key);
                berr(b, kl, kc, "duplicate key '%s' (first at line %d) (allowed: each key once)",
                     key, first ? first->line : 0);
            } else {
                json_object_set(obj, key, v);
                loc_put(b->c, obj, key, kl, kc);
            }
        }
        json_decref(v);
        gd_free(key);
    }
    json_decref(merges);
    json_decref(obj);
    return NULL;
}

static json_t *build_sequence(struct builder *b, int line, int col)
{
    json_t *arr = json_array();
    loc_put(b->c, arr, NULL, line, col);
    for (;;) {
        struct fy_event *e = next_event(b);
        if (e == NULL) break;
        if (e->type == FYET_SEQUENCE_END) {
            fy_parser_event_free(b->p, e);
            return arr;
        }
        json_t *v = build(b, e);
        if (b->fatal) {
            json_decref(v);
            break;
        }
        if (v) json_array_append_new(arr, v);
    }
    json_decref(arr);
    return NULL;
}

/* Builds the node that starts with event e (consumed). NULL after an error. An
 * anchor is registered once its node is complete, so an alias inside its own anchor
 * is an error rather than a cycle. */
static json_t *build(struct builder *b, struct fy_event *e)
{
    int line, col;
    mark_of(e, &line, &col);
    if (count_node(b, line, col)) {
        b->fatal = 1;
        fy_parser_event_free(b->p, e);
        return NULL;
    }
    struct fy_token *atok = e->type == FYET_SCALAR           ? e->scalar.anchor
                            : e->type == FYET_MAPPING_START  ? e->mapping_start.anchor
                            : e->type == FYET_SEQUENCE_START ? e->sequence_start.anchor
                                                             : NULL;
    const char *aname = atok ? fy_token_get_text0(atok) : NULL;
    char *anchor = aname ? gd_strdup(aname) : NULL;
    json_t *j = NULL;
    switch (e->type) {
    case FYET_SCALAR:
        j = scalar_node(b, e, line, col);
        loc_put(b->c, j, NULL, line, col);
        fy_parser_event_free(b->p, e);
        break;
    case FYET_ALIAS: {
        const char *name = fy_token_get_text0(e->alias.anchor);
        json_t *t = name ? find_anchor(b, name) : NULL;
        if (t == NULL)
            berr(b, line, col, "unknown alias '*%s' (allowed: an anchor defined earlier)",
                 name ? name : "");
        else
            j = copy_node(b, t, line, col, b->depth + 1);
        fy_parser_event_free(b->p, e);
        break;
    }
    case FYET_MAPPING_START:
    case FYET_SEQUENCE_START: {
        int map = e->type == FYET_MAPPING_START;
        fy_parser_event_free(b->p, e);
        if (check_depth(b, b->depth + 1, line, col)) break;
        b->depth++;
        j = map ? build_mapping(b, line, col) : build_sequence(b, line, col);
        b->depth--;
        break;
    }
    default:
        berr(b, line, col, "unexpected YAML event %d", (int)e->type);
        b->fatal = 1;
        fy_parser_event_free(b->p, e);
        break;
    }
    if (anchor && j)
        add_anchor(b, anchor, j);
    else
        gd_free(anchor);
    return j;
}

/* libfyaml's scanner holds every token of an unclosed flow collection ("[[[[...") until
 * it knows whether the collection is a mapping key, so a deep flow nest costs it memory
 * in proportion to the whole nest (gigabytes for a 16 MiB file) before the builder sees
 * the first event. This cheap scan counts flow brackets outside quotes, comments and
 * block scalars and reports the first one past GD_CONF_MAX_DEPTH, as the builder would.
 * It may miss a nest (a bracket it takes for text) but never counts text as a bracket
 * outside flow context unless it starts a node. Returns 0, or -1 with the error added. */
static int flow_depth_scan(struct builder *b, const char *t, size_t n)
{
    int depth = 0, line = 1;
    size_t bol = 0;     /* offset of the current line's first byte */
    int node_start = 1; /* block context: the next non-space byte starts a node */
    int indent = 0, skip_indent = -1;
    for (size_t i = 0; i < n; i++) {
        char ch = t[i];
        if (ch == '\n') {
            line++;
            bol = i + 1;
            node_start = 1;
            indent = 0;
            while (bol + (size_t)indent < n && t[bol + (size_t)indent] == ' ') indent++;
            if (skip_indent >= 0) {
                size_t e = bol + (size_t)indent;
                if (indent > skip_indent || e >= n || t[e] == '\n' || t[e] == '\r') {
                    i = e - 1; /* a line of a block scalar: skip to its end */
                    while (i + 1 < n && t[i + 1] != '\n') i++;
                    continue;
                }
                skip_indent = -1;
            }
            continue;
        }
        int prev_sep = i == bol || t[i - 1] == ' ' || t[i - 1] == '\t';
        if (ch == ' ' || ch == '\t' || ch == '\r') continue;
        if (ch == '#' && prev_sep) {
            while (i + 1 < n && t[i + 1] != '\n') i++;
            continue;
        }
        int at_token = depth > 0 ? prev_sep || strchr("[{,:", t[i - 1]) != NULL : node_start;
        if ((ch == '\'' || ch == '"') && at_token) {
            for (i++; i < n; i++) {
                if (t[i] == '\n') line++, bol = i + 1;
                if (ch == '"' && t[i] == '\\') {
                    i++;
                    continue;
                }
                if (t[i] == ch) {
                    if (ch == '\'' && i + 1 < n && t[i + 1] == '\'') {
                        i++;
                        continue;
                    }
                    break;
                }
            }
            node_start = 0;
            continue;
        }
        if (depth == 0) {
            if ((ch == '|' || ch == '>') && node_start) {
                skip_indent = indent;
                node_start = 0;
                continue;
            }
            if ((ch == '-' || ch == '?' || ch == ':') &&
                (i + 1 == n || t[i + 1] == ' ' || t[i + 1] == '\n')) {
                node_start = 1; /* an indicator: a node may follow */
                continue;
            }
            if ((ch == '&' || ch == '!') && node_start) {
                while (i + 1 < n && t[i + 1] != ' ' && t[i + 1] != '\n') i++;
                continue; /* an anchor or a tag: the node follows */
            }
            if (!((ch == '[' || ch == '{') && node_start)) {
                node_start = 0;
                continue;
            }
        }
        if (ch == '[' || ch == '{') {
            if (++depth > GD_CONF_MAX_DEPTH) {
                check_depth(b, depth, line, (int)(i - bol) + 1);
                return -1;
            }
        } else if ((ch == ']' || ch == '}') && depth > 0) {
            if (--depth == 0) node_start = 0;
        }
    }
    return 0;
}

/* The length of the valid UTF-8 sequence at s (at most n bytes), or 0 if it is not one. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len = s[0] < 0x80                   ? 1
                 : s[0] >= 0xc2 && s[0] < 0xe0 ? 2
                 : s[0] >= 0xe0 && s[0] < 0xf0 ? 3
                 : s[0] >= 0xf0 && s[0] < 0xf5 ? 4
                                               : 0;
    if (len == 0 || len > n) return 0;
    for (size_t k = 1; k < len; k++)
        if ((s[k] & 0xc0) != 0x80) return 0;
    if (len == 3 && ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0))) return 0;
    if (len == 4 && ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))) return 0;
    return len;
}

/* A YAML stream is Unicode text, and libfyaml 0.7 is not safe on bytes that are not
 * UTF-8: it loops forever on a directive line holding one ("%\xff"), leaks a quoted
 * scalar's text before one, and may end the stream early at one in a comment. So the
 * text is checked here first; the first such byte is the error, at its line and
 * column (in characters). Returns 0, or -1 with the error added. */
static int utf8_scan(struct builder *b, const char *t, size_t n)
{
    int line = 1, col = 1;
    for (size_t i = 0; i < n;) {
        size_t l = utf8_len((const unsigned char *)t + i, n - i);
        if (l == 0) {
            berr(b, line, col, "not valid UTF-8 text (allowed: UTF-8)");
            return -1;
        }
        if (t[i] == '\n')
            line++, col = 1;
        else
            col++;
        i += l;
    }
    return 0;
}

static void noop_output(struct fy_diag *diag, void *user, const char *buf, size_t len) {}

int gd_conf_load_string(const char *name, const char *text, size_t len, gd_conf **out,
                        gd_errs *errs)
{
    *out = NULL;
    gd_conf *c = gd_calloc(1, sizeof *c);
    c->file = gd_strdup(name ? name : "<string>");
    struct fy_diag_cfg dcfg;
    fy_diag_cfg_default(&dcfg);
    dcfg.fp = NULL;
    dcfg.output_fn = noop_output;
    dcfg.colorize = false;
    struct builder b = {.c = c, .errs = errs};
    b.diag = fy_diag_create(&dcfg);
    if (b.diag == NULL) {
        gd_conf_free(c);
        gd_errs_add(errs, "%s: cannot create YAML diagnostics", name);
        return GD_ENOMEM;
    }
    if (flow_depth_scan(&b, text, len) != 0 || utf8_scan(&b, text, len) != 0) {
        fy_diag_destroy(b.diag);
        gd_conf_free(c);
        return GD_EINVAL;
    }
    fy_diag_set_collect_errors(b.diag, true);
    struct fy_parse_cfg pcfg = {.flags = FYPCF_QUIET | FYPCF_COLLECT_DIAG, .diag = b.diag};
    b.p = fy_parser_create(&pcfg);
    if (b.p == NULL || fy_parser_set_string(b.p, len ? text : "", len) != 0) {
        if (b.p) fy_parser_destroy(b.p);
        fy_diag_destroy(b.diag);
        gd_conf_free(c);
        gd_errs_add(errs, "%s: cannot create YAML parser", name);
        return GD_ENOMEM;
    }
    int docs = 0;
    struct fy_event *e;
    while (!b.fatal && (e = next_event(&b)) != NULL) {
        enum fy_event_type t = e->type;
        if (t == FYET_STREAM_END) {
            fy_parser_event_free(b.p, e);
            break;
        }
        if (t == FYET_DOCUMENT_START) {
            if (++docs > 1) {
                int l, col;
                mark_of(e, &l, &col);
                berr(&b, l, col, "a second YAML document (allowed: one document per file)");
                b.fatal = 1;
            }
            fy_parser_event_free(b.p, e);
            continue;
        }
        if (t == FYET_STREAM_START || t == FYET_DOCUMENT_END) {
            fy_parser_event_free(b.p, e);
            continue;
        }
        json_t *j = build(&b, e);
        if (c->root == NULL && !b.fatal)
            c->root = j;
        else
            json_decref(j);
    }
    fy_parser_destroy(b.p);
    fy_diag_destroy(b.diag);
    for (int i = 0; i < b.nanchors; i++) gd_free(b.anchors[i].name);
    gd_free(b.anchors);
    if (b.nerr > 0) {
        gd_conf_free(c);
        return GD_EINVAL;
    }
    if (c->root == NULL) c->root = json_null();
    *out = c;
    return 0;
}

int gd_conf_load_file(const char *path, gd_conf **out, gd_errs *errs)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        int en = errno;
        gd_errs_add(errs, "%s: cannot open: %s", path, strerror(en));
        return en == ENOENT ? GD_ENOENT : GD_EIO;
    }
    size_t cap = 4096, len = 0;
    char *buf = gd_malloc(cap);
    for (;;) {
        if (len == cap) {
            if (cap >= MAX_FILE_BYTES) {
                fclose(f);
                gd_free(buf);
                gd_errs_add(errs, "%s: file too large (allowed: at most %u bytes)", path,
                            MAX_FILE_BYTES);
                return GD_EINVAL;
            }
            cap *= 2;
            buf = gd_realloc(buf, cap);
        }
        size_t r = fread(buf + len, 1, cap - len, f);
        if (r == 0) break;
        len += r;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        gd_free(buf);
        gd_errs_add(errs, "%s: read error", path);
        return GD_EIO;
    }
    int rc = gd_conf_load_string(path, buf, len, out, errs);
    gd_free(buf);
    return rc;
}

/* ---- durations ------------------------------------------------------------------------ */

int gd_duration_parse(const char *s, double *seconds)
{
    if (s == NULL || *s == 0) return GD_EINVAL;
    char *end;
    /* a bare number of seconds */
    if ((*s >= '0' && *s <= '9') || *s == '.') {
        errno = 0;
        double v = strtod(s, &end);
        if (*end == 0) {
            if (errno || !isfinite(v) || v < 0) return GD_EINVAL;
            *seconds = v;
            return 0;
        }
    }
    static const struct {
        const char *u;
        double mult;
    } units[] = {{"d", 86400}, {"h", 3600}, {"ms", 0.001}, {"m", 60}, {"s", 1}};
    static const int rank[] = {0, 1, 4, 2, 3}; /* order in which units may follow */
    double total = 0;
    int last = -1;
    const char *p = s;
    while (*p) {
        if (!((*p >= '0' && *p <= '9') || *p == '.')) return GD_EINVAL;
        const char *q = p;
        int digits = 0, dots = 0;
        while ((*q >= '0' && *q <= '9') || *q == '.') {
            if (*q == '.')
                dots++;
            else
                digits++;
            q++;
        }
        if (digits == 0 || dots > 1) return GD_EINVAL;
        double v = strtod(p, &end);
        if (end != q) return GD_EINVAL;
        int u = -1;
        for (int i = 0; i < 5; i++) {
            size_t ul = strlen(units[i].u);
            if (strncmp(q, units[i].u, ul) == 0 && !(i == 3 && q[1] == 's')) {
                u = i;
                q += ul;
                break;
            }
        }
        if (u < 0 || rank[u] <= last) return GD_EINVAL;
        last = rank[u];
        total += v * units[u].mult;
        p = q;
    }
    if (!isfinite(total)) return GD_EINVAL;
    *seconds = total;
    return 0;
}

int gd_duration_json(const json_t *j, double *seconds)
{
    if (json_is_integer(j) || json_is_real(j)) {
        double v = json_number_value(j);
        if (!isfinite(v) || v < 0) return GD_EINVAL;
        *seconds = v;
        return 0;
    }
    if (json_is_string(j)) return gd_duration_parse(json_string_value(j), seconds);
    return GD_EINVAL;
}
