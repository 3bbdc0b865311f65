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
	guard    *Guard
	refused  error // the guard's refusal, once known
}

// Guard is a record a single-use key is consumed under: the key is
// written only while the record at Key is still at Revision (a condition
// of the same transaction), so that a request checked against a copy of
// the record (a cache) is refused if the record changed meanwhile, e.g.
// a device revoked on another node.
//
// When a transaction that consumes the key fails and the key was not
// consumed before, Recheck is called (after the failed transaction, so a
// cache in front of the store reads it again): it returns the record's
// current revision if the record still admits the request, or the error
// the request is refused with. A new revision replaces Revision and the
// transaction's caller gets ErrConflict, to try again.
type Guard struct {
	Key      string
	Revision int64
	Recheck  func(ctx context.Context) (int64, error)
}

// conds returns the guard's condition (none without a guard).
func (g *Guard) conds() []Op {
	if g == nil {
		return nil
	}
	return []Op{IfRevision(g.Key, g.Revision)}
}

// recheck handles a failed transaction under o's guard: the refusal
// error, or nil after taking in the record's new revision (the caller
// returns ErrConflict).
func (o *Once) recheck(ctx context.Context) error {
	o.mu.Lock()
	g := o.guard
	o.mu.Unlock()
	if g == nil {
		return nil
	}
	rev, err := g.Recheck(ctx)
	if err != nil {
		o.mu.Lock()
		o.refused = err
		o.mu.Unlock()
		return err
	}
	o.mu.Lock()
	o.guard = &Guard{Key: g.Key, Revision: rev, Recheck: g.Recheck}
	o.mu.Unlock()
	return nil
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
	return SetOnceGuarded(ctx, st, key, value, ttl, replayed, nil)
}

// SetOnceGuarded is SetOnce with the key consumed under guard (nil: none).
func SetOnceGuarded(ctx context.Context, st Store, key string, value []byte, ttl time.Duration, replayed error, guard *Guard) bool {
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
	if guard != nil {
		g := *guard
		o.guard = &g
	}
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
// and writes it, in the same transaction, under the slot's guard (if any).
// If the transaction fails because the key exists, it returns the slot's
// replay error (nothing written); if because the guard's record changed,
// the guard's refusal, or ErrConflict once the record's new revision is
// taken in; once it commits, the key counts as consumed.
func TxnOnce(ctx context.Context, st interface {
	Get(ctx context.Context, key string) (KV, error)
	Txn(ctx context.Context, ops ...Op) (int64, error)
}, ops ...Op) (int64, error) {
	o := pending(ctx)
	if o == nil || !hasWrite(ops) {
		return st.Txn(ctx, ops...)
	}
	o.mu.Lock()
	guard, refused := o.guard.conds(), o.refused
	o.mu.Unlock()
	if refused != nil {
		return 0, refused
	}
	all := append(append(make([]Op, 0, len(ops)+3), ops...), IfAbsent(o.key))
	all = append(append(all, guard...), Put(o.key, o.value, o.ttl))
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
		if rerr := o.recheck(ctx); rerr != nil {
			return 0, rerr
		}
	}
	return rev, err
}

// maxGuardRetries bounds Settle's attempts while its guard's record keeps
// changing.
const maxGuardRetries = 5

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
	if o.refused != nil {
		o.mu.Unlock()
		return o.refused
	}
	o.mu.Unlock()
	wctx := context.WithoutCancel(ctx)
	var err error
	for range maxGuardRetries {
		o.mu.Lock()
		ops := append(o.guard.conds(), IfAbsent(o.key), Put(o.key, o.value, o.ttl))
		o.mu.Unlock()
		if _, err = o.store.Txn(wctx, ops...); !errors.Is(err, ErrConflict) {
			break
		}
		o.mu.Lock()
		guarded := o.guard != nil
		o.mu.Unlock()
		if !guarded {
			return o.replayed
		}
		if _, gerr := o.store.Get(wctx, o.key); gerr == nil {
			return o.replayed
		}
		if rerr := o.recheck(wctx); rerr != nil {
			return rerr
		}
	}
	switch {
	case err != nil && actErr == nil:
		return err
	case err == nil:
		o.mu.Lock()
		o.used = true
		o.mu.Unlock()
	}
	return actErr
}
