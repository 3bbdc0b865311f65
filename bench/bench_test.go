package bench_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/bench"
	"github.com/ukeygate/ukeygate/config"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/server/servertest"
)

// quiet keeps the test server's per-request logs out of the test output.
func quiet(c *config.Config) { c.Log.Level = "warn" }

// runGuard bounds a whole test run; a healthy one takes seconds.
const runGuard = 2 * time.Minute

func TestConfigValidate(t *testing.T) {
	good := bench.DefaultConfig()
	good.AdminToken = "secret"
	if err := good.Validate(); err != nil {
		t.Fatalf("default config with a token: %v", err)
	}
	tests := []struct {
		name   string
		mutate func(*bench.Config)
		key    string
	}{
		{"no token", func(c *bench.Config) { c.AdminToken = "" }, "admin_token"},
		{"token with a space", func(c *bench.Config) { c.AdminToken = "a b" }, "admin_token"},
		{"relative server", func(c *bench.Config) { c.Server = "127.0.0.1:8080" }, "server"},
		{"ftp server", func(c *bench.Config) { c.Server = "ftp://127.0.0.1" }, "server"},
		{"server with a query", func(c *bench.Config) { c.Server = "http://127.0.0.1:8080/?x=1" }, "server"},
		{"server with credentials", func(c *bench.Config) { c.Server = "http://u:p@127.0.0.1:8080" }, "server"},
		{"kind", func(c *bench.Config) { c.Kind = "seal" }, "kind"},
		{"alg", func(c *bench.Config) { c.Alg = "sm2" }, "alg"},
		{"cosign with RSA", func(c *bench.Config) { c.Alg, c.Cosign = "RSA", true }, "cosign"},
		{"issuer with a slash", func(c *bench.Config) { c.Issuer = "a/b" }, "issuer"},
		{"negative sessions", func(c *bench.Config) { c.Sessions = -1 }, "sessions"},
		{"too many sessions", func(c *bench.Config) { c.Sessions = bench.MaxSessions + 1 }, "sessions"},
		{"unbounded", func(c *bench.Config) { c.Sessions, c.Duration = 0, 0 }, "sessions"},
		{"negative duration", func(c *bench.Config) { c.Duration = -time.Second }, "duration"},
		{"no time limit", func(c *bench.Config) { c.TimeLimit = 0 }, "time_limit"},
		{"no workers", func(c *bench.Config) { c.Concurrency = 0 }, "concurrency"},
		{"too many workers", func(c *bench.Config) { c.Concurrency = bench.MaxConcurrency + 1 }, "concurrency"},
		{"negative procs", func(c *bench.Config) { c.LoadProcs = -1 }, "procs"},
		{"too many procs", func(c *bench.Config) { c.LoadProcs = bench.MaxLoadProcs + 1 }, "procs"},
		{"negative users", func(c *bench.Config) { c.Users = -1 }, "users"},
		{"no session timeout", func(c *bench.Config) { c.SessionTimeout = 0 }, "session_timeout"},
		{"no PIN", func(c *bench.Config) { c.PIN = "" }, "pin"},
		{"profile without a duration", func(c *bench.Config) { c.CPUProfileFrom = "http://127.0.0.1:6060" }, "cpuprofile_from"},
		{"profile of a short run", func(c *bench.Config) {
			c.CPUProfileFrom, c.Duration = "http://127.0.0.1:6060", 500*time.Millisecond
		}, "cpuprofile_from"},
		{"profile URL without a scheme", func(c *bench.Config) {
			c.CPUProfileFrom, c.Duration = "127.0.0.1:6060", time.Minute
		}, "cpuprofile_from"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.mutate(&c)
			err := c.Validate()
			if !errors.Is(err, bench.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.key+":") {
				t.Fatalf("Validate() = %v, want ErrInvalidConfig naming %s", err, tc.key)
			}
			// Run refuses it before any request.
			if _, err := bench.Run(context.Background(), c); !errors.Is(err, bench.ErrInvalidConfig) {
				t.Fatalf("Run = %v, want ErrInvalidConfig", err)
			}
		})
	}
	// A duration alone bounds the run.
	c := good
	c.Sessions, c.Duration, c.TimeLimit = 0, time.Minute, 0
	if err := c.Validate(); err != nil {
		t.Fatalf("duration-only config: %v", err)
	}
}

