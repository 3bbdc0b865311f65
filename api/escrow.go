package api

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/auth"
	"github.com/ukeygate/ukeygate/ca"
	"github.com/ukeygate/ukeygate/protocol"
)

// Key escrow of encryption keys under dual control, and the forgotten-PIN
// reset (docs/protocol.md, "Key escrow and forgotten PINs"; ca/escrow.go,
// ca/resetpin.go). Only the bootstrap operator (admin) initializes the
// escrow key; any operator opens a recovery; only custodians (named
// operators, never the requester) submit shares; each step is audited
// with the operator's name.

const (
	actionEscrowInit      = "escrow.init"
	actionRecoveryOpen    = "escrow.recovery.open"
	actionRecoveryShare   = "escrow.recovery.share"
	actionRecoveryFinish  = "escrow.recovery.finish"
	actionUserPINReset    = "user.reset_pin"
	maxRecoveryReasonLen  = 200
	maxShareRequestLen    = ca.MaxShareFileLen
	maxRecoveryCredIDs    = 32
	maxEscrowCustodians   = 16
	maxPassphraseRequest  = ca.MaxPassphraseLen
	minPassphraseRequest  = ca.MinPassphraseLen
	maxEscrowIterationsIn = ca.MaxShareIterations
)

// EscrowInitRequest is the body of POST /v1/admin/escrow.
type EscrowInitRequest protocol.EscrowInitRequest

// Validate checks the request's shape.
func (q *EscrowInitRequest) Validate() error {
	if len(q.Custodians) < 2 || len(q.Custodians) > maxEscrowCustodians {
		return invalid("custodians", "2 to 16 named operators")
	}
	for _, c := range q.Custodians {
		if !auth.ValidOperatorName(c.Name) {
			return invalid("custodians", "custodian %q is not a named operator's name", c.Name)
		}
		if len(c.Passphrase) < minPassphraseRequest || len(c.Passphrase) > maxPassphraseRequest {
			return invalid("custodians", "passphrase of %s: %d to %d bytes", c.Name, minPassphraseRequest, maxPassphraseRequest)
		}
	}
	if q.Threshold != 0 && (q.Threshold < 2 || q.Threshold > len(q.Custodians)) {
		return invalid("threshold", "2 to the number of custodians")
	}
	if q.Iterations != 0 && (q.Iterations < ca.MinShareIterations || q.Iterations > maxEscrowIterationsIn) {
		return invalid("iterations", "%d to %d", ca.MinShareIterations, maxEscrowIterationsIn)
	}
	return nil
}

func wireEscrow(e *ca.Escrow) protocol.Escrow {
	out := protocol.Escrow{ID: e.ID, PublicKeyPEM: e.PublicKeyPEM, Threshold: e.Threshold, CreatedAt: e.CreatedAt, CreatedBy: e.CreatedBy}
	for _, c := range e.Custodians {
		out.Custodians = append(out.Custodians, protocol.EscrowCustodian{Name: c.Name, Index: c.Index, Fingerprint: c.Fingerprint})
	}
	return out
}

