package ca

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/internal/testkit"
	"github.com/ukeygate/ukeygate/protocol"
)

// encryptTo encrypts msg to cred's certificate in the format of its key.
func encryptTo(t *testing.T, cred *Credential, msg []byte) ([]byte, gmcrypto.CipherFormat) {
	t.Helper()
	f := gmcrypto.FormatASN1
	if cred.Alg == gmcrypto.AlgRSA {
		f = gmcrypto.FormatRSAOAEP
	}
	ct, err := gmcrypto.Encrypt(cred.Certificate.PublicKey, msg, f)
	if err != nil {
		t.Fatal(err)
	}
	return ct, f
}

// TestRenewNewKey: at an issuer whose profile allows it, a renewal makes
// a new key pair of the same algorithm and size; the old credential is
// superseded and its key still decrypts (UnlockDecryptKey) but no longer
// signs (UnlockKey), and CMS envelopes made for either certificate name
// only that one.
func TestRenewNewKey(t *testing.T) {
	f := newFixture(t)
	for _, alg := range []gmcrypto.Alg{gmcrypto.AlgSM2, gmcrypto.AlgRSA} {
		t.Run(string(alg), func(t *testing.T) {
			iss := f.generated(t, "nk-"+strings.ToLower(string(alg)), alg, &Profile{RenewalKey: RenewalKeyEither})
			if iss.Profile.RenewalKey != RenewalKeyEither {
				t.Fatalf("profile %+v", iss.Profile)
			}
			user := f.enrolled(t, UserRequest{Name: "张三"})
			old := f.credential(t, user, iss.ID, alg, PurposeEncrypt)
			sign := f.credential(t, user, iss.ID, alg, PurposeSign)
			oldCT, format := encryptTo(t, old, []byte("去年的标书"))
			oldEnv, err := gmcrypto.EnvelopeCMS([]byte("sealed bid"), old.Certificate)
			if err != nil {
				t.Fatal(err)
			}

			renewed, err := f.svc.RenewCredential(f.ctx, user, old.ID, testPIN, true)
			if err != nil {
				t.Fatal(err)
			}
			if renewed.State != StateActive || renewed.Supersedes != old.ID || renewed.Alg != alg || renewed.RSABits != old.RSABits {
				t.Fatalf("renewed %+v", renewed)
			}
			oldPub, _ := gmcrypto.MarshalPublicKey(old.Certificate.PublicKey)
			newPub, _ := gmcrypto.MarshalPublicKey(renewed.Certificate.PublicKey)
			if bytes.Equal(oldPub, newPub) {
				t.Fatal("new_key renewal kept the key")
			}
			got, _ := f.svc.Credential(f.ctx, old.ID)
			if got.State != StateSuperseded || got.SupersededBy != renewed.ID || got.SupersededAt.IsZero() {
				t.Fatalf("old after renewal %+v", got)
			}
			if !gmcrypto.CMSAddressedTo(oldEnv, got.Certificate) || gmcrypto.CMSAddressedTo(oldEnv, renewed.Certificate) {
				t.Fatal("CMSAddressedTo does not tell the two certificates apart")
			}
			preds, err := f.svc.Predecessors(f.ctx, renewed.ID)
			if err != nil || len(preds) != 1 || preds[0].ID != old.ID {
				t.Fatalf("Predecessors %v %v", preds, err)
			}

			// The old key opens what was made for it; the new one what is
			// made for the new certificate.
			k, c, err := f.svc.UnlockDecryptKey(f.ctx, user, old.ID, testPIN)
			if err != nil {
				t.Fatalf("UnlockDecryptKey of the superseded credential: %v", err)
			}
			pt, err := gmcrypto.Decrypt(k, oldCT, format)
			if err != nil || string(pt) != "去年的标书" || c.ID != old.ID {
				t.Fatalf("old ciphertext: %q %v", pt, err)
			}
			pt, err = gmcrypto.OpenCMS(oldEnv, c.Certificate, k)
			if err != nil || string(pt) != "sealed bid" {
				t.Fatalf("old envelope: %q %v", pt, err)
			}
			gmcrypto.ZeroKey(k)
			newCT, _ := encryptTo(t, renewed, []byte("今年的标书"))
			k, _, err = f.svc.UnlockDecryptKey(f.ctx, user, renewed.ID, testPIN)
			if err != nil {
				t.Fatal(err)
			}
			if pt, err := gmcrypto.Decrypt(k, newCT, format); err != nil || string(pt) != "今年的标书" {
				t.Fatalf("new ciphertext: %q %v", pt, err)
			}
			if _, err := gmcrypto.Decrypt(k, oldCT, format); err == nil {
				t.Fatal("the new key opened the old ciphertext")
			}
			gmcrypto.ZeroKey(k)

			// Signing with the superseded key is refused; so is decrypting
			// with a superseded signing key.
			_, _, err = f.svc.UnlockKey(f.ctx, user, old.ID, testPIN)
			wantErr(t, "UnlockKey of a superseded credential", err, ErrCredentialNotActive)
			renewedSign, err := f.svc.RenewCredential(f.ctx, user, sign.ID, testPIN, false)
			if err != nil {
				t.Fatal(err)
			}
			if s1, _ := gmcrypto.MarshalPublicKey(renewedSign.Certificate.PublicKey); !bytes.Equal(s1, mustPub(t, sign)) {
				t.Fatal("a renewal without new_key changed the key at an 'either' issuer")
			}
			before := f.snapshot(t)
			_, _, err = f.svc.UnlockDecryptKey(f.ctx, user, sign.ID, testPIN)
			wantErr(t, "UnlockDecryptKey of a superseded sign credential", err, ErrCredentialNotActive)
			if f.snapshot(t) != before {
				t.Fatal("a refused unlock changed the store")
			}

			// Revoked: never decrypts.
			if _, err := f.svc.Revoke(f.ctx, old.ID, "keyCompromise"); err != nil {
				t.Fatal(err)
			}
			_, _, err = f.svc.UnlockDecryptKey(f.ctx, user, old.ID, testPIN)
			wantErr(t, "UnlockDecryptKey of a revoked credential", err, ErrCredentialNotActive)
		})
	}
}

