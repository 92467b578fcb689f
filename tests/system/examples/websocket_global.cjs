// Preloaded (node -r) where Node.js has no browser WebSocket of its own (Debian 12's
// Node 18): the `ws` package's WebSocket (Debian's node-ws), which offers the same
// onopen/onmessage/onclose API the seed's browser code uses.
if (typeof globalThis.WebSocket === "undefined")
    globalThis.WebSocket = require("ws");
