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
//
// A session-less event (v1.1) decodes into the same type: Type is then
// EventTypeCredentialExpiring, Session, Seq and State are empty, and
// CredentialExpiring is set (see CredentialExpiringEvent for the body as
// sent). A receiver switches on Type.
type WebhookEvent struct {
	// ID is the delivery id, also in HeaderWebhookDelivery.
	ID      string `json:"id"`
	App     string `json:"app"`
	Session string `json:"session"`
	Event
	// CredentialExpiring is set for a credential.expiring event.
	*CredentialExpiring
}

// EventTypeCredentialExpiring is the type of the session-less webhook
// event that reminds an app that a certificate of a user it has served
// ends soon (v1.1).
const EventTypeCredentialExpiring = "credential.expiring"

// CredentialExpiring is what a credential.expiring event says: a
// credential of User (the user id the app's login and certificate results
// carry) ends at NotAfter, DaysLeft days from the event (rounded up), and
// ReminderDays is the reminder (one of webhook.expiry_reminders) this
// event is: each app that has had a completed session with the user gets
// each reminder of each credential once. Nothing else about the user is
// in it.
type CredentialExpiring struct {
	Credential   string    `json:"credential"`
	User         string    `json:"user"`
	Issuer       string    `json:"issuer"`
	Purpose      string    `json:"purpose"`
	NotAfter     time.Time `json:"not_after"`
	DaysLeft     int       `json:"days_left"`
	ReminderDays int       `json:"reminder_days"`
}

// CredentialExpiringEvent is the body of a credential.expiring delivery as
// the gateway sends it: the delivery id, the app, Type
// (EventTypeCredentialExpiring), when the reminder was made, and the
// reminder. WebhookEvent decodes it as well.
type CredentialExpiringEvent struct {
	ID   string    `json:"id"`
	App  string    `json:"app"`
	Type string    `json:"type"`
	At   time.Time `json:"at"`
	CredentialExpiring
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

// Delivery is one delivery of one session event (or of one session-less
// event: Type), as GET /v1/webhook/deliveries lists it.
type Delivery struct {
	ID      string `json:"id"`
	Session string `json:"session"`
	Seq     int64  `json:"seq"`
	// Type is set for a session-less event (v1.1):
	// EventTypeCredentialExpiring, whose Session, Seq and EventState are
	// empty and Credential names the credential. Absent for the events of
	// a session.
	Type       string `json:"type,omitempty"`
	Credential string `json:"credential,omitempty"`
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
