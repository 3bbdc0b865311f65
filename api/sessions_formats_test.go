package api_test

import (
	"bytes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/sm4"
	"github.com/emmansun/gmsm/smx509"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/internal/testkit"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/protocol"
)

// TestDecryptSessionNodeCiphertexts: a portal that encrypts with npm
// sm-crypto or gm-crypto (C1 without the 04 prefix, both orders) gets its
// plaintext back from a decrypt session; a ciphertext that does not have
// its format's shape is refused at creation (malformed_ciphertext) and
// nothing is stored.
func TestDecryptSessionNodeCiphertexts(t *testing.T) {
	t.Parallel()
	w := sxSeed(t, seed.Spec{
		Issuers: []operator.IssuerRequest{seed.Generated("sm2", "SM2", "fmt SM2 Root")},
		Users:   []seed.User{{Name: "alice", Credentials: []seed.Credential{seed.Encrypt("sm2", "SM2")}}},
	})
	cred := "alice/sm2/encrypt"
	pub := certOf(t, w.creds[cred]).PublicKey.(*ecdsa.PublicKey)
	plain := []byte("开标: 报价 1,234,567.89 元")
	in, _ := json.Marshal(map[string]string{
		"public_key": hex.EncodeToString(elliptic.Marshal(pub.Curve, pub.X, pub.Y)), //nolint:staticcheck // the uncompressed point
		"message":    hex.EncodeToString(plain),
	})
	script := filepath.Join(testkit.RepoRoot(t), "crypto", "testdata", "node", "sm2_encrypt.js")
	var cts map[string]string
	if err := json.Unmarshal(testkit.RunNode(t, in, script), &cts); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"sm-crypto/c1c3c2", "gm-crypto/c1c2c3"} {
		t.Run(name, func(t *testing.T) {
			ct, err := hex.DecodeString(cts[name])
			if err != nil || len(ct) != 64+32+len(plain) {
				t.Fatalf("ciphertext of %d bytes (%v)", len(ct), err)
			}
			_, v := w.completeSession(t, map[string]any{"kind": "decrypt", "ciphertext": ct, "ciphertext_format": name[len(name)-6:]}, w.alice, cred)
			var res struct {
				Plaintext []byte `json:"plaintext"`
			}
			if err := json.Unmarshal(v.Result, &res); err != nil || !bytes.Equal(res.Plaintext, plain) {
				t.Fatalf("plaintext %q (%v)", res.Plaintext, err)
			}
		})
	}
	ct, _ := hex.DecodeString(cts["sm-crypto/c1c3c2"])
	for name, req := range map[string]map[string]any{
		"X altered":   {"ciphertext": append([]byte{ct[0] ^ 1}, ct[1:]...), "ciphertext_format": "c1c3c2"},
		"raw as asn1": {"ciphertext": ct, "ciphertext_format": "asn1"},
		"raw as cms":  {"ciphertext": ct, "ciphertext_format": "cms"},
		"short rsa":   {"ciphertext": ct[:64], "ciphertext_format": "rsa-oaep"},
	} {
		req["kind"] = "decrypt"
		req["display"] = map[string]string{"title": "开标"}
		r := w.refused(w.app("POST", "/v1/sessions", req), http.StatusBadRequest, "malformed_ciphertext")
		if r.status != http.StatusBadRequest {
			t.Fatalf("%s: %d", name, r.status)
		}
	}
}

// TestDecryptSessionGmSSLEnvelope: an EnvelopedData shaped as GmSSL 3's
// cmsencrypt writes it (GM/T 0010 OIDs, SM2 key transport named
// 1.2.156.10197.1.301.2, the ASN.1 SM2 ciphertext of an SM4-CBC key),
// built by hand here because GmSSL has no Debian package, opens in a
// decrypt session.
func TestDecryptSessionGmSSLEnvelope(t *testing.T) {
	t.Parallel()
	w := sxSeed(t, seed.Spec{
		Issuers: []operator.IssuerRequest{seed.Generated("sm2", "SM2", "gmssl SM2 Root")},
		Users:   []seed.User{{Name: "alice", Credentials: []seed.Credential{seed.Encrypt("sm2", "SM2")}}},
	})
	cert := certOf(t, w.creds["alice/sm2/encrypt"])
	plain := []byte("GmSSL 3 sealed bid 投标文件")
	cek, iv := make([]byte, 16), make([]byte, 16)
	rand.Read(cek)
	rand.Read(iv)
	ek, err := gmcrypto.Encrypt(cert.PublicKey, cek, gmcrypto.FormatASN1)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := sm4.NewCipher(cek)
	n := 16 - len(plain)%16
	padded := append(bytes.Clone(plain), bytes.Repeat([]byte{byte(n)}, n)...)
	ct := make([]byte, len(padded))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, padded)
	ivDER, _ := asn1.Marshal(iv)
	type issuerSerial struct {
		Issuer asn1.RawValue
		Serial *big.Int
	}
	type keyTrans struct {
		Version int
		RID     issuerSerial
		Alg     pkix.AlgorithmIdentifier
		Key     []byte
	}
	type encContent struct {
		Type asn1.ObjectIdentifier
		Alg  pkix.AlgorithmIdentifier
		Data []byte `asn1:"tag:0"`
	}
	inner, err := asn1.Marshal(struct {
		Version    int
		Recipients []keyTrans `asn1:"set"`
		Content    encContent
	}{0, []keyTrans{{0, issuerSerial{asn1.RawValue{FullBytes: cert.RawIssuer}, cert.SerialNumber},
		pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301, 2}}, ek}},
		encContent{asn1.ObjectIdentifier{1, 2, 156, 10197, 6, 1, 4, 2, 1},
			pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 104, 2}, Parameters: asn1.RawValue{FullBytes: ivDER}}, ct}})
	if err != nil {
		t.Fatal(err)
	}
	env, err := asn1.Marshal(struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue
	}{asn1.ObjectIdentifier{1, 2, 156, 10197, 6, 1, 4, 2, 3}, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: inner}})
	if err != nil {
		t.Fatal(err)
	}
	_, v := w.completeSession(t, map[string]any{"kind": "decrypt", "ciphertext": env, "ciphertext_format": "cms"}, w.alice, "alice/sm2/encrypt")
	var res struct {
		Plaintext []byte `json:"plaintext"`
	}
	if err := json.Unmarshal(v.Result, &res); err != nil || !bytes.Equal(res.Plaintext, plain) {
		t.Fatalf("plaintext %q (%v)", res.Plaintext, err)
	}
}

