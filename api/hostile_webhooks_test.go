package api_test

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/config"
	"github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/server/servertest"
)

// TestWebhookRefusals: the operator's webhook registration and an app's
// delivery listing and redelivery refuse bad input, the wrong credentials
// and another app's delivery, each with its code and without a change;
// a disabled app gets no webhook.
func TestWebhookRefusals(t *testing.T) {
	t.Parallel()
	rs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	t.Cleanup(rs.Close)
	ts := servertest.Start(t, func(c *config.Config) { c.Webhook.AllowPrivate = true })
	w := &sxWorld{tsWorld: tsWorld{client: client{t: t, url: ts.URL}, ts: ts}}
	sw := seed.Make(t, ts.URL, ts.AdminToken, seed.Spec{
		Apps: []operator.AppRequest{{Name: "A", Origins: []string{sxOrigin}, Webhook: &protocol.WebhookRequest{URL: rs.URL + "/hook"}},
			{Name: "B", Origins: []string{sxOrigin2}}},
	})
	a, b := sw.Apps[0], sw.Apps[1]
	w.appKey = a.APIKey
	admin := map[string]string{"Authorization": "Bearer " + ts.AdminToken}
	asApp := func(key string) map[string]string { return map[string]string{"Authorization": "Bearer " + key} }
	st := ts.Server.Store()

	// A delivery of app A: its session's first event, delivered (so that
	// nothing changes in the background below).
	w.create(map[string]any{"kind": "login", "alg": "SM2"})
	var list protocol.DeliveryList
	for deadline := time.Now().Add(sxWaitGuard); len(list.Deliveries) == 0 || list.Deliveries[0].State != protocol.DeliveryDelivered; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no delivered delivery listed: %+v", list.Deliveries)
		}
		w.must(w.do("GET", "/v1/webhook/deliveries", nil, asApp(a.APIKey)), http.StatusOK).decode(t, &list)
	}
	del := list.Deliveries[0].ID
	hook := "/v1/admin/apps/" + a.ID + "/webhook"

	snap := storeSnapshot(t, st)
	for _, c := range []struct {
		name, method, path string
		body               any
		hdr                map[string]string
		status             int
		code               string
	}{
		{"set without a token", "PUT", hook, map[string]string{"url": rs.URL}, nil, http.StatusUnauthorized, protocol.CodeMissingToken},
		{"set with the app key", "PUT", hook, map[string]string{"url": rs.URL}, asApp(a.APIKey), http.StatusUnauthorized, protocol.CodeInvalidToken},
		{"set for an unknown app", "PUT", "/v1/admin/apps/app_nothere/webhook", map[string]string{"url": rs.URL}, admin, http.StatusNotFound, protocol.CodeAppNotFound},
		{"set for not an id", "PUT", "/v1/admin/apps/APP!/webhook", map[string]string{"url": rs.URL}, admin, http.StatusBadRequest, protocol.CodeInvalidRequest},
		{"set without a URL", "PUT", hook, map[string]string{}, admin, http.StatusBadRequest, protocol.CodeInvalidRequest},
		{"set an ftp URL", "PUT", hook, map[string]string{"url": "ftp://hooks.example.cn/x"}, admin, http.StatusBadRequest, protocol.CodeWebhookURL},
		{"set a URL with user info", "PUT", hook, map[string]string{"url": "https://u:p@hooks.example.cn/x"}, admin, http.StatusBadRequest, protocol.CodeWebhookURL},
		{"set a URL with port 0", "PUT", hook, map[string]string{"url": "https://hooks.example.cn:0/x"}, admin, http.StatusBadRequest, protocol.CodeWebhookURL},
		{"set with an unknown field", "PUT", hook, map[string]string{"url": rs.URL, "secret": "mine"}, admin, http.StatusBadRequest, protocol.CodeUnknownField},
		{"set with malformed JSON", "PUT", hook, rawBody(`{"url":`), admin, http.StatusBadRequest, protocol.CodeMalformedJSON},
		{"set by POST", "POST", hook, map[string]string{"url": rs.URL}, admin, http.StatusMethodNotAllowed, protocol.CodeMethodNotAllowed},
		{"B's webhook shown", "GET", "/v1/admin/apps/" + b.ID + "/webhook", nil, admin, http.StatusNotFound, protocol.CodeWebhookNotFound},
		{"B's webhook removed", "DELETE", "/v1/admin/apps/" + b.ID + "/webhook", nil, admin, http.StatusNotFound, protocol.CodeWebhookNotFound},
		{"A's delivery redelivered by B", "POST", "/v1/webhook/deliveries/" + del + "/redeliver", nil, asApp(b.APIKey), http.StatusNotFound, protocol.CodeDeliveryNotFound},
		{"not a delivery id", "POST", "/v1/webhook/deliveries/DLV!/redeliver", nil, asApp(a.APIKey), http.StatusNotFound, protocol.CodeDeliveryNotFound},
		{"redelivery with an unknown field", "POST", "/v1/webhook/deliveries/" + del + "/redeliver", map[string]string{"now": "1"}, asApp(a.APIKey), http.StatusBadRequest, protocol.CodeUnknownField},
		{"redelivery with the admin token", "POST", "/v1/webhook/deliveries/" + del + "/redeliver", nil, admin, http.StatusUnauthorized, protocol.CodeInvalidToken},
		{"deliveries with the admin token", "GET", "/v1/webhook/deliveries", nil, admin, http.StatusUnauthorized, protocol.CodeInvalidToken},
		{"deliveries after not an id", "GET", "/v1/webhook/deliveries?after=DLV!", nil, asApp(a.APIKey), http.StatusBadRequest, protocol.CodeInvalidCursor},
		{"deliveries limit 0", "GET", "/v1/webhook/deliveries?limit=0", nil, asApp(a.APIKey), http.StatusBadRequest, protocol.CodeInvalidRequest},
	} {
		if r := w.do(c.method, c.path, c.body, c.hdr); r.status != c.status || r.code != c.code {
			t.Errorf("%s: got %d %q, want %d %q: %s", c.name, r.status, r.code, c.status, c.code, r.body)
		}
	}
	if after := storeSnapshot(t, st); !maps.Equal(snap, after) {
		for k, v := range after {
			if snap[k] != v {
				t.Errorf("changed: %s", k)
			}
		}
		t.Fatal("a refused webhook call changed the store")
	}
	var bl protocol.DeliveryList
	w.must(w.do("GET", "/v1/webhook/deliveries", nil, asApp(b.APIKey)), http.StatusOK).decode(t, &bl)
	if len(bl.Deliveries) != 0 {
		t.Fatalf("B lists A's deliveries: %+v", bl.Deliveries)
	}

	// A disabled app gets no webhook (no secret), as it gets no new key.
	w.must(w.do("POST", "/v1/admin/apps/"+b.ID+"/disable", nil, admin), http.StatusOK)
	snap = storeSnapshot(t, st)
	w.refused(w.do("PUT", "/v1/admin/apps/"+b.ID+"/webhook", map[string]string{"url": rs.URL}, admin), http.StatusConflict, protocol.CodeAlreadyDisabled)
	if !maps.Equal(snap, storeSnapshot(t, st)) {
		t.Fatal("a webhook refused to a disabled app changed the store")
	}
}
