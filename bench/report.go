package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"
)

// Why the workers stopped starting sessions (Report.StoppedBy).
const (
	StopCount       = "count"       // the session count was reached
	StopDuration    = "duration"    // Config.Duration passed
	StopTimeLimit   = "time_limit"  // Config.TimeLimit passed first
	StopInterrupted = "interrupted" // the context ended
)

// Phase names, in flow order.
const (
	PhaseCreate  = "create"
	PhaseWatch   = "watch"
	PhaseScan    = "scan"
	PhaseConfirm = "confirm"
	PhasePush    = "push"
	PhaseEvent   = "confirm_to_event"
	PhaseTotal   = "total"
)

// Duration is a time.Duration that travels in JSON as milliseconds.
type Duration time.Duration

// MarshalJSON writes d as a number of milliseconds.
func (d Duration) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, float64(d)/float64(time.Millisecond), 'f', 3, 64), nil
}

// UnmarshalJSON reads a number of milliseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var ms float64
	if err := json.Unmarshal(b, &ms); err != nil {
		return err
	}
	*d = Duration(math.Round(ms * float64(time.Millisecond)))
	return nil
}

// PhaseStats are the latencies of one phase over the completed sessions.
type PhaseStats struct {
	Name  string   `json:"name"`
	Count int      `json:"count"`
	Mean  Duration `json:"mean_ms"`
	P50   Duration `json:"p50_ms"`
	P90   Duration `json:"p90_ms"`
	P99   Duration `json:"p99_ms"`
	Max   Duration `json:"max_ms"`
}

// Report is the outcome of a run.
type Report struct {
	Server        string `json:"server"`
	Kind          string `json:"kind"`
	Alg           string `json:"alg"`
	Issuer        string `json:"issuer"`
	IssuerCreated bool   `json:"issuer_created"`
	// Cosign: the run used two-party SM2 credentials.
	Cosign      bool   `json:"cosign,omitempty"`
	App         string `json:"app"`
	Users       int    `json:"users"`
	Concurrency int    `json:"concurrency"`
	// LoadProcs is Config.LoadProcs (0: Go's own setting).
	LoadProcs int       `json:"load_procs,omitempty"`
	SetupTime Duration  `json:"setup_ms"`
	Started   time.Time `json:"started"`
	Elapsed   Duration  `json:"elapsed_ms"`
	StoppedBy string    `json:"stopped_by"`
	// Sessions = Completed + Failed: every session started.
	Sessions  int `json:"sessions"`
	Completed int `json:"completed"`
	Failed    int `json:"failed"`
	// Throughput is completed sessions per second of Elapsed.
	Throughput float64 `json:"sessions_per_second"`
	// CryptoLimit is the flow's crypto limit on this machine, timed by the
	// bench before the load (MeasureCryptoLimit); CryptoRatio is
	// Throughput divided by its SessionsPerSecond.
	CryptoLimit *CryptoLimit `json:"crypto_limit,omitempty"`
	CryptoRatio float64      `json:"crypto_limit_ratio"`
	// EventFirst counts sessions whose completed event reached the
	// watcher before the confirm answer reached the phone (push 0).
	EventFirst int          `json:"event_before_confirm_answer"`
	Phases     []PhaseStats `json:"phases"`
	// Errors counts failed sessions by ErrorCode; ErrorExamples holds the
	// first message of each code.
	Errors        map[string]int    `json:"errors"`
	ErrorExamples map[string]string `json:"error_examples,omitempty"`
	// CPUProfile is the server's CPU profile over the load by category,
	// per completed session (Config.CPUProfileFrom); CPUProfileRaw the
	// profile as fetched (gzipped protobuf, for go tool pprof).
	CPUProfile    *ProfileReport `json:"cpu_profile,omitempty"`
	CPUProfileRaw []byte         `json:"-"`
	// ServerLoad is what the server's /metrics said about the load; nil
	// when /metrics could not be read (ServerLoadError says why).
	ServerLoad      *ServerLoad `json:"server_load,omitempty"`
	ServerLoadError string      `json:"server_load_error,omitempty"`
}

