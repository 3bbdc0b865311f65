package seal

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/asn1"
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

// Kind is what a seal is for.
type Kind string

// The seal kinds.
const (
	KindOfficial Kind = "official"  // 公章
	KindContract Kind = "contract"  // 合同章
	KindFinance  Kind = "finance"   // 财务章
	KindLegalRep Kind = "legal_rep" // 法人章
	KindPersonal Kind = "personal"  // 个人签名
)

// Kinds lists every kind, in the order above.
var Kinds = []Kind{KindOfficial, KindContract, KindFinance, KindLegalRep, KindPersonal}

// Valid tells whether k is one of Kinds.
func (k Kind) Valid() bool {
	for _, v := range Kinds {
		if k == v {
			return true
		}
	}
	return false
}

// sesType is GB/T 38540's seal type: 1 an organisation's seal, 2 a
// person's.
func (k Kind) sesType() int {
	if k == KindLegalRep || k == KindPersonal {
		return 2
	}
	return 1
}

// Limits on a seal's fields.
const (
	MinSizeMM   = 5.0
	MaxSizeMM   = 100.0
	MaxNameLen  = 128 // bytes of UTF-8
	MaxSealID   = 64  // characters of the esID
	SESVersion  = 4   // GB/T 38540-2020
	SESHeaderID = "ES"
)

// GB/T 38540 and algorithm object identifiers.
var (
	oidSM2WithSM3    = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 501}
	oidSHA256WithRSA = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	// oidKindExt names the extension that carries the Kind string: a UUID
	// OID (ITU-T X.667) made for ukeygate,
	// 2.25.323993781329028234767551182469892276391.
	oidKindExt = uuidOID("323993781329028234767551182469892276391")
)

// uuidOID returns the DER of OID 2.25.<n> (n is too large for
// asn1.ObjectIdentifier's int arcs).
func uuidOID(decimal string) asn1.RawValue {
	n, ok := new(big.Int).SetString(decimal, 10)
	if !ok {
		panic("seal: bad UUID OID")
	}
	var arc []byte
	for n.Sign() > 0 {
		b := byte(new(big.Int).And(n, big.NewInt(0x7f)).Int64())
		if len(arc) > 0 {
			b |= 0x80
		}
		arc = append([]byte{b}, arc...)
		n.Rsh(n, 7)
	}
	content := append([]byte{2*40 + 25}, arc...)
	der, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagOID, Bytes: content})
	var rv asn1.RawValue
	if _, err := asn1.Unmarshal(der, &rv); err != nil {
		panic("seal: bad UUID OID")
	}
	return rv
}

// ASN.1 of GB/T 38540-2020 (version 4).
type sesHeader struct {
	ID      string `asn1:"ia5"`
	Version int
	VID     string `asn1:"ia5"`
}

type sesPropertyInfo struct {
	Type         int
	Name         string `asn1:"utf8"`
	CertListType int
	CertList     [][]byte  // CertInfoList: SEQUENCE OF OCTET STRING (certListType 1)
	CreateDate   time.Time `asn1:"generalized"`
	ValidStart   time.Time `asn1:"generalized"`
	ValidEnd     time.Time `asn1:"generalized"`
}

type sesPictureInfo struct {
	Type   string `asn1:"ia5"`
	Data   []byte
	Width  int // millimetres
	Height int
}

type sesExtData struct {
	ExtnID    asn1.RawValue
	Critical  bool `asn1:"optional"`
	ExtnValue []byte
}

type sesSealInfo struct {
	Header   sesHeader
	EsID     string `asn1:"ia5"`
	Property sesPropertyInfo
	Picture  sesPictureInfo
	ExtDatas []sesExtData `asn1:"optional"`
}

type sesSeal struct {
	ESealInfo   asn1.RawValue // SES_SealInfo, kept as received: the signature covers its DER
	Cert        []byte        // the issuer's certificate (制章人证书)
	SignAlgID   asn1.ObjectIdentifier
	SignedValue asn1.BitString
}

// Spec is what a seal is made from.
type Spec struct {
	ID        string    // esID: the seal's unique id (IA5, at most MaxSealID characters)
	Name      string    // e.g. "某某有限公司 公章"
	Kind      Kind      // what it is for
	Image     *Image    // checked with CheckPNG
	WidthMM   float64   // printed size
	HeightMM  float64   //
	Created   time.Time // zero: now
	NotBefore time.Time // validity
	NotAfter  time.Time //
	// SignerCerts are the DER certificates of those who may seal with it
	// (GB/T 38540 certListType 1); at least one.
	SignerCerts [][]byte
	Vendor      string // header vid; empty: "ukeygate"
}

