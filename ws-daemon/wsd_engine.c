/* SPDX-License-Identifier: MIT */
/* The memory engine: per-uid streams in a SipHash-keyed table, each retaining its
 * newest frames in a ring, bounded by count, bytes, age and one budget for all. */
#include "wsd_engine.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "log.h"
#include "siphash.h"
#include "wmsg.h"

/* uids are chosen by clients: keyed hashing, as for the connection table. */
static uint8_t eng_key[SIPHASH_KEY_BYTES];
#define HASH_FUNCTION(keyptr, keylen, hashv) \
	((hashv) = (unsigned)siphash24(eng_key, (keyptr), (size_t)(keylen)))
#include <uthash.h>

/* Epochs of one process are base ^ (k * ENG_EPOCH_STEP), k = 1, 2, ...: an odd
 * multiplier makes them distinct, the random base makes them differ from every
 * other process's. */
#define ENG_EPOCH_STEP 0x9e3779b97f4a7c15ull
#define ENG_RING_MIN 4

/*
 * A stream's retained messages are consecutive numbers, base .. base+count-1
 * (a message that cannot be kept drops the older ones: a replay could not
 * cross the gap anyway), so a frame need not carry its number.
 *
 * The eviction list holds the streams the budget may take from: those that
 * retain, and those no connection holds, which linger empty for history_ttl
 * so that a uid whose tabs all closed keeps its numbering (and its epoch) for
 * the next one. A held stream with nothing retained belongs to its
 * connections: evicting could not free it.
 */
struct wsd_stream {
	UT_hash_handle hh;
	struct wsd_stream *lru_prev, *lru_next; /* least recently touched first */
	struct wsd_msg **ring;  /* cap slots; count messages from head, oldest first */
	uint32_t cap, head, count;
	uint32_t holds;         /* connections' holds */
	uint32_t touched;       /* last publish, or when the last hold went */
	uint8_t listed;         /* on the eviction list, counted in eng.kept */
	size_t bytes;           /* wsd_msg_cost of the retained frames */
	uint64_t epoch, last, acked;
	uint64_t base;          /* number of ring[head] */
	size_t uid_len;
	char uid[];             /* uid_len bytes + NUL: the hash key */
};

static struct {
	struct wsd_stream *table;
	struct wsd_stream *lru_head, *lru_tail;
	size_t streams, messages;
	size_t bytes;           /* frames and every stream: the memory reported */
	size_t kept;            /* frames and listed streams: what history_memory bounds */
	uint64_t evicted;
	uint64_t epoch_base, epochs;
	/* Limits (wsd_engine_use). */
	size_t size, uid_bytes, memory;
	uint32_t ttl;
	int offline;
} eng;

int wsd_engine_init(void)
{
	if (siphash_key_random(eng_key) != 0 ||
	    getrandom(&eng.epoch_base, sizeof eng.epoch_base, 0) != (ssize_t)sizeof eng.epoch_base) {
		log_err("no random numbers for the history engine: %s", strerror(errno));
		return -1;
	}
	return 0;
}

size_t wsd_engine_streams(void) { return eng.streams; }
size_t wsd_engine_messages(void) { return eng.messages; }
size_t wsd_engine_bytes(void) { return eng.bytes; }
uint64_t wsd_engine_evicted(void) { return eng.evicted; }
int wsd_engine_keeps_offline(void) { return eng.offline && eng.size > 0; }

static size_t eng_stream_cost(const struct wsd_stream *s)
{
	return sizeof *s + s->uid_len + 1 + (size_t)s->cap * sizeof *s->ring;
}

static int eng_expired(uint32_t stamp, uint32_t now)
{
	return (uint32_t)(now - stamp) >= eng.ttl;
}

static void eng_lru_unlink(struct wsd_stream *s)
{
	if (s->lru_prev)
		s->lru_prev->lru_next = s->lru_next;
	else
		eng.lru_head = s->lru_next;
	if (s->lru_next)
		s->lru_next->lru_prev = s->lru_prev;
	else
		eng.lru_tail = s->lru_prev;
	s->lru_prev = s->lru_next = NULL;
}