// report builds the run's Report.
func (f *Fixture) report(start time.Time, elapsed time.Duration, stoppedBy string, samples []Sample, failures map[string]int, examples map[string]string) *Report {
	r := &Report{
		Server: f.server.String(), Kind: f.cfg.Kind, Alg: f.cfg.Alg,
		Issuer: f.IssuerID, IssuerCreated: f.IssuerCreated, App: f.AppID, Cosign: f.cfg.Cosign,
		Users: f.Users, Concurrency: f.cfg.Concurrency, LoadProcs: f.cfg.LoadProcs, SetupTime: Duration(f.SetupTime),
		Started: start, Elapsed: Duration(elapsed), StoppedBy: stoppedBy,
		Completed: len(samples), Errors: failures, ErrorExamples: examples,
	}
	for _, n := range failures {
		r.Failed += n
	}
	r.Sessions = r.Completed + r.Failed
	if elapsed > 0 {
		r.Throughput = float64(r.Completed) / elapsed.Seconds()
	}
	phases := []struct {
		name string
		get  func(*Sample) time.Duration
	}{
		{PhaseCreate, func(s *Sample) time.Duration { return s.Create }},
		{PhaseWatch, func(s *Sample) time.Duration { return s.Watch }},
		{PhaseScan, func(s *Sample) time.Duration { return s.Scan }},
		{PhaseConfirm, func(s *Sample) time.Duration { return s.Confirm }},
		{PhasePush, func(s *Sample) time.Duration { return s.Push }},
		{PhaseEvent, func(s *Sample) time.Duration { return s.Event }},
		{PhaseTotal, func(s *Sample) time.Duration { return s.Total }},
	}
	for _, p := range phases {
		d := make([]time.Duration, len(samples))
		for i := range samples {
			d[i] = p.get(&samples[i])
		}
		r.Phases = append(r.Phases, Stats(p.name, d))
	}
	for i := range samples {
		if samples[i].EventFirst {
			r.EventFirst++
		}
	}
	return r
}

// Stats summarises durations: mean, max and the nearest-rank 50th, 90th
// and 99th percentiles (the smallest value with at least p% of the values
// at or below it). No values give zeros.
func Stats(name string, d []time.Duration) PhaseStats {
	st := PhaseStats{Name: name, Count: len(d)}
	if len(d) == 0 {
		return st
	}
	s := slices.Clone(d)
	slices.Sort(s)
	var sum time.Duration
	for _, v := range s {
		sum += v
	}
	rank := func(p float64) Duration {
		i := int(math.Ceil(p/100*float64(len(s)))) - 1
		return Duration(s[max(0, min(i, len(s)-1))])
	}
	st.Mean = Duration(sum / time.Duration(len(s)))
	st.P50, st.P90, st.P99 = rank(50), rank(90), rank(99)
	st.Max = Duration(s[len(s)-1])
	return st
}

// Phase returns the stats of the named phase (zero if absent).
func (r *Report) Phase(name string) PhaseStats {
	for _, p := range r.Phases {
		if p.Name == name {
			return p
		}
	}
	return PhaseStats{}
}

func ms(d Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64)
}

