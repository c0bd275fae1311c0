/* `gameday report DIR`: the post-game report of the game in DIR (the --out of play),
 * from its state.db alone: DIR/report.md and a self-contained DIR/report.html. */
#include "cli/roles.h"
#include "core/err.h"
#include "core/mem.h"
#include "model/scenario.h"
#include "server/report.h"
#include "server/store.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int usage(int rc)
{
    fprintf(rc ? stderr : stdout,
            "usage: gameday report DIR\n"
            "Writes the report of the game in DIR (the --out of 'gameday play'; it holds\n"
            "state.db) to DIR/report.md and DIR/report.html, and prints their paths: the\n"
            "score timeline with every event and player action, what each action gained or\n"
            "cost (points per game minute in the 2 game minutes before and after it), the\n"
            "final bill by resource, and the customers' answers and latency per game minute.\n"
            "The HTML file is self-contained (it opens from disk). Works on a running game\n"
            "too (the report then stops at the game clock).\n");
    return rc;
}

static double kv_num(gd_store *db, const char *key, double def)
{
    char *v = gd_store_kv_get(db, key);
    double d = v ? strtod(v, NULL) : def;
    gd_free(v);
    return d;
}

static int write_file(const char *path, const gd_buf *b)
{
    FILE *f = fopen(path, "w");
    if (!f) return GD_EIO;
    int ok = fwrite(b->data, 1, b->len, f) == b->len;
    ok &= fclose(f) == 0;
    return ok ? 0 : GD_EIO;
}

int gd_cmd_report(int argc, char **argv)
{
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return usage(0);
        if (argv[i][0] == '-' || dir) return usage(2);
        dir = argv[i];
    }
    if (!dir) return usage(2);
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/state.db", dir);
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "gameday report: %s: %s (DIR is a game's folder, the --out of play)\n",
                path, strerror(errno));
        return 1;
    }
    gd_store *db = NULL;
    if (gd_store_open(path, &db) < 0) {
        fprintf(stderr, "gameday report: %s: cannot open the game's state\n", path);
        return 1;
    }
    /* The scenario gives the title and the points per dollar; the game runs without. */
    char *scen = gd_store_kv_get(db, "scenario");
    gd_scenario *sc = NULL;
    gd_errs errs = {0};
    if (scen && gd_scenario_load(scen, &sc, &errs) < 0) sc = NULL;
    gd_errs_free(&errs);
    const char *base = scen ? strrchr(scen, '/') : NULL;
    gd_report_opts o = {
        .name = sc     ? sc->name
                : base ? base + 1
                       : "game",
        .title = sc && sc->title ? sc->title : NULL,
        .duration = kv_num(db, "duration", 0),
        .points_per_dollar = sc ? sc->billing.points_per_dollar : 0,
        .state = kv_num(db, "ended", 0) > 0 ? "ended" : "running",
    };
    json_t *rep = gd_report_build(db, &o);
    int rc = 1;
    if (!rep) {
        fprintf(stderr, "gameday report: %s: cannot read the game's state\n", path);
        goto out;
    }
    gd_buf md, html;
    gd_buf_init(&md, 64 << 20);
    gd_buf_init(&html, 64 << 20);
    int r = gd_report_markdown(rep, &md);
    int h = gd_report_html(rep, &html);
    if (r < 0 || h < 0) {
        fprintf(stderr, "gameday report: cannot render the report: %s\n",
                gd_strerror(r < 0 ? r : h));
    } else {
        char md_path[PATH_MAX + 32], html_path[PATH_MAX + 32];
        snprintf(md_path, sizeof md_path, "%s/report.md", dir);
        snprintf(html_path, sizeof html_path, "%s/report.html", dir);
        if (write_file(md_path, &md) < 0 || write_file(html_path, &html) < 0) {
            fprintf(stderr, "gameday report: cannot write in %s: %s\n", dir, strerror(errno));
        } else {
            printf("report.md: %s\nreport.html: %s\n", md_path, html_path);
            rc = 0;
        }
    }
    gd_buf_free(&md);
    gd_buf_free(&html);
    json_decref(rep);
out:
    if (sc) gd_scenario_free(sc);
    gd_free(scen);
    gd_store_close(db);
    return rc;
}
