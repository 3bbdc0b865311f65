package server

import (
	"os"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestGCPercentFor(t *testing.T) {
	tests := []struct {
		name      string
		scannable uint64
		headroom  int64
		want      int
	}{
		{"off", 10 * mib, 0, gcPercentFloor},
		{"login load: 14 MiB live, 32 MiB headroom", 14 * mib, 32 * mib, 229},
		{"exact", 16 * mib, 32 * mib, 200},
		{"a large heap keeps Go's pace", 160 * mib, 32 * mib, gcPercentFloor},
		{"the floor exactly", 32 * mib, 32 * mib, gcPercentFloor},
		{"a nearly empty heap is capped", 1 << 10, 32 * mib, gcPercentCeil},
		{"nothing scanned yet", 0, 32 * mib, gcPercentCeil},
	}
	for _, tt := range tests {
		if got := gcPercentFor(tt.scannable, tt.headroom); got != tt.want {
			t.Errorf("%s: gcPercentFor(%d, %d) = %d, want %d", tt.name, tt.scannable, tt.headroom, got, tt.want)
		}
	}
}

// waitPercent runs collections until the GC percent satisfies ok (the
// pacer sets it from a cleanup, after the collection), or fails.
func waitPercent(t *testing.T, what string, ok func(int) bool) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		p := gcPercent()
		if ok(p) {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("GC percent %d: want %s", p, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestGCPacer: while started, every collection raises the GC percent for
// the test binary's small heap; a second start and stop pair counts;
// after the last stop the process's own percent is back and stays.
// Not parallel: the GC percent is the process's.
func TestGCPacer(t *testing.T) {
	if os.Getenv("GOGC") != "" {
		t.Skip("GOGC is set: the test needs Go's default pace to compare with")
	}
	base := gcPercent()
	p := &gcPacer{}
	const headroom = 256 * mib // far more than this binary keeps live
	stop1 := p.start(headroom)
	raised := func(n int) bool {
		want := gcPercentFor(scannableBytes(), headroom)
		return n > gcPercentFloor && n >= want*9/10 && n <= want*11/10
	}
	waitPercent(t, "raised for a 256 MiB headroom", raised)
	stop2 := p.start(headroom)
	stop1()
	stop1() // a stop counts once
	waitPercent(t, "still raised while a start is left", raised)
	stop2()
	if got := gcPercent(); got != base {
		t.Fatalf("after the last stop: GC percent %d, want the process's %d", got, base)
	}
	for range 3 {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if got := gcPercent(); got != base {
		t.Fatalf("a cleanup armed before the stop changed the GC percent to %d (want %d)", got, base)
	}
}

// TestGCPacerLeavesCollectionOff: with collection turned off the pacer
// turns nothing on, even across explicit collections.
func TestGCPacerLeavesCollectionOff(t *testing.T) {
	prev := debug.SetGCPercent(-1)
	defer debug.SetGCPercent(prev)
	p := &gcPacer{}
	stop := p.start(256 * mib)
	for range 3 {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if got := gcPercent(); got != -1 {
		t.Errorf("GC percent %d with collection turned off, want -1", got)
	}
	stop()
	if got := gcPercent(); got != -1 {
		t.Errorf("GC percent %d after the stop, want -1", got)
	}
}
