package session

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/emmansun/gmsm/smx509"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/qrlogin"
	"github.com/ukeygate/ukeygate/seal"
)

// Perform runs the operation a session asks for with a key the caller has
// unlocked (the api's confirm handler: PIN, then Perform, then ZeroKey).
// It is pure: no store, no clock but now, no Service. The Service itself
// still never touches keys: Confirm runs the caller's op, which calls
// Perform.

// Credential purposes, as package ca spells them.
const (
	PurposeSign    = protocol.PurposeSign
	PurposeEncrypt = protocol.PurposeEncrypt
)

// Failure reasons Perform records in a failed session (OpError.Reason).
const (
	ReasonSigningFailed    = "signing_failed"
	ReasonDecryptionFailed = "decryption_failed"
	ReasonKeyMismatch      = "key_mismatch"
	ReasonInvalidRequest   = "invalid_request"
	// ReasonResultTooLarge: the result could not be stored (see
	// Config.MaxWriteBytes); the confirm fails before the key is used
	// whenever the size can be known in advance (CheckConfirm).
	ReasonResultTooLarge = "result_too_large"
)

// OpKey is the unlocked credential a confirm hands to Perform.
type OpKey struct {
	// CredentialID and UserID name the credential and its owner (they go
	// into the login result).
	CredentialID string
	UserID       string
	// Key is the private key (*sm2.PrivateKey or *rsa.PrivateKey); the
	// caller zeroes it after Perform.
	Key crypto.Signer
	// Certificate is the credential's certificate.
	Certificate *smx509.Certificate
	// Chain is the issuer's chain, the issuer's certificate first (may be
	// empty). Results carry the certificate followed by the chain.
	Chain []*smx509.Certificate
	// Seal is what a seal session draws (nil for the other kinds).
	Seal *SealMaterial
	// Delegate is set when a delegate (this user id) confirmed with an
	// organisation's credential (UserID is then the organisation): every
	// result names both (delegate, on_behalf_of).
	Delegate string
}

// onBehalf returns the result fields of a delegated use: the
// organisation and the delegate (both empty otherwise).
func (k OpKey) onBehalf() (onBehalfOf, delegate string) {
	if k.Delegate == "" {
		return "", ""
	}
	return k.UserID, k.Delegate
}

// SealMaterial is a seal as a seal session uses it: its id, checked image,
// printed size and GB/T 38540 SES_Seal.
type SealMaterial struct {
	ID       string
	Image    *seal.Image
	WidthMM  float64
	HeightMM float64
	SES      []byte
}

// Output is what a successful Perform produced.
type Output struct {
	// Result is the session result (JSON): protocol.LoginResult,
	// SignResult or DecryptResult.
	Result json.RawMessage
	// Digest is what the audit log records of what was signed or
	// decrypted; see RequestDigest (for a login, SM3 of the challenge).
	Digest []byte
}

// CredentialPurpose returns the credential purpose a session of kind k
// needs: encrypt for decrypt, sign for login and sign (a certificate
// session takes either: see CredentialFits).
func CredentialPurpose(k Kind) string {
	if k == KindDecrypt {
		return PurposeEncrypt
	}
	return PurposeSign
}

// cipherAlg is the key algorithm a ciphertext format needs ("" for cms,
// which exists for both).
func cipherAlg(format string) string {
	switch format {
	case string(gmcrypto.FormatC1C3C2), string(gmcrypto.FormatC1C2C3), string(gmcrypto.FormatASN1):
		return AlgSM2
	case string(gmcrypto.FormatRSAOAEP), string(gmcrypto.FormatRSAPKCS1):
		return AlgRSA
	}
	return ""
}

// RequiredAlg is the key algorithm session s needs: the request's alg, or
// the one its ciphertext format implies, or "" (either).
func RequiredAlg(s *Session) string {
	if s.Request.Alg != "" {
		return s.Request.Alg
	}
	if s.Kind == KindDecrypt {
		return cipherAlg(s.Request.CiphertextFormat)
	}
	return ""
}

// CheckAlg reports whether a request's alg agrees with its ciphertext
// format (an SM2 ciphertext needs an SM2 key…). Errors wrap
// ErrInvalidRequest.
func CheckAlg(r *Request) error {
	if need := cipherAlg(r.CiphertextFormat); need != "" && r.Alg != "" && r.Alg != need {
		return fmt.Errorf("%w: ciphertext_format %s needs an %s key, the request asks alg %s", ErrInvalidRequest, r.CiphertextFormat, need, r.Alg)
	}
	return nil
}

