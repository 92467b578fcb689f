/* SPDX-License-Identifier: MIT */
/* Levelled logging to stderr: one line per call, written with a single write(2)
 * so lines from several processes sharing a terminal or journal do not interleave. */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *log_prog = "push";
static enum log_level log_level_now = LOG_LVL_NOTICE;

static const char *const log_names[] = { "error", "warn", "notice", "info", "debug" };
static const int log_syslog_prio[] = { 3, 4, 5, 6, 7 }; /* LOG_ERR … LOG_DEBUG */
static int log_journal = -1; /* stderr is systemd's journal stream: -1 unknown */

/* systemd sets JOURNAL_STREAM to "dev:ino" of the stream it connected; stderr
 * is that stream only if they match (a shell started from the unit is not). */
static int log_to_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	return js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
	       (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

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

	if (level > LOG_LVL_DEBUG)
		level = LOG_LVL_DEBUG;
	if (log_journal < 0)
		log_journal = log_to_journal();
	if (log_journal) {
		/* The journal stamps the time; "<N>" sets the priority, so
		 * `journalctl -p warning` finds warnings and errors. The pid stays in
		 * the text: workers share the supervisor's stream, which the journal
		 * tags with the supervisor's pid. */
		r = snprintf(line, sizeof line, "<%d>%s: [pid %ld] ", log_syslog_prio[level],
			     log_names[level], (long)getpid());
	} else {
		if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || !gmtime_r(&ts.tv_sec, &tm))
			memset(&tm, 0, sizeof tm);
		n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
		r = snprintf(line + n, sizeof line - n, ".%03ldZ %s[%ld] %s: ",
			     ts.tv_nsec / 1000000L, log_prog, (long)getpid(), log_names[level]);
	}
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

int log_rate_allow(struct log_rate *r)
{
	time_t now = time(NULL);

	if (now != r->second) {
		if (r->suppressed)
			log_msg(LOG_LVL_NOTICE, "%lu similar lines suppressed in the last seconds",
				r->suppressed);
		r->second = now;
		r->count = 0;
		r->suppressed = 0;
	}
	if (r->count < LOG_RATE_PER_SECOND) {
		r->count++;
		return 1;
	}
	r->suppressed++;
	return 0;
}
