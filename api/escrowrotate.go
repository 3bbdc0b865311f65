package api

import (
	"context"
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

// Rotation of the escrow key (docs/protocol.md, "Key escrow and forgotten
// PINs"; ca/escrowrotate.go): only the bootstrap operator (admin) runs the
// ceremony of the new key; custodians of the current key (named
// operators, never the requester) approve it with their current shares;
// each step is audited with the operator's name.

const (
	actionRotationOpen    = "escrow.rotation.open"
	actionRotationShare   = "escrow.rotation.share"
	actionRotationFinish  = "escrow.rotation.finish"
	actionRotationCancel  = "escrow.rotation.cancel"
	actionRotationConfirm = "escrow.rotation.confirm"
	actionRotationAbandon = "escrow.rotation.abandon"
)

// EscrowRotationRequest is the body of POST /v1/admin/escrow/rotations.
type EscrowRotationRequest protocol.EscrowRotationRequest

// Validate checks the request's shape: the new key's custodians,
// threshold and iterations as EscrowInitRequest's, a reason and the TTL.
func (q *EscrowRotationRequest) Validate() error {
	init := EscrowInitRequest{Custodians: q.Custodians, Threshold: q.Threshold, Iterations: q.Iterations}
	if err := init.Validate(); err != nil {
		return err
	}
	if strings.TrimSpace(q.Reason) == "" {
		return invalid("reason", "required")
	}
	if err := maxChars("reason", q.Reason, maxRecoveryReasonLen); err != nil {
		return err
	}
	if q.TTL != "" {
		d, err := time.ParseDuration(q.TTL)
		if err != nil || d < time.Minute || d > ca.MaxRotationTTL {
			return invalid("ttl", "a duration from 1m to 168h")
		}
	}
	return nil
}

func wireApprovals(list []ca.RecoveryApproval) []protocol.RecoveryApproval {
	out := []protocol.RecoveryApproval{}
	for _, ap := range list {
		out = append(out, protocol.RecoveryApproval{Custodian: ap.Custodian, At: ap.At})
	}
	return out
}

func wireRotation(r *ca.Rotation) protocol.EscrowRotation {
	out := protocol.EscrowRotation{ID: r.ID, From: r.From, Next: wireEscrow(r.Next), Reason: r.Reason,
		RequestedBy: r.RequestedBy, Threshold: r.Threshold, Approvals: wireApprovals(r.Approvals),
		Approved: wireApprovals(r.Approved), State: r.State, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt,
		SwitchedAt: r.SwitchedAt, CompletedAt: r.CompletedAt, CanceledAt: r.CanceledAt, CanceledBy: r.CanceledBy,
		Moved: r.Moved, Unopened: slices.Clone(r.Unopened), Confirmations: []protocol.RotationConfirmation{},
		Unconfirmed: append([]string{}, r.Unconfirmed...), AbandonedAt: r.AbandonedAt, AbandonedBy: r.AbandonedBy,
		AbandonReason: r.AbandonReason, Stranded: slices.Clone(r.Stranded), StrandedCount: r.StrandedCount}
	for _, c := range r.Confirmations {
		out.Confirmations = append(out.Confirmations, protocol.RotationConfirmation{Custodian: c.Custodian, At: c.At})
	}
	return out
}

// finishDetail is the audit detail of a rotation's finish.
func finishDetail(r *ca.Rotation) string {
	d := "rotation=" + r.ID + " from=" + r.From + " to=" + r.Next.ID + " moved=" + strconv.Itoa(r.Moved)
	if len(r.Unopened) > 0 {
		d += " unopened=" + strings.Join(r.Unopened, ",")
	}
	return d
}

// rotationDetail is the audit detail of a rotation's approval: the
// approvals of the current round, or, once they switched the key, those
// that did.
func rotationDetail(r *ca.Rotation) string {
	approvals := r.Approvals
	if len(approvals) == 0 {
		approvals = r.Approved
	}
	names := make([]string, 0, len(approvals))
	for _, ap := range approvals {
		names = append(names, ap.Custodian)
	}
	return "rotation=" + r.ID + " from=" + r.From + " next=" + r.Next.ID + " requested_by=" + r.RequestedBy +
		" approvals=" + strconv.Itoa(len(approvals)) + "/" + strconv.Itoa(r.Threshold) +
		" custodians=" + strings.Join(names, ",") + " state=" + r.State
}

func (a *API) adminOpenRotation(w http.ResponseWriter, r *http.Request) error {
	if auth.OperatorFrom(r.Context()) != auth.BootstrapOperator {
		return auth.ErrOperatorForbidden
	}
	var req EscrowRotationRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	ops, err := a.admin.Operators(r.Context())
	if err != nil {
		return err
	}
	var ttl time.Duration
	if req.TTL != "" {
		ttl, _ = time.ParseDuration(req.TTL)
	}
	rot := ca.EscrowRotate{Threshold: req.Threshold, Iterations: req.Iterations, Reason: req.Reason,
		By: auth.OperatorFrom(r.Context()), TTL: ttl}
	for _, c := range req.Custodians {
		if !slices.ContainsFunc(ops, func(o *auth.Operator) bool { return o.Name == c.Name }) {
			return invalid("custodians", "%s is not a named operator", c.Name)
		}
		rot.Custodians = append(rot.Custodians, ca.CustodianPassphrase{Name: c.Name, Passphrase: c.Passphrase})
	}
	ctx := a.audited(r.Context(), func(res any) audit.Entry {
		rt := res.(*ca.Rotation)
		names := make([]string, 0, len(rt.Next.Custodians))
		for _, c := range rt.Next.Custodians {
			names = append(names, c.Name)
		}
		return audit.Entry{Action: actionRotationOpen, Actor: actorAdmin,
			Detail: "rotation=" + rt.ID + " from=" + rt.From + " next=" + rt.Next.ID + " threshold=" + strconv.Itoa(rt.Next.Threshold) +
				" custodians=" + strings.Join(names, ",") + " approvals_needed=" + strconv.Itoa(rt.Threshold) + " reason=" + rt.Reason}
	})
	created, shares, err := a.ca.RotateEscrow(ctx, rot)
	if err != nil {
		return err
	}
	out := protocol.EscrowRotationCreated{Rotation: wireRotation(created)}
	for _, s := range shares {
		out.Shares = append(out.Shares, protocol.EscrowShare{Custodian: s.Custodian, Index: s.Index, File: s.File})
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (a *API) adminListRotations(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	list, err := a.ca.Rotations(r.Context())
	if err != nil {
		return err
	}
	out := protocol.EscrowRotationList{Rotations: []protocol.EscrowRotation{}}
	for _, rt := range list {
		out.Rotations = append(out.Rotations, wireRotation(rt))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) adminGetRotation(w http.ResponseWriter, r *http.Request) error {
	id, err := a.adminPath(w, r, nil, nil)
	if err != nil {
		return err
	}
	if err := noQuery(r); err != nil {
		return err
	}
	rt, err := a.ca.Rotation(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, wireRotation(rt))
	return nil
}

// adminApproveRotation is a custodian of the current escrow key approving
// a rotation with their share (the body of a recovery share).
func (a *API) adminApproveRotation(w http.ResponseWriter, r *http.Request) error {
	var req ShareRequest
	id, err := a.adminPath(w, r, a.decode, &req)
	if err != nil {
		return err
	}
	custodian := auth.OperatorFrom(r.Context())
	ctx := a.audited(r.Context(), func(res any) audit.Entry {
		return audit.Entry{Action: actionRotationShare, Actor: actorAdmin, Detail: rotationDetail(res.(*ca.Rotation))}
	})
	// The finish's entry commits with the transaction that finishes it.
	ctx = ca.WithRotationFinish(ctx, func(fctx context.Context) context.Context {
		return a.audited(fctx, func(res any) audit.Entry {
			return audit.Entry{Action: actionRotationFinish, Actor: actorAdmin, Detail: finishDetail(res.(*ca.Rotation))}
		})
	})
	rt, err := a.ca.ApproveRotation(ctx, id, custodian, []byte(req.Share), req.Passphrase)
	if err != nil {
		_, code, known := lookupError(err)
		switch {
		case audit.ActionCommitted(ctx):
			// The share was accepted and switched the key, but moving the
			// escrow copies stopped: the rotation stays moving, to be
			// approved again.
			detail := "rotation=" + id
			if rt != nil {
				detail = "rotation=" + rt.ID + " from=" + rt.From + " to=" + rt.Next.ID + " moved=" + strconv.Itoa(rt.Moved) + " state=" + rt.State
			}
			a.auditAction(r.Context(), audit.Entry{Action: actionRotationFinish, Actor: actorAdmin,
				Outcome: audit.OutcomeFailed, Detail: detail + " " + code})
		case known:
			// Every refused share is audited (nothing changed): who tried,
			// on which rotation, and why.
			a.auditAction(r.Context(), audit.Entry{Action: actionRotationShare, Actor: actorAdmin,
				Outcome: audit.OutcomeFailed, Detail: "rotation=" + id + " " + code})
		}
		return err
	}
	writeJSON(w, http.StatusOK, wireRotation(rt))
	return nil
}

// adminCancelRotation ends an open rotation that has not switched the key
// (bootstrap admin only, as its opening).
func (a *API) adminCancelRotation(w http.ResponseWriter, r *http.Request) error {
	if auth.OperatorFrom(r.Context()) != auth.BootstrapOperator {
		return auth.ErrOperatorForbidden
	}
	id, err := a.adminPath(w, r, a.decodeOptional, &NoBodyRequest{})
	if err != nil {
		return err
	}
	ctx := a.audited(r.Context(), func(res any) audit.Entry {
		rt := res.(*ca.Rotation)
		return audit.Entry{Action: actionRotationCancel, Actor: actorAdmin, Detail: "rotation=" + rt.ID + " from=" + rt.From + " next=" + rt.Next.ID}
	})
	rt, err := a.ca.CancelRotation(ctx, id, auth.OperatorFrom(r.Context()))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, wireRotation(rt))
	return nil
}

// confirmDetail is the audit detail of a new custodian's confirmation.
func confirmDetail(r *ca.Rotation) string {
	names := make([]string, 0, len(r.Confirmations))
	for _, c := range r.Confirmations {
		names = append(names, c.Custodian)
	}
	return "rotation=" + r.ID + " next=" + r.Next.ID + " confirmed=" + strconv.Itoa(len(r.Confirmations)) + "/" +
		strconv.Itoa(len(r.Next.Custodians)) + " custodians=" + strings.Join(names, ",") +
		" unconfirmed=" + strings.Join(r.Unconfirmed, ",")
}

// adminConfirmRotation is a custodian of a rotation's NEW key proving,
// with their new share file and its passphrase (a share request's body),
// that they hold it, before the old custodians' approvals count.
func (a *API) adminConfirmRotation(w http.ResponseWriter, r *http.Request) error {
	var req ShareRequest
	id, err := a.adminPath(w, r, a.decode, &req)
	if err != nil {
		return err
	}
	ctx := a.audited(r.Context(), func(res any) audit.Entry {
		return audit.Entry{Action: actionRotationConfirm, Actor: actorAdmin, Detail: confirmDetail(res.(*ca.Rotation))}
	})
	rt, err := a.ca.ConfirmRotation(ctx, id, auth.OperatorFrom(r.Context()), []byte(req.Share), req.Passphrase)
	if err != nil {
		// Every refused confirmation is audited (nothing changed).
		if _, code, known := lookupError(err); known {
			a.auditAction(r.Context(), audit.Entry{Action: actionRotationConfirm, Actor: actorAdmin,
				Outcome: audit.OutcomeFailed, Detail: "rotation=" + id + " " + code})
		}
		return err
	}
	if !audit.ActionCommitted(ctx) {
		// Confirmed before: nothing was written, the file checked again.
		a.auditAction(r.Context(), audit.Entry{Action: actionRotationConfirm, Actor: actorAdmin, Detail: confirmDetail(rt) + " again"})
	}
	writeJSON(w, http.StatusOK, wireRotation(rt))
	return nil
}

// RotationAbandonRequest is the body of POST
// /v1/admin/escrow/rotations/{id}/abandon.
type RotationAbandonRequest protocol.RotationAbandonRequest

// Validate checks the request's shape.
func (q *RotationAbandonRequest) Validate() error {
	if strings.TrimSpace(q.Reason) == "" {
		return invalid("reason", "required")
	}
	return maxChars("reason", q.Reason, maxRecoveryReasonLen)
}

// adminAbandonRotation ends a moving rotation whose move cannot be
// finished (bootstrap admin only, as its opening and cancel).
func (a *API) adminAbandonRotation(w http.ResponseWriter, r *http.Request) error {
	if auth.OperatorFrom(r.Context()) != auth.BootstrapOperator {
		return auth.ErrOperatorForbidden
	}
	var req RotationAbandonRequest
	id, err := a.adminPath(w, r, a.decode, &req)
	if err != nil {
		return err
	}
	ctx := a.audited(r.Context(), func(res any) audit.Entry {
		rt := res.(*ca.Rotation)
		return audit.Entry{Action: actionRotationAbandon, Actor: actorAdmin,
			Detail: "rotation=" + rt.ID + " from=" + rt.From + " to=" + rt.Next.ID + " moved=" + strconv.Itoa(rt.Moved) +
				" stranded=" + strconv.Itoa(rt.StrandedCount) + " credentials=" + strings.Join(rt.Stranded, ",") + " reason=" + rt.AbandonReason}
	})
	rt, err := a.ca.AbandonRotation(ctx, id, auth.OperatorFrom(r.Context()), req.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, wireRotation(rt))
	return nil
}