func mustPub(t *testing.T, c *Credential) []byte {
	t.Helper()
	b, err := gmcrypto.MarshalPublicKey(c.Certificate.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRenewKeyProfile: "same" (the default) refuses new_key with nothing
// changed; "new" makes a new key even unasked; a bad value is refused at
// registration; cosign and pending credentials are refused.
func TestRenewKeyProfile(t *testing.T) {
	f := newFixture(t)
	def := f.generated(t, "default", gmcrypto.AlgSM2, nil)
	if def.Profile.RenewalKey != RenewalKeySame {
		t.Fatalf("default renewal_key %q", def.Profile.RenewalKey)
	}
	always := f.generated(t, "always", gmcrypto.AlgSM2, &Profile{RenewalKey: RenewalKeyNew})
	user := f.enrolled(t, UserRequest{Name: "张三"})
	c1 := f.credential(t, user, def.ID, gmcrypto.AlgSM2, PurposeEncrypt)
	before := f.snapshot(t)
	_, err := f.svc.RenewCredential(f.ctx, user, c1.ID, testPIN, true)
	wantErr(t, "new_key at a same-key issuer", err, ErrNewKeyNotAllowed)
	if f.snapshot(t) != before {
		t.Fatal("a refused renewal changed the store")
	}
	c2 := f.credential(t, user, always.ID, gmcrypto.AlgSM2, PurposeEncrypt)
	r2, err := f.svc.RenewCredential(f.ctx, user, c2.ID, testPIN, false)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(mustPub(t, r2), mustPub(t, c2)) {
		t.Fatal("a renewal_key new issuer kept the key")
	}
	_, err = f.svc.AddIssuer(f.ctx, IssuerRequest{ID: "bad", Name: "Bad", Mode: ModeInternal, Alg: gmcrypto.AlgSM2, Generate: true,
		Subject: Subject{CommonName: "Bad"}, Profile: &Profile{RenewalKey: "sometimes"}})
	var re *RequestError
	if !errors.As(err, &re) || re.Field != "profile.renewal_key" {
		t.Fatalf("bad renewal_key: %v", err)
	}
}

// TestRenewExternal: at an external issuer a renewal (new key) makes a
// pending successor with a CSR that openssl verifies; the old credential
// stays active (and cannot be renewed twice) until the successor's
// certificate, signed by openssl, is imported: then it is superseded and
// still decrypts. A certificate for the old key is refused.
func TestRenewExternal(t *testing.T) {
	testkit.OpenSSL(t)
	for _, alg := range []gmcrypto.Alg{gmcrypto.AlgSM2, gmcrypto.AlgRSA} {
		t.Run(string(alg), func(t *testing.T) {
			f := newFixture(t)
			dir := t.TempDir()
			opensslCA(t, dir, "extca", alg)
			if _, err := f.svc.AddIssuer(f.ctx, IssuerRequest{ID: "ext", Name: "External", Mode: ModeExternal,
				ChainPEM: readFile(t, dir, "extca.pem"), Profile: &Profile{RenewalKey: RenewalKeyEither}}); err != nil {
				t.Fatal(err)
			}
			uid := f.enrolled(t, UserRequest{Name: "Wang Wu", Organization: "Bidder Ltd"})
			old := f.credential(t, uid, "ext", alg, PurposeEncrypt)
			writeFile(t, dir, "old.csr", []byte(old.CSRPEM))
			opensslSignCSR(t, dir, alg, "extca", "old.csr", "old.pem")
			old, err := f.svc.ImportCertificate(f.ctx, old.ID, readFile(t, dir, "old.pem"))
			if err != nil {
				t.Fatal(err)
			}
			oldCT, format := encryptTo(t, old, []byte("bid 2025"))

			succ, err := f.svc.RenewCredential(f.ctx, uid, old.ID, testPIN, true)
			if err != nil {
				t.Fatal(err)
			}
			if succ.State != StatePending || succ.CSRPEM == "" || succ.Supersedes != old.ID {
				t.Fatalf("successor %+v", succ)
			}
			if c, _ := f.svc.Credential(f.ctx, old.ID); c.State != StateActive || c.RenewalPending != succ.ID {
				t.Fatalf("old while the renewal is pending: %+v", c)
			}
			before := f.snapshot(t)
			_, err = f.svc.RenewCredential(f.ctx, uid, old.ID, testPIN, true)
			wantErr(t, "second renewal", err, ErrRenewalPending)
			_, err = f.svc.CreateCredential(f.ctx, CredentialRequest{UserID: uid, IssuerID: "ext", Alg: alg, Purpose: PurposeEncrypt, PIN: testPIN})
			wantErr(t, "a new credential in the slot", err, ErrCredentialExists)
			if f.snapshot(t) != before {
				t.Fatal("refusals changed the store")
			}

			writeFile(t, dir, "succ.csr", []byte(succ.CSRPEM))
			reqArgs := []string{"req", "-in", "succ.csr", "-verify", "-noout", "-text"}
			if alg == gmcrypto.AlgSM2 {
				reqArgs = append(reqArgs, "-vfyopt", sm2DistID)
			}
			out := testkit.RunOpenSSL(t, dir, reqArgs...)
			if !strings.Contains(out, "verify OK") || !strings.Contains(out, "CN = Wang Wu") {
				t.Fatalf("openssl req on the renewal CSR:\n%s", out)
			}
			// The old certificate (old key) is not the successor's.
			before = f.snapshot(t)
			_, err = f.svc.ImportCertificate(f.ctx, succ.ID, readFile(t, dir, "old.pem"))
			wantErr(t, "old certificate for the successor", err, ErrCertificateMismatch)
			if f.snapshot(t) != before {
				t.Fatal("a refused import changed the store")
			}
			opensslSignCSR(t, dir, alg, "extca", "succ.csr", "succ.pem")
			got, err := f.svc.ImportCertificate(f.ctx, succ.ID, readFile(t, dir, "succ.pem"))
			if err != nil {
				t.Fatal(err)
			}
			if got.State != StateActive || bytes.Equal(mustPub(t, got), mustPub(t, old)) {
				t.Fatalf("imported successor %+v", got)
			}
			o, _ := f.svc.Credential(f.ctx, old.ID)
			if o.State != StateSuperseded || o.SupersededBy != succ.ID || o.RenewalPending != "" {
				t.Fatalf("old after import %+v", o)
			}
			k, _, err := f.svc.UnlockDecryptKey(f.ctx, uid, old.ID, testPIN)
			if err != nil {
				t.Fatal(err)
			}
			defer gmcrypto.ZeroKey(k)
			if pt, err := gmcrypto.Decrypt(k, oldCT, format); err != nil || string(pt) != "bid 2025" {
				t.Fatalf("old ciphertext after external renewal: %q %v", pt, err)
			}
			// The slot is the successor's: a new credential is refused,
			// and the successor renews again.
			_, err = f.svc.CreateCredential(f.ctx, CredentialRequest{UserID: uid, IssuerID: "ext", Alg: alg, Purpose: PurposeEncrypt, PIN: testPIN})
			wantErr(t, "a new credential after the import", err, ErrCredentialExists)
		})
	}
}

// TestRenewCarriesDelegations: an organisation credential renewed with a
// new key keeps its delegations: the active one opens the NEW key with
// the delegate's own PIN (sealed to the delegation's public key at the
// renewal, no delegate present), a pending one points at the successor,
// a revoked one stays with the old credential.
func TestRenewCarriesDelegations(t *testing.T) {
	for _, mode := range []string{"same", "new"} {
		t.Run(mode, func(t *testing.T) {
			w := newOrgWorld(t)
			f := w.f
			iss := f.generated(t, "orgca2", gmcrypto.AlgSM2, &Profile{RenewalKey: RenewalKeyEither})
			w.iss, w.cred = iss.ID, f.credential(t, w.org, iss.ID, gmcrypto.AlgSM2, PurposeSign)
			revoked := w.grant(t)
			if _, err := f.svc.RevokeDelegation(f.ctx, w.org, revoked.ID); err != nil {
				t.Fatal(err)
			}
			active := w.active(t)
			// A second delegate's delegation still waits for acceptance.
			u, code, err := f.svc.AddUser(f.ctx, UserRequest{Name: "王五"})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := f.svc.Enroll(f.ctx, code, devicePEM(t), "phone", delegatePIN); err != nil {
				t.Fatal(err)
			}
			pending, err := f.svc.AddDelegation(f.ctx, DelegationRequest{OrgID: w.org, DelegateID: u.ID, CredentialID: w.cred.ID,
				NotAfter: f.clock.Now().Add(24 * time.Hour)})
			if err != nil {
				t.Fatal(err)
			}

			renewed, err := f.svc.RenewCredential(f.ctx, w.org, w.cred.ID, testPIN, mode == "new")
			if err != nil {
				t.Fatal(err)
			}
			if got := w.record(t, active.ID); got.CredentialID != renewed.ID || got.state(f.clock.Now()) != protocol.DelegationActive {
				t.Fatalf("active delegation after renewal: %s %s", got.CredentialID, got.state(f.clock.Now()))
			}
			if got := w.record(t, pending.ID); got.CredentialID != renewed.ID {
				t.Fatalf("pending delegation after renewal: %s", got.CredentialID)
			}
			if got := w.record(t, revoked.ID); got.CredentialID != w.cred.ID {
				t.Fatalf("revoked delegation moved to %s", got.CredentialID)
			}
			w.cred = renewed
			if err := w.signAs(t, active, delegatePIN); err != nil {
				t.Fatalf("the delegate signs with the renewed credential: %v", err)
			}
		})
	}
}

// TestSupersededKeySurvivesPINChange: a PIN change re-wraps the
// superseded encryption key with the others, so the old ciphertext opens
// under the new PIN (and not under the old one).
func TestSupersededKeySurvivesPINChange(t *testing.T) {
	f := newFixture(t)
	iss := f.generated(t, "pc", gmcrypto.AlgSM2, &Profile{RenewalKey: RenewalKeyNew})
	user := f.enrolled(t, UserRequest{Name: "张三"})
	old := f.credential(t, user, iss.ID, gmcrypto.AlgSM2, PurposeEncrypt)
	ct, format := encryptTo(t, old, []byte("sealed last year"))
	if _, err := f.svc.RenewCredential(f.ctx, user, old.ID, testPIN, false); err != nil {
		t.Fatal(err)
	}
	const newPIN = "975318"
	if err := f.svc.ChangePIN(f.ctx, user, testPIN, newPIN); err != nil {
		t.Fatal(err)
	}
	var pe *PINError
	if _, _, err := f.svc.UnlockDecryptKey(f.ctx, user, old.ID, testPIN); !errors.As(err, &pe) {
		t.Fatalf("the old PIN: %v", err)
	}
	k, _, err := f.svc.UnlockDecryptKey(f.ctx, user, old.ID, newPIN)
	if err != nil {
		t.Fatal(err)
	}
	defer gmcrypto.ZeroKey(k)
	if pt, err := gmcrypto.Decrypt(k, ct, format); err != nil || string(pt) != "sealed last year" {
		t.Fatalf("after the PIN change: %q %v", pt, err)
	}
}
