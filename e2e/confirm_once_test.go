package e2e

import (
	"context"
	"sync"
	"testing"

	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/portal"
)

// auditOf returns the audit entries of session id as "action outcome
// detail".
func auditOf(t *testing.T, w *world, id string) []string {
	t.Helper()
	var out []string
	for _, e := range auditEntries(t, w.ts) {
		if e.SessionID == id {
			out = append(out, e.Action+" "+e.Outcome+" "+e.Detail)
		}
	}
	return out
}

// TestConfirmOnce: four confirms of one session sent at once by the
// bound phone use the key once: exactly one completes the session, the
// audit log holds exactly one entry for it ("ok"), and every other one is
// refused before the key is touched — with confirm_in_progress while the
// first one runs (or session_closed once it has completed). Before the
// confirm claimed the session, each of the four unlocked and used the key
// and audited "ok". Rounds repeat (up to a bound) until a confirm was
// refused in progress, so that the code itself is seen over HTTP.
func TestConfirmOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cred := w.creds["SM2-sign"]
	const confirms, maxRounds = 4, 10
	inProgress := 0
	for round := 0; round < maxRounds && inProgress == 0; round++ {
		ctx, cancel := context.WithTimeout(context.Background(), flowTimeout)
		s, err := w.pc.CreateSession(ctx, portal.SessionRequest{Kind: portal.KindLogin, Origin: testOrigin,
			Display: portal.Display{Title: "登录", Summary: "four confirms at once"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.phone.Scan(ctx, s.QR.Payload); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, confirms)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = w.phone.Confirm(ctx, s.ID, cred.ID, testPIN, s.Code)
			}()
		}
		close(start)
		wg.Wait()
		cancel()

		completed := 0
		for i, err := range errs {
			switch code := phone.Code(err); {
			case err == nil:
				completed++
			case code == "confirm_in_progress":
				inProgress++
			case code == "session_closed":
			default:
				t.Fatalf("round %d, confirm %d: %v", round, i, err)
			}
		}
		entries := auditOf(t, w, s.ID)
		if completed != 1 || len(entries) != 1 || entries[0] != "login ok " {
			t.Fatalf("round %d: %d confirms completed; audit entries %q; want 1 and one \"login ok\"", round, completed, entries)
		}
		got, err := w.pc.GetSession(context.Background(), s.ID)
		if err != nil || got.State != portal.StateCompleted || len(got.Events) != 3 {
			t.Fatalf("round %d: %v %+v", round, err, got)
		}
	}
	t.Logf("%d confirms refused with confirm_in_progress", inProgress)
	if inProgress == 0 {
		t.Fatalf("no confirm was refused with confirm_in_progress in %d rounds of %d simultaneous confirms", maxRounds, confirms)
	}
}
