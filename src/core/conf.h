/* Configuration documents: YAML (or JSON, a subset) loaded with libfyaml into a
 * jansson tree, remembering where each node came from so that every error can
 * name file:line:col. Plain YAML scalars become JSON numbers, booleans or null
 * when they look like one; quoted scalars stay strings. Anchors/aliases are
 * resolved; duplicate keys are an error. */
#ifndef GD_CONF_H
#define GD_CONF_H

#include <jansson.h>
#include <stddef.h>

typedef struct gd_conf gd_conf;

/** The deepest nesting of mappings and sequences a document may have; the root
 *  collection is level 1. A deeper document is an error, "nested deeper than ...". */
#define GD_CONF_MAX_DEPTH 64

/** A list of user-facing error messages, each "where: what is wrong (allowed: ...)". */
typedef struct gd_errs {
    char **msgs;
    int n;
} gd_errs;

void gd_errs_add(gd_errs *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void gd_errs_free(gd_errs *e);
/** Joins the messages with newlines into a new string (gd_free it). */
char *gd_errs_join(const gd_errs *e);

/** Loads a YAML/JSON file. On a syntax error adds "file:line:col: message" to errs
 *  and returns GD_EINVAL (or GD_ENOENT for a missing file, with a message too). */
int gd_conf_load_file(const char *path, gd_conf **out, gd_errs *errs);
/** The same from memory; name is used in messages in place of a file name. */
int gd_conf_load_string(const char *name, const char *text, size_t len, gd_conf **out,
                        gd_errs *errs);
/** The document's root (borrowed; lives as long as the conf). */
json_t *gd_conf_root(const gd_conf *c);
const char *gd_conf_file(const gd_conf *c);
/** Writes "file:line:col" for a node of this document into buf; for a node not from
 *  the document (or c == NULL) writes fallback (e.g. a JSON path) or "?". Returns buf. */
const char *gd_conf_where(const gd_conf *c, const json_t *node, const char *fallback, char *buf,
                          size_t n);
/** Like gd_conf_where, for the key `key` of the mapping `obj` of this document
 *  (where the key itself was written). Returns buf. */
const char *gd_conf_where_key(const gd_conf *c, const json_t *obj, const char *key,
                              const char *fallback, char *buf, size_t n);
void gd_conf_free(gd_conf *c);

/** Parses a game-time duration: "250ms", "4s", "20m", "4h", "1h30m", "2d", or a bare
 *  number of seconds (JSON number or string). GD_EINVAL if malformed or negative. */
int gd_duration_parse(const char *s, double *seconds);
/** Same for a JSON node (number = seconds, or string as above). */
int gd_duration_json(const json_t *j, double *seconds);

#endif
