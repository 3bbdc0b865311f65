package session_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/session"
)

// A waiting client's re-poll is answered from the hub's memory, and what
// it remembers follows the session: the token is still checked, every
// event still arrives, and an ended session is read from the store again.
func TestCheckWatchKnown(t *testing.T) {
	e := newEnv(t)
	c := e.create(t, loginParams())
	if _, err := e.svc.Poll(e.ctx, c.ID, 0, 0); err != nil { // starts the hub
		t.Fatal(err)
	}
	waitHubOpen(t, e.svc)
	for _, tc := range []struct{ id, token string }{{c.ID, "wrong"}, {c.ID, ""}, {"nope", c.token}, {c.ID + "x", c.token}} {
		if _, err := e.svc.CheckWatch(e.ctx, tc.id, tc.token); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("CheckWatch(%q, %q) = %v, want ErrNotFound", tc.id, tc.token, err)
		}
	}
	ref, err := e.svc.CheckWatch(e.ctx, c.ID, c.token)
	if err != nil || ref.ID != c.ID || ref.AppID != app || ref.Last != 1 {
		t.Fatalf("CheckWatch = %+v, %v", ref, err)
	}
	if last, ok := session.Known(e.svc, c.ID); !ok || last != 1 {
		t.Fatalf("after a read the hub knows %v (last %d)", ok, last)
	}
	// From memory now: the token is still checked.
	if _, err := e.svc.CheckWatch(e.ctx, c.ID, c.token+"x"); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("a wrong token on a known session: %v", err)
	}
	// A parked poll gets the scan; the hub's memory follows it.
	got := make(chan []session.Event, 1)
	go func() {
		evs, err := e.svc.Poll(e.ctx, c.ID, 1, deadline)
		if err != nil {
			t.Error(err)
		}
		got <- evs
	}()
	if _, err := e.svc.Scan(e.ctx, c.ID, c.nonce, device, user); err != nil {
		t.Fatal(err)
	}
	if evs := <-got; len(evs) != 1 || evs[0].Seq != 2 || evs[0].State != session.StateScanned {
		t.Fatalf("parked poll got %+v", evs)
	}
	waitFor(t, "the hub to see the scan", func() bool { last, ok := session.Known(e.svc, c.ID); return ok && last == 2 })
	if ref, err := e.svc.CheckWatch(e.ctx, c.ID, c.token); err != nil || ref.Last != 2 {
		t.Fatalf("CheckWatch after the scan = %+v, %v", ref, err)
	}
	// A poll that is behind still gets the stored events.
	if evs, err := e.svc.Poll(e.ctx, c.ID, 0, 0); err != nil || len(evs) != 2 {
		t.Fatalf("Poll after 0 = %d events, %v", len(evs), err)
	}
	// Nothing new: an empty answer.
	if evs, err := e.svc.Poll(e.ctx, c.ID, 2, 10*time.Millisecond); err != nil || evs == nil || len(evs) != 0 {
		t.Fatalf("Poll after 2 = %+v, %v", evs, err)
	}
	if _, err := e.svc.Confirm(e.ctx, c.ID, device, resultOf("r")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the hub to forget the ended session", func() bool { _, ok := session.Known(e.svc, c.ID); return !ok })
	evs, err := e.svc.Poll(e.ctx, c.ID, 2, deadline)
	if err != nil || len(evs) != 1 || evs[0].State != session.StateCompleted {
		t.Fatalf("Poll after the confirm = %+v, %v", evs, err)
	}
	if _, ok := session.Known(e.svc, c.ID); ok {
		t.Fatal("an ended session became known again")
	}
}

