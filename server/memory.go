package server

import (
	"errors"
	"log/slog"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ukeygate/ukeygate/config"
	"github.com/ukeygate/ukeygate/storage"
)

// The memory policy (config.MemoryConfig, docs/operations.md "Memory
// sizing") gives memory back to the system after a mass departure of
// waiting clients. Thousands of portal pages waiting on a websocket or a
// long-poll cost the heap and goroutine stacks tens of KiB each; when they
// leave, that memory is garbage until the next GC (an idle server runs one
// every two minutes), and then free pages that Go's background scavenger
// returns only slowly (it keeps about the heap goal and returns the rest
// at about 1 % of a CPU). The policy notices the departure, drops the
// session hub's memory of the sessions nobody follows any more
// (session.Service.ForgetUnwatched) and the cached QR images and seal
// scans' page sketches (api.API.ForgetCaches), then runs one full GC and returns
// every free page at once (debug.FreeOSMemory), and unmaps the store's
// mapped file pages (storage.Bolt.ReleaseMappedPages).

// memStats is what the policy looks at.
type memStats struct {
	// Waiting is the number of clients following a session, Peak the
	// most there were since the previous check (session.Service.Waiting).
	Waiting, Peak int
	// HeapLive is the live heap at the end of the last GC.
	HeapLive uint64
	// HeapFree is the heap's free pages not yet returned to the system.
	HeapFree uint64
}

// releaseReason says why the policy released ("" for not now); it labels
// the releases metric.
type releaseReason string

const (
	releaseNone releaseReason = ""
	// releaseDeparture: the waiting clients fell to half their peak.
	releaseDeparture releaseReason = "departure"
	// releaseIdleHeap: the heap holds much more free memory than live.
	releaseIdleHeap releaseReason = "idle_heap"
)

// memPolicy is the decision alone, fed the clock and the stats (tests
// drive it with fake ones).
type memPolicy struct {
	cfg config.MemoryConfig
	// peak is the most waiting clients seen since the last release; prev
	// the count at the previous check.
	peak, prev int
	// last is when the policy last released (zero: never).
	last time.Time
}

// decide is called every check with the time and the stats; it returns
// why memory should be released now, or releaseNone. A departure counts
// when the peak was at least cfg.MinWaiters and the clients fell to half
// of it or fewer, once the count stopped falling fast (less than a
// sixteenth of the peak since the previous check), so that one release
// covers the whole departure. Free heap counts when it is at least
// cfg.MinFreeBytes and more than twice the live heap (at the GC's default
// pace the heap holds about as much free as live just after a GC). At most
// one release per cfg.MinInterval; a release starts a new peak.
func (p *memPolicy) decide(now time.Time, st memStats) releaseReason {
	prev := p.prev
	p.prev = st.Waiting
	p.peak = max(p.peak, st.Peak, st.Waiting)
	if !p.last.IsZero() && now.Sub(p.last) < p.cfg.MinInterval {
		return releaseNone
	}
	var why releaseReason
	switch {
	case p.peak >= p.cfg.MinWaiters && st.Waiting <= p.peak/2 && prev-st.Waiting <= p.peak/16:
		why = releaseDeparture
	case st.HeapFree >= uint64(p.cfg.MinFreeBytes) && st.HeapFree > 2*st.HeapLive:
		why = releaseIdleHeap
	default:
		return releaseNone
	}
	p.last, p.peak = now, st.Waiting
	return why
}

// mappedPagesReleaser is a store whose file pages are mapped into the
// process (storage.Bolt).
type mappedPagesReleaser interface {
	ReleaseMappedPages() (int64, error)
}

// memWatcher runs the policy: it reads the stats, and releases.
type memWatcher struct {
	policy  memPolicy
	now     func() time.Time
	stats   func() memStats
	release func()                // a full GC and every free page returned
	unmap   func() (int64, error) // nil when the store maps nothing
	forget  func() int            // drops the caches of departed clients (entries); nil: none
	heapRet func() uint64         // heap bytes returned to the system so far
	gate    *releaseGate          // processReleases, or a test's own
	log     *slog.Logger
	m       *memMetrics
}

// processReleases is shared by the servers of one process (tests run
// several): the Go runtime is one per process, so one release serves all
// of them within a MinInterval.
var processReleases = &releaseGate{}

// releaseGate lets one runtime release through per interval.
type releaseGate struct {
	mu   sync.Mutex
	last time.Time
}

// claim reports whether a runtime release may run at now, and if so
// records it.
func (g *releaseGate) claim(now time.Time, interval time.Duration) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.last.IsZero() && now.Sub(g.last) < interval && !now.Before(g.last) {
		return false
	}
	g.last = now
	return true
}

type memMetrics struct {
	releases *prometheus.CounterVec
	returned prometheus.Counter
	seconds  prometheus.Counter
}

