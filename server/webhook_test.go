package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/config"
	"github.com/ukeygate/ukeygate/portal"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/server/servertest"
)

const hookGuard = 60 * time.Second

// call sends a JSON request and returns the status and the body.
func call(t *testing.T, method, url, bearer string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

func errCode(raw []byte) string {
	var e protocol.ErrorEnvelope
	_ = json.Unmarshal(raw, &e)
	return e.Error.Code
}

// hookSink records the verified deliveries it acknowledges.
type hookSink struct {
	mu     sync.Mutex
	secret string
	got    []portal.WebhookEvent
	bad    int
}

func (h *hookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ev, err := portal.VerifyWebhook(h.secret, r)
	if err != nil {
		h.bad++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	h.got = append(h.got, ev)
	w.WriteHeader(http.StatusOK)
}

func (h *hookSink) events() []portal.WebhookEvent {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]portal.WebhookEvent(nil), h.got...)
}

// The webhook endpoints over real HTTP: registration with the app,
// deliveries of a session's events, the listing, a redelivery, and bad
// input answered with stable codes and no change.
func TestWebhookEndpoints(t *testing.T) {
	ts := servertest.Start(t, func(c *config.Config) {
		c.Webhook.RetryMin = 20 * time.Millisecond
		c.Webhook.RetryMax = 200 * time.Millisecond
		c.Webhook.PollInterval = 200 * time.Millisecond
	})
	sink := &hookSink{}
	rs := httptest.NewServer(sink)
	t.Cleanup(rs.Close)
	admin := ts.AdminToken

	// Bad input first: nothing may change.
	st, raw := call(t, "POST", ts.URL+"/v1/admin/apps", admin, map[string]any{"name": "bad", "webhook": map[string]string{"url": "ftp://x"}})
	if st != 400 || errCode(raw) != protocol.CodeWebhookURL {
		t.Fatalf("app with ftp webhook: %d %s", st, raw)
	}
	st, raw = call(t, "GET", ts.URL+"/v1/admin/apps", admin, nil)
	if st != 200 || strings.Contains(string(raw), `"bad"`) {
		t.Fatalf("a refused app was created: %s", raw)
	}

	st, raw = call(t, "POST", ts.URL+"/v1/admin/apps", admin, map[string]any{
		"name": "bid portal", "origins": []string{"https://bid.example.cn"}, "webhook": map[string]string{"url": rs.URL + "/hook"}})
	if st != 201 {
		t.Fatalf("add app: %d %s", st, raw)
	}
	var app struct {
		ID      string           `json:"id"`
		APIKey  string           `json:"api_key"`
		Webhook protocol.Webhook `json:"webhook"`
	}
	if err := json.Unmarshal(raw, &app); err != nil || app.Webhook.Secret == "" || app.Webhook.URL != rs.URL+"/hook" {
		t.Fatalf("app answer %s: %v", raw, err)
	}
	sink.mu.Lock()
	sink.secret = app.Webhook.Secret
	sink.mu.Unlock()
	hookURL := ts.URL + "/v1/admin/apps/" + app.ID + "/webhook"

	for _, tc := range []struct {
		method, url, bearer string
		body                any
		status              int
		code                string
	}{
		{"PUT", hookURL, admin, map[string]string{"url": "javascript:alert(1)"}, 400, protocol.CodeWebhookURL},
		{"PUT", hookURL, admin, map[string]string{"url": ""}, 400, protocol.CodeInvalidRequest},
		{"PUT", hookURL, admin, map[string]string{"url": "https://a.example/", "x": "y"}, 400, protocol.CodeUnknownField},
		{"PUT", hookURL, admin, `{"url":`, 400, protocol.CodeMalformedJSON},
		{"PUT", hookURL, "", map[string]string{"url": "https://a.example/"}, 401, protocol.CodeMissingToken},
		{"PUT", ts.URL + "/v1/admin/apps/no_such_app/webhook", admin, map[string]string{"url": "https://a.example/"}, 404, protocol.CodeAppNotFound},
		{"PUT", ts.URL + "/v1/admin/apps/BAD!/webhook", admin, map[string]string{"url": "https://a.example/"}, 400, protocol.CodeInvalidRequest},
		{"DELETE", ts.URL + "/v1/admin/apps/no_such_app/webhook", admin, nil, 404, protocol.CodeWebhookNotFound},
		{"GET", ts.URL + "/v1/webhook/deliveries?after=nope", app.APIKey, nil, 400, protocol.CodeInvalidCursor},
		{"GET", ts.URL + "/v1/webhook/deliveries?limit=0", app.APIKey, nil, 400, protocol.CodeInvalidRequest},
		{"GET", ts.URL + "/v1/webhook/deliveries?limit=9999", app.APIKey, nil, 400, protocol.CodeInvalidRequest},
		{"GET", ts.URL + "/v1/webhook/deliveries", "", nil, 401, protocol.CodeMissingToken},
		{"GET", ts.URL + "/v1/webhook/deliveries", "ukg_wrong", nil, 401, protocol.CodeInvalidToken},
		{"POST", ts.URL + "/v1/webhook/deliveries/xyz/redeliver", app.APIKey, nil, 404, protocol.CodeDeliveryNotFound},
		{"POST", ts.URL + "/v1/webhook/deliveries/0123456789ab-0123456789/redeliver", app.APIKey, nil, 404, protocol.CodeDeliveryNotFound},
	} {
		st, raw := call(t, tc.method, tc.url, tc.bearer, tc.body)
		if st != tc.status || errCode(raw) != tc.code {
			t.Errorf("%s %s %v: %d %s, want %d %s", tc.method, tc.url, tc.body, st, raw, tc.status, tc.code)
		}
	}
	st, raw = call(t, "GET", hookURL, admin, nil)
	var cur protocol.Webhook
	if st != 200 || json.Unmarshal(raw, &cur) != nil || cur.URL != rs.URL+"/hook" || cur.Secret != "" {
		t.Fatalf("webhook after refused changes: %d %s", st, raw)
	}

	// A session: created, then cancelled; both events reach the sink.
	pc := &portal.Client{BaseURL: ts.URL, AppKey: app.APIKey, Origin: "https://bid.example.cn"}
	ctx, cancel := context.WithTimeout(context.Background(), hookGuard)
	defer cancel()
	sess, err := pc.CreateSession(ctx, portal.SessionRequest{Kind: "login", Display: portal.Display{Title: "登录"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.CancelSession(ctx, sess.ID); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(hookGuard)
	for len(sink.events()) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("deliveries: %+v", sink.events())
		}
		time.Sleep(20 * time.Millisecond)
	}
	evs := sink.events()
	if evs[0].Session != sess.ID || evs[0].Seq != 1 || evs[0].State != protocol.StateWaiting ||
		evs[1].Seq != 2 || evs[1].State != protocol.StateCancelled || evs[0].App != app.ID {
		t.Fatalf("events %+v", evs)
	}

	var list protocol.DeliveryList
	deadline = time.Now().Add(hookGuard)
	for {
		st, raw = call(t, "GET", ts.URL+"/v1/webhook/deliveries", app.APIKey, nil)
		if st != 200 || json.Unmarshal(raw, &list) != nil {
			t.Fatalf("list: %d %s", st, raw)
		}
		if len(list.Deliveries) == 2 && list.Deliveries[1].State == protocol.DeliveryDelivered {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("list: %s", raw)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if d := list.Deliveries[0]; d.ID != evs[0].ID || d.Attempts != 1 || d.LastStatus != 200 {
		t.Fatalf("delivery %+v", d)
	}
	page, err := pc.Deliveries(ctx, "", 1)
	if err != nil || len(page.Deliveries) != 1 || page.Next != evs[0].ID {
		t.Fatalf("page 1: %+v, %v", page, err)
	}
	if page, err = pc.Deliveries(ctx, page.Next, 1); err != nil || len(page.Deliveries) != 1 || page.Next != "" || page.Deliveries[0].ID != evs[1].ID {
		t.Fatalf("page 2: %+v, %v", page, err)
	}
	again, err := pc.Redeliver(ctx, evs[1].ID)
	if err != nil || again.RedeliveryOf != evs[1].ID || again.State != protocol.DeliveryPending {
		t.Fatalf("redeliver: %+v, %v", again, err)
	}
	deadline = time.Now().Add(hookGuard)
	for len(sink.events()) < 3 {
		if time.Now().After(deadline) {
			t.Fatal("the redelivery did not arrive")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if ev := sink.events()[2]; ev.ID != again.ID || ev.Seq != 2 {
		t.Fatalf("redelivered %+v", ev)
	}

	// Metrics (the acknowledgement is recorded just after the answer).
	deadline = time.Now().Add(hookGuard)
	for {
		_, raw = call(t, "GET", ts.URL+"/metrics", "", nil)
		missing := ""
		for _, m := range []string{"ukeygate_webhook_deliveries_queued 0", "ukeygate_webhook_deliveries_delivered_total 3",
			"ukeygate_webhook_oldest_pending_age_seconds 0", "ukeygate_webhook_sender 1"} {
			if !strings.Contains(string(raw), m) {
				missing = m
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %q", missing)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Remove, then nothing is there.
	if st, raw = call(t, "DELETE", hookURL, admin, nil); st != 200 || !strings.Contains(string(raw), rs.URL) || strings.Contains(string(raw), "whsec_") {
		t.Fatalf("remove: %d %s", st, raw)
	}
	if st, raw = call(t, "GET", hookURL, admin, nil); st != 404 || errCode(raw) != protocol.CodeWebhookNotFound {
		t.Fatalf("after remove: %d %s", st, raw)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if sink.bad != 0 {
		t.Fatalf("%d deliveries failed VerifyWebhook", sink.bad)
	}
}

// Outside demo mode, without webhook.allow_private, loopback targets are
// refused at registration.
func TestWebhookPrivateTargetRefused(t *testing.T) {
	ts := servertest.Start(t, func(c *config.Config) { c.Demo = false })
	st, raw := call(t, "POST", ts.URL+"/v1/admin/apps", ts.AdminToken, map[string]any{"name": "p"})
	if st != 201 {
		t.Fatalf("%d %s", st, raw)
	}
	var app struct{ ID string }
	_ = json.Unmarshal(raw, &app)
	for _, u := range []string{"http://127.0.0.1:9/hook", "http://localhost:9/", "http://[::1]/", "http://10.0.0.8/", "http://169.254.169.254/"} {
		st, raw := call(t, "PUT", ts.URL+"/v1/admin/apps/"+app.ID+"/webhook", ts.AdminToken, map[string]string{"url": u})
		if st != 400 || errCode(raw) != protocol.CodeWebhookTarget {
			t.Errorf("PUT %s: %d %s", u, st, raw)
		}
	}
	st, raw = call(t, "POST", ts.URL+"/v1/admin/apps", ts.AdminToken, map[string]any{"name": "q", "webhook": map[string]string{"url": "http://127.0.0.1:9/"}})
	if st != 400 || errCode(raw) != protocol.CodeWebhookTarget {
		t.Errorf("POST app with a loopback webhook: %d %s", st, raw)
	}
}
