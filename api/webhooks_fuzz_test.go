package api

import (
	"context"
	"errors"
	"testing"

	"github.com/ukeygate/ukeygate/storage/storagetest"
	"github.com/ukeygate/ukeygate/webhook"
)

// FuzzDecodeWebhookRequest: any body of PUT /v1/admin/apps/{id}/webhook
// (and of POST /v1/admin/apps with a webhook) decodes to a request or to
// an error with a stable code (never a panic, never "internal"); a
// request that validates is registered as it was given (private targets
// allowed here), and one that does not leaves no webhook behind.
func FuzzDecodeWebhookRequest(f *testing.F) {
	f.Add([]byte(`{"url":"https://bid.example.cn/ukeygate/webhook"}`))
	f.Add([]byte(`{"url":"http://127.0.0.1:8080/demo/webhook"}`))
	f.Add([]byte(`{"url":"ftp://x"}`))
	f.Add([]byte(`{"name":"p","origins":["https://a.example"],"webhook":{"url":"javascript:1"}}`))
	hooks, err := webhook.New(storagetest.MustOpen(f), func() webhook.Config {
		c := webhook.DefaultConfig()
		c.AllowPrivate = true
		return c
	}())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = hooks.Close() })
	mapped := func(t *testing.T, err error) {
		t.Helper()
		if _, code, ok := lookupError(err); !ok || code == CodeInternal {
			t.Fatalf("%v maps to %q", err, code)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ctx := context.Background()
		var app AppRequest
		if err := decodeBody("application/json", body, &app); err != nil {
			mapped(t, err)
		}
		var req WebhookRequest
		if err := decodeBody("application/json", body, &req); err != nil {
			if !errors.Is(err, ErrMalformedJSON) && !errors.Is(err, ErrUnknownField) &&
				!errors.Is(err, ErrInvalidRequest) && !errors.Is(err, webhook.ErrInvalidURL) {
				t.Fatalf("unexpected error %v", err)
			}
			mapped(t, err)
			return
		}
		h, err := hooks.Set(ctx, "app_fuzz", req.URL)
		if err != nil {
			mapped(t, err)
			if _, gerr := hooks.Get(ctx, "app_fuzz"); !errors.Is(gerr, webhook.ErrNotFound) {
				t.Fatalf("a refused webhook %q was stored (%v)", req.URL, gerr)
			}
			return
		}
		if got, err := hooks.Get(ctx, "app_fuzz"); err != nil || got.URL != h.URL || h.Secret == "" {
			t.Fatalf("registered %+v, read back %+v, %v", h, got, err)
		}
		if _, err := hooks.Remove(ctx, "app_fuzz"); err != nil {
			t.Fatal(err)
		}
	})
}
