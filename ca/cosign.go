package ca

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/emmansun/gmsm/smx509"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/crypto/cosign"
	"github.com/ukeygate/ukeygate/storage"
)

// Cosign credentials (two-party SM2, docs/cosign.md): the gateway keeps
// only its share of the key, wrapped under a key derived from the master
// key alone (the PIN is folded into the phone's share and never checked
// here); the public key is the product of both shares. Such a credential
// cannot be recovered by the gateway: when the phone is lost, it is
// revoked and the user requests a new one.

// purposeCosignShare derives the key that wraps the gateway's shares.
const purposeCosignShare = "cosign-share"

// CredentialModeCosign is Credential.Mode of a two-party credential.
const CredentialModeCosign = "cosign"

// CosignKeyGenBinding is the binding of the phone's key-generation message
// for a credential request of user userID (its proof must be made for it).
func CosignKeyGenBinding(userID string) cosign.Binding {
	return cosign.CredentialRequestBinding(userID)
}

// Errors of cosign credentials.
var (
	// ErrNotCosign: the operation needs a cosign credential.
	ErrNotCosign = errors.New("ca: not a cosign credential")
	// ErrIsCosign: the operation needs the whole key, which a cosign
	// credential never has at the gateway.
	ErrIsCosign = errors.New("ca: a cosign credential has no whole key at the gateway")
)

func (s *Service) shareKEK() ([]byte, error) {
	return gmcrypto.DeriveKey(s.master, purposeCosignShare, nil)
}

func (s *Service) wrapShare(id string, g *cosign.GatewayShare) ([]byte, error) {
	kek, err := s.shareKEK()
	if err != nil {
		return nil, err
	}
	defer gmcrypto.Zero(kek)
	b := g.Bytes()
	defer gmcrypto.Zero(b)
	return gmcrypto.Wrap(kek, b, []byte(credentialKey(id)))
}

func (s *Service) unwrapShare(c *credentialRecord) (*cosign.GatewayShare, error) {
	kek, err := s.shareKEK()
	if err != nil {
		return nil, err
	}
	defer gmcrypto.Zero(kek)
	b, err := gmcrypto.Unwrap(kek, c.WrappedShare, []byte(credentialKey(c.ID)))
	if err != nil {
		return nil, fmt.Errorf("ca: cosign share of %s cannot be unwrapped (wrong master key?): %w", c.ID, err)
	}
	defer gmcrypto.Zero(b)
	return cosign.ParseGatewayShare(b)
}

// cosignKeyGen runs the gateway's half of key generation for a new
// credential id: the share (wrapped) and the public key.
func (s *Service) cosignKeyGen(userID, id string, req *cosign.KeyGenRequest) ([]byte, *ecdsa.PublicKey, error) {
	g, pub, err := cosign.GatewayKeyGen(CosignKeyGenBinding(userID), req)
	if err != nil {
		return nil, nil, invalid("cosign", "the key-generation message does not check")
	}
	w, err := s.wrapShare(id, g)
	if err != nil {
		return nil, nil, err
	}
	return w, pub, nil
}

