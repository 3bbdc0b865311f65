package session

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/seal"
)

// Kind is what a session asks the phone user to do (protocol.Kind).
type Kind = protocol.Kind

// The kinds of docs/protocol.md.
const (
	KindLogin   = protocol.KindLogin
	KindSign    = protocol.KindSign
	KindDecrypt = protocol.KindDecrypt
	// KindSeal draws a seal on PDFs and signs them (PAdES, see package seal).
	KindSeal = protocol.KindSeal
	// KindCertificate hands the user's chosen certificates to the portal
	// (handover.go): no key, no PIN.
	KindCertificate = protocol.KindCertificate
)

// State is where a session is in its state machine (protocol.State; its
// Final method agrees with transitions, TestTransitionTable).
type State = protocol.State

// The states of docs/protocol.md.
const (
	StateWaiting   = protocol.StateWaiting
	StateScanned   = protocol.StateScanned
	StateCompleted = protocol.StateCompleted
	StateRejected  = protocol.StateRejected
	StateFailed    = protocol.StateFailed
	StateExpired   = protocol.StateExpired
	StateCancelled = protocol.StateCancelled
)

// States lists every state, in the order of the state machine.
var States = protocol.States

// transitions is the state machine of docs/protocol.md, the only source of truth:
//
//	waiting --scan--> scanned --confirm--> completed
//	   |                 |--reject-->  rejected
//	   |                 |--op fails-> failed
//	   +--ttl/cancel--> expired / cancelled   (from waiting or scanned)
var transitions = map[State][]State{
	StateWaiting: {StateScanned, StateExpired, StateCancelled},
	StateScanned: {StateCompleted, StateRejected, StateFailed, StateExpired, StateCancelled},
}

// CanTransition reports whether the state machine allows from → to.
func CanTransition(from, to State) bool {
	for _, t := range transitions[from] {
		if t == to {
			return true
		}
	}
	return false
}

// CheckTransition returns nil if from → to is allowed, and otherwise the
// error that tells the caller why not: ErrExpired from expired,
// ErrSessionClosed from the other end states, ErrNotScanned for a
// confirm/reject/fail of a waiting session, ErrAlreadyScanned for a second
// scan, ErrInvalidTransition for anything else.
func CheckTransition(from, to State) error {
	if CanTransition(from, to) {
		return nil
	}
	switch {
	case from == StateExpired:
		return ErrExpired
	case from.Final():
		return ErrSessionClosed
	case from == StateWaiting && (to == StateCompleted || to == StateRejected || to == StateFailed):
		return ErrNotScanned
	case from == StateScanned && to == StateScanned:
		return ErrAlreadyScanned
	}
	return fmt.Errorf("%w: %q to %q", ErrInvalidTransition, from, to)
}

// EventTypeState is the type of every event so far: a state change.
const EventTypeState = protocol.EventTypeState

// Event is one entry of a session's event stream (protocol.Event). Seq
// starts at 1 (the "waiting" event written at creation) and grows by
// exactly 1 per transition.
type Event = protocol.Event

// Desktop describes the browser that shows the QR code, as seen by the
// gateway when the portal created the session (the portal forwards it).
type Desktop = protocol.Desktop

// Display is the text the phone shows for the operation.
type Display = protocol.Display

// Document is one item to sign (protocol.Document). Exactly one of Data
// and Digest is set; a seal session's documents carry PDF and Placements
// (and optionally a Straddle seal) instead.
type Document = protocol.Document

// Request holds what the portal asked for, with the field names of
// POST /v1/sessions (binary values are standard base64 in JSON).
type Request struct {
	Issuer           string     `json:"issuer,omitempty"`
	Alg              string     `json:"alg,omitempty"`
	User             string     `json:"user,omitempty"`
	Documents        []Document `json:"documents,omitempty"`
	Format           string     `json:"format,omitempty"`
	Ciphertext       []byte     `json:"ciphertext,omitempty"`
	CiphertextFormat string     `json:"ciphertext_format,omitempty"`
	// ReturnKey asks a decrypt of a CMS envelope for the recovered content
	// key instead of the plaintext.
	ReturnKey bool `json:"return_key,omitempty"`
	// Seal is the seal a seal session draws; empty: the phone user
	// chooses among theirs.
	Seal    string  `json:"seal,omitempty"`
	Display Display `json:"display"`
}