// Validate names exactly what is wrong with s; the error is ErrBadSeal or
// ErrBadImage.
func (s *Spec) Validate() error {
	switch {
	case s.ID == "" || len(s.ID) > MaxSealID || !isIA5(s.ID):
		return fmt.Errorf("%w: id must be 1..%d ASCII characters", ErrBadSeal, MaxSealID)
	case strings.TrimSpace(s.Name) == "" || len(s.Name) > MaxNameLen || !utf8.ValidString(s.Name):
		return fmt.Errorf("%w: name must be 1..%d bytes of UTF-8", ErrBadSeal, MaxNameLen)
	case !s.Kind.Valid():
		return fmt.Errorf("%w: kind %q is not one of official, contract, finance, legal_rep, personal", ErrBadSeal, s.Kind)
	case s.Image == nil:
		return fmt.Errorf("%w: no image", ErrBadImage)
	case !sizeOK(s.WidthMM) || !sizeOK(s.HeightMM):
		return fmt.Errorf("%w: width_mm and height_mm must be %g..%g", ErrBadSeal, MinSizeMM, MaxSizeMM)
	case s.NotBefore.IsZero() || s.NotAfter.IsZero() || !s.NotAfter.After(s.NotBefore):
		return fmt.Errorf("%w: validity must have a start before its end", ErrBadSeal)
	case len(s.SignerCerts) == 0:
		return fmt.Errorf("%w: no signer certificate", ErrBadSeal)
	case s.Vendor != "" && !isIA5(s.Vendor):
		return fmt.Errorf("%w: vendor must be ASCII", ErrBadSeal)
	}
	for _, c := range s.SignerCerts {
		if _, err := gmcrypto.ParseCertificate(c); err != nil {
			return fmt.Errorf("%w: a signer certificate cannot be parsed", ErrBadSeal)
		}
	}
	return nil
}

func sizeOK(mm float64) bool { return !math.IsNaN(mm) && mm >= MinSizeMM && mm <= MaxSizeMM }

func isIA5(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// Make builds the GB/T 38540 SES_Seal for s, signed by the issuer key and
// its certificate (SM2 with SM3 or RSA with SHA-256 over the DER of
// SES_SealInfo), and returns its DER.
func Make(s *Spec, issuerKey crypto.Signer, issuerCert *smx509.Certificate) ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if issuerKey == nil || issuerCert == nil {
		return nil, fmt.Errorf("%w: no issuer key or certificate", ErrBadSeal)
	}
	alg, err := signAlg(issuerCert.PublicKey)
	if err != nil {
		return nil, err
	}
	created := s.Created
	if created.IsZero() {
		created = time.Now()
	}
	vendor := s.Vendor
	if vendor == "" {
		vendor = "ukeygate"
	}
	info := sesSealInfo{
		Header: sesHeader{ID: SESHeaderID, Version: SESVersion, VID: vendor},
		EsID:   s.ID,
		Property: sesPropertyInfo{
			Type:         s.Kind.sesType(),
			Name:         s.Name,
			CertListType: 1,
			CertList:     s.SignerCerts,
			CreateDate:   created.UTC().Truncate(time.Second),
			ValidStart:   s.NotBefore.UTC().Truncate(time.Second),
			ValidEnd:     s.NotAfter.UTC().Truncate(time.Second),
		},
		Picture: sesPictureInfo{
			Type: "png", Data: s.Image.PNG,
			Width: int(math.Round(s.WidthMM)), Height: int(math.Round(s.HeightMM)),
		},
		ExtDatas: []sesExtData{
			{ExtnID: oidKindExt, ExtnValue: []byte(s.Kind)},
			{ExtnID: oidSizeExt, ExtnValue: []byte(fmt.Sprintf("%g,%g", s.WidthMM, s.HeightMM))},
		},
	}
	infoDER, err := asn1.Marshal(info)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot encode: %v", ErrBadSeal, err)
	}
	sig, err := gmcrypto.Sign(issuerKey, infoDER, nil)
	if err != nil {
		return nil, fmt.Errorf("seal: issuer signature: %w", err)
	}
	der, err := asn1.Marshal(sesSeal{
		ESealInfo:   asn1.RawValue{FullBytes: infoDER},
		Cert:        issuerCert.Raw,
		SignAlgID:   alg,
		SignedValue: asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: cannot encode: %v", ErrBadSeal, err)
	}
	return der, nil
}