static void eng_lru_append(struct wsd_stream *s)
{
	s->lru_prev = eng.lru_tail;
	if (eng.lru_tail)
		eng.lru_tail->lru_next = s;
	else
		eng.lru_head = s;
	eng.lru_tail = s;
}

/* Puts s on or off the eviction list as its state now says; `touch` (a publish,
 * the last hold going) moves it to the back. */
static void eng_sync(struct wsd_stream *s, int touch, uint32_t now)
{
	int listed = s->count > 0 || s->holds == 0;

	if (listed && !s->listed) {
		s->listed = 1;
		eng.kept += eng_stream_cost(s);
		s->touched = now;
		eng_lru_append(s);
	} else if (!listed && s->listed) {
		s->listed = 0;
		eng.kept -= eng_stream_cost(s);
		eng_lru_unlink(s);
	} else if (listed && touch) {
		s->touched = now;
		if (eng.lru_tail != s) {
			eng_lru_unlink(s);
			eng_lru_append(s);
		}
	}
}

/* The stream ends, and its numbers and epoch with it. Only for an unheld one. */
static void eng_end(struct wsd_stream *s)
{
	if (s->listed) {
		eng.kept -= eng_stream_cost(s);
		eng_lru_unlink(s);
	}
	HASH_DELETE(hh, eng.table, s);
	eng.bytes -= eng_stream_cost(s);
	eng.streams--;
	free(s->ring);
	free(s);
}

static void eng_set_cap(struct wsd_stream *s, struct wsd_msg **ring, uint32_t cap)
{
	size_t before = eng_stream_cost(s);

	free(s->ring);
	s->ring = ring;
	s->cap = cap;
	s->head = 0;
	eng.bytes = eng.bytes - before + eng_stream_cost(s);
	if (s->listed)
		eng.kept = eng.kept - before + eng_stream_cost(s);
}

/* Drops the oldest retained message. An emptied stream gives its ring back, so
 * an idle uid costs only the stream itself. */
static void eng_drop_oldest(struct wsd_stream *s)
{
	struct wsd_msg *m = s->ring[s->head];
	size_t cost = wsd_msg_cost(m);

	s->head = (s->head + 1) % s->cap;
	s->count--;
	s->base++;
	s->bytes -= cost;
	eng.bytes -= cost;
	eng.kept -= cost;
	eng.messages--;
	wsd_msg_unref(m);
	if (s->count == 0)
		eng_set_cap(s, NULL, 0);
}

/* After messages went: a stream nobody holds lingers (it keeps its numbering
 * for history_ttl) unless there is no history at all. */
static void eng_after_drop(struct wsd_stream *s, uint32_t now)
{
	if (s->count == 0 && s->holds == 0 && eng.size == 0)
		eng_end(s);
	else
		eng_sync(s, 0, now);
}

static struct wsd_msg *eng_newest(const struct wsd_stream *s)
{
	return s->ring[(s->head + s->count - 1) % s->cap];
}

/* The per-uid bounds, and age: what is past them goes, oldest first. */
static void eng_trim(struct wsd_stream *s, uint32_t now)
{
	while (s->count) {
		int over = s->count > eng.size || s->bytes > eng.uid_bytes;

		if (!over && !eng_expired(s->ring[s->head]->stamp, now))
			break;
		if (over)
			eng.evicted++;
		eng_drop_oldest(s);
	}
}

/* The budget for all uids: the least recently touched streams lose their
 * oldest messages first, then lingering empty ones end. `keep` (the stream
 * publishing now) pays last. */
