// The seed's browser client, run in Node.js with a browser-style WebSocket
//   (tests/system/test_examples.py picks the way): node seed_client.mjs HOST:PORT UID ACCESS_KEY [MAX_MESSAGES]
// (or env PUSH_HOST, PUSH_UID, PUSH_ACCESS_KEY). report() prints one JSON line per call;
// the process exits after MAX_MESSAGES "success" reports (default 1) or after 20 s.
const host = process.argv[2] ?? process.env.PUSH_HOST ?? "localhost:8080";
const uid = process.argv[3] ?? process.env.PUSH_UID ?? "42";
const access_key = process.argv[4] ?? process.env.PUSH_ACCESS_KEY ?? "";
const maxMessages = Number(process.argv[5] ?? process.env.PUSH_MAX_MESSAGES ?? 1);
let successes = 0;

function report(topic, contents, kind) {
    console.log(JSON.stringify({ report: { topic, contents, kind: kind ?? null } }));
    if (kind === "success" && ++successes >= maxMessages)
        process.exit(0);
}

setTimeout(() => { console.log(JSON.stringify({ timeout: true })); process.exit(2); }, 20000);

// ---- from the seed document; only the URL's #placeholders are filled in ----
let ws = new WebSocket(`ws://${host}/ws?uid=${encodeURIComponent(uid)}&access_key=${encodeURIComponent(access_key)}`);
ws.onopen = function(e){
    report("系统", "连接");
}
ws.onmessage = function(e){
    let json = JSON.parse(e.data);
    //当客户端收到服务端发来的消息时，触发onmessage事件，参数e.data包含server传递过来的数据
    console.log(`form-server:${e.data}`);
    report(json.topic, json.contents, "success");
}
// ---- end of the seed's code ----
ws.onclose = function(e){
    console.log(JSON.stringify({ close: { code: e.code, reason: e.reason } }));
    process.exit(3);
}
