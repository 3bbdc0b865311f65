package portal

import (
	"errors"
	"fmt"
	"time"

	"github.com/emmansun/gmsm/smx509"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/qrlogin"
)

// Login verification defaults.
const (
	// DefaultLoginMaxAge is how old a login challenge may be when
	// LoginExpect.MaxAge is zero: a login result is used right after the
	// session completes, so minutes are plenty.
	DefaultLoginMaxAge = 5 * time.Minute
	// LoginClockSkew is how far in the future a challenge time may lie
	// (the gateway's clock ahead of the portal's).
	LoginClockSkew = qrlogin.MaxClockSkew
	// MaxChallengeBytes bounds the challenge a portal accepts to parse.
	MaxChallengeBytes = qrlogin.MaxChallengeLen
)

// LoginChallenge is the parsed login challenge (qrlogin.Challenge): the
// JSON object {"session", "app", "origin", "nonce", "time"} whose exact
// bytes the user's key signed.
type LoginChallenge = qrlogin.Challenge

// ParseLoginChallenge parses the challenge bytes of a login result with
// the gateway's own parser (qrlogin.ParseChallenge): the five members in
// their canonical order and form, nothing else. Anything else wraps
// ErrLoginChallenge.
func ParseLoginChallenge(b []byte) (*LoginChallenge, error) {
	c, err := qrlogin.ParseChallenge(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLoginChallenge, err)
	}
	return &c, nil
}

// LoginExpect is what the portal knows independently of the login result
// and checks it against.
type LoginExpect struct {
	// Session is the id of the session the portal created for this login
	// (required): a result of any other session is refused.
	Session string
	// App is the portal's app id; checked when set (set it).
	App string
	// Origin is the page origin the login ran on, e.g.
	// "https://bid.example.com"; checked when set (set it).
	Origin string
	// MaxAge bounds the challenge's age; zero means DefaultLoginMaxAge.
	MaxAge time.Duration
	// Roots, when set, are the trusted CA certificates (GET
	// /v1/issuers/{id}/ca.pem): the signer's certificate must chain to one
	// of them, with the intermediates that follow it in certificate_pem.
	// Without Roots only the certificate's validity period and key usage
	// are checked; check the chain and revocation with Client.Verify.
	Roots []*smx509.Certificate
	// Now is the verification time; zero means time.Now().
	Now time.Time
}

// VerifiedLogin is a login result that passed VerifyLogin.
type VerifiedLogin struct {
	User        string
	Credential  string
	Challenge   *LoginChallenge
	Certificate *smx509.Certificate
	// Chain holds the certificates that followed the signer's in
	// certificate_pem (intermediates, maybe the root).
	Chain []*smx509.Certificate
}

// VerifyLogin checks a login result without asking the gateway, as any
// portal can with any SM2/RSA library:
//
//  1. certificate_pem parses; its first certificate is the signer's, within
//     its validity period, usable for signatures, and (with Roots) chains to
//     a trusted root;
//  2. signature verifies over the exact challenge bytes under that
//     certificate's key: SM2 = DER SEQUENCE{r, s} over SM3(Z || challenge)
//     with the default signer id "1234567812345678"; RSA = PKCS#1 v1.5
//     with SHA-256;
//  3. the challenge names the expected session (and app and origin), and
//     its time is within MaxAge of now.
//
// Every failure wraps ErrLoginInvalid (and one of ErrLoginCertificate,
// ErrLoginSignature, ErrLoginChallenge, ErrLoginExpired).
//
// VerifyLogin is not enough on its own: it checks the signature, the
// certificate and the challenge, not that the gateway ran a login
// session. A login signs its challenge in the same scheme a raw sign
// session signs a document, and a raw signature over a digest cannot be
// told apart from a login signature: a sign session of any app over
// SM3(Z || challenge) (or SHA-256 of it) yields a result that passes
// VerifyLogin for the session the challenge names. So take the result
// from the gateway with the app key (Client.GetSession, or the portal's
// own watch of the session), never from the browser; a result that came
// any other way must also get VerifyResponse.LoginSession == true from
// Client.Verify.
func VerifyLogin(result *LoginResult, expect LoginExpect) (*VerifiedLogin, error) {
	if expect.Session == "" {
		return nil, fmt.Errorf("%w: LoginExpect.Session is required", ErrInvalidArgument)
	}
	if result == nil {
		return nil, fmt.Errorf("%w: nil result", ErrLoginInvalid)
	}
	now := expect.Now
	if now.IsZero() {
		now = time.Now()
	}
	maxAge := expect.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultLoginMaxAge
	}

	certs, err := gmcrypto.ParseCertificatesPEM([]byte(result.CertificatePEM))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLoginCertificate, err)
	}
	leaf := certs[0]
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return nil, fmt.Errorf("%w: outside its validity period", ErrLoginCertificate)
	}
	if leaf.KeyUsage != 0 && leaf.KeyUsage&(smx509.KeyUsageDigitalSignature|smx509.KeyUsageContentCommitment) == 0 {
		return nil, fmt.Errorf("%w: key usage does not allow signatures", ErrLoginCertificate)
	}
	if len(expect.Roots) > 0 {
		roots, inter := smx509.NewCertPool(), smx509.NewCertPool()
		for _, r := range expect.Roots {
			if r != nil {
				roots.AddCert(r)
			}
		}
		for _, c := range certs[1:] {
			inter.AddCert(c)
		}
		if _, err := leaf.Verify(smx509.VerifyOptions{
			Roots: roots, Intermediates: inter, CurrentTime: now,
			KeyUsages: []smx509.ExtKeyUsage{smx509.ExtKeyUsageAny},
		}); err != nil {
			return nil, fmt.Errorf("%w: chain: %v", ErrLoginCertificate, err)
		}
	}

	if len(result.Challenge) == 0 || len(result.Challenge) > MaxChallengeBytes || len(result.Signature) == 0 {
		return nil, ErrLoginSignature
	}
	if err := gmcrypto.Verify(leaf.PublicKey, result.Challenge, result.Signature, nil); err != nil {
		return nil, ErrLoginSignature
	}

	ch, err := ParseLoginChallenge(result.Challenge)
	if err != nil {
		return nil, err
	}
	if err := ch.Check(expect.Session, expect.App, expect.Origin, now, maxAge); err != nil {
		if errors.Is(err, qrlogin.ErrChallengeExpired) {
			return nil, fmt.Errorf("%w: %v", ErrLoginExpired, err)
		}
		return nil, fmt.Errorf("%w: %v", ErrLoginChallenge, err)
	}
	return &VerifiedLogin{
		User:        result.User,
		Credential:  result.Credential,
		Challenge:   ch,
		Certificate: leaf,
		Chain:       certs[1:],
	}, nil
}
