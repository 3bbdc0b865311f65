package crypto

// Interoperability with the OpenSSL 3.0 CLI, the independent reference for
// RSA CMS. OpenSSL 3.0 cannot handle SM2 in CMS: `openssl cms -sign` fails
// with an SM2 key and `-verify` refuses SM2 SignedData with either set of
// OIDs (TestCMSOpenSSLSM2EnvelopeUnsupported shows the envelope side); the
// SM2 side is checked with tjfoc/gmsm in cms_gm_test.go.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/internal/testkit"
)

// cmsRun runs openssl in dir and returns its stdout, or an error carrying
// stderr. Without openssl the test is skipped, except under CI=true.
func cmsRun(t *testing.T, dir string, args ...string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, testkit.OpenSSL(t), args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), errors.New(err.Error() + ": " + strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// cmsFiles writes the PKI of p into a fresh directory: root.pem, inter.pem,
// leaf.pem, leaf.key, other.pem, other.key.
func cmsFiles(t *testing.T, p *cmsTestPKI) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range map[string][]byte{
		"root.pem": p.rootPEM, "inter.pem": p.interPEM,
		"leaf.pem": p.leafPEM, "leaf.key": p.leafKeyPEM,
		"other.pem": p.otherPEM, "other.key": p.otherKeyPEM,
	} {
		cmsWrite(t, dir, name, data)
	}
	return dir
}

