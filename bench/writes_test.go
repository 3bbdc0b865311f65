package bench_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/bench"
	"github.com/ukeygate/ukeygate/server/servertest"
	"github.com/ukeygate/ukeygate/storage"
)

// MaxWritesPerSession is the most write transactions one whole session
// (create, scan, confirm with its device nonces, PIN check and audit
// entry, completion) may cost on bbolt.
const MaxWritesPerSession = 4

// TestWriteTxnsPerSession counts the write transactions of whole sessions
// on bbolt: every write transaction raises the store revision by one and
// its events carry that revision, so the distinct revisions a watch of the
// whole store sees during one session are its write transactions. A
// marker key written after the session tells when the watch has seen
// everything before it. The test fails as soon as a session needs more
// than MaxWritesPerSession.
func TestWriteTxnsPerSession(t *testing.T) {
	ts := servertest.Start(t, quiet)
	st := ts.Server.Store()
	for _, tc := range []struct{ kind, alg string }{
		{bench.KindLogin, bench.AlgSM2},
		{bench.KindSign, bench.AlgSM2},
		{bench.KindLogin, bench.AlgRSA},
	} {
		t.Run(tc.kind+"-"+tc.alg, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), runGuard)
			defer cancel()
			cfg := bench.DefaultConfig()
			cfg.Server, cfg.AdminToken = ts.URL, ts.AdminToken
			cfg.Kind, cfg.Alg = tc.kind, tc.alg
			cfg.Concurrency, cfg.Sessions, cfg.Verify = 1, 1, true
			f, err := bench.Setup(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			// A first session warms whatever is done once per user.
			if _, err := f.Flow(ctx, 0); err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				txns := countWrites(ctx, t, st, func() {
					if _, err := f.Flow(ctx, 0); err != nil {
						t.Fatal(err)
					}
				})
				if len(txns) > MaxWritesPerSession {
					t.Fatalf("session %d: %d write transactions, want at most %d:\n%s", i, len(txns), MaxWritesPerSession, strings.Join(txns, "\n"))
				}
				t.Logf("session %d: %d write transactions:\n%s", i, len(txns), strings.Join(txns, "\n"))
			}
		})
	}
}

// countWrites runs flow and returns the write transactions the store
// committed meanwhile, one line per transaction listing its keys.
func countWrites(ctx context.Context, t *testing.T, st storage.Store, flow func()) []string {
	t.Helper()
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	ch, err := st.Watch(wctx, "")
	if err != nil {
		t.Fatal(err)
	}
	flow()
	marker := fmt.Sprintf("benchtest/marker-%d", time.Now().UnixNano())
	if _, err := st.Txn(ctx, storage.Put(marker, []byte("x"), time.Minute)); err != nil {
		t.Fatal(err)
	}
	byRev := map[int64][]string{}
	for ev := range ch {
		if ev.KV.Key == marker {
			break
		}
		byRev[ev.KV.Revision] = append(byRev[ev.KV.Revision], ev.KV.Key)
	}
	if ctx.Err() != nil {
		t.Fatalf("the watch did not deliver the marker: %v", ctx.Err())
	}
	revs := make([]int64, 0, len(byRev))
	for r := range byRev {
		revs = append(revs, r)
	}
	sort.Slice(revs, func(i, j int) bool { return revs[i] < revs[j] })
	out := make([]string, len(revs))
	for i, r := range revs {
		out[i] = fmt.Sprintf("  rev %d: %s", r, strings.Join(byRev[r], " "))
	}
	return out
}
