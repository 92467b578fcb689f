// Smoke test against a running push-service (not part of `npm test`):
//   node --experimental-websocket examples/node-smoke.mjs http://127.0.0.1:8080 42 abc123 [--resume=false]
// (Node 22+ has WebSocket without the flag.) The first key handed out is a bad one,
// so the run also shows the 1008 refusal and the immediate retry with a fresh key;
// then it pushes three messages through /push, waits for them, and prints every event.
import { PushClient } from "../src/push-client.js";

const [base = "http://127.0.0.1:8080", uid = "42", password = "abc123"] = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const resume = !process.argv.includes("--resume=false");
const auth = { Authorization: "Bearer " + password };
let keys = 0;

const client = new PushClient({
    url: base,
    uid,
    resume,
    autoAck: true,
    async getKey() {
        if (keys++ === 0) return "v2.0.bad.key.x"; // refused: shows the 1008 path
        const res = await fetch(`${base}/access?uid=${encodeURIComponent(uid)}`, { headers: auth });
        const body = await res.json();
        if (body.topic !== "_access") throw new Error("access refused: " + body.contents);
        return body.contents;
    },
});

const received = [];
for (const name of ["state", "connecting", "connected", "disconnected", "reconnect", "gap", "error"])
    client.on(name, (detail) => console.log(name.padEnd(12), JSON.stringify(detail)));
client.on("message", (m) => {
    console.log("message".padEnd(12), JSON.stringify(m));
    received.push(m);
});

const timeout = setTimeout(() => { console.log("FAIL: timeout"); process.exit(1); }, 15000);
client.connect();
// Connected and still so a moment later (on the plain stream, "connected" comes at
// the open, before a refused key's 1008).
for (;;) {
    await new Promise((resolve) => client.on("connected", resolve));
    await new Promise((r) => setTimeout(r, 300));
    if (client.state === "connected") break;
}
for (let i = 1; i <= 3; i++) {
    const res = await fetch(`${base}/push?uid=${encodeURIComponent(uid)}`, {
        method: "POST",
        headers: { ...auth, "Content-Type": "application/json" },
        body: JSON.stringify({ topic: "smoke", contents: { i } }),
    });
    console.log("push".padEnd(12), res.status, await res.text());
}
while (received.length < 3) await new Promise((r) => setTimeout(r, 20));
client.close();
clearTimeout(timeout);
const ok = keys === 2 && received.map((m) => m.contents.i).join() === "1,2,3";
console.log(ok ? "OK" : "FAIL", { keys, received: received.length });
process.exit(ok ? 0 : 1);
