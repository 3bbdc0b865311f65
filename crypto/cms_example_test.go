package crypto_test

import (
	"crypto/rand"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log"
	"math/big"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

// exampleSM2Identity makes an SM2 key and a self-signed certificate for it.
func exampleSM2Identity(name string) (*sm2.PrivateKey, *smx509.Certificate) {
	key, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	tmpl := &smx509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     smx509.KeyUsageDigitalSignature | smx509.KeyUsageKeyEncipherment,
	}
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		log.Fatal(err)
	}
	cert, err := smx509.ParseCertificate(der)
	if err != nil {
		log.Fatal(err)
	}
	return key, cert
}

func ExampleSignCMS() {
	key, cert := exampleSM2Identity("bidder")
	bid := []byte("bid: 1,000,000 CNY")

	sig, err := gmcrypto.SignCMS(key, cert, nil, bid, true) // detached
	if err != nil {
		log.Fatal(err)
	}
	kind, _ := gmcrypto.CMSKind(sig)
	res, err := gmcrypto.VerifyCMS(sig, bid)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(kind, res.Signers[0].Subject.CommonName)

	_, err = gmcrypto.VerifyCMS(sig, []byte("bid: 9,000,000 CNY"))
	fmt.Println(errors.Is(err, gmcrypto.ErrVerification))
	// Output:
	// signed-data bidder
	// true
}

func ExampleEnvelopeCMS() {
	key, cert := exampleSM2Identity("tender office")

	env, err := gmcrypto.EnvelopeCMS([]byte("sealed bid"), cert)
	if err != nil {
		log.Fatal(err)
	}
	plain, err := gmcrypto.OpenCMS(env, cert, key)
	if err != nil {
		log.Fatal(err)
	}
	cek, alg, err := gmcrypto.OpenCMSKey(env, cert, key)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s; %d-byte key for %v\n", plain, len(cek), alg)
	// Output:
	// sealed bid; 16-byte key for 1.2.156.10197.1.104.2
}
