package crypto

// CMS SignedData: signing (see cms.go for the algorithms and OIDs).

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"

	"github.com/emmansun/gmsm/pkcs7"
	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

// SignCMS makes a CMS SignedData (DER ContentInfo) over content with key and
// its certificate cert. The signer info carries the signed attributes content
// type, message digest and signing time; cert and the chain certificates are
// included. SM2 keys use the GM/T 0010 OIDs (SM3 digest, SM2 signature with
// the default user id); RSA keys the PKCS#7 OIDs with SHA-256 and PKCS#1 v1.5.
// detached=true leaves the content out.
func SignCMS(key crypto.Signer, cert *smx509.Certificate, chain []*smx509.Certificate, content []byte, detached bool) ([]byte, error) {
	isSM2, err := cmsSignerFamily(key, cert, chain)
	if err != nil {
		return nil, err
	}
	var sd *pkcs7.SignedData
	if isSM2 {
		sd, err = pkcs7.NewSMSignedData(content)
	} else {
		sd, err = pkcs7.NewSignedData(content)
		if err == nil {
			sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("crypto: CMS sign: %w", err)
	}
	return cmsFinishSigned(sd, key, cert, chain, detached)
}

// SignCMSDigest makes a detached SignedData when only the content's digest is
// known: SM3(content) for an SM2 key, SHA-256(content) for an RSA key, 32
// bytes either way. The messageDigest attribute carries it; the result
// verifies with VerifyCMS(der, content) and VerifyCMSDigest(der, digest).
func SignCMSDigest(key crypto.Signer, cert *smx509.Certificate, chain []*smx509.Certificate, digest []byte) ([]byte, error) {
	isSM2, err := cmsSignerFamily(key, cert, chain)
	if err != nil {
		return nil, err
	}
	if len(digest) != sha256.Size { // == sm3.Size
		return nil, fmt.Errorf("%w: CMS digest must be 32 bytes, got %d", ErrInvalidInput, len(digest))
	}
	digest = bytes.Clone(digest)
	var sd *pkcs7.SignedData
	if isSM2 {
		sd, err = pkcs7.NewSMSignedDataWithDigest(digest)
	} else {
		sd, err = pkcs7.NewSignedDataWithDigest(digest)
		if err == nil {
			sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("crypto: CMS sign: %w", err)
	}
	return cmsFinishSigned(sd, key, cert, chain, true)
}

// cmsSignerFamily checks the signer's key and certificate and tells whether
// they are SM2 (true) or RSA (false).
func cmsSignerFamily(key crypto.Signer, cert *smx509.Certificate, chain []*smx509.Certificate) (bool, error) {
	if key == nil || cert == nil {
		return false, fmt.Errorf("%w: CMS signing needs a key and its certificate", ErrInvalidInput)
	}
	for _, c := range chain {
		if c == nil {
			return false, fmt.Errorf("%w: nil certificate in the CMS chain", ErrInvalidInput)
		}
	}
	pub := key.Public()
	isSM2 := false
	switch p := pub.(type) {
	case *rsa.PublicKey:
	case *ecdsa.PublicKey:
		if !sm2.IsSM2PublicKey(p) {
			return false, fmt.Errorf("%w: CMS signing supports SM2 and RSA keys only", ErrUnsupported)
		}
		isSM2 = true
	default:
		return false, fmt.Errorf("%w: CMS signing supports SM2 and RSA keys only, not %T", ErrUnsupported, pub)
	}
	eq, ok := pub.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !eq.Equal(cert.PublicKey) {
		return false, fmt.Errorf("%w: the certificate is not the signing key's", ErrKeyMismatch)
	}
	return isSM2, nil
}

func cmsFinishSigned(sd *pkcs7.SignedData, key crypto.Signer, cert *smx509.Certificate, chain []*smx509.Certificate, detached bool) ([]byte, error) {
	// AddSigner (not AddSignerChain, which insists that the chain be in
	// issuing order) names the signer by cert's own issuer and serial number.
	if err := sd.AddSigner(cert, key, pkcs7.SignerInfoConfig{}); err != nil {
		return nil, fmt.Errorf("crypto: CMS sign: %w", err)
	}
	seen := [][]byte{cert.Raw}
	for _, c := range chain {
		dup := false
		for _, raw := range seen {
			if bytes.Equal(raw, c.Raw) {
				dup = true
				break
			}
		}
		if !dup {
			seen = append(seen, c.Raw)
			sd.AddCertificate(c)
		}
	}
	if detached {
		sd.Detach()
	}
	der, err := sd.Finish()
	if err != nil {
		return nil, fmt.Errorf("crypto: CMS sign: %w", err)
	}
	return der, nil
}
