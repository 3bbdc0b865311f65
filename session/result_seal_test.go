package session_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/session"
	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

// TestResultSealedAtRest (security review finding 4): after a completed
// decrypt session — plaintext, and content key (return_key) — no raw value
// in the store holds the plaintext, the content key or the result, in any
// encoding; yet Get, Events, Poll and Watch (stored and live events)
// deliver the result unchanged.
func TestResultSealedAtRest(t *testing.T) {
	k := opKey(t, gmcrypto.AlgSM2)
	for _, returnKey := range []bool{false, true} {
		name := "plaintext"
		if returnKey {
			name = "content key"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			secret, err := gmcrypto.RandomBytes(24)
			if err != nil {
				t.Fatal(err)
			}
			plain := append([]byte("开标: bid price 1,234,567 CNY / "), secret...)
			ct, err := gmcrypto.EnvelopeCMS(plain, k.Certificate)
			if err != nil {
				t.Fatal(err)
			}
			p := loginParams()
			p.Kind = session.KindDecrypt
			p.Request = session.Request{Ciphertext: ct, CiphertextFormat: "cms", ReturnKey: returnKey, Display: p.Request.Display}
			c := e.create(t, p)
			// A watcher from before the confirm gets the completed event
			// live, through the hub.
			live, err := e.svc.Watch(e.ctx, c.ID, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer live.Close()
			if _, err := e.svc.Scan(e.ctx, c.ID, c.nonce, device, user); err != nil {
				t.Fatal(err)
			}
			var result json.RawMessage
			if _, err := e.svc.Confirm(e.ctx, c.ID, device, func(s *session.Session) (json.RawMessage, error) {
				out, err := session.Perform(s, k, e.clock.Now())
				if err != nil {
					return nil, err
				}
				result = out.Result
				return out.Result, nil
			}); err != nil {
				t.Fatalf("Confirm: %v", err)
			}
			var dr protocol.DecryptResult
			if err := json.Unmarshal(result, &dr); err != nil {
				t.Fatal(err)
			}
			secrets := [][]byte{result, secret}
			if returnKey {
				if len(dr.ContentKey) == 0 || dr.Plaintext != nil {
					t.Fatalf("return_key result %s", result)
				}
				secrets = append(secrets, dr.ContentKey)
			} else {
				if !bytes.Equal(dr.Plaintext, plain) {
					t.Fatalf("decrypted %q", dr.Plaintext)
				}
				secrets = append(secrets, plain)
			}

			// Every raw value of the store, the session's keys included.
			kvs, _, err := e.st.List(e.ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			var sessionKeys int
			for _, kv := range kvs {
				if bytes.HasPrefix([]byte(kv.Key), []byte("sessions/"+c.ID)) {
					sessionKeys++
				}
				for _, s := range secrets {
					for enc, needle := range map[string][]byte{
						"raw": s, "base64": []byte(base64.StdEncoding.EncodeToString(s)),
						"base64 unpadded": []byte(base64.RawStdEncoding.EncodeToString(s)),
						"base64url":       []byte(base64.RawURLEncoding.EncodeToString(s)),
					} {
						if bytes.Contains(kv.Value, needle) {
							t.Fatalf("%s holds a secret (%s, %d bytes) in clear", kv.Key, enc, len(s))
						}
					}
				}
			}
			if sessionKeys < 4 { // the record and 3 events
				t.Fatalf("found %d keys of the session", sessionKeys)
			}

			// Stored once: in the completed event, not in the record.
			var sealedCopies int
			for _, kv := range kvs {
				if bytes.HasPrefix([]byte(kv.Key), []byte("sessions/"+c.ID)) {
					sealedCopies += bytes.Count(kv.Value, []byte(`"result_sealed"`))
				}
			}
			if sealedCopies != 1 {
				t.Fatalf("the result is stored %d times, want once", sealedCopies)
			}
			if got := e.get(t, c.ID).Result; got != nil {
				t.Fatalf("Get: result %s, want none (it lives in the final event)", got)
			}

			// Delivered unchanged everywhere.
			evs := e.events(t, c.ID)
			if got := evs[len(evs)-1]; got.State != session.StateCompleted || !bytes.Equal(got.Result, result) {
				t.Fatalf("Events: last %+v", got)
			}
			polled, err := e.svc.Poll(e.ctx, c.ID, int64(len(evs)-1), time.Second)
			if err != nil || len(polled) != 1 || !bytes.Equal(polled[0].Result, result) {
				t.Fatalf("Poll: %+v, %v", polled, err)
			}
			later, err := e.svc.Watch(e.ctx, c.ID, 0)
			if err != nil {
				t.Fatal(err)
			}
			for what, w := range map[string]*session.Watcher{"live": live, "stored": later} {
				got := collect(t, w)
				if last := got[len(got)-1]; last.State != session.StateCompleted || !bytes.Equal(last.Result, result) {
					t.Fatalf("%s watcher: last event %+v", what, last)
				}
			}
		})
	}
}

// TestResultKey: New refuses a missing or wrong-sized result key; a
// Service with another key cannot read a sealed result (the store alone
// does not give it away), and a stored clear result is refused as damaged.
func TestResultKey(t *testing.T) {
	clk := newClock()
	for _, key := range [][]byte{nil, make([]byte, 15), make([]byte, 32)} {
		cfg := testConfig(clk)
		cfg.ResultKey = key
		if _, err := session.New(storagetest.MustOpen(t), cfg); !errors.Is(err, session.ErrInvalidConfig) {
			t.Errorf("New with a %d-byte result key: %v", len(key), err)
		}
	}

	e := newEnv(t)
	c := e.scanned(t)
	if _, err := e.svc.Confirm(e.ctx, c.ID, device, resultOf("signature")); err != nil {
		t.Fatal(err)
	}
	other := testConfig(e.clock)
	other.ResultKey = bytes.Repeat([]byte{1}, gmcrypto.KeySize)
	svc2 := newService(t, e.st, other)
	if _, err := svc2.Events(e.ctx, c.ID, 0); !errors.Is(err, storage.ErrInvalid) {
		t.Fatalf("Events with another result key: %v", err)
	}
	if evs := e.events(t, c.ID); string(evs[len(evs)-1].Result) != `{"v":"signature"}` {
		t.Fatalf("result %s", evs[len(evs)-1].Result)
	}

	// A record whose result is in clear (as written before results were
	// sealed, or planted in the store) is damaged.
	kv, err := e.st.Get(e.ctx, "sessions/"+c.ID)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(kv.Value, &raw); err != nil {
		t.Fatal(err)
	}
	if _, ok := raw["result_sealed"]; ok {
		t.Fatalf("the stored record holds the result: %s", kv.Value)
	}
	raw["result"] = map[string]string{"v": "planted"}
	planted, err := json.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Txn(e.ctx, storage.Put(kv.Key, planted, time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Get(e.ctx, c.ID); !errors.Is(err, storage.ErrInvalid) {
		t.Fatalf("Get of a clear result: %v", err)
	}
}
