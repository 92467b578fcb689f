// Connecting, keys, close codes, reconnect triggers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PushClient } from "../src/push-client.js";
import { makeEnv, tick, EPOCH } from "../support/fakes.mjs";

test("connect: a fresh key per attempt, since=now, states and events in order", async () => {
    const env = makeEnv();
    const client = env.client({ uid: "user 42/ü" });
    assert.equal(client.state, "idle");
    client.connect();
    assert.equal(client.state, "connecting");
    await tick();
    const ws = env.last();
    assert.equal(ws.url.split("?")[0], "wss://push.example/ws");
    assert.equal(ws.query.get("uid"), "user 42/ü");
    assert.equal(ws.query.get("access_key"), "key1");
    assert.equal(ws.query.get("since"), "now");
    assert.equal(ws.query.get("epoch"), null);
    ws.open();
    assert.equal(client.state, "connecting", "connected only once the server sent the position");
    ws.receive({ control: "position", epoch: EPOCH, last: 7, acked: 5, recovered: true, first: 8 });
    assert.equal(client.state, "connected");
    assert.deepEqual(client.position, { epoch: EPOCH, last: 7 });
    assert.deepEqual(env.of("connected"), [{ epoch: EPOCH, last: 7, acked: 5, recovered: true, first: 8, legacy: false }]);

    ws.serverClose(1006);
    await env.clock.advance(250);
    assert.equal(env.sockets.length, 2);
    assert.equal(env.last().query.get("access_key"), "key2", "never the expired key again");
    assert.deepEqual(env.keys, ["key1", "key2"]);
    assert.deepEqual(env.events.map((e) => e[0] === "state" ? "state:" + e[1].state : e[0]), [
        "state:connecting", "connecting", "state:connected", "connected",
        "disconnected", "state:reconnecting", "reconnect", "state:connecting", "connecting",
    ]);
});

test("url: http(s) becomes ws(s), /ws is appended unless there, query dropped", () => {
    const env = makeEnv();
    const cases = [
        ["https://example.com/push-service/", "wss://example.com/push-service/ws"],
        ["http://localhost:8080", "ws://localhost:8080/ws"],
        ["wss://h/ws", "wss://h/ws"],
        ["ws://h/a/ws?x=1", "ws://h/a/ws"],
    ];
    for (const [url, want] of cases) assert.equal(env.client({ url })._url, want);
    assert.throws(() => env.client({ url: "/only-a-path" }), /options.url/, "a path needs a page's location");
    assert.throws(() => env.client({ getKey: undefined }), /getKey/);
    assert.throws(() => env.client({ uid: "" }), /uid/);
    assert.throws(() => env.client({ from: "start" }), /from/);
});

test("from: \"acked\" asks to resume after the uid's highest acknowledged number", async () => {
    const env = makeEnv();
    env.client({ from: "acked" }).connect();
    await tick();
    assert.equal(env.last().query.get("since"), "acked");
});

test("1008: the refusal reason is reported, a new key is fetched at once, once; then backoff", async () => {
    const env = makeEnv();
    const client = env.client();
    client.connect();
    await tick();
    const refuse = (ws) => {
        ws.open();
        ws.receive({ topic: "error", number: 0, contents: "access_key has expired" });
        ws.serverClose(1008);
    };
    refuse(env.last());
    assert.deepEqual(env.of("error")[0], { type: "refused", message: "access_key has expired", reason: "access_key has expired" });
    assert.equal(env.of("disconnected")[0].reason, "access_key has expired");
    assert.equal(env.of("message").length, 0, "the refusal is not a message");
    assert.deepEqual(env.of("reconnect")[0], { delay: 0, attempt: 0, code: 1008 });
    await env.clock.advance(0);
    assert.equal(env.last().query.get("access_key"), "key2");

    refuse(env.last());
    assert.deepEqual(env.of("reconnect")[1], { delay: 250, attempt: 1, code: 1008 }, "the second refusal backs off");
    await env.clock.advance(250);
    refuse(env.last());
    assert.equal(env.of("reconnect")[2].delay, 500);
    assert.equal(client.state, "reconnecting");

    // An accepted connection gives the immediate retry back.
    await env.clock.advance(500);
    const ws = await env.accept();
    ws.serverClose(1006);
    await env.clock.advance(250);
    refuse(env.last());
    assert.equal(env.of("reconnect").at(-1).delay, 0);
});

