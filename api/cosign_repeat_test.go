package api_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/ukeygate/ukeygate/ca"
	"github.com/ukeygate/ukeygate/crypto/cosign"
	"github.com/ukeygate/ukeygate/internal/testkit"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/protocol"
)

// cosignBody is a cosign credential request at issuer for purpose sign
// with key-generation message kg.
func cosignBody(issuer, pin string, kg *cosign.KeyGenRequest) map[string]any {
	return map[string]any{"issuer": issuer, "alg": "SM2", "purpose": "sign", "pin": pin, "mode": "cosign", "cosign": kg}
}

// TestCosignCreationRepeated: a phone whose answer to a two-party
// credential request was lost sends it again: the same phone share (the
// very message, or a fresh proof for it) from the same device of the same
// user at the same issuer answers 200 with the same credential and
// certificate, audited once. Another share, another device of the user,
// another user, a usual request for the slot are refused as before
// (credential_exists, or the proof bound to another user), with nothing
// changed; a wrong PIN is wrong_pin, counted like any.
func TestCosignCreationRepeated(t *testing.T) {
	t.Parallel()
	w := lcNew(t)
	ctx := context.Background()
	_, _, userID, code := w.setup()
	a := w.newPhone()
	if _, err := a.Enroll(ctx, code, "phone A", lcPIN); err != nil {
		t.Fatal(err)
	}
	// B: a second device of the same user.
	var act struct {
		ActivationCode string `json:"activation_code"`
	}
	w.must(w.admin("POST", "/v1/admin/users/"+userID+"/activation", nil), http.StatusCreated).decode(t, &act)
	b := w.newPhone()
	if _, err := b.Enroll(ctx, act.ActivationCode, "phone B", lcPIN); err != nil {
		t.Fatal(err)
	}
	// C: another user's phone.
	cu, err := (&operator.Client{BaseURL: w.ts.URL, Token: w.ts.AdminToken}).AddUser(ctx, operator.UserRequest{Name: "王五"})
	if err != nil {
		t.Fatal(err)
	}
	c := w.newPhone()
	if _, err := c.Enroll(ctx, cu.ActivationCode, "phone C", lcPIN); err != nil {
		t.Fatal(err)
	}

	sec, kg, err := cosign.PhoneKeyGen(ca.CosignKeyGenBinding(userID), lcPIN)
	if err != nil {
		t.Fatal(err)
	}
	var first protocol.CredentialCreated
	w.must(w.signed(a, "POST", "/v1/me/credentials", cosignBody("sm2", lcPIN, kg)), http.StatusCreated).decode(t, &first)
	made := first.Credential
	if made == nil || made.Mode != "cosign" || made.State != "active" || made.CertificatePEM == "" ||
		made.HolderDevice != a.State.DeviceID || !bytes.Equal(made.KeyGenCommit, kg.ProofT) {
		t.Fatalf("the credential made %+v", made)
	}
	// The answer is lost; the phone sends the same request again, then
	// the same share with a fresh proof.
	again, err := cosign.PhoneKeyGenAgain(sec, ca.CosignKeyGenBinding(userID), lcPIN)
	if err != nil {
		t.Fatal(err)
	}
	for name, msg := range map[string]*cosign.KeyGenRequest{"the same message": kg, "a fresh proof": again} {
		var got protocol.CredentialCreated
		w.must(w.signed(a, "POST", "/v1/me/credentials", cosignBody("sm2", lcPIN, msg)), http.StatusOK).decode(t, &got)
		if got.Credential == nil || got.Credential.ID != made.ID || got.Credential.CertificatePEM != made.CertificatePEM ||
			got.Credential.State != "active" || got.Credential.Cosign != nil || !bytes.Equal(got.Credential.KeyGenCommit, kg.ProofT) {
			t.Fatalf("%s: answered %+v, want %+v", name, got.Credential, made)
		}
	}

	other, err := cosign.PhoneKeyGenAgain(&cosign.PhoneSecret{Seed: bytes.Repeat([]byte{7}, cosign.SeedSize)}, ca.CosignKeyGenBinding(userID), lcPIN)
	if err != nil {
		t.Fatal(err)
	}
	forC, err := cosign.PhoneKeyGenAgain(sec, ca.CosignKeyGenBinding(cu.ID), lcPIN)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		p      *phone.Client
		body   any
		status int
		code   string
	}{
		{"another share", a, cosignBody("sm2", lcPIN, other), http.StatusConflict, protocol.CodeCredentialExists},
		{"another device of the user", b, cosignBody("sm2", lcPIN, kg), http.StatusConflict, protocol.CodeCredentialExists},
		{"another device, a fresh proof", b, cosignBody("sm2", lcPIN, again), http.StatusConflict, protocol.CodeCredentialExists},
		{"a usual request for the slot", a, map[string]any{"issuer": "sm2", "alg": "SM2", "purpose": "sign", "pin": lcPIN}, http.StatusConflict, protocol.CodeCredentialExists},
		{"a broken proof", a, cosignBody("sm2", lcPIN, &cosign.KeyGenRequest{Point: kg.Point, ProofT: kg.ProofT, ProofZ: again.ProofZ}), http.StatusConflict, protocol.CodeCredentialExists},
		{"the share's message bound to another user", a, cosignBody("sm2", lcPIN, forC), http.StatusConflict, protocol.CodeCredentialExists},
		// The other user's phone sends A's message: its proof is A's.
		{"another user", c, cosignBody("sm2", lcPIN, kg), http.StatusBadRequest, protocol.CodeInvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := w.snapshot()
			w.refused(w.signed(tc.p, "POST", "/v1/me/credentials", tc.body), tc.status, tc.code)
			w.unchanged(before, tc.name)
		})
	}
	// A wrong PIN with the right share is refused and counted (the PIN is
	// checked before the share: no oracle for PIN guesses), the next
	// right one resets the count.
	w.refused(w.signed(a, "POST", "/v1/me/credentials", cosignBody("sm2", "975318", again)), http.StatusForbidden, protocol.CodeWrongPIN)
	w.must(w.signed(a, "POST", "/v1/me/credentials", cosignBody("sm2", lcPIN, again)), http.StatusOK)

	creds, err := a.Credentials(ctx)
	if err != nil || len(creds) != 1 || creds[0].ID != made.ID || !bytes.Equal(creds[0].KeyGenCommit, kg.ProofT) {
		t.Fatalf("the user's credentials %+v, %v", creds, err)
	}
	entries, _ := w.audit()
	var mine []lcAudit
	for _, e := range lcFind(entries, "credential.create") {
		if e.User == userID {
			mine = append(mine, e)
		}
	}
	if len(mine) != 2 || mine[0].Credential != made.ID || mine[0].Outcome != "ok" || mine[0].Actor != "device:"+a.State.DeviceID ||
		mine[1].Outcome != "failed" || mine[1].Detail != "wrong_pin" {
		t.Fatalf("credential.create entries %+v, want one creation and the wrong PIN", mine)
	}
}

