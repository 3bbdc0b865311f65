package api

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/auth"
	"github.com/ukeygate/ukeygate/ca"
	"github.com/ukeygate/ukeygate/protocol"
)

// The operator's day after the first enrollment: a new activation code for
// a lost or new phone, a user with their devices and credentials, device
// revocation, app key rotation and disabling; and the audit entries of
// every operator and enrollment action.

// Audit actors and actions of the operator and enrollment endpoints.
const (
	actorAdmin = "admin"
	// actorOperatorPrefix + NAME is the actor of a named operator.
	actorOperatorPrefix = "operator:"
	// actorActivation is the actor of a refused enrollment: the caller
	// holds a valid activation code but no device exists.
	actorActivation = "activation"

	actionIssuerAdd        = "issuer.add"
	actionAppAdd           = "app.add"
	actionAppRotate        = "app.rotate"
	actionAppDisable       = "app.disable"
	actionUserAdd          = "user.add"
	actionUserView         = "user.view"
	actionUserList         = "user.list"
	actionUserActivation   = "user.activation"
	actionDeviceEnroll     = "device.enroll"
	actionDeviceRevoke     = "device.revoke"
	actionCredentialCreate = "credential.create"
	actionCredentialImport = "credential.import"
	actionCredentialRevoke = "credential.revoke"
	actionPINChange        = "pin.change"
	actionSealAdd          = "seal.add"
	actionSealRevoke       = "seal.revoke"
)

func actorDevice(id string) string { return "device:" + id }

// maxDeviceReasonLen bounds the free-text reason of a device revocation.
const maxDeviceReasonLen = 200

// NoBodyRequest is the (optional) body of the operator actions that take
// no parameters: nothing, or the empty JSON object {}.
type NoBodyRequest struct{}

// Validate accepts the empty object.
func (q *NoBodyRequest) Validate() error { return nil }

// DeviceRevokeRequest is the (optional) body of
// POST /v1/admin/devices/{id}/revoke (protocol.DeviceRevokeRequest).
type DeviceRevokeRequest protocol.DeviceRevokeRequest

// Validate checks the request's shape.
func (q *DeviceRevokeRequest) Validate() error {
	return maxChars("reason", q.Reason, maxDeviceReasonLen)
}

// decodeOptional decodes the body into v when there is one; an absent or
// empty body is v's zero value. Either way v is validated.
func (a *API) decodeOptional(w http.ResponseWriter, r *http.Request, v validator) error {
	body, err := a.readBody(w, r)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return v.Validate()
	}
	return decodeBody(r.Header.Get("Content-Type"), body, v)
}

// audited returns ctx carrying the audit entry of the operator, enrollment
// or phone action the handler is about to ask for: the service commits
// the entry, built by build from the action's result, in the same store
// transaction as the action (audit.Commit), so an action without its entry
// cannot exist, and a failed write fails the action. Entries never carry
// secrets (codes, PINs, keys). Without an audit log, ctx is returned as it
// is.
func (a *API) audited(ctx context.Context, build func(result any) audit.Entry) context.Context {
	if a.audit == nil {
		return ctx
	}
	return a.audit.WithAction(ctx, func(res any) audit.Entry {
		return withOperator(ctx, build(res))
	})
}

// withOperator names, in an operator action's entry (Actor "admin"), the
// operator who made the request: "admin" stays for the bootstrap
// operator (the admin token), a named operator is "operator:NAME".
func withOperator(ctx context.Context, e audit.Entry) audit.Entry {
	if e.Actor == actorAdmin {
		e.Actor = operatorActor(ctx)
	}
	return e
}

// operatorActor is the audit actor of the operator of ctx's request.
func operatorActor(ctx context.Context) string {
	name := auth.OperatorFrom(ctx)
	if name == "" || name == auth.BootstrapOperator {
		return actorAdmin
	}
	return actorOperatorPrefix + name
}

// auditTimeout bounds the audit append of a refused action; it runs even
// if the caller hangs up.
const auditTimeout = 10 * time.Second

