package e2e

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/portal"
	"github.com/ukeygate/ukeygate/server/servertest"
)

const (
	testPIN    = "135790"
	testOrigin = "https://bid.example.cn"
	// flowTimeout guards one session's whole flow; a healthy one takes
	// milliseconds.
	flowTimeout = 60 * time.Second
)

// world is a running gateway with an SM2 and an RSA internal issuer, a
// portal app and one enrolled user holding a signing and an encryption
// credential of each algorithm.
type world struct {
	ts     *servertest.TS
	pc     *portal.Client
	appID  string
	appKey string
	userID string
	phone  *phone.Client
	// creds by "SM2-sign", "SM2-encrypt", "RSA-sign", "RSA-encrypt".
	creds map[string]*phone.Credential
	// issuerPEM is each issuer's certificate, by algorithm.
	issuerPEM map[string]string
}

// issuerOf is the issuer id of each algorithm.
var issuerOf = map[string]string{"SM2": "sm2", "RSA": "rsa"}

func newWorld(t *testing.T) *world {
	t.Helper()
	ts := servertest.Start(t)
	var issuers []operator.IssuerRequest
	for _, alg := range []string{"SM2", "RSA"} {
		req := seed.Generated(issuerOf[alg], alg, "e2e "+alg+" Root")
		req.Subject.Organization, req.Subject.Country = "ukeygate e2e", "CN"
		issuers = append(issuers, req)
	}
	var creds []seed.Credential
	for _, alg := range []string{"SM2", "RSA"} {
		creds = append(creds, seed.Sign(issuerOf[alg], alg), seed.Encrypt(issuerOf[alg], alg))
	}
	sw := seed.Make(t, ts.URL, ts.AdminToken, seed.Spec{
		Issuers:  issuers,
		Apps:     []operator.AppRequest{{Name: "招标平台 e2e", Origins: []string{testOrigin}}},
		Users:    []seed.User{{Name: "张三", Credentials: creds}},
		PIN:      testPIN,
		NewPhone: newPhone(ts),
	})
	app, user := sw.Apps[0], sw.Users[0]
	w := &world{ts: ts, appID: app.ID, appKey: app.APIKey, userID: user.ID, phone: user.Phone,
		pc:    &portal.Client{BaseURL: ts.URL, AppKey: app.APIKey, Origin: testOrigin},
		creds: map[string]*phone.Credential{}, issuerPEM: map[string]string{}}
	for _, alg := range []string{"SM2", "RSA"} {
		w.issuerPEM[alg] = sw.Issuers[issuerOf[alg]].CertificatePEM
		for _, purpose := range []string{"sign", "encrypt"} {
			w.creds[alg+"-"+purpose] = user.Credentials[issuerOf[alg]+"/"+purpose]
		}
	}
	return w
}

// newPhone makes the phones of the e2e tests: on ts, with the flow
// timeout.
func newPhone(ts *servertest.TS) func() *phone.Client {
	return func() *phone.Client {
		return &phone.Client{BaseURL: ts.URL, State: &phone.State{}, HTTP: &http.Client{Timeout: flowTimeout}}
	}
}

// admin is the operator client of ts.
func admin(ts *servertest.TS) *operator.Client {
	return &operator.Client{BaseURL: ts.URL, Token: ts.AdminToken}
}

// addApp registers a portal app on ts with testOrigin.
func addApp(t testing.TB, ts *servertest.TS, name string) *operator.App {
	t.Helper()
	app, err := admin(ts).AddApp(context.Background(), operator.AppRequest{Name: name, Origins: []string{testOrigin}})
	if err != nil {
		t.Fatal(err)
	}
	return app
}

// auditEntries is the whole audit log of ts.
func auditEntries(t testing.TB, ts *servertest.TS) []operator.AuditEntry {
	t.Helper()
	entries, err := admin(ts).AllAudit(context.Background(), operator.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

// enrollUser adds a user and enrolls a phone for them.
func enrollUser(t testing.TB, ts *servertest.TS, name string) (string, *phone.Client) {
	t.Helper()
	u := seed.Make(t, ts.URL, ts.AdminToken, seed.Spec{Users: []seed.User{{Name: name}}, PIN: testPIN, NewPhone: newPhone(ts)}).Users[0]
	return u.ID, u.Phone
}

// flow runs one session through both reference clients: the portal
// creates it and watches its websocket; the phone scans the QR payload and
// confirms with the credential, the PIN and the code the portal shows. It
// returns the session and its final (completed) event.
func (w *world) flow(t *testing.T, req portal.SessionRequest, cred string) (*portal.Session, *portal.Event) {
	t.Helper()
	if req.Origin == "" {
		req.Origin = testOrigin
	}
	if req.Display.Title == "" {
		req.Display = portal.Display{Title: "e2e " + string(req.Kind), Summary: "an end-to-end test"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), flowTimeout)
	defer cancel()
	s, err := w.pc.CreateSession(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	return s, w.finish(t, s, req.Kind, cred)
}

// finish watches s, scans and confirms it with cred, and returns the
// final event after checking the event stream.
func (w *world) finish(t *testing.T, s *portal.Session, kind portal.Kind, cred string) *portal.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), flowTimeout)
	defer cancel()
	events, err := w.pc.Watch(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	scan, err := w.phone.Scan(ctx, s.QR.Payload)
	if err != nil {
		t.Fatal(err)
	}
	ss := scan.Session
	if ss.ID != s.ID || ss.Kind != kind || ss.App.ID != w.appID || ss.App.Name != "招标平台 e2e" || ss.Origin != testOrigin ||
		len(ss.CodeChoices) != 3 || !slices.Contains(ss.CodeChoices, s.Code) {
		t.Fatalf("the phone sees %+v for session %s (code %s)", ss, s.ID, s.Code)
	}
	credID := w.creds[cred].ID
	if !slices.ContainsFunc(scan.Credentials, func(c phone.Credential) bool { return c.ID == credID }) {
		t.Fatalf("credential %s (%s) is not offered: %+v", credID, cred, scan.Credentials)
	}
	state, err := w.phone.Confirm(ctx, s.ID, credID, testPIN, s.Code)
	if err != nil || state != portal.StateCompleted {
		t.Fatalf("confirm: %q, %v", state, err)
	}
	var got []portal.Event
	for ev := range events {
		got = append(got, ev)
	}
	var states []string
	for i, ev := range got {
		if ev.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d: %+v", i, ev.Seq, got)
		}
		states = append(states, string(ev.State))
	}
	if strings.Join(states, ",") != "waiting,scanned,completed" {
		t.Fatalf("events %v, want waiting, scanned, completed", states)
	}
	final := got[len(got)-1]
	return &final
}

// files writes name → content into a fresh directory and returns it.
func files(t *testing.T, m map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for name, b := range m {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func readFile(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func firstCertPEM(t *testing.T, chainPEM string) string {
	t.Helper()
	i := strings.Index(chainPEM, "-----END CERTIFICATE-----")
	if i < 0 {
		t.Fatalf("no certificate in %q", chainPEM)
	}
	return chainPEM[:i+len("-----END CERTIFICATE-----")] + "\n"
}
