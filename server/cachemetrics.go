package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/readcache"
)

// registerCacheMetrics exports the record cache's counters
// (ukeygate_store_cache_*).
func registerCacheMetrics(reg prometheus.Registerer, c *readcache.Store) error {
	counter := func(name, help string, f func(readcache.Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ukeygate_store_cache_" + name, Help: help},
			func() float64 { return float64(f(c.Stats())) })
	}
	for _, col := range []prometheus.Collector{
		counter("hits_total", "Reads of hot records answered from the node's record cache.", func(s readcache.Stats) uint64 { return s.Hits }),
		counter("misses_total", "Reads of hot records that went to the store.", func(s readcache.Stats) uint64 { return s.Misses }),
		counter("invalidations_total", "Cached records dropped because they changed (local write, store watch, failed transaction).", func(s readcache.Stats) uint64 { return s.Invalidations }),
		counter("flushes_total", "Times a record prefix's cache was emptied (its store watch opened or ended, or a compaction).", func(s readcache.Stats) uint64 { return s.Flushes }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ukeygate_store_cache_entries", Help: "Records and indexes held in the node's record cache."},
			func() float64 { return float64(c.Stats().Entries) }),
	} {
		if err := reg.Register(col); err != nil {
			return err
		}
	}
	return nil
}

// commitStatser is a store that counts its durable commits (the embedded
// bbolt file; etcd reports its own in its metrics).
type commitStatser interface {
	CommitStats() storage.CommitStats
}

// registerCommitMetrics exports the bbolt file's group commits
// (ukeygate_store_commit*): how many transactions share a commit and how
// much of the time the file's one write path is busy committing.
func registerCommitMetrics(reg prometheus.Registerer, st commitStatser) error {
	counter := func(name, help string, f func(storage.CommitStats) float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ukeygate_store_" + name, Help: help},
			func() float64 { return f(st.CommitStats()) })
	}
	for _, col := range []prometheus.Collector{
		counter("commits_total", "Durable commits of the data file (bbolt write transactions, each with its fsyncs).",
			func(s storage.CommitStats) float64 { return float64(s.Commits) }),
		counter("committed_transactions_total", "Store transactions those commits carried (the group commit shares one commit between concurrent writers).",
			func(s storage.CommitStats) float64 { return float64(s.Transactions) }),
		counter("commit_rollbacks_total", "Group commits rolled back and re-run without the one transaction that failed.",
			func(s storage.CommitStats) float64 { return float64(s.Rollbacks) }),
		counter("commit_seconds_total", "Time spent committing, page writes and fsyncs included; its rate near 1 means the disk bounds the writes.",
			func(s storage.CommitStats) float64 { return s.CommitTime.Seconds() }),
		counter("commit_disk_seconds_total", "Of the commit time, writing pages and fsyncing them.",
			func(s storage.CommitStats) float64 { return s.DiskTime.Seconds() }),
		counter("commit_pages_total", "Pages the commits wrote.",
			func(s storage.CommitStats) float64 { return float64(s.PagesWritten) }),
	} {
		if err := reg.Register(col); err != nil {
			return err
		}
	}
	return nil
}
