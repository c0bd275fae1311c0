/* Logging: one line per event, key=value, stable format:
 *   ts=2026-11-22T03:15:11.123Z game=125.4 lvl=info comp=edge ev=config_applied targets=3
 * `game` is the game clock in seconds when the clock is set, else absent.
 * Values with spaces or quotes must be quoted by the caller with gd_log_q(). */
#ifndef GD_LOG_H
#define GD_LOG_H

enum gd_log_level { GD_LOG_DEBUG, GD_LOG_INFO, GD_LOG_WARN, GD_LOG_ERROR };

/** Sets the component name (edge, server, ...) printed in every line. */
void gd_log_init(const char *comp);
/** Lines below this level are dropped (GAMEDAY_LOG=debug|info|warn|error sets it). */
void gd_log_set_level(enum gd_log_level lvl);
/** Logs one event: ev is a short snake_case name, fmt the key=value tail (may be NULL). */
void gd_log(enum gd_log_level lvl, const char *ev, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/** Returns s quoted for a log value ("a b" -> "\"a b\""), in one of 4 rotating
 *  static buffers (valid until 4 more calls); long values are cut at 200 bytes. */
const char *gd_log_q(const char *s);

#define gd_info(ev, ...) gd_log(GD_LOG_INFO, ev, __VA_ARGS__)
#define gd_warn(ev, ...) gd_log(GD_LOG_WARN, ev, __VA_ARGS__)
#define gd_error(ev, ...) gd_log(GD_LOG_ERROR, ev, __VA_ARGS__)
#define gd_debug(ev, ...) gd_log(GD_LOG_DEBUG, ev, __VA_ARGS__)

#endif
