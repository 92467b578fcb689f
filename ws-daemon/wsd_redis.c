/* SPDX-License-Identifier: MIT */
/* The Redis engine: uids' streams in Lua scripts on the uid's Redis server, delivery
 * and presence across hosts by pub/sub, all asynchronous on the worker's libuv loop. */
#include "wsd_redis.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libuv.h>
#include <openssl/sha.h>
#include <uthash.h>

#include "log.h"
#include "wmsg.h"
#include "wsd_ackwait.h"
#include "wsd_revoke.h"
#include "wsd_ring.h"
#include "wsd_rmsg.h"
#include "wsd_stats.h"
#include "wsd_ws.h"

/*
 * Keys and channels of a uid U (all on U's server): "p:s:U" a hash (e epoch as
 * 16 hex digits, n last number, a acknowledged number, b history bytes, x the
 * last broadcast id), "p:h:U" the history list (entries "ms flen tlen topic
 * contents", oldest first; retained numbers are consecutive, the newest is n),
 * "p:w:U" the channels of workers waiting for an ack, "p:x:U" the broadcasts
 * it was given (ids, for a while), "p:c:U" the channel its holders listen on. A worker's own channel is "p:n:<node>" on every server;
 * "p:revoke" (every server) and "p:all" (the first server) reach every worker.
 */
#define WRD_P_STREAM "p:s:"
#define WRD_P_HISTORY "p:h:"
#define WRD_P_WAITERS "p:w:"
#define WRD_P_CHANNEL "p:c:"
#define WRD_P_BCASTS "p:x:"
#define WRD_P_NODE "p:n:"
#define WRD_CH_REVOKE "p:revoke"
#define WRD_CH_ALL "p:all"
#define WRD_KEY_REVOKED "p:revoked"
#define WRD_PREFIX_LEN 4 /* every per-uid prefix above */
#define WRD_NAME_MAX (WRD_PREFIX_LEN + REQ_UID_MAX)
#define WRD_NODE_MAX (WRD_PREFIX_LEN + 16) /* a worker's channel: "p:n:" and 16 hex digits */
#define WRD_TOKEN_MAX 20                   /* a token: a 64-bit decimal */

#define WRD_TICK_MS 250
#define WRD_CONNECT_MS 1000     /* a connect not done by then is tried again */
/* A server that has not answered a probe for this long is taken for gone (a
 * host that vanished without closing the connection; hiredis 0.14 has no
 * command timeout): its connections are dropped, its uids' pushes get 503 at
 * once instead of each waiting out its time, and it is connected anew. */
#define WRD_STALL_MS 5000
#define WRD_HEAD_MAX 160        /* a message's header line, before its body */

_Static_assert(WRD_PREFIX_LEN == sizeof WRD_P_STREAM - 1 && WRD_PREFIX_LEN == sizeof WRD_P_HISTORY - 1 &&
		       WRD_PREFIX_LEN == sizeof WRD_P_WAITERS - 1 && WRD_PREFIX_LEN == sizeof WRD_P_CHANNEL - 1 &&
		       WRD_PREFIX_LEN == sizeof WRD_P_BCASTS - 1,
	       "one prefix length");

/* Ages out history entries (shared by the scripts that read or append):
 * returns the time and the bytes left, which the caller writes back (field b)
 * once with whatever it adds. */
#define WRD_LUA_TRIM_AGE \
	"local function trim_age(ttl)\n" \
	"  local t = redis.call('TIME')\n" \
	"  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n" \
	"  local b = tonumber(redis.call('HGET', KEYS[1], 'b') or '0')\n" \
	"  while true do\n" \
	"    local old = redis.call('LINDEX', KEYS[2], 0)\n" \
	"    if not old then return now, 0 end\n" \
	"    local s1 = string.find(old, ' ', 1, true)\n" \
	"    if tonumber(string.sub(old, 1, s1 - 1)) >= now - ttl * 1000 then return now, b end\n" \
	"    local s2 = string.find(old, ' ', s1 + 1, true)\n" \
	"    b = b - tonumber(string.sub(old, s1 + 1, s2 - 1))\n" \
	"    redis.call('LPOP', KEYS[2])\n" \
	"  end\n" \
	"end\n" \
	"local function stream(cand, ttl)\n" \
	"  local e = redis.call('HGET', KEYS[1], 'e')\n" \
	"  if not e then\n" \
	"    e = cand\n" \
	"    redis.call('HSET', KEYS[1], 'e', e, 'n', 0, 'a', 0, 'b', 0)\n" \
	"    redis.call('DEL', KEYS[2])\n" \
	"  end\n" \
	"  redis.call('EXPIRE', KEYS[1], ttl)\n" \
	"  return e\n" \
	"end\n"

/*
 * publish: KEYS stream, history, waiters, broadcasts. ARGV 1 channel, 2 topic, 3 contents,
 * 4 history_size, 5 history_bytes, 6 history_ttl, 7 keep offline (0/1), 8 epoch
 * for a new stream, 9 reply channel ("-": none), 10 token, 11 ack waiter
 * channel ("" none), 12 broadcast id ("" none), 13 ack wait ms, 14 a frame's
 * fixed bytes. Returns {0} offline (no number used), {-1} broadcast already
 * here, or {1, number, receivers, epoch, kept}.
 */
static const char wrd_lua_publish[] = WRD_LUA_TRIM_AGE
	"local subs = redis.call('PUBSUB', 'NUMSUB', ARGV[1])[2]\n"
	"if subs == 0 and ARGV[7] == '0' and ARGV[12] == '' then return {0} end\n"
	"local ttl = tonumber(ARGV[6])\n"
	"local e = stream(ARGV[8], ttl)\n"
	"if ARGV[12] ~= '' then\n"
	"  if redis.call('SADD', KEYS[4], ARGV[12]) == 0 then return {-1} end\n"
	"  redis.call('PEXPIRE', KEYS[4], ARGV[13])\n"
	"end\n"
	"local n = redis.call('HINCRBY', KEYS[1], 'n', 1)\n"
	"local ns = string.format('%d', n)\n"
	"local body = #ARGV[2] .. ' ' .. ARGV[2] .. ARGV[3]\n"
	"local kept = 0\n"
	"local hsize, hbytes = tonumber(ARGV[4]), tonumber(ARGV[5])\n"
	"if hsize > 0 then\n"
	"  local now, b = trim_age(ttl)\n"
	"  local flen = tonumber(ARGV[14]) + #ns + #ARGV[2] + #ARGV[3]\n"
	"  if flen > hbytes then\n"
	"    redis.call('DEL', KEYS[2])\n"
	"    redis.call('HSET', KEYS[1], 'b', 0)\n"
	"  else\n"
	"    local len = redis.call('RPUSH', KEYS[2], now .. ' ' .. flen .. ' ' .. body)\n"
	"    b = b + flen\n"
	"    while len > hsize or b > hbytes do\n"
	"      local old = redis.call('LPOP', KEYS[2])\n"
	"      local s1 = string.find(old, ' ', 1, true)\n"
	"      local s2 = string.find(old, ' ', s1 + 1, true)\n"
	"      b = b - tonumber(string.sub(old, s1 + 1, s2 - 1))\n"
	"      len = len - 1\n"
	"    end\n"
	"    redis.call('HSET', KEYS[1], 'b', b)\n"
	"    redis.call('PEXPIRE', KEYS[2], ttl * 1000)\n"
	"    kept = 1\n"
	"  end\n"
	"else\n"
	"  redis.call('DEL', KEYS[2])\n"
	"  redis.call('HSET', KEYS[1], 'b', 0)\n"
	"end\n"
	"if ARGV[11] ~= '' then\n"
	"  redis.call('SADD', KEYS[3], ARGV[11])\n"
	"  redis.call('PEXPIRE', KEYS[3], ARGV[13])\n"
	"end\n"
	"local got = 0\n"
	"if subs > 0 then\n"
	"  got = redis.call('PUBLISH', ARGV[1], 'M ' .. e .. ' ' .. ns .. ' ' .. ARGV[9] .. ' ' .. ARGV[10] .. ' ' .. body)\n"
	"end\n"
	"return {1, n, got, e, kept}\n";

/*
 * resume: KEYS stream, history. ARGV 1 epoch for a new stream, 2 kind (n number,
 * a acked, w now), 3 since, 4 the client's epoch ("" none), 5 reply channel,
 * 6 history_ttl, 7 connection id, 8 uid. Publishes the position and the
 * entries after it to the reply channel: in Redis's order with the uid's
 * channel, so the worker knows which live frames the replay holds.
 */
static const char wrd_lua_resume[] = WRD_LUA_TRIM_AGE
	"local ttl = tonumber(ARGV[6])\n"
	"local e = stream(ARGV[1], ttl)\n"
	"local _, b = trim_age(ttl)\n"
	"redis.call('HSET', KEYS[1], 'b', b)\n"
	"local last = tonumber(redis.call('HGET', KEYS[1], 'n'))\n"
	"local acked = tonumber(redis.call('HGET', KEYS[1], 'a'))\n"
	"local same = ARGV[4] == '' or ARGV[4] == e\n"
	"local after, valid = 0, false\n"
	"if ARGV[2] == 'w' then after, valid = last, true\n"
	"elseif ARGV[2] == 'a' then after, valid = acked, same\n"
	"else local s = tonumber(ARGV[3]); if same and s <= last then after, valid = s, true end end\n"
	"local len = redis.call('LLEN', KEYS[2])\n"
	"local oldest = last - len + 1\n"
	"local first = after + 1\n"
	"if first < oldest then first = oldest end\n"
	"local rec = 0\n"
	"if valid and first == after + 1 then rec = 1 end\n"
	"local items = {}\n"
	"if first <= last then\n"
	"  for _, v in ipairs(redis.call('LRANGE', KEYS[2], first - oldest, -1)) do\n"
	"    local s1 = string.find(v, ' ', 1, true)\n"
	"    local s2 = string.find(v, ' ', s1 + 1, true)\n"
	"    local body = string.sub(v, s2 + 1)\n"
	"    items[#items + 1] = #body .. ' ' .. body\n"
	"  end\n"
	"end\n"
	"local f = function(x) return string.format('%d', x) end\n"
	"redis.call('PUBLISH', ARGV[5], 'S ' .. ARGV[7] .. ' ' .. e .. ' ' .. f(last) .. ' ' .. f(acked) .. ' ' .. rec .. ' ' .. f(first) .. ' ' .. #items .. ' ' .. ARGV[8] .. '\\n' .. table.concat(items))\n"
	"return 1\n";

