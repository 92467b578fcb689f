/* SPDX-License-Identifier: MIT */
/* Unit tests for shared/cfg.c: conf.yaml loading (defaults, bounds, "file:line: reason"
 * errors, path resolution, secret derivation), cfg_print_key and cfg_split_addr. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "cfg.h"
#include "hs.h"

#define DIR_MAX 256
static char tmpdir[DIR_MAX];         /* from mkdtemp, absolute */
static char conf_path[DIR_MAX + 16]; /* tmpdir/conf.yaml */
static char sub_dir[DIR_MAX + 16];   /* tmpdir/sub */
static char sub_conf[DIR_MAX + 32];  /* tmpdir/sub/conf.yaml */
static char run_dir[DIR_MAX + 16];   /* tmpdir/run */

static int group_setup(void **state)
{
	char tmpl[] = "/tmp/test_cfg.XXXXXX";
	char *real;

	(void)state;
	if (!mkdtemp(tmpl))
		return -1;
	/* Resolve symlinks (e.g. /tmp on macOS-like setups) so comparisons are exact. */
	real = realpath(tmpl, NULL);
	if (!real || strlen(real) >= sizeof tmpdir) {
		free(real);
		rmdir(tmpl);
		return -1;
	}
	memcpy(tmpdir, real, strlen(real) + 1);
	free(real);
	snprintf(conf_path, sizeof conf_path, "%s/conf.yaml", tmpdir);
	snprintf(sub_dir, sizeof sub_dir, "%s/sub", tmpdir);
	snprintf(sub_conf, sizeof sub_conf, "%s/conf.yaml", sub_dir);
	snprintf(run_dir, sizeof run_dir, "%s/run", tmpdir);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	unlink(conf_path);
	unlink(sub_conf);
	rmdir(sub_dir);
	rmdir(run_dir);
	return rmdir(tmpdir);
}

/* Each test leaves no file behind, even when it fails half-way. */
static int test_teardown(void **state)
{
	(void)state;
	unlink(conf_path);
	unlink(sub_conf);
	rmdir(sub_dir);
	rmdir(run_dir);
	return 0;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
}

static void load_ok_at(const char *path, const char *text, struct cfg *c)
{
	char err[CFG_ERR_LEN];

	write_file(path, text);
	if (cfg_load(path, c, err, sizeof err) != 0) {
		print_error("config refused: %s\n--- file ---\n%s\n", err, text);
		fail();
	}
	assert_string_equal(err, "");
}

static void load_ok(const char *text, struct cfg *c)
{
	load_ok_at(conf_path, text, c);
}

static void expect_empty(const struct cfg *c)
{
	static const unsigned char zero[CFG_SECRET_LEN];

	assert_null(c->addr);
	assert_null(c->ws_addr);
	assert_null(c->password);
	assert_null(c->key_secret);
	assert_null(c->ipc_socket);
	assert_null(c->run_dir);
	assert_memory_equal(c->secret, zero, sizeof zero);
}

/* Loads text, which must fail with "<path>:<line>: ..." (line 0: "<path>: ...")
 * and a message containing needle; *out must be left empty. */
static void load_fails(const char *text, size_t line, const char *needle)
{
	char err[CFG_ERR_LEN], prefix[PATH_MAX + 32];
	struct cfg c;

	write_file(conf_path, text);
	memset(&c, 0x5A, sizeof c);
	if (cfg_load(conf_path, &c, err, sizeof err) != -1) {
		print_error("config accepted, want an error with \"%s\"\n--- file ---\n%s\n", needle,
			    text);
		cfg_free(&c);
		fail();
	}
	expect_empty(&c);
	if (line)
		snprintf(prefix, sizeof prefix, "%s:%zu: ", conf_path, line);
	else
		snprintf(prefix, sizeof prefix, "%s: ", conf_path);
	if (strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err + strlen(prefix), needle)) {
		print_error("error \"%s\"\nwant \"%s...%s...\"\n--- file ---\n%s\n", err, prefix,
			    needle, text);
		fail();
	}
	cfg_free(&c); /* allowed after a failure */
}

static void path_is(const char *got, const char *rel)
{
	char want[PATH_MAX * 2];

	snprintf(want, sizeof want, "%s/%s", tmpdir, rel);
	assert_non_null(got);
	assert_string_equal(got, want);
}

/* ---- loading ---- */

static void test_defaults(void **state)
{
	struct cfg c;

	(void)state;
	load_ok("password: pw\n", &c);
	assert_string_equal(c.addr, "0.0.0.0:8080");
	assert_string_equal(c.ws_addr, "127.0.0.1:8081");
	assert_string_equal(c.password, "pw");
	assert_null(c.key_secret);
	path_is(c.run_dir, "run");
	path_is(c.ipc_socket, "run/ws-daemon.sock");
	assert_int_equal(c.access_key_ttl, 60);
	assert_int_equal(c.max_uid_bytes, 256);
	assert_int_equal(c.max_message_bytes, 65536);
	assert_int_equal(c.push_timeout_ms, 2000);
	assert_int_equal(c.send_queue_max_messages, 1024);
	assert_int_equal(c.send_queue_max_bytes, 1048576);
	assert_int_equal(c.ping_interval, 30);
	assert_int_equal(c.idle_timeout, 75);
	assert_int_equal(c.fcgi_procs, 4);
	assert_int_equal(c.history_size, 64);
	assert_int_equal(c.history_bytes, 262144);
	assert_int_equal(c.history_ttl, 300);
	assert_int_equal(c.history_memory, 67108864);
	assert_int_equal(c.offline_messages, 0);
	assert_int_equal(c.ack_waiters_max, -1);
	assert_int_equal(cfg_ack_waiters(&c), 2); /* half of fcgi_procs */
	assert_string_equal(c.allowed_origins, ""); /* any origin, as the seed allowed */
	assert_int_equal(c.max_connections, 0);
	assert_int_equal(c.max_connections_per_uid, 0);
	assert_int_equal(c.log_level, LOG_LVL_INFO); /* default changed to info in c822c21 */
	cfg_free(&c);
	expect_empty(&c);
	cfg_free(&c); /* twice is harmless */
}

