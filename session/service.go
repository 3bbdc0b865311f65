package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/qrlogin"
	"github.com/ukeygate/ukeygate/storage"
)

// Store is the part of storage.Store the session package uses.
type Store interface {
	Get(ctx context.Context, key string) (storage.KV, error)
	List(ctx context.Context, prefix string) ([]storage.KV, int64, error)
	Txn(ctx context.Context, ops ...storage.Op) (int64, error)
	Watch(ctx context.Context, prefix string) (<-chan storage.Event, error)
}

// Service runs scan sessions on a store. Several Services (one per node)
// may share one store: every state lives in the store, every change is a
// compare-and-swap, and watchers learn of changes through the store's
// watch, so a confirm on one node reaches a watcher on another.
//
// A Service owns two goroutines: the expirer and (from the first Watch)
// the hub that fans the store's watch out to watchers. Close stops them.
type Service struct {
	store Store
	cfg   Config
	now   func() time.Time
	// resultKey seals completed results at rest (seal.go).
	resultKey []byte
	metrics   *metrics
	hub       *hub

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	exp expirerState
}

// New validates cfg, registers the metrics on cfg.Registerer (if any) and
// starts the background expirer. cfg.ResultKey is required (a
// gmcrypto.KeySize key, else ErrInvalidConfig); New keeps its own copy.
func New(store Store, cfg Config) (*Service, error) {
	if store == nil {
		return nil, fmt.Errorf("%w: nil store", ErrInvalidConfig)
	}
	if len(cfg.ResultKey) != gmcrypto.KeySize {
		return nil, fmt.Errorf("%w: the result key must be %d bytes (gmcrypto.DeriveKey(master, %q, nil)), got %d",
			ErrInvalidConfig, gmcrypto.KeySize, ResultKeyPurpose, len(cfg.ResultKey))
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	resultKey := append([]byte(nil), cfg.ResultKey...)
	cfg.ResultKey = nil // Config() does not hand the key out
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	clock := cfg.Now
	if clock == nil {
		clock = time.Now
	}
	s := &Service{store: store, cfg: cfg, metrics: m, resultKey: resultKey}
	s.now = func() time.Time { return clock().UTC() }
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.hub = newHub(s)
	s.wg.Add(1)
	go s.expireLoop()
	return s, nil
}

// Close stops the expirer and the hub and ends every watcher with
// ErrClosed. It does not close the store. Later calls do nothing.
func (s *Service) Close() error {
	s.cancel()
	s.hub.close()
	s.wg.Wait()
	return nil
}

// Config returns the Service's configuration.
func (s *Service) Config() Config { return s.cfg }

// Create starts a session: state waiting, event 1 written, an entry in the
// expiry index. It returns the session, the watch token (given only to the
// creator; only its SM3 hash is stored) and the one-time QR nonce (see
// Payload). Bad parameters are ErrInvalidRequest, a bad TTL ErrTTL.
func (s *Service) Create(ctx context.Context, p CreateParams) (*Session, string, string, error) {
	if err := p.validate(); err != nil {
		return nil, "", "", err
	}
	ttl := p.TTL
	if ttl == 0 {
		ttl = s.cfg.TTL
	}
	if ttl < MinTTL || ttl > s.cfg.MaxTTL || ttl%time.Second != 0 {
		return nil, "", "", fmt.Errorf("%w: %s is not whole seconds between %s and %s", ErrTTL, ttl, MinTTL, s.cfg.MaxTTL)
	}
	id, err := randomToken(idBytes)
	if err != nil {
		return nil, "", "", err
	}
	nonce, err := randomToken(nonceBytes)
	if err != nil {
		return nil, "", "", err
	}
	token, err := randomToken(watchTokenBytes)
	if err != nil {
		return nil, "", "", err
	}
	code, err := newCode()
	if err != nil {
		return nil, "", "", err
	}
	now := s.now()
	r := &record{
		Session: Session{
			ID: id, Kind: p.Kind, AppID: p.AppID, Origin: p.Origin,
			State: StateWaiting, CreatedAt: now, ExpiresAt: now.Add(ttl),
			Code: code, Request: p.Request, Desktop: p.Desktop, Seq: 1,
		},
		Nonce:          nonce,
		WatchTokenHash: gmcrypto.SM3([]byte(token)),
	}
	val, err := s.encodeRecord(r, nil)
	if err != nil {
		return nil, "", "", err
	}
	if len(val) > storage.MaxValueLen {
		return nil, "", "", fmt.Errorf("%w: the request is too large to store (%d bytes)", ErrInvalidRequest, len(val))
	}
	evVal, err := s.encodeEvent(id, Event{Seq: 1, Type: EventTypeState, State: StateWaiting, At: now}, nil)
	if err != nil {
		return nil, "", "", err
	}
	kttl := s.keyTTL(r, now)
	_, err = s.store.Txn(ctx,
		storage.IfAbsent(sessionKey(id)),
		storage.Put(sessionKey(id), val, kttl),
		storage.Put(eventKey(id, 1), evVal, kttl),
		storage.Put(expiryKey(r.ExpiresAt, id), nil, kttl),
	)
	if err != nil {
		return nil, "", "", fmt.Errorf("session: create: %w", err)
	}
	s.metrics.created(p.Kind)
	return r.Session.clone(), token, nonce, nil
}

// Payload returns the QR payload of session id with nonce (the URL the
// phone scans), under Config.PublicURL.
func (s *Service) Payload(id, nonce string) string {
	return qrlogin.Encode(s.cfg.PublicURL, id, nonce)
}

// QRPayload returns the QR payload of an existing session (to render its
// QR image again). The caller has checked the app key or watch token.
func (s *Service) QRPayload(ctx context.Context, id string) (string, error) {
	r, _, err := s.load(ctx, id)
	if err != nil {
		return "", err
	}
	return s.Payload(id, r.Nonce), nil
}

// Get returns session id (ErrNotFound if there is none, or no longer).
func (s *Service) Get(ctx context.Context, id string) (*Session, error) {
	r, _, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	return r.Session.clone(), nil
}

// GetForApp returns session id if app appID created it, else ErrNotFound
// (another app cannot tell that the session exists).
func (s *Service) GetForApp(ctx context.Context, id, appID string) (*Session, error) {
	sess, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if appID == "" || sess.AppID != appID {
		return nil, ErrNotFound
	}
	return sess, nil
}

// CheckWatchToken returns session id if token is its watch token, compared
// in constant time; anything else (no session, malformed or wrong token)
// is ErrNotFound.
func (s *Service) CheckWatchToken(ctx context.Context, id, token string) (*Session, error) {
	r, _, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if !gmcrypto.Equal(gmcrypto.SM3([]byte(token)), r.WatchTokenHash) {
		return nil, ErrNotFound
	}
	return r.Session.clone(), nil
}

// Events returns the stored events of session id with Seq > after.
func (s *Service) Events(ctx context.Context, id string, after int64) ([]Event, error) {
	if after < 0 {
		return nil, fmt.Errorf("%w: after=%d is negative", ErrInvalidArgument, after)
	}
	if !ValidID(id) {
		return nil, ErrNotFound
	}
	evs, err := s.listEvents(ctx, id)
	if err != nil {
		return nil, err
	}
	if len(evs) == 0 {
		return nil, ErrNotFound
	}
	if after > evs[len(evs)-1].Seq {
		return nil, fmt.Errorf("%w: after=%d, last event %d", ErrInvalidSeq, after, evs[len(evs)-1].Seq)
	}
	out := make([]Event, 0, len(evs))
	for _, e := range evs {
		if e.Seq > after {
			out = append(out, e)
		}
	}
	return out, nil
}

// due reports whether open session r is past its expiry time at now.
func due(r *record, now time.Time) bool { return r.Open() && !now.Before(r.ExpiresAt) }

// Scan binds session id to the scanning device and user, consuming the QR
// nonce: the check and the binding are one compare-and-swap. Refusals
// (nothing changes):
//   - no such session or a wrong nonce: ErrNotFound (which one is not told);
//   - expired: ErrExpired;
//   - scanned already (by any device): ErrAlreadyScanned;
//   - the nonce was consumed and the session has ended since: ErrNonceUsed;
//   - cancelled before any scan: ErrSessionClosed;
//   - the portal asked for another user: ErrWrongUser.
func (s *Service) Scan(ctx context.Context, id, nonce, deviceID, userID string) (*Session, error) {
	if !idOK(deviceID) || !idOK(userID) {
		return nil, fmt.Errorf("%w: device and user ids must be non-empty and at most %d bytes", ErrInvalidArgument, MaxIDLen)
	}
	if !isToken(nonce, IDLen) {
		return nil, ErrNotFound
	}
	return s.change(ctx, id, func(r *record, now time.Time) (State, error) {
		if !gmcrypto.Equal([]byte(nonce), []byte(r.Nonce)) {
			return "", ErrNotFound
		}
		switch {
		case due(r, now):
			return "", errExpire
		case r.State == StateWaiting:
			if r.Request.User != "" && r.Request.User != userID {
				return "", ErrWrongUser
			}
			r.DeviceID, r.UserID, r.NonceUsed = deviceID, userID, true
			return StateScanned, nil
		case r.State == StateScanned:
			return "", ErrAlreadyScanned
		case r.State == StateExpired:
			return "", ErrExpired
		case r.NonceUsed:
			return "", ErrNonceUsed
		}
		return "", ErrSessionClosed
	})
}

// bound checks that r is scanned by deviceID and not expired at now.
func bound(r *record, deviceID string, now time.Time) error {
	switch {
	case r.DeviceID != "" && r.DeviceID != deviceID:
		return ErrWrongDevice
	case due(r, now):
		return errExpire
	}
	return CheckTransition(r.State, StateCompleted)
}

// Confirm runs the phone user's confirmation of session id:
//
//  1. the session must be scanned, bound to deviceID (else ErrWrongDevice)
//     and not expired (else ErrExpired, and it is expired now);
//  2. op runs with a copy of the session and performs the operation
//     (unwrap the key with the PIN, sign or decrypt) — it should start
//     with CheckCode;
//  3. on success, the session moves to completed with op's result (valid
//     JSON) and the final event, in one compare-and-swap.
//
// The contract: a Confirm either fully happens (the session is completed,
// its final event carries the result, and (session, nil) is returned) or
// leaves the session as it was, still confirmable, with these exceptions:
//   - op returned an error built with OperationFailed (wrong matching code,
//     revoked credential…): the session moves to failed with that reason
//     and the *OpError is returned (errors.Is ErrOperationFailed);
//   - the session changed while op ran (expired, cancelled, completed by a
//     concurrent Confirm): op's result is discarded and the state's error
//     is returned (ErrExpired, ErrSessionClosed).
//
// Any other error of op (wrong PIN, locked key) is returned as is and the
// session stays scanned. Confirm never retries op. Concurrent Confirms of
// one session may each run op, but exactly one completes the session.
func (s *Service) Confirm(ctx context.Context, id, deviceID string, op func(*Session) (json.RawMessage, error)) (*Session, error) {
	if !idOK(deviceID) {
		return nil, fmt.Errorf("%w: empty or malformed device id", ErrInvalidArgument)
	}
	check := func(r *record, now time.Time) (State, error) { return "", bound(r, deviceID, now) }
	sess, err := s.change(ctx, id, check)
	if err != nil {
		return nil, err
	}
	result, opErr := op(sess.clone())
	if opErr != nil {
		var oe *OpError
		if !errors.As(opErr, &oe) {
			return nil, opErr // retryable: the session stays scanned
		}
		reason := oe.Reason
		if !reasonOK(reason) {
			reason = defaultOpError
		}
		_, err := s.change(ctx, id, func(r *record, now time.Time) (State, error) {
			if err := bound(r, deviceID, now); err != nil {
				return "", err
			}
			r.FailReason = reason
			return StateFailed, nil
		})
		if err != nil {
			return nil, err
		}
		return nil, opErr
	}
	if !json.Valid(result) {
		return nil, fmt.Errorf("%w: the operation's result is not valid JSON", ErrInvalidArgument)
	}
	return s.change(ctx, id, func(r *record, now time.Time) (State, error) {
		if err := bound(r, deviceID, now); err != nil {
			return "", err
		}
		r.Result = append(json.RawMessage(nil), result...)
		return StateCompleted, nil
	})
}

// Fail moves scanned session id to failed with reason (a snake_case code,
// e.g. "wrong_code"), for the device it is bound to.
func (s *Service) Fail(ctx context.Context, id, deviceID, reason string) (*Session, error) {
	if !idOK(deviceID) {
		return nil, fmt.Errorf("%w: empty or malformed device id", ErrInvalidArgument)
	}
	if !reasonOK(reason) {
		return nil, fmt.Errorf("%w: reason %q is not a snake_case code of at most %d characters", ErrInvalidArgument, reason, MaxReasonLen)
	}
	return s.change(ctx, id, func(r *record, now time.Time) (State, error) {
		if err := bound(r, deviceID, now); err != nil {
			return "", err
		}
		r.FailReason = reason
		return StateFailed, nil
	})
}

// Reject moves scanned session id to rejected, for the device it is bound to.
func (s *Service) Reject(ctx context.Context, id, deviceID string) (*Session, error) {
	if !idOK(deviceID) {
		return nil, fmt.Errorf("%w: empty or malformed device id", ErrInvalidArgument)
	}
	return s.change(ctx, id, func(r *record, now time.Time) (State, error) {
		if err := bound(r, deviceID, now); err != nil {
			return "", err
		}
		return StateRejected, nil
	})
}

// Cancel moves session id (waiting or scanned) to cancelled on behalf of
// the app that created it; for another app it is ErrNotFound.
func (s *Service) Cancel(ctx context.Context, id, appID string) (*Session, error) {
	return s.change(ctx, id, func(r *record, now time.Time) (State, error) {
		switch {
		case appID == "" || r.AppID != appID:
			return "", ErrNotFound
		case due(r, now):
			return "", errExpire
		}
		if err := CheckTransition(r.State, StateCancelled); err != nil {
			return "", err
		}
		return StateCancelled, nil
	})
}