/* ack: KEYS stream, waiters. ARGV 1 epoch, 2 number, 3 uid. 1 moved (waiters
 * told), 0 not (other epoch, or there already), -1 past the last number. */
static const char wrd_lua_ack[] =
	"if redis.call('HGET', KEYS[1], 'e') ~= ARGV[1] then return 0 end\n"
	"local n = tonumber(ARGV[2])\n"
	"if n > tonumber(redis.call('HGET', KEYS[1], 'n')) then return -1 end\n"
	"if n <= tonumber(redis.call('HGET', KEYS[1], 'a')) then return 0 end\n"
	"redis.call('HSET', KEYS[1], 'a', ARGV[2])\n"
	"for _, w in ipairs(redis.call('SMEMBERS', KEYS[2])) do\n"
	"  redis.call('PUBLISH', w, 'A ' .. ARGV[1] .. ' ' .. ARGV[2] .. ' ' .. ARGV[3])\n"
	"end\n"
	"return 1\n";

/* revoke: KEYS revoked set. ARGV 1 now (unix s), 2 uid, 3 key ttl, 4 the uid's
 * channel, 5 the kick. Kept for workers that start later, told to those running
 * now, then the kick: one script, so no kick goes out unrevoked. Returns how
 * many workers the kick reached. */
static const char wrd_lua_revoke[] =
	"redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])\n"
	"redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[3]))\n"
	"redis.call('PUBLISH', '" WRD_CH_REVOKE "', 'V ' .. ARGV[1] .. ' ' .. ARGV[2])\n"
	"return redis.call('PUBLISH', ARGV[4], ARGV[5])\n";

enum wrd_script { WRD_PUBLISH, WRD_RESUME, WRD_ACK, WRD_REVOKE, WRD_SCRIPTS };
static const char *const wrd_lua[WRD_SCRIPTS] = { wrd_lua_publish, wrd_lua_resume, wrd_lua_ack,
						  wrd_lua_revoke };
static char wrd_sha[WRD_SCRIPTS][SHA_DIGEST_LENGTH * 2 + 1];

struct wrd_shard {
	struct cfg_redis_server addr;
	redisAsyncContext *cmd, *sub;
	uint8_t cmd_up, sub_up;   /* connected (not just connecting) */
	uint8_t was_up;           /* for logging the transitions once */
	uint64_t cmd_since, sub_since; /* when the connect began (loop ms) */
	uint64_t probe_sent;      /* loop ms of the probe out; 0: none */
	uint8_t probe_cmd, probe_sub; /* its command answered / its message heard */
	uint8_t node_on;          /* our own channel is heard on sub */
	uint8_t scripts, loads_out; /* scripts loaded / SCRIPT LOADs not answered */
	unsigned index;
};

/* A uid held here: its channel's subscription state on its server. */
enum wrd_sub_state { WRD_SUB_NONE, WRD_SUB_PENDING, WRD_SUB_ON, WRD_SUB_LEAVING };
struct wrd_sub {
	UT_hash_handle hh;
	uint32_t refs;
	uint8_t state;
	unsigned shard;
	size_t uid_len;
	char uid[];
};

/* One item of a datagram in flight. */
enum wrd_item_state { WRD_I_DONE, WRD_I_CMD, WRD_I_GATHER };
struct wrd_req;
struct wrd_item {
	UT_hash_handle hh;      /* in wrd.items by token while not done */
	uint64_t token;
	struct wrd_req *req;
	uint32_t expect, got;   /* answers the publish reached / arrived */
	uint64_t sum, sum2;     /* counts gathered (broadcast: uids, connections) */
	uint64_t epoch;
	uint8_t state, kept;
};

struct wrd_req {
	uv_timer_t timer;       /* first member: the close callback frees the request */
	struct ipc_hdr me;
	uint8_t type;
	size_t n, open;
	size_t acks;            /* ack pushes among the items sent (wrd.ack_pending) */
	struct sockaddr_un to;
	socklen_t to_len;
	struct ipc_push_item *its;  /* uids copied into uids */
	struct ipc_result *res;
	uint64_t *epochs;
	struct wrd_item *items;
	char *uids;
};

/* An acknowledgement told to us, kept a while: it may come before the answer
 * of the push it acknowledges is complete (another connection), when no wait
 * is held for it yet. */
struct wrd_recent {
	UT_hash_handle hh;
	uint64_t epoch, number, at_ms;
	size_t uid_len;
	char uid[];
};

/* The configuration's numbers as script arguments, written once per
 * configuration rather than per push. */
struct wrd_args {
	char hsize[24], hbytes[24], ttl[24], key_ttl[24], keep_offline[2], ack_ms[24],
		frame_fixed[24];
};

/* A broadcast this worker carries out for the uids it holds. */
struct wrd_bjob {
	UT_hash_handle hh;
	uint64_t token_id;      /* ours, for its scripts' replies */
	uint32_t pending;
	uint64_t uids, conns;
	char reply[WRD_NODE_MAX + 1]; /* the originator's channel */
	struct wsd_rmsg_str token;      /* its token, in token_buf */
	char token_buf[WRD_TOKEN_MAX];
};

static struct {
	int on, stopping;
	uv_loop_t *loop;
	uv_timer_t tick;
	uv_check_t check;           /* after each loop turn: wake lws if poked */
	struct lws_context *ctx;
	int poke;                   /* a Redis callback touched connections */
	wsd_redis_reply_fn reply;
	unsigned worker, nshards;
	unsigned all_shard;         /* the server of "p:all", picked like a uid's */
	struct wrd_shard shards[CFG_REDIS_SERVERS_MAX];
	struct wsd_ring *ring;
	char node[WRD_NODE_MAX + 1];     /* this worker's channel */
	struct wrd_sub *subs;
	struct wrd_item *items;
	struct wrd_bjob *jobs;
	struct wrd_recent *recent;
	uint64_t next_token;
	size_t ack_pending;         /* ack pushes in requests not answered yet */
	uint64_t last_refresh_ms;
	/* From the configuration (wsd_redis_use). */
	long hsize, hbytes, ttl, key_ttl, wait_ms, ack_ms;
	struct wrd_args args;       /* the same, as the scripts take them */
	uint64_t epoch_seq;         /* wrd_epoch_new's counter, from a random start */
	int keep_offline;
	size_t frame_fixed;
} wrd;

int wsd_redis_on(void) { return wrd.on; }

/* ---- helpers ---------------------------------------------------------- */

static struct wrd_shard *wrd_shard_of(const char *uid, size_t uid_len)
{
	return &wrd.shards[wsd_ring_pick(wrd.ring, uid, uid_len)];
}

/* prefix + uid into out (WRD_NAME_MAX + 1); its length. */
static size_t wrd_name(char *out, const char *prefix, const char *uid, size_t uid_len)
{
	memcpy(out, prefix, WRD_PREFIX_LEN);
	memcpy(out + WRD_PREFIX_LEN, uid, uid_len);
	out[WRD_PREFIX_LEN + uid_len] = '\0';
	return WRD_PREFIX_LEN + uid_len;
}

/* Both connections up, the scripts loaded, our channel heard: a push can be
 * sent and its answers gathered. */
static int wrd_ready(const struct wrd_shard *sh)
{
	return sh->cmd && sh->cmd_up && sh->sub && sh->sub_up && sh->node_on &&
	       sh->scripts == WRD_SCRIPTS;
}

/* An error reply NOSCRIPT (the server lost its scripts: SCRIPT FLUSH, a
 * restart): loaded again by the next tick. */
static void wrd_check_noscript(redisAsyncContext *ac, const redisReply *r)
{
	struct wrd_shard *sh = ac->data;

	if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0 &&
	    ac == sh->cmd)
		sh->scripts = 0;
}

/* A candidate epoch for a stream the script may have to make (it is used only
 * then), as 16 hex digits, never 0: splitmix64 over a counter from a random
 * start, so a push costs no system call for it. Epochs name numbering runs;
 * they need to differ, not to be secret. */
static void wrd_epoch_new(char out[17])
{
	uint64_t z = 0;

	while (z == 0) {
		z = (wrd.epoch_seq += 0x9e3779b97f4a7c15ULL);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		z ^= z >> 31;
	}
	snprintf(out, 17, "%016" PRIx64, z);
}

static int wrd_command(struct wrd_shard *sh, redisCallbackFn *fn, void *priv, int argc,
		       const char **argv, const size_t *lens)
{
	if (!sh->cmd || !sh->cmd_up)
		return -1;
	return redisAsyncCommandArgv(sh->cmd, fn, priv, argc, argv, lens) == REDIS_OK ? 0 : -1;
}

/* PUBLISH channel payload on sh, answer ignored. */
static void wrd_publish(struct wrd_shard *sh, const char *ch, const char *msg, size_t len)
{
	const char *argv[3] = { "PUBLISH", ch, msg };
	size_t lens[3] = { 7, strlen(ch), len };

	if (wrd_command(sh, NULL, NULL, 3, argv, lens) != 0)
		LOG_LIMITED(LOG_LVL_WARN, "redis %s:%d: cannot answer a publisher (down)",
			    sh->addr.host, sh->addr.port);
}

static const char *wrd_reply_error(const redisReply *r)
{
	if (!r)
		return "connection lost";
	return r->type == REDIS_REPLY_ERROR ? r->str : NULL;
}

/* ---- subscriptions ---------------------------------------------------- */

static void wrd_on_uid_message(redisAsyncContext *ac, void *reply, void *priv);

