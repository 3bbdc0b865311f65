package crypto

// CMS (PKCS#7) SignedData and EnvelopedData.
//
// Signing uses github.com/emmansun/gmsm/pkcs7. Verification and the
// envelope (seal and open) are written here on encoding/asn1, because gmsm's
// pkcs7 neither returns which certificate signed, nor tells a malformed input
// from a bad signature, nor offers RSA-OAEP key transport, and its content
// decryption panics on a bad IV or ciphertext length.
//
// Algorithms and object identifiers:
//
//	SM2 SignedData (GM/T 0010):  contentType 1.2.156.10197.6.1.4.2.2 (signedData),
//	                             eContentType 1.2.156.10197.6.1.4.2.1 (data),
//	                             digest SM3 1.2.156.10197.1.401,
//	                             signature SM2-1 1.2.156.10197.1.301.1 (SM3 with Z, default user id)
//	RSA SignedData (RFC 5652):   contentType 1.2.840.113549.1.7.2, eContentType 1.2.840.113549.1.7.1,
//	                             digest SHA-256 2.16.840.1.101.3.4.2.1,
//	                             signature sha256WithRSAEncryption 1.2.840.113549.1.1.11 (PKCS#1 v1.5)
//	signed attributes:           contentType 1.2.840.113549.1.9.3, messageDigest 1.2.840.113549.1.9.4,
//	                             signingTime 1.2.840.113549.1.9.5
//	SM2 EnvelopedData (GM/T 0010, the layout of gmsm's pkcs7.EncryptSM, not the CFCA one):
//	                             contentType 1.2.156.10197.6.1.4.2.3, version 1,
//	                             recipient version 1 by issuer and serial number,
//	                             key transport SM2-3 1.2.156.10197.1.301.3 with the SM2
//	                             ciphertext in its ASN.1 form (GM/T 0009: x, y, C3 hash, C2),
//	                             content SM4-CBC 1.2.156.10197.1.104.2 (IV as parameter, PKCS#7 padding)
//	RSA EnvelopedData (RFC 5652): contentType 1.2.840.113549.1.7.3, version 0,
//	                             key transport RSAES-OAEP 1.2.840.113549.1.1.7 with SHA-256 and MGF1-SHA-256,
//	                             content AES-256-CBC 2.16.840.1.101.3.4.1.42
//
// Opening also accepts RSA PKCS#1 v1.5 key transport (rsaEncryption), OAEP
// with SHA-1/224/384/512, AES-128/192-CBC, SM4 (1.2.156.10197.1.104 with an
// IV), the plain C1C3C2 and C1C2C3 SM2 ciphertexts and CFCA's C1C2C3 without
// the 0x04 prefix. BER input (indefinite lengths, constructed strings) is
// normalised to DER before parsing.

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha1" // OAEP with SHA-1, the default of RFC 3560
	"crypto/sha256"
	_ "crypto/sha512" // SHA-384/512 digests and OAEP hashes
	"crypto/subtle"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"sort"
	"time"

	"github.com/emmansun/gmsm/pkcs7"
	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/sm4"
	"github.com/emmansun/gmsm/smx509"
)

// The values CMSKind returns.
const (
	CMSKindSignedData    = "signed-data"
	CMSKindEnvelopedData = "enveloped-data"
)

// Content-encryption algorithms EnvelopeCMS uses; OpenCMSKey returns one of
// these (or AES-128/192-CBC, SM4) as the content algorithm.
var (
	OIDSM4CBC    = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 104, 2}
	OIDAES256CBC = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
)

var (
	cmsOIDData               = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	cmsOIDSignedData         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	cmsOIDEnvelopedData      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 3}
	cmsOIDGMData             = asn1.ObjectIdentifier{1, 2, 156, 10197, 6, 1, 4, 2, 1}
	cmsOIDGMSignedData       = asn1.ObjectIdentifier{1, 2, 156, 10197, 6, 1, 4, 2, 2}
	cmsOIDGMEnvelopedData    = asn1.ObjectIdentifier{1, 2, 156, 10197, 6, 1, 4, 2, 3}
	cmsOIDAttrContentType    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	cmsOIDAttrMessageDgst    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	cmsOIDAttrSigningTime    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	cmsOIDSM3                = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 401}
	cmsOIDSHA1               = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	cmsOIDSHA224             = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 4}
	cmsOIDSHA256             = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	cmsOIDSHA384             = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	cmsOIDSHA512             = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	cmsOIDRSA                = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	cmsOIDRSAOAEP            = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 7}
	cmsOIDMGF1               = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}
	cmsOIDPSpecified         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 9}
	cmsOIDSHA256WithRSA      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	cmsOIDSHA384WithRSA      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	cmsOIDSHA512WithRSA      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
	cmsOIDSHA224WithRSA      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 14}
	cmsOIDSM2                = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301}
	cmsOIDSM2Sign            = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301, 1}
	cmsOIDSM2Encrypt         = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301, 3}
	cmsOIDSM2WithSM3         = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 501}
	cmsOIDECPublicKey        = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	cmsOIDSM4                = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 104}
	cmsOIDAES128CBC          = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	cmsOIDAES192CBC          = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	cmsSHA256AlgorithmNoNULL = pkix.AlgorithmIdentifier{Algorithm: cmsOIDSHA256}
)

// ---------------------------------------------------------------------------
// Signing

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

// ---------------------------------------------------------------------------
// Verification

// SignedCMS is what VerifyCMS learnt from a SignedData whose signatures all
// verified.
type SignedCMS struct {
	Content      []byte                // the signed content (attached, or the detached content given)
	Signers      []*smx509.Certificate // the certificate of each signer whose signature verified
	Certificates []*smx509.Certificate // all certificates carried
	SigningTime  time.Time             // from the signed attributes if present (the first signer's)
}

