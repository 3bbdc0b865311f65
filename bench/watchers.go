package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ukeygate/ukeygate/portal"
)

// Transports of the waiting-clients mode (WatchConfig.Transport).
const (
	TransportWebsocket = "websocket"
	TransportLongPoll  = "longpoll"
)

// Defaults and bounds of WatchConfig.
const (
	DefaultWatchers      = 1000
	DefaultWatchConfirms = 100
	DefaultSettle        = 10 * time.Second
	DefaultIdleWindow    = 30 * time.Second
	DefaultOpenParallel  = 64
	MaxWatchers          = 200_000
)

// WatchConfig is a waiting-clients run: Watchers sessions are created and
// each is followed by a waiting client (a websocket, or long-polls) that
// does nothing but wait; then Confirms of them are scanned and confirmed
// and the confirm→event latency is timed at their waiters; then every
// client leaves. The server's own /metrics (process_resident_memory_bytes,
// process_cpu_seconds_total, go_goroutines) are read before, while waiting
// and after.
type WatchConfig struct {
	// Watchers is the number of waiting clients.
	Watchers int
	// Transport is TransportWebsocket or TransportLongPoll.
	Transport string
	// Confirms is how many of the waiting sessions are confirmed (at most
	// Watchers), with Config.Concurrency phones at a time.
	Confirms int
	// Settle is how long the run waits after the clients opened (and
	// after they left, unless LeftSettle is set) before reading the
	// server's memory.
	Settle time.Duration
	// LeftSettle, if positive, is the wait after the clients left.
	LeftSettle time.Duration
	// IdleWindow is how long the server's CPU is measured while every
	// client waits.
	IdleWindow time.Duration
	// OpenParallel bounds the sessions created and clients opened at once.
	OpenParallel int
}

// DefaultWatchConfig returns DefaultWatchers websockets.
func DefaultWatchConfig() WatchConfig {
	return WatchConfig{
		Watchers: DefaultWatchers, Transport: TransportWebsocket, Confirms: DefaultWatchConfirms,
		Settle: DefaultSettle, IdleWindow: DefaultIdleWindow, OpenParallel: DefaultOpenParallel,
	}
}

// Validate names the first bad field.
func (c WatchConfig) Validate() error {
	switch {
	case c.Watchers < 1 || c.Watchers > MaxWatchers:
		return invalid("watchers", "%d is outside 1..%d", c.Watchers, MaxWatchers)
	case c.Transport != TransportWebsocket && c.Transport != TransportLongPoll:
		return invalid("transport", "%q is not websocket or longpoll", c.Transport)
	case c.Confirms < 0 || c.Confirms > c.Watchers:
		return invalid("confirms", "%d is outside 0..watchers (%d)", c.Confirms, c.Watchers)
	case c.Settle < 0 || c.Settle > time.Hour:
		return invalid("settle", "%s is outside 0..1h", c.Settle)
	case c.LeftSettle < 0 || c.LeftSettle > time.Hour:
		return invalid("left_settle", "%s is outside 0..1h", c.LeftSettle)
	case c.IdleWindow <= 0 || c.IdleWindow > time.Hour:
		return invalid("idle_window", "%s is outside (0, 1h]", c.IdleWindow)
	case c.OpenParallel < 1 || c.OpenParallel > MaxConcurrency:
		return invalid("open_parallel", "%d is outside 1..%d", c.OpenParallel, MaxConcurrency)
	}
	return nil
}

// ServerFigures are the process figures of the server's /metrics.
type ServerFigures struct {
	RSS        int64   `json:"rss_bytes"`
	CPUSeconds float64 `json:"cpu_seconds"`
	Goroutines int     `json:"goroutines"`
	HeapInuse  int64   `json:"heap_inuse_bytes,omitempty"`
	Stack      int64   `json:"stack_inuse_bytes,omitempty"`
	// Store is the bbolt file's commit counters, nil on a node whose
	// store has none (etcd).
	Store *StoreFigures `json:"store,omitempty"`
}

// StoreFigures are a bbolt node's ukeygate_store_commit* counters.
type StoreFigures struct {
	Commits           float64 `json:"commits"`
	Transactions      float64 `json:"transactions"`
	CommitSeconds     float64 `json:"commit_seconds"`
	CommitDiskSeconds float64 `json:"commit_disk_seconds"`
	Pages             float64 `json:"pages"`
}

