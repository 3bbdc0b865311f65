package ca

import (
	"errors"
	"strings"
	"testing"
	"time"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/internal/testkit"
	"github.com/ukeygate/ukeygate/protocol"
)

// A credit code with a valid GB 32100 check character, and one without.
const (
	testCreditCode    = "91350100M000100Y43"
	testBadCreditCode = "91350100M000100Y44"
	delegatePIN       = "135792"
)

func TestValidCreditCode(t *testing.T) {
	for _, tc := range []struct {
		code string
		ok   bool
	}{
		{testCreditCode, true},
		{strings.ToLower(testCreditCode), true},
		{"91110000802100433B", true},
		{testBadCreditCode, false},
		{"91350100M000100Y4", false},       // 17 characters
		{"91350100M000100Y433", false},     // 19
		{"91350100M0001O0Y43", false},      // O is not in the alphabet
		{"91350100M000100Y4\u00e9", false}, // not ASCII
		{"", false},
	} {
		if got := ValidCreditCode(tc.code); got != tc.ok {
			t.Errorf("ValidCreditCode(%q) = %v, want %v", tc.code, got, tc.ok)
		}
	}
}

func TestOrganisationUserRequest(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name  string
		req   UserRequest
		field string
	}{
		{"bad checksum", UserRequest{Name: "某某建设有限公司", Kind: UserKindOrganization, CreditCode: testBadCreditCode}, "credit_code"},
		{"no credit code", UserRequest{Name: "某某建设有限公司", Kind: UserKindOrganization}, "credit_code"},
		{"person with credit code", UserRequest{Name: "张三", CreditCode: testCreditCode}, "credit_code"},
		{"organisation with ID number", UserRequest{Name: "某某建设有限公司", Kind: UserKindOrganization, CreditCode: testCreditCode, IDNumber: "1"}, "id_number"},
		{"unknown kind", UserRequest{Name: "x", Kind: "company"}, "kind"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.snapshot(t)
			_, _, err := f.svc.AddUser(f.ctx, tc.req)
			var re *RequestError
			if !errors.As(err, &re) || re.Field != tc.field {
				t.Fatalf("AddUser: %v, want a request error on %s", err, tc.field)
			}
			if f.snapshot(t) != before {
				t.Fatal("a refused user changed the store")
			}
		})
	}
}

// TestOrganisationCertificate: an organisation's certificates name it in
// O and carry its credit code in serialNumber, whatever the profile asks,
// and openssl verifies them and reads both fields.
func TestOrganisationCertificate(t *testing.T) {
	f := newFixture(t)
	for _, alg := range []gmcrypto.Alg{gmcrypto.AlgSM2, gmcrypto.AlgRSA} {
		t.Run(string(alg), func(t *testing.T) {
			iss := f.generated(t, "org-"+strings.ToLower(string(alg)), alg, &Profile{SubjectFields: []string{SubjectIDNumber}})
			org := f.enrolled(t, UserRequest{Name: "某某建设有限公司", Kind: UserKindOrganization, CreditCode: strings.ToLower(testCreditCode)})
			u, err := f.svc.User(f.ctx, org)
			if err != nil {
				t.Fatal(err)
			}
			if u.Kind != UserKindOrganization || u.CreditCode != testCreditCode || u.Organization != "某某建设有限公司" {
				t.Fatalf("user %+v", u)
			}
			c := f.credential(t, org, iss.ID, alg, PurposeSign)
			subj := c.Certificate.Subject
			if len(subj.Organization) != 1 || subj.Organization[0] != "某某建设有限公司" || subj.SerialNumber != testCreditCode {
				t.Fatalf("subject %v: want O=某某建设有限公司 and serialNumber=%s", subj, testCreditCode)
			}
			dir := t.TempDir()
			writeFile(t, dir, "org.pem", []byte(c.CertificatePEM))
			writeFile(t, dir, "ca.pem", []byte(iss.CertificatePEM))
			opensslVerify(t, dir, alg, "org.pem", "ca.pem")
			out := testkit.RunOpenSSL(t, dir, "x509", "-in", "org.pem", "-noout", "-subject", "-nameopt", "RFC2253,-esc_msb")
			if !strings.Contains(out, "serialNumber="+testCreditCode) || !strings.Contains(out, "O=某某建设有限公司") {
				t.Fatalf("openssl reads the subject as %q", out)
			}
		})
	}
}

