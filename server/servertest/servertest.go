package servertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/config"
	"github.com/ukeygate/ukeygate/server"
)

// stopTimeout guards the wait for a stopping server; a healthy one stops
// in milliseconds.
const stopTimeout = 30 * time.Second

// TS is a running test server.
type TS struct {
	// URL is the base URL, e.g. "http://127.0.0.1:41234" (also
	// Config.PublicURL unless a mutate function set another).
	URL string
	// AdminToken is the operator API bearer token.
	AdminToken string
	// Config is the configuration the server runs with.
	Config config.Config
	// Server is the running server (Store(), Config(), …); Restart
	// replaces it.
	Server *server.Server

	t      testing.TB
	master []byte
	logw   *logWriter
	cancel context.CancelFunc
	done   chan error
	mu     sync.Mutex
}

// Start starts a server and stops it in t.Cleanup. The configuration is
// config.Default() with a fresh data_dir, a random admin token, a master
// key file created as `ukeygate init` would, rate limits off, info logs into t.Log, a
// short bolt lock timeout and shutdown grace, and listen/public_url on a
// free loopback port; each mutate function may then change it (set
// PublicURL to keep it from being replaced by the real address). A failure
// stops the test.
func Start(t testing.TB, mutate ...func(*config.Config)) *TS {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.AdminToken = randomHex(t, 24)
	cfg.Log = config.LogConfig{Level: "info", Format: "text"}
	cfg.Storage.Bolt.Timeout = 2 * time.Second
	cfg.HTTP.ShutdownTimeout = 5 * time.Second
	cfg.PublicURL = ""
	// Tests drive thousands of requests from one loopback address; the
	// budgets are off unless a mutate function turns them on (the tests of
	// the budgets do).
	cfg.RateLimit.Enabled = false
	for _, m := range mutate {
		m(&cfg)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("servertest: listen: %v", err)
	}
	addr := ln.Addr().String()
	cfg.Listen = addr
	scheme := "http"
	if cfg.TLS.Enabled() {
		scheme = "https"
	}
	url := scheme + "://" + addr
	if cfg.PublicURL == "" {
		cfg.PublicURL = url
	}

	var master []byte
	if cfg.MasterKey != "" {
		master, err = server.LoadMasterKey(cfg)
	} else {
		if _, err = server.CreateMasterKey(cfg); err != nil && !errors.Is(err, server.ErrMasterKeyExists) {
			_ = ln.Close()
			t.Fatalf("servertest: %v", err)
		}
		master, err = server.LoadMasterKey(cfg)
	}
	if err != nil {
		_ = ln.Close()
		t.Fatalf("servertest: %v", err)
	}

	ts := &TS{URL: url, AdminToken: cfg.AdminToken, Config: cfg, t: t, master: master,
		logw: &logWriter{t: t}}
	t.Cleanup(func() {
		ts.Stop()
		ts.logw.close()
	})
	if err := ts.start(ln); err != nil {
		t.Fatalf("servertest: %v", err)
	}
	return ts
}

// start builds the server and serves it on ln.
func (ts *TS) start(ln net.Listener) error {
	srv, err := server.New(ts.Config, ts.master, server.NewLogger(ts.Config.Log, ts.logw))
	if err != nil {
		_ = ln.Close()
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	ts.mu.Lock()
	ts.Server, ts.cancel, ts.done = srv, cancel, done
	ts.mu.Unlock()
	return nil
}

// Stop shuts the server down gracefully and waits for it (store closed).
// It is safe to call more than once; Cleanup calls it.
func (ts *TS) Stop() {
	ts.t.Helper()
	ts.mu.Lock()
	cancel, done := ts.cancel, ts.done
	ts.cancel, ts.done = nil, nil
	ts.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			ts.t.Errorf("servertest: server stopped with error: %v", err)
		}
	case <-time.After(stopTimeout):
		ts.t.Errorf("servertest: server did not stop within %s", stopTimeout)
	}
	// The tests' default client keeps idle keep-alive connections to the
	// stopped server in its pool. Its reader notices the server's close
	// only when scheduled: a request right after a Restart could still take
	// such a connection and fail writing a large body ("broken pipe"; a
	// POST is not retried). Dropping them makes the next request dial.
	if tr, ok := http.DefaultTransport.(*http.Transport); ok {
		tr.CloseIdleConnections()
	}
}

// Restart stops the server and starts a new one on the same address, data
// directory and master key, as a process restart would.
func (ts *TS) Restart() {
	ts.t.Helper()
	ts.Stop()
	var ln net.Listener
	var err error
	// The port was just released by this process; rebinding it normally
	// succeeds at once, the loop only guards against a slow close.
	deadline := time.Now().Add(stopTimeout)
	for {
		ln, err = net.Listen("tcp", ts.Config.Listen)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		ts.t.Fatalf("servertest: restart: listen %s: %v", ts.Config.Listen, err)
	}
	if err := ts.start(ln); err != nil {
		ts.t.Fatalf("servertest: restart: %v", err)
	}
}

// NewAdminRequest builds a request to ts.URL+path carrying the admin
// token, for the operator API; a non-empty body is sent as JSON.
func (ts *TS) NewAdminRequest(method, path string, body string) *http.Request {
	ts.t.Helper()
	var r *http.Request
	var err error
	if body == "" {
		r, err = http.NewRequest(method, ts.URL+path, nil)
	} else {
		r, err = http.NewRequest(method, ts.URL+path, strings.NewReader(body))
		if err == nil {
			r.Header.Set("Content-Type", "application/json")
		}
	}
	if err != nil {
		ts.t.Fatalf("servertest: %v", err)
	}
	r.Header.Set("Authorization", "Bearer "+ts.AdminToken)
	return r
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("servertest: %v", err)
	}
	return hex.EncodeToString(b)
}

// logWriter sends the server's log lines to t.Log until the test's cleanup
// ends; later lines (a websocket goroutine outliving the test) are dropped
// instead of panicking. It also keeps the last maxKeptLogLines lines for
// LogLines.
type logWriter struct {
	mu     sync.Mutex
	t      testing.TB
	closed bool
	kept   []string
}

// maxKeptLogLines bounds what a logWriter keeps for LogLines.
const maxKeptLogLines = 4096

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		line := strings.TrimRight(string(p), "\n")
		w.t.Log(line)
		if len(w.kept) == maxKeptLogLines {
			w.kept = slices.Delete(w.kept, 0, maxKeptLogLines/4)
		}
		w.kept = append(w.kept, line)
	}
	return len(p), nil
}

// LogLines returns the server's log lines so far (the last few thousand,
// across restarts) that contain every one of parts, oldest first.
func (ts *TS) LogLines(parts ...string) []string {
	ts.logw.mu.Lock()
	defer ts.logw.mu.Unlock()
	var out []string
	for _, l := range ts.logw.kept {
		if !slices.ContainsFunc(parts, func(p string) bool { return !strings.Contains(l, p) }) {
			out = append(out, l)
		}
	}
	return out
}

func (w *logWriter) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
}
