package etcd_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

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

// TestCostPerWrite counts, with etcd's own metrics, what a session-like
// write pattern costs the cluster: create a key with a TTL only if absent,
// read it, then replace it only if unchanged (still with a TTL), as a
// session is created, read and claimed. Conditions are compared inside the
// write transaction (no read round trip of their own) and the TTLs share
// bucket leases (no grant per write), so each conditional write is one
// proposal and no range read beyond the caller's Get.
func TestCostPerWrite(t *testing.T) {
	own := testkit.RunEtcd(t)
	s := openStore(t, own.URL, "cost/")
	ctx := t.Context()
	const n = 100
	ttl := 2 * time.Minute
	before := testkit.ReadEtcdCounters(t, own.URL)
	for i := range n {
		key := fmt.Sprintf("sessions/%03d", i)
		if _, err := storage.Create(ctx, s, key, []byte("waiting"), ttl); err != nil {
			t.Fatal(err)
		}
		kv, err := s.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := storage.CompareAndSwap(ctx, s, key, kv.Revision, []byte("claimed"), ttl); err != nil {
			t.Fatal(err)
		}
		// A stale revision still conflicts, without writing.
		if _, err := storage.CompareAndSwap(ctx, s, key, kv.Revision, []byte("again"), ttl); !errors.Is(err, storage.ErrConflict) {
			t.Fatalf("CAS on a stale revision: %v, want ErrConflict", err)
		}
		if kv, err := s.Get(ctx, key); err != nil || string(kv.Value) != "claimed" {
			t.Fatalf("after the refused CAS: %q, %v", kv.Value, err)
		}
	}
	c := testkit.ReadEtcdCounters(t, own.URL).Sub(before).Per(n)
	t.Logf("per create + get + CAS + refused CAS + get: %s", c)
	// Three write transactions (the refused CAS is one too: a transaction
	// with comparisons goes through raft whatever its outcome); a bucket's
	// lease is granted once per 10 s bucket of expiries, so a handful in all.
	if c.Proposals > 3.1 {
		t.Errorf("%.2f proposals per round, want at most 3 (a lease grant or a condition read per write is back?)", c.Proposals)
	}
	if c.LeaseGrants*n > 5 {
		t.Errorf("%.0f lease grants for %d rounds, want one per expiry bucket", c.LeaseGrants*n, n)
	}
	// Round trips: the two Gets, and one transaction per write (no read of
	// the conditions before it).
	if c.RangeRPCs > 2.01 || c.TxnRPCs > 3.01 {
		t.Errorf("%.2f Range and %.2f Txn calls per round, want 2 and 3", c.RangeRPCs, c.TxnRPCs)
	}
}

// TestLeaseGoneEarly: when a bucket's shared lease is revoked by hand
// (etcdctl lease revoke), the next write with a TTL gets a new lease
// instead of failing.
func TestLeaseGoneEarly(t *testing.T) {
	own := testkit.RunEtcd(t)
	s := openStore(t, own.URL, "gone/")
	ctx := t.Context()
	if _, err := storagetest.PutKey(ctx, s, "a", []byte("1"), time.Minute); err != nil {
		t.Fatal(err)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{own.URL}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	leases, err := cli.Leases(ctx)
	if err != nil || len(leases.Leases) != 1 {
		t.Fatalf("leases: %+v, %v; want the one bucket lease", leases, err)
	}
	if _, err := cli.Revoke(ctx, leases.Leases[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "a"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("a after its lease was revoked: %v, want ErrNotFound", err)
	}
	if _, err := storagetest.PutKey(ctx, s, "b", []byte("2"), time.Minute); err != nil {
		t.Fatalf("put after the lease was revoked: %v", err)
	}
	if kv, err := s.Get(ctx, "b"); err != nil || string(kv.Value) != "2" || kv.ExpiresAt.IsZero() {
		t.Fatalf("b: %+v, %v", kv, err)
	}
}
