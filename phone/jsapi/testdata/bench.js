// Times the phone's half in cosign.wasm under node (V8, as in a phone's
// Chrome): loads the module once, then calls FUNCTION with ARG... N times
// and prints the elapsed nanoseconds of the calls alone.
// usage: node bench.js WASM_EXEC_JS COSIGN_WASM N FUNCTION ARG...
"use strict";
const fs = require("fs");
require(process.argv[2]);
const go = new Go();
WebAssembly.instantiate(fs.readFileSync(process.argv[3]), go.importObject).then((r) => {
  go.run(r.instance);
  const n = Number(process.argv[4]), fn = globalThis.ukeygateCosign[process.argv[5]], args = process.argv.slice(6);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const out = fn(...args);
    if (out.error !== undefined) { throw new Error(out.error); }
  }
  process.stdout.write(String(process.hrtime.bigint() - t0));
  process.exit(0);
}).catch((e) => { console.error(e); process.exit(1); });
