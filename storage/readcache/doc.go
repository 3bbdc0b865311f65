// Package readcache holds a read-through cache in front of a storage.Store
// for the records a session reads on every request but that rarely change
// (issuers, credentials, users, devices, apps, webhooks, the escrow key's
// public record, and the small per-user indexes of credentials and
// delegations).
//
// The cache keeps each key's value exactly as the store answered it: the
// plaintext bytes, the revision and the expiry, or the fact that the key
// is absent. A caller that uses the revision in a compare-and-swap
// condition therefore stays correct: if the cached revision is stale the
// transaction fails with storage.ErrConflict, and the cache drops every key
// such a transaction named, so the caller's retry reads the store.
//
// Invalidation:
//
//   - a write through the cache (Txn) drops the keys it writes before it
//     returns, and on any error also the keys of its conditions: the next
//     request on the same node reads the store;
//   - a watch on each cached prefix drops the keys other nodes (or tools
//     writing to the store directly) change, within the watch's latency;
//   - a watch that ends (a watcher that fell behind, an etcd compaction or
//     lost leader, a value that cannot be opened) stops the prefix's cache
//     and flushes it; the prefix is served from the store until a new
//     watch is open, and only reads begun after that are cached again;
//   - a read that raced with an invalidation of its key is not cached.
//
// The cache is bounded (least recently used entries leave first).
//
// Get hands out a copy of a cached value, which the caller may change;
// GetShared (storage.SharedGetter) hands out the cached bytes themselves,
// for callers that only decode them. A cached value is never changed in
// place (a change replaces the entry), so a shared one stays as it was.
//
// Session records (Config.MemoPrefixes) are not cached across requests:
// a request whose context comes from WithMemo reads each of them from the
// store once and sees its own writes (memo.go); nothing outlives the
// request.
//
// What can be stale, and why the security checks hold:
//
//   - Across nodes a cached record can be behind the store for the watch's
//     lag: from the commit of another node's write (or of a tool writing
//     to the store directly) until this node's watch delivers it, usually
//     milliseconds. There is no other bound: a watch that falls behind
//     (its buffer fills), loses the etcd leader (watches require one) or
//     is compacted ends, and then the prefix is flushed and read from the
//     store. On one node there is no lag: a write through the cache drops
//     its keys before Txn returns.
//   - Every check whose decision must hold across nodes is conditioned on
//     the revision it read, in the same transaction that acts on it: the
//     PIN counter and lock (a wrong PIN is counted by a compare-and-swap of
//     the user record; a right one is used in a transaction conditioned on
//     that record's revision, so it loses against a lock committed
//     elsewhere), a key use (conditioned on the user's and the
//     credential's revisions, so a revoked or re-wrapped credential
//     fails it; a session's key use carries these conditions in the
//     transaction that completes the session, storage.DeferGuards, so a
//     result made from a stale copy is discarded, never delivered), a
//     cosign share (handed out only after a transaction of
//     conditions alone on the credential's and the user's revisions). On
//     a stale copy the condition fails with storage.ErrConflict, the
//     failed transaction drops the keys it named, and the caller's retry
//     reads the store: the stale copy decides nothing.
//   - Single-use values (device request nonces, QR nonces, activation
//     codes), sessions, revocation entries and CRLs are not cached: they
//     are checked and consumed in one transaction against the store. A
//     request's memo can hold a session record that another node changed
//     while the request ran; every session transition is conditioned on
//     the revision read, so it fails, drops the key, and the retry reads
//     the store (as with a read just before that change).
//   - A device's signed request is checked against its (possibly cached)
//     record, and its nonce is consumed only in a transaction conditioned
//     on that record's revision (auth.DeviceRecords, storage.Guard): a
//     copy of a device revoked on another node fails the condition, the
//     failed transaction drops it, and the verifier reads the record
//     again and refuses the request.
//   - A cached listing of a user's credential or delegation index can
//     miss, or still show, an entry changed on another node for the lag;
//     each entry is then read (delegation records are not cached) and
//     checked as above before it is used.
//   - What may lag is harmless by construction: an app disabled or its key
//     rotated on another node lets that portal create sessions for the
//     lag, but nothing is signed, decrypted or logged in without the
//     user's phone and PIN; a webhook changed elsewhere may get one more
//     delivery at its old address, signed with its old secret; an issuer
//     record (changed by operators only) is read at its old state; an
//     unlock that sees the escrow key's record from before a rotation
//     committed elsewhere leaves the credential's escrow copy where it is
//     for that unlock (the rotation's own move, or the next unlock, moves
//     it; a move is conditioned on the record's revision, so a stale copy
//     never writes an escrow copy under a retired key).
//
// This package must never know a record type, log a value or keep
// anything on disk: it sits above the vault and holds plaintext in memory
// only.
package readcache