// CosignShare returns the gateway's share of one of the user's active
// cosign credentials, unless the user's PIN is locked (a *PINError with
// Locked). Errors as UnlockKey, and ErrNotCosign.
//
// The credential's state and the user's lock are confirmed against the
// store by a transaction of conditions alone on the revisions read (as a
// key use does): a copy of either record that is out of date, such as a
// node's cached copy of a record another node just revoked or locked
// (package storage/readcache), fails it and is read again.
func (s *Service) CosignShare(ctx context.Context, userID, credentialID string) (*cosign.GatewayShare, *Credential, error) {
	var (
		g  *cosign.GatewayShare
		cr *Credential
	)
	err := retry(ctx, func() error {
		c, crev, err := s.loadCredential(ctx, credentialID)
		if err != nil {
			return err
		}
		if c.UserID != userID {
			return fmt.Errorf("%w: %s", ErrCredentialNotFound, credentialID)
		}
		if !c.Cosign {
			return fmt.Errorf("%w: %s", ErrNotCosign, c.ID)
		}
		if st := c.state(s.now()); st != StateActive {
			return fmt.Errorf("%w: %s is %s", ErrCredentialNotActive, c.ID, st)
		}
		u, urev, err := s.loadUser(ctx, userID)
		if err != nil {
			return err
		}
		if !u.enrolled() {
			return ErrNotEnrolled
		}
		if now := s.now().UTC(); now.Before(u.LockedUntil) {
			return &PINError{Locked: true, RetryAfter: u.LockedUntil.Sub(now)}
		}
		var b txnBuilder
		b.cond(credentialKey(c.ID), crev)
		b.cond(userKey(u.ID), urev)
		if err := b.commit(ctx, s.store); err != nil {
			return err
		}
		if g, err = s.unwrapShare(c); err != nil {
			return err
		}
		cr, err = c.toCredential(s.now())
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return g, cr, nil
}

// CosignOutcome records the result of a two-party operation of the user
// against the same PIN lockout as a PIN typed at the gateway: ok resets
// the count of wrong tries, a failure (the result did not verify: a wrong
// PIN folded into the phone's share) counts one and returns the *PINError
// the user would get for a wrong PIN (Locked once the lock starts).
func (s *Service) CosignOutcome(ctx context.Context, userID string, ok bool) error {
	var out error
	err := retry(ctx, func() error {
		u, urev, err := s.loadUser(ctx, userID)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		if ok {
			if u.FailedPINs == 0 && u.LockedUntil.IsZero() {
				out = nil
				return nil
			}
			u.FailedPINs, u.LockedUntil, u.LastPINAt = 0, time.Time{}, now
			out = nil
		} else {
			u.FailedPINs++
			lock := s.lockFor(u.FailedPINs)
			if lock > 0 {
				u.LockedUntil = now.Add(lock)
				out = &PINError{Locked: true, RetryAfter: lock}
			} else {
				out = &PINError{Remaining: s.cfg.PINMaxTries - u.FailedPINs}
			}
		}
		var b txnBuilder
		b.cond(userKey(u.ID), urev)
		b.put(userKey(u.ID), u, 0)
		return b.commit(ctx, s.store)
	})
	if err != nil {
		return err
	}
	return out
}

// reshareCredential replaces the wrapped share of cosign credential c with
// the one req gives, after checking it gives back c's public key.
func (s *Service) reshareCredential(c *credentialRecord, req *cosign.ReshareRequest) error {
	if req == nil {
		return invalid("cosign", "no re-share for cosign credential %s: change the PIN on the phone that holds it", c.ID)
	}
	pub, err := gmcrypto.ParsePublicKey(c.PublicKey)
	if err != nil {
		return fmt.Errorf("ca: corrupt credential %s: %w", c.ID, err)
	}
	ecpub, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return fmt.Errorf("ca: corrupt credential %s: not an SM2 key", c.ID)
	}
	g, err := s.unwrapShare(c)
	if err != nil {
		return err
	}
	next, err := g.Reshare(cosign.ReshareBinding(c.ID), ecpub, req)
	if err != nil {
		return invalid("cosign", "the re-share of credential %s does not give back its key (the phone's PIN or share differs)", c.ID)
	}
	w, err := s.wrapShare(c.ID, next)
	if err != nil {
		return err
	}
	c.WrappedShare = w
	return nil
}

// A cosign credential at an external issuer needs a CSR signed with its
// key, which only the phone and the gateway together can do: the
// credential request returns a signing challenge over the CSR's
// CertificationRequestInfo (Credential.CosignChallenge), and the phone's
// answer (FinishCosignCSR) completes the CSR. The exchange's state is kept
// in the record, sealed like the share, and used once.

// purposeCosignCSR separates the sealed CSR exchange from the share.
const cosignCSRLabel = "/cosign-csr"

type csrPending struct {
	TBS   []byte `json:"tbs"`
	State []byte `json:"state"`
}

// tbsCapture is an SM2 "signer" that only records what smx509 would sign
// (the DER CertificationRequestInfo) and refuses.
type tbsCapture struct {
	pub *ecdsa.PublicKey
	tbs []byte
}

var errCaptured = errors.New("ca: captured")

func (k *tbsCapture) Public() crypto.PublicKey { return k.pub }
func (k *tbsCapture) Sign(_ io.Reader, msg []byte, _ crypto.SignerOpts) ([]byte, error) {
	k.tbs = bytes.Clone(msg)
	return nil, errCaptured
}

// oidSM2WithSM3 is the signature algorithm of an SM2 CSR (GM/T 0006).
var oidSM2WithSM3 = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 501}

// startCosignCSR prepares the CSR of cosign credential rec (public key
// pub) and returns the challenge for the phone.
func (s *Service) startCosignCSR(rec *credentialRecord, subject pkix.Name, ku smx509.KeyUsage, pub *ecdsa.PublicKey) (*cosign.Challenge, error) {
	ext, err := keyUsageExtension(ku)
	if err != nil {
		return nil, err
	}
	capture := &tbsCapture{pub: pub}
	tmpl := &smx509.CertificateRequest{Subject: subject, ExtraExtensions: []pkix.Extension{ext}}
	if _, err := smx509.CreateCertificateRequest(rand.Reader, tmpl, capture); !errors.Is(err, errCaptured) || capture.tbs == nil {
		return nil, fmt.Errorf("ca: cosign CSR: %v", err)
	}
	e, err := gmcrypto.Digest(pub, capture.tbs, nil)
	if err != nil {
		return nil, err
	}
	st, err := cosign.GatewaySignStart(cosign.Binding{Session: "csr", Credential: rec.ID, Digest: e})
	if err != nil {
		return nil, err
	}
	raw, err := st.MarshalBinary()
	if err != nil {
		return nil, err
	}
	if err := s.sealCSRPending(rec, &csrPending{TBS: capture.tbs, State: raw}); err != nil {
		return nil, err
	}
	return &cosign.Challenge{Sign: []*cosign.SignStart{st.Start()}}, nil
}

