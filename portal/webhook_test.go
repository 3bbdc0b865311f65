package portal_test

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/internal/testkit"
	"github.com/ukeygate/ukeygate/portal"
	"github.com/ukeygate/ukeygate/protocol"
)

const hookSecret = "whsec_0123456789abcdef0123456789abcdef"

const hookBody = `{"id":"018f0e3a1b2c-a1b2c3d4e5","app":"app_1","session":"s_1","seq":3,"type":"state","state":"completed","at":"2026-12-04T10:00:00Z","result":{"user":"u_1"}}`

func hookRequest(secret, id string, ts int64, body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(body))
	r.Header.Set(protocol.HeaderWebhookDelivery, id)
	r.Header.Set(protocol.HeaderWebhookTimestamp, strconv.FormatInt(ts, 10))
	r.Header.Set(protocol.HeaderWebhookSignature, protocol.SignWebhook(secret, ts, []byte(body)))
	return r
}

// The signature format checked against an independent HMAC (openssl dgst):
// hex(HMAC-SHA256(secret, TIMESTAMP + "." + body)).
func TestSignWebhookMatchesOpenSSL(t *testing.T) {
	t.Parallel()
	if !testkit.HaveOpenSSL(t) {
		return
	}
	dir := t.TempDir()
	const ts = 1796378400
	msg := strconv.Itoa(ts) + "." + hookBody
	if err := os.WriteFile(filepath.Join(dir, "msg"), []byte(msg), 0o600); err != nil {
		t.Fatal(err)
	}
	out := testkit.RunOpenSSL(t, dir, "dgst", "-sha256", "-hmac", hookSecret, "-r", "msg")
	want := "v1=" + strings.Fields(out)[0]
	if got := protocol.SignWebhook(hookSecret, ts, []byte(hookBody)); got != want {
		t.Fatalf("SignWebhook = %s, openssl says %s", got, want)
	}
}

func TestVerifyWebhook(t *testing.T) {
	t.Parallel()
	now := time.Now()
	id := "018f0e3a1b2c-a1b2c3d4e5"
	ev, err := portal.VerifyWebhook(hookSecret, hookRequest(hookSecret, id, now.Unix(), hookBody))
	if err != nil {
		t.Fatal(err)
	}
	if ev.ID != id || ev.Session != "s_1" || ev.Seq != 3 || ev.State != protocol.StateCompleted || string(ev.Result) != `{"user":"u_1"}` {
		t.Fatalf("event %+v", ev)
	}

	tampered := strings.Replace(hookBody, `"u_1"`, `"u_2"`, 1)
	for name, tc := range map[string]struct {
		r    *http.Request
		want error
	}{
		"wrong secret":   {hookRequest("whsec_other", id, now.Unix(), hookBody), portal.ErrWebhookSignature},
		"old timestamp":  {hookRequest(hookSecret, id, now.Add(-10*time.Minute).Unix(), hookBody), portal.ErrWebhookExpired},
		"future":         {hookRequest(hookSecret, id, now.Add(10*time.Minute).Unix(), hookBody), portal.ErrWebhookExpired},
		"other delivery": {hookRequest(hookSecret, "018f0e3a1b2c-ffffffffff", now.Unix(), hookBody), portal.ErrWebhookMalformed},
		"not an event":   {hookRequest(hookSecret, id, now.Unix(), `{"id":"`+id+`"}`), portal.ErrWebhookMalformed},
		"tampered body": {func() *http.Request {
			r := hookRequest(hookSecret, id, now.Unix(), hookBody)
			r.Body = httptestBody(tampered)
			return r
		}(), portal.ErrWebhookSignature},
		"timestamp moved": {func() *http.Request {
			r := hookRequest(hookSecret, id, now.Unix(), hookBody)
			r.Header.Set(protocol.HeaderWebhookTimestamp, strconv.FormatInt(now.Unix()+1, 10))
			return r
		}(), portal.ErrWebhookSignature},
		"no signature": {func() *http.Request {
			r := hookRequest(hookSecret, id, now.Unix(), hookBody)
			r.Header.Del(protocol.HeaderWebhookSignature)
			return r
		}(), portal.ErrWebhookMalformed},
		"bad timestamp": {func() *http.Request {
			r := hookRequest(hookSecret, id, now.Unix(), hookBody)
			r.Header.Set(protocol.HeaderWebhookTimestamp, "soon")
			return r
		}(), portal.ErrWebhookMalformed},
		"too large": {hookRequest(hookSecret, id, now.Unix(), strings.Repeat(" ", portal.MaxWebhookBody+1)), portal.ErrWebhookMalformed},
	} {
		_, err := portal.VerifyWebhook(hookSecret, tc.r)
		if !errors.Is(err, tc.want) || !errors.Is(err, portal.ErrWebhookInvalid) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	if _, err := portal.VerifyWebhook("", hookRequest(hookSecret, id, now.Unix(), hookBody)); !errors.Is(err, portal.ErrInvalidConfig) {
		t.Errorf("empty secret: %v", err)
	}
	// A window of one hour accepts a ten-minute-old delivery.
	v := portal.WebhookVerifier{Secret: hookSecret, Window: time.Hour}
	if _, err := v.Verify(hookRequest(hookSecret, id, now.Add(-10*time.Minute).Unix(), hookBody)); err != nil {
		t.Errorf("wider window: %v", err)
	}
}

func httptestBody(s string) *bytesReadCloser { return &bytesReadCloser{bytes.NewReader([]byte(s))} }

type bytesReadCloser struct{ *bytes.Reader }

func (bytesReadCloser) Close() error { return nil }

func FuzzVerifyWebhook(f *testing.F) {
	f.Add("018f0e3a1b2c-a1b2c3d4e5", "1796378400", "v1=00", []byte(hookBody))
	f.Add("", "", "", []byte("{}"))
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		v := portal.WebhookVerifier{Secret: hookSecret}
		ev, err := v.VerifyPayload(id, ts, sig, body)
		if err == nil {
			t.Fatalf("a forged delivery verified: %+v", ev)
		}
		if !errors.Is(err, portal.ErrWebhookInvalid) {
			t.Fatalf("error outside ErrWebhookInvalid: %v", err)
		}
	})
}

func ExampleVerifyWebhook() {
	http.HandleFunc("/ukeygate/webhook", func(w http.ResponseWriter, r *http.Request) {
		ev, err := portal.VerifyWebhook(os.Getenv("UKEYGATE_WEBHOOK_SECRET"), r)
		if err != nil {
			http.Error(w, "refused", http.StatusUnauthorized)
			return
		}
		// Ignore an ev.ID already handled; then act on ev.State / ev.Result.
		_ = ev
		w.WriteHeader(http.StatusNoContent)
	})
}