func cmsWrite(t *testing.T, dir, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func cmsRead(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCMSOpenSSLVerifiesOurRSASignedData(t *testing.T) {
	testkit.OpenSSL(t)
	p := cmsPKI(t, false)
	dir := cmsFiles(t, p)
	content := []byte("RSA bid\r\nwith CRLF and \x00 binary \xff bytes\n")
	cmsWrite(t, dir, "msg.bin", content)
	cmsWrite(t, dir, "other.bin", []byte("a different bid"))

	for _, mode := range []cmsSignMode{cmsAttached, cmsDetached, cmsDigestOnly} {
		t.Run(mode.String(), func(t *testing.T) {
			der := cmsSignWith(t, p, mode, content)
			cmsWrite(t, dir, "sig.der", der)
			args := []string{"cms", "-verify", "-binary", "-CAfile", "root.pem", "-inform", "DER", "-in", "sig.der", "-out", "out.bin"}
			if mode != cmsAttached {
				args = append(args, "-content", "msg.bin")
			}
			if _, err := cmsRun(t, dir, args...); err != nil {
				t.Fatalf("openssl cms -verify rejects our SignedData: %v", err)
			}
			if got := cmsRead(t, dir, "out.bin"); !bytes.Equal(got, content) {
				t.Fatalf("openssl output %q, want %q", got, content)
			}
			// The same check must fail on the wrong content: OpenSSL really
			// verifies.
			if mode != cmsAttached {
				bad := append(args[:len(args)-2:len(args)-2], "-content", "other.bin")
				if _, err := cmsRun(t, dir, bad...); err == nil {
					t.Fatal("openssl accepted the signature over different content")
				}
			}
		})
	}

	// The intermediate is only known to OpenSSL through the SignedData: the
	// chain certificates must be carried.
	t.Run("intermediate carried", func(t *testing.T) {
		der, err := SignCMS(p.leafKey, p.leaf, nil, content, false)
		if err != nil {
			t.Fatal(err)
		}
		cmsWrite(t, dir, "nochain.der", der)
		if _, err := cmsRun(t, dir, "cms", "-verify", "-binary", "-CAfile", "root.pem", "-inform", "DER", "-in", "nochain.der", "-out", "x.bin"); err == nil {
			t.Fatal("openssl verified without the intermediate: the test proves nothing")
		}
		cmsWrite(t, dir, "root-inter.pem", append(bytes.Clone(p.rootPEM), p.interPEM...))
		if _, err := cmsRun(t, dir, "cms", "-verify", "-binary", "-CAfile", "root-inter.pem", "-inform", "DER", "-in", "nochain.der", "-out", "x.bin"); err != nil {
			t.Fatalf("openssl with the intermediate given: %v", err)
		}
	})

	// OpenSSL reads the algorithms as sha256 and sha256WithRSAEncryption.
	t.Run("algorithms", func(t *testing.T) {
		der := cmsSignWith(t, p, cmsAttached, content)
		cmsWrite(t, dir, "alg.der", der)
		out, err := cmsRun(t, dir, "cms", "-cmsout", "-print", "-inform", "DER", "-in", "alg.der")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"contentType: pkcs7-signedData", "algorithm: sha256 ", "algorithm: sha256WithRSAEncryption", "object: contentType", "object: messageDigest", "object: signingTime"} {
			if !bytes.Contains(out, []byte(want)) {
				t.Errorf("openssl -print lacks %q", want)
			}
		}
	})
}

func TestCMSVerifyOpenSSLSignedData(t *testing.T) {
	testkit.OpenSSL(t)
	p := cmsPKI(t, false)
	dir := cmsFiles(t, p)
	content := []byte("signed by openssl\n\x00\x01\x02 binary")
	cmsWrite(t, dir, "msg.bin", content)
	sum256 := sha256.Sum256(content)
	sum384 := sha512.Sum384(content)

	base := []string{"cms", "-sign", "-binary", "-in", "msg.bin", "-signer", "leaf.pem", "-inkey", "leaf.key", "-certfile", "inter.pem", "-out", "sig"}
	tests := []struct {
		name     string
		extra    []string
		pem      bool
		detached bool
		digest   []byte
	}{
		{"attached", []string{"-md", "sha256", "-nodetach", "-outform", "DER"}, false, false, sum256[:]},
		{"detached", []string{"-md", "sha256", "-outform", "DER"}, false, true, sum256[:]},
		{"attached BER stream", []string{"-md", "sha256", "-nodetach", "-stream", "-outform", "DER"}, false, false, sum256[:]},
		{"attached PEM", []string{"-md", "sha256", "-nodetach", "-outform", "PEM"}, true, false, sum256[:]},
		{"detached without attributes", []string{"-md", "sha256", "-noattr", "-outform", "DER"}, false, true, sum256[:]},
		{"attached without attributes", []string{"-md", "sha256", "-noattr", "-nodetach", "-outform", "DER"}, false, false, sum256[:]},
		{"detached SHA-384", []string{"-md", "sha384", "-outform", "DER"}, false, true, sum384[:]},
		{"subject key identifier", []string{"-md", "sha256", "-keyid", "-nodetach", "-outform", "DER"}, false, false, sum256[:]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := cmsRun(t, dir, append(base, tc.extra...)...); err != nil {
				t.Fatal(err)
			}
			sig := cmsRead(t, dir, "sig")
			if tc.pem {
				if b, _ := pem.Decode(sig); b == nil || b.Type != "CMS" {
					t.Fatalf("openssl PEM output is not a CMS block")
				}
			}
			var dc []byte
			if tc.detached {
				dc = content
			}
			res, err := VerifyCMS(sig, dc)
			if err != nil {
				t.Fatalf("VerifyCMS: %v", err)
			}
			if !bytes.Equal(res.Content, content) {
				t.Errorf("content %q", res.Content)
			}
			if len(res.Signers) != 1 || !res.Signers[0].Equal(p.leaf) {
				t.Errorf("signers %v, want the leaf", res.Signers)
			}
			if len(res.Certificates) != 2 {
				t.Errorf("%d certificates, want leaf and intermediate", len(res.Certificates))
			}
			if res, err := VerifyCMSDigest(sig, tc.digest); err != nil || !res.Signers[0].Equal(p.leaf) {
				t.Errorf("VerifyCMSDigest: %v", err)
			}
			if _, err := VerifyCMS(sig, []byte("tampered content")); !errors.Is(err, ErrVerification) {
				t.Errorf("wrong content: got %v, want ErrVerification", err)
			}
			if kind, err := CMSKind(sig); err != nil || kind != CMSKindSignedData {
				t.Errorf("CMSKind = %q, %v", kind, err)
			}
		})
	}
}

