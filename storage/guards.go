package storage

import (
	"context"
	"sync"
)

// An action that reads records from a cache and must not deliver its
// outcome if they changed meanwhile (a key use: the user's PIN state and
// the credential) can leave the check of their revisions to the
// transaction that delivers the outcome, instead of making a transaction
// of conditions alone first (a round trip to the cluster on etcd). The
// caller that will commit the outcome opens a set with DeferGuards; the
// code that read the records adds them with AddGuards (if it finds no
// set, it checks them itself, as before); the committer adds Conds to its
// transaction and, when that fails with ErrConflict, calls Recheck: a
// record that changed in a way that refuses the action gives the refusal
// (the outcome is never delivered), one that still admits it gives its new
// revision and the committer tries again.

// Guards is a set of guarded records, keyed by record key; see
// DeferGuards.
type Guards struct {
	mu    sync.Mutex
	order []string
	byKey map[string]Guard
}

type guardsKey struct{}

// DeferGuards returns ctx carrying an empty guard set and the set.
func DeferGuards(ctx context.Context) (context.Context, *Guards) {
	g := &Guards{byKey: map[string]Guard{}}
	return context.WithValue(ctx, guardsKey{}, g), g
}

// AddGuards adds each guard to ctx's set (DeferGuards), replacing an
// earlier guard of the same key (the caller read the record again), and
// reports true; without a set in ctx it adds nothing and reports false:
// the caller must check the records itself.
func AddGuards(ctx context.Context, gs ...Guard) bool {
	set, _ := ctx.Value(guardsKey{}).(*Guards)
	if set == nil {
		return false
	}
	set.mu.Lock()
	defer set.mu.Unlock()
	for _, g := range gs {
		if _, ok := set.byKey[g.Key]; !ok {
			set.order = append(set.order, g.Key)
		}
		set.byKey[g.Key] = g
	}
	return true
}

// Len is the number of guarded records.
func (s *Guards) Len() int {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.order)
}

// Conds returns the conditions of the set, in the order the records were
// first added (nil for a nil or empty set).
func (s *Guards) Conds() []Op {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var ops []Op
	for _, k := range s.order {
		ops = append(ops, IfRevision(k, s.byKey[k].Revision))
	}
	return ops
}

// Recheck is called after a transaction carrying Conds failed with
// ErrConflict: it calls every guard's Recheck (each reads its record
// again) and returns the first refusal, or nil once every record's
// current revision is taken in (the caller tries again; the conflict may
// have been another condition of its transaction).
func (s *Guards) Recheck(ctx context.Context) error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	gs := make([]Guard, 0, len(s.order))
	for _, k := range s.order {
		gs = append(gs, s.byKey[k])
	}
	s.mu.Unlock()
	for _, g := range gs {
		rev, err := g.Recheck(ctx)
		if err != nil {
			return err
		}
		g.Revision = rev
		s.mu.Lock()
		s.byKey[g.Key] = g
		s.mu.Unlock()
	}
	return nil
}
