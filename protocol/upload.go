package protocol

import "time"

// UploadCreated is the answer of POST /v1/uploads: the upload's id (name
// it as a seal document's "upload"), the SHA-256 (hex) and size of the
// bytes received, and when it expires unless a session claims it first.
type UploadCreated struct {
	ID        string    `json:"id"`
	SHA256    string    `json:"sha256"`
	Size      int64     `json:"size"`
	ExpiresAt time.Time `json:"expires_at"`
}

// DrawnSealRequest is the body of POST /v1/me/seals: a signature the
// phone user drew (a trimmed PNG with a transparent background) and,
// optionally, the seal's name (default "<user name> 手写签名").
type DrawnSealRequest struct {
	ImagePNG []byte `json:"image_png"`
	Name     string `json:"name,omitempty"`
}
