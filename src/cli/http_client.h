/* Blocking HTTP/JSON calls for the command-line tools (libcurl). */
#ifndef GD_CLI_HTTP_CLIENT_H
#define GD_CLI_HTTP_CLIENT_H

#include <jansson.h>

/** Calls METHOD api+path with an optional bearer token and JSON body. Returns the
 *  parsed answer (new reference; any JSON, or NULL when the answer is not JSON or
 *  the server did not answer) and sets *status (0 when unreachable). */
json_t *gd_cli_call(const char *method, const char *api, const char *path, const char *token,
                    json_t *body, long *status);
/** GET returning the JSON only for a 2xx answer, else NULL (status in *status if given). */
json_t *gd_cli_get(const char *api, const char *path, const char *token, long *status);

#endif
