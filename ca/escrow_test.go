package ca

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

const (
	newPIN       = "975318"
	testIter     = MinShareIterations
	passAlice    = "alice passphrase 1"
	passBob      = "bob's passphrase 22"
	passCarol    = "carol passphrase 333"
	resetReason  = "identity re-verified at the counter, ticket 42"
	escrowIssuer = "esc"
)

// escrowWorld is a fixture with an escrow key held by alice, bob and
// carol (2 of 3), an SM2 issuer that escrows encryption keys, and an
// enrolled user with an SM2 signing and an escrowed SM2 encryption
// credential.
type escrowWorld struct {
	*fixture
	shares map[string]EscrowShare
	escrow *Escrow
	user   string
	sign   *Credential
	enc    *Credential
}

func newEscrowWorld(t *testing.T, algs ...gmcrypto.Alg) *escrowWorld {
	t.Helper()
	return newEscrowWorldOn(t, newFixture(t), algs...)
}

// newEscrowWorldOn is newEscrowWorld on fixture f.
func newEscrowWorldOn(t *testing.T, f *fixture, algs ...gmcrypto.Alg) *escrowWorld {
	t.Helper()
	esc, shares, err := f.svc.InitEscrow(f.ctx, EscrowInit{
		Custodians: []CustodianPassphrase{{"alice", passAlice}, {"bob", passBob}, {"carol", passCarol}},
		Iterations: testIter, By: "admin",
	})
	if err != nil {
		t.Fatalf("InitEscrow: %v", err)
	}
	w := &escrowWorld{fixture: f, escrow: esc, shares: map[string]EscrowShare{}}
	for _, s := range shares {
		w.shares[s.Custodian] = s
	}
	if len(algs) == 0 {
		algs = []gmcrypto.Alg{gmcrypto.AlgSM2}
	}
	prof := &Profile{Algs: algs, Purposes: []Purpose{PurposeSign, PurposeEncrypt}, Escrow: true}
	if slices.Contains(algs, gmcrypto.AlgRSA) {
		prof.RSABits = []int{2048}
	}
	f.generated(t, escrowIssuer, gmcrypto.AlgSM2, prof)
	w.user = f.enrolled(t, UserRequest{Name: "王五"})
	w.sign = f.credential(t, w.user, escrowIssuer, gmcrypto.AlgSM2, PurposeSign)
	w.enc = f.credential(t, w.user, escrowIssuer, gmcrypto.AlgSM2, PurposeEncrypt)
	return w
}

func (w *escrowWorld) submit(t *testing.T, id, as, fileOf, pass string) (*Recovery, error) {
	t.Helper()
	return w.svc.SubmitShare(w.ctx, id, as, []byte(w.shares[fileOf].File), pass)
}

// reset resets the user's PIN and enrolls a new phone with newPIN.
func (w *escrowWorld) reset(t *testing.T) (*PINReset, *Enrolled) {
	t.Helper()
	res, code, err := w.svc.ResetPIN(w.ctx, w.user, resetReason)
	if err != nil {
		t.Fatalf("ResetPIN: %v", err)
	}
	if _, _, err := w.svc.Enroll(w.ctx, code, devicePEM(t), "new phone", newPIN); err != nil {
		t.Fatalf("Enroll after reset: %v", err)
	}
	d, err := w.svc.UserDetail(w.ctx, w.user)
	if err != nil {
		t.Fatal(err)
	}
	var re Enrolled
	for _, c := range d.Credentials {
		if c.Purpose == PurposeSign && c.State == StateActive {
			re.Reissued = append(re.Reissued, c.ID)
		}
	}
	return res, &re
}

