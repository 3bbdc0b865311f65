package ca

import (
	"context"
	"errors"
	"testing"
	"time"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/storage"
)

// TestUnlockKeyDefersItsChecks: with a guard set in the context
// (storage.DeferGuards, as a session's confirm opens it) a key use whose
// PIN check changed nothing leaves the revisions of the user and the
// credential to the transaction that delivers the result; what each later
// change of those records does to the use is decided by the guards'
// Recheck, and the conditions are real ones (a transaction carrying them
// fails once a record changed).
func TestUnlockKeyDefersItsChecks(t *testing.T) {
	t.Parallel()
	type world struct {
		f   *fixture
		uid string
		c   *Credential
	}
	cases := []struct {
		name string
		// change runs after the key was unlocked under guards.
		change func(t *testing.T, w world)
		// want: nil (the use stands, at the records' new revisions) or the
		// refusal.
		want error
	}{
		{name: "nothing changed", change: func(*testing.T, world) {}},
		{name: "the credential revoked", want: ErrCredentialNotActive, change: func(t *testing.T, w world) {
			if _, err := w.f.svc.Revoke(w.f.ctx, w.c.ID, "keyCompromise"); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "a wrong PIN counted meanwhile", want: ErrConflict, change: func(t *testing.T, w world) {
			if _, _, err := w.f.svc.UnlockKey(w.f.ctx, w.uid, w.c.ID, "864202"); !errors.Is(err, ErrWrongPIN) {
				t.Fatalf("wrong PIN: %v", err)
			}
		}},
		{name: "the PIN locked meanwhile", want: ErrPINLocked, change: func(t *testing.T, w world) {
			for range w.f.svc.cfg.PINMaxTries {
				_, _, _ = w.f.svc.UnlockKey(w.f.ctx, w.uid, w.c.ID, "864202")
			}
		}},
		{name: "the PIN changed meanwhile", want: ErrConflict, change: func(t *testing.T, w world) {
			if err := w.f.svc.ChangePIN(w.f.ctx, w.uid, testPIN, "135791"); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "another use refreshed the user record", change: func(t *testing.T, w world) {
			w.f.clock.Advance(LastPINAtResolution + time.Minute)
			k, _, err := w.f.svc.UnlockKey(w.f.ctx, w.uid, w.c.ID, testPIN)
			if err != nil {
				t.Fatal(err)
			}
			gmcrypto.ZeroKey(k)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.generated(t, "g", gmcrypto.AlgSM2, nil)
			uid := f.enrolled(t, UserRequest{Name: "guarded"})
			c := f.credential(t, uid, "g", gmcrypto.AlgSM2, PurposeSign)
			w := world{f: f, uid: uid, c: c}
			// A first use refreshes LastPINAt; the next changes nothing.
			if k, _, err := f.svc.UnlockKey(f.ctx, uid, c.ID, testPIN); err != nil {
				t.Fatal(err)
			} else {
				gmcrypto.ZeroKey(k)
			}

			ctx, guards := storage.DeferGuards(f.ctx)
			k, _, err := f.svc.UnlockKey(ctx, uid, c.ID, testPIN)
			if err != nil {
				t.Fatal(err)
			}
			gmcrypto.ZeroKey(k)
			conds := guards.Conds()
			if len(conds) != 2 || conds[0].Key != userKey(uid) || conds[1].Key != credentialKey(c.ID) {
				t.Fatalf("guards %+v, want the user's and the credential's records", conds)
			}
			for _, op := range conds {
				kv, err := f.store.Get(f.ctx, op.Key)
				if err != nil || kv.Revision != op.Revision {
					t.Fatalf("guard %s at revision %d, the store has %d (%v)", op.Key, op.Revision, kv.Revision, err)
				}
			}
			// A transaction carrying the guards commits only while the
			// records are as read.
			probe := func() error {
				ops := append(guards.Conds(), storage.Put("probe/"+c.ID, []byte("x"), 0))
				_, err := f.store.Txn(f.ctx, ops...)
				return err
			}

			tc.change(t, w)
			if tc.name == "nothing changed" {
				if err := probe(); err != nil {
					t.Fatalf("guards of unchanged records: %v", err)
				}
			} else if err := probe(); !errors.Is(err, storage.ErrConflict) {
				t.Fatalf("guards after %s: %v, want storage.ErrConflict", tc.name, err)
			}
			err = guards.Recheck(f.ctx)
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("Recheck after %s: %v, want %v", tc.name, err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("Recheck after %s: %v, want the use to stand", tc.name, err)
			}
			if err := probe(); err != nil {
				t.Fatalf("guards at the records' new revisions: %v", err)
			}
		})
	}
}

// TestUnlockKeyWithoutGuardsChecksAtOnce: a use that rewrites the user
// record (a LastPINAt refresh) commits its own check even when a guard
// set is open, and without a guard set a revoked credential is refused by
// UnlockKey itself.
func TestUnlockKeyWithoutGuardsChecksAtOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.generated(t, "g", gmcrypto.AlgSM2, nil)
	uid := f.enrolled(t, UserRequest{Name: "checked"})
	c := f.credential(t, uid, "g", gmcrypto.AlgSM2, PurposeSign)
	f.clock.Advance(LastPINAtResolution + time.Minute)
	ctx, guards := storage.DeferGuards(f.ctx)
	k, _, err := f.svc.UnlockKey(ctx, uid, c.ID, testPIN)
	if err != nil {
		t.Fatal(err)
	}
	gmcrypto.ZeroKey(k)
	if guards.Len() != 0 {
		t.Fatalf("a use that rewrote the user record left %d guards", guards.Len())
	}
	if _, err := f.svc.Revoke(f.ctx, c.ID, "keyCompromise"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.UnlockKey(context.WithoutCancel(f.ctx), uid, c.ID, testPIN); !errors.Is(err, ErrCredentialNotActive) {
		t.Fatalf("UnlockKey of a revoked credential: %v", err)
	}
}
