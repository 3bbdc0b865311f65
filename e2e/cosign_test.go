package e2e

import (
	"bytes"
	"context"
	"encoding/asn1"
	"math/big"
	"slices"
	"strings"
	"testing"

	tjsm2 "github.com/tjfoc/gmsm/sm2"
	tjsm3 "github.com/tjfoc/gmsm/sm3"

	"github.com/ukeygate/ukeygate/crypto/cosign"
	"github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/internal/testkit"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/portal"
)

// Two-party SM2 (cosign) credentials over real HTTP: the reference phone
// client holds its share (seed + PIN), the gateway its own; every result
// is an ordinary SM2 signature or plaintext, checked by tjfoc and OpenSSL.

const cosignIssuer = "cosign"

// cosignWorld is a world with a second SM2 internal issuer at which the
// user holds a cosign signing and a cosign encryption credential
// (w.creds "CO-sign", "CO-encrypt").
func cosignWorld(t *testing.T) *world {
	t.Helper()
	w := newWorld(t)
	op := &operator.Client{BaseURL: w.ts.URL, Token: w.ts.AdminToken}
	if _, err := op.AddIssuer(context.Background(), seed.Generated(cosignIssuer, "SM2", "e2e cosign Root")); err != nil {
		t.Fatal(err)
	}
	for _, purpose := range []string{"sign", "encrypt"} {
		c, err := w.phone.RequestCosignCredential(context.Background(), cosignIssuer, purpose, testPIN)
		if err != nil {
			t.Fatal(err)
		}
		if c.State != "active" || c.Mode != "cosign" || c.Alg != "SM2" {
			t.Fatalf("cosign credential %+v", c)
		}
		if len(w.phone.State.Cosign[c.ID]) == 0 {
			t.Fatal("the phone did not keep its seed")
		}
		w.creds["CO-"+purpose] = c
	}
	return w
}

func TestCosignLoginAndSign(t *testing.T) {
	t.Parallel()
	w := cosignWorld(t)
	cred := "CO-sign"
	certPEM := w.creds[cred].CertificatePEM

	t.Run("login", func(t *testing.T) {
		s, final := w.flow(t, portal.SessionRequest{Kind: portal.KindLogin, Issuer: cosignIssuer, Alg: "SM2"}, cred)
		res, err := final.Login()
		if err != nil {
			t.Fatal(err)
		}
		if res.Credential != w.creds[cred].ID {
			t.Fatalf("login with %s", res.Credential)
		}
		if _, err := portal.VerifyLogin(res, portal.LoginExpect{Session: s.ID, App: w.appID, Origin: testOrigin}); err != nil {
			t.Fatal(err)
		}
		w.checkRaw(t, "SM2", res.CertificatePEM, res.Challenge, res.Signature)
	})

	docs := []doc{
		{"bid.pdf", []byte("投标文件：总价 ¥1,234,567.00"), false},
		{"tech.pdf", bytes.Repeat([]byte("技术标 "), 3000), false},
		{"price.xlsx", []byte("报价 digest only"), true},
	}
	for _, format := range []string{portal.FormatRaw, portal.FormatCMSDetached, portal.FormatCMSAttached} {
		t.Run(format, func(t *testing.T) {
			req := portal.SessionRequest{Kind: portal.KindSign, Issuer: cosignIssuer, Alg: "SM2", Format: format}
			for _, d := range docs {
				pd := portal.Document{Name: d.name, Data: d.data}
				if d.digestOnly && format != portal.FormatCMSAttached {
					pd.Data = nil
					if format == portal.FormatRaw {
						pd.Digest = tjfocDigest(t, certPEM, d.data)
					} else {
						pd.Digest = tjsm3.Sm3Sum(d.data)
					}
				}
				req.Documents = append(req.Documents, pd)
			}
			_, final := w.flow(t, req, cred)
			res, err := final.Sign()
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Documents) != len(docs) {
				t.Fatalf("%d results", len(res.Documents))
			}
			for i, d := range docs {
				r, sent := res.Documents[i], req.Documents[i]
				if format == portal.FormatRaw {
					w.gatewayVerify(t, portal.VerifyRequest{Data: sent.Data, Digest: sent.Digest, Signature: r.Signature, CertificatePEM: res.CertificatePEM}, cred)
					w.checkRaw(t, "SM2", certPEM, d.data, r.Signature)
					continue
				}
				attached := format == portal.FormatCMSAttached
				vreq := portal.VerifyRequest{CMS: r.CMS, Data: sent.Data, Digest: sent.Digest}
				if attached {
					vreq.Data = nil
				}
				w.gatewayVerify(t, vreq, cred)
				var digest []byte
				if sent.Digest != nil {
					digest = sent.Digest
				}
				w.checkCMS(t, "SM2", certPEM, r.CMS, d.data, digest, attached)
			}
		})
	}
}

