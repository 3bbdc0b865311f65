package crypto

// CMSCounts returns how many SignerInfos and certificates (those x509 can
// read) a SignedData (DER, BER or PEM) carries, without checking any
// signature, so that a caller can refuse an oversized one before the work.
// Input that is not a parseable SignedData returns ErrMalformed.
func CMSCounts(der []byte) (signers, certificates int, err error) {
	p, err := cmsParseSigned(der)
	if err != nil {
		return 0, 0, err
	}
	return len(p.signers), len(p.certs), nil
}
