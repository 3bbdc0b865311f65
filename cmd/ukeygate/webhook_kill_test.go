package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/portal"
	"github.com/ukeygate/ukeygate/protocol"
)

// TestWebhookSurvivesKill9: a session event is stored and its delivery
// attempt is in flight (the receiver holds the request) when the gateway
// is killed with kill -9; after a restart on the same data, the delivery
// is sent again and acknowledged, followed by the session's next event.
func TestWebhookSurvivesKill9(t *testing.T) {
	t.Parallel()
	d := &drill{t: t, dir: initDataDir(t), token: "webhook-kill9-admin-token-01"}
	env := []string{"UKEYGATE_WEBHOOK_ALLOW_PRIVATE=true", "UKEYGATE_WEBHOOK_RETRY_MIN=100ms",
		"UKEYGATE_WEBHOOK_RETRY_MAX=500ms", "UKEYGATE_WEBHOOK_POLL_INTERVAL=200ms"}
	d.serve(env...)

	var mu sync.Mutex
	secret, hold := "", true
	held := make(chan string, 1)
	release := make(chan struct{})
	defer close(release)
	var acked []portal.WebhookEvent
	rs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ev, err := portal.VerifyWebhook(secret, r)
		if err != nil {
			mu.Unlock()
			t.Errorf("VerifyWebhook: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if hold {
			mu.Unlock()
			select {
			case held <- ev.ID:
			default:
			}
			select { // until the gateway dies (or the test ends)
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		acked = append(acked, ev)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rs.Close)

	var app struct {
		ID      string           `json:"id"`
		APIKey  string           `json:"api_key"`
		Webhook protocol.Webhook `json:"webhook"`
	}
	d.admin("POST", "/v1/admin/apps", map[string]any{"name": "kill -9 portal", "origins": []string{"https://bid.example.cn"},
		"webhook": map[string]string{"url": rs.URL + "/hook"}}, &app)
	mu.Lock()
	secret = app.Webhook.Secret
	mu.Unlock()
	pc := &portal.Client{BaseURL: d.base, AppKey: app.APIKey, Origin: "https://bid.example.cn"}
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	sess, err := pc.CreateSession(ctx, portal.SessionRequest{Kind: portal.KindLogin, Display: portal.Display{Title: "登录"}})
	if err != nil {
		t.Fatal(err)
	}
	var first string
	select {
	case first = <-held:
	case <-time.After(guard):
		t.Fatal("the first delivery never arrived")
	}
	if err := d.proc.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-d.proc.exited

	mu.Lock()
	hold = false
	mu.Unlock()
	d.serve(env...)
	pc.BaseURL = d.base
	if err := pc.CancelSession(ctx, sess.ID); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(guard)
	for {
		mu.Lock()
		got := append([]portal.WebhookEvent(nil), acked...)
		mu.Unlock()
		if len(got) >= 2 {
			if got[0].ID != first || got[0].Seq != 1 || got[0].Session != sess.ID ||
				got[1].Seq != 2 || got[1].State != protocol.StateCancelled || len(got) != 2 {
				t.Fatalf("after the restart: %+v (the held delivery was %s)", got, first)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart only %+v arrived\n%s", got, d.proc.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.stop()
}
