package audit

import (
	"context"
	"slices"

	"github.com/ukeygate/ukeygate/protocol"
)

// HistoryQuery asks for a page of one user's own history: the entries
// about UserID whose action is one of Actions, newest first, at most
// Limit of them, older than sequence Before when Before > 0.
type HistoryQuery struct {
	UserID  string
	Actions []string
	Limit   int
	Before  int64
}

// History answers a phone user's history page (GET /v1/me/history): only
// the user's own entries of the asked actions (for an organisation, also
// its staff's uses of its credentials through delegations; such entries
// carry OnBehalfOf and Delegate), each naming its app by
// appName (an app that is gone answers ""), a refusal's reason from the
// entry's detail, and NextBefore set when older entries remain. It never
// returns another user's entry.
func (l *Log) History(ctx context.Context, q HistoryQuery, appName func(ctx context.Context, appID string) string) (protocol.HistoryResponse, error) {
	all, err := l.List(ctx, Filter{Party: q.UserID})
	if err != nil {
		return protocol.HistoryResponse{}, err
	}
	out := protocol.HistoryResponse{Entries: []protocol.HistoryEntry{}}
	names := map[string]string{}
	for i := len(all) - 1; i >= 0; i-- {
		e := all[i]
		if (e.UserID != q.UserID && e.OnBehalfOf != q.UserID) || !slices.Contains(q.Actions, e.Action) || (q.Before > 0 && e.Seq >= q.Before) {
			continue
		}
		if len(out.Entries) == q.Limit {
			out.NextBefore = out.Entries[q.Limit-1].Seq
			break
		}
		h := protocol.HistoryEntry{
			Seq: e.Seq, Time: e.Time, Action: e.Action, Session: e.SessionID,
			Credential: e.CredentialID, Issuer: e.IssuerID, Digest: e.Digest, Outcome: e.Outcome,
		}
		if e.Outcome != OutcomeOK {
			h.Reason = e.Detail
		}
		if e.OnBehalfOf != "" {
			h.OnBehalfOf, h.Delegate = e.OnBehalfOf, e.UserID
		}
		if e.AppID != "" {
			name, ok := names[e.AppID]
			if !ok {
				name = appName(ctx, e.AppID)
				names[e.AppID] = name
			}
			h.App = &protocol.ScannedApp{ID: e.AppID, Name: name}
		}
		out.Entries = append(out.Entries, h)
	}
	return out, nil
}