static void test_all_keys(void **state)
{
	struct cfg c;

	(void)state;
	load_ok("# full file\n"
		"addr: \"[::1]:9000\"\n"
		"ws_addr: '127.0.0.1:9001'   # trailing comment\n"
		"password: 'p#w: x'\n"
		"key_secret: ks\n"
		"run_dir: /var/tmp/push-run\n"
		"ipc_socket: /var/tmp/push-run/d.sock\n"
		"access_key_ttl: 120\n"
		"max_uid_bytes: 64\n"
		"max_message_bytes: 4096\n"
		"push_timeout_ms: 500\n"
		"send_queue_max_messages: 10\n"
		"send_queue_max_bytes: 8192\n"
		"ping_interval: 5\n"
		"idle_timeout: 12\n"
		"fcgi_procs: 2\n"
		"history_size: 9\n"
		"history_bytes: 8000\n"
		"history_ttl: 60\n"
		"history_memory: 1048576\n"
		"offline_messages: true\n"
		"ack_waiters_max: 1\n"
		"allowed_origins: [https://app.example]\n"
		"max_connections: 5000\n"
		"max_connections_per_uid: 3\n"
		"log_level: debug\n",
		&c);
	assert_string_equal(c.addr, "[::1]:9000");
	assert_string_equal(c.ws_addr, "127.0.0.1:9001");
	assert_string_equal(c.password, "p#w: x");
	assert_string_equal(c.key_secret, "ks");
	assert_string_equal(c.run_dir, "/var/tmp/push-run");
	assert_string_equal(c.ipc_socket, "/var/tmp/push-run/d.sock");
	assert_int_equal(c.access_key_ttl, 120);
	assert_int_equal(c.max_uid_bytes, 64);
	assert_int_equal(c.max_message_bytes, 4096);
	assert_int_equal(c.push_timeout_ms, 500);
	assert_int_equal(c.send_queue_max_messages, 10);
	assert_int_equal(c.send_queue_max_bytes, 8192);
	assert_int_equal(c.ping_interval, 5);
	assert_int_equal(c.idle_timeout, 12);
	assert_int_equal(c.fcgi_procs, 2);
	assert_int_equal(c.history_size, 9);
	assert_int_equal(c.history_bytes, 8000);
	assert_int_equal(c.history_ttl, 60);
	assert_int_equal(c.history_memory, 1048576);
	assert_int_equal(c.offline_messages, 1);
	assert_int_equal(c.ack_waiters_max, 1);
	assert_int_equal(cfg_ack_waiters(&c), 1);
	assert_string_equal(c.allowed_origins, "https://app.example");
	assert_int_equal(c.max_connections, 5000);
	assert_int_equal(c.max_connections_per_uid, 3);
	assert_int_equal(c.log_level, LOG_LVL_DEBUG);
	cfg_free(&c);
}

static void test_document_markers(void **state)
{
	struct cfg c;

	(void)state;
	load_ok("---\npassword: pw\n...\n", &c);
	assert_string_equal(c.password, "pw");
	cfg_free(&c);
	load_ok("{password: pw, fcgi_procs: 3}\n", &c);
	assert_int_equal(c.fcgi_procs, 3);
	cfg_free(&c);
}

static void test_password_required(void **state)
{
	(void)state;
	load_fails("addr: 1.2.3.4:80\n", 0, "'password' is required");
	load_fails("{}\n", 0, "'password' is required");
	load_fails("key_secret: only-this\n", 0, "'password' is required");
}

static void test_empty_strings(void **state)
{
	struct cfg c;

	(void)state;
	load_fails("password: ''\n", 1, "'password' must not be empty");
	load_fails("addr: x:1\npassword: \"\"\n", 2, "'password' must not be empty");
	load_fails("addr: x:1\npassword:\n", 2, "'password' must not be empty");
	load_fails("password: pw\naddr: ''\n", 2, "'addr' must not be empty");
	load_fails("password: pw\nws_addr: ''\n", 2, "'ws_addr' must not be empty");
	load_fails("password: pw\nrun_dir: ''\n", 2, "'run_dir' must not be empty");
	load_fails("password: pw\nipc_socket: ''\n", 2, "'ipc_socket' must not be empty");
	/* key_secret is optional and may be empty. */
	load_ok("password: pw\nkey_secret: ''\n", &c);
	assert_string_equal(c.key_secret, "");
	cfg_free(&c);
}

/* In YAML a plain ~ / null / Null / NULL is "no value", like an empty value: it must
 * not become a password (or signing secret) spelt "~" or "null". Quoted, it is text. */
static void test_yaml_null_is_empty(void **state)
{
	static const char *const nulls[] = { "~", "null", "Null", "NULL" };
	unsigned char plain[CFG_SECRET_LEN];
	char text[128];
	struct cfg c;

	(void)state;
	for (size_t i = 0; i < sizeof nulls / sizeof nulls[0]; i++) {
		snprintf(text, sizeof text, "addr: x:1\npassword: %s\n", nulls[i]);
		load_fails(text, 2, "'password' must not be empty");
	}
	load_ok("password: 'null'\n", &c);
	assert_string_equal(c.password, "null");
	cfg_free(&c);
	load_ok("password: \"~\"\n", &c);
	assert_string_equal(c.password, "~");
	cfg_free(&c);

	/* key_secret: ~ means "not set": the secret comes from the password. */
	load_ok("password: pw\n", &c);
	memcpy(plain, c.secret, sizeof plain);
	cfg_free(&c);
	load_ok("password: pw\nkey_secret: ~\n", &c);
	assert_true(c.key_secret == NULL || c.key_secret[0] == '\0');
	assert_memory_equal(c.secret, plain, sizeof plain);
	cfg_free(&c);
}

static void test_string_length_limit(void **state)
{
	char *text = malloc(5000 + 32);
	struct cfg c;

	(void)state;
	assert_non_null(text);
	memcpy(text, "password: ", 10);
	memset(text + 10, 'p', 4096);
	strcpy(text + 10 + 4096, "\n");
	load_ok(text, &c);
	assert_int_equal(strlen(c.password), 4096);
	cfg_free(&c);
	memset(text + 10, 'p', 4097);
	strcpy(text + 10 + 4097, "\n");
	load_fails(text, 1, "'password' is too long");
	free(text);
}

static void test_unknown_key(void **state)
{
	(void)state;
	load_fails("password: pw\nbogus: 1\n", 2, "unknown key 'bogus'");
	load_fails("password: pw\nacces_key_ttl: 5\n", 2,
		   "unknown key 'acces_key_ttl' (did you mean 'access_key_ttl'?)");
	load_fails("password: pw\n\n# c\nPassword: x\n", 4, "unknown key 'Password'");
}

static void test_duplicate_key(void **state)
{
	(void)state;
	load_fails("password: a\naddr: x:1\npassword: b\n", 3, "key 'password' given twice");
	load_fails("password: a\nfcgi_procs: 2\nfcgi_procs: 2\n", 3, "'fcgi_procs' given twice");
}

static void test_integer_syntax(void **state)
{
	static const char *const bad[] = {
		"abc", "12abc", "1.5", "0x10", "''", "1e3", "99999999999999999999999",
		"-99999999999999999999999", "'12 '",
	};
	char text[256];

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(text, sizeof text, "password: pw\n\naccess_key_ttl: %s\n", bad[i]);
		load_fails(text, 3, "'access_key_ttl' must be an integer");
	}
}

