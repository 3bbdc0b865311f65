package protocol

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// LoginResult is the result of a completed login session: what a UKEY
// login produced. Challenge holds the exact bytes that were signed (the
// JSON object of package qrlogin's Challenge); CertificatePEM the signer's
// certificate followed by its issuer chain; Signature is SM2 (DER
// SEQUENCE{r, s} over SM3 with Z of the default user id) or RSA (PKCS#1
// v1.5 with SHA-256) over Challenge.
type LoginResult struct {
	User           string `json:"user"`
	Credential     string `json:"credential"`
	CertificatePEM string `json:"certificate_pem"`
	Challenge      Raw    `json:"challenge"`
	Signature      []byte `json:"signature"`
	// OnBehalfOf and Delegate are set when a staff member confirmed with
	// an organisation's credential through a delegation: OnBehalfOf is the
	// organisation's user id (also User, the credential's owner), Delegate
	// the staff member's. The same two fields are in every result.
	OnBehalfOf string `json:"on_behalf_of,omitempty"`
	Delegate   string `json:"delegate,omitempty"`
}

// SignResult is the result of a completed sign session: the signer's
// certificate (followed by its issuer chain) and one entry per requested
// document, in request order.
type SignResult struct {
	CertificatePEM string           `json:"certificate_pem"`
	Documents      []SignedDocument `json:"documents"`
	// OnBehalfOf and Delegate: see LoginResult.
	OnBehalfOf string `json:"on_behalf_of,omitempty"`
	Delegate   string `json:"delegate,omitempty"`
}

// SignedDocument is one signed document of a SignResult: Signature for
// format raw (SM2: DER SEQUENCE{r, s}; RSA: PKCS#1 v1.5 with SHA-256), CMS
// (DER ContentInfo of a SignedData) for cms-detached and cms-attached.
type SignedDocument struct {
	Name      string `json:"name"`
	Signature []byte `json:"signature,omitempty"`
	CMS       []byte `json:"cms,omitempty"`
}

// DecryptResult is the result of a completed decrypt session: the
// plaintext, or, when the request asked ReturnKey for a CMS envelope, the
// recovered content-encryption key and the dotted OID of its algorithm.
type DecryptResult struct {
	Plaintext  []byte `json:"plaintext,omitempty"`
	ContentKey []byte `json:"content_key,omitempty"`
	ContentAlg string `json:"content_alg,omitempty"`
	// OnBehalfOf and Delegate: see LoginResult.
	OnBehalfOf string `json:"on_behalf_of,omitempty"`
	Delegate   string `json:"delegate,omitempty"`
}

// SealResult is the result of a completed seal session: the signer's
// certificate (followed by its issuer chain) and each sealed PDF (the
// original bytes with one incremental update appended), in request order.
type SealResult struct {
	CertificatePEM string         `json:"certificate_pem"`
	Documents      []SealedPDFDoc `json:"documents"`
	// OnBehalfOf and Delegate: see LoginResult.
	OnBehalfOf string `json:"on_behalf_of,omitempty"`
	Delegate   string `json:"delegate,omitempty"`
}

