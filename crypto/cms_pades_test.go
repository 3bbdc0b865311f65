package crypto

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/internal/testkit"
)

func TestSignCMSPAdES(t *testing.T) {
	for _, isSM2 := range []bool{true, false} {
		p := cmsPKI(t, isSM2)
		content := []byte("%PDF-1.7 the signed byte ranges")
		der, err := SignCMSPAdES(p.leafKey, p.leaf, p.chain, p.digest(content))
		if err != nil {
			t.Fatal(err)
		}
		res, err := VerifyCMS(der, content)
		if err != nil {
			t.Fatalf("sm2=%v: %v", isSM2, err)
		}
		if !bytes.Equal(res.Signers[0].Raw, p.leaf.Raw) || !res.SigningTime.IsZero() || len(res.Certificates) != 3 {
			t.Fatalf("sm2=%v: signer, signing time (PAdES has none) or certificates wrong", isSM2)
		}
		if _, err := VerifyCMSDigest(der, p.digest(content)); err != nil {
			t.Fatal(err)
		}
		if _, err := VerifyCMS(der, []byte("other bytes")); !errors.Is(err, ErrVerification) {
			t.Fatalf("other content: %v", err)
		}
		if ok, err := CMSSigningCertificateV2(der, p.leaf); err != nil || !ok {
			t.Fatalf("signing-certificate-v2: %v %v", ok, err)
		}
		if ok, _ := CMSSigningCertificateV2(der, p.other); ok {
			t.Fatal("signing-certificate-v2 matches another certificate")
		}
		if kind, err := CMSKind(der); err != nil || kind != CMSKindSignedData {
			t.Fatalf("kind %q %v", kind, err)
		}
		if detached, err := CMSDetached(der); err != nil || !detached {
			t.Fatal("not detached")
		}
	}
}

func TestSignCMSPAdESRefuses(t *testing.T) {
	p := cmsPKI(t, true)
	if _, err := SignCMSPAdES(p.leafKey, p.leaf, nil, []byte("short")); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("short digest: %v", err)
	}
	if _, err := SignCMSPAdES(p.otherKey, p.leaf, nil, make([]byte, 32)); !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("wrong key: %v", err)
	}
}

// OpenSSL verifies the RSA PAdES CMS over the detached content and reads
// the signing-certificate-v2 attribute and no signing time.
func TestSignCMSPAdESOpenSSL(t *testing.T) {
	testkit.OpenSSL(t)
	p := cmsPKI(t, false)
	dir := cmsFiles(t, p)
	content := []byte("%PDF-1.7 ranges\x00\xff")
	der, err := SignCMSPAdES(p.leafKey, p.leaf, p.chain, p.digest(content))
	if err != nil {
		t.Fatal(err)
	}
	cmsWrite(t, dir, "sig.der", der)
	cmsWrite(t, dir, "msg.bin", content)
	cmsWrite(t, dir, "other.bin", []byte("%PDF-1.7 changed"))
	if _, err := cmsRun(t, dir, "cms", "-verify", "-binary", "-CAfile", "root.pem", "-inform", "DER", "-in", "sig.der", "-content", "msg.bin", "-out", "/dev/null"); err != nil {
		t.Fatalf("openssl rejects the PAdES CMS: %v", err)
	}
	if _, err := cmsRun(t, dir, "cms", "-verify", "-binary", "-CAfile", "root.pem", "-inform", "DER", "-in", "sig.der", "-content", "other.bin", "-out", "/dev/null"); err == nil {
		t.Fatal("openssl accepts the CMS over other content")
	}
	out, err := cmsRun(t, dir, "cms", "-cmsout", "-print", "-inform", "DER", "-in", "sig.der")
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	if !strings.Contains(s, "id-smime-aa-signingCertificateV2") || strings.Contains(s, "signingTime") {
		t.Fatalf("signed attributes:\n%s", s)
	}
}
