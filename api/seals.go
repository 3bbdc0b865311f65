package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/ca"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/seal"
	"github.com/ukeygate/ukeygate/session"
)

// Electronic seals: the operator's registry (POST/GET /v1/admin/seals,
// revoke), the seal source of the confirm of seal sessions, and what the
// phone sees of the user's seals.

// SealRequest is the body of POST /v1/admin/seals (protocol.SealRequest).
type SealRequest protocol.SealRequest

// Validate checks the request's shape; package ca checks the image, the
// size and the owner's credentials.
func (q *SealRequest) Validate() error {
	err := firstError(
		required("owner", q.Owner),
		optionalID("owner", q.Owner),
		required("name", q.Name),
		maxChars("name", q.Name, maxNameLen),
		optionalID("issuer", q.Issuer),
	)
	if err != nil {
		return err
	}
	if !seal.Kind(q.Kind).Valid() {
		return invalid("kind", "must be official, contract, finance, legal_rep or personal")
	}
	if len(q.ImagePNG) == 0 {
		return invalid("image_png", "required (base64 of a transparent PNG)")
	}
	if q.WidthMM == 0 || q.HeightMM == 0 {
		return invalid("width_mm", "width_mm and height_mm are required")
	}
	return nil
}

func (a *API) adminAddSeal(w http.ResponseWriter, r *http.Request) error {
	if err := a.admin.Authorize(r); err != nil {
		return err
	}
	var req SealRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	ctx := a.audited(r.Context(), func(res any) audit.Entry {
		sl := res.(*ca.Seal)
		return audit.Entry{Action: actionSealAdd, Actor: actorAdmin, UserID: sl.Owner, IssuerID: sl.IssuerID,
			Detail: "seal=" + sl.ID + " kind=" + string(sl.Kind)}
	})
	sl, err := a.ca.CreateSeal(ctx, ca.SealRequest{
		Owner: req.Owner, Name: strings.TrimSpace(req.Name), Kind: seal.Kind(req.Kind), ImagePNG: req.ImagePNG,
		WidthMM: req.WidthMM, HeightMM: req.HeightMM, Issuer: req.Issuer, ValidityDays: req.ValidityDays,
	})
	if errors.Is(err, ca.ErrNoSigningCredential) {
		// The operator named the owner: invalid_request naming it, as
		// before no_signing_credential existed (the phone's answer).
		return invalid("owner", "has no active signing credential to bind the seal to")
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, wireSeal(sl))
	return nil
}

func (a *API) adminListSeals(w http.ResponseWriter, r *http.Request) error {
	if err := a.admin.Authorize(r); err != nil {
		return err
	}
	q, err := queryParams(r, "owner")
	if err != nil {
		return err
	}
	owner := q.Get("owner")
	if err := optionalUserID("owner", owner); err != nil {
		return err
	}
	list, err := a.ca.Seals(r.Context(), owner)
	if err != nil {
		return err
	}
	// For one owner, the seals a renewal left bound to a superseded
	// certificate are shown (re-issued at the next start, scan or confirm).
	due := map[string]bool{}
	if owner != "" {
		ids, err := a.ca.SealsToReissue(r.Context(), owner)
		if err != nil {
			return err
		}
		for _, id := range ids {
			due[id] = true
		}
	}
	out := protocol.SealList{Seals: make([]protocol.Seal, 0, len(list))}
	for _, sl := range list {
		ws := wireSeal(sl)
		ws.ReissuePending = due[sl.ID]
		out.Seals = append(out.Seals, ws)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) adminRevokeSeal(w http.ResponseWriter, r *http.Request) error {
	var req RevokeRequest
	id, err := a.adminPath(w, r, a.decodeOptional, &req)
	if err != nil {
		return err
	}
	ctx := a.audited(r.Context(), func(res any) audit.Entry {
		sl := res.(*ca.Seal)
		return audit.Entry{Action: actionSealRevoke, Actor: actorAdmin, UserID: sl.Owner, IssuerID: sl.IssuerID,
			Detail: "seal=" + sl.ID + " reason=" + sl.RevocationReason}
	})
	sl, err := a.ca.RevokeSeal(ctx, id, req.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, wireSeal(sl))
	return nil
}

// caSeals is the session.SealSource over the registry.
type caSeals struct{ a *API }

// Seal returns the user's active seal, its checked image and its parsed
// SES_Seal (whose issuer signature must verify). A seal still bound to a
// certificate a renewal superseded is re-issued first (currentSeal), also
// one that expired with that certificate meanwhile.
func (k caSeals) Seal(ctx context.Context, userID, sealID string) (*session.SealMaterial, *seal.SES, error) {
	check := k.a.ca.SealReissueCheck(userID)
	sl, err := k.a.ca.SealForUse(ctx, userID, sealID)
	if errors.Is(err, ca.ErrSealNotActive) {
		if old, gerr := k.a.ca.GetSeal(ctx, sealID); gerr == nil && old.Owner == userID && old.State == ca.SealExpired &&
			k.a.currentSeal(ctx, check, old) != old {
			sl, err = k.a.ca.SealForUse(ctx, userID, sealID)
		}
	}
	if err != nil {
		return nil, nil, err
	}
	if cur := k.a.currentSeal(ctx, check, sl); cur != sl {
		if sl, err = k.a.ca.SealForUse(ctx, userID, sealID); err != nil {
			return nil, nil, err
		}
	}
	ses, err := seal.Parse(sl.SESSeal)
	if err != nil {
		return nil, nil, fmt.Errorf("api: seal %s: %w", sl.ID, err)
	}
	if err := ses.Verify(); err != nil {
		return nil, nil, fmt.Errorf("api: seal %s: %w", sl.ID, err)
	}
	img, err := seal.CheckPNG(ses.PNG)
	if err != nil {
		return nil, nil, fmt.Errorf("api: seal %s: %w", sl.ID, err)
	}
	return &session.SealMaterial{ID: sl.ID, Image: img, WidthMM: sl.WidthMM, HeightMM: sl.HeightMM, SES: sl.SESSeal}, ses, nil
}

// usableSeals lists the user's active seals that the portal's choice
// allows (all, or the one it named) and that name one of creds.
func (a *API) usableSeals(ctx context.Context, s *session.Session, userID string, creds []*ca.Credential) ([]protocol.ScannedSeal, error) {
	out := []protocol.ScannedSeal{}
	list, err := a.ca.Seals(ctx, userID)
	if err != nil {
		return nil, err
	}
	// One check for all the seals: the user's credentials and renewal
	// markers are read once per scan, not once per seal.
	check := a.ca.SealReissueCheck(userID)
	for _, sl := range list {
		if sl.State == ca.SealRevoked || (s.Request.Seal != "" && sl.ID != s.Request.Seal) {
			continue
		}
		// Still bound to a certificate a renewal superseded: re-issued now
		// (an expired one too, when it expired with that certificate).
		if sl = a.currentSeal(ctx, check, sl); sl.State != ca.SealActive {
			continue
		}
		ses, err := seal.Parse(sl.SESSeal)
		if err != nil {
			continue
		}
		var bound []string
		for _, c := range creds {
			if c.Certificate != nil && ses.AllowsSigner(c.Certificate.Raw) {
				bound = append(bound, c.ID)
			}
		}
		if len(bound) > 0 {
			out = append(out, protocol.ScannedSeal{ID: sl.ID, Name: sl.Name, Kind: sl.Kind, WidthMM: sl.WidthMM, HeightMM: sl.HeightMM, ImagePNG: ses.PNG, Credentials: bound})
		}
	}
	return out, nil
}
