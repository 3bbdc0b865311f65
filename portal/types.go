package portal

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"
)

// Session kinds (SessionRequest.Kind).
const (
	KindLogin   = "login"
	KindSign    = "sign"
	KindDecrypt = "decrypt"
	KindSeal    = "seal"
)

// Session states. The last five are final: no event follows them.
const (
	StateWaiting   = "waiting"
	StateScanned   = "scanned"
	StateCompleted = "completed"
	StateRejected  = "rejected"
	StateFailed    = "failed"
	StateExpired   = "expired"
	StateCancelled = "cancelled"
)

// FinalState reports whether no event can follow state.
func FinalState(state string) bool {
	switch state {
	case StateCompleted, StateRejected, StateFailed, StateExpired, StateCancelled:
		return true
	}
	return false
}

// Signature formats (SessionRequest.Format) and ciphertext formats
// (SessionRequest.CiphertextFormat).
const (
	FormatRaw         = "raw"
	FormatCMSDetached = "cms-detached"
	FormatCMSAttached = "cms-attached"

	CipherC1C3C2   = "c1c3c2"
	CipherC1C2C3   = "c1c2c3"
	CipherASN1     = "asn1"
	CipherRSAOAEP  = "rsa-oaep"
	CipherRSAPKCS1 = "rsa-pkcs1"
	CipherCMS      = "cms"
)

// SessionRequest is the body of POST /v1/sessions. Binary fields travel as
// standard base64 (encoding/json's []byte encoding).
type SessionRequest struct {
	Kind             string     `json:"kind"`
	Issuer           string     `json:"issuer,omitempty"`
	Alg              string     `json:"alg,omitempty"` // "SM2" or "RSA"
	User             string     `json:"user,omitempty"`
	Documents        []Document `json:"documents,omitempty"`
	Format           string     `json:"format,omitempty"`
	Ciphertext       []byte     `json:"ciphertext,omitempty"`
	CiphertextFormat string     `json:"ciphertext_format,omitempty"`
	// ReturnKey asks a decrypt of a CMS envelope for the recovered content
	// key instead of the plaintext (the portal decrypts the bulk itself).
	ReturnKey bool `json:"return_key,omitempty"`
	// Seal names the seal a seal session draws; empty: the phone user
	// chooses among theirs.
	Seal       string  `json:"seal,omitempty"`
	Display    Display `json:"display"`
	TTLSeconds int     `json:"ttl_seconds,omitempty"`

	// Origin is the page origin the widget runs on, and Desktop the
	// browser the user sits at, as the portal backend saw them; the phone
	// shows both. Optional: leave them empty if the gateway should take
	// them from the watcher's connection.
	Origin  string   `json:"origin,omitempty"`
	Desktop *Desktop `json:"desktop,omitempty"`
}

// Document is one item to sign: its data, or its digest (32 bytes:
// SM3(Z||M) for SM2, SHA-256(M) for RSA).
type Document struct {
	Name   string `json:"name"`
	Data   []byte `json:"data,omitempty"`
	Digest []byte `json:"digest,omitempty"`
	// PDF, Placements and Straddle: a seal session's document.
	PDF        []byte      `json:"pdf,omitempty"`
	Placements []Placement `json:"placements,omitempty"`
	Straddle   *Straddle   `json:"straddle,omitempty"`
}

// Display is what the phone shows about the operation.
type Display struct {
	Title   string `json:"title"`
	Summary string `json:"summary"`
}

// Desktop describes the browser that shows the QR code.
type Desktop struct {
	IP        string `json:"ip,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
}

// Session is a scan session as the gateway returns it: the creation answer
// (201 of POST /v1/sessions: ID, State, ExpiresAt, Code, QR, Watch) or GET
// /v1/sessions/{id} (ID, Kind, State, ExpiresAt, Events, Result).
type Session struct {
	ID        string          `json:"id"`
	Kind      string          `json:"kind,omitempty"`
	State     string          `json:"state"`
	ExpiresAt time.Time       `json:"expires_at"`
	Code      string          `json:"code,omitempty"`
	QR        QR              `json:"qr"`
	Watch     Watch           `json:"watch"`
	Events    []Event         `json:"events,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
}

// QR holds the QR payload and the image URLs (the images take the watch
// token as ?token= or the app key).
type QR struct {
	Payload string `json:"payload"`
	PNGURL  string `json:"png_url"`
	SVGURL  string `json:"svg_url"`
}

// Watch tells how to follow a session's events. Token is given only to
// the session's creator; it is the one secret a browser may see.
type Watch struct {
	WSURL     string `json:"ws_url"`
	EventsURL string `json:"events_url"`
	Token     string `json:"token"`
}

// Event is one entry of a session's event stream. Seq grows by one per
// transition; the completed event carries Result.
type Event struct {
	Seq    int64           `json:"seq"`
	Type   string          `json:"type"`
	State  string          `json:"state"`
	At     time.Time       `json:"at"`
	Result json.RawMessage `json:"result,omitempty"`
	Reason string          `json:"reason,omitempty"`
}

// Final reports whether e is the last event of its session.
func (e *Event) Final() bool { return FinalState(e.State) }

// LoginResult is the result of a completed login session: what a UKEY login
// produced. Challenge holds the exact bytes that were signed (a JSON
// object); CertificatePEM the signer's certificate, optionally followed by
// its chain.
type LoginResult struct {
	User           string `json:"user"`
	Credential     string `json:"credential"`
	CertificatePEM string `json:"certificate_pem"`
	Challenge      Raw    `json:"challenge"`
	Signature      []byte `json:"signature"`
}

