package ca

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"

	"github.com/emmansun/gmsm/smx509"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

// backdate is how far before "now" a new certificate's notBefore lies, to
// tolerate clocks a little behind ours.
const backdate = 5 * time.Minute

// newSerial returns a positive 127-bit random serial number (RFC 5280
// allows up to 20 octets; CA/B asks for at least 64 random bits).
func newSerial() (*big.Int, error) {
	b, err := gmcrypto.RandomBytes(16)
	if err != nil {
		return nil, err
	}
	b[0] &= 0x7f
	b[0] |= 0x40 // a fixed top bit keeps the length at 16 octets
	return new(big.Int).SetBytes(b), nil
}

// serialHex is the form serial numbers take in records and keys: the
// magnitude in hex, and "00" for zero (never the empty string, which
// would make a key prefix). ImportCertificate refuses serials <= 0, so
// records only ever hold positive ones.
func serialHex(n *big.Int) string {
	if n == nil || n.Sign() == 0 {
		return "00"
	}
	return hex.EncodeToString(n.Bytes())
}

// maxSerialOctets is RFC 5280's limit on serial numbers (4.1.2.2).
const maxSerialOctets = 20

// checkSerial refuses a serial number that is not positive or longer than
// 20 octets (RFC 5280 4.1.2.2), as a *RequestError on field.
func checkSerial(field string, n *big.Int) error {
	if n == nil || n.Sign() <= 0 || len(n.Bytes()) > maxSerialOctets {
		return invalid(field, "the certificate's serial number must be a positive integer of at most %d octets (RFC 5280)", maxSerialOctets)
	}
	return nil
}

// subjectKeyID is RFC 7093 method 1: the leftmost 160 bits of the SHA-256
// of the subjectPublicKey BIT STRING (what smx509 itself uses for CAs).
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := gmcrypto.MarshalPublicKey(pub)
	if err != nil {
		return nil, err
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, fmt.Errorf("ca: subject public key: %w", err)
	}
	h := sha256.Sum256(spki.PublicKey.Bytes)
	return h[:20], nil
}

// keyUsageFor is the key usage of an end-entity certificate.
func keyUsageFor(p Purpose, alg gmcrypto.Alg) smx509.KeyUsage {
	if p == PurposeSign {
		return smx509.KeyUsageDigitalSignature | smx509.KeyUsageContentCommitment
	}
	ku := smx509.KeyUsageKeyEncipherment | smx509.KeyUsageDataEncipherment
	if alg == gmcrypto.AlgSM2 {
		ku |= smx509.KeyUsageKeyAgreement
	}
	return ku
}

// OIDs of subject attributes pkix.Name has no field for.
var oidTelephoneNumber = asn1.ObjectIdentifier{2, 5, 4, 20}

// userSubject builds an end-entity subject from the user's real-name data
// and the profile's subject fields. A field the profile asks for but the
// user lacks is an invalid request naming that field.
func userSubject(u *userRecord, p Profile) (pkix.Name, error) {
	n := pkix.Name{CommonName: u.Name}
	if u.Organization != "" {
		n.Organization = []string{u.Organization}
	}
	if u.organization() {
		// The organisation policy: O names the organisation and
		// serialNumber (2.5.4.5) carries its 统一社会信用代码, whatever the
		// profile asks (an organisation has no ID number or phone of its
		// own to put there).
		n.SerialNumber = u.CreditCode
		return n, nil
	}
	for _, f := range p.SubjectFields {
		switch f {
		case SubjectIDNumber:
			if u.IDNumber == "" {
				return n, invalid("id_number", "the issuer's profile puts the ID number in the certificate, and the user has none")
			}
			n.SerialNumber = u.IDNumber
		case SubjectPhone:
			if u.Phone == "" {
				return n, invalid("phone", "the issuer's profile puts the phone in the certificate, and the user has none")
			}
			n.ExtraNames = append(n.ExtraNames, pkix.AttributeTypeAndValue{Type: oidTelephoneNumber, Value: u.Phone})
		}
	}
	return n, nil
}

