package crypto

// CMSDetached reports whether a SignedData (DER, BER or PEM) leaves its
// content out, so that verifying it needs the content or its digest. Input
// that is not a parseable SignedData returns ErrMalformed.
func CMSDetached(der []byte) (bool, error) {
	p, err := cmsParseSigned(der)
	if err != nil {
		return false, err
	}
	return !p.attached, nil
}