// VerifyCMS checks every signature in a SignedData, attached, or detached
// with its content given as detachedContent. der may also be PEM ("CMS" or
// "PKCS7" block) or BER. It does NOT check certificate chains, validity or
// revocation (package ca does). Any failed check returns ErrVerification;
// an input that is not a parseable SignedData returns ErrMalformed.
func VerifyCMS(der []byte, detachedContent []byte) (*SignedCMS, error) {
	return cmsVerify(der, detachedContent, nil)
}

// VerifyCMSDigest is VerifyCMS for a detached SignedData when only the
// content's digest is known (SM3 for SM2 signers, the signer's digest
// algorithm, SHA-256 usually, for RSA signers). SignedCMS.Content is nil
// unless the content is attached.
func VerifyCMSDigest(der []byte, digest []byte) (*SignedCMS, error) {
	if digest == nil {
		digest = []byte{}
	}
	return cmsVerify(der, nil, digest)
}

type cmsContentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,tag:0"`
}

type cmsSignedData struct {
	Version          int
	DigestAlgorithms asn1.RawValue `asn1:"set"`
	EncapContentInfo cmsEncapContentInfo
	Certificates     asn1.RawValue   `asn1:"optional,tag:0"`
	CRLs             asn1.RawValue   `asn1:"optional,tag:1"`
	SignerInfos      []cmsSignerInfo `asn1:"set"`
}

type cmsEncapContentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,optional,tag:0"`
}

type cmsSignerInfo struct {
	Version            int
	SID                asn1.RawValue
	DigestAlgorithm    pkix.AlgorithmIdentifier
	SignedAttrs        asn1.RawValue `asn1:"optional,tag:0"`
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte
	UnsignedAttrs      asn1.RawValue `asn1:"optional,tag:1"`
}

type cmsIssuerAndSerial struct {
	Issuer asn1.RawValue
	Serial *big.Int
}

type cmsAttribute struct {
	Type   asn1.ObjectIdentifier
	Values asn1.RawValue `asn1:"set"`
}

// cmsParsedSigned is a SignedData parsed down to what verification needs.
type cmsParsedSigned struct {
	eContentType asn1.ObjectIdentifier
	content      []byte // nil when detached
	attached     bool
	certs        []*smx509.Certificate
	signers      []cmsSignerInfo
}

func cmsMalformed(what string) error {
	return fmt.Errorf("%w: CMS %s", ErrMalformed, what)
}

// cmsDecode turns PEM, BER or DER input into the DER ContentInfo and its
// parts.
func cmsDecode(in []byte) (*cmsContentInfo, error) {
	if len(in) == 0 {
		return nil, cmsMalformed("input is empty")
	}
	if t := bytes.TrimLeft(in, " \t\r\n"); bytes.HasPrefix(t, []byte("-----BEGIN ")) {
		block, _ := pem.Decode(t)
		if block == nil {
			return nil, cmsMalformed("PEM block cannot be decoded")
		}
		if block.Type != "CMS" && block.Type != "PKCS7" {
			return nil, cmsMalformed("PEM block is not CMS or PKCS7")
		}
		in = block.Bytes
	}
	der, err := cmsBERToDER(in)
	if err != nil {
		return nil, cmsMalformed("encoding: " + err.Error())
	}
	var ci cmsContentInfo
	rest, err := asn1.Unmarshal(der, &ci)
	if err != nil || len(rest) != 0 {
		return nil, cmsMalformed("ContentInfo cannot be parsed")
	}
	return &ci, nil
}

// CMSKind tells whether der (DER, BER or PEM) is a SignedData
// (CMSKindSignedData, "signed-data") or an EnvelopedData
// (CMSKindEnvelopedData, "enveloped-data"), with the PKCS#7 or the GM/T 0010
// OIDs. Anything else returns ErrMalformed.
func CMSKind(der []byte) (string, error) {
	ci, err := cmsDecode(der)
	if err != nil {
		return "", err
	}
	switch {
	case ci.ContentType.Equal(cmsOIDSignedData), ci.ContentType.Equal(cmsOIDGMSignedData):
		return CMSKindSignedData, nil
	case ci.ContentType.Equal(cmsOIDEnvelopedData), ci.ContentType.Equal(cmsOIDGMEnvelopedData):
		return CMSKindEnvelopedData, nil
	}
	return "", cmsMalformed("content type is neither signed nor enveloped data")
}

func cmsParseSigned(in []byte) (*cmsParsedSigned, error) {
	ci, err := cmsDecode(in)
	if err != nil {
		return nil, err
	}
	if !ci.ContentType.Equal(cmsOIDSignedData) && !ci.ContentType.Equal(cmsOIDGMSignedData) {
		return nil, cmsMalformed("is not a SignedData")
	}
	var sd cmsSignedData
	rest, err := asn1.Unmarshal(ci.Content.Bytes, &sd)
	if err != nil || len(rest) != 0 {
		return nil, cmsMalformed("SignedData cannot be parsed")
	}
	p := &cmsParsedSigned{eContentType: sd.EncapContentInfo.ContentType, signers: sd.SignerInfos}
	if ec := sd.EncapContentInfo.Content; len(ec.FullBytes) > 0 {
		// eContent is [0] EXPLICIT OCTET STRING in CMS; PKCS#7 v1.5 allowed
		// any type, whose content octets are what was digested.
		var inner asn1.RawValue
		rest, err := asn1.Unmarshal(ec.Bytes, &inner)
		if err != nil || len(rest) != 0 {
			return nil, cmsMalformed("encapsulated content cannot be parsed")
		}
		p.content = inner.Bytes
		if p.content == nil {
			p.content = []byte{}
		}
		p.attached = true
	}
	if len(sd.Certificates.FullBytes) > 0 {
		if !sd.Certificates.IsCompound {
			return nil, cmsMalformed("certificate set cannot be parsed")
		}
		b := sd.Certificates.Bytes
		for len(b) > 0 {
			var c asn1.RawValue
			b, err = asn1.Unmarshal(b, &c)
			if err != nil {
				return nil, cmsMalformed("certificate set cannot be parsed")
			}
			// Other CertificateChoices (attribute and extended
			// certificates) and certificates x509 cannot read are skipped:
			// a signer whose certificate is skipped fails to verify.
			if c.Class != asn1.ClassUniversal || c.Tag != asn1.TagSequence {
				continue
			}
			if cert, err := smx509.ParseCertificate(c.FullBytes); err == nil {
				p.certs = append(p.certs, cert)
			}
		}
	}
	return p, nil
}

