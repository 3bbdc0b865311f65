package ca

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/emmansun/gmsm/smx509"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/storage"
)

// issuerRecord is what issuers/<id> holds.
type issuerRecord struct {
	ID        string       `json:"id"`
	Name      string       `json:"name"`
	Mode      Mode         `json:"mode"`
	Alg       gmcrypto.Alg `json:"alg"`
	Chain     [][]byte     `json:"chain"` // DER, the issuer's certificate first
	Parent    string       `json:"parent,omitempty"`
	Profile   Profile      `json:"profile"`
	CreatedAt time.Time    `json:"created_at"`
	// KeySalt and WrappedKey hold an internal issuer's PKCS#8 key, wrapped
	// under DeriveKey(master, "issuer-key", KeySalt) with the record key as
	// associated data.
	KeySalt    []byte `json:"key_salt,omitempty"`
	WrappedKey []byte `json:"wrapped_key,omitempty"`
}

// Defaults and limits of CA certificates.
const (
	defaultCAValidityDays = 3650
	defaultCARSABits      = 2048
	maxChainLen           = 8
	maxPEMLen             = 256 << 10
	maxNameLen            = 128
)

// allowedRSABits are the RSA sizes keys are generated in.
var allowedRSABits = []int{2048, 3072, 4096}

// AddIssuer registers an issuer (see IssuerRequest for the shapes). Bad
// input is a *RequestError (ErrInvalidRequest), ErrMalformedPEM,
// ErrCertificateMismatch (the key is not the certificate's),
// ErrCertificateChain (the certificate is not signed by Parent or the next
// certificate of its chain, or a path length constraint of the chain is
// exceeded), ErrIssuerNotFound (Parent), ErrIssuerExternal (Parent of a
// generated intermediate), ErrAlgNotAllowed, ErrIssuerExists or
// ErrIssuerDuplicate (an issuer with the same certificate subject and
// public key is registered already).
func (s *Service) AddIssuer(ctx context.Context, req IssuerRequest) (*Issuer, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	rec := &issuerRecord{ID: req.ID, Name: strings.TrimSpace(req.Name), Mode: req.Mode, Parent: req.Parent, CreatedAt: s.now().UTC()}
	if rec.ID == "" {
		id, err := newID(prefixIssuer)
		if err != nil {
			return nil, err
		}
		rec.ID = id
	}
	var parent *issuerRecord
	if req.Parent != "" {
		p, _, err := s.loadIssuer(ctx, req.Parent)
		if err != nil {
			return nil, err
		}
		parent = p
	}
	// Existence is checked again by the transaction; this is only to fail
	// before the expensive part.
	if _, err := s.store.Get(ctx, issuerKey(rec.ID)); err == nil {
		return nil, fmt.Errorf("%w: %s", ErrIssuerExists, rec.ID)
	} else if !errors.Is(err, storage.ErrNotFound) {
		return nil, err
	}

	var key crypto.Signer
	var err error
	switch {
	case req.Mode == ModeInternal && req.Generate:
		key, err = s.generateIssuer(ctx, rec, parent, req)
	case req.Mode == ModeInternal:
		key, err = s.importIssuer(rec, parent, req)
	case req.Mode == ModeExternal:
		err = s.externalIssuer(rec, parent, req)
	}
	if key != nil {
		defer gmcrypto.ZeroKey(key)
	}
	if err != nil {
		return nil, err
	}
	if req.Alg != "" && req.Alg != rec.Alg {
		return nil, invalid("alg", "is %s but the CA key is %s", req.Alg, rec.Alg)
	}
	prof, err := s.normProfile(req.Profile, rec.Alg)
	if err != nil {
		return nil, err
	}
	rec.Profile = prof
	if err := s.checkDuplicate(ctx, rec); err != nil {
		return nil, err
	}
	if parent == nil && !req.Generate {
		field := "cert_pem"
		if len(req.CertPEM) == 0 {
			field = "chain_pem"
		}
		if err := s.checkChainTop(ctx, field, rec.Chain); err != nil {
			return nil, err
		}
	}
	if key != nil {
		if err := s.wrapIssuerKey(rec, key); err != nil {
			return nil, err
		}
	}
	var b txnBuilder
	b.cond(issuerKey(rec.ID), 0)
	b.put(issuerKey(rec.ID), rec, 0)
	iss, err := rec.toIssuer()
	if err != nil {
		return nil, err
	}
	if err := b.commitAction(ctx, s.store, iss); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return nil, fmt.Errorf("%w: %s", ErrIssuerExists, rec.ID)
		}
		return nil, err
	}
	return iss, nil
}

