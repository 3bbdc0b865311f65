// Package auth decides who may call the gateway's HTTP API:
//
//   - the operator, by the admin token of the configuration (Admin keeps
//     only its SM3 hash and compares in constant time; an empty token turns
//     the operator API off);
//   - portals (relying parties), by app keys (Apps keeps each app's name,
//     allowed origins and the SM3 hash of its key, shown once at creation
//     or rotation; a rotated key is refused at once, a disabled app's key
//     with ErrAppDisabled);
//   - phones, by device request signatures (DeviceVerifier checks the
//     X-Device, X-Timestamp, X-Nonce and X-Signature headers over the
//     canonical request string, the clock window, and consumes each nonce
//     once through the store so that replays are refused across nodes and
//     restarts; a revoked device's own requests are ErrDeviceRevoked).
//     SignRequest is the one implementation of the canonical string the
//     phone client signs with.
//
// It must never keep a secret (admin token, app key) in the clear, tell a
// caller why a signature failed to verify, or consume a nonce of a request
// whose signature did not verify.
package auth