func cmsVerify(in []byte, detachedContent []byte, digest []byte) (*SignedCMS, error) {
	p, err := cmsParseSigned(in)
	if err != nil {
		return nil, err
	}
	if len(p.signers) == 0 {
		return nil, fmt.Errorf("%w: CMS has no signer", ErrVerification)
	}
	content := p.content
	if digest == nil {
		switch {
		case p.attached && detachedContent != nil && !bytes.Equal(p.content, detachedContent):
			return nil, ErrVerification
		case !p.attached && detachedContent == nil:
			return nil, fmt.Errorf("%w: detached CMS needs its content", ErrVerification)
		case !p.attached:
			content = detachedContent
		}
	}
	res := &SignedCMS{Certificates: p.certs}
	if content != nil {
		res.Content = bytes.Clone(content)
	}
	for i := range p.signers {
		cert, st, err := cmsVerifySigner(p, &p.signers[i], content, digest)
		if err != nil {
			return nil, err
		}
		res.Signers = append(res.Signers, cert)
		if res.SigningTime.IsZero() && !st.IsZero() {
			res.SigningTime = st
		}
	}
	return res, nil
}

// cmsFindSigner returns the carried certificate sid names.
func cmsFindSigner(certs []*smx509.Certificate, sid asn1.RawValue) *smx509.Certificate {
	switch {
	case sid.Class == asn1.ClassUniversal && sid.Tag == asn1.TagSequence:
		var ias cmsIssuerAndSerial
		if rest, err := asn1.Unmarshal(sid.FullBytes, &ias); err != nil || len(rest) != 0 || ias.Serial == nil {
			return nil
		}
		for _, c := range certs {
			if c.SerialNumber != nil && c.SerialNumber.Cmp(ias.Serial) == 0 && bytes.Equal(c.RawIssuer, ias.Issuer.FullBytes) {
				return c
			}
		}
	case sid.Class == asn1.ClassContextSpecific && sid.Tag == 0 && !sid.IsCompound:
		for _, c := range certs {
			if len(c.SubjectKeyId) > 0 && bytes.Equal(c.SubjectKeyId, sid.Bytes) {
				return c
			}
		}
	}
	return nil
}

// cmsHash returns the hash a digest algorithm names. SHA-1 is refused.
func cmsHash(oid asn1.ObjectIdentifier) (func() hash.Hash, crypto.Hash, bool) {
	switch {
	case oid.Equal(cmsOIDSM3), oid.Equal(cmsOIDSM2WithSM3): // some producers name SM2-with-SM3
		return sm3.New, 0, true
	case oid.Equal(cmsOIDSHA256):
		return crypto.SHA256.New, crypto.SHA256, true
	case oid.Equal(cmsOIDSHA384):
		return crypto.SHA384.New, crypto.SHA384, true
	case oid.Equal(cmsOIDSHA512):
		return crypto.SHA512.New, crypto.SHA512, true
	case oid.Equal(cmsOIDSHA224):
		return crypto.SHA224.New, crypto.SHA224, true
	}
	return nil, 0, false
}

func cmsVerifySigner(p *cmsParsedSigned, si *cmsSignerInfo, content, digest []byte) (*smx509.Certificate, time.Time, error) {
	var signingTime time.Time
	cert := cmsFindSigner(p.certs, si.SID)
	if cert == nil {
		return nil, signingTime, fmt.Errorf("%w: signer certificate not carried", ErrVerification)
	}
	newHash, stdHash, ok := cmsHash(si.DigestAlgorithm.Algorithm)
	if !ok {
		return nil, signingTime, fmt.Errorf("%w: unsupported digest algorithm", ErrVerification)
	}
	// The bytes the signature covers, and, when they are the content itself,
	// its digest (for RSA over a digest-only verification).
	var signed []byte
	var signedDigest []byte
	var contentDigest []byte
	if content != nil {
		h := newHash()
		h.Write(content)
		contentDigest = h.Sum(nil)
	}
	if digest != nil && contentDigest != nil && subtle.ConstantTimeCompare(contentDigest, digest) != 1 {
		return nil, signingTime, ErrVerification
	}
	if contentDigest == nil {
		contentDigest = digest
	}
	var alternative []byte // the signed attributes in DER order, if they were not
	if len(si.SignedAttrs.FullBytes) > 0 {
		md, ct, st, err := cmsReadSignedAttrs(si.SignedAttrs.Bytes)
		if err != nil {
			return nil, signingTime, err
		}
		signingTime = st
		if !ct.Equal(p.eContentType) {
			return nil, signingTime, fmt.Errorf("%w: content type attribute mismatch", ErrVerification)
		}
		if subtle.ConstantTimeCompare(md, contentDigest) != 1 {
			return nil, signingTime, ErrVerification
		}
		signed, alternative = cmsAttrsToSign(si.SignedAttrs.Bytes)
	} else {
		if content == nil && stdHash == 0 {
			// SM2 signs SM3(Z || message); the content's digest alone is not enough.
			return nil, signingTime, fmt.Errorf("%w: signature over the content needs the content", ErrVerification)
		}
		signed = content
		signedDigest = contentDigest
	}
	verify := func(msg []byte) bool {
		return cmsCheckSignature(cert, si, stdHash, newHash, msg, signedDigest)
	}
	if verify(signed) || (alternative != nil && verify(alternative)) {
		return cert, signingTime, nil
	}
	return nil, signingTime, ErrVerification
}

