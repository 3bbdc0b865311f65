package session_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ukeygate/ukeygate/session"
	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

var full = []session.State{"waiting", "scanned", "completed"}

func TestWatchEveryEventOnceInOrder(t *testing.T) {
	e := newEnv(t)
	c := e.create(t, loginParams())
	w, err := e.svc.Watch(e.ctx, c.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The current state comes first, before anything happens.
	if ev := next(t, w); ev.Seq != 1 || ev.State != session.StateWaiting {
		t.Fatalf("first event %+v", ev)
	}
	if _, err := e.svc.Scan(e.ctx, c.ID, c.nonce, device, user); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, w); ev.Seq != 2 || ev.State != session.StateScanned {
		t.Fatalf("second event %+v", ev)
	}
	if _, err := e.svc.Confirm(e.ctx, c.ID, device, resultOf("done")); err != nil {
		t.Fatal(err)
	}
	rest := collect(t, w)
	if len(rest) != 1 || rest[0].Seq != 3 || rest[0].State != session.StateCompleted || string(rest[0].Result) != `{"v":"done"}` {
		t.Fatalf("rest %+v", rest)
	}
	if w.Err() != nil {
		t.Errorf("Err after the final event = %v, want nil", w.Err())
	}
}

func TestWatchStartsAfter(t *testing.T) {
	e := newEnv(t)
	c := e.scanned(t)
	if _, err := e.svc.Confirm(e.ctx, c.ID, device, resultOf("r")); err != nil {
		t.Fatal(err)
	}
	for after := int64(0); after <= 3; after++ {
		w, err := e.svc.Watch(e.ctx, c.ID, after)
		if err != nil {
			t.Fatalf("after=%d: %v", after, err)
		}
		got := states(t, collect(t, w), after+1)
		if !slices.Equal(got, full[after:]) || w.Err() != nil {
			t.Errorf("after=%d on an ended session: %v (%v), want %v", after, got, w.Err(), full[after:])
		}
	}
	for _, tc := range []struct {
		id    string
		after int64
		want  error
	}{
		{c.ID, 4, session.ErrInvalidSeq},
		{c.ID, -1, session.ErrInvalidArgument},
		{"AAAAAAAAAAAAAAAA", 0, session.ErrNotFound},
		{"bad id", 0, session.ErrNotFound},
	} {
		if _, err := e.svc.Watch(e.ctx, tc.id, tc.after); !errors.Is(err, tc.want) {
			t.Errorf("Watch(%q, %d) = %v, want %v", tc.id, tc.after, err, tc.want)
		}
		if _, err := e.svc.Poll(e.ctx, tc.id, tc.after, time.Second); !errors.Is(err, tc.want) {
			t.Errorf("Poll(%q, %d) = %v, want %v", tc.id, tc.after, err, tc.want)
		}
	}
}

// A watcher that disconnects and reconnects with after=SEQ gets every event
// exactly once, including those committed while it was away.
func TestWatchReconnect(t *testing.T) {
	e := newEnv(t)
	c := e.create(t, loginParams())
	w, err := e.svc.Watch(e.ctx, c.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := []session.Event{next(t, w)}
	w.Close()
	collect(t, w) // drain: nothing or nothing more than what was sent
	if !errors.Is(w.Err(), session.ErrClosed) {
		t.Errorf("Err after Close = %v", w.Err())
	}
	// Events happen while nobody watches.
	if _, err := e.svc.Scan(e.ctx, c.ID, c.nonce, device, user); err != nil {
		t.Fatal(err)
	}
	w2, err := e.svc.Watch(e.ctx, c.ID, got[len(got)-1].Seq)
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, next(t, w2))
	if _, err := e.svc.Confirm(e.ctx, c.ID, device, resultOf("r")); err != nil {
		t.Fatal(err)
	}
	got = append(got, collect(t, w2)...)
	if s := states(t, got, 1); !slices.Equal(s, full) {
		t.Fatalf("events across the reconnect: %v", s)
	}
}

