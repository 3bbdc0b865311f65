package bench_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/pprof/profile"

	"github.com/ukeygate/ukeygate/bench"
	"github.com/ukeygate/ukeygate/server/servertest"
)

// Sides of the process an allocation is counted for: the bench's server
// and client share it (servertest), so each allocation is attributed by
// the goroutine it was made on, named by the outermost frame of its stack
// (runtime.goexit and sync.WaitGroup.Go's wrapper aside).
const (
	sideServer  = "server"  // net/http's server connections and the node's own goroutines
	sideClient  = "client"  // the bench, portal and phone clients and net/http's client transport
	sideHarness = "harness" // the test's log sink (servertest's t.Log of each line): not the node's
	sideOther   = "other"   // goroutines of neither (timers' AfterFunc, the runtime)
)

// sideBbolt is the part of sideServer that bbolt allocates itself (its
// nodes, cursors and pages: it follows the shape of the file's B+trees
// and how many transactions share a commit, so it moves from run to run
// more than the rest).
const sideBbolt = "server-bbolt"

// allocSide is what one side allocated: bytes and objects.
type allocSide struct{ Bytes, Objects int64 }

// sideOf names the side of a sample's stack (leaf first, as pprof gives it).
func sideOf(s *profile.Sample) string {
	var root string
	for i := len(s.Location) - 1; i >= 0 && root == ""; i-- {
		lines := s.Location[i].Line
		for j := len(lines) - 1; j >= 0; j-- {
			if lines[j].Function == nil || lines[j].Function.Name == "runtime.goexit" ||
				strings.HasPrefix(lines[j].Function.Name, "sync.(*WaitGroup).Go") {
				continue // the goroutine's own function is inside
			}
			root = lines[j].Function.Name
			break
		}
	}
	for _, loc := range s.Location {
		for _, l := range loc.Line {
			if l.Function != nil && strings.HasPrefix(l.Function.Name, "github.com/ukeygate/ukeygate/server/servertest.(*logWriter)") {
				return sideHarness
			}
		}
	}
	const ours = "github.com/ukeygate/ukeygate/"
	switch {
	case strings.HasPrefix(root, "net/http.(*conn)."), strings.HasPrefix(root, "net/http.(*Server)."):
		return sideServer
	case strings.HasPrefix(root, "net/http.(*persistConn)."), strings.HasPrefix(root, "net/http.(*Transport)."),
		strings.HasPrefix(root, "testing."),
		strings.HasPrefix(root, ours+"bench."), strings.HasPrefix(root, ours+"bench_test."),
		strings.HasPrefix(root, ours+"portal."), strings.HasPrefix(root, ours+"phone."):
		return sideClient
	case strings.HasPrefix(root, ours):
		return sideServer
	}
	return sideOther
}

