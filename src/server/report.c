/* The post-game report from the store: each team's score series, events and actions
 * with their before/after points per minute, bill by resource and customers per game
 * minute (board.c computes), then Markdown (here) or a self-contained HTML page (the
 * embedded web/report.html with its assets inlined and the report as data). */
#include "server/report.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/mem.h"
#include "core/webassets.h"
#include "server/board.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static double num(const json_t *o, const char *k)
{
    return json_number_value(json_object_get(o, k));
}

/* ---- the data ---- */

json_t *gd_report_actions(gd_store *db, int team, int newest)
{
    json_t *out = json_array();
    char want[32];
    snprintf(want, sizeof want, "team-%d", team);
    gd_audit_filter f;
    gd_audit_filter_init(&f);
    f.team = team;
    f.limit = newest > 0 ? -newest : GD_AUDIT_MAX_ROWS;
    for (;;) {
        json_t *recs = gd_store_audit_find(db, &f);
        size_t i, n = json_array_size(recs);
        json_t *r;
        json_array_foreach(recs, i, r)
        {
            const char *who = str(r, "principal");
            f.since = (int64_t)json_integer_value(json_object_get(r, "seq"));
            if (json_is_true(json_object_get(r, "readOnly"))) continue;
            if (strcmp(who, want) != 0 && strcmp(who, "admin") != 0) continue;
            json_array_append_new(out, gd_board_action_row(r));
        }
        json_decref(recs);
        if (newest > 0 || n < GD_AUDIT_MAX_ROWS) break;
    }
    return out;
}

/* Orders rows by their "time" (ties: as they were). */
static int by_time(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    double tx = num(x, "time"), ty = num(y, "time");
    if (tx != ty) return tx < ty ? -1 : 1;
    return a < b ? -1 : a > b;
}

void gd_report_sort(json_t *rows)
{
    size_t n = json_array_size(rows);
    json_t **v = gd_calloc(n + 1, sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = json_incref(json_array_get(rows, i));
    qsort(v, n, sizeof *v, by_time);
    json_array_clear(rows);
    for (size_t i = 0; i < n; i++) json_array_append_new(rows, v[i]);
    gd_free(v);
}

/* What kind of event a row is, from its source (the board's colours). */
static const char *kind_of(const char *source)
{
    if (!strcmp(source, GD_BOARD_BILLING)) return "bill";
    if (!strcmp(source, "chaos-monkey") || !strcmp(source, "fis") || !strcmp(source, "ec2-spot"))
        return "chaos";
    if (!strcmp(source, "cloudwatch")) return "alarm";
    if (!strcmp(source, "autoscaling")) return "scaling";
    if (!strncmp(source, "team-", 5) || !strcmp(source, "admin")) return "action";
    return "event";
}

json_t *gd_report_team_events(gd_store *db, int team, const json_t *ledger, int naudit,
                              double points_per_dollar)
{
    json_t *rows = json_array();
    size_t k;
    json_t *e;
    json_array_foreach(ledger, k, e) if (gd_board_notable(e)) json_array_append(rows, e);
    json_t *acts = gd_report_actions(db, team, naudit);
    json_array_extend(rows, acts);
    json_decref(acts);
    gd_report_sort(rows);
    json_t *folded = gd_board_fold_bills(rows, GD_BOARD_FOLD_PERIOD, points_per_dollar);
    json_decref(rows);
    json_array_foreach(folded, k, e) if (!json_object_get(e, "kind"))
        json_object_set_new(e, "kind", json_string(kind_of(str(e, "source"))));
    return folded;
}

/* The team's bill by resource, from the billing's kv "bill_<team>". */
static json_t *bill_of(gd_store *db, int team)
{
    char key[32];
    snprintf(key, sizeof key, "bill_%d", team);
    char *s = gd_store_kv_get(db, key);
    json_t *b = s ? json_loads(s, 0, NULL) : NULL;
    gd_free(s);
    json_t *by = json_object(), *list = json_array();
    double total = 0;
    const char *k;
    json_t *it;
    json_object_foreach(b, k, it)
    {
        const char *res = str(it, "resource");
        json_t *r = json_object_get(by, res);
        if (!r) {
            r = json_pack("{s:s,s:s,s:s,s:f}", "resource", res, "name", str(it, "name"), "type",
                          str(it, "type"), "usd", 0.0);
            json_object_set_new(by, res, r);
            json_array_append(list, r);
        }
        json_object_set_new(r, "usd", json_real(num(r, "usd") + num(it, "usd")));
        total += num(it, "usd");
    }
    json_decref(b);
    json_decref(by);
    /* dearest first */
    size_t n = json_array_size(list);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i;
             j > 0 && num(json_array_get(list, j - 1), "usd") < num(json_array_get(list, j), "usd");
             j--) {
            json_t *a = json_incref(json_array_get(list, j - 1));
            json_array_set(list, j - 1, json_array_get(list, j));
            json_array_set_new(list, j, a);
        }
    return json_pack("{s:f,s:o}", "total_usd", total, "by_resource", list);
}

