package api

import (
	"net/http"
	"time"

	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/ca"
	"github.com/ukeygate/ukeygate/protocol"
)

// Delegations of organisations' credentials to their staff: the
// operator's grant, list and revoke; the delegate's acceptance and the
// organisation's approval from their phones (ca/delegation.go holds the
// key scheme).

// Audit actions of delegations. A key use through a delegation is audited
// as the session's kind with on_behalf_of and delegation set.
const (
	actionDelegationAdd     = "delegation.add"
	actionDelegationRevoke  = "delegation.revoke"
	actionDelegationAccept  = "delegation.accept"
	actionDelegationApprove = "delegation.approve"
)

// DelegationRequest is the body of POST /v1/admin/users/{id}/delegations
// (protocol.DelegationRequest).
type DelegationRequest protocol.DelegationRequest

// Validate checks the request with the CA's rules (the organisation is
// the path's, checked by AddDelegation).
func (q *DelegationRequest) Validate() error {
	r := q.caRequest("")
	return r.Validate()
}

func (q *DelegationRequest) caRequest(org string) ca.DelegationRequest {
	return ca.DelegationRequest{OrgID: org, DelegateID: q.User, CredentialID: q.Credential,
		Kinds: q.Kinds, Apps: q.Apps, NotAfter: q.NotAfter}
}

// DelegationPINRequest is the body of POST /v1/me/delegations/{id}/accept
// and …/approve (protocol.DelegationPINRequest).
type DelegationPINRequest protocol.DelegationPINRequest

// Validate checks the request's shape.
func (q *DelegationPINRequest) Validate() error {
	return firstError(required("pin", q.PIN), maxBytes("pin", q.PIN, maxPINLen))
}

func delegationEntry(action, actor string, d *ca.Delegation) audit.Entry {
	return audit.Entry{Action: action, Actor: actor, UserID: d.User, OnBehalfOf: d.Organization,
		CredentialID: d.Credential, Delegation: d.ID,
		Detail: "not_after=" + d.NotAfter.UTC().Format(time.RFC3339)}
}

func (a *API) adminAddDelegation(w http.ResponseWriter, r *http.Request) error {
	var req DelegationRequest
	org, err := a.adminPath(w, r, a.decode, &req)
	if err != nil {
		return err
	}
	ctx := a.audited(r.Context(), func(res any) audit.Entry {
		return delegationEntry(actionDelegationAdd, actorAdmin, res.(*ca.Delegation))
	})
	d, err := a.ca.AddDelegation(ctx, req.caRequest(org))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, d)
	return nil
}

func (a *API) adminListDelegations(w http.ResponseWriter, r *http.Request) error {
	org, err := a.adminPath(w, r, nil, nil)
	if err != nil {
		return err
	}
	if err := noQuery(r); err != nil {
		return err
	}
	list, err := a.ca.Delegations(r.Context(), org)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, delegationList(list))
	return nil
}

func delegationList(list []*ca.Delegation) protocol.DelegationList {
	out := protocol.DelegationList{Delegations: make([]protocol.Delegation, 0, len(list))}
	for _, d := range list {
		out.Delegations = append(out.Delegations, *d)
	}
	return out
}

func (a *API) adminRevokeDelegation(w http.ResponseWriter, r *http.Request) error {
	org, err := a.adminPath(w, r, a.decodeOptional, &NoBodyRequest{})
	if err != nil {
		return err
	}
	id := r.PathValue("delegation")
	if !ca.ValidID(id) {
		return invalid("delegation", "not an id")
	}
	ctx := a.audited(r.Context(), func(res any) audit.Entry {
		return delegationEntry(actionDelegationRevoke, actorAdmin, res.(*ca.Delegation))
	})
	d, err := a.ca.RevokeDelegation(ctx, org, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (a *API) myDelegations(w http.ResponseWriter, r *http.Request) error {
	_, _, userID, err := a.signedDevice(w, r)
	if err != nil {
		return err
	}
	if err := noQuery(r); err != nil {
		return err
	}
	list, err := a.ca.UserDelegations(r.Context(), userID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, delegationList(list))
	return nil
}

// delegationStep is the accept (the delegate) or approve (the
// organisation) of a delegation from a phone, with that user's PIN; a
// refused PIN is audited like any other.
func (a *API) delegationStep(approve bool) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		body, deviceID, userID, err := a.signedDevice(w, r)
		if err != nil {
			return err
		}
		id, err := pathID(r)
		if err != nil {
			return err
		}
		var req DelegationPINRequest
		if err := decodeBody(r.Header.Get("Content-Type"), body, &req); err != nil {
			return err
		}
		action, step := actionDelegationAccept, a.ca.AcceptDelegation
		refused := audit.Entry{Action: action, Actor: actorDevice(deviceID), UserID: userID, Delegation: id}
		if approve {
			action, step = actionDelegationApprove, a.ca.ApproveDelegation
			refused = audit.Entry{Action: action, Actor: actorDevice(deviceID), OnBehalfOf: userID, Delegation: id}
		}
		ctx := a.audited(r.Context(), func(res any) audit.Entry {
			return delegationEntry(action, actorDevice(deviceID), res.(*ca.Delegation))
		})
		d, err := step(ctx, userID, id, req.PIN)
		if err != nil {
			a.auditRefusal(r.Context(), refused, err)
			return err
		}
		writeJSON(w, http.StatusOK, d)
		return nil
	}
}