func TestStats(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = ms(100 - i) // 100 ms … 1 ms, unsorted on purpose
	}
	tests := []struct {
		name                      string
		in                        []time.Duration
		mean, p50, p90, p99, maxD time.Duration
	}{
		{"none", nil, 0, 0, 0, 0, 0},
		{"one", []time.Duration{ms(7)}, ms(7), ms(7), ms(7), ms(7), ms(7)},
		{"1..100 ms", hundred, 50500 * time.Microsecond, ms(50), ms(90), ms(99), ms(100)},
		{"two", []time.Duration{ms(3), ms(1)}, ms(2), ms(1), ms(3), ms(3), ms(3)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := bench.Stats("x", tc.in)
			got := []time.Duration{time.Duration(st.Mean), time.Duration(st.P50), time.Duration(st.P90), time.Duration(st.P99), time.Duration(st.Max)}
			want := []time.Duration{tc.mean, tc.p50, tc.p90, tc.p99, tc.maxD}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("mean/p50/p90/p99/max = %v, want %v", got, want)
				}
			}
			if st.Count != len(tc.in) || st.Name != "x" {
				t.Fatalf("count %d name %q", st.Count, st.Name)
			}
		})
	}
}

// checkReport checks that a report's counts add up for a run of n
// sessions that should all complete.
func checkReport(t *testing.T, r *bench.Report, n int) {
	t.Helper()
	if r.Failed != 0 || len(r.Errors) != 0 {
		t.Fatalf("%d failed: %v %v", r.Failed, r.Errors, r.ErrorExamples)
	}
	if r.Sessions != n || r.Completed != n {
		t.Fatalf("sessions %d, completed %d, want %d", r.Sessions, r.Completed, n)
	}
	if c := r.CryptoLimit; c == nil || c.SessionsPerSecond <= 0 || c.CPUs < 1 || r.CryptoRatio <= 0 ||
		math.Abs(r.CryptoRatio-r.Throughput/c.SessionsPerSecond) > 1e-9 ||
		c.OneCore <= 0 || math.Abs(c.OneCoreScaled-float64(c.CPUs)/time.Duration(c.OneCore).Seconds()) > 1e-6*c.OneCoreScaled ||
		math.Abs(float64(c.CPUs)/c.SessionsPerSecond-time.Duration(c.PerSession).Seconds()) > 1e-6 {
		t.Fatalf("crypto limit %+v, ratio %v", c, r.CryptoRatio)
	}
	var ctext strings.Builder
	if err := r.WriteText(&ctext); err != nil || !strings.Contains(ctext.String(), "x the crypto limit") {
		t.Fatalf("report text without the crypto-limit ratio: %v\n%s", err, ctext.String())
	}
	if r.StoppedBy != bench.StopCount {
		t.Fatalf("stopped by %q, want %q", r.StoppedBy, bench.StopCount)
	}
	if l := r.ServerLoad; l == nil || l.CPUPerSession < 0 || r.ServerLoadError != "" || !strings.Contains(ctext.String(), "\nserver: ") {
		t.Fatalf("server figures %+v (%s)\n%s", l, r.ServerLoadError, ctext.String())
	}
	names := []string{bench.PhaseCreate, bench.PhaseWatch, bench.PhaseScan, bench.PhaseConfirm, bench.PhasePush, bench.PhaseEvent, bench.PhaseTotal}
	if len(r.Phases) != len(names) {
		t.Fatalf("phases %+v", r.Phases)
	}
	for i, p := range r.Phases {
		if p.Name != names[i] || p.Count != n {
			t.Fatalf("phase %d: %+v, want %s with %d samples", i, p, names[i], n)
		}
		if !(p.P50 <= p.P90 && p.P90 <= p.P99 && p.P99 <= p.Max) {
			t.Fatalf("phase %s percentiles out of order: %+v", p.Name, p)
		}
	}
	// Every completed session's total covers its create, watch and scan.
	tot := r.Phase(bench.PhaseTotal)
	if tot.Max < r.Phase(bench.PhaseCreate).Max || tot.Max < r.Phase(bench.PhaseEvent).Max || tot.Mean <= 0 {
		t.Fatalf("total %+v vs create %+v", tot, r.Phase(bench.PhaseCreate))
	}
	if r.Throughput <= 0 || r.EventFirst < 0 || r.EventFirst > n {
		t.Fatalf("throughput %v, event-first %d", r.Throughput, r.EventFirst)
	}
	// The JSON form carries the same counts.
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back bench.Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if d := time.Duration(back.Phase(bench.PhaseTotal).Max - tot.Max); back.Completed != n ||
		back.Phase(bench.PhaseTotal).Count != n || d < -time.Microsecond || d > time.Microsecond {
		t.Fatalf("JSON round trip: %s", b)
	}
	var text strings.Builder
	if err := r.WriteText(&text); err != nil || !strings.Contains(text.String(), "errors: none") {
		t.Fatalf("text report (%v):\n%s", err, text.String())
	}
}

