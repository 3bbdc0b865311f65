package ca

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/emmansun/gmsm/smx509"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/crypto/cosign"
	"github.com/ukeygate/ukeygate/storage"
)

// credentialRecord is what credentials/<id> holds.
type credentialRecord struct {
	ID       string       `json:"id"`
	UserID   string       `json:"user"`
	IssuerID string       `json:"issuer"`
	Alg      gmcrypto.Alg `json:"alg"`
	RSABits  int          `json:"rsa_bits,omitempty"`
	Purpose  Purpose      `json:"purpose"`
	// PublicKey is the SubjectPublicKeyInfo DER of the key pair.
	PublicKey []byte `json:"public_key"`
	// WrappedKey is the PKCS#8 private key wrapped under the user's PIN key
	// with the record key as associated data.
	WrappedKey []byte `json:"wrapped_key"`
	// Cosign marks a two-party credential: no WrappedKey, and WrappedShare
	// holds the gateway's share wrapped under the master key (cosign.go).
	Cosign       bool   `json:"cosign,omitempty"`
	WrappedShare []byte `json:"wrapped_share,omitempty"`
	// HolderDevice is the device that made a cosign credential (it holds
	// the phone's share).
	HolderDevice string `json:"holder_device,omitempty"`
	// KeyGenCommit is the proof commitment T of the key-generation
	// message that made a cosign credential: a random point, nothing of
	// either share, by which a phone whose answer was lost finds the
	// credential its seed belongs to.
	KeyGenCommit []byte `json:"keygen_commit,omitempty"`
	// CSRPending is the sealed two-party signing exchange of the CSR of a
	// cosign credential at an external issuer (until the phone answers).
	CSRPending []byte `json:"csr_pending,omitempty"`
	// challenge is that exchange's first message, returned once by
	// CreateCredential (not stored).
	challenge        *cosign.Challenge
	CSR              []byte    `json:"csr,omitempty"`
	Certificate      []byte    `json:"certificate,omitempty"`
	Serial           string    `json:"serial,omitempty"`
	NotBefore        time.Time `json:"not_before,omitzero"`
	NotAfter         time.Time `json:"not_after,omitzero"`
	CreatedAt        time.Time `json:"created_at"`
	RevokedAt        time.Time `json:"revoked_at,omitzero"`
	RevocationReason string    `json:"revocation_reason,omitempty"`
	// SupersededBy is the credential that renewed this one.
	SupersededBy string    `json:"superseded_by,omitempty"`
	SupersededAt time.Time `json:"superseded_at,omitzero"`
	// Supersedes is the credential this one renews (renew.go); while this
	// one is pending at an external issuer, that one's RenewalPending names
	// it.
	Supersedes     string `json:"supersedes,omitempty"`
	RenewalPending string `json:"renewal_pending,omitempty"`
	// Escrow is the escrow copy (escrow.go): the PKCS#8 key bound to the
	// id, SM2-encrypted to the escrow key EscrowID. Nothing in the store
	// opens it.
	Escrow   []byte `json:"escrow,omitempty"`
	EscrowID string `json:"escrow_id,omitempty"`
	// AwaitingRecovery: after a PIN reset (ResetPIN) WrappedKey is under a
	// PIN that no longer exists; the key comes back from its escrow copy
	// (FinishRecovery).
	AwaitingRecovery bool `json:"awaiting_recovery,omitempty"`
}

// state computes the credential's state at now.
func (c *credentialRecord) state(now time.Time) State {
	switch {
	case !c.RevokedAt.IsZero():
		return StateRevoked
	case c.SupersededBy != "":
		return StateSuperseded
	case len(c.Certificate) == 0:
		return StatePending
	case now.After(c.NotAfter):
		return StateExpired
	default:
		return StateActive
	}
}