// generateIssuer makes a new CA key and certificate: self-signed, or
// signed by parent.
func (s *Service) generateIssuer(ctx context.Context, rec *issuerRecord, parent *issuerRecord, req IssuerRequest) (crypto.Signer, error) {
	// req.Validate has checked the fields; here are their defaults.
	subj := req.Subject
	days := req.ValidityDays
	if days == 0 {
		days = defaultCAValidityDays
	}
	bits := 0
	if req.Alg == gmcrypto.AlgRSA {
		bits = req.RSABits
		if bits == 0 {
			bits = defaultCARSABits
		}
	}
	pathLen := -1
	if parent != nil {
		pathLen = 0
	}
	if req.PathLen != nil {
		pathLen = *req.PathLen
	}

	p, err := s.parentCA(parent, pathLen)
	if err != nil {
		return nil, err
	}
	if p != nil {
		defer gmcrypto.ZeroKey(p.key)
	}
	key, err := gmcrypto.GenerateKey(req.Alg, bits)
	if err != nil {
		return nil, err
	}
	cert, err := s.newCACert(key, subj, days, pathLen, p)
	if err != nil {
		gmcrypto.ZeroKey(key)
		return nil, err
	}
	rec.Alg = req.Alg
	rec.Chain = [][]byte{cert.Raw}
	if p != nil {
		for _, c := range p.chain {
			rec.Chain = append(rec.Chain, c.Raw)
		}
	}
	return key, nil
}

// caParent is the registered issuer that signs a new intermediate: its
// id, its chain (its own certificate first) and its key.
type caParent struct {
	id    string
	chain []*smx509.Certificate
	key   crypto.Signer
}

// parentCA loads parent to sign a new CA of path length pathLen under it;
// nil for a root. The parent must be internal and its path length
// constraint must leave room. Zero the returned key when done.
func (s *Service) parentCA(parent *issuerRecord, pathLen int) (*caParent, error) {
	if parent == nil {
		return nil, nil
	}
	if parent.Mode != ModeInternal {
		return nil, fmt.Errorf("%w: parent %s cannot sign an intermediate", ErrIssuerExternal, parent.ID)
	}
	chain, err := parseChainDER(parent.Chain)
	if err != nil {
		return nil, err
	}
	// Parsed certificates carry MaxPathLen -1 when unconstrained.
	switch limit := chain[0].MaxPathLen; {
	case limit == 0:
		return nil, invalid("parent", "the parent's path length constraint (0) forbids intermediates")
	case limit > 0 && pathLen > limit-1:
		return nil, invalid("path_len", "must be at most %d under this parent", limit-1)
	}
	k, err := s.issuerSigner(parent)
	if err != nil {
		return nil, err
	}
	return &caParent{id: parent.ID, chain: chain, key: k}, nil
}

// newCACert makes key's CA certificate valid for days (cut at the
// parent's end), with path length pathLen: signed by p, whose CRL it
// points to, or self-signed when p is nil.
func (s *Service) newCACert(key crypto.Signer, subj Subject, days, pathLen int, p *caParent) (*smx509.Certificate, error) {
	tmpl, err := caTemplate(key.Public(), subj, s.now(), days, pathLen)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return createCert(tmpl, nil, key.Public(), key)
	}
	if tmpl.NotAfter.After(p.chain[0].NotAfter) {
		tmpl.NotAfter = p.chain[0].NotAfter
	}
	tmpl.CRLDistributionPoints = []string{s.cfg.crlURL(p.id)}
	return createCert(tmpl, p.chain[0], key.Public(), p.key)
}

