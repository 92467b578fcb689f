/* SPDX-License-Identifier: MIT */
/* Levelled logging to stderr for both the FastCGI programs and ws-daemon.
 * Lines carry time, program, pid and level so journald and terminals read alike. */
#ifndef PUSH_LOG_H
#define PUSH_LOG_H

#include <stdarg.h>
#include <time.h>

enum log_level { LOG_LVL_ERR = 0, LOG_LVL_WARN, LOG_LVL_NOTICE, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* `prog` must outlive every later log call (a string literal or argv[0]). */
void log_init(const char *prog, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Returns 0 and sets *out for "error", "warn", "notice", "info", "debug"; -1 otherwise. */
int log_level_parse(const char *name, enum log_level *out);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Level test first, so a disabled level costs one comparison and no formatting. */
#define LOG_AT(lvl, ...) do { if ((lvl) <= log_get_level()) log_msg((lvl), __VA_ARGS__); } while (0)
#define log_err(...)    LOG_AT(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...)   LOG_AT(LOG_LVL_WARN, __VA_ARGS__)
#define log_notice(...) LOG_AT(LOG_LVL_NOTICE, __VA_ARGS__)
#define log_info(...)   LOG_AT(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)  LOG_AT(LOG_LVL_DEBUG, __VA_ARGS__)

/* Lines a client can cause (refusals, 401s) are rate-limited per call site so a
 * flood cannot fill the disk: LOG_RATE_PER_SECOND a second, then a count of
 * what was dropped. */
#define LOG_RATE_PER_SECOND 20
struct log_rate {
	time_t second;
	unsigned count;
	unsigned long suppressed;
};
int log_rate_allow(struct log_rate *r);
#define LOG_LIMITED(lvl, ...) do { static struct log_rate log_rl_; \
	if ((lvl) <= log_get_level() && log_rate_allow(&log_rl_)) log_msg((lvl), __VA_ARGS__); \
	} while (0)

#endif