// auditAction appends the entry of a refused action (nothing changed, so
// there is no transaction to join); an entry that cannot be written is
// logged. Without an audit log it does nothing.
func (a *API) auditAction(ctx context.Context, e audit.Entry) {
	if a.audit == nil {
		return
	}
	if e.Outcome == "" {
		e.Outcome = audit.OutcomeOK
	}
	e = withOperator(ctx, e)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditTimeout)
	defer cancel()
	if _, err := a.audit.Append(ctx, e); err != nil {
		a.log.ErrorContext(ctx, "audit entry not written", "action", e.Action, "actor", e.Actor,
			"user", e.UserID, "outcome", e.Outcome, "err", err)
	}
}

// auditRefusal audits a refused PIN (wrong, locked) or PIN policy failure
// of a device action, with the error's code as the detail; other errors
// are not audited (bad input changes nothing and says nothing about the
// user).
func (a *API) auditRefusal(ctx context.Context, e audit.Entry, err error) {
	if !errors.Is(err, ca.ErrWrongPIN) && !errors.Is(err, ca.ErrPINLocked) && !errors.Is(err, ca.ErrWeakPIN) {
		return
	}
	_, code, _ := lookupError(err)
	e.Outcome, e.Detail = audit.OutcomeFailed, code
	a.auditAction(ctx, e)
}

func (a *API) adminUserActivation(w http.ResponseWriter, r *http.Request) error {
	id, err := a.adminPath(w, r, a.decodeOptional, &NoBodyRequest{})
	if err != nil {
		return err
	}
	ctx := a.audited(r.Context(), func(res any) audit.Entry {
		u := res.(*ca.User)
		return audit.Entry{Action: actionUserActivation, Actor: actorAdmin, UserID: u.ID,
			Detail: "expires_at=" + u.ActivationExpiresAt.UTC().Format(time.RFC3339)}
	})
	u, code, err := a.ca.NewActivationCode(ctx, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, a.withCode(u, code))
	return nil
}

func (a *API) adminGetUser(w http.ResponseWriter, r *http.Request) error {
	id, err := a.adminPath(w, r, nil, nil)
	if err != nil {
		return err
	}
	if err := noQuery(r); err != nil {
		return err
	}
	d, err := a.ca.UserDetail(r.Context(), id)
	if err != nil {
		return err
	}
	// One person's record (name, ID number, phone, devices, credentials):
	// who looked at it is in the audit log, as a registration's view and
	// a data export are.
	a.auditAction(r.Context(), audit.Entry{Action: actionUserView, Actor: actorAdmin, UserID: id, Outcome: audit.OutcomeOK})
	writeJSON(w, http.StatusOK, wireUserDetail(d))
	return nil
}

func (a *API) adminRevokeDevice(w http.ResponseWriter, r *http.Request) error {
	var req DeviceRevokeRequest
	id, err := a.adminPath(w, r, a.decodeOptional, &req)
	if err != nil {
		return err
	}
	ctx := a.audited(r.Context(), func(res any) audit.Entry {
		d := res.(*ca.Device)
		e := audit.Entry{Action: actionDeviceRevoke, Actor: actorAdmin, UserID: d.UserID, Detail: "device=" + d.ID}
		if d.RevocationReason != "" {
			e.Detail += " reason=" + d.RevocationReason
		}
		return e
	})
	d, err := a.ca.RevokeDevice(ctx, id, req.Reason)
	if err != nil {
		return err
	}
	dev := wireDevice(d)
	writeJSON(w, http.StatusOK, protocol.DeviceRevoked{Device: &dev})
	return nil
}

func (a *API) adminRotateApp(w http.ResponseWriter, r *http.Request) error {
	id, err := a.adminPath(w, r, a.decodeOptional, &NoBodyRequest{})
	if err != nil {
		return err
	}
	ctx := a.audited(r.Context(), func(any) audit.Entry {
		return audit.Entry{Action: actionAppRotate, Actor: actorAdmin, AppID: id}
	})
	app, key, err := a.apps.RotateKey(ctx, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, wireApp(app, key))
	return nil
}

func (a *API) adminDisableApp(w http.ResponseWriter, r *http.Request) error {
	id, err := a.adminPath(w, r, a.decodeOptional, &NoBodyRequest{})
	if err != nil {
		return err
	}
	ctx := a.audited(r.Context(), func(any) audit.Entry {
		return audit.Entry{Action: actionAppDisable, Actor: actorAdmin, AppID: id}
	})
	app, err := a.apps.Disable(ctx, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, wireApp(app, ""))
	return nil
}
