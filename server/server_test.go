package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/config"
	"github.com/ukeygate/ukeygate/internal/testkit"
	"github.com/ukeygate/ukeygate/storage"
)

// guard bounds every wait of these tests; it is a failure guard, never a
// synchronisation.
const guard = 20 * time.Second

func testConfig(t *testing.T) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	cfg.Storage.Bolt.Timeout = 100 * time.Millisecond
	return cfg
}

func testKey() []byte { return bytes.Repeat([]byte{7}, MasterKeySize) }

func newServer(t *testing.T, cfg config.Config, logw io.Writer) *Server {
	t.Helper()
	if logw == nil {
		logw = io.Discard
	}
	s, err := New(cfg, testKey(), NewLogger(cfg.Log, logw))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// stubAPI stands for the api handler that wire builds, so that these
// tests check the server's own layer whatever the API answers: a mux
// answering JSON 404 under /v1/ and elsewhere.
func stubAPI() http.Handler {
	notFound := func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint: "+r.URL.Path)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/", notFound)
	mux.HandleFunc("/", notFound)
	return mux
}

type errorJSON struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func TestNewRefuses(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*config.Config)
		key     []byte
		wantIs  error
		wantMsg string
	}{
		{"bad config", func(c *config.Config) { c.Session.TTL = 0 }, testKey(), config.ErrInvalid, "config: session.ttl"},
		{"short key", func(*config.Config) {}, make([]byte, 16), ErrMasterKey, "has 16 bytes"},
		{"nil key", func(*config.Config) {}, nil, ErrMasterKey, "has 0 bytes"},
		{"etcd unreachable", func(c *config.Config) {
			c.Storage.Backend = config.BackendEtcd
			c.Storage.Etcd.Endpoints = []string{closedAddr(t)}
			c.Storage.Etcd.DialTimeout = 300 * time.Millisecond
		}, testKey(), storage.ErrUnavailable, "server: cannot open the store: etcd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			tt.mutate(&cfg)
			s, err := New(cfg, tt.key, nil)
			if err == nil {
				_ = s.Close()
				t.Fatal("New succeeded")
			}
			if !errors.Is(err, tt.wantIs) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("New() = %v, want %v containing %q", err, tt.wantIs, tt.wantMsg)
			}
		})
	}
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestLockedDataFile(t *testing.T) {
	cfg := testConfig(t)
	newServer(t, cfg, nil)
	s2, err := New(cfg, testKey(), nil)
	if err == nil {
		_ = s2.Close()
		t.Fatal("second server on the same data_dir opened the store")
	}
	if !errors.Is(err, ErrStore) || !errors.Is(err, storage.ErrUnavailable) || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("New() = %v, want ErrStore wrapping storage.ErrUnavailable and saying locked", err)
	}
}

func TestEndpoints(t *testing.T) {
	cfg := testConfig(t)
	cfg.HTTP.FrameAncestors = "'self' https://portal.example"
	cfg.HTTP.MaxBodyBytes = 1000
	s := newServer(t, cfg, nil)
	s.handler = s.buildHandler(stubAPI())
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()

	tests := []struct {
		method, path string
		body         string
		wantStatus   int
		wantCode     string // error code, or "" for {"status":"ok"}
	}{
		{"GET", "/healthz", "", 200, ""},
		{"GET", "/readyz", "", 200, ""},
		{"GET", "/v1/sessions", "", 404, "not_found"},
		{"POST", "/v1/sessions/abc/confirm", "{}", 404, "not_found"},
		{"GET", "/nowhere", "", 404, "not_found"},
		{"POST", "/v1/sessions", strings.Repeat("x", 1001), 413, "body_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, hs.URL+tt.path, strings.NewReader(tt.body))
			resp, err := hs.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tt.wantStatus, raw)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
			for h, want := range map[string]string{
				"X-Content-Type-Options":  "nosniff",
				"Referrer-Policy":         "no-referrer",
				"Content-Security-Policy": "default-src 'none'; frame-ancestors 'self' https://portal.example",
			} {
				if got := resp.Header.Get(h); got != want {
					t.Errorf("%s = %q, want %q", h, got, want)
				}
			}
			if tt.wantCode == "" {
				var body map[string]string
				if err := json.Unmarshal(raw, &body); err != nil || body["status"] != "ok" {
					t.Fatalf("body %s, want {\"status\":\"ok\"}", raw)
				}
				return
			}
			var e errorJSON
			if err := json.Unmarshal(raw, &e); err != nil || e.Error.Code != tt.wantCode || e.Error.Message == "" {
				t.Fatalf("body %s, want error code %q with a message", raw, tt.wantCode)
			}
		})
	}
}

