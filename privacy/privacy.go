package privacy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/ca"
	"github.com/ukeygate/ukeygate/session"
	"github.com/ukeygate/ukeygate/storage"
)

// CA is what the service needs of package ca.
type CA interface {
	UserDetail(ctx context.Context, userID string) (*ca.UserDetail, error)
	Seals(ctx context.Context, owner string) ([]*ca.Seal, error)
	UserDelegations(ctx context.Context, userID string) ([]*ca.Delegation, error)
	BeginDeletion(ctx context.Context, userID, pin string) (*ca.Deletion, error)
	FinishDeletion(ctx context.Context, userID string, retention time.Duration) (*ca.Erased, error)
	Deleting(ctx context.Context) ([]*ca.Deletion, error)
}

// Audit is what the service needs of the audit log.
type Audit interface {
	List(ctx context.Context, f audit.Filter) ([]audit.Entry, error)
	Pseudonymise(ctx context.Context, userID string, deviceIDs []string) (audit.Erasure, error)
}

// Sessions is what the service needs of the session service.
type Sessions interface {
	UserSessions(ctx context.Context, userID string) ([]*session.Session, error)
	ForgetUser(ctx context.Context, userID string) (int, error)
}

// Devices is what the service needs of the device request checks: the
// nonces a device consumed name it and go with it.
type Devices interface {
	ForgetDevice(ctx context.Context, deviceID string) error
}

// Webhooks is what the service needs of the webhook outbox: the
// deliveries of a user's sessions hold their events.
type Webhooks interface {
	ForgetSessions(ctx context.Context, sessions []string) (int, error)
}

// Deps are the services that hold a user's records. CA is required; the
// others may be nil (nothing of theirs is exported or erased). Store is
// compacted after deletions when Config.Compact is set and it is a
// storage.Compactor.
type Deps struct {
	CA       CA
	Audit    Audit
	Sessions Sessions
	Devices  Devices
	Webhooks Webhooks
	Store    storage.Store
}

// Part is another package's personal records (registrations and consent,
// delegations, escrowed keys): its records about a user go into the
// export under Name, and Erase deletes them (and destroys any key that
// protects them) when the account is deleted. Erase runs after the user's
// credentials are erased and must be idempotent.
type Part interface {
	Name() string
	Export(ctx context.Context, userID string) (any, error)
	Erase(ctx context.Context, userID string) error
}

// Service exports and deletes accounts.
type Service struct {
	cfg      Config
	ca       CA
	audit    Audit
	sessions Sessions
	devices  Devices
	webhooks Webhooks
	store    storage.Store
	now      func() time.Time

	mu    sync.Mutex
	parts []Part
}

// New returns the service.
func New(cfg Config, d Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.CA == nil {
		return nil, fmt.Errorf("%w: no CA", ErrInvalidConfig)
	}
	return &Service{cfg: cfg, ca: d.CA, audit: d.Audit, sessions: d.Sessions, devices: d.Devices, webhooks: d.Webhooks, store: d.Store, now: time.Now}, nil
}

// AddPart plugs in another package's personal records.
func (s *Service) AddPart(p Part) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.parts = append(s.parts, p)
}

func (s *Service) partList() []Part {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Part(nil), s.parts...)
}

// Export is every personal record the gateway holds about a user.
type Export struct {
	ExportedAt time.Time
	Detail     *ca.UserDetail
	Seals      []*ca.Seal
	// Delegations are those where the user is the organisation or the
	// delegate.
	Delegations []*ca.Delegation
	Sessions    []*session.Session
	Audit       []audit.Entry
	Other       map[string]json.RawMessage
}

