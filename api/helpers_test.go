package api_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ukeygate/ukeygate/api"
	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/auth"
	"github.com/ukeygate/ukeygate/ca"
	"github.com/ukeygate/ukeygate/internal/testkit"
	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/privacy"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/server/servertest"
	"github.com/ukeygate/ukeygate/session"
	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

// testClock is the clock of the CA and the device verifier. It starts at
// the real time so that openssl, which checks against the wall clock,
// agrees.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const testAdminToken = "admin-token-for-the-api-tests"

// testMaxBody is the body limit of the test API: small, so that the limit
// is easy to cross.
const testMaxBody = 64 << 10

// client sends the tests' requests to one server (url) and checks its
// answers; every test world of the package embeds it.
type client struct {
	t   *testing.T
	url string
}

// env is one API over a real bbolt store, served on loopback.
type env struct {
	client
	store storage.Store
	clock *testClock
	token string
	svc   *ca.Service
	log   *audit.Log // nil unless envOpts.audit
	api   *api.API   // what it serves (for what a node does at start)
}

// envOpts are what the test APIs differ in.
type envOpts struct {
	adminToken string // "" turns the operator API off
	maxBody    int64
	audit      bool // with an audit log
	sessions   bool // with sessions on the env's clock (needs audit to confirm)
}

// envMaster is the master key of the test APIs' CA and audit log.
var envMaster = bytes.Repeat([]byte{0x42}, 32)

// newEnv serves a fresh API with the small test body limit; adminToken ""
// turns the operator API off.
func newEnv(t *testing.T, adminToken string) *env {
	t.Helper()
	return newEnvWith(t, envOpts{adminToken: adminToken, maxBody: testMaxBody})
}

