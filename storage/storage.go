package storage

import (
	"context"
	"time"
)

// KV is one stored key with its value.
type KV struct {
	Key   string
	Value []byte
	// Revision is the store revision of the key's last write. Compare
	// against it (IfRevision) for compare-and-swap.
	Revision int64
	// ExpiresAt is zero for a key without TTL.
	ExpiresAt time.Time
}

// EventType tells what happened to a key.
type EventType int

const (
	// EventPut: the key was created or changed.
	EventPut EventType = iota + 1
	// EventDelete: the key was deleted or its TTL expired.
	EventDelete
)

// Event is one change seen by a watcher.
type Event struct {
	Type EventType
	// KV holds the new value for a put; for a delete, only Key and Revision.
	KV KV
}

// OpKind is the kind of one operation in a transaction.
type OpKind int

const (
	opPut OpKind = iota + 1
	opDelete
	opIfRevision
)

// Op is one operation of a transaction: a write (Put, Delete) or a
// condition (IfRevision, IfAbsent). Build it with the functions below.
type Op struct {
	Kind     OpKind
	Key      string
	Value    []byte
	TTL      time.Duration
	Revision int64
}

// Put writes value at key; ttl 0 means the key never expires.
func Put(key string, value []byte, ttl time.Duration) Op {
	return Op{Kind: opPut, Key: key, Value: value, TTL: ttl}
}

// Delete removes key; deleting a missing key is not an error.
func Delete(key string) Op { return Op{Kind: opDelete, Key: key} }

// IfRevision makes the transaction apply only if key's current revision is
// rev (rev 0: the key must not exist).
func IfRevision(key string, rev int64) Op {
	return Op{Kind: opIfRevision, Key: key, Revision: rev}
}

// IfAbsent makes the transaction apply only if key does not exist.
func IfAbsent(key string) Op { return IfRevision(key, 0) }

// IsWrite reports whether op changes the store.
func (op Op) IsWrite() bool { return op.Kind == opPut || op.Kind == opDelete }

// IsPut, IsDelete and IsCondition tell an Op's kind to implementations.
func (op Op) IsPut() bool       { return op.Kind == opPut }
func (op Op) IsDelete() bool    { return op.Kind == opDelete }
func (op Op) IsCondition() bool { return op.Kind == opIfRevision }

// Store is the key-value store every part of ukeygate keeps its state in.
// Implementations: bbolt (embedded, package storage) and etcd (cluster).
//
// A write is durable when the call returns. Expired keys are invisible to
// Get and List and produce an EventDelete for watchers.
type Store interface {
	// Get returns the key, or ErrNotFound.
	Get(ctx context.Context, key string) (KV, error)
	// List returns every live key with the prefix, sorted by key, and the
	// store revision the listing was read at.
	List(ctx context.Context, prefix string) ([]KV, int64, error)
	// Txn applies all writes atomically if every condition holds, and
	// returns the new store revision; if a condition fails it writes
	// nothing and returns ErrConflict.
	Txn(ctx context.Context, ops ...Op) (int64, error)
	// Watch delivers every change under prefix made after the call, in
	// revision order, until ctx ends or the store closes; then the channel
	// is closed. Callers that also List dedupe by revision: open the watch
	// first, list, then skip events whose revision is at or below the
	// listing's. A watcher that falls too far behind has its channel closed
	// (it must re-list).
	Watch(ctx context.Context, prefix string) (<-chan Event, error)
	// Ping reports whether the store is reachable (for /readyz).
	Ping(ctx context.Context) error
	// Close releases the store; later calls return ErrClosed.
	Close() error
}

// Create writes key only if it does not exist yet (ErrConflict otherwise).
func Create(ctx context.Context, s Store, key string, value []byte, ttl time.Duration) (int64, error) {
	return s.Txn(ctx, IfAbsent(key), Put(key, value, ttl))
}

// CompareAndSwap writes key only if its revision is still rev (ErrConflict
// otherwise).
func CompareAndSwap(ctx context.Context, s Store, key string, rev int64, value []byte, ttl time.Duration) (int64, error) {
	return s.Txn(ctx, IfRevision(key, rev), Put(key, value, ttl))
}
