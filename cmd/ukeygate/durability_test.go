package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/phone"
)

// TestKill9Durability: a few rounds of operators adding users and phones
// changing PINs against a real `ukeygate serve`, each round ended by kill
// -9 of the server in the middle of the load. After each restart every
// acknowledged user exists with its audit entry, every acknowledged PIN
// change holds (the PIN that works is the last acknowledged one, or the
// one a change in flight at the kill set), and audit verify passes.
// Bounded (3 rounds); it asserts outcomes, not timings.
func TestKill9Durability(t *testing.T) {
	t.Parallel()
	d := &drill{t: t, dir: initDataDir(t), token: "durability-admin-token-0123", revoked: map[string]string{}, issuer: map[string]string{}}
	d.serve()
	op := func() *operator.Client { return &operator.Client{BaseURL: d.base, Token: d.token} }
	// One enrolled phone whose PIN the load changes back and forth.
	var u operator.UserActivation
	d.admin("POST", "/v1/admin/users", map[string]string{"name": "王五"}, &u)
	p := newDrillPhone(t, d, u.ActivationCode)
	pins := [2]string{drillPIN, "246801"}
	cur := 0 // index of the PIN last acknowledged

	var acked []string // ids of acknowledged users
	for round := range 3 {
		var mu sync.Mutex
		var wg sync.WaitGroup
		stop := make(chan struct{})
		inFlight := false // a PIN change was sent and not answered at the kill
		for w := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := op()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					ctx, cancel := context.WithTimeout(context.Background(), guard)
					ua, err := c.AddUser(ctx, operator.UserRequest{Name: fmt.Sprintf("r%d w%d u%d", round, w, i)})
					cancel()
					if err != nil {
						return // the server is gone
					}
					mu.Lock()
					acked = append(acked, ua.ID)
					mu.Unlock()
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				inFlight = true
				from, to := pins[cur], pins[1-cur]
				mu.Unlock()
				ctx, cancel := context.WithTimeout(context.Background(), guard)
				err := p.ChangePIN(ctx, from, to)
				cancel()
				mu.Lock()
				if err == nil {
					cur, inFlight = 1-cur, false
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
		// Kill once the round has done some work.
		deadline := time.Now().Add(guard)
		for {
			mu.Lock()
			n := len(acked)
			mu.Unlock()
			if n >= 10*(round+1) || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err := d.proc.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-d.proc.exited
		close(stop)
		wg.Wait()

		d.serve()
		ctx := context.Background()
		users, err := op().Users(ctx)
		if err != nil {
			t.Fatal(err)
		}
		have := map[string]bool{}
		for _, u := range users {
			have[u.ID] = true
		}
		entries, err := op().AllAudit(ctx, operator.AuditFilter{Action: "user.add"})
		if err != nil {
			t.Fatal(err)
		}
		audited := map[string]bool{}
		for _, e := range entries {
			audited[e.UserID] = true
		}
		for _, id := range acked {
			if !have[id] || !audited[id] {
				t.Fatalf("round %d: acknowledged user %s lost (stored %v, audited %v)", round, id, have[id], audited[id])
			}
		}
		// The PIN: the last acknowledged one, or the next one if a change
		// was in flight at the kill and committed.
		if err := p.ChangePIN(ctx, pins[cur], pins[cur]+"0"); err != nil {
			if !inFlight {
				t.Fatalf("round %d: the last acknowledged PIN does not work: %v", round, err)
			}
			cur = 1 - cur
			if err := p.ChangePIN(ctx, pins[cur], pins[cur]+"0"); err != nil {
				t.Fatalf("round %d: neither PIN works: %v", round, err)
			}
		}
		// Back to pins[cur] for the next round.
		if err := p.ChangePIN(ctx, pins[cur]+"0", pins[cur]); err != nil {
			t.Fatal(err)
		}
		if _, err := op().VerifyAudit(ctx); err != nil {
			t.Fatalf("round %d: audit verify after kill -9: %v", round, err)
		}
		t.Logf("round %d: %d users acknowledged so far, all present", round, len(acked))
	}
	d.stop()
}

// newDrillPhone enrolls a phone with an activation code and drillPIN.
func newDrillPhone(t *testing.T, d *drill, code string) *phone.Client {
	t.Helper()
	p := &phone.Client{BaseURL: d.base, State: &phone.State{}, HTTP: &http.Client{Timeout: guard}}
	if _, err := p.Enroll(context.Background(), code, "durability phone", drillPIN); err != nil {
		t.Fatal(err)
	}
	d.phones = append(d.phones, p) // serve() re-points it after each restart
	return p
}
