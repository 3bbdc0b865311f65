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
// A completed session's result is stored once, in its completed event,
// sealed under Config.ResultKey ("result_sealed", seal.go). When a session
// ends, its record drops the bulky inputs (documents' data, ciphertext;
// Session.Trimmed), so that the completing write holds the result once and
// little else.
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

// bucketDigits is the width of an expiry bucket in its index key.
const bucketDigits = 12

func expiryBucketPrefix(b int64) string { return fmt.Sprintf("%s%0*d/", expiryPrefix, bucketDigits, b) }
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
	// CodeChoices are the three matching codes the scanning phone was
	// shown (ScanShown), kept so that the same phone scanning again is
	// shown the same three.
	CodeChoices [3]string `json:"code_choices,omitzero"`
	// WatchTokenHash is SM3 of the watch token.
	WatchTokenHash []byte `json:"watch_token_sm3"`
	// ClaimID and ClaimUntil are the claim of the confirm in progress
	// (Confirm): a random id and when it lapses. Not a state: the session
	// stays scanned, and no event is written for a claim.
	ClaimID    string    `json:"confirm_claim,omitempty"`
	ClaimUntil time.Time `json:"confirm_claim_until,omitzero"`
	// CosignSealed is the pending two-party exchange between the two
	// confirm requests of a cosign credential (cosign.go), sealed under
	// the result key: the key side's secret state and the result template.
	CosignSealed []byte `json:"cosign_sealed,omitempty"`
}

// claimedByOther reports whether another confirm than claim holds r at now.
func (r *record) claimedByOther(claim string, now time.Time) bool {
	return r.ClaimID != "" && r.ClaimID != claim && now.Before(r.ClaimUntil)
}

// keyTTL is the store TTL for a key of session r written at now: until
// ExpiresAt + Retention, or EndedAt + Retention once the session has
// ended (a session that ends early leaves the store early: its record
// holds the result, the largest part of it), in whole seconds, at least
// one second.
func (s *Service) keyTTL(r *record, now time.Time) time.Duration {
	until := r.ExpiresAt
	if r.State.Final() && !r.EndedAt.IsZero() && r.EndedAt.Before(until) {
		until = r.EndedAt
	}
	d := until.Add(s.cfg.Retention).Sub(now)
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
	// Only decoded (decodeRecord's memo keeps its own copy of the bytes):
	// the cache's copy will do.
	kv, err := storage.GetShared(ctx, s.store, sessionKey(id))
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

// decideFunc is what a transition asks: the state to move to ("" for no
// change; the record's current state to rewrite the record only, with no
// event, e.g. a confirm claim) or an error. It may also fill fields of r.
type decideFunc func(r *record, now time.Time) (State, error)

// errExpire, returned by a decide function, makes change expire the
// session (if still open) and return ErrExpired.
var errExpire = errors.New("session: expire now")

// maxConflictRetries bounds how often change re-reads a session whose
// revision moved under it.
const maxConflictRetries = 16

// transition applies the move of r to state to at now (to == r.State:
// the record alone) and returns the stored values to write: the record and,
// for a move, the new event (nil otherwise). An end state trims the
// record's inputs and drops the confirm claim; a completion's result
// (r.Result) goes only into the event, sealed. r is changed in place and
// keeps Result for the caller.
func (s *Service) transition(r *record, to State, now time.Time, bufs *writeBufs) (val, evVal []byte, ev Event, err error) {
	if to == r.State {
		val, err = s.encodeRecord(r, &bufs.rec)
		return val, nil, Event{}, err
	}
	r.State = to
	r.Seq++
	ev = Event{Seq: r.Seq, Type: EventTypeState, State: to, At: now}
	if to.Final() {
		r.EndedAt = now
		ev.Reason = r.FailReason
		r.trim()
		r.ClaimID, r.ClaimUntil = "", time.Time{}
	}
	if to == StateCompleted {
		ev.Result = r.Result
	}
	if val, err = s.encodeRecord(r, &bufs.rec); err != nil {
		return nil, nil, Event{}, err
	}
	if evVal, err = s.encodeEvent(r.ID, ev, &bufs.ev); err != nil {
		return nil, nil, Event{}, err
	}
	return val, evVal, ev, nil
}

// checkWrite refuses a transition whose values exceed Config.MaxWriteBytes.
func (s *Service) checkWrite(id string, n int) error {
	if n > s.cfg.MaxWriteBytes {
		return fmt.Errorf("%w: a write of session %s would hold %d bytes, at most %d", ErrTooLarge, id, n, s.cfg.MaxWriteBytes)
	}
	return nil
}

// change performs one transition of session id: it loads the record, asks
// decide for the new state (decide may also fill fields of r), and writes
// the record and the new event in one Txn conditioned on the revision it
// read (plus, for an end state, the removal of the expiry index entry).
// On a lost race it re-reads and asks decide again. It returns the session
// after the change (or unchanged when decide returned ""). A write over
// Config.MaxWriteBytes is ErrTooLarge and never reaches the store.
// commitViaKey holds, in a change's context, the function that commits
// its operations instead of the store's Txn (a confirm's completion with
// its audit entry, AtomicRecorder).
type commitViaKey struct{}

func (s *Service) change(ctx context.Context, id string, decide decideFunc) (*Session, error) {
	// Each try encodes into bufs anew, once the previous try's store call
	// has returned.
	bufs := getWriteBufs()
	defer putWriteBufs(bufs)
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
		if to != r.State {
			if err := CheckTransition(r.State, to); err != nil {
				return nil, err // a decide function bug; never write it
			}
		}
		prev := r.State
		val, evVal, ev, err := s.transition(r, to, now, bufs)
		if err != nil {
			return nil, err
		}
		var outOps []storage.Op
		outBytes := 0
		if evVal != nil {
			if outOps, outBytes, err = s.outboxOps(ctx, r, ev); err != nil {
				return nil, err
			}
		}
		if err := s.checkWrite(id, len(val)+len(evVal)+outBytes); err != nil {
			return nil, err
		}
		ttl := s.keyTTL(r, now)
		ops := []storage.Op{
			storage.IfRevision(sessionKey(id), rev),
			storage.Put(sessionKey(id), val, ttl),
		}
		if evVal != nil {
			ops = append(ops, storage.Put(eventKey(id, r.Seq), evVal, ttl))
		}
		if to != prev && to.Final() {
			ops = append(ops, storage.Delete(expiryKey(r.ExpiresAt, id)))
		}
		ops = append(ops, outOps...)
		// A device request's nonce (storage.DeferOnce) is consumed with
		// the first write the request makes.
		if commit, ok := ctx.Value(commitViaKey{}).(func(context.Context, []storage.Op) error); ok {
			err = commit(ctx, ops)
		} else {
			_, err = storage.TxnOnce(ctx, s.store, ops...)
		}
		if errors.Is(err, storage.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("session: write %s (%s to %s): %w", id, prev, to, err)
		}
		if to != prev && to.Final() {
			s.metrics.finished(r.Kind, to, r.FailReason)
		}
		if retErr != nil {
			return nil, retErr
		}
		return r.Session.clone(), nil
	}
	return nil, fmt.Errorf("session: %s changed %d times under us: %w", id, maxConflictRetries, storage.ErrConflict)
}
