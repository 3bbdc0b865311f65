// Package session holds the scan sessions of ukeygate: the state machine
// of docs/protocol.md (waiting → scanned → completed | rejected | failed, and
// expired / cancelled from waiting or scanned), the one-time QR nonce, the
// TTL and the expirer that fires even when nobody watches, the per-session
// event log, and the hub that pushes events to watchers (websocket and
// long-poll handlers) on this node and, through the store's watch, from
// every other node.
//
// Everything lives in the store (storage.Store); a Service holds no state
// that another node would need, so several Services may share one store.
// Every transition is one compare-and-swap that writes the session record
// and its new event together; single-use values (the QR nonce) are checked
// and consumed in that same transaction.
//
// Records: sessions/ID (the session, with the QR nonce and the SM3 hash of
// the watch token, which never leave the package), sessions/ID/events/SEQ
// and the expiry index session-expiry/SECOND/ID. Each key carries a store
// TTL ending Config.Retention after the session's expiry time, so ended
// sessions disappear by themselves. A completed session's result (a
// decrypted plaintext, a content key, a signature) is stored once, in the
// completed event, only sealed under Config.ResultKey, bound to the session
// id and event (seal.go), and opened when it is read. An ended session's
// record drops its bulky inputs (documents' data, ciphertext), keeping
// names and digests; Config.MaxDataBytes caps those inputs at creation so
// that every completion fits one store write (Config.MaxWriteBytes, etcd's
// request limit by default), and CheckConfirm with ResultBound tells a
// confirm before it uses the key whether its result will fit.
//
// One confirm at a time: Confirm claims the session by compare-and-swap
// (a lapsing record field, not a state) before its operation runs; a
// concurrent confirm is refused with ErrConfirmInProgress.
//
// Perform (perform.go) is the operation a confirmed session asks for —
// login challenge, signatures, decryption — as a pure function over a key
// the caller has already unlocked with the user's PIN. Confirmer
// (confirm.go) runs the whole confirm sequence — claim, matching code,
// credential, PIN unlock, Perform, audit record, completion — over two
// small interfaces its caller implements: KeySide (who holds the keys)
// and Recorder (the audit log).
//
// It must never speak HTTP, decide who may call (the api and auth packages
// check app keys, watch tokens and device signatures before calling it),
// unlock a private key itself (its KeySide does), keep or store one, store
// a result in clear, or block a writer on a slow watcher.
package session