func (s *Service) sealCSRPending(rec *credentialRecord, p *csrPending) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	kek, err := s.shareKEK()
	if err != nil {
		return err
	}
	defer gmcrypto.Zero(kek)
	w, err := gmcrypto.Wrap(kek, b, []byte(credentialKey(rec.ID)+cosignCSRLabel))
	if err != nil {
		return err
	}
	rec.CSRPending = w
	return nil
}

func (s *Service) openCSRPending(rec *credentialRecord) (*csrPending, error) {
	kek, err := s.shareKEK()
	if err != nil {
		return nil, err
	}
	defer gmcrypto.Zero(kek)
	b, err := gmcrypto.Unwrap(kek, rec.CSRPending, []byte(credentialKey(rec.ID)+cosignCSRLabel))
	if err != nil {
		return nil, fmt.Errorf("ca: the CSR exchange of %s does not open: %w", rec.ID, err)
	}
	var p csrPending
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("ca: the CSR exchange of %s is damaged: %w", rec.ID, err)
	}
	return &p, nil
}

// FinishCosignCSR completes the CSR of the user's pending cosign
// credential at an external issuer with the phone's answer to the
// challenge the request returned. The exchange is used once, whatever
// happens. A signature that does not verify counts against the PIN like a
// wrong PIN (*PINError); an answer to another challenge is
// cosign.ErrTranscript. Errors also: ErrCredentialNotFound,
// ErrCredentialNotPending (no CSR exchange pending), ErrNotCosign.
func (s *Service) FinishCosignCSR(ctx context.Context, userID, credentialID string, ans *cosign.Answer) (*Credential, error) {
	var out *Credential
	var verr error
	err := retry(ctx, func() error {
		c, crev, err := s.loadCredential(ctx, credentialID)
		if err != nil {
			return err
		}
		if c.UserID != userID {
			return fmt.Errorf("%w: %s", ErrCredentialNotFound, credentialID)
		}
		if !c.Cosign {
			return fmt.Errorf("%w: %s", ErrNotCosign, c.ID)
		}
		if c.state(s.now()) != StatePending || len(c.CSRPending) == 0 {
			return fmt.Errorf("%w: %s has no CSR exchange pending", ErrCredentialNotPending, c.ID)
		}
		p, err := s.openCSRPending(c)
		if err != nil {
			return err
		}
		// Used once: the record loses the exchange in the same write that
		// stores the CSR, or on its own if the answer fails.
		c.CSRPending = nil
		verr = s.completeCSR(c, p, ans)
		var b txnBuilder
		b.cond(credentialKey(c.ID), crev)
		b.put(credentialKey(c.ID), c, 0)
		cred, err := c.toCredential(s.now())
		if err != nil {
			return err
		}
		commit := b.commit
		if verr == nil { // the CSR is signed: the audited action
			commit = func(ctx context.Context, st storage.Store) error { return b.commitAction(ctx, st, cred) }
		}
		if err := commit(ctx, s.store); err != nil {
			return err
		}
		out = cred
		return nil
	})
	if err != nil {
		return nil, err
	}
	if verr != nil {
		if errors.Is(verr, gmcrypto.ErrVerification) {
			return nil, s.CosignOutcome(ctx, userID, false)
		}
		return nil, verr
	}
	if err := s.CosignOutcome(ctx, userID, true); err != nil {
		return nil, err
	}
	return out, nil
}

// completeCSR finishes the two-party signature over p.TBS and puts the
// CSR in c; crypto.ErrVerification when the signature does not verify.
func (s *Service) completeCSR(c *credentialRecord, p *csrPending, ans *cosign.Answer) error {
	if ans == nil || len(ans.Sign) != 1 || ans.Decrypt != nil {
		return fmt.Errorf("%w: one signature answers a CSR challenge", cosign.ErrTranscript)
	}
	st, err := cosign.ParseSignState(p.State)
	if err != nil {
		return err
	}
	g, err := s.unwrapShare(c)
	if err != nil {
		return err
	}
	pubAny, err := gmcrypto.ParsePublicKey(c.PublicKey)
	if err != nil {
		return err
	}
	pub, ok := pubAny.(*ecdsa.PublicKey)
	if !ok {
		return gmcrypto.ErrKeyMismatch
	}
	sig, err := st.Finish(g, pub, ans.Sign[0])
	if err != nil {
		return err
	}
	der, err := asn1.Marshal(struct {
		TBS asn1.RawValue
		Alg pkix.AlgorithmIdentifier
		Sig asn1.BitString
	}{asn1.RawValue{FullBytes: p.TBS}, pkix.AlgorithmIdentifier{Algorithm: oidSM2WithSM3}, asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}})
	if err != nil {
		return err
	}
	csr, err := smx509.ParseCertificateRequest(der)
	if err != nil || csr.CheckSignature() != nil {
		return fmt.Errorf("ca: the two-party CSR does not check: %v", err)
	}
	c.CSR = der
	return nil
}
