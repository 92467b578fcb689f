// SPDX-License-Identifier: MIT
// The demo page: one uid's live stream through the JS client (../lib/ is
// clients/js/src/), with its state, numbers, gaps and acknowledgements, and a
// push form. Keys and pushes go through the demo backend (/demo/api/key,
// /demo/api/push), which needs no password: the page never holds it.
//
// Query parameters (the browser tests use them; all optional):
//   uid=U            the uid (default "demo")
//   connect=0        do not connect at load
//   autoAck=0        start with automatic acknowledgements off
//   storage=none     do not keep the position in sessionStorage
//   ws=URL           the push service's base URL (default: this page's host)
//   minDelay, maxDelay, connectTimeout   the client's backoff options (ms)
//   keyCache=1       reuse the last key until the server refuses it (what a page
//                    that caches keys does), instead of a fresh one per attempt
import { PushClient } from "./lib/push-client.js";

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
const num = (name, def) => {
    const v = Number(params.get(name));
    return params.has(name) && Number.isFinite(v) && v >= 0 ? v : def;
};

// Everything the page saw, for people (the log) and for the browser tests.
const demo = window.demo = {
    events: [],         // {event, detail, t}
    messages: [],       // {topic, number, contents}
    sockets: [],        // every WebSocket the client opened: {url, acks: [N...]}
    keyFetches: 0,
    client: null,
    serverAcked: null,
    sentAck: 0,
};

// A WebSocket that records what the client does with it: URL, acks sent.
class TrackedWebSocket extends WebSocket {
    constructor(url, protocols) {
        super(url, protocols);
        this._record = { url: String(url), acks: [] };
        demo.sockets.push(this._record);
    }
    send(data) {
        super.send(data);
        try {
            const m = JSON.parse(data);
            if (m && Number.isInteger(m.ack)) {
                this._record.acks.push(m.ack);
                demo.sentAck = m.ack;
                logLine("ack", `sent {"ack":${m.ack}}`);
                render();
            }
        } catch (_) { /* not JSON: not ours to show */ }
    }
}

let cachedKey = null;
let refused = false;

async function getKey() {
    const uid = currentUid;
    if (params.get("keyCache") === "1" && cachedKey && !refused) return cachedKey;
    refused = false;
    demo.keyFetches++;
    render();
    const res = await fetch("api/key?uid=" + encodeURIComponent(uid), { cache: "no-store" });
    const body = await res.json().catch(() => null);
    if (!res.ok || !body || body.topic !== "_access") {
        throw new Error("key request failed: " + res.status + " " + (body ? JSON.stringify(body.contents) : ""));
    }
    cachedKey = body.contents;
    return cachedKey;
}

let currentUid = params.get("uid") || "demo";
let retryAt = null;
let lastAttempt = 0;

function time() {
    const d = new Date();
    return d.toTimeString().slice(0, 8) + "." + String(d.getMilliseconds()).padStart(3, "0");
}

function logLine(kind, text) {
    const li = document.createElement("li");
    li.className = kind;
    for (const [cls, s] of [["time", time()], ["kind", kind], ["text", text]]) {
        const span = document.createElement("span");
        span.className = cls;
        span.textContent = s;
        li.appendChild(span);
    }
    const log = $("log");
    log.appendChild(li);
    while (log.children.length > 500) log.removeChild(log.firstChild);
    log.scrollTop = log.scrollHeight;
}

function record(event, detail) {
    demo.events.push({ event, detail, t: Date.now() });
}

function render() {
    const c = demo.client;
    const state = c ? c.state : "idle";
    const st = $("state");
    st.textContent = state;
    st.className = "state-" + state;
    $("attempts").textContent = String(lastAttempt);
    $("retry").textContent = retryAt === null ? "–" : Math.max(0, retryAt - Date.now()) + " ms";
    const p = c && c.position;
    $("epoch").textContent = p ? p.epoch : "–";
    $("last").textContent = p ? String(p.last) : "–";
    $("acked").textContent = (demo.serverAcked === null ? "–" : demo.serverAcked) + " / " + (demo.sentAck || "–");
    $("keys").textContent = String(demo.keyFetches);
    $("gaps").textContent = String(demo.events.filter((e) => e.event === "gap").length);
    $("curl").textContent = curlLine();
}

