package storage_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

func TestBoltConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		cfg := storagetest.TestBoltConfig(t.TempDir())
		// Out of step with the suite's 1 s TTLs, so that reads at the
		// moment of expiry meet keys the sweeper has not removed yet.
		cfg.SweepInterval = 300 * time.Millisecond
		s, err := storage.OpenBolt(cfg)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		return s // Run closes it
	})
}

// TestMustOpen checks the helper other packages' tests use.
func TestMustOpen(t *testing.T) {
	s := storagetest.MustOpen(t)
	if err := s.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := storagetest.PutKey(t.Context(), s, "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
}

func TestBoltReopen(t *testing.T) {
	storagetest.RunReopen(t, func(t *testing.T, dir string) storage.Store {
		s, err := storage.OpenBolt(storagetest.TestBoltConfig(dir))
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

func TestBoltConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*storage.BoltConfig)
		wantKey string // the setting the error must name; "" for valid
	}{
		{"default", func(*storage.BoltConfig) {}, ""},
		{"empty path", func(c *storage.BoltConfig) { c.Path = "" }, "path"},
		{"zero timeout", func(c *storage.BoltConfig) { c.Timeout = 0 }, "timeout"},
		{"negative timeout", func(c *storage.BoltConfig) { c.Timeout = -time.Second }, "timeout"},
		{"zero sweep", func(c *storage.BoltConfig) { c.SweepInterval = 0 }, "sweep_interval"},
		{"zero watch buffer", func(c *storage.BoltConfig) { c.WatchBuffer = 0 }, "watch_buffer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := storage.DefaultBoltConfig()
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
			if _, err := storage.OpenBolt(cfg); !errors.Is(err, storage.ErrInvalid) {
				t.Fatalf("OpenBolt with a bad config: %v, want ErrInvalid", err)
			}
		})
	}
}

// openWithin runs OpenBolt, failing the test if it does not return within
// storagetest.Deadline (a hang is the bug this guards against).
func openWithin(t *testing.T, cfg storage.BoltConfig) (*storage.Bolt, error) {
	t.Helper()
	type result struct {
		s   *storage.Bolt
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := storage.OpenBolt(cfg)
		done <- result{s, err}
	}()
	select {
	case r := <-done:
		if r.s != nil {
			t.Cleanup(func() { _ = r.s.Close() })
		}
		return r.s, r.err
	case <-time.After(storagetest.Deadline):
		t.Fatalf("OpenBolt(%s) hung for %s", cfg.Path, storagetest.Deadline)
		return nil, nil
	}
}

func TestBoltLockedInProcess(t *testing.T) {
	cfg := storagetest.TestBoltConfig(t.TempDir())
	first, err := openWithin(t, cfg)
	if err != nil {
		t.Fatalf("first open: %v", err)
	}
	cfg.Timeout = 200 * time.Millisecond
	if _, err := openWithin(t, cfg); !errors.Is(err, storage.ErrUnavailable) ||
		!strings.Contains(err.Error(), "locked by another process") || !strings.Contains(err.Error(), cfg.Path) {
		t.Fatalf("second open: %v, want ErrUnavailable saying %s is locked", err, cfg.Path)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := openWithin(t, cfg); err != nil {
		t.Fatalf("open after the holder closed: %v", err)
	}
}

const lockHelperEnv = "UKEYGATE_STORAGE_LOCK_HELPER_PATH"

// TestBoltLockHelperProcess is not a test: TestBoltLockedByAnotherProcess
// runs the test binary with it to hold the data file from another process.
func TestBoltLockHelperProcess(t *testing.T) {
	path := os.Getenv(lockHelperEnv)
	if path == "" {
		t.Skip("helper process of TestBoltLockedByAnotherProcess")
	}
	cfg := storage.DefaultBoltConfig()
	cfg.Path = path
	s, err := storage.OpenBolt(cfg)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("locked")
	_, _ = io.Copy(io.Discard, os.Stdin) // hold the lock until the parent closes stdin
	_ = s.Close()
	os.Exit(0)
}

func TestBoltLockedByAnotherProcess(t *testing.T) {
	cfg := storagetest.TestBoltConfig(t.TempDir())
	cmd := exec.Command(os.Args[0], "-test.run=^TestBoltLockHelperProcess$")
	cmd.Env = append(os.Environ(), lockHelperEnv+"="+cfg.Path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill() // our own child, by its pid
		_ = cmd.Wait()
	})
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- strings.TrimSpace(l)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case l := <-line:
		if l != "locked" {
			t.Fatalf("helper process said %q", l)
		}
	case <-time.After(storagetest.Deadline):
		t.Fatal("helper process did not lock the file")
	}

	cfg.Timeout = 300 * time.Millisecond
	_, err = openWithin(t, cfg)
	if !errors.Is(err, storage.ErrUnavailable) || !strings.Contains(err.Error(), cfg.Path+" is locked by another process") {
		t.Fatalf("open of a file locked by another process: %v, want ErrUnavailable saying it is locked", err)
	}

	_ = stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper process: %v", err)
	}
	cfg.Timeout = storagetest.Deadline
	if _, err := openWithin(t, cfg); err != nil {
		t.Fatalf("open after the other process exited: %v", err)
	}
}

