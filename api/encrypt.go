package api

import (
	"encoding/hex"
	"net/http"

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
	ctx := a.audited(r.Context(), func(res any) audit.Entry {
		cred := res.(*ca.Envelope).Credential
		return audit.Entry{Action: "encrypt", Actor: "app:" + app.ID, UserID: cred.UserID, CredentialID: cred.ID,
			AppID: app.ID, IssuerID: cred.IssuerID, Digest: hex.EncodeToString(gmcrypto.SM3(req.Data))}
	})
	env, err := a.ca.Encrypt(ctx, ca.EncryptRequest{UserID: req.User, IssuerID: req.Issuer, Alg: gmcrypto.Alg(req.Alg), Data: req.Data})
	if err != nil {
		return err
	}
	cred := env.Credential
	writeJSON(w, http.StatusOK, protocol.EncryptResponse{
		CMS:            env.CMS,
		Credential:     cred.ID,
		Issuer:         cred.IssuerID,
		Alg:            string(cred.Alg),
		CertificatePEM: cred.CertificatePEM,
	})
	return nil
}
