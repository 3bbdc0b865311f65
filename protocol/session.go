package protocol

import (
	"encoding/json"
	"time"

	"github.com/ukeygate/ukeygate/seal"
)

// Kind is what a session asks the phone user to do.
type Kind string

// The session kinds.
const (
	KindLogin   Kind = "login"
	KindSign    Kind = "sign"
	KindDecrypt Kind = "decrypt"
	// KindSeal draws a seal on PDFs and signs them (PAdES, see package
	// seal).
	KindSeal Kind = "seal"
	// KindCertificate hands the phone user's chosen certificates (and the
	// user's id) to the portal: no key is used, no PIN is asked.
	KindCertificate Kind = "certificate"
)

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool {
	return k == KindLogin || k == KindSign || k == KindDecrypt || k == KindSeal || k == KindCertificate
}

// State is where a session is in its state machine:
//
//	waiting --scan--> scanned --confirm--> completed
//	   |                 |--reject-->  rejected
//	   |                 |--op fails-> failed
//	   +--ttl/cancel--> expired / cancelled   (from waiting or scanned)
type State string

// The session states. The last five are final: no event follows them.
const (
	StateWaiting   State = "waiting"
	StateScanned   State = "scanned"
	StateCompleted State = "completed"
	StateRejected  State = "rejected"
	StateFailed    State = "failed"
	StateExpired   State = "expired"
	StateCancelled State = "cancelled"
)

// States lists every state, in the order of the state machine.
var States = []State{StateWaiting, StateScanned, StateCompleted, StateRejected, StateFailed, StateExpired, StateCancelled}

// Valid reports whether s is a known state.
func (s State) Valid() bool {
	switch s {
	case StateWaiting, StateScanned, StateCompleted, StateRejected, StateFailed, StateExpired, StateCancelled:
		return true
	}
	return false
}

// Final reports whether s is an end state (no event follows it).
func (s State) Final() bool {
	switch s {
	case StateCompleted, StateRejected, StateFailed, StateExpired, StateCancelled:
		return true
	}
	return false
}

// Key algorithms (SessionRequest.Alg, Credential.Alg).
const (
	AlgSM2 = "SM2"
	AlgRSA = "RSA"
)

// Signature formats (SessionRequest.Format).
const (
	FormatRaw         = "raw"
	FormatCMSDetached = "cms-detached"
	FormatCMSAttached = "cms-attached"
)

// Ciphertext formats (SessionRequest.CiphertextFormat).
const (
	CipherC1C3C2   = "c1c3c2"
	CipherC1C2C3   = "c1c2c3"
	CipherASN1     = "asn1"
	CipherRSAOAEP  = "rsa-oaep"
	CipherRSAPKCS1 = "rsa-pkcs1"
	CipherCMS      = "cms"
)

// CiphertextFormats are the accepted SessionRequest.CiphertextFormat
// values.
var CiphertextFormats = []string{CipherC1C3C2, CipherC1C2C3, CipherASN1, CipherRSAOAEP, CipherRSAPKCS1, CipherCMS}

// Document is one item to sign: its data, or its digest (32 bytes:
// SM3(Z||M) for SM2, SHA-256(M) for RSA); exactly one is set. A seal
// session's documents carry PDF and Placements (and optionally a Straddle
// seal) instead.
type Document struct {
	Name   string `json:"name"`
	Data   []byte `json:"data,omitempty"`
	Digest []byte `json:"digest,omitempty"`
	// PDF, Placements, Straddle: a seal session's document.
	PDF []byte `json:"pdf,omitempty"`
	// Upload names an upload (POST /v1/uploads) of the same app holding
	// the PDF, instead of PDF, for documents over session.max_data_bytes.
	// The sealed result then holds only the bytes the seal appends
	// (SealedPDFDoc.Update).
	Upload     string           `json:"upload,omitempty"`
	Placements []seal.Placement `json:"placements,omitempty"`
	Straddle   *seal.Straddle   `json:"straddle,omitempty"`
	// Pages is the PDF's page count (set by the gateway at creation,
	// shown on the phone).
	Pages int `json:"pages,omitempty"`
	// Size and SM3 are an uploaded PDF's length and SM3 hash (set by the
	// gateway at creation from the upload).
	Size int64  `json:"size,omitempty"`
	SM3  []byte `json:"sm3,omitempty"`
	// FileText is what the gateway read in the PDF itself (set by the
	// gateway at creation, shown on the phone, dropped when the session
	// ends): see ScannedDocument.FileText.
	FileText *seal.Excerpt `json:"file_text,omitempty"`
}

// Display is what the phone shows about the operation.
type Display struct {
	Title   string `json:"title,omitempty"`
	Summary string `json:"summary,omitempty"`
}