// WriteText prints the report for a terminal.
func (r *Report) WriteText(w io.Writer) error {
	issuer := r.Issuer
	if r.IssuerCreated {
		issuer += " (created)"
	}
	alg := r.Alg
	if r.Cosign {
		alg += " (cosign, two-party)"
	}
	fmt.Fprintf(w, "ukeygate bench: %s %s against %s\n", r.Kind, alg, r.Server)
	fmt.Fprintf(w, "setup: issuer %s, app %s, %d users in %s ms\n", issuer, r.App, r.Users, ms(r.SetupTime))
	fmt.Fprintf(w, "run: %d sessions (%d completed, %d failed) in %.2f s with %d workers, stopped by %s\n",
		r.Sessions, r.Completed, r.Failed, time.Duration(r.Elapsed).Seconds(), r.Concurrency, r.StoppedBy)
	fmt.Fprintf(w, "throughput: %.1f sessions/s\n", r.Throughput)
	if c := r.CryptoLimit; c != nil {
		note := ""
		if len(c.Timed) > 1 {
			note = fmt.Sprintf(", the mean of %.0f/s before and %.0f/s after the load", c.Timed[0], c.Timed[1])
		}
		if r.Cosign {
			note += "; the limit is of the PIN-at-gateway flow"
		}
		fmt.Fprintf(w, "crypto limit: %.0f sessions/s (%d CPUs busy at once, %s ms of crypto per session on each; one core alone %s ms, ×%d = %.0f/s; timed in the bench process%s): throughput = %.2fx the crypto limit\n",
			c.SessionsPerSecond, c.CPUs, ms(c.PerSession), ms(c.OneCore), c.CPUs, c.OneCoreScaled, note, r.CryptoRatio)
	}
	fmt.Fprintln(w, "latency (ms) of completed sessions; push: confirm answer to completed event at the watcher,")
	fmt.Fprintln(w, "confirm_to_event: confirm request sent to completed event at the watcher, total: create to that event")
	fmt.Fprintf(w, "  %-17s %7s %9s %9s %9s %9s %9s\n", "phase", "n", "mean", "p50", "p90", "p99", "max")
	for _, p := range r.Phases {
		fmt.Fprintf(w, "  %-17s %7d %9s %9s %9s %9s %9s\n", p.Name, p.Count, ms(p.Mean), ms(p.P50), ms(p.P90), ms(p.P99), ms(p.Max))
	}
	if r.EventFirst > 0 {
		fmt.Fprintf(w, "the completed event beat the confirm answer in %d sessions (push counted as 0)\n", r.EventFirst)
	}
	if l := r.ServerLoad; l != nil {
		fmt.Fprintf(w, "server: %.2f ms of CPU per completed session (its process_cpu_seconds_total over the load)\n", l.CPUPerSession)
		if l.CommitsPerSession > 0 {
			fmt.Fprintf(w, "store: %.2f commits per session, %.2f transactions and %.1f pages per commit, %.2f ms per commit; write path busy %.0f %% of the time (disk %.0f %%)\n",
				l.CommitsPerSession, l.TransactionsPerCommit, l.PagesPerCommit, l.MsPerCommit, 100*l.CommitBusy, 100*l.DiskBusy)
		}
	} else if r.ServerLoadError != "" {
		fmt.Fprintf(w, "server: no figures (%s)\n", r.ServerLoadError)
	}
	if r.CPUProfile != nil {
		if err := r.CPUProfile.WriteText(w); err != nil {
			return err
		}
	}
	if len(r.Errors) == 0 {
		_, err := fmt.Fprintln(w, "errors: none")
		return err
	}
	fmt.Fprintln(w, "errors:")
	for _, code := range slices.Sorted(maps.Keys(r.Errors)) {
		fmt.Fprintf(w, "  %-20s %6d  e.g. %s\n", code, r.Errors[code], r.ErrorExamples[code])
	}
	return nil
}

// ServerLoad is the server's own account of a load, from its /metrics
// before and after: CPU per completed session and, on bbolt, the store's
// commits (see docs/operations.md, "Is the disk the bound?"). It counts
// everything the server did meanwhile, other clients' requests too.
type ServerLoad struct {
	CPUPerSession         float64 `json:"cpu_ms_per_session"`
	CommitsPerSession     float64 `json:"commits_per_session,omitempty"`
	TransactionsPerCommit float64 `json:"transactions_per_commit,omitempty"`
	PagesPerCommit        float64 `json:"pages_per_commit,omitempty"`
	MsPerCommit           float64 `json:"ms_per_commit,omitempty"`
	// CommitBusy and DiskBusy are the shares of the elapsed time the
	// store's write path spent committing, and of that on the disk.
	CommitBusy float64 `json:"commit_busy,omitempty"`
	DiskBusy   float64 `json:"commit_disk_busy,omitempty"`
}

// serverLoad computes a ServerLoad from the figures before and after a
// load of completed sessions that took elapsed; nil without sessions.
func serverLoad(before, after ServerFigures, elapsed time.Duration, completed int) *ServerLoad {
	if completed <= 0 || elapsed <= 0 {
		return nil
	}
	n := float64(completed)
	l := &ServerLoad{CPUPerSession: 1000 * (after.CPUSeconds - before.CPUSeconds) / n}
	if b, a := before.Store, after.Store; b != nil && a != nil {
		if commits := a.Commits - b.Commits; commits > 0 {
			l.CommitsPerSession = commits / n
			l.TransactionsPerCommit = (a.Transactions - b.Transactions) / commits
			l.PagesPerCommit = (a.Pages - b.Pages) / commits
			l.MsPerCommit = 1000 * (a.CommitSeconds - b.CommitSeconds) / commits
			l.CommitBusy = (a.CommitSeconds - b.CommitSeconds) / elapsed.Seconds()
			l.DiskBusy = (a.CommitDiskSeconds - b.CommitDiskSeconds) / elapsed.Seconds()
		}
	}
	return l
}
