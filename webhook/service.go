package webhook

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/session"
	"github.com/ukeygate/ukeygate/storage"
)

// Service keeps the apps' webhooks and their outbox, and (after Start)
// sends the deliveries when this node holds the sender lease.
type Service struct {
	store  Store
	cfg    Config
	now    func() time.Time
	client *http.Client
	log    *slog.Logger
	m      *metrics
	node   string

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	wake   chan struct{}

	startOnce  sync.Once
	mu         sync.Mutex
	leader     bool
	leaseUntil time.Time
	inflight   map[string]bool // sessions with an attempt in flight

	// The expiry reminders (reminders.go), under mu.
	src        ExpiringSource
	auditor    Auditor
	remindWake chan struct{}
}

var _ session.Outbox = (*Service)(nil)

// New validates cfg and registers the metrics. Start begins sending.
func New(store Store, cfg Config) (*Service, error) {
	if store == nil {
		return nil, fmt.Errorf("%w: nil store", ErrInvalidConfig)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	node, err := randomHex(8)
	if err != nil {
		return nil, err
	}
	clock := cfg.Now
	if clock == nil {
		clock = time.Now
	}
	s := &Service{
		store: store, cfg: cfg, client: newClient(cfg), node: node,
		now:        func() time.Time { return clock().UTC() },
		wake:       make(chan struct{}, 1),
		remindWake: make(chan struct{}, 1),
		inflight:   map[string]bool{},
		log:        cfg.Logger,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.m, err = newMetrics(cfg.Registerer, s); err != nil {
		return nil, err
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Config is the Service's configuration.
func (s *Service) Config() Config { return s.cfg }

// Start starts the sender (once).
func (s *Service) Start() {
	s.startOnce.Do(func() {
		s.wg.Add(3)
		go s.leaseLoop()
		go s.sendLoop()
		go s.remindLoop()
	})
}

// Close stops the sender and waits for the attempts in flight to end
// (each bounded by Config.Timeout); it gives the lease up so another node
// takes over at once. Later calls do nothing.
func (s *Service) Close() error {
	s.cancel()
	s.wg.Wait()
	s.releaseLease()
	return nil
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("webhook: random: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// idSeq numbers the delivery ids this process makes within one
// millisecond, so that they sort in the order they were made (List is
// oldest first: a session's events created in the same millisecond, as a
// scan right after its creation often is, must not swap).
var idSeq struct {
	mu sync.Mutex
	ms int64
	n  uint32
}

// newDeliveryID is %012x of t in unix milliseconds, "-", then 3 hex digits
// numbering the ids of that millisecond made by this process (4,096 before
// they wrap) and 7 random ones (ids of other nodes stay apart).
func newDeliveryID(t time.Time) (string, error) {
	r, err := randomHex(4)
	if err != nil {
		return "", err
	}
	ms := t.UnixMilli()
	idSeq.mu.Lock()
	if ms != idSeq.ms {
		idSeq.ms, idSeq.n = ms, 0
	} else {
		idSeq.n++
	}
	n := idSeq.n & 0xfff
	idSeq.mu.Unlock()
	return fmt.Sprintf("%012x-%03x%s", ms, n, r[:7]), nil
}

func validApp(app string) error {
	if !protocol.ValidID(app) {
		return fmt.Errorf("%w: malformed app id", ErrInvalidArgument)
	}
	return nil
}

// Set registers or replaces app's webhook and returns it with its new
// secret (the only time the secret is handed out). The caller has checked
// that the app exists.
func (s *Service) Set(ctx context.Context, app, rawURL string) (*protocol.Webhook, error) {
	if err := validApp(app); err != nil {
		return nil, err
	}
	u, err := CheckURL(rawURL, s.cfg.AllowPrivate)
	if err != nil {
		return nil, err
	}
	if err := CheckTarget(ctx, u, s.cfg.AllowPrivate); err != nil {
		return nil, err
	}
	secret, err := randomHex(32)
	if err != nil {
		return nil, err
	}
	rec := hookRecord{App: app, URL: u.String(), Secret: "whsec_" + secret, CreatedAt: s.now()}
	out := &protocol.Webhook{App: app, URL: rec.URL, Secret: rec.Secret, CreatedAt: rec.CreatedAt}
	// With the audit entry of ctx (if any) in the same transaction.
	if _, err := audit.Commit(ctx, storeTxn{s.store}, []storage.Op{storage.Put(hookKey(app), mustJSON(rec), 0)}, out); err != nil {
		return nil, fmt.Errorf("webhook: storing the webhook of %s: %w", app, err)
	}
	return out, nil
}

// Ensure makes app's webhook point at rawURL, keeping the stored secret
// when it already does, and returns the secret (for the gateway's own
// demo portal, which every node of a cluster configures at boot).
// Nodes booting at once agree: a webhook is only written over the
// revision read, and a node that loses the race takes the winner's.
func (s *Service) Ensure(ctx context.Context, app, rawURL string) (string, error) {
	if err := validApp(app); err != nil {
		return "", err
	}
	u, err := CheckURL(rawURL, s.cfg.AllowPrivate)
	if err != nil {
		return "", err
	}
	for range 8 {
		rec, rev, err := s.hook(ctx, app)
		if err == nil && rec.URL == u.String() {
			return rec.Secret, nil
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			return "", err
		}
		secret, err := randomHex(32)
		if err != nil {
			return "", err
		}
		nrec := hookRecord{App: app, URL: u.String(), Secret: "whsec_" + secret, CreatedAt: s.now()}
		// With the audit entry of ctx (if any) in the same transaction.
		out := &protocol.Webhook{App: app, URL: nrec.URL, CreatedAt: nrec.CreatedAt}
		_, err = audit.Commit(ctx, storeTxn{s.store}, []storage.Op{
			storage.IfRevision(hookKey(app), rev), storage.Put(hookKey(app), mustJSON(nrec), 0)}, out)
		if errors.Is(err, storage.ErrConflict) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("webhook: storing the webhook of %s: %w", app, err)
		}
		return nrec.Secret, nil
	}
	return "", fmt.Errorf("webhook: the webhook of %s kept changing: %w", app, storage.ErrConflict)
}

// Remove drops app's webhook (ErrNotFound if it has none) and returns it
// without its secret. Deliveries still pending fail at their next attempt.
func (s *Service) Remove(ctx context.Context, app string) (*protocol.Webhook, error) {
	if err := validApp(app); err != nil {
		return nil, err
	}
	for range 8 {
		rec, rev, err := s.hook(ctx, app)
		if err != nil {
			return nil, err
		}
		out := &protocol.Webhook{App: app, URL: rec.URL, CreatedAt: rec.CreatedAt}
		_, err = audit.Commit(ctx, storeTxn{s.store}, []storage.Op{storage.IfRevision(hookKey(app), rev), storage.Delete(hookKey(app))}, out)
		if errors.Is(err, storage.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("webhook: removing the webhook of %s: %w", app, err)
		}
		return out, nil
	}
	return nil, fmt.Errorf("webhook: the webhook of %s kept changing: %w", app, storage.ErrConflict)
}

// Get returns app's webhook without its secret.
func (s *Service) Get(ctx context.Context, app string) (*protocol.Webhook, error) {
	if err := validApp(app); err != nil {
		return nil, err
	}
	rec, _, err := s.hook(ctx, app)
	if err != nil {
		return nil, err
	}
	return &protocol.Webhook{App: app, URL: rec.URL, CreatedAt: rec.CreatedAt}, nil
}

func (s *Service) hook(ctx context.Context, app string) (*hookRecord, int64, error) {
	kv, err := s.store.Get(ctx, hookKey(app))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, 0, ErrNotFound
	}
	if err != nil {
		return nil, 0, fmt.Errorf("webhook: reading the webhook of %s: %w", app, err)
	}
	rec, err := decode[hookRecord](kv)
	if err != nil {
		return nil, 0, err
	}
	return rec, kv.Revision, nil
}

// pendingTTL keeps a pending delivery until it has surely failed and been
// listed for Retention.
func (s *Service) pendingTTL() time.Duration { return s.cfg.RetryFor + s.cfg.Retention }

// EventOps (session.Outbox) returns, for an app with a webhook, the writes
// that queue event e of session sess: the delivery record, its body and
// its pending entry, conditioned on the webhook record's revision; for an
// app without one, the condition that it still has none.
//
// A completed event also records that the app has served the session's
// user (and, for a use through a delegation, the organisation): the apps
// that get that user's credential.expiring reminders.
func (s *Service) EventOps(ctx context.Context, sess *session.Session, e session.Event) ([]storage.Op, error) {
	if sess == nil || !protocol.ValidID(sess.AppID) {
		return nil, nil // sessions of no app (none today) have no webhook
	}
	now := s.now()
	served := servedOps(sess, e, now)
	kv, err := s.store.Get(ctx, hookKey(sess.AppID))
	if errors.Is(err, storage.ErrNotFound) {
		return append(served, storage.IfAbsent(hookKey(sess.AppID))), nil
	}
	if err != nil {
		return nil, fmt.Errorf("webhook: reading the webhook of %s: %w", sess.AppID, err)
	}
	id, err := newDeliveryID(now)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(protocol.WebhookEvent{ID: id, App: sess.AppID, Session: sess.ID, Event: e})
	if err != nil {
		return nil, fmt.Errorf("webhook: encoding event %d of %s: %w", e.Seq, sess.ID, err)
	}
	rec := deliveryRecord{App: sess.AppID, Delivery: protocol.Delivery{
		ID: id, Session: sess.ID, Seq: e.Seq, EventState: e.State, State: protocol.DeliveryPending,
		CreatedAt: now, NextTryAt: now,
	}}
	return append(served, s.queueOps(kv.Revision, &rec, body)...), nil
}

// servedOps are, for the completed event e of sess, the writes that record
// that sess's app served its user and, for a use through a delegation, the
// organisation the result names (on_behalf_of).
func servedOps(sess *session.Session, e session.Event, now time.Time) []storage.Op {
	if e.State != protocol.StateCompleted || !protocol.ValidID(sess.UserID) {
		return nil
	}
	ops := []storage.Op{storage.Put(servedKey(sess.UserID, sess.AppID), mustJSON(servedRecord{App: sess.AppID, User: sess.UserID, At: now}), 0)}
	if bytes.Contains(e.Result, []byte(`"on_behalf_of"`)) {
		var r struct {
			OnBehalfOf string `json:"on_behalf_of"`
		}
		if json.Unmarshal(e.Result, &r) == nil && protocol.ValidID(r.OnBehalfOf) && r.OnBehalfOf != sess.UserID {
			ops = append(ops, storage.Put(servedKey(r.OnBehalfOf, sess.AppID), mustJSON(servedRecord{App: sess.AppID, User: r.OnBehalfOf, At: now}), 0))
		}
	}
	return ops
}

// queueOps are the writes of a new pending delivery (conditioned on the
// webhook record's revision hookRev).
func (s *Service) queueOps(hookRev int64, rec *deliveryRecord, body []byte) []storage.Op {
	dk, _ := deliveryKey(rec.App, rec.ID)
	ttl := s.pendingTTL()
	return []storage.Op{
		storage.IfRevision(hookKey(rec.App), hookRev),
		storage.Put(dk, mustJSON(rec), ttl),
		storage.Put(bodyKey(rec.ID), body, ttl),
		storage.Put(rec.pendingKey(),
			mustJSON(pendingRef{App: rec.App, ID: rec.ID, CreatedAt: rec.CreatedAt, NextTryAt: rec.NextTryAt}), ttl),
	}
}

// MaxListLimit bounds one page of List.
const MaxListLimit = 500

// List returns up to limit deliveries of app created after the delivery
// id after ("" from the oldest still kept), oldest first, and whether
// more follow.
func (s *Service) List(ctx context.Context, app, after string, limit int) ([]protocol.Delivery, bool, error) {
	if err := validApp(app); err != nil {
		return nil, false, err
	}
	if limit < 1 || limit > MaxListLimit {
		return nil, false, fmt.Errorf("%w: limit must be from 1 to %d", ErrInvalidArgument, MaxListLimit)
	}
	now := s.now()
	first := hourOf(now.Add(-s.pendingTTL()))
	if after != "" {
		t, ok := idTime(after)
		if !ok {
			return nil, false, ErrInvalidCursor
		}
		first = max(first, hourOf(t))
	}
	var out []protocol.Delivery
	for h := first; h <= hourOf(now)+1; h++ {
		kvs, _, err := s.store.List(ctx, hourPrefix(app, h))
		if err != nil {
			return nil, false, fmt.Errorf("webhook: listing deliveries of %s: %w", app, err)
		}
		for _, kv := range kvs {
			rec, err := decode[deliveryRecord](kv)
			if err != nil {
				return nil, false, err
			}
			if rec.ID <= after {
				continue
			}
			if len(out) == limit {
				return out, true, nil
			}
			out = append(out, rec.Delivery)
		}
	}
	return out, false, nil
}

// Delivery returns app's delivery id.
func (s *Service) Delivery(ctx context.Context, app, id string) (*protocol.Delivery, error) {
	rec, _, err := s.delivery(ctx, app, id)
	if err != nil {
		return nil, err
	}
	return &rec.Delivery, nil
}

func (s *Service) delivery(ctx context.Context, app, id string) (*deliveryRecord, int64, error) {
	if err := validApp(app); err != nil {
		return nil, 0, err
	}
	dk, ok := deliveryKey(app, id)
	if !ok {
		return nil, 0, ErrDeliveryNotFound
	}
	kv, err := s.store.Get(ctx, dk)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, 0, ErrDeliveryNotFound
	}
	if err != nil {
		return nil, 0, fmt.Errorf("webhook: reading delivery %s: %w", id, err)
	}
	rec, err := decode[deliveryRecord](kv)
	if err != nil {
		return nil, 0, err
	}
	if rec.App != app || rec.ID != id {
		return nil, 0, ErrDeliveryNotFound
	}
	return rec, kv.Revision, nil
}

// Redeliver asks for delivery id of app again: a pending one is tried at
// once; a delivered or failed one is queued again as a new delivery (a
// new id, RedeliveryOf set, the same event), which is returned. The app
// must have a webhook (ErrNotFound).
func (s *Service) Redeliver(ctx context.Context, app, id string) (*protocol.Delivery, error) {
	for range 8 {
		rec, rev, err := s.delivery(ctx, app, id)
		if err != nil {
			return nil, err
		}
		_, hookRev, err := s.hook(ctx, app)
		if err != nil {
			return nil, err
		}
		now := s.now()
		var ops []storage.Op
		var out deliveryRecord
		if rec.State == protocol.DeliveryPending {
			rec.NextTryAt = now
			dk, _ := deliveryKey(app, id)
			ops = []storage.Op{
				storage.IfRevision(dk, rev),
				storage.Put(dk, mustJSON(rec), s.pendingTTL()),
				storage.Put(rec.pendingKey(),
					mustJSON(pendingRef{App: app, ID: id, CreatedAt: rec.CreatedAt, NextTryAt: now}), s.pendingTTL()),
			}
			out = *rec
		} else {
			bkv, err := s.store.Get(ctx, bodyKey(id))
			if errors.Is(err, storage.ErrNotFound) {
				return nil, ErrDeliveryNotFound
			}
			if err != nil {
				return nil, fmt.Errorf("webhook: reading the body of %s: %w", id, err)
			}
			nid, err := newDeliveryID(now)
			if err != nil {
				return nil, err
			}
			body, err := withID(rec.Type, bkv.Value, nid)
			if err != nil {
				return nil, fmt.Errorf("%w: body of %s: %v", ErrDamaged, id, err)
			}
			out = deliveryRecord{App: app, User: rec.User, Group: rec.Group, Delivery: protocol.Delivery{
				ID: nid, Session: rec.Session, Seq: rec.Seq, EventState: rec.EventState,
				Type: rec.Type, Credential: rec.Credential,
				State: protocol.DeliveryPending, CreatedAt: now, NextTryAt: now, RedeliveryOf: id,
			}}
			ops = s.queueOps(hookRev, &out, body)
		}
		_, err = s.store.Txn(ctx, ops...)
		if errors.Is(err, storage.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("webhook: queueing %s again: %w", id, err)
		}
		s.kick()
		return &out.Delivery, nil
	}
	return nil, fmt.Errorf("webhook: delivery %s kept changing: %w", id, storage.ErrConflict)
}

// withID is the body of a delivery of type typ (empty: a session event)
// with the delivery id changed to id.
func withID(typ string, body []byte, id string) ([]byte, error) {
	if typ == protocol.EventTypeCredentialExpiring {
		var ev protocol.CredentialExpiringEvent
		if err := json.Unmarshal(body, &ev); err != nil {
			return nil, err
		}
		ev.ID = id
		return json.Marshal(ev)
	}
	var ev protocol.WebhookEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, err
	}
	ev.ID = id
	return json.Marshal(ev)
}

// kick wakes the sender.
func (s *Service) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Check tells whether rawURL would be accepted by Set now (its shape and,
// unless private targets are allowed, its addresses), without storing
// anything.
func (s *Service) Check(ctx context.Context, rawURL string) error {
	u, err := CheckURL(rawURL, s.cfg.AllowPrivate)
	if err != nil {
		return err
	}
	return CheckTarget(ctx, u, s.cfg.AllowPrivate)
}
