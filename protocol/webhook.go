package protocol

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"
)

// Webhooks (docs/protocol.md, "Webhooks"): the gateway POSTs every session
// event of an app to the app's webhook URL, signed with the app's webhook
// secret.

// The headers of a webhook delivery.
const (
	// HeaderWebhookDelivery is the delivery id (WebhookEvent.ID).
	HeaderWebhookDelivery = "X-Ukeygate-Delivery"
	// HeaderWebhookTimestamp is the time of the attempt, in unix seconds
	// (decimal).
	HeaderWebhookTimestamp = "X-Ukeygate-Timestamp"
	// HeaderWebhookSignature is "v1=" + hex(HMAC-SHA256(secret,
	// TIMESTAMP + "." + body)), the secret's bytes as given being the key.
	HeaderWebhookSignature = "X-Ukeygate-Signature"
	// WebhookSignaturePrefix starts the signature header's value.
	WebhookSignaturePrefix = "v1="
)

// WebhookEvent is the body of a webhook delivery: the session event the
// websocket carries (Event), plus the delivery id, the app and the
// session. A receiver may see one id more than once and must ignore the
// repeats.
type WebhookEvent struct {
	// ID is the delivery id, also in HeaderWebhookDelivery.
	ID      string `json:"id"`
	App     string `json:"app"`
	Session string `json:"session"`
	Event
}

// WebhookRequest is the body of PUT /v1/admin/apps/{id}/webhook, and the
// optional webhook of POST /v1/admin/apps.
type WebhookRequest struct {
	// URL is the absolute http(s) URL the deliveries are POSTed to.
	URL string `json:"url"`
}

// Webhook is an app's webhook. Secret is set only in the answer that
// registers it (PUT, or POST /v1/admin/apps with a webhook): it is shown
// once.
type Webhook struct {
	App       string    `json:"app"`
	URL       string    `json:"url"`
	Secret    string    `json:"secret,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// The states of a delivery.
const (
	// DeliveryPending: not acknowledged yet; it is tried again at NextTryAt.
	DeliveryPending = "pending"
	// DeliveryDelivered: a 2xx answer acknowledged it.
	DeliveryDelivered = "delivered"
	// DeliveryFailed: no 2xx answer within the retry period (or the app's
	// webhook was removed); a redelivery request queues it again.
	DeliveryFailed = "failed"
)

// Delivery is one delivery of one session event, as
// GET /v1/webhook/deliveries lists it.
type Delivery struct {
	ID      string `json:"id"`
	Session string `json:"session"`
	Seq     int64  `json:"seq"`
	// State is the event's state (waiting, scanned, completed…).
	EventState State `json:"event_state"`
	// State is DeliveryPending, DeliveryDelivered or DeliveryFailed.
	State    string `json:"state"`
	Attempts int    `json:"attempts"`
	// LastStatus is the HTTP status of the last answer (0: none, e.g. a
	// timeout or a refused connection; LastError says what happened).
	LastStatus  int       `json:"last_status,omitempty"`
	LastError   string    `json:"last_error,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	LastTryAt   time.Time `json:"last_try_at,omitzero"`
	NextTryAt   time.Time `json:"next_try_at,omitzero"`
	DeliveredAt time.Time `json:"delivered_at,omitzero"`
	// RedeliveryOf is the delivery this one repeats on request.
	RedeliveryOf string `json:"redelivery_of,omitempty"`
}

// DeliveryList answers GET /v1/webhook/deliveries?after=ID&limit=N: the
// app's deliveries after ID, oldest first. Next, when set, is the after=
// of the following page.
type DeliveryList struct {
	Deliveries []Delivery `json:"deliveries"`
	Next       string     `json:"next,omitempty"`
}

// The error codes of the webhook endpoints.
const (
	CodeWebhookNotFound  = "webhook_not_found"
	CodeDeliveryNotFound = "delivery_not_found"
	CodeWebhookURL       = "invalid_webhook_url"
	CodeWebhookTarget    = "webhook_target_not_allowed"
	CodeInvalidCursor    = "invalid_cursor"
)

// SignWebhook is the value of HeaderWebhookSignature for body sent at
// timestamp (unix seconds) with secret: "v1=" + hex(HMAC-SHA256(secret,
// TIMESTAMP + "." + body)), where TIMESTAMP is the decimal header value and
// the key is the secret's bytes as given.
func SignWebhook(secret string, timestamp int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(timestamp, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return WebhookSignaturePrefix + hex.EncodeToString(m.Sum(nil))
}