// SealedPDFDoc is one sealed PDF of a SealResult: the whole sealed PDF
// (PDF) for a document sent inline, or, for a document sent as an upload
// (Upload), only the bytes the seal appended to it (Update), with the
// SHA-256 (hex) and size of the whole sealed PDF: the sealed PDF is the
// uploaded bytes followed by Update (Assemble).
type SealedPDFDoc struct {
	Name   string `json:"name"`
	PDF    []byte `json:"pdf,omitempty"`
	Upload string `json:"upload,omitempty"`
	Update []byte `json:"update,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	Size   int64  `json:"size,omitempty"`
}

// Assemble returns the sealed PDF: PDF when the document was sent inline,
// else original (the uploaded bytes) followed by Update, checked against
// Size and SHA256.
func (d SealedPDFDoc) Assemble(original []byte) ([]byte, error) {
	if d.PDF != nil {
		return d.PDF, nil
	}
	if d.Upload == "" || d.Update == nil {
		return nil, fmt.Errorf("%w: %s has neither pdf nor upload and update", ErrAssemble, d.Name)
	}
	out := make([]byte, 0, len(original)+len(d.Update))
	out = append(append(out, original...), d.Update...)
	sum := sha256.Sum256(out)
	if int64(len(out)) != d.Size || hex.EncodeToString(sum[:]) != d.SHA256 {
		return nil, fmt.Errorf("%w: %s: the original is not the uploaded document", ErrAssemble, d.Name)
	}
	return out, nil
}

// CertificateResult is the result of a completed certificate session:
// the id of the phone user (the same id the portal's login results carry)
// and the certificates the user chose to hand over, in the order chosen.
type CertificateResult struct {
	User         string              `json:"user"`
	Certificates []HandedCertificate `json:"certificates"`
}

// HandedCertificate is one certificate of a CertificateResult: the
// credential it belongs to, its issuer, algorithm (AlgSM2, AlgRSA) and
// purpose (PurposeSign, PurposeEncrypt), and the certificate followed by
// its issuer chain (PEM).
type HandedCertificate struct {
	Credential     string `json:"credential"`
	Issuer         string `json:"issuer"`
	Alg            string `json:"alg"`
	Purpose        string `json:"purpose"`
	CertificatePEM string `json:"certificate_pem"`
}

// Raw is a byte string that travels as standard base64 in JSON. Decoding
// is lenient about how a gateway might embed a JSON document (such as the
// login challenge): a base64 string, a string holding the JSON text, or
// the JSON object itself (kept byte for byte).
type Raw []byte

// MarshalJSON encodes r as a standard base64 string.
func (r Raw) MarshalJSON() ([]byte, error) {
	return json.Marshal([]byte(r))
}

// UnmarshalJSON accepts a base64 string, a string starting with "{" (the
// text itself) or a JSON object (its exact bytes).
func (r *Raw) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) > 0 && b[0] == '{':
		*r = append(Raw(nil), b...)
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if len(s) > 0 && s[0] == '{' { // '{' is not in the base64 alphabet
			*r = Raw(s)
			return nil
		}
		d, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return fmt.Errorf("%w: not base64: %v", ErrProtocol, err)
		}
		*r = d
		return nil
	case string(b) == "null":
		*r = nil
		return nil
	}
	return fmt.Errorf("%w: want a base64 string", ErrProtocol)
}

// decodeResult decodes a session result of the given shape.
func decodeResult[T any](raw json.RawMessage, state State) (*T, error) {
	if state != StateCompleted || len(raw) == 0 || string(raw) == "null" {
		return nil, fmt.Errorf("%w (state %q)", ErrNoResult, state)
	}
	v := new(T)
	if err := json.Unmarshal(raw, v); err != nil {
		return nil, fmt.Errorf("%w: result: %v", ErrProtocol, err)
	}
	return v, nil
}

// Login decodes the login result of a completed event.
func (e *Event) Login() (*LoginResult, error) { return decodeResult[LoginResult](e.Result, e.State) }

// Sign decodes the sign result of a completed event.
func (e *Event) Sign() (*SignResult, error) { return decodeResult[SignResult](e.Result, e.State) }

// Seal decodes the seal result of a completed event.
func (e *Event) Seal() (*SealResult, error) { return decodeResult[SealResult](e.Result, e.State) }

// Decrypt decodes the decrypt result of a completed event.
func (e *Event) Decrypt() (*DecryptResult, error) {
	return decodeResult[DecryptResult](e.Result, e.State)
}

// Certificate decodes the certificate result of a completed event.
func (e *Event) Certificate() (*CertificateResult, error) {
	return decodeResult[CertificateResult](e.Result, e.State)
}

// Certificate decodes a completed certificate session's result.
func (s *Session) Certificate() (*CertificateResult, error) {
	return decodeResult[CertificateResult](s.Result, s.State)
}

// Login decodes the login result of a completed session.
func (s *Session) Login() (*LoginResult, error) { return decodeResult[LoginResult](s.Result, s.State) }

// Sign decodes the sign result of a completed session.
func (s *Session) Sign() (*SignResult, error) { return decodeResult[SignResult](s.Result, s.State) }

// Seal decodes a completed seal session's result.
func (s *Session) Seal() (*SealResult, error) { return decodeResult[SealResult](s.Result, s.State) }

// Decrypt decodes the decrypt result of a completed session.
func (s *Session) Decrypt() (*DecryptResult, error) {
	return decodeResult[DecryptResult](s.Result, s.State)
}