// newEnvWith serves a fresh API, the CA and the device verifier on the
// env's clock.
func newEnvWith(t *testing.T, o envOpts) *env {
	t.Helper()
	st := storagetest.MustOpen(t)
	clk := &testClock{t: time.Now()}
	caCfg := ca.DefaultConfig()
	caCfg.Now = clk.Now
	svc, err := ca.New(st, envMaster, caCfg)
	if err != nil {
		t.Fatal(err)
	}
	devCfg := auth.DefaultDeviceConfig()
	devCfg.Now = clk.Now
	dv, err := auth.NewDeviceVerifier(st, api.DeviceKeys(svc), devCfg)
	if err != nil {
		t.Fatal(err)
	}
	var log *audit.Log
	if o.audit {
		if log, err = audit.New(st, envMaster, clk.Now); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = log.Close() })
	}
	pd := privacy.Deps{CA: svc, Devices: dv, Store: st}
	if log != nil {
		pd.Audit = log
	}
	priv, err := privacy.New(privacy.DefaultConfig(), pd)
	if err != nil {
		t.Fatal(err)
	}
	var sessions *session.Service
	if o.sessions {
		cfg := session.DefaultConfig()
		cfg.PublicURL = "http://gw.example.test"
		cfg.Now = clk.Now
		cfg.ResultKey = bytes.Repeat([]byte{0x24}, 16)
		if sessions, err = session.New(st, cfg); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sessions.Close() })
	}
	h := api.New(api.Deps{
		Sessions:     sessions,
		Privacy:      priv,
		CA:           svc,
		Apps:         auth.NewApps(st),
		Admin:        auth.NewAdmin(o.adminToken).UseStore(st),
		Devices:      dv,
		MaxBodyBytes: o.maxBody,
		PublicURL:    "http://gw.example.test",
		Registerer:   prometheus.NewRegistry(),
		Audit:        log,
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{client: client{t: t, url: srv.URL}, store: st, clock: clk, token: o.adminToken, svc: svc, log: log, api: h}
}

// resp is an answer, with the error decoded when there is one.
type resp struct {
	status int
	header http.Header
	body   []byte
	code   string
	field  string
	detail map[string]any // the whole error object
}

func (r *resp) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

// rawBody is a body sent as is (not JSON-encoded).
type rawBody string

// do sends a request to path (on the server) or to an absolute http(s)
// URL. body: nil (none), rawBody (as is) or anything else (JSON). hdr
// sets headers, and deletes those set to "" ("Content-Type" defaults to
// application/json when there is a body).
func (c *client) do(method, path string, body any, hdr map[string]string) *resp {
	c.t.Helper()
	var rd io.Reader = http.NoBody
	switch b := body.(type) {
	case nil:
	case rawBody:
		rd = strings.NewReader(string(b))
	default:
		j, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	url := c.url + path
	if strings.HasPrefix(path, "http://") || strings.HasPrefix(path, "https://") {
		url = path
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	return c.send(req)
}

// send sends req; an error answer must be the protocol's JSON error.
func (c *client) send(req *http.Request) *resp {
	c.t.Helper()
	hr, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer hr.Body.Close()
	b, err := io.ReadAll(hr.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	r := &resp{status: hr.StatusCode, header: hr.Header, body: b}
	if hr.StatusCode >= 400 {
		var eb struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
				Field   string `json:"field"`
			} `json:"error"`
		}
		var whole struct {
			Error map[string]any `json:"error"`
		}
		if json.Unmarshal(b, &eb) != nil || json.Unmarshal(b, &whole) != nil || eb.Error.Code == "" || eb.Error.Message == "" {
			c.t.Fatalf("%s %s: error answer %d is not the protocol's JSON error: %s", req.Method, req.URL.Path, hr.StatusCode, b)
		}
		r.code, r.field, r.detail = eb.Error.Code, eb.Error.Field, whole.Error
	}
	return r
}

// must checks the status of an answer.
func (c *client) must(r *resp, status int) *resp {
	c.t.Helper()
	if r.status != status {
		c.t.Fatalf("status %d (%s), want %d: %s", r.status, r.code, status, r.body)
	}
	return r
}

// refused checks a refusal's status and code.
func (c *client) refused(r *resp, status int, code string) *resp {
	c.t.Helper()
	if r.status != status || r.code != code {
		c.t.Fatalf("got %d %q, want %d %q: %s", r.status, r.code, status, code, r.body)
	}
	return r
}

// deviceRequest builds a request to url signed by device dev with key at
// time at, as a phone signs it; body nil (none) or JSON. (http.NewRequest
// gives it a GetBody, so that it can be sent again.)
func deviceRequest(t *testing.T, method, url string, body any, dev string, key crypto.Signer, at time.Time) *http.Request {
	t.Helper()
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, url, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if err := protocol.SignRequest(req, raw, dev, key, at); err != nil {
		t.Fatal(err)
	}
	return req
}

// tsWorld is a whole server (servertest: real config, bbolt file, audit
// log, sessions, loopback HTTP and websockets): the base of the lifecycle
// (lc) and session (sx) tests.
type tsWorld struct {
	client
	ts *servertest.TS
}

func newTSWorld(t *testing.T) tsWorld {
	t.Helper()
	ts := servertest.Start(t)
	return tsWorld{client: client{t: t, url: ts.URL}, ts: ts}
}

// newPhone returns a phone client (not yet enrolled) of the server.
func (w *tsWorld) newPhone() *phone.Client {
	return &phone.Client{BaseURL: w.ts.URL, State: &phone.State{}}
}

// signed sends a request signed by phone p's device key (body nil or
// JSON).
func (w *tsWorld) signed(p *phone.Client, method, path string, body any) *resp {
	w.t.Helper()
	key, err := p.State.Key()
	if err != nil {
		w.t.Fatal(err)
	}
	return w.send(deviceRequest(w.t, method, w.url+path, body, p.State.DeviceID, key, time.Now()))
}

// admin sends an operator request with the admin token.
func (e *env) admin(method, path string, body any) *resp {
	e.t.Helper()
	return e.do(method, path, body, map[string]string{"Authorization": "Bearer " + e.token})
}

// phone returns a phone client (not yet enrolled) on the env's clock.
func (e *env) phone() *phone.Client {
	return &phone.Client{BaseURL: e.url, State: &phone.State{}, Now: e.clock.Now}
}

// snapshot is every key of the store with its revision, except consumed
// device nonces (which a verified request always leaves behind).
func (e *env) snapshot() map[string]int64 {
	e.t.Helper()
	kvs, _, err := e.store.List(context.Background(), "")
	if err != nil {
		e.t.Fatal(err)
	}
	m := make(map[string]int64, len(kvs))
	for _, kv := range kvs {
		if strings.HasPrefix(kv.Key, "nonces/") {
			continue
		}
		m[kv.Key] = kv.Revision
	}
	return m
}

// opensslCA is a CA run by openssl in a temporary directory, the
// "external" CA of the tests.
type opensslCA struct {
	t    *testing.T
	dir  string
	cert string // PEM
}

func newOpenSSLCA(t *testing.T, cn string) *opensslCA {
	t.Helper()
	testkit.OpenSSL(t)
	dir := t.TempDir()
	testkit.RunOpenSSL(t, dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
		"-days", "30", "-subj", "/CN="+cn+"/O=ukeygate tests",
		"-addext", "basicConstraints=critical,CA:TRUE",
		"-addext", "keyUsage=critical,keyCertSign,cRLSign")
	b, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return &opensslCA{t: t, dir: dir, cert: string(b)}
}

// signCSR issues a certificate for csrPEM with the given keyUsage
// extension value (e.g. "critical,digitalSignature,nonRepudiation").
func (c *opensslCA) signCSR(csrPEM, keyUsage string) string {
	c.t.Helper()
	if err := os.WriteFile(filepath.Join(c.dir, "req.csr"), []byte(csrPEM), 0o600); err != nil {
		c.t.Fatal(err)
	}
	ext := "basicConstraints=critical,CA:FALSE\nkeyUsage=" + keyUsage + "\n"
	if err := os.WriteFile(filepath.Join(c.dir, "ext.cnf"), []byte(ext), 0o600); err != nil {
		c.t.Fatal(err)
	}
	testkit.RunOpenSSL(c.t, c.dir, "x509", "-req", "-in", "req.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
		"-set_serial", "0x"+randomHex(c.t, 12), "-days", "10", "-sha256", "-extfile", "ext.cnf", "-out", "cert.pem")
	b, err := os.ReadFile(filepath.Join(c.dir, "cert.pem"))
	if err != nil {
		c.t.Fatal(err)
	}
	return string(b)
}

// otherKeyCert is a certificate for a fresh key signed by the CA: right
// chain, wrong key for any credential.
func (c *opensslCA) otherKeyCert(keyUsage string) string {
	c.t.Helper()
	testkit.RunOpenSSL(c.t, c.dir, "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key",
		"-subj", "/CN=someone else", "-out", "other.csr")
	b, err := os.ReadFile(filepath.Join(c.dir, "other.csr"))
	if err != nil {
		c.t.Fatal(err)
	}
	return c.signCSR(string(b), keyUsage)
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "1" + hex.EncodeToString(b)[1:] // positive, no leading zero
}
