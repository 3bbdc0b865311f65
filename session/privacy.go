package session

import (
	"context"
	"fmt"
	"strings"

	"github.com/ukeygate/ukeygate/storage"
)

// A user's sessions for their privacy rights (package privacy): the
// sessions still stored (each is deleted session.retention after it
// expires) that the user scanned, exported and, when the account is
// deleted, deleted at once with their events.

// userRecords lists the stored records of the sessions userID scanned,
// with their revisions.
func (s *Service) userRecords(ctx context.Context, userID string) ([]*record, []int64, error) {
	kvs, _, err := s.store.List(ctx, sessionsPrefix)
	if err != nil {
		return nil, nil, fmt.Errorf("session: list: %w", err)
	}
	var recs []*record
	var revs []int64
	for _, kv := range kvs {
		id := strings.TrimPrefix(kv.Key, sessionsPrefix)
		if strings.Contains(id, "/") {
			continue // an event
		}
		r, err := s.decodeRecord(id, kv.Value)
		if err != nil {
			return nil, nil, err
		}
		if userID != "" && r.UserID == userID {
			recs, revs = append(recs, r), append(revs, kv.Revision)
		}
	}
	return recs, revs, nil
}

// UserSessions returns the stored sessions userID scanned, by id, without
// their secrets (the QR nonce, the watch token hash) and results.
func (s *Service) UserSessions(ctx context.Context, userID string) ([]*Session, error) {
	recs, _, err := s.userRecords(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]*Session, 0, len(recs))
	for _, r := range recs {
		sess := r.Session
		sess.Result = nil
		out = append(out, &sess)
	}
	return out, nil
}

// maxForgetOps bounds the deletes of one transaction.
const maxForgetOps = 100

// ForgetUser deletes the stored sessions userID scanned with all their
// events and returns how many it deleted. A session still open ends for
// its watchers as a deleted one does.
func (s *Service) ForgetUser(ctx context.Context, userID string) (int, error) {
	recs, _, err := s.userRecords(ctx, userID)
	if err != nil {
		return 0, err
	}
	for _, r := range recs {
		evs, _, err := s.store.List(ctx, eventsPrefix(r.ID))
		if err != nil {
			return 0, fmt.Errorf("session: list events of %s: %w", r.ID, err)
		}
		ops := make([]storage.Op, 0, maxForgetOps)
		for _, kv := range evs {
			ops = append(ops, storage.Delete(kv.Key))
			if len(ops) == maxForgetOps {
				if _, err := s.store.Txn(ctx, ops...); err != nil {
					return 0, err
				}
				ops = ops[:0]
			}
		}
		ops = append(ops, storage.Delete(sessionKey(r.ID)), storage.Delete(expiryKey(r.ExpiresAt, r.ID)))
		if _, err := s.store.Txn(ctx, ops...); err != nil {
			return 0, err
		}
	}
	return len(recs), nil
}
