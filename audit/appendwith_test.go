package audit_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

// AppendWith commits the entry with the caller's operations, or neither;
// a failed condition of one caller fails that entry alone, and concurrent
// appends (some failing) still form one verified chain.
func TestAppendWith(t *testing.T) {
	s := storagetest.MustOpen(t)
	l := newLog(t, s)
	ctx := context.Background()
	e := func(u string) audit.Entry { return audit.Entry{Action: "sign", UserID: u, Outcome: audit.OutcomeOK} }

	got, err := l.AppendWith(ctx, e("usr_a"), []storage.Op{storage.IfAbsent("x/a"), storage.Put("x/a", []byte("1"), 0)})
	if err != nil || got.Seq != 1 {
		t.Fatalf("AppendWith = %+v, %v", got, err)
	}
	kv, err := s.Get(ctx, "x/a")
	if err != nil {
		t.Fatal(err)
	}
	_, rev, _ := s.List(ctx, "")
	if kv.Revision != rev {
		t.Fatalf("x/a at revision %d, entry at %d: not one transaction", kv.Revision, rev)
	}
	// A failed condition: ErrConflict, nothing written.
	if _, err := l.AppendWith(ctx, e("usr_b"), []storage.Op{storage.IfAbsent("x/a"), storage.Put("x/b", []byte("1"), 0)}); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("failed condition: %v, want ErrConflict", err)
	}
	if _, err := s.Get(ctx, "x/b"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("x/b written by a failed AppendWith: %v", err)
	}
	if _, rev2, _ := s.List(ctx, ""); rev2 != rev {
		t.Fatalf("revision moved %d → %d on a refused AppendWith", rev, rev2)
	}
	// Too many operations for one entry.
	many := make([]storage.Op, 0, 70)
	for i := range 70 {
		many = append(many, storage.Put(fmt.Sprintf("y/%d", i), []byte("1"), 0))
	}
	if _, err := l.AppendWith(ctx, e("usr_c"), many); !errors.Is(err, audit.ErrInvalidEntry) {
		t.Fatalf("70 operations: %v, want ErrInvalidEntry", err)
	}

	// Concurrently: plain appends, successful and failing AppendWiths
	// share batches.
	var wg sync.WaitGroup
	errs := make([]error, 60)
	for i := range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch i % 3 {
			case 0:
				_, errs[i] = l.Append(ctx, e(fmt.Sprintf("usr_p%d", i)))
			case 1:
				k := fmt.Sprintf("z/%d", i)
				_, errs[i] = l.AppendWith(ctx, e(fmt.Sprintf("usr_w%d", i)), []storage.Op{storage.IfAbsent(k), storage.Put(k, []byte("1"), 0)})
			default:
				_, errs[i] = l.AppendWith(ctx, e(fmt.Sprintf("usr_f%d", i)), []storage.Op{storage.IfAbsent("x/a"), storage.Put(fmt.Sprintf("f/%d", i), []byte("1"), 0)})
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if want := i%3 == 2; errors.Is(err, storage.ErrConflict) != want || (!want && err != nil) {
			t.Fatalf("append %d: %v", i, err)
		}
	}
	if kvs, _, _ := s.List(ctx, "f/"); len(kvs) != 0 {
		t.Fatalf("%d writes of refused appends", len(kvs))
	}
	if kvs, _, _ := s.List(ctx, "z/"); len(kvs) != 20 {
		t.Fatalf("%d writes of AppendWith, want 20", len(kvs))
	}
	rep, err := l.Verify(ctx)
	if err != nil || rep.Entries != 41 {
		t.Fatalf("Verify = %+v, %v, want 41 entries", rep, err)
	}
}