static void eng_budget(struct wsd_stream *keep, uint32_t now)
{
	while (eng.kept > eng.memory && eng.lru_head) {
		struct wsd_stream *s = eng.lru_head;

		if (s == keep && s->lru_next) {
			eng_sync(s, 1, now); /* it is the newest anyway */
			continue;
		}
		if (s->count == 0) {
			if (s == keep)
				break; /* only itself left, and nothing to drop */
			if (s->holds)
				eng_sync(s, 0, now); /* belongs to its connections: off the list */
			else
				eng_end(s);          /* lingering, empty: its time is up */
			continue;
		}
		eng.evicted++;
		eng_drop_oldest(s);
		if (s != keep && s->count == 0 && s->holds == 0)
			eng_end(s);
		else
			eng_sync(s, 0, now);
	}
}

static struct wsd_stream *eng_new(const char *uid, size_t uid_len, uint32_t now)
{
	struct wsd_stream *s = calloc(1, sizeof *s + uid_len + 1);

	if (!s)
		return NULL;
	memcpy(s->uid, uid, uid_len);
	s->uid_len = uid_len;
	s->epoch = eng.epoch_base ^ (++eng.epochs * ENG_EPOCH_STEP);
	HASH_ADD_KEYPTR(hh, eng.table, s->uid, s->uid_len, s);
	eng.streams++;
	eng.bytes += eng_stream_cost(s);
	eng_sync(s, 1, now);
	return s;
}

struct wsd_stream *wsd_engine_find(const char *uid, size_t uid_len, int create)
{
	struct wsd_stream *s = NULL;

	HASH_FIND(hh, eng.table, uid, uid_len, s);
	if (!s && create)
		s = eng_new(uid, uid_len, wsd_msg_clock());
	return s;
}

struct wsd_stream *wsd_engine_hold(const char *uid, size_t uid_len)
{
	struct wsd_stream *s = wsd_engine_find(uid, uid_len, 1);

	if (s) {
		s->holds++;
		eng_sync(s, 0, wsd_msg_clock());
	}
	return s;
}

void wsd_engine_unhold(struct wsd_stream *s)
{
	if (!s || s->holds == 0)
		return;
	s->holds--;
	if (s->holds == 0 && s->count == 0 && eng.size == 0)
		eng_end(s);
	else
		eng_sync(s, s->holds == 0, wsd_msg_clock());
}

/* Appends m as number n (taking a reference); -1 when the ring cannot grow. */
static int eng_append(struct wsd_stream *s, struct wsd_msg *m, uint64_t n)
{
	if (s->count && s->base + s->count != n)
		while (s->count) /* a message in between was not kept: no gaps */
			eng_drop_oldest(s);
	if (s->count == s->cap) {
		/* 1.5x: a ring is mostly full, and its slack is paid per uid. */
		uint32_t cap = s->cap ? s->cap + s->cap / 2 : ENG_RING_MIN;
		struct wsd_msg **r;

		if (cap > eng.size + 1)
			cap = (uint32_t)eng.size + 1; /* one over: appended, then trimmed */
		if (cap <= s->cap || !(r = malloc(sizeof *r * cap)))
			return -1;
		for (uint32_t i = 0; i < s->count; i++)
			r[i] = s->ring[(s->head + i) % s->cap];
		eng_set_cap(s, r, cap);
	}
	if (s->count == 0)
		s->base = n;
	s->ring[(s->head + s->count) % s->cap] = m;
	s->count++;
	s->bytes += wsd_msg_cost(m);
	eng.bytes += wsd_msg_cost(m);
	eng.kept += wsd_msg_cost(m);
	eng.messages++;
	wsd_msg_ref(m);
	return 0;
}

/* A frame is kept only if it fits its uid's bound and, with the stream's own
 * cost, the whole budget: else keeping it would first evict everyone else. */
static int eng_fits(const struct wsd_stream *s, const struct wsd_msg *m)
{
	size_t cost = wsd_msg_cost(m);

	return eng.size > 0 && cost <= eng.uid_bytes &&
	       cost + sizeof *s + s->uid_len + 1 + sizeof *s->ring * ENG_RING_MIN <= eng.memory;
}

