package audit

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/emmansun/gmsm/sm3"

	"github.com/ukeygate/ukeygate/storage"
)

// Entry format version 2 (a storage format: never change it, add a
// version instead). The personal fields of an entry, the user's id, the
// actor's id ("device:ID") and the organisation a delegate acted for
// (OnBehalfOf), are not hashed into the chain as they are: the entry
// carries a random Salt and the commitment
//
//	Subject = hex HMAC-SM3(Salt, "ukeygate/audit/subject/v2" 0x00 user 0x00 actor 0x00 on_behalf_of)
//
// and the chain hashes the entry with user, on_behalf_of, Salt and the
// actor's id removed (the actor's kind, "admin", "device", "app", stays
// hashed) and Subject kept. While Salt is there anyone can check that
// those fields are the ones committed to (VerifyChain does). Erasing a
// user (Pseudonymise) removes Salt and replaces the user's id (wherever
// it is) and their device ids by a pseudonym: the chain verifies as
// before, and nothing left in the entry leads back to the person.
//
// Entries written before version 2 (V absent) hash user and actor as
// they are; they cannot be changed without breaking the chain, so an
// erasure leaves them as they are and reports how many it left.
const (
	entryVersion   = 2
	subjectLabel   = "ukeygate/audit/subject/v2"
	saltLen        = 16
	pseudonymBytes = 8
)

// personal reports whether e names a person: a user or a device actor.
func personal(e *Entry) bool {
	return e.UserID != "" || e.OnBehalfOf != "" || strings.HasPrefix(e.Actor, "device:")
}

// actorKind is the part of an actor before its id ("device:ID" → "device").
func actorKind(actor string) string {
	if i := strings.IndexByte(actor, ':'); i >= 0 {
		return actor[:i]
	}
	return actor
}

func subjectOf(salt []byte, e *Entry) string {
	m := hmac.New(sm3.New, salt)
	m.Write([]byte(subjectLabel))
	for _, f := range []string{e.UserID, e.Actor, e.OnBehalfOf} {
		m.Write([]byte{0})
		m.Write([]byte(f))
	}
	return hex.EncodeToString(m.Sum(nil))
}

// stamp makes a new entry a version-2 entry: a fresh salt and the
// commitment to its personal fields, when it has any.
func stamp(e *Entry) error {
	e.V, e.Subject, e.Salt = entryVersion, "", ""
	if !personal(e) {
		return nil
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return fmt.Errorf("audit: random salt: %w", err)
	}
	e.Salt, e.Subject = hex.EncodeToString(salt), subjectOf(salt, e)
	return nil
}

// hashForm is what the chain hashes of e: a version-2 entry with a
// commitment loses its personal fields and its salt.
func hashForm(e Entry) (Entry, error) {
	switch e.V {
	case 0:
		if e.Subject != "" || e.Salt != "" {
			return e, fmt.Errorf("%w: entry %d has a commitment but no version", ErrTampered, e.Seq)
		}
		return e, nil
	case entryVersion:
	default:
		return e, fmt.Errorf("%w: entry %d has unknown version %d", ErrTampered, e.Seq, e.V)
	}
	if e.Subject == "" {
		if personal(&e) || e.Salt != "" {
			return e, fmt.Errorf("%w: entry %d names a person without a commitment", ErrTampered, e.Seq)
		}
		return e, nil
	}
	e.UserID, e.OnBehalfOf, e.Salt, e.Actor = "", "", "", actorKind(e.Actor)
	return e, nil
}

// checkSubject checks the personal fields of an entry that still has its
// salt against its commitment.
func checkSubject(e Entry) error {
	if e.V != entryVersion || e.Salt == "" {
		return nil
	}
	salt, err := hex.DecodeString(e.Salt)
	if err != nil || len(salt) != saltLen {
		return fmt.Errorf("%w: entry %d has a malformed salt", ErrTampered, e.Seq)
	}
	if !hmac.Equal([]byte(subjectOf(salt, &e)), []byte(e.Subject)) {
		return fmt.Errorf("%w: entry %d names another user or actor than it committed to", ErrTampered, e.Seq)
	}
	return nil
}

// eraseEntry erases userID (and the actors in devices, "device:…") from
// e: a version-2 entry about the user, by one of the devices or for the
// user as an organisation loses its salt and gets pseudonym in their
// place (changed); such an entry written before version 2 stays as it
// is (legacy: its hash covers the ids).
func eraseEntry(e *Entry, userID string, devices map[string]bool, pseudonym string) (changed, legacy bool) {
	mine, byDevice, forMe := e.UserID == userID, devices[e.Actor], e.OnBehalfOf == userID
	if !mine && !byDevice && !forMe {
		return false, false
	}
	if e.V < entryVersion || e.Subject == "" {
		return false, true
	}
	if mine {
		e.UserID = pseudonym
	}
	if byDevice {
		e.Actor = "device:" + pseudonym
	}
	if forMe {
		e.OnBehalfOf = pseudonym
	}
	e.Salt = ""
	return true, false
}

