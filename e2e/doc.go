// Package e2e holds ukeygate's end-to-end tests: a whole server
// (server/servertest: real config, master key file, bbolt store, HTTP and
// websockets on loopback) driven only through the reference clients, the
// portal's (package portal: create, watch, verify) and the phone's
// (package phone: scan, confirm, reject), as a portal backend and a phone
// app would.
//
// Every kind (login, sign, decrypt) is run with SM2 and RSA credentials
// and in every format, and each result is also checked by an implementation
// that is not ours: tjfoc/gmsm for SM2 signatures and ciphertexts, the
// openssl CLI for RSA (and SM2 raw signatures and ASN.1 ciphertexts), and
// an ASN.1 walk with tjfoc's SM2 for SM2 CMS, which OpenSSL cannot verify.
// The ciphertexts the gateway decrypts are made by those implementations.
// Tests that need openssl skip without it, except on CI (CI=true), where
// they fail.
//
// The package has no code besides its tests; nothing may import it.
package e2e
