package protocol

import (
	"encoding/json"
	"time"

	"github.com/ukeygate/ukeygate/crypto/cosign"
	"github.com/ukeygate/ukeygate/seal"
)

// The phone side of a scan session: scan, confirm, reject. Every request
// is device-signed (SignRequest).

// MaxPINLen bounds a PIN as typed (bytes); the gateway's PIN policy is
// stricter.
const MaxPINLen = 64

// ScanRequest is the body of POST /v1/scan: the QR payload as scanned.
type ScanRequest struct {
	Payload string `json:"payload"`
}

// ScanResponse answers POST /v1/scan: what the phone shows before the
// user confirms, and the user's credentials that fit the request.
type ScanResponse struct {
	Session     ScannedSession `json:"session"`
	Credentials []Credential   `json:"credentials"`
	// Seals are the user's active seals a seal session may draw, each
	// bound to one of Credentials (only the portal's, if it named one).
	Seals []ScannedSeal `json:"seals,omitempty"`
}

// ScannedSeal is one of the user's seals, as the phone shows it.
type ScannedSeal struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Kind     seal.Kind `json:"kind"`
	WidthMM  float64   `json:"width_mm"`
	HeightMM float64   `json:"height_mm"`
	ImagePNG []byte    `json:"image_png"`
	// Credentials are the ids of Credentials whose certificate the seal
	// names as a signer: the credential to confirm with.
	Credentials []string `json:"credentials,omitempty"`
}

// ScannedSession is a scanned session as the phone sees it.
type ScannedSession struct {
	ID   string     `json:"id"`
	Kind Kind       `json:"kind"`
	App  ScannedApp `json:"app"`
	// Origin is the page the QR code was shown on.
	Origin  string  `json:"origin"`
	Desktop Desktop `json:"desktop"`
	Display Display `json:"display"`
	// CodeChoices are the three matching codes the user picks from; the
	// right one is shown on the desktop page.
	CodeChoices []string  `json:"code_choices"`
	ExpiresAt   time.Time `json:"expires_at"`
	// Issuer and Alg are what the portal asked for (empty: any).
	Issuer string `json:"issuer,omitempty"`
	Alg    string `json:"alg,omitempty"`
	// Format is the signature format of a sign session.
	Format    string            `json:"format,omitempty"`
	Documents []ScannedDocument `json:"documents,omitempty"`
	// Seal is the seal the portal asked for (empty: the user chooses).
	Seal string `json:"seal,omitempty"`
	// Ciphertext describes what a decrypt session opens.
	Ciphertext *ScannedCiphertext `json:"ciphertext,omitempty"`
}

// ScannedApp names the portal.
type ScannedApp struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Digest algorithms of a ScannedDocument.
const (
	// DigestSM3: the digest is hex SM3 of the data the portal sent.
	DigestSM3 = "sm3"
	// DigestGiven: the digest is the one the portal gave (hex).
	DigestGiven = "given"
)

// ScannedDocument is one document of a sign session: its size (when the
// portal sent the data) and a hex digest to show (DigestAlg DigestSM3 or
// DigestGiven).
type ScannedDocument struct {
	Name      string `json:"name"`
	Size      *int   `json:"size,omitempty"`
	Digest    string `json:"digest"`
	DigestAlg string `json:"digest_alg"`
	// Pages, Placements and Straddle: a seal session's PDF, its page
	// count and where the seal goes.
	Pages      int              `json:"pages,omitempty"`
	Placements []seal.Placement `json:"placements,omitempty"`
	Straddle   *seal.Straddle   `json:"straddle,omitempty"`
	// FileText is what the gateway itself read in a seal session's PDF
	// when the session was created, unlike Display (the portal's words):
	// its page count, the first lines of page 1 and, for each place the
	// seal lands, the text nearest to it (seal.Excerpt; characters that
	// are invisible or change the direction of text shown as
	// "[U+XXXX]"). Absent for a session created before gateways read it.
	FileText *seal.Excerpt `json:"file_text,omitempty"`
	// Sketches are pictures the gateway draws, at the scan, of the pages
	// where FileText's spots are (seal.Sketches): the page's box, its
	// text at its place, each listed spot's seal as a dashed rectangle;
	// no pictures or drawings. At most MaxScanSketches in a scan answer.
	Sketches []PageSketch `json:"sketches,omitempty"`
}

// MaxScanSketches bounds the page sketches of one scan answer (the first
// pages with spots, document by document).
const MaxScanSketches = 6

// PageSketch is one page drawn by the gateway: an SVG document (UTF-8),
// to show as an image.
type PageSketch struct {
	Page int    `json:"page"`
	SVG  string `json:"svg"`
}

// ScannedCiphertext describes what a decrypt session opens: its format,
// size and hex SM3.
type ScannedCiphertext struct {
	Format    string `json:"format"`
	Size      int    `json:"size"`
	SM3       string `json:"sm3"`
	ReturnKey bool   `json:"return_key,omitempty"`
}

// ConfirmRequest is the body of POST /v1/sessions/{id}/confirm: the chosen
// credential, the PIN and the matching code the user picked.
type ConfirmRequest struct {
	Credential string `json:"credential,omitempty"`
	// Credentials are the credentials whose certificates a certificate
	// session hands over (one or more, in the order chosen); no PIN. The
	// other kinds take Credential.
	Credentials []string `json:"credentials,omitempty"`
	// PIN is required for a usual credential and absent for a cosign one
	// (its PIN is folded into the phone's share).
	PIN  string `json:"pin,omitempty"`
	Code string `json:"code"`
	// Cosign is the phone's answer to the cosign challenge of the first
	// confirm request of a cosign credential (the second request).
	Cosign *cosign.Answer `json:"cosign,omitempty"`
	// Seal is the seal chosen for a seal session (one of the scan
	// answer's seals); empty when the portal named it.
	Seal string `json:"seal,omitempty"`
}

// CosignChallengeResponse answers (202) the first confirm request of a
// cosign credential: the session stays scanned, and Cosign is the
// challenge (cosign.Challenge) the phone answers in its second request.
type CosignChallengeResponse struct {
	ID     string          `json:"id"`
	State  State           `json:"state"`
	Cosign json.RawMessage `json:"cosign"`
}

// RejectRequest is the (optional, empty) body of POST
// /v1/sessions/{id}/reject.
type RejectRequest struct{}
