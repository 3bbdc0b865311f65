// Package etcd holds the cluster implementation of storage.Store on an
// etcd v3 cluster (Open), for running several ukeygate nodes on one state.
//
// Mapping: every key lives under Config.Prefix; KV.Revision is the key's
// etcd ModRevision and transaction revisions are etcd store revisions;
// IfRevision compares ModRevision (0: absent) inside the write transaction
// itself (no read round trip first; only a failed comparison reads the keys,
// to tell an expired key from a real conflict). A TTL is a lease shared by
// every put whose expiry falls in the same bucket (a tenth of the TTL, 1–10
// s; the lease ends at the bucket's end, so a key is deleted never early and
// at most one bucket late; leases.go), and the exact expiry is also kept
// with the value so that an expired key is invisible to reads and
// conditions at once, before etcd revokes its lease and sends the
// EventDelete. Watch is an etcd prefix watch from the revision after the
// call.
//
// Differences from the bbolt store that callers may see: a put over a key
// whose TTL has passed but whose lease etcd has not revoked yet sends only
// the put event (bbolt also sends the expiry's delete first); values larger
// than the server's --max-request-bytes (1.5 MiB by default) are refused
// with storage.ErrInvalid.
//
// This package must never know any record type above bytes, and never
// write outside its prefix.
package etcd
