package crypto_test

import (
	"errors"
	"testing"

	"github.com/emmansun/gmsm/smx509"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

func TestCMSCounts(t *testing.T) {
	key, err := gmcrypto.GenerateKey(gmcrypto.AlgSM2, 0)
	if err != nil {
		t.Fatal(err)
	}
	cert := selfSigned(t, key, "counts test")
	extra := selfSigned(t, key, "counts extra")
	for _, tc := range []struct {
		name  string
		chain []*smx509.Certificate
		certs int
	}{
		{"signer only", nil, 1},
		{"signer and one more", []*smx509.Certificate{extra}, 2},
	} {
		der, err := gmcrypto.SignCMS(key, cert, tc.chain, []byte("bid"), true)
		if err != nil {
			t.Fatal(err)
		}
		signers, certs, err := gmcrypto.CMSCounts(der)
		if err != nil || signers != 1 || certs != tc.certs {
			t.Errorf("%s: CMSCounts = %d signers, %d certificates, %v; want 1, %d", tc.name, signers, certs, err, tc.certs)
		}
	}
	env, err := gmcrypto.EnvelopeCMS([]byte("bid"), cert)
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string][]byte{"enveloped": env, "garbage": []byte("not cms"), "empty": nil} {
		if _, _, err := gmcrypto.CMSCounts(in); !errors.Is(err, gmcrypto.ErrMalformed) {
			t.Errorf("%s: err %v, want ErrMalformed", name, err)
		}
	}
}
