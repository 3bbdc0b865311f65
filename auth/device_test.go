package auth

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

// deviceTable is a DeviceKeys over a fixed set of devices.
type deviceTable map[string]crypto.PublicKey

func (d deviceTable) DeviceKey(_ context.Context, id string) (crypto.PublicKey, string, error) {
	pub, ok := d[id]
	if !ok {
		return nil, "", fmt.Errorf("%w: %s", ErrDeviceUnknown, id)
	}
	return pub, "usr_" + id, nil
}

// clock is a settable clock for the verifier.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

type deviceFixture struct {
	st    storage.Store
	srv   *httptest.Server
	key   crypto.Signer
	clock *clock
}

func newDeviceFixture(t *testing.T) *deviceFixture {
	t.Helper()
	key, err := gmcrypto.GenerateKey(gmcrypto.AlgSM2, 0)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey := testRSAKey(t)
	f := &deviceFixture{st: storagetest.MustOpen(t), key: key, clock: &clock{t: time.Now()}}
	cfg := DefaultDeviceConfig()
	cfg.Now = f.clock.now
	v, err := NewDeviceVerifier(f.st, deviceTable{"dev_phone": key.Public(), "dev_rsa": rsaKey.Public()}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		dev, user, err := v.VerifyDeviceRequest(r.Context(), r, body)
		if err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, err.Error())
			return
		}
		fmt.Fprintf(w, "%s %s", dev, user)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// do sends req and returns the error text the server answered ("" for OK).
func (f *deviceFixture) do(t *testing.T, req *http.Request) string {
	t.Helper()
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		if string(b) != "dev_phone usr_dev_phone" {
			t.Fatalf("verified as %q", b)
		}
		return ""
	}
	return string(b)
}