// signingCert returns the issuer certificate as smx509 needs it to sign:
// with a subject key id (computed when the certificate has none) and the
// cRLSign bit when the certificate has no key usage extension at all (RFC
// 5280: then every usage is allowed). The copy is never serialised.
func signingCert(c *smx509.Certificate) (*smx509.Certificate, error) {
	cp := *c
	if len(cp.SubjectKeyId) == 0 {
		ski, err := subjectKeyID(cp.PublicKey)
		if err != nil {
			return nil, err
		}
		cp.SubjectKeyId = ski
	}
	if cp.KeyUsage == 0 {
		cp.KeyUsage = smx509.KeyUsageCertSign | smx509.KeyUsageCRLSign
	}
	return &cp, nil
}

// createCert signs template for pub with the issuer's key; parent nil means
// self-signed. It returns the parsed certificate.
func createCert(template, parent *smx509.Certificate, pub crypto.PublicKey, signer crypto.Signer) (*smx509.Certificate, error) {
	if parent == nil {
		parent = template
	} else {
		p, err := signingCert(parent)
		if err != nil {
			return nil, err
		}
		parent = p
	}
	der, err := smx509.CreateCertificate(rand.Reader, template, parent, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("ca: create certificate: %w", err)
	}
	return gmcrypto.ParseCertificate(der)
}

// keyUsageExtension encodes a critical key usage extension (for the
// extensionRequest of a CSR).
func keyUsageExtension(ku smx509.KeyUsage) (pkix.Extension, error) {
	var bits [2]byte
	n := 0
	for i := 0; i < 9; i++ {
		if ku&(1<<uint(i)) != 0 {
			bits[i/8] |= 0x80 >> uint(i%8)
			n = i + 1
		}
	}
	bs := asn1.BitString{Bytes: bits[:(n+7)/8], BitLength: n}
	v, err := asn1.Marshal(bs)
	if err != nil {
		return pkix.Extension{}, err
	}
	return pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 15}, Critical: true, Value: v}, nil
}

// createCSR produces a PKCS#10 request signed by key (SM2-with-SM3 or
// SHA256-RSA) asking for subject and ku.
func createCSR(subject pkix.Name, ku smx509.KeyUsage, key crypto.Signer) ([]byte, error) {
	ext, err := keyUsageExtension(ku)
	if err != nil {
		return nil, err
	}
	tmpl := &smx509.CertificateRequest{Subject: subject, ExtraExtensions: []pkix.Extension{ext}}
	der, err := smx509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return nil, fmt.Errorf("ca: create CSR: %w", err)
	}
	return der, nil
}

// pemBlock encodes der as one PEM block of type typ.
func pemBlock(typ string, der []byte) string {
	if len(der) == 0 {
		return ""
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

// parseChainDER parses stored DER certificates.
func parseChainDER(ders [][]byte) ([]*smx509.Certificate, error) {
	out := make([]*smx509.Certificate, 0, len(ders))
	for _, d := range ders {
		c, err := gmcrypto.ParseCertificate(d)
		if err != nil {
			return nil, fmt.Errorf("ca: corrupt stored certificate: %w", err)
		}
		out = append(out, c)
	}
	return out, nil
}

// sameKey reports whether two public keys are equal.
func sameKey(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && b != nil && e.Equal(b)
}

// isCA reports whether c may sign certificates (RFC 5280 6.1.4 (k) and
// (n)): a v3 certificate with basicConstraints cA=true and, when it has a
// key usage extension, keyCertSign. A v1 or v2 certificate has no
// extensions, so it is never a CA here (smx509's CheckSignatureFrom lets
// v1 parents through, so it must not be relied on for this).
func isCA(c *smx509.Certificate) bool {
	return c != nil && c.Version == 3 && c.BasicConstraintsValid && c.IsCA &&
		(c.KeyUsage == 0 || c.KeyUsage&smx509.KeyUsageCertSign != 0)
}

// signedBy reports whether parent is a CA certificate (isCA), child's
// issuer name is parent's subject and parent's key signed child. The cheap
// checks come first: the signature is checked only when they pass.
func signedBy(child, parent *smx509.Certificate) bool {
	return isCA(parent) && string(child.RawIssuer) == string(parent.RawSubject) && child.CheckSignatureFrom(parent) == nil
}

// sameCA reports whether two CA certificates name the same subject with
// the same public key: the same CA, whatever else differs (validity,
// serial, extensions — a renewed certificate, for example).
func sameCA(a, b *smx509.Certificate) bool {
	return string(a.RawSubject) == string(b.RawSubject) && string(a.RawSubjectPublicKeyInfo) == string(b.RawSubjectPublicKeyInfo)
}
