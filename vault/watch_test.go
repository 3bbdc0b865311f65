package vault_test

import (
	"context"
	"errors"
	"slices"
	"strings"
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