// orgWorld is an organisation with an SM2 sign credential and a delegate
// enrolled with their own PIN.
type orgWorld struct {
	f                  *fixture
	org, delegate, iss string
	cred               *Credential
}

func newOrgWorld(t *testing.T) *orgWorld {
	f := newFixture(t)
	iss := f.generated(t, "orgca", gmcrypto.AlgSM2, nil)
	org := f.enrolled(t, UserRequest{Name: "某某建设有限公司", Kind: UserKindOrganization, CreditCode: testCreditCode})
	u, code, err := f.svc.AddUser(f.ctx, UserRequest{Name: "李四"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.Enroll(f.ctx, code, devicePEM(t), "staff phone", delegatePIN); err != nil {
		t.Fatal(err)
	}
	return &orgWorld{f: f, org: org, delegate: u.ID, iss: iss.ID, cred: f.credential(t, org, iss.ID, gmcrypto.AlgSM2, PurposeSign)}
}

func (w *orgWorld) grant(t *testing.T, kinds ...string) *Delegation {
	t.Helper()
	d, err := w.f.svc.AddDelegation(w.f.ctx, DelegationRequest{OrgID: w.org, DelegateID: w.delegate, CredentialID: w.cred.ID,
		Kinds: kinds, NotAfter: w.f.clock.Now().Add(30 * 24 * time.Hour)})
	if err != nil {
		t.Fatalf("AddDelegation: %v", err)
	}
	return d
}

// active grants, accepts and approves a delegation.
func (w *orgWorld) active(t *testing.T, kinds ...string) *Delegation {
	t.Helper()
	d := w.grant(t, kinds...)
	if _, err := w.f.svc.AcceptDelegation(w.f.ctx, w.delegate, d.ID, delegatePIN); err != nil {
		t.Fatalf("AcceptDelegation: %v", err)
	}
	d, err := w.f.svc.ApproveDelegation(w.f.ctx, w.org, d.ID, testPIN)
	if err != nil {
		t.Fatalf("ApproveDelegation: %v", err)
	}
	if d.State != protocol.DelegationActive {
		t.Fatalf("state %s", d.State)
	}
	return d
}

// signAs unlocks the organisation's key through d with pin, signs and
// verifies under the organisation's certificate.
func (w *orgWorld) signAs(t *testing.T, d *Delegation, pin string) error {
	t.Helper()
	key, cred, err := w.f.svc.UnlockDelegatedKey(w.f.ctx, w.delegate, d.ID, pin)
	if err != nil {
		return err
	}
	defer gmcrypto.ZeroKey(key)
	if cred.ID != w.cred.ID || cred.UserID != w.org {
		t.Fatalf("unlocked %s of %s", cred.ID, cred.UserID)
	}
	msg := []byte("投标文件 #7")
	sig, err := gmcrypto.Sign(key, msg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := gmcrypto.Verify(w.cred.Certificate.PublicKey, msg, sig, nil); err != nil {
		t.Fatalf("the delegate's signature does not verify under the organisation's certificate: %v", err)
	}
	return nil
}

func (w *orgWorld) record(t *testing.T, id string) *delegationRecord {
	t.Helper()
	d, _, err := w.f.svc.loadDelegation(w.f.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDelegationLifecycle(t *testing.T) {
	w := newOrgWorld(t)
	f := w.f
	d := w.grant(t)
	if d.State != protocol.DelegationPendingAcceptance || d.OrganizationName != "某某建设有限公司" || d.UserName != "李四" {
		t.Fatalf("granted %+v", d)
	}
	// Not usable before both steps; approval before acceptance is out of turn.
	if _, err := f.svc.DelegatedCredential(f.ctx, w.delegate, w.cred.ID); !errors.Is(err, ErrDelegationNotActive) {
		t.Fatalf("DelegatedCredential before acceptance: %v", err)
	}
	if _, err := f.svc.ApproveDelegation(f.ctx, w.org, d.ID, testPIN); !errors.Is(err, ErrDelegationState) {
		t.Fatalf("approve before accept: %v", err)
	}
	// Only the delegate accepts, only the organisation approves.
	if _, err := f.svc.AcceptDelegation(f.ctx, w.org, d.ID, testPIN); !errors.Is(err, ErrDelegationNotFound) {
		t.Fatalf("accept by the organisation: %v", err)
	}
	if _, err := f.svc.AcceptDelegation(f.ctx, w.delegate, d.ID, testPIN); !errors.Is(err, ErrWrongPIN) {
		t.Fatalf("accept with the organisation's PIN: %v", err)
	}
	if _, err := f.svc.AcceptDelegation(f.ctx, w.delegate, d.ID, delegatePIN); err != nil {
		t.Fatal(err)
	}
	rec := w.record(t, d.ID)
	if len(rec.WrappedKey) == 0 || len(rec.SealedOrgKey) != 0 {
		t.Fatal("acceptance: want the delegation key wrapped, no organisation key yet")
	}
	if _, err := f.svc.ApproveDelegation(f.ctx, w.delegate, d.ID, delegatePIN); !errors.Is(err, ErrDelegationNotFound) {
		t.Fatalf("approve by the delegate: %v", err)
	}
	if _, err := f.svc.ApproveDelegation(f.ctx, w.org, d.ID, delegatePIN); !errors.Is(err, ErrWrongPIN) {
		t.Fatalf("approve with the delegate's PIN: %v", err)
	}
	if _, err := f.svc.ApproveDelegation(f.ctx, w.org, d.ID, testPIN); err != nil {
		t.Fatal(err)
	}
	rec = w.record(t, d.ID)
	// The organisation's key is nowhere in the record in the clear, and
	// not under a master-derived key alone: the sealed copy opens only
	// with the delegation's private key, which opens only with the
	// delegate's PIN.
	if len(rec.SealedOrgKey) == 0 || len(rec.SealedKEK) == 0 {
		t.Fatal("approval: no sealed organisation key")
	}
	if _, err := rec.open(make([]byte, gmcrypto.KeySize), rec.SealedKEK, rec.SealedOrgKey); err == nil {
		t.Fatal("the delegation opened without the delegate's PIN key")
	}

	// The delegate signs for the organisation with their own PIN; the
	// organisation's PIN does not open the delegation.
	if err := w.signAs(t, d, delegatePIN); err != nil {
		t.Fatalf("delegate sign: %v", err)
	}
	if err := w.signAs(t, d, testPIN); !errors.Is(err, ErrWrongPIN) {
		t.Fatalf("organisation's PIN through the delegation: %v", err)
	}
	dc, err := f.svc.DelegatedCredential(f.ctx, w.delegate, w.cred.ID)
	if err != nil || dc.Delegation.ID != d.ID || !dc.Allows("sign", "any_app") {
		t.Fatalf("DelegatedCredential: %+v %v", dc, err)
	}
	list, err := f.svc.DelegatedCredentials(f.ctx, w.delegate)
	if err != nil || len(list) != 1 || list[0].Credential.ID != w.cred.ID {
		t.Fatalf("DelegatedCredentials: %v %v", list, err)
	}

	// The delegate's PIN change re-wraps the delegation key.
	if err := f.svc.ChangePIN(f.ctx, w.delegate, delegatePIN, "975310"); err != nil {
		t.Fatal(err)
	}
	if err := w.signAs(t, d, "975310"); err != nil {
		t.Fatalf("after the delegate's PIN change: %v", err)
	}
	// The organisation's PIN change does not touch the delegation.
	if err := f.svc.ChangePIN(f.ctx, w.org, testPIN, "864200"); err != nil {
		t.Fatal(err)
	}
	if err := w.signAs(t, d, "975310"); err != nil {
		t.Fatalf("after the organisation's PIN change: %v", err)
	}

	// Revoke: the wraps are gone, use is refused without a state change.
	if _, err := f.svc.RevokeDelegation(f.ctx, w.delegate, d.ID); !errors.Is(err, ErrDelegationNotFound) {
		t.Fatalf("revoke under the wrong organisation: %v", err)
	}
	rd, err := f.svc.RevokeDelegation(f.ctx, w.org, d.ID)
	if err != nil || rd.State != protocol.DelegationRevoked {
		t.Fatalf("RevokeDelegation: %+v %v", rd, err)
	}
	rec = w.record(t, d.ID)
	if rec.PublicKey != nil || rec.WrappedKey != nil || rec.SealedKEK != nil || rec.SealedOrgKey != nil {
		t.Fatal("a revoked delegation keeps key material")
	}
	before := f.snapshot(t)
	if err := w.signAs(t, d, "975310"); !errors.Is(err, ErrDelegationRevoked) {
		t.Fatalf("revoked: %v", err)
	}
	if _, err := f.svc.DelegatedCredential(f.ctx, w.delegate, w.cred.ID); !errors.Is(err, ErrDelegationRevoked) {
		t.Fatalf("DelegatedCredential of a revoked one: %v", err)
	}
	if _, err := f.svc.RevokeDelegation(f.ctx, w.org, d.ID); !errors.Is(err, ErrDelegationRevoked) {
		t.Fatalf("second revoke: %v", err)
	}
	if f.snapshot(t) != before {
		t.Fatal("a refused use of a revoked delegation changed the store")
	}
}

func TestDelegationExpires(t *testing.T) {
	w := newOrgWorld(t)
	d := w.active(t)
	if err := w.signAs(t, d, delegatePIN); err != nil {
		t.Fatal(err)
	}
	w.f.clock.Advance(31 * 24 * time.Hour)
	before := w.f.snapshot(t)
	if err := w.signAs(t, d, delegatePIN); !errors.Is(err, ErrDelegationExpired) {
		t.Fatalf("expired: %v", err)
	}
	if _, err := w.f.svc.DelegatedCredential(w.f.ctx, w.delegate, w.cred.ID); !errors.Is(err, ErrDelegationExpired) {
		t.Fatalf("DelegatedCredential of an expired one: %v", err)
	}
	if list, _ := w.f.svc.DelegatedCredentials(w.f.ctx, w.delegate); len(list) != 0 {
		t.Fatalf("an expired delegation is offered: %v", list)
	}
	if w.f.snapshot(t) != before {
		t.Fatal("a refused use of an expired delegation changed the store")
	}
	// A new grant of the same credential is allowed once the old expired.
	w.grant(t)
}

// TestDelegateLockout: the delegate's wrong PINs count on the delegate's
// own counter; the organisation's PIN, counter and keys are untouched.
func TestDelegateLockout(t *testing.T) {
	w := newOrgWorld(t)
	f := w.f
	d := w.active(t)
	for range f.svc.cfg.PINMaxTries {
		if err := w.signAs(t, d, "000001"); !errors.Is(err, ErrWrongPIN) && !errors.Is(err, ErrPINLocked) {
			t.Fatalf("wrong delegate PIN: %v", err)
		}
	}
	if err := w.signAs(t, d, delegatePIN); !errors.Is(err, ErrPINLocked) {
		t.Fatalf("delegate after %d wrong PINs: %v, want locked", f.svc.cfg.PINMaxTries, err)
	}
	del, _, _ := f.svc.loadUser(f.ctx, w.delegate)
	org, _, _ := f.svc.loadUser(f.ctx, w.org)
	if del.FailedPINs != f.svc.cfg.PINMaxTries || org.FailedPINs != 0 || !org.LockedUntil.IsZero() {
		t.Fatalf("delegate failed %d, organisation failed %d locked %v", del.FailedPINs, org.FailedPINs, org.LockedUntil)
	}
	f.signAndVerify(t, w.org, w.cred.ID) // the organisation's holder is not locked out
	// The delegate's own lock ends as any lock does.
	f.clock.Advance(f.svc.cfg.PINLockMax)
	if err := w.signAs(t, d, delegatePIN); err != nil {
		t.Fatalf("after the lock: %v", err)
	}
}

func TestAddDelegationRefusals(t *testing.T) {
	w := newOrgWorld(t)
	f := w.f
	person := f.enrolled(t, UserRequest{Name: "王五"})
	personCred := f.credential(t, person, w.iss, gmcrypto.AlgSM2, PurposeSign)
	otherOrg := f.enrolled(t, UserRequest{Name: "另一公司", Kind: UserKindOrganization, CreditCode: "91110000802100433B"})
	encCred := f.credential(t, w.org, w.iss, gmcrypto.AlgSM2, PurposeEncrypt)
	later := f.clock.Now().Add(24 * time.Hour)
	base := DelegationRequest{OrgID: w.org, DelegateID: w.delegate, CredentialID: w.cred.ID, NotAfter: later}
	with := func(mod func(*DelegationRequest)) DelegationRequest { r := base; mod(&r); return r }
	w.grant(t) // for the duplicate case
	for _, tc := range []struct {
		name  string
		req   DelegationRequest
		want  error
		field string
	}{
		{"not an organisation", with(func(r *DelegationRequest) { r.OrgID, r.CredentialID = person, personCred.ID }), ErrNotOrganization, ""},
		{"delegate is an organisation", with(func(r *DelegationRequest) { r.DelegateID = otherOrg }), ErrNotOrganization, ""},
		{"to itself", with(func(r *DelegationRequest) { r.DelegateID = w.org }), ErrInvalidRequest, "user"},
		{"unknown delegate", with(func(r *DelegationRequest) { r.DelegateID = "usr_nobody" }), ErrUserNotFound, "user"},
		{"another's credential", with(func(r *DelegationRequest) { r.OrgID = otherOrg; r.DelegateID = person }), ErrCredentialNotFound, ""},
		{"past", with(func(r *DelegationRequest) { r.NotAfter = f.clock.Now().Add(-time.Minute) }), ErrInvalidRequest, "not_after"},
		{"too far", with(func(r *DelegationRequest) { r.NotAfter = f.clock.Now().AddDate(4, 0, 0) }), ErrInvalidRequest, "not_after"},
		{"no end", with(func(r *DelegationRequest) { r.NotAfter = time.Time{} }), ErrInvalidRequest, "not_after"},
		{"unknown kind", with(func(r *DelegationRequest) { r.Kinds = []string{"sign", "mint"} }), ErrInvalidRequest, "kinds[1]"},
		{"certificate kind", with(func(r *DelegationRequest) { r.Kinds = []string{"certificate"} }), ErrInvalidRequest, "kinds[0]"},
		{"decrypt with a sign key", with(func(r *DelegationRequest) { r.Kinds = []string{"decrypt"}; r.DelegateID = person }), ErrInvalidRequest, "kinds[0]"},
		{"sign with an encryption key", with(func(r *DelegationRequest) { r.Kinds = []string{"login"}; r.CredentialID = encCred.ID }), ErrInvalidRequest, "kinds[0]"},
		{"bad app", with(func(r *DelegationRequest) { r.Apps = []string{"App!"} }), ErrInvalidRequest, "apps[0]"},
		{"duplicate", base, ErrInvalidRequest, "credential"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.snapshot(t)
			_, err := f.svc.AddDelegation(f.ctx, tc.req)
			if !errors.Is(err, tc.want) {
				t.Fatalf("AddDelegation: %v, want %v", err, tc.want)
			}
			var re *RequestError
			if tc.field != "" && (!errors.As(err, &re) || re.Field != tc.field) {
				t.Fatalf("AddDelegation: %v, want field %s", err, tc.field)
			}
			if f.snapshot(t) != before {
				t.Fatal("a refused delegation changed the store")
			}
		})
	}
	// A revoked credential cannot be delegated.
	if _, err := f.svc.Revoke(f.ctx, encCred.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AddDelegation(f.ctx, with(func(r *DelegationRequest) { r.CredentialID = encCred.ID; r.DelegateID = person })); !errors.Is(err, ErrCredentialNotActive) {
		t.Fatalf("revoked credential: %v", err)
	}
}

// TestDelegationCredentialRevoked: a delegation of a credential revoked
// since is refused.
func TestDelegationCredentialRevoked(t *testing.T) {
	w := newOrgWorld(t)
	d := w.active(t)
	if _, err := w.f.svc.Revoke(w.f.ctx, w.cred.ID, "keyCompromise"); err != nil {
		t.Fatal(err)
	}
	if err := w.signAs(t, d, delegatePIN); !errors.Is(err, ErrCredentialNotActive) {
		t.Fatalf("revoked credential through a delegation: %v", err)
	}
}

// TestDeleteDelegationsOf: removing a user's delegations (account
// deletion) leaves no record, index or wrap behind, on either side.
func TestDeleteDelegationsOf(t *testing.T) {
	w := newOrgWorld(t)
	f := w.f
	d := w.active(t)
	other := f.enrolled(t, UserRequest{Name: "赵六"})
	d2, err := f.svc.AddDelegation(f.ctx, DelegationRequest{OrgID: w.org, DelegateID: other, CredentialID: w.cred.ID, NotAfter: f.clock.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	n, err := f.svc.DeleteDelegationsOf(f.ctx, w.delegate)
	if err != nil || n != 1 {
		t.Fatalf("DeleteDelegationsOf(delegate) = %d, %v", n, err)
	}
	snap := f.snapshot(t)
	if strings.Contains(snap, d.ID) {
		t.Fatal("the delegate's delegation is still in the store")
	}
	if !strings.Contains(snap, d2.ID) {
		t.Fatal("another delegate's delegation was removed")
	}
	if err := w.signAs(t, d, delegatePIN); !errors.Is(err, ErrDelegationNotFound) {
		t.Fatalf("use after deletion: %v", err)
	}
	if n, err := f.svc.DeleteDelegationsOf(f.ctx, w.org); err != nil || n != 1 {
		t.Fatalf("DeleteDelegationsOf(org) = %d, %v", n, err)
	}
	snap = f.snapshot(t)
	for _, p := range []string{pfxDelegations, pfxOrgDelegations, pfxUserDelegation} {
		if strings.Contains(snap, p) {
			t.Fatalf("%s records left after deleting both sides", p)
		}
	}
	if n, err := f.svc.DeleteDelegationsOf(f.ctx, w.org); err != nil || n != 0 {
		t.Fatalf("second DeleteDelegationsOf = %d, %v", n, err)
	}
}

// FuzzValidCreditCode: the check never panics, accepts only 18 characters
// of the GB 32100 alphabet (either case), and any one-character change of
// a valid code is refused (the check character catches every single
// substitution: 3 is invertible modulo the prime 31).
func FuzzValidCreditCode(f *testing.F) {
	for _, s := range []string{testCreditCode, testBadCreditCode, "91110000802100433B", "", "\x00", strings.Repeat("Z", 18)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ok := ValidCreditCode(s)
		if !ok {
			return
		}
		up := strings.ToUpper(s)
		if len(s) != 18 || strings.Trim(up, creditCodeAlphabet) != "" {
			t.Fatalf("%q accepted", s)
		}
		for i := range 18 {
			for _, c := range creditCodeAlphabet {
				if byte(c) == up[i] {
					continue
				}
				if m := up[:i] + string(c) + up[i+1:]; ValidCreditCode(m) {
					t.Fatalf("%q and %q both pass", up, m)
				}
			}
		}
	})
}

// BenchmarkDelegatedCredentials is what every scan adds for a user:
// looking for delegations granted to them (none, and one active).
func BenchmarkDelegatedCredentials(b *testing.B) {
	f := newFixture(b)
	iss := f.generated(b, "bench", gmcrypto.AlgSM2, nil)
	org := f.enrolled(b, UserRequest{Name: "某某建设有限公司", Kind: UserKindOrganization, CreditCode: testCreditCode})
	cred := f.credential(b, org, iss.ID, gmcrypto.AlgSM2, PurposeSign)
	none := f.enrolled(b, UserRequest{Name: "王五"})
	staff := f.enrolled(b, UserRequest{Name: "李四"})
	d, err := f.svc.AddDelegation(f.ctx, DelegationRequest{OrgID: org, DelegateID: staff, CredentialID: cred.ID, NotAfter: f.clock.Now().Add(time.Hour)})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := f.svc.AcceptDelegation(f.ctx, staff, d.ID, testPIN); err != nil {
		b.Fatal(err)
	}
	if _, err := f.svc.ApproveDelegation(f.ctx, org, d.ID, testPIN); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name, user string
		want       int
	}{{"none", none, 0}, {"one", staff, 1}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				list, err := f.svc.DelegatedCredentials(f.ctx, c.user)
				if err != nil || len(list) != c.want {
					b.Fatalf("%d %v", len(list), err)
				}
			}
		})
	}
}
