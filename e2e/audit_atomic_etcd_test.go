package e2e

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/config"
	"github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/internal/testkit"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/server/servertest"
)

// TestAuditAtomicWithEtcdStopped: PIN changes run while etcd is killed and
// started again. Each user alternates between two PINs, so the number of
// pin.change entries tells which PIN is current: for every user the
// entries number at least the acknowledged changes, their count agrees
// with the PIN that works at the end (an entry without its change, or a
// change without its entry, breaks the parity), and the audit log
// verifies.
func TestAuditAtomicWithEtcdStopped(t *testing.T) {
	t.Parallel()
	etcd := testkit.RunEtcd(t)
	ts := servertest.Start(t, servertest.WithEtcd(etcd.URL, "/"+t.Name()+"/"), func(c *config.Config) {
		c.Storage.Etcd.DialTimeout = 2 * time.Second
	})
	const users, pinA, pinB = 4, "135790", "246801"
	spec := seed.Spec{PIN: pinA}
	for i := range users {
		spec.Users = append(spec.Users, seed.User{Name: fmt.Sprintf("user %d", i)})
	}
	w := seed.Make(t, ts.URL, ts.AdminToken, spec)

	acked := make([]atomic.Int64, users)
	var failed atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i, u := range w.Users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cur, next := pinA, pinB
			for round := 0; round < 400; round++ {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				err := u.Phone.ChangePIN(ctx, cur, next)
				cancel()
				if err == nil {
					acked[i].Add(1)
					cur, next = next, cur
					continue
				}
				failed.Add(1)
				// A failed change may still have committed (the answer was
				// lost with etcd): find out which PIN is current by trying
				// the other way round once etcd answers again.
				time.Sleep(100 * time.Millisecond)
				ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
				if err2 := u.Phone.ChangePIN(ctx, next, cur); err2 == nil {
					acked[i].Add(1) // it had committed; we changed it back
					// cur stays the current PIN
				}
				cancel()
			}
		}()
	}
	// Let some changes through, kill etcd mid-workload, start it again.
	waitFor(t, func() bool {
		n := 0
		for i := range acked {
			n += int(acked[i].Load())
		}
		return n >= 20
	})
	etcd.Stop()
	// Keep etcd down until a change has failed against it: a fixed pause
	// is too short on a fast machine, where the client rides out a brief
	// outage by retrying and every change still succeeds.
	waitFor(t, func() bool { return failed.Load() > 0 })
	etcd.Restart(t)
	waitFor(t, func() bool {
		n := 0
		for i := range acked {
			n += int(acked[i].Load())
		}
		return n >= 60
	})
	close(stop)
	wg.Wait()

	if failed.Load() == 0 {
		t.Fatal("no PIN change failed while etcd was down: the outage was not exercised")
	}
	t.Logf("%d PIN changes failed during the outage", failed.Load())
	ctx := context.Background()
	for i, u := range w.Users {
		entries, err := w.Op.AllAudit(ctx, operator.AuditFilter{UserID: u.ID, Action: "pin.change"})
		if err != nil {
			t.Fatal(err)
		}
		ok := 0
		for _, e := range entries {
			if e.Outcome == "ok" {
				ok++
			}
		}
		if int64(ok) < acked[i].Load() {
			t.Fatalf("user %d: %d acknowledged PIN changes, %d pin.change entries", i, acked[i].Load(), ok)
		}
		current, other := pinA, pinB
		if ok%2 == 1 {
			current, other = pinB, pinA
		}
		if err := u.Phone.ChangePIN(ctx, current, other); err != nil {
			t.Fatalf("user %d: %d pin.change entries say the PIN is %s, but it does not work: %v", i, ok, current, err)
		}
	}
	if _, err := w.Op.VerifyAudit(ctx); err != nil {
		t.Fatalf("audit verify: %v", err)
	}
}

// waitFor polls cond until it holds (a failure guard, not a timing test).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within the guard")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
