package api

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/auth"
	"github.com/ukeygate/ukeygate/ca"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/webapp"
)

func (a *API) adminAddIssuer(w http.ResponseWriter, r *http.Request) error {
	if err := a.admin.Authorize(r); err != nil {
		return err
	}
	var req IssuerRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	ctx := a.audited(r.Context(), func(res any) audit.Entry {
		iss := res.(*ca.Issuer)
		return audit.Entry{Action: actionIssuerAdd, Actor: actorAdmin, IssuerID: iss.ID,
			Detail: "mode=" + string(iss.Mode) + " alg=" + string(iss.Alg)}
	})
	iss, err := a.ca.AddIssuer(ctx, req.caRequest())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, wireIssuer(iss))
	return nil
}

func (a *API) adminListIssuers(w http.ResponseWriter, r *http.Request) error {
	if err := a.admin.Authorize(r); err != nil {
		return err
	}
	if err := noQuery(r); err != nil {
		return err
	}
	return a.renderIssuers(w, r)
}

func (a *API) renderIssuers(w http.ResponseWriter, r *http.Request) error {
	list, err := a.ca.Issuers(r.Context())
	if err != nil {
		return err
	}
	out := protocol.IssuerList{Issuers: make([]protocol.Issuer, 0, len(list))}
	for _, iss := range list {
		out.Issuers = append(out.Issuers, wireIssuer(iss))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) adminAddApp(w http.ResponseWriter, r *http.Request) error {
	if err := a.admin.Authorize(r); err != nil {
		return err
	}
	var req AppRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	if req.Webhook != nil {
		// Refuse a webhook that cannot be registered before the app exists.
		if err := a.webhooksReady(); err != nil {
			return err
		}
		if err := a.webhooks.Check(r.Context(), req.Webhook.URL); err != nil {
			return err
		}
	}
	ctx := a.audited(r.Context(), func(res any) audit.Entry {
		return audit.Entry{Action: actionAppAdd, Actor: actorAdmin, AppID: res.(*auth.App).ID}
	})
	app, key, err := a.apps.Create(ctx, req.Name, req.Origins)
	if err != nil {
		return err
	}
	resp := wireApp(app, key)
	if req.Webhook != nil {
		if resp.Webhook, err = a.setWebhook(r.Context(), app.ID, req.Webhook.URL); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusCreated, resp)
	return nil
}

func (a *API) adminListApps(w http.ResponseWriter, r *http.Request) error {
	if err := a.admin.Authorize(r); err != nil {
		return err
	}
	if err := noQuery(r); err != nil {
		return err
	}
	list, err := a.apps.List(r.Context())
	if err != nil {
		return err
	}
	resp := protocol.AppList{Apps: make([]protocol.App, 0, len(list))}
	for _, app := range list {
		resp.Apps = append(resp.Apps, wireApp(app, ""))
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (a *API) adminAddUser(w http.ResponseWriter, r *http.Request) error {
	if err := a.admin.Authorize(r); err != nil {
		return err
	}
	var req UserRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	ctx := a.audited(r.Context(), func(res any) audit.Entry {
		return audit.Entry{Action: actionUserAdd, Actor: actorAdmin, UserID: res.(*ca.User).ID}
	})
	u, code, err := a.ca.AddUser(ctx, ca.UserRequest{
		Name:         strings.TrimSpace(req.Name),
		IDNumber:     req.IDNumber,
		Phone:        req.Phone,
		Organization: req.Organization,
		Kind:         req.Kind,
		CreditCode:   req.CreditCode,
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, a.withCode(u, code))
	return nil
}

func (a *API) adminListUsers(w http.ResponseWriter, r *http.Request) error {
	if err := a.admin.Authorize(r); err != nil {
		return err
	}
	if err := noQuery(r); err != nil {
		return err
	}
	list, err := a.ca.Users(r.Context())
	if err != nil {
		return err
	}
	out := protocol.UserList{Users: make([]protocol.User, 0, len(list))}
	for _, u := range list {
		out.Users = append(out.Users, *u)
	}
	// Every user's name, ID number and phone at once: audited as one
	// entry (who, how many), or looking at one record (user.view) would
	// leave a trace that listing them all would not.
	a.auditAction(r.Context(), audit.Entry{Action: actionUserList, Actor: actorAdmin, Outcome: audit.OutcomeOK, Detail: "users=" + strconv.Itoa(len(out.Users))})
	writeJSON(w, http.StatusOK, out)
	return nil
}

// credentialFilter reads ?state=&user=&issuer= .
func credentialFilter(r *http.Request) (ca.CredentialFilter, error) {
	q := r.URL.Query()
	for k := range q {
		switch k {
		case "state", "user", "issuer", "expiring":
			if len(q[k]) > 1 {
				return ca.CredentialFilter{}, invalid(k, "given more than once")
			}
		default:
			return ca.CredentialFilter{}, invalid(k, "unknown query parameter")
		}
	}
	f := ca.CredentialFilter{UserID: q.Get("user"), IssuerID: q.Get("issuer"), State: ca.State(q.Get("state"))}
	switch f.State {
	case "", ca.StatePending, ca.StateActive, ca.StateRevoked, ca.StateExpired, ca.StateSuperseded:
	default:
		return f, invalid("state", "must be pending, active, revoked, expired or superseded")
	}
	if err := firstError(optionalUserID("user", f.UserID), optionalID("issuer", f.IssuerID)); err != nil {
		return f, err
	}
	if v := q.Get("expiring"); v != "" {
		d, err := parseDays(v)
		if err != nil {
			return f, invalid("expiring", "%v", err)
		}
		f.ExpiringWithin = d
	}
	return f, nil
}

// maxExpiringDays bounds the expiring= filter.
const maxExpiringDays = 3660

// parseDays reads a number of days ("30d" or "30") as a duration, 1 to
// maxExpiringDays days.
func parseDays(v string) (time.Duration, error) {
	n, err := strconv.Atoi(strings.TrimSuffix(v, "d"))
	if err != nil || n < 1 || n > maxExpiringDays || len(v) > 5 {
		return 0, fmt.Errorf("must be a number of days, 1 to %d (like 30d)", maxExpiringDays)
	}
	return time.Duration(n) * 24 * time.Hour, nil
}

func (a *API) adminListCredentials(w http.ResponseWriter, r *http.Request) error {
	if err := a.admin.Authorize(r); err != nil {
		return err
	}
	f, err := credentialFilter(r)
	if err != nil {
		return err
	}
	return a.renderCredentials(w, r, f)
}

func (a *API) renderCredentials(w http.ResponseWriter, r *http.Request, f ca.CredentialFilter) error {
	list, err := a.ca.Credentials(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, protocol.CredentialList{Credentials: wireCredentials(list)})
	return nil
}

// pathID is the {id} of the route, checked to be an id.
func pathID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if !ca.ValidID(id) {
		return "", invalid("id", "not an id")
	}
	return id, nil
}

// adminPath starts an operator action on the resource of the route's
// {id}, in the order every such handler checks: the operator's token, the
// {id}, then the body, which decode (a.decode, or a.decodeOptional where
// the body may be absent) reads into req and validates; a nil req means
// the route reads no body. It returns the id.
func (a *API) adminPath(w http.ResponseWriter, r *http.Request,
	decode func(http.ResponseWriter, *http.Request, validator) error, req validator) (string, error) {
	if err := a.admin.Authorize(r); err != nil {
		return "", err
	}
	id, err := pathID(r)
	if err != nil {
		return "", err
	}
	if req != nil {
		if err := decode(w, r, req); err != nil {
			return "", err
		}
	}
	return id, nil
}

func (a *API) adminImportCertificate(w http.ResponseWriter, r *http.Request) error {
	var req ImportRequest
	id, err := a.adminPath(w, r, a.decode, &req)
	if err != nil {
		return err
	}
	ctx := a.audited(r.Context(), func(res any) audit.Entry {
		c := res.(*ca.Credential)
		return audit.Entry{Action: actionCredentialImport, Actor: actorAdmin, UserID: c.UserID,
			CredentialID: c.ID, IssuerID: c.IssuerID, Detail: "serial=" + c.Serial}
	})
	c, err := a.ca.ImportCertificate(ctx, id, []byte(req.CertificatePEM))
	if err != nil {
		return err
	}
	if c.Supersedes != "" {
		// A renewal's successor: the renewal is in effect now.
		a.reissueSeals(r.Context(), c.UserID, c.Supersedes, reissueAfterImport)
	}
	writeJSON(w, http.StatusOK, wireCredentialCreated(c))
	return nil
}

func (a *API) adminRevoke(w http.ResponseWriter, r *http.Request) error {
	var req RevokeRequest
	id, err := a.adminPath(w, r, a.decode, &req)
	if err != nil {
		return err
	}
	ctx := a.audited(r.Context(), func(res any) audit.Entry {
		c := res.(*ca.Credential)
		return audit.Entry{Action: actionCredentialRevoke, Actor: actorAdmin, UserID: c.UserID,
			CredentialID: c.ID, IssuerID: c.IssuerID, Detail: "reason=" + c.RevocationReason}
	})
	c, err := a.ca.Revoke(ctx, id, req.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, wireCredentialCreated(c))
	return nil
}

// withCode is the answer that hands out an activation code, with its
// enrollment link under the public URL.
func (a *API) withCode(u *ca.User, code string) protocol.UserActivation {
	return protocol.UserActivation{User: *u, ActivationCode: code, EnrollmentURL: webapp.EnrollmentURL(a.publicURL, code)}
}
