// Package storage holds the small key-value interface every part of
// ukeygate keeps its state in (Store: get, list by prefix, atomic
// transactions with compare-and-swap conditions, TTL per key, watch by
// prefix), the helpers built on it (PutKey, Create, CompareAndSwap,
// DeleteKey), the limits every implementation enforces (ValidateKey,
// ValidateTxn, MaxKeyLen, MaxValueLen), and the embedded implementation on
// a bbolt file (OpenBolt). The etcd implementation for clusters is in
// storage/etcd, and storage/storagetest holds the conformance suite both
// pass. Optional interfaces a Store may add: Compactor (give freed space
// back) and Updater (a read-modify-write in one transaction: the bbolt
// store runs the function inside the group commit's transaction; the
// audit log chains its entries with it), SharedGetter (a read without a
// copy) and LazyWatcher (a watch whose values are opened only when asked:
// the vault's sealed view; WatchLazy uses it when there is one).
//
// A caller may reuse the slices it wrote once Txn or Update has returned
// (the conformance suite's CallerReusesValue): an implementation keeps
// copies of what it keeps, never the caller's slices (the vault and the
// session service write from pooled buffers).
//
// Semantics shared by every implementation:
//
//   - Keys are "/"-separated UTF-8 strings of at most MaxKeyLen bytes
//     without NUL; values are opaque bytes of at most MaxValueLen.
//   - Prefixes are literal byte prefixes: List(ctx, "a/b") returns "a/b",
//     "a/b/c" and also "a/bc". End a prefix with "/" to get one record
//     type's keys only.
//   - Every transaction that changes something gets one new store revision,
//     greater than every earlier one; its writes carry it as KV.Revision.
//     IfRevision(key, 0) (IfAbsent) holds when the key is missing or
//     expired.
//   - A write is durable when Txn returns.
//   - An expired key is invisible to Get, List and conditions as soon as its
//     TTL has passed; its EventDelete follows shortly (the bbolt sweeper, or
//     the etcd lease's expiry).
//   - Watch delivers, in revision order, the changes committed after the
//     call; a watcher that falls more than its buffer behind has its channel
//     closed and must re-list.
//
// This package must never know any record type above bytes: it does not
// parse values, and it never logs keys or values.
package storage
