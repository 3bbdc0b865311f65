// Package phone is the reference phone client: what a real phone app does,
// over the public v1 protocol only. It keeps the device's SM2 key and ids
// in a local state file (JSON, mode 0600), enrolls with an activation code,
// signs every later request with the device key (X-Device, X-Timestamp,
// X-Nonce, X-Signature, through protocol.SignRequest), lists and requests
// credentials and changes the PIN, and takes part in scan sessions: Scan
// (the QR payload; DecodeQR reads it from an image as a camera would),
// then Confirm with a credential, the PIN and the matching code, or
// Reject. The CLI (`ukeygate phone …`), the tests and the load generator
// all use it.
//
// It must never use anything but the public HTTP protocol (no store, no
// ca), never write the state file readable by others, and never read one
// that is.
package phone
