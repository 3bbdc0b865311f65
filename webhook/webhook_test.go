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

// A receiver that answers 500, then hangs past the timeout, then accepts:
// every event is acknowledged exactly once, in order per session, after
// three attempts each, and nothing stays pending.
func TestDeliveryRetriesUntilAcknowledged(t *testing.T) {
	ctx := ctxFor(t)
	st := storagetest.MustOpen(t)
	cfg := fastConfig()
	cfg.SingleNode = true
	// The hang lasts this long (once per session: the first event's second
	// attempt; the other events get a second 500), and an answer slower
	// than this would be retried: generous.
	cfg.Timeout = 3 * time.Second
	n := newNode(t, st, cfg)
	rc := newReceiver(t, func(attempt int, ev portal.WebhookEvent) string {
		switch {
		case attempt == 1:
			return "500"
		case attempt == 2 && ev.Seq == 1:
			return "hang"
		case attempt == 2:
			return "500"
		}
		return "ok"
	})
	hook, err := n.hooks.Set(ctx, appID, rc.URL())
	if err != nil {
		t.Fatal(err)
	}
	rc.secret = hook.Secret
	n.hooks.Start()

	ids := []string{n.run(t, ctx), n.run(t, ctx)}
	got := rc.waitAcked(t, 6)
	waitFor(t, "the outbox to drain", func() bool { return pending(t, ctx, n.hooks) == 0 })

	seqs := map[string][]int64{}
	for _, ev := range got {
		seqs[ev.Session] = append(seqs[ev.Session], ev.Seq)
		if ev.App != appID || ev.Type != protocol.EventTypeState {
			t.Errorf("event %+v: wrong app or type", ev)
		}
		if ev.Seq == 3 && (ev.State != protocol.StateCompleted || string(ev.Result) != `{"user":"user_1","signature":"c2ln"}`) {
			t.Errorf("completed event %+v lacks its result", ev)
		}
	}
	for _, id := range ids {
		if s := seqs[id]; len(s) != 3 || s[0] != 1 || s[1] != 2 || s[2] != 3 {
			t.Errorf("session %s: acknowledged events %v, want [1 2 3] in order", id, s)
		}
	}
	rc.mu.Lock()
	for id, k := range rc.ackedBy {
		if k != 1 {
			t.Errorf("delivery %s acknowledged %d times", id, k)
		}
	}
	rc.mu.Unlock()
	list, more, err := n.hooks.List(ctx, appID, "", 100)
	if err != nil || more || len(list) != 6 {
		t.Fatalf("List: %d deliveries, more %v, %v", len(list), more, err)
	}
	for _, d := range list {
		if d.State != protocol.DeliveryDelivered || d.Attempts != 3 || d.LastStatus != 204 || d.DeliveredAt.IsZero() {
			t.Errorf("delivery %+v: want delivered after 3 attempts, last status 204", d)
		}
	}
	// Paging: after the first delivery, the five others.
	rest, _, err := n.hooks.List(ctx, appID, list[0].ID, 100)
	if err != nil || len(rest) != 5 || rest[0].ID != list[1].ID {
		t.Fatalf("List after %s: %d, %v", list[0].ID, len(rest), err)
	}
	if _, _, err := n.hooks.List(ctx, appID, "not-an-id", 10); !errors.Is(err, webhook.ErrInvalidCursor) {
		t.Fatalf("bad cursor: %v", err)
	}
}