// cmsCheckSignature verifies si's signature with cert's key over msg, or,
// when msg is nil, over the precomputed digest (RSA only).
func cmsCheckSignature(cert *smx509.Certificate, si *cmsSignerInfo, stdHash crypto.Hash, newHash func() hash.Hash, msg, digest []byte) bool {
	alg := si.SignatureAlgorithm.Algorithm
	switch pub := cert.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if !sm2.IsSM2PublicKey(pub) || stdHash != 0 {
			return false
		}
		if !alg.Equal(cmsOIDSM2Sign) && !alg.Equal(cmsOIDSM2WithSM3) && !alg.Equal(cmsOIDSM2) && !alg.Equal(cmsOIDECPublicKey) {
			return false
		}
		if msg == nil {
			return false
		}
		return sm2.VerifyASN1WithSM2(pub, nil, msg, si.Signature)
	case *rsa.PublicKey:
		if stdHash == 0 {
			return false
		}
		switch {
		case alg.Equal(cmsOIDRSA):
		case alg.Equal(cmsOIDSHA256WithRSA):
			if stdHash != crypto.SHA256 {
				return false
			}
		case alg.Equal(cmsOIDSHA384WithRSA):
			if stdHash != crypto.SHA384 {
				return false
			}
		case alg.Equal(cmsOIDSHA512WithRSA):
			if stdHash != crypto.SHA512 {
				return false
			}
		case alg.Equal(cmsOIDSHA224WithRSA):
			if stdHash != crypto.SHA224 {
				return false
			}
		default:
			return false
		}
		if msg != nil {
			h := newHash()
			h.Write(msg)
			digest = h.Sum(nil)
		}
		return rsa.VerifyPKCS1v15(pub, stdHash, digest, si.Signature) == nil
	}
	return false
}

// cmsReadSignedAttrs returns the message digest, content type and signing
// time from the contents of the signed attributes, refusing a missing or
// repeated message digest or content type.
func cmsReadSignedAttrs(b []byte) (md []byte, ct asn1.ObjectIdentifier, st time.Time, err error) {
	var haveMD, haveCT, haveST bool
	bad := func() error { return fmt.Errorf("%w: bad signed attributes", ErrVerification) }
	for len(b) > 0 {
		var a cmsAttribute
		b, err = asn1.Unmarshal(b, &a)
		if err != nil {
			return nil, nil, st, cmsMalformed("signed attributes cannot be parsed")
		}
		var rest []byte
		switch {
		case a.Type.Equal(cmsOIDAttrMessageDgst):
			if haveMD {
				return nil, nil, st, bad()
			}
			haveMD = true
			rest, err = asn1.Unmarshal(a.Values.Bytes, &md)
		case a.Type.Equal(cmsOIDAttrContentType):
			if haveCT {
				return nil, nil, st, bad()
			}
			haveCT = true
			rest, err = asn1.Unmarshal(a.Values.Bytes, &ct)
		case a.Type.Equal(cmsOIDAttrSigningTime):
			if haveST {
				return nil, nil, st, bad()
			}
			haveST = true
			rest, err = asn1.Unmarshal(a.Values.Bytes, &st)
		default:
			continue
		}
		if err != nil || len(rest) != 0 {
			return nil, nil, time.Time{}, bad()
		}
	}
	if !haveMD || !haveCT {
		return nil, nil, time.Time{}, bad()
	}
	return md, ct, st, nil
}

// cmsAttrsToSign returns the DER SET OF the signed attributes as received,
// and, if their order was not DER's, the SET with its elements sorted (what
// implementations that re-encode before signing, such as OpenSSL, sign).
func cmsAttrsToSign(contents []byte) (asReceived, sorted []byte) {
	asReceived, _ = asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: contents})
	var elems [][]byte
	for b := contents; len(b) > 0; {
		var rv asn1.RawValue
		var err error
		if b, err = asn1.Unmarshal(b, &rv); err != nil {
			return asReceived, nil
		}
		elems = append(elems, rv.FullBytes)
	}
	if sort.SliceIsSorted(elems, func(i, j int) bool { return bytes.Compare(elems[i], elems[j]) < 0 }) {
		return asReceived, nil
	}
	sort.Slice(elems, func(i, j int) bool { return bytes.Compare(elems[i], elems[j]) < 0 })
	sorted, _ = asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: bytes.Join(elems, nil)})
	return asReceived, sorted
}

// ---------------------------------------------------------------------------
// Envelope

type cmsEnvelopedData struct {
	Version              int
	OriginatorInfo       asn1.RawValue   `asn1:"optional,tag:0"`
	RecipientInfos       []asn1.RawValue `asn1:"set"`
	EncryptedContentInfo cmsEncryptedContentInfo
	UnprotectedAttrs     asn1.RawValue `asn1:"optional,tag:1"`
}

