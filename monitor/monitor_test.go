package monitor_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/ukeygate/ukeygate/monitor"
)

// fake is every source at once, with values a test sets.
type fake struct {
	mu         sync.Mutex
	ends       map[string]time.Time
	expiring   int
	within     time.Duration
	regs       int
	regsSince  time.Time
	recs       int
	unarchived int64
	archived   time.Time
	oldest     time.Time // the oldest unarchived entry
	fail       map[string]error
}

func (f *fake) err(source string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fail[source]
}

func (f *fake) IssuerExpiries(context.Context) (map[string]time.Time, error) {
	if err := f.err(monitor.SourceIssuers); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]time.Time{}
	for k, v := range f.ends {
		out[k] = v
	}
	return out, nil
}

func (f *fake) CountExpiring(_ context.Context, within time.Duration) (int, error) {
	if err := f.err(monitor.SourceCredentials); err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.within = within
	return f.expiring, nil
}

type queue struct {
	f      *fake
	source string
}

func (q queue) Waiting(context.Context) (int, time.Time, error) {
	if err := q.f.err(q.source); err != nil {
		return 0, time.Time{}, err
	}
	q.f.mu.Lock()
	defer q.f.mu.Unlock()
	if q.source == monitor.SourceRegistrations {
		return q.f.regs, q.f.regsSince, nil
	}
	return q.f.recs, time.Time{}, nil
}

