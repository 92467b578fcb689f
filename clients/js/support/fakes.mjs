// Test doubles for the client's injectable environment: a fake WebSocket driven by
// the test (open, receive, serverClose), a manual clock, a Map-backed storage, and
// event sources for "online" and "visibilitychange".
import { PushClient } from "../src/push-client.js";

export const EPOCH = "0123456789abcdef";
export const EPOCH2 = "fedcba9876543210";

/** Lets pending promise callbacks (getKey, handlers' promises) run. */
export function tick() {
    return new Promise((resolve) => setImmediate(resolve));
}

export class FakeClock {
    constructor() {
        this.now = 0;
        this.timers = new Map();
        this.nextId = 1;
        this.setTimeout = (fn, ms) => {
            const id = this.nextId++;
            this.timers.set(id, { at: this.now + ms, ms, fn });
            return id;
        };
        this.clearTimeout = (id) => { this.timers.delete(id); };
    }
    /** Delays of the timers still pending, in order of creation. */
    pending() {
        return [...this.timers.values()].map((t) => t.ms);
    }
    /** Moves time on by ms, firing due timers in order (and letting promises settle). */
    async advance(ms) {
        const end = this.now + ms;
        for (;;) {
            let next = null;
            for (const [id, t] of this.timers) if (t.at <= end && (!next || t.at < next[1].at)) next = [id, t];
            if (!next) break;
            this.timers.delete(next[0]);
            this.now = next[1].at;
            next[1].fn();
            await tick();
        }
        this.now = end;
        await tick();
    }
}

export class MemoryStorage {
    constructor() { this.map = new Map(); }
    getItem(k) { return this.map.has(k) ? this.map.get(k) : null; }
    setItem(k, v) { this.map.set(k, String(v)); }
    removeItem(k) { this.map.delete(k); }
}

/** One environment: env.sockets lists every socket the client made, env.keys the
 *  keys getKey() handed out; env.client(options) makes a client wired to it. */
export function makeEnv() {
    const env = {
        sockets: [],
        keys: [],
        keyError: null,
        clock: new FakeClock(),
        randomValue: 0.5,
        storage: new MemoryStorage(),
        window: new EventTarget(),
        document: Object.assign(new EventTarget(), { visibilityState: "visible" }),
    };
    env.WebSocket = class FakeWebSocket {
        constructor(url) {
            this.url = url;
            this.query = new URL(url).searchParams;
            this.sent = [];
            this.closeCalls = [];
            this.onopen = this.onmessage = this.onclose = this.onerror = null;
            env.sockets.push(this);
        }
        send(data) { this.sent.push(data); }
        close(code, reason) { this.closeCalls.push([code, reason]); }
        // Driven by the test, as the server would:
        open() { if (this.onopen) this.onopen({}); }
        receive(frame) {
            if (this.onmessage) this.onmessage({ data: typeof frame === "string" ? frame : JSON.stringify(frame) });
        }
        serverClose(code, reason = "") {
            if (this.onclose) this.onclose({ code, reason, wasClean: code !== 1006 });
        }
        fail() { if (this.onerror) this.onerror({}); }
        get acks() { return this.sent.map((s) => JSON.parse(s).ack); }
    };
    env.getKey = async () => {
        if (env.keyError) throw env.keyError;
        const key = "key" + (env.keys.length + 1);
        env.keys.push(key);
        return key;
    };
    env.last = () => env.sockets[env.sockets.length - 1];
    env.client = (options = {}) => {
        const client = new PushClient({
            url: "wss://push.example/",
            uid: "42",
            getKey: env.getKey,
            WebSocket: env.WebSocket,
            setTimeout: env.clock.setTimeout,
            clearTimeout: env.clock.clearTimeout,
            random: () => env.randomValue,
            window: env.window,
            document: env.document,
            ...options,
        });
        env.events = [];
        for (const name of ["state", "connecting", "connected", "disconnected", "reconnect", "message", "gap", "error"])
            client.on(name, (detail) => { env.events.push([name, detail]); });
        env.of = (name) => env.events.filter((e) => e[0] === name).map((e) => e[1]);
        return client;
    };
    /** Connects (or waits for the pending attempt) and has the server accept it. */
    env.accept = async (position = { epoch: EPOCH, last: 0, acked: 0, recovered: true, first: 1 }) => {
        await tick();
        const ws = env.last();
        ws.open();
        ws.receive({ control: "position", ...position });
        return ws;
    };
    return env;
}

export function push(number, topic = "t", contents = { n: number }) {
    return { topic, number, contents };
}
