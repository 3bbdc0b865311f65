package vault_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/storagetest"
	"github.com/ukeygate/ukeygate/vault"
)

// The sealed view passes the storage conformance suite over bbolt: what
// it seals and opens is what the caller wrote, and its watches (Watch and
// WatchLazy) deliver what Get reads. The suite wants an empty key space:
// the vault's own keyring record is left out of listings.
func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		v, err := vault.Open(t.Context(), mustOpenBolt(t), key(1))
		if err != nil {
			t.Fatal(err)
		}
		return withoutKeyring{v.Store}
	})
}

// withoutKeyring is the sealed view with the vault's reserved keys left
// out of List.
type withoutKeyring struct{ storage.Store }

func (s withoutKeyring) List(ctx context.Context, prefix string) ([]storage.KV, int64, error) {
	kvs, rev, err := s.Store.List(ctx, prefix)
	return slices.DeleteFunc(kvs, func(kv storage.KV) bool {
		return strings.HasPrefix(kv.Key, vault.ReservedPrefix)
	}), rev, err
}

func (s withoutKeyring) WatchLazy(ctx context.Context, prefix string) (<-chan storage.Event, storage.Opener, error) {
	return s.Store.(storage.LazyWatcher).WatchLazy(ctx, prefix)
}

func (s withoutKeyring) Update(ctx context.Context, fn storage.UpdateFunc) (int64, error) {
	return s.Store.(storage.Updater).Update(ctx, fn)
}

func (s withoutKeyring) CanUpdate() bool { return storage.CanUpdate(s.Store) }

// next reads one event from ch, failing if it closes or takes too long.
func next(t *testing.T, ch <-chan storage.Event) storage.Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("the watch ended")
		}
		return ev
	case <-time.After(storagetest.Deadline):
		t.Fatal("no event")
	}
	return storage.Event{}
}

// WatchLazy opens nothing by itself: a sealed value arrives sealed, and
// a value that does not open fails its own open without ending the watch,
// where Watch ends.
func TestWatchLazy(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	raw := mustOpenBolt(t)
	v, err := vault.Open(ctx, raw, key(1))
	if err != nil {
		t.Fatal(err)
	}
	lw, ok := v.Store.(storage.LazyWatcher)
	if !ok {
		t.Fatal("the sealed view is not a storage.LazyWatcher")
	}
	lazy, open, err := lw.WatchLazy(ctx, "users/")
	if err != nil {
		t.Fatal(err)
	}
	eager, err := v.Store.Watch(ctx, "users/")
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		write   func() error
		want    string // the opened value; "" for a failed open
		wantErr error
	}{
		{"sealed", func() error {
			_, err := storagetest.PutKey(ctx, v.Store, "users/u1", []byte("Zhang San"), 0)
			return err
		}, "Zhang San", nil},
		{"not sealed", func() error {
			_, err := storagetest.PutKey(ctx, raw, "users/u2", []byte("Li Si"), 0)
			return err
		}, "", vault.ErrSealed},
		{"after the damaged one", func() error {
			_, err := storagetest.PutKey(ctx, v.Store, "users/u3", []byte("Wang Wu"), 0)
			return err
		}, "Wang Wu", nil},
	}
	for _, tc := range tests {
		if err := tc.write(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		ev := next(t, lazy)
		stored, err := raw.Get(ctx, ev.KV.Key)
		if err != nil || string(stored.Value) != string(ev.KV.Value) {
			t.Fatalf("%s: the lazy event carries %q, the store holds %q (%v)", tc.name, ev.KV.Value, stored.Value, err)
		}
		got, err := open(ev.KV.Key, ev.KV.Value)
		if !errors.Is(err, tc.wantErr) || string(got) != tc.want {
			t.Fatalf("%s: open = %q, %v; want %q, %v", tc.name, got, err, tc.want, tc.wantErr)
		}
		if _, err := open("users/other", ev.KV.Value); tc.wantErr == nil && !errors.Is(err, vault.ErrSealed) {
			t.Fatalf("%s: a value opened under another key: %v, want ErrSealed", tc.name, err)
		}
	}
	// Watch opened u1, then ended at u2.
	if ev := next(t, eager); string(ev.KV.Value) != "Zhang San" {
		t.Fatalf("Watch delivered %q", ev.KV.Value)
	}
	select {
	case ev, ok := <-eager:
		if ok {
			t.Fatalf("Watch delivered %v after a value that does not open", ev.KV)
		}
	case <-time.After(storagetest.Deadline):
		t.Fatal("Watch did not end at a value that does not open")
	}
}

