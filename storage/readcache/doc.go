// Package readcache holds a read-through cache in front of a storage.Store
// for the records a session reads on every request but that rarely change
// (issuers, credentials, users, devices, apps, webhooks, and the small
// per-user indexes of credentials and delegations).
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
// This package must never know a record type, log a value or keep
// anything on disk: it sits above the vault and holds plaintext in memory
// only.
package readcache
