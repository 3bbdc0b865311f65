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
	commits, txns, rollbacks, pages atomic.Uint64
	commitNanos, diskNanos          atomic.Int64
}

// CommitStats counts the data file's durable commits since it was opened:
// what the group commit shares between callers and how long the commits
// (page writes and their fsyncs) held the file's one write path. Under a
// steady load of concurrent writers the path stays busy by design (the
// next group gathers during a commit); see docs/operations.md, "Is the
// disk the bound?", for how to read it.
type CommitStats struct {
	Commits      uint64        // bbolt write transactions committed (each one or more fsyncs)
	Transactions uint64        // Txn calls (and other writes) those commits carried
	Rollbacks    uint64        // batches rolled back and re-run because one of their calls failed
	CommitTime   time.Duration // spent inside the write transactions, fsyncs included
	DiskTime     time.Duration // of CommitTime, writing the dirty pages and the meta page, fsyncs included
	PagesWritten uint64        // pages those commits wrote (bbolt's count)
}

func (c *committer) stats() CommitStats {
	return CommitStats{
		Commits: c.commits.Load(), Transactions: c.txns.Load(), Rollbacks: c.rollbacks.Load(),
		CommitTime: time.Duration(c.commitNanos.Load()), DiskTime: time.Duration(c.diskNanos.Load()), PagesWritten: c.pages.Load(),
	}
}

// carryStats starts c's counts where old's stand, so that a compaction's
// new committer keeps counting (Prometheus counters do not go back).
func (c *committer) carryStats(old *committer) {
	c.commits.Store(old.commits.Load())
	c.txns.Store(old.txns.Load())
	c.rollbacks.Store(old.rollbacks.Load())
	c.pages.Store(old.pages.Load())
	c.commitNanos.Store(old.commitNanos.Load())
	c.diskNanos.Store(old.diskNanos.Load())
}

// writeStats reads bbolt's running totals of page writes and their time
// (the committer is the file's only writer once it is open, so the
// difference across a commit is that commit's).
func (c *committer) writeStats() (pages int64, d time.Duration) {
	s := c.db.Stats().TxStats
	return s.GetWrite(), s.GetWriteTime()
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
		pages0, disk0 := c.writeStats()
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
		pages1, disk1 := c.writeStats()
		c.pages.Add(uint64(pages1 - pages0))
		c.diskNanos.Add(int64(disk1 - disk0))
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
