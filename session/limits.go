package session

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"math"
	"unicode/utf8"

	"github.com/emmansun/gmsm/smx509"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

// Sizes of results, known before the key is used. A confirm checks with
// CheckConfirm(ctx, s, ResultBound(s, cert, chain)) that the largest
// result the credential can produce will fit the completing write, so
// that a key is never used for a result that could not be stored.

// Generous allowances for the parts of a result whose size is not taken
// from the request or the certificates.
const (
	// cmsFixed covers a SignedData's own structure: version, algorithm
	// identifiers, the content type, the signed attributes (content type,
	// signing time, message digest), DER headers.
	cmsFixed = 1024
	// challengeFixed covers a login challenge's nonce, time, keys and
	// punctuation beside its session, app and origin.
	challengeFixed = 256
	// jsonFixed covers a result object's keys and punctuation.
	jsonFixed = 256
	// unknownSigMax is the signature bound for a key type not known here.
	unknownSigMax = 1024
)

// NoResultFits is a result size larger than any write a Service accepts.
const NoResultFits = math.MaxInt32

// b64Len is the length of the standard base64 encoding of n bytes.
func b64Len(n int) int { return (n + 2) / 3 * 4 }

// jsonLen is the length of s as a JSON string, as json.Marshal writes it
// (counted, not encoded): the quotes; 2 bytes for \\, \", \b, \f, \n,
// \r and \t; 6 (\u00XX) for other control bytes and <, > and &; 6
// (\ufffd) for each byte of invalid UTF-8 and for U+2028 and U+2029.
func jsonLen(s string) int {
	n := 2
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			switch {
			case c == '\\', c == '"', c == '\b', c == '\f', c == '\n', c == '\r', c == '\t':
				n += 2
			case c < 0x20, c == '<', c == '>', c == '&':
				n += 6
			default:
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1, r == '\u2028', r == '\u2029':
			n += 6
		default:
			n += size
		}
		i += size
	}
	return n
}

// sigMax bounds the size of a signature by cert's key: DER SEQUENCE{r, s}
// for SM2 (or any curve), the modulus size for RSA.
func sigMax(cert *smx509.Certificate) int {
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		return pub.Size()
	case *ecdsa.PublicKey:
		n := (pub.Curve.Params().BitSize+7)/8 + 1 // an INTEGER may need a 0x00
		return 2*(n+2) + 4
	}
	return unknownSigMax
}

// SealImageEstimate is what ResultBound adds per document of a seal session
// for the seal image once the seal is known: its RGB and alpha planes as
// the PDF holds them, deflated, are estimated at 4 × the PNG's size (not a
// strict bound: the result's real size is checked again before it is
// delivered).
func SealImageEstimate(s *Session, m *SealMaterial) int {
	if s == nil || m == nil || m.Image == nil {
		return 0
	}
	return len(s.Request.Documents) * b64Len(4*len(m.Image.PNG))
}

// MaxSealStraddlePages bounds the pages a straddle seal adds annotations to
// in ResultBound (seal.MaxPlacements widgets in all).
const MaxSealStraddlePages = 100

// ResultBound is an upper bound of the size in bytes of the result JSON
// Perform can produce for session s with a key certified by cert (issuer
// chain chain, as Perform gets them in OpKey). It reads only s, cert and
// chain: call it before unlocking the key. A nil session or certificate
// gives a bound no store accepts (NoResultFits).
func ResultBound(s *Session, cert *smx509.Certificate, chain []*smx509.Certificate) int {
	if s == nil || cert == nil {
		return NoResultFits
	}
	all := append([]*smx509.Certificate{cert}, chain...)
	certs := 0
	for _, c := range all {
		certs += len(c.Raw)
	}
	// The PEM as a JSON string: its newlines are its only bytes JSON
	// escapes (base64, dashes, capitals and spaces otherwise), and the
	// quotes.
	pemLen, newlines := gmcrypto.CertificatesPEMLen(all...)
	return resultBound(s, signerSizes{
		pemJSON: pemLen + newlines + 2,
		certs:   certs,
		sig:     sigMax(cert),
		sid:     len(cert.RawIssuer) + len(cert.SerialNumber.Bytes()),
	})
}

