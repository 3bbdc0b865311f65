package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/ca"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/ra"
)

// Registration with RA review (ra): the applicant's unsigned
// registration, the user's device-signed correction, and the operator's
// queue.

const (
	actionRegistrationSubmit  = "registration.submit"
	actionRegistrationApprove = "registration.approve"
	actionRegistrationView    = "registration.view"
	actionRegistrationList    = "registration.list"
	actionRegistrationReject  = "registration.reject"
	actionCorrectionSubmit    = "correction.submit"
	actorApplicant            = "applicant"
)

// RegisterRequest is the body of POST /v1/register.
type RegisterRequest protocol.RegisterRequest

// Validate checks the request's shape; the ra service checks the rest
// (checksums, consent, licence) with its own error codes.
func (q *RegisterRequest) Validate() error {
	return firstError(required("kind", q.Kind), required("name", q.Name), maxChars("name", q.Name, maxNameLen),
		maxChars("legal_rep", q.LegalRep, maxNameLen), maxBytes("consent.policy_version", q.Consent.PolicyVersion, 64))
}

// CorrectionRequest is the body of POST /v1/me/corrections.
type CorrectionRequest protocol.CorrectionRequest

// Validate checks the request's shape.
func (q *CorrectionRequest) Validate() error {
	if q.Name == "" && q.IDNumber == "" && q.Phone == "" {
		return invalid("name", "nothing to correct: give name, id_number or phone")
	}
	return firstError(maxChars("name", q.Name, maxNameLen), maxBytes("id_number", q.IDNumber, 64), maxBytes("phone", q.Phone, 32))
}

// DecisionRequest is the body of the operator's approve and reject.
type DecisionRequest protocol.RegistrationDecision

// Validate checks the reason's length (reject requires one: ra.Reject).
func (q *DecisionRequest) Validate() error { return maxChars("reason", q.Reason, 500) }

func (a *API) registrationPolicy(w http.ResponseWriter, r *http.Request) error {
	if a.ra == nil {
		return ErrRegistrationUnavailable
	}
	writeJSON(w, http.StatusOK, a.ra.Policy())
	return nil
}

// registrationStatus answers the applicant's question "where does my
// request stand" (unsigned: the id is the applicant's handle). No personal
// field is answered; the reason only of a rejection.
func (a *API) registrationStatus(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if a.ra == nil {
		return ErrRegistrationUnavailable
	}
	g, err := a.ra.Get(r.Context(), id)
	if err != nil {
		return err
	}
	out := protocol.RegistrationStatus{ID: g.ID, Type: g.Type, State: g.State, Kind: g.Kind, CreatedAt: g.CreatedAt, DecidedAt: g.DecidedAt}
	if g.State == protocol.RegistrationRejected {
		out.Reason = g.Reason
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) register(w http.ResponseWriter, r *http.Request) error {
	var req RegisterRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	if a.ra == nil {
		return ErrRegistrationUnavailable
	}
	ctx := a.audited(r.Context(), func(res any) audit.Entry {
		g := res.(*ra.Registration)
		return audit.Entry{Action: actionRegistrationSubmit, Actor: actorApplicant,
			Detail: "registration=" + g.ID + " kind=" + g.Kind + " state=" + g.State + " policy=" + g.Consent.PolicyVersion}
	})
	g, err := a.ra.Submit(ctx, protocol.RegisterRequest(req))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, protocol.RegistrationCreated{ID: g.ID, State: g.State})
	return nil
}

func (a *API) submitCorrection(w http.ResponseWriter, r *http.Request) error {
	body, deviceID, userID, err := a.signedDevice(w, r)
	if err != nil {
		return err
	}
	var req CorrectionRequest
	if err := decodeBody(r.Header.Get("Content-Type"), body, &req); err != nil {
		return err
	}
	if a.ra == nil {
		return ErrRegistrationUnavailable
	}
	ctx := a.audited(r.Context(), func(res any) audit.Entry {
		return audit.Entry{Action: actionCorrectionSubmit, Actor: actorDevice(deviceID), UserID: userID,
			Detail: "registration=" + res.(*ra.Registration).ID}
	})
	g, err := a.ra.SubmitCorrection(ctx, userID, ca.Correction{Name: strings.TrimSpace(req.Name), IDNumber: req.IDNumber, Phone: req.Phone})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, protocol.RegistrationCreated{ID: g.ID, State: g.State})
	return nil
}

