// Package webapp is the phone web app the gateway serves: plain HTML, CSS
// and JavaScript embedded in the binary (no build step, nothing loaded from
// another origin). The QR payload URL (/q/<id>.<nonce>) opens it and it
// scans that session at once; at /m/ it enrolls the phone with a
// non-extractable WebCrypto ECDSA P-256 key kept in IndexedDB, scans QR
// codes with the camera (BarcodeDetector, or the vendored jsQR 1.4.0,
// Apache-2.0, static/vendor/), confirms or rejects sessions with a PIN typed
// on an on-screen keypad, lists and requests credentials, changes the PIN
// and shows the user's own history. It talks only the device-signed phone
// API of the same origin. For two-party SM2 credentials (cosign.js) it
// loads the phone's half of the scheme, cmd/cosign-wasm compiled to
// WebAssembly (static/cosign.wasm.gz, generated reproducibly by
// `go generate`, with Go's wasm_exec.js), and keeps each seed encrypted
// under a non-extractable WebCrypto AES-GCM key.
//
// Handler serves the files with a strict Content-Security-Policy (no inline
// script or style, connections to the same origin only) and
// frame-ancestors 'none'. The service worker caches the app shell, never an
// API answer.
//
// It must never hold a secret server-side, answer anything but its own
// static files, or load code from another origin.
package webapp