struct bound {
	const char *name;
	size_t off;
	long min, max;
	const char *extra; /* keeps cross-key rules (ping_interval < idle_timeout...) while probing */
};

#define LONG_AT(c, off) (*(const long *)(const void *)((const char *)(c) + (off)))

static const struct bound bounds[] = {
	{ "access_key_ttl", offsetof(struct cfg, access_key_ttl), 1, 86400L * 30, "" },
	{ "max_uid_bytes", offsetof(struct cfg, max_uid_bytes), 1, 4096, "" },
	{ "max_message_bytes", offsetof(struct cfg, max_message_bytes), 64, 131072, "" },
	{ "push_timeout_ms", offsetof(struct cfg, push_timeout_ms), 10, 60000, "" },
	{ "send_queue_max_messages", offsetof(struct cfg, send_queue_max_messages), 1, 1000000,
	  "history_size: 0\n" },
	{ "send_queue_max_bytes", offsetof(struct cfg, send_queue_max_bytes), 1024, 1L << 30,
	  "max_message_bytes: 1024\nhistory_size: 0\n" },
	{ "ping_interval", offsetof(struct cfg, ping_interval), 1, 3600, "idle_timeout: 7200\n" },
	{ "idle_timeout", offsetof(struct cfg, idle_timeout), 2, 7200, "ping_interval: 1\n" },
	{ "fcgi_procs", offsetof(struct cfg, fcgi_procs), 1, 256, "" },
	{ "history_size", offsetof(struct cfg, history_size), 0, 10000,
	  "send_queue_max_messages: 10001\n" },
	{ "history_bytes", offsetof(struct cfg, history_bytes), 1024, 1L << 30,
	  "history_size: 0\n" },
	{ "history_ttl", offsetof(struct cfg, history_ttl), 1, 86400L * 30, "" },
	{ "history_memory", offsetof(struct cfg, history_memory), 65536, CFG_HISTORY_MEMORY_MAX, "" },
	{ "ack_waiters_max", offsetof(struct cfg, ack_waiters_max), -1, CFG_FCGI_PROCS_MAX - 1,
	  "fcgi_procs: 256\n" },
	{ "max_connections", offsetof(struct cfg, max_connections), 0, 10000000, "" },
	{ "max_connections_per_uid", offsetof(struct cfg, max_connections_per_uid), 0, 1000000, "" },
};

static void test_bounds(void **state)
{
	char text[512];
	struct cfg c;

	(void)state;
	for (size_t i = 0; i < sizeof bounds / sizeof bounds[0]; i++) {
		const struct bound *b = &bounds[i];
		const long ok[] = { b->min, b->max };
		/* Past LONG_MAX there is nothing to write: the bound itself. */
		const long bad[] = { b->min - 1, b->max < LONG_MAX ? b->max + 1 : b->min - 1, -1,
				     LONG_MIN, LONG_MAX };

		for (size_t k = 0; k < 2; k++) {
			snprintf(text, sizeof text, "password: pw\n%s%s: %ld\n", b->extra, b->name,
				 ok[k]);
			load_ok(text, &c);
			assert_int_equal(LONG_AT(&c, b->off), ok[k]);
			cfg_free(&c);
		}
		for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
			char needle[128];

			if (bad[k] >= b->min && bad[k] <= b->max)
				continue;
			snprintf(text, sizeof text, "password: pw\n%s: %ld\n%s", b->name, bad[k],
				 b->extra);
			snprintf(needle, sizeof needle, "'%s' must be between %ld and %ld", b->name,
				 b->min, b->max);
			load_fails(text, 2, needle);
		}
	}
}

/* One message of max_message_bytes must fit a connection's queue, or every
 * reader of a big message would be closed as slow. */
static void test_queue_holds_a_max_message(void **state)
{
	struct cfg c;

	(void)state;
	load_fails("password: pw\nmax_message_bytes: 65536\nsend_queue_max_bytes: 65535\n", 0,
		   "'send_queue_max_bytes' (65535) must be at least 'max_message_bytes' (65536)");
	load_ok("password: pw\nmax_message_bytes: 65536\nsend_queue_max_bytes: 65536\n"
		"history_bytes: 65344\n", &c);
	cfg_free(&c);
}

/* A uid's history is replayed into an empty send queue: it must fit one. */
static void test_history_fits_queue(void **state)
{
	struct cfg c;

	(void)state;
	load_fails("password: pw\nsend_queue_max_messages: 64\n", 0,
		   "'history_size' (64) must be below 'send_queue_max_messages' (64)");
	load_fails("password: pw\nhistory_size: 10\nsend_queue_max_messages: 10\n", 0,
		   "'history_size' (10) must be below 'send_queue_max_messages' (10)");
	load_fails("password: pw\nsend_queue_max_bytes: 262335\n", 0,
		   "'history_bytes' (262144) must be at most 'send_queue_max_bytes' (262335) minus 192");
	load_fails("password: pw\nhistory_bytes: 1048577\n", 0,
		   "'history_bytes' (1048577) must be at most 'send_queue_max_bytes' (1048576) minus 192");
	load_ok("password: pw\nhistory_size: 10\nsend_queue_max_messages: 11\n"
		"history_bytes: 65344\nsend_queue_max_bytes: 65536\n", &c);
	assert_int_equal(c.history_size, 10);
	assert_int_equal(c.history_bytes, 65344);
	cfg_free(&c);
	/* No history, nothing to replay: the queue may be smaller than the defaults. */
	load_ok("password: pw\nhistory_size: 0\nsend_queue_max_messages: 8\n"
		"send_queue_max_bytes: 65536\n", &c);
	assert_int_equal(c.history_size, 0);
	cfg_free(&c);
}

/* Offline delivery keeps messages in the history: it needs one. */
static void test_offline_needs_history(void **state)
{
	struct cfg c;

	(void)state;
	load_fails("password: pw\nhistory_size: 0\noffline_messages: true\n", 0,
		   "'offline_messages' needs a history: 'history_size' must be above 0");
	load_ok("password: pw\nhistory_size: 1\noffline_messages: true\n", &c);
	assert_int_equal(c.offline_messages, 1);
	cfg_free(&c);
	load_ok("password: pw\nhistory_size: 0\noffline_messages: false\n", &c);
	assert_int_equal(c.offline_messages, 0);
	cfg_free(&c);
}

/* `demo` (the demo page's password-less routes) is off unless set, and only a
 * restart changes it: a reload that turns it on or off keeps the running value. */