static void wrd_sub_send(struct wrd_sub *s, const char *cmd, uint8_t state)
{
	struct wrd_shard *sh = &wrd.shards[s->shard];
	char ch[WRD_NAME_MAX + 1];
	size_t chl = wrd_name(ch, WRD_P_CHANNEL, s->uid, s->uid_len);
	const char *argv[2] = { cmd, ch };
	size_t lens[2] = { strlen(cmd), chl };

	if (!sh->sub || !sh->sub_up ||
	    redisAsyncCommandArgv(sh->sub, wrd_on_uid_message, NULL, 2, argv, lens) != REDIS_OK) {
		s->state = WRD_SUB_NONE; /* sent again when the server is back */
		return;
	}
	s->state = state;
}

static void wrd_sub_free(struct wrd_sub *s)
{
	HASH_DELETE(hh, wrd.subs, s);
	free(s);
}

void wsd_redis_hold(const char *uid, size_t uid_len)
{
	struct wrd_sub *s = NULL;

	if (!wrd.on)
		return;
	HASH_FIND(hh, wrd.subs, uid, uid_len, s);
	if (!s) {
		s = calloc(1, sizeof *s + uid_len + 1);
		if (!s) {
			log_err("redis: out of memory holding uid %.*s", (int)uid_len, uid);
			return;
		}
		memcpy(s->uid, uid, uid_len);
		s->uid_len = uid_len;
		s->shard = wrd_shard_of(uid, uid_len)->index;
		HASH_ADD_KEYPTR(hh, wrd.subs, s->uid, s->uid_len, s);
	}
	s->refs++;
	if (s->state == WRD_SUB_NONE)
		wrd_sub_send(s, "SUBSCRIBE", WRD_SUB_PENDING);
	/* PENDING: already on its way; LEAVING: subscribed again once it left. */
}

void wsd_redis_unhold(const char *uid, size_t uid_len)
{
	struct wrd_sub *s = NULL;

	if (!wrd.on)
		return;
	HASH_FIND(hh, wrd.subs, uid, uid_len, s);
	if (!s || s->refs == 0 || --s->refs > 0)
		return;
	if (s->state == WRD_SUB_ON)
		wrd_sub_send(s, "UNSUBSCRIBE", WRD_SUB_LEAVING);
	if (s->state == WRD_SUB_NONE)
		wrd_sub_free(s);
	/* PENDING: left once the subscription is confirmed. */
}

static void wrd_resume_ask(struct wsd_conn *c, void *arg);

/* The uid's channel is heard from now on: resumes waiting for it may read. */
static void wrd_sub_confirmed(struct wrd_sub *s)
{
	if (s->refs == 0) {
		wrd_sub_send(s, "UNSUBSCRIBE", WRD_SUB_LEAVING);
		return;
	}
	s->state = WRD_SUB_ON;
	wsd_conn_each(s->uid, s->uid_len, wrd_resume_ask, NULL);
}

static void wrd_sub_left(struct wrd_sub *s)
{
	if (s->refs == 0)
		wrd_sub_free(s);
	else
		wrd_sub_send(s, "SUBSCRIBE", WRD_SUB_PENDING);
}

/* ---- datagram requests ------------------------------------------------ */

static void wrd_req_free(struct wrd_req *q)
{
	if (!q)
		return;
	free(q->its);
	free(q->res);
	free(q->epochs);
	free(q->items);
	free(q->uids);
	free(q);
}

static void wrd_req_closed(uv_handle_t *h)
{
	wrd_req_free((struct wrd_req *)(void *)h);
}

static void wrd_count(const struct wrd_req *q, size_t i)
{
	const struct ipc_result *r = &q->res[i];

	if (q->type != IPC_T_PUSH || !q->items[i].token)
		return; /* refused before Redis: wsd_ipc counted it */
	if (r->status == IPC_S_DELIVERED) {
		wsd_stats.pushes_delivered++;
		wsd_stats.deliveries += r->delivered;
	} else if (r->status == IPC_S_STORED) {
		wsd_stats.pushes_stored++;
	} else if (r->status == IPC_S_OFFLINE) {
		wsd_stats.pushes_offline++;
	}
}

/* Acks told before the request's wait was held, handed to it now. */
static void wrd_recent_replay(const struct wrd_req *q)
{
	struct wrd_recent *a;

	for (size_t i = 0; i < q->n && wrd.recent; i++) {
		if (!(q->its[i].flags & IPC_F_ACK) || q->res[i].status != IPC_S_DELIVERED)
			continue;
		a = NULL;
		HASH_FIND(hh, wrd.recent, q->its[i].uid, q->its[i].uid_len, a);
		if (a && a->epoch == q->epochs[i])
			wsd_ackwait_acked(a->uid, a->uid_len, a->epoch, a->number);
	}
}

/* Every item has its answer (or the wait ran out): reply, and let go. */
static void wrd_req_finish(struct wrd_req *q)
{
	for (size_t i = 0; i < q->n; i++) {
		struct wrd_item *it = &q->items[i];

		if (it->state != WRD_I_DONE)
			HASH_DELETE(hh, wrd.items, it);
		if (it->state == WRD_I_CMD && it->got == 0) {
			q->res[i] = (struct ipc_result){ .status = IPC_S_LATE };
		} else if (it->state != WRD_I_DONE) {
			/* Answers that never came: a host that stopped without closing
			 * its connection. What the others said is the answer. */
			q->res[i].delivered = (uint32_t)(q->type == IPC_T_BROADCAST ? it->sum2 : it->sum);
			if (q->type == IPC_T_BROADCAST)
				q->res[i].number = it->sum;
			q->res[i].status = q->res[i].delivered || q->type == IPC_T_BROADCAST
						   ? IPC_S_DELIVERED : IPC_S_OFFLINE;
		}
		it->state = WRD_I_DONE;
		q->epochs[i] = it->epoch;
		wrd_count(q, i);
	}
	q->open = 0;
	wrd.ack_pending -= q->acks;
	wrd.reply(&q->me, q->its, q->res, q->epochs, q->n, &q->to, q->to_len);
	wrd_recent_replay(q); /* acks that beat the answer: the waits just made */
	uv_close((uv_handle_t *)&q->timer, wrd_req_closed);
}

static void wrd_item_done(struct wrd_item *it)
{
	struct wrd_req *q = it->req;

	HASH_DELETE(hh, wrd.items, it);
	it->state = WRD_I_DONE;
	if (--q->open == 0) {
		uv_timer_stop(&q->timer);
		wrd_req_finish(q);
	}
}

static void wrd_on_deadline(uv_timer_t *t)
{
	wrd.poke = 1;
	wrd_req_finish((struct wrd_req *)(void *)t);
}

/* The gathered answers of an item, complete. */
static void wrd_item_gathered(struct wrd_item *it)
{
	struct wrd_req *q = it->req;
	size_t i = (size_t)(it - q->items);
	struct ipc_result *r = &q->res[i];

	if (q->type == IPC_T_BROADCAST) {
		r->number = it->sum;
		r->delivered = (uint32_t)(it->sum2 > UINT32_MAX ? UINT32_MAX : it->sum2);
		r->status = IPC_S_DELIVERED;
	} else {
		r->delivered = (uint32_t)(it->sum > UINT32_MAX ? UINT32_MAX : it->sum);
		r->status = r->delivered ? IPC_S_DELIVERED
			  : it->kept && wrd.keep_offline ? IPC_S_STORED : IPC_S_OFFLINE;
	}
	wrd_item_done(it);
}

/* An item whose publish reached `got` workers: they answer on our channel,
 * another connection than the script's reply, so some answers may be in
 * already (wrd_gather counts them in either state). */
static void wrd_item_expect(struct wrd_item *it, long long got)
{
	it->expect = got > 0 ? (uint32_t)got : 0;
	if (it->got >= it->expect)
		wrd_item_gathered(it);
	else
		it->state = WRD_I_GATHER;
}

static struct wrd_item *wrd_item_of(void *priv)
{
	uint64_t token = (uint64_t)(uintptr_t)priv;
	struct wrd_item *it = NULL;

	HASH_FIND(hh, wrd.items, &token, sizeof token, it);
	return it && it->state == WRD_I_CMD ? it : NULL;
}

/* A failed command: nothing happened (refused) or it may have (lost). */
static void wrd_item_failed(struct wrd_item *it, const redisReply *r)
{
	struct wrd_req *q = it->req;
	size_t i = (size_t)(it - q->items);

	const char *why = wrd_reply_error(r);

	LOG_LIMITED(LOG_LVL_WARN, "redis: %s", why ? why : "unexpected answer");
	q->res[i] = (struct ipc_result){ .status = r ? IPC_S_UNAVAILABLE : IPC_S_LATE };
	wrd_item_done(it);
}

static void wrd_on_publish_reply(redisAsyncContext *ac, void *reply, void *priv)
{
	struct wrd_item *it = wrd_item_of(priv);
	redisReply *r = reply;
	struct ipc_result *res;

	wrd.poke = 1;
	wrd_check_noscript(ac, r);
	if (!it)
		return; /* answered already (its time ran out) */
	if (wrd_reply_error(r) || r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
	    r->element[0]->type != REDIS_REPLY_INTEGER) {
		wrd_item_failed(it, r && r->type == REDIS_REPLY_ERROR ? r : NULL);
		return;
	}
	res = &it->req->res[it - it->req->items];
	if (r->element[0]->integer != 1 || r->elements < 5) {
		*res = (struct ipc_result){ .status = IPC_S_OFFLINE };
		wrd_item_done(it);
		return;
	}
	res->number = (uint64_t)r->element[1]->integer;
	it->kept = r->element[4]->integer == 1;
	if (r->element[3]->type == REDIS_REPLY_STRING)
		it->epoch = wsd_rmsg_epoch(r->element[3]->str, r->element[3]->len);
	wrd_item_expect(it, r->element[2]->integer);
}

