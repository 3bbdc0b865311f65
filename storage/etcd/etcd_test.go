package etcd_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/internal/testkit"
	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/etcd"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

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
	endpoint := testkit.StartEtcd(t)

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
		if _, err := storagetest.PutKey(ctx, b, "k", []byte("b"), 0); err != nil {
			t.Fatal(err)
		}
		ra, err := storagetest.PutKey(ctx, a, "k", []byte("a"), 0)
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
		cfg.Endpoints = []string{"http://" + testkit.FreeAddr(t)}
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
		own := testkit.RunEtcd(t)
		cfg := etcd.DefaultConfig()
		cfg.Endpoints = []string{own.URL}
		cfg.RequestTimeout = 500 * time.Millisecond
		s, err := etcd.Open(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.Ping(t.Context()); err != nil {
			t.Fatal(err)
		}
		own.Stop()
		for name, call := range map[string]func() error{
			"ping": func() error { return s.Ping(context.Background()) },
			"get":  func() error { _, err := s.Get(context.Background(), "k"); return err },
			"put":  func() error { _, err := storagetest.PutKey(context.Background(), s, "k", nil, 0); return err },
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
