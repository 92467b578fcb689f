/* SPDX-License-Identifier: MIT */
/* Unit tests for ws-daemon/wsd_engine.c, the memory history engine: per-uid numbering
 * and epochs, stream lifetime, the count, byte, age and memory bounds, replay (first,
 * range), acknowledgements and frame refcounts. Run under ASan (make SAN=1) the
 * refcount tests also catch a frame freed while a holder still reads it. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "wsd_engine.h"
#include "wsd_msg.h"

/* Pre-serialised parts, as push-api hands them over IPC. */
#define TOPIC "\"t\""
#define SMALL "\"x\""

static struct cfg conf;
static uint64_t pub_number; /* the number the last pub_msg was given */

/* Applies the history keys with one worker (the daemon's single-process case). */
static void use(long size, long bytes, long ttl, long memory, int offline)
{
	memset(&conf, 0, sizeof conf);
	conf.history_size = size;
	conf.history_bytes = bytes;
	conf.history_ttl = ttl;
	conf.history_memory = memory;
	conf.offline_messages = offline;
	wsd_engine_use(&conf, 1);
}

/* Generous bounds: nothing is dropped unless a test tightens one. */
static void use_roomy(void)
{
	use(64, 1L << 20, 300, 1L << 30, 1);
}

static struct wsd_stream *hold(const char *uid)
{
	struct wsd_stream *s = wsd_engine_hold(uid, strlen(uid));

	assert_non_null(s);
	return s;
}

static struct wsd_stream *find(const char *uid)
{
	return wsd_engine_find(uid, strlen(uid), 0);
}

/* Publishes contents (a JSON text) and returns the frame with the caller's reference. */
static struct wsd_msg *pub_msg(struct wsd_stream *s, const char *contents, int *retained)
{
	struct ipc_push_item it = { .uid = "u", .uid_len = 1, .topic = TOPIC,
				    .topic_len = strlen(TOPIC), .contents = contents,
				    .contents_len = strlen(contents) };
	struct wsd_msg *m;

	*retained = -1; /* publish must set it */
	m = wsd_engine_publish(s, &it, &pub_number, retained);
	assert_non_null(m);
	assert_true(*retained == 0 || *retained == 1);
	return m;
}

/* Publishes, drops the caller's reference, returns the number; *retained if wanted. */
static uint64_t pub(struct wsd_stream *s, const char *contents, int *retained)
{
	int r;
	struct wsd_msg *m = pub_msg(s, contents, &r);
	uint64_t n = pub_number;

	wsd_msg_unref(m);
	if (retained)
		*retained = r;
	return n;
}

/* Publishes to a uid through find(create), as offline delivery does: the stream is
 * not held, so it is looked up again for every message. */
static uint64_t pub_uid(const char *uid, const char *contents, int *retained)
{
	struct wsd_stream *s = wsd_engine_find(uid, strlen(uid), 1);

	assert_non_null(s);
	return pub(s, contents, retained);
}

/* The frame the engine must build: {"topic":TOPIC,"number":n,"contents":contents}. */
static void assert_frame(const struct wsd_msg *m, uint64_t n, const char *contents)
{
	char want[256];
	int len = snprintf(want, sizeof want, "{\"topic\":%s,\"number\":%" PRIu64
			   ",\"contents\":%s}", TOPIC, n, contents);

	assert_true(len > 0 && (size_t)len < sizeof want);
	assert_int_equal(m->len, (uint32_t)len);
	assert_memory_equal(m->buf + LWS_PRE, want, (size_t)len);
}

/* What wsd_engine_range saw: numbers in order, stopping after `stop` calls when set. */
struct seen {
	uint64_t n[64];
	size_t count;
	size_t stop;
};

static int collect(struct wsd_msg *m, uint64_t number, void *arg)
{
	struct seen *v = arg;

	assert_true(v->count < sizeof v->n / sizeof v->n[0]);
	/* Every retained frame is whole and still owned by the history. */
	assert_true(m->refs >= 1);
	assert_frame(m, number, SMALL);
	v->n[v->count++] = number;
	return v->stop && v->count == v->stop ? 7 : 0;
}