func TestCosignDecrypt(t *testing.T) {
	t.Parallel()
	w := cosignWorld(t)
	cred := "CO-encrypt"
	certPEM := w.creds[cred].CertificatePEM
	pt := []byte("开标：投标报价 ¥1,234,567.00 — sealed to a cosign key")
	tjfocEnc := func(mode int) func() []byte {
		return func() []byte {
			ct, err := tjsm2.Encrypt(tjfocPub(t, certPEM), pt, nil, mode)
			if err != nil {
				t.Fatal(err)
			}
			return ct
		}
	}
	cases := []struct {
		name, format string
		make         func() []byte
		returnKey    bool
	}{
		{"c1c3c2 by tjfoc", portal.CipherC1C3C2, tjfocEnc(tjsm2.C1C3C2), false},
		{"c1c2c3 by tjfoc", portal.CipherC1C2C3, tjfocEnc(tjsm2.C1C2C3), false},
		{"asn1 by openssl", portal.CipherASN1, func() []byte {
			dir := files(t, map[string][]byte{"cert.pem": []byte(firstCertPEM(t, certPEM)), "pt": pt})
			testkit.RunOpenSSL(t, dir, "x509", "-in", "cert.pem", "-pubkey", "-noout", "-out", "pub.pem")
			testkit.RunOpenSSL(t, dir, "pkeyutl", "-encrypt", "-pubin", "-inkey", "pub.pem", "-in", "pt", "-out", "ct")
			return readFile(t, dir, "ct")
		}, false},
		{"cms by POST /v1/encrypt", portal.CipherCMS, func() []byte {
			der, err := w.pc.Encrypt(context.Background(), w.userID, cosignIssuer, pt)
			if err != nil {
				t.Fatal(err)
			}
			return der
		}, false},
		{"cms by POST /v1/encrypt, return_key", portal.CipherCMS, func() []byte {
			der, err := w.pc.Encrypt(context.Background(), w.userID, cosignIssuer, pt)
			if err != nil {
				t.Fatal(err)
			}
			return der
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "asn1 by openssl" {
				testkit.OpenSSL(t)
			}
			ct := tc.make()
			_, final := w.flow(t, portal.SessionRequest{Kind: portal.KindDecrypt, Issuer: cosignIssuer, Alg: "SM2",
				Ciphertext: ct, CiphertextFormat: tc.format, ReturnKey: tc.returnKey}, cred)
			res, err := final.Decrypt()
			if err != nil {
				t.Fatal(err)
			}
			if !tc.returnKey {
				if !bytes.Equal(res.Plaintext, pt) {
					t.Fatalf("plaintext %q", res.Plaintext)
				}
				return
			}
			got, oid := openWithKey(t, ct, res.ContentKey)
			if !bytes.Equal(got, pt) || oid != res.ContentAlg {
				t.Fatalf("the returned key opens %q", got)
			}
		})
	}
}