func (c *credentialRecord) toCredential(now time.Time) (*Credential, error) {
	out := &Credential{
		ID: c.ID, UserID: c.UserID, IssuerID: c.IssuerID, Alg: c.Alg, RSABits: c.RSABits, Purpose: c.Purpose,
		State: c.state(now), CSRPEM: pemBlock("CERTIFICATE REQUEST", c.CSR),
		Serial:    c.Serial,
		NotBefore: c.NotBefore, NotAfter: c.NotAfter, CreatedAt: c.CreatedAt,
		RevokedAt: c.RevokedAt, RevocationReason: c.RevocationReason,
		Supersedes: c.Supersedes, SupersededBy: c.SupersededBy, SupersededAt: c.SupersededAt,
		RenewalPending: c.RenewalPending,
		Escrowed:       len(c.Escrow) > 0, AwaitingRecovery: c.AwaitingRecovery,
	}
	if c.Cosign {
		out.Mode, out.HolderDevice, out.KeyGenCommit = CredentialModeCosign, c.HolderDevice, c.KeyGenCommit
	}
	if len(c.Certificate) > 0 {
		cert, certPEM, err := parseCertMemo(c.Certificate)
		if err != nil {
			return nil, fmt.Errorf("ca: corrupt credential %s: %w", c.ID, err)
		}
		out.Certificate, out.CertificatePEM = cert, certPEM
	}
	return out, nil
}

// slotRecord is what credslots/<user>/<issuer>/<alg>/<purpose> holds: the
// credential that occupies it, so that a user holds at most one active or
// pending credential per issuer, algorithm and purpose.
type slotRecord struct {
	CredentialID string `json:"credential"`
}

// serialRecord is what serials/<issuer>/<serial> holds.
type serialRecord struct {
	CredentialID string `json:"credential"`
	UserID       string `json:"user"`
}

// checkRenewalWaiting is ErrCredentialExists when the user's slot
// (issuer, alg, purpose) holds a renewal successor that waits for its
// certificate at an external issuer: its predecessor, revoked or expired
// meanwhile, no longer holds the slot, but the successor takes it when
// its certificate is imported.
func (s *Service) checkRenewalWaiting(ctx context.Context, userID, issuerID string, alg gmcrypto.Alg, purpose Purpose) error {
	creds, err := s.userCredentials(ctx, userID)
	if err != nil {
		return err
	}
	now := s.now()
	for _, c := range creds {
		if c.rec.Supersedes != "" && c.rec.IssuerID == issuerID && c.rec.Alg == alg && c.rec.Purpose == purpose &&
			c.rec.state(now) == StatePending {
			return fmt.Errorf("%w: %s (pending renewal of %s)", ErrCredentialExists, c.rec.ID, c.rec.Supersedes)
		}
	}
	return nil
}

// maxCredentialsPerUser keeps a PIN change (2 ops per credential plus 2)
// within one storage transaction (storage.MaxTxnOps).
const maxCredentialsPerUser = (storage.MaxTxnOps - 8) / 2