static struct seen range(struct wsd_stream *s, uint64_t after)
{
	struct seen v = { .count = 0 };

	assert_int_equal(wsd_engine_range(s, after, collect, &v), 0);
	return v;
}

/* Asserts the retained numbers after `after` are exactly lo..hi. */
static void assert_range(struct wsd_stream *s, uint64_t after, uint64_t lo, uint64_t hi)
{
	struct seen v = range(s, after);

	assert_int_equal(v.count, hi >= lo ? hi - lo + 1 : 0);
	for (size_t i = 0; i < v.count; i++)
		assert_int_equal(v.n[i], lo + i);
}

static size_t retained_count(struct wsd_stream *s)
{
	return range(s, 0).count;
}

/* Memory cost of a SMALL frame with a one-digit number. */
static size_t small_cost(void)
{
	struct wsd_msg *m = wsd_msg_new(strlen("{\"topic\":" TOPIC ",\"number\":1,\"contents\":"
					       SMALL "}"));
	size_t c;

	assert_non_null(m);
	c = wsd_msg_cost(m);
	wsd_msg_unref(m);
	return c;
}

/* Sleeps in short steps until the monotonic clock reads at least `when`. */
static void wait_clock(uint32_t when)
{
	const struct timespec step = { 0, 20 * 1000 * 1000 };

	while ((int32_t)(wsd_msg_clock() - when) < 0)
		nanosleep(&step, NULL);
}

static int group_setup(void **state)
{
	(void)state;
	return wsd_engine_init();
}

/* Every test starts from an empty engine and leaves none behind. */
static int setup(void **state)
{
	(void)state;
	use_roomy();
	return wsd_engine_streams() || wsd_engine_messages() || wsd_engine_bytes() ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	wsd_engine_free();
	return wsd_engine_streams() || wsd_engine_messages() || wsd_engine_bytes() ? -1 : 0;
}

/* Numbers count 1, 2, 3 per uid; uids (even one a prefix of another) are apart. */
static void test_numbering_per_uid(void **state)
{
	struct wsd_stream *a, *b, *ab;
	struct wsd_position pa, pb, pab;
	struct wsd_msg *m;
	int r;

	(void)state;
	a = hold("a");
	b = hold("b");
	ab = hold("ab");
	assert_ptr_equal(hold("a"), a); /* a second connection holds the same stream */
	assert_int_equal(wsd_engine_streams(), 3);

	for (uint64_t i = 1; i <= 3; i++) {
		m = pub_msg(a, SMALL, &r);
		assert_int_equal(r, 1);
		assert_frame(m, i, SMALL);
		wsd_msg_unref(m);
	}
	assert_int_equal(pub(b, SMALL, NULL), 1);
	assert_int_equal(pub(b, SMALL, NULL), 2);
	assert_int_equal(pub(ab, SMALL, NULL), 1);
	assert_int_equal(pub(a, SMALL, NULL), 4);
	assert_int_equal(wsd_engine_messages(), 7);

	wsd_engine_position(a, &pa);
	wsd_engine_position(b, &pb);
	wsd_engine_position(ab, &pab);
	assert_int_equal(pa.last, 4);
	assert_int_equal(pb.last, 2);
	assert_int_equal(pab.last, 1);
	assert_int_equal(pa.acked, 0);
	/* Epochs tell streams apart, within and across processes. */
	assert_true(pa.epoch != pb.epoch && pa.epoch != pab.epoch && pb.epoch != pab.epoch);
	assert_range(a, 0, 1, 4);
	assert_range(b, 0, 1, 2);
	assert_range(ab, 0, 1, 1);
}

/* A held stream outlives its messages and keeps numbering; once unheld and empty it
 * ends, and the uid's next stream is a new epoch counting from 1. */