// CredentialFits reports whether a credential of issuer, alg and purpose
// can serve session s: the purpose its kind needs, the requested issuer
// (if any) and the required algorithm (if any). The caller also checks
// that the credential is the scanning user's and active.
func CredentialFits(s *Session, issuer, alg, purpose string) bool {
	if s.Kind != KindCertificate && purpose != CredentialPurpose(s.Kind) {
		return false // a certificate session hands over either purpose
	}
	if s.Request.Issuer != "" && issuer != s.Request.Issuer {
		return false
	}
	if need := RequiredAlg(s); need != "" && alg != need {
		return false
	}
	return true
}

// LoginLookalike returns the index of the first document of r whose data
// could be taken for a login challenge (qrlogin.LooksLikeChallenge), or
// -1. A sign session must never sign one: the signature would be a valid
// login for the session the challenge names, since a login signs its
// challenge in the same scheme (the api refuses such a request at create,
// and Perform refuses it again). A document given as a digest cannot be
// checked; see docs/threat-model.md.
func LoginLookalike(r *Request) int {
	for i, d := range r.Documents {
		if d.Data != nil && qrlogin.LooksLikeChallenge(d.Data) {
			return i
		}
	}
	return -1
}

// DocumentDigest is what a document stands for in the audit log and on
// the phone: SM3 of its data, or the digest the portal gave.
func DocumentDigest(d Document) []byte {
	if d.Digest != nil {
		return bytes.Clone(d.Digest)
	}
	if d.PDF != nil {
		return gmcrypto.SM3(d.PDF)
	}
	if d.Upload != "" {
		return bytes.Clone(d.SM3) // the upload's, checked when it is read
	}
	return gmcrypto.SM3(d.Data)
}

// RequestDigest is the digest the audit log records for session s before
// (or without) performing it: for sign, the DocumentDigest of the single
// document, or SM3 over the concatenated DocumentDigests of several; for
// decrypt, SM3 of the ciphertext (also once the session has ended and its
// inputs were trimmed); for login nil (the challenge is built by
// Perform; Output.Digest is SM3 of it).
func RequestDigest(s *Session) []byte {
	switch s.Kind {
	case KindSign, KindSeal:
		docs := s.Request.Documents
		if len(docs) == 1 {
			return DocumentDigest(docs[0])
		}
		var all []byte
		for _, d := range docs {
			all = append(all, DocumentDigest(d)...)
		}
		return gmcrypto.SM3(all)
	case KindDecrypt:
		if s.Trimmed {
			return bytes.Clone(s.CiphertextSM3)
		}
		return gmcrypto.SM3(s.Request.Ciphertext)
	}
	return nil
}

// Perform runs session s's operation with k at now and returns the result
// the portal receives. Failures of the operation itself (a ciphertext that
// does not open, a key that does not fit) are final: they are built with
// OperationFailed, with reason decryption_failed, signing_failed or
// key_mismatch, and carry no cryptographic detail beyond gmcrypto's
// sentinel. A nil session or key is ErrInvalidArgument.
func Perform(s *Session, k OpKey, now time.Time) (*Output, error) {
	if s == nil || k.Key == nil || k.Certificate == nil {
		return nil, fmt.Errorf("%w: Perform needs a session, a key and its certificate", ErrInvalidArgument)
	}
	alg, err := gmcrypto.KeyAlg(k.Key)
	if err != nil {
		return nil, OperationFailed(ReasonKeyMismatch, err)
	}
	if need := RequiredAlg(s); need != "" && string(alg) != need {
		return nil, OperationFailed(ReasonKeyMismatch, fmt.Errorf("%w: the session needs an %s key", gmcrypto.ErrKeyMismatch, need))
	}
	switch s.Kind {
	case KindLogin:
		return performLogin(s, k, now)
	case KindSign:
		return performSign(s, k)
	case KindDecrypt:
		return performDecrypt(s, k)
	case KindSeal:
		return performSeal(s, k, now)
	}
	return nil, OperationFailed(ReasonInvalidRequest, fmt.Errorf("%w: kind %q", ErrInvalidRequest, s.Kind))
}