// caTemplate is the template of a CA certificate for pub: a fresh serial,
// subj, backdated from now for days, certificate and CRL signing, CA with
// path length pathLen (-1: none).
func caTemplate(pub crypto.PublicKey, subj Subject, now time.Time, days, pathLen int) (*smx509.Certificate, error) {
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	name := pkix.Name{CommonName: subj.CommonName}
	if subj.Organization != "" {
		name.Organization = []string{subj.Organization}
	}
	if subj.Country != "" {
		name.Country = []string{subj.Country}
	}
	ski, err := subjectKeyID(pub)
	if err != nil {
		return nil, err
	}
	return &smx509.Certificate{
		SerialNumber:          serial,
		Subject:               name,
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.AddDate(0, 0, days),
		KeyUsage:              smx509.KeyUsageCertSign | smx509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            pathLen,
		MaxPathLenZero:        pathLen == 0,
		SubjectKeyId:          ski,
	}, nil
}

// importIssuer checks an internal issuer's certificate and key.
func (s *Service) importIssuer(rec *issuerRecord, parent *issuerRecord, req IssuerRequest) (crypto.Signer, error) {
	chain, err := s.checkCAChain("cert_pem", req.CertPEM, parent)
	if err != nil {
		return nil, err
	}
	key, err := parseKeyPEM(req.KeyPEM)
	if err != nil {
		if errors.Is(err, gmcrypto.ErrUnsupported) {
			return nil, &RequestError{Field: "key_pem", Reason: err.Error(), Err: ErrAlgNotAllowed}
		}
		return nil, malformed("key_pem", err)
	}
	if !sameKey(key.Public(), chain[0].PublicKey) {
		gmcrypto.ZeroKey(key)
		return nil, fmt.Errorf("%w: key_pem is not the key of cert_pem", ErrCertificateMismatch)
	}
	if chain[0].KeyUsage != 0 && chain[0].KeyUsage&smx509.KeyUsageCRLSign == 0 {
		gmcrypto.ZeroKey(key)
		return nil, invalid("cert_pem", "the CA certificate's key usage lacks cRLSign")
	}
	rec.Chain = rawChain(chain)
	rec.Alg, _ = gmcrypto.KeyAlg(key)
	return key, nil
}

// externalIssuer checks an external issuer's chain.
func (s *Service) externalIssuer(rec *issuerRecord, parent *issuerRecord, req IssuerRequest) error {
	// The CA certificate comes as cert_pem (then chain_pem holds its
	// issuers, if any) or as the first certificate of chain_pem.
	field, pemChain := "chain_pem", req.ChainPEM
	if len(req.CertPEM) > 0 {
		field = "cert_pem"
		pemChain = append(append(append([]byte{}, req.CertPEM...), '\n'), req.ChainPEM...)
	}
	chain, err := s.checkCAChain(field, pemChain, parent)
	if err != nil {
		return err
	}
	rec.Chain = rawChain(chain)
	rec.Alg, err = gmcrypto.KeyAlg(chain[0].PublicKey)
	return err
}

// checkCAChain parses a CA certificate (optionally followed by its chain)
// and checks it: a currently valid SM2 or RSA CA certificate, each
// certificate signed by the next, or by parent's certificate when parent is
// set (the parent's chain then follows).
func (s *Service) checkCAChain(field string, pemBytes []byte, parent *issuerRecord) ([]*smx509.Certificate, error) {
	chain, err := parseCertsPEM(pemBytes)
	if err != nil {
		return nil, malformed(field, err)
	}
	if len(chain) > maxChainLen {
		return nil, invalid(field, "more than %d certificates", maxChainLen)
	}
	ca := chain[0]
	if !isCA(ca) {
		return nil, invalid(field, "the first certificate is not a CA certificate (basic constraints CA, keyCertSign)")
	}
	if _, err := gmcrypto.KeyAlg(ca.PublicKey); err != nil {
		return nil, &RequestError{Field: field, Reason: "the CA key is neither SM2 nor RSA", Err: ErrAlgNotAllowed}
	}
	now := s.now()
	if now.After(ca.NotAfter) || now.Before(ca.NotBefore.Add(-backdate)) {
		return nil, invalid(field, "the CA certificate is not valid now (%s to %s)", ca.NotBefore.Format(time.RFC3339), ca.NotAfter.Format(time.RFC3339))
	}
	if parent != nil {
		pchain, err := parseChainDER(parent.Chain)
		if err != nil {
			return nil, err
		}
		if !signedBy(ca, pchain[0]) {
			return nil, fmt.Errorf("%w: %s is not signed by issuer %s", ErrCertificateChain, field, parent.ID)
		}
		chain = append([]*smx509.Certificate{ca}, pchain...)
	} else {
		if err := checkNoRepeats(field, chain); err != nil {
			return nil, err
		}
		for i := 0; i+1 < len(chain); i++ {
			// Every certificate above the first signs the one below it, so
			// it must be a CA itself (signedBy checks it too; this names it).
			if !isCA(chain[i+1]) {
				return nil, invalid(field, "certificate %d is not a CA certificate (v3, basic constraints CA, keyCertSign)", i+2)
			}
			if !signedBy(chain[i], chain[i+1]) {
				return nil, fmt.Errorf("%w: %s: certificate %d is not signed by certificate %d", ErrCertificateChain, field, i+1, i+2)
			}
		}
	}
	// The leaf position is taken by a future end-entity certificate, so the
	// CA at index i of the chain has i CAs below it plus that one.
	if err := checkPathLen(append([]*smx509.Certificate{nil}, chain...)); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCertificateChain, field, err)
	}
	return chain, nil
}

