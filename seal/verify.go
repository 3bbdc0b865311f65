package seal

import (
	"bytes"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

// Signature is what Verify found about one signature of a PDF.
type Signature struct {
	Field     string    // the signature field's name
	SubFilter string    // e.g. ETSI.CAdES.detached
	Time      time.Time // the claimed signing time (/M, else the CMS signing-time)
	// Valid: the CMS verified over the signed byte ranges, so no byte
	// it covers changed.
	Valid bool
	// SigningCertificateV2: the CMS names its signer's certificate in a
	// signing-certificate-v2 attribute (PAdES baseline).
	SigningCertificateV2 bool
	Signer               *smx509.Certificate   // nil if the CMS could not be read
	Certificates         []*smx509.Certificate // all the CMS carries
	// ByteRange covers the document to its last byte.
	CoversWholeDocument bool
	// Modified: bytes were added after this signature that no later valid
	// signature covers (a change nobody signed).
	Modified bool
	// Seal is the SES_Seal the signature dictionary carries, if any;
	// SealValid tells whether its issuer signature verified and the
	// signer is one of its signer certificates.
	Seal      *SES
	SealValid bool
	Problem   string // why Valid or SealValid is false, in a few words
	signedEnd int
}

// Verify lists every signature of a PDF, in the order of the bytes they
// sign. A document with no signature returns an empty list; one that
// cannot be read returns ErrBadPDF. Certificate chains and revocation are
// the caller's to check (the signer and carried certificates are given).
func Verify(pdf []byte) ([]Signature, error) {
	d, err := readPDF(pdf)
	if err != nil {
		return nil, err
	}
	var out []Signature
	seen := map[int]bool{}
	var walk func(o types.Object, name string, ft string, depth int) error
	walk = func(o types.Object, name string, ft string, depth int) error {
		if depth > 16 || len(out) > 256 {
			return nil
		}
		if ir, ok := o.(types.IndirectRef); ok {
			if seen[ir.ObjectNumber.Value()] {
				return nil
			}
			seen[ir.ObjectNumber.Value()] = true
		}
		f, err := d.resolveDict(o)
		if err != nil {
			return nil
		}
		if t, err := d.ctx.DereferenceText(f["T"]); err == nil && t != "" {
			if name != "" {
				name += "."
			}
			name += t
		}
		if n := f.NameEntry("FT"); n != nil {
			ft = *n
		}
		if ft == "Sig" {
			if v, ok := f.Find("V"); ok && v != nil {
				if vd, err := d.resolveDict(v); err == nil {
					out = append(out, d.signature(name, vd))
				}
				return nil
			}
		}
		if kids, err := d.ctx.DereferenceArray(f["Kids"]); err == nil {
			for _, k := range kids {
				if err := walk(k, name, ft, depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	catalog, err := d.ctx.Catalog()
	if err != nil {
		return nil, fmt.Errorf("%w: no catalog", ErrBadPDF)
	}
	if af, ok := catalog.Find("AcroForm"); ok && af != nil {
		if form, err := d.resolveDict(af); err == nil {
			if fields, err := d.ctx.DereferenceArray(form["Fields"]); err == nil {
				for _, f := range fields {
					if err := walk(f, "", "", 0); err != nil {
						return nil, err
					}
				}
			}
		}
	}
	sortSignatures(out)
	// Modified: bytes after a signature's range that no later valid
	// signature covers.
	for i := range out {
		end := out[i].signedEnd
		for j := range out {
			if out[j].Valid && out[j].signedEnd > end {
				end = out[j].signedEnd
			}
		}
		out[i].CoversWholeDocument = out[i].signedEnd == len(pdf)
		out[i].Modified = end < len(pdf) || !out[i].Valid
	}
	return out, nil
}

func sortSignatures(s []Signature) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].signedEnd < s[j-1].signedEnd; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// signature checks one signature dictionary.
func (d *doc) signature(field string, v types.Dict) Signature {
	s := Signature{Field: field}
	if sf := v.NameEntry("SubFilter"); sf != nil {
		s.SubFilter = *sf
	}
	if m, err := d.ctx.DereferenceText(v["M"]); err == nil {
		if t, ok := types.DateTime(m, true); ok {
			s.Time = t
		}
	}
	fail := func(why string) Signature { s.Problem = why; return s }
	br, err := d.ctx.DereferenceArray(v["ByteRange"])
	if err != nil || len(br) != 4 {
		return fail("no byte range")
	}
	var r [4]int
	for i, o := range br {
		n, ok := o.(types.Integer)
		if !ok || n < 0 {
			return fail("bad byte range")
		}
		r[i] = n.Value()
	}
	raw := d.raw
	if r[0] != 0 || r[1] < 2 || r[2] <= r[1] || r[3] < 0 || r[2] > len(raw) || r[3] > len(raw)-r[2] {
		return fail("bad byte range")
	}
	s.signedEnd = r[2] + r[3]
	// The gap must be exactly the /Contents hex string.
	gap := raw[r[1]:r[2]]
	if gap[0] != '<' || gap[len(gap)-1] != '>' || !bytes.HasSuffix(bytes.TrimRight(raw[:r[1]], " \r\n\t"), []byte("/Contents")) {
		return fail("byte range gap is not the signature")
	}
	cms, why := slotDER(gap[1 : len(gap)-1])
	if why != "" {
		return fail(why)
	}
	signed := make([]byte, 0, r[1]+r[3])
	signed = append(signed, raw[:r[1]]...)
	signed = append(signed, raw[r[2]:r[2]+r[3]]...)
	res, err := gmcrypto.VerifyCMS(cms, signed)
	if err != nil {
		s.Problem = "signature invalid"
	} else {
		s.Valid = true
		s.Signer = res.Signers[0]
		s.Certificates = res.Certificates
		if s.Time.IsZero() {
			s.Time = res.SigningTime
		}
		s.SigningCertificateV2, _ = gmcrypto.CMSSigningCertificateV2(cms, s.Signer)
	}
	if sesHex, ok := v[sigKeySES].(types.HexLiteral); ok {
		if der, err := sesHex.Bytes(); err == nil {
			if ses, err := Parse(der); err == nil {
				s.Seal = ses
				switch {
				case ses.Verify() != nil:
					s.Problem = joinProblem(s.Problem, "seal signature invalid")
				case s.Signer != nil && !ses.AllowsSigner(s.Signer.Raw):
					s.Problem = joinProblem(s.Problem, "signer is not one of the seal's")
				default:
					s.SealValid = s.Valid
				}
			} else {
				s.Problem = joinProblem(s.Problem, "seal cannot be parsed")
			}
		}
	}
	return s
}

func joinProblem(a, b string) string {
	if a == "" {
		return b
	}
	return strings.Join([]string{a, b}, "; ")
}

// digestFor returns the digest SignCMSPAdES expects for cert's key.
func digestFor(cert *smx509.Certificate, parts ...[]byte) []byte {
	if isSM2(cert) {
		h := sm3.New()
		for _, p := range parts {
			h.Write(p)
		}
		return h.Sum(nil)
	}
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

// slotDER returns the DER value at the start of a /Contents hex string
// (without its < >), or why there is none. The whole slot is decoded and
// the DER's own length says where the CMS ends: trimming the zero
// padding as text would also cut a CMS whose last byte is 0x00.
func slotDER(slot []byte) ([]byte, string) {
	if len(slot)%2 == 1 { // a PDF hex string's odd last digit is followed by 0
		slot = append(bytes.Clone(slot), '0')
	}
	der := make([]byte, hex.DecodedLen(len(slot)))
	if _, err := hex.Decode(der, slot); err != nil {
		return nil, "signature is not hex"
	}
	var rv asn1.RawValue
	rest, err := asn1.Unmarshal(der, &rv)
	if err != nil {
		// Another tool's BER (indefinite lengths, as NSS writes): its
		// DER (ber.go).
		if len(der) <= maxBERBytes {
			if d, _, err := berToDER(der); err == nil {
				return d, ""
			}
		}
		return nil, "signature is not DER"
	}
	return der[:len(der)-len(rest)], ""
}