// WatchReport is the outcome of a waiting-clients run.
type WatchReport struct {
	Server    string `json:"server"`
	Transport string `json:"transport"`
	Watchers  int    `json:"watchers"`
	// Opened is how many clients were waiting; OpenFailures counts the
	// others by error code.
	Opened       int            `json:"opened"`
	OpenFailures map[string]int `json:"open_failures,omitempty"`
	OpenTime     Duration       `json:"open_ms"`
	// NoFileLimit is the bench process's open-files soft limit (raised to
	// the hard limit if it was lower).
	NoFileLimit uint64 `json:"nofile_limit"`
	// Idle: before any client; Waiting: every client waiting (after
	// Settle); Left: Settle after every client left.
	Idle    ServerFigures `json:"idle"`
	Waiting ServerFigures `json:"waiting"`
	Left    ServerFigures `json:"left"`
	// RSSPerWaiter = (Waiting.RSS - Idle.RSS) / Opened, in bytes.
	RSSPerWaiter float64 `json:"rss_per_waiter_bytes"`
	// IdleCPU is the server's CPU use (cores) over IdleWindow while every
	// client waited.
	IdleCPU float64 `json:"idle_cpu_cores"`
	// LeftRatio = Left.RSS / Idle.RSS.
	LeftRatio float64 `json:"left_rss_ratio"`
	// Confirmed sessions, failures, and confirm→event latency at the
	// waiting client (from sending the confirm to the completed event).
	Confirmed       int            `json:"confirmed"`
	ConfirmFailures map[string]int `json:"confirm_failures,omitempty"`
	Latency         PhaseStats     `json:"confirm_to_event"`
	// LoadAverage is /proc/loadavg's first three figures at the end.
	LoadAverage string `json:"load_average,omitempty"`
}

// waiter is one waiting client.
type waiter struct {
	sess   *portal.Session
	cancel context.CancelFunc
	final  chan time.Time // the completed event's arrival (capacity 1)
}

