package api

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"

	"github.com/emmansun/gmsm/smx509"

	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/ca"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/protocol"
)

// EncryptRequest is the body of POST /v1/encrypt
// (protocol.EncryptRequest).
type EncryptRequest protocol.EncryptRequest

// Validate checks the request's shape.
func (q *EncryptRequest) Validate() error {
	if err := firstError(required("user", q.User), optionalID("user", q.User), optionalID("issuer", q.Issuer)); err != nil {
		return err
	}
	switch q.Alg {
	case "", string(gmcrypto.AlgSM2), string(gmcrypto.AlgRSA):
	default:
		return invalid("alg", "must be SM2 or RSA")
	}
	if len(q.Data) == 0 {
		return invalid("data", "required (standard base64)")
	}
	return nil
}

func (a *API) encrypt(w http.ResponseWriter, r *http.Request) error {
	app, err := a.portalApp(r)
	if err != nil {
		return err
	}
	var req EncryptRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	cred, cert, err := a.encryptionCredential(ctx, &req)
	if err != nil {
		return err
	}
	der, err := gmcrypto.EnvelopeCMS(req.Data, cert)
	if err != nil {
		return err
	}
	if a.audit != nil {
		if _, err := a.audit.Append(ctx, audit.Entry{
			Action:       "encrypt",
			Actor:        "app:" + app.ID,
			UserID:       cred.UserID,
			CredentialID: cred.ID,
			AppID:        app.ID,
			IssuerID:     cred.IssuerID,
			Digest:       hex.EncodeToString(gmcrypto.SM3(req.Data)),
			Outcome:      audit.OutcomeOK,
		}); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, protocol.EncryptResponse{
		CMS:            der,
		Credential:     cred.ID,
		Issuer:         cred.IssuerID,
		Alg:            string(cred.Alg),
		CertificatePEM: cred.CertificatePEM,
	})
	return nil
}

// encryptionCredential picks the user's newest active encryption
// credential (of the issuer and algorithm asked) whose certificate still
// verifies for encryption against the registered issuers.
func (a *API) encryptionCredential(ctx context.Context, req *EncryptRequest) (*ca.Credential, *smx509.Certificate, error) {
	if _, err := a.ca.User(ctx, req.User); err != nil {
		return nil, nil, err
	}
	if req.Issuer != "" {
		if _, err := a.ca.Issuer(ctx, req.Issuer); err != nil {
			return nil, nil, err
		}
	}
	list, err := a.ca.Credentials(ctx, ca.CredentialFilter{UserID: req.User, IssuerID: req.Issuer, State: ca.StateActive})
	if err != nil {
		return nil, nil, err
	}
	var best *ca.Credential
	now := a.ca.Now()
	for _, c := range list {
		if c.Purpose != ca.PurposeEncrypt || c.Certificate == nil || (req.Alg != "" && string(c.Alg) != req.Alg) {
			continue
		}
		if best != nil && !newer(c, best) {
			continue
		}
		if _, err := a.ca.Verify(ctx, []*smx509.Certificate{c.Certificate}, ca.UsageEncrypt, now); err != nil {
			continue
		}
		best = c
	}
	if best == nil {
		what := "user " + req.User
		if req.Issuer != "" {
			what += " at issuer " + req.Issuer
		}
		if req.Alg != "" {
			what += " for " + req.Alg
		}
		return nil, nil, fmt.Errorf("%w: %s", ErrNoEncryptionCredential, what)
	}
	return best, best.Certificate, nil
}

// newer orders credentials by creation time, then id.
func newer(a, b *ca.Credential) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.After(b.CreatedAt)
	}
	return a.ID > b.ID
}