// TestCosignCreationRepeatedExternal: at an external issuer the lost
// answer carried the CSR challenge: the repeated request answers the same
// pending credential with a new challenge, whose answer signs the CSR;
// repeated once more it answers the credential with its CSR and no
// challenge. The CSR's signing is audited once, the creation once.
func TestCosignCreationRepeatedExternal(t *testing.T) {
	t.Parallel()
	testkit.OpenSSL(t)
	w := lcNew(t)
	ctx := context.Background()
	_, _, userID, code := w.setup()
	dir := t.TempDir()
	testkit.RunOpenSSL(t, dir, "genpkey", "-algorithm", "SM2", "-out", "ca.key")
	testkit.RunOpenSSL(t, dir, "req", "-x509", "-key", "ca.key", "-sm3", "-sigopt", "distid:1234567812345678", "-out", "ca.pem",
		"-days", "30", "-subj", "/CN=Repeat External SM2 CA/O=ukeygate tests",
		"-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	w.must(w.admin("POST", "/v1/admin/issuers", map[string]any{"id": "ext", "name": "外部 SM2 CA", "mode": "external", "chain_pem": string(caPEM)}), http.StatusCreated)
	a := w.newPhone()
	if _, err := a.Enroll(ctx, code, "phone A", lcPIN); err != nil {
		t.Fatal(err)
	}
	sec, kg, err := cosign.PhoneKeyGen(ca.CosignKeyGenBinding(userID), lcPIN)
	if err != nil {
		t.Fatal(err)
	}
	var first protocol.CredentialCreated
	w.must(w.signed(a, "POST", "/v1/me/credentials", cosignBody("ext", lcPIN, kg)), http.StatusCreated).decode(t, &first)
	if first.Credential == nil || first.Credential.State != "pending" || first.Credential.Cosign == nil {
		t.Fatalf("the credential made %+v", first.Credential)
	}
	id := first.Credential.ID
	// That answer is lost: the repeat carries a new challenge.
	again, err := cosign.PhoneKeyGenAgain(sec, ca.CosignKeyGenBinding(userID), lcPIN)
	if err != nil {
		t.Fatal(err)
	}
	var rep protocol.CredentialCreated
	w.must(w.signed(a, "POST", "/v1/me/credentials", cosignBody("ext", lcPIN, again)), http.StatusOK).decode(t, &rep)
	if rep.Credential == nil || rep.Credential.ID != id || rep.Credential.State != "pending" || rep.Credential.Cosign == nil {
		t.Fatalf("the repeat answered %+v", rep.Credential)
	}
	// The lost challenge's answer no longer fits; the new one's does.
	stale, err := first.Credential.Cosign.Answer(sec, lcPIN, cosign.Binding{Session: "csr", Credential: id})
	if err != nil {
		t.Fatal(err)
	}
	if r := w.signed(a, "POST", "/v1/me/credentials/"+id+"/cosign", map[string]any{"cosign": stale}); r.status < 400 {
		t.Fatalf("the lost challenge's answer was taken: %d %s", r.status, r.body)
	}
	// (That refusal used the exchange up: ask again.)
	rep = protocol.CredentialCreated{}
	w.must(w.signed(a, "POST", "/v1/me/credentials", cosignBody("ext", lcPIN, again)), http.StatusOK).decode(t, &rep)
	ans, err := rep.Credential.Cosign.Answer(sec, lcPIN, cosign.Binding{Session: "csr", Credential: id})
	if err != nil {
		t.Fatal(err)
	}
	var signed protocol.CredentialCreated
	w.must(w.signed(a, "POST", "/v1/me/credentials/"+id+"/cosign", map[string]any{"cosign": ans}), http.StatusOK).decode(t, &signed)
	if signed.Credential == nil || signed.Credential.CSRPEM == "" {
		t.Fatalf("the CSR was not signed: %+v", signed.Credential)
	}
	rep = protocol.CredentialCreated{}
	w.must(w.signed(a, "POST", "/v1/me/credentials", cosignBody("ext", lcPIN, again)), http.StatusOK).decode(t, &rep)
	if rep.Credential.ID != id || rep.Credential.Cosign != nil || rep.Credential.CSRPEM != signed.Credential.CSRPEM {
		t.Fatalf("after the CSR, the repeat answered %+v", rep.Credential)
	}
	entries, _ := w.audit()
	var got []string
	for _, e := range lcFind(entries, "credential.create") {
		got = append(got, e.Outcome+" "+e.Detail)
	}
	if len(got) != 2 || got[0] != "ok SM2 sign pending" || got[1] != "ok cosign CSR signed two-party" {
		t.Fatalf("credential.create entries %q", got)
	}
}
