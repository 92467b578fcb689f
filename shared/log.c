/* Levelled logging to stderr: one line per call, written with a single write(2)
 * so lines from several processes sharing a terminal or journal do not interleave. */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *log_prog = "push";
static enum log_level log_level_now = LOG_LVL_NOTICE;

static const char *const log_names[] = { "error", "warn", "notice", "info", "debug" };

void log_init(const char *prog, enum log_level level)
{
	log_prog = prog;
	log_level_now = level;
}

void log_set_level(enum log_level level) { log_level_now = level; }
enum log_level log_get_level(void) { return log_level_now; }

int log_level_parse(const char *name, enum log_level *out)
{
	for (size_t i = 0; i < sizeof log_names / sizeof log_names[0]; i++) {
		if (strcmp(name, log_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char line[2048];
	struct timespec ts = { 0 };
	struct tm tm;
	size_t n = 0;
	int r;
	int saved = errno;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || !gmtime_r(&ts.tv_sec, &tm))
		memset(&tm, 0, sizeof tm);
	n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
	r = snprintf(line + n, sizeof line - n, ".%03ldZ %s[%ld] %s: ",
		     ts.tv_nsec / 1000000L, log_prog, (long)getpid(),
		     log_names[level <= LOG_LVL_DEBUG ? level : LOG_LVL_DEBUG]);
	if (r > 0)
		n += (size_t)r < sizeof line - n ? (size_t)r : sizeof line - n - 1;
	r = vsnprintf(line + n, sizeof line - n, fmt, ap);
	if (r > 0)
		n += (size_t)r < sizeof line - n ? (size_t)r : sizeof line - n - 1;
	/* Messages may or may not end in '\n'; normalise to exactly one. */
	while (n > 0 && line[n - 1] == '\n')
		n--;
	line[n++] = '\n';
	/* A failed log write has nowhere better to be reported. */
	if (write(STDERR_FILENO, line, n) < 0)
		errno = saved;
	errno = saved;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}
