package webhook

import (
	"context"
	"time"

	"github.com/ukeygate/ukeygate/protocol"
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

// The webhook outbox's part of a user's privacy rights (privacy.Part):
// which apps have served the user (and so get the user's expiry
// reminders) and which reminders went to them. The deliveries of the
// user's sessions go with the sessions (ForgetSessions).

// Name is the export's key of these records.
func (s *Service) Name() string { return "webhooks" }

// ServedApp is an app that has had a completed session with the user
// (the last one At); it gets the user's credential.expiring reminders.
type ServedApp struct {
	App string    `json:"app"`
	At  time.Time `json:"at"`
}

// Reminder is a credential.expiring event queued for an app.
type Reminder struct {
	App          string    `json:"app"`
	Credential   string    `json:"credential"`
	ReminderDays int       `json:"reminder_days"`
	Delivery     string    `json:"delivery"`
	At           time.Time `json:"at"`
}

// UserRecords is what the outbox holds about a user.
type UserRecords struct {
	Served    []ServedApp `json:"served"`
	Reminders []Reminder  `json:"reminders"`
}

// Export returns the apps that served userID and the reminders sent about
// userID's credentials.
func (s *Service) Export(ctx context.Context, userID string) (any, error) {
	out := &UserRecords{Served: []ServedApp{}, Reminders: []Reminder{}}
	if !protocol.ValidID(userID) {
		return out, nil
	}
	kvs, _, err := s.store.List(ctx, servedPrefix+userID+"/")
	if err != nil {
		return nil, err
	}
	for _, kv := range kvs {
		r, err := decode[servedRecord](kv)
		if err != nil {
			return nil, err
		}
		out.Served = append(out.Served, ServedApp{App: r.App, At: r.At})
	}
	if kvs, _, err = s.store.List(ctx, remindedPrefix+userID+"/"); err != nil {
		return nil, err
	}
	for _, kv := range kvs {
		r, err := decode[remindedRecord](kv)
		if err != nil {
			return nil, err
		}
		out.Reminders = append(out.Reminders, Reminder(*r))
	}
	return out, nil
}

// Erase deletes what the outbox holds about userID: the served and
// reminded records and the reminders' deliveries (their bodies name the
// user). It is idempotent.
func (s *Service) Erase(ctx context.Context, userID string) error {
	if !protocol.ValidID(userID) {
		return nil
	}
	var ops []storage.Op
	for _, p := range []string{servedPrefix + userID + "/", remindedPrefix + userID + "/"} {
		kvs, _, err := s.store.List(ctx, p)
		if err != nil {
			return err
		}
		for _, kv := range kvs {
			ops = append(ops, storage.Delete(kv.Key))
		}
	}
	kvs, _, err := s.store.List(ctx, deliveriesPrefix)
	if err != nil {
		return err
	}
	for _, kv := range kvs {
		rec, err := decode[deliveryRecord](kv)
		if err != nil {
			return err
		}
		if rec.User == userID {
			ops = append(ops, storage.Delete(kv.Key), storage.Delete(bodyKey(rec.ID)), storage.Delete(rec.pendingKey()))
		}
	}
	for len(ops) > 0 {
		n := min(len(ops), maxForgetOps)
		if _, err := s.store.Txn(ctx, ops[:n]...); err != nil {
			return err
		}
		ops = ops[n:]
	}
	return nil
}