func TestRunAgainstServer(t *testing.T) {
	ts := servertest.Start(t, quiet)
	tests := []struct {
		kind, alg   string
		sessions    int
		concurrency int
		users       int
		cosign      bool
	}{
		{bench.KindLogin, bench.AlgSM2, 20, 4, 0, false},
		{bench.KindSign, bench.AlgSM2, 12, 4, 2, false}, // two workers per user
		{bench.KindDecrypt, bench.AlgSM2, 12, 3, 0, false},
		{bench.KindLogin, bench.AlgRSA, 6, 2, 0, false},
		{bench.KindSign, bench.AlgSM2, 8, 2, 0, true},
		{bench.KindDecrypt, bench.AlgSM2, 8, 2, 0, true},
	}
	for _, tc := range tests {
		name := tc.kind + "-" + tc.alg
		if tc.cosign {
			name += "-cosign"
		}
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), runGuard)
			defer cancel()
			cfg := bench.DefaultConfig()
			cfg.Server, cfg.AdminToken = ts.URL, ts.AdminToken
			cfg.Kind, cfg.Alg = tc.kind, tc.alg
			cfg.Sessions, cfg.Concurrency, cfg.Users = tc.sessions, tc.concurrency, tc.users
			cfg.Verify, cfg.Cosign = true, tc.cosign
			r, err := bench.Run(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			checkReport(t, r, tc.sessions)
			if tc.kind == bench.KindLogin && tc.alg == bench.AlgSM2 {
				checkStoreLoad(t, r)
			}
			wantUsers := tc.users
			if wantUsers == 0 {
				wantUsers = tc.concurrency
			}
			if r.Users != wantUsers || !r.IssuerCreated || r.Issuer == "" || r.Kind != tc.kind || r.Alg != tc.alg || r.Cosign != tc.cosign {
				t.Fatalf("report header %+v", r)
			}
		})
	}
}

// checkStoreLoad checks the server figures of a run against a bbolt node:
// CPU was spent, every session wrote, each commit carried at least one
// transaction and wrote pages, and the write path was busy for a share of
// the time, of which the disk a part.
func checkStoreLoad(t *testing.T, r *bench.Report) {
	t.Helper()
	l := r.ServerLoad
	if l.CPUPerSession <= 0 || l.CommitsPerSession <= 0 || l.CommitsPerSession > 8 || l.TransactionsPerCommit < 1 ||
		l.PagesPerCommit < 1 || l.MsPerCommit <= 0 || l.CommitBusy <= 0 || l.CommitBusy > 1.05 || l.DiskBusy <= 0 || l.DiskBusy > l.CommitBusy {
		t.Fatalf("server figures of a bbolt node: %+v", l)
	}
	var text strings.Builder
	if err := r.WriteText(&text); err != nil || !strings.Contains(text.String(), "\nstore: ") {
		t.Fatalf("report text without the store's figures: %v\n%s", err, text.String())
	}
}

