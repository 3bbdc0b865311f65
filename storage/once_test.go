package storage_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

var errReplayed = errors.New("replayed")

// request runs one request whose nonce key is "n/1": act is its action
// (given the request's context); it returns what the request answers.
func request(st storage.Store, act func(ctx context.Context) error) error {
	ctx, once := storage.DeferOnce(context.Background())
	if !storage.SetOnce(ctx, st, "n/1", []byte("t"), time.Minute, errReplayed) {
		return errors.New("slot not filled")
	}
	return once.Settle(ctx, act(ctx))
}

func TestOnceConsumedWithTheAction(t *testing.T) {
	st := storagetest.MustOpen(t)
	ctx := context.Background()
	write := func(v string) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			_, err := storage.TxnOnce(ctx, st, storage.Put("a", []byte(v), 0))
			return err
		}
	}
	if err := request(st, write("1")); err != nil {
		t.Fatal(err)
	}
	_, rev0, _ := st.List(ctx, "")
	kv, err := st.Get(ctx, "n/1")
	if err != nil || kv.Revision != rev0 {
		t.Fatalf("nonce %+v, %v: want written in the action's transaction (rev %d)", kv, err, rev0)
	}
	// The replay: refused, nothing written.
	if err := request(st, write("2")); !errors.Is(err, errReplayed) {
		t.Fatalf("replay = %v, want the replay error", err)
	}
	if kv, _ := st.Get(ctx, "a"); string(kv.Value) != "1" {
		t.Fatalf("a = %q after a replay", kv.Value)
	}
	if _, rev, _ := st.List(ctx, ""); rev != rev0 {
		t.Fatalf("revision %d after a replay, want %d", rev, rev0)
	}
	// An action that writes nothing (a read, a refusal): the nonce is
	// written alone, and the replay is refused.
	boom := errors.New("refused")
	ctx2, once := storage.DeferOnce(ctx)
	storage.SetOnce(ctx2, st, "n/2", []byte("t"), time.Minute, errReplayed)
	if err := once.Settle(ctx2, boom); err != boom {
		t.Fatalf("Settle = %v, want the action's error", err)
	}
	if _, err := st.Get(ctx, "n/2"); err != nil {
		t.Fatalf("nonce of a refused request: %v", err)
	}
	ctx3, once3 := storage.DeferOnce(ctx)
	storage.SetOnce(ctx3, st, "n/2", []byte("t"), time.Minute, errReplayed)
	if err := once3.Settle(ctx3, nil); !errors.Is(err, errReplayed) {
		t.Fatalf("replay of a read = %v", err)
	}
	// Without a slot nothing is deferred.
	if storage.SetOnce(ctx, st, "n/3", nil, time.Minute, errReplayed) {
		t.Fatal("SetOnce without a slot")
	}
	// A conditions-only transaction commits nothing.
	_, r1, _ := st.List(ctx, "")
	if _, err := st.Txn(ctx, storage.IfRevision("a", kv.Revision-1)); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("failed condition: %v", err)
	}
	akv, _ := st.Get(ctx, "a")
	if rev, err := st.Txn(ctx, storage.IfRevision("a", akv.Revision)); err != nil || rev != r1 {
		t.Fatalf("condition alone = %d, %v, want %d", rev, err, r1)
	}
}

// A guarded key is consumed only while its guard's record is unchanged:
// a changed record is checked again (Recheck) and either refuses the
// request (nothing written, the key not consumed) or, still admitting
// it, gives its new revision, and the caller's retry goes through.
func TestOnceGuard(t *testing.T) {
	errRefused := errors.New("refused")
	for _, tc := range []struct {
		name   string
		admit  bool
		action bool // the action writes (TxnOnce) rather than Settle alone
	}{
		{"changed, still admits, action", true, true},
		{"changed, refuses, action", false, true},
		{"changed, still admits, settle", true, false},
		{"changed, refuses, settle", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := storagetest.MustOpen(t)
			ctx := context.Background()
			rev, err := storage.Create(ctx, st, "rec", []byte("v1"), 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.Txn(ctx, storage.IfRevision("rec", rev), storage.Put("rec", []byte("v2"), 0)); err != nil {
				t.Fatal(err) // the record changes after the request was checked
			}
			rechecks := 0
			guard := &storage.Guard{Key: "rec", Revision: rev, Recheck: func(ctx context.Context) (int64, error) {
				rechecks++
				if !tc.admit {
					return 0, errRefused
				}
				kv, err := st.Get(ctx, "rec")
				return kv.Revision, err
			}}
			rctx, once := storage.DeferOnce(ctx)
			if !storage.SetOnceGuarded(rctx, st, "n/1", []byte("t"), time.Minute, errReplayed, guard) {
				t.Fatal("slot not filled")
			}
			var actErr error
			if tc.action {
				for range 3 {
					if _, actErr = storage.TxnOnce(rctx, st, storage.Put("a", []byte("x"), 0)); !errors.Is(actErr, storage.ErrConflict) {
						break
					}
				}
			}
			err = once.Settle(rctx, actErr)
			_, nerr := st.Get(ctx, "n/1")
			_, aerr := st.Get(ctx, "a")
			switch {
			case rechecks != 1:
				t.Fatalf("%d rechecks, want 1", rechecks)
			case tc.admit && (err != nil || nerr != nil || (tc.action && aerr != nil)):
				t.Fatalf("admitted: %v; nonce %v, action %v", err, nerr, aerr)
			case !tc.admit && (!errors.Is(err, errRefused) || nerr == nil || aerr == nil):
				t.Fatalf("refused: %v (want errRefused); nonce %v, action %v (want neither written)", err, nerr, aerr)
			}
		})
	}
}
