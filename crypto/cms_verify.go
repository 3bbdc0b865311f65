package crypto

// CMS SignedData: verification (see cms.go for the algorithms and OIDs).

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/subtle"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"hash"
	"sort"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"
)

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
		if content == nil && stdHash == 0 && !si.SignatureAlgorithm.Algorithm.Equal(cmsOIDSM2WithSM3) {
			// SM2 signs SM3(Z || message); the content's digest alone is
			// not enough (except for GmSSL's signatures without Z, below).
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
		if msg != nil && sm2.VerifyASN1WithSM2(pub, nil, msg, si.Signature) {
			return true
		}
		// GmSSL 3 names its signatures SM2-with-SM3 (…1.501) and signs
		// SM3(message) without Z: accepted under that OID only. digest,
		// when set, is SM3 of the content (no signed attributes).
		if !alg.Equal(cmsOIDSM2WithSM3) {
			return false
		}
		e := digest
		if msg != nil {
			sum := sm3.Sum(msg)
			e = sum[:]
		}
		return len(e) == sm3.Size && sm2.VerifyASN1(pub, e, si.Signature)
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
