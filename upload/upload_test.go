package upload

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newService(t *testing.T) (*Service, storage.Store, *clock) {
	t.Helper()
	st := storagetest.MustOpen(t)
	cfg := DefaultConfig()
	cfg.MaxBytes = 64 << 10
	cfg.ChunkBytes = 4 << 10
	cfg.Key = bytes.Repeat([]byte{7}, gmcrypto.KeySize)
	c := &clock{t: time.Now()}
	cfg.Now = c.now
	s, err := New(st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, st, c
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func chunkKeys(t *testing.T, st storage.Store, id string) int {
	t.Helper()
	kvs, _, err := st.List(context.Background(), chunkPrefix(id))
	if err != nil {
		t.Fatal(err)
	}
	return len(kvs)
}

func TestUploadLifecycle(t *testing.T) {
	s, st, _ := newService(t)
	ctx := context.Background()
	data := randomBytes(t, 10<<10+17) // three chunks, the last short
	u, err := s.Put(ctx, "app_a", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if u.Size != int64(len(data)) || !bytes.Equal(u.SHA256, sum[:]) || !bytes.Equal(u.SM3, gmcrypto.SM3(data)) || u.Chunks != 3 || !ValidID(u.ID) {
		t.Fatalf("manifest %+v", u)
	}
	// At rest the chunks are sealed: the clear bytes are nowhere.
	kvs, _, _ := st.List(ctx, chunkPrefix(u.ID))
	for _, kv := range kvs {
		if bytes.Contains(kv.Value, data[:64]) || bytes.Contains(kv.Value, data[4<<10:4<<10+64]) {
			t.Fatal("a chunk is stored in clear")
		}
	}
	if _, _, err := s.Open(ctx, "app_b", u.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another app opens it: %v", err)
	}
	got, _, err := s.Open(ctx, "app_a", u.ID)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("open: %v", err)
	}
	if _, err := s.Claim(ctx, "app_b", u.ID, "c1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another app claims it: %v", err)
	}
	if _, err := s.Claim(ctx, "app_a", u.ID, "c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Claim(ctx, "app_a", u.ID, "c2"); !errors.Is(err, ErrUsed) {
		t.Fatalf("second claim: %v", err)
	}
	if err := s.Bind(ctx, "app_a", u.ID, "c2", "sess2"); !errors.Is(err, ErrUsed) {
		t.Fatalf("bind with another claim: %v", err)
	}
	if err := s.Bind(ctx, "app_a", u.ID, "c1", "sess1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read(ctx, "app_a", "sess2", u.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another session reads it: %v", err)
	}
	if got, err := s.Read(ctx, "app_a", "sess1", u.ID); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read: %v", err)
	}

	// The sweeper leaves it while its session runs, deletes it after.
	running := true
	ended := func(_ context.Context, id string) (bool, error) {
		if id != "sess1" {
			t.Errorf("asked about session %q", id)
		}
		return !running, nil
	}
	if n, err := s.Sweep(ctx, ended); err != nil || n != 0 || chunkKeys(t, st, u.ID) != 3 {
		t.Fatalf("sweep while running: %d %v", n, err)
	}
	running = false
	if n, err := s.Sweep(ctx, ended); err != nil || n != 1 || chunkKeys(t, st, u.ID) != 0 {
		t.Fatalf("sweep after the end: %d %v, %d chunks left", n, err, chunkKeys(t, st, u.ID))
	}
	if _, err := s.Read(ctx, "app_a", "sess1", u.ID); !errors.Is(err, ErrExpired) {
		t.Fatalf("read after sweep: %v", err)
	}
	if _, err := s.Claim(ctx, "app_a", u.ID, "c3"); !errors.Is(err, ErrUsed) {
		t.Fatalf("claim after use: %v", err)
	}
}

func TestUploadRefusals(t *testing.T) {
	s, st, clk := newService(t)
	ctx := context.Background()
	// Too large: refused, nothing left behind.
	_, err := s.Put(ctx, "app_a", bytes.NewReader(randomBytes(t, 64<<10+1)))
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("too large: %v", err)
	}
	if kvs, _, _ := st.List(ctx, "uploads/"); len(kvs) != 0 {
		t.Fatalf("%d keys left after a refused upload", len(kvs))
	}
	if _, err := s.Put(ctx, "app_a", strings.NewReader("")); !errors.Is(err, ErrEmpty) {
		t.Fatalf("empty: %v", err)
	}
	// Exactly the cap is fine.
	if _, err := s.Put(ctx, "app_a", bytes.NewReader(randomBytes(t, 64<<10))); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"", "upl_x", "../uploads/m/x", "upl_" + strings.Repeat("a", 26)} {
		if _, _, err := s.Open(ctx, "app_a", id); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%q: %v", id, err)
		}
	}

	// Expired: told apart from unknown; swept.
	u, err := s.Put(ctx, "app_a", strings.NewReader("%PDF-1.7 tiny"))
	if err != nil {
		t.Fatal(err)
	}
	clk.add(DefaultTTL)
	if _, err := s.Claim(ctx, "app_a", u.ID, "c"); !errors.Is(err, ErrExpired) {
		t.Fatalf("claim after the TTL: %v", err)
	}
	if n, err := s.Sweep(ctx, nil); err != nil || n != 2 || chunkKeys(t, st, u.ID) != 0 {
		t.Fatalf("sweep of expired uploads: %d %v", n, err)
	}

	// A claim whose session never came lapses; a release frees it.
	u, _ = s.Put(ctx, "app_a", strings.NewReader("%PDF-1.7 tiny"))
	if _, err := s.Claim(ctx, "app_a", u.ID, "c"); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, "app_a", u.ID, "other"); !errors.Is(err, ErrUsed) {
		t.Fatalf("release by another claim: %v", err)
	}
	if err := s.Release(ctx, "app_a", u.ID, "c"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Claim(ctx, "app_a", u.ID, "d"); err != nil {
		t.Fatalf("claim after release: %v", err)
	}
	clk.add(claimLapse + time.Second)
	if n, err := s.Sweep(ctx, nil); err != nil || n != 1 {
		t.Fatalf("sweep of a lapsed claim: %d %v", n, err)
	}

	// A changed chunk is found.
	u, _ = s.Put(ctx, "app_a", bytes.NewReader(randomBytes(t, 5000)))
	kv, err := st.Get(ctx, chunkKey(u.ID, 1))
	if err != nil {
		t.Fatal(err)
	}
	kv.Value[len(kv.Value)-1] ^= 1
	if _, err := st.Txn(ctx, storage.Put(kv.Key, kv.Value, time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Open(ctx, "app_a", u.ID); !errors.Is(err, ErrDamaged) {
		t.Fatalf("tampered chunk: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	good := DefaultConfig()
	good.Key = make([]byte, gmcrypto.KeySize)
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*Config){
		"max bytes":  func(c *Config) { c.MaxBytes = MaxMaxBytes + 1 },
		"ttl":        func(c *Config) { c.TTL = time.Second },
		"hold":       func(c *Config) { c.Hold = 0 },
		"chunk":      func(c *Config) { c.ChunkBytes = 2 << 20 },
		"no key":     func(c *Config) { c.Key = nil },
		"min upload": func(c *Config) { c.MaxBytes = 10 },
	} {
		c := good
		mod(&c)
		if err := c.Validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