// A watcher that does not read neither blocks the confirm nor another
// watcher, and still gets every event, in order, when it reads.
func TestSlowWatcher(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := newEnv(t, func(c *session.Config) { c.WatchBuffer = 1; c.Registerer = reg })
	c := e.create(t, loginParams())
	slow, err := e.svc.Watch(e.ctx, c.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	fast, err := e.svc.Watch(e.ctx, c.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The hub opens its store watch in the background on the first Watch:
	// wait for it, or on a loaded machine the events below come by a
	// re-list, which never drops anyone.
	waitHubOpen(t, e.svc)
	var fastGot []session.Event
	var fastErr error
	done := make(chan struct{})
	go func() { defer close(done); fastGot, fastErr = drain(fast) }()
	if _, err := e.svc.Scan(e.ctx, c.ID, c.nonce, device, user); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Confirm(e.ctx, c.ID, device, resultOf("r")); err != nil {
		t.Fatal(err)
	}
	<-done
	if fastErr != nil {
		t.Fatal(fastErr)
	}
	if s := states(t, fastGot, 1); !slices.Equal(s, full) || fast.Err() != nil {
		t.Fatalf("fast watcher got %v (%v)", s, fast.Err())
	}
	// The slow watcher's events waited in its one pending slot (the
	// latest) and come, all of them, in order, once it reads: it is
	// never dropped.
	slowGot := collect(t, slow)
	if s := states(t, slowGot, 1); !slices.Equal(s, full) || slow.Err() != nil {
		t.Fatalf("slow watcher got %v (%v)", s, slow.Err())
	}
	if n := metricValue(t, reg, "ukeygate_session_watchers_dropped_total", nil); n != 0 {
		t.Fatalf("%v watchers dropped", n)
	}
}

func TestPoll(t *testing.T) {
	e := newEnv(t)
	c := e.create(t, loginParams())
	evs, err := e.svc.Poll(e.ctx, c.ID, 0, time.Minute)
	if err != nil || len(evs) != 1 || evs[0].State != session.StateWaiting {
		t.Fatalf("Poll with a stored event = %+v, %v", evs, err)
	}
	// Nothing new: times out empty (a short wait; the result does not
	// depend on the machine's speed).
	evs, err = e.svc.Poll(e.ctx, c.ID, 1, 50*time.Millisecond)
	if err != nil || evs == nil || len(evs) != 0 {
		t.Fatalf("Poll timeout = %+v, %v; want an empty non-nil slice", evs, err)
	}
	// Waits for the scan made meanwhile.
	type res struct {
		evs []session.Event
		err error
	}
	ch := make(chan res, 1)
	go func() {
		evs, err := e.svc.Poll(e.ctx, c.ID, 1, deadline)
		ch <- res{evs, err}
	}()
	if _, err := e.svc.Scan(e.ctx, c.ID, c.nonce, device, user); err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil || len(r.evs) == 0 || r.evs[0].Seq != 2 || r.evs[0].State != session.StateScanned {
		t.Fatalf("Poll across the scan = %+v, %v", r.evs, r.err)
	}
	if _, err := e.svc.Confirm(e.ctx, c.ID, device, resultOf("r")); err != nil {
		t.Fatal(err)
	}
	// After the final event: nothing will come, at once.
	evs, err = e.svc.Poll(e.ctx, c.ID, 3, deadline)
	if err != nil || len(evs) != 0 {
		t.Fatalf("Poll after the end = %+v, %v", evs, err)
	}
}

// Expiry fires with nobody watching, through the background expirer
// (a real ticker) and an injected clock.
func TestExpiryWithoutWatcher(t *testing.T) {
	e := newEnv(t, func(c *session.Config) { c.ExpiryInterval = 10 * time.Millisecond })
	p := loginParams()
	p.TTL = time.Second
	waiting := e.create(t, p)
	scanned := e.create(t, p)
	if _, err := e.svc.Scan(e.ctx, scanned.ID, scanned.nonce, device, user); err != nil {
		t.Fatal(err)
	}
	done := e.create(t, p)
	if _, err := e.svc.Cancel(e.ctx, done.ID, app); err != nil {
		t.Fatal(err)
	}
	long := e.create(t, loginParams()) // 120 s
	e.clock.Advance(1500 * time.Millisecond)
	for _, id := range []string{waiting.ID, scanned.ID} {
		waitFor(t, "expiry of "+id, func() bool { return e.get(t, id).State == session.StateExpired })
		evs := e.events(t, id)
		states(t, evs, 1)
		if last := evs[len(evs)-1]; last.State != session.StateExpired {
			t.Errorf("last event %+v", last)
		}
	}
	if s := e.get(t, done.ID); s.State != session.StateCancelled || s.Seq != 2 {
		t.Errorf("an ended session was touched: %+v", s)
	}
	if s := e.get(t, long.ID); s.State != session.StateWaiting {
		t.Errorf("a session not yet due expired: %+v", s)
	}
	// The remaining index entry is the long session's.
	kvs, _, err := e.st.List(e.ctx, "session-expiry/")
	if err != nil || len(kvs) != 1 {
		t.Fatalf("expiry index: %d entries (%v)", len(kvs), err)
	}
	// And a watcher of the long session learns of its expiry with no
	// other activity.
	w, err := e.svc.Watch(e.ctx, long.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Minute)
	got := collect(t, w)
	if len(got) != 1 || got[0].State != session.StateExpired || got[0].Seq != 2 {
		t.Fatalf("watcher of an expiring session got %+v", got)
	}
}

// Two nodes racing to expire: exactly one expired event.
func TestExpiryRace(t *testing.T) {
	st := storagetest.MustOpen(t)
	clk := newClock()
	a := newService(t, st, testConfig(clk))
	b := newService(t, st, testConfig(clk))
	ctx := ctxFor(t)
	var ids []string
	for range 20 {
		s, _, _, err := a.Create(ctx, loginParams())
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.ID)
	}
	clk.Advance(121 * time.Second)
	var wg sync.WaitGroup
	counts := make([]int, 2)
	for i, svc := range []*session.Service{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := svc.ExpireDue(ctx)
			if err != nil {
				t.Errorf("ExpireDue: %v", err)
			}
			counts[i] = n
		}()
	}
	wg.Wait()
	if counts[0]+counts[1] != len(ids) {
		t.Errorf("nodes expired %d + %d sessions, want %d in all", counts[0], counts[1], len(ids))
	}
	for _, id := range ids {
		evs, err := a.Events(ctx, id, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := states(t, evs, 1); !slices.Equal(got, []session.State{"waiting", "expired"}) {
			t.Errorf("%s: %v", id, got)
		}
	}
}

// A confirm on node B reaches a watcher on node A: the store is the only
// thing they share.
func TestWatchAcrossNodes(t *testing.T) {
	st := storagetest.MustOpen(t)
	clk := newClock()
	a := newService(t, st, testConfig(clk))
	b := newService(t, st, testConfig(clk))
	ctx := ctxFor(t)
	s, token, nonce, err := a.Create(ctx, loginParams())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.CheckWatchToken(ctx, s.ID, token); err != nil {
		t.Fatalf("node B does not know A's watch token: %v", err)
	}
	w, err := a.Watch(ctx, s.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if ev := next(t, w); ev.State != session.StateWaiting {
		t.Fatalf("first %+v", ev)
	}
	if _, err := b.Scan(ctx, s.ID, nonce, device, user); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Confirm(ctx, s.ID, device, resultOf("from B")); err != nil {
		t.Fatal(err)
	}
	got := collect(t, w)
	if len(got) != 2 || got[0].State != session.StateScanned || got[1].State != session.StateCompleted || string(got[1].Result) != `{"v":"from B"}` {
		t.Fatalf("node A saw %+v", got)
	}
}

func TestCloseEndsWatchers(t *testing.T) {
	st := storagetest.MustOpen(t)
	clk := newClock()
	svc, err := session.New(st, testConfig(clk))
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxFor(t)
	s, _, _, err := svc.Create(ctx, loginParams())
	if err != nil {
		t.Fatal(err)
	}
	w, err := svc.Watch(ctx, s.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Close(); err != nil {
		t.Fatal(err)
	}
	if got := collect(t, w); len(got) != 0 || !errors.Is(w.Err(), session.ErrClosed) {
		t.Errorf("after Close: %+v, %v", got, w.Err())
	}
	if _, err := svc.Watch(ctx, s.ID, 0); !errors.Is(err, session.ErrClosed) {
		t.Errorf("Watch after Close = %v", err)
	}
	// A cancelled context ends a watcher too.
	svc2 := newService(t, st, testConfig(clk))
	cctx, cancel := context.WithCancel(ctx)
	w2, err := svc2.Watch(cctx, s.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	collect(t, w2)
	if !errors.Is(w2.Err(), context.Canceled) {
		t.Errorf("Err after cancel = %v", w2.Err())
	}
}

// cutStore is the real store with one fault added: the test can cut the
// hub's watch, as the store does when a watcher falls behind.
type cutStore struct {
	storage.Store
	mu   sync.Mutex
	cuts []chan struct{}
}

func (s *cutStore) Watch(ctx context.Context, prefix string) (<-chan storage.Event, error) {
	in, err := s.Store.Watch(ctx, prefix)
	if err != nil {
		return nil, err
	}
	cut := make(chan struct{})
	s.mu.Lock()
	s.cuts = append(s.cuts, cut)
	s.mu.Unlock()
	out := make(chan storage.Event)
	go func() {
		defer close(out)
		for {
			select {
			case ev, ok := <-in:
				if !ok {
					return
				}
				select {
				case out <- ev:
				case <-cut:
					return
				}
			case <-cut:
				return // events after this point are lost to this watch
			}
		}
	}()
	return out, nil
}

// cut closes every watch opened so far; it returns how many.
func (s *cutStore) cut() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.cuts)
	for _, c := range s.cuts {
		close(c)
	}
	s.cuts = nil
	return n
}

func (s *cutStore) watches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.cuts)
}

