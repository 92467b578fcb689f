/* ws-daemon: owns every subscriber WebSocket and delivers pushes that arrive over
 * the IPC datagram socket. One libuv loop drives lws, the IPC socket and signals. */
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libwebsockets.h>
#include <systemd/sd-daemon.h>
#include <uv.h>

#include "akey.h"
#include "cfg.h"
#include "log.h"
#include "proc.h"
#include "req.h"
#include "wmsg.h"
#include "wsd_alive.h"
#include "wsd_conn.h"
#include "wsd_accept.h"
#include "wsd_ipc.h"
#include "wsd_stats.h"
#include "wsd_ws.h"

#define WSD_VERSION "0.1.0"
#define WSD_IPC_MODE 0660
#define WSD_DRAIN_MS 1000          /* SIGTERM: longest wait for Close handshakes */

struct wsd {
	struct cfg cfg;
	uv_loop_t loop;
	const char *conf_path;
	uv_signal_t sig_int, sig_term, sig_hup;
	uv_timer_t drain;          /* SIGTERM: time for Close frames to go out */
	uv_timer_t watchdog;       /* systemd WatchdogSec: ping at half the interval */
	int stopping;
	uint64_t stop_deadline;    /* uv_now() milliseconds */
	struct lws_context *ctx;
	struct lws_vhost *vhost;
	char ws_host[256];         /* lws keeps a pointer to the interface name */
	char ipc_path[128];        /* this worker's datagram socket */
	unsigned index;            /* worker number, 0..workers-1 */
	struct wsd_handoff handoff[64]; /* made by the supervisor (workers > 1) */
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

/* Fires from the loop itself, so a stuck loop stops the pings and systemd
 * restarts the daemon. */
static void wsd_on_watchdog(uv_timer_t *t)
{
	(void)t;
	wsd_notify("WATCHDOG=1");
}

static int wsd_start_watchdog(void)
{
	uint64_t usec = 0;
	int r = sd_watchdog_enabled(0, &usec);

	if (r <= 0 || usec < 2000)
		return r < 0 ? r : 0;
	log_notice("systemd watchdog every %llu ms", (unsigned long long)(usec / 2000));
	return uv_timer_start(&wsd.watchdog, wsd_on_watchdog, usec / 2000, usec / 2000);
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
	wsd_close_handle((uv_handle_t *)&wsd.sig_hup, NULL);
	wsd_close_handle((uv_handle_t *)&wsd.drain, NULL);
	wsd_close_handle((uv_handle_t *)&wsd.watchdog, NULL);
	wsd_alive_stop();
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

/* First signal: stop taking pushes, send every client Close 1001 and give the
 * frames WSD_DRAIN_MS to leave. A second signal exits at once. */
static void wsd_on_signal(uv_signal_t *h, int signum)
{
	(void)h;
	if (wsd.stopping || !wsd.ctx) {
		wsd_destroy();
		return;
	}
	log_notice("signal %d: closing %zu connections and shutting down", signum, wsd_ws_live());
	wsd_notify("STOPPING=1");
	wsd_accept_stop();
	wsd_ipc_close();
	wsd_conn_close_all(LWS_CLOSE_STATUS_GOINGAWAY, "server shutting down");
	wsd.stopping = 1;
	wsd.stop_deadline = uv_now(&wsd.loop) + WSD_DRAIN_MS;
	if (uv_timer_start(&wsd.drain, wsd_on_drain_tick, 20, 20) != 0)
		wsd_destroy();
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

static int wsd_make_run_dir(const char *path)
{
	char *dir = strdup(path), *slash;
	int rc = 0;

	if (!dir)
		return -1;
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0750) != 0 && errno != EEXIST)
			rc = -1;
	}
	free(dir);
	return rc;
}

/* Everything a reload may change without touching a socket. */
static void wsd_apply_cfg(void)
{
	wsd_ws_use(&wsd.cfg);
	log_set_level(wsd.cfg.log_level);
	lws_set_log_level(LLL_ERR | LLL_WARN | (wsd.cfg.log_level >= LOG_LVL_DEBUG ? LLL_NOTICE : 0),
			  wsd_lws_log);
	wsd_conn_init((size_t)wsd.cfg.send_queue_max_messages, (size_t)wsd.cfg.send_queue_max_bytes);
	wsd_ipc_set_limits((size_t)wsd.cfg.max_uid_bytes, (size_t)wsd.cfg.send_queue_max_bytes,
			   wsd.cfg.push_timeout_ms);
	/* wsd_alive pings and hangs up; the vhost's retry policy stays all zero,
	 * which turns lws's own validity timers off (see wsd_alive.h). */
	wsd_alive_set(wsd.cfg.ping_interval, wsd.cfg.idle_timeout);
}

static void wsd_keep_str(char **now, char **old, const char *key)
{
	char *t;

	if (strcmp(*now, *old) != 0)
		log_warn("reload: '%s' changes only on restart; keeping %s", key, *old);
	t = *now;
	*now = *old;
	*old = t;
}

/* SIGHUP: a valid new conf.yaml replaces secrets, TTL, limits and log level;
 * connections stay. An invalid one changes nothing. Listening addresses and
 * socket paths need a restart. */
