package demo

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/ukeygate/ukeygate/portal"
)

// The demo's backend takes each session's result from its webhook, as a
// portal should (a closed browser tab must not lose a signed bid): the
// gateway POSTs every event of the demo app to Prefix + "/webhook", the
// demo checks it with portal.VerifyWebhook and keeps the final event of
// each session for a while. The browser only says "done" (the finish
// call names the session); the backend then uses the result the webhook
// brought. If the webhook has not brought it within Config.WebhookWait,
// the backend reads the session from the gateway instead (the fallback a
// portal keeps too) and logs it.

const (
	// demoHookKeep is how long a final event waits for its finish call.
	demoHookKeep = 30 * time.Minute
	// demoHookMax bounds the kept events.
	demoHookMax = 10000
)

// hookInbox holds the final events the webhook brought, by session.
type hookInbox struct {
	mu      sync.Mutex
	final   map[string]hookEvent
	arrived chan struct{} // closed and replaced at each arrival
}

type hookEvent struct {
	ev      portal.WebhookEvent
	created time.Time
}

func newHookInbox() *hookInbox {
	return &hookInbox{final: map[string]hookEvent{}, arrived: make(chan struct{})}
}

func (h *hookInbox) put(ev portal.WebhookEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, dup := h.final[ev.Session]; dup {
		return // a repeated delivery
	}
	now := time.Now()
	for id, e := range h.final {
		if now.Sub(e.created) > demoHookKeep {
			delete(h.final, id)
		}
	}
	limitMap(h.final, func(e hookEvent) time.Time { return e.created })
	if len(h.final) >= demoHookMax {
		return
	}
	h.final[ev.Session] = hookEvent{ev: ev, created: now}
	close(h.arrived)
	h.arrived = make(chan struct{})
}

// wait returns the final event of session id, waiting for it until ctx
// ends.
func (h *hookInbox) wait(ctx context.Context, id string) (portal.WebhookEvent, bool) {
	for {
		h.mu.Lock()
		e, ok := h.final[id]
		arrived := h.arrived
		h.mu.Unlock()
		if ok {
			return e.ev, true
		}
		select {
		case <-arrived:
		case <-ctx.Done():
			return portal.WebhookEvent{}, false
		}
	}
}

// get returns session id as its final webhook event describes it, if it
// has come (and removes it).
func (h *hookInbox) get(id string) (*portal.Session, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e, ok := h.final[id]
	if !ok {
		return nil, false
	}
	delete(h.final, id)
	return &portal.Session{ID: id, State: e.ev.State, Result: e.ev.Result}, true
}

// take removes session id's event.
func (h *hookInbox) take(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.final, id)
}

// webhook receives a delivery: verified with the secret, kept if final,
// acknowledged with 204; a delivery that does not verify is 401 (the
// gateway retries it, and it keeps failing: the operator sees it in the
// deliveries list).
func (d *demo) webhook(w http.ResponseWriter, r *http.Request) {
	if d.cfg.WebhookSecret == "" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		demoError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use POST")
		return
	}
	ev, err := portal.VerifyWebhook(d.cfg.WebhookSecret, r)
	if err != nil {
		d.cfg.Logger.Warn("demo: webhook delivery refused", "err", err)
		demoError(w, http.StatusUnauthorized, "webhook_invalid", "delivery refused")
		return
	}
	if ev.State.Final() {
		d.hooks.put(ev)
	}
	w.WriteHeader(http.StatusNoContent)
}

// resultFromWebhook is session id as its final webhook event describes it,
// waiting up to Config.WebhookWait; ok false when none came (or no
// webhook is configured).
func (d *demo) resultFromWebhook(ctx context.Context, id string) (*portal.Session, bool) {
	if d.cfg.WebhookSecret == "" {
		return nil, false
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.WebhookWait)
	defer cancel()
	ev, ok := d.hooks.wait(ctx, id)
	if !ok {
		d.cfg.Logger.Warn("demo: the webhook brought no result in time; reading the session from the gateway", "session", id)
		return nil, false
	}
	d.hooks.take(id)
	return &portal.Session{ID: id, State: ev.State, Result: ev.Result}, true
}