// oidSizeExt carries the exact size in millimetres ("w,h"), since
// SES_ESPictrueInfo holds whole millimetres only: 2.25.<UUID>.
var oidSizeExt = uuidOID("93312839580146925736421407203011418473")

func signAlg(pub crypto.PublicKey) (asn1.ObjectIdentifier, error) {
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		if sm2.IsSM2PublicKey(p) {
			return oidSM2WithSM3, nil
		}
	case *rsa.PublicKey:
		return oidSHA256WithRSA, nil
	}
	return nil, fmt.Errorf("%w: issuer key must be SM2 or RSA", ErrBadSeal)
}

// SES is a parsed SES_Seal.
type SES struct {
	DER         []byte
	ID          string
	Name        string
	Kind        Kind // from the kind extension; "" if absent
	Type        int  // GB/T 38540 type: 1 organisation, 2 person
	Vendor      string
	Created     time.Time
	NotBefore   time.Time
	NotAfter    time.Time
	PNG         []byte
	WidthMM     float64
	HeightMM    float64
	SignerCerts [][]byte
	Issuer      *smx509.Certificate

	info      []byte
	signAlgID asn1.ObjectIdentifier
	signature []byte
}

// Parse reads an SES_Seal (DER, version 4) without verifying it; a
// malformed one is ErrBadSeal.
func Parse(der []byte) (*SES, error) {
	var s sesSeal
	rest, err := asn1.Unmarshal(der, &s)
	if err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("%w: SES_Seal cannot be parsed", ErrBadSeal)
	}
	var info sesSealInfo
	if rest, err := asn1.Unmarshal(s.ESealInfo.FullBytes, &info); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("%w: SES_SealInfo cannot be parsed", ErrBadSeal)
	}
	if info.Header.ID != SESHeaderID || info.Header.Version != SESVersion {
		return nil, fmt.Errorf("%w: header %q version %d, want %q version %d", ErrBadSeal, info.Header.ID, info.Header.Version, SESHeaderID, SESVersion)
	}
	if s.SignedValue.BitLength%8 != 0 {
		return nil, fmt.Errorf("%w: signature is not whole bytes", ErrBadSeal)
	}
	issuer, err := gmcrypto.ParseCertificate(s.Cert)
	if err != nil {
		return nil, fmt.Errorf("%w: issuer certificate cannot be parsed", ErrBadSeal)
	}
	out := &SES{
		DER: bytes.Clone(der), ID: info.EsID, Name: info.Property.Name, Type: info.Property.Type,
		Vendor: info.Header.VID, Created: info.Property.CreateDate,
		NotBefore: info.Property.ValidStart, NotAfter: info.Property.ValidEnd,
		PNG: info.Picture.Data, WidthMM: float64(info.Picture.Width), HeightMM: float64(info.Picture.Height),
		SignerCerts: info.Property.CertList, Issuer: issuer,
		info: s.ESealInfo.FullBytes, signAlgID: s.SignAlgID, signature: s.SignedValue.Bytes,
	}
	for _, e := range info.ExtDatas {
		switch {
		case bytes.Equal(e.ExtnID.FullBytes, oidKindExt.FullBytes):
			out.Kind = Kind(e.ExtnValue)
		case bytes.Equal(e.ExtnID.FullBytes, oidSizeExt.FullBytes):
			var w, h float64
			if n, err := fmt.Sscanf(string(e.ExtnValue), "%g,%g", &w, &h); err == nil && n == 2 && sizeOK(w) && sizeOK(h) {
				out.WidthMM, out.HeightMM = w, h
			}
		}
	}
	return out, nil
}

// Verify checks the issuer's signature over SES_SealInfo; a bad one is
// ErrSealInvalid. It does not check the issuer's chain or revocation, nor
// the validity period (ValidAt does).
func (s *SES) Verify() error {
	alg, err := signAlg(s.Issuer.PublicKey)
	if err != nil || !alg.Equal(s.signAlgID) {
		return ErrSealInvalid
	}
	if gmcrypto.Verify(s.Issuer.PublicKey, s.info, s.signature, nil) != nil {
		return ErrSealInvalid
	}
	return nil
}

// ValidAt tells whether t is inside the seal's validity period.
func (s *SES) ValidAt(t time.Time) bool {
	return !t.Before(s.NotBefore) && !t.After(s.NotAfter)
}

// AllowsSigner tells whether the DER certificate cert is one of the seal's
// signer certificates.
func (s *SES) AllowsSigner(cert []byte) bool {
	for _, c := range s.SignerCerts {
		if bytes.Equal(c, cert) {
			return true
		}
	}
	return false
}