static void wrd_on_count_reply(redisAsyncContext *ac, void *reply, void *priv)
{
	struct wrd_item *it = wrd_item_of(priv);
	redisReply *r = reply;

	wrd.poke = 1;
	wrd_check_noscript(ac, r);
	if (!it)
		return;
	if (wrd_reply_error(r) || r->type != REDIS_REPLY_INTEGER) {
		wrd_item_failed(it, r && r->type == REDIS_REPLY_ERROR ? r : NULL);
		return;
	}
	wrd_item_expect(it, r->integer);
}

/* Another worker's answer "R token count [count2]" to one of our publishes. */
static void wrd_gather(const char *p, size_t n)
{
	struct wsd_rmsg_answer a;
	struct wrd_item *it = NULL;

	if (wsd_rmsg_answer(p, n, &a) != 0)
		return;
	HASH_FIND(hh, wrd.items, &a.token, sizeof a.token, it);
	if (!it)
		return; /* late: the request was answered without it */
	it->sum += a.count;
	it->sum2 += a.count2;
	it->got++;
	/* Before the script's reply (WRD_I_CMD) the count is not known yet. */
	if (it->state == WRD_I_GATHER && it->got >= it->expect)
		wrd_item_gathered(it);
}

/* The publish script's arguments after its keys (ARGV 1..14, see wrd_lua_publish). */
enum { WRD_PUB_ARGS = 3 + 4 + 14 };

static int wrd_send_publish(struct wrd_shard *sh, const char *uid, size_t uid_len,
			    const char *topic, size_t tlen, const char *contents, size_t clen,
			    const char *reply, const char *token, const char *waiter,
			    const char *bid, redisCallbackFn *fn, void *priv)
{
	const struct wrd_args *a = &wrd.args;
	char keys[4][WRD_NAME_MAX + 1], ch[WRD_NAME_MAX + 1], epoch[17];
	const char *argv[WRD_PUB_ARGS] = { "EVALSHA", wrd_sha[WRD_PUBLISH], "4", keys[0], keys[1],
					   keys[2], keys[3], ch, topic, contents, a->hsize,
					   a->hbytes, a->ttl, bid[0] ? "0" : a->keep_offline, epoch,
					   reply, token, waiter, bid, a->ack_ms, a->frame_fixed };
	size_t lens[WRD_PUB_ARGS];

	wrd_epoch_new(epoch);
	lens[3] = wrd_name(keys[0], WRD_P_STREAM, uid, uid_len);
	lens[4] = wrd_name(keys[1], WRD_P_HISTORY, uid, uid_len);
	lens[5] = wrd_name(keys[2], WRD_P_WAITERS, uid, uid_len);
	lens[6] = wrd_name(keys[3], WRD_P_BCASTS, uid, uid_len);
	lens[7] = wrd_name(ch, WRD_P_CHANNEL, uid, uid_len);
	lens[8] = tlen;
	lens[9] = clen;
	for (int i = 0; i < WRD_PUB_ARGS; i++)
		if (i < 3 || i > 9)
			lens[i] = strlen(argv[i]);
	return wrd_command(sh, fn, priv, WRD_PUB_ARGS, argv, lens);
}

static void wrd_send_push(struct wrd_shard *sh, struct wrd_item *it, const struct ipc_push_item *p)
{
	char tok[24];

	snprintf(tok, sizeof tok, "%" PRIu64, it->token);
	if (wrd_send_publish(sh, p->uid, p->uid_len, p->topic, p->topic_len, p->contents,
			     p->contents_len, wrd.node, tok, p->flags & IPC_F_ACK ? wrd.node : "",
			     "", wrd_on_publish_reply, (void *)(uintptr_t)it->token) == 0)
		return;
	it->req->res[it - it->req->items] = (struct ipc_result){ .status = IPC_S_UNAVAILABLE };
	wrd_item_done(it);
}

/* PRESENCE or KICK: "P|K reply token" on the uid's channel; each holder counts. */
static void wrd_send_ask(struct wrd_shard *sh, struct wrd_item *it, const struct ipc_push_item *p,
			 char what)
{
	char ch[WRD_NAME_MAX + 1], msg[WRD_HEAD_MAX], now[24];
	int len = snprintf(msg, sizeof msg, "%c %s %" PRIu64, what, wrd.node, it->token);
	size_t chl = wrd_name(ch, WRD_P_CHANNEL, p->uid, p->uid_len);
	const char *argv[3] = { "PUBLISH", ch, msg };
	size_t lens[3] = { 7, chl, (size_t)len };
	const char *rv[9] = { "EVALSHA", wrd_sha[WRD_REVOKE], "1", WRD_KEY_REVOKED, now, p->uid,
			      wrd.args.key_ttl, ch, msg };
	size_t rl[9];
	int rc;

	if (what == 'K' && (p->flags & IPC_F_REVOKE)) {
		snprintf(now, sizeof now, "%lld", (long long)time(NULL));
		for (int i = 0; i < 9; i++)
			rl[i] = strlen(rv[i]);
		rl[5] = p->uid_len;
		rl[7] = chl;
		rl[8] = (size_t)len;
		rc = wrd_command(sh, wrd_on_count_reply, (void *)(uintptr_t)it->token, 9, rv, rl);
	} else {
		rc = wrd_command(sh, wrd_on_count_reply, (void *)(uintptr_t)it->token, 3, argv, lens);
	}
	if (rc == 0)
		return;
	it->req->res[it - it->req->items] = (struct ipc_result){ .status = IPC_S_UNAVAILABLE };
	wrd_item_done(it);
}

/* BROADCAST: every worker of every host, by the first server's "p:all". */
static void wrd_send_broadcast(struct wrd_item *it, const struct ipc_push_item *p)
{
	struct wrd_shard *sh = &wrd.shards[wrd.all_shard];
	char head[WRD_HEAD_MAX], bid[17];
	size_t hl, len;
	char *msg;
	const char *argv[3] = { "PUBLISH", WRD_CH_ALL, NULL };
	size_t lens[3] = { 7, sizeof WRD_CH_ALL - 1, 0 };

	wrd_epoch_new(bid);
	hl = (size_t)snprintf(head, sizeof head, "B %s %" PRIu64 " %s %zu ", wrd.node, it->token,
			      bid, p->topic_len);
	len = hl + p->topic_len + p->contents_len;
	msg = malloc(len);
	if (msg) {
		memcpy(msg, head, hl);
		memcpy(msg + hl, p->topic, p->topic_len);
		memcpy(msg + hl + p->topic_len, p->contents, p->contents_len);
		argv[2] = msg;
		lens[2] = len;
	}
	if (msg && wrd_ready(sh) &&
	    wrd_command(sh, wrd_on_count_reply, (void *)(uintptr_t)it->token, 3, argv, lens) == 0) {
		free(msg);
		return;
	}
	free(msg);
	it->req->res[it - it->req->items] = (struct ipc_result){ .status = IPC_S_UNAVAILABLE };
	wrd_item_done(it);
}

static void wrd_item_send(struct wrd_item *it, const struct ipc_push_item *p, uint8_t type)
{
	struct wrd_shard *sh;

	if (type == IPC_T_BROADCAST) {
		wrd_send_broadcast(it, p);
		return;
	}
	sh = wrd_shard_of(p->uid, p->uid_len);
	if (!wrd_ready(sh)) {
		it->req->res[it - it->req->items] = (struct ipc_result){ .status = IPC_S_UNAVAILABLE };
		wrd_item_done(it);
	} else if (type == IPC_T_PUSH) {
		wrd_send_push(sh, it, p);
	} else {
		wrd_send_ask(sh, it, p, type == IPC_T_KICK ? 'K' : 'P');
	}
}

static struct wrd_req *wrd_req_new(size_t n, const struct ipc_push_item *items)
{
	struct wrd_req *q = calloc(1, sizeof *q);
	size_t ulen = 0;

	for (size_t i = 0; i < n; i++)
		ulen += items[i].uid_len + 1;
	if (q) {
		q->its = calloc(n, sizeof *q->its);
		q->res = calloc(n, sizeof *q->res);
		q->epochs = calloc(n, sizeof *q->epochs);
		q->items = calloc(n, sizeof *q->items);
		q->uids = malloc(ulen ? ulen : 1);
	}
	if (!q || !q->its || !q->res || !q->epochs || !q->items || !q->uids ||
	    uv_timer_init(wrd.loop, &q->timer) != 0) {
		wrd_req_free(q); /* the timer was not made: nothing to close */
		return NULL;
	}
	ulen = 0;
	for (size_t i = 0; i < n; i++) {
		memcpy(q->uids + ulen, items[i].uid, items[i].uid_len);
		q->uids[ulen + items[i].uid_len] = '\0';
		q->its[i] = (struct ipc_push_item){ .uid = q->uids + ulen,
						    .uid_len = items[i].uid_len,
						    .flags = items[i].flags };
		ulen += items[i].uid_len + 1;
	}
	q->n = n;
	return q;
}

size_t wsd_redis_ack_pending(void) { return wrd.ack_pending; }

int wsd_redis_request(const struct ipc_hdr *me, uint8_t type, const struct ipc_push_item *items,
		      const struct ipc_result *res, const uint8_t *todo, size_t n,
		      const struct sockaddr_un *to, socklen_t to_len, long budget_ms)
{
	struct wrd_req *q = wrd_req_new(n, items);

	if (!q)
		return -1;
	q->me = *me;
	q->type = type;
	q->to = *to;
	q->to_len = to_len;
	memcpy(q->res, res, n * sizeof *res);
	for (size_t i = 0; i < n; i++) {
		if (!todo[i])
			continue;
		q->items[i] = (struct wrd_item){ .token = ++wrd.next_token, .req = q,
						 .state = WRD_I_CMD };
		q->acks += type == IPC_T_PUSH && (items[i].flags & IPC_F_ACK);
		HASH_ADD(hh, wrd.items, token, sizeof(uint64_t), &q->items[i]);
		q->open++;
	}
	wrd.ack_pending += q->acks;
	/* Counted first: an item answered at once (server down) ends the request. */
	q->open++;
	for (size_t i = 0; i < n; i++)
		if (todo[i])
			wrd_item_send(&q->items[i], &items[i], type);
	if (--q->open == 0) {
		wrd_req_finish(q);
		return 0;
	}
	if (budget_ms > wrd.wait_ms)
		budget_ms = wrd.wait_ms;
	(void)uv_timer_start(&q->timer, wrd_on_deadline, (uint64_t)(budget_ms > 5 ? budget_ms : 5),
			     0);
	return 0;
}

