package crypto

import (
	"bytes"
	"crypto"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/emmansun/gmsm/smx509"
)

// cmsFuzzRecipient is a fixed key and certificate from testdata/cms, so that
// the seed envelopes in testdata/fuzz/FuzzOpenCMS are addressed to it
// (regenerate both with `go run ./crypto/testdata/cms/genseeds.go`).
type cmsFuzzRecipient struct {
	cert *smx509.Certificate
	key  crypto.Signer
}

func cmsLoadFuzzRecipient(t testing.TB, name string) cmsFuzzRecipient {
	t.Helper()
	read := func(file string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", "cms", file))
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(b)
		if block == nil {
			t.Fatalf("%s: no PEM block", file)
		}
		return block.Bytes
	}
	cert, err := smx509.ParseCertificate(read(name + ".pem"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := smx509.ParsePKCS8PrivateKey(read(name + ".key"))
	if err != nil {
		t.Fatal(err)
	}
	key, ok := k.(crypto.Signer)
	if !ok {
		t.Fatalf("%s.key: %T is not a crypto.Signer", name, k)
	}
	return cmsFuzzRecipient{cert, key}
}

// The seed corpus must still be what the fuzz targets think it is: a seed
// that stopped verifying or opening would leave the fuzzer exploring only
// the rejection paths.
func TestCMSFuzzSeedsValid(t *testing.T) {
	sm2r := cmsLoadFuzzRecipient(t, "fuzz-sm2")
	rsar := cmsLoadFuzzRecipient(t, "fuzz-rsa")
	for _, name := range []string{"sm2-envelope", "rsa-oaep-envelope", "gmsm-cfca-envelope", "gmsm-rsa-pkcs1-envelope", "openssl-oaep", "openssl-pkcs1-stream"} {
		env := cmsReadSeed(t, "FuzzOpenCMS", name, 1)[0]
		_, err1 := OpenCMS(env, sm2r.cert, sm2r.key)
		_, err2 := OpenCMS(env, rsar.cert, rsar.key)
		if err1 != nil && err2 != nil {
			t.Errorf("seed %s opens with neither fuzz key", name)
		}
	}
	for _, name := range []string{"sm2-attached", "sm2-detached", "rsa-attached", "rsa-detached", "sm2-pem", "openssl-rsa-stream", "openssl-rsa-noattr"} {
		v := cmsReadSeed(t, "FuzzVerifyCMS", name, 2)
		var dc []byte
		if len(v[1]) > 0 {
			dc = v[1]
		}
		if _, err := VerifyCMS(v[0], dc); err != nil {
			t.Errorf("seed %s does not verify: %v", name, err)
		}
	}
	for _, name := range []string{"sm2-digest", "rsa-digest"} {
		v := cmsReadSeed(t, "FuzzVerifyCMS", name, 2)
		if _, err := VerifyCMSDigest(v[0], v[1]); err != nil {
			t.Errorf("seed %s does not verify: %v", name, err)
		}
	}
}

// cmsReadSeed reads n []byte values from a "go test fuzz v1" corpus file.
func cmsReadSeed(t *testing.T, target, name string, n int) [][]byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "fuzz", target, name))
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	if len(lines) != n+1 || string(lines[0]) != "go test fuzz v1" {
		t.Fatalf("%s/%s: %d lines", target, name, len(lines))
	}
	var out [][]byte
	for _, l := range lines[1:] {
		l = bytes.TrimSuffix(bytes.TrimPrefix(l, []byte("[]byte(")), []byte(")"))
		s, err := strconv.Unquote(string(l))
		if err != nil {
			t.Fatalf("%s/%s: %v", target, name, err)
		}
		out = append(out, []byte(s))
	}
	return out
}

func FuzzVerifyCMS(f *testing.F) {
	content := []byte("fuzz")
	for _, name := range []string{"fuzz-sm2", "fuzz-rsa"} {
		r := cmsLoadFuzzRecipient(f, name)
		for _, detached := range []bool{false, true} {
			der, err := SignCMS(r.key, r.cert, nil, content, detached)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(der, content)
		}
	}
	f.Fuzz(func(t *testing.T, der, content []byte) {
		check := func(what string, res *SignedCMS, err error) {
			t.Helper()
			if err == nil {
				if res == nil || len(res.Signers) == 0 || len(res.Signers) > len(res.Certificates) {
					t.Fatalf("%s: success without signers: %+v", what, res)
				}
				return
			}
			if res != nil || !(errors.Is(err, ErrVerification) || errors.Is(err, ErrMalformed)) {
				t.Fatalf("%s: %v, %v; want ErrVerification or ErrMalformed", what, res, err)
			}
		}
		res, err := VerifyCMS(der, nil)
		check("VerifyCMS(der, nil)", res, err)
		res, err = VerifyCMS(der, content)
		check("VerifyCMS(der, content)", res, err)
		res, err = VerifyCMSDigest(der, content)
		check("VerifyCMSDigest", res, err)
		kind, err := CMSKind(der)
		if err != nil && !errors.Is(err, ErrMalformed) || err == nil && kind != CMSKindSignedData && kind != CMSKindEnvelopedData {
			t.Fatalf("CMSKind = %q, %v", kind, err)
		}
		// The BER normaliser is idempotent: its output is its own DER.
		if d, err := cmsBERToDER(der); err == nil {
			if d2, err := cmsBERToDER(d); err != nil || !bytes.Equal(d, d2) {
				t.Fatalf("cmsBERToDER not idempotent: %x -> %x, %v", d, d2, err)
			}
		}
	})
}

func FuzzOpenCMS(f *testing.F) {
	recipients := []cmsFuzzRecipient{cmsLoadFuzzRecipient(f, "fuzz-sm2"), cmsLoadFuzzRecipient(f, "fuzz-rsa")}
	for _, r := range recipients {
		env, err := EnvelopeCMS([]byte("fuzz"), r.cert)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(env)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		for _, r := range recipients {
			pt, err := OpenCMS(der, r.cert, r.key)
			if err != nil && (pt != nil || !errors.Is(err, ErrDecryption)) {
				t.Fatalf("OpenCMS: %q, %v; want ErrDecryption", pt, err)
			}
			cek, alg, err := OpenCMSKey(der, r.cert, r.key)
			if err != nil && (cek != nil || alg != nil || !errors.Is(err, ErrDecryption)) {
				t.Fatalf("OpenCMSKey: %x, %v, %v; want ErrDecryption", cek, alg, err)
			}
			if err == nil && (len(cek) == 0 || len(alg) == 0) {
				t.Fatalf("OpenCMSKey succeeded with key %x, alg %v", cek, alg)
			}
			// An envelope that opens for r names r among its recipients.
			if addressed := CMSAddressedTo(der, r.cert); err == nil && !addressed {
				t.Fatal("an envelope that opens does not name its recipient (CMSAddressedTo)")
			}
		}
	})
}