func (a *API) adminEscrowInit(w http.ResponseWriter, r *http.Request) error {
	if auth.OperatorFrom(r.Context()) != auth.BootstrapOperator {
		return auth.ErrOperatorForbidden
	}
	var req EscrowInitRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	ops, err := a.admin.Operators(r.Context())
	if err != nil {
		return err
	}
	init := ca.EscrowInit{Threshold: req.Threshold, Iterations: req.Iterations, By: auth.OperatorFrom(r.Context())}
	for _, c := range req.Custodians {
		if !slices.ContainsFunc(ops, func(o *auth.Operator) bool { return o.Name == c.Name }) {
			return invalid("custodians", "%s is not a named operator", c.Name)
		}
		init.Custodians = append(init.Custodians, ca.CustodianPassphrase{Name: c.Name, Passphrase: c.Passphrase})
	}
	ctx := a.audited(r.Context(), func(res any) audit.Entry {
		e := res.(*ca.Escrow)
		names := make([]string, 0, len(e.Custodians))
		for _, c := range e.Custodians {
			names = append(names, c.Name)
		}
		return audit.Entry{Action: actionEscrowInit, Actor: actorAdmin,
			Detail: "escrow=" + e.ID + " threshold=" + strconv.Itoa(e.Threshold) + " custodians=" + strings.Join(names, ",")}
	})
	esc, shares, err := a.ca.InitEscrow(ctx, init)
	if err != nil {
		return err
	}
	out := protocol.EscrowCreated{Escrow: wireEscrow(esc)}
	for _, s := range shares {
		out.Shares = append(out.Shares, protocol.EscrowShare{Custodian: s.Custodian, Index: s.Index, File: s.File})
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (a *API) adminGetEscrow(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	esc, err := a.ca.Escrow(r.Context())
	if err != nil {
		return err
	}
	retired, err := a.ca.RetiredEscrows(r.Context())
	if err != nil {
		return err
	}
	out := protocol.EscrowDetail{Escrow: wireEscrow(esc), Retired: []protocol.RetiredEscrow{}}
	for _, re := range retired {
		out.Retired = append(out.Retired, protocol.RetiredEscrow{Escrow: wireEscrow(re.Escrow), RetiredAt: re.RetiredAt,
			SupersededBy: re.SupersededBy, Rotation: re.Rotation, Stranded: append([]string{}, re.Stranded...), StrandedCount: re.StrandedCount})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// RecoveryRequest is the body of POST /v1/admin/escrow/recoveries.
type RecoveryRequest protocol.RecoveryRequest

// Validate checks the request's shape.
func (q *RecoveryRequest) Validate() error {
	if !ca.ValidID(q.User) {
		return invalid("user", "required, a user id")
	}
	if strings.TrimSpace(q.Reason) == "" {
		return invalid("reason", "required")
	}
	if err := maxChars("reason", q.Reason, maxRecoveryReasonLen); err != nil {
		return err
	}
	if len(q.Credentials) > maxRecoveryCredIDs {
		return invalid("credentials", "at most %d", maxRecoveryCredIDs)
	}
	for _, id := range q.Credentials {
		if !ca.ValidID(id) {
			return invalid("credentials", "not a credential id")
		}
	}
	if q.TTL != "" {
		d, err := time.ParseDuration(q.TTL)
		if err != nil || d < time.Minute || d > ca.MaxRecoveryTTL {
			return invalid("ttl", "a duration from 1m to 168h")
		}
	}
	return nil
}

func wireRecovery(r *ca.Recovery) protocol.Recovery {
	out := protocol.Recovery{ID: r.ID, Escrow: r.EscrowID, User: r.UserID, Credentials: r.Credentials, Reason: r.Reason,
		RequestedBy: r.RequestedBy, Threshold: r.Threshold, Approvals: []protocol.RecoveryApproval{}, State: r.State,
		CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt, CompletedAt: r.CompletedAt}
	for _, ap := range r.Approvals {
		out.Approvals = append(out.Approvals, protocol.RecoveryApproval{Custodian: ap.Custodian, At: ap.At})
	}
	return out
}

func recoveryDetail(r *ca.Recovery) string {
	var names []string
	for _, ap := range r.Approvals {
		names = append(names, ap.Custodian)
	}
	return "recovery=" + r.ID + " requested_by=" + r.RequestedBy + " approvals=" + strconv.Itoa(len(r.Approvals)) + "/" +
		strconv.Itoa(r.Threshold) + " custodians=" + strings.Join(names, ",") + " state=" + r.State +
		" credentials=" + strings.Join(r.Credentials, ",")
}

func (a *API) adminOpenRecovery(w http.ResponseWriter, r *http.Request) error {
	var req RecoveryRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	var ttl time.Duration
	if req.TTL != "" {
		ttl, _ = time.ParseDuration(req.TTL)
	}
	ctx := a.audited(r.Context(), func(res any) audit.Entry {
		rc := res.(*ca.Recovery)
		return audit.Entry{Action: actionRecoveryOpen, Actor: actorAdmin, UserID: rc.UserID,
			Detail: recoveryDetail(rc) + " reason=" + rc.Reason}
	})
	rc, err := a.ca.OpenRecovery(ctx, ca.RecoveryRequest{UserID: req.User, Credentials: req.Credentials, Reason: req.Reason,
		By: auth.OperatorFrom(r.Context()), TTL: ttl})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, wireRecovery(rc))
	return nil
}

func (a *API) adminListRecoveries(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	list, err := a.ca.Recoveries(r.Context())
	if err != nil {
		return err
	}
	out := protocol.RecoveryList{Recoveries: []protocol.Recovery{}}
	for _, rc := range list {
		out.Recoveries = append(out.Recoveries, wireRecovery(rc))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) adminGetRecovery(w http.ResponseWriter, r *http.Request) error {
	id, err := a.adminPath(w, r, nil, nil)
	if err != nil {
		return err
	}
	if err := noQuery(r); err != nil {
		return err
	}
	rc, err := a.ca.Recovery(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, wireRecovery(rc))
	return nil
}

// ShareRequest is the body of POST /v1/admin/escrow/recoveries/{id}/shares.
type ShareRequest protocol.ShareRequest

// Validate checks the request's shape.
func (q *ShareRequest) Validate() error {
	if q.Share == "" || len(q.Share) > maxShareRequestLen {
		return invalid("share", "required, at most %d bytes", maxShareRequestLen)
	}
	if q.Passphrase == "" || len(q.Passphrase) > maxPassphraseRequest {
		return invalid("passphrase", "required, at most %d bytes", maxPassphraseRequest)
	}
	return nil
}

func (a *API) adminSubmitShare(w http.ResponseWriter, r *http.Request) error {
	var req ShareRequest
	id, err := a.adminPath(w, r, a.decode, &req)
	if err != nil {
		return err
	}
	custodian := auth.OperatorFrom(r.Context())
	ctx := a.audited(r.Context(), func(res any) audit.Entry {
		rc := res.(*ca.Recovery)
		return audit.Entry{Action: actionRecoveryShare, Actor: actorAdmin, UserID: rc.UserID, Detail: recoveryDetail(rc)}
	})
	rc, err := a.ca.SubmitShare(ctx, id, custodian, []byte(req.Share), req.Passphrase)
	if err != nil {
		// Every refused share is audited (nothing changed): who tried,
		// on which request, and why.
		if _, code, known := lookupError(err); known {
			a.auditAction(r.Context(), audit.Entry{Action: actionRecoveryShare, Actor: actorAdmin,
				Outcome: audit.OutcomeFailed, Detail: "recovery=" + id + " " + code})
		}
		return err
	}
	writeJSON(w, http.StatusOK, wireRecovery(rc))
	return nil
}

// PINResetRequest is the body of POST /v1/admin/users/{id}/reset-pin.
type PINResetRequest protocol.PINResetRequest

// Validate checks the request's shape.
func (q *PINResetRequest) Validate() error {
	if strings.TrimSpace(q.Reason) == "" {
		return invalid("reason", "required: how the user's identity was verified again")
	}
	return maxChars("reason", q.Reason, maxRecoveryReasonLen)
}

func (a *API) adminResetPIN(w http.ResponseWriter, r *http.Request) error {
	var req PINResetRequest
	id, err := a.adminPath(w, r, a.decode, &req)
	if err != nil {
		return err
	}
	ctx := a.audited(r.Context(), func(res any) audit.Entry {
		p := res.(*ca.PINReset)
		return audit.Entry{Action: actionUserPINReset, Actor: actorAdmin, UserID: p.User.ID,
			Detail: "reason=" + p.Reason + " revoked=" + strings.Join(p.Revoked, ",") + " reissue=" + strconv.Itoa(p.Reissue) +
				" awaiting_recovery=" + strings.Join(p.AwaitingRecovery, ",") + " lost=" + strings.Join(p.Lost, ",") +
				" devices=" + strings.Join(p.RevokedDevices, ",")}
	})
	p, code, err := a.ca.ResetPIN(ctx, id, req.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, protocol.PINReset{UserActivation: a.withCode(p.User, code), RevokedDevices: p.RevokedDevices,
		Revoked: p.Revoked, Reissue: p.Reissue, AwaitingRecovery: p.AwaitingRecovery, Lost: p.Lost, Delegations: p.Delegations})
	return nil
}

// MyRecoveryRequest is the body of POST /v1/me/recovery.
type MyRecoveryRequest protocol.MyRecoveryRequest

// Validate checks the request's shape.
func (q *MyRecoveryRequest) Validate() error {
	if q.PIN == "" {
		return invalid("pin", "required")
	}
	return nil
}

// myRecovery wraps the user's recovered keys under the PIN given.
func (a *API) myRecovery(w http.ResponseWriter, r *http.Request) error {
	body, deviceID, userID, err := a.signedDevice(w, r)
	if err != nil {
		return err
	}
	var req MyRecoveryRequest
	if err := decodeBody(r.Header.Get("Content-Type"), body, &req); err != nil {
		return err
	}
	entry := audit.Entry{Action: actionRecoveryFinish, Actor: actorDevice(deviceID), UserID: userID}
	ctx := a.audited(r.Context(), func(res any) audit.Entry {
		var ids []string
		for _, c := range res.([]*ca.Credential) {
			ids = append(ids, c.ID)
		}
		e := entry
		e.Detail = "credentials=" + strings.Join(ids, ",")
		return e
	})
	creds, err := a.ca.FinishRecovery(ctx, userID, req.PIN)
	if err != nil {
		a.auditRefusal(r.Context(), entry, err)
		return err
	}
	writeJSON(w, http.StatusOK, protocol.Recovered{Credentials: wireCredentials(creds)})
	return nil
}