/* ---- what arrives on channels ----------------------------------------- */

/* A holder's answer to the worker whose channel is `reply`: "R token count". */
static void wrd_answer(struct wrd_shard *sh, struct wsd_rmsg_str reply, struct wsd_rmsg_str token,
		       size_t count)
{
	char ans[WRD_HEAD_MAX], ch[WRD_NODE_MAX + 1];
	int len;

	if (reply.n > WRD_NODE_MAX || token.n > WRD_TOKEN_MAX)
		return; /* not one of ours */
	memcpy(ch, reply.p, reply.n);
	ch[reply.n] = '\0';
	len = snprintf(ans, sizeof ans, "R %.*s %zu", (int)token.n, token.p, count);
	wrd_publish(sh, ch, ans, (size_t)len);
}

/* A frame of the uid's stream, to its connections here; answered unless "-". */
static void wrd_on_frame(struct wrd_shard *sh, const char *uid, size_t uid_len, const char *p,
			 size_t n)
{
	struct wsd_rmsg_frame f;
	struct wsd_msg *m;
	size_t cap, delivered = 0;

	if (wsd_rmsg_frame(p, n, &f) != 0) {
		LOG_LIMITED(LOG_LVL_WARN, "redis: a malformed frame for uid %.*s", (int)uid_len, uid);
		return;
	}
	cap = wmsg_frame_len(f.topic.n, f.number, f.contents.n);
	m = cap != SIZE_MAX ? wsd_msg_new(cap) : NULL;
	if (m) {
		m->len = (uint32_t)wmsg_frame_write((char *)m->buf + LWS_PRE, cap, f.topic.p, f.topic.n,
						    f.number, f.contents.p, f.contents.n);
		delivered = wsd_conn_deliver_numbered(uid, uid_len, m, f.epoch, f.number);
		wsd_msg_unref(m);
	} else {
		log_err("out of memory building a frame for uid %.*s", (int)uid_len, uid);
	}
	if (!(f.reply.n == 1 && f.reply.p[0] == '-'))
		wrd_answer(sh, f.reply, f.token, delivered);
}

/* "P|K reply token": presence asked, or a kick; answered with our count. */
static void wrd_on_ask(struct wrd_shard *sh, char what, const char *uid, size_t uid_len,
		       const char *p, size_t n)
{
	struct wsd_rmsg_ask a;
	size_t count;

	if (wsd_rmsg_ask(p, n, &a) != 0)
		return;
	if (what == 'K') {
		count = wsd_conn_kick(uid, uid_len, WSD_CLOSE_KICKED, "kicked");
		log_info("kick uid=%.*s: %zu connections closed", (int)uid_len, uid, count);
	} else {
		count = wsd_conn_of(uid, uid_len);
	}
	wrd_answer(sh, a.reply, a.token, count);
}

static void wrd_on_uid_message(redisAsyncContext *ac, void *reply, void *priv)
{
	struct wrd_shard *sh = ac->data;
	redisReply *r = reply;
	struct wrd_sub *s = NULL;
	const char *uid, *p;
	size_t uid_len, n;

	wrd.poke = 1;
	(void)priv;
	if (!r || wrd.stopping || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
	    r->element[1]->type != REDIS_REPLY_STRING || r->element[1]->len <= WRD_PREFIX_LEN)
		return;
	uid = r->element[1]->str + WRD_PREFIX_LEN;
	uid_len = r->element[1]->len - WRD_PREFIX_LEN;
	if (strcmp(r->element[0]->str, "message") != 0) {
		HASH_FIND(hh, wrd.subs, uid, uid_len, s);
		if (s && strcmp(r->element[0]->str, "subscribe") == 0 && s->state == WRD_SUB_PENDING)
			wrd_sub_confirmed(s);
		else if (s && strcmp(r->element[0]->str, "unsubscribe") == 0 &&
			 s->state == WRD_SUB_LEAVING)
			wrd_sub_left(s);
		return;
	}
	if (r->element[2]->type != REDIS_REPLY_STRING || r->element[2]->len < 2)
		return;
	p = r->element[2]->str + 2;
	n = r->element[2]->len - 2;
	switch (r->element[2]->str[0]) {
	case 'M':
		wrd_on_frame(sh, uid, uid_len, p, n);
		break;
	case 'P':
	case 'K':
		wrd_on_ask(sh, r->element[2]->str[0], uid, uid_len, p, n);
		break;
	default:
		break;
	}
}

/* ---- resume ----------------------------------------------------------- */

struct wrd_replay {
	struct wsd_conn *c;
	uint64_t number;
	int failed;
};

/* A frame of c's replay, number `number`; -1 when it cannot be queued. */
static int wrd_replay_one(struct wsd_conn *c, uint64_t number, struct wsd_rmsg_str topic,
			  struct wsd_rmsg_str contents)
{
	size_t cap = wmsg_frame_len(topic.n, number, contents.n);
	struct wsd_msg *m = cap != SIZE_MAX ? wsd_msg_new(cap) : NULL;
	int rc;

	if (!m)
		return -1;
	m->len = (uint32_t)wmsg_frame_write((char *)m->buf + LWS_PRE, cap, topic.p, topic.n, number,
					    contents.p, contents.n);
	rc = wsd_conn_replay(c, m);
	wsd_msg_unref(m);
	return rc;
}

/* A resume's answer: the position frame, then the replay, to the connection
 * that asked (if it is still here). */
static void wrd_on_resumed(const char *p, size_t n)
{
	struct wsd_rmsg_resume r;
	struct wsd_rmsg_str topic, contents;
	struct wsd_conn_position pos;
	struct wsd_conn *c;
	uint64_t number;
	int failed = 0, more;

	if (wsd_rmsg_resume(p, n, &r) != 0)
		return;
	c = wsd_conn_by_id(r.uid.p, r.uid.n, r.conn);
	if (!c || c->resuming != WSD_RESUME_ASKED)
		return; /* gone meanwhile */
	if (c->rejoin && (!r.recovered || r.epoch != c->seen_epoch)) {
		/* Frames it missed are gone: it resumes itself and is told. */
		wsd_conn_close_soon(c, WSD_CLOSE_RESTART, "stream interrupted");
		return;
	}
	pos = (struct wsd_conn_position){ { r.epoch, r.last, r.acked }, r.first, r.recovered };
	if (!c->rejoin) /* a catch-up sends no second position frame */
		failed = wsd_conn_send_position(c, &pos) != 0;
	for (number = r.first; !failed && (more = wsd_rmsg_entry(&r, &topic, &contents)) != 0;
	     number++)
		failed = more < 0 || wrd_replay_one(c, number, topic, contents) != 0;
	c->seen_epoch = r.epoch;
	c->seen_last = r.last;
	c->resuming = WSD_RESUMED;
	c->rejoin = 0;
	if (failed && c->state == WSD_CONN_OPEN)
		wsd_conn_close_soon(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION,
				    "could not send the history");
}

/* A connection asked about later: its id and uid (the connection may go). */
struct wrd_connref {
	uint64_t id;
	size_t uid_len;
	char uid[];
};

static struct wrd_connref *wrd_connref_new(const struct wsd_conn *c, const char *uid,
					   size_t uid_len)
{
	struct wrd_connref *a = malloc(sizeof *a + uid_len);

	if (a) {
		a->id = c->id;
		a->uid_len = uid_len;
		memcpy(a->uid, uid, uid_len);
	}
	return a;
}

/* The resume script failed or its connection went: the tab would wait for
 * ever; it is told to come back. */
static void wrd_on_resume_reply(redisAsyncContext *ac, void *reply, void *priv)
{
	struct wrd_connref *a = priv;
	redisReply *r = reply;
	struct wsd_conn *c;

	wrd.poke = 1;
	wrd_check_noscript(ac, r);
	if ((!r || r->type == REDIS_REPLY_ERROR) && !wrd.stopping) {
		c = wsd_conn_by_id(a->uid, a->uid_len, a->id);
		if (c && c->resuming == WSD_RESUME_ASKED)
			wsd_conn_close_soon(c, WSD_CLOSE_TRY_AGAIN_LATER,
					    "message engine unavailable");
	}
	free(a);
}

/* Reads c's position once the uid's channel is heard (wrd_sub_confirmed):
 * the handshake's, or for a catch-up the last number it has. */
static void wrd_resume_ask(struct wsd_conn *c, void *arg)
{
	const struct wsd_route *rt = lws_get_opaque_user_data(c->wsi);
	const struct wsd_resume *r = rt ? &rt->resume : NULL;
	struct wsd_resume again = { .kind = HS_SINCE_NUMBER, .has_epoch = 1,
				    .since = c->seen_last, .epoch = c->seen_epoch };
	struct wrd_shard *sh;
	struct wrd_connref *ref;
	char keys[2][WRD_NAME_MAX + 1], cand[17], since[24], ce[17], id[24];
	const char *argv[13];
	size_t lens[13];

	(void)arg;
	if (c->resuming != WSD_RESUME_WAITING || !r || !c->user)
		return;
	if (c->rejoin)
		r = &again;
	sh = wrd_shard_of(rt->uid, rt->uid_len);
	wrd_epoch_new(cand);
	snprintf(since, sizeof since, "%" PRIu64, r->since);
	ce[0] = '\0';
	if (r->has_epoch)
		snprintf(ce, sizeof ce, "%016" PRIx64, r->epoch);
	snprintf(id, sizeof id, "%" PRIu64, c->id);
	argv[0] = "EVALSHA";
	argv[1] = wrd_sha[WRD_RESUME];
	argv[2] = "2";
	argv[3] = keys[0];
	argv[4] = keys[1];
	argv[5] = cand;
	argv[6] = r->kind == HS_SINCE_NOW ? "w" : r->kind == HS_SINCE_ACKED ? "a" : "n";
	argv[7] = since;
	argv[8] = ce;
	argv[9] = wrd.node;
	argv[10] = wrd.args.ttl;
	argv[11] = id;
	argv[12] = rt->uid;
	for (int i = 0; i < 13; i++)
		lens[i] = strlen(argv[i]);
	lens[3] = wrd_name(keys[0], WRD_P_STREAM, rt->uid, rt->uid_len);
	lens[4] = wrd_name(keys[1], WRD_P_HISTORY, rt->uid, rt->uid_len);
	lens[12] = rt->uid_len;
	if (!wrd_ready(sh) && sh->cmd_up && sh->sub_up)
		return; /* connected, not ready yet: asked by wrd_shard_ready */
	ref = wrd_connref_new(c, rt->uid, rt->uid_len);
	if (ref && wrd_ready(sh) &&
	    wrd_command(sh, wrd_on_resume_reply, ref, 13, argv, lens) == 0) {
		c->resuming = WSD_RESUME_ASKED;
		return;
	}
	free(ref);
	wsd_conn_close_soon(c, WSD_CLOSE_TRY_AGAIN_LATER, "message engine unavailable");
}