// writeRaw creates a bbolt file at path with fn's content, bypassing the store.
func writeRaw(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestBoltUnreadableFile(t *testing.T) {
	garbage := make([]byte, 64<<10)
	if _, err := rand.Read(garbage); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		prepare func(t *testing.T, path string)
	}{
		{"random bytes", func(t *testing.T, path string) {
			if err := os.WriteFile(path, garbage, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"text file", func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte("issuers:\n  - id: root\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"truncated store", func(t *testing.T, path string) {
			s, err := storage.OpenBolt(storagetest.TestBoltConfig(filepath.Dir(path)))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := storagetest.PutKey(context.Background(), s, "k", []byte("v"), 0); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path, 1000); err != nil {
				t.Fatal(err)
			}
		}},
		{"both meta pages zeroed", func(t *testing.T, path string) {
			s, err := storage.OpenBolt(storagetest.TestBoltConfig(filepath.Dir(path)))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt(make([]byte, 2*os.Getpagesize()), 0); err != nil {
				t.Fatal(err)
			}
		}},
		{"another program's bbolt file", func(t *testing.T, path string) {
			writeRaw(t, path, func(tx *bolt.Tx) error {
				b, err := tx.CreateBucket([]byte("kv"))
				if err != nil {
					return err
				}
				return b.Put([]byte("x"), []byte("y"))
			})
		}},
		{"unknown format", func(t *testing.T, path string) {
			writeRaw(t, path, func(tx *bolt.Tx) error {
				b, err := tx.CreateBucket([]byte("meta"))
				if err != nil {
					return err
				}
				return b.Put([]byte("format"), []byte("ukeygate-kv-99"))
			})
		}},
		{"malformed revision", func(t *testing.T, path string) {
			writeRaw(t, path, func(tx *bolt.Tx) error {
				b, err := tx.CreateBucket([]byte("meta"))
				if err != nil {
					return err
				}
				if err := b.Put([]byte("format"), []byte("ukeygate-kv-1")); err != nil {
					return err
				}
				return b.Put([]byte("revision"), []byte("12"))
			})
		}},
		{"a directory", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := storagetest.TestBoltConfig(t.TempDir())
			tc.prepare(t, cfg.Path)
			_, err := openWithin(t, cfg)
			if !errors.Is(err, storage.ErrUnavailable) || !strings.Contains(err.Error(), cfg.Path) {
				t.Fatalf("open: %v, want ErrUnavailable naming %s", err, cfg.Path)
			}
		})
	}
}

func TestBoltDamagedValue(t *testing.T) {
	cfg := storagetest.TestBoltConfig(t.TempDir())
	s, err := storage.OpenBolt(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, k := range []string{"d/good", "d/bad"} {
		if _, err := storagetest.PutKey(ctx, s, k, []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	writeRaw(t, cfg.Path, func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("kv")).Put([]byte("d/bad"), []byte{9, 9, 9})
	})
	s, err = openWithin(t, cfg)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	if kv, err := s.Get(ctx, "d/good"); err != nil || string(kv.Value) != "v" {
		t.Fatalf("get of an intact key: %q, %v", kv.Value, err)
	}
	checks := []struct {
		name string
		call func() error
	}{
		{"get", func() error { _, err := s.Get(ctx, "d/bad"); return err }},
		{"list", func() error { _, _, err := s.List(ctx, "d/"); return err }},
		{"put over", func() error { _, err := storagetest.PutKey(ctx, s, "d/bad", []byte("v"), 0); return err }},
		{"condition", func() error { _, err := s.Txn(ctx, storage.IfAbsent("d/bad")); return err }},
	}
	for _, c := range checks {
		if err := c.call(); !errors.Is(err, storage.ErrUnavailable) || !strings.Contains(err.Error(), "damaged") {
			t.Errorf("%s of a damaged value: %v, want ErrUnavailable saying damaged", c.name, err)
		}
	}
}

func TestBoltCreatesDirectory(t *testing.T) {
	cfg := storagetest.TestBoltConfig(filepath.Join(t.TempDir(), "nested", "dir"))
	s, err := openWithin(t, cfg)
	if err != nil {
		t.Fatalf("open in a missing directory: %v", err)
	}
	if _, err := storagetest.PutKey(context.Background(), s, "k", nil, 0); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		t.Fatalf("data file mode %v is readable by others", perm)
	}
}

