package session_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/session"
	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

// deadline guards every wait; it is a failure guard, not an expectation.
const deadline = 60 * time.Second

// clock is an injectable clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().UTC()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func ctxFor(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	t.Cleanup(cancel)
	return ctx
}

// testConfig: the injected clock, and a background expirer that never runs
// during a test (tests call ExpireDue).
func testConfig(c *clock) session.Config {
	cfg := session.DefaultConfig()
	cfg.Now = c.Now
	cfg.ExpiryInterval = time.Hour
	cfg.ResultKey = testResultKey
	return cfg
}

// testResultKey seals results in the tests (as server derives it from the
// master key).
var testResultKey = func() []byte {
	k, err := gmcrypto.DeriveKey(bytes.Repeat([]byte{0x5a}, gmcrypto.MinMasterKeyLen), session.ResultKeyPurpose, nil)
	if err != nil {
		panic(err)
	}
	return k
}()

func newService(t testing.TB, st storage.Store, cfg session.Config) *session.Service {
	t.Helper()
	s, err := session.New(st, cfg)
	if err != nil {
		t.Fatalf("session.New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// env is one service on a fresh bbolt store with an injected clock.
type env struct {
	st    storage.Store
	clock *clock
	svc   *session.Service
	ctx   context.Context
}

func newEnv(t testing.TB, edit ...func(*session.Config)) *env {
	t.Helper()
	st := storagetest.MustOpen(t)
	c := newClock()
	cfg := testConfig(c)
	for _, e := range edit {
		e(&cfg)
	}
	return &env{st: st, clock: c, svc: newService(t, st, cfg), ctx: ctxFor(t)}
}

const (
	app     = "app_1"
	origin  = "https://bid.example.gov.cn"
	device  = "dev_1"
	device2 = "dev_2"
	user    = "user_1"
)

func loginParams() session.CreateParams {
	return session.CreateParams{
		Kind:    session.KindLogin,
		AppID:   app,
		Origin:  origin,
		Request: session.Request{Display: session.Display{Title: "登录 procurement portal"}},
		Desktop: session.Desktop{IP: "203.0.113.7", UserAgent: "Mozilla/5.0 test"},
	}
}

// created is what Create returned.
type created struct {
	*session.Session
	token, nonce string
}

func (e *env) create(t testing.TB, p session.CreateParams) created {
	t.Helper()
	s, token, nonce, err := e.svc.Create(e.ctx, p)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return created{s, token, nonce}
}

func (e *env) scanned(t testing.TB) created {
	t.Helper()
	c := e.create(t, loginParams())
	if _, err := e.svc.Scan(e.ctx, c.ID, c.nonce, device, user); err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return c
}

func resultOf(v string) func(*session.Session) (json.RawMessage, error) {
	return func(*session.Session) (json.RawMessage, error) {
		return json.RawMessage(`{"v":"` + v + `"}`), nil
	}
}

func (e *env) get(t testing.TB, id string) *session.Session {
	t.Helper()
	s, err := e.svc.Get(e.ctx, id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return s
}

func (e *env) events(t testing.TB, id string) []session.Event {
	t.Helper()
	evs, err := e.svc.Events(e.ctx, id, 0)
	if err != nil {
		t.Fatalf("Events(%s): %v", id, err)
	}
	return evs
}

// states renders events as their states, checking Seq is from, from+1….
func states(t testing.TB, evs []session.Event, from int64) []session.State {
	t.Helper()
	out, err := stateList(evs, from)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// collect reads a watcher until its channel closes (guarded by deadline).
func collect(t testing.TB, w *session.Watcher) []session.Event {
	t.Helper()
	out, err := drain(w)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// drain is collect for goroutines other than the test's.
func drain(w *session.Watcher) ([]session.Event, error) {
	var out []session.Event
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	for {
		select {
		case e, ok := <-w.Events():
			if !ok {
				return out, nil
			}
			out = append(out, e)
		case <-timer.C:
			return out, fmt.Errorf("watcher did not close within %s; got %+v", deadline, out)
		}
	}
}

// stateList renders events as their states if their Seq run from, from+1…
func stateList(evs []session.Event, from int64) ([]session.State, error) {
	out := make([]session.State, 0, len(evs))
	for i, e := range evs {
		if e.Seq != from+int64(i) || e.Type != "state" {
			return nil, fmt.Errorf("event %d: seq %d type %q, want seq %d type state (%+v)", i, e.Seq, e.Type, from+int64(i), evs)
		}
		out = append(out, e.State)
	}
	return out, nil
}

// next reads one event (guarded).
func next(t testing.TB, w *session.Watcher) session.Event {
	t.Helper()
	select {
	case e, ok := <-w.Events():
		if !ok {
			t.Fatalf("watcher closed early: %v", w.Err())
		}
		return e
	case <-time.After(deadline):
		t.Fatalf("no event within %s", deadline)
	}
	return session.Event{}
}

// waitFor polls cond until it holds (guarded by deadline).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("%s: not within %s", what, deadline)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitHubOpen waits until the Service's store watch is open (the hub
// starts it in the background on the first Watch), so that the events a
// test commits next reach its watchers live rather than by a re-list.
func waitHubOpen(t *testing.T, svc *session.Service) {
	t.Helper()
	select {
	case <-session.HubOpen(svc):
	case <-time.After(time.Minute):
		t.Fatal("the hub's store watch did not open")
	}
}