// When the store drops the hub's watch, the hub re-opens it and every
// watcher re-lists: nothing is lost or repeated.
func TestHubSurvivesLostStoreWatch(t *testing.T) {
	cs := &cutStore{Store: storagetest.MustOpen(t)}
	clk := newClock()
	svc := newService(t, cs, testConfig(clk))
	ctx := ctxFor(t)
	var cs2 []created
	var ws []*session.Watcher
	for range 5 {
		s, token, nonce, err := svc.Create(ctx, loginParams())
		if err != nil {
			t.Fatal(err)
		}
		w, err := svc.Watch(ctx, s.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		cs2 = append(cs2, created{s, token, nonce})
		ws = append(ws, w)
	}
	waitFor(t, "hub watch open", func() bool { return cs.watches() == 1 })
	for round := range 3 {
		if n := cs.cut(); n != 1 {
			t.Fatalf("round %d: %d store watches open, want the hub's one", round, n)
		}
		// Commit events while the hub re-opens.
		for _, c := range cs2 {
			var err error
			switch round {
			case 0:
				_, err = svc.Scan(ctx, c.ID, c.nonce, device, user)
			case 1:
				_, err = svc.Fail(ctx, c.ID, device, "operation_failed")
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, "hub re-opened its watch", func() bool { return cs.watches() == 1 })
	}
	for i, w := range ws {
		got := collect(t, w)
		if s := states(t, got, 1); !slices.Equal(s, []session.State{"waiting", "scanned", "failed"}) || w.Err() != nil {
			t.Errorf("watcher %d: %v (%v)", i, s, w.Err())
		}
	}
}

// 1,000 concurrent sessions, each with a watcher, half of them on a second
// node, all confirmed at once: every watcher gets its own final result.
// The deadline is a failure guard, not a performance assertion.
func TestThousandSessions(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 sessions")
	}
	const n = 1000
	st := storagetest.MustOpen(t)
	clk := newClock()
	nodes := []*session.Service{newService(t, st, testConfig(clk)), newService(t, st, testConfig(clk))}
	ctx := ctxFor(t)
	type one struct {
		c created
		w *session.Watcher
	}
	all := make([]one, n)
	parallel := func(f func(i int) error) {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 32)
		for i := range n {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if err := f(i); err != nil {
					t.Errorf("session %d: %v", i, err)
				}
			}()
		}
		wg.Wait()
	}
	parallel(func(i int) error {
		s, token, nonce, err := nodes[0].Create(ctx, loginParams())
		if err != nil {
			return err
		}
		w, err := nodes[i%2].Watch(ctx, s.ID, 0)
		all[i] = one{created{s, token, nonce}, w}
		return err
	})
	if t.Failed() {
		t.FailNow()
	}
	parallel(func(i int) error {
		_, err := nodes[(i+1)%2].Scan(ctx, all[i].c.ID, all[i].c.nonce, device, user)
		return err
	})
	// Confirm all at once.
	parallel(func(i int) error {
		_, err := nodes[(i+1)%2].Confirm(ctx, all[i].c.ID, device, resultOf(fmt.Sprint(i)))
		return err
	})
	var wg sync.WaitGroup
	for i := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := drain(all[i].w)
			if err != nil {
				t.Errorf("session %d: %v", i, err)
				return
			}
			s, err := stateList(got, 1)
			if err != nil || !slices.Equal(s, full) || string(got[2].Result) != fmt.Sprintf(`{"v":"%d"}`, i) || all[i].w.Err() != nil {
				t.Errorf("session %d: %v %v (%v)", i, s, err, all[i].w.Err())
				return
			}
		}()
	}
	wg.Wait()
}
