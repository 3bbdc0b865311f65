package session_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/session"
)

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func signParams(format string, docs ...session.Document) session.CreateParams {
	p := loginParams()
	p.Kind = session.KindSign
	p.Request.Format = format
	p.Request.Documents = docs
	return p
}

func decryptParams(format string, ct []byte) session.CreateParams {
	p := loginParams()
	p.Kind = session.KindDecrypt
	p.Request.CiphertextFormat = format
	p.Request.Ciphertext = ct
	return p
}

// storeSize counts the keys of the store.
func (e *env) storeSize(t testing.TB) int {
	t.Helper()
	kvs, _, err := e.st.List(e.ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	return len(kvs)
}

// TestCreateDataCap: the documents' data and the ciphertext together may
// hold MaxDataBytes; one byte more is ErrTooLarge and stores nothing.
func TestCreateDataCap(t *testing.T) {
	const limit = 8 << 10
	e := newEnv(t, func(c *session.Config) { c.MaxDataBytes = limit })
	for _, tc := range []struct {
		name string
		p    session.CreateParams
		ok   bool
	}{
		{"one document at the cap", signParams("raw", session.Document{Name: "a", Data: randomBytes(t, limit)}), true},
		{"one document over the cap", signParams("raw", session.Document{Name: "a", Data: randomBytes(t, limit+1)}), false},
		{"two documents over the cap together", signParams("cms-attached",
			session.Document{Name: "a", Data: randomBytes(t, limit/2)},
			session.Document{Name: "b", Data: randomBytes(t, limit/2+1)}), false},
		{"digests do not count", signParams("raw",
			session.Document{Name: "a", Data: randomBytes(t, limit)},
			session.Document{Name: "b", Digest: randomBytes(t, 32)}), true},
		{"ciphertext at the cap", decryptParams("cms", shapedCT(t, "cms", limit)), true},
		{"ciphertext over the cap", decryptParams("asn1", shapedCT(t, "asn1", limit+1)), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.storeSize(t)
			_, _, _, err := e.svc.Create(e.ctx, tc.p)
			switch {
			case tc.ok && err != nil:
				t.Fatalf("Create: %v", err)
			case !tc.ok && !errors.Is(err, session.ErrTooLarge):
				t.Fatalf("Create: %v, want ErrTooLarge", err)
			case !tc.ok && e.storeSize(t) != before:
				t.Fatalf("a refused session stored %d keys", e.storeSize(t)-before)
			}
		})
	}
}

// TestEndedSessionTrimmed: once a session has ended, whatever the end,
// its record keeps the documents' names and digests and the ciphertext's
// SM3, never the data or the ciphertext themselves.
func TestEndedSessionTrimmed(t *testing.T) {
	data, ct := randomBytes(t, 3000), shapedCT(t, "asn1", 2000)
	given := randomBytes(t, 32)
	ends := map[string]func(e *env, c created){
		"completed": func(e *env, c created) {
			if _, err := e.svc.Confirm(e.ctx, c.ID, device, resultOf("x")); err != nil {
				t.Fatal(err)
			}
		},
		"rejected": func(e *env, c created) {
			if _, err := e.svc.Reject(e.ctx, c.ID, device); err != nil {
				t.Fatal(err)
			}
		},
		"cancelled": func(e *env, c created) {
			if _, err := e.svc.Cancel(e.ctx, c.ID, app); err != nil {
				t.Fatal(err)
			}
		},
		"expired": func(e *env, c created) {
			e.clock.Advance(time.Hour)
			if _, err := e.svc.ExpireDue(e.ctx); err != nil {
				t.Fatal(err)
			}
			if s := e.get(t, c.ID); s.State != session.StateExpired {
				t.Fatalf("state %s", s.State)
			}
		},
	}
	for end, do := range ends {
		t.Run(end, func(t *testing.T) {
			e := newEnv(t)
			sign := e.create(t, signParams("cms-detached",
				session.Document{Name: "bid.pdf", Data: data}, session.Document{Name: "given", Digest: given}))
			dec := e.create(t, decryptParams("asn1", ct))
			var digests [][]byte
			for _, c := range []created{sign, dec} {
				digests = append(digests, session.RequestDigest(e.get(t, c.ID)))
				if _, err := e.svc.Scan(e.ctx, c.ID, c.nonce, device, user); err != nil {
					t.Fatal(err)
				}
			}
			do(e, sign)
			do(e, dec)
			s := e.get(t, sign.ID)
			docs := s.Request.Documents
			if !s.Trimmed || len(docs) != 2 || docs[0].Name != "bid.pdf" || docs[0].Data != nil ||
				!bytes.Equal(docs[0].Digest, gmcrypto.SM3(data)) || docs[1].Name != "given" || !bytes.Equal(docs[1].Digest, given) {
				t.Fatalf("ended sign session keeps %+v (trimmed %v)", docs, s.Trimmed)
			}
			d := e.get(t, dec.ID)
			if !d.Trimmed || d.Request.Ciphertext != nil || !bytes.Equal(d.CiphertextSM3, gmcrypto.SM3(ct)) ||
				d.Request.CiphertextFormat != "asn1" {
				t.Fatalf("ended decrypt session keeps %+v", d.Request)
			}
			for i, x := range []*session.Session{s, d} {
				if got := session.RequestDigest(x); !bytes.Equal(got, digests[i]) {
					t.Errorf("RequestDigest changed by the trim: %x, was %x", got, digests[i])
				}
			}
			for _, id := range []string{sign.ID, dec.ID} {
				kv, err := e.st.Get(e.ctx, "sessions/"+id)
				if err != nil {
					t.Fatal(err)
				}
				for _, secret := range [][]byte{data, ct} {
					if bytes.Contains(kv.Value, []byte(base64.StdEncoding.EncodeToString(secret)[:64])) {
						t.Fatalf("the ended record of %s still holds an input: %d bytes", id, len(kv.Value))
					}
				}
			}
		})
	}
}

