package portal

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ukeygate/ukeygate/protocol"
)

// EventCredentialExpiring is the Type of the session-less reminder event
// (v1.1): WebhookEvent.CredentialExpiring says which certificate of which
// user ends when. Every other event is a session's (Type "state").
const EventCredentialExpiring = protocol.EventTypeCredentialExpiring

// CredentialExpiring is a credential.expiring event's reminder
// (protocol.CredentialExpiring).
type CredentialExpiring = protocol.CredentialExpiring

// WebhookEvent is the body of a webhook delivery (protocol.WebhookEvent):
// the session event plus the delivery id, the app and the session.
type WebhookEvent = protocol.WebhookEvent

// Webhook checks.
const (
	// DefaultWebhookWindow is how far X-Ukeygate-Timestamp may be from the
	// receiver's clock.
	DefaultWebhookWindow = 5 * time.Minute
	// MaxWebhookBody caps the body VerifyWebhook reads (a completed
	// event's result included).
	MaxWebhookBody = 4 << 20
)

// VerifyWebhook checks a webhook delivery the gateway POSTed to the
// portal with secret (the app's webhook secret): the signature
// X-Ukeygate-Signature over X-Ukeygate-Timestamp and the exact body
// (compared in constant time), a timestamp within DefaultWebhookWindow of
// now, and a body whose delivery id matches X-Ukeygate-Delivery. It
// reads r.Body (at most MaxWebhookBody) and returns the event. Errors
// wrap ErrWebhookInvalid. A receiver must still ignore an id it has
// already handled: a delivery can come more than once.
func VerifyWebhook(secret string, r *http.Request) (WebhookEvent, error) {
	return WebhookVerifier{Secret: secret}.Verify(r)
}

// WebhookVerifier is VerifyWebhook with its knobs.
type WebhookVerifier struct {
	Secret string
	// Window bounds the timestamp's distance from Now (0:
	// DefaultWebhookWindow).
	Window time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Verify checks r as VerifyWebhook does.
func (v WebhookVerifier) Verify(r *http.Request) (WebhookEvent, error) {
	if r == nil || r.Body == nil {
		return WebhookEvent{}, fmt.Errorf("%w: no request body", ErrWebhookMalformed)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxWebhookBody+1))
	if err != nil {
		return WebhookEvent{}, fmt.Errorf("%w: reading the body: %v", ErrWebhookMalformed, err)
	}
	if len(body) > MaxWebhookBody {
		return WebhookEvent{}, fmt.Errorf("%w: body over %d bytes", ErrWebhookMalformed, MaxWebhookBody)
	}
	return v.VerifyPayload(r.Header.Get(protocol.HeaderWebhookDelivery), r.Header.Get(protocol.HeaderWebhookTimestamp),
		r.Header.Get(protocol.HeaderWebhookSignature), body)
}

// VerifyPayload checks a delivery given its three headers and its body.
func (v WebhookVerifier) VerifyPayload(delivery, timestamp, signature string, body []byte) (WebhookEvent, error) {
	if v.Secret == "" {
		return WebhookEvent{}, fmt.Errorf("%w: empty webhook secret", ErrInvalidConfig)
	}
	if timestamp == "" || signature == "" || delivery == "" {
		return WebhookEvent{}, fmt.Errorf("%w: missing %s, %s or %s", ErrWebhookMalformed,
			protocol.HeaderWebhookDelivery, protocol.HeaderWebhookTimestamp, protocol.HeaderWebhookSignature)
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil || ts <= 0 || len(timestamp) > 12 {
		return WebhookEvent{}, fmt.Errorf("%w: timestamp %q is not unix seconds", ErrWebhookMalformed, timestamp)
	}
	// The signature first: nothing else of an unsigned request is trusted.
	want := protocol.SignWebhook(v.Secret, ts, body)
	ok := false
	for _, sig := range strings.Split(signature, ",") { // several when a secret is being replaced
		if hmac.Equal([]byte(strings.TrimSpace(sig)), []byte(want)) {
			ok = true
		}
	}
	if !ok {
		return WebhookEvent{}, ErrWebhookSignature
	}
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	window := v.Window
	if window <= 0 {
		window = DefaultWebhookWindow
	}
	if d := now.Sub(time.Unix(ts, 0)); d > window || d < -window {
		return WebhookEvent{}, fmt.Errorf("%w: signed %s from now (window %s)", ErrWebhookExpired, d.Round(time.Second), window)
	}
	var ev WebhookEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return WebhookEvent{}, fmt.Errorf("%w: body: %v", ErrWebhookMalformed, err)
	}
	if ev.ID != delivery || !wellFormed(&ev) {
		return WebhookEvent{}, fmt.Errorf("%w: the body is not the delivery its headers name", ErrWebhookMalformed)
	}
	return ev, nil
}

// wellFormed reports whether ev has what its type needs: a session event
// its session, seq and state; a credential.expiring event its credential,
// user and end, and no session.
func wellFormed(ev *WebhookEvent) bool {
	if ev.Type == EventCredentialExpiring {
		c := ev.CredentialExpiring
		return c != nil && ev.Session == "" && ev.Seq == 0 && ev.State == "" &&
			c.Credential != "" && c.User != "" && !c.NotAfter.IsZero() && c.ReminderDays > 0
	}
	return ev.CredentialExpiring == nil && ev.Session != "" && ev.Seq >= 1 && ev.State != ""
}

// Delivery is one webhook delivery as the gateway lists it
// (protocol.Delivery); DeliveryList is one page of them.
type (
	Delivery     = protocol.Delivery
	DeliveryList = protocol.DeliveryList
)

// Deliveries lists the app's webhook deliveries created after the
// delivery id after ("" from the oldest kept), oldest first, at most limit
// (0: the gateway's default) (GET /v1/webhook/deliveries). The answer's
// Next, when set, is the after of the next page.
func (c *Client) Deliveries(ctx context.Context, after string, limit int) (*DeliveryList, error) {
	q := url.Values{}
	if after != "" {
		q.Set("after", after)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	ref := "/v1/webhook/deliveries"
	if len(q) > 0 {
		ref += "?" + q.Encode()
	}
	var out DeliveryList
	if err := c.do(ctx, http.MethodGet, ref, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Redeliver asks for delivery id again
// (POST /v1/webhook/deliveries/{id}/redeliver): a pending one is tried at
// once, a finished one is queued again under a new id, which the answer
// carries.
func (c *Client) Redeliver(ctx context.Context, id string) (*Delivery, error) {
	if id == "" || strings.ContainsAny(id, "/?#") {
		return nil, fmt.Errorf("%w: delivery id %q", ErrInvalidArgument, id)
	}
	var d Delivery
	if err := c.do(ctx, http.MethodPost, "/v1/webhook/deliveries/"+url.PathEscape(id)+"/redeliver", nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}
