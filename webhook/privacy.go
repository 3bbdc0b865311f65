package webhook

import (
	"context"

	"github.com/ukeygate/ukeygate/storage"
)

// maxForgetOps bounds the deletes of one transaction.
const maxForgetOps = 100

// ForgetSessions deletes every delivery of the given sessions (those of a
// user whose account is deleted), with its body (the session event, which
// may hold a certificate naming the user) and its outbox reference, and
// returns how many deliveries it deleted. A delivery being sent at that
// moment may still reach the app once; it is no longer listed or retried.
func (s *Service) ForgetSessions(ctx context.Context, sessions []string) (int, error) {
	if len(sessions) == 0 {
		return 0, nil
	}
	want := make(map[string]bool, len(sessions))
	for _, id := range sessions {
		want[id] = true
	}
	var ops []storage.Op
	flush := func() error {
		if len(ops) == 0 {
			return nil
		}
		_, err := s.store.Txn(ctx, ops...)
		ops = ops[:0]
		return err
	}
	add := func(op ...storage.Op) error {
		if len(ops)+len(op) > maxForgetOps {
			if err := flush(); err != nil {
				return err
			}
		}
		ops = append(ops, op...)
		return nil
	}
	kvs, _, err := s.store.List(ctx, deliveriesPrefix)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, kv := range kvs {
		rec, err := decode[deliveryRecord](kv)
		if err != nil {
			return n, err
		}
		if !want[rec.Session] {
			continue
		}
		if err := add(storage.Delete(kv.Key), storage.Delete(bodyKey(rec.ID))); err != nil {
			return n, err
		}
		n++
	}
	for _, id := range sessions {
		refs, _, err := s.store.List(ctx, pendingPrefix+id+"/")
		if err != nil {
			return n, err
		}
		for _, kv := range refs {
			if err := add(storage.Delete(kv.Key)); err != nil {
				return n, err
			}
		}
	}
	return n, flush()
}
