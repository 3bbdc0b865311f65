package ca

import (
	"bytes"
	"errors"
	"testing"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/internal/testkit"
	"github.com/ukeygate/ukeygate/protocol"
)

// encOrgWorld is an orgWorld whose delegated credential is an SM2
// encryption credential at an issuer that renews with a new key.
func encOrgWorld(t *testing.T) *orgWorld {
	w := newOrgWorld(t)
	iss := w.f.generated(t, "orgenc", gmcrypto.AlgSM2, &Profile{RenewalKey: RenewalKeyEither})
	w.iss, w.cred = iss.ID, w.f.credential(t, w.org, iss.ID, gmcrypto.AlgSM2, PurposeEncrypt)
	return w
}

// decryptAs opens ct through delegation d with credential credID and the
// delegate's pin, and checks the unlocked credential is credID.
func (w *orgWorld) decryptAs(t *testing.T, d *Delegation, credID, pin string, ct []byte, format gmcrypto.CipherFormat) ([]byte, error) {
	t.Helper()
	key, cred, err := w.f.svc.UnlockDelegatedDecryptKey(w.f.ctx, w.delegate, d.ID, credID, pin)
	if err != nil {
		return nil, err
	}
	defer gmcrypto.ZeroKey(key)
	if cred.ID != credID || cred.UserID != w.org {
		t.Fatalf("unlocked %s of %s, want %s", cred.ID, cred.UserID, credID)
	}
	return gmcrypto.Decrypt(key, ct, format)
}

// renewNew renews the organisation's current credential with a new key.
func (w *orgWorld) renewNew(t *testing.T) *Credential {
	t.Helper()
	succ, err := w.f.svc.RenewCredential(w.f.ctx, w.org, w.cred.ID, testPIN, true)
	if err != nil {
		t.Fatalf("renew: %v", err)
	}
	w.cred = succ
	return succ
}