static void test_held_stream_keeps_numbers(void **state)
{
	struct wsd_stream *a;
	struct wsd_position p1, p2;
	int r;

	(void)state;
	a = hold("a");
	for (int i = 0; i < 3; i++)
		pub(a, SMALL, NULL);
	wsd_engine_position(a, &p1);

	use(0, 1L << 20, 300, 1L << 30, 0); /* drops every message */
	assert_int_equal(wsd_engine_messages(), 0);
	assert_ptr_equal(find("a"), a);
	wsd_engine_position(a, &p2);
	assert_true(p2.epoch == p1.epoch);
	assert_int_equal(p2.last, 3);
	assert_int_equal(pub(a, SMALL, &r), 4);
	assert_int_equal(r, 0);

	wsd_engine_unhold(a);
	assert_null(find("a"));
	assert_int_equal(wsd_engine_streams(), 0);
	assert_int_equal(wsd_engine_bytes(), 0);

	use_roomy();
	a = hold("a");
	wsd_engine_position(a, &p2);
	assert_true(p2.epoch != p1.epoch);
	assert_int_equal(p2.last, 0);
	assert_int_equal(pub(a, SMALL, NULL), 1);
	wsd_engine_unhold(a);
}

/* An unheld stream lives while it retains something (offline history), and
 * lingers empty for history_ttl; with no history it ends at once. */
static void test_unheld_stream_ends(void **state)
{
	struct wsd_stream *u, *h;
	struct wsd_position p1, p2;
	int r;

	(void)state;
	assert_int_equal(pub_uid("u", SMALL, &r), 1);
	assert_int_equal(r, 1);
	u = find("u");
	assert_non_null(u);
	wsd_engine_position(u, &p1);
	assert_int_equal(pub_uid("u", SMALL, NULL), 2);

	use(0, 1L << 20, 300, 1L << 30, 0); /* drops its messages: the stream goes too */
	assert_null(find("u"));
	assert_int_equal(wsd_engine_streams(), 0);

	/* With no history, every message to an unheld uid opens and ends a stream. */
	assert_int_equal(pub_uid("u", SMALL, &r), 1);
	assert_int_equal(r, 0);
	assert_null(find("u"));
	assert_int_equal(pub_uid("u", SMALL, NULL), 1);
	assert_int_equal(wsd_engine_streams(), 0);

	use_roomy();
	u = wsd_engine_find("u", 1, 1);
	assert_non_null(u);
	wsd_engine_position(u, &p2);
	assert_true(p2.epoch != p1.epoch);
	assert_int_equal(pub(u, SMALL, NULL), 1);

	/* A held stream, unheld while retaining, stays for the uid's next connection. */
	h = hold("h");
	assert_int_equal(pub(h, SMALL, NULL), 1);
	wsd_engine_unhold(h);
	assert_ptr_equal(find("h"), h);
	h = hold("h");
	assert_int_equal(pub(h, SMALL, NULL), 2);
	wsd_engine_unhold(h);

	/* Held and unheld with nothing retained: it lingers, keeping its epoch and
	 * numbers for the uid's next connection, until history_ttl (test_ttl). */
	h = hold("e");
	wsd_engine_position(h, &p1);
	wsd_engine_unhold(h);
	assert_ptr_equal(find("e"), h);
	wsd_engine_position(hold("e"), &p2);
	assert_true(p2.epoch == p1.epoch);
	wsd_engine_unhold(find("e"));
	assert_int_equal(wsd_engine_streams(), 3);
}

