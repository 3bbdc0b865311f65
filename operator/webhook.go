package operator

import (
	"context"
	"net/http"

	"github.com/ukeygate/ukeygate/protocol"
)

// WebhookRequest is the body of PUT /v1/admin/apps/{id}/webhook.
type WebhookRequest = protocol.WebhookRequest

// Webhook is an app's webhook; Secret is set only in the answer that
// registers it.
type Webhook = protocol.Webhook

// SetWebhook registers or replaces app's webhook
// (PUT /v1/admin/apps/{id}/webhook); the answer holds the signing secret,
// shown only here.
func (c *Client) SetWebhook(ctx context.Context, app, url string) (*Webhook, error) {
	return c.webhook(ctx, http.MethodPut, app, &WebhookRequest{URL: url})
}

// Webhook shows app's webhook without its secret
// (GET /v1/admin/apps/{id}/webhook).
func (c *Client) Webhook(ctx context.Context, app string) (*Webhook, error) {
	return c.webhook(ctx, http.MethodGet, app, nil)
}

// RemoveWebhook removes app's webhook (DELETE /v1/admin/apps/{id}/webhook)
// and returns it.
func (c *Client) RemoveWebhook(ctx context.Context, app string) (*Webhook, error) {
	return c.webhook(ctx, http.MethodDelete, app, nil)
}

func (c *Client) webhook(ctx context.Context, method, app string, in any) (*Webhook, error) {
	path, err := idPath("/v1/admin/apps/", app, "/webhook")
	if err != nil {
		return nil, err
	}
	var h Webhook
	if _, err = c.Do(ctx, method, path, in, &h); err != nil {
		return nil, err
	}
	return &h, nil
}