/* The score just after game time t: the points of the rows up to t. */
static double score_at(const json_t *rows, double t)
{
    double sum = 0;
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) if (num(r, "time") <= t) sum += num(r, "points");
    return sum;
}

json_t *gd_report_build(gd_store *db, const gd_report_opts *o)
{
    json_t *teams = gd_store_teams(db);
    if (!teams) return NULL;
    size_t nt = json_array_size(teams), i;
    json_t **ledgers = gd_calloc(nt + 1, sizeof *ledgers);
    double end = o->now;
    for (i = 0; i < nt; i++) {
        int id = (int)json_integer_value(json_object_get(json_array_get(teams, i), "id"));
        ledgers[i] = gd_store_ledger_list(db, id, 0, 0);
        size_t n = json_array_size(ledgers[i]);
        if (o->now <= 0 && n) {
            double t = num(json_array_get(ledgers[i], n - 1), "time");
            if (t > end) end = t;
        }
    }
    if (o->duration > 0 && end > o->duration) end = o->duration;
    json_t *out = json_array();
    for (i = 0; i < nt; i++) {
        json_t *tm = json_array_get(teams, i), *rows = ledgers[i] ? ledgers[i] : json_array();
        int id = (int)json_integer_value(json_object_get(tm, "id"));
        double score = 0;
        size_t k;
        json_t *r;
        json_array_foreach(rows, k, r) score += num(r, "points");
        json_t *acts = gd_report_actions(db, id, 0);
        json_array_foreach(acts, k, r)
        {
            json_object_set_new(r, "effect",
                                gd_board_effect(rows, num(r, "time"), GD_REPORT_WINDOW, end));
        }
        json_t *evs = gd_report_team_events(db, id, rows, 0, o->points_per_dollar);
        json_array_foreach(evs, k, r) /* the timeline's score column */
            json_object_set_new(r, "score", json_real(score_at(rows, num(r, "time"))));
        json_t *t =
            json_pack("{s:i,s:s,s:f,s:o,s:o,s:o,s:o,s:o}", "id", id, "name", str(tm, "name"),
                      "score", score, "series", gd_board_series(rows, end, 60), "customers",
                      gd_board_customers(rows, 60, end), "events", evs, "actions", acts, "bill",
                      bill_of(db, id));
        json_array_append_new(out, t);
        json_decref(ledgers[i]);
    }
    gd_free(ledgers);
    json_decref(teams);
    return json_pack("{s:{s:s,s:s,s:f,s:f,s:s,s:i},s:o}", "game", "name", o->name ? o->name : "",
                     "title", o->title ? o->title : (o->name ? o->name : ""), "duration",
                     o->duration, "clock", end, "state", o->state ? o->state : "ended", "window_s",
                     GD_REPORT_WINDOW, "teams", out);
}