/* sh just became ready (scripts loaded, our channel heard): the resumes of its
 * uids whose channel is heard already were waiting for it. */
static void wrd_shard_ready(struct wrd_shard *sh)
{
	struct wrd_sub *s, *tmp;

	if (!wrd_ready(sh))
		return;
	HASH_ITER(hh, wrd.subs, s, tmp)
		if (s->shard == sh->index && s->state == WRD_SUB_ON)
			wsd_conn_each(s->uid, s->uid_len, wrd_resume_ask, NULL);
}

int wsd_redis_resume(struct wsd_conn *c, const char *uid, size_t uid_len,
		     const struct wsd_resume *r)
{
	struct wrd_sub *s = NULL;

	(void)r;
	HASH_FIND(hh, wrd.subs, uid, uid_len, s);
	if (!s)
		return -1;
	if (!wrd.shards[s->shard].cmd_up || !wrd.shards[s->shard].sub_up) {
		wsd_conn_close_soon(c, WSD_CLOSE_TRY_AGAIN_LATER, "message engine unavailable");
		return 0;
	}
	if (s->state == WRD_SUB_ON)
		wrd_resume_ask(c, NULL);
	return 0; /* else asked when the subscription is confirmed */
}

/* ---- acknowledgements --------------------------------------------------- */

static void wrd_on_ack_reply(redisAsyncContext *ac, void *reply, void *priv)
{
	struct wrd_connref *a = priv;
	redisReply *r = reply;
	struct wsd_conn *c;

	wrd.poke = 1;
	wrd_check_noscript(ac, r);
	if (r && r->type == REDIS_REPLY_INTEGER && !wrd.stopping) {
		if (r->integer == 1)
			wsd_stats.acks++;
		c = r->integer < 0 ? wsd_conn_by_id(a->uid, a->uid_len, a->id) : NULL;
		if (c)
			wsd_ws_client_error(c, "ack names a message not sent yet");
	}
	free(a);
}

void wsd_redis_ack(struct wsd_conn *c, const char *uid, size_t uid_len, uint64_t number)
{
	struct wrd_shard *sh = wrd_shard_of(uid, uid_len);
	char keys[2][WRD_NAME_MAX + 1], ep[17], num[24];
	const char *argv[8] = { "EVALSHA", wrd_sha[WRD_ACK], "2", keys[0], keys[1], ep, num, uid };
	size_t lens[8];
	struct wrd_connref *a;

	/* No epoch known yet (a resume on its way, nothing received): there is
	 * nothing the number could name; the memory engine ignores such acks too. */
	if (c->resuming != WSD_RESUMED || c->seen_epoch == 0 || number == 0)
		return;
	a = wrd_connref_new(c, uid, uid_len);
	if (!a)
		return;
	snprintf(ep, sizeof ep, "%016" PRIx64, c->seen_epoch);
	snprintf(num, sizeof num, "%" PRIu64, number);
	for (int i = 0; i < 8; i++)
		lens[i] = strlen(argv[i]);
	lens[3] = wrd_name(keys[0], WRD_P_STREAM, uid, uid_len);
	lens[4] = wrd_name(keys[1], WRD_P_WAITERS, uid, uid_len);
	lens[7] = uid_len;
	if (wrd_command(sh, wrd_on_ack_reply, a, 8, argv, lens) != 0) {
		free(a);
		LOG_LIMITED(LOG_LVL_WARN, "redis: an acknowledgement was lost (server down)");
	}
}

/* "A epoch number uid": an ack a push of ours waits for (or will: kept). */
static void wrd_on_acked(const char *p, size_t n)
{
	struct wsd_rmsg_acked a;
	struct wrd_recent *r = NULL;

	if (wsd_rmsg_acked(p, n, &a) != 0)
		return;
	wsd_ackwait_acked(a.uid.p, a.uid.n, a.epoch, a.number);
	HASH_FIND(hh, wrd.recent, a.uid.p, a.uid.n, r);
	if (!r) {
		r = malloc(sizeof *r + a.uid.n);
		if (!r)
			return;
		r->uid_len = a.uid.n;
		memcpy(r->uid, a.uid.p, a.uid.n);
		r->epoch = 0;
		HASH_ADD_KEYPTR(hh, wrd.recent, r->uid, r->uid_len, r);
	}
	if (r->epoch != a.epoch || a.number > r->number) {
		r->epoch = a.epoch;
		r->number = a.number;
	}
	r->at_ms = uv_now(wrd.loop);
}

/* Kept as long as a push could still be waiting for them. */
static void wrd_recent_expire(uint64_t now, int all)
{
	struct wrd_recent *r, *tmp;

	HASH_ITER(hh, wrd.recent, r, tmp) {
		if (all || now - r->at_ms >= (uint64_t)wrd.ack_ms) {
			HASH_DELETE(hh, wrd.recent, r);
			free(r);
		}
	}
}

/* ---- broadcast ---------------------------------------------------------- */

static void wrd_bjob_answer(struct wrd_bjob *j)
{
	char ans[WRD_HEAD_MAX];
	int len = snprintf(ans, sizeof ans, "R %.*s %" PRIu64 " %" PRIu64, (int)j->token.n,
			   j->token.p, j->uids, j->conns);

	wrd_publish(&wrd.shards[wrd.all_shard], j->reply, ans, (size_t)len);
	HASH_DELETE(hh, wrd.jobs, j);
	free(j);
}

static void wrd_on_bjob_reply(redisAsyncContext *ac, void *reply, void *priv)
{
	uint64_t token = (uint64_t)(uintptr_t)priv;
	struct wrd_bjob *j = NULL;
	redisReply *r = reply;

	wrd_check_noscript(ac, r);
	HASH_FIND(hh, wrd.jobs, &token, sizeof token, j);
	if (!j)
		return;
	if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
	    r->element[0]->type == REDIS_REPLY_INTEGER && r->element[0]->integer == 1)
		j->uids++; /* numbered here; -1: another host's worker did it */
	if (--j->pending == 0 && !wrd.stopping)
		wrd_bjob_answer(j);
}

/* The broadcast's script for one held uid: the frame goes to every holder by
 * the uid's channel; the broadcast id makes it once per uid in the cluster. */
static int wrd_bjob_uid(struct wrd_bjob *j, const struct wrd_sub *s, const char *bid,
			const char *topic, size_t tlen, const char *contents, size_t clen)
{
	struct wrd_shard *sh = &wrd.shards[s->shard];

	if (!wrd_ready(sh))
		return -1;
	return wrd_send_publish(sh, s->uid, s->uid_len, topic, tlen, contents, clen, "-", "0", "",
				bid, wrd_on_bjob_reply, (void *)(uintptr_t)j->token_id);
}

/* "B reply token bid tlen topic contents" on "p:all". */
static void wrd_on_broadcast(const char *p, size_t n)
{
	struct wsd_rmsg_broadcast b;
	struct wrd_bjob *j;
	struct wrd_sub *s, *tmp;
	char bid[17];

	if (wsd_rmsg_broadcast(p, n, &b) != 0 || b.reply.n > WRD_NODE_MAX ||
	    b.token.n > WRD_TOKEN_MAX || b.bid.n != sizeof bid - 1)
		return;
	j = calloc(1, sizeof *j);
	if (!j)
		return;
	j->token_id = ++wrd.next_token;
	memcpy(j->reply, b.reply.p, b.reply.n);
	memcpy(j->token_buf, b.token.p, b.token.n);
	j->token = (struct wsd_rmsg_str){ j->token_buf, b.token.n };
	memcpy(bid, b.bid.p, b.bid.n);
	bid[b.bid.n] = '\0';
	HASH_ADD(hh, wrd.jobs, token_id, sizeof(uint64_t), j);
	j->pending = 1; /* until every script is sent */
	HASH_ITER(hh, wrd.subs, s, tmp) {
		if (s->refs == 0)
			continue;
		j->conns += wsd_conn_of(s->uid, s->uid_len);
		if (wrd_bjob_uid(j, s, bid, b.topic.p, b.topic.n, b.contents.p, b.contents.n) == 0)
			j->pending++;
	}
	if (--j->pending == 0)
		wrd_bjob_answer(j);
}

/* ---- this worker's and the cluster's channels --------------------------- */

static void wrd_probe_heard(struct wrd_shard *sh);

static void wrd_on_revoke(const char *p, size_t n)
{
	struct wsd_rmsg_revoke v;

	if (wsd_rmsg_revoke(p, n, &v) == 0 &&
	    wsd_revoke_add(v.uid.p, v.uid.n, (time_t)v.when, wrd.key_ttl) != 0)
		log_warn("cannot revoke uid %.*s: table full", (int)v.uid.n, v.uid.p);
}