func (f *fake) Backlog(context.Context) (int64, time.Time, error) {
	if err := f.err(monitor.SourceAudit); err != nil {
		return 0, time.Time{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.unarchived, f.archived, nil
}

func (f *fake) OldestUnarchived(context.Context) (time.Time, error) {
	if err := f.err(monitor.SourceAudit); err != nil {
		return time.Time{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.oldest, nil
}

func (f *fake) sources() monitor.Sources {
	return monitor.Sources{Issuers: f, Credentials: f, Audit: f,
		Registrations: queue{f, monitor.SourceRegistrations}, Recoveries: queue{f, monitor.SourceRecoveries}}
}

// gather returns every sample of reg as "name{label=value,…}" → value.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			name := mf.GetName()
			if len(labels) > 0 {
				name += "{" + strings.Join(labels, ",") + "}"
			}
			out[name] = value(mf.GetType(), m)
		}
	}
	return out
}

func value(typ dto.MetricType, m *dto.Metric) float64 {
	if typ == dto.MetricType_COUNTER {
		return m.GetCounter().GetValue()
	}
	return m.GetGauge().GetValue()
}

func newMonitor(t *testing.T, src monitor.Sources, now time.Time) (*monitor.Monitor, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg := monitor.DefaultConfig()
	cfg.Registerer, cfg.Now = reg, func() time.Time { return now }
	m, err := monitor.New(src, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m, reg
}

// TestSample: each gauge shows what its source said; an issuer that is
// gone leaves the metrics; a failing source keeps its last values, is
// counted and named in the error, and does not stop the others.
func TestSample(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	f := &fake{ends: map[string]time.Time{"sm2": now.Add(400 * 24 * time.Hour), "rsa": now.Add(20 * 24 * time.Hour)},
		expiring: 7, regs: 3, regsSince: now.Add(-50 * time.Hour), recs: 1,
		unarchived: 1234, archived: now.Add(-26 * time.Hour), oldest: now.Add(-25 * time.Hour)}
	m, reg := newMonitor(t, f.sources(), now)
	ctx := context.Background()
	if err := m.Sample(ctx); err != nil {
		t.Fatal(err)
	}
	got := gather(t, reg)
	want := map[string]float64{
		"ukeygate_issuer_not_after_timestamp_seconds{issuer=sm2}":         float64(now.Add(400 * 24 * time.Hour).Unix()),
		"ukeygate_issuer_not_after_timestamp_seconds{issuer=rsa}":         float64(now.Add(20 * 24 * time.Hour).Unix()),
		"ukeygate_credentials_expiring":                                   7,
		"ukeygate_registrations_pending":                                  3,
		"ukeygate_registrations_pending_oldest_timestamp_seconds":         float64(now.Add(-50 * time.Hour).Unix()),
		"ukeygate_escrow_recoveries_open":                                 1,
		"ukeygate_escrow_recoveries_open_oldest_timestamp_seconds":        0,
		"ukeygate_audit_unarchived_entries":                               1234,
		"ukeygate_audit_last_archive_timestamp_seconds":                   float64(now.Add(-26 * time.Hour).Unix()),
		"ukeygate_audit_oldest_unarchived_timestamp_seconds":              float64(now.Add(-25 * time.Hour).Unix()),
		"ukeygate_monitor_last_success_timestamp_seconds{source=issuers}": float64(now.Unix()),
		"ukeygate_monitor_last_success_timestamp_seconds{source=audit}":   float64(now.Unix()),
		"ukeygate_monitor_errors_total{source=credentials}":               0,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	if f.within != 30*24*time.Hour {
		t.Errorf("credentials counted within %s, want the default 30 days", f.within)
	}
	build := false
	for k, v := range got {
		if strings.HasPrefix(k, "ukeygate_build_info{") && strings.Contains(k, "go_version=go") && v == 1 {
			build = true
		}
	}
	if !build {
		t.Error("no ukeygate_build_info with the Go version")
	}

	// The rsa issuer is gone; the audit source fails.
	f.mu.Lock()
	delete(f.ends, "rsa")
	f.unarchived = 99
	f.expiring = 8
	f.fail = map[string]error{monitor.SourceAudit: errors.New("store unavailable")}
	f.mu.Unlock()
	err := m.Sample(ctx)
	if err == nil || !strings.Contains(err.Error(), "audit") || !strings.Contains(err.Error(), "store unavailable") {
		t.Fatalf("a failing audit source: %v", err)
	}
	got = gather(t, reg)
	if _, ok := got["ukeygate_issuer_not_after_timestamp_seconds{issuer=rsa}"]; ok {
		t.Error("a removed issuer is still exported")
	}
	if got["ukeygate_audit_unarchived_entries"] != 1234 {
		t.Errorf("a failing source's gauge changed to %v", got["ukeygate_audit_unarchived_entries"])
	}
	if got["ukeygate_monitor_errors_total{source=audit}"] != 1 || got["ukeygate_monitor_errors_total{source=issuers}"] != 0 {
		t.Errorf("errors: audit %v, issuers %v", got["ukeygate_monitor_errors_total{source=audit}"], got["ukeygate_monitor_errors_total{source=issuers}"])
	}
	if got["ukeygate_credentials_expiring"] != 8 {
		t.Errorf("the other sources were not sampled: expiring %v", got["ukeygate_credentials_expiring"])
	}
}

// TestSourcesLeftOut: a source not given exports nothing, rather than a
// zero that would look like "all is well".
func TestSourcesLeftOut(t *testing.T) {
	f := &fake{unarchived: 5}
	m, reg := newMonitor(t, monitor.Sources{Audit: f}, time.Now())
	if err := m.Sample(context.Background()); err != nil {
		t.Fatal(err)
	}
	for k := range gather(t, reg) {
		for _, absent := range []string{"issuer_not_after", "credentials_expiring", "registrations_pending", "escrow_recoveries", "source=issuers"} {
			if strings.Contains(k, absent) {
				t.Errorf("%s exported without its source", k)
			}
		}
	}
}

// TestRun: Run samples at once (not only after the first interval) and
// returns when its context ends.
func TestRun(t *testing.T) {
	f := &fake{unarchived: 42}
	m, reg := newMonitor(t, monitor.Sources{Audit: f}, time.Now())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	deadline := time.Now().Add(30 * time.Second)
	for gather(t, reg)["ukeygate_audit_unarchived_entries"] != 42 {
		if time.Now().After(deadline) {
			t.Fatal("no sample 30 s after Run began (the interval is 5 minutes: the first must come at once)")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
}

func TestConfigValidate(t *testing.T) {
	reg := prometheus.NewRegistry()
	for _, tc := range []struct {
		name string
		edit func(*monitor.Config)
		want string // "" for valid
	}{
		{"default", func(*monitor.Config) {}, ""},
		{"interval too short", func(c *monitor.Config) { c.Interval = time.Millisecond }, "interval"},
		{"interval too long", func(c *monitor.Config) { c.Interval = 25 * time.Hour }, "interval"},
		{"no window", func(c *monitor.Config) { c.ExpiringWithin = 0 }, "expiring_within"},
		{"window too long", func(c *monitor.Config) { c.ExpiringWithin = 367 * 24 * time.Hour }, "expiring_within"},
		{"no timeout", func(c *monitor.Config) { c.Timeout = 0 }, "timeout"},
		{"no registerer", func(c *monitor.Config) { c.Registerer = nil }, "registerer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := monitor.DefaultConfig()
			c.Registerer = reg
			tc.edit(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("valid config refused: %v", err)
			case tc.want != "" && (!errors.Is(err, monitor.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want ErrInvalidConfig naming %s", err, tc.want)
			}
		})
	}
}
