package api

import (
	"context"
	"encoding/base64"
	"errors"
	"reflect"
	"testing"
	"time"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/session"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

// FuzzDecodeSessionRequest: any body of POST /v1/sessions decodes to a
// request or one of the decoding/validation errors, mapped to a stable
// code (never a panic, never "internal"); a request the session package
// accepts is stored and read back unchanged.
func FuzzDecodeSessionRequest(f *testing.F) {
	f.Add([]byte(`{"kind":"sign","format":"cms-detached","documents":[{"name":"a","data":"YWJj"},{"name":"b","digest":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}],"display":{"title":"t"}}`))
	f.Add([]byte(`{"kind":"decrypt","ciphertext":"AQID","ciphertext_format":"cms","return_key":true,"ttl_seconds":30}`))
	// A raw SM2 ciphertext without the 04 prefix (npm sm-crypto's shape).
	k, err := gmcrypto.GenerateKey(gmcrypto.AlgSM2, 0)
	if err != nil {
		f.Fatal(err)
	}
	ct, err := gmcrypto.Encrypt(k.Public(), []byte("bid"), gmcrypto.FormatC1C2C3)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"kind":"decrypt","ciphertext":"` + base64.StdEncoding.EncodeToString(ct[1:]) + `","ciphertext_format":"c1c2c3"}`))
	cfg := session.DefaultConfig()
	cfg.ResultKey = make([]byte, 16)
	svc, err := session.New(storagetest.MustOpen(f), cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = svc.Close() })
	mapped := func(t *testing.T, err error) {
		t.Helper()
		if _, code, ok := lookupError(err); !ok || code == CodeInternal {
			t.Fatalf("%v maps to %q", err, code)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req SessionRequest
		if err := decodeBody("application/json", body, &req); err != nil {
			if !errors.Is(err, ErrMalformedJSON) && !errors.Is(err, ErrUnknownField) &&
				!errors.Is(err, ErrInvalidRequest) && !errors.Is(err, session.ErrTTL) {
				t.Fatalf("unexpected error %v", err)
			}
			mapped(t, err)
			return
		}
		ctx := context.Background()
		sess, _, _, err := svc.Create(ctx, session.CreateParams{
			Kind: req.Kind, AppID: "app_fuzz", Origin: "https://fuzz.example",
			Request: req.sessionRequest(), TTL: time.Duration(req.TTLSeconds) * time.Second,
		})
		if err != nil {
			if !errors.Is(err, session.ErrInvalidRequest) && !errors.Is(err, session.ErrTTL) &&
				!errors.Is(err, session.ErrBadCiphertext) && !errors.Is(err, session.ErrTooLarge) {
				t.Fatalf("unexpected error %v", err)
			}
			mapped(t, err)
			return
		}
		got, err := svc.Get(ctx, sess.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Request, sess.Request) {
			t.Fatalf("stored request differs:\n%+v\n%+v", got.Request, sess.Request)
		}
	})
}