// withDelegate is w with another staff member, name, enrolled with
// delegatePIN as its delegate.
func (w *orgWorld) withDelegate(t *testing.T, name string) orgWorld {
	t.Helper()
	u, code, err := w.f.svc.AddUser(w.f.ctx, UserRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.f.svc.Enroll(w.f.ctx, code, devicePEM(t), "phone", delegatePIN); err != nil {
		t.Fatal(err)
	}
	out := *w
	out.delegate = u.ID
	return out
}

func supersededIDs(t *testing.T, w *orgWorld) []string {
	t.Helper()
	list, err := w.f.svc.DelegatedSuperseded(w.f.ctx, w.delegate)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, dc := range list {
		ids = append(ids, dc.Credential.ID)
	}
	return ids
}

// TestDelegateOpensSupersededKey: after a new-key renewal of the
// organisation's encryption credential, the delegate opens with their own
// PIN what was encrypted to the OLD certificate, whether the delegation
// was approved before the renewal (its copy of the old key kept) or after
// it (the approval seals the old key too); the new key opens the new
// ciphertexts. A wrong PIN counts on the delegate only.
func TestDelegateOpensSupersededKey(t *testing.T) {
	for _, approved := range []string{"before", "after"} {
		t.Run("approved "+approved, func(t *testing.T) {
			w := encOrgWorld(t)
			f := w.f
			old := w.cred
			oldCT, format := encryptTo(t, old, []byte("去年的标书"))
			var d *Delegation
			if approved == "before" {
				d = w.active(t, "decrypt")
			}
			succ := w.renewNew(t)
			if approved == "after" {
				d = w.active(t, "decrypt")
			}
			newCT, _ := encryptTo(t, succ, []byte("今年的标书"))
			rec := w.record(t, d.ID)
			if rec.CredentialID != succ.ID || len(rec.Superseded) != 1 || rec.Superseded[0].CredentialID != old.ID {
				t.Fatalf("delegation after the renewal: credential %s, copies %+v", rec.CredentialID, rec.Superseded)
			}
			if bytes.Equal(rec.Superseded[0].SealedOrgKey, rec.SealedOrgKey) {
				t.Fatal("the superseded copy is the current one")
			}
			if ids := supersededIDs(t, w); len(ids) != 1 || ids[0] != old.ID {
				t.Fatalf("DelegatedSuperseded %v", ids)
			}
			if pt, err := w.decryptAs(t, d, old.ID, delegatePIN, oldCT, format); err != nil || string(pt) != "去年的标书" {
				t.Fatalf("old ciphertext: %q %v", pt, err)
			}
			if pt, err := w.decryptAs(t, d, succ.ID, delegatePIN, newCT, format); err != nil || string(pt) != "今年的标书" {
				t.Fatalf("new ciphertext: %q %v", pt, err)
			}
			// The old key does not open the new ciphertext.
			if _, err := w.decryptAs(t, d, old.ID, delegatePIN, newCT, format); err == nil {
				t.Fatal("the old key opened the new ciphertext")
			}
			// A wrong PIN: the delegate's counter, not the organisation's.
			var pe *PINError
			if _, err := w.decryptAs(t, d, old.ID, testPIN, oldCT, format); !errors.As(err, &pe) {
				t.Fatalf("wrong PIN: %v", err)
			}
			dl, _, _ := f.svc.loadUser(f.ctx, w.delegate)
			org, _, _ := f.svc.loadUser(f.ctx, w.org)
			if dl.FailedPINs != 1 || org.FailedPINs != 0 {
				t.Fatalf("failed PINs: delegate %d, organisation %d", dl.FailedPINs, org.FailedPINs)
			}
			// The delegate's PIN change re-wraps only the delegation's key:
			// both copies open under the new PIN.
			const newPIN = "864209"
			if err := f.svc.ChangePIN(f.ctx, w.delegate, delegatePIN, newPIN); err != nil {
				t.Fatal(err)
			}
			if pt, err := w.decryptAs(t, d, old.ID, newPIN, oldCT, format); err != nil || string(pt) != "去年的标书" {
				t.Fatalf("old ciphertext after the delegate's PIN change: %q %v", pt, err)
			}
			// Revoking the delegation erases every copy in the same write.
			if _, err := f.svc.RevokeDelegation(f.ctx, w.org, d.ID); err != nil {
				t.Fatal(err)
			}
			rec = w.record(t, d.ID)
			if rec.SealedKEK != nil || rec.SealedOrgKey != nil || rec.WrappedKey != nil || rec.PublicKey != nil || len(rec.Superseded) != 1 {
				t.Fatalf("revoked delegation keeps key material: %+v", rec)
			}
			if cp := rec.Superseded[0]; cp.CredentialID != old.ID || cp.SealedKEK != nil || cp.SealedOrgKey != nil {
				t.Fatalf("revoked delegation keeps a superseded copy: %+v", cp)
			}
			_, err := w.decryptAs(t, d, old.ID, newPIN, oldCT, format)
			wantErr(t, "revoked delegation", err, ErrDelegationRevoked)
			if ids := supersededIDs(t, w); len(ids) != 0 {
				t.Fatalf("a revoked delegation still lists %v", ids)
			}
		})
	}
}

// TestDelegateSupersededRefusals: a superseded credential that was revoked
// never decrypts through a delegation (checked before the PIN, store
// unchanged), and a later approval seals no copy of it; a credential
// the delegation holds no copy of is not found; a signing credential's
// renewal keeps no copy.
func TestDelegateSupersededRefusals(t *testing.T) {
	w := encOrgWorld(t)
	f := w.f
	old := w.cred
	oldCT, format := encryptTo(t, old, []byte("bid"))
	d := w.active(t)
	w.renewNew(t)
	if _, err := f.svc.Revoke(f.ctx, old.ID, "keyCompromise"); err != nil {
		t.Fatal(err)
	}
	before := f.snapshot(t)
	_, err := w.decryptAs(t, d, old.ID, delegatePIN, oldCT, format)
	wantErr(t, "revoked superseded credential", err, ErrCredentialNotActive)
	_, err = w.decryptAs(t, d, old.ID, "000000", oldCT, format)
	wantErr(t, "revoked superseded credential, wrong PIN", err, ErrCredentialNotActive)
	_, err = f.svc.DelegatedCredential(f.ctx, w.delegate, old.ID)
	wantErr(t, "DelegatedCredential of a revoked one", err, ErrCredentialNotActive)
	if f.snapshot(t) != before {
		t.Fatal("refusals changed the store")
	}
	if ids := supersededIDs(t, w); len(ids) != 0 {
		t.Fatalf("a revoked credential is listed: %v", ids)
	}
	// The owner cannot either: the same rule.
	_, _, err = f.svc.UnlockDecryptKey(f.ctx, w.org, old.ID, testPIN)
	wantErr(t, "the owner, revoked", err, ErrCredentialNotActive)

	// A delegation approved now gets no copy of the revoked key.
	if _, err := f.svc.RevokeDelegation(f.ctx, w.org, d.ID); err != nil {
		t.Fatal(err)
	}
	d2 := w.active(t)
	if rec := w.record(t, d2.ID); len(rec.Superseded) != 0 {
		t.Fatalf("approval sealed a revoked key: %+v", rec.Superseded)
	}
	_, err = w.decryptAs(t, d2, old.ID, delegatePIN, oldCT, format)
	wantErr(t, "no copy", err, ErrCredentialNotFound)
	// Another organisation credential (not in the chain) is not found.
	other := f.credential(t, w.org, w.iss, gmcrypto.AlgSM2, PurposeSign)
	_, err = w.decryptAs(t, d2, other.ID, delegatePIN, oldCT, format)
	wantErr(t, "another credential", err, ErrCredentialNotFound)

	// A signing credential's new-key renewal keeps no superseded copy.
	w.cred = other
	ds := w.active(t)
	w.renewNew(t)
	if rec := w.record(t, ds.ID); len(rec.Superseded) != 0 || rec.CredentialID != w.cred.ID {
		t.Fatalf("signing delegation after the renewal: %s %+v", rec.CredentialID, rec.Superseded)
	}
}

// TestDelegationSupersededCap: after more renewals than
// MaxDelegationSuperseded, a delegation carried over by them and one
// approved after them keep the same newest copies, each opening its own
// credential's ciphertexts; the oldest key is left to the organisation.
func TestDelegationSupersededCap(t *testing.T) {
	w := encOrgWorld(t)
	f := w.f
	carried := w.active(t)
	creds := []*Credential{w.cred}
	var cts [][]byte
	for i := 0; i <= MaxDelegationSuperseded; i++ {
		ct, _ := encryptTo(t, w.cred, []byte{byte('a' + i)})
		cts = append(cts, ct)
		creds = append(creds, w.renewNew(t))
	}
	// A second delegate, approved after every renewal.
	w2 := w.withDelegate(t, "王五")
	late := w2.active(t)
	for _, tc := range []struct {
		w *orgWorld
		d *Delegation
	}{{w, carried}, {&w2, late}} {
		rec := w.record(t, tc.d.ID)
		if len(rec.Superseded) != MaxDelegationSuperseded {
			t.Fatalf("%s keeps %d copies", tc.d.ID, len(rec.Superseded))
		}
		for i, cp := range rec.Superseded {
			// Newest first: creds[n-1] .. creds[1].
			want := creds[len(creds)-2-i]
			if cp.CredentialID != want.ID {
				t.Fatalf("%s copy %d is %s, want %s", tc.d.ID, i, cp.CredentialID, want.ID)
			}
			j := len(creds) - 2 - i
			if pt, err := tc.w.decryptAs(t, tc.d, want.ID, delegatePIN, cts[j], gmcrypto.FormatASN1); err != nil || !bytes.Equal(pt, []byte{byte('a' + j)}) {
				t.Fatalf("%s opens %s: %q %v", tc.d.ID, want.ID, pt, err)
			}
		}
		_, err := tc.w.decryptAs(t, tc.d, creds[0].ID, delegatePIN, cts[0], gmcrypto.FormatASN1)
		wantErr(t, "the oldest, beyond the cap", err, ErrCredentialNotFound)
	}
	k, _, err := f.svc.UnlockDecryptKey(f.ctx, w.org, creds[0].ID, testPIN)
	if err != nil {
		t.Fatal(err)
	}
	defer gmcrypto.ZeroKey(k)
	if pt, err := gmcrypto.Decrypt(k, cts[0], gmcrypto.FormatASN1); err != nil || string(pt) != "a" {
		t.Fatalf("the organisation opens the oldest: %q %v", pt, err)
	}
	// Account deletion of a delegate removes their delegation with every
	// copy; the other delegate's stays whole.
	if n, err := f.svc.DeleteDelegationsOf(f.ctx, w.delegate); err != nil || n != 1 {
		t.Fatalf("DeleteDelegationsOf: %d %v", n, err)
	}
	if _, _, err := f.svc.loadDelegation(f.ctx, carried.ID); !errors.Is(err, ErrDelegationNotFound) {
		t.Fatalf("the deleted delegation: %v", err)
	}
	if rec := w.record(t, late.ID); len(rec.Superseded) != MaxDelegationSuperseded {
		t.Fatalf("the other delegation lost its copies: %d", len(rec.Superseded))
	}
}

// TestDelegateSupersededExternal: at an external issuer (openssl) a new-key
// renewal keeps the delegation's copy of the old key at the certificate's
// import; a delegation approved while the import waited goes back to
// pending_approval and its new approval seals both keys, and so does one
// granted (and approved) only while the renewal waited.
func TestDelegateSupersededExternal(t *testing.T) {
	testkit.OpenSSL(t)
	w := newOrgWorld(t)
	f := w.f
	dir := t.TempDir()
	opensslCA(t, dir, "extca", gmcrypto.AlgSM2)
	if _, err := f.svc.AddIssuer(f.ctx, IssuerRequest{ID: "ext", Name: "External", Mode: ModeExternal,
		ChainPEM: readFile(t, dir, "extca.pem"), Profile: &Profile{RenewalKey: RenewalKeyEither}}); err != nil {
		t.Fatal(err)
	}
	pending := w.f.credential(t, w.org, "ext", gmcrypto.AlgSM2, PurposeEncrypt)
	writeFile(t, dir, "old.csr", []byte(pending.CSRPEM))
	opensslSignCSR(t, dir, gmcrypto.AlgSM2, "extca", "old.csr", "old.pem")
	old, err := f.svc.ImportCertificate(f.ctx, pending.ID, readFile(t, dir, "old.pem"))
	if err != nil {
		t.Fatal(err)
	}
	w.iss, w.cred = "ext", old
	oldCT, format := encryptTo(t, old, []byte("bid 2025"))
	before := w.active(t)
	// A second delegate has accepted; the organisation approves only
	// while the renewal waits for its certificate.
	w2 := w.withDelegate(t, "王五")
	between := w2.grant(t)
	if _, err := f.svc.AcceptDelegation(f.ctx, w2.delegate, between.ID, delegatePIN); err != nil {
		t.Fatal(err)
	}

	succ := w.renewNew(t)
	if succ.State != StatePending {
		t.Fatalf("successor %s", succ.State)
	}
	// Until the import, the delegation stays on the old credential with
	// its one copy.
	if rec := w.record(t, before.ID); rec.CredentialID != old.ID || len(rec.Superseded) != 0 || rec.Next == nil {
		t.Fatalf("before the import: %s %+v", rec.CredentialID, rec.Superseded)
	}
	if _, err := f.svc.ApproveDelegation(f.ctx, w.org, between.ID, testPIN); err != nil {
		t.Fatal(err)
	}
	// The pending renewal is not in the delegation's chain yet.
	if rec := w.record(t, between.ID); rec.CredentialID != old.ID || len(rec.Superseded) != 0 {
		t.Fatalf("approved in between: %s %+v", rec.CredentialID, rec.Superseded)
	}
	// A third delegate is granted the old credential only now, while the
	// renewal waits, and is accepted and approved before the import: no
	// move was prepared for that delegation.
	w3 := w.withDelegate(t, "赵六")
	w3.cred = old
	late := w3.active(t)
	if rec := w.record(t, late.ID); rec.CredentialID != old.ID || rec.Next != nil {
		t.Fatalf("granted while the renewal waits: %s %+v", rec.CredentialID, rec.Next)
	}

	writeFile(t, dir, "succ.csr", []byte(succ.CSRPEM))
	opensslSignCSR(t, dir, gmcrypto.AlgSM2, "extca", "succ.csr", "succ.pem")
	if succ, err = f.svc.ImportCertificate(f.ctx, succ.ID, readFile(t, dir, "succ.pem")); err != nil {
		t.Fatal(err)
	}
	newCT, _ := encryptTo(t, succ, []byte("bid 2026"))
	// opensBoth: delegation d of world v opens the bids for the old and
	// the new certificate with the delegate's own PIN.
	opensBoth := func(v *orgWorld, d *Delegation, what string) {
		t.Helper()
		for _, tc := range []struct {
			cred *Credential
			ct   []byte
			want string
		}{{old, oldCT, "bid 2025"}, {succ, newCT, "bid 2026"}} {
			if pt, err := v.decryptAs(t, d, tc.cred.ID, delegatePIN, tc.ct, format); err != nil || string(pt) != tc.want {
				t.Fatalf("%s%s: %q %v", what, tc.cred.ID, pt, err)
			}
		}
	}
	rec := w.record(t, before.ID)
	if rec.CredentialID != succ.ID || len(rec.Superseded) != 1 || rec.Superseded[0].CredentialID != old.ID || rec.Next != nil {
		t.Fatalf("after the import: %s %+v", rec.CredentialID, rec.Superseded)
	}
	opensBoth(w, before, "")
	// The delegation approved in between approves again, and then opens
	// both.
	rec = w.record(t, between.ID)
	if rec.CredentialID != succ.ID || rec.state(f.clock.Now()) != protocol.DelegationPendingApproval || rec.SealedKEK != nil || rec.Superseded != nil {
		t.Fatalf("approved in between, after the import: %s %s %+v", rec.CredentialID, rec.state(f.clock.Now()), rec.Superseded)
	}
	if _, err := f.svc.ApproveDelegation(f.ctx, w.org, between.ID, testPIN); err != nil {
		t.Fatal(err)
	}
	opensBoth(&w2, between, "re-approved, ")
	// The delegation granted while the renewal waited moved with the
	// import as well (it is not left on the superseded credential): back
	// to pending_approval, and the new approval seals both keys.
	rec = w.record(t, late.ID)
	if rec.CredentialID != succ.ID || rec.state(f.clock.Now()) != protocol.DelegationPendingApproval || rec.SealedKEK != nil {
		t.Fatalf("granted while the renewal waited, after the import: %s %s", rec.CredentialID, rec.state(f.clock.Now()))
	}
	if _, err := f.svc.ApproveDelegation(f.ctx, w.org, late.ID, testPIN); err != nil {
		t.Fatal(err)
	}
	opensBoth(&w3, late, "granted while the renewal waited, re-approved, ")
}

// TestDelegationSameKeyRenewal: a same-key renewal of an encryption
// credential keeps the copy under the old credential's id too, so the
// delegate opens what names the old certificate (as the owner does).
func TestDelegationSameKeyRenewal(t *testing.T) {
	w := encOrgWorld(t)
	old := w.cred
	ct, format := encryptTo(t, old, []byte("same key"))
	d := w.active(t)
	succ, err := w.f.svc.RenewCredential(w.f.ctx, w.org, old.ID, testPIN, false)
	if err != nil {
		t.Fatal(err)
	}
	w.cred = succ
	for _, id := range []string{old.ID, succ.ID} {
		if pt, err := w.decryptAs(t, d, id, delegatePIN, ct, format); err != nil || string(pt) != "same key" {
			t.Fatalf("%s: %q %v", id, pt, err)
		}
	}
}