static void wsd_on_hup(uv_signal_t *h, int signum)
{
	struct cfg n;
	char err[CFG_ERR_LEN];

	(void)h;
	(void)signum;
	wsd_notify("RELOADING=1");
	if (cfg_load(wsd.conf_path, &n, err, sizeof err) != 0) {
		log_err("reload refused, the running configuration stays: %s", err);
		wsd_notify("READY=1");
		return;
	}
	wsd_keep_str(&n.ws_addr, &wsd.cfg.ws_addr, "ws_addr");
	wsd_keep_str(&n.ipc_socket, &wsd.cfg.ipc_socket, "ipc_socket");
	wsd_keep_str(&n.run_dir, &wsd.cfg.run_dir, "run_dir");
	if (n.workers != wsd.cfg.workers) {
		log_warn("reload: 'workers' changes only on restart; keeping %ld", wsd.cfg.workers);
		n.workers = wsd.cfg.workers;
	}
	cfg_free(&wsd.cfg);
	wsd.cfg = n;
	wsd_apply_cfg();
	log_notice("configuration reloaded from %s (%zu connections kept)", wsd.conf_path,
		   wsd_conn_count());
	wsd_notify("READY=1");
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
	if (wsd_make_run_dir(wsd.ipc_path) != 0 ||
	    wsd_ipc_open(wsd.vhost, wsd.ipc_path, 0600, err, sizeof err) != 0) {
		log_err("ipc socket %s: %s", wsd.ipc_path, err[0] ? err : strerror(errno));
		return -1;
	}
	if (wsd_ipc_share(wsd.ipc_path, wsd.cfg.ipc_socket_group, WSD_IPC_MODE) != 0 ||
	    wsd_accept_start(&wsd.loop, wsd.vhost, host, port, wsd.index,
			     (unsigned)wsd.cfg.workers, wsd.handoff) != 0) {
		wsd_ipc_close();
		return -1;
	}
	log_notice("ws-daemon %s worker %u/%ld: WebSockets on %s, pushes on %s", WSD_VERSION,
		   wsd.index + 1, wsd.cfg.workers, wsd.cfg.ws_addr, wsd.ipc_path);
	return 0;
}

static void wsd_usage(FILE *f)
{
	fprintf(f,
		"usage: ws-daemon [-c conf.yaml] [-t] [-g key] [-k] [-v] [-h]\n"
		"  -c FILE  configuration file (default ./conf.yaml)\n"
		"  -t       check the configuration and exit\n"
		"  -g KEY   print the effective value of a configuration key and exit\n"
		"  -k       list every configuration key with its default and exit\n"
		"  -v       print the version and exit\n"
		"  -h       this help\n"
		"signals: HUP reloads the configuration, TERM/INT close every WebSocket\n"
		"         with 1001 and exit\n"
		"exit codes: 0 ok, 1 runtime or configuration error, 2 usage error\n");
}

static int wsd_run(void)
{
	int rc = 1;

	if (uv_loop_init(&wsd.loop) != 0)
		return 1;
	if (wsd_ws_init() != 0 || uv_signal_init(&wsd.loop, &wsd.sig_int) != 0 ||
	    uv_signal_init(&wsd.loop, &wsd.sig_term) != 0 ||
	    uv_signal_init(&wsd.loop, &wsd.sig_hup) != 0 ||
	    uv_timer_init(&wsd.loop, &wsd.drain) != 0 ||
	    uv_timer_init(&wsd.loop, &wsd.watchdog) != 0 ||
	    uv_signal_start(&wsd.sig_int, wsd_on_signal, SIGINT) != 0 ||
	    uv_signal_start(&wsd.sig_term, wsd_on_signal, SIGTERM) != 0 ||
	    uv_signal_start(&wsd.sig_hup, wsd_on_hup, SIGHUP) != 0) {
		log_err("cannot set up the event loop");
		uv_walk(&wsd.loop, wsd_close_handle, NULL);
	} else if (wsd_start() == 0 &&
		   wsd_alive_start(&wsd.loop, wsd.cfg.ping_interval, wsd.cfg.idle_timeout) == 0 &&
		   wsd_start_watchdog() == 0) {
		rc = 0;
		wsd_notify("READY=1");
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
	log_notice("stopped");
	return rc;
}

/* Supervisor, before forking: the hand-off channels every worker shares. */
static int wsd_supervisor_setup(void *arg)
{
	(void)arg;
	if (wsd_handoff_create(wsd.handoff, (unsigned)wsd.cfg.workers) != 0) {
		log_err("cannot create hand-off sockets: %s", strerror(errno));
		return -1;
	}
	log_notice("supervising %ld workers", wsd.cfg.workers);
	return 0;
}

static int wsd_worker(unsigned index, void *arg)
{
	(void)arg;
	wsd.index = index;
	return wsd_run();
}

int main(int argc, char **argv)
{
	const char *conf = "conf.yaml", *get = NULL;
	char err[CFG_ERR_LEN];
	int opt, test = 0, rc;

	log_init("ws-daemon", LOG_LVL_NOTICE);
	while ((opt = getopt(argc, argv, "c:tg:kvh")) != -1) {
		switch (opt) {
		case 'c': conf = optarg; break;
		case 't': test = 1; break;
		case 'g': get = optarg; break;
		case 'k': cfg_print_reference(stdout); return 0;
		case 'v': printf("ws-daemon %s (libwebsockets %s)\n", WSD_VERSION, lws_get_library_version()); return 0;
		case 'h': wsd_usage(stdout); return 0;
		default: wsd_usage(stderr); return 2;
		}
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
		printf("configuration %s is ok\n", conf);
		cfg_free(&wsd.cfg);
		return 0;
	}
	wsd.conf_path = conf;
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		log_err("cannot ignore SIGPIPE: %s", strerror(errno));
		cfg_free(&wsd.cfg);
		return 1;
	}
	if (wsd.cfg.workers > 1) {
		static const struct proc_pool_ops ops = { wsd_supervisor_setup, wsd_worker, NULL };

		/* Workers take a second to close their clients politely. */
		rc = proc_pool_run((unsigned)wsd.cfg.workers, 3, &ops, NULL);
	} else {
		rc = wsd_run();
	}
	cfg_free(&wsd.cfg);
	return rc;
}
