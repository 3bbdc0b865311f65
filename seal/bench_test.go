package seal

import (
	"testing"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

// BenchmarkSeal seals a 1 MB, 20-page PDF (one seal on the last page);
// seals/s is reported.
func BenchmarkSeal(b *testing.B) {
	pages := make([][]string, 20)
	for i := range pages {
		pages[i] = []string{"Bid document", "page text"}
	}
	pdf := testPDF(b, pages, 1<<20-20*400)
	if len(pdf) < 1<<20-4096 || len(pdf) > 1<<20+4096 {
		b.Fatalf("test PDF is %d bytes, want about 1 MB", len(pdf))
	}
	for _, alg := range []gmcrypto.Alg{gmcrypto.AlgSM2, gmcrypto.AlgRSA} {
		b.Run(string(alg), func(b *testing.B) {
			p := newPKI(b, alg)
			o := sealOptions(b, p, Placement{Page: 20, XMM: 150, YMM: 240})
			b.SetBytes(int64(len(pdf)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := Seal(pdf, o); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "seals/s")
		})
	}
}

// BenchmarkVerify verifies the sealed 1 MB, 20-page PDF.
func BenchmarkVerify(b *testing.B) {
	pages := make([][]string, 20)
	for i := range pages {
		pages[i] = []string{"Bid document"}
	}
	p := newPKI(b, gmcrypto.AlgSM2)
	out, err := Seal(testPDF(b, pages, 1<<20-20*400), sealOptions(b, p, Placement{Page: 20, XMM: 150, YMM: 240}))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if s, err := Verify(out); err != nil || len(s) != 1 || !s[0].Valid {
			b.Fatal(err)
		}
	}
}
