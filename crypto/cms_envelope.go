package crypto

// CMS EnvelopedData: sealing and opening (see cms.go for the algorithms and
// OIDs).

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm4"
	"github.com/emmansun/gmsm/smx509"
)

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
		if !cmsSM2KeyTransport(alg) {
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
	if ek[0] == 0x30 {
		if pt, err := dec.Decrypt(rand.Reader, ek, sm2.ASN1DecrypterOpts); err == nil {
			return pt, nil
		}
	}
	// The raw forms, C1 prefixed or not (CFCA and sm-crypto drop the 04);
	// the reading is decided by the curve (SM2RawReadings), the order by
	// the C3 hash.
	for _, ct := range SM2RawReadings(ek) {
		for _, opts := range []*sm2.DecrypterOpts{sm2.NewPlainDecrypterOpts(sm2.C1C3C2), sm2.NewPlainDecrypterOpts(sm2.C1C2C3)} {
			if pt, err := dec.Decrypt(rand.Reader, ct, opts); err == nil {
				return pt, nil
			}
		}
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

// cmsSM2KeyTransport reports whether alg may name SM2 key transport:
// SM2-3 (1.2.156.10197.1.301.3, GM/T 0010), SM2-2 (…301.2, what GmSSL 3
// writes), the SM2 or EC public-key OIDs some producers write, and
// rsaEncryption, which gmsm writes when the recipient certificate was not
// signed with SM2: the recipient's key decides.
func cmsSM2KeyTransport(alg asn1.ObjectIdentifier) bool {
	return alg.Equal(cmsOIDSM2Encrypt) || alg.Equal(cmsOIDSM2KeyExchange) || alg.Equal(cmsOIDSM2) ||
		alg.Equal(cmsOIDECPublicKey) || alg.Equal(cmsOIDRSA)
}

// CheckEnvelope reports whether der (DER, BER or PEM) has the shape of an
// EnvelopedData this package can open, without a key: the PKCS#7 or GM/T
// 0010 content type, a known content-encryption algorithm with an IV of
// its block size, encrypted content of whole blocks, and at least one
// key-transport recipient (by issuer and serial or by subject key id)
// whose key-encryption algorithm is RSA, RSA-OAEP or an SM2 one. Anything
// else is ErrMalformed. Passing does not mean the envelope opens.
func CheckEnvelope(der []byte) error {
	ci, err := cmsDecode(der)
	if err != nil {
		return err
	}
	if !ci.ContentType.Equal(cmsOIDEnvelopedData) && !ci.ContentType.Equal(cmsOIDGMEnvelopedData) {
		return cmsMalformed("is not an EnvelopedData")
	}
	var ed cmsEnvelopedData
	if rest, err := asn1.Unmarshal(ci.Content.Bytes, &ed); err != nil || len(rest) != 0 {
		return cmsMalformed("EnvelopedData cannot be parsed")
	}
	eci := ed.EncryptedContentInfo
	if _, ok := cmsContentKeyLen(eci.ContentEncryptionAlgorithm.Algorithm); !ok {
		return cmsMalformed("content encryption algorithm " + eci.ContentEncryptionAlgorithm.Algorithm.String() + " is not supported")
	}
	iv, ok := cmsIV(eci.ContentEncryptionAlgorithm)
	if !ok || len(iv) != 16 {
		return cmsMalformed("content encryption IV is missing or not 16 bytes")
	}
	ct, ok := cmsEncryptedContent(eci.EncryptedContent)
	if !ok || len(ct) == 0 || len(ct)%16 != 0 {
		return cmsMalformed("encrypted content is missing or not whole blocks")
	}
	for _, raw := range ed.RecipientInfos {
		if raw.Class != asn1.ClassUniversal || raw.Tag != asn1.TagSequence {
			continue
		}
		var ri cmsKeyTransRecipientInfo
		if rest, err := asn1.Unmarshal(raw.FullBytes, &ri); err != nil || len(rest) != 0 || len(ri.EncryptedKey) == 0 {
			continue
		}
		sidOK := ri.RID.Class == asn1.ClassUniversal && ri.RID.Tag == asn1.TagSequence ||
			ri.RID.Class == asn1.ClassContextSpecific && ri.RID.Tag == 0
		alg := ri.KeyEncryptionAlgorithm.Algorithm
		if sidOK && (cmsSM2KeyTransport(alg) || alg.Equal(cmsOIDRSAOAEP)) {
			return nil
		}
	}
	return cmsMalformed("no key-transport recipient with a supported algorithm")
}

// CMSAddressedTo reports whether the EnvelopedData der (DER, BER or PEM)
// has a key-transport recipient that names cert, by issuer and serial
// number or by subject key identifier. It decrypts nothing; a malformed
// input names no one (false).
func CMSAddressedTo(der []byte, cert *smx509.Certificate) bool {
	if cert == nil {
		return false
	}
	ci, err := cmsDecode(der)
	if err != nil || (!ci.ContentType.Equal(cmsOIDEnvelopedData) && !ci.ContentType.Equal(cmsOIDGMEnvelopedData)) {
		return false
	}
	var ed cmsEnvelopedData
	if rest, err := asn1.Unmarshal(ci.Content.Bytes, &ed); err != nil || len(rest) != 0 {
		return false
	}
	for _, raw := range ed.RecipientInfos {
		if raw.Class != asn1.ClassUniversal || raw.Tag != asn1.TagSequence {
			continue
		}
		var ri cmsKeyTransRecipientInfo
		if rest, err := asn1.Unmarshal(raw.FullBytes, &ri); err != nil || len(rest) != 0 {
			continue
		}
		if cmsIsRecipient(cert, ri.RID) {
			return true
		}
	}
	return false
}