// chainPEM is the certificate followed by the issuer chain.
func chainPEM(k OpKey) string {
	return string(gmcrypto.EncodeCertificatesPEM(append([]*smx509.Certificate{k.Certificate}, k.Chain...)...))
}

func output(v any, digest []byte) (*Output, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("session: encode result: %w", err)
	}
	return &Output{Result: b, Digest: digest}, nil
}

func performLogin(s *Session, k OpKey, now time.Time) (*Output, error) {
	ch, err := qrlogin.NewChallenge(s.ID, s.AppID, s.Origin, now)
	if err != nil {
		return nil, OperationFailed(ReasonInvalidRequest, err)
	}
	msg := ch.Bytes()
	sig, err := gmcrypto.Sign(k.Key, msg, nil)
	if err != nil {
		return nil, OperationFailed(ReasonSigningFailed, vague(err, gmcrypto.ErrUnsupported))
	}
	res := protocol.LoginResult{
		User:           k.UserID,
		Credential:     k.CredentialID,
		CertificatePEM: chainPEM(k),
		Challenge:      msg,
		Signature:      sig,
	}
	res.OnBehalfOf, res.Delegate = k.onBehalf()
	return output(res, gmcrypto.SM3(msg))
}

func performSign(s *Session, k OpKey) (*Output, error) {
	if i := LoginLookalike(&s.Request); i >= 0 {
		return nil, OperationFailed(ReasonInvalidRequest, fmt.Errorf("%w: document %d looks like a login challenge", ErrInvalidRequest, i))
	}
	res := protocol.SignResult{CertificatePEM: chainPEM(k), Documents: make([]protocol.SignedDocument, 0, len(s.Request.Documents))}
	res.OnBehalfOf, res.Delegate = k.onBehalf()
	for i, d := range s.Request.Documents {
		out := protocol.SignedDocument{Name: d.Name}
		var err error
		switch format := s.Request.Format; {
		case (format == FormatRaw || format == "") && d.Digest != nil:
			out.Signature, err = gmcrypto.SignDigest(k.Key, d.Digest, nil)
		case format == FormatRaw || format == "":
			out.Signature, err = gmcrypto.Sign(k.Key, d.Data, nil)
		case format == FormatCMSDetached && d.Digest != nil:
			out.CMS, err = gmcrypto.SignCMSDigest(k.Key, k.Certificate, k.Chain, d.Digest)
		case format == FormatCMSDetached:
			out.CMS, err = gmcrypto.SignCMS(k.Key, k.Certificate, k.Chain, d.Data, true)
		case format == FormatCMSAttached && d.Data != nil:
			out.CMS, err = gmcrypto.SignCMS(k.Key, k.Certificate, k.Chain, d.Data, false)
		default:
			return nil, OperationFailed(ReasonInvalidRequest, fmt.Errorf("%w: document %d: format %q with this input", ErrInvalidRequest, i, format))
		}
		if err != nil {
			if errors.Is(err, gmcrypto.ErrKeyMismatch) {
				return nil, OperationFailed(ReasonKeyMismatch, gmcrypto.ErrKeyMismatch)
			}
			return nil, OperationFailed(ReasonSigningFailed, vague(err, gmcrypto.ErrUnsupported))
		}
		res.Documents = append(res.Documents, out)
	}
	return output(res, RequestDigest(s))
}

