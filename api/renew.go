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
	if q.PIN == "" {
		return invalid("pin", "required")
	}
	if q.NewKey {
		return invalid("new_key", "not supported yet: a renewal keeps the key")
	}
	return nil
}

// renewCredential renews one of the caller's active credentials with a
// new certificate for the same key; the old one becomes superseded.
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
		e.IssuerID, e.Detail = c.IssuerID, "renewed as "+c.ID+" serial="+c.Serial
		return e
	})
	c, err := a.ca.RenewCredential(ctx, userID, id, req.PIN)
	if err != nil {
		a.auditRefusal(r.Context(), entry, err)
		return err
	}
	writeJSON(w, http.StatusCreated, protocol.Renewed{Credential: wireCredential(c)})
	return nil
}