// checkNoRepeats refuses a chain that names one CA twice (the same
// certificate, or the same subject and key): C, D, C, D is a loop that a
// path builder could follow forever, and a repeat is never needed.
func checkNoRepeats(field string, chain []*smx509.Certificate) error {
	for i := range chain {
		for j := i + 1; j < len(chain); j++ {
			if string(chain[i].Raw) == string(chain[j].Raw) || sameCA(chain[i], chain[j]) {
				return fmt.Errorf("%w: %s: certificate %d repeats certificate %d (a chain names each CA once)", ErrCertificateChain, field, j+1, i+1)
			}
		}
	}
	return nil
}

// checkChainTop requires a chain given without a parent to end at a
// self-signed root or at a certificate signed by a registered issuer, so
// that the gateway serves only chains that lead somewhere a verifier can
// anchor.
func (s *Service) checkChainTop(ctx context.Context, field string, rawChain [][]byte) error {
	chain, err := parseChainDER(rawChain)
	if err != nil {
		return err
	}
	top := chain[len(chain)-1]
	if string(top.RawIssuer) == string(top.RawSubject) && top.CheckSignatureFrom(top) == nil {
		return nil
	}
	existing, err := s.Issuers(ctx)
	if err != nil {
		return err
	}
	for _, iss := range existing {
		if signedBy(top, iss.Certificate) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s: the chain ends at %q, which is neither a self-signed root nor signed by a registered issuer: add its issuers to the chain, or register its issuer first and name it as parent",
		ErrCertificateChain, field, top.Subject.CommonName)
}

// checkDuplicate refuses (ErrIssuerDuplicate) a CA certificate whose
// subject and public key are those of an issuer already registered: the
// same CA under two ids would split its revocation records and serial
// index. The check reads the issuers outside the registration's
// transaction; Verify looks under every matching issuer anyway.
func (s *Service) checkDuplicate(ctx context.Context, rec *issuerRecord) error {
	certs, err := parseChainDER(rec.Chain[:1])
	if err != nil {
		return err
	}
	existing, err := s.Issuers(ctx)
	if err != nil {
		return err
	}
	for _, iss := range existing {
		if sameCA(iss.Certificate, certs[0]) {
			return fmt.Errorf("%w: issuer %s has the same subject and key", ErrIssuerDuplicate, iss.ID)
		}
	}
	return nil
}

// parseCertsPEM parses the CERTIFICATE blocks of pemBytes; anything else
// (no certificate, a bad one, non-PEM data) is gmcrypto.ErrMalformed.
func parseCertsPEM(pemBytes []byte) ([]*smx509.Certificate, error) {
	return gmcrypto.ParseCertificatesPEM(pemBytes)
}