func TestCMSOpenSSLOpensOurRSAEnvelope(t *testing.T) {
	testkit.OpenSSL(t)
	p := cmsPKI(t, false)
	dir := cmsFiles(t, p)
	content := bytes.Repeat([]byte("sealed RSA bid \x00\xff "), 100)
	env, err := EnvelopeCMS(content, p.leaf, p.other)
	if err != nil {
		t.Fatal(err)
	}
	cmsWrite(t, dir, "env.der", env)
	for _, who := range []string{"leaf", "other"} {
		t.Run(who, func(t *testing.T) {
			if _, err := cmsRun(t, dir, "cms", "-decrypt", "-binary", "-inform", "DER", "-in", "env.der",
				"-recip", who+".pem", "-inkey", who+".key", "-out", who+".out"); err != nil {
				t.Fatalf("openssl cms -decrypt: %v", err)
			}
			if got := cmsRead(t, dir, who+".out"); !bytes.Equal(got, content) {
				t.Fatalf("openssl decrypted %d bytes, want %d", len(got), len(content))
			}
		})
	}
	t.Run("algorithms", func(t *testing.T) {
		out, err := cmsRun(t, dir, "cms", "-cmsout", "-print", "-inform", "DER", "-in", "env.der")
		if err != nil {
			t.Fatal(err)
		}
		text := string(out)
		for _, want := range []string{"contentType: pkcs7-envelopedData", "algorithm: rsaesOaep", "algorithm: aes-256-cbc", ":mgf1"} {
			if !strings.Contains(text, want) {
				t.Errorf("openssl -print lacks %q", want)
			}
		}
		// OAEP's hash and MGF1's hash are both SHA-256 (OpenSSL prints the
		// parameters with asn1parse: ":sha256" twice per recipient).
		if strings.Count(text, ":sha256") != 4 {
			t.Errorf("OAEP parameters are not SHA-256:\n%s", text)
		}
	})
	t.Run("wrong key", func(t *testing.T) {
		if _, err := cmsRun(t, dir, "cms", "-decrypt", "-binary", "-inform", "DER", "-in", "env.der",
			"-recip", "leaf.pem", "-inkey", "other.key", "-out", "bad.out"); err == nil {
			if got := cmsRead(t, dir, "bad.out"); bytes.Equal(got, content) {
				t.Fatal("openssl opened the envelope with the wrong key")
			}
		}
	})
}