// allocsProfile is the process's allocation profile now (after a
// collection, so that it counts everything allocated so far).
func allocsProfile(tb testing.TB) *profile.Profile {
	tb.Helper()
	runtime.GC()
	var buf bytes.Buffer
	if err := pprof.Lookup("allocs").WriteTo(&buf, 0); err != nil {
		tb.Fatal(err)
	}
	p, err := profile.Parse(&buf)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// sessionAllocs is what n sessions allocated, by side, and the profile of
// it (the difference of two allocation profiles).
type sessionAllocs struct {
	n     int
	sides map[string]allocSide
	prof  *profile.Profile
}

// perSession is one side's bytes and objects per session.
func (a sessionAllocs) perSession(side string) (bytes, objects float64) {
	s := a.sides[side]
	return float64(s.Bytes) / float64(a.n), float64(s.Objects) / float64(a.n)
}

// measureAllocs runs run (which returns how many sessions it completed)
// with every allocation recorded (runtime.MemProfileRate 1) and counts
// them by side.
func measureAllocs(tb testing.TB, run func() int) sessionAllocs {
	tb.Helper()
	prev := runtime.MemProfileRate
	runtime.MemProfileRate = 1
	defer func() { runtime.MemProfileRate = prev }()
	// Both profiles are written at rate 1, so the records made before it
	// (sampled) are the same in both and cancel out.
	before := allocsProfile(tb)
	n := run()
	after := allocsProfile(tb)
	if n <= 0 {
		tb.Fatalf("%d sessions completed", n)
	}
	before.Scale(-1)
	diff, err := profile.Merge([]*profile.Profile{after, before})
	if err != nil {
		tb.Fatal(err)
	}
	objIdx, spaceIdx := -1, -1
	for i, st := range diff.SampleType {
		switch st.Type {
		case "alloc_objects":
			objIdx = i
		case "alloc_space":
			spaceIdx = i
		}
	}
	if objIdx < 0 || spaceIdx < 0 {
		tb.Fatalf("allocation profile without alloc_objects and alloc_space: %v", diff.SampleType)
	}
	a := sessionAllocs{n: n, sides: map[string]allocSide{}, prof: diff}
	for _, s := range diff.Sample {
		side := sideOf(s)
		sides := []string{side}
		if side == sideServer && strings.HasPrefix(allocSite(s), "go.etcd.io/bbolt") {
			sides = append(sides, sideBbolt)
		}
		for _, side := range sides {
			c := a.sides[side]
			c.Bytes += s.Value[spaceIdx]
			c.Objects += s.Value[objIdx]
			a.sides[side] = c
		}
	}
	return a
}

// allocSite is the function that made a sample's allocation: its first
// frame outside the runtime.
func allocSite(s *profile.Sample) string {
	for _, loc := range s.Location {
		for _, l := range loc.Line {
			if l.Function != nil && !strings.HasPrefix(l.Function.Name, "runtime.") {
				return l.Function.Name
			}
		}
	}
	return "?"
}

// topSites lists the k call sites (allocSite) that allocated the most
// bytes on side, per session.
func (a sessionAllocs) topSites(side string, k int) string {
	spaceIdx := 0
	for i, st := range a.prof.SampleType {
		if st.Type == "alloc_space" {
			spaceIdx = i
		}
	}
	bySite := map[string]int64{}
	for _, s := range a.prof.Sample {
		if sideOf(s) != side {
			continue
		}
		bySite[allocSite(s)] += s.Value[spaceIdx]
	}
	sites := make([]string, 0, len(bySite))
	for s := range bySite {
		sites = append(sites, s)
	}
	sort.Slice(sites, func(i, j int) bool { return bySite[sites[i]] > bySite[sites[j]] })
	var b strings.Builder
	for i, s := range sites {
		if i == k {
			break
		}
		fmt.Fprintf(&b, "  %8.0f B  %s\n", float64(bySite[s])/float64(a.n), s)
	}
	return b.String()
}

// Bounds of what the node allocates per completed login SM2 session, one
// session at a time (TestAllocsPerSession). Round 16 (docs/benchmarks.md)
// took the node's own part (all but bbolt's, steady to within 0.1 KB
// from run to run) from 228 KB in 1,433 objects to 172 KB in 1,300, and
// the whole from 391–401 KB to 336–348 KB (bbolt's own 161–174 KB and
// about 700 objects, which follow the file's tree shape). Round 17 took
// the node's own part from 170.5–171.0 KB in about 1,294 objects to
// 151.5–151.8 KB in about 1,250, the whole to 311–319 KB (watched values
// opened when decoded, the vault's and the session's write buffers
// pooled). The bounds leave room for small additions; a change that needs
// more should say why in its commit.
const (
	MaxNodeAllocBytesPerSession = 164 << 10 // the node's own, bbolt's left out
	MaxNodeAllocsPerSession     = 1350
	MaxAllocBytesPerSession     = 352 << 10 // the node's with bbolt's
)

// allocFixture starts a server and a bench fixture with workers users and
// runs a few sessions for each, to warm what is done once per user,
// connection or page.
func allocFixture(tb testing.TB, workers int) *bench.Fixture {
	tb.Helper()
	ts := servertest.Start(tb)
	cfg := bench.DefaultConfig()
	cfg.Server, cfg.AdminToken = ts.URL, ts.AdminToken
	cfg.Concurrency, cfg.Sessions = workers, 1
	ctx, cancel := context.WithTimeout(context.Background(), runGuard)
	defer cancel()
	f, err := bench.Setup(ctx, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	for range 20 {
		for w := range workers {
			if _, err := f.Flow(ctx, w); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return f
}

// TestAllocsPerSession counts the heap the node allocates per completed
// login SM2 session (bytes and objects, every allocation recorded), apart
// from the bench client's in the same process, one session at a time (so
// that the count does not depend on how the sessions' writes share bbolt
// commits). It fails above the Max…PerSession bounds (not checked under
// the race detector, whose runtime allocates more), and lists the
// node's call sites by bytes (with UKEYGATE_ALLOCPROF=FILE it also writes
// the allocation profile of the measured sessions: go tool pprof FILE).
func TestAllocsPerSession(t *testing.T) {
	f := allocFixture(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), runGuard)
	defer cancel()
	const n = 50
	a := measureAllocs(t, func() int {
		for range n {
			if _, err := f.Flow(ctx, 0); err != nil {
				t.Fatal(err)
			}
		}
		return n
	})
	for _, side := range []string{sideServer, sideBbolt, sideClient, sideHarness, sideOther} {
		b, o := a.perSession(side)
		t.Logf("%-12s %9.0f B/session %7.0f allocs/session", side, b, o)
	}
	t.Logf("server's call sites by bytes per session:\n%s", a.topSites(sideServer, 40))
	if out := os.Getenv("UKEYGATE_ALLOCPROF"); out != "" {
		fo, err := os.Create(out)
		if err != nil {
			t.Fatal(err)
		}
		defer fo.Close()
		if err := a.prof.Write(fo); err != nil {
			t.Fatal(err)
		}
	}
	if raceEnabled {
		t.Log("built with -race: the bounds are not checked")
		return
	}
	all, allObjects := a.perSession(sideServer)
	bb, bbObjects := a.perSession(sideBbolt)
	if own, ownObjects := all-bb, allObjects-bbObjects; own > MaxNodeAllocBytesPerSession || ownObjects > MaxNodeAllocsPerSession || all > MaxAllocBytesPerSession {
		t.Errorf("the node allocated %.0f B in %.0f objects per session (bbolt's %.0f B and %.0f objects left out), %.0f B with bbolt's; want at most %d B, %d objects and %d B",
			own, ownObjects, bb, bbObjects, all, MaxNodeAllocBytesPerSession, MaxNodeAllocsPerSession, MaxAllocBytesPerSession)
	}
}

// BenchmarkLoginAllocs reports the heap allocated per completed login SM2
// session against an in-process server (servertest: bbolt on a temp dir,
// real HTTP and websocket on loopback), every allocation recorded and
// attributed by goroutine (see TestAllocsPerSession): node-B/session and
// node-allocs/session are the node's, bbolt-B/session the part of it
// bbolt allocates itself (it grows with the file: compare runs of the same
// -benchtime), own-B/session and own-allocs/session the rest (the node's
// own code, the standard library and the other modules it calls; steady
// from run to run), client-B/session the bench client's. With one worker
// each session's writes have a bbolt commit of their own; with 8 they
// share commits as under load, and bbolt's share falls (that figure
// depends on the timing). ns/op means nothing here (every allocation is
// recorded).
//
//	go test -run='^$' -bench=LoginAllocs -benchtime=200x ./bench/
func BenchmarkLoginAllocs(b *testing.B) {
	for _, workers := range []int{1, 8} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			f := allocFixture(b, workers)
			ctx, cancel := context.WithTimeout(context.Background(), 10*runGuard)
			defer cancel()
			a := measureAllocs(b, func() int {
				var (
					wg   sync.WaitGroup
					next atomic.Int64
					done atomic.Int64
				)
				b.ResetTimer()
				for w := range workers {
					wg.Go(func() {
						for next.Add(1) <= int64(b.N) {
							if _, err := f.Flow(ctx, w); err != nil {
								b.Error(err)
								return
							}
							done.Add(1)
						}
					})
				}
				wg.Wait()
				b.StopTimer()
				return int(done.Load())
			})
			node, nodeObjects := a.perSession(sideServer)
			bb, bbObjects := a.perSession(sideBbolt)
			client, _ := a.perSession(sideClient)
			b.ReportMetric(node, "node-B/session")
			b.ReportMetric(nodeObjects, "node-allocs/session")
			b.ReportMetric(node-bb, "own-B/session")
			b.ReportMetric(nodeObjects-bbObjects, "own-allocs/session")
			b.ReportMetric(bb, "bbolt-B/session")
			b.ReportMetric(client, "client-B/session")
		})
	}
}
