package ca

import (
	"context"
	"fmt"

	"github.com/emmansun/gmsm/smx509"

	"github.com/ukeygate/ukeygate/audit"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

// EncryptRequest asks for a CMS envelope of Data to a user's encryption
// credential: the newest active one whose certificate is valid for
// encryption now, of IssuerID and Alg when given.
type EncryptRequest struct {
	UserID   string
	IssuerID string
	Alg      gmcrypto.Alg
	Data     []byte
}

// Envelope is Data enveloped (CMS EnvelopedData, DER) to Credential.
type Envelope struct {
	CMS        []byte
	Credential *Credential
}

// Encrypt envelopes req.Data to the user's encryption credential. The
// user (ErrUserNotFound) and the issuer, when named (ErrIssuerNotFound),
// must exist; a user without a fitting credential is
// ErrNoEncryptionCredential. The audit entry of ctx's action
// (audit.WithAction; its result is the *Envelope) is recorded before the
// envelope is returned: an encryption that cannot be audited fails.
func (s *Service) Encrypt(ctx context.Context, req EncryptRequest) (*Envelope, error) {
	cred, err := s.encryptionCredential(ctx, req)
	if err != nil {
		return nil, err
	}
	der, err := gmcrypto.EnvelopeCMS(req.Data, cred.Certificate)
	if err != nil {
		return nil, err
	}
	env := &Envelope{CMS: der, Credential: cred}
	if err := audit.CommitEntry(ctx, s.store, env); err != nil {
		return nil, err
	}
	return env, nil
}

// encryptionCredential is the newest active encryption credential of the
// request's user (issuer, algorithm) whose certificate Verify accepts for
// encryption now.
func (s *Service) encryptionCredential(ctx context.Context, req EncryptRequest) (*Credential, error) {
	if _, err := s.User(ctx, req.UserID); err != nil {
		return nil, err
	}
	if req.IssuerID != "" {
		if _, err := s.Issuer(ctx, req.IssuerID); err != nil {
			return nil, err
		}
	}
	list, err := s.Credentials(ctx, CredentialFilter{UserID: req.UserID, IssuerID: req.IssuerID, State: StateActive})
	if err != nil {
		return nil, err
	}
	var best *Credential
	now := s.Now()
	for _, c := range list {
		if c.Purpose != PurposeEncrypt || c.Certificate == nil || (req.Alg != "" && c.Alg != req.Alg) {
			continue
		}
		if best != nil && !newer(c, best) {
			continue
		}
		if _, err := s.Verify(ctx, []*smx509.Certificate{c.Certificate}, UsageEncrypt, now); err != nil {
			continue
		}
		best = c
	}
	if best == nil {
		what := "user " + req.UserID
		if req.IssuerID != "" {
			what += " at issuer " + req.IssuerID
		}
		if req.Alg != "" {
			what += " for " + string(req.Alg)
		}
		return nil, fmt.Errorf("%w: %s", ErrNoEncryptionCredential, what)
	}
	return best, nil
}

// newer orders credentials by creation, then id.
func newer(a, b *Credential) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.After(b.CreatedAt)
	}
	return a.ID > b.ID
}
