// Builds dist/push-client.global.js, the classic-script form of src/push-client.js
// for pages without a bundler: <script src=".../push-client.global.js"></script>
// then `new PushClient({...})` (window.PushClient; backoffDelay hangs off it).
//
//   node build.mjs           write dist/push-client.global.js
//   node build.mjs --check   exit 1 if the committed file is not what the source builds
//
// No dependencies: the module's only exports are `export class`, `export function`
// and `export default`; they lose the keyword and the body goes into an IIFE.
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const here = dirname(fileURLToPath(import.meta.url));
export const SOURCE = join(here, "src", "push-client.js");
export const TARGET = join(here, "dist", "push-client.global.js");

export function build() {
    const { version } = JSON.parse(readFileSync(join(here, "package.json"), "utf8"));
    let body = readFileSync(SOURCE, "utf8");
    body = body.replace(/^export default [A-Za-z_$][\w$]*;\n/m, "");
    body = body.replace(/^export (class|function|const|let) /gm, "$1 ");
    const left = body.match(/^\s*(export|import)\b.*$/m);
    if (left) throw new Error("build.mjs cannot convert this line of src/push-client.js: " + left[0]);
    return (
        `/*! push-service-client ${version} | classic-script build of src/push-client.js (node build.mjs); do not edit */\n` +
        `(function (root) {\n"use strict";\n\n` +
        body.trimEnd() + "\n\n" +
        `PushClient.backoffDelay = backoffDelay;\n` +
        `root.PushClient = PushClient;\n` +
        `})(typeof globalThis !== "undefined" ? globalThis : typeof self !== "undefined" ? self : this);\n`
    );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
    const out = build();
    if (process.argv.includes("--check")) {
        let current = "";
        try { current = readFileSync(TARGET, "utf8"); } catch (_) { /* missing */ }
        if (current !== out) {
            console.error("dist/push-client.global.js is stale: run node build.mjs");
            process.exit(1);
        }
        console.log("dist/push-client.global.js is up to date");
    } else {
        writeFileSync(TARGET, out);
        console.log(`wrote dist/push-client.global.js (${Buffer.byteLength(out)} bytes)`);
    }
}