// parseKeyPEM parses a private key PEM. OpenSSL labels SM2 SEC1 keys
// "SM2 PRIVATE KEY" (openssl ec); that block is SEC1 DER like "EC PRIVATE
// KEY", so it is relabelled before gmcrypto parses it.
func parseKeyPEM(pemBytes []byte) (crypto.Signer, error) {
	rest := pemBytes
	for {
		b, r := pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type == "SM2 PRIVATE KEY" {
			b.Type = "EC PRIVATE KEY"
			enc := pem.EncodeToMemory(b)
			gmcrypto.Zero(b.Bytes)
			defer gmcrypto.Zero(enc)
			return gmcrypto.ParsePrivateKeyPEM(enc)
		}
		rest = r
	}
	return gmcrypto.ParsePrivateKeyPEM(pemBytes)
}

func rawChain(chain []*smx509.Certificate) [][]byte {
	out := make([][]byte, len(chain))
	for i, c := range chain {
		out[i] = c.Raw
	}
	return out
}

// normProfile fills a profile's defaults and checks what depends on them
// (Profile.validate has checked the values it names).
func (s *Service) normProfile(in *Profile, alg gmcrypto.Alg) (Profile, error) {
	var p Profile
	if in != nil {
		p = *in
		p.Algs = slices.Clone(in.Algs)
		p.RSABits = slices.Clone(in.RSABits)
		p.Purposes = slices.Clone(in.Purposes)
		p.SubjectFields = slices.Clone(in.SubjectFields)
	}
	if p.ValidityDays == 0 {
		p.ValidityDays = s.cfg.DefaultValidityDays
	}
	if p.ValidityDays < 1 || p.ValidityDays > maxValidityDays {
		return p, invalid("profile.validity_days", "must be 1 to %d", maxValidityDays)
	}
	if len(p.Algs) == 0 {
		p.Algs = []gmcrypto.Alg{alg}
	}
	p.Algs = dedupe(p.Algs)
	if slices.Contains(p.Algs, gmcrypto.AlgRSA) {
		if len(p.RSABits) == 0 {
			p.RSABits = slices.Clone(allowedRSABits)
		}
		p.RSABits = dedupe(p.RSABits)
	} else if len(p.RSABits) > 0 {
		return p, invalid("profile.rsa_bits", "set but RSA is not among profile.algs")
	}
	if len(p.Purposes) == 0 {
		p.Purposes = []Purpose{PurposeSign, PurposeEncrypt}
	}
	p.Purposes = dedupe(p.Purposes)
	p.SubjectFields = dedupe(p.SubjectFields)
	p.RenewalKey = p.renewalKey()
	return p, nil
}

func dedupe[T comparable](in []T) []T {
	var out []T
	for _, v := range in {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// wrapIssuerKey wraps key into rec under a fresh salt.
func (s *Service) wrapIssuerKey(rec *issuerRecord, key crypto.Signer) error {
	salt, err := gmcrypto.RandomBytes(gmcrypto.MinSaltLen)
	if err != nil {
		return err
	}
	kek, err := gmcrypto.DeriveKey(s.master, purposeIssuerKey, salt)
	if err != nil {
		return err
	}
	defer gmcrypto.Zero(kek)
	der, err := gmcrypto.MarshalPrivateKey(key)
	if err != nil {
		return err
	}
	defer gmcrypto.Zero(der)
	w, err := gmcrypto.Wrap(kek, der, []byte(issuerKey(rec.ID)))
	if err != nil {
		return err
	}
	rec.KeySalt, rec.WrappedKey = salt, w
	return nil
}

// issuerSigner unwraps an internal issuer's key. The caller zeroes it.
func (s *Service) issuerSigner(rec *issuerRecord) (crypto.Signer, error) {
	if rec.Mode != ModeInternal || len(rec.WrappedKey) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrIssuerExternal, rec.ID)
	}
	kek, err := gmcrypto.DeriveKey(s.master, purposeIssuerKey, rec.KeySalt)
	if err != nil {
		return nil, err
	}
	defer gmcrypto.Zero(kek)
	der, err := gmcrypto.Unwrap(kek, rec.WrappedKey, []byte(issuerKey(rec.ID)))
	if err != nil {
		return nil, fmt.Errorf("ca: issuer %s key cannot be unwrapped (wrong master key?): %w", rec.ID, err)
	}
	defer gmcrypto.Zero(der)
	return gmcrypto.ParsePrivateKey(der)
}

// loadIssuer reads an issuer record; an unknown or malformed id is
// ErrIssuerNotFound.
func (s *Service) loadIssuer(ctx context.Context, id string) (*issuerRecord, int64, error) {
	return loadRecord[issuerRecord](ctx, s, issuerKey(id), id, ErrIssuerNotFound)
}

