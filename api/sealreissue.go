package api

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/ca"
)

// Seal re-issue after a renewal (ca/sealreissue.go): once a renewal takes
// effect (POST /v1/me/credentials/{id}/renew at an internal issuer, POST
// /v1/admin/credentials/{id}/certificate of a renewal's successor at an
// external one), each active seal of the owner bound to the superseded
// certificate is re-issued, one audited write per seal (seal.reissue,
// actor gateway), and the renewal's marker is cleared. What a crash or an
// error leaves is finished at the next start (ResumeSealReissues) or when
// the seal is next offered (scan) or used (confirm), whichever comes
// first; also for a seal that expired meanwhile with the superseded
// certificate (ca/sealreissue.go says which), whose entry then says since
// when it was expired (expired=).

const (
	actionSealReissue = "seal.reissue"
	// actorGateway is the actor of what the gateway does on its own.
	actorGateway = "gateway"
	// sealReissueTimeout bounds the re-issues that follow one renewal,
	// and those a start finishes.
	sealReissueTimeout = time.Minute
)

// Triggers of a re-issue, in its audit entry's detail.
const (
	reissueAfterRenew  = "renew"
	reissueAfterImport = "import"
	reissueAtStart     = "start"
	reissueAtUse       = "use"
)

// reissueSeals re-issues every seal of owner that needs it and, when none
// is left, clears the marker of the renewal of credential (if given). It
// runs even if the request's caller hangs up (the renewal is done), and
// logs what fails: the seal stays as it was, to be re-issued later. It
// returns how many it re-issued.
func (a *API) reissueSeals(ctx context.Context, owner, credential, trigger string) int {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sealReissueTimeout)
	defer cancel()
	ids, err := a.ca.SealsToReissue(ctx, owner)
	if err != nil {
		a.log.ErrorContext(ctx, "listing the seals to re-issue", "user", owner, "err", err)
		return 0
	}
	n := 0
	for _, id := range ids {
		if _, err := a.reissueSeal(ctx, id, trigger); err != nil {
			if !errors.Is(err, ca.ErrSealCurrent) {
				a.log.ErrorContext(ctx, "re-issuing a seal after a renewal", "seal", id, "user", owner, "err", err)
			}
			continue
		}
		n++
	}
	if credential != "" {
		if _, err := a.ca.ClearSealReissue(ctx, owner, credential); err != nil {
			a.log.ErrorContext(ctx, "clearing a seal re-issue marker", "user", owner, "credential", credential, "err", err)
		}
	}
	return n
}

// reissueSeal re-issues one seal with its audit entry.
func (a *API) reissueSeal(ctx context.Context, id, trigger string) (*ca.ReissuedSeal, error) {
	actx := a.audited(ctx, func(res any) audit.Entry {
		r := res.(*ca.ReissuedSeal)
		detail := "seal=" + r.Seal.ID + " version=" + strconv.Itoa(r.Seal.Version) + " replaced=" + strings.Join(r.Replaced, ",") +
			" by=" + strings.Join(r.By, ",")
		if !r.Expired.IsZero() {
			detail += " expired=" + r.Expired.UTC().Format(time.RFC3339)
		}
		return audit.Entry{Action: actionSealReissue, Actor: actorGateway, UserID: r.Seal.Owner, IssuerID: r.Seal.IssuerID,
			CredentialID: r.By[0], Detail: detail + " after=" + trigger}
	})
	return a.ca.ReissueSeal(actx, id)
}

// ResumeSealReissues finishes the re-issues a crash or an error left
// (the markers of renewals whose seals were not all re-issued), bounded
// by a minute; it returns how many seals it re-issued. A node runs it at
// start, before it serves.
func (a *API) ResumeSealReissues(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, sealReissueTimeout)
	defer cancel()
	pending, err := a.ca.PendingSealReissues(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range pending {
		n += a.reissueSeals(ctx, p.Owner, p.Credential, reissueAtStart)
	}
	return n, nil
}

// currentSeal returns sl, or its re-issue when a renewal left it bound to
// a superseded certificate (a crash or an error after the renewal); a
// re-issue that fails leaves sl as it is (logged). check is the request's
// check of the owner's seals (ca.SealReissueCheck: the owner's
// credentials and renewal markers read once for all the seals a request
// looks at).
func (a *API) currentSeal(ctx context.Context, check *ca.SealReissueCheck, sl *ca.Seal) *ca.Seal {
	need, err := check.Needs(ctx, sl)
	if err != nil || !need {
		if err != nil {
			a.log.ErrorContext(ctx, "checking a seal's certificates", "seal", sl.ID, "err", err)
		}
		return sl
	}
	r, err := a.reissueSeal(context.WithoutCancel(ctx), sl.ID, reissueAtUse)
	switch {
	case err == nil:
		return r.Seal
	case errors.Is(err, ca.ErrSealCurrent):
		// Another request or node re-issued it first.
		if cur, err := a.ca.GetSeal(ctx, sl.ID); err == nil {
			return cur
		}
	default:
		a.log.ErrorContext(ctx, "re-issuing a seal at its use", "seal", sl.ID, "user", sl.Owner, "err", err)
	}
	return sl
}
