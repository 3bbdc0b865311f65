package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/internal/testkit"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/storage"
)

const dlgCarolPIN = "357913" // carol's own PIN when she is a delegate

// dlgDecryptor is a delegate with their delegation of the organisation's
// encryption credential and their own PIN.
type dlgDecryptor struct {
	name string
	p    *phone.Client
	id   string
	d    *protocol.Delegation
	pin  string
}

// grantEncrypt grants delegate the organisation's credential credID for
// decrypt sessions of the first app, accepted with pin and approved by
// the organisation's phone.
func (w *dlgWorld) grantEncrypt(t *testing.T, delegate *phone.Client, credID, pin string) *protocol.Delegation {
	t.Helper()
	ctx := context.Background()
	d, err := w.op.AddDelegation(ctx, w.orgID, operator.DelegationRequest{User: delegate.State.UserID, Credential: credID,
		Kinds: []string{"decrypt"}, Apps: []string{w.appID}, NotAfter: time.Now().Add(30 * 24 * time.Hour)})
	if err != nil {
		t.Fatalf("AddDelegation: %v", err)
	}
	if _, err := delegate.AcceptDelegation(ctx, d.ID, pin); err != nil {
		t.Fatalf("accept: %v", err)
	}
	if d, err = w.bob.ApproveDelegation(ctx, d.ID, sxPIN); err != nil || d.State != protocol.DelegationActive {
		t.Fatalf("approve: %+v %v", d, err)
	}
	return d
}