// Issuer returns one issuer (ErrIssuerNotFound if unknown).
//
// The stored record is read every time; what it decodes to (JSON, the
// parsed chain, its PEM) is kept per issuer with the record's bytes and
// reused while the stored bytes are the same (a confirm asks for its
// issuer three times). Each call returns its own copy of the Issuer.
func (s *Service) Issuer(ctx context.Context, id string) (*Issuer, error) {
	if !ValidID(id) {
		return nil, fmt.Errorf("%w: %q", ErrIssuerNotFound, id)
	}
	// Only compared and decoded (the memo keeps its own copy): the record
	// cache's copy will do.
	kv, err := storage.GetShared(ctx, s.store, issuerKey(id))
	if errors.Is(err, storage.ErrNotFound) {
		s.issuerMemo.Delete(id)
		return nil, fmt.Errorf("%w: %s", ErrIssuerNotFound, id)
	}
	if err != nil {
		return nil, err
	}
	if m, ok := s.issuerMemo.Load(id); ok {
		if m := m.(*issuerMemo); bytes.Equal(m.raw, kv.Value) {
			cp := m.iss
			return &cp, nil
		}
	}
	var rec issuerRecord
	if err := jsonUnmarshal(kv, &rec); err != nil {
		return nil, err
	}
	iss, err := rec.toIssuer()
	if err != nil {
		return nil, err
	}
	s.issuerMemo.Store(id, &issuerMemo{raw: bytes.Clone(kv.Value), iss: *iss})
	return iss, nil
}

// issuerMemo is an issuer record's stored bytes and the Issuer they
// decode to (Service.Issuer).
type issuerMemo struct {
	raw []byte
	iss Issuer
}

// Issuers lists every issuer, sorted by id.
func (s *Service) Issuers(ctx context.Context) ([]*Issuer, error) {
	kvs, _, err := s.store.List(ctx, pfxIssuers)
	if err != nil {
		return nil, err
	}
	out := make([]*Issuer, 0, len(kvs))
	for _, kv := range kvs {
		var rec issuerRecord
		if err := jsonUnmarshal(kv, &rec); err != nil {
			return nil, err
		}
		iss, err := rec.toIssuer()
		if err != nil {
			return nil, err
		}
		out = append(out, iss)
	}
	return out, nil
}

func (rec *issuerRecord) toIssuer() (*Issuer, error) {
	chain, err := parseChainDER(rec.Chain)
	if err != nil {
		return nil, err
	}
	if len(chain) == 0 {
		return nil, fmt.Errorf("ca: corrupt issuer %s: no certificate", rec.ID)
	}
	return &Issuer{
		ID:             rec.ID,
		Name:           rec.Name,
		Mode:           rec.Mode,
		Alg:            rec.Alg,
		CertificatePEM: string(gmcrypto.EncodeCertificatesPEM(chain...)),
		Parent:         rec.Parent,
		Profile:        rec.Profile,
		Subject:        chain[0].Subject.String(),
		NotBefore:      chain[0].NotBefore,
		NotAfter:       chain[0].NotAfter,
		CreatedAt:      rec.CreatedAt,
		Certificate:    chain[0],
		Chain:          chain,
	}, nil
}

// checkText checks a free-text field: trimmed, at most max runes, valid
// UTF-8 without control characters; required means not empty.
func checkText(field, v string, max int, required bool) error {
	switch {
	case v == "" && required:
		return invalid(field, "required")
	case !utf8.ValidString(v):
		return invalid(field, "not valid UTF-8")
	case utf8.RuneCountInString(v) > max:
		return invalid(field, "longer than %d characters", max)
	case strings.TrimSpace(v) != v:
		return invalid(field, "leading or trailing space")
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return invalid(field, "contains a control character")
		}
	}
	// Names reach the phone's screen (a user's, an organisation's on a
	// delegated certificate, an issuer's on every certificate).
	if r, hidden := protocol.HiddenIn(v); hidden {
		return invalid(field, "%s", protocol.HiddenReason(r))
	}
	return nil
}

func isASCIILetters(s string) bool {
	for _, r := range s {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}
