package webhook

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/storage/storagetest"
)

// A sender that dies without giving its lease up (no Close: its loops
// just stop, as in a crash) keeps the other node from sending only until
// the lease's TTL runs out; then the other node takes over.
func TestLeaseTakenOverAfterCrash(t *testing.T) {
	st := storagetest.MustOpen(t)
	cfg := DefaultConfig()
	cfg.LeaseTTL = time.Second
	cfg.PollInterval = 100 * time.Millisecond
	a, err := New(st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	a.Start()
	waitLeader := func(s *Service, what string) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for !s.isLeader() {
			if time.Now().After(deadline) {
				t.Fatalf("%s never became the sender", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitLeader(a, "the first node")
	b, err := New(st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	b.Start()
	// The crash: a's loops stop, its lease stays in the store.
	a.cancel()
	a.wg.Wait()
	kv, err := st.Get(context.Background(), leaseKey)
	if err != nil || !strings.Contains(string(kv.Value), a.node) {
		t.Fatalf("the crashed node's lease is not in the store: %v", err)
	}
	waitLeader(b, "the second node")
	if a.isLeader() {
		// a's own view of its lease runs out before the store's does.
		t.Fatal("both nodes think they send")
	}
}