static void test_demo_is_restart_only(void **state)
{
	struct cfg off, on;

	(void)state;
	load_ok("password: pw\n", &off);
	assert_int_equal(off.demo, 0);
	load_ok("password: pw\ndemo: true\n", &on);
	assert_int_equal(on.demo, 1);
	assert_true(cfg_key_is_restart_only("demo"));
	assert_int_equal(cfg_keep_restart_only(&off, &on, 0), 1);
	assert_int_equal(on.demo, 0);
	on.demo = 1;
	assert_int_equal(cfg_keep_restart_only(&on, &off, 0), 1);
	assert_int_equal(off.demo, 1);
	cfg_free(&off);
	cfg_free(&on);
}

/* Booleans are spelt as YAML 1.2's core schema does (true, True, TRUE, ...);
 * YAML 1.1's other spellings are refused. */
static void test_booleans(void **state)
{
	static const char *const bad[] = { "yes", "no", "on", "off", "tRue", "FAlse", "1", "0",
					   "''", "~", "truee", "\"\"" };
	char text[128];
	struct cfg c;

	(void)state;
	load_ok("password: pw\noffline_messages: true\n", &c);
	assert_int_equal(c.offline_messages, 1);
	cfg_free(&c);
	load_ok("password: pw\noffline_messages: 'false'\n", &c);
	assert_int_equal(c.offline_messages, 0);
	cfg_free(&c);
	load_ok("password: pw\noffline_messages: True\n", &c);
	assert_int_equal(c.offline_messages, 1);
	cfg_free(&c);
	load_ok("password: pw\noffline_messages: FALSE\n", &c);
	assert_int_equal(c.offline_messages, 0);
	cfg_free(&c);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(text, sizeof text, "password: pw\noffline_messages: %s\n", bad[i]);
		load_fails(text, 2, "'offline_messages' must be true or false, got '");
	}
}

static void test_log_levels(void **state)
{
	static const struct {
		const char *name;
		enum log_level level;
	} levels[] = {
		{ "error", LOG_LVL_ERR }, { "warn", LOG_LVL_WARN }, { "notice", LOG_LVL_NOTICE },
		{ "info", LOG_LVL_INFO }, { "debug", LOG_LVL_DEBUG },
	};
	static const char *const bad[] = { "verbose", "ERROR", "''", "0", "warning" };
	char text[128];
	struct cfg c;

	(void)state;
	for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
		snprintf(text, sizeof text, "log_level: %s\npassword: pw\n", levels[i].name);
		load_ok(text, &c);
		assert_int_equal(c.log_level, levels[i].level);
		cfg_free(&c);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(text, sizeof text, "password: pw\nlog_level: %s\n", bad[i]);
		load_fails(text, 2, "'log_level' must be one of");
	}
}

static void test_ping_below_idle(void **state)
{
	struct cfg c;

	(void)state;
	load_fails("password: pw\nping_interval: 30\nidle_timeout: 30\n", 0, "'ping_interval'");
	load_fails("password: pw\nping_interval: 75\n", 0, "less than 'idle_timeout'");
	load_fails("password: pw\nidle_timeout: 10\n", 0, "less than 'idle_timeout'");
	load_ok("password: pw\nping_interval: 74\n", &c);
	assert_int_equal(c.ping_interval, 74);
	cfg_free(&c);
}

static void test_structure_errors(void **state)
{
	(void)state;
	load_fails("- password\n- pw\n", 1, "top level must be a mapping");
	load_fails("just a scalar\n", 1, "top level must be a mapping");
	load_fails("password: [a, b]\n", 1, "must be a plain value");
	load_fails("addr: x:1\npassword:\n  nested: map\n", 3, "must be a plain value");
	load_fails("password: pw\n? [a, b]\n: c\n", 2, "must be a plain value");
	/* Aliases are not expanded: a value must be written out. */
	load_fails("addr: &a '1.2.3.4:80'\nws_addr: *a\npassword: pw\n", 2, "must be a plain value");
}

/* ---- allowed_origins ---- */

static void origins_are(const char *text, const char *want)
{
	struct cfg c;

	load_ok(text, &c);
	assert_string_equal(c.allowed_origins, want);
	cfg_free(&c);
}

/* A flow or block sequence, one origin as a plain value, or nothing (any). */
static void test_origins_forms(void **state)
{
	(void)state;
	origins_are("password: pw\nallowed_origins: [https://app.example, "
		    "\"https://www.example:8443\"]\n",
		    "https://app.example\nhttps://www.example:8443");
	origins_are("password: pw\nallowed_origins:\n  - https://a.example\n"
		    "  - 'http://b.example:8080'  # staging\n",
		    "https://a.example\nhttp://b.example:8080");
	origins_are("password: pw\nallowed_origins: https://one.example\n", "https://one.example");
	origins_are("password: pw\nallowed_origins: []\n", "");
	origins_are("password: pw\nallowed_origins:\n", "");
	origins_are("password: pw\nallowed_origins: ~\n", "");
	origins_are("password: pw\nallowed_origins: \"\"\n", "");
	/* The origin of file:// pages and sandboxed frames, only when quoted. */
	origins_are("password: pw\nallowed_origins: [\"null\", https://a.example]\n",
		    "null\nhttps://a.example");
	origins_are("password: pw\nallowed_origins: 'null'\n", "null");
}

/* Stored as browsers send it: lowercase, no default port. */
static void test_origins_normalised(void **state)
{
	(void)state;
	origins_are("password: pw\nallowed_origins: [HTTPS://App.Example.COM, 'NULL']\n",
		    "https://app.example.com\nnull");
	origins_are("password: pw\nallowed_origins: [http://a.example:80, https://b.example:443, "
		    "http://c.example:443, https://d.example:80]\n",
		    "http://a.example\nhttps://b.example\nhttp://c.example:443\nhttps://d.example:80");
	origins_are("password: pw\nallowed_origins: [\"http://[::1]:8080\", \"https://[2001:DB8::1]\", "
		    "http://127.0.0.1:65535, https://xn--bcher-kva.example, http://my_host-1]\n",
		    "http://[::1]:8080\nhttps://[2001:db8::1]\nhttp://127.0.0.1:65535\n"
		    "https://xn--bcher-kva.example\nhttp://my_host-1");
}

static void origin_refused(const char *origin)
{
	char text[1024], needle[512];

	snprintf(text, sizeof text, "password: pw\nallowed_origins:\n  - https://ok.example\n"
		 "  - '%s'\n", origin);
	snprintf(needle, sizeof needle, "'allowed_origins' item 2: '%s' is not an origin "
		 "(scheme://host[:port], no path)", origin);
	load_fails(text, 4, needle);
}