struct wsd_msg *wsd_engine_publish(struct wsd_stream *s, const struct ipc_push_item *it,
				   uint64_t *number, int *retained)
{
	uint64_t n = s->last + 1;
	size_t cap = wmsg_frame_len(it->topic_len, n, it->contents_len);
	struct wsd_msg *m = cap == SIZE_MAX ? NULL : wsd_msg_new(cap);
	uint32_t now = wsd_msg_clock();

	*retained = 0;
	if (!m)
		return NULL;
	m->stamp = now;
	m->len = (uint32_t)wmsg_frame_write((char *)m->buf + LWS_PRE, cap, it->topic,
					    it->topic_len, n, it->contents, it->contents_len);
	s->last = n;
	*number = n;
	if (eng_fits(s, m) && eng_append(s, m, n) == 0) {
		eng_sync(s, 1, now);
		eng_trim(s, now);
		eng_budget(s, now);
		*retained = s->count && eng_newest(s) == m;
	} else if (s->count) {
		while (s->count) /* the numbers kept would end before a gap */
			eng_drop_oldest(s);
	}
	if (s->count == 0 && s->holds == 0 && eng.size == 0)
		eng_end(s);
	else
		eng_sync(s, 1, now);
	return m;
}

void wsd_engine_position(struct wsd_stream *s, struct wsd_position *p)
{
	p->epoch = s->epoch;
	p->last = s->last;
	p->acked = s->acked;
}

/* Age out what is past history_ttl before a reader looks, keeping the eviction
 * list true (a held stream emptied here leaves it: the budget must not end it). */
static void eng_trim_now(struct wsd_stream *s)
{
	uint32_t now = wsd_msg_clock();

	eng_trim(s, now);
	eng_sync(s, 0, now);
}

uint64_t wsd_engine_first(struct wsd_stream *s, uint64_t after)
{
	eng_trim_now(s);
	if (s->count == 0 || after >= s->base + s->count - 1)
		return s->last + 1;
	return after < s->base ? s->base : after + 1;
}

int wsd_engine_range(struct wsd_stream *s, uint64_t after,
		     int (*fn)(struct wsd_msg *m, uint64_t number, void *arg), void *arg)
{
	eng_trim_now(s);
	for (uint32_t i = 0; i < s->count; i++) {
		uint64_t n = s->base + i;
		int rc;

		if (n > after && (rc = fn(s->ring[(s->head + i) % s->cap], n, arg)) != 0)
			return rc;
	}
	return 0;
}

int wsd_engine_ack(struct wsd_stream *s, uint64_t n)
{
	if (n > s->last)
		return -1;
	if (n <= s->acked)
		return 0;
	s->acked = n;
	return 1;
}

void wsd_engine_tick(void)
{
	uint32_t now = wsd_msg_clock();

	/* The front was touched least recently: once it is young, every later
	 * stream is too. Older messages behind a young one go when their stream is
	 * next used, and count against the budget until then. */
	while (eng.lru_head && eng_expired(eng.lru_head->touched, now)) {
		struct wsd_stream *s = eng.lru_head;

		while (s->count)
			eng_drop_oldest(s);
		if (s->holds == 0)
			eng_end(s);
		else
			eng_sync(s, 0, now);
	}
}

void wsd_engine_use(const struct cfg *c, unsigned workers)
{
	struct wsd_stream *s, *next;
	uint32_t now = wsd_msg_clock();

	eng.size = (size_t)c->history_size;
	eng.uid_bytes = (size_t)c->history_bytes;
	eng.ttl = (uint32_t)c->history_ttl;
	eng.memory = (size_t)c->history_memory / (workers ? workers : 1);
	eng.offline = c->offline_messages;
	for (s = eng.lru_head; s; s = next) {
		next = s->lru_next; /* trimming may unlist or end s */
		eng_trim(s, now);
		eng_after_drop(s, now);
	}
	eng_budget(NULL, now);
}

void wsd_engine_free(void)
{
	struct wsd_stream *s, *tmp;

	HASH_ITER(hh, eng.table, s, tmp) {
		while (s->count)
			eng_drop_oldest(s);
		eng_end(s);
	}
}