// RunWatchers sets the server up (Setup, with cfg) and runs the waiting-
// clients mode wc. It needs the /metrics of the server on cfg.Server.
func RunWatchers(ctx context.Context, cfg Config, wc WatchConfig) (*WatchReport, error) {
	if err := wc.Validate(); err != nil {
		return nil, err
	}
	f, err := Setup(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return f.Watchers(ctx, wc)
}

// Watchers runs the waiting-clients mode on a set-up fixture.
func (f *Fixture) Watchers(ctx context.Context, wc WatchConfig) (*WatchReport, error) {
	if err := wc.Validate(); err != nil {
		return nil, err
	}
	r := &WatchReport{Server: f.server.String(), Transport: wc.Transport, Watchers: wc.Watchers,
		OpenFailures: map[string]int{}, ConfirmFailures: map[string]int{}}
	r.NoFileLimit = raiseNoFile()
	if r.NoFileLimit > 0 && uint64(wc.Watchers)+256 > r.NoFileLimit {
		return nil, invalid("watchers", "%d clients need more open files than this process may have (%d): lower --watchers or raise ulimit -n", wc.Watchers, r.NoFileLimit)
	}
	var err error
	if r.Idle, err = f.serverFigures(ctx); err != nil {
		return nil, err
	}
	// The waiters' own HTTP client: one kept-alive connection per
	// long-poll.
	tr := f.http.Transport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = wc.Watchers+64, wc.Watchers+64
	tr.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	hc := &http.Client{Transport: tr, Timeout: 2 * time.Minute, CheckRedirect: f.http.CheckRedirect}
	pc := *f.portal
	pc.HTTP = hc
	if wc.Transport == TransportLongPoll {
		pc.Transport = "longpoll"
	}
	// Sessions outlive the run's phases.
	ttl := int((wc.Settle*2 + wc.IdleWindow + 5*time.Minute) / time.Second)

	waiters := make([]*waiter, wc.Watchers)
	var mu sync.Mutex
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range wc.OpenParallel {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= wc.Watchers || ctx.Err() != nil {
					return
				}
				w, err := f.openWaiter(ctx, &pc, i, ttl)
				mu.Lock()
				if err != nil {
					r.OpenFailures[ErrorCode(err)]++
				} else {
					waiters[i] = w
					r.Opened++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	r.OpenTime = Duration(time.Since(start))
	defer func() { // whatever happens, every client leaves
		for _, w := range waiters {
			if w != nil {
				w.cancel()
			}
		}
	}()
	if err := sleepCtx(ctx, wc.Settle); err != nil {
		return nil, err
	}
	before, err := f.serverFigures(ctx)
	if err != nil {
		return nil, err
	}
	if err := sleepCtx(ctx, wc.IdleWindow); err != nil {
		return nil, err
	}
	if r.Waiting, err = f.serverFigures(ctx); err != nil {
		return nil, err
	}
	r.IdleCPU = (r.Waiting.CPUSeconds - before.CPUSeconds) / wc.IdleWindow.Seconds()
	if r.Opened > 0 {
		r.RSSPerWaiter = float64(r.Waiting.RSS-r.Idle.RSS) / float64(r.Opened)
	}

	// Confirm some of them; time confirm → completed event at the waiter.
	var lat []time.Duration
	var ci atomic.Int64
	var cwg sync.WaitGroup
	for wk := range min(f.cfg.Concurrency, len(f.users)) {
		cwg.Go(func() {
			u := f.users[wk]
			for {
				i := int(ci.Add(1) - 1)
				if i >= wc.Confirms || i >= len(waiters) || ctx.Err() != nil {
					return
				}
				w := waiters[i]
				if w == nil {
					continue
				}
				d, err := f.confirmWaiter(ctx, u, w)
				mu.Lock()
				if err != nil {
					r.ConfirmFailures[ErrorCode(err)]++
				} else {
					lat = append(lat, d)
					r.Confirmed++
				}
				mu.Unlock()
			}
		})
	}
	cwg.Wait()
	r.Latency = Stats(PhaseEvent, lat)

	// Every client leaves.
	for _, w := range waiters {
		if w != nil {
			w.cancel()
		}
	}
	tr.CloseIdleConnections()
	left := wc.Settle
	if wc.LeftSettle > 0 {
		left = wc.LeftSettle
	}
	if err := sleepCtx(ctx, left); err != nil {
		return nil, err
	}
	if r.Left, err = f.serverFigures(ctx); err != nil {
		return nil, err
	}
	if r.Idle.RSS > 0 {
		r.LeftRatio = float64(r.Left.RSS) / float64(r.Idle.RSS)
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		fs := strings.Fields(string(b))
		if len(fs) >= 3 {
			r.LoadAverage = strings.Join(fs[:3], " ")
		}
	}
	return r, nil
}

// openWaiter creates session i and starts its waiting client.
func (f *Fixture) openWaiter(ctx context.Context, pc *portal.Client, i, ttl int) (*waiter, error) {
	u := f.users[i%len(f.users)]
	req := f.request(u)
	req.TTLSeconds = ttl
	cctx, ccancel := context.WithTimeout(ctx, f.cfg.SessionTimeout)
	sess, err := pc.CreateSession(cctx, req)
	ccancel()
	if err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	if err := f.pinWatch(sess); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	events, err := pc.Watch(wctx, sess)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("watch: %w", err)
	}
	w := &waiter{sess: sess, cancel: cancel, final: make(chan time.Time, 1)}
	go func() {
		for ev := range events {
			if ev.State == portal.StateCompleted {
				w.final <- time.Now()
			}
		}
	}()
	return w, nil
}

// confirmWaiter scans and confirms w's session as user u and returns the
// time from sending the confirm to the completed event at the waiter.
func (f *Fixture) confirmWaiter(ctx context.Context, u *benchUser, w *waiter) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, f.cfg.SessionTimeout)
	defer cancel()
	if _, err := u.phone.Scan(ctx, w.sess.QR.Payload); err != nil {
		return 0, fmt.Errorf("scan: %w", err)
	}
	t := time.Now()
	state, err := u.phone.Confirm(ctx, w.sess.ID, u.credential, f.cfg.PIN, w.sess.Code)
	if err != nil {
		return 0, fmt.Errorf("confirm: %w", err)
	}
	if state != portal.StateCompleted {
		return 0, fmt.Errorf("%w: confirm answered %q", ErrUnexpectedState, state)
	}
	select {
	case at := <-w.final:
		return at.Sub(t), nil
	case <-ctx.Done():
		return 0, fmt.Errorf("push: %w", ctx.Err())
	}
}

