# SPDX-License-Identifier: MIT
# Push service: fcgi-api (FastCGI /access and /push), ws-daemon (WebSocket delivery),
# ipc/ and shared/ used by both. `make run` and `make test` are the two entry points.

CC ?= cc
BUILD ?= build
SAN ?= 0
WEB ?= lighttpd
# `make run` reads conf.local.yaml (git-ignored, the user's own) when it exists.
RUN_CONF ?= $(if $(wildcard conf.local.yaml),conf.local.yaml,conf.yaml)
# CI builds with warnings as errors.
ifeq ($(CI),true)
WERROR ?= -Werror
endif
PKGS := libwebsockets jansson yaml-0.1 openssl libuv

WARN := -Wall -Wextra -Wpedantic -Wformat=2 -Werror=format-security -Wshadow \
        -Wstrict-prototypes -Wmissing-prototypes -Wvla
CFLAGS_COMMON := -std=c17 -D_GNU_SOURCE -g -MMD -MP $(WARN) $(WERROR) \
        -Ishared -Iipc $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
ifeq ($(SAN),1)
BUILD := build/asan
CFLAGS_MODE := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
        -fno-sanitize-recover=all
LDFLAGS_MODE := -fsanitize=address,undefined
else
CFLAGS_MODE := -O2 -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
LDFLAGS_MODE := -pie -Wl,-z,relro,-z,now
endif
CFLAGS_ALL := $(CFLAGS_COMMON) $(CFLAGS_MODE) $(CFLAGS)
LDFLAGS_ALL := $(LDFLAGS_MODE) $(LDFLAGS)

LIBS_SHARED := -ljansson -lyaml -lcrypto
LIBS_DAEMON := -lwebsockets -luv -lhiredis -lsystemd $(LIBS_SHARED)
LIBS_FCGI := -lfcgi $(LIBS_SHARED)

SHARED_SRC := shared/log.c shared/cfg.c shared/akey.c shared/req.c shared/wmsg.c shared/proc.c \
              shared/siphash.c shared/hs.c shared/climsg.c \
              ipc/ipc.c ipc/ipc_sock.c
FCGI_SRC := fcgi-api/push_api.c fcgi-api/api_http.c fcgi-api/api_pool.c \
            fcgi-api/api_daemon.c fcgi-api/api_metrics.c
DAEMON_SRC := ws-daemon/main.c ws-daemon/wsd_conn.c ws-daemon/wsd_ipc.c ws-daemon/wsd_stats.c \
              ws-daemon/wsd_accept.c ws-daemon/wsd_alive.c ws-daemon/wsd_ws.c \
              ws-daemon/wsd_msg.c ws-daemon/wsd_engine.c ws-daemon/wsd_ackwait.c \
              ws-daemon/wsd_revoke.c ws-daemon/wsd_redis.c ws-daemon/wsd_ring.c \
              ws-daemon/wsd_rmsg.c
UNIT_TESTS := test_cfg test_akey test_ipc test_wmsg test_req test_siphash test_hs test_climsg

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
SHARED_OBJ := $(call obj,$(SHARED_SRC))

BIN_DAEMON := $(BUILD)/bin/ws-daemon
BIN_FCGI := $(BUILD)/bin/push-api
BIN_UNIT := $(addprefix $(BUILD)/tests/,$(UNIT_TESTS))

# Objects are kept between builds (they are not just intermediates).
.SECONDARY:

.PHONY: all unit deps deps-test run test test-unit test-js test-system install uninstall clean bench fuzz
.PHONY: man deb
all: $(BIN_DAEMON) $(BIN_FCGI)

unit: $(BIN_UNIT)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BIN_DAEMON): $(call obj,$(DAEMON_SRC)) $(SHARED_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) $^ -o $@ $(LIBS_DAEMON)

# libfcgi has no version call: push-api -v names the version it was built
# against, from the package (the upstream part, without Debian's revision).
LIBFCGI_VERSION := $(shell dpkg-query -W -f='$${Version}' libfcgi0ldbl 2>/dev/null | sed 's/-[^-]*$$//')
$(BUILD)/obj/fcgi-api/push_api.o: CFLAGS_ALL += -DPUSH_LIBFCGI_VERSION='"$(or $(LIBFCGI_VERSION),unknown)"'

$(BIN_FCGI): $(call obj,$(FCGI_SRC)) $(SHARED_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) $^ -o $@ $(LIBS_FCGI)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(SHARED_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) $^ -o $@ -lcmocka $(LIBS_SHARED)

