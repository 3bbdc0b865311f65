package bench_test

import (
	"context"
	"testing"

	"github.com/ukeygate/ukeygate/bench"
	"github.com/ukeygate/ukeygate/internal/testkit"
	"github.com/ukeygate/ukeygate/server/servertest"
)

// MaxProposalsPerSession is the most raft proposals one whole login
// session may cost an etcd cluster (its write transactions, and its share
// of lease grants, lease ends and the webhook sender's lease renewals).
const MaxProposalsPerSession = 6

// MaxRangeCallsPerSession is the most etcd Range calls (read round trips)
// one whole login session may cost. Before the nodes cached their hot
// records (package storage/readcache) a session cost about 34: the issuer,
// credential, user, device, app and webhook records on each request. With
// them about 12; with the per-request memo of the session record
// (readcache.WithMemo: the scan and the confirm read it once each) 8; with
// device records cached (the nonce is consumed under a condition on the
// device record's revision: auth.DeviceRecords) 6; with the session hub
// knowing the sessions its node created (its token check reads nothing)
// about 5; with the hub rebuilding a fresh session's first event from
// memory (no event listing for the portal's first watch request) about 3:
// the session record once per phone request and the audit log's head.
// The guard leaves room for a slow run's extra background reads.
const MaxRangeCallsPerSession = 5

// MaxReadTxnsPerSession bounds the transactions of conditions alone (a
// linearizable read round trip each) per session: the Txn calls that are
// not write proposals. A key use's check of the user's and the
// credential's revisions was one per session until it moved into the
// completion's transaction (storage.DeferGuards); now there is none.
const MaxReadTxnsPerSession = 0.5

// TestEtcdCostPerSession runs whole login sessions against a gateway on its
// own real etcd and counts, with etcd's own metrics, what each cost the
// cluster: raft proposals, client round trips (Range and Txn calls), lease
// grants. It fails when a session needs more than MaxProposalsPerSession
// proposals, more than MaxRangeCallsPerSession Range calls, more than
// MaxReadTxnsPerSession transactions of conditions alone, or more than
// one lease grant per four sessions (the leases are
// shared per expiry bucket of each TTL: a short run pays a grant for each
// TTL in use, a long one one per bucket; before, every write with a TTL
// granted its own, six per session). Counting, not
// timing: the figures do not depend on the machine's speed.
func TestEtcdCostPerSession(t *testing.T) {
	t.Parallel()
	e := testkit.RunEtcd(t)
	ts := servertest.Start(t, quiet, servertest.WithEtcd(e.URL, "/cost/"))
	for _, alg := range []string{bench.AlgSM2, bench.AlgRSA} {
		t.Run(alg, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), runGuard)
			defer cancel()
			cfg := bench.DefaultConfig()
			cfg.Server, cfg.AdminToken = ts.URL, ts.AdminToken
			cfg.Kind, cfg.Alg = bench.KindLogin, alg
			cfg.Concurrency, cfg.Users, cfg.Sessions, cfg.Verify = 4, 4, 40, true
			f, err := bench.Setup(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			// One session per user first: what is done once per user.
			for u := range cfg.Users {
				if _, err := f.Flow(ctx, u); err != nil {
					t.Fatal(err)
				}
			}
			before := testkit.ReadEtcdCounters(t, e.URL)
			rep, err := f.Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Completed != cfg.Sessions {
				t.Fatalf("%d of %d sessions completed: %+v", rep.Completed, cfg.Sessions, rep.Errors)
			}
			c := testkit.ReadEtcdCounters(t, e.URL).Sub(before).Per(rep.Completed)
			t.Logf("per login session (%s, etcd): %s", alg, c)
			if c.Proposals > MaxProposalsPerSession {
				t.Errorf("%.2f raft proposals per session, want at most %d", c.Proposals, MaxProposalsPerSession)
			}
			if c.RangeRPCs > MaxRangeCallsPerSession {
				t.Errorf("%.2f Range calls per session, want at most %d (are the hot records still cached?)", c.RangeRPCs, MaxRangeCallsPerSession)
			}
			if reads := c.TxnRPCs - c.Proposals; reads > MaxReadTxnsPerSession {
				t.Errorf("%.2f Txn calls per session beyond the proposals (transactions of conditions alone), want at most %.1f (does the key use's check still make its own round trip?)", reads, MaxReadTxnsPerSession)
			}
			if c.LeaseGrants > 0.25 {
				t.Errorf("%.2f lease grants per session, want the shared bucket leases (at most one per four sessions)", c.LeaseGrants)
			}
		})
	}
}