/* history_size: the newest N stay; the older ones count as evicted. */
static void test_count_bound(void **state)
{
	struct wsd_stream *a;
	uint64_t ev;

	(void)state;
	use(3, 1L << 20, 300, 1L << 30, 0);
	ev = wsd_engine_evicted();
	a = hold("a");
	for (uint64_t i = 1; i <= 5; i++)
		assert_int_equal(pub(a, SMALL, NULL), i);
	assert_int_equal(wsd_engine_messages(), 3);
	assert_int_equal(wsd_engine_evicted() - ev, 2);
	assert_int_equal(wsd_engine_first(a, 0), 3);
	assert_range(a, 0, 3, 5);

	/* One message: the ring's smallest size. */
	use(1, 1L << 20, 300, 1L << 30, 0);
	assert_range(a, 0, 5, 5);
	for (uint64_t i = 6; i <= 9; i++)
		assert_int_equal(pub(a, SMALL, NULL), i);
	assert_range(a, 0, 9, 9);

	/* Growing again: the ring grows with it. */
	use(20, 1L << 20, 300, 1L << 30, 0);
	for (uint64_t i = 10; i <= 30; i++)
		assert_int_equal(pub(a, SMALL, NULL), i);
	assert_int_equal(retained_count(a), 20);
	assert_int_equal(wsd_engine_first(a, 0), 11);
	wsd_engine_unhold(a);
}

/* history_bytes: a uid's frames (wsd_msg_cost each) stay within it. */
static void test_bytes_bound(void **state)
{
	struct wsd_stream *a, *b;
	size_t c = small_cost();
	uint64_t ev;

	(void)state;
	use(64, (long)(2 * c + c / 2), 300, 1L << 30, 0);
	ev = wsd_engine_evicted();
	a = hold("a");
	b = hold("b");
	for (uint64_t i = 1; i <= 4; i++)
		assert_int_equal(pub(a, SMALL, NULL), i);
	assert_int_equal(pub(b, SMALL, NULL), 1);
	assert_range(a, 0, 3, 4);
	assert_range(b, 0, 1, 1); /* per uid: b is not charged for a's frames */
	assert_int_equal(wsd_engine_evicted() - ev, 2);

	/* Exactly two frames' worth still holds two. */
	use(64, (long)(2 * c), 300, 1L << 30, 0);
	assert_range(a, 0, 3, 4);
	assert_int_equal(pub(a, SMALL, NULL), 5);
	assert_range(a, 0, 4, 5);
	wsd_engine_unhold(a);
	wsd_engine_unhold(b);
}

/* A frame larger than history_bytes is delivered (numbered) but never retained, and
 * does not push out what the uid already retains. */
static void test_oversized_not_retained(void **state)
{
	static char big[512];
	struct wsd_stream *a;
	struct wsd_msg *m;
	struct seen v;
	size_t c = small_cost();
	int r;

	(void)state;
	memset(big, 'y', sizeof big - 1);
	big[0] = '"';
	big[sizeof big - 2] = '"';
	use(64, (long)(2 * c), 300, 1L << 30, 0);
	a = hold("a");
	assert_int_equal(pub(a, SMALL, &r), 1);
	assert_int_equal(r, 1);

	m = pub_msg(a, big, &r);
	assert_int_equal(r, 0);
	assert_int_equal(pub_number, 2);
	assert_int_equal(m->refs, 1); /* the caller's only */
	assert_true(wsd_msg_cost(m) > 2 * c);
	assert_int_equal(m->len, strlen("{\"topic\":" TOPIC ",\"number\":2,\"contents\":}") +
					 strlen(big));
	wsd_msg_unref(m);

	/* What is retained stays consecutive: 1 went with the gap at 2 (a replay
	 * from before 2 could not be whole anyway, and says so: first is 3). */
	assert_int_equal(pub(a, SMALL, &r), 3);
	assert_int_equal(r, 1);
	v = range(a, 0);
	assert_int_equal(v.count, 1);
	assert_int_equal(v.n[0], 3);
	assert_int_equal(wsd_engine_first(a, 0), 3);
	wsd_engine_unhold(a);

	/* An unheld uid's only message not retained: the stream keeps its number. */
	assert_int_equal(pub_uid("u", big, &r), 1);
	assert_int_equal(r, 0);
	assert_int_equal(pub_uid("u", SMALL, &r), 2);
}

/* history_memory: over budget, the least recently published uid loses messages first
 * (its stream ending once empty and unheld), the publishing uid last; the engine's
 * bytes never stay above the budget after a publish. */
