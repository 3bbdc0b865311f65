package server

import (
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ukeygate/ukeygate/config"
	"github.com/ukeygate/ukeygate/storage"
)

// memStep is one check of the policy: the clock moves by after, then the
// policy sees st and must answer want.
type memStep struct {
	after time.Duration
	st    memStats
	want  releaseReason
}

const mib = 1 << 20

func waiting(n int) memStats { return memStats{Waiting: n, HeapLive: 40 * mib, HeapFree: 10 * mib} }

// TestMemPolicyDecide drives the decision with a fake clock and fake stats
// (defaults: min_waiters 2048, min_free_bytes 64 MiB, min_interval 30 s).
func TestMemPolicyDecide(t *testing.T) {
	const tick = 2 * time.Second
	tests := []struct {
		name  string
		steps []memStep
	}{
		{"quiet server never releases", []memStep{
			{tick, waiting(0), releaseNone}, {tick, waiting(10), releaseNone}, {tick, waiting(0), releaseNone},
		}},
		{"a small peak is not worth it", []memStep{
			{tick, waiting(2047), releaseNone}, {tick, waiting(0), releaseNone}, {tick, waiting(0), releaseNone},
		}},
		{"mass departure, released once it stops falling", []memStep{
			{tick, waiting(19500), releaseNone},
			{tick, waiting(9000), releaseNone}, // still falling fast
			{tick, waiting(300), releaseNone},  // still falling fast
			{tick, waiting(200), releaseDeparture},
			{tick, waiting(0), releaseNone}, // new peak 200: nothing more
			{time.Hour, waiting(0), releaseNone},
		}},
		{"an instant departure is released at the next check", []memStep{
			{tick, waiting(4000), releaseNone},
			{tick, waiting(0), releaseNone},
			{tick, waiting(0), releaseDeparture},
		}},
		{"falling by less than half is no departure", []memStep{
			{tick, waiting(10000), releaseNone}, {tick, waiting(5001), releaseNone}, {tick, waiting(5001), releaseNone},
		}},
		{"exactly half is", []memStep{
			{tick, waiting(10000), releaseNone}, {tick, waiting(5000), releaseNone}, {tick, waiting(5000), releaseDeparture},
		}},
		{"slow departure below a sixteenth of the peak per check", []memStep{
			{tick, waiting(16000), releaseNone},
			{tick, waiting(15000), releaseNone},
			{tick, waiting(9000), releaseNone},
			{tick, waiting(8000), releaseDeparture}, // 1,000 ≤ 16,000/16 since the previous check
		}},
		{"the peak survives checks without a release", []memStep{
			{tick, waiting(3000), releaseNone},
			{time.Hour, waiting(1600), releaseNone},
			{time.Hour, waiting(1500), releaseDeparture},
		}},
		{"at most one release per min_interval", []memStep{
			{tick, waiting(20000), releaseNone},
			{tick, waiting(0), releaseNone},
			{tick, waiting(0), releaseDeparture},
			{tick, waiting(5000), releaseNone},
			{tick, waiting(0), releaseNone},             // a departure from 5,000, but 4 s after the release
			{20 * time.Second, waiting(0), releaseNone}, // 24 s
			{6 * time.Second, waiting(0), releaseDeparture},
		}},
		{"free heap over 64 MiB and twice the live heap", []memStep{
			{tick, memStats{HeapLive: 20 * mib, HeapFree: 63 * mib}, releaseNone},
			{tick, memStats{HeapLive: 32 * mib, HeapFree: 64 * mib}, releaseNone},
			{tick, memStats{HeapLive: 31 * mib, HeapFree: 64 * mib}, releaseIdleHeap},
			{tick, memStats{HeapLive: 1 * mib, HeapFree: 600 * mib}, releaseNone}, // within min_interval
			{30 * time.Second, memStats{HeapLive: 1 * mib, HeapFree: 600 * mib}, releaseIdleHeap},
		}},
		{"a peak between two checks counts", []memStep{
			{tick, waiting(0), releaseNone},
			{tick, memStats{Waiting: 0, Peak: 5000, HeapLive: 40 * mib}, releaseDeparture}, // came and went within 2 s
		}},
		{"free heap releases while a departure is still falling", []memStep{
			{tick, waiting(3000), releaseNone},
			{tick, memStats{Waiting: 0, HeapLive: 1 * mib, HeapFree: 600 * mib}, releaseIdleHeap},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := memPolicy{cfg: config.DefaultMemory()}
			now := time.Date(2026, 12, 4, 19, 0, 0, 0, time.UTC)
			for i, s := range tc.steps {
				now = now.Add(s.after)
				if got := p.decide(now, s.st); got != s.want {
					t.Fatalf("step %d (%+v): decide = %q, want %q", i, s.st, got, s.want)
				}
			}
		})
	}
}

