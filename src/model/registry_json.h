/* The registry's rows as JSON, for GET /api/v1/types and the team console: each type's
 * name, summary, flags, fields (kind, default, range, allowed values, the type a
 * reference names) and references. Static data only: it tells nothing of a game. */
#ifndef GD_MODEL_REGISTRY_JSON_H
#define GD_MODEL_REGISTRY_JSON_H

#include "model/registry.h"

#include <jansson.h>

/** The name of a field kind as the JSON says it ("int", "refs", ...). */
const char *gd_fkind_name(enum gd_fkind k);
/** One row as a new object: {name, prefix, summary, flags: [..], creatable, price,
 *  fields: [{name, kind, required, default?, min?, max?, enum?, ref?, fields?}],
 *  refs: {field: target}}. The caller owns it. */
json_t *gd_registry_type_json(const gd_rtype *t);
/** Every row, in the registry's order, as a new array. The caller owns it. */
json_t *gd_registry_json(void);

#endif
