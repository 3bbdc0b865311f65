package ca

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/storage"
)

const (
	passDave      = "dave's own passphrase 4"
	passBobNew    = "bob's new passphrase 55"
	rotateReason  = "alice left the company, ticket 77"
	passCarolNext = "carol next passphrase 6"
)

// newPasses are the passphrases of the new key's custodians (rotate).
var newPasses = map[string]string{"bob": passBobNew, "carol": passCarolNext, "dave": passDave}

// rotate opens a rotation to bob, carol and dave (2 of 3) as admin, has
// each of them confirm their new share file, and returns it with the new
// share files by custodian.
func (w *escrowWorld) rotate(t *testing.T) (*Rotation, map[string]EscrowShare) {
	t.Helper()
	rot, next := w.rotateUnconfirmed(t)
	w.confirmAll(t, rot.ID, next)
	return rot, next
}

// confirmAll has every custodian of next confirm their share file.
func (w *escrowWorld) confirmAll(t *testing.T, id string, next map[string]EscrowShare) {
	t.Helper()
	for name, sh := range next {
		if _, err := w.svc.ConfirmRotation(w.ctx, id, name, []byte(sh.File), newPasses[name]); err != nil {
			t.Fatalf("ConfirmRotation %s: %v", name, err)
		}
	}
}

// rotateUnconfirmed is rotate without the confirmations.
func (w *escrowWorld) rotateUnconfirmed(t *testing.T) (*Rotation, map[string]EscrowShare) {
	t.Helper()
	rot, shares, err := w.svc.RotateEscrow(w.ctx, EscrowRotate{
		Custodians: []CustodianPassphrase{{"bob", passBobNew}, {"carol", passCarolNext}, {"dave", passDave}},
		Iterations: testIter, Reason: rotateReason, By: "admin",
	})
	if err != nil {
		t.Fatalf("RotateEscrow: %v", err)
	}
	next := map[string]EscrowShare{}
	for _, s := range shares {
		next[s.Custodian] = s
	}
	return rot, next
}

func (w *escrowWorld) approve(t *testing.T, id, as, file, pass string) (*Rotation, error) {
	t.Helper()
	return w.svc.ApproveRotation(w.ctx, id, as, []byte(file), pass)
}

// escrowIDs maps every credential with an escrow copy to its escrow key.
func (w *escrowWorld) escrowIDs(t *testing.T) map[string]string {
	t.Helper()
	kvs, _, err := w.store.List(w.ctx, pfxCredentials)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, kv := range kvs {
		var c credentialRecord
		if jsonUnmarshal(kv, &c) != nil {
			continue // a record a test damaged on purpose
		}
		if len(c.Escrow) > 0 {
			out[c.ID] = c.EscrowID
		}
	}
	return out
}

