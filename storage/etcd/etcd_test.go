package etcd_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/etcd"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// syncBuffer collects the server's output for failure messages.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// startEtcd runs a real single-member etcd on free loopback ports until the
// test ends and returns its client URL and a function that kills it
// earlier. Without an etcd binary the test is skipped, except in CI
// (CI=true), where that is a failure.
func startEtcd(t *testing.T) (string, func()) {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("etcd binary not found in PATH and CI=true: install it (apt-get install -y etcd-server)")
		}
		t.Skip("etcd binary not found in PATH: install it with apt-get install -y etcd-server to run the etcd tests")
	}
	client := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	peer := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	dir := t.TempDir()
	cmd := exec.Command(bin,
		"--name", "default",
		"--data-dir", filepath.Join(dir, "data"),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "default="+peer,
		"--logger=zap", "--log-level=warn")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start etcd: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = cmd.Process.Kill() // our own child, by its pid
			<-exited
		})
	}
	t.Cleanup(stop)

	deadline := time.Now().Add(storagetest.Deadline)
	httpc := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case err := <-exited:
			exited <- err // for stop
			t.Fatalf("etcd exited before becoming healthy: %v\n%s", err, out.String())
		default:
		}
		if resp, err := httpc.Get(client + "/health"); err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.Contains(string(body), `"health":"true"`) {
				return client, stop
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcd not healthy after %s\n%s", storagetest.Deadline, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func openStore(t *testing.T, endpoint, prefix string) *etcd.Store {
	t.Helper()
	cfg := etcd.DefaultConfig()
	cfg.Endpoints = []string{endpoint}
	cfg.Prefix = prefix
	s, err := etcd.Open(cfg)
	if err != nil {
		t.Fatalf("open etcd store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestEtcd runs everything against one server: starting etcd costs about a
// second.
func TestEtcd(t *testing.T) {
	endpoint, _ := startEtcd(t)

	t.Run("Conformance", func(t *testing.T) {
		storagetest.Run(t, func(t *testing.T) storage.Store {
			return openStore(t, endpoint, "test/"+t.Name()+"/")
		})
	})

	t.Run("Reopen", func(t *testing.T) {
		storagetest.RunReopen(t, func(t *testing.T, dir string) storage.Store {
			return openStore(t, endpoint, "reopen"+dir+"/")
		})
	})

	t.Run("PrefixIsolation", func(t *testing.T) {
		ctx := t.Context()
		a := openStore(t, endpoint, "iso/a/")
		b := openStore(t, endpoint, "iso/ab/")
		wa, err := a.Watch(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := storage.PutKey(ctx, b, "k", []byte("b"), 0); err != nil {
			t.Fatal(err)
		}
		ra, err := storage.PutKey(ctx, a, "k", []byte("a"), 0)
		if err != nil {
			t.Fatal(err)
		}
		if kvs, _, err := a.List(ctx, ""); err != nil || len(kvs) != 1 || string(kvs[0].Value) != "a" {
			t.Fatalf("list of prefix a sees %v, %v; want only its own key", kvs, err)
		}
		if ev := <-wa; ev.KV.Key != "k" || string(ev.KV.Value) != "a" || ev.KV.Revision != ra {
			t.Fatalf("watch of prefix a got %+v, want only its own put", ev)
		}
	})

	t.Run("Unreachable", func(t *testing.T) {
		cfg := etcd.DefaultConfig()
		cfg.Endpoints = []string{fmt.Sprintf("http://127.0.0.1:%d", freePort(t))}
		cfg.DialTimeout = 500 * time.Millisecond
		done := make(chan error, 1)
		go func() {
			s, err := etcd.Open(cfg)
			if s != nil {
				_ = s.Close()
			}
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, storage.ErrUnavailable) {
				t.Fatalf("open of an unreachable cluster: %v, want ErrUnavailable", err)
			}
		case <-time.After(storagetest.Deadline):
			t.Fatal("open of an unreachable cluster hung")
		}
	})

	t.Run("ServerStops", func(t *testing.T) {
		// A second server, killed under an open store: calls fail with
		// ErrUnavailable within RequestTimeout instead of hanging.
		own, stopOwn := startEtcd(t)
		cfg := etcd.DefaultConfig()
		cfg.Endpoints = []string{own}
		cfg.RequestTimeout = 500 * time.Millisecond
		s, err := etcd.Open(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.Ping(t.Context()); err != nil {
			t.Fatal(err)
		}
		stopOwn()
		for name, call := range map[string]func() error{
			"ping": func() error { return s.Ping(context.Background()) },
			"get":  func() error { _, err := s.Get(context.Background(), "k"); return err },
			"put":  func() error { _, err := storage.PutKey(context.Background(), s, "k", nil, 0); return err },
		} {
			if err := call(); !errors.Is(err, storage.ErrUnavailable) {
				t.Errorf("%s with the server gone: %v, want ErrUnavailable", name, err)
			}
		}
	})
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*etcd.Config)
		wantKey string
	}{
		{"default", func(*etcd.Config) {}, ""},
		{"empty prefix is allowed", func(c *etcd.Config) { c.Prefix = "" }, ""},
		{"no endpoints", func(c *etcd.Config) { c.Endpoints = nil }, "endpoints"},
		{"blank endpoint", func(c *etcd.Config) { c.Endpoints = []string{"http://a:2379", " "} }, "endpoints[1]"},
		{"zero dial timeout", func(c *etcd.Config) { c.DialTimeout = 0 }, "dial_timeout"},
		{"zero request timeout", func(c *etcd.Config) { c.RequestTimeout = 0 }, "request_timeout"},
		{"zero watch buffer", func(c *etcd.Config) { c.WatchBuffer = 0 }, "watch_buffer"},
		{"NUL in prefix", func(c *etcd.Config) { c.Prefix = "a\x00" }, "prefix"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := etcd.DefaultConfig()
			tc.mutate(&cfg)
			err := cfg.Validate()
			if tc.wantKey == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if !errors.Is(err, storage.ErrInvalid) || !strings.Contains(err.Error(), tc.wantKey) {
				t.Fatalf("Validate = %v, want ErrInvalid naming %q", err, tc.wantKey)
			}
			if _, err := etcd.Open(cfg); !errors.Is(err, storage.ErrInvalid) {
				t.Fatalf("Open with a bad config: %v, want ErrInvalid", err)
			}
		})
	}
}
