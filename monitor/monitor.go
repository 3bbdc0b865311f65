package monitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Issuers reports when each issuer's certificate ends, by issuer id.
type Issuers interface {
	IssuerExpiries(ctx context.Context) (map[string]time.Time, error)
}

// Credentials counts the active credentials whose certificate ends within
// a window from now.
type Credentials interface {
	CountExpiring(ctx context.Context, within time.Duration) (int, error)
}

// Queue reports a queue of requests waiting for people: how many wait,
// and since when the oldest has (the zero time when none does).
type Queue interface {
	Waiting(ctx context.Context) (n int, oldest time.Time, err error)
}

// Archive reports the audit log's entries not yet in an archived segment
// and when the last segment was recorded (the zero time when never), and
// when the oldest entry the next export would take was written (the zero
// time when there is none).
type Archive interface {
	Backlog(ctx context.Context) (unarchived int64, last time.Time, err error)
	OldestUnarchived(ctx context.Context) (time.Time, error)
}

// Sources are what a Monitor samples; a nil one is left out (its metrics
// are not exported at all, rather than exported as zero).
type Sources struct {
	Issuers       Issuers
	Credentials   Credentials
	Registrations Queue // the RA queue: registrations pending review
	Recoveries    Queue // escrow recoveries waiting for custodian shares
	Audit         Archive
}

// Source names, the values of the "source" label.
const (
	SourceIssuers       = "issuers"
	SourceCredentials   = "credentials"
	SourceRegistrations = "registrations"
	SourceRecoveries    = "recoveries"
	SourceAudit         = "audit"
)

// Monitor samples its Sources into gauges (package comment).
type Monitor struct {
	cfg    Config
	log    *slog.Logger
	now    func() time.Time
	probes []probe

	lastOK *prometheus.GaugeVec
	errs   *prometheus.CounterVec
}

// probe is one source's sample: it sets its gauges or fails and leaves
// them as they were.
type probe struct {
	name   string
	sample func(ctx context.Context) error
}