static void wrd_on_own_message(redisAsyncContext *ac, void *reply, void *priv)
{
	struct wrd_shard *sh = ac->data;
	redisReply *r = reply;
	const char *p;
	size_t n;

	wrd.poke = 1;
	(void)priv;
	if (!r || wrd.stopping || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
	    r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING)
		return;
	if (strcmp(r->element[0]->str, "subscribe") == 0 && ac == sh->sub &&
	    strcmp(r->element[1]->str, wrd.node) == 0) {
		sh->node_on = 1; /* answers to our publishes reach us from now on */
		wrd_shard_ready(sh);
	}
	if (strcmp(r->element[0]->str, "message") != 0 ||
	    r->element[2]->type != REDIS_REPLY_STRING || r->element[2]->len < 1)
		return;
	if (r->element[2]->len == 1) {
		if (r->element[2]->str[0] == 'H' && ac == sh->sub)
			wrd_probe_heard(sh);
		return;
	}
	p = r->element[2]->str + 2;
	n = r->element[2]->len - 2;
	switch (r->element[2]->str[0]) {
	case 'R':
		wrd_gather(p, n);
		break;
	case 'S':
		wrd_on_resumed(p, n);
		break;
	case 'A':
		wrd_on_acked(p, n);
		break;
	case 'B':
		wrd_on_broadcast(p, n);
		break;
	case 'V':
		wrd_on_revoke(p, n);
		break;
	default:
		break;
	}
}

static void wrd_on_revoked_list(redisAsyncContext *ac, void *reply, void *priv)
{
	redisReply *r = reply;

	(void)ac;
	(void)priv;
	if (!r || r->type != REDIS_REPLY_ARRAY)
		return;
	for (size_t i = 0; i + 1 < r->elements; i += 2)
		if (r->element[i]->type == REDIS_REPLY_STRING &&
		    r->element[i + 1]->type == REDIS_REPLY_STRING)
			(void)wsd_revoke_add(r->element[i]->str, r->element[i]->len,
					     (time_t)strtoll(r->element[i + 1]->str, NULL, 10),
					     wrd.key_ttl);
}

/* ---- connections -------------------------------------------------------- */

static void wrd_on_loaded(redisAsyncContext *ac, void *reply, void *priv)
{
	struct wrd_shard *sh = ac->data;
	redisReply *r = reply;
	size_t i = (size_t)(uintptr_t)priv;

	if (!r || ac != sh->cmd)
		return;
	sh->loads_out--;
	if (r->type == REDIS_REPLY_STRING && i < WRD_SCRIPTS && strcmp(r->str, wrd_sha[i]) == 0) {
		if (++sh->scripts == WRD_SCRIPTS)
			wrd_shard_ready(sh);
	} else
		LOG_LIMITED(LOG_LVL_WARN, "redis %s:%d: scripts not loaded: %s", sh->addr.host,
			    sh->addr.port, r->type == REDIS_REPLY_ERROR ? r->str : "unexpected answer");
}

/* The scripts, loaded (again: a restarted server, SCRIPT FLUSH) until every
 * one answers with its digest; the server is not used before. */
static void wrd_load_scripts(struct wrd_shard *sh)
{
	sh->scripts = 0;
	for (int i = 0; i < WRD_SCRIPTS; i++)
		if (redisAsyncCommand(sh->cmd, wrd_on_loaded, (void *)(uintptr_t)i, "SCRIPT LOAD %s",
				      wrd_lua[i]) == REDIS_OK)
			sh->loads_out++;
}

static void wrd_cmd_ready(struct wrd_shard *sh)
{
	char from[24];

	wrd_load_scripts(sh);
	/* Revocations made while this worker was not listening. */
	snprintf(from, sizeof from, "%lld", (long long)time(NULL) - wrd.key_ttl);
	(void)redisAsyncCommand(sh->cmd, wrd_on_revoked_list, NULL,
				"ZRANGEBYSCORE " WRD_KEY_REVOKED " %s +inf WITHSCORES", from);
}

static void wrd_sub_ready(struct wrd_shard *sh)
{
	struct wrd_sub *s, *tmp;

	(void)redisAsyncCommand(sh->sub, wrd_on_own_message, NULL, "SUBSCRIBE %s", wrd.node);
	(void)redisAsyncCommand(sh->sub, wrd_on_own_message, NULL, "SUBSCRIBE " WRD_CH_REVOKE);
	if (sh->index == wrd.all_shard)
		(void)redisAsyncCommand(sh->sub, wrd_on_own_message, NULL, "SUBSCRIBE " WRD_CH_ALL);
	HASH_ITER(hh, wrd.subs, s, tmp)
		if (s->shard == sh->index && s->state == WRD_SUB_NONE)
			wrd_sub_send(s, "SUBSCRIBE", WRD_SUB_PENDING);
}

static void wrd_log_state(struct wrd_shard *sh)
{
	int up = sh->cmd_up && sh->sub_up;

	if (up && !sh->was_up)
		log_notice("redis %s:%d: connected (worker %u)", sh->addr.host, sh->addr.port,
			   wrd.worker);
	else if (!up && sh->was_up)
		log_warn("redis %s:%d: connection lost (worker %u); pushes to its uids get 503 "
			 "until it is back", sh->addr.host, sh->addr.port, wrd.worker);
	sh->was_up = (uint8_t)up;
}

static void wrd_on_connect(const redisAsyncContext *cac, int status)
{
	redisAsyncContext *ac = (redisAsyncContext *)(uintptr_t)cac;
	struct wrd_shard *sh = ac->data;
	int sub = ac == sh->sub;

	if (status != REDIS_OK) { /* hiredis frees the context after this */
		LOG_LIMITED(LOG_LVL_WARN, "redis %s:%d: cannot connect: %s", sh->addr.host,
			    sh->addr.port, ac->errstr);
		if (sub)
			sh->sub = NULL;
		else
			sh->cmd = NULL;
		return;
	}
	/* The kernel's probes find a peer gone while the connection is idle. */
	if (redisEnableKeepAlive(&ac->c) != REDIS_OK)
		log_warn("redis %s:%d: no TCP keepalive", sh->addr.host, sh->addr.port);
	if (sub) {
		sh->sub_up = 1;
		wrd_sub_ready(sh);
	} else {
		sh->cmd_up = 1;
		sh->probe_sent = 0;
		wrd_cmd_ready(sh);
	}
	wrd_log_state(sh);
}

/* The uid's channel went unheard for a while: frames may have gone by. A
 * resume whose answer was on its way is asked again; a connection that gave a
 * position catches up from the last number it has (wrd_on_resumed: silently
 * when nothing is missing from the history, else closed to resume itself). */
static void wrd_resume_again(struct wsd_conn *c, void *arg)
{
	(void)arg;
	if (c->resuming == WSD_RESUME_ASKED) {
		c->resuming = WSD_RESUME_WAITING;
	} else if (c->resumable && c->resuming == WSD_RESUMED && c->seen_epoch) {
		c->resuming = WSD_RESUME_WAITING;
		c->rejoin = 1;
	}
}

/* ac (one of sh's) is gone or going: forget it, and what its server held. */
static void wrd_forget(struct wrd_shard *sh, const redisAsyncContext *ac)
{
	struct wrd_sub *s, *tmp;

	if (ac == sh->sub) {
		sh->sub = NULL;
		sh->sub_up = sh->node_on = 0;
		HASH_ITER(hh, wrd.subs, s, tmp) {
			if (s->shard != sh->index)
				continue;
			s->state = WRD_SUB_NONE;
			if (s->refs == 0)
				wrd_sub_free(s);
			else if (!wrd.stopping)
				wsd_conn_each(s->uid, s->uid_len, wrd_resume_again, NULL);
		}
	} else if (ac == sh->cmd) {
		sh->cmd = NULL;
		sh->cmd_up = 0;
		sh->scripts = sh->loads_out = 0;
	}
	sh->probe_sent = 0;
	if (!wrd.stopping)
		wrd_log_state(sh);
}

static void wrd_on_disconnect(const redisAsyncContext *cac, int status)
{
	wrd.poke = 1;
	(void)status;
	wrd_forget(cac->data, cac);
}

static void wrd_connect(struct wrd_shard *sh, int sub)
{
	redisAsyncContext *ac = redisAsyncConnect(sh->addr.host, sh->addr.port);

	if (!ac)
		return;
	if (ac->err || redisLibuvAttach(ac, wrd.loop) != REDIS_OK) {
		LOG_LIMITED(LOG_LVL_WARN, "redis %s:%d: cannot connect: %s", sh->addr.host,
			    sh->addr.port, ac->err ? ac->errstr : "event loop");
		redisAsyncFree(ac);
		return;
	}
	ac->data = sh;
	(void)redisAsyncSetConnectCallback(ac, wrd_on_connect);
	(void)redisAsyncSetDisconnectCallback(ac, wrd_on_disconnect);
	/* hiredis learns the connect completed from its first write. */
	(void)redisAsyncCommand(ac, NULL, NULL, "PING");
	if (sub) {
		sh->sub = ac;
		sh->sub_since = uv_now(wrd.loop);
	} else {
		sh->cmd = ac;
		sh->cmd_since = uv_now(wrd.loop);
	}
}

/* Drops a connection whose server does not answer (redisAsyncDisconnect would
 * wait for the replies): forgotten first, so hiredis's callbacks during the
 * free find nothing of ours. */
static void wrd_drop(struct wrd_shard *sh, redisAsyncContext *ac)
{
	if (!ac)
		return;
	wrd_forget(sh, ac);
	redisAsyncFree(ac);
}

/*
 * hiredis 0.14's libuv adapter drops a poll error, which is how a refused or
 * failed connect shows: the context would wait for ever. A connect not done
 * within WRD_CONNECT_MS is given up here and tried again.
 */
static void wrd_connect_expire(struct wrd_shard *sh, uint64_t now)
{
	if (sh->cmd && !sh->cmd_up && now - sh->cmd_since >= WRD_CONNECT_MS)
		wrd_drop(sh, sh->cmd);
	if (sh->sub && !sh->sub_up && now - sh->sub_since >= WRD_CONNECT_MS)
		wrd_drop(sh, sh->sub);
}

