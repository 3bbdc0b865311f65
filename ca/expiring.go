package ca

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/ukeygate/ukeygate/storage"
)

// ExpiringCredential is an active credential whose certificate ends
// soon, for the expiry reminders. Guards are the conditions under which it
// is still so: its record and its owner's record at the revisions read. A
// write conditioned on them fails once the credential was revoked or
// superseded (renewed), or its owner changed or began deleting their
// account.
type ExpiringCredential struct {
	*Credential
	Guards []storage.Op
}

// ExpiringCredentials lists, sorted by id, the active credentials whose
// certificate ends within `within` from now and whose owner is a user
// (not deleted, nor being deleted), each with its Guards.
func (s *Service) ExpiringCredentials(ctx context.Context, within time.Duration) ([]ExpiringCredential, error) {
	kvs, _, err := s.store.List(ctx, pfxCredentials)
	if err != nil {
		return nil, err
	}
	now := s.now()
	users := map[string]int64{} // owner → record revision (0: gone)
	out := []ExpiringCredential{}
	for _, kv := range kvs {
		var c credentialRecord
		if err := jsonUnmarshal(kv, &c); err != nil {
			return nil, err
		}
		if c.state(now) != StateActive || c.NotAfter.After(now.Add(within)) {
			continue
		}
		urev, ok := users[c.UserID]
		if !ok {
			_, urev, err = s.loadUser(ctx, c.UserID)
			if errors.Is(err, ErrUserNotFound) {
				urev, err = 0, nil
			}
			if err != nil {
				return nil, err
			}
			users[c.UserID] = urev
		}
		if urev == 0 {
			continue
		}
		cr, err := c.toCredential(now)
		if err != nil {
			return nil, err
		}
		out = append(out, ExpiringCredential{Credential: cr, Guards: []storage.Op{
			storage.IfRevision(credentialKey(c.ID), kv.Revision),
			storage.IfRevision(userKey(c.UserID), urev),
		}})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}