function makeClient(uid) {
    const storage = params.get("storage") === "none" || !$("remember").checked ? undefined : sessionStorage;
    const client = new PushClient({
        url: params.get("ws") || location.origin + "/",
        uid,
        getKey,
        storage,
        autoAck: $("auto-ack").checked,
        minDelay: num("minDelay", 500),
        maxDelay: num("maxDelay", 10000),
        connectTimeout: num("connectTimeout", 10000),
        WebSocket: TrackedWebSocket,
    });
    client.on("state", (d) => { record("state", d); if (d.state !== "reconnecting") retryAt = null; render(); });
    client.on("connecting", (d) => { record("connecting", d); lastAttempt = d.attempt; render(); });
    client.on("connected", (d) => {
        record("connected", d);
        demo.serverAcked = d.legacy ? null : d.acked;
        lastAttempt = 0;
        logLine("connected", d.legacy ? "plain stream (no resume)"
            : `epoch ${d.epoch}, last ${d.last}, acked ${d.acked}, ` +
              (d.recovered ? "nothing lost" : "NOT recovered") + `, replay from ${d.first}`);
        render();
    });
    client.on("message", (m) => {
        record("message", m);
        demo.messages.push(m);
        logLine("message", `#${m.number} ${m.topic}: ${JSON.stringify(m.contents)}`);
        render();
    });
    client.on("gap", (g) => {
        record("gap", g);
        logLine("gap", `messages ${g.from}…${g.to === null ? "?" : g.to} of epoch ${g.epoch} are lost (${g.reason})`);
        render();
    });
    client.on("disconnected", (d) => {
        record("disconnected", d);
        logLine("disconnected", `code ${d.code}${d.reason ? " (" + d.reason + ")" : ""}` +
            (d.willReconnect ? "" : ", not reconnecting"));
        render();
    });
    client.on("reconnect", (d) => {
        record("reconnect", d);
        retryAt = Date.now() + d.delay;
        lastAttempt = d.attempt;
        logLine("reconnect", `next attempt in ${d.delay} ms (${d.attempt} failed so far)`);
        render();
    });
    client.on("error", (e) => {
        record("error", { type: e.type, message: e.message, reason: e.reason });
        if (e.type === "refused") refused = true;
        logLine("error", `${e.type}: ${e.message}`);
        render();
    });
    return client;
}

function connect() {
    const uid = $("uid").value.trim() || "demo";
    if (demo.client && demo.client.state !== "closed" && uid === currentUid) {
        demo.client.connect(); // retry now if one is scheduled
        return;
    }
    if (demo.client) demo.client.close();
    if (uid !== currentUid) cachedKey = null;
    currentUid = uid;
    demo.serverAcked = null;
    demo.sentAck = 0;
    const url = new URL(location.href);
    url.searchParams.set("uid", uid);
    history.replaceState(null, "", url);
    demo.client = makeClient(uid);
    demo.client.connect();
    render();
}

function disconnect() {
    if (demo.client) demo.client.close();
    logLine("closed", "disconnected by you");
    render();
}

function pushBody() {
    let contents;
    const text = $("contents").value;
    try {
        contents = JSON.parse(text);
    } catch (_) {
        contents = text; // not JSON: sent as a string
    }
    return { topic: $("topic").value || "demo", contents };
}

function curlLine() {
    const base = params.get("ws") ? new URL(params.get("ws")).origin.replace(/^ws/, "http") : location.origin;
    const q = "uid=" + encodeURIComponent(currentUid) + ($("wait-ack").checked ? "&ack=1" : "");
    const body = JSON.stringify(pushBody()).replace(/'/g, "'\\''");
    return `curl -X POST '${base}/push?${q}' \\\n     -H 'Authorization: Bearer <password>' \\\n` +
        `     -H 'Content-Type: application/json' \\\n     -d '${body}'`;
}

// Pushes through the demo backend; answers are shown as they come.
async function push(event) {
    event.preventDefault();
    const out = $("push-result");
    const ack = $("wait-ack").checked;
    out.value = ack ? "waiting for the acknowledgement…" : "pushing…";
    try {
        const res = await fetch("api/push?uid=" + encodeURIComponent(currentUid) + (ack ? "&ack=1" : ""), {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify(pushBody()),
        });
        const body = await res.text();
        out.value = res.status + " " + body.trim();
        record("pushed", { status: res.status, body });
    } catch (error) {
        out.value = "failed: " + error.message;
    }
}

$("uid").value = currentUid;
if (params.get("autoAck") === "0") $("auto-ack").checked = false;
if (params.get("storage") === "none") $("remember").checked = false;
$("uid-form").addEventListener("submit", (e) => { e.preventDefault(); connect(); });
$("disconnect").addEventListener("click", disconnect);
$("push-form").addEventListener("submit", push);
$("ack-now").addEventListener("click", () => {
    const m = demo.messages[demo.messages.length - 1];
    if (demo.client && m) demo.client.ack(m.number);
});
$("clear").addEventListener("click", () => { $("log").textContent = ""; });
$("auto-ack").addEventListener("change", () => {
    logLine("option", "automatic acknowledgements " + ($("auto-ack").checked ? "on" : "off") + " from the next connect");
});
for (const id of ["topic", "contents", "wait-ack", "uid"]) $(id).addEventListener("input", render);
// Leaving the page (or it going into the back/forward cache) ends its connection
// at once; coming back from that cache connects again, resuming from storage.
window.addEventListener("pagehide", () => { if (demo.client) demo.client.close(); });
window.addEventListener("pageshow", (e) => { if (e.persisted && demo.client) demo.client.connect(); });
setInterval(() => { if (retryAt !== null) render(); }, 100);
render();
if (params.get("connect") !== "0") connect();
demo.ready = true;
