package seal

import (
	"os"
	"path/filepath"
	"testing"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

func TestSealAndVerify(t *testing.T) {
	for _, alg := range []gmcrypto.Alg{gmcrypto.AlgRSA, gmcrypto.AlgSM2} {
		t.Run(string(alg), func(t *testing.T) {
			p := newPKI(t, alg)
			in := testPDF(t, bidPages(), 0)
			out, err := Seal(in, sealOptions(t, p, Placement{Page: 1, XMM: 150, YMM: 240}))
			if err != nil {
				t.Fatal(err)
			}
			if string(out[:len(in)]) != string(in) {
				t.Fatal("original bytes changed")
			}
			os.WriteFile(filepath.Join(os.TempDir(), "sealed-"+string(alg)+".pdf"), out, 0o644)
			sigs, err := Verify(out)
			if err != nil {
				t.Fatal(err)
			}
			if len(sigs) != 1 {
				t.Fatalf("%d signatures", len(sigs))
			}
			s := sigs[0]
			t.Logf("%+v", s)
			if !s.Valid || !s.CoversWholeDocument || s.Modified || !s.SigningCertificateV2 || !s.SealValid {
				t.Fatalf("signature %+v", s)
			}
		})
	}
}
