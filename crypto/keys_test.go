package crypto_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

func TestGenerateKeyAndKeyAlg(t *testing.T) {
	sk := sm2Key(t)
	if _, ok := sk.(*sm2.PrivateKey); !ok {
		t.Fatalf("SM2 key type %T", sk)
	}
	rk := rsaKey(t)
	if r, ok := rk.(*rsa.PrivateKey); !ok || r.N.BitLen() != 2048 {
		t.Fatalf("RSA key %T", rk)
	}
	if r := cachedKey(t, gmcrypto.AlgRSA, 3072).(*rsa.PrivateKey); r.N.BitLen() != 3072 {
		t.Fatal("3072")
	}
	if r := cachedKey(t, gmcrypto.AlgRSA, 4096).(*rsa.PrivateKey); r.N.BitLen() != 4096 {
		t.Fatal("4096")
	}
	for _, bits := range []int{1024, 2047, 2049, 8192, -1} {
		_, err := gmcrypto.GenerateKey(gmcrypto.AlgRSA, bits)
		wantIs(t, err, gmcrypto.ErrUnsupported)
	}
	_, err := gmcrypto.GenerateKey("ECDSA", 0)
	wantIs(t, err, gmcrypto.ErrUnsupported)

	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	sm2AsECDSA := &sk.(*sm2.PrivateKey).PrivateKey
	var nilSM2 *sm2.PrivateKey
	var nilRSA *rsa.PublicKey
	tests := []struct {
		key  any
		want gmcrypto.Alg
	}{
		{sk, gmcrypto.AlgSM2},
		{sk.Public(), gmcrypto.AlgSM2},
		{sm2AsECDSA, gmcrypto.AlgSM2},
		{rk, gmcrypto.AlgRSA},
		{rk.Public(), gmcrypto.AlgRSA},
		{p256, ""},
		{&p256.PublicKey, ""},
		{edPriv, ""},
		{edPriv.Public(), ""},
		{nil, ""},
		{nilSM2, ""},
		{nilRSA, ""},
		{"SM2", ""},
	}
	for i, tc := range tests {
		got, err := gmcrypto.KeyAlg(tc.key)
		if tc.want == "" {
			wantIs(t, err, gmcrypto.ErrUnsupported)
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("case %d (%T): %q %v", i, tc.key, got, err)
		}
	}
	if gmcrypto.PublicKey(nil) != nil || gmcrypto.PublicKey(nilSM2) != nil {
		t.Fatal("PublicKey(nil)")
	}
	if !gmcrypto.PublicKey(sk).(*ecdsa.PublicKey).Equal(sk.Public()) {
		t.Fatal("PublicKey")
	}
}

