/* The game clock: game = (mono_now - epoch) * speed, in seconds since the game began.
 * Every process of one game shares the speed and the epoch (CLOCK_MONOTONIC is
 * system-wide on Linux), passed as GAMEDAY_SPEED and GAMEDAY_EPOCH_NS. All durations
 * in scenario files are game time; convert with gd_clock_wall_ms(). */
#ifndef GD_CLOCK_H
#define GD_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* The clock can stand still (the instructor's pause): the server shares it in a page of
 * its own (DIR/clock) that every process of the game maps read-only (GAMEDAY_CLOCK).
 * While paused, the game time stays where it stood; on resume the epoch moves on by
 * the pause, so game time goes on from there and no game second is lost or skipped. */

/** Sets this process's game clock. epoch_ns is a CLOCK_MONOTONIC time (game t = 0). */
void gd_clock_set(double speed, uint64_t epoch_ns);
/** Reads GAMEDAY_SPEED and GAMEDAY_EPOCH_NS (and follows GAMEDAY_CLOCK's page if set);
 *  0 if both were present and valid. */
int gd_clock_from_env(void);
/** Exports the clock as GAMEDAY_SPEED / GAMEDAY_EPOCH_NS for child processes (the epoch
 *  of now: a process started after a pause gets the moved one). */
void gd_clock_to_env(void);
int gd_clock_is_set(void);
/** Server: shares the clock (set first) in the page at path, paused or not; 0 or -errno. */
int gd_clock_share(const char *path, int paused, double paused_at);
/** Another process: follows the page at path (read-only); 0 or -errno. */
int gd_clock_attach(const char *path);
/** Server: stops (1), or 0 if already stopped; -EPERM without a shared page. */
int gd_clock_pause(void);
/** Server: starts again (1), or 0 if it was running; the epoch moves on by the pause. */
int gd_clock_resume(void);
int gd_clock_paused(void);
double gd_clock_speed(void);
uint64_t gd_clock_epoch_ns(void);
/** CLOCK_MONOTONIC in nanoseconds. */
uint64_t gd_clock_mono_ns(void);
/** Game seconds since the game began (may be negative before the epoch). */
double gd_clock_now(void);
/** Game seconds at a given monotonic time. */
double gd_clock_game_at(uint64_t mono_ns);
/** Converts a game duration (ms) to wall milliseconds, at least 1 for a non-zero input. */
uint64_t gd_clock_wall_ms(double game_ms);
/** Converts a wall duration (ns) to game milliseconds. */
double gd_clock_game_ms(uint64_t wall_ns);
/** Writes game seconds as "H:MM:SS" (the status line's clock) into out; returns out. */
char *gd_clock_hms(double s, char *out, size_t n);

#endif