// BenchmarkParkedPoll is the server-side cost of one long-poll re-poll of
// a waiting session the hub knows (check the token, park, time out, with
// nothing listed from the store); allocs/op is what each re-poll leaves
// for the GC.
func BenchmarkParkedPoll(b *testing.B) {
	e := newEnv(b)
	c := e.create(b, loginParams())
	ctx := context.Background()
	if _, err := e.svc.Poll(ctx, c.ID, 0, 0); err != nil {
		b.Fatal(err)
	}
	<-session.HubOpen(e.svc)
	if _, err := e.svc.CheckWatch(ctx, c.ID, c.token); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		ref, err := e.svc.CheckWatch(ctx, c.ID, c.token)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.svc.Poll(ctx, ref.ID, ref.Last, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFanOut is the cost of one event's delivery to many parked
// followers of one session (the hub's dispatch: one pending slot each,
// then each follower's Next).
func BenchmarkFanOut(b *testing.B) {
	e := newEnv(b)
	const followers = 1000
	c0 := e.create(b, loginParams())
	if _, err := e.svc.Poll(e.ctx, c0.ID, 0, 0); err != nil { // starts the hub
		b.Fatal(err)
	}
	<-session.HubOpen(e.svc)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		c := e.create(b, loginParams())
		woke := make([]chan struct{}, followers)
		fs := make([]*session.Follower, followers)
		for i := range fs {
			ch := make(chan struct{}, 1)
			woke[i] = ch
			f, err := e.svc.Follow(e.ctx, c.ID, 0, func() {
				select {
				case ch <- struct{}{}:
				default:
				}
			})
			if err != nil {
				b.Fatal(err)
			}
			if evs, _, err := f.Next(e.ctx); err != nil || len(evs) != 1 {
				b.Fatal(len(evs), err)
			}
			fs[i] = f
		}
		b.StartTimer()
		if _, err := e.svc.Scan(e.ctx, c.ID, c.nonce, device, user); err != nil {
			b.Fatal(err)
		}
		for i, f := range fs {
			for {
				evs, _, err := f.Next(e.ctx)
				if err != nil {
					b.Fatal(err)
				}
				if len(evs) == 1 {
					break
				}
				<-woke[i]
			}
		}
		b.StopTimer()
		for _, f := range fs {
			f.Close()
		}
		b.StartTimer()
	}
}

// ForgetUnwatched drops what the hub remembers of the sessions nobody
// follows, keeps the followed ones, and a forgotten session is read from
// the store again (and remembered) on its client's next request.
func TestForgetUnwatched(t *testing.T) {
	e := newEnv(t)
	a, b := e.create(t, loginParams()), e.create(t, loginParams())
	if _, err := e.svc.Poll(e.ctx, a.ID, 0, 0); err != nil { // starts the hub
		t.Fatal(err)
	}
	waitHubOpen(t, e.svc)
	for _, c := range []created{a, b} {
		if _, err := e.svc.CheckWatch(e.ctx, c.ID, c.token); err != nil {
			t.Fatal(err)
		}
	}
	f, err := e.svc.Follow(e.ctx, b.ID, 1, func() {})
	if err != nil {
		t.Fatal(err)
	}
	if n, peak := e.svc.Waiting(); n != 1 || peak != 1 {
		t.Fatalf("Waiting = %d, %d with one follower, want 1, 1", n, peak)
	}
	if n := e.svc.ForgetUnwatched(); n != 1 {
		t.Fatalf("ForgetUnwatched = %d, want 1 (the unfollowed session)", n)
	}
	if _, ok := session.Known(e.svc, a.ID); ok {
		t.Error("the unfollowed session is still known")
	}
	if last, ok := session.Known(e.svc, b.ID); !ok || last != 1 {
		t.Errorf("the followed session: known %v (last %d), want known at 1", ok, last)
	}
	if ref, err := e.svc.CheckWatch(e.ctx, a.ID, a.token); err != nil || ref.Last != 1 || ref.AppID != app {
		t.Fatalf("CheckWatch of the forgotten session = %+v, %v", ref, err)
	}
	if _, ok := session.Known(e.svc, a.ID); !ok {
		t.Error("the forgotten session was not remembered again")
	}
	if _, err := e.svc.CheckWatch(e.ctx, a.ID, b.token); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("another session's token: %v, want ErrNotFound", err)
	}
	f.Close()
	if n, peak := e.svc.Waiting(); n != 0 || peak != 1 {
		t.Fatalf("Waiting = %d, %d after the follower closed, want 0 now and the peak 1 since the last look", n, peak)
	}
	if n, peak := e.svc.Waiting(); n != 0 || peak != 0 {
		t.Fatalf("Waiting = %d, %d looked at again, want 0, 0", n, peak)
	}
	if n := e.svc.ForgetUnwatched(); n != 2 {
		t.Fatalf("ForgetUnwatched = %d, want 2", n)
	}
}

// A session this node creates is known at once (its portal's first watch
// request needs no store read); the token is still checked, and a session
// another node created is read from the store first.
func TestCreatedSessionKnown(t *testing.T) {
	e := newEnvHubOpen(t)
	c := e.create(t, loginParams())
	if last, ok := session.Known(e.svc, c.ID); !ok || last != 1 {
		t.Fatalf("a session just created here: known %v (last %d), want known at 1", ok, last)
	}
	if _, err := e.svc.CheckWatch(e.ctx, c.ID, c.token+"x"); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("a wrong token on a session created here: %v", err)
	}
	if ref, err := e.svc.CheckWatch(e.ctx, c.ID, c.token); err != nil || ref.Last != 1 || ref.AppID != app {
		t.Fatalf("CheckWatch = %+v, %v", ref, err)
	}
	// The memory follows the session's events (the store watch).
	if _, err := e.svc.Scan(e.ctx, c.ID, c.nonce, device, user); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the hub to see the scan", func() bool { last, ok := session.Known(e.svc, c.ID); return ok && last == 2 })

	other := newService(t, e.st, testConfig(e.clock)) // another node
	s, _, _, err := other.Create(e.ctx, loginParams())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := session.Known(e.svc, s.ID); ok {
		t.Fatal("a session created on another node is known here before any read")
	}
}

