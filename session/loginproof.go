package session

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"

	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/qrlogin"
)

// LoginProof tells whether a raw signature over data is a login of app
// appID (protocol.VerifyResponse.LoginSession): nil unless data is a login
// challenge that names appID; then whether data and signature are exactly
// the result of a completed login session of appID (while the session is
// kept). A raw signature over a login challenge cannot be told apart from
// one a sign session made over the same bytes (or their digest): only the
// session's own result proves a login.
func (s *Service) LoginProof(ctx context.Context, appID string, data, signature []byte) (*bool, error) {
	if len(signature) == 0 || len(data) == 0 {
		return nil, nil
	}
	ch, err := qrlogin.ParseChallenge(data)
	if err != nil || ch.App != appID {
		return nil, nil
	}
	no, yes := false, true
	if !ValidID(ch.Session) {
		return &no, nil
	}
	sess, err := s.GetForApp(ctx, ch.Session, appID)
	if errors.Is(err, ErrNotFound) {
		return &no, nil
	}
	if err != nil {
		return nil, err
	}
	if sess.Kind != KindLogin || sess.State != StateCompleted {
		return &no, nil
	}
	raw := sess.Result
	if len(raw) == 0 {
		// The result may be kept with the completed event only.
		evs, err := s.Events(ctx, sess.ID, 0)
		if err != nil {
			return nil, err
		}
		if i := slices.IndexFunc(evs, func(e Event) bool { return e.State == StateCompleted }); i >= 0 {
			raw = evs[i].Result
		}
	}
	var res protocol.LoginResult
	if len(raw) == 0 || json.Unmarshal(raw, &res) != nil {
		return &no, nil
	}
	if !bytes.Equal(res.Challenge, data) || !bytes.Equal(res.Signature, signature) {
		return &no, nil
	}
	return &yes, nil
}