static void test_memory_budget(void **state)
{
	struct wsd_stream *b;
	size_t budget;
	uint64_t ev;
	int r;

	(void)state;
	for (int i = 0; i < 3; i++)
		pub_uid("a", SMALL, NULL);
	for (int i = 0; i < 2; i++)
		pub_uid("b", SMALL, NULL);
	budget = wsd_engine_bytes();
	use(64, 1L << 20, 300, (long)budget, 0); /* exactly full: nothing goes yet */
	assert_int_equal(wsd_engine_messages(), 5);
	assert_int_equal(wsd_engine_bytes(), budget);
	ev = wsd_engine_evicted();

	b = hold("b");
	/* b publishes: a (least recent) pays while it has anything. */
	for (uint64_t i = 3; find("a") != NULL; i++) {
		assert_int_equal(pub(b, SMALL, &r), i);
		assert_int_equal(r, 1);
		assert_true(wsd_engine_bytes() <= budget);
		assert_int_equal(retained_count(b), i);
		if (find("a") != NULL)
			assert_int_equal(wsd_engine_first(find("a"), 0), i - 1);
		assert_true(i < 10);
	}
	assert_int_equal(wsd_engine_evicted() - ev, 3);
	assert_int_equal(wsd_engine_streams(), 1);

	/* b alone: its own oldest go, its newest is kept. */
	for (int i = 0; i < 20; i++) {
		uint64_t n = pub(b, SMALL, &r);

		assert_int_equal(r, 1);
		assert_true(wsd_engine_bytes() <= budget);
		assert_int_equal(wsd_engine_first(b, n - 1), n);
	}
	assert_true(retained_count(b) < 10);
	wsd_engine_unhold(b);
}

/* A frame larger than the whole budget is not kept, and costs nobody else's
 * history (it used to evict every other uid first). */
static void test_frame_over_budget_evicts_nobody(void **state)
{
	char big[4096];
	uint64_t ev;
	int r;

	(void)state;
	use(64, 1L << 20, 300, 2048, 1);
	for (int i = 0; i < 5; i++)
		pub_uid(i % 2 ? "a" : "b", SMALL, NULL);
	assert_int_equal(wsd_engine_messages(), 5);
	ev = wsd_engine_evicted();
	memset(big, 'y', sizeof big);
	big[0] = big[sizeof big - 2] = '"';
	big[sizeof big - 1] = '\0';
	assert_int_equal(pub_uid("c", big, &r), 1);
	assert_int_equal(r, 0);
	assert_int_equal(wsd_engine_messages(), 5);
	assert_int_equal(wsd_engine_evicted(), ev);
}

/* Connected uids with nothing retained do not use up the budget: they cannot be
 * evicted, so counting them would leave every publish evicting everything. */
static void test_idle_held_streams_outside_budget(void **state)
{
	struct wsd_stream *held[200];
	char uid[16];
	int r;

	(void)state;
	use(64, 1L << 20, 300, 8192, 1);
	for (int i = 0; i < 200; i++) {
		snprintf(uid, sizeof uid, "idle%d", i);
		held[i] = hold(uid);
	}
	assert_true(wsd_engine_bytes() > 8192); /* the streams alone are over it */
	for (int i = 0; i < 10; i++) {
		pub_uid("busy", SMALL, &r);
		assert_int_equal(r, 1);
	}
	assert_int_equal(retained_count(find("busy")), 10);
	pub(held[0], SMALL, &r);
	assert_int_equal(r, 1);
	assert_int_equal(wsd_engine_messages(), 11);
	for (int i = 0; i < 200; i++)
		wsd_engine_unhold(held[i]);
}

/* Publishing again makes a uid the most recent: the other one pays. */
static void test_memory_budget_lru_order(void **state)
{
	size_t budget;

	(void)state;
	pub_uid("a", SMALL, NULL);
	pub_uid("b", SMALL, NULL);
	pub_uid("a", SMALL, NULL); /* order now: b, a */
	budget = wsd_engine_bytes();
	use(64, 1L << 20, 300, (long)budget, 0);
	assert_int_equal(pub_uid("a", SMALL, NULL), 3);
	assert_true(wsd_engine_bytes() <= budget);
	assert_null(find("b"));
	assert_range(find("a"), 0, 1, 3);
}

