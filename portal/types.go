package portal

import (
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/seal"
)

// The wire types of the portal endpoints are package protocol's; these
// names keep the portal SDK self-contained for its users.

// Kind is a session kind (SessionRequest.Kind).
type Kind = protocol.Kind

// Session kinds.
const (
	KindLogin   = protocol.KindLogin
	KindSign    = protocol.KindSign
	KindDecrypt = protocol.KindDecrypt
	KindSeal    = protocol.KindSeal
	// KindCertificate: the phone user hands over certificates (no PIN).
	KindCertificate = protocol.KindCertificate
)

// State is a session state.
type State = protocol.State

// Session states. The last five are final: no event follows them.
const (
	StateWaiting   = protocol.StateWaiting
	StateScanned   = protocol.StateScanned
	StateCompleted = protocol.StateCompleted
	StateRejected  = protocol.StateRejected
	StateFailed    = protocol.StateFailed
	StateExpired   = protocol.StateExpired
	StateCancelled = protocol.StateCancelled
)

// FinalState reports whether no event can follow state.
func FinalState(state State) bool { return state.Final() }

// Signature formats (SessionRequest.Format) and ciphertext formats
// (SessionRequest.CiphertextFormat).
const (
	FormatRaw         = protocol.FormatRaw
	FormatCMSDetached = protocol.FormatCMSDetached
	FormatCMSAttached = protocol.FormatCMSAttached

	CipherC1C3C2   = protocol.CipherC1C3C2
	CipherC1C2C3   = protocol.CipherC1C2C3
	CipherASN1     = protocol.CipherASN1
	CipherRSAOAEP  = protocol.CipherRSAOAEP
	CipherRSAPKCS1 = protocol.CipherRSAPKCS1
	CipherCMS      = protocol.CipherCMS
)

type (
	// SessionRequest is the body of POST /v1/sessions.
	SessionRequest = protocol.SessionRequest
	// Document is one item to sign: its data, or its digest.
	Document = protocol.Document
	// Display is what the phone shows about the operation.
	Display = protocol.Display
	// Desktop describes the browser that shows the QR code.
	Desktop = protocol.Desktop
	// Session is a scan session as the gateway returns it (the creation
	// answer or GET /v1/sessions/{id}).
	Session = protocol.Session
	// QR holds the QR payload and the image URLs.
	QR = protocol.QRLinks
	// Watch tells how to follow a session's events.
	Watch = protocol.WatchLinks
	// Event is one entry of a session's event stream.
	Event = protocol.Event
	// LoginResult is the result of a completed login session.
	LoginResult = protocol.LoginResult
	// SignResult is the result of a completed sign session.
	SignResult = protocol.SignResult
	// SignedDocument is one signed document of a SignResult.
	SignedDocument = protocol.SignedDocument
	// DecryptResult is the result of a completed decrypt session.
	DecryptResult = protocol.DecryptResult
	// VerifyRequest is the body of POST /v1/verify.
	VerifyRequest = protocol.VerifyRequest
	// VerifyResponse is the gateway's verdict on a signature.
	VerifyResponse = protocol.VerifyResponse
	// Signer names who signed.
	Signer = protocol.Signer
	// Placement is where a seal goes (seal.Placement).
	Placement = seal.Placement
	// Straddle asks for a 骑缝章 across the right edges of pages.
	Straddle = seal.Straddle
	// CertificateResult is the result of a certificate session: the
	// user's id and the certificates the user chose to hand over.
	CertificateResult = protocol.CertificateResult
	// HandedCertificate is one certificate of a CertificateResult.
	HandedCertificate = protocol.HandedCertificate
	// SealResult is the result of a seal session.
	SealResult = protocol.SealResult
	// PDFSignature is one signature of a PDF as /v1/verify reports it.
	PDFSignature = protocol.PDFSignature
	// Raw is a byte string that travels as standard base64 in JSON,
	// decoded leniently (see protocol.Raw).
	Raw = protocol.Raw
)
