package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/storage"
)

// Store is the part of storage.Store the package uses.
type Store interface {
	Get(ctx context.Context, key string) (storage.KV, error)
	List(ctx context.Context, prefix string) ([]storage.KV, int64, error)
	Txn(ctx context.Context, ops ...storage.Op) (int64, error)
	Watch(ctx context.Context, prefix string) (<-chan storage.Event, error)
}

// Storage layout (values are JSON but the body, which is the exact bytes
// sent):
//
//	webhooks/APP                              hookRecord: URL and secret
//	webhook-deliveries/APP/HOUR/ID            deliveryRecord
//	webhook-bodies/ID                         the body POSTed
//	webhook-pending/SESSION/%016d(SEQ)/ID     pendingRef, while pending
//	webhook-sender                            the sender lease (store TTL)
//	webhook-served/USER/APP                   servedRecord: APP had a
//	                                          completed session with USER
//	webhook-reminded/USER/CRED/DAYS/APP       remindedRecord: the reminder
//	                                          of CRED at DAYS went to APP
//
// A session-less event (credential.expiring) has no session: its pending
// entry's SESSION is its group, "expiring~CRED~APP" (no id holds "~"),
// so that the reminders of one credential reach one app in order, and
// its SEQ is 0.
//
// HOUR is the delivery's creation hour (%010d, unix seconds / 3600), so
// that a listing after a cursor starts at the cursor's hour. An ID is
// %012x of its creation in unix milliseconds, "-", 3 hex digits numbering
// the ids its node made in that millisecond and 7 random ones: ids sort by
// creation (on one node exactly, across nodes to the millisecond). The pending entries sort by session, then event:
// the sender sends the first of each session only.
//
// The store (package vault) seals every value at rest, the secrets and
// bodies (which hold results) included.
const (
	hooksPrefix      = "webhooks/"
	deliveriesPrefix = "webhook-deliveries/"
	bodiesPrefix     = "webhook-bodies/"
	pendingPrefix    = "webhook-pending/"
	leaseKey         = "webhook-sender"
	servedPrefix     = "webhook-served/"
	remindedPrefix   = "webhook-reminded/"
)

func servedKey(user, app string) string { return servedPrefix + user + "/" + app }

func remindedKey(user, cred string, days int, app string) string {
	return fmt.Sprintf("%s%s/%s/%d/%s", remindedPrefix, user, cred, days, app)
}

func expiringGroup(cred, app string) string { return "expiring~" + cred + "~" + app }

func hookKey(app string) string { return hooksPrefix + app }
func bodyKey(id string) string  { return bodiesPrefix + id }

func hourOf(t time.Time) int64 { return t.Unix() / 3600 }

func hourPrefix(app string, hour int64) string {
	return fmt.Sprintf("%s%s/%010d/", deliveriesPrefix, app, hour)
}

func deliveryKey(app, id string) (string, bool) {
	t, ok := idTime(id)
	if !ok {
		return "", false
	}
	return hourPrefix(app, hourOf(t)) + id, true
}

func pendingKey(session string, seq int64, id string) string {
	return fmt.Sprintf("%s%s/%016d/%s", pendingPrefix, session, seq, id)
}

// idTime is the creation time an id carries.
func idTime(id string) (time.Time, bool) {
	ms, rnd, ok := strings.Cut(id, "-")
	if !ok || len(ms) != 12 || len(rnd) != 10 || !isHex(ms) || !isHex(rnd) {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(ms, 16, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.UnixMilli(n).UTC(), true
}

func isHex(s string) bool {
	for _, c := range []byte(s) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// ValidDeliveryID reports whether id has the shape of a delivery id.
func ValidDeliveryID(id string) bool {
	_, ok := idTime(id)
	return ok
}

// hookRecord is what webhooks/APP holds.
type hookRecord struct {
	App       string    `json:"app"`
	URL       string    `json:"url"`
	Secret    string    `json:"secret"`
	CreatedAt time.Time `json:"created_at"`
}

// deliveryRecord is what webhook-deliveries/… holds. User and Group are
// set for a session-less event: the user it is about (whose account's
// deletion deletes it) and its pending entries' group.
type deliveryRecord struct {
	App   string `json:"app"`
	User  string `json:"user,omitempty"`
	Group string `json:"group,omitempty"`
	protocol.Delivery
}

// group is what orders rec's pending entry: its session, or its Group.
func (rec *deliveryRecord) group() string {
	if rec.Group != "" {
		return rec.Group
	}
	return rec.Session
}

// pendingKey is rec's pending entry.
func (rec *deliveryRecord) pendingKey() string { return pendingKey(rec.group(), rec.Seq, rec.ID) }

// servedRecord is what webhook-served/… holds.
type servedRecord struct {
	App  string    `json:"app"`
	User string    `json:"user"`
	At   time.Time `json:"at"`
}

// remindedRecord is what webhook-reminded/… holds.
type remindedRecord struct {
	App          string    `json:"app"`
	Credential   string    `json:"credential"`
	ReminderDays int       `json:"reminder_days"`
	Delivery     string    `json:"delivery"`
	At           time.Time `json:"at"`
}

// pendingRef is what webhook-pending/… holds.
type pendingRef struct {
	App       string    `json:"app"`
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	NextTryAt time.Time `json:"next_try_at"`
}

func decode[T any](kv storage.KV) (*T, error) {
	var v T
	if err := json.Unmarshal(kv.Value, &v); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrDamaged, kv.Key, err)
	}
	return &v, nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("webhook: encoding %T: %v", v, err))
	}
	return b
}