type cmsKeyTransRecipientInfo struct {
	Version                int
	RID                    asn1.RawValue
	KeyEncryptionAlgorithm pkix.AlgorithmIdentifier
	EncryptedKey           []byte
}

type cmsEncryptedContentInfo struct {
	ContentType                asn1.ObjectIdentifier
	ContentEncryptionAlgorithm pkix.AlgorithmIdentifier
	EncryptedContent           asn1.RawValue `asn1:"optional,tag:0"`
}

type cmsOAEPParams struct {
	Hash    pkix.AlgorithmIdentifier `asn1:"optional,explicit,tag:0"`
	MGF     pkix.AlgorithmIdentifier `asn1:"optional,explicit,tag:1"`
	PSource pkix.AlgorithmIdentifier `asn1:"optional,explicit,tag:2"`
}

// EnvelopeCMS encrypts content to each recipient certificate. SM2 recipients
// get SM4-CBC content encryption and SM2 key transport with the GM/T 0010
// OIDs (ASN.1 SM2 ciphertext, the layout of gmsm's pkcs7.EncryptSM); RSA
// recipients AES-256-CBC and RSAES-OAEP with SHA-256 key transport. All
// recipients must be of one family (ErrUnsupported otherwise, and for any
// other key type); no recipient is ErrInvalidInput.
func EnvelopeCMS(content []byte, recipients ...*smx509.Certificate) ([]byte, error) {
	if len(recipients) == 0 {
		return nil, fmt.Errorf("%w: CMS envelope needs a recipient", ErrInvalidInput)
	}
	sm2Count := 0
	for _, r := range recipients {
		if r == nil {
			return nil, fmt.Errorf("%w: nil CMS recipient", ErrInvalidInput)
		}
		switch pub := r.PublicKey.(type) {
		case *rsa.PublicKey:
		case *ecdsa.PublicKey:
			if !sm2.IsSM2PublicKey(pub) {
				return nil, fmt.Errorf("%w: CMS recipients must be SM2 or RSA", ErrUnsupported)
			}
			sm2Count++
		default:
			return nil, fmt.Errorf("%w: CMS recipients must be SM2 or RSA, not %T", ErrUnsupported, pub)
		}
	}
	isSM2 := sm2Count == len(recipients)
	if sm2Count != 0 && !isSM2 {
		return nil, fmt.Errorf("%w: CMS recipients mix SM2 and RSA", ErrUnsupported)
	}

	keyLen, contentAlg, outerType, dataType, version := 32, OIDAES256CBC, cmsOIDEnvelopedData, cmsOIDData, 0
	if isSM2 {
		keyLen, contentAlg, outerType, dataType, version = 16, OIDSM4CBC, cmsOIDGMEnvelopedData, cmsOIDGMData, 1
	}
	cek := make([]byte, keyLen)
	iv := make([]byte, 16)
	if _, err := rand.Read(cek); err != nil {
		return nil, err
	}
	defer clear(cek)
	if _, err := rand.Read(iv); err != nil {
		return nil, err
	}
	block, err := cmsBlock(contentAlg, cek)
	if err != nil {
		return nil, err
	}
	padded := cmsPad(content, block.BlockSize())
	ciphertext := make([]byte, len(padded))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ciphertext, padded)
	clear(padded)
	ivParam, err := asn1.Marshal(iv)
	if err != nil {
		return nil, err
	}

	var infos []asn1.RawValue
	for _, r := range recipients {
		ri := cmsKeyTransRecipientInfo{Version: version}
		ri.RID.FullBytes, err = asn1.Marshal(cmsIssuerAndSerial{Issuer: asn1.RawValue{FullBytes: r.RawIssuer}, Serial: r.SerialNumber})
		if err != nil {
			return nil, fmt.Errorf("%w: CMS recipient certificate: %v", ErrInvalidInput, err)
		}
		switch pub := r.PublicKey.(type) {
		case *ecdsa.PublicKey:
			ri.KeyEncryptionAlgorithm = pkix.AlgorithmIdentifier{Algorithm: cmsOIDSM2Encrypt, Parameters: asn1.NullRawValue}
			ri.EncryptedKey, err = sm2.EncryptASN1(rand.Reader, pub, cek)
		case *rsa.PublicKey:
			params, merr := asn1.Marshal(cmsOAEPParams{
				Hash: cmsSHA256AlgorithmNoNULL,
				MGF:  pkix.AlgorithmIdentifier{Algorithm: cmsOIDMGF1, Parameters: cmsMustMarshal(cmsSHA256AlgorithmNoNULL)},
			})
			if merr != nil {
				return nil, merr
			}
			ri.KeyEncryptionAlgorithm = pkix.AlgorithmIdentifier{Algorithm: cmsOIDRSAOAEP, Parameters: asn1.RawValue{FullBytes: params}}
			ri.EncryptedKey, err = rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, cek, nil)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: CMS key transport: %v", ErrInvalidInput, err)
		}
		enc, err := asn1.Marshal(ri)
		if err != nil {
			return nil, err
		}
		infos = append(infos, asn1.RawValue{FullBytes: enc})
	}
	ed := cmsEnvelopedData{
		Version:        version,
		RecipientInfos: infos,
		EncryptedContentInfo: cmsEncryptedContentInfo{
			ContentType:                dataType,
			ContentEncryptionAlgorithm: pkix.AlgorithmIdentifier{Algorithm: contentAlg, Parameters: asn1.RawValue{FullBytes: ivParam}},
			EncryptedContent:           asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, Bytes: ciphertext},
		},
	}
	inner, err := asn1.Marshal(ed)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(cmsContentInfo{
		ContentType: outerType,
		Content:     asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: inner},
	})
}