func TestPrivateKeyRoundTrip(t *testing.T) {
	for _, key := range []crypto.Signer{sm2Key(t), rsaKey(t)} {
		alg, _ := gmcrypto.KeyAlg(key)
		t.Run(string(alg), func(t *testing.T) {
			der, err := gmcrypto.MarshalPrivateKey(key)
			if err != nil {
				t.Fatal(err)
			}
			// It is PKCS#8 for the standard library too (SM2 via gmsm only).
			got, err := gmcrypto.ParsePrivateKey(der)
			if err != nil {
				t.Fatal(err)
			}
			assertSameKey(t, key, got)

			p, err := gmcrypto.MarshalPrivateKeyPEM(key)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := pem.Decode(p)
			if b == nil || b.Type != "PRIVATE KEY" || !bytes.Equal(b.Bytes, der) {
				t.Fatalf("PEM block %v", b)
			}
			got, err = gmcrypto.ParsePrivateKeyPEM(p)
			if err != nil {
				t.Fatal(err)
			}
			assertSameKey(t, key, got)

			// Legacy formats: SEC1 for SM2, PKCS#1 for RSA, as DER and as PEM.
			var legacy []byte
			var typ string
			switch k := key.(type) {
			case *sm2.PrivateKey:
				legacy, err = smx509.MarshalSM2PrivateKey(k)
				typ = "EC PRIVATE KEY"
			case *rsa.PrivateKey:
				legacy = x509.MarshalPKCS1PrivateKey(k)
				typ = "RSA PRIVATE KEY"
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err = gmcrypto.ParsePrivateKey(legacy)
			if err != nil {
				t.Fatal(err)
			}
			assertSameKey(t, key, got)
			got, err = gmcrypto.ParsePrivateKeyPEM(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: legacy}))
			if err != nil {
				t.Fatal(err)
			}
			assertSameKey(t, key, got)

			// Public key: SPKI DER and PEM.
			pder, err := gmcrypto.MarshalPublicKey(key.Public())
			if err != nil {
				t.Fatal(err)
			}
			pub, err := gmcrypto.ParsePublicKey(pder)
			if err != nil {
				t.Fatal(err)
			}
			if !pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(key.Public()) {
				t.Fatal("public key differs")
			}
			// A private key may stand for its public half.
			if pder2, err := gmcrypto.MarshalPublicKey(key); err != nil || !bytes.Equal(pder, pder2) {
				t.Fatalf("MarshalPublicKey(private): %v", err)
			}
			ppem, err := gmcrypto.MarshalPublicKeyPEM(key.Public())
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := pem.Decode(ppem); b == nil || b.Type != "PUBLIC KEY" {
				t.Fatal("public PEM type")
			}
			pb, _ := pem.Decode(ppem)
			pub, err = gmcrypto.ParsePublicKey(pb.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			// The parsed key works: a signature by the original verifies.
			sig, err := gmcrypto.Sign(key, []byte("m"), nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := gmcrypto.Verify(pub, []byte("m"), sig, nil); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func assertSameKey(t testing.TB, want, got crypto.Signer) {
	t.Helper()
	switch w := want.(type) {
	case *sm2.PrivateKey:
		g, ok := got.(*sm2.PrivateKey)
		if !ok || !w.Equal(g) {
			t.Fatalf("got %T, not the same SM2 key", got)
		}
	case *rsa.PrivateKey:
		g, ok := got.(*rsa.PrivateKey)
		if !ok || !w.Equal(g) {
			t.Fatalf("got %T, not the same RSA key", got)
		}
	default:
		t.Fatalf("unexpected %T", want)
	}
}

func TestParsePrivateKeyRejects(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p256DER, _ := x509.MarshalPKCS8PrivateKey(p256)
	p256SEC1, _ := x509.MarshalECPrivateKey(p256)
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	edDER, _ := x509.MarshalPKCS8PrivateKey(edPriv)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	smallDER, _ := x509.MarshalPKCS8PrivateKey(small)
	good, _ := gmcrypto.MarshalPrivateKey(sm2Key(t))

	tests := []struct {
		name string
		der  []byte
		want error
	}{
		{"empty", nil, gmcrypto.ErrMalformed},
		{"garbage", []byte("not a key"), gmcrypto.ErrMalformed},
		{"truncated", good[:len(good)-3], gmcrypto.ErrMalformed},
		{"trailing", append(append([]byte(nil), good...), 0), gmcrypto.ErrMalformed},
		{"p256-pkcs8", p256DER, gmcrypto.ErrUnsupported},
		{"p256-sec1", p256SEC1, gmcrypto.ErrUnsupported},
		{"ed25519", edDER, gmcrypto.ErrUnsupported},
		{"rsa-1024", smallDER, gmcrypto.ErrUnsupported},
		{"rsa-1024-pkcs1", x509.MarshalPKCS1PrivateKey(small), gmcrypto.ErrUnsupported},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := gmcrypto.ParsePrivateKey(tc.der)
			wantIs(t, err, tc.want)
		})
	}
	// An SM2 scalar of zero or >= n-1 is refused.
	for _, d := range []*big.Int{big.NewInt(0), new(big.Int).Sub(sm2.P256().Params().N, big.NewInt(1))} {
		k := &ecdsa.PrivateKey{D: d, PublicKey: ecdsa.PublicKey{Curve: sm2.P256()}}
		k.X, k.Y = sm2.P256().ScalarBaseMult(d.Bytes())
		if k.X == nil || k.X.Sign() == 0 {
			k.X, k.Y = sm2.P256().Params().Gx, sm2.P256().Params().Gy
		}
		der, err := smx509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		_, err = gmcrypto.ParsePrivateKey(der)
		if err == nil {
			t.Fatalf("scalar %v accepted", d)
		}
	}
}

func TestParsePrivateKeyPEM(t *testing.T) {
	sk := sm2Key(t)
	der, _ := gmcrypto.MarshalPrivateKey(sk)
	sec1, _ := smx509.MarshalSM2PrivateKey(sk.(*sm2.PrivateKey))
	block := func(typ string, b []byte, h map[string]string) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b, Headers: h})
	}
	ecParams := block("EC PARAMETERS", []byte{0x06, 0x08, 0x2a, 0x81, 0x1c, 0xcf, 0x55, 0x01, 0x82, 0x2d}, nil)
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"pkcs8", block("PRIVATE KEY", der, nil), nil},
		{"sec1", block("EC PRIVATE KEY", sec1, nil), nil},
		{"sec1-after-params", append(ecParams, block("EC PRIVATE KEY", sec1, nil)...), nil},
		{"after-cert-and-text", append([]byte("junk\n"), append(block("CERTIFICATE", []byte{1}, nil), block("PRIVATE KEY", der, nil)...)...), nil},
		{"empty", nil, gmcrypto.ErrMalformed},
		{"no-pem", []byte("hello"), gmcrypto.ErrMalformed},
		{"public-only", block("PUBLIC KEY", []byte{1, 2}, nil), gmcrypto.ErrMalformed},
		{"pkcs8-labelled-sec1", block("PRIVATE KEY", sec1, nil), gmcrypto.ErrMalformed},
		{"sec1-labelled-pkcs1", block("RSA PRIVATE KEY", sec1, nil), gmcrypto.ErrMalformed},
		{"encrypted-pkcs8", block("ENCRYPTED PRIVATE KEY", []byte{1}, nil), gmcrypto.ErrUnsupported},
		{"legacy-encrypted", block("EC PRIVATE KEY", sec1, map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00000000000000000000000000000000"}), gmcrypto.ErrUnsupported},
		{"bad-der", block("PRIVATE KEY", []byte{0x30, 0x03, 0x02, 0x01}, nil), gmcrypto.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := gmcrypto.ParsePrivateKeyPEM(tc.in)
			if tc.want != nil {
				wantIs(t, err, tc.want)
				if got != nil {
					t.Fatal("key returned with error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			assertSameKey(t, sk, got)
		})
	}
}

func TestPublicKeyRejects(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p256DER, _ := x509.MarshalPKIXPublicKey(&p256.PublicKey)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	smallDER, _ := x509.MarshalPKIXPublicKey(&small.PublicKey)
	good, _ := gmcrypto.MarshalPublicKey(sm2Key(t).Public())
	for _, tc := range []struct {
		name string
		der  []byte
		want error
	}{
		{"empty", nil, gmcrypto.ErrMalformed},
		{"truncated", good[:len(good)-1], gmcrypto.ErrMalformed},
		{"point-off-curve", flip(good, len(good)-1), gmcrypto.ErrMalformed},
		{"trailing", append(append([]byte(nil), good...), 0), gmcrypto.ErrMalformed},
		{"p256", p256DER, gmcrypto.ErrUnsupported},
		{"rsa-1024", smallDER, gmcrypto.ErrUnsupported},
	} {
		_, err := gmcrypto.ParsePublicKey(tc.der)
		if err == nil {
			t.Fatalf("%s: accepted", tc.name)
		}
		wantIs(t, err, tc.want)
	}
	_, err := gmcrypto.MarshalPublicKey(&p256.PublicKey)
	wantIs(t, err, gmcrypto.ErrUnsupported)
	_, err = gmcrypto.MarshalPrivateKey(p256)
	wantIs(t, err, gmcrypto.ErrUnsupported)
	_, err = gmcrypto.MarshalPrivateKeyPEM(nil)
	wantIs(t, err, gmcrypto.ErrUnsupported)
}

// selfSigned makes a certificate with gmsm's smx509 (SM2 with SM3, or RSA
// with SHA-256).
func selfSigned(t testing.TB, key crypto.Signer, cn string) *smx509.Certificate {
	t.Helper()
	tmpl := &smx509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		BasicConstraintsValid: true,
		IsCA:                  true,
		KeyUsage:              smx509.KeyUsageCertSign | smx509.KeyUsageDigitalSignature,
	}
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := gmcrypto.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCertificatesPEM(t *testing.T) {
	a := selfSigned(t, sm2Key(t), "sm2 root")
	b := selfSigned(t, rsaKey(t), "rsa root")
	if a.SignatureAlgorithm != smx509.SM2WithSM3 {
		t.Fatalf("SM2 cert signed with %v", a.SignatureAlgorithm)
	}
	p := gmcrypto.EncodeCertificatesPEM(a, nil, b)
	got, err := gmcrypto.ParseCertificatesPEM(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got[0].Equal(a) || !got[1].Equal(b) {
		t.Fatal("order or content differs")
	}
	if alg, err := gmcrypto.KeyAlg(got[0].PublicKey); err != nil || alg != gmcrypto.AlgSM2 {
		t.Fatalf("SM2 certificate key: %v %v", alg, err)
	}
	// Interleaved other blocks are ignored.
	mixed := append(append(append([]byte("comment\n"), gmcrypto.EncodeCertificatesPEM(a)...),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}})...), gmcrypto.EncodeCertificatesPEM(b)...)
	if got, err := gmcrypto.ParseCertificatesPEM(mixed); err != nil || len(got) != 2 {
		t.Fatalf("mixed: %d %v", len(got), err)
	}
	if len(gmcrypto.EncodeCertificatesPEM()) != 0 {
		t.Fatal("empty encode")
	}
	bad := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.Raw[:len(a.Raw)-1]})
	for name, in := range map[string][]byte{
		"none":        nil,
		"no-cert":     pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1}}),
		"second-bad":  append(gmcrypto.EncodeCertificatesPEM(a), bad...),
		"first-bad":   append(bad, gmcrypto.EncodeCertificatesPEM(a)...),
		"not-pem-der": a.Raw,
	} {
		got, err := gmcrypto.ParseCertificatesPEM(in)
		wantIs(t, err, gmcrypto.ErrMalformed)
		if got != nil {
			t.Fatalf("%s: certs returned with error", name)
		}
	}
	_, err = gmcrypto.ParseCertificate([]byte{0x30, 0})
	wantIs(t, err, gmcrypto.ErrMalformed)
}

