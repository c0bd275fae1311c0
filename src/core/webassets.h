/* Files of web/ embedded into the binary by scripts/embed.py at build time. */
#ifndef GD_WEBASSETS_H
#define GD_WEBASSETS_H

#include <stddef.h>

struct gd_web_asset {
    const char *path; /* "/index.html" */
    const char *content_type;
    const unsigned char *data;
    size_t len;
};

/** Terminated by an entry whose path is NULL. */
extern const struct gd_web_asset gd_web_assets[];

#endif