static void test_origins_refused(void **state)
{
	static const char *const bad[] = {
		"https://a.example/", "https://a.example/app", "https://a.example?x=1",
		"https://a.example#top", "https://user@a.example", "https://u:p@a.example",
		"ftp://a.example", "ws://a.example", "a.example", "//a.example", "https:/a.example",
		"https://", "https://:8080", "https://a.example:", "https://a.example:0",
		"https://a.example:65536", "https://a.example:080", "https://a.example:8o",
		"https://a..example", ".a.example", "https://.a.example", "https://a.example.",
		"https://a example", "https://a.example ", "https://*.example", "https://ä.example",
		"https://127.1", "https://256.0.0.1", "https://a.123", "https://[::1",
		"https://[::1]x", "https://[::1]:", "https://[fe80::1%25eth0]", "https://[a.b]",
		"https://::1", "nul", "null/", "*",
	};

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		origin_refused(bad[i]);
	/* A plain value is named without an item number. */
	load_fails("password: pw\nallowed_origins: https://a.example/\n", 2,
		   "'allowed_origins': 'https://a.example/' is not an origin");
}

static void test_origins_shape(void **state)
{
	char text[CFG_TEXT_MAX], *p = text;
	char long_origin[HS_ORIGIN_MAX + 2];

	(void)state;
	/* A plain null is no value, not the origin "null". */
	load_fails("password: pw\nallowed_origins: [https://a.example, null]\n", 2,
		   "'allowed_origins' item 2 is empty (the origin null is written in quotes");
	load_fails("password: pw\nallowed_origins:\n  - https://a.example\n  - ''\n", 4,
		   "'allowed_origins' item 2 is empty");
	load_fails("password: pw\nallowed_origins: [[https://a.example]]\n", 2,
		   "'allowed_origins' item 1 must be a plain value");
	load_fails("password: pw\nallowed_origins:\n  - a: b\n", 3,
		   "'allowed_origins' item 1 must be a plain value");
	load_fails("password: pw\nallowed_origins: {https://a.example: 1}\n", 2,
		   "'allowed_origins' must be a list of origins, or one origin");
	load_fails("password: pw\nallowed_origins: [https://a.example\n", 3, "YAML error");
	load_fails("password: pw\nallowed_origins: [https://a.example]\nallowed_origins: []\n", 3,
		   "key 'allowed_origins' given twice");
	/* Other keys still take plain values only. */
	load_fails("password: [a, b]\n", 1, "must be a plain value");

	/* HS_ORIGIN_MAX bytes (the longest Origin a handshake may carry), not one more. */
	memset(long_origin, 'a', sizeof long_origin);
	memcpy(long_origin, "https://", 8);
	long_origin[HS_ORIGIN_MAX] = '\0';
	for (size_t i = 8 + 63; i < HS_ORIGIN_MAX; i += 64)
		long_origin[i] = '.';
	snprintf(text, sizeof text, "password: pw\nallowed_origins: [%s]\n", long_origin);
	origins_are(text, long_origin);
	long_origin[HS_ORIGIN_MAX] = 'a';
	long_origin[HS_ORIGIN_MAX + 1] = '\0';
	snprintf(text, sizeof text, "password: pw\nallowed_origins: [%s]\n", long_origin);
	load_fails(text, 2, "'allowed_origins' item 1 is longer than 255 bytes");

	/* HS_ORIGINS_MAX origins, not one more. */
	p += sprintf(p, "password: pw\nallowed_origins:\n");
	for (int i = 0; i < HS_ORIGINS_MAX; i++)
		p += sprintf(p, "  - https://h%d.example\n", i);
	{
		struct cfg c;

		load_ok(text, &c);
		assert_non_null(strstr(c.allowed_origins, "https://h0.example\nhttps://h1.example\n"));
		assert_non_null(strstr(c.allowed_origins, "\nhttps://h63.example"));
		cfg_free(&c);
	}
	sprintf(p, "  - https://one-more.example\n");
	load_fails(text, 3 + HS_ORIGINS_MAX, "'allowed_origins' lists more than 64 origins");
}

static void test_yaml_syntax_error(void **state)
{
	char err[CFG_ERR_LEN], prefix[PATH_MAX + 8];
	struct cfg c;
	static const char *const bad[] = {
		"password: pw\naddr: x: y\n",
		"password: pw\naddr: 'unclosed\n",
		"password: pw\n  addr: x\n",
		"password: \"unterminated\n",
		"password: pw\n\tfcgi_procs: 2\n",
	};

	(void)state;
	snprintf(prefix, sizeof prefix, "%s:", conf_path);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		write_file(conf_path, bad[i]);
		assert_int_equal(cfg_load(conf_path, &c, err, sizeof err), -1);
		expect_empty(&c);
		/* "<path>:<line>: YAML error: ..." with a line number >= 1. */
		if (strncmp(err, prefix, strlen(prefix)) != 0 ||
		    strtol(err + strlen(prefix), NULL, 10) < 1 || !strstr(err, ": YAML error: ")) {
			print_error("error \"%s\" for\n%s\n", err, bad[i]);
			fail();
		}
		cfg_free(&c);
	}
}

static void test_empty_file(void **state)
{
	(void)state;
	load_fails("", 0, "file is empty");
	load_fails("# only a comment\n\n", 0, "file is empty");
}

static void test_two_documents(void **state)
{
	(void)state;
	load_fails("password: a\n---\npassword: b\n", 3, "only one document");
	load_fails("password: a\n---\nscalar\n", 3, "top level must be a mapping");
}

static void test_missing_file(void **state)
{
	char err[CFG_ERR_LEN], path[PATH_MAX + 16], want[PATH_MAX + 32];
	struct cfg c;

	(void)state;
	snprintf(path, sizeof path, "%s/nope.yaml", tmpdir);
	assert_int_equal(cfg_load(path, &c, err, sizeof err), -1);
	expect_empty(&c);
	snprintf(want, sizeof want, "%s: cannot open", path);
	assert_memory_equal(err, want, strlen(want));
	cfg_free(&c);
}

static void test_failure_leaves_empty(void **state)
{
	(void)state;
	/* Strings set, then an error late in the file. */
	load_fails("password: pw\naddr: a:1\nws_addr: b:2\nkey_secret: k\nrun_dir: r\n"
		   "ipc_socket: s\nbogus: 1\n",
		   7, "unknown key");
	/* An error after defaults and the derived secret were filled in. */
	load_fails("password: pw\nkey_secret: k\nping_interval: 80\n", 0, "ping_interval");
}

static void test_error_buffer_bounded(void **state)
{
	struct cfg c;

	(void)state;
	write_file(conf_path, "password: pw\nbogus_key_with_a_long_name: 1\n");
	for (size_t len = 1; len < 64; len += 7) {
		char *err = malloc(len);

		assert_non_null(err);
		memset(err, 'Z', len);
		assert_int_equal(cfg_load(conf_path, &c, err, len), -1);
		assert_non_null(memchr(err, '\0', len));
		free(err);
		cfg_free(&c);
	}
}

/* ---- paths ---- */

