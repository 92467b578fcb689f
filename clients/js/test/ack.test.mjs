// Acknowledgements: autoAck, manual ack(), batching, epochs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { makeEnv, tick, push, EPOCH, EPOCH2 } from "../support/fakes.mjs";

test("autoAck: {\"ack\":N} once the handler returned", async () => {
    const env = makeEnv();
    const client = env.client({ autoAck: true });
    let sentDuringHandler = null;
    client.on("message", () => { sentDuringHandler = env.last().sent.length; });
    client.connect();
    const ws = await env.accept();
    ws.receive(push(1));
    ws.receive(push(2));
    assert.equal(sentDuringHandler, 1, "message 2's handler ran after ack 1, before ack 2");
    assert.deepEqual(ws.sent, ['{"ack":1}', '{"ack":2}']);
});

test("autoAck: after a returned promise resolves; out-of-order completion acks the finished prefix only", async () => {
    const env = makeEnv();
    const client = env.client({ autoAck: true });
    const resolvers = {};
    client.on("message", (m) => new Promise((resolve) => { resolvers[m.number] = resolve; }));
    client.connect();
    const ws = await env.accept();
    ws.receive(push(1));
    ws.receive(push(2));
    ws.receive(push(3));
    await tick();
    assert.deepEqual(ws.sent, [], "nothing finished yet");
    resolvers[2]();
    await tick();
    assert.deepEqual(ws.sent, [], "2 is done but 1 is not: acking 2 would acknowledge 1 too");
    resolvers[1]();
    await tick();
    assert.deepEqual(ws.acks, [2]);
    resolvers[3]();
    await tick();
    assert.deepEqual(ws.acks, [2, 3]);
});

test("autoAck: a rejected promise is reported and does not hold later acks back", async () => {
    const env = makeEnv();
    const client = env.client({ autoAck: true });
    client.on("message", (m) => (m.number === 1 ? Promise.reject(new Error("failed")) : undefined));
    client.connect();
    const ws = await env.accept();
    ws.receive(push(1));
    ws.receive(push(2));
    await tick();
    assert.equal(env.of("error")[0].type, "listener");
    assert.deepEqual(ws.acks, [2]);
});

test("autoAck off: nothing is sent until ack(n); lower or equal numbers are not sent again", async () => {
    const env = makeEnv();
    const client = env.client();
    client.connect();
    const ws = await env.accept();
    ws.receive(push(1));
    ws.receive(push(2));
    ws.receive(push(3));
    assert.deepEqual(ws.sent, []);
    client.ack(2);
    client.ack(1);
    client.ack(2);
    client.ack(3);
    assert.deepEqual(ws.sent, ['{"ack":2}', '{"ack":3}']);
    assert.throws(() => client.ack(0), TypeError);
    assert.throws(() => client.ack(1.5), TypeError);
});

test("ack while disconnected: sent after the next connect in the same epoch, dropped after an epoch change", async () => {
    const env = makeEnv();
    const client = env.client();
    client.connect();
    let ws = await env.accept();
    ws.receive(push(1));
    ws.receive(push(2));
    ws.serverClose(1006);
    client.ack(2);
    await env.clock.advance(250);
    ws = await env.accept({ epoch: EPOCH, last: 2, acked: 0, recovered: true, first: 3 });
    assert.deepEqual(ws.acks, [2]);

    ws.receive(push(3));
    ws.serverClose(1001);
    client.ack(3);
    await env.clock.advance(250);
    ws = await env.accept({ epoch: EPOCH2, last: 0, acked: 0, recovered: false, first: 1 });
    assert.deepEqual(ws.sent, [], "3 of the old epoch means nothing now");
});

test("the server's acked number suppresses acknowledgements it already has", async () => {
    const env = makeEnv();
    const client = env.client({ from: "acked" });
    client.connect();
    const ws = await env.accept({ epoch: EPOCH, last: 9, acked: 5, recovered: true, first: 6 });
    client.ack(4);
    client.ack(5);
    assert.deepEqual(ws.sent, []);
    client.ack(6);
    assert.deepEqual(ws.acks, [6]);
});

test("ackDelay: acknowledgements within the window go out as one, the highest", async () => {
    const env = makeEnv();
    const client = env.client({ autoAck: true, ackDelay: 100 });
    client.connect();
    const ws = await env.accept();
    for (const n of [1, 2, 3]) ws.receive(push(n));
    assert.deepEqual(ws.sent, []);
    await env.clock.advance(100);
    assert.deepEqual(ws.acks, [3]);
    ws.receive(push(4));
    client.close(); // close() sends what is waiting
    assert.deepEqual(ws.acks, [3, 4]);
});

test("resume: false still acknowledges (numbers without an epoch)", async () => {
    const env = makeEnv();
    const client = env.client({ resume: false, autoAck: true });
    client.connect();
    await tick();
    const ws = env.last();
    ws.open();
    ws.receive(push(1));
    assert.deepEqual(ws.acks, [1]);
});
