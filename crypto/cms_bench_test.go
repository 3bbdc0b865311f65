package crypto

import (
	"bytes"
	"testing"
)

// Run with: go test ./crypto -run '^$' -bench CMS -benchtime 2s

func BenchmarkSignCMSSM2(b *testing.B) {
	p := cmsPKI(b, true)
	content := bytes.Repeat([]byte("b"), 1024)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := SignCMS(p.leafKey, p.leaf, p.chain, content, true); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyCMSSM2(b *testing.B) {
	p := cmsPKI(b, true)
	content := bytes.Repeat([]byte("b"), 1024)
	der, err := SignCMS(p.leafKey, p.leaf, p.chain, content, true)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := VerifyCMS(der, content); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpenCMSSM2(b *testing.B) {
	p := cmsPKI(b, true)
	env, err := EnvelopeCMS(bytes.Repeat([]byte("b"), 1024), p.leaf)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := OpenCMS(env, p.leaf, p.leafKey); err != nil {
			b.Fatal(err)
		}
	}
}
