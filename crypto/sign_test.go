package crypto_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/asn1"
	"math/big"
	"testing"

	"github.com/emmansun/gmsm/sm2"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

func TestSignVerifyRoundTrip(t *testing.T) {
	msg := []byte("ukeygate sign round trip")
	uid := []byte("alice@example.com")
	tests := []struct {
		name string
		key  func(testing.TB) crypto.Signer
		opts *gmcrypto.SignOpts
	}{
		{"sm2/default-uid-nil-opts", sm2Key, nil},
		{"sm2/default-uid-explicit", sm2Key, &gmcrypto.SignOpts{UID: gmcrypto.DefaultUID}},
		{"sm2/custom-uid", sm2Key, &gmcrypto.SignOpts{UID: uid}},
		{"rsa2048/pkcs1v15", rsaKey, nil},
		{"rsa2048/pss", rsaKey, &gmcrypto.SignOpts{PSS: true}},
		{"rsa3072/pkcs1v15", func(t testing.TB) crypto.Signer { return cachedKey(t, gmcrypto.AlgRSA, 3072) }, nil},
		{"rsa3072/pss", func(t testing.TB) crypto.Signer { return cachedKey(t, gmcrypto.AlgRSA, 3072) }, &gmcrypto.SignOpts{PSS: true}},
		{"rsa4096/pkcs1v15", func(t testing.TB) crypto.Signer { return cachedKey(t, gmcrypto.AlgRSA, 4096) }, nil},
		{"rsa4096/pss", func(t testing.TB) crypto.Signer { return cachedKey(t, gmcrypto.AlgRSA, 4096) }, &gmcrypto.SignOpts{PSS: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := tc.key(t)
			pub := key.Public()
			for _, data := range [][]byte{msg, {}, bytes.Repeat([]byte{0xa5}, 10000)} {
				sig, err := gmcrypto.Sign(key, data, tc.opts)
				if err != nil {
					t.Fatal(err)
				}
				if err := gmcrypto.Verify(pub, data, sig, tc.opts); err != nil {
					t.Fatalf("Verify: %v", err)
				}
				// Data path and digest path agree both ways.
				var uidOpt []byte
				if tc.opts != nil {
					uidOpt = tc.opts.UID
				}
				d, err := gmcrypto.Digest(pub, data, uidOpt)
				if err != nil {
					t.Fatal(err)
				}
				if err := gmcrypto.VerifyDigest(pub, d, sig, tc.opts); err != nil {
					t.Fatalf("VerifyDigest of Sign: %v", err)
				}
				sig2, err := gmcrypto.SignDigest(key, d, tc.opts)
				if err != nil {
					t.Fatal(err)
				}
				if err := gmcrypto.Verify(pub, data, sig2, tc.opts); err != nil {
					t.Fatalf("Verify of SignDigest: %v", err)
				}
				// Other data fails.
				wantExactly(t, gmcrypto.Verify(pub, append(data, 'x'), sig, tc.opts), gmcrypto.ErrVerification)
			}
		})
	}
}