// A wrong PIN folded into the phone's share gives an invalid signature:
// the gateway refuses it (nothing reaches the portal), counts it against
// the same lockout as a PIN typed at the gateway, and the session stays
// scanned; the right PIN still works until the lock.
func TestCosignWrongPINCountsAndLocks(t *testing.T) {
	t.Parallel()
	w := cosignWorld(t)
	ctx := context.Background()
	s, err := w.pc.CreateSession(ctx, portal.SessionRequest{Kind: portal.KindLogin, Issuer: cosignIssuer, Alg: "SM2", Origin: testOrigin,
		Display: portal.Display{Title: "e2e cosign", Summary: "wrong PIN"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.phone.Scan(ctx, s.QR.Payload); err != nil {
		t.Fatal(err)
	}
	credID := w.creds["CO-sign"].ID
	_, err = w.phone.Confirm(ctx, s.ID, credID, "246801", s.Code)
	if phone.Code(err) != "wrong_pin" {
		t.Fatalf("wrong PIN: %v", err)
	}
	got, err := w.pc.GetSession(ctx, s.ID)
	if err != nil || got.State != portal.StateScanned {
		t.Fatalf("after a wrong PIN the session is %+v, %v", got, err)
	}
	// A usual credential's PIN check shares the counter: the right PIN
	// resets it; then wrong PINs lock, and a locked user cannot even start.
	state, err := w.phone.Confirm(ctx, s.ID, credID, testPIN, s.Code)
	if err != nil || state != portal.StateCompleted {
		t.Fatalf("right PIN: %q %v", state, err)
	}
	var codes []string
	for range 6 {
		s, err := w.pc.CreateSession(ctx, portal.SessionRequest{Kind: portal.KindLogin, Issuer: cosignIssuer, Alg: "SM2", Origin: testOrigin,
			Display: portal.Display{Title: "e2e cosign", Summary: "lockout"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.phone.Scan(ctx, s.QR.Payload); err != nil {
			t.Fatal(err)
		}
		_, err = w.phone.Confirm(ctx, s.ID, credID, "246801", s.Code)
		codes = append(codes, phone.Code(err))
	}
	if !slices.Contains(codes, "pin_locked") || codes[0] != "wrong_pin" {
		t.Fatalf("codes of wrong PINs in a row: %v", codes)
	}
	// Locked: the usual credential is refused too (same counter).
	if err := w.phone.ChangePIN(ctx, testPIN, "802461"); phone.Code(err) != "pin_locked" {
		t.Fatalf("a usual PIN check while locked: %v", err)
	}
}

// The second request cannot be replayed, and an answer cannot be sent
// without a first round.
func TestCosignAnswerReplayRefused(t *testing.T) {
	t.Parallel()
	w := cosignWorld(t)
	ctx := context.Background()
	s, err := w.pc.CreateSession(ctx, portal.SessionRequest{Kind: portal.KindLogin, Issuer: cosignIssuer, Alg: "SM2", Origin: testOrigin,
		Display: portal.Display{Title: "e2e cosign", Summary: "replay"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.phone.Scan(ctx, s.QR.Payload); err != nil {
		t.Fatal(err)
	}
	credID := w.creds["CO-sign"].ID
	path := "/v1/sessions/" + s.ID + "/confirm"
	seed := &cosign.PhoneSecret{Seed: w.phone.State.Cosign[credID]}
	want := cosign.Binding{Session: s.ID, Credential: credID}
	round1 := func() *cosign.Challenge {
		t.Helper()
		var out struct {
			State  string            `json:"state"`
			Cosign *cosign.Challenge `json:"cosign"`
		}
		if err := w.phone.Do(ctx, "POST", path, map[string]any{"credential": credID, "code": s.Code}, &out); err != nil {
			t.Fatal(err)
		}
		if out.State != "scanned" || out.Cosign == nil || len(out.Cosign.Sign) != 1 {
			t.Fatalf("first round answer %+v", out)
		}
		return out.Cosign
	}
	round2 := func(ch *cosign.Challenge, pin string) (string, error) {
		t.Helper()
		ans, err := ch.Answer(seed, pin, want)
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			State string `json:"state"`
		}
		err = w.phone.Do(ctx, "POST", path, map[string]any{"credential": credID, "code": s.Code, "cosign": ans}, &out)
		return out.State, err
	}
	c1 := round1()
	if _, err := round2(c1, "864209"); phone.Code(err) != "wrong_pin" {
		t.Fatalf("wrong PIN: %v", err)
	}
	// The first round was used up by the failed answer.
	if _, err := round2(c1, testPIN); phone.Code(err) != "cosign_not_started" {
		t.Fatalf("second answer to one challenge: %v", err)
	}
	// An answer to an earlier challenge does not fit a new one.
	c2 := round1()
	if _, err := round2(c1, testPIN); phone.Code(err) != "cosign_mismatch" {
		t.Fatalf("answer to an old challenge: %v", err)
	}
	_ = c2
	c3 := round1()
	if state, err := round2(c3, testPIN); err != nil || state != string(portal.StateCompleted) {
		t.Fatalf("right answer: %q %v", state, err)
	}
	if _, err := round2(c3, testPIN); phone.Code(err) != "session_closed" {
		t.Fatalf("replayed answer after completion: %v", err)
	}
	// A cosign answer for a usual credential is refused.
	if _, err := w.phone.Confirm(ctx, s.ID, w.creds["SM2-sign"].ID, testPIN, s.Code); err == nil {
		t.Fatal("a completed session confirmed again")
	}
}

// A PIN change re-shares the cosign credentials (the public key and the
// certificate stay); the new PIN works, the old one no longer does, and
// a PIN change without the phone's re-share is refused.
func TestCosignPINChange(t *testing.T) {
	t.Parallel()
	w := cosignWorld(t)
	ctx := context.Background()
	cred := w.creds["CO-sign"]
	oldSeed := bytes.Clone(w.phone.State.Cosign[cred.ID])
	// From a phone without the shares (another device), the change is refused.
	other := &phone.Client{BaseURL: w.phone.BaseURL, HTTP: w.phone.HTTP, State: &phone.State{
		ServerURL: w.phone.State.ServerURL, DeviceID: w.phone.State.DeviceID, UserID: w.phone.State.UserID,
		PrivateKeyPEM: w.phone.State.PrivateKeyPEM}}
	if err := other.ChangePIN(ctx, testPIN, "802461"); phone.Code(err) != "invalid_request" {
		t.Fatalf("PIN change without the cosign re-share: %v", err)
	}
	if err := w.phone.ChangePIN(ctx, testPIN, "802461"); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(oldSeed, w.phone.State.Cosign[cred.ID]) {
		t.Fatal("the seed did not change")
	}
	list, err := w.phone.Credentials(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range list {
		if c.ID == cred.ID && c.CertificatePEM != cred.CertificatePEM {
			t.Fatal("the certificate changed")
		}
	}
	s, err := w.pc.CreateSession(ctx, portal.SessionRequest{Kind: portal.KindSign, Issuer: cosignIssuer, Alg: "SM2", Origin: testOrigin,
		Format: portal.FormatRaw, Documents: []portal.Document{{Name: "after.txt", Data: []byte("signed after the PIN change")}},
		Display: portal.Display{Title: "e2e cosign", Summary: "PIN change"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.phone.Scan(ctx, s.QR.Payload); err != nil {
		t.Fatal(err)
	}
	if _, err := w.phone.Confirm(ctx, s.ID, cred.ID, testPIN, s.Code); phone.Code(err) != "wrong_pin" {
		t.Fatalf("old PIN after the change: %v", err)
	}
	if state, err := w.phone.Confirm(ctx, s.ID, cred.ID, "802461", s.Code); err != nil || state != portal.StateCompleted {
		t.Fatalf("new PIN: %q %v", state, err)
	}
	got, err := w.pc.GetSession(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	res, err := got.Sign()
	if err != nil {
		t.Fatal(err)
	}
	w.checkRaw(t, "SM2", cred.CertificatePEM, []byte("signed after the PIN change"), res.Documents[0].Signature)
}

// A confirm that sends the PIN with a cosign credential (a client that
// does not know the scheme) is refused: the PIN must stay on the phone.
func TestCosignConfirmWithPINRefused(t *testing.T) {
	t.Parallel()
	w := cosignWorld(t)
	ctx := context.Background()
	s, err := w.pc.CreateSession(ctx, portal.SessionRequest{Kind: portal.KindLogin, Issuer: cosignIssuer, Alg: "SM2", Origin: testOrigin,
		Display: portal.Display{Title: "e2e cosign", Summary: "PIN sent"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.phone.Scan(ctx, s.QR.Payload); err != nil {
		t.Fatal(err)
	}
	err = w.phone.Do(ctx, "POST", "/v1/sessions/"+s.ID+"/confirm", map[string]any{"credential": w.creds["CO-sign"].ID, "code": s.Code, "pin": testPIN}, nil)
	if phone.Code(err) != "invalid_request" {
		t.Fatalf("confirm with a PIN: %v", err)
	}
	if got, err := w.pc.GetSession(ctx, s.ID); err != nil || got.State != portal.StateScanned {
		t.Fatalf("session %+v %v", got, err)
	}
}

// TestCosignDecryptNotAPoint: a CMS envelope whose SM2-encrypted key has
// a C1 that is not a curve point (raw formats are refused at creation)
// fails a cosign decrypt in its first round, as decryption_failed, and
// the audit log records the failed attempt as it does for any other key.
func TestCosignDecryptNotAPoint(t *testing.T) {
	t.Parallel()
	w := cosignWorld(t)
	ctx := context.Background()
	cred := w.creds["CO-encrypt"]
	der, err := w.pc.Encrypt(ctx, w.userID, cosignIssuer, []byte("a bid"))
	if err != nil {
		t.Fatal(err)
	}
	offCurveC1(t, der)
	s, err := w.pc.CreateSession(ctx, portal.SessionRequest{Kind: portal.KindDecrypt, Issuer: cosignIssuer, Alg: "SM2",
		Ciphertext: der, CiphertextFormat: portal.CipherCMS, Origin: testOrigin, Display: portal.Display{Title: "bid", Summary: "open"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.phone.Scan(ctx, s.QR.Payload); err != nil {
		t.Fatal(err)
	}
	if _, err := w.phone.Confirm(ctx, s.ID, cred.ID, testPIN, s.Code); phone.Code(err) != "operation_failed" || !strings.Contains(err.Error(), "decryption_failed") {
		t.Fatalf("confirm: %v, want operation_failed (decryption_failed)", err)
	}
	var page operator.AuditPage
	if _, err := (&operator.Client{BaseURL: w.ts.URL, Token: w.ts.AdminToken}).Do(ctx, "GET", "/v1/admin/audit?session="+s.ID, nil, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Entries) != 1 || page.Entries[0].Action != "decrypt" || page.Entries[0].Outcome != "failed" ||
		page.Entries[0].Detail != "decryption_failed" || page.Entries[0].CredentialID != cred.ID {
		t.Fatalf("audit %+v", page.Entries)
	}
}

// offCurveC1 changes, in CMS envelope der, the last byte of the y
// coordinate of the SM2 ciphertext (GM/T 0009 ASN.1: x, y, hash,
// ciphertext) that carries the content key, so that C1 is no point.
func offCurveC1(t *testing.T, der []byte) {
	t.Helper()
	var ct struct {
		X, Y       *big.Int
		Hash, Data []byte
	}
	for i := range der {
		if der[i] != 0x30 {
			continue
		}
		if _, err := asn1.Unmarshal(der[i:], &ct); err != nil || len(ct.Hash) != 32 || ct.Y == nil || ct.Y.BitLen() < 200 || ct.Y.BitLen() > 256 {
			continue
		}
		y := ct.Y.Bytes()
		j := bytes.Index(der[i:], y)
		if j < 0 {
			t.Fatal("y not found")
		}
		der[i+j+len(y)-1] ^= 1
		return
	}
	t.Fatal("no SM2 ciphertext in the envelope")
}
