package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/protocol"
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
	// recMemo keeps recently decoded records (decodememo.go).
	recMemo recordMemo
	cfg     Config
	now     func() time.Time
	// results seals completed results at rest under the result key
	// (seal.go); sealing adds sealOverhead bytes.
	results      *gmcrypto.Wrapper
	sealOverhead int
	metrics      *metrics
	hub          *hub

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
	results, err := gmcrypto.NewWrapper(resultKey)
	if err != nil {
		return nil, fmt.Errorf("%w: the result key: %v", ErrInvalidConfig, err)
	}
	probe, err := results.Wrap(nil, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: the result key: %v", ErrInvalidConfig, err)
	}
	s := &Service{store: store, cfg: cfg, metrics: m, results: results, sealOverhead: len(probe)}
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
// Payload). Bad parameters are ErrInvalidRequest, a bad TTL ErrTTL, binary
// inputs (documents' data and ciphertext) over Config.MaxDataBytes
// ErrTooLarge, a result that could not be stored (CreationBound)
// ErrResultTooLarge, a ciphertext not of its format's shape
// ErrBadCiphertext; nothing is stored then.
func (s *Service) Create(ctx context.Context, p CreateParams) (*Session, string, string, error) {
	// The size first: an oversized input is refused as such, before its
	// shape is parsed.
	if n := p.Request.dataBytes(); n > s.cfg.MaxDataBytes {
		return nil, "", "", fmt.Errorf("%w: the documents' data and the ciphertext hold %d bytes, at most %d (session.max_data_bytes)",
			ErrTooLarge, n, s.cfg.MaxDataBytes)
	}
	if err := p.validate(); err != nil {
		return nil, "", "", err
	}
	ttl := p.TTL
	if ttl == 0 {
		ttl = s.cfg.TTL
	}
	if ttl < MinTTL || ttl > s.cfg.MaxTTL || ttl%time.Second != 0 {
		return nil, "", "", &protocol.FieldError{Field: "ttl_seconds", Err: ErrTTL,
			Reason: fmt.Sprintf("%s is not whole seconds between %s and %s", ttl, MinTTL, s.cfg.MaxTTL)}
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
	bufs := getWriteBufs()
	defer putWriteBufs(bufs)
	val, err := s.encodeRecord(r, &bufs.rec)
	if err != nil {
		return nil, "", "", err
	}
	ev := Event{Seq: 1, Type: EventTypeState, State: StateWaiting, At: now}
	evVal, err := s.encodeEvent(id, ev, &bufs.ev)
	if err != nil {
		return nil, "", "", err
	}
	if err := s.checkCompletion(ctx, r, p.ChainBytes, now); err != nil {
		return nil, "", "", err
	}
	kttl := s.keyTTL(r, now)
	// The outbox's conditions may fail (a webhook changed meanwhile): ask
	// it again; the session id is fresh, so that is the only conflict.
	for try := 1; ; try++ {
		outOps, outBytes, err := s.outboxOps(ctx, r, ev)
		if err != nil {
			return nil, "", "", err
		}
		if err := s.checkWrite(id, len(val)+len(evVal)+outBytes); err != nil {
			return nil, "", "", err
		}
		ops := append([]storage.Op{
			storage.IfAbsent(sessionKey(id)),
			storage.Put(sessionKey(id), val, kttl),
			storage.Put(eventKey(id, 1), evVal, kttl),
			storage.Put(expiryKey(r.ExpiresAt, id), nil, kttl),
		}, outOps...)
		_, err = s.store.Txn(ctx, ops...)
		if errors.Is(err, storage.ErrConflict) && len(outOps) > 0 && try < maxConflictRetries {
			continue
		}
		if err != nil {
			return nil, "", "", fmt.Errorf("session: create: %w", err)
		}
		break
	}
	var firstAt time.Time // the first event exactly as a store read would return it
	if first, err := s.decodeEvent(id, eventKey(id, 1), evVal); err == nil && reflect.DeepEqual(first, firstEvent(first.At)) {
		firstAt = first.At
	}
	s.hub.created(id, r.AppID, r.WatchTokenHash, firstAt)
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
// Its Result is empty: a completed session's result is in its final event
// (Events).
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

// CheckNonce returns session id if nonce is its QR nonce, compared in
// constant time; anything else (no session, malformed or wrong nonce) is
// ErrNotFound. It tells nothing else about the session, so a scan checks it
// before anything that could (the app, the user, the state); it changes
// nothing (Scan checks the nonce again when it binds).
func (s *Service) CheckNonce(ctx context.Context, id, nonce string) (*Session, error) {
	if !isToken(nonce, IDLen) {
		return nil, ErrNotFound
	}
	r, _, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if !gmcrypto.Equal([]byte(nonce), []byte(r.Nonce)) {
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
// nonce: the check and the binding are one compare-and-swap. The same
// device (and user) scanning the session again while it is still scanned
// (a second tab, a reload in another tab) gets the session as it is,
// nothing changed (ScanShown: with the same code choices). Refusals
// (nothing changes):
//   - no such session or a wrong nonce: ErrNotFound (which one is not told);
//   - expired: ErrExpired;
//   - scanned already by another device: ErrAlreadyScanned;
//   - the nonce was consumed and the session has ended since: ErrNonceUsed;
//   - cancelled before any scan: ErrSessionClosed;
//   - the portal asked for another user: ErrWrongUser.
func (s *Service) Scan(ctx context.Context, id, nonce, deviceID, userID string) (*Session, error) {
	sess, _, err := s.ScanShown(ctx, id, nonce, deviceID, userID)
	return sess, err
}

// ScanShown is Scan, and also returns the three matching code choices the
// phone shows (CodeChoices): drawn at the binding and kept with the
// session, so that a repeated scan by the same device shows the very same
// three (other decoys would give the code away: it is the one choice the
// answers share).
func (s *Service) ScanShown(ctx context.Context, id, nonce, deviceID, userID string) (*Session, [3]string, error) {
	var choices [3]string
	if !idOK(deviceID) || !idOK(userID) {
		return nil, choices, fmt.Errorf("%w: device and user ids must be non-empty and at most %d bytes", ErrInvalidArgument, MaxIDLen)
	}
	if !isToken(nonce, IDLen) {
		return nil, choices, ErrNotFound
	}
	sess, err := s.change(ctx, id, func(r *record, now time.Time) (State, error) {
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
			c, err := CodeChoices(r.Code)
			if err != nil {
				return "", err
			}
			r.DeviceID, r.UserID, r.NonceUsed, r.CodeChoices = deviceID, userID, true, c
			choices = c
			return StateScanned, nil
		case r.State == StateScanned && r.DeviceID == deviceID && r.UserID == userID:
			// The same phone again: the same answer, nothing changes
			// (a session bound before the choices were kept gets
			// them now, without an event).
			if r.CodeChoices == ([3]string{}) {
				c, err := CodeChoices(r.Code)
				if err != nil {
					return "", err
				}
				r.CodeChoices = c
				choices = c
				return StateScanned, nil
			}
			choices = r.CodeChoices
			return "", nil
		case r.State == StateScanned:
			return "", ErrAlreadyScanned
		case r.State == StateExpired:
			return "", ErrExpired
		case r.NonceUsed:
			return "", ErrNonceUsed
		}
		return "", ErrSessionClosed
	})
	if err != nil {
		return nil, [3]string{}, err
	}
	return sess, choices, nil
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
//     and not expired (else ErrExpired, and it is expired now), and no
//     other confirm may hold it: Confirm claims it by compare-and-swap for
//     ClaimTTL (a record field, not a state; no event), and a concurrent
//     Confirm is refused with ErrConfirmInProgress before its op runs;
//  2. op runs with a copy of the session and performs the operation
//     (unwrap the key with the PIN, sign or decrypt) — it should start
//     with CheckCode, and call CheckConfirm right before it uses the key
//     and again once it has the result;
//  3. on success, the session moves to completed with op's result (valid
//     JSON) in the final event, in one compare-and-swap that also checks
//     the claim is still this Confirm's.
//
// The contract: a Confirm either fully happens (the session is completed,
// its final event carries the result, and (session, nil) is returned) or
// leaves the session as it was, still confirmable, with these exceptions:
//   - op returned an error built with OperationFailed (wrong matching code,
//     revoked credential, result too large…): the session moves to failed
//     with that reason and the *OpError is returned (errors.Is
//     ErrOperationFailed);
//   - the session changed while op ran (expired, cancelled, its claim
//     lapsed and another Confirm took it): op's result is discarded and
//     the state's error is returned (ErrExpired, ErrSessionClosed,
//     ErrConfirmInProgress);
//   - the completing write would exceed Config.MaxWriteBytes: the session
//     fails with ReasonResultTooLarge (op should have found out with
//     CheckConfirm before using the key).
//
// Any other error of op (wrong PIN, locked key) is returned as is, the
// claim is released and the session stays scanned. Confirm never retries
// op; op runs at most once per claim.
func (s *Service) Confirm(ctx context.Context, id, deviceID string, op func(*Session) (json.RawMessage, error)) (*Session, error) {
	if !idOK(deviceID) {
		return nil, fmt.Errorf("%w: empty or malformed device id", ErrInvalidArgument)
	}
	claim, err := randomToken(idBytes)
	if err != nil {
		return nil, err
	}
	sess, err := s.change(ctx, id, func(r *record, now time.Time) (State, error) {
		if err := bound(r, deviceID, now); err != nil {
			return "", err
		}
		if r.claimedByOther(claim, now) {
			return "", ErrConfirmInProgress
		}
		r.ClaimID, r.ClaimUntil = claim, now.Add(ClaimTTL)
		return r.State, nil
	})
	if err != nil {
		return nil, err
	}
	sess.claim = claim
	result, opErr := op(sess.clone())

	// The writes after op run even if the caller has gone: the key may
	// have been used.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	// held: the session is still scanned, bound to deviceID, not expired
	// and claimed by this Confirm.
	held := func(r *record, now time.Time) error {
		if err := bound(r, deviceID, now); err != nil {
			return err
		}
		if r.ClaimID != claim {
			return ErrConfirmInProgress
		}
		return nil
	}
	fail := func(reason string) error {
		_, err := s.change(wctx, id, func(r *record, now time.Time) (State, error) {
			if err := held(r, now); err != nil {
				return "", err
			}
			r.FailReason = reason
			return StateFailed, nil
		})
		return err
	}
	if opErr != nil {
		var oe *OpError
		if !errors.As(opErr, &oe) {
			s.release(wctx, id, claim) // retryable: the session stays scanned
			return nil, opErr
		}
		reason := oe.Reason
		if !reasonOK(reason) {
			reason = defaultOpError
		}
		if err := fail(reason); err != nil {
			return nil, err
		}
		return nil, opErr
	}
	if !json.Valid(result) {
		s.release(wctx, id, claim)
		return nil, fmt.Errorf("%w: the operation's result is not valid JSON", ErrInvalidArgument)
	}
	// The audit entry of the delivered result (AtomicRecorder) commits
	// with the completion.
	cctx := wctx
	if commit := completionCommit(ctx); commit != nil {
		cctx = context.WithValue(wctx, commitViaKey{}, commit)
	}
	done, err := s.change(cctx, id, func(r *record, now time.Time) (State, error) {
		if err := held(r, now); err != nil {
			return "", err
		}
		r.Result = append(json.RawMessage(nil), result...)
		return StateCompleted, nil
	})
	if errors.Is(err, ErrTooLarge) {
		opErr := OperationFailed(ReasonResultTooLarge, err)
		if err := fail(ReasonResultTooLarge); err != nil {
			return nil, err
		}
		return nil, opErr
	}
	if err != nil {
		// Refused (a record the key use relied on changed meanwhile) or
		// failed: this confirm is over, so its claim goes and the phone
		// may confirm again at once (release leaves a session that moved
		// on, or a completion that did commit, as it is).
		s.release(wctx, id, claim)
	}
	return done, err
}

// finishTimeout bounds the writes Confirm makes after op.
const finishTimeout = 10 * time.Second

// release drops claim from session id if it still holds it (best effort:
// a claim left behind lapses after ClaimTTL).
func (s *Service) release(ctx context.Context, id, claim string) {
	_, _ = s.change(ctx, id, func(r *record, now time.Time) (State, error) {
		if !r.Open() || r.ClaimID != claim {
			return "", nil
		}
		if due(r, now) {
			return "", errExpire
		}
		r.ClaimID, r.ClaimUntil = "", time.Time{}
		return r.State, nil
	})
}

// CheckConfirm is for Confirm's op, with the Session it was handed: it
// re-reads the session and returns nil if the confirm can still complete
// with a result of maxResult bytes (the JSON op would return; see
// ResultBound before the key is used). Otherwise:
//   - ErrExpired, ErrSessionClosed, ErrWrongDevice: the session changed;
//   - ErrConfirmInProgress: this confirm's claim lapsed and another took it;
//   - an *OpError of reason ReasonResultTooLarge (errors.Is ErrTooLarge):
//     such a result could not be stored; op returns it and the session
//     fails.
//
// Call it right before using the key (so that an expired or cancelled
// session never gets it used) and again with the result's size before
// recording the key use as successful.
func (s *Service) CheckConfirm(ctx context.Context, sess *Session, maxResult int) error {
	if sess == nil || sess.claim == "" || maxResult < 0 {
		return fmt.Errorf("%w: CheckConfirm takes the session Confirm handed to its op", ErrInvalidArgument)
	}
	r, _, err := s.load(ctx, sess.ID)
	if err != nil {
		return err
	}
	now := s.now()
	if err := bound(r, sess.DeviceID, now); err != nil {
		if errors.Is(err, errExpire) {
			return ErrExpired
		}
		return err
	}
	if r.ClaimID != sess.claim {
		return ErrConfirmInProgress
	}
	if maxResult > s.cfg.MaxWriteBytes {
		return OperationFailed(ReasonResultTooLarge, fmt.Errorf("%w: a result of %d bytes exceeds a write of %d", ErrTooLarge, maxResult, s.cfg.MaxWriteBytes))
	}
	n, err := s.completionSize(ctx, r, maxResult, now)
	if err != nil {
		return err
	}
	if err := s.checkWrite(r.ID, n); err != nil {
		return OperationFailed(ReasonResultTooLarge, err)
	}
	return nil
}

// checkCompletion refuses a new session whose completion with the largest
// result it may produce (CreationBound) could not be stored: it would
// only fail at confirm (ErrResultTooLarge).
func (s *Service) checkCompletion(ctx context.Context, r *record, chainBytes int, now time.Time) error {
	bound := CreationBound(&r.Session, chainBytes)
	n, err := s.completionSize(ctx, r, bound, now)
	if err != nil {
		return err
	}
	if bound > s.cfg.MaxWriteBytes || n > s.cfg.MaxWriteBytes {
		return fmt.Errorf("%w: its result may take %d bytes and its completion %d, a write holds at most %d: send a digest, use cms-detached or split the documents",
			ErrResultTooLarge, bound, n, s.cfg.MaxWriteBytes)
	}
	return nil
}

// completionSize is the exact size of the values the completion of r with
// a result of resultLen bytes writes (the sealed result's bytes do not
// change the size of its encoding, so none is sealed here).
func (s *Service) completionSize(ctx context.Context, r *record, resultLen int, now time.Time) (int, error) {
	// A copy of r (trim replaces the slices it changes, so r's stay as
	// they are), measured as encodeRecord would encode it.
	c := *r
	c.Result = nil
	c.State, c.Seq, c.EndedAt = StateCompleted, r.Seq+1, now
	c.trim()
	c.ClaimID, c.ClaimUntil = "", time.Time{}
	val, err := jsonSize(storedForm(&c))
	if err != nil {
		return 0, fmt.Errorf("session: encode %s: %w", r.ID, err)
	}
	// The event with a one-byte sealed result, then the length of the
	// real one's base64 in its place.
	se := storedEvent{
		Event:        Event{Seq: c.Seq, Type: EventTypeState, State: StateCompleted, At: now},
		SealedResult: []byte{0},
	}
	ev, err := jsonSize(&se)
	if err != nil {
		return 0, fmt.Errorf("session: encode event of %s: %w", r.ID, err)
	}
	out, err := s.outboxSize(ctx, &c, resultLen, se.Event)
	if err != nil {
		return 0, err
	}
	return val + ev - b64Len(1) + b64Len(resultLen+s.sealOverhead) + out, nil
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
