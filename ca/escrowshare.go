package ca

import (
	"bytes"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"strconv"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

// Escrow key shares (docs/operations.md, "Key escrow").
//
// The escrow private scalar d is split with Shamir's scheme over the SM2
// group order n: f(x) = d + a1·x + … + a(k-1)·x^(k-1) mod n with random
// a_i, and custodian i (1-based, in the order given at init) receives
// (i, f(i)). Any k shares give d back by Lagrange interpolation at 0;
// fewer say nothing about it. The gateway stores only the public key and,
// per share, its fingerprint (SM3 over a label, the escrow id, the
// custodian, the index and the share), so that a wrong or foreign share is
// refused before any reconstruction.
//
// A share leaves the gateway once, at init, as a share file: a PEM block
// "UKEYGATE ESCROW SHARE" whose headers name the escrow, the custodian,
// the index, the threshold and the key derivation, and whose body is the
// 32-byte share wrapped (gmcrypto.Wrap, SM4-GCM) under
// PBKDF2-HMAC-SM3(passphrase, salt, iterations, 16), bound to those
// headers as associated data. The passphrase is the custodian's: the
// gateway forgets it with the request.

// ShareFileType is the PEM type of a share file.
const ShareFileType = "UKEYGATE ESCROW SHARE"

// Share file limits.
const (
	// MinShareIterations and MaxShareIterations bound the PBKDF2 count a
	// share file may name (a parser must not be made to spin).
	MinShareIterations = 4096
	MaxShareIterations = 10_000_000
	// MinPassphraseLen and MaxPassphraseLen bound a custodian's
	// passphrase (bytes).
	MinPassphraseLen = 12
	MaxPassphraseLen = 256
	// MaxShareFileLen bounds a share file.
	MaxShareFileLen = 4096
	shareSaltLen    = 16
	shareLen        = 32
	shareKDF        = "pbkdf2-sm3"
	shareLabel      = "ukeygate/escrow/share/v1"
)

// ShareFile is a parsed share file (ParseShareFile); the share inside is
// still wrapped under the custodian's passphrase.
type ShareFile struct {
	EscrowID   string
	Custodian  string
	Index      int
	Threshold  int
	Iterations int
	Salt       []byte
	// Wrapped is the wrapped share (gmcrypto.Wrap format).
	Wrapped []byte
}

// ParseShareFile parses a share file without opening it. Anything that is
// not exactly one well-formed share block (at most MaxShareFileLen bytes,
// known headers, sane values) is ErrShareInvalid.
func ParseShareFile(b []byte) (*ShareFile, error) {
	if len(b) > MaxShareFileLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrShareInvalid, MaxShareFileLen)
	}
	blk, rest := pem.Decode(b)
	if blk == nil || blk.Type != ShareFileType {
		return nil, fmt.Errorf("%w: no %q PEM block", ErrShareInvalid, ShareFileType)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%w: trailing data after the share block", ErrShareInvalid)
	}
	h := blk.Headers
	if len(h) != 7 || h["KDF"] != shareKDF {
		return nil, fmt.Errorf("%w: headers", ErrShareInvalid)
	}
	sf := &ShareFile{EscrowID: h["Escrow"], Custodian: h["Custodian"], Wrapped: blk.Bytes}
	if !ValidID(sf.EscrowID) || !ValidID(sf.Custodian) {
		return nil, fmt.Errorf("%w: escrow or custodian name", ErrShareInvalid)
	}
	var err error
	if sf.Index, err = strictInt(h["Index"], 1, maxCustodians); err != nil {
		return nil, fmt.Errorf("%w: index", ErrShareInvalid)
	}
	if sf.Threshold, err = strictInt(h["Threshold"], 2, maxCustodians); err != nil {
		return nil, fmt.Errorf("%w: threshold", ErrShareInvalid)
	}
	if sf.Iterations, err = strictInt(h["Iterations"], MinShareIterations, MaxShareIterations); err != nil {
		return nil, fmt.Errorf("%w: iterations", ErrShareInvalid)
	}
	if sf.Salt, err = hex.DecodeString(h["Salt"]); err != nil || len(sf.Salt) != shareSaltLen {
		return nil, fmt.Errorf("%w: salt", ErrShareInvalid)
	}
	if len(sf.Wrapped) != 1+12+shareLen+16 {
		return nil, fmt.Errorf("%w: body", ErrShareInvalid)
	}
	return sf, nil
}