// CreateCredential generates a key pair for the user at the issuer,
// wrapped under the user's PIN key. For an internal issuer the certificate
// is issued at once (state active); for an external one the credential is
// pending with its CSR. Errors: ErrUserNotFound, ErrNotEnrolled,
// ErrIssuerNotFound, ErrAlgNotAllowed, ErrPurposeNotAllowed,
// ErrCredentialExists, ErrCredentialLimit, a *RequestError (a subject field
// the profile needs), and the PIN errors (*PINError).
func (s *Service) CreateCredential(ctx context.Context, req CredentialRequest) (*Credential, error) {
	if req.Purpose != PurposeSign && req.Purpose != PurposeEncrypt {
		return nil, fmt.Errorf("%w: %q is not sign or encrypt", ErrPurposeNotAllowed, req.Purpose)
	}
	if req.Alg != gmcrypto.AlgSM2 && req.Alg != gmcrypto.AlgRSA {
		return nil, fmt.Errorf("%w: %q", ErrAlgNotAllowed, req.Alg)
	}
	if req.Cosign != nil && req.Alg != gmcrypto.AlgSM2 {
		return nil, fmt.Errorf("%w: a cosign credential is SM2", ErrAlgNotAllowed)
	}
	iss, _, err := s.loadIssuer(ctx, req.IssuerID)
	if err != nil {
		return nil, err
	}
	prof := iss.Profile
	if !slices.Contains(prof.Algs, req.Alg) {
		return nil, fmt.Errorf("%w: issuer %s allows %v", ErrAlgNotAllowed, iss.ID, prof.Algs)
	}
	bits := 0
	if req.Alg == gmcrypto.AlgRSA {
		bits = req.RSABits
		if bits == 0 && len(prof.RSABits) > 0 {
			bits = prof.RSABits[0]
		}
		if !slices.Contains(prof.RSABits, bits) {
			return nil, fmt.Errorf("%w: RSA %d bits; issuer %s allows %v", ErrAlgNotAllowed, bits, iss.ID, prof.RSABits)
		}
	} else if req.RSABits != 0 {
		return nil, invalid("rsa_bits", "only for RSA")
	}
	if !slices.Contains(prof.Purposes, req.Purpose) {
		return nil, fmt.Errorf("%w: issuer %s allows %v", ErrPurposeNotAllowed, iss.ID, prof.Purposes)
	}
	issChain, err := parseChainDER(iss.Chain)
	if err != nil {
		return nil, err
	}
	if s.now().After(issChain[0].NotAfter) {
		return nil, fmt.Errorf("%w: the issuer's own certificate has expired", ErrCertificateExpired)
	}
	escrowed := req.Purpose == PurposeEncrypt && prof.Escrow
	if escrowed && req.Cosign != nil {
		return nil, fmt.Errorf("%w: issuer %s escrows encryption keys", ErrEscrowCosign, iss.ID)
	}

	var out *Credential
	err = retry(ctx, func() error {
		var esc *escrowKeyRecord
		var escRev int64
		if escrowed {
			if esc, escRev, err = s.loadEscrowRev(ctx); err != nil {
				return fmt.Errorf("%w: issuer %s escrows encryption keys", err, iss.ID)
			}
		}
		u, urev, err := s.loadUser(ctx, req.UserID)
		if err != nil {
			return err
		}
		if !u.enrolled() {
			return ErrNotEnrolled
		}
		subject, err := userSubject(u, prof)
		if err != nil {
			return err
		}
		sk := slotKey(u.ID, iss.ID, req.Alg, req.Purpose)
		var slot slotRecord
		slotRev, err := s.getJSON(ctx, sk, &slot)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		if err == nil {
			// The slot is free again once its credential has expired (revoke
			// deletes the slot).
			if c, crev, err := s.loadCredential(ctx, slot.CredentialID); err == nil {
				if st := c.state(s.now()); st == StateActive || st == StatePending {
					if repeatsCosignCreation(c, req) {
						cred, err := s.repeatCosignCreation(ctx, c, crev, u, urev, subject, req)
						out = cred
						return err
					}
					return fmt.Errorf("%w: %s (%s)", ErrCredentialExists, c.ID, st)
				}
			} else if !errors.Is(err, ErrCredentialNotFound) {
				return err
			}
		}
		if err := s.checkRenewalWaiting(ctx, u.ID, iss.ID, req.Alg, req.Purpose); err != nil {
			return err
		}
		// Credentials and delegations granted to the user: a PIN change
		// re-wraps them all in one transaction.
		if err := s.checkRewrapLimit(ctx, u.ID, 1); err != nil {
			return err
		}
		pinKey, err := s.checkPIN(ctx, u, urev, req.PIN)
		if err != nil {
			return err
		}
		defer gmcrypto.Zero(pinKey)

		rec, err := s.newCredential(iss, issChain, u, subject, req.Alg, bits, req.Purpose, pinKey, req.Cosign, esc)
		if err != nil {
			return err
		}
		if rec.Cosign {
			rec.HolderDevice, rec.KeyGenCommit = req.DeviceID, bytes.Clone(req.Cosign.ProofT)
		}
		var b txnBuilder
		if esc != nil {
			b.cond(escrowKeyKey, escRev) // a rotation in between: again, under the new key
		}
		b.cond(userKey(u.ID), urev)
		b.put(userKey(u.ID), u, 0)
		b.cond(sk, slotRev)
		b.put(sk, &slotRecord{CredentialID: rec.ID}, 0)
		b.cond(credentialKey(rec.ID), 0)
		b.put(credentialKey(rec.ID), rec, 0)
		b.put(userCredKey(u.ID, rec.ID), struct{}{}, 0)
		if len(rec.Certificate) > 0 {
			b.cond(serialKey(iss.ID, rec.Serial), 0)
			b.put(serialKey(iss.ID, rec.Serial), &serialRecord{CredentialID: rec.ID, UserID: u.ID}, 0)
		}
		cred, err := rec.toCredential(s.now())
		if err != nil {
			return err
		}
		cred.CosignChallenge = rec.challenge
		if err := b.commitAction(ctx, s.store, cred); err != nil {
			return err
		}
		out = cred
		return nil
	})
	return out, err
}