// TestCertificatesPEMAsPEMEncode: EncodeCertificatesPEM writes exactly
// what pem.Encode writes for each certificate, and CertificatesPEMLen
// gives its length and newlines without encoding; DER of every length
// around the 48-byte line and the base64 padding, and real certificates.
func TestCertificatesPEMAsPEMEncode(t *testing.T) {
	real := []*smx509.Certificate{selfSigned(t, sm2Key(t), "sm2 root"), selfSigned(t, rsaKey(t), "rsa root")}
	sets := [][]*smx509.Certificate{nil, {nil}, real, {real[0], nil, real[1]}}
	for n := range 200 {
		der := make([]byte, n)
		_, _ = rand.Read(der)
		sets = append(sets, []*smx509.Certificate{{Raw: der}}, []*smx509.Certificate{{Raw: der}, real[0]})
	}
	for i, certs := range sets {
		var want bytes.Buffer
		for _, c := range certs {
			if c != nil {
				if err := pem.Encode(&want, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}); err != nil {
					t.Fatal(err)
				}
			}
		}
		got := gmcrypto.EncodeCertificatesPEM(certs...)
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("set %d: EncodeCertificatesPEM differs from pem.Encode:\n%s\nwant\n%s", i, got, want.Bytes())
		}
		n, nl := gmcrypto.CertificatesPEMLen(certs...)
		if n != want.Len() || nl != bytes.Count(want.Bytes(), []byte("\n")) || len(got) != cap(got) {
			t.Fatalf("set %d: CertificatesPEMLen = %d, %d newlines; the encoding has %d bytes, %d newlines (capacity %d)",
				i, n, nl, want.Len(), bytes.Count(want.Bytes(), []byte("\n")), cap(got))
		}
	}
}

func TestZeroKey(t *testing.T) {
	sk := freshSM2Key(t).(*sm2.PrivateKey)
	d := sk.D
	gmcrypto.ZeroKey(sk)
	if d.Sign() != 0 {
		t.Fatal("SM2 scalar not zeroed")
	}
	rk := mustGenerate(t, gmcrypto.AlgRSA, 2048).(*rsa.PrivateKey)
	parts := []*big.Int{rk.D, rk.Primes[0], rk.Primes[1], rk.Precomputed.Dp, rk.Precomputed.Dq, rk.Precomputed.Qinv}
	words := rk.Primes[0].Bits()
	gmcrypto.ZeroKey(rk)
	for i, p := range parts {
		if p.Sign() != 0 {
			t.Fatalf("RSA part %d not zeroed", i)
		}
	}
	for _, w := range words[:cap(words)] {
		if w != 0 {
			t.Fatal("backing words of a prime not cleared")
		}
	}
	if rk.N.Sign() == 0 {
		t.Fatal("public modulus should be kept")
	}
	gmcrypto.ZeroKey(nil) // no panic
	var nilKey *rsa.PrivateKey
	gmcrypto.ZeroKey(nilKey)
}