/* ---- Markdown ---- */

/* s with '|' escaped and line breaks as spaces: one table cell. */
static int cell(gd_buf *b, const char *s)
{
    int r = 0;
    for (; *s; s++) {
        if (*s == '|')
            r |= gd_buf_puts(b, "\\|");
        else if (*s == '\n' || *s == '\r')
            r |= gd_buf_puts(b, " ");
        else
            r |= gd_buf_append(b, s, 1);
    }
    return r;
}

static const char *hms(double t, char *buf, size_t n)
{
    return gd_clock_hms(t < 0 ? 0 : t, buf, n);
}

/* A rate with its sign ("+12.3"), "n/a" when unknown. */
static const char *rate(const json_t *v, char *buf, size_t n)
{
    if (!json_is_number(v)) return "n/a";
    snprintf(buf, n, "%+.1f", json_number_value(v));
    return buf;
}

/* Teams by score, best first (indexes into the array). */
static void ranking(const json_t *teams, size_t *order, size_t n)
{
    for (size_t i = 0; i < n; i++) order[i] = i;
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && num(json_array_get(teams, order[j - 1]), "score") <
                                        num(json_array_get(teams, order[j]), "score");
             j--) {
            size_t x = order[j - 1];
            order[j - 1] = order[j];
            order[j] = x;
        }
}