// repeatsCosignCreation reports whether req may be the repeat of the
// request that made c, a cosign credential holding the slot req asks for:
// a cosign request from the device that made c (c no renewal). Whether it
// is (the same phone share) is repeatCosignCreation's to check.
func repeatsCosignCreation(c *credentialRecord, req CredentialRequest) bool {
	return req.Cosign != nil && c.Cosign && req.DeviceID != "" && c.HolderDevice == req.DeviceID && c.Supersedes == ""
}

// repeatCosignCreation answers a cosign credential request repeated by
// the phone that made c (its first answer lost): after the PIN check
// (a wrong PIN is refused and counted as for any request), a message
// from the phone share c was made with (cosign.GatewayShare.MadeFrom)
// gets c again, marked Repeated; any other is ErrCredentialExists, with
// nothing changed. At an external issuer whose CSR the phone has not
// signed yet, the answer carries a new CSR challenge (the lost one's
// exchange, or one a failed answer used up, is replaced). Nothing is
// audited: c's creation was.
func (s *Service) repeatCosignCreation(ctx context.Context, c *credentialRecord, crev int64, u *userRecord, urev int64, subject pkix.Name, req CredentialRequest) (*Credential, error) {
	pinKey, err := s.checkPIN(ctx, u, urev, req.PIN)
	if err != nil {
		return nil, err
	}
	gmcrypto.Zero(pinKey)
	pubAny, err := gmcrypto.ParsePublicKey(c.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("ca: corrupt credential %s: %w", c.ID, err)
	}
	pub, ok := pubAny.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("ca: corrupt credential %s: not an SM2 key", c.ID)
	}
	g, err := s.unwrapShare(c)
	if err != nil {
		return nil, err
	}
	err = g.MadeFrom(CosignKeyGenBinding(u.ID), pub, req.Cosign)
	switch {
	case errors.Is(err, gmcrypto.ErrVerification), errors.Is(err, cosign.ErrMalformed):
		return nil, fmt.Errorf("%w: %s (%s)", ErrCredentialExists, c.ID, c.state(s.now()))
	case err != nil:
		return nil, err
	}
	var b txnBuilder
	b.cond(userKey(u.ID), urev)
	if !u.pinUnchanged {
		b.put(userKey(u.ID), u, 0) // the PIN check's reset of the count
	}
	b.cond(credentialKey(c.ID), crev)
	var ch *cosign.Challenge
	if len(c.Certificate) == 0 && len(c.CSR) == 0 {
		if ch, err = s.startCosignCSR(c, subject, keyUsageFor(c.Purpose, gmcrypto.AlgSM2), pub); err != nil {
			return nil, err
		}
		b.put(credentialKey(c.ID), c, 0)
	}
	if err := b.commit(ctx, s.store); err != nil {
		return nil, err
	}
	cred, err := c.toCredential(s.now())
	if err != nil {
		return nil, err
	}
	cred.CosignChallenge, cred.Repeated = ch, true
	return cred, nil
}

// newCredential generates the key, wraps it and issues the certificate
// (internal issuer) or the CSR (external).
//
// With esc set, the key is also escrowed (escrowCopy).
func (s *Service) newCredential(iss *issuerRecord, issChain []*smx509.Certificate, u *userRecord, subject pkix.Name, alg gmcrypto.Alg, bits int, purpose Purpose, pinKey []byte, kg *cosign.KeyGenRequest, esc *escrowKeyRecord) (*credentialRecord, error) {
	id, err := newID(prefixCredential)
	if err != nil {
		return nil, err
	}
	if kg != nil {
		return s.newCosignCredential(id, iss, issChain, u, subject, purpose, kg)
	}
	key, err := gmcrypto.GenerateKey(alg, bits)
	if err != nil {
		return nil, err
	}
	defer gmcrypto.ZeroKey(key)
	pubDER, err := gmcrypto.MarshalPublicKey(key.Public())
	if err != nil {
		return nil, err
	}
	der, err := gmcrypto.MarshalPrivateKey(key)
	if err != nil {
		return nil, err
	}
	wrapped, err := gmcrypto.Wrap(pinKey, der, []byte(credentialKey(id)))
	if err != nil {
		gmcrypto.Zero(der)
		return nil, err
	}
	now := s.now().UTC()
	rec := &credentialRecord{
		ID: id, UserID: u.ID, IssuerID: iss.ID, Alg: alg, RSABits: bits, Purpose: purpose,
		PublicKey: pubDER, WrappedKey: wrapped, CreatedAt: now,
	}
	if esc != nil {
		if rec.Escrow, err = escrowCopy(esc, id, der); err != nil {
			gmcrypto.Zero(der)
			return nil, err
		}
		rec.EscrowID = esc.ID
	}
	gmcrypto.Zero(der)
	ku := keyUsageFor(purpose, alg)
	if iss.Mode == ModeExternal {
		csr, err := createCSR(subject, ku, key)
		if err != nil {
			return nil, err
		}
		rec.CSR = csr
		return rec, nil
	}

	if err := s.issueCert(rec, iss, issChain, subject, ku, key.Public(), now); err != nil {
		return nil, err
	}
	return rec, nil
}