// TestResultTooLarge: a result that would not fit one write is found
// before the key is used (CheckConfirm with the bound), and even an
// operation that does not ask never gets it stored: the session fails with
// result_too_large, and nothing of the result is written.
func TestResultTooLarge(t *testing.T) {
	small := func(c *session.Config) { c.MaxWriteBytes, c.MaxDataBytes = 128<<10, 16<<10 }
	t.Run("found before the key is used", func(t *testing.T) {
		e := newEnv(t, small)
		c := e.scanned(t)
		used := false
		_, err := e.svc.Confirm(e.ctx, c.ID, device, func(s *session.Session) (json.RawMessage, error) {
			if err := e.svc.CheckConfirm(e.ctx, s, 100<<10); err != nil {
				return nil, err
			}
			used = true
			return json.RawMessage(`{}`), nil
		})
		var oe *session.OpError
		if !errors.As(err, &oe) || oe.Reason != session.ReasonResultTooLarge || !errors.Is(err, session.ErrTooLarge) || used {
			t.Fatalf("Confirm: %v (key used %v)", err, used)
		}
		if evs := e.events(t, c.ID); evs[len(evs)-1].State != session.StateFailed || evs[len(evs)-1].Reason != session.ReasonResultTooLarge {
			t.Fatalf("final event %+v", evs[len(evs)-1])
		}
		// Just under the limit passes.
		c2 := e.scanned(t)
		if _, err := e.svc.Confirm(e.ctx, c2.ID, device, func(s *session.Session) (json.RawMessage, error) {
			if err := e.svc.CheckConfirm(e.ctx, s, 80<<10); err != nil {
				return nil, err
			}
			return json.RawMessage(`"` + strings.Repeat("a", 80<<10-2) + `"`), nil
		}); err != nil {
			t.Fatalf("a result that fits: %v", err)
		}
	})
	t.Run("refused at the completing write", func(t *testing.T) {
		e := newEnv(t, small)
		c := e.scanned(t)
		big := `"` + strings.Repeat("b", 100<<10) + `"`
		_, err := e.svc.Confirm(e.ctx, c.ID, device, func(*session.Session) (json.RawMessage, error) {
			return json.RawMessage(big), nil
		})
		var oe *session.OpError
		if !errors.As(err, &oe) || oe.Reason != session.ReasonResultTooLarge {
			t.Fatalf("Confirm: %v", err)
		}
		evs := e.events(t, c.ID)
		if got := states(t, evs, 1); len(got) != 3 || got[2] != session.StateFailed || evs[2].Result != nil {
			t.Fatalf("events %v %+v", got, evs[2])
		}
	})
}