// SignResult is the result of a completed sign session: one entry per
// requested document, in order, with a raw signature or a CMS SignedData.
type SignResult struct {
	CertificatePEM string           `json:"certificate_pem"`
	Documents      []SignedDocument `json:"documents"`
}

// SignedDocument is one signed document of a SignResult.
type SignedDocument struct {
	Name      string `json:"name"`
	Signature []byte `json:"signature,omitempty"`
	CMS       []byte `json:"cms,omitempty"`
}

// DecryptResult is the result of a completed decrypt session.
type DecryptResult struct {
	Plaintext []byte `json:"plaintext,omitempty"`
	// ContentKey and ContentAlg (the content-encryption algorithm's OID)
	// answer a CMS decrypt asked with ReturnKey.
	ContentKey []byte `json:"content_key,omitempty"`
	ContentAlg string `json:"content_alg,omitempty"`
}

// Placement is where a seal goes: a page (from 1) and the seal's centre
// in millimetres from the page's top-left corner, or a keyword (every
// occurrence gets the seal).
type Placement struct {
	Page    int     `json:"page,omitempty"`
	XMM     float64 `json:"x_mm,omitempty"`
	YMM     float64 `json:"y_mm,omitempty"`
	Keyword string  `json:"keyword,omitempty"`
}

// Straddle asks for a 骑缝章 across the right edges of pages.
type Straddle struct {
	YMM       float64 `json:"y_mm"`
	FirstPage int     `json:"first_page,omitempty"`
	LastPage  int     `json:"last_page,omitempty"`
}

// SealResult is the result of a seal session: the signer's certificate
// chain and each sealed PDF (the original bytes and one incremental
// update), in request order.
type SealResult struct {
	CertificatePEM string `json:"certificate_pem"`
	Documents      []struct {
		Name string `json:"name"`
		PDF  []byte `json:"pdf"`
	} `json:"documents"`
}

// PDFSignature is one signature of a PDF as the gateway's /v1/verify
// reports it.
type PDFSignature struct {
	Field                string    `json:"field"`
	SubFilter            string    `json:"sub_filter,omitempty"`
	Time                 time.Time `json:"time,omitzero"`
	Valid                bool      `json:"valid"`
	Reason               string    `json:"reason,omitempty"`
	Message              string    `json:"message,omitempty"`
	Signer               *Signer   `json:"signer,omitempty"`
	CoversWholeDocument  bool      `json:"covers_whole_document"`
	Modified             bool      `json:"modified"`
	SigningCertificateV2 bool      `json:"signing_certificate_v2"`
	Seal                 *struct {
		ID      string `json:"id"`
		Name    string `json:"name"`
		Kind    string `json:"kind,omitempty"`
		Valid   bool   `json:"valid"`
		Revoked bool   `json:"revoked,omitempty"`
		Issuer  string `json:"issuer"`
	} `json:"seal,omitempty"`
}

// VerifyRequest is the body of POST /v1/verify: data or its digest, and a
// raw signature with the signer's certificate, or a CMS SignedData.
type VerifyRequest struct {
	Data           []byte `json:"data,omitempty"`
	Digest         []byte `json:"digest,omitempty"`
	Signature      []byte `json:"signature,omitempty"`
	CMS            []byte `json:"cms,omitempty"`
	CertificatePEM string `json:"certificate_pem,omitempty"`
	// PDF is a signed PDF, given alone: every signature is checked.
	PDF []byte `json:"pdf,omitempty"`
}

// VerifyResponse is the gateway's verdict: chain, key usage and revocation
// checked against its registered issuers.
type VerifyResponse struct {
	Valid  bool    `json:"valid"`
	Signer *Signer `json:"signer,omitempty"`
	// Reason is a stable code when Valid is false (bad_signature,
	// untrusted, expired, revoked, key_usage); Message says it for people.
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// SigningTime is a CMS signature's signing-time attribute, when
	// present; Signers counts the CMS signers (all must be valid).
	SigningTime time.Time `json:"signing_time,omitzero"`
	Signers     int       `json:"signers,omitempty"`
	// LoginSession is set when the data is a login challenge naming the
	// calling app: true only when data and signature are exactly the
	// result of one of its completed login sessions (while the gateway
	// still keeps it). A raw signature over a challenge cannot otherwise be
	// told apart from one a sign session made over its digest; see
	// VerifyLogin.
	LoginSession *bool `json:"login_session,omitempty"`
	// PDFSignatures lists every signature of a PDF (a pdf request).
	PDFSignatures []PDFSignature `json:"pdf_signatures,omitempty"`
}

// Signer names who signed. IssuerID, Credential and User are set when the
// signature is valid and the certificate is one the gateway issued or
// imported (so a portal can map a login to its own account).
type Signer struct {
	Subject        string    `json:"subject"`
	Issuer         string    `json:"issuer"`
	Serial         string    `json:"serial"`
	NotAfter       time.Time `json:"not_after"`
	Alg            string    `json:"alg,omitempty"`
	CertificatePEM string    `json:"certificate_pem,omitempty"`
	IssuerID       string    `json:"issuer_id,omitempty"`
	Credential     string    `json:"credential,omitempty"`
	User           string    `json:"user,omitempty"`
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
func decodeResult[T any](raw json.RawMessage, state string) (*T, error) {
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

// Seal decodes a completed seal session's result.
func (e *Event) Seal() (*SealResult, error) { return decodeResult[SealResult](e.Result, e.State) }

// Decrypt decodes the decrypt result of a completed event.
func (e *Event) Decrypt() (*DecryptResult, error) {
	return decodeResult[DecryptResult](e.Result, e.State)
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