// issueCert issues the certificate of rec's public key pub at an
// internal issuer and records it in rec.
func (s *Service) issueCert(rec *credentialRecord, iss *issuerRecord, issChain []*smx509.Certificate, subject pkix.Name, ku smx509.KeyUsage, pub crypto.PublicKey, now time.Time) error {
	signer, err := s.issuerSigner(iss)
	if err != nil {
		return err
	}
	defer gmcrypto.ZeroKey(signer)
	serial, err := newSerial()
	if err != nil {
		return err
	}
	ski, err := subjectKeyID(pub)
	if err != nil {
		return err
	}
	notAfter := now.AddDate(0, 0, iss.Profile.ValidityDays)
	if notAfter.After(issChain[0].NotAfter) {
		notAfter = issChain[0].NotAfter
	}
	tmpl := &smx509.Certificate{
		SerialNumber:          serial,
		Subject:               subject,
		NotBefore:             now.Add(-backdate),
		NotAfter:              notAfter,
		KeyUsage:              ku,
		BasicConstraintsValid: true,
		SubjectKeyId:          ski,
		CRLDistributionPoints: []string{s.cfg.crlURL(iss.ID)},
	}
	cert, err := createCert(tmpl, issChain[0], pub, signer)
	if err != nil {
		return err
	}
	rec.Certificate = cert.Raw
	rec.Serial = serialHex(cert.SerialNumber)
	rec.NotBefore, rec.NotAfter = cert.NotBefore, cert.NotAfter
	return nil
}

// newCosignCredential makes a two-party credential: the gateway's half of
// key generation, then the certificate of the joint public key (internal
// issuer) or the CSR (external).
func (s *Service) newCosignCredential(id string, iss *issuerRecord, issChain []*smx509.Certificate, u *userRecord, subject pkix.Name, purpose Purpose, kg *cosign.KeyGenRequest) (*credentialRecord, error) {
	wrapped, pub, err := s.cosignKeyGen(u.ID, id, kg)
	if err != nil {
		return nil, err
	}
	pubDER, err := gmcrypto.MarshalPublicKey(pub)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	rec := &credentialRecord{
		ID: id, UserID: u.ID, IssuerID: iss.ID, Alg: gmcrypto.AlgSM2, Purpose: purpose,
		PublicKey: pubDER, Cosign: true, WrappedShare: wrapped, CreatedAt: now,
	}
	ku := keyUsageFor(purpose, gmcrypto.AlgSM2)
	if iss.Mode == ModeExternal {
		ch, err := s.startCosignCSR(rec, subject, ku, pub)
		if err != nil {
			return nil, err
		}
		rec.challenge = ch
		return rec, nil
	}
	if err := s.issueCert(rec, iss, issChain, subject, ku, pub, now); err != nil {
		return nil, err
	}
	return rec, nil
}

// loadCredential reads a credential record; an unknown or malformed id is
// ErrCredentialNotFound.
func (s *Service) loadCredential(ctx context.Context, id string) (*credentialRecord, int64, error) {
	return loadRecord[credentialRecord](ctx, s, credentialKey(id), id, ErrCredentialNotFound)
}

