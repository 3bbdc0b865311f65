package server

import (
	"net"
	"strings"
	"testing"
)

func TestPublicURLMismatch(t *testing.T) {
	tcp := func(s string) net.Addr {
		a, err := net.ResolveTCPAddr("tcp", s)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	for _, tc := range []struct {
		name      string
		publicURL string
		listen    string
		tls       bool
		want      []string // substrings of the warning; none: no warning
	}{
		{"same", "http://127.0.0.1:8080", "127.0.0.1:8080", false, nil},
		{"trailing slash", "http://127.0.0.1:8080/", "127.0.0.1:8080", false, nil},
		{"localhost", "http://localhost:8080", "127.0.0.1:8080", false, nil},
		{"listen port changed", "http://127.0.0.1:8080", "127.0.0.1:8081", false,
			[]string{"points at port 8080", "listens on 127.0.0.1:8081", "set public_url to http://127.0.0.1:8081"}},
		{"localhost port changed", "http://localhost:8080", "127.0.0.1:9000", false, []string{"set public_url to http://localhost:9000"}},
		{"default port", "http://127.0.0.1", "127.0.0.1:8080", false, []string{"points at port 80 "}},
		{"all interfaces", "http://127.0.0.1:8080", "0.0.0.0:8443", false, []string{"points at port 8080"}},
		{"IPv6 loopback", "http://[::1]:8080", "[::1]:8081", false, []string{"set public_url to http://[::1]:8081"}},
		{"https without tls", "https://127.0.0.1:8080", "127.0.0.1:8080", false, []string{"is https but the gateway serves http", "http://127.0.0.1:8080"}},
		{"http with tls", "http://127.0.0.1:8443", "127.0.0.1:8443", true, []string{"https://127.0.0.1:8443"}},
		{"https with tls", "https://localhost:8443", "127.0.0.1:8443", true, nil},
		{"behind a proxy", "https://ukey.example.com", "127.0.0.1:8080", false, nil},
		{"another host's address", "http://192.0.2.7:8080", "127.0.0.1:9090", false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := publicURLMismatch(tc.publicURL, tcp(tc.listen), tc.tls)
			if len(tc.want) == 0 {
				if got != "" {
					t.Fatalf("warning %q, want none", got)
				}
				return
			}
			if got == "" {
				t.Fatalf("no warning, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("warning %q lacks %q", got, w)
				}
			}
		})
	}
}
