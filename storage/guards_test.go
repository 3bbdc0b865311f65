package storage_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

// TestGuards: AddGuards needs a set (DeferGuards); a guard added again for
// the same record replaces the first; Conds are real conditions; Recheck
// takes in a record's new revision or returns the first refusal.
func TestGuards(t *testing.T) {
	st := storagetest.MustOpen(t)
	ctx := context.Background()
	put := func(key, v string) int64 {
		t.Helper()
		rev, err := st.Txn(ctx, storage.Put(key, []byte(v), 0))
		if err != nil {
			t.Fatal(err)
		}
		return rev
	}
	if storage.AddGuards(ctx, storage.Guard{Key: "r/a"}) {
		t.Fatal("AddGuards without a set reported true")
	}
	var nilSet *storage.Guards
	if nilSet.Len() != 0 || nilSet.Conds() != nil || nilSet.Recheck(ctx) != nil {
		t.Fatal("a nil set is not empty")
	}

	revA, revB := put("r/a", "1"), put("r/b", "1")
	errRefused := errors.New("refused")
	refuseB := false
	recheck := func(key string) func(context.Context) (int64, error) {
		return func(ctx context.Context) (int64, error) {
			if key == "r/b" && refuseB {
				return 0, errRefused
			}
			kv, err := st.Get(ctx, key)
			return kv.Revision, err
		}
	}
	gctx, set := storage.DeferGuards(ctx)
	if !storage.AddGuards(gctx, storage.Guard{Key: "r/a", Revision: revA - 1, Recheck: recheck("r/a")}, storage.Guard{Key: "r/b", Revision: revB, Recheck: recheck("r/b")}) {
		t.Fatal("AddGuards with a set reported false")
	}
	// The record read again: the second guard of r/a replaces the first.
	storage.AddGuards(gctx, storage.Guard{Key: "r/a", Revision: revA, Recheck: recheck("r/a")})
	conds := set.Conds()
	if set.Len() != 2 || len(conds) != 2 || conds[0].Key != "r/a" || conds[0].Revision != revA || conds[1].Key != "r/b" || !conds[1].IsCondition() {
		t.Fatalf("conditions %+v", conds)
	}
	commit := func() error {
		_, err := st.Txn(ctx, append(set.Conds(), storage.Put("out", []byte("x"), 0))...)
		return err
	}
	if err := commit(); err != nil {
		t.Fatalf("guards of unchanged records: %v", err)
	}
	put("r/a", "2")
	if err := commit(); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("after r/a changed: %v, want ErrConflict", err)
	}
	if err := set.Recheck(ctx); err != nil {
		t.Fatal(err)
	}
	if err := commit(); err != nil {
		t.Fatalf("at the new revision: %v", err)
	}
	put("r/b", "2")
	refuseB = true
	if err := set.Recheck(ctx); !errors.Is(err, errRefused) {
		t.Fatalf("Recheck of a refusing record: %v", err)
	}
	if err := commit(); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("a refused record's guard still holds its old revision: %v", err)
	}
}