// Credential returns one credential (ErrCredentialNotFound if unknown).
func (s *Service) Credential(ctx context.Context, id string) (*Credential, error) {
	c, _, err := s.loadCredential(ctx, id)
	if err != nil {
		return nil, err
	}
	return c.toCredential(s.now())
}

type credAtRev struct {
	rec *credentialRecord
	rev int64
}

// userCredentials reads every credential of a user with its revision.
func (s *Service) userCredentials(ctx context.Context, userID string) ([]credAtRev, error) {
	prefix := pfxUserCreds + userID + "/"
	idx, _, err := s.store.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	out := make([]credAtRev, 0, len(idx))
	for _, kv := range idx {
		c, rev, err := s.loadCredential(ctx, strings.TrimPrefix(kv.Key, prefix))
		if err != nil {
			return nil, err
		}
		out = append(out, credAtRev{c, rev})
	}
	return out, nil
}

// Credentials lists the credentials the filter selects, sorted by id. A
// State other than the four known ones is a *RequestError (field "state").
func (s *Service) Credentials(ctx context.Context, f CredentialFilter) ([]*Credential, error) {
	switch f.State {
	case "", StatePending, StateActive, StateRevoked, StateExpired, StateSuperseded:
	default:
		return nil, invalid("state", "must be pending, active, revoked, expired or superseded")
	}
	var recs []*credentialRecord
	if f.UserID != "" {
		if !ValidID(f.UserID) {
			return []*Credential{}, nil
		}
		cs, err := s.userCredentials(ctx, f.UserID)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			recs = append(recs, c.rec)
		}
	} else {
		kvs, _, err := s.store.List(ctx, pfxCredentials)
		if err != nil {
			return nil, err
		}
		for _, kv := range kvs {
			var c credentialRecord
			if err := jsonUnmarshal(kv, &c); err != nil {
				return nil, err
			}
			recs = append(recs, &c)
		}
	}
	now := s.now()
	out := []*Credential{}
	for _, c := range recs {
		if (f.IssuerID != "" && c.IssuerID != f.IssuerID) || (f.State != "" && c.state(now) != f.State) {
			continue
		}
		if f.ExpiringWithin > 0 && (c.state(now) != StateActive || c.NotAfter.After(now.Add(f.ExpiringWithin))) {
			continue
		}
		cr, err := c.toCredential(now)
		if err != nil {
			return nil, err
		}
		out = append(out, cr)
	}
	return out, nil
}

// ImportCertificate completes a pending credential with the certificate
// the external CA issued for its CSR (the first CERTIFICATE block of
// certPEM; more blocks are ignored). It must carry the credential's public
// key (else ErrCertificateMismatch), be signed by the issuer (else
// ErrCertificateChain), allow the credential's purpose (else ErrKeyUsage)
// and not be expired (ErrCertificateExpired). Its serial number must be
// positive and at most 20 octets (RFC 5280), else a *RequestError on
// certificate_pem: a serial of zero or below has no place in the
// revocation records. On any error nothing changes. Other errors:
// ErrMalformedPEM, ErrCredentialNotFound, ErrCredentialNotPending.
func (s *Service) ImportCertificate(ctx context.Context, credentialID string, certPEM []byte) (*Credential, error) {
	if len(certPEM) > maxPEMLen {
		return nil, invalid("certificate_pem", "longer than %d bytes", maxPEMLen)
	}
	certs, err := parseCertsPEM(certPEM)
	if err != nil {
		return nil, malformed("certificate_pem", err)
	}
	cert := certs[0]
	if err := checkSerial("certificate_pem", cert.SerialNumber); err != nil {
		return nil, err
	}
	var out *Credential
	err = retry(ctx, func() error {
		c, crev, err := s.loadCredential(ctx, credentialID)
		if err != nil {
			return err
		}
		if st := c.state(s.now()); st != StatePending {
			return fmt.Errorf("%w: %s is %s", ErrCredentialNotPending, c.ID, st)
		}
		pub, err := gmcrypto.ParsePublicKey(c.PublicKey)
		if err != nil {
			return fmt.Errorf("ca: corrupt credential %s: %w", c.ID, err)
		}
		if !sameKey(pub, cert.PublicKey) {
			return fmt.Errorf("%w: the certificate is not for credential %s's key", ErrCertificateMismatch, c.ID)
		}
		iss, _, err := s.loadIssuer(ctx, c.IssuerID)
		if err != nil {
			return err
		}
		chain, err := parseChainDER(iss.Chain)
		if err != nil {
			return err
		}
		if !signedBy(cert, chain[0]) {
			return fmt.Errorf("%w: not issued by %s (%s)", ErrCertificateChain, iss.ID, chain[0].Subject)
		}
		if cert.BasicConstraintsValid && cert.IsCA {
			return fmt.Errorf("%w: a CA certificate cannot be a user credential", ErrKeyUsage)
		}
		if !usageAllows(cert, usageOf(c.Purpose)) {
			return fmt.Errorf("%w: key usage %#x does not allow %s", ErrKeyUsage, cert.KeyUsage, c.Purpose)
		}
		if s.now().After(cert.NotAfter) {
			return fmt.Errorf("%w: notAfter %s", ErrCertificateExpired, cert.NotAfter.Format(time.RFC3339))
		}
		c.Certificate = cert.Raw
		c.Serial = serialHex(cert.SerialNumber)
		c.NotBefore, c.NotAfter = cert.NotBefore, cert.NotAfter
		sk := serialKey(iss.ID, c.Serial)
		if _, err := s.store.Get(ctx, sk); err == nil {
			return invalid("certificate_pem", "serial %s of issuer %s is already in use", c.Serial, iss.ID)
		}
		var b txnBuilder
		b.cond(credentialKey(c.ID), crev)
		b.put(credentialKey(c.ID), c, 0)
		b.cond(sk, 0)
		b.put(sk, &serialRecord{CredentialID: c.ID, UserID: c.UserID}, 0)
		if err := s.supersedeOnImport(ctx, &b, c); err != nil {
			return err
		}
		cred, err := c.toCredential(s.now())
		if err != nil {
			return err
		}
		if err := b.commitAction(ctx, s.store, cred); err != nil {
			return err
		}
		out = cred
		return nil
	})
	return out, err
}

