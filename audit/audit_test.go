package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

var master = bytes.Repeat([]byte{7}, 32)

func newLog(t *testing.T, s storage.Store) *audit.Log {
	t.Helper()
	l, err := audit.New(s, master, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func appendN(t *testing.T, l *audit.Log, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if _, err := l.Append(context.Background(), audit.Entry{Action: "sign", UserID: fmt.Sprintf("usr_%d", i), Digest: "ab", Outcome: audit.OutcomeOK}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAppendAndVerify(t *testing.T) {
	s := storagetest.MustOpen(t)
	l := newLog(t, s)
	ctx := context.Background()
	rep, err := l.Verify(ctx)
	if err != nil || rep.Entries != 0 {
		t.Fatalf("empty log: %v %+v", err, rep)
	}
	appendN(t, l, 5)
	rep, err = l.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Entries != 5 {
		t.Fatalf("entries = %d, want 5", rep.Entries)
	}
	got, err := l.List(ctx, audit.Filter{UserID: "usr_3"})
	if err != nil || len(got) != 1 || got[0].Seq != 4 {
		t.Fatalf("filter: %v %+v", err, got)
	}
}

func TestAppendRefusesIncompleteEntry(t *testing.T) {
	l := newLog(t, storagetest.MustOpen(t))
	for _, e := range []audit.Entry{{}, {Action: "sign"}, {Action: "sign", Outcome: "maybe"}, {Outcome: audit.OutcomeOK}} {
		if _, err := l.Append(context.Background(), e); !errors.Is(err, audit.ErrInvalidEntry) {
			t.Errorf("Append(%+v) = %v, want ErrInvalidEntry", e, err)
		}
	}
}

// TestConcurrentAppendsFormOneChain appends from many goroutines (and from
// two Log instances over one store, as two nodes would) and checks the
// result is one unbroken chain holding every entry exactly once.
func TestConcurrentAppendsFormOneChain(t *testing.T) {
	bothModes(t, testConcurrentAppendsFormOneChain)
}

func testConcurrentAppendsFormOneChain(t *testing.T, s storage.Store) {
	a, b := newLog(t, s), newLog(t, s)
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		l := a
		if i%2 == 1 {
			l = b
		}
		wg.Add(1)
		go func(i int, l *audit.Log) {
			defer wg.Done()
			_, err := l.Append(context.Background(), audit.Entry{Action: "login", SessionID: fmt.Sprintf("s%d", i), Outcome: audit.OutcomeOK})
			errs <- err
		}(i, l)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	rep, err := a.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Entries != n {
		t.Fatalf("entries = %d, want %d", rep.Entries, n)
	}
	all, _ := a.List(context.Background(), audit.Filter{})
	seen := map[string]bool{}
	for _, e := range all {
		if seen[e.SessionID] {
			t.Fatalf("session %s logged twice", e.SessionID)
		}
		seen[e.SessionID] = true
	}
}

// tamper rewrites the stored record at key with f applied.
func tamper(t *testing.T, s storage.Store, key string, f func(m map[string]any)) {
	t.Helper()
	kv, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(kv.Value, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	b, _ := json.Marshal(m)
	if _, err := storagetest.PutKey(context.Background(), s, key, b, 0); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		do   func(t *testing.T, s storage.Store)
	}{
		{"changed field", func(t *testing.T, s storage.Store) {
			tamper(t, s, "audit/entries/0000000000000003", func(m map[string]any) { m["user"] = "usr_evil" })
		}},
		{"changed outcome with recomputed-looking hash kept", func(t *testing.T, s storage.Store) {
			tamper(t, s, "audit/entries/0000000000000002", func(m map[string]any) { m["outcome"] = "failed" })
		}},
		{"removed middle entry", func(t *testing.T, s storage.Store) {
			if _, err := storagetest.DeleteKey(ctx, s, "audit/entries/0000000000000002"); err != nil {
				t.Fatal(err)
			}
		}},
		{"removed last entry", func(t *testing.T, s storage.Store) {
			if _, err := storagetest.DeleteKey(ctx, s, "audit/entries/0000000000000004"); err != nil {
				t.Fatal(err)
			}
		}},
		{"removed last entry and head rewritten without the seal key", func(t *testing.T, s storage.Store) {
			e3, _ := s.Get(ctx, "audit/entries/0000000000000003")
			var m map[string]any
			json.Unmarshal(e3.Value, &m)
			storagetest.DeleteKey(ctx, s, "audit/entries/0000000000000004")
			tamper(t, s, "audit/head", func(h map[string]any) { h["seq"] = 3; h["hash"] = m["hash"] })
		}},
		{"swapped entries", func(t *testing.T, s storage.Store) {
			a, _ := s.Get(ctx, "audit/entries/0000000000000001")
			b, _ := s.Get(ctx, "audit/entries/0000000000000002")
			storagetest.PutKey(ctx, s, "audit/entries/0000000000000001", b.Value, 0)
			storagetest.PutKey(ctx, s, "audit/entries/0000000000000002", a.Value, 0)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := storagetest.MustOpen(t)
			l := newLog(t, s)
			appendN(t, l, 4)
			if _, err := l.Verify(ctx); err != nil {
				t.Fatalf("before tampering: %v", err)
			}
			tc.do(t, s)
			if _, err := l.Verify(ctx); !errors.Is(err, audit.ErrTampered) {
				t.Fatalf("Verify after tampering = %v, want ErrTampered", err)
			}
		})
	}
}

func TestVerifyChainNeedsNoKey(t *testing.T) {
	l := newLog(t, storagetest.MustOpen(t))
	appendN(t, l, 3)
	entries, err := l.List(context.Background(), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := audit.VerifyChain(entries); err != nil {
		t.Fatal(err)
	}
	entries[1].Digest = "cd"
	if _, err := audit.VerifyChain(entries); !errors.Is(err, audit.ErrTampered) {
		t.Fatalf("VerifyChain = %v, want ErrTampered", err)
	}
}
