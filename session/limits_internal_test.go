package session

import (
	"encoding/json"
	"math/big"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/emmansun/gmsm/smx509"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

// jsonLenCases are strings whose JSON length jsonLen must count as
// json.Marshal writes them: every byte alone, the escapes, HTML
// characters, line and paragraph separators, invalid UTF-8, and the kinds
// of text ResultBound measures.
func jsonLenCases() []string {
	cases := []string{"", "sess_0123456789abcdef", "https://portal.example.com:8443", "登录 ukeygate",
		"a\u2028b\u2029c", "\xff\xfe", "\xe4\xb8", "a<b>&c", "\"quoted\" \\ back", "\t\r\n\b\f\x00\x1f\x7f",
		"-----BEGIN CERTIFICATE-----\nMIIB+/==\n-----END CERTIFICATE-----\n", "\U0001F600 emoji", "\xed\xa0\x80 surrogate"}
	for b := range 256 {
		cases = append(cases, string([]byte{byte(b)}), "x"+string([]byte{byte(b)})+"y")
	}
	return append(cases, strings.Repeat("é<\n", 100))
}

func TestJSONLen(t *testing.T) {
	for _, s := range jsonLenCases() {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := jsonLen(s); got != len(b) {
			t.Fatalf("jsonLen(%q) = %d, json.Marshal writes %d bytes: %s", s, got, len(b), b)
		}
	}
}

func FuzzJSONLen(f *testing.F) {
	for _, s := range jsonLenCases() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := jsonLen(s); got != len(b) {
			t.Fatalf("jsonLen(%q) = %d, json.Marshal writes %d bytes (valid UTF-8: %v)", s, got, len(b), utf8.ValidString(s))
		}
	})
}

// TestResultBoundPEM: ResultBound counts the certificate chain's PEM as a
// JSON string without encoding it, to the byte of what encoding it gives.
func TestResultBoundPEM(t *testing.T) {
	s := &Session{ID: "sess_1", AppID: "app_1", Origin: "https://portal.example", Kind: KindLogin}
	cert := func(n int) *smx509.Certificate {
		return &smx509.Certificate{Raw: make([]byte, n), RawIssuer: []byte("issuer"), SerialNumber: big.NewInt(int64(n + 1))}
	}
	for n := range 150 {
		for _, chain := range [][]*smx509.Certificate{nil, {cert(n + 7)}, {cert(3 * n), cert(700)}} {
			leaf := cert(n)
			all := append([]*smx509.Certificate{leaf}, chain...)
			pemJSON, err := json.Marshal(string(gmcrypto.EncodeCertificatesPEM(all...)))
			if err != nil {
				t.Fatal(err)
			}
			certs := 0
			for _, c := range all {
				certs += len(c.Raw)
			}
			want := resultBound(s, signerSizes{pemJSON: len(pemJSON), certs: certs, sig: sigMax(leaf), sid: len(leaf.RawIssuer) + len(leaf.SerialNumber.Bytes())})
			if got := ResultBound(s, leaf, chain); got != want {
				t.Fatalf("leaf of %d bytes, chain of %d: ResultBound = %d, with the PEM encoded %d", n, len(chain), got, want)
			}
		}
	}
}