// New registers the metrics of the sources given (and the node's build)
// with cfg.Registerer. Nothing is sampled before Sample or Run.
func New(src Sources, cfg Config) (*Monitor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Monitor{cfg: cfg, log: cfg.Logger, now: cfg.Now}
	if m.log == nil {
		m.log = slog.Default()
	}
	if m.now == nil {
		m.now = time.Now
	}
	m.lastOK = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ukeygate_monitor_last_success_timestamp_seconds",
		Help: "When each CA-state source (issuers, credentials, registrations, recoveries, audit) was last sampled without error (Unix time)."}, []string{"source"})
	m.errs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ukeygate_monitor_errors_total",
		Help: "Samples of a CA-state source that failed; its gauges keep their last values."}, []string{"source"})
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ukeygate_build_info",
		Help: "Always 1; the labels say which build the node runs (the Go version, the VCS revision, and whether the tree had uncommitted changes)."},
		[]string{"go_version", "revision", "modified"})
	goVersion, revision, modified := buildLabels()
	build.WithLabelValues(goVersion, revision, modified).Set(1)
	cols := []prometheus.Collector{m.lastOK, m.errs, build}

	if src.Issuers != nil {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ukeygate_issuer_not_after_timestamp_seconds",
			Help: "When each issuer's own certificate ends (Unix time): no certificate it issues can outlive it."}, []string{"issuer"})
		cols = append(cols, g)
		var mu sync.Mutex
		shown := map[string]bool{}
		m.probes = append(m.probes, probe{SourceIssuers, func(ctx context.Context) error {
			ends, err := src.Issuers.IssuerExpiries(ctx)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			for id := range shown {
				if _, ok := ends[id]; !ok {
					g.DeleteLabelValues(id)
					delete(shown, id)
				}
			}
			for id, t := range ends {
				g.WithLabelValues(id).Set(unix(t))
				shown[id] = true
			}
			return nil
		}})
	}
	if src.Credentials != nil {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "ukeygate_credentials_expiring",
			Help: fmt.Sprintf("Active credentials whose certificate ends within monitoring.expiring_within (now %s) and that nobody has renewed yet.", cfg.ExpiringWithin)})
		cols = append(cols, g)
		m.probes = append(m.probes, probe{SourceCredentials, func(ctx context.Context) error {
			n, err := src.Credentials.CountExpiring(ctx, cfg.ExpiringWithin)
			if err == nil {
				g.Set(float64(n))
			}
			return err
		}})
	}
	queue := func(source, name string, q Queue, what string) {
		n := prometheus.NewGauge(prometheus.GaugeOpts{Name: "ukeygate_" + name, Help: what + " waiting now."})
		oldest := prometheus.NewGauge(prometheus.GaugeOpts{Name: "ukeygate_" + name + "_oldest_timestamp_seconds",
			Help: "Since when the oldest of the " + what + " has waited (Unix time; 0 when none waits)."})
		cols = append(cols, n, oldest)
		m.probes = append(m.probes, probe{source, func(ctx context.Context) error {
			k, t, err := q.Waiting(ctx)
			if err == nil {
				n.Set(float64(k))
				oldest.Set(unix(t))
			}
			return err
		}})
	}
	if src.Registrations != nil {
		queue(SourceRegistrations, "registrations_pending", src.Registrations, "registrations pending RA review")
	}
	if src.Recoveries != nil {
		queue(SourceRecoveries, "escrow_recoveries_open", src.Recoveries, "escrow recoveries waiting for custodian shares")
	}
	if src.Audit != nil {
		unarchived := prometheus.NewGauge(prometheus.GaugeOpts{Name: "ukeygate_audit_unarchived_entries",
			Help: "Audit entries not yet in an archived segment (ukeygate audit export); they cannot leave the live store."})
		last := prometheus.NewGauge(prometheus.GaugeOpts{Name: "ukeygate_audit_last_archive_timestamp_seconds",
			Help: "When the last audit segment was recorded (Unix time; 0 when none ever was)."})
		oldest := prometheus.NewGauge(prometheus.GaugeOpts{Name: "ukeygate_audit_oldest_unarchived_timestamp_seconds",
			Help: "When the oldest audit entry the next export would take was written (Unix time; 0 when there is none): how long entries have waited to be archived."})
		cols = append(cols, unarchived, last, oldest)
		m.probes = append(m.probes, probe{SourceAudit, func(ctx context.Context) error {
			n, t, err := src.Audit.Backlog(ctx)
			if err != nil {
				return err
			}
			first, err := src.Audit.OldestUnarchived(ctx)
			if err != nil {
				return err
			}
			unarchived.Set(float64(n))
			last.Set(unix(t))
			oldest.Set(unix(first))
			return nil
		}})
	}
	for _, p := range m.probes {
		m.errs.WithLabelValues(p.name) // exported as 0 from the start
	}
	for _, c := range cols {
		if err := cfg.Registerer.Register(c); err != nil {
			return nil, fmt.Errorf("monitor: registering metrics: %w", err)
		}
	}
	return m, nil
}

// unix is t in Unix seconds, 0 for the zero time.
func unix(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

// buildLabels reads the binary's build information.
func buildLabels() (goVersion, revision, modified string) {
	goVersion, revision, modified = "unknown", "unknown", "unknown"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return
	}
	goVersion = bi.GoVersion
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	return
}

// Sample samples every source once, each under Config.Timeout; it returns
// the failures joined (each also counted and logged).
func (m *Monitor) Sample(ctx context.Context) error {
	var errs []error
	for _, p := range m.probes {
		pctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
		err := p.sample(pctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			m.errs.WithLabelValues(p.name).Inc()
			m.log.Warn("sampling the CA state for monitoring", "source", p.name, "err", err)
			errs = append(errs, fmt.Errorf("monitor: %s: %w", p.name, err))
			continue
		}
		m.lastOK.WithLabelValues(p.name).Set(unix(m.now()))
	}
	return errors.Join(errs...)
}

// Run samples at once, then every Config.Interval, until ctx ends.
func (m *Monitor) Run(ctx context.Context) {
	t := time.NewTicker(m.cfg.Interval)
	defer t.Stop()
	for {
		_ = m.Sample(ctx) // failures are counted and logged
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