int gd_report_markdown(const json_t *rep, gd_buf *b)
{
    const json_t *game = json_object_get(rep, "game"), *teams = json_object_get(rep, "teams");
    char t0[32], t1[32], r0[32], r1[32], r2[32];
    int r = 0;
    size_t nt = json_array_size(teams), i, k;
    json_t *t, *e;
    r |= gd_buf_printf(b, "# Game report: %s\n\n", str(game, "title"));
    r |= gd_buf_printf(b, "Scenario `%s`, %s of %s game time, %s. %zu team%s.\n\n",
                       str(game, "name"), hms(num(game, "clock"), t0, sizeof t0),
                       hms(num(game, "duration"), t1, sizeof t1), str(game, "state"), nt,
                       nt == 1 ? "" : "s");
    size_t *order = gd_calloc(nt + 1, sizeof *order);
    ranking(teams, order, nt);
    r |= gd_buf_puts(b, "## Ranking\n\n| rank | team | score | revenue | cost | bill |\n"
                        "|---:|---|---:|---:|---:|---:|\n");
    for (i = 0; i < nt; i++) {
        t = json_array_get(teams, order[i]);
        const json_t *s = json_object_get(t, "series");
        const json_t *last = json_array_get(s, json_array_size(s) - 1);
        r |= gd_buf_printf(b, "| %zu | %s | %.1f | %.1f | %.1f | $%.2f |\n", i + 1, str(t, "name"),
                           num(t, "score"), json_number_value(json_array_get(last, 1)),
                           json_number_value(json_array_get(last, 2)),
                           num(json_object_get(t, "bill"), "total_usd"));
    }
    gd_free(order);
    r |= gd_buf_printf(b,
                       "\n## Actions and their effect\n\nPoints per game minute (customers, "
                       "events and bills) in the %.0f game seconds before and after each "
                       "action; n/a where the game had not run that long.\n",
                       num(game, "window_s"));
    json_array_foreach(teams, i, t)
    {
        const json_t *acts = json_object_get(t, "actions");
        r |= gd_buf_printf(b, "\n### %s\n\n", str(t, "name"));
        if (json_array_size(acts) == 0) {
            r |= gd_buf_puts(b, "No actions.\n");
            continue;
        }
        r |= gd_buf_puts(b, "| game time | action | by | before (pts/min) | after (pts/min) | "
                            "change |\n|---|---|---|---:|---:|---:|\n");
        json_array_foreach(acts, k, e)
        {
            const json_t *ef = json_object_get(e, "effect");
            r |= gd_buf_printf(b, "| %s | ", hms(num(e, "time"), t0, sizeof t0));
            r |= cell(b, str(e, "reason"));
            r |= gd_buf_puts(b, " | ");
            r |= cell(b, str(e, "source"));
            r |= gd_buf_printf(b, " | %s | %s | %s |\n",
                               rate(json_object_get(ef, "before"), r0, sizeof r0),
                               rate(json_object_get(ef, "after"), r1, sizeof r1),
                               rate(json_object_get(ef, "delta"), r2, sizeof r2));
        }
    }
    r |= gd_buf_puts(b, "\n## Timeline\n\nEvery event and player action (bills folded by "
                        "ten game minutes).\n");
    json_array_foreach(teams, i, t)
    {
        r |= gd_buf_printf(b,
                           "\n### %s\n\n| game time | kind | source | points | score | what |\n"
                           "|---|---|---|---:|---:|---|\n",
                           str(t, "name"));
        json_array_foreach(json_object_get(t, "events"), k, e)
        {
            const char *when = hms(num(e, "time"), t0, sizeof t0);
            if (json_object_get(e, "from") && num(e, "from") != num(e, "time")) {
                snprintf(t1, sizeof t1, "%s", when);
                hms(num(e, "from"), t0, sizeof t0);
                r |= gd_buf_printf(b, "| %s–%s | ", t0, t1);
            } else {
                r |= gd_buf_printf(b, "| %s | ", when);
            }
            r |= cell(b, str(e, "kind"));
            r |= gd_buf_puts(b, " | ");
            r |= cell(b, str(e, "source"));
            r |= gd_buf_printf(b, " | %+.1f | %.1f | ", num(e, "points"), num(e, "score"));
            r |= cell(b, str(e, "reason"));
            r |= gd_buf_puts(b, " |\n");
        }
    }
    r |= gd_buf_puts(b, "\n## Final bill by resource\n");
    json_array_foreach(teams, i, t)
    {
        const json_t *bill = json_object_get(t, "bill");
        r |= gd_buf_printf(b, "\n### %s: $%.2f\n\n", str(t, "name"), num(bill, "total_usd"));
        if (json_array_size(json_object_get(bill, "by_resource")) == 0) {
            r |= gd_buf_puts(b, "Nothing was billed.\n");
            continue;
        }
        r |= gd_buf_puts(b, "| resource | name | type | usd |\n|---|---|---|---:|\n");
        json_array_foreach(json_object_get(bill, "by_resource"), k, e)
        {
            r |= gd_buf_puts(b, "| ");
            r |= cell(b, str(e, "resource"));
            r |= gd_buf_puts(b, " | ");
            r |= cell(b, str(e, "name"));
            r |= gd_buf_puts(b, " | ");
            r |= cell(b, str(e, "type"));
            r |= gd_buf_printf(b, " | %.4f |\n", num(e, "usd"));
        }
    }
    r |= gd_buf_puts(b, "\n## Customers per game minute\n");
    json_array_foreach(teams, i, t)
    {
        r |= gd_buf_printf(b,
                           "\n### %s\n\n| minute | ok | errors | timeouts | wrong | p50 ms |\n"
                           "|---|---:|---:|---:|---:|---:|\n",
                           str(t, "name"));
        json_array_foreach(json_object_get(t, "customers"), k, e)
        {
            r |= gd_buf_printf(
                b, "| %s | %.0f | %.0f | %.0f | %.0f | %.0f |\n",
                hms(json_number_value(json_array_get(e, 0)), t0, sizeof t0),
                json_number_value(json_array_get(e, 1)), json_number_value(json_array_get(e, 2)),
                json_number_value(json_array_get(e, 3)), json_number_value(json_array_get(e, 4)),
                json_number_value(json_array_get(e, 5)));
        }
    }
    return r ? GD_ETOOBIG : 0;
}