func cmsMustMarshal(v any) asn1.RawValue {
	b, err := asn1.Marshal(v)
	if err != nil {
		panic(err) // only called with constant values
	}
	return asn1.RawValue{FullBytes: b}
}

// OpenCMS decrypts an EnvelopedData (DER, BER or PEM) for the recipient
// (cert, key). Every failure, including a malformed input, a certificate that
// is not among the recipients or is not key's, returns ErrDecryption.
func OpenCMS(der []byte, cert *smx509.Certificate, key crypto.Signer) ([]byte, error) {
	eci, cek, err := cmsOpen(der, cert, key)
	if err != nil {
		return nil, err
	}
	defer clear(cek)
	ct, ok := cmsEncryptedContent(eci.EncryptedContent)
	if !ok {
		return nil, ErrDecryption
	}
	iv, ok := cmsIV(eci.ContentEncryptionAlgorithm)
	if !ok {
		return nil, ErrDecryption
	}
	block, err := cmsBlock(eci.ContentEncryptionAlgorithm.Algorithm, cek)
	if err != nil || len(iv) != block.BlockSize() || len(ct) == 0 || len(ct)%block.BlockSize() != 0 {
		return nil, ErrDecryption
	}
	pt := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(pt, ct)
	n, ok := cmsUnpad(pt, block.BlockSize())
	if !ok {
		clear(pt)
		return nil, ErrDecryption
	}
	return pt[:n], nil
}

// OpenCMSKey recovers only the content-encryption key of an EnvelopedData
// for the recipient (cert, key), with the content-encryption algorithm's OID
// (OIDSM4CBC, OIDAES256CBC, ...): the bid-opening case where the portal
// decrypts the bulk itself. Every failure returns ErrDecryption.
func OpenCMSKey(der []byte, cert *smx509.Certificate, key crypto.Signer) (cek []byte, contentAlg asn1.ObjectIdentifier, err error) {
	eci, cek, err := cmsOpen(der, cert, key)
	if err != nil {
		return nil, nil, err
	}
	return cek, append(asn1.ObjectIdentifier(nil), eci.ContentEncryptionAlgorithm.Algorithm...), nil
}

// cmsOpen parses an EnvelopedData, finds cert among its key-transport
// recipients and decrypts the content-encryption key with key. The key's
// length is checked against the content algorithm.
func cmsOpen(in []byte, cert *smx509.Certificate, key crypto.Signer) (*cmsEncryptedContentInfo, []byte, error) {
	if cert == nil || key == nil {
		return nil, nil, ErrDecryption
	}
	if eq, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(cert.PublicKey) {
		return nil, nil, ErrDecryption
	}
	ci, err := cmsDecode(in)
	if err != nil {
		return nil, nil, ErrDecryption
	}
	if !ci.ContentType.Equal(cmsOIDEnvelopedData) && !ci.ContentType.Equal(cmsOIDGMEnvelopedData) {
		return nil, nil, ErrDecryption
	}
	var ed cmsEnvelopedData
	if rest, err := asn1.Unmarshal(ci.Content.Bytes, &ed); err != nil || len(rest) != 0 {
		return nil, nil, ErrDecryption
	}
	keyLen, ok := cmsContentKeyLen(ed.EncryptedContentInfo.ContentEncryptionAlgorithm.Algorithm)
	if !ok {
		return nil, nil, ErrDecryption
	}
	for _, raw := range ed.RecipientInfos {
		if raw.Class != asn1.ClassUniversal || raw.Tag != asn1.TagSequence {
			continue // not a KeyTransRecipientInfo
		}
		var ri cmsKeyTransRecipientInfo
		if rest, err := asn1.Unmarshal(raw.FullBytes, &ri); err != nil || len(rest) != 0 {
			continue
		}
		if !cmsIsRecipient(cert, ri.RID) {
			continue
		}
		cek, err := cmsDecryptKey(key, &ri)
		if err != nil || len(cek) != keyLen {
			clear(cek)
			return nil, nil, ErrDecryption
		}
		return &ed.EncryptedContentInfo, cek, nil
	}
	return nil, nil, ErrDecryption
}

func cmsIsRecipient(cert *smx509.Certificate, rid asn1.RawValue) bool {
	c := cmsFindSigner([]*smx509.Certificate{cert}, rid)
	return c != nil
}

func cmsDecryptKey(key crypto.Signer, ri *cmsKeyTransRecipientInfo) ([]byte, error) {
	alg := ri.KeyEncryptionAlgorithm.Algorithm
	ek := ri.EncryptedKey
	switch pub := key.Public().(type) {
	case *rsa.PublicKey:
		dec, ok := key.(crypto.Decrypter)
		if !ok {
			return nil, ErrDecryption
		}
		switch {
		case alg.Equal(cmsOIDRSA):
			// PKCS#1 v1.5 with an explicit error (no implicit rejection):
			// every decryption is confirmed by the key holder, so the
			// padding-oracle queries of Bleichenbacher's attack are out of
			// reach, and a wrong key must not pass as a random one.
			return dec.Decrypt(rand.Reader, ek, &rsa.PKCS1v15DecryptOptions{})
		case alg.Equal(cmsOIDRSAOAEP):
			opts, ok := cmsParseOAEP(ri.KeyEncryptionAlgorithm.Parameters)
			if !ok {
				return nil, ErrDecryption
			}
			return dec.Decrypt(rand.Reader, ek, opts)
		}
	case *ecdsa.PublicKey:
		if !sm2.IsSM2PublicKey(pub) {
			return nil, ErrDecryption
		}
		// SM2-3 is GM/T 0010's OID; some producers write the SM2 or EC
		// public-key OID, and gmsm writes rsaEncryption when the recipient
		// certificate was not signed with SM2: the key decides.
		if !alg.Equal(cmsOIDSM2Encrypt) && !alg.Equal(cmsOIDSM2) && !alg.Equal(cmsOIDECPublicKey) && !alg.Equal(cmsOIDRSA) {
			return nil, ErrDecryption
		}
		return cmsSM2Decrypt(key, ek)
	}
	return nil, ErrDecryption
}

