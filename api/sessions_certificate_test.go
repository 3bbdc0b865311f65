package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/protocol"
)

// TestCertificateSession: the phone user hands over the certificates they
// choose, without a PIN; the result carries them (with their chains) and
// the user's id; each handover is audited; what does not fit is refused
// with a stable code and leaves the session scanned.
func TestCertificateSession(t *testing.T) {
	t.Parallel()
	w := sxNew(t)
	ctx := context.Background()
	enc, sign := w.creds["alice/sm2/encrypt"], w.creds["alice/rsa/sign"]

	c := w.create(map[string]any{"kind": "certificate", "display": map[string]string{"title": "提交投标文件", "summary": "请提供加密证书"}})
	sc, err := w.scan(w.alice, c.QR.Payload)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Session.Kind != "certificate" || len(sc.Credentials) != 4 {
		t.Fatalf("scan: kind %s, %d credentials offered, want 4 (both purposes, both issuers)", sc.Session.Kind, len(sc.Credentials))
	}
	confirm := func(body map[string]any) error {
		return w.alice.Do(ctx, "POST", "/v1/sessions/"+c.ID+"/confirm", body, nil)
	}
	// Refusals that leave the session scanned.
	mustRefuse(t, confirm(map[string]any{"credentials": []string{enc.ID}, "pin": sxPIN, "code": c.Code}), protocol.CodeInvalidRequest)
	mustRefuse(t, confirm(map[string]any{"credentials": []string{enc.ID, enc.ID}, "code": c.Code}), protocol.CodeInvalidRequest)
	mustRefuse(t, confirm(map[string]any{"credentials": []string{w.creds["bob/sm2/encrypt"].ID}, "code": c.Code}), protocol.CodeCredentialNotFound)
	mustRefuse(t, confirm(map[string]any{"credentials": []string{}, "code": c.Code}), protocol.CodeInvalidRequest)
	mustRefuse(t, confirm(map[string]any{"credentials": make([]string, 9), "code": c.Code}), protocol.CodeInvalidRequest)
	// Another device cannot confirm.
	mustRefuse(t, w.bob.Do(ctx, "POST", "/v1/sessions/"+c.ID+"/confirm", map[string]any{"credentials": []string{enc.ID}, "code": c.Code}, nil), protocol.CodeWrongDevice)
	if v := w.view(c.ID); v.State != "scanned" {
		t.Fatalf("after refusals: %s", v.State)
	}
	if err := confirm(map[string]any{"credentials": []string{enc.ID, sign.ID}, "code": c.Code}); err != nil {
		t.Fatal(err)
	}
	v := w.view(c.ID)
	var res protocol.CertificateResult
	if err := json.Unmarshal(v.Result, &res); err != nil || v.State != "completed" {
		t.Fatalf("state %s, result %s (%v)", v.State, v.Result, err)
	}
	if res.User != w.alice.State.UserID || len(res.Certificates) != 2 {
		t.Fatalf("result %+v, want user %s and 2 certificates", res, w.alice.State.UserID)
	}
	for i, want := range []struct {
		cred                 string
		issuer, alg, purpose string
	}{{enc.ID, "sm2", "SM2", "encrypt"}, {sign.ID, "rsa", "RSA", "sign"}} {
		hc := res.Certificates[i]
		if hc.Credential != want.cred || hc.Issuer != want.issuer || hc.Alg != want.alg || hc.Purpose != want.purpose {
			t.Fatalf("certificate %d: %+v, want %+v", i, hc, want)
		}
		certs, err := gmcrypto.ParseCertificatesPEM([]byte(hc.CertificatePEM))
		if err != nil || len(certs) != 2 || !strings.HasPrefix(hc.CertificatePEM, strings.TrimSpace(w.creds[map[int]string{0: "alice/sm2/encrypt", 1: "alice/rsa/sign"}[i]].CertificatePEM)) {
			t.Fatalf("certificate %d: %d certificates (%v), want the credential's and its issuer's", i, len(certs), err)
		}
	}
	// Audited: one entry per certificate handed over, action certificate,
	// digest SM3 of the certificate.
	entries := w.auditOf(t, c.ID)
	var ok []string
	for _, e := range entries {
		if e["action"] == "certificate" && e["outcome"] == "ok" {
			ok = append(ok, e["credential"].(string))
		}
	}
	slices.Sort(ok)
	want := []string{enc.ID, sign.ID}
	slices.Sort(want)
	if !slices.Equal(ok, want) {
		t.Fatalf("audit entries %v", entries)
	}

	// The issuer and alg of the request narrow what is offered; a
	// credential outside them is credential_mismatch.
	c2 := w.create(map[string]any{"kind": "certificate", "issuer": "sm2"})
	sc2, err := w.scan(w.alice, c2.QR.Payload)
	if err != nil {
		t.Fatal(err)
	}
	if len(sc2.Credentials) != 2 {
		t.Fatalf("issuer sm2: %d offered", len(sc2.Credentials))
	}
	mustRefuse(t, w.alice.Do(ctx, "POST", "/v1/sessions/"+c2.ID+"/confirm", map[string]any{"credentials": []string{sign.ID}, "code": c2.Code}, nil), protocol.CodeCredentialMismatch)
	// The single-credential form works too, without a PIN.
	if err := w.alice.Do(ctx, "POST", "/v1/sessions/"+c2.ID+"/confirm", map[string]any{"credential": enc.ID, "code": c2.Code}, nil); err != nil {
		t.Fatal(err)
	}

	// Creation refuses documents and ciphertexts; several credentials are
	// refused for the other kinds, and a sign session still needs a PIN.
	w.refused(w.app("POST", "/v1/sessions", map[string]any{"kind": "certificate", "documents": []map[string]any{{"name": "a", "data": []byte("x")}}, "display": map[string]string{"title": "t"}}), http.StatusBadRequest, protocol.CodeInvalidRequest)
	s3 := w.create(map[string]any{"kind": "sign", "documents": []map[string]any{{"name": "a", "data": []byte("bid")}}})
	if _, err := w.scan(w.alice, s3.QR.Payload); err != nil {
		t.Fatal(err)
	}
	mustRefuse(t, w.alice.Do(ctx, "POST", "/v1/sessions/"+s3.ID+"/confirm", map[string]any{"credentials": []string{w.creds["alice/sm2/sign"].ID}, "code": s3.Code}, nil), protocol.CodeInvalidRequest)
	mustRefuse(t, w.alice.Do(ctx, "POST", "/v1/sessions/"+s3.ID+"/confirm", map[string]any{"credential": w.creds["alice/sm2/sign"].ID, "code": s3.Code}, nil), protocol.CodeInvalidRequest)
	if v := w.view(s3.ID); v.State != "scanned" {
		t.Fatalf("sign session after refusals: %s", v.State)
	}
}
