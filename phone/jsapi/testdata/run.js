// Runs one function of cosign.wasm under node, as the phone web app's
// JavaScript calls it, and prints its result as JSON.
// usage: node run.js WASM_EXEC_JS COSIGN_WASM FUNCTION ARG...
"use strict";
const fs = require("fs");
require(process.argv[2]); // Go's wasm_exec.js: defines globalThis.Go
const go = new Go();
WebAssembly.instantiate(fs.readFileSync(process.argv[3]), go.importObject).then((r) => {
  go.run(r.instance);
  const out = globalThis.ukeygateCosign[process.argv[4]](...process.argv.slice(5));
  process.stdout.write(JSON.stringify(out));
  process.exit(0);
}).catch((e) => { console.error(e); process.exit(1); });
