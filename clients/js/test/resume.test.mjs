// Positions, gaps, duplicates, storage, control frames, the plain stream.
import { test } from "node:test";
import assert from "node:assert/strict";
import { makeEnv, tick, push, EPOCH, EPOCH2 } from "../support/fakes.mjs";

test("messages reach the app exactly as the server sent them", async () => {
    const env = makeEnv();
    const client = env.client();
    client.connect();
    const ws = await env.accept();
    const frame = '{"topic":"info_update","number":1,"contents":{"name":"张三","age":17,"big":[1,2.5,null]}}';
    ws.receive(frame);
    assert.deepEqual(env.of("message"), [JSON.parse(frame)]);
    assert.deepEqual(client.position, { epoch: EPOCH, last: 1 });
});

test("resume: the reconnect URL carries since and epoch of the last message seen", async () => {
    const env = makeEnv();
    const client = env.client();
    client.connect();
    const ws = await env.accept({ epoch: EPOCH, last: 4, acked: 0, recovered: true, first: 5 });
    ws.receive(push(5));
    ws.receive(push(6));
    ws.serverClose(1006);
    await env.clock.advance(250);
    assert.equal(env.last().query.get("since"), "6");
    assert.equal(env.last().query.get("epoch"), EPOCH);
});

test("position frame, recovered: the replay is delivered in order, no gap", async () => {
    const env = makeEnv();
    const client = env.client();
    client.connect();
    let ws = await env.accept({ epoch: EPOCH, last: 3, acked: 0, recovered: true, first: 4 });
    ws.receive(push(4));
    ws.serverClose(1001);
    await env.clock.advance(250);
    ws = await env.accept({ epoch: EPOCH, last: 7, acked: 0, recovered: true, first: 5 });
    for (const n of [5, 6, 7, 8]) ws.receive(push(n));
    assert.deepEqual(env.of("message").map((m) => m.number), [4, 5, 6, 7, 8]);
    assert.deepEqual(env.of("gap"), []);
    assert.deepEqual(env.of("connected").at(-1), { epoch: EPOCH, last: 7, acked: 0, recovered: true, first: 5, legacy: false });
});

test("position frame, evicted: a gap since+1 .. first-1, then the rest", async () => {
    const env = makeEnv();
    const client = env.client();
    client.connect();
    let ws = await env.accept({ epoch: EPOCH, last: 5, acked: 0, recovered: true, first: 6 });
    ws.serverClose(1006);
    await env.clock.advance(250);
    ws = await env.accept({ epoch: EPOCH, last: 12, acked: 0, recovered: false, first: 9 });
    assert.deepEqual(env.of("gap"), [{ epoch: EPOCH, from: 6, to: 8, reason: "evicted" }]);
    assert.deepEqual(client.position, { epoch: EPOCH, last: 8 }, "the gap is not reported again on the next reconnect");
    for (const n of [9, 10, 11, 12]) ws.receive(push(n));
    assert.deepEqual(env.of("message").map((m) => m.number), [9, 10, 11, 12]);
});

test("position frame, epoch changed: gap of the old epoch, position reset to the new one", async () => {
    const env = makeEnv();
    env.storage.setItem("push-client:42", JSON.stringify({ epoch: EPOCH, last: 7 }));
    const client = env.client({ storage: env.storage });
    client.connect();
    await tick();
    assert.equal(env.last().query.get("since"), "7");
    assert.equal(env.last().query.get("epoch"), EPOCH);
    const ws = await env.accept({ epoch: EPOCH2, last: 2, acked: 0, recovered: false, first: 1 });
    assert.deepEqual(env.of("gap"), [{ epoch: EPOCH, from: 8, to: null, reason: "epoch" }]);
    assert.deepEqual(client.position, { epoch: EPOCH2, last: 0 });
    ws.receive(push(1));
    ws.receive(push(2));
    ws.receive(push(3));
    assert.deepEqual(env.of("message").map((m) => m.number), [1, 2, 3], "low numbers of the new epoch are not duplicates");
    assert.deepEqual(JSON.parse(env.storage.getItem("push-client:42")), { epoch: EPOCH2, last: 3 });
});

test("position frame, epoch changed and the new epoch's start evicted: two gaps", async () => {
    const env = makeEnv();
    env.storage.setItem("push-client:42", JSON.stringify({ epoch: EPOCH, last: 7 }));
    const client = env.client({ storage: env.storage });
    client.connect();
    await env.accept({ epoch: EPOCH2, last: 10, acked: 0, recovered: false, first: 4 });
    assert.deepEqual(env.of("gap"), [
        { epoch: EPOCH, from: 8, to: null, reason: "epoch" },
        { epoch: EPOCH2, from: 1, to: 3, reason: "evicted" },
    ]);
    assert.deepEqual(client.position, { epoch: EPOCH2, last: 3 });
});

test("from: \"acked\": unacknowledged messages replayed; evicted ones reported", async () => {
    const env = makeEnv();
    const client = env.client({ from: "acked" });
    client.connect();
    const ws = await env.accept({ epoch: EPOCH, last: 9, acked: 3, recovered: false, first: 6 });
    assert.deepEqual(env.of("gap"), [{ epoch: EPOCH, from: 4, to: 5, reason: "evicted" }]);
    for (const n of [6, 7, 8, 9]) ws.receive(push(n));
    assert.deepEqual(env.of("message").map((m) => m.number), [6, 7, 8, 9]);
});