/* ---- HTML ---- */

static const struct gd_web_asset *asset(const char *path, size_t n)
{
    for (const struct gd_web_asset *a = gd_web_assets; a->path; a++)
        if (strlen(a->path) == n + 1 && a->path[0] == '/' && !memcmp(a->path + 1, path, n))
            return a;
    return NULL;
}

/* Appends an asset that goes inside a <script> or <style> element. The HTML parser
 * ends such an element at "</script" or "</style" and changes state at "<!--": an
 * asset holding one is refused (ours and uPlot's hold none). */
static int raw_text(gd_buf *b, const char *p, size_t n)
{
    for (size_t i = 0; i + 3 < n; i++)
        if (p[i] == '<' && (p[i + 1] == '/' || (p[i + 1] == '!' && p[i + 2] == '-')))
            if (!strncasecmp(p + i, "</script", 8) || !strncasecmp(p + i, "</style", 7) ||
                !strncmp(p + i, "<!--", 4))
                return GD_EPROTO;
    return gd_buf_append(b, p, n);
}

/* Appends JSON for a <script type="application/json">: every '<' (only ever inside a
 * string) as \u003c, so that nothing in the data ends the element. */
static int json_text(gd_buf *b, const char *p)
{
    int r = 0;
    for (const char *s = p; *s; s++)
        r |= *s == '<' ? gd_buf_puts(b, "\\u003c") : gd_buf_append(b, s, 1);
    return r;
}

/* The first `needle` in [p, end) (assets are not NUL-terminated), or NULL. */
static const char *find(const char *p, const char *end, const char *needle)
{
    return p < end ? memmem(p, (size_t)(end - p), needle, strlen(needle)) : NULL;
}

int gd_report_html(const json_t *rep, gd_buf *b)
{
    const struct gd_web_asset *page = asset("report.html", 11);
    if (!page) return GD_ENOENT;
    const char *p = (const char *)page->data, *end = p + page->len;
    static const char *const css_open = "<link rel=\"stylesheet\" href=\"";
    static const char *const js_open = "<script src=\"";
    int r = 0, data_done = 0;
    while (p < end) {
        const char *css = find(p, end, css_open), *js = find(p, end, js_open);
        const char *at = css && (!js || css < js) ? css : js;
        if (!at) {
            r |= gd_buf_append(b, p, (size_t)(end - p));
            break;
        }
        int is_css = at == css;
        const char *href = at + strlen(is_css ? css_open : js_open);
        const char *q = href < end ? memchr(href, '"', (size_t)(end - href)) : NULL;
        const char *close = q ? memchr(q, '>', (size_t)(end - q)) : NULL;
        if (!q || !close) return GD_EPROTO;
        if (!is_css) {
            close = find(close, end, "</script>");
            if (!close) return GD_EPROTO;
            close += strlen("</script>") - 1;
        }
        const struct gd_web_asset *a = asset(href, (size_t)(q - href));
        if (!a) return GD_ENOENT;
        r |= gd_buf_append(b, p, (size_t)(at - p));
        if (!is_css && !data_done) { /* the data, before the first script */
            char *json = json_dumps(rep, JSON_COMPACT);
            if (!json) return GD_ENOMEM;
            r |= gd_buf_puts(b, "<script type=\"application/json\" id=\"report-data\">");
            r |= json_text(b, json);
            r |= gd_buf_puts(b, "</script>\n");
            free(json);
            data_done = 1;
        }
        r |= gd_buf_puts(b, is_css ? "<style>" : "<script>");
        int t = raw_text(b, (const char *)a->data, a->len);
        if (t == GD_EPROTO) return t;
        r |= t;
        r |= gd_buf_puts(b, is_css ? "</style>" : "</script>");
        p = close + 1;
    }
    return r ? GD_ETOOBIG : 0;
}
