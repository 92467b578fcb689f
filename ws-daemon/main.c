/* SPDX-License-Identifier: MIT */
/* ws-daemon: a supervisor that owns configuration and health (systemd), and
 * workers that each run one libuv loop with lws, the IPC socket and signals. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libwebsockets.h>
#include <systemd/sd-daemon.h>
#include <uv.h>

#include "akey.h"
#include "cfg.h"
#include "log.h"
#include "proc.h"
#include "version.h"
#include "req.h"
#include "wmsg.h"
#include "wsd_ackwait.h"
#include "wsd_alive.h"
#include "wsd_engine.h"
#include "wsd_revoke.h"
#include "wsd_conn.h"
#include "wsd_accept.h"
#include "wsd_ipc.h"
#include "wsd_redis.h"
#include "wsd_stats.h"
#include "wsd_ws.h"

#define WSD_IPC_MODE 0660
#define WSD_DRAIN_MS 1000          /* SIGTERM: longest wait for Close handshakes */
#define WSD_HUNG_MS 5000           /* a worker whose loop is stuck this long is replaced */
#define WSD_GRACE_S 3              /* workers take a second to close their clients politely */
_Static_assert(CFG_PACK_MAX <= PROC_MSG_MAX, "a configuration fits one supervisor message");
_Static_assert(CFG_WORKERS_MAX <= PROC_MAX, "every worker fits the supervisor's table");
_Static_assert(WSD_HUNG_MS > PROC_STALE_MS, "a hang is declared after the watchdog stops");

struct wsd {
	struct cfg cfg;
	uv_loop_t loop;
	const char *conf_path;
	uv_signal_t sig_int, sig_term;
	uv_timer_t drain;          /* SIGTERM: time for Close frames to go out */
	uv_timer_t beat;           /* tells the supervisor this loop turns */
	uv_poll_t channel;         /* configuration from the supervisor */
	int channel_on;
	int watchdog;              /* supervisor: systemd expects WATCHDOG=1 */
	int stopping;
	uint64_t stop_deadline;    /* uv_now() milliseconds */
	struct lws_context *ctx;
	struct lws_vhost *vhost;
	char ws_host[256];         /* lws keeps a pointer to the interface name */
	char ipc_path[128];        /* this worker's datagram socket */
	unsigned index;            /* worker number, 0..workers-1 */
	struct wsd_handoff handoff[64]; /* made by the supervisor (workers > 1) */
	struct wsd_ackwait_shared *ack_shared; /* mapped by the supervisor, for all */
	lws_retry_bo_t retry;
};

static struct wsd wsd;