static void test_relative_paths(void **state)
{
	struct cfg c;

	(void)state;
	load_ok("password: pw\nrun_dir: data\nipc_socket: sock/d.sock\n", &c);
	path_is(c.run_dir, "data");
	path_is(c.ipc_socket, "sock/d.sock");
	cfg_free(&c);
	load_ok("password: pw\nrun_dir: /abs/run\nipc_socket: /abs/d.sock\n", &c);
	assert_string_equal(c.run_dir, "/abs/run");
	assert_string_equal(c.ipc_socket, "/abs/d.sock");
	cfg_free(&c);
	/* Only path keys are resolved. */
	load_ok("password: rel/pw\naddr: rel:1\n", &c);
	assert_string_equal(c.password, "rel/pw");
	assert_string_equal(c.addr, "rel:1");
	cfg_free(&c);
}

static void test_paths_follow_config_dir(void **state)
{
	struct cfg c;

	(void)state;
	assert_int_equal(mkdir(sub_dir, 0700), 0);
	load_ok_at(sub_conf, "password: pw\nrun_dir: data\n", &c);
	path_is(c.run_dir, "sub/data");
	path_is(c.ipc_socket, "sub/run/ws-daemon.sock");
	cfg_free(&c);
}

/* cfg.h promises absolute paths for run_dir and ipc_socket; the FastCGI programs
 * and ws-daemon run with different working directories, so a config named with a
 * relative path must still give absolute paths to the same place. */
static void test_relative_config_name_gives_absolute_paths(void **state)
{
	char cwd[PATH_MAX], err[CFG_ERR_LEN], sock_dir[PATH_MAX];
	char *real_run = NULL, *real_sock_dir = NULL, *slash;
	struct cfg c;
	int rc;

	(void)state;
	assert_non_null(getcwd(cwd, sizeof cwd));
	write_file(conf_path, "password: pw\n");
	assert_int_equal(mkdir(run_dir, 0700), 0);
	assert_int_equal(chdir(tmpdir), 0);
	rc = cfg_load("conf.yaml", &c, err, sizeof err);
	assert_int_equal(chdir(cwd), 0);
	if (rc != 0) {
		print_error("%s\n", err);
		fail();
	}
	if (c.run_dir[0] != '/' || c.ipc_socket[0] != '/') {
		print_error("run_dir \"%s\", ipc_socket \"%s\" are not absolute\n", c.run_dir,
			    c.ipc_socket);
		cfg_free(&c);
		fail();
	}
	/* Same place as <config dir>/run, however it is spelt. */
	real_run = realpath(c.run_dir, NULL);
	snprintf(sock_dir, sizeof sock_dir, "%s", c.ipc_socket);
	slash = strrchr(sock_dir, '/');
	assert_non_null(slash);
	assert_string_equal(slash + 1, "ws-daemon.sock");
	*slash = '\0';
	real_sock_dir = realpath(sock_dir, NULL);
	cfg_free(&c);
	assert_non_null(real_run);
	assert_non_null(real_sock_dir);
	assert_string_equal(real_run, run_dir);
	assert_string_equal(real_sock_dir, run_dir);
	free(real_run);
	free(real_sock_dir);
}

/* ---- secret ---- */

static void hmac_label(const char *base, unsigned char out[CFG_SECRET_LEN])
{
	static const char label[] = "push-service access key v1";
	unsigned int len = 0;

	assert_non_null(HMAC(EVP_sha256(), base, (int)strlen(base), (const unsigned char *)label,
			     sizeof label - 1, out, &len));
	assert_int_equal(len, CFG_SECRET_LEN);
}

static void load_secret(const char *text, unsigned char out[CFG_SECRET_LEN])
{
	struct cfg c;

	load_ok(text, &c);
	memcpy(out, c.secret, CFG_SECRET_LEN);
	cfg_free(&c);
}

static void test_secret_derivation(void **state)
{
	unsigned char s1[CFG_SECRET_LEN], s2[CFG_SECRET_LEN], want[CFG_SECRET_LEN];
	static const unsigned char zero[CFG_SECRET_LEN];

	(void)state;
	load_secret("password: pw\n", s1);
	assert_memory_not_equal(s1, zero, sizeof zero);
	hmac_label("pw", want);
	assert_memory_equal(s1, want, sizeof want);

	/* Same input, same secret; any other password, another secret. */
	load_secret("password: pw\nfcgi_procs: 8\n", s2);
	assert_memory_equal(s1, s2, sizeof s1);
	load_secret("password: pX\n", s2);
	assert_memory_not_equal(s1, s2, sizeof s1);

	/* key_secret wins over the password, and then the password does not matter. */
	load_secret("password: pw\nkey_secret: ks\n", s1);
	hmac_label("ks", want);
	assert_memory_equal(s1, want, sizeof want);
	load_secret("password: other\nkey_secret: ks\n", s2);
	assert_memory_equal(s1, s2, sizeof s1);

	/* An empty key_secret falls back to the password. */
	load_secret("password: pw\nkey_secret: ''\n", s1);
	hmac_label("pw", want);
	assert_memory_equal(s1, want, sizeof want);
}

/* ---- cfg_print_key ---- */

static char *print_key(const struct cfg *c, const char *name, int *rc)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	*rc = cfg_print_key(c, name, f);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void printed(const struct cfg *c, const char *name, const char *want)
{
	int rc;
	char *got = print_key(c, name, &rc);

	assert_int_equal(rc, 0);
	assert_string_equal(got, want);
	free(got);
}