// ValidPseudonym reports whether p has the form Pseudonymise gives
// ("anon_" and 16 lower-case hex digits).
func ValidPseudonym(p string) bool {
	h, ok := strings.CutPrefix(p, "anon_")
	if !ok || len(h) != 2*pseudonymBytes {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil && strings.ToLower(h) == h
}

// PseudonymiseSegments carries an erasure the live log already had
// (Pseudonymise, which gave pseudonym) into exported segments, in place:
// their entries about userID are erased exactly as the live log's were,
// so each segment still verifies against the anchor the gateway recorded.
// The user's devices are deviceIDs and the device actors of the
// segments' entries about the user (every device's enrollment is such an
// entry, so given every segment from the first, none is missed). It
// changes nothing and fails when a segment does not verify before, or
// (which would be a bug) after. Running it again erases nothing more.
func PseudonymiseSegments(segs []Segment, userID string, deviceIDs []string, pseudonym string) (Erasure, error) {
	out := Erasure{Pseudonym: pseudonym}
	if userID == "" || ValidPseudonym(userID) {
		return out, fmt.Errorf("%w: no user to erase (%q)", ErrInvalidEntry, userID)
	}
	if !ValidPseudonym(pseudonym) {
		return out, fmt.Errorf("%w: %q is not a pseudonym the gateway gives (anon_ and 16 hex digits)", ErrInvalidEntry, pseudonym)
	}
	devices := map[string]bool{}
	for _, d := range deviceIDs {
		if d == "" || strings.HasPrefix(d, "device:") {
			return out, fmt.Errorf("%w: device id %q", ErrInvalidEntry, d)
		}
		devices["device:"+d] = true
	}
	for i := range segs {
		if _, err := VerifySegments(segs[i : i+1]); err != nil {
			return out, err
		}
		for _, e := range segs[i].Entries {
			if e.UserID == userID && strings.HasPrefix(e.Actor, "device:") {
				devices[e.Actor] = true
			}
		}
	}
	erased := make([][]Entry, len(segs))
	for i, s := range segs {
		entries := append([]Entry(nil), s.Entries...)
		for j := range entries {
			changed, legacy := eraseEntry(&entries[j], userID, devices, pseudonym)
			if changed {
				out.Erased++
			}
			if legacy {
				out.Legacy++
			}
		}
		check := s
		check.Entries = entries
		if _, err := VerifySegments([]Segment{check}); err != nil {
			return Erasure{Pseudonym: pseudonym}, fmt.Errorf("audit: the erased segment %d..%d no longer verifies: %w", s.Anchor.FirstSeq, s.Anchor.LastSeq, err)
		}
		erased[i] = entries
	}
	for i := range segs {
		segs[i].Entries = erased[i]
	}
	return out, nil
}

// Erasure is what Pseudonymise did.
type Erasure struct {
	// Pseudonym replaced the user's id (and, after "device:", the ids of
	// the user's devices) in the entries erased.
	Pseudonym string `json:"pseudonym"`
	// Erased counts the entries rewritten; Legacy the entries about the
	// user written before version 2, left as they are (their hash covers
	// the user's id).
	Erased int `json:"erased"`
	Legacy int `json:"legacy"`
}

// maxEraseBatch bounds the entries rewritten in one transaction (a
// condition and a put each).
const maxEraseBatch = 60

// Pseudonymise erases a user from the log: every version-2 entry about
// userID (as user or as the organisation a delegate acted for) or made by
// one of deviceIDs loses its salt, and the user's id and the devices' ids
// are replaced by one fresh pseudonym ("anon_…",
// the same in every entry, so the entries still read as one person's,
// but nothing leads from it to the person). The chain and the sealed
// head verify as before. It is idempotent; an entry changed meanwhile
// makes it start over.
func (l *Log) Pseudonymise(ctx context.Context, userID string, deviceIDs []string) (Erasure, error) {
	if userID == "" {
		return Erasure{}, fmt.Errorf("%w: no user to erase", ErrInvalidEntry)
	}
	p := make([]byte, pseudonymBytes)
	if _, err := rand.Read(p); err != nil {
		return Erasure{}, fmt.Errorf("audit: random pseudonym: %w", err)
	}
	out := Erasure{Pseudonym: "anon_" + hex.EncodeToString(p)}
	devices := map[string]bool{}
	for _, d := range deviceIDs {
		devices["device:"+d] = true
	}
	for attempt := 0; attempt < maxHeadRetries; attempt++ {
		erased, legacy, err := l.erasePass(ctx, userID, devices, out.Pseudonym)
		out.Erased += erased
		out.Legacy = legacy
		if errors.Is(err, storage.ErrConflict) {
			continue
		}
		return out, err
	}
	return out, fmt.Errorf("audit: entries kept changing during erasure: %w", storage.ErrConflict)
}

func (l *Log) erasePass(ctx context.Context, userID string, devices map[string]bool, pseudonym string) (erased, legacy int, err error) {
	kvs, _, err := l.store.List(ctx, entryPrefix)
	if err != nil {
		return 0, 0, err
	}
	var ops []storage.Op
	pending := 0
	flush := func() error {
		if len(ops) == 0 {
			return nil
		}
		if _, err := l.store.Txn(ctx, ops...); err != nil {
			return err
		}
		erased += pending
		ops, pending = ops[:0], 0
		return nil
	}
	for _, kv := range kvs {
		var e Entry
		if err := json.Unmarshal(kv.Value, &e); err != nil {
			return erased, legacy, fmt.Errorf("%w: entry %s is malformed", ErrTampered, kv.Key)
		}
		changed, old := eraseEntry(&e, userID, devices, pseudonym)
		if old {
			legacy++
		}
		if !changed {
			continue
		}
		b, err := json.Marshal(e)
		if err != nil {
			return erased, legacy, err
		}
		ops = append(ops, storage.IfRevision(kv.Key, kv.Revision), storage.Put(kv.Key, b, 0))
		pending++
		if pending == maxEraseBatch {
			if err := flush(); err != nil {
				return erased, legacy, err
			}
		}
	}
	return erased, legacy, flush()
}
