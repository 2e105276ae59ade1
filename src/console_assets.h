/*
 * console_assets: the web console's static files (console/), embedded in the
 * vabilld binary so that the console works offline and from any install.
 *
 * The table is generated at build time by cmake/Embed.cmake into the build
 * directory (console_assets.c) and linked into vabilld only, not into
 * vabillcore.  The files carry no data and no secret: they are served to
 * anyone, and every value reaches the page through the admin API.
 */
#ifndef VABILL_CONSOLE_ASSETS_H
#define VABILL_CONSOLE_ASSETS_H

#include <stddef.h>

/* One embedded file.  data holds len bytes (followed by a NUL byte that len
 * does not count); all of it is static and lives as long as the program. */
struct console_asset {
    const char *path; /* URL path, e.g. "/console/app.js"; "/console/" for index.html */
    const char *type; /* Content-Type, e.g. "text/javascript; charset=utf-8" */
    const unsigned char *data;
    size_t len;
};

/* The embedded file served at path (an exact match, no query string), or NULL. */
const struct console_asset *console_asset_find(const char *path);

#endif