static void test_print_key(void **state)
{
	char want[PATH_MAX * 2];
	struct cfg c;
	char *got;
	int rc;

	(void)state;
	load_ok("password: hunter2\nfcgi_procs: 7\nlog_level: info\nworkers: 1\n", &c);
	printed(&c, "addr", "0.0.0.0:8080\n");
	printed(&c, "ws_addr", "127.0.0.1:8081\n");
	printed(&c, "password", "<set>\n");
	printed(&c, "key_secret", "<derived>\n");
	printed(&c, "fcgi_procs", "7\n");
	printed(&c, "access_key_ttl", "60\n");
	printed(&c, "send_queue_max_bytes", "1048576\n");
	printed(&c, "history_size", "64\n");
	printed(&c, "history_memory", "67108864\n");
	printed(&c, "offline_messages", "false\n");
	printed(&c, "ack_waiters_max", "-1\n");
	printed(&c, "allowed_origins", "\n");
	printed(&c, "max_connections", "0\n");
	printed(&c, "max_connections_per_uid", "0\n");
	printed(&c, "log_level", "info\n");
	snprintf(want, sizeof want, "%s/run\n", tmpdir);
	printed(&c, "run_dir", want);
	snprintf(want, sizeof want, "%s/run/ws-daemon.sock\n", tmpdir);
	printed(&c, "ipc_socket", want);
	c.workers = 3; /* every worker's real socket, one a line */
	snprintf(want, sizeof want, "%s/run/ws-daemon.sock.0\n%s/run/ws-daemon.sock.1\n"
		 "%s/run/ws-daemon.sock.2\n", tmpdir, tmpdir, tmpdir);
	printed(&c, "ipc_socket", want);
	c.workers = 1;

	got = print_key(&c, "nope", &rc);
	assert_int_equal(rc, -1);
	assert_string_equal(got, "");
	free(got);
	got = print_key(&c, "secret", &rc);
	assert_int_equal(rc, -1);
	free(got);
	cfg_free(&c);

	load_ok("password: hunter2\nkey_secret: s3cr3t\nlog_level: error\n"
		"offline_messages: true\nallowed_origins: [https://A.example, 'null']\n", &c);
	printed(&c, "offline_messages", "true\n");
	printed(&c, "allowed_origins", "https://a.example\nnull\n"); /* one a line */
	printed(&c, "key_secret", "<set>\n");
	printed(&c, "password", "<set>\n");
	printed(&c, "log_level", "error\n");
	cfg_free(&c);

	/* Every level name prints back as written. */
	{
		static const char *const names[] = { "error", "warn", "notice", "info", "debug" };

		for (size_t i = 0; i < 5; i++) {
			char text[64], line[16];

			snprintf(text, sizeof text, "password: p\nlog_level: %s\n", names[i]);
			snprintf(line, sizeof line, "%s\n", names[i]);
			load_ok(text, &c);
			printed(&c, "log_level", line);
			cfg_free(&c);
		}
	}
}

/* ---- cfg_split_addr ---- */

static void split_ok(const char *addr, const char *host, int port)
{
	char h[64];
	int p = -1;

	memset(h, 'Z', sizeof h);
	if (cfg_split_addr(addr, h, sizeof h, &p) != 0) {
		print_error("\"%s\" refused\n", addr);
		fail();
	}
	assert_string_equal(h, host);
	assert_int_equal(p, port);
}

static void split_bad(const char *addr)
{
	char h[64];
	int p = -1;

	if (cfg_split_addr(addr, h, sizeof h, &p) != -1) {
		print_error("\"%s\" accepted as host \"%s\" port %d\n", addr, h, p);
		fail();
	}
}

static void test_split_addr(void **state)
{
	(void)state;
	split_ok("127.0.0.1:8081", "127.0.0.1", 8081);
	split_ok("0.0.0.0:8080", "0.0.0.0", 8080);
	split_ok("localhost:1", "localhost", 1);
	split_ok("example.com:65535", "example.com", 65535);
	split_ok(":9000", "", 9000);
	split_ok("[::1]:8080", "::1", 8080);
	split_ok("[fe80::1%eth0]:443", "fe80::1%eth0", 443);
	split_ok("[::]:80", "::", 80);

	split_bad("");
	split_bad("localhost");
	split_bad("localhost:");
	split_bad(":");
	split_bad("host:0");
	split_bad("host:65536");
	split_bad("host:-1");
	split_bad("host:99999999999999999999");
	split_bad("host:abc");
	split_bad("host:80x");
	split_bad("host:8 0");
	split_bad("::1:80");
	split_bad("a:b:80");
	split_bad("[::1]");
	split_bad("[::1]:");
	split_bad("[::1]80");
	split_bad("[::1:80");
	split_bad("[::1]:0");
}

static void test_split_addr_host_len(void **state)
{
	char h[8];
	int p = 0;

	(void)state;
	/* "1234567" + NUL fits 8 bytes; one more character does not. */
	assert_int_equal(cfg_split_addr("1234567:80", h, sizeof h, &p), 0);
	assert_string_equal(h, "1234567");
	assert_int_equal(p, 80);
	assert_int_equal(cfg_split_addr("12345678:80", h, sizeof h, &p), -1);
	assert_int_equal(cfg_split_addr("[1234567]:80", h, sizeof h, &p), 0);
	assert_string_equal(h, "1234567");
	assert_int_equal(cfg_split_addr("[12345678]:80", h, sizeof h, &p), -1);
	assert_int_equal(cfg_split_addr(":80", h, 1, &p), 0);
	assert_string_equal(h, "");
}

/* A reload keeps restart-only keys, takes the rest, and rotates the secret. */
static void test_reload_rules(void **state)
{
	struct cfg cur, next;
	unsigned char old_secret[CFG_SECRET_LEN];

	(void)state;
	load_ok("password: one\nworkers: 2\nipc_socket: /tmp/a.sock\naccess_key_ttl: 60\n", &cur);
	memcpy(old_secret, cur.secret, sizeof old_secret);
	load_ok("password: two\nworkers: 3\nipc_socket: /tmp/b.sock\naccess_key_ttl: 90\n", &next);
	assert_int_equal(cfg_reload(&cur, &next, 1000), 2);
	assert_int_equal(next.workers, 2);
	assert_string_equal(next.ipc_socket, "/tmp/a.sock");
	assert_string_equal(next.password, "two");
	assert_int_equal(next.access_key_ttl, 90);
	/* Default grace: the new access_key_ttl. */
	assert_memory_equal(next.prev_secret, old_secret, CFG_SECRET_LEN);
	assert_int_equal(next.prev_until, 1090);
	cfg_free(&cur);
	cfg_free(&next);
}

/* Same secret: the rotation state carries over; grace 0: revoked at once. */
static void test_reload_rotation_state(void **state)
{
	struct cfg a, b, c;

	(void)state;
	load_ok("password: one\n", &a);
	load_ok("password: two\nkey_rotation_grace: 5\n", &b);
	cfg_reload(&a, &b, 100);
	assert_int_equal(b.prev_until, 105);
	load_ok("password: two\nlog_level: debug\n", &c);
	cfg_reload(&b, &c, 200);
	assert_int_equal(c.prev_until, 105);
	assert_memory_equal(c.prev_secret, a.secret, CFG_SECRET_LEN);
	cfg_free(&b);
	load_ok("password: three\nkey_rotation_grace: 0\n", &b);
	cfg_reload(&c, &b, 300);
	assert_int_equal(b.prev_until, 0);
	cfg_free(&a);
	cfg_free(&b);
	cfg_free(&c);
}

