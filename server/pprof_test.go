package server

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// get fetches url and returns the status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: guard}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// servePublic serves s on a loopback listener (the public listener) until
// the test ends and returns its base URL.
func servePublic(t *testing.T, s *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(guard):
			t.Error("server did not stop")
		}
	})
	return "http://" + ln.Addr().String()
}

var pprofPaths = []string{"/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/symbol", "/debug/pprof/goroutine?debug=1",
	"/debug/pprof/profile?seconds=1", "/debug/pprof/trace?seconds=1"}

func TestPprofOffByDefault(t *testing.T) {
	s := newServer(t, testConfig(t), nil)
	if a := s.PprofAddr(); a != "" {
		t.Fatalf("PprofAddr %q with debug.pprof_listen unset", a)
	}
	public := servePublic(t, s)
	for _, p := range pprofPaths {
		if code, body := get(t, public+p); code != http.StatusNotFound {
			t.Errorf("public %s: %d %.80q, want 404", p, code, body)
		}
	}
}

func TestPprofOnItsOwnListener(t *testing.T) {
	cfg := testConfig(t)
	cfg.Debug.PprofListen = "127.0.0.1:0"
	s := newServer(t, cfg, nil)
	addr := s.PprofAddr()
	if addr == "" || strings.HasSuffix(addr, ":0") {
		t.Fatalf("PprofAddr %q", addr)
	}
	public := servePublic(t, s)
	if strings.TrimPrefix(public, "http://") == addr {
		t.Fatalf("pprof on the public address %s", addr)
	}
	dbg := "http://" + addr

	code, body := get(t, dbg+"/debug/pprof/")
	if code != http.StatusOK || !strings.Contains(body, "goroutine") || !strings.Contains(body, "profile") {
		t.Fatalf("pprof index: %d %.200q", code, body)
	}
	code, body = get(t, dbg+"/debug/pprof/goroutine?debug=1")
	if code != http.StatusOK || !strings.Contains(body, "goroutine profile:") {
		t.Fatalf("goroutine profile: %d %.200q", code, body)
	}
	// The public listener still has none of them …
	for _, p := range pprofPaths {
		if code, body := get(t, public+p); code != http.StatusNotFound {
			t.Errorf("public %s: %d %.80q, want 404", p, code, body)
		}
	}
	// … and the profiling listener has nothing else.
	for _, p := range []string{"/healthz", "/metrics", "/v1/sessions", "/"} {
		if code, _ := get(t, dbg+p); code != http.StatusNotFound {
			t.Errorf("pprof listener %s: %d, want 404", p, code)
		}
	}

	// Close stops the profiling listener too.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", addr, guard); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after Close", addr)
	}
}

func TestPprofBusyAddress(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := testConfig(t)
	cfg.Debug.PprofListen = busy.Addr().String()
	s, err := New(cfg, testKey(), nil)
	if err == nil {
		s.Close()
		t.Fatal("New with a busy debug.pprof_listen succeeded")
	}
	if !strings.Contains(err.Error(), "debug.pprof_listen") {
		t.Errorf("error %q does not name debug.pprof_listen", err)
	}
	// Nothing stayed open: the store opens again at once.
	cfg.Debug.PprofListen = ""
	s2, err := New(cfg, testKey(), nil)
	if err != nil {
		t.Fatalf("New after the refusal: %v", err)
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
}
