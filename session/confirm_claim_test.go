package session_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/session"
)

// TestConfirmClaim: while one Confirm runs its operation, every other
// Confirm of the session is refused with ErrConfirmInProgress without
// running its own; the claim writes no event and leaves the session
// scanned; the holder then completes it.
func TestConfirmClaim(t *testing.T) {
	e := newEnv(t)
	c := e.scanned(t)
	inOp := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := e.svc.Confirm(e.ctx, c.ID, device, func(s *session.Session) (json.RawMessage, error) {
			close(inOp)
			<-release
			if err := e.svc.CheckConfirm(e.ctx, s, 64); err != nil {
				return nil, err
			}
			return json.RawMessage(`{"v":"first"}`), nil
		})
		done <- err
	}()
	select {
	case <-inOp:
	case <-time.After(deadline):
		t.Fatal("the first confirm never ran its operation")
	}
	for i := range 3 {
		_, err := e.svc.Confirm(e.ctx, c.ID, device, opNotRun(t))
		if !errors.Is(err, session.ErrConfirmInProgress) {
			t.Fatalf("concurrent confirm %d: %v, want ErrConfirmInProgress", i, err)
		}
	}
	// The claim is not a state: still scanned, still two events.
	if s := e.get(t, c.ID); s.State != session.StateScanned {
		t.Fatalf("state during the claim: %s", s.State)
	}
	if got := states(t, e.events(t, c.ID), 1); len(got) != 2 {
		t.Fatalf("events during the claim: %v", got)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("the claim holder: %v", err)
	}
	evs := e.events(t, c.ID)
	if got := states(t, evs, 1); len(got) != 3 || got[2] != session.StateCompleted || string(evs[2].Result) != `{"v":"first"}` {
		t.Fatalf("events %v, result %s", got, evs[2].Result)
	}
}

// TestConfirmClaimReleased: an operation that fails without a final error
// (a wrong PIN) releases the claim at once; the next Confirm runs.
func TestConfirmClaimReleased(t *testing.T) {
	e := newEnv(t)
	c := e.scanned(t)
	wrongPIN := errors.New("wrong PIN (test)")
	if _, err := e.svc.Confirm(e.ctx, c.ID, device, func(*session.Session) (json.RawMessage, error) {
		return nil, wrongPIN
	}); !errors.Is(err, wrongPIN) {
		t.Fatalf("first confirm: %v", err)
	}
	if _, err := e.svc.Confirm(e.ctx, c.ID, device, resultOf("second")); err != nil {
		t.Fatalf("confirm after a released claim: %v", err)
	}
}

// TestConfirmClaimLapses: the claim of a confirm that never finishes (its
// node died) lapses after ClaimTTL; another confirm then takes over, and
// the first one's result, if it ever comes, is discarded.
func TestConfirmClaimLapses(t *testing.T) {
	e := newEnv(t, func(c *session.Config) { c.TTL, c.MaxTTL = 10*time.Minute, 10*time.Minute })
	c := e.scanned(t)
	inOp := make(chan struct{})
	release := make(chan struct{})
	type outcome struct {
		check, confirm error
	}
	done := make(chan outcome, 1)
	go func() {
		var o outcome
		_, o.confirm = e.svc.Confirm(e.ctx, c.ID, device, func(s *session.Session) (json.RawMessage, error) {
			close(inOp)
			<-release
			o.check = e.svc.CheckConfirm(e.ctx, s, 64)
			return json.RawMessage(`{"v":"stale"}`), nil // ignores the check: Confirm must still refuse
		})
		done <- o
	}()
	<-inOp
	if _, err := e.svc.Confirm(e.ctx, c.ID, device, opNotRun(t)); !errors.Is(err, session.ErrConfirmInProgress) {
		t.Fatalf("before the lapse: %v", err)
	}
	e.clock.Advance(session.ClaimTTL + time.Second)
	if _, err := e.svc.Confirm(e.ctx, c.ID, device, resultOf("fresh")); err != nil {
		t.Fatalf("after the lapse: %v", err)
	}
	close(release)
	o := <-done
	if !errors.Is(o.check, session.ErrSessionClosed) || !errors.Is(o.confirm, session.ErrSessionClosed) {
		t.Fatalf("the lapsed confirm: CheckConfirm %v, Confirm %v; want ErrSessionClosed", o.check, o.confirm)
	}
	if evs := e.events(t, c.ID); string(evs[len(evs)-1].Result) != `{"v":"fresh"}` {
		t.Fatalf("result %s", evs[len(evs)-1].Result)
	}
}

// TestCheckConfirm: right before the key is used, a session cancelled or
// expired while the confirm ran is reported, and Confirm then neither
// completes it nor counts it as confirmed.
func TestCheckConfirm(t *testing.T) {
	for _, tc := range []struct {
		name   string
		during func(e *env, id string)
		want   error
	}{
		{"cancelled", func(e *env, id string) {
			if _, err := e.svc.Cancel(e.ctx, id, app); err != nil {
				t.Fatal(err)
			}
		}, session.ErrSessionClosed},
		{"expired", func(e *env, id string) {
			e.clock.Advance(session.DefaultConfig().TTL + time.Second)
		}, session.ErrExpired},
		{"expired and swept", func(e *env, id string) {
			e.clock.Advance(session.DefaultConfig().TTL + time.Second)
			if _, err := e.svc.ExpireDue(e.ctx); err != nil {
				t.Fatal(err)
			}
		}, session.ErrExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			c := e.scanned(t)
			used := false
			_, err := e.svc.Confirm(e.ctx, c.ID, device, func(s *session.Session) (json.RawMessage, error) {
				if err := e.svc.CheckConfirm(e.ctx, s, 64); err != nil {
					t.Fatalf("CheckConfirm before the change: %v", err)
				}
				tc.during(e, c.ID)
				if err := e.svc.CheckConfirm(e.ctx, s, 64); err != nil {
					return nil, err
				}
				used = true
				return json.RawMessage(`{}`), nil
			})
			if !errors.Is(err, tc.want) || used {
				t.Fatalf("Confirm: %v (key used: %v), want %v", err, used, tc.want)
			}
			if got := e.events(t, c.ID); got[len(got)-1].State == session.StateCompleted {
				t.Fatalf("completed: %+v", got)
			}
		})
	}

	e := newEnv(t)
	if err := e.svc.CheckConfirm(e.ctx, e.get(t, e.scanned(t).ID), 0); !errors.Is(err, session.ErrInvalidArgument) {
		t.Fatalf("CheckConfirm outside Confirm: %v", err)
	}
}

// opNotRun is an operation that must not run.
func opNotRun(t *testing.T) func(*session.Session) (json.RawMessage, error) {
	return func(*session.Session) (json.RawMessage, error) {
		t.Error("the operation ran")
		return nil, errors.New("must not run")
	}
}
