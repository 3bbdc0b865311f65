// Package ca holds the certificate authority side of ukeygate:
//
//   - issuers, internal (the gateway holds the CA key, generated or imported,
//     wrapped under the master key; roots and intermediates) and external
//     (only the chain is registered; the gateway produces CSRs and accepts
//     the issued certificates back), each with a profile (validity,
//     algorithms, RSA sizes, purposes, subject fields);
//   - certificate issuance (SM2-with-SM3, SHA256-RSA), CSRs, revocation and
//     CRLs, and Verify, the one place that checks a certificate's chain,
//     validity, key usage and revocation against the registered issuers;
//   - users, their one-time activation codes, their devices (enrollment;
//     a further device of an enrolled user, e.g. after a lost phone, with a
//     fresh code and the CURRENT PIN; device revocation);
//   - credentials: a user's private key wrapped under a key derived from the
//     master key, a per-user salt and the PIN, plus its certificate (or CSR),
//     one signing and one encryption credential per issuer and algorithm;
//     the PIN verifier, the PIN lockout and PIN change;
//   - renewal (renew.go): a successor credential for the same or a new key
//     as the issuer's profile says (at an external issuer pending until its
//     certificate is imported), the old one superseded but keeping its
//     wrapped key, so that an encryption key still decrypts
//     (UnlockDecryptKey) while signing stays refused; an organisation's
//     delegations move to the successor, keeping for an encryption key
//     their sealed copy of the old one (UnlockDelegatedDecryptKey);
//   - key escrow of encryption keys under dual control (escrow.go): the
//     escrow key's share ceremony, recoveries after a forgotten PIN, and
//     the escrow key's rotation (escrowrotate.go), none of which leaves
//     the escrow private key anywhere but in memory for one call.
//
// Every state change is one storage.Store transaction guarded by revision
// conditions, so that concurrent calls (on one node or many) never lose an
// update, a single-use value is consumed exactly once, and a PIN change
// re-wraps all of a user's keys or none.
//
// It must never speak HTTP, log, or let a private key, a wrapped key or a
// PIN-derived key leave the package other than through UnlockKey (which
// hands the caller a key it must zero with gmcrypto.ZeroKey).
package ca