func (f *deviceFixture) request(t *testing.T, method, path string, body []byte) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestVerifyDeviceRequest(t *testing.T) {
	body := []byte(`{"issuer":"iss_sm2","alg":"SM2","purpose":"sign","pin":"135790"}`)
	other, err := gmcrypto.GenerateKey(gmcrypto.AlgSM2, 0)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		// prepare builds and signs the request; it may spoil it afterwards.
		prepare func(t *testing.T, f *deviceFixture) *http.Request
		want    error // nil: accepted
	}{
		{"signed POST", func(t *testing.T, f *deviceFixture) *http.Request {
			r := f.request(t, "POST", "/v1/me/credentials", body)
			mustSign(t, r, body, "dev_phone", f.key, f.clock.t)
			return r
		}, nil},
		{"signed GET with query", func(t *testing.T, f *deviceFixture) *http.Request {
			r := f.request(t, "GET", "/v1/me/credentials?state=active&x=%2F", nil)
			mustSign(t, r, nil, "dev_phone", f.key, f.clock.t)
			return r
		}, nil},
		{"timestamp 299 s behind", func(t *testing.T, f *deviceFixture) *http.Request {
			r := f.request(t, "GET", "/v1/me/credentials", nil)
			mustSign(t, r, nil, "dev_phone", f.key, f.clock.t.Add(-299*time.Second))
			return r
		}, nil},
		{"missing signature", func(t *testing.T, f *deviceFixture) *http.Request {
			r := f.request(t, "POST", "/v1/me/credentials", body)
			mustSign(t, r, body, "dev_phone", f.key, f.clock.t)
			r.Header.Del(protocol.HeaderSignature)
			return r
		}, ErrMissingHeaders},
		{"no headers at all", func(t *testing.T, f *deviceFixture) *http.Request {
			return f.request(t, "GET", "/v1/me/credentials", nil)
		}, ErrMissingHeaders},
		{"short nonce", func(t *testing.T, f *deviceFixture) *http.Request {
			r := f.request(t, "GET", "/v1/me/credentials", nil)
			resign(t, r, nil, "dev_phone", f.key, f.clock.t, strings.Repeat("ab", 15))
			return r
		}, ErrMalformedHeaders},
		{"nonce not hex", func(t *testing.T, f *deviceFixture) *http.Request {
			r := f.request(t, "GET", "/v1/me/credentials", nil)
			resign(t, r, nil, "dev_phone", f.key, f.clock.t, strings.Repeat("zz", 16))
			return r
		}, ErrMalformedHeaders},
		{"timestamp not a number", func(t *testing.T, f *deviceFixture) *http.Request {
			r := f.request(t, "GET", "/v1/me/credentials", nil)
			mustSign(t, r, nil, "dev_phone", f.key, f.clock.t)
			r.Header.Set(protocol.HeaderTimestamp, "+"+r.Header.Get(protocol.HeaderTimestamp))
			return r
		}, ErrMalformedHeaders},
		{"signature not base64", func(t *testing.T, f *deviceFixture) *http.Request {
			r := f.request(t, "GET", "/v1/me/credentials", nil)
			mustSign(t, r, nil, "dev_phone", f.key, f.clock.t)
			r.Header.Set(protocol.HeaderSignature, "***")
			return r
		}, ErrMalformedHeaders},
		{"device id with a slash", func(t *testing.T, f *deviceFixture) *http.Request {
			r := f.request(t, "GET", "/v1/me/credentials", nil)
			mustSign(t, r, nil, "dev_phone/../x", f.key, f.clock.t)
			return r
		}, ErrMalformedHeaders},
		{"timestamp 301 s behind", func(t *testing.T, f *deviceFixture) *http.Request {
			r := f.request(t, "GET", "/v1/me/credentials", nil)
			mustSign(t, r, nil, "dev_phone", f.key, f.clock.t.Add(-301*time.Second))
			return r
		}, ErrStaleTimestamp},
		{"timestamp 301 s ahead", func(t *testing.T, f *deviceFixture) *http.Request {
			r := f.request(t, "GET", "/v1/me/credentials", nil)
			mustSign(t, r, nil, "dev_phone", f.key, f.clock.t.Add(301*time.Second))
			return r
		}, ErrStaleTimestamp},
		{"unknown device", func(t *testing.T, f *deviceFixture) *http.Request {
			r := f.request(t, "GET", "/v1/me/credentials", nil)
			mustSign(t, r, nil, "dev_other", f.key, f.clock.t)
			return r
		}, ErrDeviceUnknown},
		{"signed by another key", func(t *testing.T, f *deviceFixture) *http.Request {
			r := f.request(t, "GET", "/v1/me/credentials", nil)
			mustSign(t, r, nil, "dev_phone", other, f.clock.t)
			return r
		}, ErrBadSignature},
		{"body changed", func(t *testing.T, f *deviceFixture) *http.Request {
			r := f.request(t, "POST", "/v1/me/credentials", bytes.Replace(body, []byte("sign"), []byte("encrypt"), 1))
			mustSign(t, r, body, "dev_phone", f.key, f.clock.t)
			return r
		}, ErrBadSignature},
		{"query changed", func(t *testing.T, f *deviceFixture) *http.Request {
			r := f.request(t, "GET", "/v1/me/credentials?state=active", nil)
			mustSign(t, r, nil, "dev_phone", f.key, f.clock.t)
			r.URL.RawQuery = "state=revoked"
			return r
		}, ErrBadSignature},
		{"method changed", func(t *testing.T, f *deviceFixture) *http.Request {
			r := f.request(t, "PUT", "/v1/me/pin", body)
			mustSign(t, r, body, "dev_phone", f.key, f.clock.t)
			r.Method = "POST"
			return r
		}, ErrBadSignature},
		{"timestamp changed", func(t *testing.T, f *deviceFixture) *http.Request {
			r := f.request(t, "GET", "/v1/me/credentials", nil)
			mustSign(t, r, nil, "dev_phone", f.key, f.clock.t)
			r.Header.Set(protocol.HeaderTimestamp, fmt.Sprint(f.clock.t.Unix()-1))
			return r
		}, ErrBadSignature},
		{"signature in tjfoc raw r||s instead of DER", func(t *testing.T, f *deviceFixture) *http.Request {
			r := f.request(t, "GET", "/v1/me/credentials", nil)
			mustSign(t, r, nil, "dev_phone", f.key, f.clock.t)
			sig, _ := base64.StdEncoding.DecodeString(r.Header.Get(protocol.HeaderSignature))
			r.Header.Set(protocol.HeaderSignature, base64.StdEncoding.EncodeToString(sig[len(sig)-64:]))
			return r
		}, ErrBadSignature},
		{"device enrolled with an RSA key", func(t *testing.T, f *deviceFixture) *http.Request {
			r := f.request(t, "GET", "/v1/me/credentials", nil)
			mustSign(t, r, nil, "dev_rsa", f.key, f.clock.t)
			return r
		}, ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newDeviceFixture(t)
			before := dump(t, f.st)
			got := f.do(t, tt.prepare(t, f))
			if tt.want == nil {
				if got != "" {
					t.Fatalf("refused: %s", got)
				}
				if n := strings.Count(dump(t, f.st), "nonces/dev_phone/"); n != 1 {
					t.Fatalf("%d nonces recorded, want 1", n)
				}
				return
			}
			if !strings.HasPrefix(got, tt.want.Error()) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			if after := dump(t, f.st); after != before {
				t.Fatalf("a refused request changed the store: %q", after)
			}
		})
	}
}