// keyRecords is what a refusal must not change: the delegation, credential
// and user records (key copies, revisions, PIN counters).
func (w *dlgWorld) keyRecords(t *testing.T) string {
	t.Helper()
	var sb strings.Builder
	for _, p := range []string{"delegations/", "credentials/", "users/"} {
		kvs, _, err := w.ts.Server.Store().List(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range kvs {
			sb.WriteString(kv.Key + "=" + string(kv.Value) + "\n")
		}
	}
	return sb.String()
}

// TestDelegateDecryptsSuperseded: the organisation renews its SM2
// encryption credential with a new key; alice (delegation approved
// before the renewal) and carol (approved after it) each open, with their
// own PIN, raw SM2 ciphertexts made for the OLD certificate by OpenSSL
// (GM/T 0009 ASN.1) and by tjfoc/gmsm (C1C3C2), and a CMS envelope made
// for it, where the phone confirms with the current credential and the
// gateway follows supersedes; the scan offers the superseded credential
// labelled with the organisation, and the result and the audit entry name
// the credential used, the organisation and the delegate; for the CMS
// envelope the addressed credential comes first, before alice's own
// encryption credential. Refusals
// (another app, a revoked delegation) change no key record; revocation
// erases the old copies, as does the delegate's account deletion; a
// revoked credential's ciphertexts are not opened.
func TestDelegateDecryptsSuperseded(t *testing.T) {
	t.Parallel()
	testkit.OpenSSL(t)
	iss := seed.Generated("sm2", "SM2", "dlg renewal SM2 Root")
	iss.Profile.RenewalKey = "either"
	sx := sxSeed(t, seed.Spec{
		Issuers: []operator.IssuerRequest{iss},
		Users: []seed.User{
			{Name: "alice", Credentials: []seed.Credential{seed.Sign("sm2", "SM2"), seed.Encrypt("sm2", "SM2")}},
			{Name: dlgOrgName, CreditCode: dlgCreditCode, Credentials: []seed.Credential{seed.Encrypt("sm2", "SM2")}},
			{Name: "carol", Credentials: []seed.Credential{seed.Sign("sm2", "SM2")}},
		},
	})
	ctx := context.Background()
	if err := sx.alice.ChangePIN(ctx, sxPIN, dlgStaffPIN); err != nil {
		t.Fatal(err)
	}
	if err := sx.carol.ChangePIN(ctx, sxPIN, dlgCarolPIN); err != nil {
		t.Fatal(err)
	}
	w := &dlgWorld{sxWorld: sx, op: &operator.Client{BaseURL: sx.ts.URL, Token: sx.ts.AdminToken},
		orgID: sx.bob.State.UserID, aliceID: sx.alice.State.UserID}
	old := w.creds[dlgOrgName+"/sm2/encrypt"]
	oldCert := certOf(t, old)
	plain := []byte("去年的投标文件：总价 1,000,000 元")

	// Made for the old certificate before the renewal.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "old.pem"), []byte(old.CertificatePEM), 0o600)
	os.WriteFile(filepath.Join(dir, "plain"), plain, 0o600)
	testkit.RunOpenSSL(t, dir, "x509", "-in", "old.pem", "-pubkey", "-noout", "-out", "old.pub")
	testkit.RunOpenSSL(t, dir, "pkeyutl", "-encrypt", "-pubin", "-inkey", "old.pub", "-in", "plain", "-out", "old.ct")
	rawOpenSSL := readBytes(t, filepath.Join(dir, "old.ct"))
	rawTjfoc := tjfocEncrypt(t, oldCert.Raw, plain)
	env, err := gmcrypto.EnvelopeCMS(plain, oldCert)
	if err != nil {
		t.Fatal(err)
	}

	alice := &dlgDecryptor{name: "approved before", p: w.alice, id: w.aliceID, pin: dlgStaffPIN}
	alice.d = w.grantEncrypt(t, w.alice, old.ID, dlgStaffPIN)
	succ, newCert := renewNewKey(ctx, t, w.bob, old.ID, oldCert)
	carol := &dlgDecryptor{name: "approved after", p: w.carol, id: w.carol.State.UserID, pin: dlgCarolPIN}
	carol.d = w.grantEncrypt(t, w.carol, succ.ID, dlgCarolPIN)
	// The operator sees, per delegation, which renewed certificates it
	// still opens (superseded_credentials, added).
	list, err := w.op.Delegations(ctx, w.orgID)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range list {
		if (d.ID == alice.d.ID || d.ID == carol.d.ID) && (d.Credential != succ.ID || !slices.Equal(d.SupersededCredentials, []string{old.ID})) {
			t.Fatalf("delegation %s on %s opens %v, want %s and %s", d.ID, d.Credential, d.SupersededCredentials, succ.ID, old.ID)
		}
	}

	// decrypt runs a decrypt session of ct for delegate x, confirmed with
	// confirmWith; the gateway must use wantCred.
	decrypt := func(t *testing.T, x *dlgDecryptor, ct []byte, format, confirmWith, wantCred string) {
		t.Helper()
		c := w.create(map[string]any{"kind": "decrypt", "ciphertext": ct, "ciphertext_format": format})
		sc, err := w.scan(x.p, c.QR.Payload)
		if err != nil {
			t.Fatal(err)
		}
		oc := offered(sc, wantCred)
		if oc == nil || oc.OnBehalfOf != w.orgID || oc.OrganizationName != dlgOrgName || oc.Delegation != x.d.ID {
			t.Fatalf("scan offers %+v, want %s for the organisation", sc.Credentials, wantCred)
		}
		for _, c := range sc.Credentials {
			// addressed (added): exactly the credentials the envelope names.
			if want := format == "cms" && c.ID == wantCred; c.Addressed != want {
				t.Fatalf("the scan marks %s addressed=%v, want %v", c.ID, c.Addressed, want)
			}
		}
		if format == "cms" && sc.Credentials[0].ID != wantCred {
			// The addressed one first, before alice's own (not addressed)
			// encryption credential: the phone's default choice.
			t.Fatalf("the CMS scan offers %s first, want %s", sc.Credentials[0].ID, wantCred)
		}
		if own := w.creds["alice/sm2/encrypt"]; format != "cms" && x.p == w.alice && offered(sc, own.ID) == nil {
			t.Fatal("alice's own encryption credential is not offered")
		}
		if err := w.confirm(x.p, c.ID, confirmWith, x.pin, c.Code); err != nil {
			t.Fatal(err)
		}
		v := w.view(c.ID)
		var res protocol.DecryptResult
		if err := json.Unmarshal(v.Result, &res); err != nil || v.State != "completed" || !bytes.Equal(res.Plaintext, plain) {
			t.Fatalf("session %s: %s %q %v", c.ID, v.State, res.Plaintext, err)
		}
		if res.OnBehalfOf != w.orgID || res.Delegate != x.id {
			t.Fatalf("result on_behalf_of=%q delegate=%q", res.OnBehalfOf, res.Delegate)
		}
		e := w.auditOf(t, c.ID)
		if len(e) != 1 || e[0]["outcome"] != "ok" || e[0]["credential"] != wantCred || e[0]["user"] != x.id ||
			e[0]["on_behalf_of"] != w.orgID || e[0]["delegation"] != x.d.ID {
			t.Fatalf("audit %v, want credential %s", e, wantCred)
		}
	}
	for _, x := range []*dlgDecryptor{alice, carol} {
		t.Run(x.name, func(t *testing.T) {
			t.Run("old raw by OpenSSL", func(t *testing.T) { decrypt(t, x, rawOpenSSL, "asn1", old.ID, old.ID) })
			t.Run("old raw by tjfoc", func(t *testing.T) { decrypt(t, x, rawTjfoc, "c1c3c2", old.ID, old.ID) })
			t.Run("old CMS, phone picks the current credential", func(t *testing.T) { decrypt(t, x, env, "cms", succ.ID, old.ID) })
			t.Run("old CMS, phone picks the old credential", func(t *testing.T) { decrypt(t, x, env, "cms", old.ID, old.ID) })
			t.Run("new CMS", func(t *testing.T) {
				env, err := gmcrypto.EnvelopeCMS(plain, newCert)
				if err != nil {
					t.Fatal(err)
				}
				decrypt(t, x, env, "cms", succ.ID, succ.ID)
			})
		})
	}

	stillScanned := func(t *testing.T, key, id string) {
		t.Helper()
		var v sxView
		w.must(w.do("GET", "/v1/sessions/"+id, nil, map[string]string{"Authorization": "Bearer " + key}), http.StatusOK).decode(t, &v)
		if v.State != "scanned" {
			t.Fatalf("session %s after a refusal", v.State)
		}
	}
	t.Run("another app is out of scope", func(t *testing.T) {
		var c sxCreated
		w.must(w.do("POST", "/v1/sessions", map[string]any{"kind": "decrypt", "ciphertext": env, "ciphertext_format": "cms"},
			map[string]string{"Authorization": "Bearer " + w.otherKey}), http.StatusCreated).decode(t, &c)
		sc, err := w.scan(w.alice, c.QR.Payload)
		if err != nil || offered(sc, old.ID) != nil || offered(sc, succ.ID) != nil {
			t.Fatalf("another app's scan offers the delegation: %v %+v", err, sc.Credentials)
		}
		before := w.keyRecords(t)
		mustRefuse(t, w.confirm(w.alice, c.ID, old.ID, dlgStaffPIN, c.Code), protocol.CodeDelegationScope)
		mustRefuse(t, w.confirm(w.alice, c.ID, succ.ID, dlgStaffPIN, c.Code), protocol.CodeDelegationScope)
		if w.keyRecords(t) != before {
			t.Fatal("a scope refusal changed the key records")
		}
		stillScanned(t, w.otherKey, c.ID)
	})
	t.Run("a wrong PIN counts on the delegate", func(t *testing.T) {
		c := w.create(map[string]any{"kind": "decrypt", "ciphertext": rawTjfoc, "ciphertext_format": "c1c3c2"})
		if _, err := w.scan(w.alice, c.QR.Payload); err != nil {
			t.Fatal(err)
		}
		ae := mustRefuse(t, w.confirm(w.alice, c.ID, old.ID, sxPIN, c.Code), protocol.CodeWrongPIN)
		if ae.RemainingTries == nil || *ae.RemainingTries != 4 {
			t.Fatalf("remaining tries %v", ae.RemainingTries)
		}
		if e := w.auditOf(t, c.ID); len(e) != 1 || e[0]["detail"] != "wrong_pin" || e[0]["user"] != w.aliceID || e[0]["credential"] != old.ID {
			t.Fatalf("audit %v", e)
		}
		// The organisation's own phone is not locked or counted: it opens
		// the old ciphertext at once.
		c2 := w.create(map[string]any{"kind": "decrypt", "ciphertext": rawTjfoc, "ciphertext_format": "c1c3c2"})
		if _, err := w.scan(w.bob, c2.QR.Payload); err != nil {
			t.Fatal(err)
		}
		if err := w.confirm(w.bob, c2.ID, old.ID, sxPIN, c2.Code); err != nil {
			t.Fatal(err)
		}
		if err := w.confirm(w.alice, c.ID, old.ID, dlgStaffPIN, c.Code); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a revoked delegation opens nothing and keeps no copy", func(t *testing.T) {
		c := w.create(map[string]any{"kind": "decrypt", "ciphertext": env, "ciphertext_format": "cms"})
		if _, err := w.scan(w.alice, c.QR.Payload); err != nil {
			t.Fatal(err)
		}
		if _, err := w.op.RevokeDelegation(ctx, w.orgID, alice.d.ID); err != nil {
			t.Fatal(err)
		}
		kv, err := w.ts.Server.Store().Get(ctx, "delegations/"+alice.d.ID)
		if err != nil {
			t.Fatal(err)
		}
		raw := kv.Value
		// Only the ids of the credentials it was for stay.
		for _, field := range []string{"sealed_kek", "sealed_org_key", "wrapped_key", "public_key"} {
			if bytes.Contains(raw, []byte(`"`+field+`"`)) {
				t.Fatalf("the revoked delegation keeps %s: %s", field, raw)
			}
		}
		before := w.keyRecords(t)
		for _, cred := range []string{old.ID, succ.ID} {
			mustRefuse(t, w.confirm(w.alice, c.ID, cred, dlgStaffPIN, c.Code), protocol.CodeDelegationRevoked)
		}
		if w.keyRecords(t) != before {
			t.Fatal("a refused confirm changed the key records")
		}
		stillScanned(t, w.appKey, c.ID)
	})
	t.Run("a revoked credential's ciphertexts are not opened", func(t *testing.T) {
		if _, err := w.op.RevokeCredential(ctx, old.ID, "keyCompromise"); err != nil {
			t.Fatal(err)
		}
		c := w.create(map[string]any{"kind": "decrypt", "ciphertext": rawTjfoc, "ciphertext_format": "c1c3c2"})
		sc, err := w.scan(w.carol, c.QR.Payload)
		if err != nil || offered(sc, old.ID) != nil {
			t.Fatalf("the scan offers a revoked credential: %v %+v", err, sc.Credentials)
		}
		before := w.keyRecords(t)
		mustRefuse(t, w.confirm(w.carol, c.ID, old.ID, dlgCarolPIN, c.Code), protocol.CodeCredentialNotActive)
		if w.keyRecords(t) != before {
			t.Fatal("the refusal changed the key records")
		}
		// The CMS envelope confirmed with the current credential: the
		// gateway does not follow supersedes to a revoked one, and the
		// current key does not open it.
		c = w.create(map[string]any{"kind": "decrypt", "ciphertext": env, "ciphertext_format": "cms"})
		if sc, err = w.scan(w.carol, c.QR.Payload); err != nil || offered(sc, old.ID) != nil {
			t.Fatalf("the CMS scan offers a revoked credential: %v %+v", err, sc.Credentials)
		}
		r := w.refused(w.signed(w.carol, "POST", "/v1/sessions/"+c.ID+"/confirm",
			map[string]string{"credential": succ.ID, "pin": dlgCarolPIN, "code": c.Code}), 422, "operation_failed")
		if r.detail["reason"] != "decryption_failed" {
			t.Fatalf("error %v", r.detail)
		}
		if v := w.view(c.ID); v.State != "failed" || v.Result != nil && strings.Contains(string(v.Result), "plaintext") {
			t.Fatalf("session %+v", v)
		}
		if e := w.auditOf(t, c.ID); len(e) != 1 || e[0]["outcome"] != "failed" || e[0]["credential"] != succ.ID {
			t.Fatalf("audit %v", e)
		}
	})
	t.Run("the delegate's account deletion removes every copy", func(t *testing.T) {
		kv, err := w.ts.Server.Store().Get(ctx, "delegations/"+carol.d.ID)
		if err != nil || !bytes.Contains(kv.Value, []byte(`"superseded"`)) {
			t.Fatalf("carol's delegation before the deletion: %v %s", err, kv.Value)
		}
		var del protocol.AccountDeleted
		if err := w.carol.Do(ctx, "DELETE", "/v1/me", map[string]string{"pin": dlgCarolPIN}, &del); err != nil || del.Delegations != 1 {
			t.Fatalf("account deletion: %+v %v", del, err)
		}
		if _, err := w.ts.Server.Store().Get(ctx, "delegations/"+carol.d.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("carol's delegation after the deletion: %v", err)
		}
	})
}
