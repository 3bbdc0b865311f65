package ca

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestDeleteOrganisationAccount: deleting an organisation's account
// removes its delegations with their wraps of its key (the delegate can
// no longer sign for it), revokes its certificate onto the CRL, keeps a
// retained record without subject for the retention period, and leaves
// nothing naming it; a wrong PIN first changes nothing but the counter.
func TestDeleteOrganisationAccount(t *testing.T) {
	w := newOrgWorld(t)
	f := w.f
	d := w.active(t)
	if err := w.signAs(t, d, delegatePIN); err != nil {
		t.Fatal(err)
	}
	before := f.snapshot(t)
	if _, err := f.svc.BeginDeletion(f.ctx, w.org, "000000"); !errors.Is(err, ErrWrongPIN) {
		t.Fatalf("wrong PIN: %v", err)
	}
	if _, err := f.svc.FinishDeletion(f.ctx, w.org, time.Hour); !errors.Is(err, ErrUserNotFound) {
		t.Fatalf("FinishDeletion without BeginDeletion: %v", err)
	}
	after := f.snapshot(t)
	if strings.Count(before, "\n") != strings.Count(after, "\n") || !strings.Contains(after, w.cred.ID) {
		t.Fatal("a refused deletion changed the records")
	}

	del, err := f.svc.BeginDeletion(f.ctx, w.org, testPIN)
	if err != nil || del.UserID != w.org || len(del.Devices) != 1 {
		t.Fatalf("BeginDeletion: %+v %v", del, err)
	}
	if _, err := f.svc.User(f.ctx, w.org); !errors.Is(err, ErrUserNotFound) {
		t.Fatalf("a user being deleted: %v", err)
	}
	if _, err := f.svc.BeginDeletion(f.ctx, w.org, testPIN); !errors.Is(err, ErrUserNotFound) {
		t.Fatalf("a second BeginDeletion: %v", err)
	}
	if list, err := f.svc.Deleting(f.ctx); err != nil || len(list) != 1 || list[0].UserID != w.org {
		t.Fatalf("Deleting: %+v %v", list, err)
	}
	snap := f.snapshot(t)
	if strings.Contains(snap, "某某建设有限公司") || strings.Contains(snap, testCreditCode) {
		t.Fatal("the tombstone keeps the organisation's name or credit code")
	}
	er, err := f.svc.FinishDeletion(f.ctx, w.org, 5*366*24*time.Hour)
	if err != nil || er.Delegations != 1 || er.Credentials != 1 || len(er.Revoked) != 1 || er.Devices != 1 {
		t.Fatalf("FinishDeletion: %+v %v", er, err)
	}
	if err := w.signAs(t, d, delegatePIN); !errors.Is(err, ErrDelegationNotFound) {
		t.Fatalf("the delegate signs for a deleted organisation: %v", err)
	}
	if r, err := f.svc.revoked(f.ctx, w.iss, w.cred.Serial); err != nil || r == nil || r.Reason != DeletionReason {
		t.Fatalf("revocation: %+v %v", r, err)
	}
	kv, err := f.store.Get(f.ctx, retainedKey(w.iss, w.cred.Serial))
	if err != nil || kv.ExpiresAt.Before(w.cred.NotAfter.Add(5*365*24*time.Hour)) {
		t.Fatalf("retained record: %+v %v", kv, err)
	}
	snap = f.snapshot(t)
	for _, s := range []string{w.org, "某某建设有限公司", testCreditCode, pfxDelegations} {
		if strings.Contains(snap, s) {
			t.Fatalf("%q is still in the store", s)
		}
	}
	if list, err := f.svc.Deleting(f.ctx); err != nil || len(list) != 0 {
		t.Fatalf("Deleting after: %+v %v", list, err)
	}
	// The delegate keeps their own account.
	if _, err := f.svc.User(f.ctx, w.delegate); err != nil {
		t.Fatal(err)
	}
}

// TestDeletionWithoutRetention: retention 0 keeps no retained record, and
// a pending credential (no certificate) is simply deleted.
func TestDeletionWithoutRetention(t *testing.T) {
	f := newFixture(t)
	iss := f.generated(t, "sm2", "SM2", nil)
	u := f.enrolled(t, UserRequest{Name: "王五", Phone: "13700000000"})
	c := f.credential(t, u, iss.ID, "SM2", PurposeSign)
	if _, err := f.svc.BeginDeletion(f.ctx, u, testPIN); err != nil {
		t.Fatal(err)
	}
	er, err := f.svc.FinishDeletion(f.ctx, u, 0)
	if err != nil || len(er.Revoked) != 1 {
		t.Fatalf("%+v %v", er, err)
	}
	if _, err := f.store.Get(f.ctx, retainedKey(iss.ID, c.Serial)); err == nil {
		t.Fatal("a retained record with retention 0")
	}
	if snap := f.snapshot(t); strings.Contains(snap, u) || strings.Contains(snap, "王五") || strings.Contains(snap, "13700000000") {
		t.Fatal("the user is still in the store")
	}
}