func TestVerifyDeviceRequestReplay(t *testing.T) {
	f := newDeviceFixture(t)
	body := []byte(`{"old_pin":"135790","new_pin":"246802"}`)
	first := f.request(t, "PUT", "/v1/me/pin", body)
	mustSign(t, first, body, "dev_phone", f.key, f.clock.t)

	// A forged request carrying the same nonce is refused and does not
	// burn the nonce: the genuine request still goes through once.
	other, _ := gmcrypto.GenerateKey(gmcrypto.AlgSM2, 0)
	forged := f.request(t, "PUT", "/v1/me/pin", body)
	resign(t, forged, body, "dev_phone", other, f.clock.t, first.Header.Get(protocol.HeaderNonce))
	if got := f.do(t, forged); !strings.HasPrefix(got, ErrBadSignature.Error()) {
		t.Fatalf("forged: %q", got)
	}
	if got := f.do(t, clone(t, first, body)); got != "" {
		t.Fatalf("first: %q", got)
	}
	if got := f.do(t, clone(t, first, body)); !strings.HasPrefix(got, ErrReplayedNonce.Error()) {
		t.Fatalf("replay: %q", got)
	}
	// Same nonce in upper case is the same nonce.
	upper := f.request(t, "PUT", "/v1/me/pin", body)
	resign(t, upper, body, "dev_phone", f.key, f.clock.t, strings.ToUpper(first.Header.Get(protocol.HeaderNonce)))
	if got := f.do(t, upper); !strings.HasPrefix(got, ErrReplayedNonce.Error()) {
		t.Fatalf("upper-case replay: %q", got)
	}
	// The nonce is remembered in the store for twice the window plus the
	// margin for skewed nodes (NonceTTL: 2×300 s + 300 s).
	kvs, _, err := f.st.List(context.Background(), "nonces/dev_phone/")
	if err != nil || len(kvs) != 1 {
		t.Fatalf("nonces: %v, %v", kvs, err)
	}
	if ttl := time.Until(kvs[0].ExpiresAt); ttl < 890*time.Second || ttl > 901*time.Second {
		t.Fatalf("nonce TTL %s, want about 900 s", ttl)
	}
}

func TestDeviceConfigValidate(t *testing.T) {
	for _, skew := range []time.Duration{0, -time.Second, 500 * time.Millisecond, 25 * time.Hour} {
		if err := (DeviceConfig{ClockSkew: skew}).Validate(); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "device.clock_skew") {
			t.Errorf("skew %s: %v", skew, err)
		}
	}
	if err := DefaultDeviceConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

var rsaOnce = sync.OnceValues(func() (crypto.Signer, error) { return gmcrypto.GenerateKey(gmcrypto.AlgRSA, 2048) })

// testRSAKey is one RSA key shared by the tests (generating is slow).
func testRSAKey(t *testing.T) crypto.Signer {
	t.Helper()
	k, err := rsaOnce()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustSign(t *testing.T, r *http.Request, body []byte, dev string, key crypto.Signer, now time.Time) {
	t.Helper()
	if err := protocol.SignRequest(r, body, dev, key, now); err != nil {
		t.Fatal(err)
	}
}

// resign signs r with a chosen nonce (SignRequest always picks a fresh one).
func resign(t *testing.T, r *http.Request, body []byte, dev string, key crypto.Signer, now time.Time, nonce string) {
	t.Helper()
	ts := fmt.Sprint(now.Unix())
	sig, err := gmcrypto.Sign(key, protocol.CanonicalRequestHash(r.Method, r.URL.RequestURI(), ts, nonce, gmcrypto.SM3(body)), nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set(protocol.HeaderDevice, dev)
	r.Header.Set(protocol.HeaderTimestamp, ts)
	r.Header.Set(protocol.HeaderNonce, nonce)
	r.Header.Set(protocol.HeaderSignature, base64.StdEncoding.EncodeToString(sig))
}

func clone(t *testing.T, r *http.Request, body []byte) *http.Request {
	t.Helper()
	c := r.Clone(context.Background())
	c.Body = io.NopCloser(bytes.NewReader(body))
	return c
}
