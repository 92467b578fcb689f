// The classic-script build: up to date, and usable without modules.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import vm from "node:vm";
import { build, TARGET } from "../build.mjs";

test("dist/push-client.global.js is what build.mjs makes of the source", () => {
    assert.equal(readFileSync(TARGET, "utf8"), build(), "run: node build.mjs");
});

test("the classic script defines window.PushClient and works", () => {
    const sockets = [];
    const context = vm.createContext({
        URL, setTimeout, clearTimeout, Promise, JSON, Math, Object, Array, String, Number, TypeError,
        WebSocket: class { constructor(url) { this.url = url; sockets.push(this); } send() {} close() {} },
    });
    context.window = context.self = context; // as in a page
    vm.runInContext(readFileSync(TARGET, "utf8"), context, { filename: "push-client.global.js" });
    const PushClient = vm.runInContext("window.PushClient", context);
    assert.equal(typeof PushClient, "function");
    assert.equal(typeof PushClient.backoffDelay, "function");
    const client = new PushClient({ url: "wss://h", uid: "1", getKey: () => "k" });
    assert.equal(client.state, "idle");
    client.connect();
    return new Promise((resolve) => setImmediate(resolve)).then(() => {
        assert.equal(sockets.length, 1);
        assert.equal(sockets[0].url, "wss://h/ws?uid=1&access_key=k&since=now");
        client.close();
    });
});
