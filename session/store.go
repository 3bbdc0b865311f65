package session

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ukeygate/ukeygate/storage"
)

// Storage layout (values are JSON):
//
//	sessions/ID                  the record: the Session and its secrets
//	sessions/ID/events/%016d     one Event per transition, Seq 1, 2, 3…
//	session-expiry/%012d/ID      index of open sessions by the second they
//	                             expire (rounded up); deleted when the
//	                             session ends
//
// A completed session's result is in the record and its completed event
// only sealed under Config.ResultKey ("result_sealed", seal.go).
//
// Every key of a session is written with a store TTL ending at
// ExpiresAt + Config.Retention, so the store deletes a session by itself
// some time after it ended, even if no node is running then.
const (
	sessionsPrefix = "sessions/"
	expiryPrefix   = "session-expiry/"
	eventsInfix    = "/events/"
)

func sessionKey(id string) string   { return sessionsPrefix + id }
func eventsPrefix(id string) string { return sessionsPrefix + id + eventsInfix }
func eventKey(id string, seq int64) string {
	return fmt.Sprintf("%s%s%s%016d", sessionsPrefix, id, eventsInfix, seq)
}

// expiryBucket is the whole second at or after t: the session is due for
// expiry once the clock reaches it.
func expiryBucket(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

func expiryBucketPrefix(b int64) string { return fmt.Sprintf("%s%012d/", expiryPrefix, b) }
func expiryKey(t time.Time, id string) string {
	return expiryBucketPrefix(expiryBucket(t)) + id
}

// parseExpiryKey returns the bucket and session id of an index key.
func parseExpiryKey(key string) (int64, string, bool) {
	rest, ok := strings.CutPrefix(key, expiryPrefix)
	if !ok {
		return 0, "", false
	}
	b, id, ok := strings.Cut(rest, "/")
	if !ok || !ValidID(id) {
		return 0, "", false
	}
	n, err := strconv.ParseInt(b, 10, 64)
	if err != nil {
		return 0, "", false
	}
	return n, id, true
}

// record is what sessions/ID holds: the Session plus the secrets that never
// leave the package. It is stored as a storedRecord, with the result
// sealed (seal.go).
type record struct {
	Session
	// Nonce is the one-time QR nonce (kept after the scan so that a replay
	// is recognised; the QR image can be rendered again while it lives).
	Nonce     string `json:"qr_nonce"`
	NonceUsed bool   `json:"qr_nonce_used,omitempty"`
	// WatchTokenHash is SM3 of the watch token.
	WatchTokenHash []byte `json:"watch_token_sm3"`
}

// keyTTL is the store TTL for a key of session r written at now: until
// ExpiresAt + Retention, in whole seconds, at least one second.
func (s *Service) keyTTL(r *record, now time.Time) time.Duration {
	d := r.ExpiresAt.Add(s.cfg.Retention).Sub(now)
	d = (d + time.Second - 1).Truncate(time.Second)
	if d < time.Second {
		d = time.Second
	}
	return d
}

// load reads the record of id with its revision. A malformed id is
// ErrNotFound without touching the store.
func (s *Service) load(ctx context.Context, id string) (*record, int64, error) {
	if !ValidID(id) {
		return nil, 0, ErrNotFound
	}
	kv, err := s.store.Get(ctx, sessionKey(id))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, 0, ErrNotFound
	}
	if err != nil {
		return nil, 0, fmt.Errorf("session: read %s: %w", id, err)
	}
	r, err := s.decodeRecord(id, kv.Value)
	if err != nil {
		return nil, 0, err
	}
	return r, kv.Revision, nil
}

// listEvents returns every stored event of session id in order. No events
// means no session.
func (s *Service) listEvents(ctx context.Context, id string) ([]Event, error) {
	kvs, _, err := s.store.List(ctx, eventsPrefix(id))
	if err != nil {
		return nil, fmt.Errorf("session: list events of %s: %w", id, err)
	}
	evs := make([]Event, 0, len(kvs))
	for _, kv := range kvs {
		e, err := s.decodeEvent(id, kv.Key, kv.Value)
		if err != nil {
			return nil, err
		}
		evs = append(evs, e)
	}
	return evs, nil
}

// decision is what a decide function returns: the state to move to (""
// for no change) or an error.
type decideFunc func(r *record, now time.Time) (State, error)

// errExpire, returned by a decide function, makes change expire the
// session (if still open) and return ErrExpired.
var errExpire = errors.New("session: expire now")

// maxConflictRetries bounds how often change re-reads a session whose
// revision moved under it.
const maxConflictRetries = 16

// change performs one transition of session id: it loads the record, asks
// decide for the new state (decide may also fill fields of r), and writes
// the record and the new event in one Txn conditioned on the revision it
// read (plus, for an end state, the removal of the expiry index entry).
// On a lost race it re-reads and asks decide again. It returns the session
// after the change (or unchanged when decide returned "").
func (s *Service) change(ctx context.Context, id string, decide decideFunc) (*Session, error) {
	for range maxConflictRetries {
		r, rev, err := s.load(ctx, id)
		if err != nil {
			return nil, err
		}
		now := s.now()
		to, derr := decide(r, now)
		var retErr error
		switch {
		case errors.Is(derr, errExpire):
			if !r.Open() {
				return nil, ErrExpired
			}
			to, retErr = StateExpired, ErrExpired
		case derr != nil:
			return nil, derr
		case to == "":
			return r.Session.clone(), nil
		}
		if err := CheckTransition(r.State, to); err != nil {
			return nil, err // a decide function bug; never write it
		}
		prev := r.State
		r.State = to
		r.Seq++
		ev := Event{Seq: r.Seq, Type: EventTypeState, State: to, At: now}
		if to.Final() {
			r.EndedAt = now
			ev.Reason = r.FailReason
		}
		// The result is sealed once, for (id, the completed event's Seq),
		// and stored so in the record and the event (seal.go).
		var sealed []byte
		if to == StateCompleted && len(r.Result) > 0 {
			ev.Result = r.Result
			if sealed, err = s.sealResult(id, ev.Seq, r.Result); err != nil {
				return nil, err
			}
		}
		ttl := s.keyTTL(r, now)
		val, err := s.encodeRecord(r, sealed)
		if err != nil {
			return nil, err
		}
		evVal, err := s.encodeEvent(id, ev, sealed)
		if err != nil {
			return nil, err
		}
		ops := []storage.Op{
			storage.IfRevision(sessionKey(id), rev),
			storage.Put(sessionKey(id), val, ttl),
			storage.Put(eventKey(id, ev.Seq), evVal, ttl),
		}
		if to.Final() {
			ops = append(ops, storage.Delete(expiryKey(r.ExpiresAt, id)))
		}
		_, err = s.store.Txn(ctx, ops...)
		if errors.Is(err, storage.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("session: write %s (%s to %s): %w", id, prev, to, err)
		}
		if to.Final() {
			s.metrics.finished(r.Kind, to, r.FailReason)
		}
		if retErr != nil {
			return nil, retErr
		}
		return r.Session.clone(), nil
	}
	return nil, fmt.Errorf("session: %s changed %d times under us: %w", id, maxConflictRetries, storage.ErrConflict)
}
