//go:build ignore

// genseeds writes the fixed keys and certificates FuzzOpenCMS decrypts with
// (crypto/testdata/cms/fuzz-{sm2,rsa}.{pem,key}) and the seed corpora of
// FuzzVerifyCMS and FuzzOpenCMS (crypto/testdata/fuzz/...). Run it from the
// module root when the formats change:
//
//	go run ./crypto/testdata/cms/genseeds.go
//
// The openssl CLI makes the OpenSSL-produced seeds (skipped when absent).
package main

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/emmansun/gmsm/pkcs"
	"github.com/emmansun/gmsm/pkcs7"
	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

const (
	keyDir    = "crypto/testdata/cms"
	verifyDir = "crypto/testdata/fuzz/FuzzVerifyCMS"
	openDir   = "crypto/testdata/fuzz/FuzzOpenCMS"
)

func main() {
	for _, d := range []string{keyDir, verifyDir, openDir} {
		check(os.MkdirAll(d, 0o755))
	}
	sm2Key, err := sm2.GenerateKey(rand.Reader)
	check(err)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	check(err)
	sm2Cert := selfSigned("fuzz SM2 recipient", sm2Key, 1)
	rsaCert := selfSigned("fuzz RSA recipient", rsaKey, 2)
	writeKey("fuzz-sm2", sm2Key, sm2Cert)
	writeKey("fuzz-rsa", rsaKey, rsaCert)

	content := []byte("fuzz seed content")
	sm3Sum := sm3.Sum(content)
	sha := sha256.Sum256(content)

	seed(verifyDir, "sm2-attached", must(gmcrypto.SignCMS(sm2Key, sm2Cert, nil, content, false)), nil)
	seed(verifyDir, "sm2-detached", must(gmcrypto.SignCMS(sm2Key, sm2Cert, nil, content, true)), content)
	seed(verifyDir, "sm2-digest", must(gmcrypto.SignCMSDigest(sm2Key, sm2Cert, nil, sm3Sum[:])), sm3Sum[:])
	seed(verifyDir, "rsa-attached", must(gmcrypto.SignCMS(rsaKey, rsaCert, nil, content, false)), nil)
	seed(verifyDir, "rsa-detached", must(gmcrypto.SignCMS(rsaKey, rsaCert, nil, content, true)), content)
	seed(verifyDir, "rsa-digest", must(gmcrypto.SignCMSDigest(rsaKey, rsaCert, nil, sha[:])), sha[:])
	seed(verifyDir, "sm2-pem", pem.EncodeToMemory(&pem.Block{Type: "CMS", Bytes: must(gmcrypto.SignCMS(sm2Key, sm2Cert, nil, content, false))}), nil)
	seed(verifyDir, "ber-indefinite", []byte{0x30, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02, 0xa0, 0x80, 0x30, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, nil)

	seed(openDir, "sm2-envelope", must(gmcrypto.EnvelopeCMS(content, sm2Cert)))
	seed(openDir, "rsa-oaep-envelope", must(gmcrypto.EnvelopeCMS(content, rsaCert)))
	seed(openDir, "gmsm-cfca-envelope", must(pkcs7.EncryptCFCA(pkcs.SM4CBC, content, []*smx509.Certificate{sm2Cert})))
	seed(openDir, "gmsm-rsa-pkcs1-envelope", must(pkcs7.Encrypt(pkcs.AES128CBC, content, []*smx509.Certificate{rsaCert})))

	if _, err := exec.LookPath("openssl"); err != nil {
		log.Print("openssl not found: OpenSSL seeds not written")
		return
	}
	tmp, err := os.MkdirTemp("", "genseeds")
	check(err)
	defer os.RemoveAll(tmp)
	check(os.WriteFile(filepath.Join(tmp, "msg"), content, 0o600))
	check(os.WriteFile(filepath.Join(tmp, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rsaCert.Raw}), 0o600))
	keyDER, err := smx509.MarshalPKCS8PrivateKey(rsaKey)
	check(err)
	check(os.WriteFile(filepath.Join(tmp, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600))
	seed(verifyDir, "openssl-rsa-stream", openssl(tmp, "cms -sign -binary -md sha256 -nodetach -stream -outform DER -in msg -signer cert.pem -inkey key.pem"), nil)
	seed(verifyDir, "openssl-rsa-noattr", openssl(tmp, "cms -sign -binary -md sha256 -noattr -outform DER -in msg -signer cert.pem -inkey key.pem"), content)
	seed(openDir, "openssl-pkcs1-stream", openssl(tmp, "cms -encrypt -binary -aes256 -stream -outform DER -in msg -recip cert.pem"))
	seed(openDir, "openssl-oaep", openssl(tmp, "cms -encrypt -binary -aes256 -outform DER -in msg -recip cert.pem -keyopt rsa_padding_mode:oaep -keyopt rsa_oaep_md:sha256"))
}

func selfSigned(cn string, key crypto.Signer, serial int64) *smx509.Certificate {
	tmpl := &smx509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:     smx509.KeyUsageDigitalSignature | smx509.KeyUsageKeyEncipherment,
		SubjectKeyId: []byte(cn),
	}
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	check(err)
	c, err := smx509.ParseCertificate(der)
	check(err)
	return c
}

func writeKey(name string, key crypto.Signer, cert *smx509.Certificate) {
	der, err := smx509.MarshalPKCS8PrivateKey(key)
	check(err)
	check(os.WriteFile(filepath.Join(keyDir, name+".key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600))
	check(os.WriteFile(filepath.Join(keyDir, name+".pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644))
}

// seed writes a corpus file in the "go test fuzz v1" format.
func seed(dir, name string, values ...[]byte) {
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, v := range values {
		if v == nil {
			v = []byte{}
		}
		fmt.Fprintf(&b, "[]byte(%s)\n", strconv.Quote(string(v)))
	}
	check(os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644))
}

func openssl(dir, args string) []byte {
	cmd := exec.Command("openssl", strings.Fields(args)...)
	cmd.Dir = dir
	out, err := cmd.Output()
	check(err)
	return out
}

func must(b []byte, err error) []byte {
	check(err)
	return b
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