// valueOf is the value a writer of TestSealScratchReuse writes for its
// n-th write of key: self-describing, of a length that varies (some
// larger than the scratch pool keeps), so that a value sealed in scratch
// that another write reused before the store copied it shows.
func valueOf(key string, n int) []byte {
	v := fmt.Appendf(nil, "%s#%d#", key, n)
	size := 40 + (n*7919)%3000
	if n%97 == 0 {
		size = 70 << 10
	}
	for i := len(v); i < size; i++ {
		v = append(v, byte('a'+(i+n)%26))
	}
	return v
}

// checkValue reports whether v is what valueOf wrote for key.
func checkValue(key string, v []byte) error {
	rest, ok := bytes.CutPrefix(v, []byte(key+"#"))
	if !ok {
		return fmt.Errorf("%s holds %.40q…", key, v)
	}
	num, _, _ := bytes.Cut(rest, []byte("#"))
	n, err := strconv.Atoi(string(num))
	if err != nil || !bytes.Equal(v, valueOf(key, n)) {
		return fmt.Errorf("%s holds a damaged value %.40q…", key, v)
	}
	return nil
}

// Sealing puts the sealed values in pooled scratch, reused once Txn or
// Update returns: concurrent writers (Txn and Update, sharing group
// commits, some Updates re-run because another of their batch failed)
// store and deliver exactly what they wrote. Under -race, the store below
// reading a value after its call returned races with the scratch's next
// user.
func TestSealScratchReuse(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	raw := mustOpenBolt(t)
	v, err := vault.Open(ctx, raw, key(1))
	if err != nil {
		t.Fatal(err)
	}
	events, open, err := v.Store.(storage.LazyWatcher).WatchLazy(ctx, "reuse/")
	if err != nil {
		t.Fatal(err)
	}
	u := v.Store.(storage.Updater)
	errFail := errors.New("this update fails")
	const writers, rounds = 6, 40
	var puts atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for n := range rounds {
				a, b := fmt.Sprintf("reuse/%d/a", w), fmt.Sprintf("reuse/%d/b", w)
				var err error
				switch n % 3 {
				case 0:
					_, err = v.Store.Txn(ctx, storage.Put(a, valueOf(a, n), 0), storage.Put(b, valueOf(b, n), time.Hour), storage.Delete(fmt.Sprintf("reuse/%d/none", w)))
					puts.Add(2)
				case 1:
					_, err = u.Update(ctx, func(get storage.ReadFunc) ([]storage.Op, error) {
						if _, err := get(a); err != nil && !errors.Is(err, storage.ErrNotFound) {
							return nil, err
						}
						return []storage.Op{storage.Put(a, valueOf(a, n), 0)}, nil
					})
					puts.Add(1)
				default:
					// A failing Update: its batch is rolled back and the
					// others' functions run again.
					_, err = u.Update(ctx, func(storage.ReadFunc) ([]storage.Op, error) { return nil, errFail })
					if errors.Is(err, errFail) {
						err = nil
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i := range puts.Load() {
		ev := next(t, events)
		if ev.Type != storage.EventPut {
			t.Fatalf("event %d: %+v", i, ev)
		}
		pt, err := open(ev.KV.Key, ev.KV.Value)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if err := checkValue(ev.KV.Key, pt); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	kvs, _, err := v.Store.List(ctx, "reuse/")
	if err != nil || len(kvs) != 2*writers {
		t.Fatalf("list: %d keys, %v", len(kvs), err)
	}
	for _, kv := range kvs {
		if err := checkValue(kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
}