// Values of Request fields.
const (
	AlgSM2 = protocol.AlgSM2
	AlgRSA = protocol.AlgRSA

	FormatRaw         = protocol.FormatRaw
	FormatCMSDetached = protocol.FormatCMSDetached
	FormatCMSAttached = protocol.FormatCMSAttached
)

// CiphertextFormats are the accepted Request.CiphertextFormat values.
var CiphertextFormats = protocol.CiphertextFormats

// Limits on a Request (the api package bounds the request body as a whole).
const (
	MaxDocuments   = 100
	MaxNameLen     = 255  // document name, in bytes
	MaxIDLen       = 128  // issuer, user, app, device ids
	MaxOriginLen   = 256  // the page origin
	MaxTitleLen    = 200  // display title, in bytes
	MaxSummaryLen  = 2000 // display summary, in bytes
	MaxUserAgent   = 512  // longer user agents are truncated
	MaxReasonLen   = 64
	maxDesktopIP   = 64
	defaultOpError = "operation_failed"
)

// Session is one scan session as stored (without its secrets: the QR nonce
// and the watch token hash stay inside the package).
type Session struct {
	ID        string    `json:"id"`
	Kind      Kind      `json:"kind"`
	AppID     string    `json:"app"`
	Origin    string    `json:"origin"`
	State     State     `json:"state"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// EndedAt is when the session reached its end state.
	EndedAt time.Time `json:"ended_at,omitzero"`
	// Code is the two-digit matching code the desktop shows.
	Code    string  `json:"code"`
	Request Request `json:"request"`
	Desktop Desktop `json:"desktop"`
	// DeviceID and UserID are bound by the scan.
	DeviceID string `json:"device,omitempty"`
	UserID   string `json:"user,omitempty"`
	// Result is the completed operation's result (JSON of the api
	// package), on the Session that Confirm returns. It is stored only
	// once, sealed in the completed event: a session read back (Get,
	// GetForApp, CheckWatchToken) has none; read it from the final event
	// (Events, Watch, Poll).
	Result     json.RawMessage `json:"result,omitempty"`
	FailReason string          `json:"fail_reason,omitempty"`
	// Seq is the sequence number of the session's last event.
	Seq int64 `json:"seq"`
	// Trimmed is set once the session has ended: its bulky inputs were
	// dropped to keep the stored record small. Each document keeps its
	// name and a Digest (SM3 of its data when the portal sent data, which
	// is gone); the ciphertext is gone and CiphertextSM3 keeps its SM3.
	Trimmed       bool   `json:"trimmed,omitempty"`
	CiphertextSM3 []byte `json:"ciphertext_sm3,omitempty"`

	// claim is the confirm claim of the Session handed to Confirm's op
	// (see CheckConfirm); never stored.
	claim string
}

// Open reports whether the session can still change (waiting or scanned).
func (s *Session) Open() bool { return s.State == StateWaiting || s.State == StateScanned }

// dataBytes is the size of a request's binary inputs: its documents' data
// and its ciphertext (Config.MaxDataBytes bounds it).
func (r *Request) dataBytes() int {
	n := len(r.Ciphertext)
	for _, d := range r.Documents {
		n += len(d.Data) + len(d.PDF)
	}
	return n
}

// trim drops the bulky inputs of an ended session (see Session.Trimmed).
func (s *Session) trim() {
	if s.Trimmed {
		return
	}
	if len(s.Request.Documents) > 0 {
		docs := make([]Document, len(s.Request.Documents))
		for i, d := range s.Request.Documents {
			// FileText (what the phone was shown) goes too.
			docs[i] = Document{Name: d.Name, Digest: DocumentDigest(d), Placements: d.Placements, Straddle: d.Straddle, Pages: d.Pages,
				Upload: d.Upload, Size: d.Size}
		}
		s.Request.Documents = docs
	}
	if s.Request.Ciphertext != nil {
		s.CiphertextSM3 = gmcrypto.SM3(s.Request.Ciphertext)
		s.Request.Ciphertext = nil
	}
	s.Trimmed = true
}

// clone returns a deep enough copy for callers to keep.
func (s *Session) clone() *Session {
	c := *s
	c.Request.Documents = append([]Document(nil), s.Request.Documents...)
	return &c
}

// CreateParams are the inputs of Service.Create.
type CreateParams struct {
	Kind  Kind
	AppID string
	// Origin is the origin of the portal page that shows the QR code
	// (required; the api checks it against the app's allowed origins).
	Origin  string
	Request Request
	Desktop Desktop
	// TTL of the session; 0 means Config.TTL. Must be whole seconds within
	// [MinTTL, Config.MaxTTL], else ErrTTL.
	TTL time.Duration
	// ChainBytes is the DER size of the longest issuer chain whose
	// credentials may serve the session (the requested issuer's, or the
	// largest registered); Create bounds the result with it
	// (CreationBound). 0 when unknown: the result is then bounded with
	// the signer's own certificate only.
	ChainBytes int
}

func textOK(s string, max int) bool {
	if len(s) > max || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return false
		}
	}
	return true
}

// displayOK checks text the phone shows the user as what a PIN is asked
// for (display title and summary, document names, placement keywords):
// textOK, and no invisible or direction-changing character
// (protocol.HiddenRune).
func displayOK(s string, max int) bool {
	if !textOK(s, max) {
		return false
	}
	_, hidden := protocol.HiddenIn(s)
	return !hidden
}

// idOK checks an id supplied by another package (app, device, user, issuer).
func idOK(s string) bool { return s != "" && textOK(s, MaxIDLen) }

// validate checks p and normalises it (default format, truncated user
// agent). Errors wrap ErrInvalidRequest and name the field.
func (p *CreateParams) validate() error {
	if err := p.validateCommon(); err != nil {
		return err
	}
	switch p.Kind {
	case KindLogin:
		return p.Request.validateLogin()
	case KindSign:
		return p.Request.validateSign()
	case KindDecrypt:
		return p.Request.validateDecrypt()
	case KindSeal:
		return p.Request.validateSeal()
	case KindCertificate:
		return p.Request.validateCertificate()
	}
	return nil
}

// badRequest is an ErrInvalidRequest that says what is wrong with the
// request field named field (spelled as on the wire, "documents[2].data";
// "" when no one field is at fault): a *protocol.FieldError, so that the
// error answer names the field.
func badRequest(field, format string, a ...any) error {
	if field == "" {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidRequest}, a...)...)
	}
	return &protocol.FieldError{Field: field, Reason: fmt.Sprintf(format, a...), Err: ErrInvalidRequest}
}

// validateCommon checks what every kind has: the kind, app, origin, the
// optional alg, issuer and user, the display texts and the desktop (whose
// user agent it cuts to MaxUserAgent).
func (p *CreateParams) validateCommon() error {
	r := &p.Request
	if !p.Kind.Valid() {
		return badRequest("kind", "%q is not login, sign, decrypt, seal or certificate", p.Kind)
	}
	if !idOK(p.AppID) {
		return badRequest("", "app id is empty or malformed")
	}
	if p.Origin == "" || !textOK(p.Origin, MaxOriginLen) {
		return badRequest("origin", "empty, malformed or longer than %d bytes", MaxOriginLen)
	}
	switch r.Alg {
	case "", AlgSM2, AlgRSA:
	default:
		return badRequest("alg", "%q is not SM2 or RSA", r.Alg)
	}
	if r.Issuer != "" && !idOK(r.Issuer) {
		return badRequest("issuer", "malformed")
	}
	if r.User != "" && !idOK(r.User) {
		return badRequest("user", "malformed")
	}
	if !displayOK(r.Display.Title, MaxTitleLen) {
		return badRequest("display.title", "malformed or longer than %d bytes", MaxTitleLen)
	}
	if !displayOK(r.Display.Summary, MaxSummaryLen) {
		return badRequest("display.summary", "malformed or longer than %d bytes", MaxSummaryLen)
	}
	if !textOK(p.Desktop.IP, maxDesktopIP) {
		return badRequest("desktop.ip", "malformed")
	}
	p.Desktop.UserAgent = truncateUTF8(p.Desktop.UserAgent, MaxUserAgent)
	if !textOK(p.Desktop.UserAgent, MaxUserAgent) {
		return badRequest("desktop.user_agent", "malformed")
	}
	if p.Kind != KindSeal && r.Seal != "" {
		return badRequest("seal", "only a seal session takes a seal")
	}
	if p.Kind != KindSeal {
		for i, d := range r.Documents {
			if d.PDF != nil || d.Placements != nil || d.Straddle != nil || d.Pages != 0 || d.FileText != nil {
				return badRequest(fmt.Sprintf("documents[%d]", i), "pdf, placements and straddle are for seal sessions")
			}
		}
	}
	return nil
}

// firstSet names the first of the request fields names that is set ("" if
// none is): the field a kind that takes none of them is refused for.
func (r *Request) firstSet(names ...string) string {
	for _, n := range names {
		set := false
		switch n {
		case "documents":
			set = len(r.Documents) > 0
		case "format":
			set = r.Format != ""
		case "ciphertext":
			set = len(r.Ciphertext) > 0
		case "ciphertext_format":
			set = r.CiphertextFormat != ""
		case "return_key":
			set = r.ReturnKey
		}
		if set {
			return n
		}
	}
	return ""
}

// validateCertificate: a certificate session carries nothing to sign or
// decrypt (issuer and alg narrow the certificates offered).
func (r *Request) validateCertificate() error {
	if len(r.Documents) > 0 || len(r.Ciphertext) > 0 || r.Format != "" || r.CiphertextFormat != "" || r.ReturnKey {
		return badRequest(r.firstSet("documents", "format", "ciphertext", "ciphertext_format", "return_key"), "a certificate session takes no documents, format or ciphertext")
	}
	return nil
}

// validateLogin: a login carries nothing to sign or decrypt.
func (r *Request) validateLogin() error {
	if len(r.Documents) > 0 || len(r.Ciphertext) > 0 || r.Format != "" || r.CiphertextFormat != "" || r.ReturnKey {
		return badRequest(r.firstSet("documents", "format", "ciphertext", "ciphertext_format", "return_key"), "a login takes no documents, format or ciphertext")
	}
	return nil
}

// validateSign: a sign request has a format (default raw) and 1 to
// MaxDocuments documents, no ciphertext.
func (r *Request) validateSign() error {
	if len(r.Ciphertext) > 0 || r.CiphertextFormat != "" || r.ReturnKey {
		return badRequest(r.firstSet("ciphertext", "ciphertext_format", "return_key"), "a sign request takes no ciphertext")
	}
	switch r.Format {
	case "":
		r.Format = FormatRaw
	case FormatRaw, FormatCMSDetached, FormatCMSAttached:
	default:
		return badRequest("format", "%q is not raw, cms-detached or cms-attached", r.Format)
	}
	if len(r.Documents) == 0 || len(r.Documents) > MaxDocuments {
		return badRequest("documents", "a sign request needs 1 to %d documents", MaxDocuments)
	}
	seen := make(map[string]bool, len(r.Documents))
	for i, d := range r.Documents {
		if seen[d.Name] { // (a name seen before passed its checks then)
			return badRequest(fmt.Sprintf("documents[%d].name", i), "%q appears twice", d.Name)
		}
		if err := r.validateDocument(i, d); err != nil {
			return err
		}
		seen[d.Name] = true
	}
	return nil
}

// validateDocument checks document i: a name, and exactly one of data
// (not empty) and a digest of DigestSize bytes (not with cms-attached).
func (r *Request) validateDocument(i int, d Document) error {
	switch {
	case d.Name == "" || !displayOK(d.Name, MaxNameLen):
		return badRequest(fmt.Sprintf("documents[%d].name", i), "empty, malformed or longer than %d bytes", MaxNameLen)
	case (d.Data == nil) == (d.Digest == nil):
		return badRequest(fmt.Sprintf("documents[%d]", i), "needs exactly one of data and digest")
	case d.Digest != nil && len(d.Digest) != gmcrypto.DigestSize:
		return badRequest(fmt.Sprintf("documents[%d].digest", i), "must be %d bytes (SM3 or SHA-256)", gmcrypto.DigestSize)
	case d.Digest != nil && r.Format == FormatCMSAttached:
		return badRequest(fmt.Sprintf("documents[%d].digest", i), "cms-attached needs the data, not a digest")
	case d.Data != nil && len(d.Data) == 0:
		return badRequest(fmt.Sprintf("documents[%d].data", i), "empty")
	}
	return nil
}

// validateDecrypt: a decrypt request has a ciphertext in one of
// CiphertextFormats (return_key only with cms), no documents, and the
// ciphertext has that format's shape (else ErrBadCiphertext).
func (r *Request) validateDecrypt() error {
	if len(r.Documents) > 0 || r.Format != "" {
		return badRequest(r.firstSet("documents", "format"), "a decrypt request takes no documents or format")
	}
	if len(r.Ciphertext) == 0 {
		return badRequest("ciphertext", "a decrypt request needs a ciphertext")
	}
	if !slices.Contains(CiphertextFormats, r.CiphertextFormat) {
		return badRequest("ciphertext_format", "%q is not one of %v", r.CiphertextFormat, CiphertextFormats)
	}
	if r.ReturnKey && r.CiphertextFormat != "cms" {
		return badRequest("return_key", "needs ciphertext_format cms")
	}
	var err error
	if r.CiphertextFormat == protocol.CipherCMS {
		err = gmcrypto.CheckEnvelope(r.Ciphertext)
	} else {
		err = gmcrypto.CheckCiphertext(r.Ciphertext, gmcrypto.CipherFormat(r.CiphertextFormat))
	}
	if err != nil {
		return fmt.Errorf("%w: ciphertext_format %s: %v", ErrBadCiphertext, r.CiphertextFormat, err)
	}
	return nil
}

// MaxSealDocuments bounds the PDFs of one seal session.
const MaxSealDocuments = 20

// validateSeal: a seal request has 1 to MaxSealDocuments PDFs, each with
// placements or a straddle seal, no data, digest, format or ciphertext.
func (r *Request) validateSeal() error {
	if len(r.Ciphertext) > 0 || r.CiphertextFormat != "" || r.ReturnKey || r.Format != "" {
		return badRequest(r.firstSet("ciphertext", "ciphertext_format", "return_key", "format"), "a seal request takes no ciphertext or format")
	}
	if r.Seal != "" && !idOK(r.Seal) {
		return badRequest("seal", "malformed")
	}
	if len(r.Documents) == 0 || len(r.Documents) > MaxSealDocuments {
		return badRequest("documents", "a seal request needs 1 to %d documents", MaxSealDocuments)
	}
	seen := make(map[string]bool, len(r.Documents))
	for i, d := range r.Documents {
		if d.Name == "" || !displayOK(d.Name, MaxNameLen) {
			return badRequest(fmt.Sprintf("documents[%d].name", i), "empty, malformed or longer than %d bytes", MaxNameLen)
		}
		if seen[d.Name] {
			return badRequest(fmt.Sprintf("documents[%d].name", i), "%q appears twice", d.Name)
		}
		seen[d.Name] = true
		if d.Data != nil || d.Digest != nil {
			return badRequest(fmt.Sprintf("documents[%d]", i), "a seal document has pdf, not data or digest")
		}
		switch {
		case len(d.PDF) == 0 && d.Upload == "":
			return badRequest(fmt.Sprintf("documents[%d].pdf", i), "required (or documents[%d].upload)", i)
		case len(d.PDF) > 0 && d.Upload != "":
			return badRequest(fmt.Sprintf("documents[%d].upload", i), "has pdf and upload: give one")
		case d.Upload != "" && !idOK(d.Upload):
			return badRequest(fmt.Sprintf("documents[%d].upload", i), "malformed")
		case d.Upload == "" && (d.Size != 0 || d.SM3 != nil):
			return badRequest(fmt.Sprintf("documents[%d].size", i), "size and sm3 belong to uploads")
		}
		if len(d.Placements) == 0 && d.Straddle == nil {
			return badRequest(fmt.Sprintf("documents[%d].placements", i), "needs placements or a straddle seal")
		}
		if len(d.Placements) > seal.MaxPlacements {
			return badRequest(fmt.Sprintf("documents[%d].placements", i), "more than %d placements", seal.MaxPlacements)
		}
		for j, pl := range d.Placements {
			if err := pl.Validate(); err != nil {
				return badRequest(fmt.Sprintf("documents[%d].placements[%d]", i, j), "%v", err)
			}
			if pl.Keyword != "" && !displayOK(pl.Keyword, seal.MaxKeywordLen) {
				return badRequest(fmt.Sprintf("documents[%d].placements[%d].keyword", i, j), "malformed")
			}
			if d.Pages > 0 && pl.Page > d.Pages {
				return badRequest(fmt.Sprintf("documents[%d].placements[%d]", i, j), "page %d, the document has %d", pl.Page, d.Pages)
			}
		}
	}
	return nil
}

func truncateUTF8(s string, max int) string {
	if len(s) <= max {
		return s
	}
	// Cut at the last rune start at or before max, so that a multi-byte
	// character is not split.
	for i := max; i > 0 && i > max-utf8.UTFMax; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i]
		}
	}
	return s[:max]
}

// reasonOK: a reason is a snake_case code.
func reasonOK(r string) bool {
	if r == "" || len(r) > MaxReasonLen {
		return false
	}
	for _, c := range []byte(r) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