func (a *API) adminListRegistrations(w http.ResponseWriter, r *http.Request) error {
	if err := a.admin.Authorize(r); err != nil {
		return err
	}
	q, err := queryParams(r, "state")
	if err != nil {
		return err
	}
	state := q.Get("state")
	switch state {
	case "pending":
		state = protocol.RegistrationPending
	case "", protocol.RegistrationPending, protocol.RegistrationApproved, protocol.RegistrationRejected:
	default:
		return invalid("state", "must be pending, %s, %s or %s", protocol.RegistrationPending, protocol.RegistrationApproved, protocol.RegistrationRejected)
	}
	if a.ra == nil {
		return ErrRegistrationUnavailable
	}
	list, err := a.ra.List(r.Context(), state)
	if err != nil {
		return err
	}
	// The applicants' names, ID numbers, credit codes and phones (not the
	// licence images): audited as one entry, as the user list is.
	shown := state
	if shown == "" {
		shown = "all"
	}
	a.auditAction(r.Context(), audit.Entry{Action: actionRegistrationList, Actor: actorAdmin, Outcome: audit.OutcomeOK,
		Detail: "state=" + shown + " registrations=" + strconv.Itoa(len(list))})
	writeJSON(w, http.StatusOK, protocol.RegistrationList{Registrations: list})
	return nil
}

func (a *API) adminGetRegistration(w http.ResponseWriter, r *http.Request) error {
	id, err := a.adminPath(w, r, nil, nil)
	if err != nil {
		return err
	}
	if err := noQuery(r); err != nil {
		return err
	}
	if a.ra == nil {
		return ErrRegistrationUnavailable
	}
	g, err := a.ra.Get(r.Context(), id)
	if err != nil {
		return err
	}
	// The one answer that hands out the licence image (and the applicant's
	// numbers): who looked at it is in the audit log, as a data export is.
	detail := "registration=" + g.ID
	if len(g.Licence) > 0 {
		detail += " licence=" + g.LicenceType
	}
	a.auditAction(r.Context(), audit.Entry{Action: actionRegistrationView, Actor: actorAdmin, UserID: g.User, Outcome: audit.OutcomeOK, Detail: detail})
	writeJSON(w, http.StatusOK, g)
	return nil
}

// operatorName is the deciding operator as the audit and the
// registration record name it: "admin" (the admin token) or
// "operator:NAME" (a named operator).
func operatorName(r *http.Request) string { return operatorActor(r.Context()) }

func (a *API) adminApproveRegistration(w http.ResponseWriter, r *http.Request) error {
	var req DecisionRequest
	id, err := a.adminPath(w, r, a.decodeOptional, &req)
	if err != nil {
		return err
	}
	if a.ra == nil {
		return ErrRegistrationUnavailable
	}
	op := operatorName(r)
	ctx := a.audited(r.Context(), func(res any) audit.Entry {
		return audit.Entry{Action: actionRegistrationApprove, Actor: op, UserID: res.(*ca.User).ID,
			Detail: "registration=" + id + " reason=" + req.Reason}
	})
	d, err := a.ra.Approve(ctx, id, op, req.Reason)
	if err != nil {
		return err
	}
	out := protocol.RegistrationApproval{Registration: *d.Registration, User: *d.User}
	out.Registration.Licence = nil
	if d.ActivationCode != "" {
		act := a.withCode(d.User, d.ActivationCode) // exactly as user add hands it out
		out.ActivationCode, out.ActivationExpiresAt, out.EnrollmentURL = act.ActivationCode, act.ActivationExpiresAt, act.EnrollmentURL
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) adminRejectRegistration(w http.ResponseWriter, r *http.Request) error {
	var req DecisionRequest
	id, err := a.adminPath(w, r, a.decode, &req)
	if err != nil {
		return err
	}
	if err := required("reason", req.Reason); err != nil {
		return err
	}
	if a.ra == nil {
		return ErrRegistrationUnavailable
	}
	op := operatorName(r)
	ctx := a.audited(r.Context(), func(res any) audit.Entry {
		g := res.(*ra.Decided).Registration
		return audit.Entry{Action: actionRegistrationReject, Actor: op, UserID: g.User,
			Detail: "registration=" + id + " reason=" + req.Reason}
	})
	d, err := a.ra.Reject(ctx, id, op, req.Reason)
	if err != nil {
		return err
	}
	g := *d.Registration
	g.Licence = nil
	writeJSON(w, http.StatusOK, g)
	return nil
}
