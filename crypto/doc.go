// Package crypto holds the algorithms of ukeygate and nothing else: SM2, SM3,
// SM4 and RSA keys; signatures over data or a precomputed digest; SM2
// encryption in the C1C3C2, C1C2C3 and ASN.1 forms and RSA-OAEP / PKCS#1 v1.5;
// CMS SignedData and EnvelopedData; SM4-GCM key wrapping and the PIN key
// derivation.
//
// Import it as gmcrypto everywhere, since its name shadows the standard
// library's crypto:
//
//	import gmcrypto "github.com/ukeygate/ukeygate/crypto"
//
// It must never store anything, speak HTTP, log, or tell why a signature
// failed to verify or a ciphertext failed to open: such failures return
// ErrVerification or ErrDecryption and nothing more.
package crypto
