package session_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/session"
)

// The diagram of docs/protocol.md, written out independently of the package's
// table:
//
//	waiting --scan--> scanned --confirm--> completed
//	   |                 |--reject-->  rejected
//	   |                 |--op fails-> failed
//	   +--ttl/cancel--> expired / cancelled   (from waiting or scanned)
var designEdges = map[[2]session.State]bool{
	{"waiting", "scanned"}:   true,
	{"waiting", "expired"}:   true,
	{"waiting", "cancelled"}: true,
	{"scanned", "completed"}: true,
	{"scanned", "rejected"}:  true,
	{"scanned", "failed"}:    true,
	{"scanned", "expired"}:   true,
	{"scanned", "cancelled"}: true,
}

func TestTransitionTable(t *testing.T) {
	all := append([]session.State{"", "unknown"}, session.States...)
	if len(session.States) != 7 {
		t.Fatalf("States has %d entries, docs/protocol.md has 7", len(session.States))
	}
	for _, from := range all {
		for _, to := range all {
			want := designEdges[[2]session.State{from, to}]
			if got := session.CanTransition(from, to); got != want {
				t.Errorf("CanTransition(%q, %q) = %v, want %v", from, to, got, want)
			}
			err := session.CheckTransition(from, to)
			if want != (err == nil) {
				t.Errorf("CheckTransition(%q, %q) = %v", from, to, err)
			}
			if want {
				continue
			}
			var wantErr error
			switch {
			case from == "expired":
				wantErr = session.ErrExpired
			case from == "completed" || from == "rejected" || from == "failed" || from == "cancelled":
				wantErr = session.ErrSessionClosed
			case from == "waiting" && (to == "completed" || to == "rejected" || to == "failed"):
				wantErr = session.ErrNotScanned
			case from == "scanned" && to == "scanned":
				wantErr = session.ErrAlreadyScanned
			default:
				wantErr = session.ErrInvalidTransition
			}
			if !errors.Is(err, wantErr) {
				t.Errorf("CheckTransition(%q, %q) = %v, want %v", from, to, err, wantErr)
			}
		}
	}
	for _, s := range session.States {
		final := s != "waiting" && s != "scanned"
		if s.Final() != final {
			t.Errorf("%q.Final() = %v", s, s.Final())
		}
	}
	if session.State("").Final() || session.State("nope").Final() {
		t.Error("unknown states must not be final")
	}
	// The wire's Final (protocol.State) agrees with the transition table:
	// a state is final exactly when no transition leaves it.
	for _, s := range session.States {
		leaves := false
		for _, to := range session.States {
			leaves = leaves || session.CanTransition(s, to)
		}
		if s.Final() == leaves {
			t.Errorf("%q: Final() = %v, but a transition leaves it: %v", s, s.Final(), leaves)
		}
	}
}

