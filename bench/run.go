package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/pprof/profile"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/portal"
	"github.com/ukeygate/ukeygate/protocol"
)

// Sample is the timing of one completed session.
type Sample struct {
	// Create is POST /v1/sessions; Watch opening the websocket; Scan
	// POST /v1/scan; Confirm POST /v1/sessions/{id}/confirm.
	Create, Watch, Scan, Confirm time.Duration
	// Push is the time from the confirm answer to the completed event
	// at the watcher; 0 when the event came first (EventFirst).
	Push time.Duration
	// Event is the time from sending the confirm to the completed event
	// at the watcher (what the user waits for after tapping confirm).
	Event time.Duration
	// Total is the time from the create request to the completed event
	// at the watcher.
	Total time.Duration
	// EventFirst: the watcher had the completed event before the phone
	// had the confirm answer.
	EventFirst bool

	done time.Time // when the worker had the whole flow (the profile window counts by it)
}

// watchResult is what the watcher saw.
type watchResult struct {
	states []string
	final  *portal.Event
	at     time.Time
}

// Run sets the server up (Setup) and runs the load (Load).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	f, err := Setup(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return f.Load(ctx)
}

// Load runs the configured sessions with Concurrency workers until the
// session count is reached, the time limit (Duration, else TimeLimit)
// passes, or ctx ends; sessions in flight then finish (each bounded by
// SessionTimeout). Failed sessions are counted in the report by error
// code, never retried.
func (f *Fixture) Load(ctx context.Context) (*Report, error) {
	cfg := f.cfg
	// The crypto limit is timed before the load, in this process (and
	// again after a long one: the machine's speed drifts).
	climit, err := MeasureCryptoLimit(cfg.Alg, cryptoLimitTime)
	if err != nil {
		return nil, err
	}
	restoreProcs := func() {}
	if cfg.LoadProcs > 0 {
		prev := runtime.GOMAXPROCS(cfg.LoadProcs)
		var once sync.Once
		restoreProcs = func() { once.Do(func() { runtime.GOMAXPROCS(prev) }) }
		defer restoreProcs()
	}
	limit := cfg.sessionLimit()
	// The server's CPU profile, when asked for, covers the load's whole
	// seconds from here.
	var prof *profileFetch
	if cfg.CPUProfileFrom != "" {
		if prof, err = startProfileFetch(ctx, cfg.CPUProfileFrom, int(cfg.Duration/time.Second)); err != nil {
			return nil, err
		}
	}
	// The server's own figures before and after (its /metrics); a
	// server that does not show them still gets its load.
	figsBefore, figsErr := f.serverFigures(ctx)
	start := time.Now()
	deadline := start.Add(cfg.timeLimit())
	// Sessions in flight finish after ctx ends (with their own timeout),
	// so that an interrupted run still reports what it started.
	flowCtx := context.WithoutCancel(ctx)

	var (
		started  atomic.Int64
		stopping atomic.Value // the first reason the workers stopped
		mu       sync.Mutex
		samples  []Sample
		failures = map[string]int{}
		examples = map[string]string{}
	)
	stop := func(reason string) { stopping.CompareAndSwap(nil, reason) }
	var wg sync.WaitGroup
	for w := range cfg.Concurrency {
		wg.Go(func() {
			for n := 0; ; n++ {
				switch {
				case ctx.Err() != nil:
					stop(StopInterrupted)
					return
				case !time.Now().Before(deadline):
					if cfg.Duration > 0 {
						stop(StopDuration)
					} else {
						stop(StopTimeLimit)
					}
					return
				}
				i := started.Add(1)
				if i > int64(limit) {
					stop(StopCount)
					return
				}
				if cfg.Rate > 0 && !pace(ctx, start.Add(time.Duration(float64(i-1)/cfg.Rate*float64(time.Second))), deadline) {
					continue // the deadline or ctx ended the wait: the checks above stop
				}
				// Worker w takes the users w, w+C, w+2C, … in turn.
				s, err := f.Flow(flowCtx, w+n*cfg.Concurrency)
				s.done = time.Now()
				mu.Lock()
				if err != nil {
					code := ErrorCode(err)
					failures[code]++
					if _, ok := examples[code]; !ok {
						examples[code] = err.Error()
					}
				} else {
					samples = append(samples, s)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	var figsAfter ServerFigures
	if figsErr == nil {
		figsAfter, figsErr = f.serverFigures(flowCtx)
	}
	restoreProcs()
	if elapsed >= cryptoLimitAgainAfter {
		after, err := MeasureCryptoLimit(cfg.Alg, cryptoLimitTime)
		if err != nil {
			return nil, err
		}
		climit = meanLimit(climit, after)
	}
	reason, _ := stopping.Load().(string)
	r := f.report(start, elapsed, reason, samples, failures, examples)
	r.CryptoLimit = &climit
	if figsErr != nil {
		r.ServerLoadError = figsErr.Error()
	} else {
		r.ServerLoad = serverLoad(figsBefore, figsAfter, elapsed, r.Completed)
	}
	if climit.SessionsPerSecond > 0 {
		r.CryptoRatio = r.Throughput / climit.SessionsPerSecond
	}
	if prof != nil {
		if err := prof.finish(r, samples); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// profileFetch is a CPU profile of the server being taken during the load.
type profileFetch struct {
	start   time.Time
	seconds int
	done    chan struct{}
	raw     []byte
	p       *profile.Profile
	err     error
}

// startProfileFetch asks the server for a CPU profile of seconds, now.
func startProfileFetch(ctx context.Context, from string, seconds int) (*profileFetch, error) {
	u, err := ProfileURL(from, seconds)
	if err != nil {
		return nil, err
	}
	pf := &profileFetch{start: time.Now(), seconds: seconds, done: make(chan struct{})}
	go func() {
		defer close(pf.done)
		pf.raw, pf.p, pf.err = FetchCPUProfile(ctx, u)
	}()
	return pf, nil
}

// finish waits for the profile and sets r.CPUProfile: the sessions counted
// are those that completed inside the profile's window.
func (pf *profileFetch) finish(r *Report, samples []Sample) error {
	<-pf.done
	if pf.err != nil {
		return pf.err
	}
	end := pf.start.Add(time.Duration(pf.seconds) * time.Second)
	n := 0
	for i := range samples {
		if d := samples[i].done; !d.Before(pf.start) && !d.After(end) {
			n++
		}
	}
	pr, err := ClassifyProfile(pf.p, n)
	if err != nil {
		return err
	}
	r.CPUProfile, r.CPUProfileRaw = pr, pf.raw
	return nil
}

// cryptoLimitTime is how long Load times the flow's crypto (CryptoWork).
const cryptoLimitTime = 300 * time.Millisecond

// cryptoLimitAgainAfter: a load that ran at least this long has its
// crypto limit timed again after it, and the report takes the mean of the
// two timings (a variable for the tests).
var cryptoLimitAgainAfter = 5 * time.Second

// pace waits until the session's start slot at (Config.Rate); it reports
// false when ctx ends or the slot lies beyond deadline first.
func pace(ctx context.Context, at, deadline time.Time) bool {
	if !at.Before(deadline) {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		return false
	}
	d := time.Until(at)
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Flow runs one whole session for user (taken modulo the number of
// users) and times its phases: the portal creates it and opens the
// websocket watch, the phone scans the payload and confirms with the
// credential, the PIN and the code the portal shows, and the watcher
// receives waiting, scanned and completed with the result, which is
// checked. The error names what failed (see ErrorCode).
func (f *Fixture) Flow(ctx context.Context, user int) (Sample, error) {
	var s Sample
	u := f.users[((user%len(f.users))+len(f.users))%len(f.users)]
	ctx, cancel := context.WithTimeout(ctx, f.cfg.SessionTimeout)
	defer cancel()

	t0 := time.Now()
	sess, err := f.portal.CreateSession(ctx, f.request(u))
	if err != nil {
		return s, fmt.Errorf("create: %w", err)
	}
	t1 := time.Now()
	s.Create = t1.Sub(t0)
	ok := false
	defer func() {
		if !ok { // leave nothing waiting on the server
			cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_ = f.portal.CancelSession(cctx, sess.ID)
			ccancel()
		}
	}()
	if err := f.pinWatch(sess); err != nil {
		return s, err
	}
	events, err := f.portal.Watch(ctx, sess)
	if err != nil {
		return s, fmt.Errorf("watch: %w", err)
	}
	t2 := time.Now()
	s.Watch = t2.Sub(t1)
	done := make(chan watchResult, 1)
	go func() {
		var r watchResult
		for ev := range events {
			r.states = append(r.states, string(ev.State))
			if ev.Final() {
				r.at, r.final = time.Now(), &ev
			}
		}
		done <- r
	}()

	scan, err := u.phone.Scan(ctx, sess.QR.Payload)
	if err != nil {
		return s, fmt.Errorf("scan: %w", err)
	}
	t3 := time.Now()
	s.Scan = t3.Sub(t2)
	if scan.Session.ID != sess.ID || !slices.Contains(scan.Session.CodeChoices, sess.Code) {
		return s, fmt.Errorf("%w: session %s, code %q among %q", ErrNotOffered, scan.Session.ID, sess.Code, scan.Session.CodeChoices)
	}
	if !slices.ContainsFunc(scan.Credentials, func(c phone.Credential) bool { return c.ID == u.credential }) {
		return s, fmt.Errorf("%w: credential %s", ErrNotOffered, u.credential)
	}

	state, err := u.phone.Confirm(ctx, sess.ID, u.credential, f.cfg.PIN, sess.Code)
	if err != nil {
		return s, fmt.Errorf("confirm: %w", err)
	}
	t4 := time.Now()
	s.Confirm = t4.Sub(t3)
	if state != portal.StateCompleted {
		return s, fmt.Errorf("%w: confirm answered %q", ErrUnexpectedState, state)
	}

	var r watchResult
	select {
	case r = <-done:
	case <-ctx.Done():
		return s, fmt.Errorf("push: %w", ctx.Err())
	}
	ok = true // the session is final whatever comes next
	if r.final == nil {
		if ctx.Err() != nil {
			return s, fmt.Errorf("push: %w", ctx.Err())
		}
		return s, fmt.Errorf("%w: saw %v", ErrWatchEnded, r.states)
	}
	if r.final.State != portal.StateCompleted {
		return s, fmt.Errorf("%w: %s (%s)", ErrUnexpectedState, r.final.State, r.final.Reason)
	}
	if strings.Join(r.states, ",") != "waiting,scanned,completed" {
		return s, fmt.Errorf("%w: %v", ErrUnexpectedEvents, r.states)
	}
	if push := r.at.Sub(t4); push > 0 {
		s.Push = push
	} else {
		s.EventFirst = true
	}
	s.Event = r.at.Sub(t3)
	s.Total = r.at.Sub(t0)
	if err := f.check(u, sess, r.final); err != nil {
		return s, err
	}
	return s, nil
}

// request is the session request of a run's kind for user u.
func (f *Fixture) request(u *benchUser) portal.SessionRequest {
	req := portal.SessionRequest{
		Kind: portal.Kind(f.cfg.Kind), Issuer: f.IssuerID, Alg: f.cfg.Alg, Origin: Origin,
		Display: portal.Display{Title: "ukeygate bench " + f.cfg.Kind, Summary: "a load-test session"},
	}
	switch f.cfg.Kind {
	case KindSign:
		req.Documents = []portal.Document{{Name: "bid.txt", Data: f.payload}}
		req.Format = portal.FormatRaw
	case KindDecrypt:
		req.User = u.id
		req.Ciphertext, req.CiphertextFormat = u.ciphertext, portal.CipherCMS
	}
	return req
}

// pinWatch re-points the session's absolute watch URLs at the
// configured server (a gateway behind a proxy names its public URL); a
// relative URL already resolves against it.
func (f *Fixture) pinWatch(s *portal.Session) error {
	wsScheme := "ws"
	if f.server.Scheme == "https" {
		wsScheme = "wss"
	}
	for _, w := range []struct {
		ref    *string
		scheme string
	}{{&s.Watch.WSURL, wsScheme}, {&s.Watch.EventsURL, f.server.Scheme}} {
		if *w.ref == "" {
			continue
		}
		u, err := url.Parse(*w.ref)
		if err != nil {
			return fmt.Errorf("%w: watch URL %q", ErrForeignHost, *w.ref)
		}
		if !u.IsAbs() {
			continue
		}
		switch u.Scheme {
		case "ws", "wss", "http", "https":
		default:
			return fmt.Errorf("%w: watch URL scheme %q", ErrForeignHost, u.Scheme)
		}
		u.Scheme, u.Host, u.User = w.scheme, f.server.Host, nil
		*w.ref = u.String()
	}
	return nil
}

// check verifies the completed event's result for u.
func (f *Fixture) check(u *benchUser, s *portal.Session, ev *portal.Event) error {
	switch f.cfg.Kind {
	case KindLogin:
		res, err := ev.Login()
		if err != nil {
			return fmt.Errorf("%w: %w", ErrBadResult, err)
		}
		if res.User != u.id || res.Credential != u.credential || len(res.Signature) == 0 || len(res.Challenge) == 0 {
			return fmt.Errorf("%w: login by %q with %q", ErrBadResult, res.User, res.Credential)
		}
		if f.cfg.Verify {
			if _, err := portal.VerifyLogin(res, portal.LoginExpect{Session: s.ID, App: f.AppID, Origin: Origin, Roots: f.roots}); err != nil {
				return fmt.Errorf("%w: %w", ErrBadResult, err)
			}
		}
	case KindSign:
		res, err := ev.Sign()
		if err != nil {
			return fmt.Errorf("%w: %w", ErrBadResult, err)
		}
		if len(res.Documents) != 1 || len(res.Documents[0].Signature) == 0 {
			return fmt.Errorf("%w: %d signed documents", ErrBadResult, len(res.Documents))
		}
		if f.cfg.Verify {
			certs, err := gmcrypto.ParseCertificatesPEM([]byte(res.CertificatePEM))
			if err != nil {
				return fmt.Errorf("%w: %w", ErrBadResult, err)
			}
			if err := certs[0].CheckSignatureFrom(f.roots[0]); err != nil {
				return fmt.Errorf("%w: certificate not from the issuer: %w", ErrBadResult, err)
			}
			if err := gmcrypto.Verify(certs[0].PublicKey, f.payload, res.Documents[0].Signature, nil); err != nil {
				return fmt.Errorf("%w: %w", ErrBadResult, err)
			}
		}
	case KindDecrypt:
		res, err := ev.Decrypt()
		if err != nil {
			return fmt.Errorf("%w: %w", ErrBadResult, err)
		}
		if !bytes.Equal(res.Plaintext, u.plaintext) {
			return fmt.Errorf("%w: wrong plaintext", ErrBadResult)
		}
	}
	return nil
}

// ErrorCode is the stable name a failure is counted under: the server's
// error code for a refusal, else timeout, transport, foreign_host,
// not_offered, unexpected_state, unexpected_events, bad_result,
// watch_ended or other.
func ErrorCode(err error) string {
	var pe *protocol.APIError
	var ne net.Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &pe):
		if pe.Code != "" {
			return pe.Code
		}
		return fmt.Sprintf("http_%d", pe.Status)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return "timeout"
	case errors.Is(err, ErrForeignHost):
		return "foreign_host"
	case errors.Is(err, ErrNotOffered):
		return "not_offered"
	case errors.Is(err, ErrUnexpectedState):
		return "unexpected_state"
	case errors.Is(err, ErrUnexpectedEvents):
		return "unexpected_events"
	case errors.Is(err, ErrBadResult):
		return "bad_result"
	case errors.Is(err, ErrWatchEnded), errors.Is(err, portal.ErrWatchEnded):
		return "watch_ended"
	case errors.As(err, &ne):
		if ne.Timeout() {
			return "timeout"
		}
		return "transport"
	}
	return "other"
}
