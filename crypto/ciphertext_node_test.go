package crypto_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"testing"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/internal/testkit"
)

// TestDecryptNodeLibraries decrypts what npm sm-crypto 0.5.8 and gm-crypto
// 0.1.12 (pinned in examples/node) write with their defaults: raw SM2
// ciphertexts whose C1 has no 04 prefix, in both orders.
func TestDecryptNodeLibraries(t *testing.T) {
	key := freshSM2Key(t)
	pub := key.Public().(*ecdsa.PublicKey)
	// Several messages: one of them may make an unprefixed ciphertext
	// start with 04 by chance; lengths 1, 16, 33 and 1000.
	for _, msg := range [][]byte{{0x42}, bytes.Repeat([]byte("投"), 16)[:16], bytes.Repeat([]byte{7}, 33), bytes.Repeat([]byte("bid "), 250)} {
		in, _ := json.Marshal(map[string]string{
			"public_key": hex.EncodeToString(elliptic.Marshal(pub.Curve, pub.X, pub.Y)), //nolint:staticcheck // the uncompressed point,
			"message":    hex.EncodeToString(msg),
		})
		var cts map[string]string
		if err := json.Unmarshal(testkit.RunNode(t, in, "testdata/node/sm2_encrypt.js"), &cts); err != nil {
			t.Fatal(err)
		}
		if len(cts) != 4 {
			t.Fatalf("node wrote %d ciphertexts, want 4", len(cts))
		}
		for name, h := range cts {
			ct, err := hex.DecodeString(h)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if want := 64 + 32 + len(msg); len(ct) != want {
				t.Fatalf("%s: %d bytes, want %d (C1 without 04, C3, C2): the library's default changed", name, len(ct), want)
			}
			f, wrong := gmcrypto.FormatC1C3C2, gmcrypto.FormatC1C2C3
			c2 := ct[64+32:]
			if name[len(name)-6:] == "c1c2c3" {
				f, wrong = wrong, f
				c2 = ct[64 : 64+len(msg)]
			}
			if len(msg) == 1 && bytes.Equal(c2, msg) {
				// C2 = M ^ t with t = 00: the key stream is all zero, and
				// GM/T 0003.4 has the sender pick another k then. These
				// libraries do not (1 in 256 one-byte messages), and the
				// standard has the receiver refuse it, which we do; see
				// TestDecryptRefusesZeroKeyStream.
				if _, err := gmcrypto.Decrypt(key, ct, f); err != gmcrypto.ErrDecryption {
					t.Fatalf("%s: a ciphertext with an all-zero key stream opened (%v)", name, err)
				}
				continue
			}
			if err := gmcrypto.CheckCiphertext(ct, f); err != nil {
				t.Fatalf("%s: CheckCiphertext: %v", name, err)
			}
			if n := len(gmcrypto.SM2RawReadings(ct)); n != 1 {
				t.Fatalf("%s: %d readings, want exactly 1", name, n)
			}
			pt, err := gmcrypto.Decrypt(key, ct, f)
			if err != nil || !bytes.Equal(pt, msg) {
				t.Fatalf("%s: Decrypt = %x, %v; want %x", name, pt, err, msg)
			}
			if _, err := gmcrypto.Decrypt(key, ct, wrong); err != gmcrypto.ErrDecryption {
				t.Fatalf("%s: the other order opened (%v)", name, err)
			}
			if _, err := gmcrypto.Decrypt(key, flip(ct, len(ct)-1), f); err != gmcrypto.ErrDecryption {
				t.Fatalf("%s: an altered C2 opened (%v)", name, err)
			}
			// The same ciphertext with the 04 prefix put back opens too.
			pt, err = gmcrypto.Decrypt(key, append([]byte{4}, ct...), f)
			if err != nil || !bytes.Equal(pt, msg) {
				t.Fatalf("%s with 04: Decrypt = %x, %v", name, pt, err)
			}
		}
	}
}

