package api_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/emmansun/gmsm/smx509"
	tjsm2 "github.com/tjfoc/gmsm/sm2"
	tjx509 "github.com/tjfoc/gmsm/x509"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/internal/testkit"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/protocol"
)

// TestRenewedKeyStillDecrypts: alice renews her SM2 and RSA encryption
// credentials with a new key over HTTP; then, in real decrypt sessions, a
// CMS envelope and a raw ciphertext made for the OLD certificate (the RSA
// envelope and the SM2 raw ciphertext made by OpenSSL) open with her PIN,
// as does an SM2 raw ciphertext tjfoc/gmsm made for the old certificate,
// and so do ones made for the new certificate. For the CMS envelope the
// scan offers the superseded credential first and the gateway picks it by
// the recipient even when the phone confirms with the new one; the raw
// ciphertext is opened by naming the superseded credential. Sign, login
// and certificate handover with a superseded credential stay refused.
func TestRenewedKeyStillDecrypts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	testkit.OpenSSL(t)
	var issuers []operator.IssuerRequest
	for _, alg := range []string{"SM2", "RSA"} {
		iss := seed.Generated(map[string]string{"SM2": "sm2", "RSA": "rsa"}[alg], alg, "renewal "+alg+" Root")
		iss.Profile.RenewalKey = "either"
		issuers = append(issuers, iss)
	}
	w := sxSeed(t, seed.Spec{Issuers: issuers, Users: []seed.User{
		{Name: "alice", Credentials: []seed.Credential{seed.Sign("sm2", "SM2"), seed.Encrypt("sm2", "SM2"),
			seed.Sign("rsa", "RSA"), seed.Encrypt("rsa", "RSA")}},
	}})
	ctx := context.Background()
	for _, alg := range []string{"SM2", "RSA"} {
		t.Run(alg, func(t *testing.T) {
			iss := map[string]string{"SM2": "sm2", "RSA": "rsa"}[alg]
			old := w.creds["alice/"+iss+"/encrypt"]
			oldCert := certOf(t, old)
			plain := []byte("去年的标书 " + alg)
			rawFormat := "asn1"
			if alg == "RSA" {
				rawFormat = "rsa-oaep"
			}
			// Made for the old certificate before the renewal: by OpenSSL
			// where it can (RSA CMS; SM2 raw in the GM/T 0009 ASN.1 form),
			// else by our package.
			os.WriteFile(filepath.Join(dir, iss+"-old.pem"), []byte(old.CertificatePEM), 0o600)
			os.WriteFile(filepath.Join(dir, "plain"), plain, 0o600)
			var env, raw []byte
			var err error
			if alg == "RSA" {
				testkit.RunOpenSSL(t, dir, "cms", "-encrypt", "-binary", "-aes-256-cbc", "-in", "plain", "-outform", "DER",
					"-out", "rsa-old.p7m", "rsa-old.pem")
				env = readBytes(t, filepath.Join(dir, "rsa-old.p7m"))
				if raw, err = gmcrypto.Encrypt(oldCert.PublicKey, plain, gmcrypto.FormatRSAOAEP); err != nil {
					t.Fatal(err)
				}
			} else {
				testkit.RunOpenSSL(t, dir, "x509", "-in", "sm2-old.pem", "-pubkey", "-noout", "-out", "sm2-old.pub")
				testkit.RunOpenSSL(t, dir, "pkeyutl", "-encrypt", "-pubin", "-inkey", "sm2-old.pub", "-in", "plain", "-out", "sm2-old.ct")
				raw = readBytes(t, filepath.Join(dir, "sm2-old.ct"))
				if env, err = gmcrypto.EnvelopeCMS(plain, oldCert); err != nil {
					t.Fatal(err)
				}
			}

			succ, newCert := renewNewKey(ctx, t, w.alice, old.ID, oldCert)

			decrypt := func(t *testing.T, ct []byte, format, confirmWith, wantCred string) {
				t.Helper()
				c := w.create(map[string]any{"kind": "decrypt", "ciphertext": ct, "ciphertext_format": format})
				sc, err := w.scan(w.alice, c.QR.Payload)
				if err != nil {
					t.Fatal(err)
				}
				if format == "cms" && (len(sc.Credentials) == 0 || sc.Credentials[0].ID != wantCred) {
					t.Fatalf("scan offers %+v first, want %s", sc.Credentials, wantCred)
				}
				if err := w.confirm(w.alice, c.ID, confirmWith, sxPIN, c.Code); err != nil {
					t.Fatal(err)
				}
				v := w.view(c.ID)
				var res struct {
					Plaintext []byte `json:"plaintext"`
				}
				if err := json.Unmarshal(v.Result, &res); err != nil || v.State != "completed" || !bytes.Equal(res.Plaintext, plain) {
					t.Fatalf("session %s: %s %q %v", c.ID, v.State, res.Plaintext, err)
				}
				if e := w.auditOf(t, c.ID); len(e) != 1 || e[0]["credential"] != wantCred || e[0]["outcome"] != "ok" {
					t.Fatalf("audit %v, want credential %s", e, wantCred)
				}
			}
			t.Run("old CMS, phone picks the new credential", func(t *testing.T) { decrypt(t, env, "cms", succ.ID, old.ID) })
			t.Run("old CMS, phone picks the old credential", func(t *testing.T) { decrypt(t, env, "cms", old.ID, old.ID) })
			t.Run("old raw", func(t *testing.T) { decrypt(t, raw, rawFormat, old.ID, old.ID) })
			if alg == "SM2" {
				// tjfoc/gmsm reads the old certificate and encrypts to it.
				t.Run("old raw by tjfoc", func(t *testing.T) {
					decrypt(t, tjfocEncrypt(t, oldCert.Raw, plain), "c1c3c2", old.ID, old.ID)
				})
			}
			t.Run("new CMS", func(t *testing.T) {
				env, err := gmcrypto.EnvelopeCMS(plain, newCert)
				if err != nil {
					t.Fatal(err)
				}
				decrypt(t, env, "cms", succ.ID, succ.ID)
			})
			t.Run("new raw", func(t *testing.T) {
				ct, err := gmcrypto.Encrypt(newCert.PublicKey, plain, gmcrypto.CipherFormat(rawFormat))
				if err != nil {
					t.Fatal(err)
				}
				decrypt(t, ct, rawFormat, succ.ID, succ.ID)
			})

			t.Run("superseded credentials do not sign or log in", func(t *testing.T) {
				sign := w.creds["alice/"+iss+"/sign"]
				var rs protocol.Renewed
				if err := w.alice.Do(ctx, "POST", "/v1/me/credentials/"+sign.ID+"/renew", map[string]any{"pin": sxPIN, "new_key": true}, &rs); err != nil {
					t.Fatal(err)
				}
				for _, tc := range []struct {
					req        map[string]any
					cred, code string
				}{
					{map[string]any{"kind": "sign", "alg": alg, "documents": []map[string]any{{"name": "a.txt", "data": []byte("x")}}}, sign.ID, "credential_not_active"},
					{map[string]any{"kind": "login", "alg": alg}, sign.ID, "credential_not_active"},
					{map[string]any{"kind": "login", "alg": alg}, old.ID, "credential_mismatch"},
					{map[string]any{"kind": "certificate"}, old.ID, "credential_mismatch"},
				} {
					c := w.create(tc.req)
					sc, err := w.scan(w.alice, c.QR.Payload)
					if err != nil {
						t.Fatal(err)
					}
					for _, o := range sc.Credentials {
						if o.ID == sign.ID || o.ID == old.ID {
							t.Fatalf("%s session offers superseded %s", tc.req["kind"], o.ID)
						}
					}
					pin := sxPIN
					if tc.req["kind"] == "certificate" {
						pin = "" // a certificate session uses no key
					}
					mustRefuse(t, w.confirm(w.alice, c.ID, tc.cred, pin, c.Code), tc.code)
					if v := w.view(c.ID); v.State != "scanned" {
						t.Fatalf("%s session after the refusal: %s", tc.req["kind"], v.State)
					}
				}
			})
		})
	}
}

