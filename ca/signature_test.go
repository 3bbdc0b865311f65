package ca

import (
	"errors"
	"strings"
	"testing"
	"time"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/protocol"
)

// TestCheckSignature: the signature checks of POST /v1/verify without
// HTTP — raw and CMS, a signature over other data, a stranger's
// certificate, an encryption certificate, a revoked credential — and the
// checks that cannot be made (malformed input, too many certificates).
func TestCheckSignature(t *testing.T) {
	f := newFixture(t)
	f.generated(t, "root", gmcrypto.AlgSM2, nil)
	user := f.enrolled(t, UserRequest{Name: "张三"})
	sign := f.credential(t, user, "root", gmcrypto.AlgSM2, PurposeSign)
	enc := f.credential(t, user, "root", gmcrypto.AlgSM2, PurposeEncrypt)
	user2 := f.enrolled(t, UserRequest{Name: "李四"})
	revoked := f.credential(t, user2, "root", gmcrypto.AlgSM2, PurposeSign)
	data := []byte("标书 2026-17: 1,000,000 CNY")
	signWith := func(c *Credential, msg []byte) []byte {
		key, _, err := f.svc.UnlockKey(f.ctx, c.UserID, c.ID, testPIN)
		if err != nil {
			t.Fatal(err)
		}
		defer gmcrypto.ZeroKey(key)
		sig, err := gmcrypto.Sign(key, msg, nil)
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	cmsWith := func(c *Credential, detached bool) []byte {
		key, _, err := f.svc.UnlockKey(f.ctx, user, c.ID, testPIN)
		if err != nil {
			t.Fatal(err)
		}
		defer gmcrypto.ZeroKey(key)
		b, err := gmcrypto.SignCMS(key, c.Certificate, nil, data, detached)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	revokedSig := signWith(revoked, data)
	if _, err := f.svc.Revoke(f.ctx, revoked.ID, "keyCompromise"); err != nil {
		t.Fatal(err)
	}
	stranger, strangerKey := handCert(t, "stranger", -1, nil, nil)
	strangerSig, err := gmcrypto.Sign(strangerKey, data, nil)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		check      SignatureCheck
		wantValid  bool
		wantReason string
		wantCred   string
	}{
		{"raw over the data", SignatureCheck{Data: data, Signature: signWith(sign, data), CertificatePEM: sign.CertificatePEM}, true, "", sign.ID},
		{"raw over other data", SignatureCheck{Data: []byte("other"), Signature: signWith(sign, data), CertificatePEM: sign.CertificatePEM}, false, protocol.ReasonBadSignature, ""},
		{"encryption certificate", SignatureCheck{Data: data, Signature: signWith(enc, data), CertificatePEM: enc.CertificatePEM}, false, protocol.ReasonKeyUsage, ""},
		{"revoked credential", SignatureCheck{Data: data, Signature: revokedSig, CertificatePEM: revoked.CertificatePEM}, false, protocol.ReasonRevoked, ""},
		{"stranger", SignatureCheck{Data: data, Signature: strangerSig, CertificatePEM: string(gmcrypto.EncodeCertificatesPEM(stranger))}, false, protocol.ReasonUntrusted, ""},
		{"cms attached", SignatureCheck{CMS: cmsWith(sign, false)}, true, "", sign.ID},
		{"cms detached with the data", SignatureCheck{CMS: cmsWith(sign, true), Data: data}, true, "", sign.ID},
		{"cms detached with other data", SignatureCheck{CMS: cmsWith(sign, true), Data: []byte("other")}, false, protocol.ReasonBadSignature, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := f.svc.CheckSignature(f.ctx, tt.check)
			if err != nil {
				t.Fatalf("CheckSignature: %v", err)
			}
			if v.Valid != tt.wantValid || v.Reason != tt.wantReason {
				t.Fatalf("valid %v reason %q (%s), want %v %q", v.Valid, v.Reason, v.Message, tt.wantValid, tt.wantReason)
			}
			if tt.wantValid && (v.Verified == nil || v.Verified.CredentialID != tt.wantCred || v.Verified.UserID != user || v.Signer == nil) {
				t.Fatalf("verified %+v", v.Verified)
			}
			if !tt.wantValid && v.Verified != nil {
				t.Fatal("an invalid signature names a credential")
			}
		})
	}

	many := strings.Repeat(sign.CertificatePEM, MaxSignatureCerts+1)
	refusals := []struct {
		name  string
		check SignatureCheck
		want  error
		field string
	}{
		{"malformed certificate", SignatureCheck{Data: data, Signature: []byte{1}, CertificatePEM: "not PEM"}, ErrMalformedPEM, "certificate_pem"},
		{"too many certificates", SignatureCheck{Data: data, Signature: []byte{1}, CertificatePEM: many}, ErrTooManyCertificates, "certificate_pem"},
		{"not a CMS", SignatureCheck{CMS: []byte("not DER")}, gmcrypto.ErrMalformed, "cms"},
		{"detached without data", SignatureCheck{CMS: cmsWith(sign, true)}, ErrInvalidRequest, "data"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.CheckSignature(f.ctx, tt.check)
			var re *RequestError
			if !errors.Is(err, tt.want) || !errors.As(err, &re) || re.Field != tt.field {
				t.Fatalf("CheckSignature: %v, want %v on %s", err, tt.want, tt.field)
			}
		})
	}

	// Expired: the same valid signature, later than the certificate.
	f.clock.Advance(400 * 24 * time.Hour * 10)
	v, err := f.svc.CheckSignature(f.ctx, tests[0].check)
	if err != nil || v.Valid || v.Reason != protocol.ReasonExpired {
		t.Fatalf("after expiry: %+v, %v", v, err)
	}
}
