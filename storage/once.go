package storage

import (
	"context"
	"errors"
	"sync"
	"time"
)

// A single-use key (a device request's nonce) is consumed in the
// transaction of the action the request makes, not in one of its own:
// the request's handler opens a slot with DeferOnce, the verifier fills it
// with SetOnce instead of writing the key, the action's first write goes
// through TxnOnce (which adds IfAbsent(key) and the key's put to it), and
// the handler calls Settle before it answers, which writes the key alone
// when the action wrote nothing. Either way the key is checked and written
// in the same transaction as whatever the request changes, so a replayed
// request changes nothing.

// Once is a deferred single-use key; see DeferOnce.
type Once struct {
	mu       sync.Mutex
	set      bool
	used     bool
	store    Store
	key      string
	value    []byte
	ttl      time.Duration
	replayed error
}

type onceKey struct{}

// DeferOnce returns ctx carrying an empty slot for a single-use key and
// the slot.
func DeferOnce(ctx context.Context) (context.Context, *Once) {
	o := &Once{}
	return context.WithValue(ctx, onceKey{}, o), o
}

// SetOnce fills ctx's slot (DeferOnce) with the key to consume in st,
// its value and TTL, and the error a replay gets (the key exists already);
// it reports false when ctx has no empty slot (the caller then consumes
// the key itself).
func SetOnce(ctx context.Context, st Store, key string, value []byte, ttl time.Duration, replayed error) bool {
	o, _ := ctx.Value(onceKey{}).(*Once)
	if o == nil || st == nil {
		return false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.set {
		return false
	}
	o.set, o.store, o.key, o.value, o.ttl, o.replayed = true, st, key, append([]byte(nil), value...), ttl, replayed
	return true
}

// pending returns ctx's filled, unconsumed slot, or nil.
func pending(ctx context.Context) *Once {
	o, _ := ctx.Value(onceKey{}).(*Once)
	if o == nil {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.set || o.used {
		return nil
	}
	return o
}

// TxnOnce is st.Txn(ctx, ops...) that, when ctx carries a pending
// single-use key (SetOnce) and ops write, also checks the key is absent
// and writes it, in the same transaction. If the transaction fails because
// the key exists, it returns the slot's replay error (nothing written);
// once it commits, the key counts as consumed.
func TxnOnce(ctx context.Context, st interface {
	Get(ctx context.Context, key string) (KV, error)
	Txn(ctx context.Context, ops ...Op) (int64, error)
}, ops ...Op) (int64, error) {
	o := pending(ctx)
	if o == nil || !hasWrite(ops) {
		return st.Txn(ctx, ops...)
	}
	all := append(append(make([]Op, 0, len(ops)+2), ops...), IfAbsent(o.key), Put(o.key, o.value, o.ttl))
	rev, err := st.Txn(ctx, all...)
	switch {
	case err == nil:
		o.mu.Lock()
		o.used = true
		o.mu.Unlock()
	case errors.Is(err, ErrConflict):
		if _, gerr := st.Get(ctx, o.key); gerr == nil {
			return 0, o.replayed
		}
	}
	return rev, err
}

func hasWrite(ops []Op) bool {
	for _, op := range ops {
		if op.IsWrite() {
			return true
		}
	}
	return false
}

// Settle ends the request of o: if the key was not consumed by an action
// (TxnOnce), it writes it alone now. It returns the replay error if the
// key existed, else actErr (the action's own outcome); a store failure
// matters only to an action that succeeded. Without a filled slot it
// returns actErr.
func (o *Once) Settle(ctx context.Context, actErr error) error {
	o.mu.Lock()
	if !o.set || o.used {
		o.mu.Unlock()
		return actErr
	}
	o.mu.Unlock()
	_, err := Create(context.WithoutCancel(ctx), o.store, o.key, o.value, o.ttl)
	switch {
	case errors.Is(err, ErrConflict):
		return o.replayed
	case err != nil && actErr == nil:
		return err
	case err == nil:
		o.mu.Lock()
		o.used = true
		o.mu.Unlock()
	}
	return actErr
}
