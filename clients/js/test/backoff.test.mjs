import { test } from "node:test";
import assert from "node:assert/strict";
import { backoffDelay } from "../src/push-client.js";
import { makeEnv, tick } from "../support/fakes.mjs";

const almostOne = 1 - Number.EPSILON;

test("backoff: the ceiling doubles from minDelay and stops at maxDelay", () => {
    const ceilings = [];
    for (let n = 0; n < 10; n++) ceilings.push(backoffDelay(n, {}, () => almostOne) + 1);
    assert.deepEqual(ceilings, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000]);
    assert.equal(backoffDelay(1000, {}, () => almostOne), 29999, "no overflow far out");
});

test("backoff: full jitter, uniform from 0 up to the ceiling", () => {
    assert.equal(backoffDelay(3, {}, () => 0), 0);
    assert.equal(backoffDelay(3, {}, () => 0.25), 1000);
    assert.equal(backoffDelay(3, {}, () => 0.5), 2000);
    // With the real Math.random: always inside [0, ceiling), and spread over it.
    const samples = Array.from({ length: 2000 }, () => backoffDelay(2, {}));
    assert.ok(samples.every((d) => Number.isInteger(d) && d >= 0 && d < 2000));
    assert.ok(samples.some((d) => d < 500) && samples.some((d) => d >= 1500), "spread over the whole range");
});

test("backoff: minDelay, maxDelay and factor are options", () => {
    const opts = { minDelay: 100, maxDelay: 1000, factor: 3 };
    const ceilings = [0, 1, 2, 3].map((n) => backoffDelay(n, opts, () => almostOne) + 1);
    assert.deepEqual(ceilings, [100, 300, 900, 1000]);
});

test("backoff: failed attempts grow the delay, a successful connect resets it", async () => {
    const env = makeEnv();
    const client = env.client(); // random() = 0.5: half the ceiling
    client.connect();
    for (let i = 0; i < 3; i++) {
        await tick();
        env.last().serverClose(1006); // refused handshake: closed without an open
        await env.clock.advance(env.of("reconnect").at(-1).delay);
    }
    assert.deepEqual(env.of("reconnect").map((r) => r.delay), [250, 500, 1000]);
    assert.deepEqual(env.of("connecting").map((c) => c.attempt), [0, 1, 2, 3]);
    await env.accept();
    assert.equal(client.state, "connected");
    env.last().serverClose(1006); // the network drops an established connection
    assert.equal(env.of("reconnect").at(-1).delay, 250, "from the first step again");
});

test("backoff: the client's own options reach the delays", async () => {
    const env = makeEnv();
    env.randomValue = almostOne;
    const client = env.client({ minDelay: 1000, maxDelay: 3000, factor: 2 });
    client.connect();
    for (let i = 0; i < 4; i++) {
        await tick();
        env.last().serverClose(1006);
        await env.clock.advance(env.of("reconnect").at(-1).delay);
    }
    assert.deepEqual(env.of("reconnect").map((r) => r.delay), [999, 1999, 2999, 2999]);
});
