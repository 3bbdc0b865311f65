package ca

import (
	"crypto"
	"sync"

	"github.com/emmansun/gmsm/smx509"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

// A credential's certificate is parsed and PEM-encoded every time its
// record becomes a Credential, several times per confirm. certMemo keeps
// what recent certificates parsed to, keyed by their exact DER bytes
// (the key is the whole DER, so a hit is the same certificate). The
// parsed certificate is shared read-only by the callers that get it.
const certMemoEntries = 1024

type certParsed struct {
	cert *smx509.Certificate
	pem  string
}

var certMemo struct {
	mu sync.Mutex
	m  map[string]certParsed
}

// parseCertMemo is gmcrypto.ParseCertificate(der) and its PEM block,
// from the memo when der was parsed recently.
func parseCertMemo(der []byte) (*smx509.Certificate, string, error) {
	certMemo.mu.Lock()
	p, ok := certMemo.m[string(der)]
	certMemo.mu.Unlock()
	if ok {
		return p.cert, p.pem, nil
	}
	cert, err := gmcrypto.ParseCertificate(der)
	if err != nil {
		return nil, "", err
	}
	p = certParsed{cert: cert, pem: pemBlock("CERTIFICATE", der)}
	certMemo.mu.Lock()
	if certMemo.m == nil || len(certMemo.m) >= certMemoEntries {
		certMemo.m = make(map[string]certParsed) // start again when full
	}
	certMemo.m[string(der)] = p
	certMemo.mu.Unlock()
	return p.cert, p.pem, nil
}

// A device's public key is parsed, checked and PEM-encoded every time its
// record becomes a Device: on every signed phone request (twice per
// session). deviceKeyMemo keeps what recent keys parsed to, keyed by their
// exact DER bytes, like certMemo; the record itself (and so a revocation)
// is still read from the store every time. The parsed key is shared
// read-only, which also lets gmsm reuse what it derives per key object.
type deviceKeyParsed struct {
	pub crypto.PublicKey
	alg gmcrypto.Alg
	pem string
}

var deviceKeyMemo struct {
	mu sync.Mutex
	m  map[string]deviceKeyParsed
}

// parseDeviceKeyMemo is gmcrypto.ParseDevicePublicKey(der), its
// algorithm and its PEM block, from the memo when der was parsed recently.
func parseDeviceKeyMemo(der []byte) (deviceKeyParsed, error) {
	deviceKeyMemo.mu.Lock()
	p, ok := deviceKeyMemo.m[string(der)]
	deviceKeyMemo.mu.Unlock()
	if ok {
		return p, nil
	}
	pub, err := gmcrypto.ParseDevicePublicKey(der)
	if err != nil {
		return deviceKeyParsed{}, err
	}
	alg, err := gmcrypto.DeviceKeyAlg(pub)
	if err != nil {
		return deviceKeyParsed{}, err
	}
	p = deviceKeyParsed{pub: pub, alg: alg, pem: pemBlock("PUBLIC KEY", der)}
	deviceKeyMemo.mu.Lock()
	if deviceKeyMemo.m == nil || len(deviceKeyMemo.m) >= certMemoEntries {
		deviceKeyMemo.m = make(map[string]deviceKeyParsed) // start again when full
	}
	deviceKeyMemo.m[string(der)] = p
	deviceKeyMemo.mu.Unlock()
	return p, nil
}