// TestVerifyGmSSLSignedData: POST /v1/verify accepts GmSSL 3's SM2 CMS
// (signature algorithm 1.2.156.10197.1.501, no signed attributes, SM2 over
// SM3 of the content without Z), built by hand, signed by a certificate
// of a registered external issuer whose key this test holds.
func TestVerifyGmSSLSignedData(t *testing.T) {
	t.Parallel()
	w := sxSeed(t, seed.Spec{})
	caKey, _ := sm2.GenerateKey(rand.Reader)
	leafKey, _ := sm2.GenerateKey(rand.Reader)
	now := time.Now()
	caTmpl := &smx509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "GmSSL-shaped Root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: smx509.KeyUsageCertSign | smx509.KeyUsageCRLSign}
	caDER, err := smx509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := smx509.ParseCertificate(caDER)
	leafTmpl := &smx509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "投标人 GmSSL"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), KeyUsage: smx509.KeyUsageDigitalSignature}
	leafDER, err := smx509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := smx509.ParseCertificate(leafDER)
	w.must(w.do("POST", "/v1/admin/issuers", map[string]any{"id": "gmssl", "name": "GmSSL CA", "mode": "external",
		"chain_pem": string(gmcrypto.EncodeCertificatesPEM(ca))}, map[string]string{"Authorization": "Bearer " + w.ts.AdminToken}), http.StatusCreated)

	content := []byte("GmSSL 3 cmssign: 投标文件")
	e := sm3.Sum(content)
	sig, err := sm2.SignASN1(rand.Reader, leafKey, e[:], nil) // SM3(content), no Z
	if err != nil {
		t.Fatal(err)
	}
	type issuerSerial struct {
		Issuer asn1.RawValue
		Serial *big.Int
	}
	type signerInfo struct {
		Version   int
		SID       issuerSerial
		DigestAlg pkix.AlgorithmIdentifier
		SigAlg    pkix.AlgorithmIdentifier
		Signature []byte
	}
	type encap struct {
		Type asn1.ObjectIdentifier
	}
	sm3OID := pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 401}}
	certs, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: leaf.Raw})
	inner, err := asn1.Marshal(struct {
		Version     int
		DigestAlgs  []pkix.AlgorithmIdentifier `asn1:"set"`
		Encap       encap
		Certs       asn1.RawValue
		SignerInfos []signerInfo `asn1:"set"`
	}{1, []pkix.AlgorithmIdentifier{sm3OID}, encap{asn1.ObjectIdentifier{1, 2, 156, 10197, 6, 1, 4, 2, 1}}, asn1.RawValue{FullBytes: certs},
		[]signerInfo{{1, issuerSerial{asn1.RawValue{FullBytes: leaf.RawIssuer}, leaf.SerialNumber}, sm3OID,
			pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 501}}, sig}}})
	if err != nil {
		t.Fatal(err)
	}
	cms, err := asn1.Marshal(struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue
	}{asn1.ObjectIdentifier{1, 2, 156, 10197, 6, 1, 4, 2, 2}, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: inner}})
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		body  map[string]any
		valid bool
	}{
		"content":       {map[string]any{"cms": cms, "data": content}, true},
		"digest":        {map[string]any{"cms": cms, "digest": e[:]}, true},
		"other content": {map[string]any{"cms": cms, "data": []byte("another bid")}, false},
	} {
		var v protocol.VerifyResponse
		w.must(w.app("POST", "/v1/verify", tc.body), http.StatusOK).decode(t, &v)
		if v.Valid != tc.valid || tc.valid && (v.Signer == nil || !strings.Contains(v.Signer.Subject, "GmSSL")) || !tc.valid && v.Reason != "bad_signature" {
			t.Fatalf("%s: %+v, want valid %v", name, v, tc.valid)
		}
	}
}