func TestRunExistingIssuerAndDuration(t *testing.T) {
	ts := servertest.Start(t, quiet)
	ctx, cancel := context.WithTimeout(context.Background(), runGuard)
	defer cancel()
	cfg := bench.DefaultConfig()
	cfg.Server, cfg.AdminToken = ts.URL, ts.AdminToken
	cfg.Sessions, cfg.Concurrency = 4, 2
	first, err := bench.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, first, 4)

	// The issuer the first run created, bounded by time only.
	cfg.Issuer = first.Issuer
	cfg.Sessions, cfg.Duration = 0, 300*time.Millisecond
	r, err := bench.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r.IssuerCreated || r.Issuer != first.Issuer || r.StoppedBy != bench.StopDuration {
		t.Fatalf("issuer %s created %v, stopped by %s", r.Issuer, r.IssuerCreated, r.StoppedBy)
	}
	if r.Failed != 0 || r.Sessions != r.Completed || r.Phase(bench.PhaseTotal).Count != r.Completed {
		t.Fatalf("counts: %+v", r)
	}

	// An issuer that does not exist is a setup error.
	cfg.Issuer = "no-such-issuer"
	if _, err := bench.Run(ctx, cfg); !errors.Is(err, bench.ErrSetup) {
		t.Fatalf("unknown issuer: %v, want ErrSetup", err)
	}
	// A wrong admin token too, with the server's code.
	cfg.Issuer, cfg.AdminToken = "", "wrong"
	_, err = bench.Run(ctx, cfg)
	var ae *operator.APIError
	if !errors.Is(err, bench.ErrSetup) || !errors.As(err, &ae) || ae.Status != 401 || ae.Code != "invalid_token" {
		t.Fatalf("wrong token: %v, want ErrSetup with a 401 APIError", err)
	}
}

func TestLoadInterrupted(t *testing.T) {
	ts := servertest.Start(t, quiet)
	cfg := bench.DefaultConfig()
	cfg.Server, cfg.AdminToken = ts.URL, ts.AdminToken
	cfg.Concurrency = 2
	f, err := bench.Setup(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r, err := f.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.StoppedBy != bench.StopInterrupted || r.Sessions != 0 || r.Completed != 0 || r.Throughput != 0 {
		t.Fatalf("interrupted before the start: %+v", r)
	}
}

// BenchmarkLoginFlow runs one whole SM2 login session per op against an
// in-process server (servertest: bbolt on a temp dir, real HTTP and
// websocket on loopback): create, watch, scan, confirm, completed event.
//
//	go test -run='^$' -bench=LoginFlow -benchtime=200x ./bench/
func BenchmarkLoginFlow(b *testing.B) {
	ts := servertest.Start(b, quiet)
	cfg := bench.DefaultConfig()
	cfg.Server, cfg.AdminToken = ts.URL, ts.AdminToken
	cfg.Concurrency, cfg.Sessions = 1, 1
	f, err := bench.Setup(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	var push, confirm time.Duration
	for b.Loop() {
		s, err := f.Flow(context.Background(), 0)
		if err != nil {
			b.Fatal(err)
		}
		push += s.Push
		confirm += s.Confirm
	}
	b.ReportMetric(float64(confirm.Microseconds())/float64(b.N), "confirm-µs/op")
	b.ReportMetric(float64(push.Microseconds())/float64(b.N), "push-µs/op")
}

// BenchmarkCryptoLimit measures the crypto limit of a flow on this
// machine with every core busy: one op is one session's cryptography
// (bench.CryptoWork: two device-signature verifications, the PIN key
// derivation, the unwrap, the parse and the signature), so the limit in
// sessions/s is 1e9 / ns/op.
//
//	go test -run='^$' -bench=CryptoLimit -benchtime=2s ./bench/
func BenchmarkCryptoLimit(b *testing.B) {
	for _, alg := range []string{bench.AlgSM2, bench.AlgRSA} {
		b.Run(alg, func(b *testing.B) {
			works := make(chan *bench.CryptoWork, runtime.GOMAXPROCS(0))
			for range cap(works) {
				w, err := bench.NewCryptoWork(alg)
				if err != nil {
					b.Fatal(err)
				}
				works <- w
			}
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				w := <-works
				for pb.Next() {
					if err := w.Run(); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sessions/s")
		})
	}
}

func ExampleDefaultLoadProcs() {
	for _, cpus := range []int{1, 2, 4, 8, 16} {
		fmt.Print(bench.DefaultLoadProcs(cpus), " ")
	}
	fmt.Println()
	// Output: 1 1 1 2 4
}
