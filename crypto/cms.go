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
// IV), SM2 key transport named 1.2.156.10197.1.301.2 (GmSSL 3), and the raw
// C1C3C2 and C1C2C3 SM2 ciphertexts with or without the 0x04 prefix (CFCA).
// Verification also accepts GmSSL 3's SignedData: signature algorithm
// SM2-with-SM3 1.2.156.10197.1.501, no signed attributes, and an SM2
// signature over SM3 of the content without Z (see cmsCheckSignature). BER input (indefinite lengths, constructed strings) is
// normalised to DER before parsing.
//
// This file holds the OIDs and what every part shares (ContentInfo
// decoding, CMSKind); signing is in cms_sign.go, verification in
// cms_verify.go, the envelope in cms_envelope.go and the BER normaliser in
// cms_ber.go.

import (
	"bytes"
	_ "crypto/sha1"   // OAEP with SHA-1, the default of RFC 3560
	_ "crypto/sha512" // SHA-384/512 digests and OAEP hashes
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"
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
	cmsOIDSM2KeyExchange     = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301, 2}
	cmsOIDSM2WithSM3         = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 501}
	cmsOIDECPublicKey        = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	cmsOIDSM4                = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 104}
	cmsOIDAES128CBC          = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	cmsOIDAES192CBC          = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	cmsSHA256AlgorithmNoNULL = pkix.AlgorithmIdentifier{Algorithm: cmsOIDSHA256}
)

type cmsContentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,tag:0"`
}

type cmsIssuerAndSerial struct {
	Issuer asn1.RawValue
	Serial *big.Int
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