func usageOf(p Purpose) Usage {
	if p == PurposeEncrypt {
		return UsageEncrypt
	}
	return UsageSign
}

// UnlockKey checks the user's PIN (with the lockout) and returns the
// private key of one of the user's active credentials (a *sm2.PrivateKey
// or *rsa.PrivateKey) with the credential. The caller must zero the key
// with gmcrypto.ZeroKey when done. Errors: ErrCredentialNotFound (also for
// another user's credential), ErrCredentialNotActive (pending, revoked or
// expired; checked before the PIN), ErrUserNotFound, ErrNotEnrolled and the
// PIN errors (*PINError).
func (s *Service) UnlockKey(ctx context.Context, userID, credentialID, pin string) (crypto.Signer, *Credential, error) {
	return s.unlockKey(ctx, userID, credentialID, pin, false)
}

// unlockKey is UnlockKey; with decrypt, a superseded encryption
// credential is accepted too (UnlockDecryptKey).
func (s *Service) unlockKey(ctx context.Context, userID, credentialID, pin string, decrypt bool) (crypto.Signer, *Credential, error) {
	var key crypto.Signer
	var out *Credential
	err := retry(ctx, func() error {
		c, crev, err := s.loadCredential(ctx, credentialID)
		if err != nil {
			return err
		}
		if c.UserID != userID {
			return fmt.Errorf("%w: %s", ErrCredentialNotFound, credentialID)
		}
		if err := c.unlockable(s.now(), decrypt); err != nil {
			return err
		}
		u, urev, err := s.loadUser(ctx, userID)
		if err != nil {
			return err
		}
		pinKey, err := s.checkPIN(ctx, u, urev, pin)
		if err != nil {
			return err
		}
		defer gmcrypto.Zero(pinKey)
		der, err := gmcrypto.Unwrap(pinKey, c.WrappedKey, []byte(credentialKey(c.ID)))
		if err != nil {
			return fmt.Errorf("ca: credential %s does not open under the verified PIN: %w", c.ID, err)
		}
		defer gmcrypto.Zero(der)
		// An escrow copy left under a retired escrow key (an abandoned or
		// unfinished rotation, a copy that did not open) is made again
		// under the current key now that the PIN has opened the key.
		reEscrow, err := s.reEscrowCopy(ctx, c, der)
		if err != nil {
			return err
		}
		// A use that changes nothing in the user record only checks the
		// revisions: in the transaction that delivers the key's result
		// when the caller collects guards (storage.DeferGuards: a key
		// use of a session, checked in its completion), else now, in a
		// transaction of conditions alone (no durable commit; on etcd a
		// linearizable read).
		if reEscrow != nil || !u.pinUnchanged || !storage.AddGuards(ctx, s.userGuard(u, urev), s.credentialGuard(c, crev, decrypt)) {
			var b txnBuilder
			b.cond(userKey(u.ID), urev)
			if !u.pinUnchanged {
				b.put(userKey(u.ID), u, 0)
			}
			b.cond(credentialKey(c.ID), crev)
			if reEscrow != nil {
				b.ops = append(b.ops, reEscrow.ops...)
				b.put(credentialKey(c.ID), c, 0)
			}
			if err := b.commit(ctx, s.store); err != nil {
				return err
			}
		}
		k, err := gmcrypto.ParsePrivateKey(der)
		if err != nil {
			return fmt.Errorf("ca: corrupt credential %s: %w", c.ID, err)
		}
		cr, err := c.toCredential(s.now())
		if err != nil {
			gmcrypto.ZeroKey(k)
			return err
		}
		key, out = k, cr
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return key, out, nil
}

// unlockable checks that c's key may be unwrapped at now: active (or, for
// a decryption, a superseded encryption credential), not a cosign
// credential, not awaiting recovery.
func (c *credentialRecord) unlockable(now time.Time, decrypt bool) error {
	if st := c.state(now); st != StateActive && !(decrypt && st == StateSuperseded && c.Purpose == PurposeEncrypt) {
		return fmt.Errorf("%w: %s is %s", ErrCredentialNotActive, c.ID, st)
	}
	if c.Cosign {
		return fmt.Errorf("%w: %s has no key at the gateway", ErrIsCosign, c.ID)
	}
	if c.AwaitingRecovery {
		return fmt.Errorf("%w: %s", ErrAwaitingRecovery, c.ID)
	}
	return nil
}

// credentialGuard is the guard of a key use on credential record c, read
// at revision rev: once the record changed, the use still stands only if
// the credential is still unlockable with the same wrapped key (a key
// re-wrapped under a new PIN, or handed to another user, refuses it with
// ErrConflict: the PIN that opened it is no longer the one).
func (s *Service) credentialGuard(c *credentialRecord, rev int64, decrypt bool) storage.Guard {
	return storage.Guard{Key: credentialKey(c.ID), Revision: rev, Recheck: func(ctx context.Context) (int64, error) {
		c2, rev2, err := s.loadCredential(ctx, c.ID)
		if err != nil {
			return 0, err
		}
		if err := c2.unlockable(s.now(), decrypt); err != nil {
			return 0, err
		}
		if c2.UserID != c.UserID || !bytes.Equal(c2.WrappedKey, c.WrappedKey) {
			return 0, fmt.Errorf("%w: credential %s changed while its key was in use", ErrConflict, c.ID)
		}
		return rev2, nil
	}}
}

// userGuard is the guard of a key use whose PIN was checked against user
// record u at revision rev (a check that changed nothing: u.pinUnchanged).
// Once the record changed, the use still stands only if the PIN is still
// the same and nothing was counted against it since: a lock refuses it
// with a *PINError, a wrong PIN counted meanwhile or a new PIN with
// ErrConflict (a success must not slip past a concurrent failure; the
// phone confirms again).
func (s *Service) userGuard(u *userRecord, rev int64) storage.Guard {
	return storage.Guard{Key: userKey(u.ID), Revision: rev, Recheck: func(ctx context.Context) (int64, error) {
		u2, rev2, err := s.loadUser(ctx, u.ID)
		if err != nil {
			return 0, err
		}
		if now := s.now().UTC(); now.Before(u2.LockedUntil) {
			return 0, &PINError{Locked: true, RetryAfter: u2.LockedUntil.Sub(now)}
		}
		if u2.FailedPINs != 0 || !bytes.Equal(u2.PINSalt, u.PINSalt) || !bytes.Equal(u2.PINVerifier, u.PINVerifier) {
			return 0, fmt.Errorf("%w: the PIN of user %s changed or failed while its key was in use", ErrConflict, u.ID)
		}
		return rev2, nil
	}}
}
