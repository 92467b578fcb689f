// Prints the size of the shipped files: raw bytes and gzip level 9 (node:zlib).
// No minifier is involved: these are the unminified files as shipped.
//   node size.mjs
// The README quotes this output and, for the minified size, the terser command it names.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const here = dirname(fileURLToPath(import.meta.url));
for (const file of ["dist/push-client.global.js", "src/push-client.js"]) {
    const bytes = readFileSync(join(here, file));
    const gz = gzipSync(bytes, { level: 9 }).length;
    console.log(`${file}: ${bytes.length} bytes, gzip -9: ${gz} bytes (unminified)`);
}
