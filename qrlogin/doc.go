// Package qrlogin holds what travels through the QR code and the login
// challenge:
//
//   - the QR payload, a short URL under the gateway's public_url holding a
//     session id and a one-time nonce (Encode, Parse; at most 100
//     characters, so the QR code stays small and scans fast);
//   - the QR images, PNG and SVG, rendered from go-qrcode's bitmap with
//     medium error correction and a four-module quiet zone;
//   - the login challenge a phone user's key signs, in its canonical JSON
//     form, and the checks a portal makes before trusting the signature;
//   - LooksLikeChallenge, which tells a document to sign that could be
//     taken for a login challenge (a sign session must never sign one);
//   - the shape of a login result (LoginResult);
//   - the embeddable JS widget served at /sdk/ukeygate.js (widget.go).
//
// It must never touch the store or know session states, and beyond serving
// the widget's static file it does not speak HTTP: the session and api
// packages do that. Parse trusts nothing in a payload.
package qrlogin
