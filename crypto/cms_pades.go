package crypto

// CMS SignedData for PDF signatures (PAdES baseline B-B, ETSI EN 319 142-1):
// detached, with the signed attributes contentType, messageDigest and
// signing-certificate-v2 (RFC 5035), and WITHOUT signing-time (PAdES puts the
// claimed time in the signature dictionary's /M). Built here on
// encoding/asn1 because gmsm's pkcs7 always adds signing-time and cannot add
// the ESS attribute.

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"sort"

	"github.com/emmansun/gmsm/smx509"
)

// OIDSigningCertificateV2 is the ESS signing-certificate-v2 attribute
// (1.2.840.113549.1.9.16.2.47) that SignCMSPAdES adds.
var OIDSigningCertificateV2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}

type padesSignerInfo struct {
	Version            int
	SID                asn1.RawValue
	DigestAlgorithm    pkix.AlgorithmIdentifier
	SignedAttrs        asn1.RawValue `asn1:"optional,tag:0"`
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte
}

type padesSignedData struct {
	Version          int
	DigestAlgorithms asn1.RawValue // SET OF AlgorithmIdentifier
	EncapContentInfo struct {
		EContentType asn1.ObjectIdentifier
	}
	Certificates asn1.RawValue `asn1:"optional,tag:0"`
	SignerInfos  asn1.RawValue // SET OF SignerInfo
}

type padesContentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue // [0] EXPLICIT, built by hand
}

type padesIssuerSerial struct {
	Issuer asn1.RawValue // GeneralNames
	Serial *big.Int
}

type padesESSCertIDv2 struct {
	HashAlgorithm pkix.AlgorithmIdentifier `asn1:"optional"` // absent = SHA-256 (the DEFAULT)
	CertHash      []byte
	IssuerSerial  padesIssuerSerial
}

type padesSigningCertificateV2 struct {
	Certs []padesESSCertIDv2
}

// SignCMSPAdES makes the detached CMS SignedData a PDF signature dictionary
// with SubFilter ETSI.CAdES.detached carries. digest is the digest of the
// signed byte ranges: SM3 for an SM2 key (GM/T 0010 OIDs, SM2 signature with
// the default user id), SHA-256 for an RSA key (PKCS#1 v1.5). cert and the
// chain certificates are included. The result verifies with VerifyCMSDigest
// and VerifyCMS (given the signed bytes).
func SignCMSPAdES(key crypto.Signer, cert *smx509.Certificate, chain []*smx509.Certificate, digest []byte) ([]byte, error) {
	isSM2, err := cmsSignerFamily(key, cert, chain)
	if err != nil {
		return nil, err
	}
	if len(digest) != sha256.Size {
		return nil, fmt.Errorf("%w: CMS digest must be 32 bytes, got %d", ErrInvalidInput, len(digest))
	}
	digestAlg := pkix.AlgorithmIdentifier{Algorithm: cmsOIDSHA256, Parameters: asn1.NullRawValue}
	sigAlg := pkix.AlgorithmIdentifier{Algorithm: cmsOIDSHA256WithRSA, Parameters: asn1.NullRawValue}
	signedDataType, dataType := cmsOIDSignedData, cmsOIDData
	certID := padesESSCertIDv2{}
	if isSM2 {
		digestAlg = pkix.AlgorithmIdentifier{Algorithm: cmsOIDSM3}
		sigAlg = pkix.AlgorithmIdentifier{Algorithm: cmsOIDSM2Sign}
		signedDataType, dataType = cmsOIDGMSignedData, cmsOIDGMData
		certID.HashAlgorithm = pkix.AlgorithmIdentifier{Algorithm: cmsOIDSM3}
		certID.CertHash = SM3(cert.Raw)
	} else {
		h := sha256.Sum256(cert.Raw)
		certID.CertHash = h[:]
	}
	// IssuerSerial: the issuer as a directoryName [4] GeneralName.
	dirName, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: cert.RawIssuer})
	if err != nil {
		return nil, fmt.Errorf("crypto: CMS sign: %w", err)
	}
	certID.IssuerSerial = padesIssuerSerial{
		Issuer: asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: dirName},
		Serial: cert.SerialNumber,
	}

	attrs := [][]byte{
		padesAttr(cmsOIDAttrContentType, dataType),
		padesAttr(cmsOIDAttrMessageDgst, bytes.Clone(digest)),
		padesAttr(OIDSigningCertificateV2, padesSigningCertificateV2{Certs: []padesESSCertIDv2{certID}}),
	}
	for _, a := range attrs {
		if a == nil {
			return nil, fmt.Errorf("crypto: CMS sign: cannot encode a signed attribute")
		}
	}
	sort.Slice(attrs, func(i, j int) bool { return bytes.Compare(attrs[i], attrs[j]) < 0 })
	attrContents := bytes.Join(attrs, nil)
	toSign, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: attrContents})
	if err != nil {
		return nil, fmt.Errorf("crypto: CMS sign: %w", err)
	}
	sig, err := Sign(key, toSign, nil)
	if err != nil {
		return nil, err
	}

	sid, err := asn1.Marshal(cmsIssuerAndSerial{Issuer: asn1.RawValue{FullBytes: cert.RawIssuer}, Serial: cert.SerialNumber})
	if err != nil {
		return nil, fmt.Errorf("crypto: CMS sign: %w", err)
	}
	si := padesSignerInfo{
		Version:            1,
		SID:                asn1.RawValue{FullBytes: sid},
		DigestAlgorithm:    digestAlg,
		SignedAttrs:        asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: attrContents},
		SignatureAlgorithm: sigAlg,
		Signature:          sig,
	}
	siDER, err := asn1.Marshal(si)
	if err != nil {
		return nil, fmt.Errorf("crypto: CMS sign: %w", err)
	}
	algDER, err := asn1.Marshal(digestAlg)
	if err != nil {
		return nil, fmt.Errorf("crypto: CMS sign: %w", err)
	}
	var certBytes []byte
	seen := map[string]bool{}
	for _, c := range append([]*smx509.Certificate{cert}, chain...) {
		if seen[string(c.Raw)] {
			continue
		}
		seen[string(c.Raw)] = true
		certBytes = append(certBytes, c.Raw...)
	}
	sd := padesSignedData{
		Version:          1,
		DigestAlgorithms: asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: algDER},
		Certificates:     asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: certBytes},
		SignerInfos:      asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: siDER},
	}
	sd.EncapContentInfo.EContentType = dataType
	sdDER, err := asn1.Marshal(sd)
	if err != nil {
		return nil, fmt.Errorf("crypto: CMS sign: %w", err)
	}
	out, err := asn1.Marshal(padesContentInfo{ContentType: signedDataType, Content: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: sdDER}})
	if err != nil {
		return nil, fmt.Errorf("crypto: CMS sign: %w", err)
	}
	return out, nil
}

