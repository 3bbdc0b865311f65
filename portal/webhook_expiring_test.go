package portal_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/portal"
)

const expiringBody = `{"id":"018f0e3a1b2c-a1b2c3d4e6","app":"app_1","type":"credential.expiring","at":"2026-12-04T10:00:00Z",` +
	`"credential":"cred_1","user":"u_1","issuer":"sm2","purpose":"sign","not_after":"2027-01-03T10:00:00Z","days_left":30,"reminder_days":30}`

// A credential.expiring delivery decodes with its reminder; one that
// lacks what its type needs, or mixes in a session, is malformed.
func TestVerifyWebhookCredentialExpiring(t *testing.T) {
	t.Parallel()
	now := time.Now()
	id := "018f0e3a1b2c-a1b2c3d4e6"
	ev, err := portal.VerifyWebhook(hookSecret, hookRequest(hookSecret, id, now.Unix(), expiringBody))
	if err != nil {
		t.Fatal(err)
	}
	want := portal.CredentialExpiring{Credential: "cred_1", User: "u_1", Issuer: "sm2", Purpose: "sign",
		NotAfter: time.Date(2027, 1, 3, 10, 0, 0, 0, time.UTC), DaysLeft: 30, ReminderDays: 30}
	if ev.Type != portal.EventCredentialExpiring || ev.CredentialExpiring == nil || *ev.CredentialExpiring != want ||
		ev.Session != "" || ev.App != "app_1" || ev.ID != id {
		t.Fatalf("event %+v (%+v)", ev, ev.CredentialExpiring)
	}
	// A session event has no reminder.
	ev, err = portal.VerifyWebhook(hookSecret, hookRequest(hookSecret, "018f0e3a1b2c-a1b2c3d4e5", now.Unix(), hookBody))
	if err != nil || ev.CredentialExpiring != nil || ev.Type != "state" {
		t.Fatalf("session event %+v %v", ev, err)
	}
	for name, body := range map[string]string{
		"no credential":     strings.Replace(expiringBody, `"credential":"cred_1",`, ``, 1),
		"no user":           strings.Replace(expiringBody, `"user":"u_1",`, ``, 1),
		"no end":            strings.Replace(expiringBody, `"not_after":"2027-01-03T10:00:00Z",`, ``, 1),
		"no reminder":       strings.Replace(expiringBody, `,"reminder_days":30`, ``, 1),
		"with a session":    strings.Replace(expiringBody, `"app":"app_1",`, `"app":"app_1","session":"s_1",`, 1),
		"with a state":      strings.Replace(expiringBody, `"app":"app_1",`, `"app":"app_1","state":"completed","seq":3,`, 1),
		"state with remind": strings.Replace(hookBody, `"seq":3,`, `"seq":3,"credential":"cred_1",`, 1),
	} {
		bid := id
		if strings.Contains(body, `"s_1"`) && !strings.Contains(body, "credential.expiring") {
			bid = "018f0e3a1b2c-a1b2c3d4e5"
		}
		if _, err := portal.VerifyWebhook(hookSecret, hookRequest(hookSecret, bid, now.Unix(), body)); !errors.Is(err, portal.ErrWebhookMalformed) {
			t.Errorf("%s: %v, want ErrWebhookMalformed", name, err)
		}
	}
}