func TestSM2UIDIsBound(t *testing.T) {
	key := sm2Key(t)
	msg := []byte("uid binding")
	sig, err := gmcrypto.Sign(key, msg, &gmcrypto.SignOpts{UID: []byte("alice")})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []*gmcrypto.SignOpts{nil, {UID: []byte("bob")}, {UID: gmcrypto.DefaultUID}} {
		wantExactly(t, gmcrypto.Verify(key.Public(), msg, sig, o), gmcrypto.ErrVerification)
	}
	// nil opts, nil UID and DefaultUID are the same signer id.
	sig, err = gmcrypto.Sign(key, msg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := gmcrypto.Verify(key.Public(), msg, sig, &gmcrypto.SignOpts{UID: gmcrypto.DefaultUID}); err != nil {
		t.Fatal(err)
	}
	if err := gmcrypto.Verify(key.Public(), msg, sig, &gmcrypto.SignOpts{}); err != nil {
		t.Fatal(err)
	}
}

func TestRSAPSSAndPKCS1AreNotInterchangeable(t *testing.T) {
	key := rsaKey(t)
	msg := []byte("padding")
	pss, err := gmcrypto.Sign(key, msg, &gmcrypto.SignOpts{PSS: true})
	if err != nil {
		t.Fatal(err)
	}
	v15, err := gmcrypto.Sign(key, msg, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantExactly(t, gmcrypto.Verify(key.Public(), msg, pss, nil), gmcrypto.ErrVerification)
	wantExactly(t, gmcrypto.Verify(key.Public(), msg, v15, &gmcrypto.SignOpts{PSS: true}), gmcrypto.ErrVerification)
	// PKCS#1 v1.5 is deterministic, PSS is randomised.
	v15b, _ := gmcrypto.Sign(key, msg, nil)
	pssb, _ := gmcrypto.Sign(key, msg, &gmcrypto.SignOpts{PSS: true})
	if !bytes.Equal(v15, v15b) || bytes.Equal(pss, pssb) {
		t.Fatal("unexpected determinism")
	}
}

func TestSignDigestWrongLength(t *testing.T) {
	for _, key := range []crypto.Signer{sm2Key(t), rsaKey(t)} {
		for _, n := range []int{0, 1, 31, 33, 48, 64} {
			_, err := gmcrypto.SignDigest(key, make([]byte, n), nil)
			wantIs(t, err, gmcrypto.ErrInvalidInput)
			wantExactly(t, gmcrypto.VerifyDigest(key.Public(), make([]byte, n), []byte{0x30, 0}, nil), gmcrypto.ErrVerification)
		}
	}
}

func TestSignUnsupportedKey(t *testing.T) {
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, err = gmcrypto.Sign(p256, []byte("x"), nil)
	wantIs(t, err, gmcrypto.ErrUnsupported)
	_, err = gmcrypto.Sign(nil, []byte("x"), nil)
	wantIs(t, err, gmcrypto.ErrUnsupported)
	var typedNil *sm2.PrivateKey
	_, err = gmcrypto.Sign(typedNil, []byte("x"), nil)
	wantIs(t, err, gmcrypto.ErrUnsupported)
	wantExactly(t, gmcrypto.Verify(&p256.PublicKey, []byte("x"), []byte{0x30, 0}, nil), gmcrypto.ErrVerification)
	wantExactly(t, gmcrypto.Verify(nil, []byte("x"), []byte{0x30, 0}, nil), gmcrypto.ErrVerification)
}

// sm2Sig encodes (r, s) as DER, the way a hostile signer could.
func sm2Sig(t testing.TB, r, s *big.Int) []byte {
	t.Helper()
	b, err := asn1.Marshal(struct{ R, S *big.Int }{r, s})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVerifyRejectsBadSignatures(t *testing.T) {
	sk := sm2Key(t)
	rk := rsaKey(t)
	msg := []byte("negative tests")
	sig, err := gmcrypto.Sign(sk, msg, nil)
	if err != nil {
		t.Fatal(err)
	}
	var rs struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(sig, &rs); err != nil {
		t.Fatal(err)
	}
	n := sm2.P256().Params().N
	add := func(a, b *big.Int) *big.Int { return new(big.Int).Add(a, b) }
	rsaSig, err := gmcrypto.Sign(rk, msg, nil)
	if err != nil {
		t.Fatal(err)
	}
	pssSig, err := gmcrypto.Sign(rk, msg, &gmcrypto.SignOpts{PSS: true})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		pub  crypto.PublicKey
		sig  []byte
		opts *gmcrypto.SignOpts
	}{
		{"sm2/zero-r", sk.Public(), sm2Sig(t, big.NewInt(0), rs.S), nil},
		{"sm2/zero-s", sk.Public(), sm2Sig(t, rs.R, big.NewInt(0)), nil},
		{"sm2/zero-both", sk.Public(), sm2Sig(t, big.NewInt(0), big.NewInt(0)), nil},
		{"sm2/negative-r", sk.Public(), sm2Sig(t, new(big.Int).Neg(rs.R), rs.S), nil},
		{"sm2/r-equals-n", sk.Public(), sm2Sig(t, n, rs.S), nil},
		{"sm2/s-equals-n", sk.Public(), sm2Sig(t, rs.R, n), nil},
		{"sm2/r-plus-n", sk.Public(), sm2Sig(t, add(rs.R, n), rs.S), nil},
		{"sm2/s-plus-n", sk.Public(), sm2Sig(t, rs.R, add(rs.S, n)), nil},
		{"sm2/huge-r", sk.Public(), sm2Sig(t, new(big.Int).Lsh(big.NewInt(1), 1024), rs.S), nil},
		{"sm2/swapped", sk.Public(), sm2Sig(t, rs.S, rs.R), nil},
		{"sm2/trailing-byte", sk.Public(), append(append([]byte(nil), sig...), 0), nil},
		{"sm2/truncated", sk.Public(), sig[:len(sig)-1], nil},
		{"sm2/empty", sk.Public(), nil, nil},
		{"sm2/raw-r-s", sk.Public(), append(rs.R.FillBytes(make([]byte, 32)), rs.S.FillBytes(make([]byte, 32))...), nil},
		{"sm2/wrong-uid", sk.Public(), sig, &gmcrypto.SignOpts{UID: []byte("mallory")}},
		{"sm2/other-key", freshSM2Key(t).Public(), sig, nil},
		{"sm2-sig/rsa-key", rk.Public(), sig, nil},
		{"rsa-sig/sm2-key", sk.Public(), rsaSig, nil},
		{"rsa/truncated", rk.Public(), rsaSig[:len(rsaSig)-1], nil},
		{"rsa/empty", rk.Public(), nil, nil},
		{"rsa/pss-as-v15", rk.Public(), pssSig, nil},
		{"unsupported-key-type", "not a key", sig, nil},
		{"private-key-bytes", []byte{1, 2, 3}, sig, nil},
	}
	for i := 0; i < len(sig); i++ {
		tests = append(tests, struct {
			name string
			pub  crypto.PublicKey
			sig  []byte
			opts *gmcrypto.SignOpts
		}{"sm2/flip-byte-" + itoa(i), sk.Public(), flip(sig, i), nil})
	}
	for _, i := range []int{0, 1, len(rsaSig) / 2, len(rsaSig) - 1} {
		tests = append(tests, struct {
			name string
			pub  crypto.PublicKey
			sig  []byte
			opts *gmcrypto.SignOpts
		}{"rsa/flip-byte-" + itoa(i), rk.Public(), flip(rsaSig, i), nil})
		tests = append(tests, struct {
			name string
			pub  crypto.PublicKey
			sig  []byte
			opts *gmcrypto.SignOpts
		}{"rsa-pss/flip-byte-" + itoa(i), rk.Public(), flip(pssSig, i), &gmcrypto.SignOpts{PSS: true}})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantExactly(t, gmcrypto.Verify(tc.pub, msg, tc.sig, tc.opts), gmcrypto.ErrVerification)
			if tc.opts != nil && tc.opts.UID != nil {
				return // VerifyDigest ignores the UID: it is inside the digest
			}
			// The digest as the verifier's own key type computes it.
			d, err := gmcrypto.Digest(tc.pub, msg, nil)
			if err != nil {
				d, _ = gmcrypto.Digest(sk.Public(), msg, nil)
			}
			wantExactly(t, gmcrypto.VerifyDigest(tc.pub, d, tc.sig, tc.opts), gmcrypto.ErrVerification)
		})
	}
	// Sanity: the untouched signatures verify, so the cases above fail for their own reason.
	if err := gmcrypto.Verify(sk.Public(), msg, sm2Sig(t, rs.R, rs.S), nil); err != nil {
		t.Fatal(err)
	}
	if err := gmcrypto.Verify(rk.Public(), msg, pssSig, &gmcrypto.SignOpts{PSS: true}); err != nil {
		t.Fatal(err)
	}
}

