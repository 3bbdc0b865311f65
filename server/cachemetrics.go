package server

import (
	"github.com/prometheus/client_golang/prometheus"

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