// cmsSM2Decrypt decrypts an SM2 ciphertext in the ASN.1 form (GM/T 0010), or
// in the plain C1C3C2 or C1C2C3 forms, or CFCA's C1C2C3 without the 0x04
// prefix. SM2's C3 hash makes a wrong guess fail.
func cmsSM2Decrypt(key crypto.Signer, ek []byte) ([]byte, error) {
	var dec crypto.Decrypter
	switch k := key.(type) {
	case *sm2.PrivateKey:
		dec = k
	case *ecdsa.PrivateKey:
		sk, err := new(sm2.PrivateKey).FromECPrivateKey(k)
		if err != nil {
			return nil, ErrDecryption
		}
		dec = sk
	default:
		d, ok := key.(crypto.Decrypter)
		if !ok {
			return nil, ErrDecryption
		}
		dec = d
	}
	if len(ek) == 0 {
		return nil, ErrDecryption
	}
	if pt, err := dec.Decrypt(rand.Reader, ek, nil); err == nil {
		return pt, nil
	}
	c1c2c3 := sm2.NewPlainDecrypterOpts(sm2.C1C2C3)
	if ek[0] == 0x04 {
		if pt, err := dec.Decrypt(rand.Reader, ek, c1c2c3); err == nil {
			return pt, nil
		}
	}
	// CFCA's form drops the 0x04 prefix, so its first byte is X's first
	// byte, which may itself be 0x04 or 0x30: always try it last.
	if pt, err := dec.Decrypt(rand.Reader, append([]byte{0x04}, ek...), c1c2c3); err == nil {
		return pt, nil
	}
	return nil, ErrDecryption
}

func cmsParseOAEP(params asn1.RawValue) (*rsa.OAEPOptions, bool) {
	var p cmsOAEPParams
	if len(params.FullBytes) > 0 && !bytes.Equal(params.FullBytes, asn1.NullBytes) {
		if rest, err := asn1.Unmarshal(params.FullBytes, &p); err != nil || len(rest) != 0 {
			return nil, false
		}
	}
	opts := &rsa.OAEPOptions{Hash: crypto.SHA1, MGFHash: crypto.SHA1}
	if len(p.Hash.Algorithm) > 0 {
		h, ok := cmsOAEPHash(p.Hash.Algorithm)
		if !ok {
			return nil, false
		}
		opts.Hash = h
	}
	if len(p.MGF.Algorithm) > 0 {
		if !p.MGF.Algorithm.Equal(cmsOIDMGF1) {
			return nil, false
		}
		var mgfHash pkix.AlgorithmIdentifier
		if rest, err := asn1.Unmarshal(p.MGF.Parameters.FullBytes, &mgfHash); err != nil || len(rest) != 0 {
			return nil, false
		}
		h, ok := cmsOAEPHash(mgfHash.Algorithm)
		if !ok {
			return nil, false
		}
		opts.MGFHash = h
	}
	if len(p.PSource.Algorithm) > 0 {
		if !p.PSource.Algorithm.Equal(cmsOIDPSpecified) {
			return nil, false
		}
		var label []byte
		if rest, err := asn1.Unmarshal(p.PSource.Parameters.FullBytes, &label); err != nil || len(rest) != 0 {
			return nil, false
		}
		opts.Label = label
	}
	return opts, true
}

func cmsOAEPHash(oid asn1.ObjectIdentifier) (crypto.Hash, bool) {
	if oid.Equal(cmsOIDSHA1) {
		return crypto.SHA1, true
	}
	if _, h, ok := cmsHash(oid); ok && h != 0 {
		return h, true
	}
	return 0, false
}

func cmsContentKeyLen(oid asn1.ObjectIdentifier) (int, bool) {
	switch {
	case oid.Equal(OIDSM4CBC), oid.Equal(cmsOIDSM4), oid.Equal(cmsOIDAES128CBC):
		return 16, true
	case oid.Equal(cmsOIDAES192CBC):
		return 24, true
	case oid.Equal(OIDAES256CBC):
		return 32, true
	}
	return 0, false
}

func cmsBlock(oid asn1.ObjectIdentifier, key []byte) (cipher.Block, error) {
	n, ok := cmsContentKeyLen(oid)
	if !ok || len(key) != n {
		return nil, ErrDecryption
	}
	if oid.Equal(OIDSM4CBC) || oid.Equal(cmsOIDSM4) {
		return sm4.NewCipher(key)
	}
	return aes.NewCipher(key)
}

func cmsIV(alg pkix.AlgorithmIdentifier) ([]byte, bool) {
	var iv []byte
	rest, err := asn1.Unmarshal(alg.Parameters.FullBytes, &iv)
	return iv, err == nil && len(rest) == 0
}

// cmsEncryptedContent returns the [0] IMPLICIT OCTET STRING's value; BER
// producers may have split it into a constructed string of OCTET STRINGs.
func cmsEncryptedContent(rv asn1.RawValue) ([]byte, bool) {
	if len(rv.FullBytes) == 0 {
		return nil, false // content not carried
	}
	if !rv.IsCompound {
		return rv.Bytes, true
	}
	var out []byte
	for b := rv.Bytes; len(b) > 0; {
		var part []byte
		var err error
		if b, err = asn1.Unmarshal(b, &part); err != nil {
			return nil, false
		}
		out = append(out, part...)
	}
	return out, true
}