// strictInt parses a decimal integer in [lo, hi] written without sign or
// leading zeros.
func strictInt(s string, lo, hi int) (int, error) {
	if s == "" || len(s) > 9 || (len(s) > 1 && s[0] == '0') {
		return 0, ErrShareInvalid
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi || strconv.Itoa(n) != s {
		return 0, ErrShareInvalid
	}
	return n, nil
}

func (sf *ShareFile) ad() []byte {
	return []byte(shareLabel + "|" + sf.EscrowID + "|" + sf.Custodian + "|" + strconv.Itoa(sf.Index) + "|" + strconv.Itoa(sf.Threshold))
}

// shareKEK derives a share file's key from its custodian's passphrase
// (PBKDF2-HMAC-SM3, as in files written before gmcrypto had it); the
// byte copy of the passphrase and everything the derivation held are
// cleared (the string itself, from JSON or the terminal, cannot be).
func shareKEK(pass string, salt []byte, iter int) ([]byte, error) {
	p := []byte(pass)
	defer gmcrypto.Zero(p)
	return gmcrypto.DerivePassphraseKey(p, salt, iter)
}

// Open returns the share under passphrase; a wrong passphrase (or a file
// changed anywhere) is ErrShareInvalid.
func (sf *ShareFile) Open(passphrase string) ([]byte, error) {
	if len(passphrase) < MinPassphraseLen || len(passphrase) > MaxPassphraseLen {
		return nil, fmt.Errorf("%w: wrong passphrase", ErrShareInvalid)
	}
	kek, err := shareKEK(passphrase, sf.Salt, sf.Iterations)
	if err != nil {
		return nil, err
	}
	defer gmcrypto.Zero(kek)
	y, err := gmcrypto.Unwrap(kek, sf.Wrapped, sf.ad())
	if err != nil || len(y) != shareLen {
		return nil, fmt.Errorf("%w: wrong passphrase or altered file", ErrShareInvalid)
	}
	return y, nil
}

// encode writes the share file of share y under passphrase.
func (sf *ShareFile) encode(y []byte, passphrase string) ([]byte, error) {
	kek, err := shareKEK(passphrase, sf.Salt, sf.Iterations)
	if err != nil {
		return nil, err
	}
	defer gmcrypto.Zero(kek)
	w, err := gmcrypto.Wrap(kek, y, sf.ad())
	if err != nil {
		return nil, err
	}
	sf.Wrapped = w
	return pem.EncodeToMemory(&pem.Block{Type: ShareFileType, Headers: map[string]string{
		"Escrow": sf.EscrowID, "Custodian": sf.Custodian, "Index": strconv.Itoa(sf.Index),
		"Threshold": strconv.Itoa(sf.Threshold), "KDF": shareKDF, "Iterations": strconv.Itoa(sf.Iterations),
		"Salt": hex.EncodeToString(sf.Salt),
	}, Bytes: w}), nil
}

// shareFingerprint is the stored fingerprint of custodian's share y.
func shareFingerprint(escrowID, custodian string, index int, y []byte) string {
	h := sm3.New()
	h.Write([]byte(shareLabel + "|fingerprint|" + escrowID + "|" + custodian + "|" + strconv.Itoa(index) + "|"))
	h.Write(y)
	return hex.EncodeToString(h.Sum(nil))
}

// groupOrder is the order n of the SM2 group.
func groupOrder() *big.Int { return sm2.P256().Params().N }

// splitScalar splits d into n shares, any k of which give it back:
// share i (1-based) is f(i) as 32 big-endian bytes.
func splitScalar(d *big.Int, k, n int) ([][]byte, error) {
	order := groupOrder()
	coef := []*big.Int{new(big.Int).Set(d)}
	for range k - 1 {
		b, err := gmcrypto.RandomBytes(48) // 384 bits reduced mod n: negligible bias
		if err != nil {
			return nil, err
		}
		coef = append(coef, new(big.Int).Mod(new(big.Int).SetBytes(b), order))
		gmcrypto.Zero(b)
	}
	out := make([][]byte, n)
	for i := 1; i <= n; i++ {
		x := big.NewInt(int64(i))
		y := new(big.Int)
		for j := len(coef) - 1; j >= 0; j-- { // Horner
			y.Mul(y, x)
			y.Add(y, coef[j])
			y.Mod(y, order)
		}
		out[i-1] = y.FillBytes(make([]byte, shareLen))
	}
	for _, c := range coef {
		c.SetInt64(0)
	}
	return out, nil
}

// combineShares interpolates the shares (index → share) at 0: the secret
// when they are at least k genuine shares of one split.
func combineShares(shares map[int][]byte) *big.Int {
	order := groupOrder()
	secret := new(big.Int)
	for i, yi := range shares {
		num, den := big.NewInt(1), big.NewInt(1)
		for j := range shares {
			if j == i {
				continue
			}
			num.Mul(num, big.NewInt(int64(-j)))
			num.Mod(num, order)
			den.Mul(den, big.NewInt(int64(i-j)))
			den.Mod(den, order)
		}
		term := new(big.Int).SetBytes(yi)
		term.Mul(term, num)
		term.Mul(term, new(big.Int).ModInverse(den, order))
		secret.Add(secret, term)
		secret.Mod(secret, order)
	}
	return secret
}

// encodeShareFile is used at init: it draws the salt and writes the file.
func encodeShareFile(escrowID, custodian string, index, threshold, iterations int, y []byte, passphrase string) (string, error) {
	salt, err := gmcrypto.RandomBytes(shareSaltLen)
	if err != nil {
		return "", err
	}
	sf := &ShareFile{EscrowID: escrowID, Custodian: custodian, Index: index, Threshold: threshold, Iterations: iterations, Salt: salt}
	b, err := sf.encode(y, passphrase)
	return string(b), err
}