// TestEscrowRotation: refused rotations and approvals change nothing; one
// custodian of the current key does not switch it; the second does, and
// every escrow copy moves to the new key. Afterwards the new custodians
// recover a key escrowed before the rotation (it opens a CMS made for it
// then), the old share files are refused, and a new credential is escrowed
// under the new key.
func TestEscrowRotation(t *testing.T) {
	w := newEscrowWorld(t)
	other := w.enrolled(t, UserRequest{Name: "赵六"})
	otherEnc := w.credential(t, other, escrowIssuer, gmcrypto.AlgSM2, PurposeEncrypt)
	plain := []byte("sealed bid before the rotation")
	env, err := gmcrypto.EnvelopeCMS(plain, w.enc.Certificate)
	if err != nil {
		t.Fatal(err)
	}
	old := w.escrow.ID

	before := w.snapshot(t)
	three := []CustodianPassphrase{{"bob", passBobNew}, {"carol", passCarolNext}, {"dave", passDave}}
	for name, req := range map[string]EscrowRotate{
		"no reason":          {Custodians: three, By: "admin"},
		"one custodian":      {Custodians: three[:1], Reason: rotateReason, By: "admin"},
		"operator custodian": {Custodians: three, Reason: rotateReason, By: "dave"},
		"short passphrase":   {Custodians: []CustodianPassphrase{{"bob", "short"}, {"dave", passDave}}, Reason: rotateReason, By: "admin"},
		"ttl too long":       {Custodians: three, Reason: rotateReason, By: "admin", TTL: MaxRotationTTL + time.Hour},
	} {
		if _, _, err := w.svc.RotateEscrow(w.ctx, req); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if w.snapshot(t) != before {
		t.Fatal("a refused rotation changed the store")
	}

	rot, next := w.rotateUnconfirmed(t)
	if rot.State != RotationStateOpen || rot.From != old || rot.Next.ID == old || rot.Threshold != 2 || len(next) != 3 ||
		len(rot.Confirmations) != 0 || !slices.Equal(rot.Unconfirmed, []string{"bob", "carol", "dave"}) {
		t.Fatalf("rotation %+v", rot)
	}
	if _, _, err := w.svc.RotateEscrow(w.ctx, EscrowRotate{Custodians: three, Iterations: testIter, Reason: rotateReason, By: "admin"}); !errors.Is(err, ErrRotationPending) {
		t.Fatalf("second rotation while one is open: %v", err)
	}
	if esc, _ := w.svc.Escrow(w.ctx); esc.ID != old {
		t.Fatalf("the key switched before any approval: %s", esc.ID)
	}

	// The new custodians confirm their new share files before any
	// approval counts; refused confirmations change nothing.
	before = w.snapshot(t)
	for _, r := range []struct {
		name, id, as, file, pass string
		want                     error
	}{
		{"unknown rotation", "rot_nope", "bob", next["bob"].File, passBobNew, ErrRotationNotFound},
		{"not a new custodian", rot.ID, "alice", next["bob"].File, passBobNew, ErrCustodianForbidden},
		{"the requester", rot.ID, "admin", next["bob"].File, passBobNew, ErrCustodianForbidden},
		{"a share of the current key", rot.ID, "bob", w.shares["bob"].File, passBob, ErrShareInvalid},
		{"wrong passphrase", rot.ID, "bob", next["bob"].File, passBob, ErrShareInvalid},
		{"another custodian's new file", rot.ID, "bob", next["carol"].File, passCarolNext, ErrShareInvalid},
		{"not a share file", rot.ID, "bob", "garbage", passBobNew, ErrShareInvalid},
		{"altered file", rot.ID, "bob", strings.Replace(next["bob"].File, "Index: 1", "Index: 2", 1), passBobNew, ErrShareInvalid},
	} {
		if _, err := w.svc.ConfirmRotation(w.ctx, r.id, r.as, []byte(r.file), r.pass); !errors.Is(err, r.want) {
			t.Errorf("confirm, %s: %v, want %v", r.name, err, r.want)
		}
	}
	if _, err := w.approve(t, rot.ID, "bob", w.shares["bob"].File, passBob); !errors.Is(err, ErrRotationUnconfirmed) || !strings.Contains(err.Error(), "bob, carol, dave") {
		t.Fatalf("approval before any confirmation: %v", err)
	}
	if w.snapshot(t) != before {
		t.Fatal("a refused confirmation or an unconfirmed approval changed the store")
	}
	for _, name := range []string{"bob", "carol"} {
		if _, err := w.svc.ConfirmRotation(w.ctx, rot.ID, name, []byte(next[name].File), newPasses[name]); err != nil {
			t.Fatalf("confirm %s: %v", name, err)
		}
	}
	before = w.snapshot(t)
	if _, err := w.approve(t, rot.ID, "carol", w.shares["carol"].File, passCarol); !errors.Is(err, ErrRotationUnconfirmed) || !strings.Contains(err.Error(), "dave") {
		t.Fatalf("approval with dave unconfirmed: %v", err)
	}
	if w.snapshot(t) != before {
		t.Fatal("an unconfirmed approval changed the store")
	}
	got, err := w.svc.ConfirmRotation(w.ctx, rot.ID, "dave", []byte(next["dave"].File), passDave)
	if err != nil || len(got.Confirmations) != 3 || len(got.Unconfirmed) != 0 || got.Confirmations[2].Custodian != "dave" || got.Confirmations[2].At.IsZero() {
		t.Fatalf("after every confirmation: %+v %v", got, err)
	}
	before = w.snapshot(t)
	again, err := w.svc.ConfirmRotation(w.ctx, rot.ID, "bob", []byte(next["bob"].File), passBobNew)
	if err != nil || len(again.Confirmations) != 3 || !again.Confirmations[0].At.Equal(got.Confirmations[0].At) {
		t.Fatalf("confirming twice: %+v %v", again, err)
	}
	if _, err := w.svc.ConfirmRotation(w.ctx, rot.ID, "bob", []byte(next["bob"].File), passBob); !errors.Is(err, ErrShareInvalid) {
		t.Fatalf("confirming again with a wrong passphrase: %v", err)
	}
	if w.snapshot(t) != before {
		t.Fatal("confirming twice changed the store")
	}
	for _, sh := range next {
		if blk, _ := pem.Decode([]byte(sh.File)); blk == nil || strings.Contains(before, base64.StdEncoding.EncodeToString(blk.Bytes)) {
			t.Fatalf("the store holds %s's new share file", sh.Custodian)
		}
	}

	before = w.snapshot(t)
	for _, r := range []struct {
		name, id, as, file, pass string
		want                     error
	}{
		{"unknown rotation", "rot_nope", "bob", w.shares["bob"].File, passBob, ErrRotationNotFound},
		{"the requester", rot.ID, "admin", w.shares["bob"].File, passBob, ErrCustodianForbidden},
		{"a custodian of the new key only", rot.ID, "dave", next["dave"].File, passDave, ErrCustodianForbidden},
		{"a new share for the old key", rot.ID, "bob", next["bob"].File, passBobNew, ErrShareInvalid},
		{"wrong passphrase", rot.ID, "bob", w.shares["bob"].File, passBobNew, ErrShareInvalid},
		{"another custodian's file", rot.ID, "bob", w.shares["carol"].File, passCarol, ErrShareInvalid},
	} {
		if _, err := w.approve(t, r.id, r.as, r.file, r.pass); !errors.Is(err, r.want) {
			t.Errorf("%s: %v, want %v", r.name, err, r.want)
		}
	}
	if w.snapshot(t) != before {
		t.Fatal("a refused approval changed the store")
	}

	got, err = w.approve(t, rot.ID, "bob", w.shares["bob"].File, passBob)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != RotationStateOpen || len(got.Approvals) != 1 {
		t.Fatalf("after one share: %+v", got)
	}
	if esc, _ := w.svc.Escrow(w.ctx); esc.ID != old {
		t.Fatal("one custodian switched the key")
	}
	if pending, _, _ := w.store.List(w.ctx, pfxRotationShares); len(pending) != 1 {
		t.Fatalf("%d pending shares", len(pending))
	}
	if _, err := w.approve(t, rot.ID, "bob", w.shares["bob"].File, passBob); !errors.Is(err, ErrShareDuplicate) {
		t.Fatalf("bob twice: %v", err)
	}

	got, err = w.approve(t, rot.ID, "alice", w.shares["alice"].File, passAlice)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != RotationStateDone || got.Moved != 2 || len(got.Approved) != 2 || got.SwitchedAt.IsZero() || got.CompletedAt.IsZero() {
		t.Fatalf("after two shares: %+v", got)
	}
	esc, err := w.svc.Escrow(w.ctx)
	if err != nil || esc.ID != rot.Next.ID || len(esc.Custodians) != 3 || esc.Custodians[2].Name != "dave" {
		t.Fatalf("escrow after the rotation: %+v %v", esc, err)
	}
	for cred, id := range w.escrowIDs(t) {
		if id != esc.ID {
			t.Errorf("%s still escrowed under %s", cred, id)
		}
	}
	if pending, _, _ := w.store.List(w.ctx, pfxRotationShares); len(pending) != 0 {
		t.Fatalf("%d pending shares left", len(pending))
	}
	retired, err := w.svc.RetiredEscrows(w.ctx)
	if err != nil || len(retired) != 1 || retired[0].ID != old || retired[0].SupersededBy != esc.ID || retired[0].Rotation != rot.ID {
		t.Fatalf("retired %+v %v", retired, err)
	}
	if _, err := w.approve(t, rot.ID, "carol", w.shares["carol"].File, passCarol); !errors.Is(err, ErrRotationClosed) {
		t.Fatalf("approval after the rotation: %v", err)
	}
	if _, err := w.svc.ConfirmRotation(w.ctx, rot.ID, "bob", []byte(next["bob"].File), passBobNew); !errors.Is(err, ErrRotationClosed) {
		t.Fatalf("confirmation after the rotation: %v", err)
	}

	// A recovery now takes the new custodians' shares; the old ones are refused.
	w.reset(t)
	rec, err := w.svc.OpenRecovery(w.ctx, RecoveryRequest{UserID: w.user, Reason: "forgotten PIN after rotation", By: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if rec.EscrowID != esc.ID {
		t.Fatalf("recovery under %s", rec.EscrowID)
	}
	if _, err := w.svc.SubmitShare(w.ctx, rec.ID, "carol", []byte(w.shares["carol"].File), passCarol); !errors.Is(err, ErrShareInvalid) {
		t.Fatalf("an old share after the rotation: %v", err)
	}
	for _, c := range []struct{ as, pass string }{{"dave", passDave}, {"bob", passBobNew}} {
		if _, err := w.svc.SubmitShare(w.ctx, rec.ID, c.as, []byte(next[c.as].File), c.pass); err != nil {
			t.Fatalf("%s's new share: %v", c.as, err)
		}
	}
	if _, err := w.svc.FinishRecovery(w.ctx, w.user, newPIN); err != nil {
		t.Fatal(err)
	}
	key, cred, err := w.svc.UnlockKey(w.ctx, w.user, w.enc.ID, newPIN)
	if err != nil {
		t.Fatal(err)
	}
	defer gmcrypto.ZeroKey(key)
	if out, err := gmcrypto.OpenCMS(env, cred.Certificate, key); err != nil || !bytes.Equal(out, plain) {
		t.Fatalf("OpenCMS after rotation and recovery: %v %q", err, out)
	}

	// New escrow copies go to the new key; another rotation may be opened.
	if _, err := w.svc.Revoke(w.ctx, otherEnc.ID, "superseded"); err != nil {
		t.Fatal(err)
	}
	fresh := w.credential(t, other, escrowIssuer, gmcrypto.AlgSM2, PurposeEncrypt)
	if id := w.escrowIDs(t)[fresh.ID]; id != esc.ID {
		t.Fatalf("new credential escrowed under %q", id)
	}
	if _, _, err := w.svc.RotateEscrow(w.ctx, EscrowRotate{Custodians: three, Iterations: testIter, Reason: "yearly", By: "admin"}); err != nil {
		t.Fatalf("a rotation after a finished one: %v", err)
	}
}

// TestEscrowRotationExpiredAndSuperseded: an expired rotation refuses
// approvals and changes nothing; an open recovery of the old key is closed
// by a rotation.
func TestEscrowRotationExpiredAndSuperseded(t *testing.T) {
	w := newEscrowWorld(t)
	rot, shares, err := w.svc.RotateEscrow(w.ctx, EscrowRotate{
		Custodians: []CustodianPassphrase{{"bob", passBobNew}, {"dave", passDave}},
		Iterations: testIter, Reason: rotateReason, By: "alice", TTL: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	w.confirmAll(t, rot.ID, map[string]EscrowShare{"bob": shares[0], "dave": shares[1]})
	// alice, a custodian of the current key, opened it: she cannot approve.
	if _, err := w.approve(t, rot.ID, "alice", w.shares["alice"].File, passAlice); !errors.Is(err, ErrCustodianForbidden) {
		t.Fatalf("the requester approved: %v", err)
	}
	if _, err := w.approve(t, rot.ID, "bob", w.shares["bob"].File, passBob); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(time.Hour + time.Second)
	before := w.snapshot(t)
	if _, err := w.approve(t, rot.ID, "carol", w.shares["carol"].File, passCarol); !errors.Is(err, ErrRotationExpired) {
		t.Fatalf("expired: %v", err)
	}
	if _, err := w.svc.ConfirmRotation(w.ctx, rot.ID, "bob", []byte(shares[0].File), passBobNew); !errors.Is(err, ErrRotationExpired) {
		t.Fatalf("confirming an expired rotation: %v", err)
	}
	if w.snapshot(t) != before {
		t.Fatal("an approval of an expired rotation changed the store")
	}
	if r, _ := w.svc.Rotation(w.ctx, rot.ID); r.State != RotationStateExpired {
		t.Fatalf("state %s", r.State)
	}

	// A canceled rotation: refused afterwards, its pending share erased,
	// and a new one may be opened.
	rot3, next3 := w.rotate(t)
	if _, err := w.approve(t, rot3.ID, "bob", w.shares["bob"].File, passBob); err != nil {
		t.Fatal(err)
	}
	c, err := w.svc.CancelRotation(w.ctx, rot3.ID, "admin")
	if err != nil || c.State != RotationStateCanceled || c.CanceledBy != "admin" {
		t.Fatalf("cancel: %+v %v", c, err)
	}
	if pending, _, _ := w.store.List(w.ctx, pfxRotationShares+rot3.ID+"/"); len(pending) != 0 {
		t.Fatal("a canceled rotation kept its pending share")
	}
	before = w.snapshot(t)
	if _, err := w.approve(t, rot3.ID, "carol", w.shares["carol"].File, passCarol); !errors.Is(err, ErrRotationClosed) {
		t.Fatalf("approving a canceled rotation: %v", err)
	}
	if _, err := w.svc.CancelRotation(w.ctx, rot3.ID, "admin"); !errors.Is(err, ErrRotationClosed) {
		t.Fatalf("canceling twice: %v", err)
	}
	if _, err := w.svc.ConfirmRotation(w.ctx, rot3.ID, "dave", []byte(next3["dave"].File), passDave); !errors.Is(err, ErrRotationClosed) {
		t.Fatalf("confirming a canceled rotation: %v", err)
	}
	if _, err := w.svc.CancelRotation(w.ctx, rot.ID, "admin"); !errors.Is(err, ErrRotationExpired) {
		t.Fatalf("canceling an expired rotation: %v", err)
	}
	if w.snapshot(t) != before {
		t.Fatal("a refused approval or cancel changed the store")
	}

	// A recovery opened (and half approved) under the old key, then a
	// rotation: the switch ends the recovery and erases its pending share.
	w.clock.Advance(pendingSweepMargin) // the expired rotation's bob share has gone
	w.reset(t)
	rec, err := w.svc.OpenRecovery(w.ctx, RecoveryRequest{UserID: w.user, Reason: "ticket 8", By: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.submit(t, rec.ID, "carol", "carol", passCarol); err != nil {
		t.Fatal(err)
	}
	rot2, _ := w.rotate(t)
	if _, err := w.svc.CancelRotation(w.ctx, rot2.ID, "admin"); err != nil {
		t.Fatal(err)
	}
	rot2, _ = w.rotate(t)
	// carol's share waits in the recovery: bob's may not wait too (the
	// store and the master key would then hold two shares of a 2-of-3
	// key); carol's may, and bob's then completes the rotation.
	before = w.snapshot(t)
	if _, err := w.approve(t, rot2.ID, "bob", w.shares["bob"].File, passBob); !errors.Is(err, ErrSharesPending) {
		t.Fatalf("a second custodian's pending share: %v", err)
	}
	if w.snapshot(t) != before {
		t.Fatal("a refused pending share changed the store")
	}
	for _, c := range []struct{ as, pass string }{{"carol", passCarol}, {"bob", passBob}} {
		if _, err := w.approve(t, rot2.ID, c.as, w.shares[c.as].File, c.pass); err != nil {
			t.Fatal(err)
		}
	}
	if r, _ := w.svc.Recovery(w.ctx, rec.ID); r.State != RecoveryStateExpired {
		t.Fatalf("the old key's recovery is %s", r.State)
	}
	if pending, _, _ := w.store.List(w.ctx, pfxRecoveryShares); len(pending) != 0 {
		t.Fatal("the old key's pending recovery share is still stored")
	}
	if _, err := w.submit(t, rec.ID, "bob", "bob", passBob); !errors.Is(err, ErrRecoveryExpired) {
		t.Fatalf("a recovery of the retired key: %v", err)
	}
}

// TestEscrowRotationDamagedCopy: a copy that does not open under the old
// key (damaged before the rotation), or a credential record that does not
// decode, does not stop it: the others move, and the rotation lists them.
func TestEscrowRotationDamagedCopy(t *testing.T) {
	w := newEscrowWorld(t)
	other := w.enrolled(t, UserRequest{Name: "赵六"})
	otherEnc := w.credential(t, other, escrowIssuer, gmcrypto.AlgSM2, PurposeEncrypt)
	c, rev, err := w.svc.loadCredential(w.ctx, w.enc.ID)
	if err != nil {
		t.Fatal(err)
	}
	c.Escrow[len(c.Escrow)-1] ^= 1
	var b txnBuilder
	b.cond(credentialKey(c.ID), rev)
	b.put(credentialKey(c.ID), c, 0)
	b.ops = append(b.ops, storage.Put(credentialKey("crd_damaged"), []byte("{not json"), 0)) // a damaged record
	if err := b.commit(w.ctx, w.store); err != nil {
		t.Fatal(err)
	}
	rot, _ := w.rotate(t)
	for _, c := range []struct{ as, pass string }{{"bob", passBob}, {"carol", passCarol}} {
		if _, err := w.approve(t, rot.ID, c.as, w.shares[c.as].File, c.pass); err != nil {
			t.Fatal(err)
		}
	}
	got, err := w.svc.Rotation(w.ctx, rot.ID)
	if err != nil || got.State != RotationStateDone || got.Moved != 1 || len(got.Unopened) != 2 ||
		!slices.Contains(got.Unopened, w.enc.ID) || !slices.Contains(got.Unopened, "crd_damaged") {
		t.Fatalf("rotation with a damaged copy: %+v %v", got, err)
	}
	ids := w.escrowIDs(t)
	if ids[otherEnc.ID] != rot.Next.ID || ids[w.enc.ID] != rot.From {
		t.Fatalf("escrow keys after the rotation: %v", ids)
	}
}

// movingFailStore fails, while fail is set, every transaction that writes
// a credential (as a store that goes away in the middle of the move).
type movingFailStore struct {
	storage.Store
	fail atomic.Bool
}

func (s *movingFailStore) Txn(ctx context.Context, ops ...storage.Op) (int64, error) {
	if s.fail.Load() {
		for _, op := range ops {
			if op.IsPut() && strings.HasPrefix(op.Key, pfxCredentials) {
				return 0, storage.ErrUnavailable
			}
		}
	}
	return s.Store.Txn(ctx, ops...)
}

// TestEscrowRotationInterrupted: when the move stops after the switch the
// rotation stays moving, a recovery of a key left behind is refused with
// that advice, and approving the rotation again (threshold custodians of
// the old key) moves the rest.
func TestEscrowRotationInterrupted(t *testing.T) {
	w := newEscrowWorld(t)
	fs := &movingFailStore{Store: w.store}
	svc := newServiceOver(t, fs, w.clock.Now)
	w.reset(t) // the encryption key waits for recovery
	rot, _ := w.rotate(t)
	if _, err := svc.ApproveRotation(w.ctx, rot.ID, "bob", []byte(w.shares["bob"].File), passBob); err != nil {
		t.Fatal(err)
	}
	fs.fail.Store(true)
	got, err := svc.ApproveRotation(w.ctx, rot.ID, "carol", []byte(w.shares["carol"].File), passCarol)
	if !errors.Is(err, storage.ErrUnavailable) || !errors.Is(err, ErrRotationMoveIncomplete) || !strings.Contains(err.Error(), "approve it again") {
		t.Fatalf("the move did not fail: %v", err)
	}
	fs.fail.Store(false)
	if got == nil || got.State != RotationStateMoving || got.Moved != 0 || len(got.Approvals) != 0 {
		t.Fatalf("interrupted rotation %+v", got)
	}
	esc, _ := w.svc.Escrow(w.ctx)
	if esc.ID != rot.Next.ID || w.escrowIDs(t)[w.enc.ID] != rot.From {
		t.Fatalf("after the interruption: current %s, copy under %s", esc.ID, w.escrowIDs(t)[w.enc.ID])
	}
	if _, err := w.svc.OpenRecovery(w.ctx, RecoveryRequest{UserID: w.user, Reason: "ticket 9", By: "alice"}); !errors.Is(err, ErrNothingToRecover) || !strings.Contains(err.Error(), "retired") {
		t.Fatalf("a recovery of a key left under the retired key: %v", err)
	}
	if _, _, err := w.svc.RotateEscrow(w.ctx, EscrowRotate{Custodians: []CustodianPassphrase{{"bob", passBobNew}, {"dave", passDave}}, Iterations: testIter, Reason: "x", By: "admin"}); !errors.Is(err, ErrRotationPending) {
		t.Fatalf("a rotation while one is moving: %v", err)
	}
	// Approved again, a week later: the old key's shares still count. An
	// approval of the round that waited longer than MovingRoundTTL lapses
	// (its custodian may approve again).
	w.clock.Advance(DefaultRotationTTL + 7*24*time.Hour)
	if got, err = w.approve(t, rot.ID, "bob", w.shares["bob"].File, passBob); err != nil || got.State != RotationStateMoving || len(got.Approvals) != 1 {
		t.Fatalf("first share of the second round: %+v %v", got, err)
	}
	w.clock.Advance(MovingRoundTTL + pendingSweepMargin)
	if got, err = w.approve(t, rot.ID, "carol", w.shares["carol"].File, passCarol); err != nil || got.State != RotationStateMoving || len(got.Approvals) != 1 {
		t.Fatalf("after a lapsed approval: %+v %v", got, err)
	}
	if got, err = w.approve(t, rot.ID, "alice", w.shares["alice"].File, passAlice); err != nil || got.State != RotationStateDone || got.Moved != 1 {
		t.Fatalf("second round: %+v %v", got, err)
	}
	if w.escrowIDs(t)[w.enc.ID] != rot.Next.ID {
		t.Fatal("the copy left behind was not moved")
	}
	if _, err := w.svc.OpenRecovery(w.ctx, RecoveryRequest{UserID: w.user, Reason: "ticket 9", By: "alice"}); err != nil {
		t.Fatalf("recovery after the rotation finished: %v", err)
	}
}

// TestEscrowRotationStoreAndMasterCannotOpen: with one old share pending,
// and again after the switch, neither the old nor the new escrow private
// key is in the store or derivable from the master key.
func TestEscrowRotationStoreAndMasterCannotOpen(t *testing.T) {
	w := newEscrowWorld(t)
	rot, _ := w.rotate(t)
	if _, err := w.approve(t, rot.ID, "bob", w.shares["bob"].File, passBob); err != nil {
		t.Fatal(err)
	}
	kek, err := gmcrypto.DeriveKey(testMasterKey(), purposeRotationShare, []byte(rot.ID))
	if err != nil {
		t.Fatal(err)
	}
	if pending, _, _ := w.store.List(w.ctx, pfxRotationShares); len(pending) != 1 {
		t.Fatalf("%d pending shares", len(pending))
	}
	w.notInStoreOrMaster(t, rot.From, pfxRotationShares, kek)
	w.notInStoreOrMaster(t, rot.Next.ID, pfxRotationShares, kek)
	if _, err := w.approve(t, rot.ID, "carol", w.shares["carol"].File, passCarol); err != nil {
		t.Fatal(err)
	}
	w.notInStoreOrMaster(t, rot.From, pfxRotationShares, kek)
	w.notInStoreOrMaster(t, rot.Next.ID, pfxRotationShares, kek)
}

// TestEscrowPendingSharesStayBelowThreshold: across every open request of
// an escrow key (recoveries and rotations), fewer than threshold distinct
// custodians have a share waiting in the store, so the store and the
// master key never hold enough to rebuild the key. The same custodian may
// wait in several; a completed request takes its entries out; an expired
// one's count no more.
func TestEscrowPendingSharesStayBelowThreshold(t *testing.T) {
	w := newEscrowWorld(t)
	other := w.enrolled(t, UserRequest{Name: "赵六"})
	w.credential(t, other, escrowIssuer, gmcrypto.AlgSM2, PurposeEncrypt)
	w.reset(t)
	if _, _, err := w.svc.ResetPIN(w.ctx, other, resetReason); err != nil {
		t.Fatal(err)
	}
	a, err := w.svc.OpenRecovery(w.ctx, RecoveryRequest{UserID: w.user, Reason: "ticket 1", By: "admin", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	b, err := w.svc.OpenRecovery(w.ctx, RecoveryRequest{UserID: other, Reason: "ticket 2", By: "admin", TTL: 2 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.submit(t, a.ID, "bob", "bob", passBob); err != nil {
		t.Fatal(err)
	}
	before := w.snapshot(t)
	if _, err := w.submit(t, b.ID, "carol", "carol", passCarol); !errors.Is(err, ErrSharesPending) {
		t.Fatalf("carol's share pending beside bob's: %v", err)
	}
	if w.snapshot(t) != before {
		t.Fatal("a refused pending share changed the store")
	}
	if _, err := w.submit(t, b.ID, "bob", "bob", passBob); err != nil {
		t.Fatalf("bob waiting in two recoveries: %v", err)
	}
	// carol completes a: a's entry leaves the ledger, b's stays.
	if r, err := w.submit(t, a.ID, "carol", "carol", passCarol); err != nil || r.State != RecoveryStateDone {
		t.Fatalf("completing a: %+v %v", r, err)
	}
	l, _, err := w.svc.loadPendingLedger(w.ctx, w.escrow.ID, w.clock.Now())
	if err != nil || len(l.Entries) != 1 || l.Entries[0].Request != b.ID || l.Entries[0].Custodian != "bob" {
		t.Fatalf("ledger after a completed: %+v %v", l, err)
	}
	// b expires: its entry still counts while the store may not have swept
	// its share, then no more, and a new request's share may wait.
	w.clock.Advance(2*time.Hour + time.Second)
	c, err := w.svc.OpenRecovery(w.ctx, RecoveryRequest{UserID: other, Reason: "ticket 3", By: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.submit(t, c.ID, "carol", "carol", passCarol); !errors.Is(err, ErrSharesPending) {
		t.Fatalf("just after b expired: %v", err)
	}
	w.clock.Advance(pendingSweepMargin)
	if _, err := w.submit(t, c.ID, "carol", "carol", passCarol); err != nil {
		t.Fatalf("after b expired and was swept: %v", err)
	}
}

// TestEscrowRotationAbandon: a rotation left moving (the move stopped)
// whose old custodians are gone is abandoned: refusals change nothing
// (unknown, no reason, open, twice), the abandoned rotation lists the
// credential left under the retired key, as does the retired key, and a
// new rotation may open. When its owner's PIN next unlocks the key, the
// copy is escrowed again under the current key (once: a second unlock
// writes nothing), and the new custodians recover it.
func TestEscrowRotationAbandon(t *testing.T) {
	w := newEscrowWorld(t)
	fs := &movingFailStore{Store: w.store}
	svc := newServiceOver(t, fs, w.clock.Now)
	rot, next := w.rotate(t)
	if _, err := svc.ApproveRotation(w.ctx, rot.ID, "bob", []byte(w.shares["bob"].File), passBob); err != nil {
		t.Fatal(err)
	}
	fs.fail.Store(true)
	if _, err := svc.ApproveRotation(w.ctx, rot.ID, "carol", []byte(w.shares["carol"].File), passCarol); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("the move did not fail: %v", err)
	}
	fs.fail.Store(false)
	// A round of approvals started again, then the old custodians left.
	if got, err := w.approve(t, rot.ID, "bob", w.shares["bob"].File, passBob); err != nil || got.State != RotationStateMoving {
		t.Fatalf("a new round: %+v %v", got, err)
	}

	before := w.snapshot(t)
	for _, r := range []struct {
		name, id, by, reason string
		want                 error
	}{
		{"unknown rotation", "rot_nope", "admin", "custodians gone", ErrRotationNotFound},
		{"no reason", rot.ID, "admin", " ", ErrInvalidRequest},
		{"reason too long", rot.ID, "admin", strings.Repeat("x", maxRotationReasonLen+1), ErrInvalidRequest},
		{"no operator", rot.ID, "", "custodians gone", ErrInvalidRequest},
	} {
		if _, err := w.svc.AbandonRotation(w.ctx, r.id, r.by, r.reason); !errors.Is(err, r.want) {
			t.Errorf("%s: %v, want %v", r.name, err, r.want)
		}
	}
	if w.snapshot(t) != before {
		t.Fatal("a refused abandon changed the store")
	}

	got, err := w.svc.AbandonRotation(w.ctx, rot.ID, "admin", "alice and carol left, ticket 80")
	if err != nil || got.State != RotationStateAbandoned || got.AbandonedBy != "admin" || got.AbandonedAt.IsZero() ||
		got.AbandonReason != "alice and carol left, ticket 80" || !slices.Equal(got.Stranded, []string{w.enc.ID}) || got.StrandedCount != 1 {
		t.Fatalf("abandoned: %+v %v", got, err)
	}
	if kvs, _, _ := w.store.List(w.ctx, pfxRotationShares); len(kvs) != 0 {
		t.Fatalf("%d pending shares left after the abandon", len(kvs))
	}
	if _, err := w.store.Get(w.ctx, rotationPendingKey); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("the pending-rotation pointer after the abandon: %v", err)
	}
	if l, _, err := w.svc.loadPendingLedger(w.ctx, rot.From, w.clock.Now()); err != nil || len(l.Entries) != 0 {
		t.Fatalf("ledger after the abandon: %+v %v", l, err)
	}
	retired, err := w.svc.RetiredEscrows(w.ctx)
	if err != nil || len(retired) != 1 || !slices.Equal(retired[0].Stranded, []string{w.enc.ID}) || retired[0].StrandedCount != 1 {
		t.Fatalf("retired after the abandon: %+v %v", retired, err)
	}
	before = w.snapshot(t)
	if _, err := w.svc.AbandonRotation(w.ctx, rot.ID, "admin", "again"); !errors.Is(err, ErrRotationClosed) {
		t.Fatalf("abandoning twice: %v", err)
	}
	if _, err := w.approve(t, rot.ID, "carol", w.shares["carol"].File, passCarol); !errors.Is(err, ErrRotationClosed) {
		t.Fatalf("approving an abandoned rotation: %v", err)
	}
	if _, err := w.svc.CancelRotation(w.ctx, rot.ID, "admin"); !errors.Is(err, ErrRotationClosed) {
		t.Fatalf("canceling an abandoned rotation: %v", err)
	}
	if w.snapshot(t) != before {
		t.Fatal("a refusal after the abandon changed the store")
	}

	// A new rotation opens; an open one is canceled, not abandoned.
	rot2, _, err := w.svc.RotateEscrow(w.ctx, EscrowRotate{Custodians: []CustodianPassphrase{{"bob", passBobNew}, {"dave", passDave}},
		Iterations: testIter, Reason: "after the abandon", By: "admin"})
	if err != nil {
		t.Fatalf("a rotation after the abandon: %v", err)
	}
	before = w.snapshot(t)
	if _, err := w.svc.AbandonRotation(w.ctx, rot2.ID, "admin", "x"); !errors.Is(err, ErrRotationNotMoving) {
		t.Fatalf("abandoning an open rotation: %v", err)
	}
	if w.snapshot(t) != before {
		t.Fatal("abandoning an open rotation changed the store")
	}
	if _, err := w.svc.CancelRotation(w.ctx, rot2.ID, "admin"); err != nil {
		t.Fatal(err)
	}

	// The owner's PIN unlocks the key: the copy moves to the current key,
	// once.
	key, _, err := w.svc.UnlockKey(w.ctx, w.user, w.enc.ID, testPIN)
	if err != nil {
		t.Fatal(err)
	}
	gmcrypto.ZeroKey(key)
	if id := w.escrowIDs(t)[w.enc.ID]; id != rot.Next.ID {
		t.Fatalf("after the unlock the copy is under %s", id)
	}
	if retired, _ := w.svc.RetiredEscrows(w.ctx); len(retired[0].Stranded) != 0 || retired[0].StrandedCount != 0 {
		t.Fatalf("retired after the re-escrow: %+v", retired[0])
	}
	before = w.snapshot(t)
	key, _, err = w.svc.UnlockKey(w.ctx, w.user, w.enc.ID, testPIN)
	if err != nil {
		t.Fatal(err)
	}
	gmcrypto.ZeroKey(key)
	if w.snapshot(t) != before {
		t.Fatal("a second unlock wrote again")
	}
	w.reset(t)
	rec, err := w.svc.OpenRecovery(w.ctx, RecoveryRequest{UserID: w.user, Reason: "after the abandon", By: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"dave", "carol"} {
		if _, err := w.svc.SubmitShare(w.ctx, rec.ID, c, []byte(next[c].File), newPasses[c]); err != nil {
			t.Fatalf("%s's new share: %v", c, err)
		}
	}
	if _, err := w.svc.FinishRecovery(w.ctx, w.user, newPIN); err != nil {
		t.Fatalf("recovering the re-escrowed key: %v", err)
	}
}

// TestChangePINReEscrows: a PIN change opens every key of the user, so
// an escrow copy left under a retired escrow key (stranded, as after an
// abandoned rotation) is made again under the current key in the same
// write; a second change leaves the escrow copies alone.
func TestChangePINReEscrows(t *testing.T) {
	w := newEscrowWorld(t)
	stale, err := w.store.Get(w.ctx, credentialKey(w.enc.ID))
	if err != nil {
		t.Fatal(err)
	}
	rot, _ := w.rotate(t)
	for _, c := range []struct{ as, pass string }{{"bob", passBob}, {"alice", passAlice}} {
		if _, err := w.approve(t, rot.ID, c.as, w.shares[c.as].File, c.pass); err != nil {
			t.Fatal(err)
		}
	}
	// The credential's record as it was before the move: its copy under
	// the retired key.
	if _, err := w.store.Txn(w.ctx, storage.Put(stale.Key, stale.Value, 0)); err != nil {
		t.Fatal(err)
	}
	if id := w.escrowIDs(t)[w.enc.ID]; id != rot.From {
		t.Fatalf("set-up: the copy is under %s, want the retired %s", id, rot.From)
	}
	if err := w.svc.ChangePIN(w.ctx, w.user, testPIN, newPIN); err != nil {
		t.Fatal(err)
	}
	if id := w.escrowIDs(t)[w.enc.ID]; id != rot.Next.ID {
		t.Fatalf("after the PIN change the copy is under %s, want %s", id, rot.Next.ID)
	}
	if retired, err := w.svc.RetiredEscrows(w.ctx); err != nil || len(retired) != 1 || retired[0].StrandedCount != 0 {
		t.Fatalf("retired after the PIN change: %+v %v", retired, err)
	}
	before := map[string][]byte{}
	kvs, _, _ := w.store.List(w.ctx, pfxCredentials)
	for _, kv := range kvs {
		var c credentialRecord
		if jsonUnmarshal(kv, &c) == nil {
			before[c.ID] = c.Escrow
		}
	}
	if err := w.svc.ChangePIN(w.ctx, w.user, newPIN, testPIN); err != nil {
		t.Fatal(err)
	}
	kvs, _, _ = w.store.List(w.ctx, pfxCredentials)
	for _, kv := range kvs {
		var c credentialRecord
		if jsonUnmarshal(kv, &c) == nil && !bytes.Equal(before[c.ID], c.Escrow) {
			t.Errorf("a second PIN change rewrote %s's escrow copy", c.ID)
		}
	}
	key, _, err := w.svc.UnlockKey(w.ctx, w.user, w.enc.ID, testPIN)
	if err != nil {
		t.Fatal(err)
	}
	gmcrypto.ZeroKey(key)
}

// pausingStore holds the first transaction that writes a credential
// record once armed, until released.
type pausingStore struct {
	storage.Store
	armed   atomic.Bool
	reached chan struct{}
	release chan struct{}
}

func (s *pausingStore) Txn(ctx context.Context, ops ...storage.Op) (int64, error) {
	for _, op := range ops {
		if op.IsPut() && strings.HasPrefix(op.Key, pfxCredentials) && s.armed.CompareAndSwap(true, false) {
			close(s.reached)
			<-s.release
			break
		}
	}
	return s.Store.Txn(ctx, ops...)
}

// TestEscrowRotationAbandonDuringMove: an abandon that lands while the
// move is running wins: the rotation ends abandoned whatever the move
// does next, its record names the copies that were under the retired key
// at the abandon, the live listing names exactly those still there, and a
// new rotation may open.
func TestEscrowRotationAbandonDuringMove(t *testing.T) {
	w := newEscrowWorld(t)
	other := w.enrolled(t, UserRequest{Name: "赵六"})
	otherEnc := w.credential(t, other, escrowIssuer, gmcrypto.AlgSM2, PurposeEncrypt)
	ps := &pausingStore{Store: w.store, reached: make(chan struct{}), release: make(chan struct{})}
	svc := newServiceOver(t, ps, w.clock.Now)
	rot, _ := w.rotate(t)
	if _, err := svc.ApproveRotation(w.ctx, rot.ID, "bob", []byte(w.shares["bob"].File), passBob); err != nil {
		t.Fatal(err)
	}
	ps.armed.Store(true)
	type res struct {
		r   *Rotation
		err error
	}
	done := make(chan res, 1)
	go func() {
		r, err := svc.ApproveRotation(w.ctx, rot.ID, "carol", []byte(w.shares["carol"].File), passCarol)
		done <- res{r, err}
	}()
	<-ps.reached // switched, the move's first write held
	got, err := w.svc.AbandonRotation(w.ctx, rot.ID, "admin", "custodians left mid-move")
	if err != nil {
		close(ps.release)
		t.Fatalf("abandon during the move: %v", err)
	}
	want := []string{w.enc.ID, otherEnc.ID}
	slices.Sort(want)
	if got.State != RotationStateAbandoned || !slices.Equal(got.Stranded, want) || got.StrandedCount != 2 {
		close(ps.release)
		t.Fatalf("abandoned: %s %v %d", got.State, got.Stranded, got.StrandedCount)
	}
	close(ps.release)
	r := <-done
	if r.err != nil && !errors.Is(r.err, ErrRotationMoveIncomplete) {
		t.Fatalf("the approval whose move was abandoned: %v", r.err)
	}
	final, err := w.svc.Rotation(w.ctx, rot.ID)
	if err != nil || final.State != RotationStateAbandoned || !slices.Equal(final.Stranded, want) {
		t.Fatalf("after the move: %+v %v", final, err)
	}
	var left []string
	for cred, id := range w.escrowIDs(t) {
		switch id {
		case rot.From:
			left = append(left, cred)
		case rot.Next.ID:
		default:
			t.Errorf("%s escrowed under %s", cred, id)
		}
	}
	slices.Sort(left)
	retired, err := w.svc.RetiredEscrows(w.ctx)
	if err != nil || len(retired) != 1 || !slices.Equal(retired[0].Stranded, left) || retired[0].StrandedCount != len(left) {
		t.Fatalf("retired %+v %v, want stranded %v", retired, err, left)
	}
	if _, _, err := w.svc.RotateEscrow(w.ctx, EscrowRotate{Custodians: []CustodianPassphrase{{"bob", passBobNew}, {"dave", passDave}},
		Iterations: testIter, Reason: "after the abandon", By: "admin"}); err != nil {
		t.Fatalf("a rotation after the abandon: %v", err)
	}
}

// TestEscrowRotationRaces: the steps that end a rotation's open phase
// race safely. (1) The threshold-th approval against the admin's cancel:
// exactly one of them succeeds, and the store agrees with the winner
// (switched and every copy moved, or canceled with the old key in force
// and no pending share left). (2) The two approvals of a 2-of-3 key at
// once: both succeed, the key switches exactly once, and every copy
// moves; the same for a recovery's two shares. Each case runs on fresh
// worlds a few times; the invariants hold whichever side wins.
func TestEscrowRotationRaces(t *testing.T) {
	t.Run("approval against cancel", func(t *testing.T) {
		t.Parallel()
		wins := map[string]int{}
		for range 5 {
			w := newEscrowWorld(t)
			old := w.escrow.ID
			rot, _ := w.rotate(t)
			if _, err := w.approve(t, rot.ID, "bob", w.shares["bob"].File, passBob); err != nil {
				t.Fatal(err)
			}
			start := make(chan struct{})
			var approveErr, cancelErr error
			var approved *Rotation
			done := make(chan struct{}, 2)
			go func() {
				<-start
				approved, approveErr = w.svc.ApproveRotation(w.ctx, rot.ID, "alice", []byte(w.shares["alice"].File), passAlice)
				done <- struct{}{}
			}()
			go func() {
				<-start
				_, cancelErr = w.svc.CancelRotation(w.ctx, rot.ID, "admin")
				done <- struct{}{}
			}()
			close(start)
			<-done
			<-done
			esc, err := w.svc.Escrow(w.ctx)
			if err != nil {
				t.Fatal(err)
			}
			final, err := w.svc.Rotation(w.ctx, rot.ID)
			if err != nil {
				t.Fatal(err)
			}
			pending, _, _ := w.store.List(w.ctx, pfxRotationShares)
			switch {
			case approveErr == nil && cancelErr != nil:
				wins["approval"]++
				if !errors.Is(cancelErr, ErrRotationClosed) {
					t.Errorf("the losing cancel: %v", cancelErr)
				}
				if approved.State != RotationStateDone || final.State != RotationStateDone || esc.ID != rot.Next.ID {
					t.Fatalf("approval won: answer %s, stored %s, escrow %s", approved.State, final.State, esc.ID)
				}
				for cred, id := range w.escrowIDs(t) {
					if id != esc.ID {
						t.Errorf("%s still escrowed under %s", cred, id)
					}
				}
			case cancelErr == nil && approveErr != nil:
				wins["cancel"]++
				if !errors.Is(approveErr, ErrRotationClosed) {
					t.Errorf("the losing approval: %v", approveErr)
				}
				if final.State != RotationStateCanceled || esc.ID != old {
					t.Fatalf("cancel won: stored %s, escrow %s (old %s)", final.State, esc.ID, old)
				}
				for cred, id := range w.escrowIDs(t) {
					if id != old {
						t.Errorf("%s escrowed under %s after a cancel", cred, id)
					}
				}
			default:
				t.Fatalf("approval %v and cancel %v: exactly one must succeed", approveErr, cancelErr)
			}
			if len(pending) != 0 {
				t.Fatalf("%d pending shares left", len(pending))
			}
		}
		t.Logf("winners over 5 races: %v", wins)
	})
	t.Run("two recovery shares at once", func(t *testing.T) {
		t.Parallel()
		for range 5 {
			w := newEscrowWorld(t)
			w.reset(t)
			rec, err := w.svc.OpenRecovery(w.ctx, RecoveryRequest{UserID: w.user, Reason: "forgotten PIN", By: "alice"})
			if err != nil {
				t.Fatal(err)
			}
			start := make(chan struct{})
			errs := make(chan error, 2)
			for _, c := range []struct{ as, pass string }{{"bob", passBob}, {"carol", passCarol}} {
				go func() {
					<-start
					_, err := w.submit(t, rec.ID, c.as, c.as, c.pass)
					errs <- err
				}()
			}
			close(start)
			for range 2 {
				if err := <-errs; err != nil {
					t.Fatalf("a share of two at once: %v", err)
				}
			}
			if _, err := w.svc.FinishRecovery(w.ctx, w.user, newPIN); err != nil {
				t.Fatalf("FinishRecovery after two shares at once: %v", err)
			}
			if pending, _, _ := w.store.List(w.ctx, pfxRecoveryShares); len(pending) != 0 {
				t.Fatalf("%d pending recovery shares left", len(pending))
			}
		}
	})
	t.Run("two approvals at once", func(t *testing.T) {
		t.Parallel()
		for range 5 {
			w := newEscrowWorld(t)
			rot, _ := w.rotate(t)
			start := make(chan struct{})
			type res struct {
				r   *Rotation
				err error
			}
			out := make(chan res, 2)
			for _, c := range []struct{ as, pass string }{{"alice", passAlice}, {"carol", passCarol}} {
				go func() {
					<-start
					r, err := w.svc.ApproveRotation(w.ctx, rot.ID, c.as, []byte(w.shares[c.as].File), c.pass)
					out <- res{r, err}
				}()
			}
			close(start)
			states := map[string]int{}
			for range 2 {
				r := <-out
				if r.err != nil {
					t.Fatalf("an approval of two at once: %v", r.err)
				}
				states[r.r.State]++
			}
			if states[RotationStateOpen] != 1 || states[RotationStateDone] != 1 {
				t.Fatalf("answers %v: want one open (the first share) and one rotated", states)
			}
			final, err := w.svc.Rotation(w.ctx, rot.ID)
			if err != nil || final.State != RotationStateDone || len(final.Approved) != 2 {
				t.Fatalf("stored %+v %v", final, err)
			}
			esc, _ := w.svc.Escrow(w.ctx)
			if esc.ID != rot.Next.ID {
				t.Fatalf("escrow %s, want %s", esc.ID, rot.Next.ID)
			}
			for cred, id := range w.escrowIDs(t) {
				if id != esc.ID {
					t.Errorf("%s still escrowed under %s", cred, id)
				}
			}
			retired, err := w.svc.RetiredEscrows(w.ctx)
			if err != nil || len(retired) != 1 {
				t.Fatalf("retired %+v %v: the key must switch once", retired, err)
			}
		}
	})
}