func TestBoltSlowWatcherDropped(t *testing.T) {
	cfg := storagetest.TestBoltConfig(t.TempDir())
	cfg.WatchBuffer = 4
	s, err := openWithin(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	slow, err := s.Watch(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 { // never blocks although nobody reads
		if _, err := storagetest.PutKey(ctx, s, "k"+strconv.Itoa(i), nil, 0); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for ev := range slow { // closed: the loop ends
		got = append(got, ev.KV.Key)
	}
	if want := []string{"k0", "k1", "k2", "k3"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("dropped watcher got %v, want the first %d events %v then a closed channel", got, cfg.WatchBuffer, want)
	}
	// A new watcher works.
	again, err := s.Watch(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	rev, err := storagetest.PutKey(ctx, s, "k10", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if ev := <-again; ev.KV.Key != "k10" || ev.KV.Revision != rev {
		t.Fatalf("new watcher got %+v", ev)
	}
}

// TestBoltExpiredBeforeSweep covers a key whose TTL has passed but that the
// sweeper has not deleted yet (the sweep interval is an hour): overwriting
// or deleting it must tell watchers about the expiry.
func TestBoltExpiredBeforeSweep(t *testing.T) {
	cfg := storagetest.TestBoltConfig(t.TempDir())
	cfg.SweepInterval = time.Hour
	s, err := openWithin(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, k := range []string{"a", "b"} {
		if _, err := storagetest.PutKey(ctx, s, k, []byte("old"), 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	kv, err := s.Get(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(kv.ExpiresAt) + 10*time.Millisecond) // wait for the clock
	if _, err := s.Get(ctx, "a"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("get of an expired, unswept key: %v, want ErrNotFound", err)
	}
	w, err := s.Watch(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	r1, err := storage.Create(ctx, s, "a", []byte("new"), 0)
	if err != nil {
		t.Fatalf("create over an expired key: %v", err)
	}
	r2, err := storagetest.DeleteKey(ctx, s, "b")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		fmt.Sprintf("%d a %d", storage.EventDelete, r1),
		fmt.Sprintf("%d a %d", storage.EventPut, r1),
		fmt.Sprintf("%d b %d", storage.EventDelete, r2),
	}
	for i, w0 := range want {
		ev := <-w
		if got := fmt.Sprintf("%d %s %d", ev.Type, ev.KV.Key, ev.KV.Revision); got != w0 {
			t.Fatalf("event %d = %s, want %s", i, got, w0)
		}
	}
}

// TestBoltSweepCleansFile checks, in the file itself, that the sweeper and
// overwrites leave neither expired keys nor stale TTL index entries.
func TestBoltSweepCleansFile(t *testing.T) {
	cfg := storagetest.TestBoltConfig(t.TempDir())
	s, err := openWithin(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	w, err := s.Watch(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	steps := []storage.Op{
		storage.Put("over", nil, time.Hour), storage.Put("over", []byte("x"), 0), // TTL replaced
		storage.Put("del", nil, time.Hour), storage.Delete("del"), // TTL'd key deleted
		storage.Put("renew", nil, time.Hour), storage.Put("renew", nil, 2*time.Hour), // TTL replaced by a TTL
		storage.Put("gone", nil, 50*time.Millisecond), // swept
	}
	for _, op := range steps {
		if _, err := s.Txn(ctx, op); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.After(storagetest.Deadline)
	for swept := false; !swept; {
		select {
		case ev := <-w:
			swept = ev.Type == storage.EventDelete && ev.KV.Key == "gone"
		case <-deadline:
			t.Fatal("no delete event for the expired key")
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(cfg.Path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var keys, index []string
	err = db.View(func(tx *bolt.Tx) error {
		if err := tx.Bucket([]byte("kv")).ForEach(func(k, _ []byte) error {
			keys = append(keys, string(k))
			return nil
		}); err != nil {
			return err
		}
		return tx.Bucket([]byte("ttl")).ForEach(func(k, _ []byte) error {
			index = append(index, string(k[8:]))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(keys, ",") != "over,renew" || strings.Join(index, ",") != "renew" {
		t.Fatalf("file holds keys %q and TTL index %q, want [over renew] and [renew]", keys, index)
	}
}

func TestBoltCloseWaitsForWriters(t *testing.T) {
	s := storagetest.MustOpenBolt(t)
	ctx := t.Context()
	var ok, closed atomic.Int64
	done := make(chan struct{})
	for g := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; ; i++ {
				_, err := storagetest.PutKey(ctx, s, fmt.Sprintf("%d/%d", g, i), nil, 0)
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, storage.ErrClosed):
					closed.Add(1)
					return
				default:
					t.Errorf("put: %v, want nil or ErrClosed", err)
					return
				}
			}
		}()
	}
	for ok.Load() < 50 {
		time.Sleep(time.Millisecond) // let writers get going; not a synchronisation
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for range 8 {
		<-done
	}
	if closed.Load() != 8 {
		t.Fatalf("%d writers saw ErrClosed, want 8", closed.Load())
	}
}

func benchStore(b *testing.B) *storage.Bolt {
	b.Helper()
	return storagetest.MustOpenBolt(b)
}

func BenchmarkBoltPutSerial(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	value := bytes.Repeat([]byte("v"), 256)
	i := 0
	for b.Loop() {
		if _, err := storagetest.PutKey(ctx, s, "bench/"+strconv.Itoa(i), value, 0); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkBoltPutParallel shows group commit: many concurrent writers
// share fsyncs, so ns/op is far below the serial benchmark's.
func BenchmarkBoltPutParallel(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	value := bytes.Repeat([]byte("v"), 256)
	var n atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := storagetest.PutKey(ctx, s, "bench/"+strconv.FormatInt(n.Add(1), 10), value, 0); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkBoltGet(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	value := bytes.Repeat([]byte("v"), 256)
	const keys = 1000
	ops := make([]storage.Op, 0, storage.MaxTxnOps)
	for i := range keys {
		ops = append(ops, storage.Put("bench/"+strconv.Itoa(i), value, 0))
		if len(ops) == cap(ops) || i == keys-1 {
			if _, err := s.Txn(ctx, ops...); err != nil {
				b.Fatal(err)
			}
			ops = ops[:0]
		}
	}
	i := 0
	for b.Loop() {
		if _, err := s.Get(ctx, "bench/"+strconv.Itoa(i%keys)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkBoltCAS(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	rev, err := storagetest.PutKey(ctx, s, "bench/cas", []byte("0"), 0)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if rev, err = storage.CompareAndSwap(ctx, s, "bench/cas", rev, []byte("x"), 0); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBoltFreelistSynced: the data file stores its freelist (boltOptions:
// a rolled-back write never makes bbolt scan the whole file), and a file
// written without it opens, gets it written, and reuses its free pages.
func TestBoltFreelistSynced(t *testing.T) {
	dir := t.TempDir()
	cfg := storagetest.TestBoltConfig(dir)
	ctx := context.Background()
	val := bytes.Repeat([]byte("v"), 1000)
	s, err := storage.OpenBolt(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		if _, err := s.Txn(ctx, storage.Put(fmt.Sprintf("k/%03d", i), val, 0)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 200; i += 2 { // free pages for the freelist
		if _, err := s.Txn(ctx, storage.Delete(fmt.Sprintf("k/%03d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if fl := metaFreelist(t, cfg.Path); fl == ^uint64(0) {
		t.Fatal("the last meta page names no freelist page: the freelist is not stored")
	}

	// A file written without its freelist (NoFreelistSync).
	db, err := bolt.Open(cfg.Path, 0o600, &bolt.Options{Timeout: time.Second, NoFreelistSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if fl := metaFreelist(t, cfg.Path); fl != ^uint64(0) {
		t.Fatalf("NoFreelistSync still names freelist page %d", fl)
	}
	s, err = storage.OpenBolt(cfg)
	if err != nil {
		t.Fatalf("open a file without a stored freelist: %v", err)
	}
	defer s.Close()
	if fl := metaFreelist(t, cfg.Path); fl == ^uint64(0) {
		t.Fatal("opening did not write the freelist back")
	}
	kvs, _, err := s.List(ctx, "k/")
	if err != nil || len(kvs) != 100 {
		t.Fatalf("after the reopens: %d keys, %v; want 100", len(kvs), err)
	}
	for i := 0; i < 200; i += 2 { // freed pages are found and reused
		if _, err := s.Txn(ctx, storage.Put(fmt.Sprintf("k/%03d", i), val, 0)); err != nil {
			t.Fatal(err)
		}
	}
	if kvs, _, err = s.List(ctx, "k/"); err != nil || len(kvs) != 200 {
		t.Fatalf("after rewriting: %d keys, %v; want 200", len(kvs), err)
	}
}

// metaFreelist reads the freelist page id of the data file's current meta
// page (the one with the higher transaction id): bbolt's page header is 16
// bytes, then the meta's magic, version, page size, flags (4 bytes each),
// the root bucket (16), the freelist page id, the high-water page id and
// the transaction id (8 bytes each), in the machine's byte order (little
// endian on every platform CI runs).
func metaFreelist(t *testing.T, path string) uint64 {
	t.Helper()
	f, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	le := func(b []byte) uint64 {
		var v uint64
		for i := 7; i >= 0; i-- {
			v = v<<8 | uint64(b[i])
		}
		return v
	}
	pageSize := int(uint32(f[24]) | uint32(f[25])<<8 | uint32(f[26])<<16 | uint32(f[27])<<24)
	best, fl := uint64(0), uint64(0)
	for _, off := range []int{0, pageSize} {
		m := f[off+16:]
		if txid := le(m[48:]); txid >= best {
			best, fl = txid, le(m[32:])
		}
	}
	return fl
}

// TestBoltCommitStats: concurrent writes share commits and are counted
// once each, with their time and pages; a transaction of conditions alone
// commits nothing; a compaction keeps the counts. (Rollbacks:
// TestCommitterFailingCallIsolated.)
func TestBoltCommitStats(t *testing.T) {
	s := storagetest.MustOpenBolt(t)
	ctx := t.Context()
	before := s.CommitStats()
	const writers, each = 8, 25
	done := make(chan error, writers)
	for g := range writers {
		go func() {
			for i := range each {
				if _, err := storagetest.PutKey(ctx, s, fmt.Sprintf("stats/%d/%d", g, i), []byte("v"), time.Minute); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range writers {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	st := s.CommitStats()
	txns := st.Transactions - before.Transactions
	commits := st.Commits - before.Commits
	if txns != writers*each {
		t.Fatalf("%d transactions counted, want %d", txns, writers*each)
	}
	if commits == 0 || commits > txns {
		t.Fatalf("%d commits for %d transactions", commits, txns)
	}
	if st.CommitTime <= before.CommitTime || st.DiskTime <= before.DiskTime || st.DiskTime > st.CommitTime {
		t.Fatalf("commit time %v, disk time %v (before %v, %v)", st.CommitTime, st.DiskTime, before.CommitTime, before.DiskTime)
	}
	if pages := st.PagesWritten - before.PagesWritten; pages < commits {
		t.Fatalf("%d pages written by %d commits", pages, commits)
	}
	if st.Rollbacks != before.Rollbacks {
		t.Fatalf("%d rollbacks without a failure", st.Rollbacks-before.Rollbacks)
	}

	// Conditions alone: a read transaction, no commit.
	kv, err := s.Get(ctx, "stats/0/0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Txn(ctx, storage.IfRevision("stats/0/0", kv.Revision)); err != nil {
		t.Fatal(err)
	}
	if got := s.CommitStats(); got.Commits != st.Commits || got.Transactions != st.Transactions {
		t.Fatalf("a transaction of conditions alone counted: %+v after %+v", got, st)
	}

	// A compaction (online, with a scrape running) keeps the counts.
	stop := make(chan struct{})
	scraped := make(chan struct{})
	go func() {
		defer close(scraped)
		for {
			select {
			case <-stop:
				return
			default:
				_ = s.CommitStats()
			}
		}
	}()
	err = s.Compact(ctx)
	close(stop)
	<-scraped
	if err != nil {
		t.Fatal(err)
	}
	if _, err := storagetest.PutKey(ctx, s, "stats/after", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if got := s.CommitStats(); got.Commits != st.Commits+1 || got.Transactions != st.Transactions+1 || got.PagesWritten <= st.PagesWritten || got.CommitTime <= st.CommitTime {
		t.Fatalf("after a compaction and one write: %+v, before %+v", got, st)
	}
}
