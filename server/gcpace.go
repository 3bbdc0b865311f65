package server

import (
	"context"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// The GC pace (config.MemoryConfig.GCHeadroom). Go starts a garbage
// collection each time the heap has grown by GOGC % of what the last one
// left live (plus goroutine stacks and globals). A node under a login load
// keeps about 14 MiB live and allocates about 300 KiB per session, so at
// GOGC=100 it collects ten times a second, and each collection marks the
// whole live heap again (docs/benchmarks.md, round 10). After every
// collection the pacer sets the GC percent so that the next one comes no
// sooner than the headroom later: a small live heap gets a higher percent,
// a large one (thousands of waiting clients, whose memory the waiting-
// clients targets count) already has the headroom and keeps Go's own.

// Bounds of the percent the pacer sets.
const (
	// gcPercentFloor is Go's default, never gone below.
	gcPercentFloor = 100
	// gcPercentCeil bounds the percent for a nearly empty heap (a node
	// just started), whose collections are cheap anyway.
	gcPercentCeil = 1000
)

// gcPercentFor is the GC percent that leaves headroom bytes of
// allocation before the next collection, for a heap whose collection
// leaves scannable bytes (live heap, stacks and globals): at least
// gcPercentFloor, at most gcPercentCeil.
func gcPercentFor(scannable uint64, headroom int64) int {
	if headroom <= 0 {
		return gcPercentFloor
	}
	if scannable == 0 {
		return gcPercentCeil
	}
	p := (uint64(headroom)*100 + scannable - 1) / scannable
	return int(min(max(p, gcPercentFloor), gcPercentCeil))
}

// gcPacer sets the GC percent after every collection while at least one
// server of the process wants it (the runtime is one per process; tests
// run several servers). Its cleanups run on the runtime's cleanup
// goroutine, one per collection.
type gcPacer struct {
	mu       sync.Mutex
	users    int
	headroom int64
	// gen numbers the pacer's runs: a cleanup armed by an earlier run
	// (before a stop) does nothing.
	gen uint64
	// base is the percent the process had when the pacer started, put
	// back when it stops.
	base int
}

// processPacer is the process's one pacer.
var processPacer = &gcPacer{}

// start makes the pacer run with headroom (the largest asked for by the
// servers running) until every start has been matched by a call of the
// stop it returns.
func (p *gcPacer) start(headroom int64) (stop func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.users == 0 {
		p.gen++
		p.base = gcPercent()
		p.headroom = 0
		if p.base >= 0 { // collection turned off (GOGC=off) stays off
			p.armLocked(p.gen)
		}
	}
	p.users++
	p.headroom = max(p.headroom, headroom)
	var once sync.Once
	return func() { once.Do(p.stop) }
}

func (p *gcPacer) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.users--
	if p.users == 0 {
		p.gen++
		debug.SetGCPercent(p.base)
	}
}

// gcSentinel is what a cleanup hangs on: a fresh one per collection, not
// small enough to share a tiny allocation block with other objects
// (which would keep it alive).
type gcSentinel struct{ _ [32]byte }

// armLocked hangs the pace's cleanup on a new unreachable object: it
// runs after the next collection that finds it unreachable.
func (p *gcPacer) armLocked(gen uint64) {
	runtime.AddCleanup(new(gcSentinel), p.afterGC, gen)
}

// afterGC sets the percent for the live heap the collection just left,
// and arms the next cleanup.
func (p *gcPacer) afterGC(gen uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if gen != p.gen || p.users == 0 || p.base < 0 {
		return
	}
	debug.SetGCPercent(gcPercentFor(scannableBytes(), p.headroom))
	p.armLocked(gen)
}

// gcPercent is the process's GC percent now (GOGC, or what
// debug.SetGCPercent last set).
func gcPercent() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

// gcScanMetrics are what the Go runtime's heap goal is computed from.
var gcScanMetrics = []string{"/gc/heap/live:bytes", "/gc/scan/stack:bytes", "/gc/scan/globals:bytes"}

// scannableBytes is the live heap the last collection left plus the
// stacks and globals it scanned.
func scannableBytes() uint64 {
	s := make([]metrics.Sample, len(gcScanMetrics))
	for i, name := range gcScanMetrics {
		s[i].Name = name
	}
	metrics.Read(s)
	var n uint64
	for _, m := range s {
		if m.Value.Kind() == metrics.KindUint64 {
			n += m.Value.Uint64()
		}
	}
	return n
}

// startGCPacer paces the process's collections by memory.gc_headroom
// until the server closes (0: Go's own pace).
func (s *Server) startGCPacer() {
	if s.cfg.Memory.GCHeadroom <= 0 {
		return
	}
	stop := processPacer.start(s.cfg.Memory.GCHeadroom)
	context.AfterFunc(s.ctx, stop)
}