# push-api's HTTP helpers (fcgi-api/api_http.c) need libfcgi.
BIN_UNIT += $(BUILD)/tests/test_api_http
unit: $(BUILD)/tests/test_api_http
$(BUILD)/tests/test_api_http: $(BUILD)/obj/tests/unit/test_api_http.o \
		$(BUILD)/obj/fcgi-api/api_http.o $(SHARED_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) $^ -o $@ -lcmocka $(LIBS_FCGI)

# push-api's metrics text (fcgi-api/api_metrics.c).
BIN_UNIT += $(BUILD)/tests/test_api_metrics
unit: $(BUILD)/tests/test_api_metrics
$(BUILD)/tests/test_api_metrics: $(BUILD)/obj/tests/unit/test_api_metrics.o \
		$(BUILD)/obj/fcgi-api/api_metrics.o $(SHARED_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) $^ -o $@ -lcmocka $(LIBS_SHARED)

# ws-daemon's history engine (ws-daemon/wsd_engine.c, wsd_msg.c): lws headers only
# (LWS_PRE), no lws calls, so no -lwebsockets.
BIN_UNIT += $(BUILD)/tests/test_engine
$(BUILD)/obj/tests/unit/test_engine.o: CFLAGS_ALL += -Iws-daemon
unit: $(BUILD)/tests/test_engine
$(BUILD)/tests/test_engine: $(BUILD)/obj/tests/unit/test_engine.o \
		$(call obj,ws-daemon/wsd_engine.c ws-daemon/wsd_msg.c) $(SHARED_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) $^ -o $@ -lcmocka $(LIBS_SHARED)

# ws-daemon's revocation table (ws-daemon/wsd_revoke.c).
BIN_UNIT += $(BUILD)/tests/test_revoke
$(BUILD)/obj/tests/unit/test_revoke.o: CFLAGS_ALL += -Iws-daemon
unit: $(BUILD)/tests/test_revoke
$(BUILD)/tests/test_revoke: $(BUILD)/obj/tests/unit/test_revoke.o \
		$(call obj,ws-daemon/wsd_revoke.c) $(SHARED_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) $^ -o $@ -lcmocka $(LIBS_SHARED)

# engine redis's consistent hashing and pub/sub messages (ws-daemon/wsd_ring.c,
# wsd_rmsg.c): plain C, no hiredis.
BIN_UNIT += $(BUILD)/tests/test_ring $(BUILD)/tests/test_rmsg
$(BUILD)/obj/tests/unit/test_ring.o $(BUILD)/obj/tests/unit/test_rmsg.o: CFLAGS_ALL += -Iws-daemon
unit: $(BUILD)/tests/test_ring $(BUILD)/tests/test_rmsg
$(BUILD)/tests/test_ring: $(BUILD)/obj/tests/unit/test_ring.o \
		$(call obj,ws-daemon/wsd_ring.c) $(SHARED_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) $^ -o $@ -lcmocka $(LIBS_SHARED)
$(BUILD)/tests/test_rmsg: $(BUILD)/obj/tests/unit/test_rmsg.o \
		$(call obj,ws-daemon/wsd_rmsg.c) $(SHARED_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) $^ -o $@ -lcmocka $(LIBS_SHARED)

deps:
	@scripts/deps.sh run $(WEB)

deps-test:
	@scripts/deps.sh test

run: deps
	@$(MAKE) --no-print-directory all
	@PUSH_DEMO=$(if $(filter 0,$(DEMO)),0,1) scripts/run.sh $(RUN_CONF) $(BUILD)/bin $(WEB)

test-unit: unit
	@set -e; for t in $(BIN_UNIT); do echo "== $$t"; $$t; done

# The JS client's unit tests (backoff, state machine, resume, acks) under node's
# built-in runner: no browser, no packages (test_browser.py runs it in Chromium).
test-js:
	@node --test clients/js/test/

test-system: all
	@scripts/system-tests.sh $(BUILD)/bin

# Line and branch coverage of the product code by the unit and system tests
# (built with --coverage into its own BUILD dir; gcovr prints the report).
.PHONY: coverage
coverage:
	@scripts/coverage.sh build/coverage

# Benchmarks against nginx+nchan (docs/benchmarks.md); QUICK=1 for the short set.
bench: all
	@QUICK=$(QUICK) bench/run.sh

# libFuzzer drivers for every parser, FUZZ_SECONDS each.
FUZZ_SECONDS ?= 30
fuzz:
	@tests/fuzz/run.sh $(FUZZ_SECONDS)

