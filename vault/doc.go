// Package vault holds the master-key ring of a store and the sealed view of
// the store every other part of the gateway uses.
//
// Key model (envelope encryption):
//
//   - The master key (32 bytes, from a file or the environment) never
//     touches data directly. Three keys are derived from it with
//     HKDF-SM3: a key id (shown to operators, stored to recognise the key),
//     a seal key and a key-encryption key.
//   - Every value in the store (except the keyring record under "vault/")
//     is sealed with SM4-GCM under the current master key's seal key, with
//     the storage key as associated data, and carries the id of the key it
//     is sealed under. A copy of the store (a stolen disk, a backup) is
//     useless without the master key.
//   - The data key is what the CA, the session results, the audit head and
//     the demo app derive their own keys from. It is stored in the keyring
//     wrapped under the current master key's key-encryption key. A store
//     created before this package existed keeps the master key it was
//     created with as data key; a new store draws a random one.
//
// Rotation (Rotate) writes the new key's wrap of the data key next to the
// old one, re-seals every value under the new key in compare-and-swap
// batches, appends an audit entry, then drops the old wrap. Each value
// names its key, so a crash at any point leaves a store the same command
// finishes; until it is finished, Open refuses both keys, and afterwards
// the old key is refused.
//
// This package must never log or return a key, and never parse the values
// it seals.
package vault