func itoa(i int) string { return big.NewInt(int64(i)).String() }

func TestSM2UIDLengthAndBadPoints(t *testing.T) {
	key := sm2Key(t)
	long := bytes.Repeat([]byte{'u'}, 0x2000) // ENTL is 16 bits of bit length
	_, err := gmcrypto.Digest(key.Public(), []byte("m"), long)
	wantIs(t, err, gmcrypto.ErrInvalidInput)
	_, err = gmcrypto.Sign(key, []byte("m"), &gmcrypto.SignOpts{UID: long})
	wantIs(t, err, gmcrypto.ErrInvalidInput)
	wantExactly(t, gmcrypto.Verify(key.Public(), []byte("m"), []byte{0x30, 0}, &gmcrypto.SignOpts{UID: long}), gmcrypto.ErrVerification)
	// The longest allowed id works end to end.
	maxUID := long[:0x1fff]
	sig, err := gmcrypto.Sign(key, []byte("m"), &gmcrypto.SignOpts{UID: maxUID})
	if err != nil {
		t.Fatal(err)
	}
	if err := gmcrypto.Verify(key.Public(), []byte("m"), sig, &gmcrypto.SignOpts{UID: maxUID}); err != nil {
		t.Fatal(err)
	}

	// A "public key" on the SM2 curve object but not on the curve.
	bad := &ecdsa.PublicKey{Curve: sm2.P256(), X: big.NewInt(1), Y: big.NewInt(1)}
	good, _ := gmcrypto.Sign(key, []byte("m"), nil)
	wantExactly(t, gmcrypto.Verify(bad, []byte("m"), good, nil), gmcrypto.ErrVerification)
	_, err = gmcrypto.Encrypt(bad, []byte("m"), gmcrypto.FormatC1C3C2)
	wantIs(t, err, gmcrypto.ErrKeyMismatch)
	_, err = gmcrypto.Digest(bad, []byte("m"), nil)
	if err == nil {
		t.Fatal("Digest accepted a point off the curve")
	}
}
