package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"

	"github.com/ukeygate/ukeygate/qrlogin"
	"github.com/ukeygate/ukeygate/session"
)

// loginSession answers VerifyResponse.LoginSession for a request of app:
// nil unless req is a raw signature over a login challenge that names
// app; then whether data and signature are exactly the result of a
// completed login session of app. A raw signature over a login challenge
// cannot be told apart from one a sign session made over the same bytes
// (or their digest): only the session's own result proves a login.
func (a *API) loginSession(ctx context.Context, appID string, req *VerifyRequest) (*bool, error) {
	if len(req.Signature) == 0 || len(req.Data) == 0 || a.sessions == nil {
		return nil, nil
	}
	ch, err := qrlogin.ParseChallenge(req.Data)
	if err != nil || ch.App != appID {
		return nil, nil
	}
	no, yes := false, true
	if !session.ValidID(ch.Session) {
		return &no, nil
	}
	sess, err := a.sessions.GetForApp(ctx, ch.Session, appID)
	if errors.Is(err, session.ErrNotFound) {
		return &no, nil
	}
	if err != nil {
		return nil, err
	}
	if sess.Kind != session.KindLogin || sess.State != session.StateCompleted {
		return &no, nil
	}
	raw := sess.Result
	if len(raw) == 0 {
		// The result may be kept with the completed event only.
		evs, err := a.sessions.Events(ctx, sess.ID, 0)
		if err != nil {
			return nil, err
		}
		if i := slices.IndexFunc(evs, func(e session.Event) bool { return e.State == session.StateCompleted }); i >= 0 {
			raw = evs[i].Result
		}
	}
	var res qrlogin.LoginResult
	if len(raw) == 0 || json.Unmarshal(raw, &res) != nil {
		return &no, nil
	}
	if !bytes.Equal(res.Challenge, req.Data) || !bytes.Equal(res.Signature, req.Signature) {
		return &no, nil
	}
	return &yes, nil
}
