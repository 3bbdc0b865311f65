package ra

import (
	"context"
	"strings"

	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/storage"
)

// The registration authority's part of a user's privacy rights
// (privacy.Part): the export lists the user's registration (with the
// consent) and corrections; the account's deletion erases them.

// Name is the export's key of these records.
func (s *Service) Name() string { return "registrations" }

// Export returns the user's registration and correction requests.
func (s *Service) Export(ctx context.Context, userID string) (any, error) {
	return s.OfUser(ctx, userID)
}

// Erase deletes the user's requests, their index and any pending
// marker. It is idempotent.
func (s *Service) Erase(ctx context.Context, userID string) error {
	kvs, _, err := s.store.List(ctx, pfxByUser+userID+"/")
	if err != nil {
		return err
	}
	var ops []storage.Op
	for _, kv := range kvs {
		id := strings.TrimPrefix(kv.Key, pfxByUser+userID+"/")
		if r, _, err := s.load(ctx, id); err == nil {
			if r.State == protocol.RegistrationPending {
				ops = append(ops, storage.Delete(pendingKey(identity(r))))
			}
		}
		ops = append(ops, storage.Delete(regKey(id)), storage.Delete(kv.Key))
	}
	for len(ops) > 0 {
		n := min(len(ops), storage.MaxTxnOps)
		if _, err := s.store.Txn(ctx, ops[:n]...); err != nil {
			return err
		}
		ops = ops[n:]
	}
	return nil
}