/* history_memory is split over the workers; shrinking it trims at once. */
static void test_memory_budget_workers(void **state)
{
	size_t bytes;

	(void)state;
	for (int i = 0; i < 4; i++)
		pub_uid("a", SMALL, NULL);
	bytes = wsd_engine_bytes();
	conf.history_memory = (long)(2 * bytes);
	wsd_engine_use(&conf, 2);
	assert_int_equal(wsd_engine_bytes(), bytes);
	assert_int_equal(wsd_engine_messages(), 4);
	conf.history_memory = (long)(2 * (bytes - 1));
	wsd_engine_use(&conf, 2);
	assert_true(wsd_engine_bytes() <= bytes - 1);
	assert_int_equal(wsd_engine_messages(), 3);
	assert_range(find("a"), 0, 2, 4);
}

/* history_ttl, by wsd_engine_tick and on a stream's next use. With ttl 2, a message
 * stamped second t goes from second t + 2. The test waits for two clock turns (up to
 * about 2 s); its outcomes assume no step stalls for a whole second. */
static void test_ttl(void **state)
{
	struct wsd_stream *a;
	struct wsd_msg *m;
	uint32_t t0, tc, t1, now;
	uint64_t ev;
	int r;

	(void)state;
	use(64, 1L << 20, 2, 1L << 30, 1);
	ev = wsd_engine_evicted();
	a = hold("a");
	m = pub_msg(a, SMALL, &r);
	t0 = m->stamp;
	wsd_msg_unref(m);
	m = pub_msg(wsd_engine_find("c", 1, 1), SMALL, &r); /* unheld, published after a */
	tc = m->stamp;
	wsd_msg_unref(m);

	wait_clock(t0 + 1);
	wsd_engine_tick(); /* nothing is 2 s old yet */
	assert_int_equal(wsd_engine_messages(), 2);
	m = pub_msg(a, SMALL, &r); /* a is now the most recently published */
	t1 = m->stamp;
	wsd_msg_unref(m);
	assert_int_equal(wsd_engine_messages(), 3);

	wait_clock(t0 + 2);
	now = wsd_msg_clock();
	assert_true(now - t1 < 2);
	wsd_engine_tick();
	/* c, least recently published, has expired (unless it was stamped a second
	 * later than a's first) and ends; a's newest is young, so the tick stops at a and
	 * a's expired first message waits for a's next use. */
	if (now - tc >= 2)
		assert_null(find("c"));
	assert_int_equal(wsd_engine_messages(), (find("c") ? 1u : 0u) + 2u);
	assert_int_equal(wsd_engine_first(a, 0), 2);
	assert_int_equal(wsd_engine_messages(), (find("c") ? 1u : 0u) + 1u);
	/* Age is not eviction. */
	assert_int_equal(wsd_engine_evicted(), ev);
	/* Unheld, a lingers for history_ttl, then ends with its numbering. */
	wsd_engine_unhold(a);
	t1 = wsd_msg_clock();
	wsd_engine_tick();
	assert_ptr_equal(find("a"), a);
	wait_clock(t1 + 2);
	wsd_engine_tick();
	assert_null(find("a"));
}

/* A held stream a reader emptied by age leaves the eviction list: the budget, run
 * by another uid's publish, must not end it while its connection holds it. */
static void test_reader_trim_keeps_a_held_stream(void **state)
{
	struct wsd_stream *h;
	uint32_t t;
	int r;

	(void)state;
	use(64, 1L << 20, 1, 4096, 1);
	h = hold("h");
	t = wsd_msg_clock();
	pub(h, SMALL, NULL);
	wait_clock(t + 1);
	assert_int_equal(wsd_engine_first(h, 0), 2); /* aged out: nothing to replay */
	for (int i = 0; i < 100; i++)
		pub_uid(i % 2 ? "x" : "y", SMALL, NULL); /* over the budget, evicting */
	assert_ptr_equal(find("h"), h);
	assert_int_equal(pub(h, SMALL, &r), 2); /* still its stream, numbering on */
	wsd_engine_unhold(h);
}