test("duplicates: numbers already given to the app are dropped (replay overlap, repeats)", async () => {
    const env = makeEnv();
    const client = env.client();
    client.connect();
    let ws = await env.accept();
    for (const n of [1, 2, 3, 3, 2]) ws.receive(push(n));
    ws.serverClose(1006);
    await env.clock.advance(250);
    // A server replaying from earlier than asked must not cause repeats either.
    ws = await env.accept({ epoch: EPOCH, last: 5, acked: 0, recovered: true, first: 2 });
    for (const n of [2, 3, 4, 5]) ws.receive(push(n));
    assert.deepEqual(env.of("message").map((m) => m.number), [1, 2, 3, 4, 5]);
});

test("storage: the position survives a reload (per uid key) and the new page resumes", async () => {
    const env = makeEnv();
    const first = env.client({ storage: env.storage });
    first.connect();
    const ws = await env.accept({ epoch: EPOCH, last: 10, acked: 0, recovered: true, first: 11 });
    assert.deepEqual(JSON.parse(env.storage.getItem("push-client:42")), { epoch: EPOCH, last: 10 });
    ws.receive(push(11));
    ws.receive(push(12));
    assert.deepEqual(JSON.parse(env.storage.getItem("push-client:42")), { epoch: EPOCH, last: 12 });
    // "Reload": the old page is gone without close(), a new client reads the storage.
    const second = env.client({ storage: env.storage });
    assert.deepEqual(second.position, { epoch: EPOCH, last: 12 });
    second.connect();
    await tick();
    assert.equal(env.last().query.get("since"), "12");
    assert.equal(env.last().query.get("epoch"), EPOCH);

    const other = env.client({ storage: env.storage, uid: "7" });
    assert.equal(other.position, null, "another uid has its own key");
    const custom = env.client({ storage: env.storage, storageKey: "mine" });
    assert.equal(custom.position, null);
    env.storage.setItem("push-client:9", "not json");
    assert.equal(env.client({ storage: env.storage, uid: "9" }).position, null, "garbage is ignored");
});

test("storage failures are reported, delivery goes on", async () => {
    const env = makeEnv();
    const storage = { getItem: () => null, setItem: () => { throw new Error("QuotaExceededError"); } };
    const client = env.client({ storage });
    client.connect();
    const ws = await env.accept();
    ws.receive(push(1));
    assert.equal(env.of("message").length, 1);
    assert.ok(env.of("error").some((e) => e.type === "storage"));
});

test("control error frames become error events; the connection stays", async () => {
    const env = makeEnv();
    const client = env.client();
    client.connect();
    const ws = await env.accept();
    ws.receive({ control: "error", reason: "ack is not a number" });
    ws.receive({ control: "something-new", x: 1 }); // later protocol versions: ignored
    ws.receive("not json");
    assert.deepEqual(env.of("error")[0], { type: "server", message: "ack is not a number", reason: "ack is not a number" });
    assert.equal(env.of("error")[1].type, "protocol");
    assert.equal(env.of("error").length, 2);
    assert.equal(client.state, "connected");
    assert.deepEqual(ws.closeCalls, []);
    ws.receive(push(1));
    assert.equal(env.of("message").length, 1);
});

test("resume: false asks for the plain stream: connected on open, everything delivered", async () => {
    const env = makeEnv();
    const client = env.client({ resume: false });
    client.connect();
    await tick();
    const ws = env.last();
    assert.equal(ws.query.get("since"), null);
    assert.equal(ws.query.get("epoch"), null);
    ws.open();
    assert.equal(client.state, "connected");
    assert.deepEqual(env.of("connected"), [{ epoch: null, legacy: true }]);
    for (const n of [1, 2, 1]) ws.receive(push(n)); // wave-1 numbers may restart
    assert.deepEqual(env.of("message").map((m) => m.number), [1, 2, 1]);
    assert.equal(client.position, null);
});

test("a server without resume (push before any position frame) is taken as the plain stream", async () => {
    const env = makeEnv();
    const client = env.client();
    client.connect();
    await tick();
    const ws = env.last();
    ws.open();
    ws.receive(push(1));
    assert.equal(client.state, "connected");
    assert.deepEqual(env.of("message").map((m) => m.number), [1]);
});

test("a message listener that throws is reported; the others still run", async () => {
    const env = makeEnv();
    const client = env.client();
    const seen = [];
    client.on("message", () => { throw new Error("app bug"); });
    client.on("message", (m) => seen.push(m.number));
    client.connect();
    const ws = await env.accept();
    ws.receive(push(1));
    assert.deepEqual(seen, [1]);
    const err = env.of("error")[0];
    assert.equal(err.type, "listener");
    assert.equal(err.event, "message");
    assert.equal(err.message, "app bug");
});

test("off() and the function on() returns remove a listener", async () => {
    const env = makeEnv();
    const client = env.client();
    const a = [];
    const b = [];
    const fa = (m) => a.push(m.number);
    client.on("message", fa);
    const offB = client.on("message", (m) => b.push(m.number));
    client.connect();
    const ws = await env.accept();
    ws.receive(push(1));
    client.off("message", fa);
    offB();
    ws.receive(push(2));
    assert.deepEqual([a, b], [[1], [1]]);
});
