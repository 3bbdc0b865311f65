package e2e

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/config"
	"github.com/ukeygate/ukeygate/portal"
	"github.com/ukeygate/ukeygate/server/servertest"
)

// TestSessionSettingsReachTheServer: session.retention and
// session.max_data_bytes of the configuration are the ones the running
// server applies: every key of a session expires from the store
// retention after the session's expiry time, and a request over
// max_data_bytes is refused (one at it is not).
func TestSessionSettingsReachTheServer(t *testing.T) {
	t.Parallel() // its own server
	const retention = 3 * time.Hour
	const maxData = 4096
	ts := servertest.Start(t, func(c *config.Config) {
		c.Session.Retention = retention
		c.Session.MaxDataBytes = maxData
	})
	app := addApp(t, ts, "portal")
	pc := &portal.Client{BaseURL: ts.URL, AppKey: app.APIKey, Origin: testOrigin}
	ctx := context.Background()

	s, err := pc.CreateSession(ctx, portal.SessionRequest{Kind: portal.KindSign, Origin: testOrigin, TTLSeconds: 60,
		Documents: []portal.Document{{Name: "a", Data: make([]byte, maxData)}}, Display: portal.Display{Title: "t"}})
	if err != nil {
		t.Fatalf("a request at max_data_bytes: %v", err)
	}
	kvs, _, err := ts.Server.Store().List(ctx, "sessions/"+s.ID)
	if err != nil || len(kvs) < 2 {
		t.Fatalf("the session's keys: %d, %v", len(kvs), err)
	}
	for _, kv := range kvs {
		// Store TTLs are whole seconds, rounded up.
		if d := kv.ExpiresAt.Sub(s.ExpiresAt); d < retention || d > retention+2*time.Second {
			t.Errorf("%s expires %s after the session, want session.retention %s", kv.Key, d, retention)
		}
	}

	_, err = pc.CreateSession(ctx, portal.SessionRequest{Kind: portal.KindSign, Origin: testOrigin,
		Documents: []portal.Document{{Name: "a", Data: make([]byte, maxData+1)}}, Display: portal.Display{Title: "t"}})
	var ae *portal.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusRequestEntityTooLarge || ae.Code != "request_too_large" {
		t.Fatalf("a request over max_data_bytes: %v, want 413 request_too_large", err)
	}
}
