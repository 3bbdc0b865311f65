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

// With one Update per append, the chain stays whole when the group commit
// rolls a shared transaction back and re-runs it: concurrent appends share
// commits with updates that fail (each failure rolls its batch back and the
// others run again, re-chaining on the head they read), with appends whose
// condition fails, and with plain writes; every successful append is in the
// log exactly once, the sequence has no gap and the chain verifies.
func TestUpdateAppendsSurviveFailedCommits(t *testing.T) {
	s := storagetest.MustOpenBolt(t)
	l := newLog(t, s)
	ctx := context.Background()
	boom := errors.New("boom")
	const n = 120
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			switch i % 4 {
			case 0, 1:
				_, errs[i] = l.Append(ctx, audit.Entry{Action: "login", SessionID: fmt.Sprintf("s%d", i), Outcome: audit.OutcomeOK})
			case 2:
				// Fails inside the shared transaction: its batch is re-run.
				_, errs[i] = s.Update(ctx, func(get storage.ReadFunc) ([]storage.Op, error) {
					if _, err := get("audit/head"); err != nil && !errors.Is(err, storage.ErrNotFound) {
						return nil, err
					}
					return nil, boom
				})
			default:
				if i%8 == 3 {
					_, errs[i] = l.AppendWith(ctx, audit.Entry{Action: "login", SessionID: fmt.Sprintf("c%d", i), Outcome: audit.OutcomeOK},
						[]storage.Op{storage.IfRevision("never/written", 5), storage.Put(fmt.Sprintf("c/%d", i), []byte("1"), 0)})
				} else {
					_, errs[i] = s.Txn(ctx, storage.Put(fmt.Sprintf("w/%d", i), []byte("1"), 0))
				}
			}
		})
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case i%4 < 2:
			if err != nil {
				t.Fatalf("append %d: %v", i, err)
			}
			ok++
		case i%4 == 2:
			if !errors.Is(err, boom) {
				t.Fatalf("failing update %d: %v, want its own error", i, err)
			}
		case i%8 == 3:
			if !errors.Is(err, storage.ErrConflict) {
				t.Fatalf("append %d with a failed condition: %v, want ErrConflict", i, err)
			}
		case err != nil:
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if kvs, _, _ := s.List(ctx, "c/"); len(kvs) != 0 {
		t.Fatalf("%d writes of refused appends", len(kvs))
	}
	rep, err := l.Verify(ctx)
	if err != nil || rep.Entries != int64(ok) {
		t.Fatalf("Verify = %+v, %v; want %d entries", rep, err, ok)
	}
	all, err := l.List(ctx, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, e := range all {
		if e.Seq != int64(i+1) || seen[e.SessionID] {
			t.Fatalf("entry %d: seq %d, session %s (seen before: %v)", i, e.Seq, e.SessionID, seen[e.SessionID])
		}
		seen[e.SessionID] = true
	}
	// A closed log refuses, on this path too.
	l.Close()
	if _, err := l.Append(ctx, audit.Entry{Action: "login", Outcome: audit.OutcomeOK}); !errors.Is(err, audit.ErrClosed) {
		t.Fatalf("append after Close: %v, want ErrClosed", err)
	}
}