func TestReadyWhenStoreDown(t *testing.T) {
	s := newServer(t, testConfig(t), nil)
	if err := s.Store().Close(); err != nil {
		t.Fatal(err)
	}
	rr := httptest.NewRecorder()
	s.Handler().ServeHTTP(rr, httptest.NewRequest("GET", "/readyz", nil))
	var e errorJSON
	if rr.Code != http.StatusServiceUnavailable || json.Unmarshal(rr.Body.Bytes(), &e) != nil || e.Error.Code != "not_ready" {
		t.Fatalf("readyz with a closed store: %d %s", rr.Code, rr.Body)
	}
	// Liveness does not depend on the store.
	rr = httptest.NewRecorder()
	s.Handler().ServeHTTP(rr, httptest.NewRequest("GET", "/healthz", nil))
	if rr.Code != http.StatusOK {
		t.Fatalf("healthz: %d", rr.Code)
	}
}

func TestPanicRecovery(t *testing.T) {
	var logs bytes.Buffer
	cfg := testConfig(t)
	cfg.Log.Format = "json"
	s := newServer(t, cfg, &logs)
	h := s.buildHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/late" {
			w.WriteHeader(http.StatusAccepted)
		}
		panic("boom in handler")
	}))
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest("GET", "/v1/x", nil))
	var e errorJSON
	if rr.Code != 500 || json.Unmarshal(rr.Body.Bytes(), &e) != nil || e.Error.Code != "internal" {
		t.Fatalf("panic answer: %d %s", rr.Code, rr.Body)
	}
	if strings.Contains(rr.Body.String(), "boom") {
		t.Errorf("the panic value leaked to the client: %s", rr.Body)
	}
	if !strings.Contains(logs.String(), "boom in handler") || !strings.Contains(logs.String(), "panic serving request") {
		t.Errorf("panic not logged: %s", logs.String())
	}
	// Headers already sent: the status stays, nothing is appended.
	rr = httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest("GET", "/late", nil))
	if rr.Code != http.StatusAccepted || rr.Body.Len() != 0 {
		t.Fatalf("late panic: %d %q", rr.Code, rr.Body)
	}
	// http.ErrAbortHandler keeps its meaning.
	h = s.buildHandler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }))
	func() {
		defer func() {
			if v := recover(); v != http.ErrAbortHandler {
				t.Errorf("recovered %v, want http.ErrAbortHandler passed on", v)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}()
}

func TestRequestLogAndMetrics(t *testing.T) {
	var logs testkit.SyncBuffer
	cfg := testConfig(t)
	cfg.Log.Format = "json"
	s := newServer(t, cfg, &logs)
	s.handler = s.buildHandler(stubAPI())
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	for _, p := range []string{"/healthz", "/healthz", "/v1/sessions/s1/events?token=SECRETTOKEN", "/x/y/z"} {
		resp, err := http.Get(hs.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, err := http.Get(hs.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`ukeygate_http_requests_total{code="200",route="GET /healthz"} 2`,
		`ukeygate_http_requests_total{code="404",route="/v1/"} 1`,
		`ukeygate_http_requests_total{code="404",route="/"} 1`,
		`ukeygate_http_request_duration_seconds_count{code="200",route="GET /healthz"} 2`,
		"go_goroutines ",
		"process_open_fds ",
		"ukeygate_store_committed_transactions_total ",
		"ukeygate_store_commit_rollbacks_total 0\n",
		"ukeygate_store_commit_seconds_total ",
		"ukeygate_store_commit_disk_seconds_total ",
		"ukeygate_store_commit_pages_total ",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(string(body), "s1") {
		t.Errorf("/metrics labels a raw path")
	}
	// The bbolt file's commits: opening the vault wrote at least once.
	if m := regexp.MustCompile(`(?m)^ukeygate_store_commits_total (\d+)$`).FindStringSubmatch(string(body)); m == nil || m[1] == "0" {
		t.Errorf("/metrics: ukeygate_store_commits_total %v, want a count above 0", m)
	}
	// info level: the /v1 request is logged, without its query string.
	var found bool
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if rec["msg"] == "http request" && rec["path"] == "/v1/sessions/s1/events" {
			found = rec["status"] == float64(404) && rec["method"] == "GET"
		}
		if rec["path"] == "/healthz" {
			t.Errorf("health checks are logged at info: %q", line)
		}
	}
	if !found {
		t.Errorf("request not logged: %s", logs.String())
	}
	if strings.Contains(logs.String(), "SECRETTOKEN") {
		t.Errorf("query string logged: %s", logs.String())
	}
}

func TestHTTPServerTimeouts(t *testing.T) {
	cfg := testConfig(t)
	cfg.HTTP.ReadHeaderTimeout = 3 * time.Second
	cfg.HTTP.ReadTimeout = 4 * time.Second
	cfg.HTTP.WriteTimeout = 45 * time.Second
	cfg.HTTP.IdleTimeout = 6 * time.Second
	srv, err := newServer(t, cfg, nil).httpServer()
	if err != nil {
		t.Fatal(err)
	}
	if srv.ReadHeaderTimeout != 3*time.Second || srv.ReadTimeout != 4*time.Second ||
		srv.WriteTimeout != 45*time.Second || srv.IdleTimeout != 6*time.Second {
		t.Fatalf("timeouts not from config: %+v", srv)
	}
}

// slowServer is a Server whose API handler blocks /v1/slow until release
// is closed.
func slowServer(t *testing.T, cfg config.Config) (s *Server, entered chan struct{}, release chan struct{}) {
	s = newServer(t, cfg, nil)
	entered = make(chan struct{}, 10)
	release = make(chan struct{})
	s.handler = s.buildHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		writeJSON(w, http.StatusOK, map[string]string{"slow": "done"})
	}))
	return s, entered, release
}