# A clang -Werror build; the whole suite on a gcc --coverage build (which also
# prints line and branch coverage), behind lighttpd, Apache and nginx; again under
# ASan+UBSan (zero reports required) behind lighttpd (push-api spawned by the web
# server) and nginx (push-api's own pool, as with Apache), which run every line of
# our C that the third would; then a short run of every fuzzer (saved crashers
# replayed first).
test: deps-test
	@$(MAKE) --no-print-directory CC=clang BUILD=build/clang WERROR=-Werror all unit
	@$(MAKE) --no-print-directory test-js
	@$(MAKE) --no-print-directory coverage
	@PUSH_WEB=$${PUSH_WEB:-lighttpd,nginx} $(MAKE) --no-print-directory SAN=1 test-unit test-system
	@tests/fuzz/run.sh 5

# Man pages: ws-daemon(8), push-api(8) hand-written; push-service.yaml(5) generated
# from `ws-daemon -k` (the loader's key table), so it lists exactly the keys it reads.
MAN_PAGES := $(BUILD)/man/ws-daemon.8 $(BUILD)/man/push-api.8 $(BUILD)/man/push-service.yaml.5
man: $(MAN_PAGES)

$(MAN_PAGES) &: $(BIN_DAEMON) scripts/man-build.sh $(wildcard man/*.in) shared/version.h
	@scripts/man-build.sh $(BUILD)/bin $(BUILD)/man

# The Debian package (debian/), built in a copy of the tree: build/deb/push-service_*.deb,
# checked with lintian. Installs its build tools when run as root.
deb:
	@scripts/deb-build.sh build/deb

# Install: PREFIX=/usr puts the config in /etc/push-service, other prefixes in
# PREFIX/etc/push-service; DESTDIR stages everything for packaging.
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR := $(PREFIX)/bin
SYSCONFDIR := $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
CONFDIR := $(SYSCONFDIR)/push-service
UNITDIR := $(PREFIX)/lib/systemd/system
DATADIR := $(PREFIX)/share/push-service
DOCDIR := $(PREFIX)/share/doc/push-service
UNITS := ws-daemon.service push-api.service
MANDIR := $(PREFIX)/share/man
SUBST = sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@CONFDIR@|$(CONFDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g'

install: $(BIN_DAEMON) $(BIN_FCGI)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(CONFDIR) $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(DATADIR)/scripts $(DESTDIR)$(DATADIR)/etc/lighttpd \
		$(DESTDIR)$(DATADIR)/etc/apache2 $(DESTDIR)$(DOCDIR)
	install -m 0755 $(BIN_DAEMON) $(BIN_FCGI) $(DESTDIR)$(BINDIR)/
	@# An existing config (with its password) is never overwritten.
	test -e $(DESTDIR)$(CONFDIR)/conf.yaml || \
		install -m 0640 etc/conf.yaml.installed $(DESTDIR)$(CONFDIR)/conf.yaml
	for u in $(UNITS); do $(SUBST) etc/systemd/$$u.in > $(DESTDIR)$(UNITDIR)/$$u; done
	install -d $(DESTDIR)$(DATADIR)/etc/lighttpd/errors
	install -m 0644 etc/lighttpd/*.conf etc/lighttpd/standalone.conf.in \
		$(DESTDIR)$(DATADIR)/etc/lighttpd/
	install -m 0644 etc/lighttpd/errors/*.html $(DESTDIR)$(DATADIR)/etc/lighttpd/errors/
	install -m 0644 etc/apache2/push-service.conf etc/apache2/standalone.conf.in \
		$(DESTDIR)$(DATADIR)/etc/apache2/
	install -d $(DESTDIR)$(DATADIR)/etc/nginx
	install -m 0644 etc/nginx/push-service.conf.in etc/nginx/standalone.conf.in \
		$(DESTDIR)$(DATADIR)/etc/nginx/
	install -m 0755 scripts/lighttpd-conf.sh scripts/apache-conf.sh scripts/nginx-conf.sh \
		$(DESTDIR)$(DATADIR)/scripts/
	install -m 0644 scripts/conf-lib.sh $(DESTDIR)$(DATADIR)/scripts/
	install -m 0644 README.md $(DESTDIR)$(DOCDIR)/
	install -d $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 0644 $(BUILD)/man/push-service.yaml.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 $(BUILD)/man/ws-daemon.8 $(BUILD)/man/push-api.8 $(DESTDIR)$(MANDIR)/man8/

install: man

# The config stays: it holds the operator's password.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/ws-daemon $(DESTDIR)$(BINDIR)/push-api
	for u in $(UNITS); do rm -f $(DESTDIR)$(UNITDIR)/$$u; done
	rm -rf $(DESTDIR)$(DATADIR) $(DESTDIR)$(DOCDIR)
	rm -f $(DESTDIR)$(MANDIR)/man5/push-service.yaml.5 $(DESTDIR)$(MANDIR)/man8/ws-daemon.8 \
		$(DESTDIR)$(MANDIR)/man8/push-api.8

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
