package api_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestBrowserDeviceAndHistory: a browser-like device (ECDSA P-256, the
// phone web app's WebCrypto key) enrolls from the operator's enrollment
// link, requests a credential, logs in (one wrong PIN first), and reads
// its own history: newest first, with the app's name and the failure's
// reason, paged, and without another user's entries.
func TestBrowserDeviceAndHistory(t *testing.T) {
	t.Parallel()
	w := sxNew(t)
	admin := map[string]string{"Authorization": "Bearer " + w.ts.AdminToken}
	var u struct {
		ID             string `json:"id"`
		ActivationCode string `json:"activation_code"`
		EnrollmentURL  string `json:"enrollment_url"`
	}
	w.must(w.do("POST", "/v1/admin/users", map[string]string{"name": "dora"}, admin), http.StatusCreated).decode(t, &u)
	if want := w.ts.URL + "/m/#activate=" + u.ActivationCode; u.EnrollmentURL != want {
		t.Fatalf("enrollment_url %q, want %q", u.EnrollmentURL, want)
	}
	code, _ := strings.CutPrefix(u.EnrollmentURL[strings.Index(u.EnrollmentURL, "#"):], "#activate=")

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(key.Public())
	var enrolled struct {
		Device struct {
			ID     string `json:"id"`
			KeyAlg string `json:"key_alg"`
		} `json:"device"`
	}
	w.must(w.do("POST", "/v1/enroll", map[string]string{
		"activation_code": code, "device_public_key": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
		"device_name": "Chrome on Android", "pin": sxPIN}, nil), http.StatusCreated).decode(t, &enrolled)
	if enrolled.Device.KeyAlg != "P-256" {
		t.Fatalf("device key_alg %q", enrolled.Device.KeyAlg)
	}
	dev := enrolled.Device.ID
	signed := func(method, path string, body any) *resp {
		t.Helper()
		return w.send(deviceRequest(t, method, w.url+path, body, dev, key, time.Now()))
	}
	var cred struct {
		Credential struct{ ID string } `json:"credential"`
	}
	w.must(signed("POST", "/v1/me/credentials", map[string]string{"issuer": "sm2", "alg": "SM2", "purpose": "sign", "pin": sxPIN}), http.StatusCreated).decode(t, &cred)

	// A login: scanned by this device, one wrong PIN, then the right one.
	s := w.create(map[string]any{"kind": "login", "origin": sxOrigin})
	var scanned sxScanned
	w.must(signed("POST", "/v1/scan", map[string]string{"payload": s.QR.Payload}), http.StatusOK).decode(t, &scanned)
	if len(scanned.Credentials) != 1 || scanned.Credentials[0].ID != cred.Credential.ID {
		t.Fatalf("scan offers %+v", scanned.Credentials)
	}
	w.refused(signed("POST", "/v1/sessions/"+s.ID+"/confirm", map[string]string{"credential": cred.Credential.ID, "pin": "246813", "code": s.Code}), http.StatusForbidden, "wrong_pin")
	w.must(signed("POST", "/v1/sessions/"+s.ID+"/confirm", map[string]string{"credential": cred.Credential.ID, "pin": sxPIN, "code": s.Code}), http.StatusOK)
	if v := w.view(s.ID); v.State != "completed" {
		t.Fatalf("session %s", v.State)
	}
	// Another user's login, which dora must not see.
	o := w.create(map[string]any{"kind": "login", "origin": sxOrigin})
	if _, err := w.scan(w.alice, o.QR.Payload); err != nil {
		t.Fatal(err)
	}
	if err := w.confirm(w.alice, o.ID, w.creds["alice/sm2/sign"].ID, sxPIN, o.Code); err != nil {
		t.Fatal(err)
	}

	type entry struct {
		Seq    int64  `json:"seq"`
		Action string `json:"action"`
		App    *struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"app"`
		Session string `json:"session"`
		Outcome string `json:"outcome"`
		Reason  string `json:"reason"`
		Digest  string `json:"digest"`
	}
	var h struct {
		Entries    []entry `json:"entries"`
		NextBefore int64   `json:"next_before"`
	}
	w.must(signed("GET", "/v1/me/history", nil), http.StatusOK).decode(t, &h)
	var got []string
	for _, e := range h.Entries {
		got = append(got, e.Action+":"+e.Outcome+":"+e.Reason)
		if e.Session != "" && e.Session != s.ID {
			t.Errorf("dora's history shows session %s", e.Session)
		}
	}
	want := []string{"login:ok:", "login:failed:wrong_pin", "credential.create:ok:", "device.enroll:ok:"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("history %v, want %v", got, want)
	}
	if a := h.Entries[0].App; a == nil || a.Name != "招标平台" || a.ID != w.appID || h.Entries[0].Digest == "" {
		t.Fatalf("login entry %+v", h.Entries[0])
	}
	if h.NextBefore != 0 {
		t.Fatalf("next_before %d on the only page", h.NextBefore)
	}

	// Paging: two at a time.
	var p1, p2 struct {
		Entries    []entry `json:"entries"`
		NextBefore int64   `json:"next_before"`
	}
	w.must(signed("GET", "/v1/me/history?limit=2", nil), http.StatusOK).decode(t, &p1)
	if len(p1.Entries) != 2 || p1.NextBefore != p1.Entries[1].Seq {
		t.Fatalf("first page %+v", p1)
	}
	w.must(signed("GET", "/v1/me/history?limit=2&before="+strconv.FormatInt(p1.NextBefore, 10), nil), http.StatusOK).decode(t, &p2)
	if len(p2.Entries) != 2 || p2.Entries[0].Action != "credential.create" || p2.Entries[1].Action != "device.enroll" {
		t.Fatalf("second page %+v", p2)
	}

	// Refusals: bad paging, no signature.
	w.refused(signed("GET", "/v1/me/history?limit=0", nil), http.StatusBadRequest, "invalid_request")
	w.refused(signed("GET", "/v1/me/history?limit=1&limit=2", nil), http.StatusBadRequest, "invalid_request")
	w.refused(signed("GET", "/v1/me/history?user="+w.alice.State.UserID, nil), http.StatusBadRequest, "invalid_request")
	w.refused(w.do("GET", "/v1/me/history", nil, nil), http.StatusUnauthorized, "missing_device_headers")
}

// TestWebAppRoutes: the gateway serves the phone web app at /m/ and at
// the QR payload URL, with its strict policy, instead of a JSON 404.
func TestWebAppRoutes(t *testing.T) {
	t.Parallel()
	w := newTSWorld(t)
	for _, tc := range []struct {
		path, ctype, cache string
		status             int
	}{
		{"/q/abcdefghij.klmnopqrstu", "text/html; charset=utf-8", "no-store", http.StatusOK},
		{"/m/", "text/html; charset=utf-8", "no-cache", http.StatusOK},
		{"/m/app.js", "text/javascript; charset=utf-8", "public, max-age=300", http.StatusOK},
		{"/m/manifest.webmanifest", "application/manifest+json", "no-cache", http.StatusOK},
		{"/m/sw.js", "text/javascript; charset=utf-8", "no-cache", http.StatusOK},
		{"/m/nothing.js", "", "", http.StatusNotFound},
		{"/q/a/b", "", "", http.StatusNotFound},
	} {
		resp, err := http.Get(w.url + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("GET %s: %d, want %d", tc.path, resp.StatusCode, tc.status)
			continue
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("GET %s: CSP %q", tc.path, csp)
		}
		if tc.status != http.StatusOK {
			continue
		}
		if got := resp.Header.Get("Content-Type"); got != tc.ctype {
			t.Errorf("GET %s: Content-Type %q, want %q", tc.path, got, tc.ctype)
		}
		if got := resp.Header.Get("Cache-Control"); got != tc.cache {
			t.Errorf("GET %s: Cache-Control %q, want %q", tc.path, got, tc.cache)
		}
		if resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("GET %s: X-Frame-Options %q", tc.path, resp.Header.Get("X-Frame-Options"))
		}
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(w.url + "/m")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/m/" {
		t.Fatalf("GET /m: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}