// Desktop describes the browser that shows the QR code.
type Desktop struct {
	IP        string `json:"ip,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
}

// SessionRequest is the body of POST /v1/sessions. Binary fields travel as
// standard base64 (encoding/json's []byte encoding).
type SessionRequest struct {
	Kind             Kind       `json:"kind"`
	Issuer           string     `json:"issuer,omitempty"`
	Alg              string     `json:"alg,omitempty"` // AlgSM2 or AlgRSA
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
	Seal    string  `json:"seal,omitempty"`
	Display Display `json:"display"`
	// TTLSeconds is the session's lifetime; 0 means the gateway's default.
	TTLSeconds int `json:"ttl_seconds,omitempty"`
	// Origin is the page origin the widget runs on, and Desktop the
	// browser the user sits at, as the portal backend saw them; the phone
	// shows both. Optional: empty Origin means the request's Origin header
	// or the app's only origin; nil Desktop means the creating request's
	// remote address and User-Agent.
	Origin  string   `json:"origin,omitempty"`
	Desktop *Desktop `json:"desktop,omitempty"`
}

// QRLinks holds the QR payload and the image URLs (the images take the
// watch token, as in these URLs, or the app key).
type QRLinks struct {
	Payload string `json:"payload"`
	PNGURL  string `json:"png_url"`
	SVGURL  string `json:"svg_url"`
}

// WatchLinks tells how to follow a session's events. Token is given only
// to the session's creator; it is the one secret a browser may see.
type WatchLinks struct {
	WSURL     string `json:"ws_url"`
	EventsURL string `json:"events_url"`
	Token     string `json:"token"`
	// PollWait is the wait= (seconds) this server holds a long-poll on
	// EventsURL: the longest it promises to keep a request open (added in
	// v1.1; absent from older servers, whose clients use 25).
	PollWait int `json:"poll_wait,omitempty"`
}

// SessionCreated answers POST /v1/sessions (201).
type SessionCreated struct {
	ID        string     `json:"id"`
	State     State      `json:"state"`
	ExpiresAt time.Time  `json:"expires_at"`
	Code      string     `json:"code"`
	QR        QRLinks    `json:"qr"`
	Watch     WatchLinks `json:"watch"`
}

// SessionView answers GET /v1/sessions/{id}: what never changes, and the
// event list whose last event gives the state, the reason, the end time
// and the result.
type SessionView struct {
	ID        string          `json:"id"`
	Kind      Kind            `json:"kind"`
	State     State           `json:"state"`
	Code      string          `json:"code"`
	Origin    string          `json:"origin"`
	CreatedAt time.Time       `json:"created_at"`
	ExpiresAt time.Time       `json:"expires_at"`
	EndedAt   time.Time       `json:"ended_at,omitzero"`
	Reason    string          `json:"reason,omitempty"`
	Events    []Event         `json:"events"`
	Result    json.RawMessage `json:"result,omitempty"`
}

// Session is a scan session as a client keeps it: either answer decoded
// into one value. The creation answer (SessionCreated) sets ID, State,
// ExpiresAt, Code, QR and Watch; GET /v1/sessions/{id} (SessionView) sets
// ID, Kind, State, Code, Origin, CreatedAt, ExpiresAt, EndedAt, Reason,
// Events and Result.
type Session struct {
	ID        string          `json:"id"`
	Kind      Kind            `json:"kind,omitempty"`
	State     State           `json:"state"`
	Code      string          `json:"code,omitempty"`
	Origin    string          `json:"origin,omitempty"`
	CreatedAt time.Time       `json:"created_at,omitzero"`
	ExpiresAt time.Time       `json:"expires_at"`
	EndedAt   time.Time       `json:"ended_at,omitzero"`
	Reason    string          `json:"reason,omitempty"`
	QR        QRLinks         `json:"qr"`
	Watch     WatchLinks      `json:"watch"`
	Events    []Event         `json:"events,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
}

// SessionState answers DELETE /v1/sessions/{id}, confirm and reject.
type SessionState struct {
	ID    string `json:"id"`
	State State  `json:"state"`
}

// EventTypeState is the type of every event so far: a state change.
const EventTypeState = "state"

// Event is one entry of a session's event stream (websocket messages,
// the long-poll, GET /v1/sessions/{id}). Seq starts at 1 (the "waiting"
// event written at creation) and grows by exactly 1 per transition.
type Event struct {
	Seq   int64     `json:"seq"`
	Type  string    `json:"type"`
	State State     `json:"state"`
	At    time.Time `json:"at"`
	// Result is set only on the completed event.
	Result json.RawMessage `json:"result,omitempty"`
	// Reason is set on the failed event (and on cancelled/rejected when a
	// reason was given).
	Reason string `json:"reason,omitempty"`
}

// Final reports whether e is the last event of its session.
func (e *Event) Final() bool { return e.State.Final() }

// EventList answers the long-poll GET /v1/sessions/{id}/events.
type EventList struct {
	Events []Event `json:"events"`
}