func readBytes(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// renewNewKey renews credential old (certificate oldCert) of phone p with
// a new key (PIN sxPIN) and returns the active successor and its
// certificate, whose key must differ.
func renewNewKey(ctx context.Context, t *testing.T, p *phone.Client, old string, oldCert *smx509.Certificate) (protocol.Credential, *smx509.Certificate) {
	t.Helper()
	var out protocol.Renewed
	if err := p.Do(ctx, "POST", "/v1/me/credentials/"+old+"/renew", map[string]any{"pin": sxPIN, "new_key": true}, &out); err != nil {
		t.Fatal(err)
	}
	succ := out.Credential
	if succ.State != "active" || succ.Supersedes != old {
		t.Fatalf("renewed %+v", succ)
	}
	newCert := certOf(t, &phone.Credential{ID: succ.ID, CertificatePEM: succ.CertificatePEM})
	if bytes.Equal(mustMarshalPub(t, oldCert.PublicKey), mustMarshalPub(t, newCert.PublicKey)) {
		t.Fatal("new_key renewal kept the key")
	}
	return succ, newCert
}

func mustMarshalPub(t *testing.T, pub any) []byte {
	t.Helper()
	b, err := gmcrypto.MarshalPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tjfocEncrypt is plain encrypted (C1C3C2) by tjfoc/gmsm, an independent
// SM2 library, to the public key of the certificate der as it reads it.
func tjfocEncrypt(t *testing.T, der, plain []byte) []byte {
	t.Helper()
	tc, err := tjx509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ecp, ok := tc.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		t.Fatalf("tjfoc reads a %T", tc.PublicKey)
	}
	ct, err := tjsm2.Encrypt(&tjsm2.PublicKey{Curve: ecp.Curve, X: ecp.X, Y: ecp.Y}, plain, rand.Reader, tjsm2.C1C3C2)
	if err != nil {
		t.Fatal(err)
	}
	return ct
}