// TestResultBound: ResultBound is never below what Perform really
// produces, for every kind, format and algorithm, with an issuer chain.
func TestResultBound(t *testing.T) {
	now := time.Now()
	for _, alg := range []gmcrypto.Alg{gmcrypto.AlgSM2, gmcrypto.AlgRSA} {
		k := opKey(t, alg)
		k.Chain = []*smx509.Certificate{opKey(t, alg).Certificate, opKey(t, alg).Certificate}
		data := randomBytes(t, 5000)
		docs := []session.Document{{Name: "a<&>\"名", Data: data}, {Name: "b", Digest: randomBytes(t, 32)}}
		ct, err := gmcrypto.EnvelopeCMS(data, k.Certificate)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			s    *session.Session
		}{
			{"login", opSession(session.KindLogin, session.Request{})},
			{"raw", opSession(session.KindSign, session.Request{Format: "raw", Documents: docs})},
			{"cms-detached", opSession(session.KindSign, session.Request{Format: "cms-detached", Documents: docs})},
			{"cms-attached", opSession(session.KindSign, session.Request{Format: "cms-attached", Documents: docs[:1]})},
			{"decrypt", opSession(session.KindDecrypt, session.Request{CiphertextFormat: "cms", Ciphertext: ct})},
			{"decrypt key", opSession(session.KindDecrypt, session.Request{CiphertextFormat: "cms", Ciphertext: ct, ReturnKey: true})},
		} {
			t.Run(string(alg)+" "+tc.name, func(t *testing.T) {
				out, err := session.Perform(tc.s, k, now)
				if err != nil {
					t.Fatal(err)
				}
				bound := session.ResultBound(tc.s, k.Certificate, k.Chain)
				if len(out.Result) > bound {
					t.Fatalf("result of %d bytes, bound %d", len(out.Result), bound)
				}
				t.Logf("result %d bytes, bound %d", len(out.Result), bound)
			})
		}
	}
	if got := session.ResultBound(nil, nil, nil); got != session.NoResultFits {
		t.Fatalf("bound of nothing: %d", got)
	}
}

// TestLargestRequestCompletes: with the default limits, a session at
// MaxDataBytes completes for the operations whose result holds the input
// again (cms-attached, decrypt), with RSA-2048 and SM2 keys, the bound
// checked before the key is used, and every write within MaxWriteBytes.
func TestLargestRequestCompletes(t *testing.T) {
	limit := session.DefaultConfig().MaxDataBytes
	for _, alg := range []gmcrypto.Alg{gmcrypto.AlgSM2, gmcrypto.AlgRSA} {
		k := opKey(t, alg)
		k.Chain = []*smx509.Certificate{opKey(t, alg).Certificate}
		// The largest CMS envelope that fits the cap.
		plain := randomBytes(t, limit)
		ct, err := gmcrypto.EnvelopeCMS(plain[:limit-1024], k.Certificate)
		if err != nil {
			t.Fatal(err)
		}
		n := limit - 1024 + (limit - len(ct)) - 32
		if ct, err = gmcrypto.EnvelopeCMS(plain[:n], k.Certificate); err != nil || len(ct) > limit || len(ct) < limit-64 {
			t.Fatalf("envelope of %d bytes (%v), want just under %d", len(ct), err, limit)
		}
		for name, p := range map[string]session.CreateParams{
			"cms-attached": signParams("cms-attached", session.Document{Name: "bid.bin", Data: plain}),
			"decrypt":      decryptParams("cms", ct),
		} {
			t.Run(string(alg)+" "+name, func(t *testing.T) {
				e := newEnv(t)
				c := e.create(t, p)
				if _, err := e.svc.Scan(e.ctx, c.ID, c.nonce, device, user); err != nil {
					t.Fatal(err)
				}
				_, err := e.svc.Confirm(e.ctx, c.ID, device, func(s *session.Session) (json.RawMessage, error) {
					if err := e.svc.CheckConfirm(e.ctx, s, session.ResultBound(s, k.Certificate, k.Chain)); err != nil {
						return nil, err
					}
					out, err := session.Perform(s, k, now())
					if err != nil {
						return nil, err
					}
					if err := e.svc.CheckConfirm(e.ctx, s, len(out.Result)); err != nil {
						return nil, err
					}
					return out.Result, nil
				})
				if err != nil {
					t.Fatalf("Confirm at the cap: %v", err)
				}
				if evs := e.events(t, c.ID); len(evs[2].Result) < limit {
					t.Fatalf("result of %d bytes", len(evs[2].Result))
				}
			})
		}
	}
}

func now() time.Time { return time.Now() }