func TestGracefulShutdown(t *testing.T) {
	s, entered, release := slowServer(t, testConfig(t))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()

	type result struct {
		status int
		body   string
		err    error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get(url + "/v1/slow")
		if err != nil {
			got <- result{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- result{status: resp.StatusCode, body: string(b)}
	}()
	waitFor(t, entered, "the slow request to arrive")

	cancel()
	waitFor(t, s.Stopping(), "Stopping() to close")
	select {
	case err := <-served:
		t.Fatalf("Serve returned %v while a request was in flight", err)
	default:
	}
	close(release)

	select {
	case r := <-got:
		if r.err != nil || r.status != 200 || !strings.Contains(r.body, "done") {
			t.Fatalf("in-flight request: %+v, want 200 done", r)
		}
	case <-time.After(guard):
		t.Fatal("in-flight request never finished")
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve() = %v, want nil after a graceful shutdown", err)
		}
	case <-time.After(guard):
		t.Fatal("Serve did not return")
	}
	if err := s.Store().Ping(context.Background()); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("store after Serve: Ping() = %v, want ErrClosed", err)
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Fatal("server still answers after Serve returned")
	}
}

func TestShutdownGraceExpires(t *testing.T) {
	cfg := testConfig(t)
	cfg.HTTP.ShutdownTimeout = 50 * time.Millisecond
	s, entered, release := slowServer(t, cfg)
	defer close(release)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	clientErr := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/v1/slow")
		if err == nil {
			resp.Body.Close()
		}
		clientErr <- err
	}()
	waitFor(t, entered, "the slow request to arrive")
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve() = %v", err)
		}
	case <-time.After(guard):
		t.Fatal("Serve did not return after the grace period")
	}
	select {
	case err := <-clientErr:
		if err == nil {
			t.Fatal("the stuck request got an answer; want its connection cut")
		}
	case <-time.After(guard):
		t.Fatal("the stuck request's connection was not closed")
	}
}

func TestServeTLS(t *testing.T) {
	cfg := testConfig(t)
	certPEM := writeSelfSigned(t, &cfg)
	s := newServer(t, cfg, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	client := &http.Client{Timeout: guard, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Fatalf("TLS healthz: %d tls=%v hsts=%q", resp.StatusCode, resp.TLS != nil, resp.Header.Get("Strict-Transport-Security"))
	}
	client.CloseIdleConnections()
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}

func TestServeBadCertificate(t *testing.T) {
	cfg := testConfig(t)
	cfg.TLS.CertFile = filepath.Join(cfg.DataDir, "missing.pem")
	cfg.TLS.KeyFile = filepath.Join(cfg.DataDir, "missing.key")
	s := newServer(t, cfg, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	err = s.Serve(context.Background(), ln)
	if err == nil || !strings.Contains(err.Error(), "missing.pem") {
		t.Fatalf("Serve() = %v, want an error naming the certificate file", err)
	}
	if err := s.Store().Ping(context.Background()); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("store left open: %v", err)
	}
}

func TestListenBusyPort(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := testConfig(t)
	cfg.Listen = busy.Addr().String()
	ln, err := Listen(cfg)
	if err == nil {
		ln.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "cannot listen on "+cfg.Listen) {
		t.Fatalf("Listen() = %v", err)
	}
}

func TestCloseTwice(t *testing.T) {
	s := newServer(t, testConfig(t), nil)
	var order []string
	s.onClose(func() error { order = append(order, "first"); return nil })
	s.onClose(func() error { order = append(order, "second"); return nil })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close() = %v", err)
	}
	if strings.Join(order, ",") != "second,first" {
		t.Fatalf("closers ran as %v", order)
	}
	if s.ctx.Err() == nil {
		t.Fatal("server context not cancelled by Close")
	}
}

func waitFor[T any](t *testing.T, ch <-chan T, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(guard):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// writeSelfSigned writes a self-signed 127.0.0.1 certificate and its key
// under cfg.DataDir, sets cfg.TLS and returns the certificate PEM.
func writeSelfSigned(t *testing.T, cfg *config.Config) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	cfg.TLS.CertFile = filepath.Join(cfg.DataDir, "tls.pem")
	cfg.TLS.KeyFile = filepath.Join(cfg.DataDir, "tls.key")
	if err := os.WriteFile(cfg.TLS.CertFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg.TLS.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certPEM
}
