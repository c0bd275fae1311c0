/* Unit tests for gd_game_read_teams (src/server/game.c): the teams file of gameday host. */
#include <criterion/criterion.h>

#include "server/game.h"

#include <stdio.h>
#include <unistd.h>

static char names[GD_MAX_TEAMS][GD_TEAM_NAME_MAX + 1];

static int read_text(const char *text, char *err, size_t n)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/gameday-test-teams-%d", (int)getpid());
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    int r = gd_game_read_teams(path, names, GD_MAX_TEAMS, err, n);
    unlink(path);
    return r;
}

Test(teams, names_one_per_line_comments_and_blanks_skipped)
{
    char err[400] = "";
    cr_assert_eq(
        read_text("# class of 2026\n\n  Red Team  \nblue_team\r\nteam.3-x\n", err, sizeof err), 3,
        "%s", err);
    cr_assert_str_eq(names[0], "Red Team", "spaces around a name are trimmed");
    cr_assert_str_eq(names[1], "blue_team", "CRLF line ends are fine");
    cr_assert_str_eq(names[2], "team.3-x");
}

Test(teams, bad_files_say_where_and_what)
{
    char err[400];
    cr_assert_eq(read_text("ok\n<script>\n", err, sizeof err), -1);
    cr_assert(strstr(err, ":2: '<script>' is not a team name"), "%s", err);
    cr_assert_eq(read_text("a\nb\na\n", err, sizeof err), -1);
    cr_assert(strstr(err, ":3: team 'a' is named twice"), "%s", err);
    cr_assert_eq(read_text("# nobody\n\n", err, sizeof err), -1);
    cr_assert(strstr(err, "no team names"), "%s", err);
    cr_assert_eq(read_text("abcdefghijklmnopqrstuvwxyz0123456789\n", err, sizeof err), -1,
                 "a name over 32 characters");
    char many[400] = "";
    for (int i = 0; i < GD_MAX_TEAMS + 1; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "t%d\n", i);
    cr_assert_eq(read_text(many, err, sizeof err), -1);
    cr_assert(strstr(err, ":17: more than 16 teams"), "%s", err);
    cr_assert_eq(gd_game_read_teams("/nonexistent/teams", names, GD_MAX_TEAMS, err, sizeof err),
                 -1);
    cr_assert(strstr(err, "No such file"), "%s", err);
}
