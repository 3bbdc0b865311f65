package api_test

import (
	"context"
	"encoding/pem"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/ukeygate/ukeygate/auth"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/phone"
)

const (
	testPIN  = "135790"
	testPIN2 = "246813"
)

// issuerJSON and credentialJSON are the parts of the answers the tests
// read.
type issuerJSON struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	Mode           string `json:"mode"`
	Alg            string `json:"alg"`
	CertificatePEM string `json:"certificate_pem"`
}

type credentialJSON struct {
	ID             string `json:"id"`
	User           string `json:"user"`
	Issuer         string `json:"issuer"`
	Alg            string `json:"alg"`
	Purpose        string `json:"purpose"`
	State          string `json:"state"`
	CertificatePEM string `json:"certificate_pem"`
	CSRPEM         string `json:"csr_pem"`
	Serial         string `json:"serial"`
}

// world is an API with three issuers (internal SM2 "sm2", internal RSA
// "rsa", external RSA "ext" run by openssl), an app, an enrolled user and
// their credentials.
type world struct {
	*env
	ext       *opensslCA
	issuers   map[string]issuerJSON
	userID    string
	code      string // the user's (used) activation code
	phone     *phone.Client
	sm2Cred   *phone.Credential // active
	rsaCred   *phone.Credential // active
	extSign   *phone.Credential // pending, then imported
	extCrypt  *phone.Credential // pending
	appKey    string
	appID     string
	secondKey string // a pending second user's activation code
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{env: newEnv(t, testAdminToken), ext: newOpenSSLCA(t, "External Test CA"), issuers: map[string]issuerJSON{}}
	for _, req := range []map[string]any{
		{"id": "sm2", "name": "SM2 根 CA", "mode": "internal", "alg": "SM2", "generate": true,
			"subject": map[string]string{"common_name": "ukeygate SM2 Test Root", "organization": "ukeygate", "country": "CN"},
			"profile": map[string]any{"algs": []string{"SM2"}}},
		{"id": "rsa", "name": "RSA Root", "mode": "internal", "alg": "RSA", "generate": true,
			"subject": map[string]string{"common_name": "ukeygate RSA Test Root"},
			"profile": map[string]any{"algs": []string{"RSA"}, "rsa_bits": []int{2048}}},
		{"id": "ext", "name": "External RSA CA", "mode": "external", "chain_pem": w.ext.cert,
			"profile": map[string]any{"algs": []string{"RSA"}, "rsa_bits": []int{2048}}},
	} {
		var iss issuerJSON
		w.must(w.admin("POST", "/v1/admin/issuers", req), http.StatusCreated).decode(t, &iss)
		if iss.ID != req["id"] || iss.Mode != req["mode"] || !strings.Contains(iss.CertificatePEM, "BEGIN CERTIFICATE") {
			t.Fatalf("issuer answer %+v for %v", iss, req["id"])
		}
		w.issuers[iss.ID] = iss
	}
	var app struct {
		ID     string `json:"id"`
		APIKey string `json:"api_key"`
	}
	w.must(w.admin("POST", "/v1/admin/apps", map[string]any{"name": "招标平台", "origins": []string{"https://bid.example.cn"}}), http.StatusCreated).decode(t, &app)
	w.appKey, w.appID = app.APIKey, app.ID

	var user struct {
		ID             string `json:"id"`
		ActivationCode string `json:"activation_code"`
	}
	w.must(w.admin("POST", "/v1/admin/users", map[string]string{"name": "张三", "id_number": "110101199003070011", "phone": "13800138000"}), http.StatusCreated).decode(t, &user)
	w.userID, w.code = user.ID, user.ActivationCode
	w.must(w.admin("POST", "/v1/admin/users", map[string]string{"name": "李四"}), http.StatusCreated).decode(t, &user)
	w.secondKey = user.ActivationCode

	ctx := context.Background()
	w.phone = w.env.phone()
	if _, err := w.phone.Enroll(ctx, w.code, "Test phone", testPIN); err != nil {
		t.Fatal(err)
	}
	var err error
	if w.sm2Cred, err = w.phone.RequestCredential(ctx, "sm2", "SM2", "sign", testPIN); err != nil {
		t.Fatal(err)
	}
	if w.rsaCred, err = w.phone.RequestCredential(ctx, "rsa", "RSA", "sign", testPIN); err != nil {
		t.Fatal(err)
	}
	if w.extSign, err = w.phone.RequestCredential(ctx, "ext", "RSA", "sign", testPIN); err != nil {
		t.Fatal(err)
	}
	if w.extCrypt, err = w.phone.RequestCredential(ctx, "ext", "RSA", "encrypt", testPIN); err != nil {
		t.Fatal(err)
	}
	return w
}