test("1013 (slow consumer) backs off, further on each repetition", async () => {
    const env = makeEnv();
    const client = env.client();
    client.connect();
    for (const want of [250, 500, 1000]) {
        const ws = await env.accept();
        ws.serverClose(1013, "slow consumer");
        assert.equal(env.of("reconnect").at(-1).delay, want);
        assert.equal(client.state, "reconnecting");
        await env.clock.advance(want);
    }
});

test("4000 (kicked): reported, no reconnect until the app connects again", async () => {
    const env = makeEnv();
    const client = env.client();
    client.connect();
    const ws = await env.accept();
    ws.serverClose(4000, "kicked");
    assert.equal(client.state, "closed");
    assert.deepEqual(env.of("disconnected")[0], { code: 4000, reason: "kicked", wasClean: true, willReconnect: false });
    assert.equal(env.of("error")[0].type, "kicked");
    assert.equal(env.of("reconnect").length, 0);
    await env.clock.advance(60000);
    assert.equal(env.sockets.length, 1);
    client.connect();
    await tick();
    assert.equal(env.sockets.length, 2);
});

for (const code of [1003, 1009]) {
    test(`${code}: reported, no reconnect`, async () => {
        const env = makeEnv();
        const client = env.client();
        client.connect();
        const ws = await env.accept();
        ws.serverClose(code, "no");
        assert.equal(client.state, "closed");
        assert.deepEqual(env.of("disconnected")[0], { code, reason: "no", wasClean: true, willReconnect: false });
        assert.equal(env.of("error")[0].type, "fatal");
        assert.equal(env.of("error")[0].code, code);
        assert.equal(env.of("reconnect").length, 0);
        assert.deepEqual(env.clock.pending(), []);
        env.window.dispatchEvent(new Event("online"));
        await env.clock.advance(60000);
        assert.equal(env.sockets.length, 1);
        client.connect(); // the app may try again explicitly
        await tick();
        assert.equal(env.sockets.length, 2);
    });
}

test("1001 (server restart): reconnect soon, with jitter, from the first step", async () => {
    const env = makeEnv();
    const client = env.client();
    client.connect();
    for (let i = 0; i < 3; i++) { // some failures first
        await tick();
        env.last().serverClose(1006);
        await env.clock.advance(env.of("reconnect").at(-1).delay);
    }
    const ws = await env.accept();
    ws.serverClose(1001, "going away");
    assert.deepEqual(env.of("reconnect").at(-1), { delay: 250, attempt: 1, code: 1001 });
    assert.equal(env.of("disconnected").at(-1).willReconnect, true);
    await env.clock.advance(250);
    assert.equal(client.state, "connecting");
});

for (const code of [1000, 1006, 1011, 1012]) {
    test(`${code}: reconnect with backoff`, async () => {
        const env = makeEnv();
        const client = env.client();
        client.connect();
        await tick();
        env.last().serverClose(code);
        assert.equal(client.state, "reconnecting");
        assert.deepEqual(env.clock.pending(), [250]);
    });
}

test("online and visibilitychange (to visible) retry at once when a reconnect is scheduled", async () => {
    const env = makeEnv();
    const client = env.client({ minDelay: 10000 });
    client.connect();
    const ws = await env.accept();
    env.window.dispatchEvent(new Event("online"));
    await tick();
    assert.equal(env.sockets.length, 1, "nothing to do while connected");

    ws.serverClose(1006);
    assert.equal(client.state, "reconnecting");
    env.window.dispatchEvent(new Event("online"));
    await tick();
    assert.equal(env.sockets.length, 2);
    assert.deepEqual(env.clock.pending(), [10000], "the scheduled retry is gone; only the connect timeout remains");

    env.last().serverClose(1006);
    env.document.visibilityState = "hidden";
    env.document.dispatchEvent(new Event("visibilitychange"));
    await tick();
    assert.equal(env.sockets.length, 2, "a hidden page waits");
    env.document.visibilityState = "visible";
    env.document.dispatchEvent(new Event("visibilitychange"));
    await tick();
    assert.equal(env.sockets.length, 3);

    client.close();
    env.window.dispatchEvent(new Event("online"));
    await tick();
    assert.equal(env.sockets.length, 3, "close() removes the listeners");
});

