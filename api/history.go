package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/protocol"
)

// A phone user's own history: GET /v1/me/history (device-signed) reads the
// audit log's entries about the device's user — key uses (login, sign,
// decrypt, seal) and the user's own account actions — newest first. It
// never shows another user's entries, nor operator actions.

// Paging of GET /v1/me/history.
const (
	DefaultHistoryLimit = 50
	MaxHistoryLimit     = 200
)

// historyActions are the audit actions a user sees in their history.
var historyActions = []string{
	"login", "sign", "decrypt", "seal",
	actionCredentialCreate, actionPINChange, actionDeviceEnroll,
	actionDelegationAccept, actionDelegationApprove,
}

// The answer's types live in package protocol.
type (
	HistoryResponse = protocol.HistoryResponse
	HistoryEntry    = protocol.HistoryEntry
)

// historyQuery reads ?limit=&before= .
func historyQuery(r *http.Request) (limit int, before int64, err error) {
	limit = DefaultHistoryLimit
	for k, v := range r.URL.Query() {
		if len(v) > 1 {
			return 0, 0, invalid(k, "given more than once")
		}
		switch k {
		case "limit":
			n, err := strconv.Atoi(v[0])
			if err != nil || n < 1 || n > MaxHistoryLimit {
				return 0, 0, invalid(k, "must be 1 to %d", MaxHistoryLimit)
			}
			limit = n
		case "before":
			n, err := strconv.ParseInt(v[0], 10, 64)
			if err != nil || n < 1 {
				return 0, 0, invalid(k, "must be a sequence number (1 or more)")
			}
			before = n
		default:
			return 0, 0, invalid(k, "unknown query parameter")
		}
	}
	return limit, before, nil
}

func (a *API) myHistory(w http.ResponseWriter, r *http.Request) error {
	_, userID, err := a.device(w, r)
	if err != nil {
		return err
	}
	limit, before, err := historyQuery(r)
	if err != nil {
		return err
	}
	if a.audit == nil {
		return ErrAuditUnavailable
	}
	out, err := a.audit.History(r.Context(), audit.HistoryQuery{UserID: userID, Actions: historyActions, Limit: limit, Before: before}, a.appName)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// appName is an app's display name, or "" when it is gone.
func (a *API) appName(ctx context.Context, id string) string {
	app, err := a.apps.Get(ctx, id)
	if err != nil {
		return ""
	}
	return app.Name
}