// signerSizes are the sizes of what a result holds of its signer: the
// certificate and chain as a JSON string of PEM, their DER, the largest
// signature, the signer identifier (issuer name and serial).
type signerSizes struct {
	pemJSON, certs, sig, sid int
}

// LeafAllowance is the DER size CreationBound assumes for the signer's
// own certificate (an RSA-4096 key and signature, long names and
// extensions fit), beside its issuer's chain, which the caller knows.
const LeafAllowance = 2 << 10

// Allowances for a signature and a signer identifier not known yet.
const (
	maxSigBytes = 4096 / 8
	maxSIDBytes = 1024
)

// CreationBound is ResultBound before anyone has scanned: the signer's
// certificate is not known, so it assumes one of LeafAllowance bytes
// issued under a chain of chainBytes (DER; the caller gives the longest
// chain of the issuers that may serve the session) and an RSA-4096
// signature. Service.Create refuses a session whose completion with a
// result this large could not be stored (ErrResultTooLarge): a user must
// never confirm a session that can only fail. Seal sessions (whose size
// depends on the seal image) are checked at confirm only: it returns 0
// for them.
func CreationBound(s *Session, chainBytes int) int {
	if s == nil || chainBytes < 0 {
		return NoResultFits
	}
	if s.Kind == KindSeal {
		return 0
	}
	der := LeafAllowance + chainBytes
	// PEM: base64 of the DER, a 64-character line and its "\n" escape per
	// 48 bytes, BEGIN/END lines for up to 9 certificates.
	pem := b64Len(der) + (der/48+1)*2 + 9*64
	return resultBound(s, signerSizes{pemJSON: pem + 2, certs: der, sig: maxSigBytes, sid: maxSIDBytes})
}

func resultBound(s *Session, z signerSizes) int {
	pemJSON, sig := z.pemJSON, z.sig
	switch s.Kind {
	case KindLogin:
		challenge := jsonLen(s.ID) + jsonLen(s.AppID) + jsonLen(s.Origin) + challengeFixed
		return 2*(6*MaxIDLen+2) + pemJSON + b64Len(challenge) + b64Len(sig) + jsonFixed
	case KindSign:
		n := pemJSON + jsonFixed
		for _, d := range s.Request.Documents {
			n += jsonLen(d.Name) + jsonFixed
			switch s.Request.Format {
			case FormatRaw, "":
				n += b64Len(sig)
			default:
				content := 0
				if s.Request.Format == FormatCMSAttached {
					content = len(d.Data)
				}
				n += b64Len(content + z.certs + sig + z.sid + cmsFixed)
			}
		}
		return n
	case KindSeal:
		// Each PDF comes back whole, with one update: the appearance and
		// annotation objects and the reserved signature space (see
		// seal.Seal); the image is SealImageEstimate's.
		certs := z.certs
		n := pemJSON + jsonFixed
		for _, d := range s.Request.Documents {
			widgets := len(d.Placements) + 1
			if d.Straddle != nil {
				widgets += MaxSealStraddlePages
			}
			update := 2*(8192+certs) + 16<<10 + widgets*512
			if d.Upload != "" {
				// Only the update comes back, with the upload id and a
				// SHA-256.
				n += jsonLen(d.Name) + 2*jsonFixed + jsonLen(d.Upload) + b64Len(update)
				continue
			}
			n += jsonLen(d.Name) + jsonFixed + b64Len(len(d.PDF)+update)
		}
		return n
	case KindCertificate:
		// Up to MaxHandover certificates, each with its chain, ids and
		// names.
		return jsonFixed + 2*(6*MaxIDLen+2) + MaxHandover*(pemJSON+jsonFixed+4*(6*MaxIDLen+2))
	case KindDecrypt:
		// No plaintext is longer than its ciphertext; a content key and
		// its algorithm's OID are short.
		return b64Len(len(s.Request.Ciphertext)) + b64Len(2*jsonFixed) + jsonFixed
	}
	return NoResultFits
}
