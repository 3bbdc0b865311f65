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

// batchedOnly hides the bbolt store's Update, so that the log writes as it
// does on etcd: queued batches chained by the head's revision.
type batchedOnly struct{ storage.Store }

// bothModes runs f on a bbolt store through each of the log's two write
// paths: one Update per append, and the batches of a store without one.
func bothModes(t *testing.T, f func(t *testing.T, s storage.Store)) {
	t.Run("update", func(t *testing.T) {
		s := storagetest.MustOpen(t)
		if !storage.CanUpdate(s) {
			t.Fatal("the bbolt store runs no Update")
		}
		f(t, s)
	})
	t.Run("batched", func(t *testing.T) {
		s := batchedOnly{storagetest.MustOpen(t)}
		if storage.CanUpdate(s) {
			t.Fatal("batchedOnly still runs Update")
		}
		f(t, s)
	})
}

// AppendWith commits the entry with the caller's operations, or neither;
// a failed condition of one caller fails that entry alone, and concurrent
// appends (some failing) still form one verified chain.
func TestAppendWith(t *testing.T) { bothModes(t, testAppendWith) }

func testAppendWith(t *testing.T, s storage.Store) {
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

// Entries whose operations write the same key never share a transaction:
// concurrent appends that all put one key (a session's "app served this
// user" record) all succeed, and concurrent compare-and-swaps from one
// revision have exactly one winner (the others ErrConflict), as they would
// one after the other.
func TestAppendWithSameKeyConcurrently(t *testing.T) {
	bothModes(t, testAppendWithSameKeyConcurrently)
}

func testAppendWithSameKeyConcurrently(t *testing.T, s storage.Store) {
	l := newLog(t, s)
	ctx := context.Background()
	e := audit.Entry{Action: "sign", UserID: "usr_a", Outcome: audit.OutcomeOK}

	var wg sync.WaitGroup
	errs := make([]error, 40)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = l.AppendWith(ctx, e, []storage.Op{storage.Put("served/usr_a/app_1", []byte(fmt.Sprint(i)), 0)})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("append %d putting the shared key: %v", i, err)
		}
	}

	kv, err := s.Get(ctx, "served/usr_a/app_1")
	if err != nil {
		t.Fatal(err)
	}
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = l.AppendWith(ctx, e, []storage.Op{storage.IfRevision(kv.Key, kv.Revision), storage.Put(kv.Key, []byte("cas"), 0)})
		})
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, storage.ErrConflict):
			t.Fatalf("compare-and-swap %d: %v, want nil or ErrConflict", i, err)
		}
	}
	if won != 1 {
		t.Fatalf("%d compare-and-swaps from one revision succeeded, want exactly 1", won)
	}
	if _, err := l.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}
