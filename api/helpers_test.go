package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ukeygate/ukeygate/api"
	"github.com/ukeygate/ukeygate/auth"
	"github.com/ukeygate/ukeygate/ca"
	"github.com/ukeygate/ukeygate/phone"
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

// env is one API over a real bbolt store, served on loopback.
type env struct {
	t     *testing.T
	url   string
	store storage.Store
	clock *testClock
	token string
}

// newEnv serves a fresh API; adminToken "" turns the operator API off.
func newEnv(t *testing.T, adminToken string) *env {
	t.Helper()
	st := storagetest.MustOpen(t)
	clk := &testClock{t: time.Now()}
	caCfg := ca.DefaultConfig()
	caCfg.Now = clk.Now
	svc, err := ca.New(st, bytes.Repeat([]byte{0x42}, 32), caCfg)
	if err != nil {
		t.Fatal(err)
	}
	devCfg := auth.DefaultDeviceConfig()
	devCfg.Now = clk.Now
	dv, err := auth.NewDeviceVerifier(st, api.DeviceKeys(svc), devCfg)
	if err != nil {
		t.Fatal(err)
	}
	h := api.New(api.Deps{
		CA:           svc,
		Apps:         auth.NewApps(st),
		Admin:        auth.NewAdmin(adminToken),
		Devices:      dv,
		MaxBodyBytes: testMaxBody,
		PublicURL:    "http://gw.example.test",
		Registerer:   prometheus.NewRegistry(),
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{t: t, url: srv.URL, store: st, clock: clk, token: adminToken}
}

// resp is an answer, with the error code decoded when there is one.
type resp struct {
	status int
	header http.Header
	body   []byte
	code   string
	field  string
}

func (r *resp) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

// rawBody is a body sent as is (not JSON-encoded).
type rawBody string

// do sends a request. body: nil (none), rawBody (as is) or anything else
// (JSON). hdr may set headers ("Content-Type" defaults to
// application/json when there is a body).
func (e *env) do(method, path string, body any, hdr map[string]string) *resp {
	e.t.Helper()
	var rd io.Reader = http.NoBody
	switch b := body.(type) {
	case nil:
	case rawBody:
		rd = strings.NewReader(string(b))
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
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
	return e.send(req)
}

func (e *env) send(req *http.Request) *resp {
	e.t.Helper()
	hr, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer hr.Body.Close()
	b, err := io.ReadAll(hr.Body)
	if err != nil {
		e.t.Fatal(err)
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
		if err := json.Unmarshal(b, &eb); err != nil || eb.Error.Code == "" || eb.Error.Message == "" {
			e.t.Fatalf("%s %s: error answer %d is not the protocol's JSON error: %s", req.Method, req.URL.Path, hr.StatusCode, b)
		}
		r.code, r.field = eb.Error.Code, eb.Error.Field
	}
	return r
}

// admin sends an operator request with the admin token.
func (e *env) admin(method, path string, body any) *resp {
	e.t.Helper()
	return e.do(method, path, body, map[string]string{"Authorization": "Bearer " + e.token})
}

// must checks the status of an answer.
func (e *env) must(r *resp, status int) *resp {
	e.t.Helper()
	if r.status != status {
		e.t.Fatalf("status %d (%s), want %d: %s", r.status, r.code, status, r.body)
	}
	return r
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

// needOpenSSL skips the test without the openssl CLI, except on CI where
// it must be there.
func needOpenSSL(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("openssl is required on CI")
		}
		t.Skip("openssl not installed")
	}
}

// openssl runs the openssl CLI in dir and returns its output.
func openssl(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("openssl", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
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
	needOpenSSL(t)
	dir := t.TempDir()
	openssl(t, dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
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
	openssl(c.t, c.dir, "x509", "-req", "-in", "req.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
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
	openssl(c.t, c.dir, "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key",
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
