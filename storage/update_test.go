package storage_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

// Update is a read-modify-write without lost updates: concurrent counter
// increments (sharing group commits with failing updates, whose batches
// are rolled back and re-run) all count; a failing update returns its own
// error and writes nothing; a failed condition is ErrConflict.
func TestBoltUpdate(t *testing.T) {
	s := storagetest.MustOpenBolt(t)
	ctx := context.Background()
	incr := func(get storage.ReadFunc) ([]storage.Op, error) {
		n := 0
		kv, err := get("count")
		switch {
		case err == nil:
			if n, err = strconv.Atoi(string(kv.Value)); err != nil {
				return nil, err
			}
		case !errors.Is(err, storage.ErrNotFound):
			return nil, err
		}
		return []storage.Op{storage.Put("count", []byte(strconv.Itoa(n+1)), 0)}, nil
	}
	boom := errors.New("boom")
	const n = 200
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			if i%5 == 4 {
				_, errs[i] = s.Update(ctx, func(get storage.ReadFunc) ([]storage.Op, error) {
					if _, err := incr(get); err != nil {
						return nil, err
					}
					return []storage.Op{storage.Put(fmt.Sprintf("bad/%d", i), nil, 0)}, boom
				})
				return
			}
			_, errs[i] = s.Update(ctx, incr)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if want := i%5 == 4; errors.Is(err, boom) != want || (!want && err != nil) {
			t.Fatalf("update %d: %v", i, err)
		}
	}
	kv, err := s.Get(ctx, "count")
	if err != nil || string(kv.Value) != strconv.Itoa(n*4/5) {
		t.Fatalf("count = %q, %v; want %d", kv.Value, err, n*4/5)
	}
	if kvs, _, _ := s.List(ctx, "bad/"); len(kvs) != 0 {
		t.Fatalf("%d writes of failed updates", len(kvs))
	}

	_, rev, _ := s.List(ctx, "")
	_, err = s.Update(ctx, func(get storage.ReadFunc) ([]storage.Op, error) {
		return []storage.Op{storage.IfAbsent("count"), storage.Put("other", []byte("x"), 0)}, nil
	})
	if !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("failed condition: %v, want ErrConflict", err)
	}
	if _, rev2, _ := s.List(ctx, ""); rev2 != rev {
		t.Fatalf("revision %d → %d after a refused update", rev, rev2)
	}
	// Invalid operations and keys fail alone too.
	if _, err := s.Update(ctx, func(get storage.ReadFunc) ([]storage.Op, error) { return nil, nil }); !errors.Is(err, storage.ErrInvalid) {
		t.Fatalf("no operations: %v, want ErrInvalid", err)
	}
	if _, err := s.Update(ctx, func(get storage.ReadFunc) ([]storage.Op, error) {
		_, err := get("")
		return nil, err
	}); !errors.Is(err, storage.ErrInvalid) {
		t.Fatalf("empty key: %v, want ErrInvalid", err)
	}
	// The writes of an update are one revision, seen by a watcher.
	rev, err = s.Update(ctx, func(get storage.ReadFunc) ([]storage.Op, error) {
		return []storage.Op{storage.Put("a", []byte("1"), 0), storage.Put("b", []byte("2"), 0)}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b"} {
		if kv, err := s.Get(ctx, k); err != nil || kv.Revision != rev {
			t.Fatalf("%s at %d, %v; want revision %d", k, kv.Revision, err, rev)
		}
	}
	_ = s.Close()
	if _, err := s.Update(ctx, incr); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("after Close: %v, want ErrClosed", err)
	}
}
