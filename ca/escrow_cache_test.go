package ca

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/readcache"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

// escrowReads counts the reads of the escrow key's record that reach the
// store under it.
type escrowReads struct {
	storage.Store
	n atomic.Int64
}

func (c *escrowReads) Get(ctx context.Context, key string) (storage.KV, error) {
	if key == escrowKeyKey {
		c.n.Add(1)
	}
	return c.Store.Get(ctx, key)
}

// TestEscrowKeyCached: over the node's record cache (the server's
// readcache.DefaultConfig), unlocking an escrowed key reads the escrow
// key's record from the store at most once, not on every use; a rotation
// made by another node reaches this node through the store's watch, and
// an unlock afterwards changes nothing (the rotation moved the copy).
func TestEscrowKeyCached(t *testing.T) {
	raw := storagetest.MustOpen(t)
	counted := &escrowReads{Store: raw}
	cached, err := readcache.New(counted, readcache.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cached.Close() })
	clk := newClock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	w := newEscrowWorldOn(t, &fixture{svc: newServiceOver(t, cached, clk.Now), store: cached, clock: clk, ctx: ctx})

	counted.n.Store(0)
	for range 3 {
		key, _, err := w.svc.UnlockKey(w.ctx, w.user, w.enc.ID, testPIN)
		if err != nil {
			t.Fatal(err)
		}
		gmcrypto.ZeroKey(key)
	}
	if n := counted.n.Load(); n > 1 {
		t.Fatalf("three unlocks read the escrow key's record %d times from the store, want at most 1", n)
	}

	// Another node, straight over the store, rotates the escrow key.
	other := &escrowWorld{fixture: &fixture{svc: newServiceOver(t, raw, clk.Now), store: raw, clock: clk, ctx: ctx},
		shares: w.shares, escrow: w.escrow, user: w.user, sign: w.sign, enc: w.enc}
	rot, _ := other.rotate(t)
	for _, c := range []string{"bob", "carol"} {
		if _, err := other.approve(t, rot.ID, c, w.shares[c].File, map[string]string{"bob": passBob, "carol": passCarol}[c]); err != nil {
			t.Fatalf("approval by %s: %v", c, err)
		}
	}
	if id := other.escrowIDs(t)[w.enc.ID]; id != rot.Next.ID {
		t.Fatalf("after the rotation the copy is under %s, want %s", id, rot.Next.ID)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		esc, err := w.svc.Escrow(w.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if esc.ID == rot.Next.ID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("this node still sees escrow key %s 30 s after the rotation to %s", esc.ID, rot.Next.ID)
		}
		time.Sleep(10 * time.Millisecond)
	}
	before := w.snapshot(t)
	key, _, err := w.svc.UnlockKey(w.ctx, w.user, w.enc.ID, testPIN)
	if err != nil {
		t.Fatal(err)
	}
	gmcrypto.ZeroKey(key)
	if w.snapshot(t) != before {
		t.Fatal("an unlock after the rotation wrote")
	}
}