/* Not const: wsd_start sets the push protocol's tx_packet_size. */
static struct lws_protocols wsd_protocols[] = {
	{ "push", wsd_ws_callback, sizeof(struct wsd_conn), 1024, 0, NULL, 0 },
	{ WSD_IPC_PROTOCOL_NAME, wsd_ipc_callback, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

static void wsd_lws_log(int level, const char *line)
{
	enum log_level l = level & LLL_ERR ? LOG_LVL_ERR
			 : level & LLL_WARN ? LOG_LVL_WARN
			 : level & LLL_NOTICE ? LOG_LVL_NOTICE : LOG_LVL_DEBUG;

	LOG_AT(l, "lws: %s", line);
}

/* systemd's notify protocol; a no-op without $NOTIFY_SOCKET (not under systemd). */
static void wsd_notify(const char *state)
{
	int r = sd_notify(0, state);

	if (r < 0)
		log_warn("sd_notify(%s): %s", state, strerror(-r));
}

static void wsd_close_handle(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void wsd_destroy(void)
{
	/* uv_close stops the handles too; the lws ones go with the context. */
	wsd_close_handle((uv_handle_t *)&wsd.sig_int, NULL);
	wsd_close_handle((uv_handle_t *)&wsd.sig_term, NULL);
	wsd_close_handle((uv_handle_t *)&wsd.drain, NULL);
	wsd_close_handle((uv_handle_t *)&wsd.beat, NULL);
	if (wsd.channel_on)
		wsd_close_handle((uv_handle_t *)&wsd.channel, NULL);
	wsd.channel_on = 0;
	wsd_alive_stop();
	wsd_redis_stop(); /* answers what waits on Redis */
	/* lws closes its handles asynchronously; uv_run returns once all are gone. */
	if (wsd.ctx)
		lws_context_destroy(wsd.ctx);
}

static void wsd_on_drain_tick(uv_timer_t *t)
{
	(void)t;
	if (wsd_ws_live() == 0 || uv_now(&wsd.loop) >= wsd.stop_deadline) {
		log_notice("all connections closed; exiting");
		wsd_destroy();
	}
}

/* First request: stop taking pushes, send every client Close 1001 and give the
 * frames WSD_DRAIN_MS to leave. A second one exits at once. */
static void wsd_stop(const char *why)
{
	if (wsd.stopping || !wsd.ctx) {
		wsd_destroy();
		return;
	}
	log_notice("%s: closing %zu connections and shutting down", why, wsd_ws_live());
	wsd_accept_stop();
	wsd_ipc_close();
	wsd_conn_close_all(LWS_CLOSE_STATUS_GOINGAWAY, "server shutting down");
	wsd.stopping = 1;
	wsd.stop_deadline = uv_now(&wsd.loop) + WSD_DRAIN_MS;
	if (uv_timer_start(&wsd.drain, wsd_on_drain_tick, 20, 20) != 0)
		wsd_destroy();
}

static void wsd_on_signal(uv_signal_t *h, int signum)
{
	(void)h;
	wsd_stop(signum == SIGINT ? "SIGINT" : "SIGTERM");
}

/* Only the web server's group may push: group-owned, then mode (0660). */
static int wsd_ipc_share(const char *path, const char *group, mode_t mode)
{
	struct group *g;

	if (group[0]) {
		g = getgrnam(group);
		if (!g) {
			log_err("ipc_socket_group '%s' does not exist", group);
			return -1;
		}
		if (chown(path, (uid_t)-1, g->gr_gid) != 0) {
			log_err("cannot give %s to group %s: %s", path, group, strerror(errno));
			return -1;
		}
	}
	if (chmod(path, mode) != 0) {
		log_err("chmod %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Everything a reload may change without touching a socket. */
static void wsd_apply_cfg(void)
{
	wsd_ws_use(&wsd.cfg);
	wsd_accept_use(&wsd.cfg);
	log_set_level(wsd.cfg.log_level);
	lws_set_log_level(LLL_ERR | LLL_WARN | (wsd.cfg.log_level >= LOG_LVL_DEBUG ? LLL_NOTICE : 0),
			  wsd_lws_log);
	wsd_conn_init((size_t)wsd.cfg.send_queue_max_messages, (size_t)wsd.cfg.send_queue_max_bytes);
	wsd_engine_use(&wsd.cfg, (unsigned)(wsd.cfg.workers < 1 ? 1 : wsd.cfg.workers));
	wsd_ipc_use(&wsd.cfg, wsd.index);
	if (wsd_redis_on())
		wsd_redis_use(&wsd.cfg);
	/* wsd_alive pings and hangs up; the vhost's retry policy stays all zero,
	 * which turns lws's own validity timers off (see wsd_alive.h). */
	wsd_alive_set(wsd.cfg.ping_interval, wsd.cfg.idle_timeout);
}

/* A configuration from the supervisor (SIGHUP there): the same bytes every
 * worker gets, with the rotation state it decided. Restart-only keys stay. */
static void wsd_take_config(const uint8_t *msg, size_t len)
{
	struct cfg n;
	char err[CFG_ERR_LEN];

	if (cfg_unpack(msg, len, &n, err, sizeof err) != 0 ||
	    cfg_keep_restart_only(&wsd.cfg, &n, 0) < 0) {
		/* The supervisor checked it already: only memory can fail here. */
		log_err("worker %u: configuration not applied: %s", wsd.index, err);
		cfg_free(&n);
		return;
	}
	cfg_free(&wsd.cfg);
	wsd.cfg = n;
	wsd_apply_cfg();
	log_info("worker %u: configuration %08x applied (%zu connections kept)", wsd.index,
		 (unsigned)wsd.cfg.generation, wsd_conn_count());
}

static void wsd_on_channel(uv_poll_t *h, int status, int events)
{
	static uint8_t msg[PROC_MSG_MAX];
	ssize_t n;

	(void)h;
	(void)events;
	while (status >= 0 && (n = proc_worker_recv(msg, sizeof msg)) > 0)
		wsd_take_config(msg, (size_t)n);
	if (status < 0 || n < 0) {
		/* The supervisor is gone: nobody would restart or reload us. */
		uv_poll_stop(&wsd.channel);
		wsd_stop("supervisor gone");
	}
}

/* The loop's heartbeat also ages the history: cheap when nothing is due. */
static void wsd_on_beat(uv_timer_t *t)
{
	(void)t;
	(void)proc_worker_beat();
	wsd_engine_tick();
	wsd_revoke_expire(time(NULL));
}

/* The worker's side of supervision: beats from this loop (a stuck loop stops
 * them), configuration messages in. */
static int wsd_watch_channel(void)
{
	int fd = proc_worker_channel();

	if (fd < 0)
		return 0;
	if (uv_poll_init(&wsd.loop, &wsd.channel, fd) != 0)
		return -1;
	wsd.channel_on = 1;
	return uv_poll_start(&wsd.channel, UV_READABLE, wsd_on_channel) != 0 ||
	       uv_timer_start(&wsd.beat, wsd_on_beat, PROC_BEAT_MS, PROC_BEAT_MS) != 0 ? -1 : 0;
}

/* Explicit vhost creation: with a foreign loop lws 4.1 hands back a context that
 * is already being torn down when the implicit vhost cannot listen. */
static int wsd_start(void)
{
	struct lws_context_creation_info info;
	void *loops[1] = { &wsd.loop };
	char *host = wsd.ws_host, err[256] = "";
	int port;

	if (cfg_split_addr(wsd.cfg.ws_addr, host, sizeof wsd.ws_host, &port) != 0) {
		log_err("ws_addr '%s' is not host:port", wsd.cfg.ws_addr);
		return -1;
	}
	wsd_apply_cfg();

	memset(&info, 0, sizeof info);
	info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
		       LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_UV_NO_SIGSEGV_SIGFPE_SPIN;
	info.foreign_loops = loops;
	info.pcontext = &wsd.ctx;
	info.max_http_header_data = WSD_WS_MAX_HEADER_DATA;
	info.timeout_secs = 10;
	wsd.ctx = lws_create_context(&info);
	if (!wsd.ctx) {
		log_err("cannot create the libwebsockets context");
		return -1;
	}
	/* lws never listens: every worker accepts on its own SO_REUSEPORT socket,
	 * checks the handshake and routes it to the uid's worker (wsd_accept.c). */
	info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
	info.iface = host[0] && strcmp(host, "0.0.0.0") != 0 && strcmp(host, "::") != 0 ? host : NULL;
	/* lws sends at most tx_packet_size (else rx_buffer_size, 1024) per call and
	 * copies the rest of a frame into its own buffer, to go out on POLLOUT: let
	 * the largest frame (send_queue_max_bytes bounds it) leave in one send. */
	wsd_protocols[0].tx_packet_size = (size_t)wsd.cfg.send_queue_max_bytes + 16;
	info.protocols = wsd_protocols;
	info.retry_and_idle_policy = &wsd.retry;
	wsd.vhost = lws_create_vhost(wsd.ctx, &info);
	if (!wsd.vhost) {
		log_err("cannot listen for WebSockets on %s", wsd.cfg.ws_addr);
		return -1;
	}
	if (cfg_worker_socket(&wsd.cfg, wsd.index, wsd.ipc_path, sizeof wsd.ipc_path) != 0) {
		log_err("ipc_socket path is too long: %s", wsd.cfg.ipc_socket);
		return -1;
	}
	/* Owner-only until the group is right, then the group may push. */
	wsd_ackwait_share(wsd.ack_shared, wsd.index);
	if (wsd_ipc_open(wsd.vhost, wsd.ipc_path, 0600, err, sizeof err) != 0) {
		log_err("ipc socket %s: %s", wsd.ipc_path, err[0] ? err : strerror(errno));
		return -1;
	}
	if (wsd_ipc_engine_start(&wsd.loop, &wsd.cfg, wsd.index) != 0) {
		log_err("cannot start the redis engine");
		wsd_ipc_close();
		return -1;
	}
	if (wsd_ipc_share(wsd.ipc_path, wsd.cfg.ipc_socket_group, WSD_IPC_MODE) != 0 ||
	    wsd_accept_start(&wsd.loop, wsd.vhost, host, port, wsd.index,
			     (unsigned)wsd.cfg.workers, wsd.handoff) != 0) {
		wsd_ipc_close();
		return -1;
	}
	log_notice("ws-daemon %s worker %u of %ld: WebSockets on %s, pushes on %s", PUSH_VERSION,
		   wsd.index, wsd.cfg.workers, wsd.cfg.ws_addr, wsd.ipc_path);
	return 0;
}

static void wsd_usage(FILE *f)
{
	fprintf(f,
		"usage: ws-daemon [-c FILE] [-t] [-g KEY] [-k] [-v] [-h]\n"
		"Delivers pushes to WebSocket subscribers (a supervisor and its workers).\n"
		"  -c, --config FILE  configuration file (default " PUSH_DEFAULT_CONF ")\n"
		"  -t, --test         check the configuration (and that its files are readable)\n"
		"                     and exit\n"
		"  -g, --get KEY      print the effective value of a configuration key and exit\n"
		"  -k, --keys         list every configuration key: default, reload, meaning\n"
		"  -v, --version      print the version and exit\n"
		"  -h, --help         this help\n"
		"signals (to the main process): HUP reloads the configuration in every\n"
		"         worker, TERM/INT close every WebSocket with 1001 and exit\n"
		"exit codes: 0 ok, 1 runtime or configuration error, 2 usage error\n");
}

static int wsd_run(void)
{
	int rc = 1;

	if (uv_loop_init(&wsd.loop) != 0)
		return 1;
	if (wsd_ws_init() != 0 || wsd_engine_init() != 0 || uv_signal_init(&wsd.loop, &wsd.sig_int) != 0 ||
	    uv_signal_init(&wsd.loop, &wsd.sig_term) != 0 ||
	    uv_timer_init(&wsd.loop, &wsd.drain) != 0 ||
	    uv_timer_init(&wsd.loop, &wsd.beat) != 0 ||
	    uv_signal_start(&wsd.sig_int, wsd_on_signal, SIGINT) != 0 ||
	    uv_signal_start(&wsd.sig_term, wsd_on_signal, SIGTERM) != 0) {
		log_err("cannot set up the event loop");
		uv_walk(&wsd.loop, wsd_close_handle, NULL);
	} else if (wsd_start() == 0 &&
		   wsd_alive_start(&wsd.loop, wsd.cfg.ping_interval, wsd.cfg.idle_timeout) == 0 &&
		   wsd_watch_channel() == 0 && proc_worker_ready() == 0) {
		rc = 0;
	} else {
		wsd_ipc_close(); /* harmless if it never opened */
		wsd_destroy();
	}
	(void)uv_run(&wsd.loop, UV_RUN_DEFAULT);
	/* The second call completes a foreign-loop teardown (lws clears wsd.ctx). */
	if (wsd.ctx)
		lws_context_destroy(wsd.ctx);
	if (uv_loop_close(&wsd.loop) != 0)
		log_warn("event loop closed with handles still open");
	wsd_ws_free();
	wsd_engine_free();
	wsd_revoke_free();
	log_notice("worker %u stopped", wsd.index);
	return rc;
}

/* The directory of the datagram sockets, made once by the supervisor: the web
 * server's group must be able to reach the sockets inside it. */
static int wsd_make_run_dir(const char *sock)
{
	char *dir = strdup(sock), *slash;
	struct group *g = NULL;
	int rc = 0;

	if (!dir)
		return -1;
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (wsd.cfg.ipc_socket_group[0])
			g = getgrnam(wsd.cfg.ipc_socket_group);
		if (mkdir(dir, g ? 0750 : 0755) == 0) {
			if (g && chown(dir, (uid_t)-1, g->gr_gid) != 0)
				rc = -1;
		} else if (errno != EEXIST) {
			rc = -1;
		}
		if (rc != 0)
			log_err("cannot make %s for the push sockets: %s", dir, strerror(errno));
	}
	free(dir);
	return rc;
}

/* Workers listen with SO_REUSEPORT, which would let them join the port of
 * another daemon of the same user and split its clients. A plain bind first
 * proves the port is nobody's. */
static int wsd_port_is_free(void)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	char host[256], ps[8];
	int port, fd = -1, on = 1, rc = -1;

	if (cfg_split_addr(wsd.cfg.ws_addr, host, sizeof host, &port) != 0) {
		log_err("ws_addr '%s' is not host:port", wsd.cfg.ws_addr);
		return -1;
	}
	(void)snprintf(ps, sizeof ps, "%d", port);
	if (getaddrinfo(host[0] ? host : NULL, ps, &hints, &ai) != 0 || !ai) {
		log_err("ws_addr host '%s' is not a numeric address", host);
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) == 0 &&
	    bind(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		rc = 0;
	else
		log_err("cannot listen for WebSockets on %s: %s", wsd.cfg.ws_addr, strerror(errno));
	if (fd >= 0)
		(void)close(fd);
	freeaddrinfo(ai);
	return rc;
}

/* Supervisor, before forking: what every worker shares. */
static int wsd_supervisor_setup(void *arg)
{
	(void)arg;
	if (wsd_port_is_free() != 0 || wsd_make_run_dir(wsd.cfg.ipc_socket) != 0)
		return -1;
	if (wsd_handoff_create(wsd.handoff, (unsigned)wsd.cfg.workers) != 0) {
		log_err("cannot create hand-off sockets: %s", strerror(errno));
		return -1;
	}
	wsd.ack_shared = wsd_ackwait_shared_new();
	log_notice("ws-daemon %s: supervising %ld workers", PUSH_VERSION, wsd.cfg.workers);
	return 0;
}

/* SIGHUP, in the supervisor: the one place conf.yaml is read after start. A
 * refused file changes nothing anywhere; an accepted one goes to every worker
 * as the same bytes, and later workers fork it from here. */
static ssize_t wsd_supervisor_reload(void *arg, uint8_t *buf, size_t cap)
{
	struct cfg n;
	char err[CFG_ERR_LEN];
	size_t len;

	(void)arg;
	if (cfg_load(wsd.conf_path, &n, err, sizeof err) != 0) {
		log_err("reload refused, the running configuration stays: %s", err);
		return -1;
	}
	if (cfg_reload(&wsd.cfg, &n, time(NULL)) < 0 || (len = cfg_pack(&n, buf, cap)) == 0) {
		log_err("reload refused: cannot pass %s on to the workers", wsd.conf_path);
		cfg_free(&n);
		return -1;
	}
	cfg_free(&wsd.cfg);
	wsd.cfg = n;
	log_set_level(wsd.cfg.log_level);
	log_notice("configuration %08x reloaded from %s", (unsigned)wsd.cfg.generation,
		   wsd.conf_path);
	return (ssize_t)len;
}

/* systemd sees the supervisor only (it is the main pid): READY once every
 * worker serves, WATCHDOG only while every worker's loop beats. */
static void wsd_supervisor_health(void *arg, enum proc_health h)
{
	(void)arg;
	switch (h) {
	case PROC_H_READY: wsd_notify("READY=1"); break;
	case PROC_H_HEALTHY: if (wsd.watchdog) wsd_notify("WATCHDOG=1"); break;
	case PROC_H_RELOADING: wsd_notify("RELOADING=1"); break;
	case PROC_H_STOPPING: wsd_notify("STOPPING=1"); break;
	}
}

static int wsd_worker(unsigned index, void *arg)
{
	(void)arg;
	wsd.index = index;
	/* Only the supervisor speaks to systemd (NotifyAccess=main). */
	(void)unsetenv("NOTIFY_SOCKET");
	return wsd_run();
}

static int wsd_supervise(void)
{
	struct proc_pool_ops ops = { wsd_supervisor_setup, wsd_worker, NULL, wsd_supervisor_reload,
				     wsd_supervisor_health, WSD_HUNG_MS, PROC_BEAT_MS };
	uint64_t usec = 0;
	int r = sd_watchdog_enabled(0, &usec);

	if (r < 0)
		log_warn("systemd watchdog settings unreadable: %s", strerror(-r));
	if (r > 0 && usec >= 4000) {
		/* Four pings per interval: one late tick must not cost the service. */
		wsd.watchdog = 1;
		if (usec / 4000 < ops.tick_ms)
			ops.tick_ms = (unsigned)(usec / 4000);
		log_notice("systemd watchdog: ping every %u ms while every worker answers",
			   ops.tick_ms);
	}
	return proc_pool_run((unsigned)wsd.cfg.workers, WSD_GRACE_S, &ops, NULL);
}

static void wsd_version(void)
{
	/* lws appends its git describe ("4.1.6-v4.1.6"): the first word is the version. */
	const char *lws = lws_get_library_version();

	printf("ws-daemon %s (libwebsockets %.*s)\n", PUSH_VERSION, (int)strcspn(lws, " -"), lws);
}

/* -t: the file loads, and what it names can be read. */
static int wsd_test_config(const char *conf)
{
	char err[CFG_ERR_LEN];

	if (cfg_check_files(&wsd.cfg, err, sizeof err) != 0) {
		log_err("%s", err);
		return 1;
	}
	printf("configuration %s is ok\n", conf);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "config", required_argument, NULL, 'c' }, { "test", no_argument, NULL, 't' },
		{ "get", required_argument, NULL, 'g' },    { "keys", no_argument, NULL, 'k' },
		{ "version", no_argument, NULL, 'v' },      { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *conf = PUSH_DEFAULT_CONF, *get = NULL;
	char err[CFG_ERR_LEN];
	int opt, test = 0, rc;

	log_init("ws-daemon", LOG_LVL_NOTICE);
	while ((opt = getopt_long(argc, argv, "c:tg:kvh", longs, NULL)) != -1) {
		switch (opt) {
		case 'c': conf = optarg; break;
		case 't': test = 1; break;
		case 'g': get = optarg; break;
		case 'k': cfg_print_reference(stdout); return 0;
		case 'v': wsd_version(); return 0;
		case 'h': wsd_usage(stdout); return 0;
		default: wsd_usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ws-daemon: unexpected argument '%s'\n", argv[optind]);
		wsd_usage(stderr);
		return 2;
	}
	if (cfg_load(conf, &wsd.cfg, err, sizeof err) != 0) {
		log_err("%s", err);
		return 1;
	}
	if (get) {
		rc = cfg_print_key(&wsd.cfg, get, stdout) == 0 ? 0 : 2;
		if (rc)
			fprintf(stderr, "unknown key '%s'\n", get);
		cfg_free(&wsd.cfg);
		return rc;
	}
	if (test) {
		rc = wsd_test_config(conf);
		cfg_free(&wsd.cfg);
		return rc;
	}
	wsd.conf_path = conf;
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		log_err("cannot ignore SIGPIPE: %s", strerror(errno));
		cfg_free(&wsd.cfg);
		return 1;
	}
	log_set_level(wsd.cfg.log_level);
	rc = wsd_supervise();
	cfg_free(&wsd.cfg);
	return rc;
}
