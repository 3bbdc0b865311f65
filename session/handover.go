package session

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/emmansun/gmsm/smx509"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/protocol"
)

// The certificate session (KindCertificate): the phone user chooses which
// of their certificates to hand to the portal, confirms with the matching
// code and no PIN (nothing secret is used; the request is still signed by
// the device bound at the scan), and the result carries the chosen
// certificates and the user's id. Each certificate handed over is audited
// as a key-less use of its credential (action "certificate", digest SM3
// of the certificate).

// MaxHandover bounds the certificates one certificate session hands over.
const MaxHandover = 8

// HandOver is the confirm of a certificate session: Step and Confirm
// come here for that kind. req.Credentials (or req.CredentialID alone)
// names 1 to MaxHandover distinct credentials of req.UserID, each active
// and fitting the session's issuer and alg; req.PIN must be empty
// (ErrPINNotExpected).
func (c *Confirmer) handOver(ctx context.Context, s *Session, req ConfirmRequest) (*KeyUse, *Output, error) {
	ids := slices.Clone(req.CredentialIDs)
	if len(ids) == 0 && req.CredentialID != "" {
		ids = []string{req.CredentialID}
	}
	use := KeyUse{Session: s, DeviceID: req.DeviceID}
	if c.Admit != nil {
		if err := c.Admit(ctx, s); err != nil {
			return nil, nil, err
		}
	}
	if err := CheckCode(s, req.Code); err != nil {
		c.recordFailure(ctx, use, DetailWrongCode)
		return nil, nil, err
	}
	switch {
	case req.PIN != "":
		return nil, nil, fmt.Errorf("%w: a certificate session uses no key", ErrPINNotExpected)
	case len(ids) == 0 || len(ids) > MaxHandover:
		return nil, nil, fmt.Errorf("%w: choose 1 to %d certificates", ErrInvalidArgument, MaxHandover)
	}
	res := protocol.CertificateResult{User: req.UserID, Certificates: make([]protocol.HandedCertificate, 0, len(ids))}
	var uses []KeyUse
	for i, id := range ids {
		if slices.Contains(ids[:i], id) {
			return nil, nil, fmt.Errorf("%w: credential %s chosen twice", ErrInvalidArgument, id)
		}
		cred, err := c.Keys.Credential(ctx, req.UserID, id)
		if err != nil {
			return nil, nil, err
		}
		if cred.Delegation != nil {
			return nil, nil, fmt.Errorf("%w: a delegation does not hand over certificates", ErrDelegationScope)
		}
		if !CredentialFits(s, cred.IssuerID, cred.Alg, cred.Purpose) || cred.Superseded {
			return nil, nil, fmt.Errorf("%w: %s (%s %s %s)", ErrCredentialMismatch, cred.ID, cred.IssuerID, cred.Alg, cred.Purpose)
		}
		res.Certificates = append(res.Certificates, protocol.HandedCertificate{
			Credential: cred.ID, Issuer: cred.IssuerID, Alg: cred.Alg, Purpose: cred.Purpose,
			CertificatePEM: string(gmcrypto.EncodeCertificatesPEM(append([]*smx509.Certificate{cred.Certificate}, cred.Chain...)...)),
		})
		uses = append(uses, KeyUse{Session: s, DeviceID: req.DeviceID, CredentialID: cred.ID, IssuerID: cred.IssuerID,
			Digest: gmcrypto.SM3(cred.Certificate.Raw), OK: true})
	}
	b, err := json.Marshal(res)
	if err != nil {
		return nil, nil, fmt.Errorf("session: encode result: %w", err)
	}
	if err := c.Sessions.CheckConfirm(ctx, s, len(b)); err != nil {
		return nil, nil, err
	}
	for _, u := range uses {
		if err := c.record(ctx, u); err != nil {
			return nil, nil, err
		}
	}
	first := uses[0]
	return &first, &Output{Result: b, Digest: first.Digest}, nil
}
