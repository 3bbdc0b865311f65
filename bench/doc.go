// Package bench is the load generator behind `ukeygate bench`. It sets a
// gateway up through the operator API (an internal issuer unless one is
// named, a portal app, users enrolled with in-memory reference phones, one
// credential each) and then drives whole scan sessions through the public
// protocol with a fixed number of workers: the portal creates a session
// and watches its websocket, the phone scans the QR payload and confirms
// with the matching code and the PIN, and the watcher receives the
// completed event with the result. Each phase is timed; the Report gives
// throughput, latency percentiles per phase and failures by error code.
//
// It must never send anything to a host other than the configured server
// (watch URLs the server names are re-pointed at it and redirects are
// refused), never run unbounded (a session count and a time limit always
// apply), and never reach the server other than over HTTP (no store, no
// ca, no session package).
package bench