/* first and range: after, oldest first, early stop. */
static void test_first_and_range(void **state)
{
	struct wsd_stream *a;
	struct seen v = { .count = 0, .stop = 2 };

	(void)state;
	a = hold("a");
	assert_int_equal(wsd_engine_first(a, 0), 1); /* nothing yet: last + 1 */
	assert_range(a, 0, 1, 0);
	for (int i = 0; i < 5; i++)
		pub(a, SMALL, NULL);
	assert_int_equal(wsd_engine_first(a, 0), 1);
	assert_int_equal(wsd_engine_first(a, 3), 4);
	assert_int_equal(wsd_engine_first(a, 5), 6);
	assert_int_equal(wsd_engine_first(a, 100), 6);
	assert_range(a, 0, 1, 5);
	assert_range(a, 2, 3, 5);
	assert_range(a, 5, 1, 0);
	assert_range(a, UINT64_MAX, 1, 0);

	assert_int_equal(wsd_engine_range(a, 1, collect, &v), 7);
	assert_int_equal(v.count, 2);
	assert_int_equal(v.n[0], 2);
	assert_int_equal(v.n[1], 3);

	/* After a trim, the first is the oldest still retained. */
	use(2, 1L << 20, 300, 1L << 30, 0);
	assert_int_equal(wsd_engine_first(a, 0), 4);
	assert_int_equal(wsd_engine_first(a, 4), 5);
	assert_range(a, 0, 4, 5);
	wsd_engine_unhold(a);
}

/* ack: only up, within last; 1 moved, 0 already there, -1 past last. */
static void test_ack(void **state)
{
	struct wsd_stream *a;
	struct wsd_position p;

	(void)state;
	a = hold("a");
	assert_int_equal(wsd_engine_ack(a, 0), 0);
	assert_int_equal(wsd_engine_ack(a, 1), -1);
	for (int i = 0; i < 3; i++)
		pub(a, SMALL, NULL);
	assert_int_equal(wsd_engine_ack(a, 4), -1);
	assert_int_equal(wsd_engine_ack(a, UINT64_MAX), -1);
	wsd_engine_position(a, &p);
	assert_int_equal(p.acked, 0);
	assert_int_equal(wsd_engine_ack(a, 2), 1);
	assert_int_equal(wsd_engine_ack(a, 2), 0);
	assert_int_equal(wsd_engine_ack(a, 1), 0);
	assert_int_equal(wsd_engine_ack(a, 0), 0);
	wsd_engine_position(a, &p);
	assert_int_equal(p.acked, 2);
	assert_int_equal(wsd_engine_ack(a, 3), 1);
	wsd_engine_position(a, &p);
	assert_int_equal(p.acked, 3);
	assert_int_equal(p.last, 3);
	/* Acknowledging does not drop history (resume decides with `since`). */
	assert_range(a, 0, 1, 3);
	wsd_engine_unhold(a);
}

/* history_size 0: nothing retained, numbering goes on, no offline delivery. */
static void test_size_zero(void **state)
{
	struct wsd_stream *a;
	size_t bytes;
	int r;

	(void)state;
	use(0, 1L << 20, 300, 1L << 30, 1);
	assert_int_equal(wsd_engine_keeps_offline(), 0);
	a = hold("a");
	bytes = wsd_engine_bytes();
	for (uint64_t i = 1; i <= 3; i++) {
		assert_int_equal(pub(a, SMALL, &r), i);
		assert_int_equal(r, 0);
	}
	assert_int_equal(wsd_engine_messages(), 0);
	assert_int_equal(wsd_engine_bytes(), bytes);
	assert_int_equal(wsd_engine_first(a, 0), 4);
	wsd_engine_unhold(a);

	use(5, 1L << 20, 300, 1L << 30, 1);
	assert_int_equal(wsd_engine_keeps_offline(), 1);
	use(5, 1L << 20, 300, 1L << 30, 0);
	assert_int_equal(wsd_engine_keeps_offline(), 0);
}

