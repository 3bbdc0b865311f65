package webhook_test

import (
	"errors"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/portal"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/storage/storagetest"
	"github.com/ukeygate/ukeygate/webhook"
)

// A delivery that failed for good (its retry period over) is queued again
// on request as a new delivery of the same event; removing the webhook
// fails what is pending; a replaced webhook gets a new secret.
func TestFailRedeliverRemove(t *testing.T) {
	ctx := ctxFor(t)
	st := storagetest.MustOpen(t)
	var failing = true
	rc := newReceiver(t, nil)
	rc.plan = func(int, portal.WebhookEvent) string {
		if failing {
			return "500"
		}
		return "ok"
	}
	cfg := fastConfig()
	cfg.SingleNode = true
	cfg.RetryMax = 20 * time.Millisecond
	cfg.RetryFor = 20 * time.Millisecond // gives up at the first retry past 20 ms
	n := newNode(t, st, cfg)
	hook, err := n.hooks.Set(ctx, appID, rc.URL())
	if err != nil {
		t.Fatal(err)
	}
	rc.secret = hook.Secret
	n.hooks.Start()
	id := n.run(t, ctx)
	waitFor(t, "three failed deliveries", func() bool {
		list, _, _ := n.hooks.List(ctx, appID, "", 10)
		failed := 0
		for _, d := range list {
			if d.State == protocol.DeliveryFailed {
				failed++
			}
		}
		return failed == 3
	})
	list, _, _ := n.hooks.List(ctx, appID, "", 10)
	if list[0].Attempts < 1 || list[0].LastStatus != 500 || list[0].Session != id {
		t.Fatalf("failed delivery %+v", list[0])
	}
	rc.mu.Lock()
	failing = false
	rc.mu.Unlock()
	again, err := n.hooks.Redeliver(ctx, appID, list[2].ID)
	if err != nil || again.RedeliveryOf != list[2].ID || again.ID == list[2].ID || again.Seq != 3 {
		t.Fatalf("Redeliver: %+v, %v", again, err)
	}
	got := rc.waitAcked(t, 1)
	if got[0].ID != again.ID || got[0].Seq != 3 || got[0].State != protocol.StateCompleted || len(got[0].Result) == 0 {
		t.Fatalf("redelivered event %+v", got[0])
	}
	if _, err := n.hooks.Redeliver(ctx, appID, "0123456789ab-0123456789"); !errors.Is(err, webhook.ErrDeliveryNotFound) {
		t.Fatalf("unknown delivery: %v", err)
	}
	if _, err := n.hooks.Redeliver(ctx, "app_other", list[0].ID); !errors.Is(err, webhook.ErrDeliveryNotFound) {
		t.Fatalf("another app's delivery: %v", err)
	}

	// Replace: a new secret.
	h2, err := n.hooks.Set(ctx, appID, rc.URL())
	if err != nil || h2.Secret == hook.Secret || len(h2.Secret) < 32 {
		t.Fatalf("replace: %+v, %v", h2, err)
	}
	// Remove: pending deliveries fail, new events queue nothing.
	if _, err := n.hooks.Remove(ctx, appID); err != nil {
		t.Fatal(err)
	}
	if _, err := n.hooks.Remove(ctx, appID); !errors.Is(err, webhook.ErrNotFound) {
		t.Fatalf("second Remove: %v", err)
	}
	before, _, _ := n.hooks.List(ctx, appID, "", 100)
	n.run(t, ctx)
	after, _, _ := n.hooks.List(ctx, appID, "", 100)
	if len(after) != len(before) {
		t.Fatalf("events of an app without webhook were queued: %d then %d", len(before), len(after))
	}
}
