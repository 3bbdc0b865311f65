package storage

import (
	"errors"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func openRawBolt(t *testing.T) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "raw.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// TestCommitterFailingCallIsolated queues three calls as one batch, the
// middle one failing: it alone gets its error, the others commit (each
// exactly once in the committed transaction), and the commit handlers of
// the rolled-back attempt do not run.
func TestCommitterFailingCallIsolated(t *testing.T) {
	db := openRawBolt(t)
	c := &committer{db: db}
	boom := errors.New("boom")
	var handlers []string
	put := func(name string) func(*bolt.Tx) error {
		return func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("b"))
			if err != nil {
				return err
			}
			n, _ := strconv.Atoi(string(b.Get([]byte(name))))
			tx.OnCommit(func() { handlers = append(handlers, name) })
			return b.Put([]byte(name), []byte(strconv.Itoa(n+1)))
		}
	}
	calls := []*commitCall{
		{fn: put("first"), done: make(chan commitResult, 1)},
		{fn: func(*bolt.Tx) error { return boom }, done: make(chan commitResult, 1)},
		{fn: put("third"), done: make(chan commitResult, 1)},
	}
	c.queue, c.busy = calls, true
	c.runBatch()
	for i, want := range []error{nil, boom, nil} {
		if r := <-calls[i].done; r.err != want || r.lead {
			t.Fatalf("call %d: %+v, want err %v", i, r, want)
		}
	}
	if c.busy || len(c.queue) != 0 {
		t.Fatalf("committer still busy=%t with %d queued", c.busy, len(c.queue))
	}
	if st := c.stats(); st.Commits != 1 || st.Transactions != 2 || st.Rollbacks != 1 || st.CommitTime <= 0 {
		t.Fatalf("stats %+v, want one commit of two transactions after one rollback", st)
	}
	if got := len(handlers); got != 2 || handlers[0] != "first" || handlers[1] != "third" {
		t.Fatalf("commit handlers ran %v, want [first third]", handlers)
	}
	err := db.View(func(tx *bolt.Tx) error {
		for _, k := range []string{"first", "third"} {
			if v := string(tx.Bucket([]byte("b")).Get([]byte(k))); v != "1" {
				t.Errorf("%s = %q, want 1 (applied exactly once)", k, v)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCommitterConcurrent: every concurrent call runs and learns its result.
func TestCommitterConcurrent(t *testing.T) {
	db := openRawBolt(t)
	c := &committer{db: db}
	const n = 64
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			err := c.do(func(tx *bolt.Tx) error {
				b, err := tx.CreateBucketIfNotExists([]byte("b"))
				if err != nil {
					return err
				}
				if i%8 == 0 {
					return errors.New("refused")
				}
				return b.Put([]byte(strconv.Itoa(i)), nil)
			})
			if (err != nil) != (i%8 == 0) {
				t.Errorf("call %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	var count int
	_ = db.View(func(tx *bolt.Tx) error { count = tx.Bucket([]byte("b")).Stats().KeyN; return nil })
	if want := n - n/8; count != want {
		t.Fatalf("%d keys committed, want %d", count, want)
	}
}

func TestHubOrdersRevisions(t *testing.T) {
	h := newHub(10, 16)
	ch, err := h.add(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	ev := func(rev int64) []Event { return []Event{{Type: EventPut, KV: KV{Key: "k", Revision: rev}}} }
	h.publish(13, ev(13))
	h.publish(12, ev(12))
	select {
	case e := <-ch:
		t.Fatalf("delivered revision %d before 11", e.KV.Revision)
	default:
	}
	h.publish(11, ev(11))
	h.publish(10, ev(10)) // already past: ignored
	for want := int64(11); want <= 13; want++ {
		if e := <-ch; e.KV.Revision != want {
			t.Fatalf("got revision %d, want %d", e.KV.Revision, want)
		}
	}
	h.close()
	if _, ok := <-ch; ok {
		t.Fatal("channel open after close")
	}
	if _, err := h.add(t.Context(), ""); !errors.Is(err, ErrClosed) {
		t.Fatalf("add after close: %v", err)
	}
}

// TestCommitterLeadsOn: calls that queue while a batch commits are
// committed by the same leader, maxLeadBatches batches in a row at most;
// then the oldest queued call is told to lead.
func TestCommitterLeadsOn(t *testing.T) {
	db := openRawBolt(t)
	c := &committer{db: db}
	var calls []*commitCall
	commits := 0
	var enqueue func()
	enqueue = func() {
		call := &commitCall{done: make(chan commitResult, 1)}
		queued := false
		call.fn = func(tx *bolt.Tx) error {
			tx.OnCommit(func() { commits++ })
			if !queued { // a call arrives while this batch commits
				queued = true
				c.mu.Lock()
				enqueue()
				c.mu.Unlock()
			}
			return nil
		}
		calls = append(calls, call)
		c.queue = append(c.queue, call)
	}
	enqueue()
	c.busy = true
	c.runBatch()
	if commits != maxLeadBatches {
		t.Fatalf("the leader committed %d batches, want %d", commits, maxLeadBatches)
	}
	for i, call := range calls[:maxLeadBatches] {
		if r := <-call.done; r.err != nil || r.lead {
			t.Fatalf("call %d: %+v, want committed", i, r)
		}
	}
	if r := <-calls[maxLeadBatches].done; !r.lead {
		t.Fatalf("the next queued call got %+v, want the lead", r)
	}
	if !c.busy || len(c.queue) != 1 {
		t.Fatalf("busy=%t with %d queued, want busy with the new leader's call", c.busy, len(c.queue))
	}
}
