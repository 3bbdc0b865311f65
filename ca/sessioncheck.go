package ca

import (
	"context"
	"fmt"
	"slices"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

// What a new scan session may name, checked against the CA before the
// session is created (the api's session.Registry).

// CheckIssuerFor checks that issuer id exists (else ErrIssuerNotFound)
// and issues credentials of purpose (else ErrPurposeNotAllowed; an empty
// purpose is any) with alg keys (else ErrAlgNotAllowed; an empty alg is
// any).
func (s *Service) CheckIssuerFor(ctx context.Context, id string, alg gmcrypto.Alg, purpose Purpose) error {
	iss, err := s.Issuer(ctx, id)
	if err != nil {
		return err
	}
	if alg != "" && !slices.Contains(iss.Profile.Algs, alg) {
		return fmt.Errorf("%w: issuer %s does not issue %s keys", ErrAlgNotAllowed, iss.ID, alg)
	}
	if purpose != "" && !slices.Contains(iss.Profile.Purposes, purpose) {
		return fmt.Errorf("%w: issuer %s does not issue %s credentials", ErrPurposeNotAllowed, iss.ID, purpose)
	}
	return nil
}

// CheckSealFor checks that seal id exists (else ErrSealNotFound), is
// active (else ErrSealNotActive; an expired seal that a renewal's
// re-issue will bring back, SealNeedsReissue, counts as active: the scan
// re-issues it) and, when userID is not empty, is that user's (else
// ErrSealNotFound: another's seal is not told apart from a missing one).
func (s *Service) CheckSealFor(ctx context.Context, id, userID string) error {
	sl, err := s.GetSeal(ctx, id)
	if err != nil {
		return err
	}
	if sl.State == SealExpired {
		if due, err := s.SealNeedsReissue(ctx, sl); err != nil {
			return err
		} else if due {
			sl.State = SealActive
		}
	}
	if sl.State != SealActive {
		return fmt.Errorf("%w: %s is %s", ErrSealNotActive, sl.ID, sl.State)
	}
	if userID != "" && sl.Owner != userID {
		return fmt.Errorf("%w: %s is not the requested user's", ErrSealNotFound, sl.ID)
	}
	return nil
}

// ChainBytes is the DER size of issuer id's chain, or, without an
// id, of the longest registered chain: what a session's result may carry
// besides the signer's own certificate (session.CreationBound).
func (s *Service) ChainBytes(ctx context.Context, id string) (int, error) {
	var list []*Issuer
	if id != "" {
		iss, err := s.Issuer(ctx, id)
		if err != nil {
			return 0, err
		}
		list = []*Issuer{iss}
	} else {
		var err error
		if list, err = s.Issuers(ctx); err != nil {
			return 0, err
		}
	}
	most := 0
	for _, iss := range list {
		n := 0
		for _, c := range iss.Chain {
			n += len(c.Raw)
		}
		most = max(most, n)
	}
	return most, nil
}
