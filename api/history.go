package api

import (
	"net/http"
	"slices"
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
	all, err := a.audit.List(r.Context(), audit.Filter{UserID: userID})
	if err != nil {
		return err
	}
	out := HistoryResponse{Entries: []HistoryEntry{}}
	names := map[string]string{}
	for i := len(all) - 1; i >= 0; i-- {
		e := all[i]
		if e.UserID != userID || !slices.Contains(historyActions, e.Action) || (before > 0 && e.Seq >= before) {
			continue
		}
		if len(out.Entries) == limit {
			out.NextBefore = out.Entries[limit-1].Seq
			break
		}
		h := HistoryEntry{
			Seq: e.Seq, Time: e.Time, Action: e.Action, Session: e.SessionID,
			Credential: e.CredentialID, Issuer: e.IssuerID, Digest: e.Digest, Outcome: e.Outcome,
		}
		if e.Outcome != audit.OutcomeOK {
			h.Reason = e.Detail
		}
		if e.AppID != "" {
			name, ok := names[e.AppID]
			if !ok {
				if app, err := a.apps.Get(r.Context(), e.AppID); err == nil {
					name = app.Name
				}
				names[e.AppID] = name
			}
			h.App = &protocol.ScannedApp{ID: e.AppID, Name: name}
		}
		out.Entries = append(out.Entries, h)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