// Export gathers every personal record about userID. Errors:
// ca.ErrUserNotFound (also for an account being deleted).
func (s *Service) Export(ctx context.Context, userID string) (*Export, error) {
	d, err := s.ca.UserDetail(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := &Export{ExportedAt: s.now().UTC(), Detail: d, Sessions: []*session.Session{}, Audit: []audit.Entry{}}
	if out.Seals, err = s.ca.Seals(ctx, userID); err != nil {
		return nil, err
	}
	if out.Delegations, err = s.ca.UserDelegations(ctx, userID); err != nil {
		return nil, err
	}
	if s.sessions != nil {
		if out.Sessions, err = s.sessions.UserSessions(ctx, userID); err != nil {
			return nil, err
		}
	}
	if s.audit != nil {
		devices := map[string]bool{}
		for _, dev := range d.Devices {
			devices["device:"+dev.ID] = true
		}
		all, err := s.audit.List(ctx, audit.Filter{})
		if err != nil {
			return nil, err
		}
		for _, e := range all {
			if e.UserID == userID || e.OnBehalfOf == userID || devices[e.Actor] {
				out.Audit = append(out.Audit, e)
			}
		}
	}
	for _, p := range s.partList() {
		v, err := p.Export(ctx, userID)
		if err != nil {
			return nil, fmt.Errorf("privacy: export of %s: %w", p.Name(), err)
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		if out.Other == nil {
			out.Other = map[string]json.RawMessage{}
		}
		out.Other[p.Name()] = b
	}
	return out, nil
}

// Report is what a deletion did.
type Report struct {
	Deletion ca.Deletion
	Erased   ca.Erased
	Sessions int
	// Deliveries counts the webhook deliveries of the user's sessions
	// deleted.
	Deliveries int
	Audit      audit.Erasure
	Compacted  bool
}

// Delete deletes userID's account after checking pin: ctx may carry the
// action's audit entry (audit.WithAction), committed with the erasure of
// the personal fields (ca.BeginDeletion). A wrong or locked PIN, or an
// unknown user, changes nothing else. Once the PIN is accepted the rest
// runs to the end even if ctx is cancelled; a failure there is
// ErrIncomplete and Resume finishes it.
func (s *Service) Delete(ctx context.Context, userID, pin string) (*Report, error) {
	d, err := s.ca.BeginDeletion(ctx, userID, pin)
	if err != nil {
		return nil, err
	}
	return s.finish(context.WithoutCancel(ctx), d)
}

// Resume finishes the deletions that began and did not finish (a crash,
// a store outage) and returns the reports of those it finished (what
// Delete would have answered: the caller logs them like a deletion).
func (s *Service) Resume(ctx context.Context) ([]*Report, error) {
	list, err := s.ca.Deleting(ctx)
	if err != nil {
		return nil, err
	}
	var done []*Report
	for _, d := range list {
		rep, err := s.finish(ctx, d)
		if err != nil {
			return done, err
		}
		done = append(done, rep)
	}
	return done, nil
}

func (s *Service) finish(ctx context.Context, d *ca.Deletion) (*Report, error) {
	rep := &Report{Deletion: *d}
	fail := func(step string, err error) (*Report, error) {
		return rep, fmt.Errorf("%w: %s of %s: %w", ErrIncomplete, step, d.UserID, err)
	}
	// The other parts first: their records may hang off the user's
	// credentials (escrowed keys) and must not outlive them.
	for _, p := range s.partList() {
		if err := p.Erase(ctx, d.UserID); err != nil {
			return fail("erasure in "+p.Name(), err)
		}
	}
	if s.sessions != nil && s.webhooks != nil {
		list, err := s.sessions.UserSessions(ctx, d.UserID)
		if err != nil {
			return fail("sessions", err)
		}
		ids := make([]string, 0, len(list))
		for _, sess := range list {
			ids = append(ids, sess.ID)
		}
		if rep.Deliveries, err = s.webhooks.ForgetSessions(ctx, ids); err != nil {
			return fail("webhook deliveries", err)
		}
	}
	if s.sessions != nil {
		n, err := s.sessions.ForgetUser(ctx, d.UserID)
		if err != nil {
			return fail("sessions", err)
		}
		rep.Sessions = n
	}
	if s.devices != nil {
		for _, id := range d.Devices {
			if err := s.devices.ForgetDevice(ctx, id); err != nil {
				return fail("device nonces", err)
			}
		}
	}
	if s.audit != nil {
		er, err := s.audit.Pseudonymise(ctx, d.UserID, d.Devices)
		if err != nil {
			return fail("audit pseudonymisation", err)
		}
		rep.Audit = er
	}
	// The tombstone goes last (FinishDeletion): until then Resume finds
	// the deletion.
	er, err := s.ca.FinishDeletion(ctx, d.UserID, s.cfg.CertificateRetention)
	if err != nil {
		return fail("credentials, seals and devices", err)
	}
	rep.Erased = *er
	if c, ok := s.store.(storage.Compactor); ok && s.cfg.Compact {
		if err := c.Compact(ctx); err != nil {
			return fail("store compaction", err)
		}
		rep.Compacted = true
	}
	return rep, nil
}

// IsIncomplete reports whether err is a deletion that must be resumed.
func IsIncomplete(err error) bool { return errors.Is(err, ErrIncomplete) }
