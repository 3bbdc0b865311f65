package seal

import (
	"os"
	"path/filepath"
	"testing"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

// TestWriteSeeds regenerates the fuzz seeds in testdata/ when
// UKEYGATE_SEAL_SEEDS=1; otherwise it checks that they are there.
func TestWriteSeeds(t *testing.T) {
	if os.Getenv("UKEYGATE_SEAL_SEEDS") != "1" {
		for _, pat := range []string{"*.pdf", "*.png", "*.ses", "*.content"} {
			if m, _ := filepath.Glob(filepath.Join("testdata", pat)); len(m) == 0 {
				t.Fatalf("no fuzz seed testdata/%s", pat)
			}
		}
		return
	}
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join("testdata", name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	plain := testPDF(t, [][]string{{"Bid (seal): [SEAL HERE]"}, {"two"}}, 0)
	write("plain.pdf", plain)
	small, _ := CheckPNG(sealPNG(t, 24))
	write("seal.png", small.PNG)
	for _, alg := range []gmcrypto.Alg{gmcrypto.AlgRSA, gmcrypto.AlgSM2} {
		p := newPKI(t, alg)
		o := sealOptions(t, p, Placement{Page: 1, XMM: 100, YMM: 100})
		o.Image = small
		o.SES = nil
		out, err := Seal(plain, o)
		if err != nil {
			t.Fatal(err)
		}
		write("sealed-"+string(alg)+".pdf", out)
		write(string(alg)+".ses", p.sealDER)
	}
	write("text.content", []byte("q 1 0 0 1 10 10 cm BT /F1 12 Tf 56 785 Td 16 TL (Bid \\(seal\\): [SEAL HERE]) Tj T* [(A) -250 (B)] TJ 0 0 Td <41424344> Tj ' ET Q BI /W 1 /H 1 ID x EI"))
}
