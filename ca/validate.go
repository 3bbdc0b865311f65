package ca

import (
	"slices"
	"strings"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

// The stateless rules of the CA's requests, in one place: the CA checks
// them first (AddIssuer, AddUser), and the api checks a request body with
// the same functions before anything else happens. Errors are
// *RequestError naming the field as on the wire.

// Validate checks what can be checked of r without the store: ids, texts,
// sizes, which fields go with which mode, and the values of the profile.
// The certificates, keys, the parent and the profile's defaults are
// AddIssuer's.
func (r *IssuerRequest) Validate() error {
	if r.ID != "" && !ValidID(r.ID) {
		return invalid("id", "must be 1 to 64 characters of a-z, 0-9, '-' and '_'")
	}
	if err := checkText("name", strings.TrimSpace(r.Name), maxNameLen, true); err != nil {
		return err
	}
	if r.Parent != "" && !ValidID(r.Parent) {
		return invalid("parent", "must be 1 to 64 characters of a-z, 0-9, '-' and '_'")
	}
	for _, f := range []struct {
		name string
		v    []byte
	}{{"cert_pem", r.CertPEM}, {"key_pem", r.KeyPEM}, {"chain_pem", r.ChainPEM}} {
		if len(f.v) > maxPEMLen {
			return invalid(f.name, "longer than %d bytes", maxPEMLen)
		}
	}
	if r.Alg != "" && r.Alg != gmcrypto.AlgSM2 && r.Alg != gmcrypto.AlgRSA {
		return invalid("alg", "must be SM2 or RSA")
	}
	var err error
	switch {
	case r.Mode == ModeInternal && r.Generate:
		err = r.validateGenerate()
	case r.Mode == ModeInternal:
		err = r.validateImport()
	case r.Mode == ModeExternal:
		err = r.validateExternal()
	default:
		err = invalid("mode", "must be %q or %q", ModeInternal, ModeExternal)
	}
	if err != nil {
		return err
	}
	return r.Profile.validate()
}

// validateGenerate: a generated CA takes an algorithm and a subject, no
// certificate or key.
func (r *IssuerRequest) validateGenerate() error {
	if len(r.CertPEM) > 0 || len(r.KeyPEM) > 0 || len(r.ChainPEM) > 0 {
		return invalid("generate", "cannot be combined with cert_pem, key_pem or chain_pem")
	}
	if r.Alg == "" {
		return invalid("alg", "required when generating: SM2 or RSA")
	}
	subj := r.Subject
	for _, f := range []struct{ name, v string }{
		{"subject.common_name", subj.CommonName}, {"subject.organization", subj.Organization},
	} {
		if err := checkText(f.name, f.v, maxNameLen, f.name == "subject.common_name"); err != nil {
			return err
		}
	}
	if subj.Country != "" && (len(subj.Country) != 2 || strings.ToUpper(subj.Country) != subj.Country || !isASCIILetters(subj.Country)) {
		return invalid("subject.country", "must be a two-letter ISO 3166 code such as CN")
	}
	if d := r.ValidityDays; d != 0 && (d < 1 || d > maxValidityDays) {
		return invalid("validity_days", "must be 1 to %d", maxValidityDays)
	}
	switch {
	case r.Alg == gmcrypto.AlgRSA && r.RSABits != 0 && !slices.Contains(allowedRSABits, r.RSABits):
		return invalid("rsa_bits", "must be 2048, 3072 or 4096")
	case r.Alg != gmcrypto.AlgRSA && r.RSABits != 0:
		return invalid("rsa_bits", "only for RSA")
	}
	if r.PathLen != nil && (*r.PathLen < 0 || *r.PathLen > 8) {
		return invalid("path_len", "must be 0 to 8")
	}
	return nil
}

// validateImport: an imported internal CA comes with its certificate and
// key (its chain after the certificate, in cert_pem).
func (r *IssuerRequest) validateImport() error {
	switch {
	case len(r.ChainPEM) > 0:
		return invalid("chain_pem", "is for external issuers; put the chain after the certificate in cert_pem")
	case len(r.CertPEM) == 0:
		return invalid("cert_pem", "required (or generate: true)")
	case len(r.KeyPEM) == 0:
		return invalid("key_pem", "required with cert_pem")
	}
	return nil
}

// validateExternal: an external CA's key is not held; its certificate
// comes as cert_pem or as the first of chain_pem.
func (r *IssuerRequest) validateExternal() error {
	if r.Generate || len(r.KeyPEM) > 0 {
		return invalid("key_pem", "an external issuer's key is not held by the gateway (no generate, no key_pem)")
	}
	if len(r.CertPEM) == 0 && len(r.ChainPEM) == 0 {
		return invalid("chain_pem", "an external issuer needs its CA certificate (cert_pem or chain_pem)")
	}
	return nil
}

// validate checks the values a profile names (its defaults and the rules
// that depend on the issuer's algorithm are normProfile's).
func (p *Profile) validate() error {
	if p == nil {
		return nil
	}
	if p.ValidityDays != 0 && (p.ValidityDays < 1 || p.ValidityDays > maxValidityDays) {
		return invalid("profile.validity_days", "must be 1 to %d", maxValidityDays)
	}
	for _, a := range p.Algs {
		if a != gmcrypto.AlgSM2 && a != gmcrypto.AlgRSA {
			return invalid("profile.algs", "%q is not SM2 or RSA", a)
		}
	}
	for _, b := range p.RSABits {
		if !slices.Contains(allowedRSABits, b) {
			return invalid("profile.rsa_bits", "%d is not 2048, 3072 or 4096", b)
		}
	}
	for _, pu := range p.Purposes {
		if pu != PurposeSign && pu != PurposeEncrypt {
			return invalid("profile.purposes", "%q is not sign or encrypt", pu)
		}
	}
	for _, f := range p.SubjectFields {
		if f != SubjectIDNumber && f != SubjectPhone {
			return invalid("profile.subject_fields", "%q is not %s or %s", f, SubjectIDNumber, SubjectPhone)
		}
	}
	switch p.RenewalKey {
	case "", RenewalKeySame, RenewalKeyNew, RenewalKeyEither:
	default:
		return invalid("profile.renewal_key", "%q is not %s, %s or %s", p.RenewalKey, RenewalKeySame, RenewalKeyNew, RenewalKeyEither)
	}
	return nil
}

// Validate checks a user's fields (AddUser calls it first).
func (r *UserRequest) Validate() error {
	if err := checkText("name", r.Name, maxNameLen, true); err != nil {
		return err
	}
	if err := checkText("id_number", r.IDNumber, maxIDNumberLen, false); err != nil {
		return err
	}
	if err := checkPhone(r.Phone); err != nil {
		return err
	}
	if err := checkText("organization", r.Organization, maxNameLen, false); err != nil {
		return err
	}
	switch r.Kind {
	case "", UserKindPerson:
		if r.CreditCode != "" {
			return invalid("credit_code", "only for kind %s", UserKindOrganization)
		}
	case UserKindOrganization:
		if r.CreditCode == "" {
			return invalid("credit_code", "required for kind %s", UserKindOrganization)
		}
		if r.IDNumber != "" {
			return invalid("id_number", "not for kind %s (the credit code identifies it)", UserKindOrganization)
		}
		if !ValidCreditCode(r.CreditCode) {
			return invalid("credit_code", "not a 统一社会信用代码: 18 characters of 0-9 and A-Y without I, O, S, V, Z, with the GB 32100 check character last")
		}
	default:
		return invalid("kind", "must be %s or %s", UserKindPerson, UserKindOrganization)
	}
	return nil
}

// creditCodeAlphabet is GB 32100's 31 characters, in the order of their
// values 0 to 30.
const creditCodeAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"

// ValidCreditCode reports whether s is a well-formed 统一社会信用代码 (GB
// 32100-2015): 18 characters of creditCodeAlphabet (lowercase letters are
// accepted), the last being the check character: 31 − (Σ value(cᵢ)·3ⁱ mod
// 31) mod 31 over the first 17 (weights 3ⁱ mod 31).
func ValidCreditCode(s string) bool {
	if len(s) != 18 {
		return false
	}
	s = strings.ToUpper(s)
	sum, w := 0, 1
	for i := range 17 {
		v := strings.IndexByte(creditCodeAlphabet, s[i])
		if v < 0 {
			return false
		}
		sum += v * w
		w = w * 3 % 31
	}
	check := (31 - sum%31) % 31
	return s[17] == creditCodeAlphabet[check]
}