// TestServiceTransitions drives every operation from every state through a
// real Service: the allowed ones move the state and append exactly one
// event; the others return their error and change nothing.
func TestServiceTransitions(t *testing.T) {
	e := newEnv(t)
	// prepare returns a session in state s, bound to device when scanned.
	prepare := func(t *testing.T, svc *session.Service, clk *clock, s session.State) created {
		ctx := e.ctx
		sess, token, nonce, err := svc.Create(ctx, loginParams())
		if err != nil {
			t.Fatal(err)
		}
		c := created{sess, token, nonce}
		switch s {
		case "waiting":
		case "expired":
			clk.Advance(c.ExpiresAt.Sub(clk.Now()))
			_, err = svc.ExpireDue(ctx)
		case "cancelled":
			_, err = svc.Cancel(ctx, c.ID, app)
		default:
			_, err = svc.Scan(ctx, c.ID, c.nonce, device, user)
			switch s {
			case "completed":
				_, err = svc.Confirm(ctx, c.ID, device, resultOf("x"))
			case "rejected":
				_, err = svc.Reject(ctx, c.ID, device)
			case "failed":
				_, err = svc.Fail(ctx, c.ID, device, "wrong_code")
			}
		}
		if err != nil {
			t.Fatalf("prepare %s: %v", s, err)
		}
		if got := e.get(t, c.ID).State; got != s {
			t.Fatalf("prepared %s, got %s", s, got)
		}
		return c
	}
	type op struct {
		name string
		do   func(svc *session.Service, clk *clock, c created) error
	}
	ops := []op{
		{"scan", func(svc *session.Service, _ *clock, c created) error {
			_, err := svc.Scan(e.ctx, c.ID, c.nonce, device, user)
			return err
		}},
		{"confirm", func(svc *session.Service, _ *clock, c created) error {
			_, err := svc.Confirm(e.ctx, c.ID, device, resultOf("y"))
			return err
		}},
		{"reject", func(svc *session.Service, _ *clock, c created) error {
			_, err := svc.Reject(e.ctx, c.ID, device)
			return err
		}},
		{"fail", func(svc *session.Service, _ *clock, c created) error {
			_, err := svc.Fail(e.ctx, c.ID, device, "credential_revoked")
			return err
		}},
		{"cancel", func(svc *session.Service, _ *clock, c created) error {
			_, err := svc.Cancel(e.ctx, c.ID, app)
			return err
		}},
		{"expire", func(svc *session.Service, clk *clock, c created) error {
			clk.Advance(c.ExpiresAt.Sub(clk.Now()) + time.Second)
			_, err := svc.ExpireDue(e.ctx)
			return err
		}},
	}
	// want[op][from]: the new state, or the error.
	closed, nonceUsed := session.ErrSessionClosed, session.ErrNonceUsed
	want := map[string]map[session.State]any{
		"scan":    {"waiting": session.StateScanned, "scanned": session.StateScanned /* the same device again: nothing to do */, "completed": nonceUsed, "rejected": nonceUsed, "failed": nonceUsed, "expired": session.ErrExpired, "cancelled": closed},
		"confirm": {"waiting": session.ErrNotScanned, "scanned": session.StateCompleted, "completed": closed, "rejected": closed, "failed": closed, "expired": session.ErrExpired, "cancelled": closed},
		"reject":  {"waiting": session.ErrNotScanned, "scanned": session.StateRejected, "completed": closed, "rejected": closed, "failed": closed, "expired": session.ErrExpired, "cancelled": closed},
		"fail":    {"waiting": session.ErrNotScanned, "scanned": session.StateFailed, "completed": closed, "rejected": closed, "failed": closed, "expired": session.ErrExpired, "cancelled": closed},
		"cancel":  {"waiting": session.StateCancelled, "scanned": session.StateCancelled, "completed": closed, "rejected": closed, "failed": closed, "expired": session.ErrExpired, "cancelled": closed},
		// expiry is not an error anywhere: it moves the open states and
		// leaves the others.
		"expire": {"waiting": session.StateExpired, "scanned": session.StateExpired, "completed": session.StateCompleted, "rejected": session.StateRejected, "failed": session.StateFailed, "expired": session.StateExpired, "cancelled": session.StateCancelled},
	}
	for _, o := range ops {
		for _, from := range session.States {
			t.Run(fmt.Sprintf("%s from %s", o.name, from), func(t *testing.T) {
				clk := newClock()
				cfg := testConfig(clk)
				svc := newService(t, e.st, cfg)
				c := prepare(t, svc, clk, from)
				before := e.get(t, c.ID)
				err := o.do(svc, clk, c)
				after := e.get(t, c.ID)
				switch w := want[o.name][from].(type) {
				case session.State:
					if err != nil {
						t.Fatalf("%s: %v", o.name, err)
					}
					if after.State != w {
						t.Fatalf("state %s, want %s", after.State, w)
					}
					wantSeq := before.Seq + 1
					if w == from {
						wantSeq = before.Seq // nothing to do
					}
					if after.Seq != wantSeq {
						t.Fatalf("seq %d, want %d", after.Seq, wantSeq)
					}
					evs := e.events(t, c.ID)
					states(t, evs, 1)
					if last := evs[len(evs)-1]; last.State != w || last.Seq != after.Seq {
						t.Fatalf("last event %+v, want %s", last, w)
					}
				case error:
					if !errors.Is(err, w) {
						t.Fatalf("%s = %v, want %v", o.name, err, w)
					}
					bj, _ := json.Marshal(before)
					aj, _ := json.Marshal(after)
					if string(bj) != string(aj) {
						t.Fatalf("a refused %s changed the session:\n%s\n%s", o.name, bj, aj)
					}
				}
			})
		}
	}
}
