/* SPDX-License-Identifier: MIT */
/* Unit tests for fcgi-api/api_metrics.c: every counter of enum ipc_stat is exported
 * once, summed over the workers that answered, under one HELP/TYPE per family. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../fcgi-api/api_metrics.h"

#define NW 3 /* workers: 0 and 2 answered, 1 did not */

static uint64_t v[NW][IPC_STATS_N];
static const unsigned char up[NW] = { 1, 0, 1 };

/* Worker 0 and 2 hold values whose sum tells the entry; worker 1's must not count. */
static uint64_t sum_of(size_t i) { return 1000000u + 1001u * i; }

static char *format(size_t *len)
{
	char *text;

	for (size_t i = 0; i < IPC_STATS_N; i++) {
		v[0][i] = 1000000u + 1000u * i;
		v[1][i] = 7777777u;
		v[2][i] = i;
	}
	text = api_metrics_format((const uint64_t(*)[IPC_STATS_N])v, up, NW, len);
	assert_non_null(text);
	assert_int_equal(strlen(text), *len);
	return text;
}

/* The value of the sample line that starts with `sample ` (name and labels). */
static int sample(const char *text, const char *name, uint64_t *out)
{
	size_t n = strlen(name);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, name, n) == 0 && p[n] == ' ')
			return sscanf(p + n + 1, "%" SCNu64, out) == 1 ? 0 : -1;
	}
	return -1;
}

/* Every entry but uptime (the one gauge that is not a sum) appears exactly once. */
static void test_every_stat_once(void **state)
{
	size_t len = 0;
	char *text = format(&len);

	(void)state;
	for (size_t i = 0; i < IPC_STATS_N; i++) {
		char want[32];
		size_t hits = 0;

		if (i == IPC_ST_UPTIME_MS)
			continue;
		snprintf(want, sizeof want, " %" PRIu64 "\n", sum_of(i));
		for (const char *p = strstr(text, want); p; p = strstr(p + 1, want))
			hits++;
		if (hits != 1) {
			print_error("stat %zu (sum %" PRIu64 ") appears %zu times\n%s", i, sum_of(i),
				    hits, text);
			fail();
		}
	}
	free(text);
}

static void expect(const char *text, const char *name, size_t index)
{
	uint64_t got = 0;

	if (sample(text, name, &got) != 0) {
		print_error("no sample %s in\n%s", name, text);
		fail();
	}
	assert_true(got == sum_of(index));
}

/* The names and labels of the history and acknowledgement stats. */
static void test_history_and_ack_names(void **state)
{
	size_t len = 0;
	char *text = format(&len), up_line[64];

	(void)state;
	expect(text, "push_history_uids", IPC_ST_HISTORY_UIDS);
	expect(text, "push_history_messages", IPC_ST_HISTORY_MESSAGES);
	expect(text, "push_history_bytes", IPC_ST_HISTORY_BYTES);
	expect(text, "push_ack_waiting", IPC_ST_ACK_WAITING);
	expect(text, "push_pushes_stored_total", IPC_ST_PUSHES_STORED);
	expect(text, "push_pushes_refused_total{reason=\"busy\"}", IPC_ST_PUSHES_BUSY);
	expect(text, "push_history_evicted_total", IPC_ST_HISTORY_EVICTED);
	expect(text, "push_resumes_total", IPC_ST_RESUMES);
	expect(text, "push_resume_gaps_total", IPC_ST_RESUMES_GAP);
	expect(text, "push_replayed_messages_total", IPC_ST_REPLAYED);
	expect(text, "push_acks_total", IPC_ST_ACKS);
	expect(text, "push_ack_waits_total{result=\"acked\"}", IPC_ST_ACK_WAITS_ACKED);
	expect(text, "push_ack_waits_total{result=\"timeout\"}", IPC_ST_ACK_WAITS_TIMEOUT);
	expect(text, "push_pushes_refused_total{reason=\"offline\"}", IPC_ST_PUSHES_OFFLINE);
	expect(text, "push_api_refused_total{reason=\"daemon_unavailable\"}",
	       IPC_ST_API_REFUSED + IPC_R_DAEMON);
	assert_non_null(strstr(text, "# TYPE push_history_uids gauge\n"));
	assert_non_null(strstr(text, "# TYPE push_ack_waiting gauge\n"));
	assert_non_null(strstr(text, "# TYPE push_ack_waits_total counter\n"));
	assert_non_null(strstr(text, "# TYPE push_pushes_stored_total counter\n"));
	/* Uptime is the largest of those that answered, in seconds. */
	snprintf(up_line, sizeof up_line, "\npush_uptime_seconds %" PRIu64 ".%03u\n",
		 v[0][IPC_ST_UPTIME_MS] / 1000, (unsigned)(v[0][IPC_ST_UPTIME_MS] % 1000));
	assert_non_null(strstr(text, up_line));
	free(text);
}

/* One HELP and TYPE per family, and a family's samples follow its TYPE line. */
static void test_families_contiguous(void **state)
{
	size_t len = 0;
	char *text = format(&len), family[128] = "";

	(void)state;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		char name[128];

		if (sscanf(line, "# TYPE %127s", name) == 1) {
			assert_string_not_equal(name, family);
			strcpy(family, name);
			continue;
		}
		if (line[0] == '#')
			continue;
		assert_true(sscanf(line, "%127[^{ ]", name) == 1);
		if (strcmp(name, family) != 0) {
			print_error("sample %s under family %s\n", line, family);
			fail();
		}
	}
	free(text);
}

/* Counted once per family: a second TYPE line for a name would break scrapers. */
static void test_type_once(void **state)
{
	static const char *const families[] = {
		"push_pushes_refused_total", "push_api_refused_total", "push_ack_waits_total",
	};
	size_t len = 0;
	char *text = format(&len);

	(void)state;
	for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
		char want[96];
		const char *p;

		snprintf(want, sizeof want, "# TYPE %s counter\n", families[i]);
		p = strstr(text, want);
		assert_non_null(p);
		assert_null(strstr(p + 1, want));
	}
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_stat_once),
		cmocka_unit_test(test_history_and_ack_names),
		cmocka_unit_test(test_families_contiguous),
		cmocka_unit_test(test_type_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
