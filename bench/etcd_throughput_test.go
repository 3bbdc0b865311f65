package bench_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/bench"
	"github.com/ukeygate/ukeygate/internal/testkit"
	"github.com/ukeygate/ukeygate/server/servertest"
)

// cryptoLimit is the login flow's crypto limit on the 2-core reference
// machine (device verifies + PIN KDF + unwrap + parse + sign), sessions/s;
// docs/benchmarks.md says how it was measured.
const cryptoLimit = 1000.0

// TestEtcdThroughput is a measurement, not a check: with
// UKEYGATE_ETCD_THROUGHPUT=N it runs N SM2 login sessions with 16 workers
// against a gateway on its own real etcd and logs the throughput, its
// ratio to the crypto limit, the machine's load average and what each
// session cost etcd (its own metrics, including its CPU time). Without the
// variable it is skipped, so the suite never times anything. With
// UKEYGATE_THROUGHPUT_STORE=bbolt the same load runs on bbolt instead, for
// the ratio between the two under the same machine load.
//
//	UKEYGATE_ETCD_THROUGHPUT=300 go test ./bench -run TestEtcdThroughput -v
func TestEtcdThroughput(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("UKEYGATE_ETCD_THROUGHPUT"))
	if n <= 0 {
		t.Skip("a measurement: set UKEYGATE_ETCD_THROUGHPUT=sessions to run it")
	}
	onBolt := os.Getenv("UKEYGATE_THROUGHPUT_STORE") == "bbolt"
	var e *testkit.Etcd
	var ts *servertest.TS
	if onBolt {
		ts = servertest.Start(t, quiet)
	} else {
		e = testkit.RunEtcd(t)
		ts = servertest.Start(t, quiet, servertest.WithEtcd(e.URL, "/tp/"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cfg := bench.DefaultConfig()
	cfg.Server, cfg.AdminToken = ts.URL, ts.AdminToken
	cfg.Kind, cfg.Alg = bench.KindLogin, bench.AlgSM2
	cfg.Concurrency, cfg.Users, cfg.Sessions, cfg.Verify = 16, 16, n, false
	f, err := bench.Setup(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for u := range cfg.Users { // what is done once per user
		if _, err := f.Flow(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	var before testkit.EtcdCounters
	if !onBolt {
		before = testkit.ReadEtcdCounters(t, e.URL)
	}
	rep, err := f.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Completed != n {
		t.Fatalf("%d of %d sessions completed: %+v", rep.Completed, n, rep.Errors)
	}
	load, _ := os.ReadFile("/proc/loadavg")
	store := "etcd"
	if onBolt {
		store = "bbolt"
	}
	t.Logf("%s login SM2, 16 workers, %d sessions: %.1f sessions/s = %.3f× the crypto limit; load average %s",
		store, n, rep.Throughput, rep.Throughput/cryptoLimit, strings.Join(strings.Fields(string(load))[:3], " "))
	if !onBolt {
		c := testkit.ReadEtcdCounters(t, e.URL).Sub(before).Per(rep.Completed)
		t.Logf("per session: %s", c)
	}
}