func cmsPad(b []byte, blockSize int) []byte {
	n := blockSize - len(b)%blockSize
	out := make([]byte, len(b)+n)
	copy(out, b)
	for i := len(b); i < len(out); i++ {
		out[i] = byte(n)
	}
	return out
}

// cmsUnpad checks PKCS#7 padding in constant time and returns the unpadded
// length.
func cmsUnpad(b []byte, blockSize int) (int, bool) {
	if len(b) == 0 || len(b)%blockSize != 0 {
		return 0, false
	}
	n := int(b[len(b)-1])
	good := subtle.ConstantTimeLessOrEq(1, n) & subtle.ConstantTimeLessOrEq(n, blockSize)
	for i := 1; i <= blockSize; i++ {
		inPad := subtle.ConstantTimeLessOrEq(i, n)
		match := subtle.ConstantTimeByteEq(b[len(b)-i], byte(n))
		good &= subtle.ConstantTimeSelect(inPad, match, 1)
	}
	if good != 1 {
		return 0, false
	}
	return len(b) - n, true
}

// ---------------------------------------------------------------------------
// BER to DER

// cmsMaxNesting bounds how deep the BER normaliser follows constructed
// encodings (real CMS nests about a dozen levels).
const cmsMaxNesting = 48

var errCMSEncoding = errors.New("bad BER/DER encoding")

type cmsTLV struct {
	raw     []byte // the element as received
	ident   []byte // identifier octets
	body    []byte // contents, normalised
	changed bool   // the DER form differs from raw
}

func (n *cmsTLV) der() []byte {
	if !n.changed {
		return n.raw
	}
	out := make([]byte, 0, len(n.ident)+6+len(n.body))
	out = append(out, n.ident...)
	out = cmsAppendLength(out, len(n.body))
	return append(out, n.body...)
}

func cmsAppendLength(out []byte, n int) []byte {
	if n < 0x80 {
		return append(out, byte(n))
	}
	var tmp [8]byte
	i := len(tmp)
	for v := n; v > 0; v >>= 8 {
		i--
		tmp[i] = byte(v)
	}
	out = append(out, 0x80|byte(len(tmp)-i))
	return append(out, tmp[i:]...)
}

// cmsBERToDER re-encodes one BER element (with nothing after it) with
// definite, minimal lengths and constructed OCTET STRINGs joined into one,
// which is what encoding/asn1 can read. DER input comes back unchanged.
func cmsBERToDER(in []byte) ([]byte, error) {
	n, rest, err := cmsReadBER(in, 0)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, errCMSEncoding
	}
	return n.der(), nil
}

func cmsReadBER(in []byte, depth int) (cmsTLV, []byte, error) {
	var n cmsTLV
	if depth > cmsMaxNesting || len(in) < 2 {
		return n, nil, errCMSEncoding
	}
	class, compound, tag := in[0]>>6, in[0]&0x20 != 0, int(in[0]&0x1f)
	i := 1
	if tag == 0x1f { // high tag number form
		tag = 0
		for {
			if i >= len(in) || i > 4 {
				return n, nil, errCMSEncoding
			}
			c := in[i]
			i++
			tag = tag<<7 | int(c&0x7f)
			if c&0x80 == 0 {
				break
			}
		}
	}
	n.ident = in[:i:i]
	if i >= len(in) {
		return n, nil, errCMSEncoding
	}
	lb := in[i]
	i++
	indefinite := lb == 0x80
	length := 0
	switch {
	case lb < 0x80:
		length = int(lb)
	case indefinite:
		if !compound {
			return n, nil, errCMSEncoding
		}
		n.changed = true
	default:
		nb := int(lb & 0x7f)
		if nb > 4 || i+nb > len(in) {
			return n, nil, errCMSEncoding
		}
		for _, c := range in[i : i+nb] {
			length = length<<8 | int(c)
		}
		i += nb
		if length < 0x80 || in[i-nb] == 0 { // not minimal
			n.changed = true
		}
	}
	var body, rest []byte
	if !indefinite {
		if length > len(in)-i {
			return n, nil, errCMSEncoding
		}
		body, rest = in[i:i+length], in[i+length:]
		n.raw = in[: i+length : i+length]
		if !compound {
			n.body = body
			return n, rest, nil
		}
	} else {
		rest = in[i:]
	}

	isOctetString := class == 0 && tag == asn1.TagOctetString
	var children []cmsTLV
	for {
		var src *[]byte
		if indefinite {
			if len(rest) >= 2 && rest[0] == 0 && rest[1] == 0 {
				rest = rest[2:]
				break
			}
			src = &rest
		} else {
			if len(body) == 0 {
				break
			}
			src = &body
		}
		c, r, err := cmsReadBER(*src, depth+1)
		if err != nil {
			return n, nil, err
		}
		*src = r
		if c.changed {
			n.changed = true
		}
		children = append(children, c)
	}
	if isOctetString {
		// A constructed OCTET STRING: its parts are OCTET STRINGs, joined.
		n.changed = true
		n.ident = []byte{asn1.TagOctetString}
		for _, c := range children {
			if len(c.ident) != 1 || c.ident[0] != asn1.TagOctetString {
				return n, nil, errCMSEncoding
			}
			n.body = append(n.body, c.body...)
		}
		if n.body == nil {
			n.body = []byte{}
		}
		return n, rest, nil
	}
	if !n.changed {
		n.body = in[i : i+length]
		return n, rest, nil
	}
	for _, c := range children {
		n.body = append(n.body, c.der()...)
	}
	return n, rest, nil
}