func TestCMSOpenOpenSSLEnvelope(t *testing.T) {
	testkit.OpenSSL(t)
	p := cmsPKI(t, false)
	dir := cmsFiles(t, p)
	content := []byte("encrypted by openssl \x00\x01 binary, longer than one block")
	cmsWrite(t, dir, "msg.bin", content)
	base := []string{"cms", "-encrypt", "-binary", "-in", "msg.bin", "-out", "env"}
	tests := []struct {
		name  string
		extra []string
		alg   []int
	}{
		{"OAEP SHA-256, AES-256", []string{"-aes256", "-outform", "DER", "-recip", "leaf.pem", "-keyopt", "rsa_padding_mode:oaep", "-keyopt", "rsa_oaep_md:sha256", "-recip", "other.pem", "-keyopt", "rsa_padding_mode:oaep", "-keyopt", "rsa_oaep_md:sha256"}, OIDAES256CBC},
		{"PKCS#1 v1.5, AES-256", []string{"-aes256", "-outform", "DER", "-recip", "leaf.pem", "-recip", "other.pem"}, OIDAES256CBC},
		{"OAEP SHA-1 default, AES-128", []string{"-aes128", "-outform", "DER", "-recip", "leaf.pem", "-keyopt", "rsa_padding_mode:oaep", "-recip", "other.pem", "-keyopt", "rsa_padding_mode:oaep"}, []int{2, 16, 840, 1, 101, 3, 4, 1, 2}},
		{"OAEP SHA-512 MGF1-SHA-1, AES-192", []string{"-aes192", "-outform", "DER", "-recip", "leaf.pem", "-keyopt", "rsa_padding_mode:oaep", "-keyopt", "rsa_oaep_md:sha512", "-keyopt", "rsa_mgf1_md:sha1", "-recip", "other.pem"}, []int{2, 16, 840, 1, 101, 3, 4, 1, 22}},
		{"BER stream", []string{"-aes256", "-stream", "-outform", "DER", "-recip", "leaf.pem", "-recip", "other.pem"}, OIDAES256CBC},
		{"PEM", []string{"-aes256", "-outform", "PEM", "-recip", "leaf.pem", "-recip", "other.pem"}, OIDAES256CBC},
		{"subject key identifier", []string{"-aes256", "-keyid", "-outform", "DER", "-recip", "leaf.pem", "-recip", "other.pem"}, OIDAES256CBC},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := cmsRun(t, dir, append(base, tc.extra...)...); err != nil {
				t.Fatal(err)
			}
			env := cmsRead(t, dir, "env")
			if kind, err := CMSKind(env); err != nil || kind != CMSKindEnvelopedData {
				t.Fatalf("CMSKind = %q, %v", kind, err)
			}
			for _, r := range []struct {
				name string
				p    func() ([]byte, error)
			}{
				{"leaf", func() ([]byte, error) { return OpenCMS(env, p.leaf, p.leafKey) }},
				{"other", func() ([]byte, error) { return OpenCMS(env, p.other, p.otherKey) }},
			} {
				got, err := r.p()
				if err != nil || !bytes.Equal(got, content) {
					t.Fatalf("OpenCMS(%s) = %q, %v", r.name, got, err)
				}
			}
			cek, alg, err := OpenCMSKey(env, p.leaf, p.leafKey)
			if err != nil || !alg.Equal(tc.alg) || len(cek) == 0 {
				t.Fatalf("OpenCMSKey = %d bytes, %v, %v; want alg %v", len(cek), alg, err, tc.alg)
			}
			if _, err := OpenCMS(env, p.leaf, p.otherKey); !errors.Is(err, ErrDecryption) {
				t.Fatalf("wrong key: %v, want ErrDecryption", err)
			}
		})
	}
}

// OpenSSL 3.0.x cannot open an SM2 EnvelopedData with the GM/T 0010 OIDs
// ("content type not enveloped data"), nor make any SM2 envelope (`openssl
// cms -encrypt -sm4-cbc -recip sm2.pem` fails with "illegal zero content").
// This test records that; if a later OpenSSL opens it, the plaintext must be
// right.
func TestCMSOpenSSLSM2EnvelopeUnsupported(t *testing.T) {
	testkit.OpenSSL(t)
	p := cmsPKI(t, true)
	dir := cmsFiles(t, p)
	content := []byte("SM2 sealed bid")
	env, err := EnvelopeCMS(content, p.leaf)
	if err != nil {
		t.Fatal(err)
	}
	cmsWrite(t, dir, "env.der", env)
	_, err = cmsRun(t, dir, "cms", "-decrypt", "-binary", "-inform", "DER", "-in", "env.der", "-recip", "leaf.pem", "-inkey", "leaf.key", "-out", "out.bin")
	if err != nil {
		t.Logf("as expected, OpenSSL cannot open the GM/T 0010 SM2 envelope: %v", err)
		return
	}
	if got := cmsRead(t, dir, "out.bin"); !bytes.Equal(got, content) {
		t.Fatalf("OpenSSL opened the SM2 envelope to %q, want %q", got, content)
	}
	t.Log("this OpenSSL opens the GM/T 0010 SM2 envelope")
}
