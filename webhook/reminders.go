package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/storage"
)

// Expiry reminders: the session-less event credential.expiring. Each app
// that has had a completed session with a user (servedRecord, written
// with the completed event) gets, for each active credential of that user,
// one event per reminder day (Config.ReminderDays) once the certificate
// ends within that many days: an app learns only about users it has
// served. The sending node looks for them every Config.ReminderInterval;
// each event is queued in one transaction with its reminded marker
// (created only if absent: two nodes that find the same reminder queue it
// once), its audit entry, and the conditions that the credential and its
// owner are still as read (a credential revoked or superseded by a
// renewal, or an account whose deletion began, meanwhile, gets nothing).

// ExpiringCredential is an active credential whose certificate ends soon,
// as the reminders need it: Guards are the conditions under which it is
// still so (its record and its owner's at the revisions read).
type ExpiringCredential struct {
	ID       string
	User     string
	Issuer   string
	Purpose  string
	NotAfter time.Time
	Guards   []storage.Op
}

// ExpiringSource lists the active credentials of users (not deleted)
// whose certificate ends within the given time from now (package ca, in
// the server's wiring).
type ExpiringSource interface {
	ExpiringCredentials(ctx context.Context, within time.Duration) ([]ExpiringCredential, error)
}

// Auditor writes an audit entry in the transaction of ops (*audit.Log).
type Auditor interface {
	AppendWith(ctx context.Context, e audit.Entry, ops []storage.Op) (audit.Entry, error)
}

// ActionCredentialExpiring is the audit action of a queued reminder.
const ActionCredentialExpiring = "credential.expiring"

// reminderActor is the actor of the reminders' audit entries: the
// gateway itself.
const reminderActor = "gateway"

const day = 24 * time.Hour

// UseReminders turns the expiry reminders on (Config.ReminderDays
// empty: they stay off): src lists the credentials, log audits each
// reminder (nil: no entries, for tests of this package only). It may be
// called before or after Start.
func (s *Service) UseReminders(src ExpiringSource, log Auditor) {
	s.mu.Lock()
	s.src, s.auditor = src, log
	s.mu.Unlock()
	s.kickReminders()
}

func (s *Service) kickReminders() {
	select {
	case s.remindWake <- struct{}{}:
	default:
	}
}

// remindLoop queues the due reminders every ReminderInterval, and when
// this node becomes the sender, while it is the sender.
func (s *Service) remindLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.ReminderInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		case <-s.remindWake:
		}
		if !s.isLeader() {
			continue
		}
		if _, err := s.RemindExpiring(s.ctx); err != nil && s.ctx.Err() == nil {
			s.log.Warn("webhook: expiry reminders", "err", err)
		}
	}
}

// reminderDay is the reminder due for a certificate that ends in left:
// the smallest reminder day d with left ≤ d days (a reminder skipped
// while the gateway was down is not sent late once a nearer one is due);
// 0 for none.
func reminderDay(days []int, left time.Duration) int {
	best := 0
	for _, d := range days {
		if left <= time.Duration(d)*day && (best == 0 || d < best) {
			best = d
		}
	}
	return best
}

// RemindExpiring queues the reminders due now and returns how many. It
// is safe on several nodes at once (each reminder is queued once; the
// loser of a race skips it); the sending node calls it every
// ReminderInterval.
func (s *Service) RemindExpiring(ctx context.Context) (int, error) {
	s.mu.Lock()
	src, log := s.src, s.auditor
	s.mu.Unlock()
	if src == nil || len(s.cfg.ReminderDays) == 0 {
		return 0, nil
	}
	now := s.now()
	creds, err := src.ExpiringCredentials(ctx, time.Duration(slices.Max(s.cfg.ReminderDays))*day)
	if err != nil {
		return 0, fmt.Errorf("webhook: listing expiring credentials: %w", err)
	}
	served := map[string][]string{} // user → apps
	n := 0
	for _, c := range creds {
		left := c.NotAfter.Sub(now)
		d := reminderDay(s.cfg.ReminderDays, left)
		if left <= 0 || d == 0 || !protocol.ValidID(c.User) || !protocol.ValidID(c.ID) {
			continue
		}
		apps, ok := served[c.User]
		if !ok {
			if apps, err = s.servedApps(ctx, c.User); err != nil {
				return n, err
			}
			served[c.User] = apps
		}
		for _, app := range apps {
			queued, err := s.remind(ctx, log, c, d, app, now)
			if err != nil {
				return n, err
			}
			if queued {
				n++
			}
		}
	}
	if n > 0 {
		s.kick()
	}
	return n, nil
}