func performDecrypt(s *Session, k OpKey) (*Output, error) {
	r := &s.Request
	fail := func() (*Output, error) {
		return nil, OperationFailed(ReasonDecryptionFailed, gmcrypto.ErrDecryption)
	}
	var res protocol.DecryptResult
	res.OnBehalfOf, res.Delegate = k.onBehalf()
	if r.CiphertextFormat == "cms" {
		if r.ReturnKey {
			cek, oid, err := gmcrypto.OpenCMSKey(r.Ciphertext, k.Certificate, k.Key)
			if err != nil {
				return fail()
			}
			res.ContentKey, res.ContentAlg = cek, oid.String()
		} else {
			pt, err := gmcrypto.OpenCMS(r.Ciphertext, k.Certificate, k.Key)
			if err != nil {
				return fail()
			}
			res.Plaintext = pt
		}
	} else {
		f, err := gmcrypto.ParseCipherFormat(r.CiphertextFormat)
		if err != nil {
			return nil, OperationFailed(ReasonInvalidRequest, fmt.Errorf("%w: ciphertext_format %q", ErrInvalidRequest, r.CiphertextFormat))
		}
		pt, err := gmcrypto.Decrypt(k.Key, r.Ciphertext, f)
		if err != nil {
			return fail()
		}
		res.Plaintext = pt
	}
	var v any = res
	if !r.ReturnKey {
		// {"plaintext": ""} even for an empty plaintext.
		pt := res.Plaintext
		if pt == nil {
			pt = []byte{} // {"plaintext": ""} for an empty plaintext
		}
		v = struct {
			Plaintext  []byte `json:"plaintext"`
			OnBehalfOf string `json:"on_behalf_of,omitempty"`
			Delegate   string `json:"delegate,omitempty"`
		}{pt, res.OnBehalfOf, res.Delegate}
	}
	out, err := output(v, RequestDigest(s))
	clear(res.Plaintext)
	clear(res.ContentKey)
	return out, err
}

// vague keeps only gmcrypto's sentinel of err (or fallback), never the
// library's detail, for the session's failure.
func vague(err, fallback error) error {
	for _, s := range []error{gmcrypto.ErrKeyMismatch, gmcrypto.ErrUnsupported, gmcrypto.ErrInvalidInput, gmcrypto.ErrMalformed} {
		if errors.Is(err, s) {
			return s
		}
	}
	return fallback
}

// ReasonSealFailed: a PDF could not be sealed (it changed meaning between
// creation and confirm: unreadable, a placement off its page, a keyword
// not found).
const ReasonSealFailed = "seal_failed"

// ReasonUploadUnavailable: a seal document's upload could not be read at
// confirm (swept, expired in the store, damaged).
const ReasonUploadUnavailable = "upload_unavailable"

func performSeal(s *Session, k OpKey, now time.Time) (*Output, error) {
	if k.Seal == nil || k.Seal.Image == nil {
		return nil, OperationFailed(ReasonInvalidRequest, fmt.Errorf("%w: no seal chosen", ErrInvalidRequest))
	}
	res := protocol.SealResult{CertificatePEM: chainPEM(k), Documents: make([]protocol.SealedPDFDoc, 0, len(s.Request.Documents))}
	res.OnBehalfOf, res.Delegate = k.onBehalf()
	for _, d := range s.Request.Documents {
		if d.Upload != "" && (d.PDF == nil || !bytes.Equal(gmcrypto.SM3(d.PDF), d.SM3)) {
			return nil, OperationFailed(ReasonUploadUnavailable, fmt.Errorf("%w: upload %s was not read", ErrInvalidRequest, d.Upload))
		}
		out, err := seal.Seal(d.PDF, &seal.Options{
			Image: k.Seal.Image, WidthMM: k.Seal.WidthMM, HeightMM: k.Seal.HeightMM,
			Placements: d.Placements, Straddle: d.Straddle, SES: k.Seal.SES,
			Signer: seal.Signer{Key: k.Key, Cert: k.Certificate, Chain: k.Chain},
			Time:   now, Reason: s.Request.Display.Title,
		})
		if err != nil {
			switch {
			case errors.Is(err, gmcrypto.ErrKeyMismatch):
				return nil, OperationFailed(ReasonKeyMismatch, gmcrypto.ErrKeyMismatch)
			case errors.Is(err, seal.ErrBadPDF), errors.Is(err, seal.ErrBadPlacement), errors.Is(err, seal.ErrKeywordNotFound), errors.Is(err, seal.ErrTooLarge):
				return nil, OperationFailed(ReasonSealFailed, err)
			}
			return nil, OperationFailed(ReasonSigningFailed, vague(err, gmcrypto.ErrUnsupported))
		}
		if d.Upload != "" {
			// The portal has the uploaded bytes: it gets what the seal
			// appended, and the hash of the whole.
			sum := sha256.Sum256(out)
			res.Documents = append(res.Documents, protocol.SealedPDFDoc{Name: d.Name, Upload: d.Upload,
				Update: out[len(d.PDF):], SHA256: hex.EncodeToString(sum[:]), Size: int64(len(out))})
			continue
		}
		res.Documents = append(res.Documents, protocol.SealedPDFDoc{Name: d.Name, PDF: out})
	}
	return output(res, RequestDigest(s))
}