func TestAPIHappyPath(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()

	t.Run("issuers listed for the operator and the public", func(t *testing.T) {
		for _, path := range []string{"/v1/admin/issuers", "/v1/issuers"} {
			var list struct{ Issuers []issuerJSON }
			r := w.admin("GET", path, nil)
			if path == "/v1/issuers" {
				r = w.do("GET", path, nil, nil)
			}
			w.must(r, http.StatusOK).decode(t, &list)
			var ids []string
			for _, iss := range list.Issuers {
				ids = append(ids, iss.ID)
			}
			slices.Sort(ids)
			if !slices.Equal(ids, []string{"ext", "rsa", "sm2"}) {
				t.Fatalf("%s lists %v", path, ids)
			}
		}
	})

	t.Run("ca.pem", func(t *testing.T) {
		for id, iss := range w.issuers {
			r := w.must(w.do("GET", "/v1/issuers/"+id+"/ca.pem", nil, nil), http.StatusOK)
			if ct := r.header.Get("Content-Type"); ct != "application/x-pem-file" {
				t.Errorf("%s: Content-Type %q", id, ct)
			}
			if string(r.body) != iss.CertificatePEM {
				t.Errorf("%s: ca.pem differs from the issuer's certificate_pem", id)
			}
			if _, err := gmcrypto.ParseCertificatesPEM(r.body); err != nil {
				t.Errorf("%s: %v", id, err)
			}
		}
	})

	t.Run("apps", func(t *testing.T) {
		var list struct {
			Apps []map[string]any `json:"apps"`
		}
		w.must(w.admin("GET", "/v1/admin/apps", nil), http.StatusOK).decode(t, &list)
		if len(list.Apps) != 1 || list.Apps[0]["id"] != w.appID || list.Apps[0]["name"] != "招标平台" {
			t.Fatalf("apps %v", list.Apps)
		}
		if _, ok := list.Apps[0]["api_key"]; ok {
			t.Fatal("the app key is shown again")
		}
		if !strings.HasPrefix(w.appKey, auth.AppKeyPrefix) {
			t.Fatalf("app key %q", w.appKey)
		}
	})

	t.Run("users", func(t *testing.T) {
		var list struct {
			Users []map[string]any `json:"users"`
		}
		w.must(w.admin("GET", "/v1/admin/users", nil), http.StatusOK).decode(t, &list)
		if len(list.Users) != 2 {
			t.Fatalf("users %v", list.Users)
		}
		for _, u := range list.Users {
			if _, ok := u["activation_code"]; ok {
				t.Fatal("the activation code is shown again")
			}
			if u["id"] == w.userID && u["enrolled"] != true {
				t.Fatalf("user %v not enrolled", u)
			}
		}
		if !w.phone.State.Enrolled() || w.phone.State.UserID != w.userID || w.phone.State.UserName != "张三" {
			t.Fatalf("phone state %+v", w.phone.State)
		}
	})

	t.Run("internal issuers certify at once", func(t *testing.T) {
		for _, c := range []*phone.Credential{w.sm2Cred, w.rsaCred} {
			if c.State != "active" || c.User != w.userID {
				t.Fatalf("credential %+v", c)
			}
			certs, err := gmcrypto.ParseCertificatesPEM([]byte(c.CertificatePEM))
			if err != nil {
				t.Fatal(err)
			}
			issCerts, _ := gmcrypto.ParseCertificatesPEM([]byte(w.issuers[c.Issuer].CertificatePEM))
			if err := certs[0].CheckSignatureFrom(issCerts[0]); err != nil {
				t.Fatalf("%s credential not signed by its issuer: %v", c.Issuer, err)
			}
		}
	})

	t.Run("external issuer: pending, CSR signed by openssl, imported", func(t *testing.T) {
		if w.extSign.State != "pending" || !strings.Contains(w.extSign.CSRPEM, "CERTIFICATE REQUEST") {
			t.Fatalf("external credential %+v", w.extSign)
		}
		var list struct{ Credentials []credentialJSON }
		w.must(w.admin("GET", "/v1/admin/credentials?state=pending", nil), http.StatusOK).decode(t, &list)
		if len(list.Credentials) != 2 {
			t.Fatalf("pending: %+v", list.Credentials)
		}
		var found bool
		for _, c := range list.Credentials {
			found = found || c.ID == w.extSign.ID && c.CSRPEM == w.extSign.CSRPEM
		}
		if !found {
			t.Fatal("the pending credential's CSR is not listed")
		}
		cert := w.ext.signCSR(w.extSign.CSRPEM, "critical,digitalSignature,nonRepudiation")
		var out struct{ Credential credentialJSON }
		w.must(w.admin("POST", "/v1/admin/credentials/"+w.extSign.ID+"/certificate", map[string]string{"certificate_pem": cert}), http.StatusOK).decode(t, &out)
		if out.Credential.State != "active" || out.Credential.ID != w.extSign.ID {
			t.Fatalf("imported %+v", out.Credential)
		}
		w.must(w.admin("GET", "/v1/admin/credentials?state=pending", nil), http.StatusOK).decode(t, &list)
		if len(list.Credentials) != 1 || list.Credentials[0].ID != w.extCrypt.ID {
			t.Fatalf("pending after import: %+v", list.Credentials)
		}
	})

	t.Run("phone lists its credentials", func(t *testing.T) {
		list, err := w.phone.Credentials(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, c := range list {
			got[c.ID] = c.State
		}
		want := map[string]string{w.sm2Cred.ID: "active", w.rsaCred.ID: "active", w.extSign.ID: "active", w.extCrypt.ID: "pending"}
		if !maps.Equal(got, want) {
			t.Fatalf("credentials %v, want %v", got, want)
		}
		var only struct{ Credentials []credentialJSON }
		if err := w.phone.Do(ctx, "GET", "/v1/me/credentials?state=pending", nil, &only); err != nil {
			t.Fatal(err)
		}
		if len(only.Credentials) != 1 || only.Credentials[0].ID != w.extCrypt.ID {
			t.Fatalf("state=pending: %+v", only.Credentials)
		}
	})

	t.Run("revoke and CRL", func(t *testing.T) {
		var out struct{ Credential credentialJSON }
		w.must(w.admin("POST", "/v1/admin/credentials/"+w.sm2Cred.ID+"/revoke", map[string]string{"reason": "keyCompromise"}), http.StatusOK).decode(t, &out)
		if out.Credential.State != "revoked" {
			t.Fatalf("revoked: %+v", out.Credential)
		}
		r := w.must(w.do("GET", "/v1/issuers/sm2/crl", nil, nil), http.StatusOK)
		if ct := r.header.Get("Content-Type"); ct != "application/pkix-crl" {
			t.Fatalf("Content-Type %q", ct)
		}
		crl, err := smx509.ParseRevocationList(r.body)
		if err != nil {
			t.Fatal(err)
		}
		issCerts, _ := gmcrypto.ParseCertificatesPEM([]byte(w.issuers["sm2"].CertificatePEM))
		if err := crl.CheckSignatureFrom(issCerts[0]); err != nil {
			t.Fatalf("CRL signature: %v", err)
		}
		var serials []string
		for _, e := range crl.RevokedCertificateEntries {
			serials = append(serials, fmt.Sprintf("%x", e.SerialNumber))
		}
		if !slices.Contains(serials, strings.TrimLeft(w.sm2Cred.Serial, "0")) {
			t.Fatalf("CRL lists %v, not %s", serials, w.sm2Cred.Serial)
		}
		var list struct{ Credentials []credentialJSON }
		w.must(w.admin("GET", "/v1/admin/credentials?state=revoked", nil), http.StatusOK).decode(t, &list)
		if len(list.Credentials) != 1 || list.Credentials[0].ID != w.sm2Cred.ID {
			t.Fatalf("revoked list %+v", list.Credentials)
		}
	})

	t.Run("PIN change", func(t *testing.T) {
		if err := w.phone.ChangePIN(ctx, testPIN, testPIN2); err != nil {
			t.Fatal(err)
		}
		// The old PIN no longer works, the new one does.
		if _, err := w.phone.RequestCredential(ctx, "sm2", "SM2", "encrypt", testPIN); phone.Code(err) != "wrong_pin" {
			t.Fatalf("old PIN: %v", err)
		}
		c, err := w.phone.RequestCredential(ctx, "sm2", "SM2", "encrypt", testPIN2)
		if err != nil || c.State != "active" || c.Purpose != "encrypt" {
			t.Fatalf("new PIN: %+v, %v", c, err)
		}
	})

	t.Run("unknown paths and methods", func(t *testing.T) {
		r := w.do("GET", "/v1/nothing", nil, nil)
		if r.status != http.StatusNotFound || r.code != "not_found" {
			t.Fatalf("%d %s", r.status, r.code)
		}
		r = w.do("DELETE", "/v1/admin/issuers", nil, nil)
		if r.status != http.StatusMethodNotAllowed || r.code != "method_not_allowed" || !strings.Contains(r.header.Get("Allow"), "POST") {
			t.Fatalf("%d %s %v", r.status, r.code, r.header)
		}
	})
}

// TestActivationExpired: an expired code is refused and changes nothing.
func TestActivationExpired(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testAdminToken)
	var user struct {
		ActivationCode string `json:"activation_code"`
	}
	e.must(e.admin("POST", "/v1/admin/users", map[string]string{"name": "王五"}), http.StatusCreated).decode(t, &user)
	e.clock.Advance(73 * time.Hour)
	before := e.snapshot()
	p := e.phone()
	_, err := p.Enroll(context.Background(), user.ActivationCode, "phone", testPIN)
	var ae *phone.APIError
	if !asAPIError(err, &ae) || ae.Code != "activation_expired" || ae.Status != http.StatusGone {
		t.Fatalf("Enroll = %v", err)
	}
	if !maps.Equal(before, e.snapshot()) {
		t.Fatal("the store changed")
	}
}

