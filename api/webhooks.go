package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/auth"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/webhook"
)

// Webhooks (docs/protocol.md, "Webhooks"): the operator registers an
// app's webhook; the app lists its deliveries and asks for one again.

// Audit actions of the webhook endpoints.
const (
	actionWebhookSet    = "app.webhook.set"
	actionWebhookRemove = "app.webhook.remove"
)

// ErrWebhooksUnavailable: the API was built without a webhook service.
var ErrWebhooksUnavailable = errors.New("api: webhooks unavailable")

// WebhookRequest is the body of PUT /v1/admin/apps/{id}/webhook
// (protocol.WebhookRequest).
type WebhookRequest protocol.WebhookRequest

// Validate checks the URL's shape (the target address is checked by the
// webhook service, which knows whether private ones are allowed).
func (q *WebhookRequest) Validate() error {
	if err := required("url", q.URL); err != nil {
		return err
	}
	if _, err := webhook.CheckURL(q.URL, true); err != nil {
		return &protocol.FieldError{Field: "url", Reason: err.Error(), Err: webhook.ErrInvalidURL}
	}
	return nil
}

func (a *API) webhooksReady() error {
	if a.webhooks == nil {
		return ErrWebhooksUnavailable
	}
	return nil
}

// adminSetWebhook registers or replaces an app's webhook; the answer holds
// the signing secret, shown only here.
func (a *API) adminSetWebhook(w http.ResponseWriter, r *http.Request) error {
	var req WebhookRequest
	id, err := a.adminPath(w, r, a.decode, &req)
	if err != nil {
		return err
	}
	if err := a.webhooksReady(); err != nil {
		return err
	}
	app, err := a.apps.Get(r.Context(), id)
	if err != nil {
		return err
	}
	if app.Disabled() {
		// Disabled for good: no new secret, as no new key.
		return fmt.Errorf("%w: %s: it gets no webhook", auth.ErrAppAlreadyDisabled, id)
	}
	h, err := a.setWebhook(r.Context(), id, req.URL)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

// setWebhook registers app's webhook with its audit entry.
func (a *API) setWebhook(ctx context.Context, app, url string) (*protocol.Webhook, error) {
	ctx = a.audited(ctx, func(res any) audit.Entry {
		return audit.Entry{Action: actionWebhookSet, Actor: actorAdmin, AppID: app, Detail: "url=" + res.(*protocol.Webhook).URL}
	})
	return a.webhooks.Set(ctx, app, url)
}

func (a *API) adminGetWebhook(w http.ResponseWriter, r *http.Request) error {
	id, err := a.adminPath(w, r, nil, nil)
	if err != nil {
		return err
	}
	if err := noQuery(r); err != nil {
		return err
	}
	if err := a.webhooksReady(); err != nil {
		return err
	}
	h, err := a.webhooks.Get(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

func (a *API) adminRemoveWebhook(w http.ResponseWriter, r *http.Request) error {
	id, err := a.adminPath(w, r, a.decodeOptional, &NoBodyRequest{})
	if err != nil {
		return err
	}
	if err := a.webhooksReady(); err != nil {
		return err
	}
	ctx := a.audited(r.Context(), func(any) audit.Entry {
		return audit.Entry{Action: actionWebhookRemove, Actor: actorAdmin, AppID: id}
	})
	h, err := a.webhooks.Remove(ctx, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

// Paging of GET /v1/webhook/deliveries.
const (
	defaultDeliveryPage = 100
)

// listDeliveries answers GET /v1/webhook/deliveries?after=ID&limit=N for
// the calling app.
func (a *API) listDeliveries(w http.ResponseWriter, r *http.Request) error {
	if err := a.webhooksReady(); err != nil {
		return err
	}
	app, err := a.portalApp(r)
	if err != nil {
		return err
	}
	q, err := queryParams(r, "after", "limit")
	if err != nil {
		return err
	}
	after := q.Get("after")
	if after != "" && !webhook.ValidDeliveryID(after) {
		return &protocol.FieldError{Field: "after", Reason: "not a delivery id", Err: webhook.ErrInvalidCursor}
	}
	limit := defaultDeliveryPage
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > webhook.MaxListLimit {
			return invalid("limit", "must be from 1 to %d", webhook.MaxListLimit)
		}
		limit = n
	}
	list, more, err := a.webhooks.List(r.Context(), app.ID, after, limit)
	if err != nil {
		return err
	}
	out := protocol.DeliveryList{Deliveries: list}
	if out.Deliveries == nil {
		out.Deliveries = []protocol.Delivery{}
	}
	if more && len(list) > 0 {
		out.Next = list[len(list)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// redeliver answers POST /v1/webhook/deliveries/{id}/redeliver.
func (a *API) redeliver(w http.ResponseWriter, r *http.Request) error {
	if err := a.webhooksReady(); err != nil {
		return err
	}
	app, err := a.portalApp(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	if !webhook.ValidDeliveryID(id) {
		return webhook.ErrDeliveryNotFound
	}
	var req NoBodyRequest
	if err := a.decodeOptional(w, r, &req); err != nil {
		return err
	}
	d, err := a.webhooks.Redeliver(r.Context(), app.ID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, d)
	return nil
}
