package qrlogin_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/qrlogin"
)

const (
	testID    = "AbCdEfGhIjKlMn0_"
	testNonce = "zY-x9w8v7u6t5s4r"
	testURL   = "https://ukey.example.com"
)

// longestURL is a valid public_url of exactly MaxPublicURLLen characters.
var longestURL = "https://" + strings.Repeat("a", qrlogin.MaxPublicURLLen-len("https://")-len(".cn")) + ".cn"

func TestCheckPublicURL(t *testing.T) {
	if len(longestURL) != 64 || qrlogin.MaxPublicURLLen != 64 {
		t.Fatalf("longest public_url is %d characters, limit %d; want both 64", len(longestURL), qrlogin.MaxPublicURLLen)
	}
	tests := []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:8080", true},
		{"https://ukey.example.com", true},
		{"https://ukey.example.com/", true},
		{"https://example.com/ukeygate", true},
		{"https://[::1]:8443", true},
		{longestURL, true},
		{longestURL + "/", true},
		{longestURL + "x", false},
		{"", false},
		{"/", false},
		{"ukey.example.com", false},
		{"ftp://ukey.example.com", false},
		{"HTTPS://ukey.example.com", false},
		{"https://", false},
		{"https:///path", false},
		{"https://user:pw@ukey.example.com", false},
		{"https://ukey.example.com?x=1", false},
		{"https://ukey.example.com/?", false},
		{"https://ukey.example.com#frag", false},
		{"https://ukey example.com", false},
		{"https://ukey.example.com/a b", false},
		{"https://ключ.рф", false},
		{"https://ukey.example.com/%zz", false},
		{"mailto:someone@example.com", false},
	}
	for _, tc := range tests {
		err := qrlogin.CheckPublicURL(tc.url)
		if tc.ok && err != nil {
			t.Errorf("CheckPublicURL(%q) = %v, want nil", tc.url, err)
		}
		if !tc.ok && !errors.Is(err, qrlogin.ErrInvalidPublicURL) {
			t.Errorf("CheckPublicURL(%q) = %v, want ErrInvalidPublicURL", tc.url, err)
		}
	}
}

func TestEncodeParseRoundTrip(t *testing.T) {
	for _, base := range []string{"http://127.0.0.1:8080", testURL, testURL + "/", "https://example.com/ukeygate", longestURL} {
		p := qrlogin.Encode(base, testID, testNonce)
		if len(p) > qrlogin.MaxPayloadLen {
			t.Errorf("payload %q has %d characters, more than %d", p, len(p), qrlogin.MaxPayloadLen)
		}
		if want := strings.TrimSuffix(base, "/") + "/q/" + testID + "." + testNonce; p != want {
			t.Errorf("Encode = %q, want %q", p, want)
		}
		id, nonce, err := qrlogin.Parse(p, base)
		if err != nil || id != testID || nonce != testNonce {
			t.Errorf("Parse(%q) = %q, %q, %v", p, id, nonce, err)
		}
	}
	if p := qrlogin.Encode(longestURL, testID, testNonce); len(p) != 100 {
		t.Errorf("payload under the longest public_url has %d characters, want exactly 100", len(p))
	}
}

func TestParseRejects(t *testing.T) {
	ref := testID + "." + testNonce
	tests := []struct{ name, payload string }{
		{"empty", ""},
		{"other host", "https://evil.example.com/q/" + ref},
		{"host suffix", "https://ukey.example.com.evil.cn/q/" + ref},
		{"http instead of https", "http://ukey.example.com/q/" + ref},
		{"explicit port", "https://ukey.example.com:443/q/" + ref},
		{"upper-case host", "https://UKEY.example.com/q/" + ref},
		{"other path", "https://ukey.example.com/x/" + ref},
		{"extra path", "https://ukey.example.com/q/x/" + ref},
		{"trailing slash", "https://ukey.example.com/q/" + ref + "/"},
		{"query", "https://ukey.example.com/q/" + ref + "?a=1"},
		{"fragment", "https://ukey.example.com/q/" + ref + "#x"},
		{"no dot", "https://ukey.example.com/q/" + testID + testNonce},
		{"dot misplaced", "https://ukey.example.com/q/" + testID[:15] + "." + testID[15:] + testNonce},
		{"short id", "https://ukey.example.com/q/" + testID[1:] + "." + testNonce},
		{"short nonce", "https://ukey.example.com/q/" + testID + "." + testNonce[1:]},
		{"long nonce", "https://ukey.example.com/q/" + ref + "A"},
		{"bad char in id", "https://ukey.example.com/q/" + "AbCdEfGhIjKlMn0+" + "." + testNonce},
		{"padding", "https://ukey.example.com/q/" + testID + "." + testNonce[:15] + "="},
		{"percent-encoded", "https://ukey.example.com/q/" + "AbCdEfGhIjKlM%41" + "." + testNonce},
		{"space", " https://ukey.example.com/q/" + ref},
		{"over 100", "https://ukey.example.com/q/" + ref + strings.Repeat("a", 100)},
		{"non-ASCII", "https://ukey.example.com/q/" + "AbCdEfGhIjKlMn0é"[:16] + "." + testNonce},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, nonce, err := qrlogin.Parse(tc.payload, testURL)
			if !errors.Is(err, qrlogin.ErrInvalidPayload) || id != "" || nonce != "" {
				t.Errorf("Parse(%q) = %q, %q, %v; want ErrInvalidPayload", tc.payload, id, nonce, err)
			}
		})
	}
	if _, _, err := qrlogin.Parse("/q/"+ref, ""); !errors.Is(err, qrlogin.ErrInvalidPayload) {
		t.Errorf("Parse with an empty public_url = %v, want ErrInvalidPayload", err)
	}
}

// FuzzParse: Parse never panics, and whatever it accepts is exactly the
// encoding of what it returns, within the length bound.
func FuzzParse(f *testing.F) {
	f.Add("https://ukey.example.com/q/" + testID + "." + testNonce)
	f.Add("https://ukey.example.com/q/")
	f.Add("")
	f.Fuzz(func(t *testing.T, payload string) {
		id, nonce, err := qrlogin.Parse(payload, testURL)
		if err != nil {
			if !errors.Is(err, qrlogin.ErrInvalidPayload) {
				t.Fatalf("Parse(%q) error %v is not ErrInvalidPayload", payload, err)
			}
			return
		}
		if len(payload) > qrlogin.MaxPayloadLen || len(id) != qrlogin.IDLen || len(nonce) != qrlogin.NonceLen {
			t.Fatalf("Parse(%q) accepted bad lengths: %q %q", payload, id, nonce)
		}
		if qrlogin.Encode(testURL, id, nonce) != payload {
			t.Fatalf("Parse(%q) = %q, %q, which does not encode back", payload, id, nonce)
		}
	})
}

func ExampleEncode() {
	payload := qrlogin.Encode("https://ukey.example.com", "AbCdEfGhIjKlMn0_", "zY-x9w8v7u6t5s4r")
	fmt.Println(payload, len(payload))
	id, nonce, err := qrlogin.Parse(payload, "https://ukey.example.com")
	fmt.Println(id, nonce, err)
	// Output:
	// https://ukey.example.com/q/AbCdEfGhIjKlMn0_.zY-x9w8v7u6t5s4r 60
	// AbCdEfGhIjKlMn0_ zY-x9w8v7u6t5s4r <nil>
}