// TestAdminDisabled: with no admin token every operator call is refused.
func TestAdminDisabled(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	for _, tok := range []string{"", "Bearer x", "Bearer " + testAdminToken} {
		before := e.snapshot()
		r := e.do("POST", "/v1/admin/users", map[string]string{"name": "x"}, map[string]string{"Authorization": tok})
		if r.status != http.StatusForbidden || r.code != "admin_disabled" {
			t.Fatalf("%q: %d %s", tok, r.status, r.code)
		}
		if !maps.Equal(before, e.snapshot()) {
			t.Fatal("the store changed")
		}
	}
	// The public endpoints still work.
	e.must(e.do("GET", "/v1/issuers", nil, nil), http.StatusOK)
}

func asAPIError(err error, target **phone.APIError) bool {
	ae, ok := err.(*phone.APIError)
	if ok {
		*target = ae
	}
	return ok
}

// pemBlock returns the first PEM block of s re-encoded with its bytes
// flipped in the middle (a well-formed PEM with a broken DER inside).
func corruptPEM(s string) string {
	b, _ := pem.Decode([]byte(s))
	der := append([]byte(nil), b.Bytes...)
	der[len(der)/2] ^= 0xff
	der = der[:len(der)-40]
	return string(pem.EncodeToMemory(&pem.Block{Type: b.Type, Bytes: der}))
}
