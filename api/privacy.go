package api

import (
	"net/http"

	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/privacy"
	"github.com/ukeygate/ukeygate/protocol"
)

// The user's privacy rights (docs/privacy.md): the export of every
// personal record (the user's own, device-signed, and the operator's copy
// for a request made to them) and the deletion of the account.

const (
	actionAccountDelete = "account.delete"
	actionUserData      = "user.data"
)

func (a *API) myData(w http.ResponseWriter, r *http.Request) error {
	_, userID, err := a.device(w, r)
	if err != nil {
		return err
	}
	if err := noQuery(r); err != nil {
		return err
	}
	if a.privacy == nil {
		return ErrPrivacyUnavailable
	}
	ex, err := a.privacy.Export(r.Context(), userID)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Disposition", `attachment; filename="ukeygate-my-data.json"`)
	writeJSON(w, http.StatusOK, wirePersonalData(ex))
	return nil
}

func (a *API) adminUserData(w http.ResponseWriter, r *http.Request) error {
	id, err := a.adminPath(w, r, nil, nil)
	if err != nil {
		return err
	}
	if err := noQuery(r); err != nil {
		return err
	}
	if a.privacy == nil {
		return ErrPrivacyUnavailable
	}
	ex, err := a.privacy.Export(r.Context(), id)
	if err != nil {
		return err
	}
	// Handing out a person's records is itself recorded.
	a.auditAction(r.Context(), audit.Entry{Action: actionUserData, Actor: actorAdmin, UserID: id, Outcome: audit.OutcomeOK})
	writeJSON(w, http.StatusOK, wirePersonalData(ex))
	return nil
}

func (a *API) deleteAccount(w http.ResponseWriter, r *http.Request) error {
	body, deviceID, userID, err := a.signedDevice(w, r)
	if err != nil {
		return err
	}
	var req AccountDeleteRequest
	if err := decodeBody(r.Header.Get("Content-Type"), body, &req); err != nil {
		return err
	}
	if a.privacy == nil {
		return ErrPrivacyUnavailable
	}
	entry := audit.Entry{Action: actionAccountDelete, Actor: actorDevice(deviceID), UserID: userID}
	ctx := a.audited(r.Context(), func(any) audit.Entry { return entry })
	rep, err := a.privacy.Delete(ctx, userID, req.PIN)
	if err != nil {
		if !privacy.IsIncomplete(err) {
			a.auditRefusal(r.Context(), entry, err)
		}
		return err
	}
	// The one trace of the user id outside the store: a restore from a
	// backup older than this must redo the deletion (docs/privacy.md).
	a.log.Info("account deleted", "user", rep.Deletion.UserID, "pseudonym", rep.Audit.Pseudonym, "devices", rep.Deletion.Devices)
	writeJSON(w, http.StatusAccepted, protocol.AccountDeleted{
		User: rep.Deletion.UserID, DeletedAt: rep.Deletion.DeletedAt,
		Revoked: rep.Erased.Revoked, AlreadyRevoked: rep.Erased.AlreadyRevoked,
		Credentials: rep.Erased.Credentials, Delegations: rep.Erased.Delegations, Seals: rep.Erased.Seals, Devices: rep.Erased.Devices,
		Sessions: rep.Sessions, Deliveries: rep.Deliveries, AuditErased: rep.Audit.Erased, AuditLegacy: rep.Audit.Legacy,
		Pseudonym: rep.Audit.Pseudonym, Compacted: rep.Compacted, DeviceIDs: append([]string{}, rep.Deletion.Devices...),
	})
	return nil
}

// wirePersonalData is an export as the API answers it.
func wirePersonalData(ex *privacy.Export) protocol.PersonalData {
	d := wireUserDetail(ex.Detail)
	out := protocol.PersonalData{
		ExportedAt: ex.ExportedAt, User: d.User, Devices: d.Devices, Credentials: d.Credentials,
		Seals: []protocol.Seal{}, Delegations: []*protocol.Delegation{}, Sessions: []protocol.PersonalSession{},
		Audit: ex.Audit, Other: ex.Other,
	}
	out.Delegations = append(out.Delegations, ex.Delegations...)
	if out.Devices == nil {
		out.Devices = []*protocol.Device{}
	}
	if out.Credentials == nil {
		out.Credentials = []*protocol.Credential{}
	}
	if out.Audit == nil {
		out.Audit = []protocol.AuditEntry{}
	}
	for _, s := range ex.Seals {
		out.Seals = append(out.Seals, wireSeal(s))
	}
	for _, s := range ex.Sessions {
		out.Sessions = append(out.Sessions, protocol.PersonalSession{
			ID: s.ID, Kind: s.Kind, App: s.AppID, Origin: s.Origin, State: s.State, Device: s.DeviceID,
			Desktop: s.Desktop, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt, EndedAt: s.EndedAt,
		})
	}
	return out
}
