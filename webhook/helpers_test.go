package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/portal"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/session"
	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/webhook"
)

// guard bounds every wait: a failure guard, never an expectation.
const guard = 90 * time.Second

const (
	appID  = "app_hooks"
	origin = "https://bid.example.cn"
	device = "dev_1"
	user   = "user_1"
)

func ctxFor(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	t.Cleanup(cancel)
	return ctx
}

// fastConfig retries quickly (tests must not wait for production delays)
// and allows loopback receivers.
func fastConfig() webhook.Config {
	cfg := webhook.DefaultConfig()
	cfg.AllowPrivate = true
	// Generous: an answer slower than this is retried, so a too short
	// timeout would make duplicates on a loaded machine.
	cfg.Timeout = 15 * time.Second
	cfg.RetryMin = 10 * time.Millisecond
	cfg.RetryMax = 100 * time.Millisecond
	cfg.RetryFor = time.Hour
	cfg.LeaseTTL = 2 * time.Second
	cfg.PollInterval = 200 * time.Millisecond
	return cfg
}

var resultKey = func() []byte {
	k, err := gmcrypto.DeriveKey(bytes.Repeat([]byte{7}, gmcrypto.MinMasterKeyLen), session.ResultKeyPurpose, nil)
	if err != nil {
		panic(err)
	}
	return k
}()

// node is one gateway's session service with a webhook outbox.
type node struct {
	hooks *webhook.Service
	sess  *session.Service
}

func newNode(t testing.TB, st storage.Store, cfg webhook.Config) *node {
	t.Helper()
	h, err := webhook.New(st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	scfg := session.DefaultConfig()
	scfg.ResultKey = resultKey
	scfg.ExpiryInterval = time.Hour
	scfg.Outbox = h
	s, err := session.New(st, scfg)
	if err != nil {
		t.Fatal(err)
	}
	n := &node{hooks: h, sess: s}
	t.Cleanup(n.close)
	return n
}

func (n *node) close() {
	_ = n.sess.Close()
	_ = n.hooks.Close()
}

// run creates a login session and drives it through scan and a completed
// confirm: events waiting(1), scanned(2), completed(3, with a result).
func (n *node) run(t testing.TB, ctx context.Context) string {
	t.Helper()
	s, _, nonce, err := n.sess.Create(ctx, session.CreateParams{
		Kind: session.KindLogin, AppID: appID, Origin: origin,
		Request: session.Request{Display: session.Display{Title: "登录"}},
		Desktop: session.Desktop{IP: "203.0.113.7", UserAgent: "test"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.sess.Scan(ctx, s.ID, nonce, device, user); err != nil {
		t.Fatal(err)
	}
	if _, err := n.sess.Confirm(ctx, s.ID, device, func(*session.Session) (json.RawMessage, error) {
		return json.RawMessage(`{"user":"user_1","signature":"c2ln"}`), nil
	}); err != nil {
		t.Fatal(err)
	}
	return s.ID
}

// receiver is a webhook endpoint on loopback that verifies each delivery
// with portal.VerifyWebhook and answers by a plan: the answer to the n-th
// attempt (counted per delivery id) of event ev is plan(n, ev); "hang" holds the request
// until the sender gives up.
type receiver struct {
	t      testing.TB
	srv    *httptest.Server
	secret string
	plan   func(attempt int, ev portal.WebhookEvent) string
	// now, when set, is the clock the signatures' timestamps are checked
	// against (the senders' test clock).
	now func() time.Time

	mu       sync.Mutex
	attempts map[string]int
	acked    []portal.WebhookEvent // in the order acknowledged
	ackedBy  map[string]int        // acknowledgements per delivery id
	bad      []string
	changed  chan struct{}
}

func newReceiver(t testing.TB, plan func(int, portal.WebhookEvent) string) *receiver {
	rc := &receiver{t: t, plan: plan, attempts: map[string]int{}, ackedBy: map[string]int{}, changed: make(chan struct{}, 1)}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) URL() string { return rc.srv.URL + "/hook" }

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	secret, now := rc.secret, rc.now
	rc.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	ev, err := portal.WebhookVerifier{Secret: secret, Now: now}.Verify(r)
	rc.mu.Lock()
	if err != nil {
		rc.bad = append(rc.bad, err.Error())
		rc.mu.Unlock()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	rc.attempts[ev.ID]++
	n := rc.attempts[ev.ID]
	answer := "ok"
	if rc.plan != nil {
		answer = rc.plan(n, ev)
	}
	if answer == "ok" {
		rc.acked = append(rc.acked, ev)
		rc.ackedBy[ev.ID]++
	}
	rc.mu.Unlock()
	defer rc.signal()
	switch answer {
	case "ok":
		w.WriteHeader(http.StatusNoContent)
	case "500":
		http.Error(w, "try later", http.StatusInternalServerError)
	case "hang":
		<-r.Context().Done()
	}
}

func (rc *receiver) signal() {
	select {
	case rc.changed <- struct{}{}:
	default:
	}
}

// waitAcked waits until n deliveries are acknowledged.
func (rc *receiver) waitAcked(t testing.TB, n int) []portal.WebhookEvent {
	t.Helper()
	deadline := time.After(guard)
	for {
		rc.mu.Lock()
		got := append([]portal.WebhookEvent(nil), rc.acked...)
		bad := append([]string(nil), rc.bad...)
		rc.mu.Unlock()
		if len(bad) > 0 {
			t.Fatalf("deliveries refused by VerifyWebhook: %v", bad)
		}
		if len(got) >= n {
			return got
		}
		select {
		case <-rc.changed:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatalf("%d of %d deliveries acknowledged after %s", len(got), n, guard)
		}
	}
}

// waitFor polls cond until it holds (guarded).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(guard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting after %s: %s", guard, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pending reports how many deliveries of app are still pending.
func pending(t testing.TB, ctx context.Context, h *webhook.Service) int {
	t.Helper()
	list, _, err := h.List(ctx, appID, "", webhook.MaxListLimit)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range list {
		if d.State == protocol.DeliveryPending {
			n++
		}
	}
	return n
}