// TestMemWatcherCheck: a release runs the GC hook and the store's unmap,
// counts itself, and the process-wide gate keeps a second server from
// releasing the runtime again within min_interval.
func TestMemWatcherCheck(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := newMemMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 4, 19, 0, 0, 0, time.UTC)
	st := waiting(0)
	var released, unmapped, forgot int
	returned := uint64(100 * mib)
	gate := &releaseGate{}
	newWatcher := func(unmapErr error) *memWatcher {
		return &memWatcher{
			policy:  memPolicy{cfg: config.DefaultMemory()},
			now:     func() time.Time { return now },
			stats:   func() memStats { return st },
			release: func() { released++; returned += 300 * mib },
			unmap:   func() (int64, error) { unmapped++; return 64 * mib, unmapErr },
			forget:  func() int { forgot++; return 19500 },
			heapRet: func() uint64 { return returned },
			gate:    gate,
			log:     slog.New(slog.DiscardHandler),
			m:       m,
		}
	}
	w := newWatcher(nil)
	for _, n := range []int{19500, 0} {
		st = waiting(n)
		if got := w.check(); got != releaseNone {
			t.Fatalf("waiting %d: check = %q, want none", n, got)
		}
		now = now.Add(2 * time.Second)
	}
	if released != 0 || unmapped != 0 || forgot != 0 {
		t.Fatalf("released %d, unmapped %d before the departure settled", released, unmapped)
	}
	if got := w.check(); got != releaseDeparture {
		t.Fatalf("check = %q, want departure", got)
	}
	if released != 1 || unmapped != 1 || forgot != 1 {
		t.Fatalf("released %d, unmapped %d, forgot %d; want 1, 1, 1", released, unmapped, forgot)
	}
	if got := counter(t, reg, "ukeygate_memory_releases_total", "departure"); got != 1 {
		t.Errorf("departure releases = %v, want 1", got)
	}
	if got := counter(t, reg, "ukeygate_memory_returned_bytes_total", ""); got != 300*mib {
		t.Errorf("returned bytes = %v, want %d", got, 300*mib)
	}

	// A second server of the same process, 10 s later: its own policy
	// releases (free heap), but the runtime was released 10 s ago.
	now = now.Add(10 * time.Second)
	st = memStats{HeapLive: mib, HeapFree: 600 * mib}
	w2 := newWatcher(storage.ErrClosed) // closing: not worth a warning
	if got := w2.check(); got != releaseIdleHeap {
		t.Fatalf("second server: check = %q, want idle_heap", got)
	}
	if released != 1 || unmapped != 2 || forgot != 1 {
		t.Fatalf("released %d, unmapped %d, forgot %d; want 1 (the gate), 2, 1 (not a departure)", released, unmapped, forgot)
	}
	if got := counter(t, reg, "ukeygate_memory_releases_total", "idle_heap"); got != 1 {
		t.Errorf("idle_heap releases = %v, want 1", got)
	}
	now = now.Add(30 * time.Second)
	w3 := newWatcher(errors.New("madvise: boom"))
	if got := w3.check(); got != releaseIdleHeap || released != 2 || unmapped != 3 {
		t.Fatalf("40 s later: check = %q, released %d, unmapped %d; want idle_heap, 2, 3", got, released, unmapped)
	}
}

// counter is the value of the counter name (with reason label reason, or
// none) in reg.
func counter(t *testing.T, reg *prometheus.Registry, name, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			got := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" {
					got = l.GetValue()
				}
			}
			if got == reason {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no %s{reason=%q} in the registry", name, reason)
	return 0
}