func TestEscrowInitRefusals(t *testing.T) {
	f := newFixture(t)
	before := f.snapshot(t)
	for name, req := range map[string]EscrowInit{
		"one custodian":        {Custodians: []CustodianPassphrase{{"alice", passAlice}}, By: "admin"},
		"threshold one":        {Custodians: []CustodianPassphrase{{"alice", passAlice}, {"bob", passBob}}, Threshold: 1, By: "admin"},
		"threshold above n":    {Custodians: []CustodianPassphrase{{"alice", passAlice}, {"bob", passBob}}, Threshold: 3, By: "admin"},
		"same custodian twice": {Custodians: []CustodianPassphrase{{"alice", passAlice}, {"alice", passBob}}, By: "admin"},
		"short passphrase":     {Custodians: []CustodianPassphrase{{"alice", "short"}, {"bob", passBob}}, By: "admin"},
		"operator custodian":   {Custodians: []CustodianPassphrase{{"alice", passAlice}, {"bob", passBob}}, By: "alice"},
		"low iterations":       {Custodians: []CustodianPassphrase{{"alice", passAlice}, {"bob", passBob}}, Iterations: 1000, By: "admin"},
	} {
		if _, _, err := f.svc.InitEscrow(f.ctx, req); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if f.snapshot(t) != before {
		t.Fatal("refused inits changed the store")
	}
	if _, err := f.svc.Escrow(f.ctx); !errors.Is(err, ErrEscrowNotInitialized) {
		t.Fatalf("Escrow before init: %v", err)
	}
	// A profile with escrow needs the escrow key.
	f.generated(t, "esc", gmcrypto.AlgSM2, &Profile{Algs: []gmcrypto.Alg{gmcrypto.AlgSM2}, Purposes: []Purpose{PurposeEncrypt}, Escrow: true})
	uid := f.enrolled(t, UserRequest{Name: "x"})
	if _, err := f.svc.CreateCredential(f.ctx, CredentialRequest{UserID: uid, IssuerID: "esc", Alg: gmcrypto.AlgSM2, Purpose: PurposeEncrypt, PIN: testPIN}); !errors.Is(err, ErrEscrowNotInitialized) {
		t.Fatalf("escrowed credential without escrow key: %v", err)
	}
	req := EscrowInit{Custodians: []CustodianPassphrase{{"alice", passAlice}, {"bob", passBob}}, Iterations: testIter, By: "admin"}
	if _, _, err := f.svc.InitEscrow(f.ctx, req); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.InitEscrow(f.ctx, req); !errors.Is(err, ErrEscrowExists) {
		t.Fatalf("second init: %v", err)
	}
}

// TestEscrowRecoveryDualControl: one custodian is refused (nothing is
// recovered), the requester and a non-custodian are refused, the same
// custodian twice is refused, a wrong share changes nothing; two distinct
// custodians recover, and after the new PIN the key opens a CMS made for
// the old encryption certificate.
func TestEscrowRecoveryDualControl(t *testing.T) {
	w := newEscrowWorld(t)
	if !w.enc.Escrowed || w.sign.Escrowed {
		t.Fatalf("escrowed: enc %v sign %v", w.enc.Escrowed, w.sign.Escrowed)
	}
	plain := []byte("sealed bid: 1,234,567.89 CNY")
	env, err := gmcrypto.EnvelopeCMS(plain, w.enc.Certificate)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.OpenRecovery(w.ctx, RecoveryRequest{UserID: w.user, Reason: "x", By: "alice"}); !errors.Is(err, ErrNothingToRecover) {
		t.Fatalf("recovery of a key not waiting: %v", err)
	}
	res, _ := w.reset(t)
	if len(res.AwaitingRecovery) != 1 || res.AwaitingRecovery[0] != w.enc.ID || len(res.Revoked) != 1 || len(res.Lost) != 0 {
		t.Fatalf("reset %+v", res)
	}
	if _, _, err := w.svc.UnlockKey(w.ctx, w.user, w.enc.ID, newPIN); !errors.Is(err, ErrAwaitingRecovery) {
		t.Fatalf("unlock awaiting key: %v", err)
	}
	if _, err := w.svc.OpenRecovery(w.ctx, RecoveryRequest{UserID: w.user, Reason: " ", By: "alice"}); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("no reason: %v", err)
	}
	rec, err := w.svc.OpenRecovery(w.ctx, RecoveryRequest{UserID: w.user, Reason: "forgotten PIN, ticket 42", By: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != RecoveryStateOpen || rec.Threshold != 2 || len(rec.Credentials) != 1 || rec.Credentials[0] != w.enc.ID {
		t.Fatalf("recovery %+v", rec)
	}

	before := w.snapshot(t)
	refusals := []struct {
		name, as, file, pass string
		want                 error
	}{
		{"requester as custodian", "alice", "alice", passAlice, ErrCustodianForbidden},
		{"not a custodian", "dave", "bob", passBob, ErrCustodianForbidden},
		{"wrong passphrase", "bob", "bob", passBob + "x", ErrShareInvalid},
		{"another custodian's file", "bob", "carol", passCarol, ErrShareInvalid},
	}
	for _, r := range refusals {
		if _, err := w.submit(t, rec.ID, r.as, r.file, r.pass); !errors.Is(err, r.want) {
			t.Errorf("%s: %v, want %v", r.name, err, r.want)
		}
	}
	altered := strings.Replace(w.shares["bob"].File, "Threshold: 2", "Threshold: 3", 1)
	if _, err := w.svc.SubmitShare(w.ctx, rec.ID, "bob", []byte(altered), passBob); !errors.Is(err, ErrShareInvalid) {
		t.Errorf("altered file: %v", err)
	}
	if w.snapshot(t) != before {
		t.Fatal("a refused share changed the store")
	}

	// One custodian: accepted as an approval, not enough to recover.
	got, err := w.submit(t, rec.ID, "bob", "bob", passBob)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != RecoveryStateOpen || len(got.Approvals) != 1 {
		t.Fatalf("after one share: %+v", got)
	}
	if _, err := w.svc.FinishRecovery(w.ctx, w.user, newPIN); !errors.Is(err, ErrNothingToRecover) {
		t.Fatalf("one custodian recovered a key: %v", err)
	}
	pending, _, _ := w.store.List(w.ctx, pfxRecoveryShares)
	if len(pending) != 1 || bytes.Contains(pending[0].Value, []byte(w.shares["bob"].File)) {
		t.Fatalf("pending shares %d", len(pending))
	}
	before = w.snapshot(t)
	if _, err := w.submit(t, rec.ID, "bob", "bob", passBob); !errors.Is(err, ErrShareDuplicate) {
		t.Fatalf("same custodian twice: %v", err)
	}
	if w.snapshot(t) != before {
		t.Fatal("a duplicate share changed the store")
	}

	// The second distinct custodian recovers.
	got, err = w.submit(t, rec.ID, "carol", "carol", passCarol)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != RecoveryStateDone || len(got.Approvals) != 2 {
		t.Fatalf("after two shares: %+v", got)
	}
	if pending, _, _ := w.store.List(w.ctx, pfxRecoveryShares); len(pending) != 0 {
		t.Fatalf("%d pending shares left after recovery", len(pending))
	}
	if _, err := w.submit(t, rec.ID, "alice", "alice", passAlice); !errors.Is(err, ErrRecoveryClosed) {
		t.Fatalf("share after completion: %v", err)
	}
	var pe *PINError
	if _, err := w.svc.FinishRecovery(w.ctx, w.user, testPIN); !errors.As(err, &pe) {
		t.Fatalf("the old PIN finished the recovery: %v", err)
	}
	creds, err := w.svc.FinishRecovery(w.ctx, w.user, newPIN)
	if err != nil || len(creds) != 1 || creds[0].ID != w.enc.ID || creds[0].AwaitingRecovery {
		t.Fatalf("FinishRecovery: %v %+v", err, creds)
	}
	if left, _, _ := w.store.List(w.ctx, pfxRecovered); len(left) != 0 {
		t.Fatal("recovered key left sealed after FinishRecovery")
	}
	key, cred, err := w.svc.UnlockKey(w.ctx, w.user, w.enc.ID, newPIN)
	if err != nil {
		t.Fatal(err)
	}
	defer gmcrypto.ZeroKey(key)
	out, err := gmcrypto.OpenCMS(env, cred.Certificate, key)
	if err != nil || !bytes.Equal(out, plain) {
		t.Fatalf("OpenCMS after recovery: %v %q", err, out)
	}
	// A later PIN change re-wraps the recovered key too.
	if err := w.svc.ChangePIN(w.ctx, w.user, newPIN, "864297"); err != nil {
		t.Fatal(err)
	}
	if k, _, err := w.svc.UnlockKey(w.ctx, w.user, w.enc.ID, "864297"); err != nil {
		t.Fatal(err)
	} else {
		gmcrypto.ZeroKey(k)
	}
}

// TestForgottenPIN: after the reset the old signing certificate is on
// the CRL, the re-issued one signs, and the RSA encryption key without
// escrow at another issuer is reported lost and revoked.
func TestForgottenPIN(t *testing.T) {
	w := newEscrowWorld(t, gmcrypto.AlgSM2, gmcrypto.AlgRSA)
	rsaEnc := w.credential(t, w.user, escrowIssuer, gmcrypto.AlgRSA, PurposeEncrypt)
	w.generated(t, "plain", gmcrypto.AlgSM2, nil)
	lost := w.credential(t, w.user, "plain", gmcrypto.AlgSM2, PurposeEncrypt)
	if !rsaEnc.Escrowed || lost.Escrowed {
		t.Fatalf("escrowed: rsa %v plain %v", rsaEnc.Escrowed, lost.Escrowed)
	}
	plain := []byte("RSA sealed bid")
	env, err := gmcrypto.EnvelopeCMS(plain, rsaEnc.Certificate)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.svc.ResetPIN(w.ctx, w.user, ""); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("reset without reason: %v", err)
	}
	res, re := w.reset(t)
	if len(res.Lost) != 1 || res.Lost[0] != lost.ID || len(res.AwaitingRecovery) != 2 || res.Reissue != 1 || len(res.RevokedDevices) != 1 {
		t.Fatalf("reset %+v", res)
	}
	crl, err := w.svc.CRL(w.ctx, escrowIssuer)
	if err != nil {
		t.Fatal(err)
	}
	iss, _ := w.svc.Issuer(w.ctx, escrowIssuer)
	l := parseCRL(t, crl, iss.Certificate, gmcrypto.AlgSM2)
	onCRL := map[string]bool{}
	for _, e := range l.RevokedCertificateEntries {
		onCRL[serialHex(e.SerialNumber)] = true
	}
	if !onCRL[w.sign.Serial] || onCRL[w.enc.Serial] {
		t.Fatalf("CRL: old sign %v, escrowed enc %v", onCRL[w.sign.Serial], onCRL[w.enc.Serial])
	}
	if c, _ := w.svc.Credential(w.ctx, lost.ID); c.State != StateRevoked || c.RevocationReason != ResetLostReason {
		t.Fatalf("lost credential %s %s", c.State, c.RevocationReason)
	}
	if len(re.Reissued) != 1 || re.Reissued[0] == w.sign.ID {
		t.Fatalf("re-issued sign credentials %v", re.Reissued)
	}
	skey, scred, err := w.svc.UnlockKey(w.ctx, w.user, re.Reissued[0], newPIN)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := gmcrypto.Sign(skey, plain, nil)
	gmcrypto.ZeroKey(skey)
	if err != nil || gmcrypto.Verify(scred.Certificate.PublicKey, plain, sig, nil) != nil {
		t.Fatalf("re-issued credential does not sign: %v", err)
	}

	rec, err := w.svc.OpenRecovery(w.ctx, RecoveryRequest{UserID: w.user, Reason: "forgotten PIN", By: "carol", Credentials: []string{rsaEnc.ID}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"alice", "bob"} {
		if _, err := w.submit(t, rec.ID, c, c, map[string]string{"alice": passAlice, "bob": passBob}[c]); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := w.svc.FinishRecovery(w.ctx, w.user, newPIN); err != nil || len(got) != 1 || got[0].ID != rsaEnc.ID {
		t.Fatalf("FinishRecovery: %v %v", err, got)
	}
	if r, _ := w.svc.Recovery(w.ctx, rec.ID); len(r.Credentials) != 1 {
		t.Fatalf("recovery covers %v", r.Credentials)
	}
	key, cred, err := w.svc.UnlockKey(w.ctx, w.user, rsaEnc.ID, newPIN)
	if err != nil {
		t.Fatal(err)
	}
	defer gmcrypto.ZeroKey(key)
	if out, err := gmcrypto.OpenCMS(env, cred.Certificate, key); err != nil || !bytes.Equal(out, plain) {
		t.Fatalf("RSA OpenCMS after recovery: %v", err)
	}
	// The SM2 one was not in this recovery: it still waits.
	if _, _, err := w.svc.UnlockKey(w.ctx, w.user, w.enc.ID, newPIN); !errors.Is(err, ErrAwaitingRecovery) {
		t.Fatalf("SM2 key not recovered yet: %v", err)
	}
}

// TestEscrowRenewal: a renewed escrowed encryption credential (same key
// and new key) is escrowed too; one waiting for recovery is not renewed.
func TestEscrowRenewal(t *testing.T) {
	w := newEscrowWorld(t)
	same, err := w.svc.RenewCredential(w.ctx, w.user, w.enc.ID, testPIN, false)
	if err != nil {
		t.Fatal(err)
	}
	if !same.Escrowed {
		t.Fatal("renewal (same key) not escrowed")
	}
	w.reset(t)
	if _, err := w.svc.RenewCredential(w.ctx, w.user, same.ID, newPIN, false); !errors.Is(err, ErrAwaitingRecovery) {
		t.Fatalf("renewal of a key awaiting recovery: %v", err)
	}
}

func TestEscrowRecoveryExpired(t *testing.T) {
	w := newEscrowWorld(t)
	w.reset(t)
	rec, err := w.svc.OpenRecovery(w.ctx, RecoveryRequest{UserID: w.user, Reason: "ticket 7", By: "alice", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.submit(t, rec.ID, "bob", "bob", passBob); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(time.Hour + time.Second)
	before := w.snapshot(t)
	if _, err := w.submit(t, rec.ID, "carol", "carol", passCarol); !errors.Is(err, ErrRecoveryExpired) {
		t.Fatalf("expired: %v", err)
	}
	if w.snapshot(t) != before {
		t.Fatal("a refused share changed the store")
	}
	if r, _ := w.svc.Recovery(w.ctx, rec.ID); r.State != RecoveryStateExpired {
		t.Fatalf("state %s", r.State)
	}
	if _, err := w.svc.Recovery(w.ctx, "rcv_nope"); !errors.Is(err, ErrRecoveryNotFound) {
		t.Fatal(err)
	}
}

// TestEscrowStoreAndMasterCannotOpen takes everything the store holds
// and the master key (and keys derived from it) and tries every 32-byte
// string among them, raw or base64-decoded, as the escrow private key: none
// is. The same search over the share files' opened shares, combined,
// finds it (so the search can succeed).
func TestEscrowStoreAndMasterCannotOpen(t *testing.T) {
	w := newEscrowWorld(t)
	w.reset(t)
	rec, err := w.svc.OpenRecovery(w.ctx, RecoveryRequest{UserID: w.user, Reason: "ticket 9", By: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	// One share pending: below the threshold, it is in the store (sealed).
	if _, err := w.submit(t, rec.ID, "bob", "bob", passBob); err != nil {
		t.Fatal(err)
	}
	kek, _ := w.svc.pendingShareKEK(rec.ID)
	isEscrowKey := w.notInStoreOrMaster(t, w.escrow.ID, pfxRecoveryShares, kek)
	// Control: two shares (the store's pending one and carol's) give it.
	sf, _ := ParseShareFile([]byte(w.shares["carol"].File))
	yc, _ := sf.Open(passCarol)
	sfb, _ := ParseShareFile([]byte(w.shares["bob"].File))
	yb, _ := sfb.Open(passBob)
	d := combineShares(map[int][]byte{sf.Index: yc, sfb.Index: yb})
	if !isEscrowKey(d.FillBytes(make([]byte, 32))) {
		t.Fatal("control: two shares do not give the escrow key")
	}
}

// notInStoreOrMaster fails t if the private key of escrow key escrowID
// (current or retired) is among the 32-byte strings of the store's values
// (raw or base64-decoded), the master key, kek, and the pending shares
// under sharePrefix opened with kek (what a holder of store and master key
// can read). It returns the test that a scalar is that private key.
func (w *escrowWorld) notInStoreOrMaster(t *testing.T, escrowID, sharePrefix string, kek []byte) func([]byte) bool {
	t.Helper()
	var rec escrowKeyRecord
	if _, err := w.svc.getJSON(w.ctx, escrowKeyKey, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.ID != escrowID {
		// A retired key, or the next key of a rotation.
		var old retiredEscrowRecord
		if _, err := w.svc.getJSON(w.ctx, pfxEscrowKeys+escrowID, &old); err == nil {
			rec = old.escrowKeyRecord
		}
		rots, _, err := w.store.List(w.ctx, pfxRotations)
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range rots {
			var r rotationRecord
			if err := jsonUnmarshal(kv, &r); err != nil {
				t.Fatal(err)
			}
			if r.Next.ID == escrowID {
				rec = r.Next
			}
		}
		if rec.ID != escrowID {
			t.Fatalf("no escrow key %s", escrowID)
		}
	}
	pub, _ := gmcrypto.ParsePublicKey(rec.PublicKey)
	isEscrowKey := func(b []byte) bool {
		d := new(big.Int).SetBytes(b)
		if d.Sign() == 0 || d.Cmp(groupOrder()) >= 0 {
			return false
		}
		k, err := sm2.NewPrivateKeyFromInt(d)
		return err == nil && k.PublicKey.Equal(pub)
	}
	var corpus [][]byte
	kvs, _, err := w.store.List(w.ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range kvs {
		corpus = append(corpus, kv.Value)
		var v any
		if json.Unmarshal(kv.Value, &v) == nil {
			collectDecoded(v, &corpus)
		}
	}
	corpus = append(corpus, testMasterKey(), kek)
	for _, kv := range kvs {
		if strings.HasPrefix(kv.Key, sharePrefix) {
			y, err := gmcrypto.Unwrap(kek, kv.Value, []byte(kv.Key))
			if err != nil {
				t.Fatal(err)
			}
			corpus = append(corpus, y)
		}
	}
	seen := map[string]bool{}
	tries := 0
	for _, b := range corpus {
		for i := 0; i+32 <= len(b); i++ {
			w := string(b[i : i+32])
			if seen[w] {
				continue
			}
			seen[w] = true
			tries++
			if isEscrowKey([]byte(w)) {
				t.Fatalf("the private key of escrow key %s is in the store or derivable from the master key", escrowID)
			}
		}
	}
	if tries < 1000 {
		t.Fatalf("only %d candidates tried", tries)
	}
	return isEscrowKey
}

// collectDecoded appends every string of v that decodes as base64, and
// every such string itself.
func collectDecoded(v any, out *[][]byte) {
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			collectDecoded(e, out)
		}
	case []any:
		for _, e := range x {
			collectDecoded(e, out)
		}
	case string:
		*out = append(*out, []byte(x))
		if b, err := base64.StdEncoding.DecodeString(x); err == nil {
			*out = append(*out, b)
		}
	}
}

// TestEscrowDeletion: account deletion leaves no escrow copy, recovered
// key, recovery request or pending share in the store.
func TestEscrowDeletion(t *testing.T) {
	w := newEscrowWorld(t)
	raw, _, _ := w.svc.loadCredential(w.ctx, w.enc.ID)
	copyB64 := base64.StdEncoding.EncodeToString(raw.Escrow)
	w.reset(t)
	rec, err := w.svc.OpenRecovery(w.ctx, RecoveryRequest{UserID: w.user, Reason: "ticket 11", By: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.submit(t, rec.ID, "bob", "bob", passBob); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(w.snapshot(t), copyB64) {
		t.Fatal("control: the escrow copy is not in the dump")
	}
	if _, err := w.svc.BeginDeletion(w.ctx, w.user, newPIN); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.FinishDeletion(w.ctx, w.user, 0); err != nil {
		t.Fatal(err)
	}
	dump := w.snapshot(t)
	for _, bad := range []string{copyB64, pfxRecoveries, pfxRecoveryShares, pfxRecovered, credentialKey(w.enc.ID), `"escrow_id"`, w.user} {
		if strings.Contains(dump, bad) {
			t.Errorf("after deletion the store still holds %.40q:\n%s", bad, dump)
		}
	}
}

func TestShamirSplitCombine(t *testing.T) {
	d, _ := new(big.Int).SetString("123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde", 16)
	for _, kn := range [][2]int{{2, 2}, {2, 3}, {3, 5}} {
		k, n := kn[0], kn[1]
		ys, err := splitScalar(d, k, n)
		if err != nil {
			t.Fatal(err)
		}
		// Every k-subset gives d back; k-1 shares do not.
		for mask := 1; mask < 1<<n; mask++ {
			m := map[int][]byte{}
			for i := range n {
				if mask&(1<<i) != 0 {
					m[i+1] = ys[i]
				}
			}
			got := combineShares(m)
			if len(m) >= k && got.Cmp(d) != 0 {
				t.Fatalf("%d of %d: subset %b gives %x", k, n, mask, got)
			}
			if len(m) < k && got.Cmp(d) == 0 {
				t.Fatalf("%d of %d: %d shares gave the secret", k, n, len(m))
			}
		}
	}
}

func TestShareFileRoundTrip(t *testing.T) {
	y := bytes.Repeat([]byte{7}, 32)
	file, err := encodeShareFile("esc_x", "alice", 1, 2, testIter, y, passAlice)
	if err != nil {
		t.Fatal(err)
	}
	sf, err := ParseShareFile([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	got, err := sf.Open(passAlice)
	if err != nil || !bytes.Equal(got, y) {
		t.Fatalf("Open: %v", err)
	}
	for name, f := range map[string]string{
		"custodian changed": strings.Replace(file, "Custodian: alice", "Custodian: bobby", 1),
		"index changed":     strings.Replace(file, "Index: 1", "Index: 2", 1),
	} {
		sf, err := ParseShareFile([]byte(f))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := sf.Open(passAlice); !errors.Is(err, ErrShareInvalid) {
			t.Errorf("%s: opened (%v)", name, err)
		}
	}
	for name, f := range map[string]string{
		"empty":           "",
		"trailing":        file + "x",
		"iterations 10":   strings.Replace(file, "Iterations: 4096", "Iterations: 10", 1),
		"leading zero":    strings.Replace(file, "Index: 1", "Index: 01", 1),
		"other PEM":       strings.Replace(file, ShareFileType, "CERTIFICATE", 2),
		"index 0":         strings.Replace(file, "Index: 1", "Index: 0", 1),
		"bad salt":        strings.Replace(file, "Salt: ", "Salt: zz", 1),
		"unknown KDF":     strings.Replace(file, "pbkdf2-sm3", "scrypt", 1),
		"too long":        strings.Repeat("A", MaxShareFileLen+1),
		"two share files": file + file,
	} {
		if _, err := ParseShareFile([]byte(f)); !errors.Is(err, ErrShareInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// FuzzParseShareFile: never a panic; a parsed file re-encodes to fields
// within the limits, and opening it with a wrong passphrase fails.
func FuzzParseShareFile(f *testing.F) {
	file, err := encodeShareFile("esc_seed", "alice", 1, 2, testIter, bytes.Repeat([]byte{1}, 32), passAlice)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(file))
	f.Fuzz(func(t *testing.T, b []byte) {
		sf, err := ParseShareFile(b)
		if err != nil {
			if !errors.Is(err, ErrShareInvalid) {
				t.Fatalf("unstable error %v", err)
			}
			return
		}
		if sf.Index < 1 || sf.Index > maxCustodians || sf.Threshold < 2 || sf.Iterations < MinShareIterations || len(sf.Salt) != shareSaltLen {
			t.Fatalf("accepted out-of-range fields %+v", sf)
		}
	})
}