// padesAttr encodes Attribute ::= SEQUENCE { type, SET { value } }, or nil.
func padesAttr(oid asn1.ObjectIdentifier, value any) []byte {
	v, err := asn1.Marshal(value)
	if err != nil {
		return nil
	}
	a, err := asn1.Marshal(struct {
		Type   asn1.ObjectIdentifier
		Values asn1.RawValue
	}{oid, asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: v}})
	if err != nil {
		return nil
	}
	return a
}

// CMSSigningCertificateV2 tells whether the first signer of a SignedData
// carries a signing-certificate-v2 attribute whose certificate hash is that
// of cert (SHA-256, or the hash algorithm the attribute names: SM3 or
// SHA-256). It does not verify the signature (VerifyCMS does).
func CMSSigningCertificateV2(der []byte, cert *smx509.Certificate) (bool, error) {
	p, err := cmsParseSigned(der)
	if err != nil {
		return false, err
	}
	if len(p.signers) == 0 || cert == nil {
		return false, nil
	}
	b := p.signers[0].SignedAttrs.Bytes
	for len(b) > 0 {
		var a cmsAttribute
		if b, err = asn1.Unmarshal(b, &a); err != nil {
			return false, cmsMalformed("signed attributes cannot be parsed")
		}
		if !a.Type.Equal(OIDSigningCertificateV2) {
			continue
		}
		var sc padesSigningCertificateV2
		if rest, err := asn1.Unmarshal(a.Values.Bytes, &sc); err != nil || len(rest) != 0 || len(sc.Certs) == 0 {
			return false, cmsMalformed("signing-certificate-v2 cannot be parsed")
		}
		id := sc.Certs[0]
		var want []byte
		switch alg := id.HashAlgorithm.Algorithm; {
		case len(alg) == 0 || alg.Equal(cmsOIDSHA256):
			h := sha256.Sum256(cert.Raw)
			want = h[:]
		case alg.Equal(cmsOIDSM3):
			want = SM3(cert.Raw)
		default:
			return false, nil
		}
		return bytes.Equal(want, id.CertHash), nil
	}
	return false, nil
}
