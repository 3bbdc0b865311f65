package qrlogin_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/qrlogin"
)

func ExampleChallenge_Bytes() {
	c := qrlogin.Challenge{
		Session: "AbCdEfGhIjKlMn0_",
		App:     "app_procurement",
		Origin:  "https://bid.example.gov.cn",
		Nonce:   "q1w2e3r4t5y6u7i8o9p0aa",
		Time:    time.Date(2026, 3, 1, 17, 4, 5, 999, time.FixedZone("CST", 8*3600)),
	}
	fmt.Println(string(c.Bytes()))
	// Output:
	// {"session":"AbCdEfGhIjKlMn0_","app":"app_procurement","origin":"https://bid.example.gov.cn","nonce":"q1w2e3r4t5y6u7i8o9p0aa","time":"2026-03-01T09:04:05Z"}
}

var t0 = time.Date(2026, 3, 1, 9, 4, 5, 0, time.UTC)

func sample() qrlogin.Challenge {
	return qrlogin.Challenge{Session: "AbCdEfGhIjKlMn0_", App: "app1", Origin: "https://bid.example.gov.cn", Nonce: "n0nce", Time: t0}
}

func TestNewChallenge(t *testing.T) {
	a, err := qrlogin.NewChallenge("AbCdEfGhIjKlMn0_", "app1", "https://bid.example.gov.cn", t0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := qrlogin.NewChallenge("AbCdEfGhIjKlMn0_", "app1", "https://bid.example.gov.cn", t0)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(a.Nonce)
	if err != nil || len(raw) < 16 {
		t.Errorf("nonce %q is not ≥ 128 bits of base64url", a.Nonce)
	}
	if a.Nonce == b.Nonce {
		t.Errorf("two challenges share the nonce %q", a.Nonce)
	}
	for _, bad := range [][3]string{{"", "a", "o"}, {"s", "", "o"}, {"s", "a", ""}, {"s", "a\xff", "o"}} {
		if _, err := qrlogin.NewChallenge(bad[0], bad[1], bad[2], t0); !errors.Is(err, qrlogin.ErrInvalidChallenge) {
			t.Errorf("NewChallenge(%q) = %v, want ErrInvalidChallenge", bad, err)
		}
	}
	if _, err := qrlogin.NewChallenge("s", "a", "o", time.Time{}); !errors.Is(err, qrlogin.ErrInvalidChallenge) {
		t.Errorf("NewChallenge at the zero time = %v, want ErrInvalidChallenge", err)
	}
}

func TestParseChallengeRoundTrip(t *testing.T) {
	for _, c := range []qrlogin.Challenge{
		sample(),
		{Session: "s", App: "应用", Origin: "https://例子.cn", Nonce: `a"b\c<d>&`, Time: t0.Add(time.Hour)},
	} {
		b := c.Bytes()
		got, err := qrlogin.ParseChallenge(b)
		if err != nil {
			t.Fatalf("ParseChallenge(%s): %v", b, err)
		}
		if got != c || !bytes.Equal(got.Bytes(), b) {
			t.Errorf("round trip of %s gave %+v", b, got)
		}
	}
}

func TestParseChallengeRejects(t *testing.T) {
	good := string(sample().Bytes())
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"not JSON", "hello"},
		{"array", `["AbCdEfGhIjKlMn0_"]`},
		{"space after colon", strings.Replace(good, `"app":"`, `"app": "`, 1)},
		{"newline at end", good + "\n"},
		{"trailing garbage", good + "{}"},
		{"reordered", `{"app":"app1","session":"AbCdEfGhIjKlMn0_","origin":"https://bid.example.gov.cn","nonce":"n0nce","time":"2026-03-01T09:04:05Z"}`},
		{"unknown field", strings.Replace(good, `{`, `{"extra":1,`, 1)},
		{"missing nonce", `{"session":"AbCdEfGhIjKlMn0_","app":"app1","origin":"https://bid.example.gov.cn","time":"2026-03-01T09:04:05Z"}`},
		{"empty origin", strings.Replace(good, `"https://bid.example.gov.cn"`, `""`, 1)},
		{"duplicate member", strings.Replace(good, `{`, `{"session":"other",`, 1)},
		{"local time", strings.Replace(good, `09:04:05Z`, `17:04:05+08:00`, 1)},
		{"fractional seconds", strings.Replace(good, `05Z`, `05.5Z`, 1)},
		{"not a time", strings.Replace(good, `2026-03-01T09:04:05Z`, `yesterday`, 1)},
		{"number time", strings.Replace(good, `"2026-03-01T09:04:05Z"`, `1772355845`, 1)},
		{"escaped slash", strings.Replace(good, `https://`, `https:\/\/`, 1)},
		{"invalid UTF-8", strings.Replace(good, `app1`, "app\xff", 1)},
		{"too long", strings.Replace(good, `n0nce`, strings.Repeat("n", qrlogin.MaxChallengeLen), 1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := qrlogin.ParseChallenge([]byte(tc.in)); !errors.Is(err, qrlogin.ErrInvalidChallenge) {
				t.Errorf("ParseChallenge(%q) = %v, want ErrInvalidChallenge", tc.in, err)
			}
		})
	}
}

func TestChallengeCheck(t *testing.T) {
	c := sample()
	s, a, o := c.Session, c.App, c.Origin
	tests := []struct {
		name            string
		sess, app, orig string
		now             time.Time
		maxAge          time.Duration
		want            error
	}{
		{"fresh", s, a, o, t0.Add(10 * time.Second), time.Minute, nil},
		{"exactly max age", s, a, o, t0.Add(time.Minute), time.Minute, nil},
		{"slightly in the future", s, a, o, t0.Add(-30 * time.Second), time.Minute, nil},
		{"too old", s, a, o, t0.Add(time.Minute + time.Second), time.Minute, qrlogin.ErrChallengeExpired},
		{"far future", s, a, o, t0.Add(-qrlogin.MaxClockSkew - time.Second), time.Minute, qrlogin.ErrChallengeExpired},
		{"zero max age", s, a, o, t0, 0, qrlogin.ErrChallengeExpired},
		{"other session", "BbCdEfGhIjKlMn0_", a, o, t0, time.Minute, qrlogin.ErrChallengeMismatch},
		{"other app", s, "app2", o, t0, time.Minute, qrlogin.ErrChallengeMismatch},
		{"other origin", s, a, "https://evil.example.com", t0, time.Minute, qrlogin.ErrChallengeMismatch},
		{"empty expectations", "", "", "", t0, time.Minute, qrlogin.ErrChallengeMismatch},
		{"app and origin not checked", s, "", "", t0, time.Minute, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := c.Check(tc.sess, tc.app, tc.orig, tc.now, tc.maxAge)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Check = %v, want %v", err, tc.want)
			}
		})
	}
}

// FuzzParseChallenge: never panics; whatever is accepted is canonical.
func FuzzParseChallenge(f *testing.F) {
	f.Add(sample().Bytes())
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := qrlogin.ParseChallenge(b)
		if err != nil {
			if !errors.Is(err, qrlogin.ErrInvalidChallenge) {
				t.Fatalf("error %v is not ErrInvalidChallenge", err)
			}
			return
		}
		if !bytes.Equal(c.Bytes(), b) {
			t.Fatalf("accepted non-canonical %q", b)
		}
	})
}