func newMemMetrics(reg prometheus.Registerer) (*memMetrics, error) {
	m := &memMetrics{
		releases: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ukeygate_memory_releases_total",
			Help: "Memory releases of the memory policy (full GC, free heap returned, store pages unmapped), by reason: departure or idle_heap.",
		}, []string{"reason"}),
		returned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ukeygate_memory_returned_bytes_total",
			Help: "Heap bytes the memory policy's releases returned to the system.",
		}),
		seconds: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ukeygate_memory_release_seconds_total",
			Help: "Wall time spent in the memory policy's releases.",
		}),
	}
	for _, c := range []prometheus.Collector{m.releases, m.returned, m.seconds} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, r := range []releaseReason{releaseDeparture, releaseIdleHeap} {
		m.releases.WithLabelValues(string(r))
	}
	return m, nil
}

// check runs the policy once and releases if it says so; it returns the
// reason (releaseNone when nothing was done).
func (w *memWatcher) check() releaseReason {
	st := w.stats()
	now := w.now()
	why := w.policy.decide(now, st)
	if why == releaseNone {
		return why
	}
	start := time.Now()
	forgotten := 0
	if why == releaseDeparture && w.forget != nil {
		// Before the GC, so that what it held is freed by it.
		forgotten = w.forget()
	}
	before := w.heapRet()
	if w.gate.claim(now, w.policy.cfg.MinInterval) {
		w.release()
	}
	var unmapped int64
	var uerr error
	if w.unmap != nil {
		unmapped, uerr = w.unmap()
	}
	took := time.Since(start)
	var returned uint64
	if after := w.heapRet(); after > before {
		returned = after - before
	}
	w.m.releases.WithLabelValues(string(why)).Inc()
	w.m.returned.Add(float64(returned))
	w.m.seconds.Add(took.Seconds())
	attrs := []any{"reason", why, "waiting", st.Waiting, "cache_entries_dropped", forgotten, "heap_live_mib", st.HeapLive >> 20,
		"heap_returned_mib", returned >> 20, "store_unmapped_mib", unmapped >> 20, "took", took.Round(time.Millisecond)}
	if uerr != nil && !errors.Is(uerr, storage.ErrClosed) {
		w.log.Warn("memory released; unmapping the store's pages failed", append(attrs, "err", uerr)...)
	} else {
		w.log.Info("memory released", attrs...)
	}
	return why
}

// runtimeStats reads HeapLive and HeapFree from runtime/metrics (no
// stop-the-world, unlike runtime.ReadMemStats).
func runtimeStats(waiting func() (int, int)) func() memStats {
	return func() memStats {
		s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/memory/classes/heap/free:bytes"}}
		metrics.Read(s)
		now, peak := waiting()
		return memStats{Waiting: now, Peak: peak, HeapLive: sampleUint(s[0]), HeapFree: sampleUint(s[1])}
	}
}

// heapReturned is the heap memory returned to the system so far.
func heapReturned() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	return sampleUint(s[0])
}

func sampleUint(s metrics.Sample) uint64 {
	if s.Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s.Value.Uint64()
}

// releaseMemory runs two full GCs and returns every free heap page: the
// first GC moves what sync.Pools hold (net/http's bufio buffers of the
// departed clients' connections) to the pools' victim caches, the second
// (inside FreeOSMemory) frees them. On a live heap of tens of MiB each GC
// costs milliseconds.
func releaseMemory() {
	runtime.GC()
	debug.FreeOSMemory()
}

// waitingClients is what the policy needs of the session service.
type waitingClients interface {
	// Waiting counts the clients following a session now, and their
	// peak since the previous call.
	Waiting() (now, peak int)
	// ForgetUnwatched drops the hub's memory of sessions nobody follows.
	ForgetUnwatched() int
}

// apiCaches are the API's caches of what it drew: QR images and page
// sketches.
type apiCaches interface {
	ForgetCaches() int
}

// startMemoryPolicy runs the memory policy every memory.check_interval
// until the server closes, when memory.release is on.
func (s *Server) startMemoryPolicy(sessions waitingClients, drawn apiCaches) error {
	mc := s.cfg.Memory
	if !mc.Release {
		return nil
	}
	m, err := newMemMetrics(s.reg)
	if err != nil {
		return err
	}
	w := &memWatcher{
		policy:  memPolicy{cfg: mc},
		now:     time.Now,
		stats:   runtimeStats(sessions.Waiting),
		forget:  func() int { return sessions.ForgetUnwatched() + drawn.ForgetCaches() },
		release: releaseMemory,
		heapRet: heapReturned,
		gate:    processReleases,
		log:     s.log.With("component", "memory"),
		m:       m,
	}
	if r, ok := s.raw.(mappedPagesReleaser); ok {
		w.unmap = r.ReleaseMappedPages
	}
	go func() {
		t := time.NewTicker(mc.CheckInterval)
		defer t.Stop()
		for {
			select {
			case <-s.ctx.Done():
				return
			case <-t.C:
				w.check()
			}
		}
	}()
	return nil
}