// servedApps lists the apps that have had a completed session with user.
func (s *Service) servedApps(ctx context.Context, user string) ([]string, error) {
	kvs, _, err := s.store.List(ctx, servedPrefix+user+"/")
	if err != nil {
		return nil, fmt.Errorf("webhook: listing the apps of %s: %w", user, err)
	}
	apps := make([]string, 0, len(kvs))
	for _, kv := range kvs {
		if app := strings.TrimPrefix(kv.Key, servedPrefix+user+"/"); protocol.ValidID(app) {
			apps = append(apps, app)
		}
	}
	return apps, nil
}

// remind queues reminder d of c for app unless it was queued already or
// app has no webhook, and reports whether it did.
func (s *Service) remind(ctx context.Context, log Auditor, c ExpiringCredential, d int, app string, now time.Time) (bool, error) {
	mk := remindedKey(c.User, c.ID, d, app)
	if _, err := s.store.Get(ctx, mk); err == nil {
		return false, nil
	} else if !errors.Is(err, storage.ErrNotFound) {
		return false, fmt.Errorf("webhook: reading %s: %w", mk, err)
	}
	hkv, err := s.store.Get(ctx, hookKey(app))
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil // no webhook: nothing to send (a later reminder may be)
	}
	if err != nil {
		return false, fmt.Errorf("webhook: reading the webhook of %s: %w", app, err)
	}
	id, err := newDeliveryID(now)
	if err != nil {
		return false, err
	}
	left := c.NotAfter.Sub(now)
	rem := protocol.CredentialExpiring{
		Credential: c.ID, User: c.User, Issuer: c.Issuer, Purpose: c.Purpose,
		NotAfter: c.NotAfter.UTC(), DaysLeft: int((left + day - 1) / day), ReminderDays: d,
	}
	body, err := json.Marshal(protocol.CredentialExpiringEvent{ID: id, App: app, Type: protocol.EventTypeCredentialExpiring, At: now, CredentialExpiring: rem})
	if err != nil {
		return false, err
	}
	rec := deliveryRecord{App: app, User: c.User, Group: expiringGroup(c.ID, app), Delivery: protocol.Delivery{
		ID: id, Type: protocol.EventTypeCredentialExpiring, Credential: c.ID,
		State: protocol.DeliveryPending, CreatedAt: now, NextTryAt: now,
	}}
	// The marker lasts until the certificate has ended (and a day more
	// for clocks that disagree): no reminder of it is due after that.
	marker := remindedRecord{App: app, Credential: c.ID, ReminderDays: d, Delivery: id, At: now}
	ops := append(append([]storage.Op{}, c.Guards...), storage.IfAbsent(mk), storage.Put(mk, mustJSON(marker), left+day))
	ops = append(ops, s.queueOps(hkv.Revision, &rec, body)...)
	if log == nil {
		_, err = s.store.Txn(ctx, ops...)
	} else {
		_, err = log.AppendWith(ctx, audit.Entry{
			Action: ActionCredentialExpiring, Actor: reminderActor, Outcome: audit.OutcomeOK,
			UserID: c.User, CredentialID: c.ID, IssuerID: c.Issuer, AppID: app,
			Detail: "reminder=" + strconv.Itoa(d) + "d days_left=" + strconv.Itoa(rem.DaysLeft) + " delivery=" + id,
		}, ops)
	}
	if errors.Is(err, storage.ErrConflict) {
		// Another node queued it, or the credential, its owner or the
		// webhook changed since they were read: the next look decides.
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("webhook: queueing the reminder of %s for %s: %w", c.ID, app, err)
	}
	return true, nil
}
