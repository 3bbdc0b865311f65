package storage

import (
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// maxCommitBatch bounds how many transactions share one bbolt write
// transaction (and so one fsync).
const maxCommitBatch = 1000

// committer is a group commit in front of bbolt: every write goes through
// do, concurrent callers share one bbolt transaction and so one fsync, and a
// lone caller commits at once.
//
// bbolt's own DB.Batch does the same sharing but waits MaxBatchDelay (10 ms
// by default) before every batch, which would cost a lone writer 10 ms per
// call; here the first caller leads at once, callers arriving while a commit
// is in flight queue up, and when the commit ends the leader commits them
// as the next batch (up to maxLeadBatches in a row; then the oldest queued
// caller leads).
//
// Like DB.Batch, a function may run more than once (when another function
// of its batch fails, the batch is rolled back and re-run without the
// failing one), so functions must reset their results at the start of
// every run, and must only publish through tx.OnCommit.
type committer struct {
	db *bolt.DB

	mu    sync.Mutex
	queue []*commitCall
	busy  bool // a leader is running

	// What CommitStats reports, kept by the leader.
	commits, txns, rollbacks atomic.Uint64
	commitNanos              atomic.Int64
}

// CommitStats counts the data file's durable commits since it was opened:
// what the group commit shares between callers and how long the commits
// (page writes and their fsyncs) held the file's one write path. Commit
// time close to the wall-clock time means the disk bounds the writes.
type CommitStats struct {
	Commits      uint64        // bbolt write transactions committed (each one or more fsyncs)
	Transactions uint64        // Txn calls (and other writes) those commits carried
	Rollbacks    uint64        // batches rolled back and re-run because one of their calls failed
	CommitTime   time.Duration // spent inside the write transactions, fsyncs included
	DiskTime     time.Duration // of CommitTime, writing the dirty pages and the meta page, fsyncs included
	PagesWritten uint64        // pages those commits wrote (bbolt's count)
}

func (c *committer) stats() CommitStats {
	tx := c.db.Stats().TxStats
	return CommitStats{
		Commits: c.commits.Load(), Transactions: c.txns.Load(), Rollbacks: c.rollbacks.Load(),
		CommitTime: time.Duration(c.commitNanos.Load()), DiskTime: tx.GetWriteTime(), PagesWritten: uint64(tx.GetWrite()),
	}
}

type commitCall struct {
	fn   func(*bolt.Tx) error
	done chan commitResult // buffered 1: first maybe a lead signal, then the result
}

type commitResult struct {
	err  error
	lead bool // the receiver becomes the leader and must call runBatch
}

// do runs fn inside a write transaction and returns when that transaction
// has committed (and fsynced) or failed.
func (c *committer) do(fn func(*bolt.Tx) error) error {
	call := &commitCall{fn: fn, done: make(chan commitResult, 1)}
	c.mu.Lock()
	c.queue = append(c.queue, call)
	if !c.busy {
		c.busy = true
		c.mu.Unlock()
		c.runBatch()
	} else {
		c.mu.Unlock()
		if r := <-call.done; !r.lead {
			return r.err
		}
		c.runBatch()
	}
	return (<-call.done).err
}

// maxLeadBatches bounds how many batches one leader commits in a row
// before it hands the lead on (its own caller waits meanwhile, though its
// result is known).
const maxLeadBatches = 8

// runBatch commits the calls at the head of the queue (the leader's own call
// is among them), then, while calls are queued, the next batches, at most
// maxLeadBatches in all, and hands leadership to the next queued call, if
// any. Leading on saves a hand-over per commit on the store's one write
// path: the next leader would have to be scheduled first, and under load
// it waits for a CPU that other goroutines hold (a PIN derivation keeps
// one for milliseconds) while nothing commits.
func (c *committer) runBatch() {
	for range maxLeadBatches - 1 {
		c.commitBatch()
		c.mu.Lock()
		if len(c.queue) == 0 {
			c.busy = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
	}
	c.commitBatch()
	c.mu.Lock()
	if len(c.queue) > 0 {
		c.queue[0].done <- commitResult{lead: true}
	} else {
		c.busy = false
	}
	c.mu.Unlock()
}

// commitBatch commits the calls at the head of the queue and sends each
// its result.
func (c *committer) commitBatch() {
	c.mu.Lock()
	n := min(len(c.queue), maxCommitBatch)
	batch := make([]*commitCall, n)
	copy(batch, c.queue)
	c.queue = append(c.queue[:0:0], c.queue[n:]...)
	c.mu.Unlock()

	for len(batch) > 0 {
		failed := -1
		var failErr error
		start := time.Now()
		err := c.db.Update(func(tx *bolt.Tx) error {
			for i, call := range batch {
				if err := call.fn(tx); err != nil {
					failed, failErr = i, err
					return err
				}
			}
			return nil
		})
		c.commitNanos.Add(int64(time.Since(start)))
		if failed >= 0 {
			c.rollbacks.Add(1)
			// Roll back happened; report the failure to its caller alone and
			// re-run the others without it.
			batch[failed].done <- commitResult{err: failErr}
			batch = append(batch[:failed], batch[failed+1:]...)
			continue
		}
		if err == nil {
			c.commits.Add(1)
			c.txns.Add(uint64(len(batch)))
		}
		for _, call := range batch {
			call.done <- commitResult{err: err}
		}
		break
	}
}