test("connect timeout: an attempt not accepted in time counts as a network failure", async () => {
    const env = makeEnv();
    const client = env.client({ connectTimeout: 5000 });
    client.connect();
    await tick();
    const ws = env.last();
    await env.clock.advance(5000);
    assert.deepEqual(ws.closeCalls.length, 1);
    assert.deepEqual(env.of("disconnected")[0], { code: 1006, reason: "connect timeout", wasClean: false, willReconnect: true });
    assert.equal(client.state, "reconnecting");
    ws.serverClose(1006); // the late close event of the abandoned socket changes nothing
    assert.equal(env.of("disconnected").length, 1);

    // Once open, the timeout is over (a server without resume may be silent).
    await env.clock.advance(250);
    env.last().open();
    await env.clock.advance(60000);
    assert.equal(env.of("disconnected").length, 1);
    assert.equal(client.state, "connecting", "connected comes with the position frame");
});

test("an error event counts as the 1006 close (some WebSockets never send the close)", async () => {
    const env = makeEnv();
    const client = env.client();
    client.connect();
    await tick();
    const ws = env.last();
    ws.fail();
    assert.deepEqual(env.of("disconnected"), [{ code: 1006, reason: "", wasClean: false, willReconnect: true }]);
    assert.equal(ws.closeCalls.length, 1);
    ws.serverClose(1006); // a browser's close event after the error: ignored
    assert.equal(env.of("disconnected").length, 1);
    assert.deepEqual(env.clock.pending(), [250]);
});

test("getKey failure: reported, retried with backoff", async () => {
    const env = makeEnv();
    env.keyError = new Error("backend down");
    const client = env.client();
    client.connect();
    await tick();
    assert.equal(env.sockets.length, 0);
    assert.equal(env.of("error")[0].type, "key");
    assert.equal(env.of("error")[0].message, "backend down");
    assert.deepEqual(env.of("reconnect")[0], { delay: 250, attempt: 1, code: null });
    env.keyError = null;
    await env.clock.advance(250);
    assert.equal(env.sockets.length, 1);
    assert.equal(client.state, "connecting");
});

test("close(): 1000, no reconnect; close during getKey makes no socket; connect() again resumes", async () => {
    const env = makeEnv();
    const client = env.client();
    client.connect();
    const ws = await env.accept();
    ws.receive({ topic: "t", number: 1, contents: 1 });
    client.close();
    assert.deepEqual(ws.closeCalls, [[1000, undefined]]);
    assert.equal(client.state, "closed");
    assert.deepEqual(env.of("disconnected").at(-1), { code: 1000, reason: "closed by the client", wasClean: true, willReconnect: false });
    ws.serverClose(1000); // the socket's own close event comes later: ignored
    assert.equal(env.of("disconnected").length, 1);
    assert.deepEqual(env.clock.pending(), []);

    client.connect();
    client.close(); // getKey() is still pending
    await tick();
    assert.equal(env.sockets.length, 1);
    assert.equal(client.state, "closed");

    client.connect();
    await tick();
    assert.equal(env.last().query.get("since"), "1");
    assert.equal(env.last().query.get("epoch"), EPOCH);
});

test("a listener may close() from disconnected; reconnect does not happen", async () => {
    const env = makeEnv();
    const client = env.client();
    client.on("disconnected", () => client.close());
    client.connect();
    const ws = await env.accept();
    ws.serverClose(1006);
    assert.equal(client.state, "closed");
    assert.deepEqual(env.clock.pending(), []);
});

test("no WebSocket available: a fatal error, not a loop", async () => {
    const client = new PushClient({ url: "wss://x", uid: 1, getKey: () => "k", WebSocket: null, window: null, document: null });
    const errors = [];
    client.on("error", (e) => errors.push(e));
    // Node 20 has no global WebSocket unless flagged; make sure this test does not depend on it.
    client._WebSocket = undefined;
    client.connect();
    await tick();
    assert.equal(client.state, "closed");
    assert.equal(errors[0].type, "fatal");
});
