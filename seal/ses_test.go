package seal

import (
	"bytes"
	"encoding/asn1"
	"errors"
	"strings"
	"testing"
	"time"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

func TestSESMakeParseVerify(t *testing.T) {
	for _, alg := range []gmcrypto.Alg{gmcrypto.AlgSM2, gmcrypto.AlgRSA} {
		t.Run(string(alg), func(t *testing.T) {
			p := newPKI(t, alg)
			s, err := Parse(p.sealDER)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Verify(); err != nil {
				t.Fatal(err)
			}
			if s.ID != "ES-TEST-"+string(alg) || s.Name != "某某建设有限公司 公章" || s.Kind != KindOfficial || s.Type != 1 ||
				s.Vendor != "ukeygate" || s.WidthMM != 40 || !s.AllowsSigner(p.cert.Raw) || !bytes.Equal(s.Issuer.Raw, p.caCert.Raw) {
				t.Fatalf("parsed %+v", s)
			}
			if !s.ValidAt(time.Now()) || s.ValidAt(time.Now().Add(2*365*24*time.Hour)) {
				t.Fatal("validity period wrong")
			}
			if _, err := CheckPNG(s.PNG); err != nil {
				t.Fatalf("carried picture: %v", err)
			}
			// Any flipped byte inside SES_SealInfo breaks the issuer signature
			// (or the parse).
			for _, i := range []int{20, len(p.sealDER) / 2, 300} {
				bad := bytes.Clone(p.sealDER)
				bad[i] ^= 0x01
				if s2, err := Parse(bad); err == nil && !errors.Is(s2.Verify(), ErrSealInvalid) {
					t.Fatalf("byte %d flipped: still verifies", i)
				}
			}
		})
	}
}

// The SM2 issuer signature checked by tjfoc over the DER of SES_SealInfo,
// with the structure walked here: header "ES" version 4, signAlgID SM2-SM3.
func TestSESIndependent(t *testing.T) {
	p := newPKI(t, gmcrypto.AlgSM2)
	var seal struct {
		Info        asn1.RawValue
		Cert        []byte
		Alg         asn1.ObjectIdentifier
		SignedValue asn1.BitString
	}
	mustUnmarshal(t, p.sealDER, &seal)
	var info struct {
		Header struct {
			ID      string
			Version int
			VID     string
		}
		EsID     string
		Property asn1.RawValue
		Picture  struct {
			Type          string
			Data          []byte
			Width, Height int
		}
		Ext asn1.RawValue `asn1:"optional"`
	}
	mustUnmarshal(t, seal.Info.FullBytes, &info)
	if info.Header.ID != "ES" || info.Header.Version != 4 || info.Picture.Type != "png" || info.Picture.Width != 40 {
		t.Fatalf("SES_SealInfo %+v", info.Header)
	}
	if !seal.Alg.Equal(asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 501}) {
		t.Fatalf("signAlgID %v", seal.Alg)
	}
	pub := tjfocPublic(t, seal.Cert)
	if !pub.Verify(seal.Info.FullBytes, seal.SignedValue.Bytes) {
		t.Fatal("tjfoc rejects the issuer's SM2 signature over SES_SealInfo")
	}
	bad := bytes.Clone(seal.Info.FullBytes)
	bad[len(bad)-1] ^= 1
	if pub.Verify(bad, seal.SignedValue.Bytes) {
		t.Fatal("tjfoc accepts a changed SES_SealInfo: the check is void")
	}
}

func TestSpecValidate(t *testing.T) {
	p := newPKI(t, gmcrypto.AlgSM2)
	img, _ := CheckPNG(sealPNG(t, 64))
	now := time.Now()
	good := func() *Spec {
		return &Spec{ID: "S1", Name: "公章", Kind: KindOfficial, Image: img, WidthMM: 40, HeightMM: 40,
			NotBefore: now, NotAfter: now.Add(time.Hour), SignerCerts: [][]byte{p.cert.Raw}}
	}
	cases := map[string]func(*Spec){
		"no id":        func(s *Spec) { s.ID = "" },
		"non-ascii id": func(s *Spec) { s.ID = "印章" },
		"no name":      func(s *Spec) { s.Name = " " },
		"kind":         func(s *Spec) { s.Kind = "stamp" },
		"tiny":         func(s *Spec) { s.WidthMM = 1 },
		"huge":         func(s *Spec) { s.HeightMM = 500 },
		"validity":     func(s *Spec) { s.NotAfter = s.NotBefore },
		"no signer":    func(s *Spec) { s.SignerCerts = nil },
		"bad signer":   func(s *Spec) { s.SignerCerts = [][]byte{{1, 2, 3}} },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			s := good()
			mutate(s)
			if _, err := Make(s, p.caKey, p.caCert); !errors.Is(err, ErrBadSeal) {
				t.Fatalf("got %v", err)
			}
		})
	}
	if _, err := Make(good(), p.caKey, p.caCert); err != nil {
		t.Fatal(err)
	}
}

func TestCheckPNG(t *testing.T) {
	opaque := func() []byte {
		// The seal PNG with its transparency removed.
		img, _ := CheckPNG(sealPNG(t, 64))
		var b bytes.Buffer
		rgba := toOpaque(img)
		pngEncode(&b, rgba)
		return b.Bytes()
	}
	cases := []struct {
		name string
		data []byte
		ok   bool
	}{
		{"seal", sealPNG(t, 128), true},
		{"empty", nil, false},
		{"jpeg magic", []byte("\xff\xd8\xff\xe0 not a png"), false},
		{"truncated", sealPNG(t, 128)[:200], false},
		{"too small", sealPNG(t, 8), false},
		{"too large", sealPNG(t, MaxImageSide+1), false},
		{"no alpha", opaque(), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := CheckPNG(c.data)
			if c.ok != (err == nil) || (err != nil && !errors.Is(err, ErrBadImage)) {
				t.Fatalf("got %v", err)
			}
		})
	}
}

func TestTextPDF(t *testing.T) {
	pdf := TextPDF([][]string{{"Bid (lot 3) \\ price", "Café", "中文"}, {"two"}})
	qpdfCheck(t, pdf)
	if n, err := PageCount(pdf); err != nil || n != 2 {
		t.Fatalf("pages %d %v", n, err)
	}
	txt, err := runTool(t, "pdftotext", writeTemp(t, "t.pdf", pdf), "-")
	if err != nil || !strings.Contains(txt, "Bid (lot 3) \\ price") || !strings.Contains(txt, "Café") || !strings.Contains(txt, "??") {
		t.Fatalf("pdftotext: %v %q", err, txt)
	}
}