/* Held uids' streams outlive history_ttl while someone is connected. */
static void wrd_refresh(void)
{
	struct wrd_sub *s, *tmp;
	char key[WRD_NAME_MAX + 1];
	const char *argv[3] = { "EXPIRE", key, wrd.args.ttl };
	size_t lens[3] = { 6, 0, strlen(wrd.args.ttl) };

	HASH_ITER(hh, wrd.subs, s, tmp) {
		if (s->refs == 0)
			continue;
		lens[1] = wrd_name(key, WRD_P_STREAM, s->uid, s->uid_len);
		(void)wrd_command(&wrd.shards[s->shard], NULL, NULL, 3, argv, lens);
	}
}

/* The probe's PUBLISH answered on the command connection. */
static void wrd_on_probe(redisAsyncContext *ac, void *reply, void *priv)
{
	struct wrd_shard *sh = ac->data;
	redisReply *r = reply;

	(void)priv;
	if (r && r->type == REDIS_REPLY_INTEGER && ac == sh->cmd)
		sh->probe_cmd = 1;
	if (sh->probe_cmd && sh->probe_sub)
		sh->probe_sent = 0;
}

/* The probe's message heard on the subscriber connection. */
static void wrd_probe_heard(struct wrd_shard *sh)
{
	sh->probe_sub = 1;
	if (sh->probe_cmd && sh->probe_sub)
		sh->probe_sent = 0;
}


/* One probe out at a time: a PUBLISH to our own channel, which must be
 * answered on the command connection and heard on the subscriber one; a
 * probe not through both within WRD_STALL_MS drops both connections. */
static void wrd_probe(struct wrd_shard *sh, uint64_t now)
{
	const char *argv[3] = { "PUBLISH", wrd.node, "H" };
	size_t lens[3] = { 7, strlen(wrd.node), 1 };

	if (!sh->cmd || !sh->cmd_up || !sh->sub || !sh->sub_up || !sh->node_on)
		return;
	if (sh->probe_sent == 0) {
		sh->probe_cmd = sh->probe_sub = 0;
		if (redisAsyncCommandArgv(sh->cmd, wrd_on_probe, NULL, 3, argv, lens) == REDIS_OK)
			sh->probe_sent = now ? now : 1;
		return;
	}
	if (now - sh->probe_sent < WRD_STALL_MS)
		return;
	log_warn("redis %s:%d: no answer for %d ms; reconnecting", sh->addr.host, sh->addr.port,
		 WRD_STALL_MS);
	wrd_drop(sh, sh->sub);
	wrd_drop(sh, sh->cmd);
}

static void wrd_on_tick(uv_timer_t *t)
{
	uint64_t now = uv_now(t->loop);
	uint64_t every = (uint64_t)(wrd.ttl > 3 ? wrd.ttl / 3 : 1) * 1000u;

	for (unsigned i = 0; i < wrd.nshards; i++) {
		wrd_connect_expire(&wrd.shards[i], now);
		wrd_probe(&wrd.shards[i], now);
		if (wrd.shards[i].cmd_up && wrd.shards[i].scripts < WRD_SCRIPTS &&
		    wrd.shards[i].loads_out == 0)
			wrd_load_scripts(&wrd.shards[i]);
		if (!wrd.shards[i].cmd)
			wrd_connect(&wrd.shards[i], 0);
		if (!wrd.shards[i].sub)
			wrd_connect(&wrd.shards[i], 1);
	}
	wrd_recent_expire(now, 0);
	if (now - wrd.last_refresh_ms >= every) {
		wrd.last_refresh_ms = now;
		wrd_refresh();
	}
}

/* ---- life --------------------------------------------------------------- */

static void wrd_sha_all(void)
{
	unsigned char d[SHA_DIGEST_LENGTH];

	for (int i = 0; i < WRD_SCRIPTS; i++) {
		SHA1((const unsigned char *)wrd_lua[i], strlen(wrd_lua[i]), d);
		for (int k = 0; k < SHA_DIGEST_LENGTH; k++)
			snprintf(wrd_sha[i] + 2 * k, 3, "%02x", d[k]);
	}
}

void wsd_redis_use(const struct cfg *c)
{
	wrd.hsize = c->history_size;
	wrd.hbytes = c->history_bytes;
	wrd.ttl = c->history_ttl;
	wrd.keep_offline = c->offline_messages;
	if (c->access_key_ttl > wrd.key_ttl)
		wrd.key_ttl = c->access_key_ttl; /* as wsd_ipc: the largest run */
	/* The answer must reach push-api before its own push_timeout_ms. */
	wrd.wait_ms = c->push_timeout_ms / 2 > 1000 ? 1000 : c->push_timeout_ms / 2;
	if (wrd.wait_ms < 5)
		wrd.wait_ms = 5;
	wrd.frame_fixed = wmsg_frame_len(0, 0, 0) - 1; /* the frame without its digits */
	/* Ack waiters are told for as long as a push may wait, and then some. */
	wrd.ack_ms = 2 * (long)IPC_ACK_WAIT_MS(c->push_timeout_ms) + 1000;
	snprintf(wrd.args.hsize, sizeof wrd.args.hsize, "%ld", wrd.hsize);
	snprintf(wrd.args.hbytes, sizeof wrd.args.hbytes, "%ld", wrd.hbytes);
	snprintf(wrd.args.ttl, sizeof wrd.args.ttl, "%ld", wrd.ttl);
	snprintf(wrd.args.key_ttl, sizeof wrd.args.key_ttl, "%ld", wrd.key_ttl);
	snprintf(wrd.args.keep_offline, sizeof wrd.args.keep_offline, "%d", wrd.keep_offline != 0);
	snprintf(wrd.args.ack_ms, sizeof wrd.args.ack_ms, "%ld", wrd.ack_ms);
	snprintf(wrd.args.frame_fixed, sizeof wrd.args.frame_fixed, "%zu", wrd.frame_fixed);
}

/* lws arms the timers (sul) its calls scheduled as its own callbacks return:
 * those made from Redis's callbacks wait for lws's next wake-up, so give it one. */
static void wrd_on_check(uv_check_t *h)
{
	(void)h;
	if (wrd.poke && wrd.ctx) {
		wrd.poke = 0;
		lws_cancel_service(wrd.ctx);
	}
}

int wsd_redis_start(uv_loop_t *loop, struct lws_context *ctx, const struct cfg *c,
		    unsigned worker, wsd_redis_reply_fn reply)
{
	struct cfg_redis_server s[CFG_REDIS_SERVERS_MAX];
	int n;
	uint64_t node = 0;

	if (!cfg_engine_redis(c))
		return 0;
	n = cfg_redis_servers(c, s, CFG_REDIS_SERVERS_MAX);
	if (n <= 0)
		return -1;
	memset(&wrd, 0, sizeof wrd);
	wrd.loop = loop;
	wrd.ctx = ctx;
	wrd.reply = reply;
	wrd.worker = worker;
	wrd.nshards = (unsigned)n;
	for (unsigned i = 0; i < wrd.nshards; i++)
		wrd.shards[i] = (struct wrd_shard){ .addr = s[i], .index = i };
	if (getrandom(&wrd.epoch_seq, sizeof wrd.epoch_seq, 0) != (ssize_t)sizeof wrd.epoch_seq)
		return -1;
	wrd.ring = wsd_ring_new(s, wrd.nshards);
	if (wrd.ring) /* every host agrees, whatever the order of its list */
		wrd.all_shard = wsd_ring_pick(wrd.ring, WRD_CH_ALL, sizeof WRD_CH_ALL - 1);
	if (!wrd.ring || getrandom(&node, sizeof node, 0) != (ssize_t)sizeof node ||
	    uv_timer_init(loop, &wrd.tick) != 0 || uv_check_init(loop, &wrd.check) != 0 ||
	    uv_check_start(&wrd.check, wrd_on_check) != 0)
		return -1;
	snprintf(wrd.node, sizeof wrd.node, WRD_P_NODE "%016" PRIx64, node);
	wrd_sha_all();
	wsd_redis_use(c);
	wrd.on = 1;
	if (worker == 0)
		log_notice("engine redis: %u servers; broadcasts go through %s:%d", wrd.nshards,
			   wrd.shards[wrd.all_shard].addr.host, wrd.shards[wrd.all_shard].addr.port);
	wrd_on_tick(&wrd.tick);
	return uv_timer_start(&wrd.tick, wrd_on_tick, WRD_TICK_MS, WRD_TICK_MS) == 0 ? 0 : -1;
}

void wsd_redis_flush(void)
{
	while (wrd.items) { /* finishing a request takes all its items out */
		struct wrd_req *q = wrd.items->req;

		uv_timer_stop(&q->timer);
		wrd_req_finish(q);
	}
}

void wsd_redis_stop(void)
{
	struct wrd_bjob *j, *jtmp;

	if (!wrd.on)
		return;
	wrd.stopping = 1;
	/* Whatever waits is answered as it stands (LATE: it may still happen). */
	wsd_redis_flush();
	HASH_ITER(hh, wrd.jobs, j, jtmp) {
		HASH_DELETE(hh, wrd.jobs, j);
		free(j);
	}
	wrd_recent_expire(0, 1);
	for (unsigned i = 0; i < wrd.nshards; i++) {
		if (wrd.shards[i].cmd)
			redisAsyncFree(wrd.shards[i].cmd);
		if (wrd.shards[i].sub)
			redisAsyncFree(wrd.shards[i].sub);
		wrd.shards[i].cmd = wrd.shards[i].sub = NULL;
	}
	uv_close((uv_handle_t *)&wrd.tick, NULL);
	uv_close((uv_handle_t *)&wrd.check, NULL);
	{
		struct wrd_sub *s, *tmp;

		HASH_ITER(hh, wrd.subs, s, tmp)
			wrd_sub_free(s);
	}
	wsd_ring_free(wrd.ring);
	wrd.ring = NULL;
	wrd.on = 0;
}
