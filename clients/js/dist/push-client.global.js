/*! push-service-client 0.2.0 | classic-script build of src/push-client.js (node build.mjs); do not edit */
(function (root) {
"use strict";

// push-service-client: the browser side of push-service, as one dependency-free
// ES module. It keeps one WebSocket to <url>/ws open for one uid: a fresh access
// key for every attempt, reconnection with capped exponential backoff and full
// jitter, resume from the last message seen (since/epoch), at-most-once delivery
// to the app, and acknowledgements. See ../README.md for the protocol.
//
// build.mjs turns this file into the classic script dist/push-client.global.js:
// keep every export a plain `export class|function|const` or `export default`.

/** Close codes after which reconnecting cannot help: the server would refuse the
 *  same client again (binary or unacceptable data, protocol error, invalid UTF-8,
 *  a message too big). Reported, never retried. */
const FATAL_CODES = [1002, 1003, 1007, 1009];
const POLICY_VIOLATION = 1008; // the access key was refused
const TRY_AGAIN_LATER = 1013; // slow consumer, or too many tabs of the uid: back off
const KICKED = 4000; // the business server closed this uid's connections (/kick)
const EPOCH_RE = /^[0-9a-f]{16}$/;

/**
 * Delay before reconnection attempt number `attempt` (0 for the first retry):
 * "full jitter", uniform in [0, min(maxDelay, minDelay * factor^attempt)).
 */
function backoffDelay(attempt, { minDelay = 500, maxDelay = 30000, factor = 2 } = {}, random = Math.random) {
    const ceiling = Math.min(maxDelay, minDelay * Math.pow(factor, attempt));
    return Math.floor(random() * ceiling);
}

function isCount(n) {
    return typeof n === "number" && Number.isSafeInteger(n) && n >= 0;
}

/** `base` (ws:, wss:, http:, https:, or a path taken against the page's location)
 *  made into the /ws endpoint's URL, without a query. */
function endpoint(base, location) {
    const url = new URL(base, location ? location.href : undefined);
    if (url.protocol === "http:") url.protocol = "ws:";
    else if (url.protocol === "https:") url.protocol = "wss:";
    if (!/\/ws$/.test(url.pathname)) url.pathname = url.pathname.replace(/\/*$/, "/ws");
    url.search = "";
    url.hash = "";
    return url.href;
}

class PushClient {
    /**
     * @param {object} options see push-client.d.ts and the README for each one.
     */
    constructor(options) {
        const o = options || {};
        if (typeof o.getKey !== "function") throw new TypeError("PushClient: options.getKey must be a function");
        if (o.uid === undefined || o.uid === null || String(o.uid) === "") throw new TypeError("PushClient: options.uid is required");
        if (o.from !== undefined && o.from !== "now" && o.from !== "acked") throw new TypeError('PushClient: options.from must be "now" or "acked"');
        const g = typeof globalThis !== "undefined" ? globalThis : {};

        this.uid = String(o.uid);
        this._getKey = o.getKey;
        this._from = o.from || "now";
        this._resume = o.resume !== false;
        this._autoAck = !!o.autoAck;
        this._ackDelay = o.ackDelay || 0;
        this._backoff = {
            minDelay: o.minDelay !== undefined ? o.minDelay : 500,
            maxDelay: o.maxDelay !== undefined ? o.maxDelay : 30000,
            factor: o.factor !== undefined ? o.factor : 2,
        };
        this._connectTimeout = o.connectTimeout !== undefined ? o.connectTimeout : 10000;
        // Everything that touches the browser is replaceable, for tests and for
        // other environments. Timers are wrapped: browsers refuse a setTimeout
        // called with another `this`.
        this._WebSocket = o.WebSocket || g.WebSocket;
        this._setTimeout = o.setTimeout || ((fn, ms) => setTimeout(fn, ms));
        this._clearTimeout = o.clearTimeout || ((id) => clearTimeout(id));
        this._random = o.random || Math.random;
        this._storage = o.storage || null;
        this._storageKey = o.storageKey || "push-client:" + this.uid;
        this._window = o.window !== undefined ? o.window : (g.window || null);
        this._document = o.document !== undefined ? o.document : (g.document || null);
        try {
            this._url = endpoint(o.url !== undefined ? String(o.url) : "/ws", g.location);
        } catch (_) {
            throw new TypeError("PushClient: options.url must be a ws:, wss:, http: or https: URL (or a path, in a page)");
        }

        this._listeners = Object.create(null);
        this._state = "idle";
        this._ws = null;          // the current socket; handlers of older ones are ignored
        this._conn = null;        // per-socket facts: {opened, established, legacy, refusal}
        this._run = 0;            // bumped by close(): pending awaits of older runs give up
        this._attempt = 0;        // failed attempts since the last established connection
        this._keyRetried = false; // the one immediate retry after a 1008 is used up
        this._listening = false;
        this._retryTimer = null;
        this._connectTimer = null;
        this._ackTimer = null;
        // Position: the epoch and the last number the app was given.
        this._position = this._load();
        // Acknowledgements: the highest number sent as {"ack":N} in ackEpoch, the
        // number waiting to be sent, and (autoAck) the delivered messages whose
        // handlers have not finished, oldest first.
        this._ackEpoch = this._position ? this._position.epoch : null;
        this._ackSent = 0;
        this._ackPending = 0;
        this._inflight = [];

        this._onOnline = () => this._retryNow();
        this._onVisibility = () => {
            if (this._document && this._document.visibilityState === "visible") this._retryNow();
        };
    }

    /** "idle" | "connecting" | "connected" | "reconnecting" | "closed" */
    get state() {
        return this._state;
    }

    /** {epoch, last} of the last message given to the app, or null. */
    get position() {
        return this._position ? { epoch: this._position.epoch, last: this._position.last } : null;
    }

    // ---- events -----------------------------------------------------------

    /** Calls fn(detail) on each `event`; returns a function that removes it. */
    on(event, fn) {
        (this._listeners[event] || (this._listeners[event] = [])).push(fn);
        return () => this.off(event, fn);
    }

    off(event, fn) {
        const list = this._listeners[event];
        if (list) {
            const i = list.indexOf(fn);
            if (i >= 0) list.splice(i, 1);
        }
    }

    /** Calls the listeners; returns what they returned. A listener that throws
     *  becomes an "error" event of type "listener". */
    _emit(event, detail) {
        const list = this._listeners[event];
        const results = [];
        if (!list) return results;
        for (const fn of list.slice()) {
            try {
                results.push(fn.call(this, detail));
            } catch (error) {
                if (event === "error") rethrow(error); // cannot loop
                else this._listenerFailed(event, error);
            }
        }
        return results;
    }

    /** An app's listener threw (or its promise rejected): an "error" event, or,
     *  with no error listener, an unhandled rejection the console shows. */
    _listenerFailed(event, error) {
        const list = this._listeners.error;
        if (list && list.length) this._emit("error", { type: "listener", event, message: messageOf(error), error });
        else rethrow(error);
    }

    _setState(state) {
        if (state === this._state) return;
        const previous = this._state;
        this._state = state;
        this._emit("state", { state, previous });
    }

    // ---- public methods ---------------------------------------------------

    /** Starts (or restarts after close()); a scheduled reconnect happens now. */
    connect() {
        if (this._state === "connecting" || this._state === "connected") return;
        if (this._state === "closed") {
            // Asked for again after close() or a fatal close: start afresh.
            this._attempt = 0;
            this._keyRetried = false;
        }
        this._listen(true);
        this._clearRetry();
        this._open();
    }

    /** Closes the socket (1000) and stops reconnecting, until connect(). */
    close() {
        if (this._state === "idle" || this._state === "closed") return;
        this._run++;
        this._listen(false);
        this._clearRetry();
        this._clearConnectTimer();
        this._flushAck(); // an acknowledgement still waiting for ackDelay
        const ws = this._ws;
        this._ws = null;
        this._conn = null;
        if (ws) {
            detach(ws);
            try { ws.close(1000); } catch (_) { /* already closing */ }
            this._emit("disconnected", { code: 1000, reason: "closed by the client", wasClean: true, willReconnect: false });
        }
        this._setState("closed");
    }

    /** Acknowledges every message up to `number` of the current epoch: sent now
     *  when connected, otherwise once connected again (dropped if the epoch
     *  changed meanwhile). Lower numbers than one already sent are ignored. */
    ack(number) {
        if (!isCount(number) || number === 0) throw new TypeError("PushClient.ack: number must be a positive integer");
        this._queueAck(number, this._ackEpoch);
    }

    // ---- connecting -------------------------------------------------------

    async _open() {
        const run = this._run;
        this._setState("connecting");
        this._emit("connecting", { attempt: this._attempt });
        let key;
        try {
            key = await this._getKey();
            if (typeof key !== "string" || key === "") throw new TypeError("getKey() returned no key");
        } catch (error) {
            if (run !== this._run) return;
            this._emit("error", { type: "key", message: messageOf(error), error });
            this._retryLater(null);
            return;
        }
        if (run !== this._run) return; // close() was called while we waited

        let ws;
        try {
            if (typeof this._WebSocket !== "function") throw new TypeError("no WebSocket: pass options.WebSocket");
            ws = new this._WebSocket(this._connectUrl(key));
        } catch (error) {
            // A URL the WebSocket constructor refuses will never work.
            this._emit("error", { type: "fatal", message: messageOf(error), error });
            this._stop();
            return;
        }
        this._ws = ws;
        this._conn = { opened: false, established: false, legacy: !this._resume, refusal: "" };
        ws.onopen = () => {
            if (ws !== this._ws) return;
            this._conn.opened = true;
            this._clearConnectTimer();
            if (this._conn.legacy) this._established({ epoch: null, legacy: true });
        };
        ws.onmessage = (event) => {
            if (ws === this._ws) this._frame(event.data);
        };
        ws.onclose = (event) => {
            if (ws === this._ws) this._closed(event.code, event.reason || "", !!event.wasClean);
        };
        // A WebSocket fires "error" only when the connection failed, and browsers
        // follow it with close 1006; some implementations (Node 20's) never do.
        // So an error is the 1006 at once.
        ws.onerror = () => {
            if (ws !== this._ws) return;
            detach(ws);
            try { ws.close(); } catch (_) { /* failed already */ }
            this._closed(1006, "", false);
        };
        // The opening handshake may hang (a black-holed network): give up on it
        // after connectTimeout. Once open, the server answers at once (position
        // frame, or error frame and 1008); a server without resume may stay
        // silent until its first push, which is fine.
        if (this._connectTimeout > 0) {
            this._connectTimer = this._setTimeout(() => {
                this._connectTimer = null;
                if (ws !== this._ws || this._conn.opened) return;
                detach(ws);
                try { ws.close(); } catch (_) { /* still connecting */ }
                this._closed(1006, "connect timeout", false);
            }, this._connectTimeout);
        }
    }

    /** The /ws URL of one attempt: a known position resumes after it; without one,
     *  `from` says where to start; resume:false asks for the plain stream. */
    _connectUrl(key) {
        let q = "?uid=" + encodeURIComponent(this.uid) + "&access_key=" + encodeURIComponent(key);
        if (this._resume) {
            const p = this._position;
            q += p ? "&since=" + p.last + "&epoch=" + p.epoch : "&since=" + this._from;
        }
        return this._url + q;
    }

    /** The server accepted us: the position frame (or, for the plain stream,
     *  the open). */
    _established(detail) {
        const conn = this._conn;
        if (conn.established) return;
        conn.established = true;
        if (conn.legacy) {
            // Numbers of the plain stream carry no epoch: acknowledge them as they come.
            this._ackEpoch = null;
            this._ackSent = 0;
            this._ackPending = 0;
            this._inflight = [];
        }
        this._clearConnectTimer();
        this._setState("connected");
        this._emit("connected", detail);
        this._flushAck();
    }

    // ---- frames -----------------------------------------------------------

    _frame(data) {
        let msg;
        try {
            if (typeof data !== "string") throw new TypeError("binary frame");
            msg = JSON.parse(data);
            if (!msg || typeof msg !== "object" || Array.isArray(msg)) throw new TypeError("not a JSON object");
        } catch (error) {
            this._emit("error", { type: "protocol", message: "unexpected frame: " + messageOf(error), error });
            return;
        }
        const conn = this._conn;
        if (typeof msg.control === "string") {
            if (msg.control === "position") {
                if (!conn.legacy) this._positionFrame(msg);
            }
            else if (msg.control === "error") this._emit("error", { type: "server", message: String(msg.reason), reason: msg.reason });
            // Other control frames are for later versions: ignored.
            return;
        }
        if (msg.topic === "error" && msg.number === 0) {
            // The reason of a refused key, sent just before Close 1008.
            conn.refusal = typeof msg.contents === "string" ? msg.contents : JSON.stringify(msg.contents);
            this._emit("error", { type: "refused", message: conn.refusal, reason: conn.refusal });
            return;
        }
        if (!conn.established) {
            // A push before any position frame: a server without resume. Take
            // the plain stream as it comes, without positions.
            conn.legacy = true;
            this._established({ epoch: null, legacy: true });
        }
        this._deliver(msg);
    }

    /** {"control":"position","epoch","last","acked","recovered","first"} */
    _positionFrame(f) {
        if (!EPOCH_RE.test(f.epoch) || !isCount(f.last)) {
            this._emit("error", { type: "protocol", message: "malformed position frame" });
            return;
        }
        const old = this._position;
        // The messages that follow start at `first`: everything before is either
        // seen (recovered) or gone.
        const first = isCount(f.first) && f.first > 0 ? f.first : f.last + 1;
        const acked = isCount(f.acked) ? f.acked : 0;
        if (old && old.epoch !== f.epoch) {
            // The server's numbers restarted: what we had not seen of the old
            // epoch is lost, and so is whatever of the new one is not replayed.
            if (f.recovered === false) this._gap(old.epoch, old.last + 1, null, "epoch");
            if (first > 1) this._gap(f.epoch, 1, first - 1, "evicted");
            this._setPosition(f.epoch, first - 1);
        } else if (old) {
            if (f.recovered === false && first > old.last + 1) this._gap(f.epoch, old.last + 1, first - 1, "evicted");
            this._setPosition(f.epoch, Math.max(old.last, first - 1));
        } else {
            // since=now or since=acked: nothing seen here before.
            if (this._from === "acked" && f.recovered === false && first > acked + 1) this._gap(f.epoch, acked + 1, first - 1, "evicted");
            this._setPosition(f.epoch, first - 1);
        }
        if (this._ackEpoch !== f.epoch) {
            this._ackEpoch = f.epoch;
            this._ackSent = 0;
            this._ackPending = 0;
            this._inflight = [];
        }
        this._ackSent = Math.max(this._ackSent, acked);
        this._established({ epoch: f.epoch, last: f.last, acked, recovered: f.recovered !== false, first, legacy: false });
    }

    _gap(epoch, from, to, reason) {
        this._emit("gap", { epoch, from, to, reason });
    }

    _deliver(msg) {
        const conn = this._conn;
        let epoch = null;
        if (!conn.legacy && isCount(msg.number)) {
            const p = this._position;
            if (msg.number <= p.last) return; // seen already: never twice
            this._setPosition(p.epoch, msg.number);
            epoch = p.epoch;
        }
        const tracked = this._autoAck && isCount(msg.number) && msg.number > 0;
        const entry = tracked ? { number: msg.number, epoch, done: false, list: this._inflight } : null;
        if (entry) this._inflight.push(entry);
        const results = this._emit("message", msg);
        if (!entry) return;
        const thenables = results.filter((r) => r && typeof r.then === "function");
        const done = () => this._settled(entry);
        if (thenables.length === 0) done();
        else Promise.all(thenables).then(done, (error) => {
            this._listenerFailed("message", error);
            done();
        });
    }

    // ---- acknowledgements ---------------------------------------------------

    /** A message's handlers finished (autoAck). Acks are cumulative, so only the
     *  end of the finished prefix of the delivered messages may be acknowledged.
     *  A handler that failed is reported and counts as finished: holding its
     *  number back would hold back every later one too. */
    _settled(entry) {
        entry.done = true;
        const list = entry.list;
        if (list !== this._inflight) return; // from an epoch that is over
        let top = null;
        while (list.length && list[0].done) top = list.shift();
        if (top) this._queueAck(top.number, top.epoch);
    }

    /** Acknowledge `number` of `epoch`: at once, or after ackDelay (the highest
     *  number of that window only). */
    _queueAck(number, epoch) {
        if (epoch !== this._ackEpoch) return; // a number of an epoch that is over means nothing
        if (number <= this._ackSent || number <= this._ackPending) return;
        this._ackPending = number;
        if (this._ackDelay > 0) {
            if (this._ackTimer === null) this._ackTimer = this._setTimeout(() => {
                this._ackTimer = null;
                this._flushAck();
            }, this._ackDelay);
        } else {
            this._flushAck();
        }
    }

    /** Sends the waiting acknowledgement if the connection is up; otherwise it
     *  waits for the next one (see _established). */
    _flushAck() {
        this._clearAckTimer();
        if (this._ackPending <= this._ackSent) this._ackPending = 0;
        const ws = this._ws;
        if (!this._ackPending || !ws || !this._conn || !this._conn.established) return;
        const n = this._ackPending;
        try {
            ws.send(JSON.stringify({ ack: n }));
        } catch (_) {
            return; // closing: sent after the next connect
        }
        this._ackSent = n;
        this._ackPending = 0;
    }

    // ---- closing and reconnecting -----------------------------------------

    _closed(code, reason, wasClean) {
        const conn = this._conn;
        this._ws = null;
        this._conn = null;
        this._clearConnectTimer();
        reason = reason || conn.refusal;
        // A connection the server accepted (not a key refusal) resets the
        // backoff, except a slow consumer's: repeated 1013s back off further.
        if (conn.established && !conn.refusal && code !== POLICY_VIOLATION) {
            this._keyRetried = false;
            if (code !== TRY_AGAIN_LATER) this._attempt = 0;
        }
        const fatal = FATAL_CODES.indexOf(code) >= 0 || code === KICKED;
        this._emit("disconnected", { code, reason, wasClean, willReconnect: !fatal });
        if (this._state === "closed") return; // a listener called close()
        if (code === KICKED) {
            // Logged out or moved elsewhere by the app's own server: coming back
            // is the app's decision (connect() again), not ours.
            this._emit("error", { type: "kicked", code, message: "closed by the server (" + (reason || "kicked") + "); not reconnecting" });
            this._stop();
        } else if (fatal) {
            this._emit("error", { type: "fatal", code, message: "closed with " + code + (reason ? ": " + reason : "") + "; not reconnecting" });
            this._stop();
        } else if (code === POLICY_VIOLATION && !this._keyRetried) {
            // The key was refused (expired, rotated): a new one at once, once.
            this._keyRetried = true;
            this._schedule(0, code);
        } else {
            // 1001/1012 (restart), 1006 (network, or a refused handshake), 1011,
            // 1013, a second 1008, 1000 from the server, anything else.
            this._retryLater(code);
        }
    }

    _retryLater(code) {
        const delay = backoffDelay(this._attempt, this._backoff, this._random);
        this._attempt++;
        this._schedule(delay, code);
    }

    _schedule(delay, code) {
        this._setState("reconnecting");
        this._emit("reconnect", { delay, attempt: this._attempt, code });
        if (this._state !== "reconnecting") return; // a listener called connect() or close()
        this._retryTimer = this._setTimeout(() => {
            this._retryTimer = null;
            this._open();
        }, delay);
    }

    /** The browser came online or the page became visible: do not wait. */
    _retryNow() {
        if (this._state !== "reconnecting") return;
        this._clearRetry();
        this._open();
    }

    _stop() {
        this._listen(false);
        this._clearRetry();
        this._setState("closed");
    }

    _listen(on) {
        if (on === this._listening) return;
        this._listening = on;
        const method = on ? "addEventListener" : "removeEventListener";
        if (this._window && this._window[method]) this._window[method]("online", this._onOnline);
        if (this._document && this._document[method]) this._document[method]("visibilitychange", this._onVisibility);
    }

    _clearRetry() {
        if (this._retryTimer !== null) this._clearTimeout(this._retryTimer);
        this._retryTimer = null;
    }

    _clearConnectTimer() {
        if (this._connectTimer !== null) this._clearTimeout(this._connectTimer);
        this._connectTimer = null;
    }

    _clearAckTimer() {
        if (this._ackTimer !== null) this._clearTimeout(this._ackTimer);
        this._ackTimer = null;
    }

    // ---- position storage --------------------------------------------------

    _setPosition(epoch, last) {
        const p = this._position;
        if (p && p.epoch === epoch && p.last === last) return;
        this._position = { epoch, last };
        if (!this._storage) return;
        try {
            this._storage.setItem(this._storageKey, JSON.stringify(this._position));
        } catch (error) {
            this._emit("error", { type: "storage", message: messageOf(error), error });
        }
    }

    _load() {
        if (!this._storage) return null;
        try {
            const p = JSON.parse(this._storage.getItem(this._storageKey));
            if (p && EPOCH_RE.test(p.epoch) && isCount(p.last)) return { epoch: p.epoch, last: p.last };
        } catch (_) { /* nothing stored, or not ours */ }
        return null;
    }
}

function messageOf(error) {
    return String(error && error.message || error);
}

/** Reports an error nobody handles without breaking the caller's flow. */
function rethrow(error) {
    Promise.reject(error);
}

function detach(ws) {
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
}

PushClient.backoffDelay = backoffDelay;
root.PushClient = PushClient;
})(typeof globalThis !== "undefined" ? globalThis : typeof self !== "undefined" ? self : this);
