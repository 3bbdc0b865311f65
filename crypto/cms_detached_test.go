package crypto_test

import (
	"errors"
	"testing"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

func TestCMSDetached(t *testing.T) {
	for _, alg := range []gmcrypto.Alg{gmcrypto.AlgSM2, gmcrypto.AlgRSA} {
		key, err := gmcrypto.GenerateKey(alg, 2048)
		if err != nil {
			t.Fatal(err)
		}
		cert := selfSigned(t, key, "detached test")
		for _, detached := range []bool{false, true} {
			der, err := gmcrypto.SignCMS(key, cert, nil, []byte("bid"), detached)
			if err != nil {
				t.Fatal(err)
			}
			got, err := gmcrypto.CMSDetached(der)
			if err != nil || got != detached {
				t.Errorf("%s detached=%v: CMSDetached = %v, %v", alg, detached, got, err)
			}
		}
		env, err := gmcrypto.EnvelopeCMS([]byte("bid"), cert)
		if err != nil {
			t.Fatal(err)
		}
		for name, in := range map[string][]byte{"enveloped": env, "garbage": []byte("not cms"), "empty": nil} {
			if _, err := gmcrypto.CMSDetached(in); !errors.Is(err, gmcrypto.ErrMalformed) {
				t.Errorf("%s %s: err %v, want ErrMalformed", alg, name, err)
			}
		}
	}
}