// FollowKnown follows a session from the hub's memory alone, only when
// everything matches (session, app, token hash, after = the last seq),
// and the follower then hears the next event.
func TestFollowKnown(t *testing.T) {
	e := newEnv(t)
	c := e.create(t, loginParams())
	hash := gmcrypto.SM3([]byte(c.token))
	if _, ok := e.svc.FollowKnown(c.ID, hash, app, 1, nil); ok {
		t.Fatal("followed a session the hub does not know yet")
	}
	if _, err := e.svc.Poll(e.ctx, c.ID, 0, 0); err != nil { // starts the hub
		t.Fatal(err)
	}
	waitHubOpen(t, e.svc)
	if _, err := e.svc.CheckWatch(e.ctx, c.ID, c.token); err != nil { // the hub learns it
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, id, app string
		hash          []byte
		after         int64
	}{
		{"wrong token", c.ID, app, gmcrypto.SM3([]byte(c.token + "x")), 1},
		{"no token", c.ID, app, nil, 1},
		{"other app", c.ID, "app_other", hash, 1},
		{"behind", c.ID, app, hash, 0},
		{"ahead", c.ID, app, hash, 2},
		{"unknown session", c.ID + "x", app, hash, 1},
	} {
		if f, ok := e.svc.FollowKnown(tc.id, tc.hash, tc.app, tc.after, nil); ok {
			f.Close()
			t.Fatalf("%s: followed", tc.name)
		}
	}
	notified := make(chan struct{}, 1)
	f, ok := e.svc.FollowKnown(c.ID, hash, app, 1, func() {
		select {
		case notified <- struct{}{}:
		default:
		}
	})
	if !ok {
		t.Fatal("FollowKnown refused a known session with its token")
	}
	defer f.Close()
	if _, err := e.svc.Scan(e.ctx, c.ID, c.nonce, device, user); err != nil {
		t.Fatal(err)
	}
	select {
	case <-notified:
	case <-time.After(deadline):
		t.Fatal("no notify for the scan")
	}
	evs, done, err := f.Next(e.ctx)
	if err != nil || done || len(evs) != 1 || evs[0].Seq != 2 || evs[0].State != session.StateScanned {
		t.Fatalf("Next = %+v, %v, %v", evs, done, err)
	}
}

// The portal's first watch request on a session made here gets its first
// event from the hub's memory, exactly as the store holds it (another
// node, which does not know the session, reads it); once the session has
// moved on, the events come from the store again.
func TestFirstEventFromMemory(t *testing.T) {
	e := newEnvHubOpen(t)
	c := e.create(t, loginParams())
	if !session.KnownFirst(e.svc, c.ID) {
		t.Fatal("the first event of a session made here is not remembered")
	}
	other := newService(t, e.st, testConfig(e.clock)) // reads the store
	first := func(svc *session.Service) []session.Event {
		t.Helper()
		f, err := svc.Follow(e.ctx, c.ID, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		evs, _, err := f.Next(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}
	mem, stored := first(e.svc), first(other)
	if len(mem) != 1 || !reflect.DeepEqual(mem, stored) {
		t.Fatalf("from memory %+v, from the store %+v", mem, stored)
	}
	if _, err := e.svc.Scan(e.ctx, c.ID, c.nonce, device, user); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the hub to see the scan", func() bool { last, ok := session.Known(e.svc, c.ID); return ok && last == 2 })
	if session.KnownFirst(e.svc, c.ID) {
		t.Fatal("the first event is still answered from memory after the scan")
	}
	if evs := first(e.svc); len(evs) != 2 || evs[1].State != session.StateScanned {
		t.Fatalf("after the scan: %+v", evs)
	}
}

// newEnvHubOpen is newEnv with the session hub started (a first poll) and
// its store watch open, so that what this node creates is known at once.
func newEnvHubOpen(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	warm := e.create(t, loginParams())
	if _, err := e.svc.Poll(e.ctx, warm.ID, 0, 0); err != nil { // starts the hub
		t.Fatal(err)
	}
	waitHubOpen(t, e.svc)
	return e
}