// serverFigures reads the process figures of the server's /metrics.
func (f *Fixture) serverFigures(ctx context.Context) (ServerFigures, error) {
	var sf ServerFigures
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.server.String()+"/metrics", nil)
	if err != nil {
		return sf, err
	}
	resp, err := f.http.Do(req)
	if err != nil {
		return sf, fmt.Errorf("%w: /metrics: %w", ErrMetrics, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return sf, fmt.Errorf("%w: /metrics answered %s", ErrMetrics, resp.Status)
	}
	sf, seen := parseFigures(resp.Body)
	if !seen {
		return sf, fmt.Errorf("%w: /metrics has no process_resident_memory_bytes", ErrMetrics)
	}
	return sf, nil
}

// parseFigures reads the process and Go figures from a Prometheus text
// exposition; seen tells whether the resident memory was there.
func parseFigures(r io.Reader) (sf ServerFigures, seen bool) {
	store := func() *StoreFigures {
		if sf.Store == nil {
			sf.Store = &StoreFigures{}
		}
		return sf.Store
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			continue
		}
		switch name {
		case "process_resident_memory_bytes":
			sf.RSS, seen = int64(v), true
		case "process_cpu_seconds_total":
			sf.CPUSeconds = v
		case "go_goroutines":
			sf.Goroutines = int(v)
		case "go_memstats_heap_inuse_bytes":
			sf.HeapInuse = int64(v)
		case "go_memstats_stack_inuse_bytes":
			sf.Stack = int64(v)
		case "ukeygate_store_commits_total":
			store().Commits = v
		case "ukeygate_store_committed_transactions_total":
			store().Transactions = v
		case "ukeygate_store_commit_seconds_total":
			store().CommitSeconds = v
		case "ukeygate_store_commit_disk_seconds_total":
			store().CommitDiskSeconds = v
		case "ukeygate_store_commit_pages_total":
			store().Pages = v
		}
	}
	return sf, seen
}

// raiseNoFile raises this process's open-files soft limit to its hard
// limit and returns the soft limit in force (0 if unknown).
func raiseNoFile() uint64 {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0
	}
	if l.Cur < l.Max {
		n := l
		n.Cur = n.Max
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &n) == nil {
			l = n
		}
	}
	return l.Cur
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// WriteText prints the report for a person.
func (r *WatchReport) WriteText(w io.Writer) error {
	mib := func(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
	var b strings.Builder
	fmt.Fprintf(&b, "waiting clients: %d %s (%d opened in %s; open files allowed %d)\n",
		r.Watchers, r.Transport, r.Opened, ms(r.OpenTime), r.NoFileLimit)
	for code, n := range r.OpenFailures {
		fmt.Fprintf(&b, "  open failed: %s × %d\n", code, n)
	}
	fmt.Fprintf(&b, "server RSS: idle %s, waiting %s, after they left %s (%.2f× idle)\n",
		mib(r.Idle.RSS), mib(r.Waiting.RSS), mib(r.Left.RSS), r.LeftRatio)
	fmt.Fprintf(&b, "RSS per waiter: %.1f KiB; goroutines idle %d, waiting %d, left %d\n",
		r.RSSPerWaiter/1024, r.Idle.Goroutines, r.Waiting.Goroutines, r.Left.Goroutines)
	fmt.Fprintf(&b, "server CPU while waiting: %.1f %% of a core\n", 100*r.IdleCPU)
	fmt.Fprintf(&b, "confirm→event at the waiter: %d confirmed, p50 %s p90 %s p99 %s max %s\n",
		r.Confirmed, ms(r.Latency.P50), ms(r.Latency.P90), ms(r.Latency.P99), ms(r.Latency.Max))
	for code, n := range r.ConfirmFailures {
		fmt.Fprintf(&b, "  confirm failed: %s × %d\n", code, n)
	}
	if r.LoadAverage != "" {
		fmt.Fprintf(&b, "load average: %s\n", r.LoadAverage)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Failed tells whether a client could not open or a confirm failed.
func (r *WatchReport) Failed() error {
	var errs []error
	for code, n := range r.OpenFailures {
		errs = append(errs, fmt.Errorf("%d clients did not open: %s", n, code))
	}
	for code, n := range r.ConfirmFailures {
		errs = append(errs, fmt.Errorf("%d confirms failed: %s", n, code))
	}
	return errors.Join(errs...)
}