/* pack/unpack hands another process the same values and rotation state. */
static void test_pack_roundtrip(void **state)
{
	static uint8_t buf[CFG_PACK_MAX];
	struct cfg a, b, back;
	char err[CFG_ERR_LEN];
	size_t n;

	(void)state;
	load_ok("password: one\n", &a);
	load_ok("password: two\nrun_dir: run\nsend_queue_max_bytes: 700000\n", &b);
	cfg_reload(&a, &b, 100);
	n = cfg_pack(&b, buf, sizeof buf);
	assert_true(n > 0);
	assert_int_equal(cfg_pack(&b, buf, n - 1), 0);
	assert_int_equal(cfg_unpack(buf, n, &back, err, sizeof err), 0);
	assert_string_equal(back.password, "two");
	assert_string_equal(back.run_dir, run_dir);
	assert_int_equal(back.send_queue_max_bytes, 700000);
	assert_memory_equal(back.secret, b.secret, CFG_SECRET_LEN);
	assert_memory_equal(back.prev_secret, a.secret, CFG_SECRET_LEN);
	assert_int_equal(back.prev_until, b.prev_until);
	assert_int_equal(back.generation, b.generation);
	assert_true(back.generation != a.generation);
	cfg_free(&back);
	/* Every truncation and a flipped length are refused, never read past. */
	for (size_t k = 0; k < n; k++) {
		assert_int_equal(cfg_unpack(buf, k, &back, err, sizeof err), -1);
		cfg_free(&back);
	}
	buf[3 + 8 + 1 + CFG_SECRET_LEN + 2] ^= 0x40;
	assert_int_equal(cfg_unpack(buf, n, &back, err, sizeof err), -1);
	cfg_free(&back);
	cfg_free(&a);
	cfg_free(&b);
}

static void test_key_flags(void **state)
{
	(void)state;
	assert_true(cfg_key_is_secret("password"));
	assert_true(cfg_key_is_secret("key_secret"));
	assert_false(cfg_key_is_secret("workers"));
	assert_true(cfg_key_is_restart_only("workers"));
	assert_true(cfg_key_is_restart_only("ipc_socket"));
	assert_false(cfg_key_is_restart_only("password"));
	assert_false(cfg_key_is_restart_only("nope"));
	/* The history and acknowledgement keys change on reload. */
	assert_false(cfg_key_is_restart_only("history_size"));
	assert_false(cfg_key_is_restart_only("history_bytes"));
	assert_false(cfg_key_is_restart_only("history_ttl"));
	assert_false(cfg_key_is_restart_only("history_memory"));
	assert_false(cfg_key_is_restart_only("offline_messages"));
	assert_false(cfg_key_is_restart_only("ack_waiters_max"));
	assert_false(cfg_key_is_secret("offline_messages"));
	/* The origin list and the connection limits too. */
	assert_false(cfg_key_is_restart_only("allowed_origins"));
	assert_false(cfg_key_is_restart_only("max_connections"));
	assert_false(cfg_key_is_restart_only("max_connections_per_uid"));
	assert_false(cfg_key_is_secret("allowed_origins"));
}

/* The origin list changes on reload and travels to the workers as text. */
static void test_reload_origins(void **state)
{
	static uint8_t buf[CFG_PACK_MAX];
	struct cfg cur, next, back;
	char err[CFG_ERR_LEN];
	size_t n;

	(void)state;
	load_ok("password: pw\n", &cur);
	load_ok("password: pw\nallowed_origins: [https://a.example, 'null']\n"
		"max_connections: 7\n", &next);
	assert_int_equal(cfg_reload(&cur, &next, 1000), 0);
	assert_string_equal(next.allowed_origins, "https://a.example\nnull");
	n = cfg_pack(&next, buf, sizeof buf);
	assert_true(n > 0);
	assert_int_equal(cfg_unpack(buf, n, &back, err, sizeof err), 0);
	assert_string_equal(back.allowed_origins, "https://a.example\nnull");
	assert_int_equal(back.max_connections, 7);
	cfg_free(&back);
	cfg_free(&cur);
	cfg_free(&next);
}


/* engine redis: its servers, parsed once (commas or spaces), checked at load. */
static void test_engine_redis(void **state)
{
	struct cfg_redis_server sv[CFG_REDIS_SERVERS_MAX];
	struct cfg c;

	(void)state;
	load_ok("password: p\n", &c);
	assert_false(cfg_engine_redis(&c));
	assert_int_equal(cfg_redis_servers(&c, sv, CFG_REDIS_SERVERS_MAX), 0);
	cfg_free(&c);
	load_ok("password: p\nengine: redis\nredis_servers: \"10.0.0.1:6379, 10.0.0.2:6380 [::1]:7000\"\n", &c);
	assert_true(cfg_engine_redis(&c));
	assert_int_equal(cfg_redis_servers(&c, sv, CFG_REDIS_SERVERS_MAX), 3);
	assert_string_equal(sv[0].host, "10.0.0.1");
	assert_int_equal(sv[0].port, 6379);
	assert_string_equal(sv[1].host, "10.0.0.2");
	assert_int_equal(sv[1].port, 6380);
	assert_string_equal(sv[2].host, "::1");
	assert_int_equal(sv[2].port, 7000);
	assert_int_equal(cfg_redis_servers(&c, sv, 2), -1); /* more than the room */
	cfg_free(&c);
	load_fails("password: p\nengine: redis\n", 0, "'engine' redis needs 'redis_servers'");
	load_fails("password: p\nengine: mongo\n", 0, "'engine' must be memory or redis");
	load_fails("password: p\nengine: redis\nredis_servers: 10.0.0.1\n", 0, "'redis_servers' must list");
	load_fails("password: p\nengine: redis\nredis_servers: \":6379\"\n", 0, "'redis_servers' must list");
	load_fails("password: p\nengine: redis\nredis_servers: a:1 a:1\n", 0, "lists a:1 twice");
}

#define T(f) cmocka_unit_test_teardown(f, test_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_defaults),
		T(test_all_keys),
		T(test_document_markers),
		T(test_password_required),
		T(test_empty_strings),
		T(test_engine_redis),
		T(test_yaml_null_is_empty),
		T(test_string_length_limit),
		T(test_unknown_key),
		T(test_duplicate_key),
		T(test_integer_syntax),
		T(test_bounds),
		T(test_queue_holds_a_max_message),
		T(test_history_fits_queue),
		T(test_offline_needs_history),
		T(test_booleans),
		T(test_demo_is_restart_only),
		T(test_log_levels),
		T(test_ping_below_idle),
		T(test_structure_errors),
		T(test_origins_forms),
		T(test_origins_normalised),
		T(test_origins_refused),
		T(test_origins_shape),
		T(test_yaml_syntax_error),
		T(test_empty_file),
		T(test_two_documents),
		T(test_missing_file),
		T(test_failure_leaves_empty),
		T(test_error_buffer_bounded),
		T(test_relative_paths),
		T(test_paths_follow_config_dir),
		T(test_relative_config_name_gives_absolute_paths),
		T(test_secret_derivation),
		T(test_print_key),
		T(test_split_addr),
		T(test_split_addr_host_len),
		T(test_reload_rules),
		T(test_reload_rotation_state),
		T(test_pack_roundtrip),
		T(test_key_flags),
		T(test_reload_origins),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
