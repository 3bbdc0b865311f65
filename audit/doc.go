// Package audit holds ukeygate's append-only audit log: one entry for every
// use of a user's key (login, sign, decrypt) and every operator action, each
// entry chained to the one before by SM3, and a head record sealed with a key
// derived from the master key.
//
// Verify walks the log and detects an entry that was changed, removed or
// re-ordered, and (with the seal) a log cut short at the end.
//
// It must never record secrets: no PIN, no key material, no plaintext; only
// digests of what was signed or decrypted.
package audit