func TestCheckCiphertext(t *testing.T) {
	key := sm2Key(t)
	rsa := rsaKey(t)
	good := map[gmcrypto.CipherFormat][]byte{}
	for _, f := range allFormats {
		k := key
		if !isSM2Format(f) {
			k = rsa
		}
		ct, err := gmcrypto.Encrypt(k.Public(), []byte("sealed bid"), f)
		if err != nil {
			t.Fatal(err)
		}
		good[f] = ct
		if err := gmcrypto.CheckCiphertext(ct, f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	// Without the prefix, the raw forms still pass.
	for _, f := range []gmcrypto.CipherFormat{gmcrypto.FormatC1C3C2, gmcrypto.FormatC1C2C3} {
		if err := gmcrypto.CheckCiphertext(good[f][1:], f); err != nil {
			t.Errorf("%s without 04: %v", f, err)
		}
	}
	bad := []struct {
		name string
		ct   []byte
		f    gmcrypto.CipherFormat
	}{
		{"empty", nil, gmcrypto.FormatC1C3C2},
		{"random", bytes.Repeat([]byte{0x5a}, 200), gmcrypto.FormatC1C3C2},
		{"C1 only", good[gmcrypto.FormatC1C3C2][:65], gmcrypto.FormatC1C3C2},
		{"no C2", good[gmcrypto.FormatC1C2C3][:65+32], gmcrypto.FormatC1C2C3},
		{"X altered", flip(good[gmcrypto.FormatC1C3C2], 5), gmcrypto.FormatC1C3C2},
		{"ASN.1 as raw", good[gmcrypto.FormatASN1], gmcrypto.FormatC1C3C2},
		{"raw as ASN.1", good[gmcrypto.FormatC1C3C2], gmcrypto.FormatASN1},
		{"ASN.1 trailing", append(bytes.Clone(good[gmcrypto.FormatASN1]), 0), gmcrypto.FormatASN1},
		{"ASN.1 point off curve", flip(good[gmcrypto.FormatASN1], 6), gmcrypto.FormatASN1},
		{"RSA short", good[gmcrypto.FormatRSAOAEP][:100], gmcrypto.FormatRSAOAEP},
		{"RSA long", bytes.Repeat([]byte{1}, 1025), gmcrypto.FormatRSAPKCS1},
	}
	for _, tc := range bad {
		if err := gmcrypto.CheckCiphertext(tc.ct, tc.f); err == nil {
			t.Errorf("%s: accepted", tc.name)
		} else {
			wantIs(t, err, gmcrypto.ErrMalformed)
		}
	}
	wantIs(t, gmcrypto.CheckCiphertext(good[gmcrypto.FormatASN1], "cms"), gmcrypto.ErrUnsupported)
}

// TestDecryptRefusesZeroKeyStream keeps one such ciphertext that npm
// sm-crypto 0.5.8 wrote for the one-byte message 42: its key stream t =
// KDF(x2 || y2, 8) is 00, so C2 equals the message. GM/T 0003.4 (decryption,
// step B4) says the receiver must refuse it; sm-crypto opens it.
func TestDecryptRefusesZeroKeyStream(t *testing.T) {
	d := unhex(t, "e088e01615ff87d3d2a420f7c18c26881d8fbe3edc5b9ee5e074ea4cc81a9151")
	key, err := sm2.NewPrivateKey(d)
	if err != nil {
		t.Fatal(err)
	}
	ct := unhex(t, "cb1e1ab3150d3f1da9882201267b69c4462721cb42701638397b0e618b5d5477"+
		"bfb47c83aba1d456a658668631ee02f5ef5100cb5623eb9048da18f4812b9533"+
		"7e248e9708c01fa8c0b33589f6463bfc40d7684ac645ba4812684ca0b9014579"+
		"42")
	// Check the reason independently of the code under test: (x2, y2) =
	// d·C1, and the first byte of SM3(x2 || y2 || 00000001) is 00.
	curve := sm2.P256()
	x1, y1 := new(big.Int).SetBytes(ct[:32]), new(big.Int).SetBytes(ct[32:64])
	if !curve.IsOnCurve(x1, y1) {
		t.Fatal("C1 is not on the curve")
	}
	x2, y2 := curve.ScalarMult(x1, y1, d) //nolint:staticcheck // an independent check of the point
	h := sm3.New()
	h.Write(x2.FillBytes(make([]byte, 32)))
	h.Write(y2.FillBytes(make([]byte, 32)))
	h.Write([]byte{0, 0, 0, 1})
	if k := h.Sum(nil)[0]; k != 0 {
		t.Fatalf("the key stream is %02x, not 00: the vector is wrong", k)
	}
	for _, c := range [][]byte{ct, append([]byte{4}, ct...)} {
		if _, err := gmcrypto.Decrypt(key, c, gmcrypto.FormatC1C3C2); err != gmcrypto.ErrDecryption {
			t.Fatalf("Decrypt = %v, want %v", err, gmcrypto.ErrDecryption)
		}
	}
}
