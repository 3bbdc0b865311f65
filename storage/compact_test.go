package storage_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

// TestBoltCompactDropsOldCopies: after values are deleted, the data file
// may keep them in freed pages; Compact rewrites it with the live keys
// only, keeps every live key, its revision and TTL, the store revision and
// open watches, and the store goes on working, also under concurrent
// writes.
func TestBoltCompactDropsOldCopies(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := storagetest.TestBoltConfig(dir)
	s, err := storage.OpenBolt(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	secret := "secret-" + strings.Repeat("x", 40)
	for i := range 50 {
		if _, err := storagetest.PutKey(ctx, s, "gone/"+secret+string(rune('a'+i%26))+strings.Repeat("y", i), []byte(secret), 0); err != nil {
			t.Fatal(err)
		}
	}
	keep, err := storagetest.PutKey(ctx, s, "keep/a", []byte("kept"), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	events, err := s.Watch(ctx, "keep/")
	if err != nil {
		t.Fatal(err)
	}
	kvs, _, _ := s.List(ctx, "gone/")
	for _, kv := range kvs {
		if _, err := storagetest.DeleteKey(ctx, s, kv.Key); err != nil {
			t.Fatal(err)
		}
	}
	_, revBefore, _ := s.List(ctx, "")
	if raw, err := os.ReadFile(cfg.Path); err != nil || !bytes.Contains(raw, []byte(secret)) {
		t.Fatalf("before compaction the file should still hold deleted values in freed pages (the check sees nothing): %v", err)
	}

	var wg sync.WaitGroup
	stop := make(chan struct{})
	var werr error
	wg.Add(1)
	go func() { // writes while the file is rewritten
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := storagetest.PutKey(ctx, s, "busy/k", []byte{byte(i)}, 0); err != nil {
				werr = err
				return
			}
		}
	}()
	if err := s.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	if werr != nil {
		t.Fatalf("a write during compaction: %v", werr)
	}

	kv, err := s.Get(ctx, "keep/a")
	if err != nil || string(kv.Value) != "kept" || kv.Revision != keep || kv.ExpiresAt.IsZero() {
		t.Fatalf("live key after compaction: %+v %v", kv, err)
	}
	_, revAfter, _ := s.List(ctx, "")
	if revAfter < revBefore {
		t.Fatalf("revision went back from %d to %d", revBefore, revAfter)
	}
	rev, err := storagetest.PutKey(ctx, s, "keep/b", []byte("new"), 0)
	if err != nil || rev <= revAfter {
		t.Fatalf("write after compaction: rev %d (was %d) %v", rev, revAfter, err)
	}
	select {
	case ev := <-events:
		if ev.KV.Key != "keep/b" {
			t.Fatalf("watch after compaction: %+v", ev)
		}
	case <-time.After(time.Minute):
		t.Fatal("the watch opened before compaction saw nothing")
	}
	raw, err := os.ReadFile(cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(secret)) {
		t.Fatal("the data file still holds a deleted value after compaction")
	}
	if _, err := os.Stat(cfg.Path + ".compact"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the compaction's temporary file stayed: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Compact(ctx); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("Compact after Close = %v", err)
	}
}

// BenchmarkBoltCompact: rewriting a data file of 20,000 live values of
// 1 KiB (about 25 MB with its index) after as many were deleted: every
// call of the store waits this long while it runs.
func BenchmarkBoltCompact(b *testing.B) {
	ctx := context.Background()
	s, err := storage.OpenBolt(storagetest.TestBoltConfig(b.TempDir()))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	val := bytes.Repeat([]byte{0xa5}, 1024)
	for _, prefix := range []string{"live/", "gone/"} {
		for i := 0; i < 20000; i += 100 {
			ops := make([]storage.Op, 0, 100)
			for j := i; j < i+100; j++ {
				ops = append(ops, storage.Put(fmt.Sprintf("%s%08d", prefix, j), val, 0))
			}
			if _, err := s.Txn(ctx, ops...); err != nil {
				b.Fatal(err)
			}
		}
	}
	kvs, _, _ := s.List(ctx, "gone/")
	for i := 0; i < len(kvs); i += 100 {
		ops := make([]storage.Op, 0, 100)
		for _, kv := range kvs[i:min(i+100, len(kvs))] {
			ops = append(ops, storage.Delete(kv.Key))
		}
		if _, err := s.Txn(ctx, ops...); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if err := s.Compact(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