/* wsd_engine_use with smaller bounds trims every uid at once. */
static void test_use_trims(void **state)
{
	struct wsd_stream *a;
	size_t c = small_cost();
	uint64_t ev;

	(void)state;
	a = hold("a");
	for (int i = 0; i < 6; i++) {
		pub(a, SMALL, NULL);
		pub_uid("b", SMALL, NULL);
	}
	assert_int_equal(wsd_engine_messages(), 12);
	ev = wsd_engine_evicted();

	use(2, 1L << 20, 300, 1L << 30, 0);
	assert_int_equal(wsd_engine_messages(), 4);
	assert_int_equal(wsd_engine_evicted() - ev, 8);
	assert_range(a, 0, 5, 6);
	assert_range(find("b"), 0, 5, 6);

	use(2, (long)c, 300, 1L << 30, 0);
	assert_int_equal(wsd_engine_messages(), 2);
	assert_range(a, 0, 6, 6);
	assert_range(find("b"), 0, 6, 6);
	wsd_engine_unhold(a);
}

/* Refcounts: publish hands the caller one reference; history holds its own, so a
 * frame outlives whichever lets go first. ASan reports any early free. */
static void test_refcounts(void **state)
{
	struct wsd_stream *a;
	struct wsd_msg *m1, *m2;
	int r;

	(void)state;
	use(2, 1L << 20, 300, 1L << 30, 0);
	a = hold("a");
	m1 = pub_msg(a, SMALL, &r);
	assert_int_equal(r, 1);
	assert_int_equal(m1->refs, 2);
	m2 = pub_msg(a, SMALL, &r);
	wsd_msg_unref(m2); /* history's reference keeps it */
	assert_int_equal(m2->refs, 1);
	assert_range(a, 0, 1, 2);

	/* m1 leaves the history while the caller still has it. */
	pub(a, SMALL, NULL);
	assert_int_equal(m1->refs, 1);
	assert_frame(m1, 1, SMALL);
	wsd_msg_unref(m1);
	assert_range(a, 0, 2, 3);
	wsd_engine_unhold(a);
}

/* free drops every stream and message, held or not; frames a caller still holds stay
 * valid. Nothing may be unheld after it (the held stream is gone). */
static void test_engine_free_all(void **state)
{
	struct wsd_msg *m;
	int r;

	(void)state;
	(void)hold("a");
	(void)hold("e");
	m = pub_msg(find("a"), SMALL, &r);
	pub_uid("b", SMALL, NULL);
	pub_uid("b", SMALL, NULL);
	assert_int_equal(wsd_engine_streams(), 3);
	assert_int_equal(wsd_engine_messages(), 3);

	wsd_engine_free();
	assert_int_equal(wsd_engine_streams(), 0);
	assert_int_equal(wsd_engine_messages(), 0);
	assert_int_equal(wsd_engine_bytes(), 0);
	assert_null(find("a"));
	assert_null(find("b"));
	assert_int_equal(m->refs, 1);
	assert_frame(m, 1, SMALL);
	wsd_msg_unref(m);

	/* The engine works on after a free. */
	assert_int_equal(pub_uid("a", SMALL, NULL), 1);
	assert_int_equal(wsd_engine_messages(), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_numbering_per_uid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_held_stream_keeps_numbers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unheld_stream_ends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_count_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bytes_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized_not_retained, setup, teardown),
		cmocka_unit_test_setup_teardown(test_memory_budget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_memory_budget_lru_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_memory_budget_workers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_frame_over_budget_evicts_nobody, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reader_trim_keeps_a_held_stream, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_idle_held_streams_outside_budget, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_ttl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_first_and_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_size_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(test_use_trims, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refcounts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_free_all, setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
