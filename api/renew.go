package api

import (
	"net/http"

	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/ca"
	"github.com/ukeygate/ukeygate/protocol"
)

const actionCredentialRenew = "credential.renew"

// RenewRequest is the body of POST /v1/me/credentials/{id}/renew.
type RenewRequest protocol.RenewRequest

// Validate checks the request's shape.
func (q *RenewRequest) Validate() error {
	return firstError(required("pin", q.PIN), maxBytes("pin", q.PIN, maxPINLen))
}

// renewCredential renews one of the caller's active credentials: a new
// certificate for the same key or a new one (ca.RenewCredential); at an
// internal issuer the old one becomes superseded at once, at an external
// one when the successor's certificate is imported; then the seals bound
// to the old certificate are re-issued for the new one.
func (a *API) renewCredential(w http.ResponseWriter, r *http.Request) error {
	body, deviceID, userID, err := a.signedDevice(w, r)
	if err != nil {
		return err
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req RenewRequest
	if err := decodeBody(r.Header.Get("Content-Type"), body, &req); err != nil {
		return err
	}
	entry := audit.Entry{Action: actionCredentialRenew, Actor: actorDevice(deviceID), UserID: userID, CredentialID: id}
	ctx := a.audited(r.Context(), func(res any) audit.Entry {
		c := res.(*ca.Credential)
		e := entry
		e.IssuerID, e.Detail = c.IssuerID, renewDetail(c, req.NewKey)
		return e
	})
	c, err := a.ca.RenewCredential(ctx, userID, id, req.PIN, req.NewKey)
	if err != nil {
		a.auditRefusal(r.Context(), entry, err)
		return err
	}
	if c.State == ca.StateActive {
		// In effect now: the seals bound to the old certificate follow
		// (sealreissue.go) before the answer.
		a.reissueSeals(r.Context(), userID, id, reissueAfterRenew)
	}
	writeJSON(w, http.StatusCreated, protocol.Renewed{Credential: wireCredential(c)})
	return nil
}

// renewDetail is the audit detail of a renewal: the successor, its serial
// (or "pending" at an external issuer) and whether a new key was asked.
func renewDetail(c *ca.Credential, newKey bool) string {
	d := "renewed as " + c.ID
	if c.Serial != "" {
		d += " serial=" + c.Serial
	} else {
		d += " state=" + string(c.State)
	}
	if newKey {
		d += " new_key"
	}
	return d
}
