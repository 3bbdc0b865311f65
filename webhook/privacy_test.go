package webhook_test

import (
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/storage/storagetest"
)

// TestForgetSessions: an erased user's sessions lose their deliveries,
// bodies and outbox references; another session's stay. (No sender runs:
// the deliveries are all pending.)
func TestForgetSessions(t *testing.T) {
	ctx := ctxFor(t)
	st := storagetest.MustOpen(t)
	n := newNode(t, st, fastConfig())
	if _, err := n.hooks.Set(ctx, appID, "https://hooks.example.cn/ukeygate"); err != nil {
		t.Fatal(err)
	}
	gone, kept := n.run(t, ctx), n.run(t, ctx)
	if got, err := n.hooks.ForgetSessions(ctx, nil); err != nil || got != 0 {
		t.Fatalf("ForgetSessions(nil) = %d, %v", got, err)
	}
	got, err := n.hooks.ForgetSessions(ctx, []string{gone})
	if err != nil || got != 3 {
		t.Fatalf("ForgetSessions = %d, %v; want the session's 3 deliveries", got, err)
	}
	list, _, err := n.hooks.List(ctx, appID, "", 10)
	if err != nil || len(list) != 3 {
		t.Fatalf("deliveries left: %+v %v", list, err)
	}
	for _, d := range list {
		if d.Session != kept {
			t.Fatalf("delivery of %s left", d.Session)
		}
	}
	kvs, _, err := st.List(ctx, "webhook-")
	if err != nil {
		t.Fatal(err)
	}
	bodies := 0
	for _, kv := range kvs {
		if strings.Contains(kv.Key, gone) || strings.Contains(string(kv.Value), gone) {
			t.Fatalf("%s still names the forgotten session", kv.Key)
		}
		if strings.HasPrefix(kv.Key, "webhook-bodies/") {
			bodies++
		}
	}
	if bodies != 3 {
		t.Fatalf("%d bodies left, want the other session's 3", bodies)
	}
	if got, err := n.hooks.ForgetSessions(ctx, []string{gone}); err != nil || got != 0 {
		t.Fatalf("again: %d, %v", got, err)
	}
}
