package session_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ukeygate/ukeygate/qrlogin"
	"github.com/ukeygate/ukeygate/session"
)

func TestConfigValidate(t *testing.T) {
	if err := session.DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig: %v", err)
	}
	d := session.DefaultConfig()
	if d.TTL != 120*time.Second || d.MaxTTL != 600*time.Second {
		t.Errorf("defaults TTL %s MaxTTL %s, docs/protocol.md says 120s and 600s", d.TTL, d.MaxTTL)
	}
	tests := []struct {
		name, key string
		edit      func(*session.Config)
	}{
		{"zero ttl", "session.ttl", func(c *session.Config) { c.TTL = 0 }},
		{"ttl above max", "session.ttl", func(c *session.Config) { c.TTL = c.MaxTTL + time.Second }},
		{"fractional ttl", "whole seconds", func(c *session.Config) { c.TTL = 1500 * time.Millisecond }},
		{"max ttl too large", "session.max_ttl", func(c *session.Config) { c.MaxTTL = 2 * time.Hour }},
		{"zero retention", "session.retention", func(c *session.Config) { c.Retention = 0 }},
		{"retention above a week", "session.retention", func(c *session.Config) { c.Retention = 8 * 24 * time.Hour }},
		{"zero max data", "session.max_data_bytes", func(c *session.Config) { c.MaxDataBytes = 0 }},
		{"max data above its bound", "session.max_data_bytes", func(c *session.Config) { c.MaxDataBytes = session.MaxMaxDataBytes + 1 }},
		{"max data too large for the write limit", "session.max_data_bytes", func(c *session.Config) { c.MaxWriteBytes = 256 << 10 }},
		{"write limit too small", "write limit", func(c *session.Config) { c.MaxWriteBytes = session.MinMaxWriteBytes - 1 }},
		{"zero expiry interval", "expiry interval", func(c *session.Config) { c.ExpiryInterval = 0 }},
		{"zero sweep interval", "sweep interval", func(c *session.Config) { c.SweepInterval = 0 }},
		{"zero watch buffer", "watch buffer", func(c *session.Config) { c.WatchBuffer = 0 }},
		{"bad public url", "public_url", func(c *session.Config) { c.PublicURL = "ftp://x" }},
		{"long public url", "public_url", func(c *session.Config) { c.PublicURL = "https://" + strings.Repeat("a", 60) + ".cn" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := session.DefaultConfig()
			tc.edit(&c)
			err := c.Validate()
			if !errors.Is(err, session.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.key) {
				t.Errorf("Validate = %v, want ErrInvalidConfig naming %q", err, tc.key)
			}
			if _, err := session.New(nil, c); err == nil {
				t.Error("New accepted a bad config")
			}
		})
	}
}

func TestCreate(t *testing.T) {
	e := newEnv(t)
	p := loginParams()
	p.TTL = 30 * time.Second
	c := e.create(t, p)
	ids := map[string]bool{}
	for _, v := range []struct {
		name, s string
		bits    int
	}{{"id", c.ID, 96}, {"nonce", c.nonce, 96}, {"watch token", c.token, 128}} {
		raw, err := base64.RawURLEncoding.DecodeString(v.s)
		if err != nil || len(raw)*8 < v.bits {
			t.Errorf("%s %q is not ≥ %d bits of unpadded base64url", v.name, v.s, v.bits)
		}
		ids[v.s] = true
	}
	if len(ids) != 3 {
		t.Error("id, nonce and token are not distinct")
	}
	if len(c.ID) != qrlogin.IDLen || len(c.nonce) != qrlogin.NonceLen || !session.ValidID(c.ID) {
		t.Errorf("id %q / nonce %q do not have the lengths qrlogin.Parse expects", c.ID, c.nonce)
	}
	if !session.ValidCode(c.Code) {
		t.Errorf("code %q is not two digits", c.Code)
	}
	if c.State != session.StateWaiting || c.Seq != 1 || c.Kind != session.KindLogin || c.AppID != app || c.Origin != origin {
		t.Errorf("created %+v", c.Session)
	}
	if got := c.ExpiresAt.Sub(c.CreatedAt); got != 30*time.Second {
		t.Errorf("ExpiresAt - CreatedAt = %s, want 30s", got)
	}
	got := e.get(t, c.ID)
	gj, _ := json.Marshal(got)
	cj, _ := json.Marshal(c.Session)
	if !bytes.Equal(gj, cj) {
		t.Errorf("Get = %s\nCreate gave %s", gj, cj)
	}
	// Secrets never leave the package.
	for _, secret := range []string{c.nonce, c.token} {
		if bytes.Contains(gj, []byte(secret)) {
			t.Errorf("the session's JSON contains a secret: %s", gj)
		}
	}
	if evs := e.events(t, c.ID); len(evs) != 1 || evs[0].State != session.StateWaiting || evs[0].Seq != 1 || !evs[0].At.Equal(c.CreatedAt) {
		t.Errorf("events after create: %+v", evs)
	}
	// The payload carries the id and nonce under public_url.
	pl, err := e.svc.QRPayload(e.ctx, c.ID)
	if err != nil || pl != e.svc.Payload(c.ID, c.nonce) {
		t.Errorf("QRPayload = %q, %v", pl, err)
	}
	if id, nonce, err := qrlogin.Parse(pl, session.DefaultConfig().PublicURL); err != nil || id != c.ID || nonce != c.nonce {
		t.Errorf("payload %q parses to %q %q %v", pl, id, nonce, err)
	}
	// Another app cannot see it.
	if _, err := e.svc.GetForApp(e.ctx, c.ID, "app_2"); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("GetForApp(other app) = %v", err)
	}
	if s, err := e.svc.GetForApp(e.ctx, c.ID, app); err != nil || s.ID != c.ID {
		t.Errorf("GetForApp(own app) = %v", err)
	}
	for _, bad := range []string{"", "short", strings.Repeat("A", 16) + "/x", "../../etc/passwd", strings.Repeat("A", 16)} {
		if _, err := e.svc.Get(e.ctx, bad); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("Get(%q) = %v, want ErrNotFound", bad, err)
		}
	}
	// Ids are unique.
	for range 50 {
		ids[e.create(t, loginParams()).ID] = true
	}
	if len(ids) != 53 {
		t.Errorf("50 creates gave %d distinct ids", len(ids)-3)
	}
}

func TestCheckWatchToken(t *testing.T) {
	e := newEnv(t)
	a := e.create(t, loginParams())
	b := e.create(t, loginParams())
	if s, err := e.svc.CheckWatchToken(e.ctx, a.ID, a.token); err != nil || s.ID != a.ID {
		t.Fatalf("own token: %v", err)
	}
	flipped := []byte(a.token)
	flipped[0] ^= 1
	for name, tok := range map[string]string{
		"empty": "", "other session's": b.token, "one bit off": string(flipped),
		"prefix": a.token[:31], "longer": a.token + "A", "the nonce": a.nonce,
	} {
		if _, err := e.svc.CheckWatchToken(e.ctx, a.ID, tok); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("%s token: %v, want ErrNotFound", name, err)
		}
	}
	if _, err := e.svc.CheckWatchToken(e.ctx, "AAAAAAAAAAAAAAAA", a.token); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("unknown session: %v", err)
	}
}

func TestCreateRejects(t *testing.T) {
	e := newEnv(t)
	doc := session.Document{Name: "bid.pdf", Data: []byte("%PDF")}
	digest := bytes.Repeat([]byte{7}, 32)
	tests := []struct {
		name string
		edit func(*session.CreateParams)
		want error
	}{
		{"unknown kind", func(p *session.CreateParams) { p.Kind = "seal" }, session.ErrInvalidRequest},
		{"no app", func(p *session.CreateParams) { p.AppID = "" }, session.ErrInvalidRequest},
		{"no origin", func(p *session.CreateParams) { p.Origin = "" }, session.ErrInvalidRequest},
		{"long origin", func(p *session.CreateParams) { p.Origin = "https://" + strings.Repeat("a", 300) }, session.ErrInvalidRequest},
		{"bad alg", func(p *session.CreateParams) { p.Request.Alg = "ECDSA" }, session.ErrInvalidRequest},
		{"control char in title", func(p *session.CreateParams) { p.Request.Display.Title = "a\x00b" }, session.ErrInvalidRequest},
		{"long summary", func(p *session.CreateParams) { p.Request.Display.Summary = strings.Repeat("x", 2001) }, session.ErrInvalidRequest},
		{"bidi override in title", func(p *session.CreateParams) { p.Request.Display.Title = "\u202e已验证" }, session.ErrInvalidRequest},
		{"zero-width space in summary", func(p *session.CreateParams) { p.Request.Display.Summary = "1\u200b000" }, session.ErrInvalidRequest},
		{"bidi isolate in a document name", func(p *session.CreateParams) {
			p.Kind, p.Request.Documents = session.KindSign, []session.Document{{Name: "bid\u2067txt.exe", Data: []byte("x")}}
		}, session.ErrInvalidRequest},
		{"login with documents", func(p *session.CreateParams) { p.Request.Documents = []session.Document{doc} }, session.ErrInvalidRequest},
		{"login with ciphertext", func(p *session.CreateParams) { p.Request.Ciphertext = []byte{1} }, session.ErrInvalidRequest},
		{"sign without documents", func(p *session.CreateParams) { p.Kind = session.KindSign }, session.ErrInvalidRequest},
		{"sign with bad format", func(p *session.CreateParams) {
			p.Kind, p.Request.Documents, p.Request.Format = session.KindSign, []session.Document{doc}, "pkcs7"
		}, session.ErrInvalidRequest},
		{"document with data and digest", func(p *session.CreateParams) {
			p.Kind, p.Request.Documents = session.KindSign, []session.Document{{Name: "a", Data: []byte("x"), Digest: digest}}
		}, session.ErrInvalidRequest},
		{"document with neither", func(p *session.CreateParams) {
			p.Kind, p.Request.Documents = session.KindSign, []session.Document{{Name: "a"}}
		}, session.ErrInvalidRequest},
		{"short digest", func(p *session.CreateParams) {
			p.Kind, p.Request.Documents = session.KindSign, []session.Document{{Name: "a", Digest: digest[:20]}}
		}, session.ErrInvalidRequest},
		{"attached with digest", func(p *session.CreateParams) {
			p.Kind, p.Request.Format, p.Request.Documents = session.KindSign, "cms-attached", []session.Document{{Name: "a", Digest: digest}}
		}, session.ErrInvalidRequest},
		{"duplicate names", func(p *session.CreateParams) {
			p.Kind, p.Request.Documents = session.KindSign, []session.Document{doc, doc}
		}, session.ErrInvalidRequest},
		{"unnamed document", func(p *session.CreateParams) {
			p.Kind, p.Request.Documents = session.KindSign, []session.Document{{Data: []byte("x")}}
		}, session.ErrInvalidRequest},
		{"too many documents", func(p *session.CreateParams) {
			p.Kind = session.KindSign
			for i := range session.MaxDocuments + 1 {
				p.Request.Documents = append(p.Request.Documents, session.Document{Name: strings.Repeat("d", i+1), Data: []byte("x")})
			}
		}, session.ErrInvalidRequest},
		{"decrypt without ciphertext", func(p *session.CreateParams) {
			p.Kind, p.Request.CiphertextFormat = session.KindDecrypt, "cms"
		}, session.ErrInvalidRequest},
		{"decrypt with bad format", func(p *session.CreateParams) {
			p.Kind, p.Request.Ciphertext, p.Request.CiphertextFormat = session.KindDecrypt, []byte{4}, "c3c1c2"
		}, session.ErrInvalidRequest},
		{"return key without cms", func(p *session.CreateParams) {
			p.Kind, p.Request.Ciphertext, p.Request.CiphertextFormat, p.Request.ReturnKey = session.KindDecrypt, []byte{4}, "asn1", true
		}, session.ErrInvalidRequest},
		{"negative ttl", func(p *session.CreateParams) { p.TTL = -time.Second }, session.ErrTTL},
		{"ttl above max", func(p *session.CreateParams) { p.TTL = 601 * time.Second }, session.ErrTTL},
		{"fractional ttl", func(p *session.CreateParams) { p.TTL = 1500 * time.Millisecond }, session.ErrTTL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := loginParams()
			tc.edit(&p)
			if _, _, _, err := e.svc.Create(e.ctx, p); !errors.Is(err, tc.want) {
				t.Errorf("Create = %v, want %v", err, tc.want)
			}
		})
	}
	if kvs, _, err := e.st.List(e.ctx, ""); err != nil || len(kvs) != 0 {
		t.Errorf("refused creates wrote %d keys (%v)", len(kvs), err)
	}
	// The accepted forms of each kind.
	ok := []session.CreateParams{
		{Kind: session.KindSign, AppID: app, Origin: origin, Request: session.Request{Alg: "SM2", Documents: []session.Document{doc, {Name: "b", Digest: digest}}}},
		{Kind: session.KindSign, AppID: app, Origin: origin, Request: session.Request{Format: "cms-attached", Documents: []session.Document{doc}}},
		{Kind: session.KindDecrypt, AppID: app, Origin: origin, Request: session.Request{Alg: "RSA", Ciphertext: shapedCT(t, "rsa-oaep", 256), CiphertextFormat: "rsa-oaep"}},
		{Kind: session.KindDecrypt, AppID: app, Origin: origin, Request: session.Request{Ciphertext: shapedCT(t, "cms", 1000), CiphertextFormat: "cms", ReturnKey: true}},
		{Kind: session.KindLogin, AppID: app, Origin: origin, TTL: 600 * time.Second, Desktop: session.Desktop{UserAgent: strings.Repeat("é", 400)}},
	}
	for i, p := range ok {
		s, _, _, err := e.svc.Create(e.ctx, p)
		if err != nil {
			t.Errorf("accepted form %d: %v", i, err)
			continue
		}
		if p.Kind == session.KindSign && p.Request.Format == "" && s.Request.Format != "raw" {
			t.Errorf("default format %q, want raw", s.Request.Format)
		}
		if len(s.Desktop.UserAgent) > session.MaxUserAgent || !strings.HasPrefix(p.Desktop.UserAgent, s.Desktop.UserAgent) {
			t.Errorf("user agent not truncated at a character boundary: %d bytes", len(s.Desktop.UserAgent))
		}
	}
}

func TestScan(t *testing.T) {
	e := newEnv(t)
	t.Run("binds device and user", func(t *testing.T) {
		c := e.create(t, loginParams())
		s, err := e.svc.Scan(e.ctx, c.ID, c.nonce, device, user)
		if err != nil {
			t.Fatal(err)
		}
		if s.State != session.StateScanned || s.DeviceID != device || s.UserID != user || s.Seq != 2 {
			t.Errorf("after scan: %+v", s)
		}
		if got := states(t, e.events(t, c.ID), 1); len(got) != 2 || got[1] != session.StateScanned {
			t.Errorf("events %v", got)
		}
	})
	type refusal struct {
		name  string
		setup func(t *testing.T) (id, nonce string)
		dev   string
		want  error
	}
	waiting := func(t *testing.T) (string, string) { c := e.create(t, loginParams()); return c.ID, c.nonce }
	scanned := func(t *testing.T) (string, string) { c := e.scanned(t); return c.ID, c.nonce }
	refusals := []refusal{
		{"second scan, other device", scanned, device2, session.ErrAlreadyScanned},
		{"replayed nonce after completion", func(t *testing.T) (string, string) {
			c := e.scanned(t)
			if _, err := e.svc.Confirm(e.ctx, c.ID, device, resultOf("r")); err != nil {
				t.Fatal(err)
			}
			return c.ID, c.nonce
		}, device2, session.ErrNonceUsed},
		{"wrong nonce", func(t *testing.T) (string, string) { id, _ := waiting(t); return id, "AAAAAAAAAAAAAAAA" }, device, session.ErrNotFound},
		{"another session's nonce", func(t *testing.T) (string, string) {
			id, _ := waiting(t)
			_, n := waiting(t)
			return id, n
		}, device, session.ErrNotFound},
		{"malformed nonce", func(t *testing.T) (string, string) { id, _ := waiting(t); return id, "x" }, device, session.ErrNotFound},
		{"unknown session", func(t *testing.T) (string, string) { _, n := waiting(t); return "AAAAAAAAAAAAAAAA", n }, device, session.ErrNotFound},
		{"wrong nonce on an expired session", func(t *testing.T) (string, string) {
			id, _ := waiting(t)
			e.clock.Advance(3 * time.Minute)
			return id, "AAAAAAAAAAAAAAAA"
		}, device, session.ErrNotFound},
		{"expired", func(t *testing.T) (string, string) {
			id, n := waiting(t)
			e.clock.Advance(3 * time.Minute)
			return id, n
		}, device, session.ErrExpired},
		{"cancelled", func(t *testing.T) (string, string) {
			id, n := waiting(t)
			if _, err := e.svc.Cancel(e.ctx, id, app); err != nil {
				t.Fatal(err)
			}
			return id, n
		}, device, session.ErrSessionClosed},
		{"empty device", waiting, "", session.ErrInvalidArgument},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			id, nonce := tc.setup(t)
			before, _ := e.svc.Get(e.ctx, id)
			_, err := e.svc.Scan(e.ctx, id, nonce, tc.dev, user)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Scan = %v, want %v", err, tc.want)
			}
			if before == nil {
				return
			}
			after := e.get(t, id)
			if tc.want == session.ErrExpired {
				// A scan after expiry records the expiry, nothing else.
				if after.State != session.StateExpired || after.DeviceID != "" {
					t.Errorf("after an expired scan: %+v", after)
				}
				return
			}
			if after.State != before.State || after.Seq != before.Seq || after.DeviceID != before.DeviceID {
				t.Errorf("a refused scan changed the session: %+v → %+v", before, after)
			}
		})
	}
	t.Run("second scan, same device: the same answer", func(t *testing.T) {
		c := e.create(t, loginParams())
		first, choices, err := e.svc.ScanShown(e.ctx, c.ID, c.nonce, device, user)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(choices[:], first.Code) {
			t.Fatalf("choices %v without the code %s", choices, first.Code)
		}
		for range 3 {
			again, same, err := e.svc.ScanShown(e.ctx, c.ID, c.nonce, device, user)
			if err != nil {
				t.Fatalf("the same device again: %v", err)
			}
			if same != choices || again.State != session.StateScanned || again.Seq != first.Seq || again.DeviceID != device {
				t.Fatalf("again %+v %v, first %+v %v", again, same, first, choices)
			}
		}
		if got := states(t, e.events(t, c.ID), 1); len(got) != 2 {
			t.Fatalf("events %v", got)
		}
		// Another device, or the device under another user, is still
		// refused; so is the same device once the session has ended.
		if _, _, err := e.svc.ScanShown(e.ctx, c.ID, c.nonce, device2, user); !errors.Is(err, session.ErrAlreadyScanned) {
			t.Fatalf("another device: %v", err)
		}
		if _, _, err := e.svc.ScanShown(e.ctx, c.ID, c.nonce, device, "user_9"); !errors.Is(err, session.ErrAlreadyScanned) {
			t.Fatalf("another user: %v", err)
		}
		if _, err := e.svc.Confirm(e.ctx, c.ID, device, resultOf("r")); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.svc.ScanShown(e.ctx, c.ID, c.nonce, device, user); !errors.Is(err, session.ErrNonceUsed) {
			t.Fatalf("after the confirm: %v", err)
		}
	})
	t.Run("requested user", func(t *testing.T) {
		p := loginParams()
		p.Request.User = "user_9"
		c := e.create(t, p)
		if _, err := e.svc.Scan(e.ctx, c.ID, c.nonce, device, user); !errors.Is(err, session.ErrWrongUser) {
			t.Fatalf("scan by another user = %v, want ErrWrongUser", err)
		}
		if s, err := e.svc.Scan(e.ctx, c.ID, c.nonce, device, "user_9"); err != nil || s.UserID != "user_9" {
			t.Fatalf("scan by the requested user = %v", err)
		}
	})
	t.Run("concurrent scans: one wins", func(t *testing.T) {
		c := e.create(t, loginParams())
		var wins atomic.Int32
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := e.svc.Scan(e.ctx, c.ID, c.nonce, "dev_c"+string(rune('a'+i)), user)
				switch {
				case err == nil:
					wins.Add(1)
				case !errors.Is(err, session.ErrAlreadyScanned):
					t.Errorf("losing scan: %v", err)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d scans won", wins.Load())
		}
		if got := states(t, e.events(t, c.ID), 1); len(got) != 2 {
			t.Fatalf("events %v", got)
		}
	})
}

var errWrongPIN = errors.New("test: wrong PIN")

func TestConfirm(t *testing.T) {
	e := newEnv(t)
	t.Run("completes with the result", func(t *testing.T) {
		c := e.scanned(t)
		var seen *session.Session
		s, err := e.svc.Confirm(e.ctx, c.ID, device, func(s *session.Session) (json.RawMessage, error) {
			seen = s
			return json.RawMessage(`{"signature":"AQID"}`), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if seen == nil || seen.State != session.StateScanned || seen.DeviceID != device || seen.Code != c.Code {
			t.Errorf("op saw %+v", seen)
		}
		if s.State != session.StateCompleted || string(s.Result) != `{"signature":"AQID"}` || s.EndedAt.IsZero() {
			t.Errorf("after confirm: %+v", s)
		}
		evs := e.events(t, c.ID)
		if got := states(t, evs, 1); len(got) != 3 || got[2] != session.StateCompleted {
			t.Fatalf("events %v", got)
		}
		if string(evs[2].Result) != `{"signature":"AQID"}` || evs[0].Result != nil || evs[1].Result != nil {
			t.Errorf("only the final event carries the result: %+v", evs)
		}
	})
	notCalled := func(t *testing.T) func(*session.Session) (json.RawMessage, error) {
		return func(*session.Session) (json.RawMessage, error) {
			t.Error("the operation ran")
			return json.RawMessage(`{}`), nil
		}
	}
	t.Run("other device", func(t *testing.T) {
		c := e.scanned(t)
		if _, err := e.svc.Confirm(e.ctx, c.ID, device2, notCalled(t)); !errors.Is(err, session.ErrWrongDevice) {
			t.Fatalf("Confirm = %v, want ErrWrongDevice", err)
		}
		if s := e.get(t, c.ID); s.State != session.StateScanned || s.Seq != 2 {
			t.Errorf("changed: %+v", s)
		}
	})
	t.Run("not scanned", func(t *testing.T) {
		c := e.create(t, loginParams())
		if _, err := e.svc.Confirm(e.ctx, c.ID, device, notCalled(t)); !errors.Is(err, session.ErrNotScanned) {
			t.Fatalf("Confirm = %v, want ErrNotScanned", err)
		}
	})
	t.Run("retryable failure stays scanned", func(t *testing.T) {
		c := e.scanned(t)
		for range 3 {
			_, err := e.svc.Confirm(e.ctx, c.ID, device, func(*session.Session) (json.RawMessage, error) {
				return nil, errWrongPIN
			})
			if !errors.Is(err, errWrongPIN) || errors.Is(err, session.ErrOperationFailed) {
				t.Fatalf("Confirm = %v, want the PIN error as is", err)
			}
			if s := e.get(t, c.ID); s.State != session.StateScanned || s.Seq != 2 {
				t.Fatalf("a retryable failure changed the session: %+v", s)
			}
		}
		if _, err := e.svc.Confirm(e.ctx, c.ID, device, resultOf("ok")); err != nil {
			t.Fatalf("confirm after retries: %v", err)
		}
	})
	t.Run("final failure fails the session", func(t *testing.T) {
		c := e.scanned(t)
		cause := errors.New("test: credential revoked")
		_, err := e.svc.Confirm(e.ctx, c.ID, device, func(*session.Session) (json.RawMessage, error) {
			return nil, session.OperationFailed("credential_revoked", cause)
		})
		if !errors.Is(err, session.ErrOperationFailed) || !errors.Is(err, cause) {
			t.Fatalf("Confirm = %v", err)
		}
		s := e.get(t, c.ID)
		evs := e.events(t, c.ID)
		if s.State != session.StateFailed || s.FailReason != "credential_revoked" || s.Result != nil {
			t.Errorf("after failure: %+v", s)
		}
		if last := evs[len(evs)-1]; last.State != session.StateFailed || last.Reason != "credential_revoked" || last.Result != nil {
			t.Errorf("final event %+v", last)
		}
	})
	t.Run("bad reason recorded as operation_failed", func(t *testing.T) {
		c := e.scanned(t)
		_, err := e.svc.Confirm(e.ctx, c.ID, device, func(*session.Session) (json.RawMessage, error) {
			return nil, session.OperationFailed("Bad Reason!", nil)
		})
		if !errors.Is(err, session.ErrOperationFailed) {
			t.Fatal(err)
		}
		if s := e.get(t, c.ID); s.FailReason != "operation_failed" {
			t.Errorf("reason %q", s.FailReason)
		}
	})
	t.Run("wrong matching code", func(t *testing.T) {
		c := e.scanned(t)
		wrong := "00"
		if c.Code == wrong {
			wrong = "01"
		}
		op := func(code string) func(*session.Session) (json.RawMessage, error) {
			return func(s *session.Session) (json.RawMessage, error) {
				if err := session.CheckCode(s, code); err != nil {
					return nil, err
				}
				return json.RawMessage(`{}`), nil
			}
		}
		_, err := e.svc.Confirm(e.ctx, c.ID, device, op(wrong))
		if !errors.Is(err, session.ErrWrongCode) || !errors.Is(err, session.ErrOperationFailed) {
			t.Fatalf("Confirm = %v", err)
		}
		if s := e.get(t, c.ID); s.State != session.StateFailed || s.FailReason != "wrong_code" {
			t.Errorf("after a wrong code: %+v", s)
		}
		// The right code on a fresh session works.
		c2 := e.scanned(t)
		if _, err := e.svc.Confirm(e.ctx, c2.ID, device, op(c2.Code)); err != nil {
			t.Errorf("right code: %v", err)
		}
	})
	t.Run("expired before confirm", func(t *testing.T) {
		c := e.scanned(t)
		e.clock.Advance(3 * time.Minute)
		if _, err := e.svc.Confirm(e.ctx, c.ID, device, notCalled(t)); !errors.Is(err, session.ErrExpired) {
			t.Fatalf("Confirm = %v, want ErrExpired", err)
		}
		if s := e.get(t, c.ID); s.State != session.StateExpired {
			t.Errorf("state %s", s.State)
		}
	})
	t.Run("expires while the operation runs", func(t *testing.T) {
		c := e.scanned(t)
		_, err := e.svc.Confirm(e.ctx, c.ID, device, func(*session.Session) (json.RawMessage, error) {
			e.clock.Advance(3 * time.Minute)
			return json.RawMessage(`{"late":true}`), nil
		})
		if !errors.Is(err, session.ErrExpired) {
			t.Fatalf("Confirm = %v, want ErrExpired", err)
		}
		s := e.get(t, c.ID)
		if s.State != session.StateExpired || s.Result != nil {
			t.Errorf("after a late confirm: %+v", s)
		}
		for _, ev := range e.events(t, c.ID) {
			if ev.Result != nil {
				t.Errorf("a discarded result reached an event: %+v", ev)
			}
		}
	})
	t.Run("cancelled while the operation runs", func(t *testing.T) {
		c := e.scanned(t)
		_, err := e.svc.Confirm(e.ctx, c.ID, device, func(*session.Session) (json.RawMessage, error) {
			if _, err := e.svc.Cancel(e.ctx, c.ID, app); err != nil {
				t.Errorf("Cancel: %v", err)
			}
			return json.RawMessage(`{}`), nil
		})
		if !errors.Is(err, session.ErrSessionClosed) {
			t.Fatalf("Confirm = %v, want ErrSessionClosed", err)
		}
		if s := e.get(t, c.ID); s.State != session.StateCancelled || s.Result != nil {
			t.Errorf("after: %+v", s)
		}
	})
	t.Run("invalid result JSON", func(t *testing.T) {
		c := e.scanned(t)
		_, err := e.svc.Confirm(e.ctx, c.ID, device, func(*session.Session) (json.RawMessage, error) {
			return json.RawMessage(`{not json`), nil
		})
		if !errors.Is(err, session.ErrInvalidArgument) {
			t.Fatalf("Confirm = %v", err)
		}
		if s := e.get(t, c.ID); s.State != session.StateScanned {
			t.Errorf("state %s", s.State)
		}
	})
	t.Run("after completion", func(t *testing.T) {
		c := e.scanned(t)
		if _, err := e.svc.Confirm(e.ctx, c.ID, device, resultOf("1")); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Confirm(e.ctx, c.ID, device, notCalled(t)); !errors.Is(err, session.ErrSessionClosed) {
			t.Fatalf("second Confirm = %v", err)
		}
	})
}

func TestConcurrentConfirms(t *testing.T) {
	e := newEnv(t)
	c := e.scanned(t)
	const n = 8
	var wg sync.WaitGroup
	var winners, ops atomic.Int32
	var winner atomic.Value
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			v := string(rune('a' + i))
			_, err := e.svc.Confirm(e.ctx, c.ID, device, func(s *session.Session) (json.RawMessage, error) {
				ops.Add(1)
				return resultOf(v)(s)
			})
			switch {
			case err == nil:
				winners.Add(1)
				winner.Store(v)
			case !errors.Is(err, session.ErrSessionClosed) && !errors.Is(err, session.ErrConfirmInProgress):
				t.Errorf("losing confirm: %v", err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if winners.Load() != 1 || ops.Load() != 1 {
		t.Fatalf("%d confirms completed the session, %d ran their operation; want 1 and 1", winners.Load(), ops.Load())
	}
	evs := e.events(t, c.ID)
	if got := states(t, evs, 1); len(got) != 3 || got[2] != session.StateCompleted {
		t.Fatalf("events %v", got)
	}
	if want := `{"v":"` + winner.Load().(string) + `"}`; string(evs[2].Result) != want {
		t.Errorf("result %s, want the winner's %s", evs[2].Result, want)
	}
}

func TestRejectFailCancel(t *testing.T) {
	e := newEnv(t)
	c := e.scanned(t)
	if _, err := e.svc.Reject(e.ctx, c.ID, device2); !errors.Is(err, session.ErrWrongDevice) {
		t.Errorf("Reject by another device = %v", err)
	}
	if _, err := e.svc.Fail(e.ctx, c.ID, device, "Not A Code"); !errors.Is(err, session.ErrInvalidArgument) {
		t.Errorf("Fail with a bad reason = %v", err)
	}
	if _, err := e.svc.Fail(e.ctx, c.ID, device2, "wrong_code"); !errors.Is(err, session.ErrWrongDevice) {
		t.Errorf("Fail by another device = %v", err)
	}
	if _, err := e.svc.Cancel(e.ctx, c.ID, "app_2"); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Cancel by another app = %v", err)
	}
	if s := e.get(t, c.ID); s.State != session.StateScanned || s.Seq != 2 {
		t.Fatalf("refusals changed the session: %+v", s)
	}
	if s, err := e.svc.Reject(e.ctx, c.ID, device); err != nil || s.State != session.StateRejected {
		t.Fatalf("Reject = %+v, %v", s, err)
	}
	c2 := e.scanned(t)
	if s, err := e.svc.Fail(e.ctx, c2.ID, device, "wrong_code"); err != nil || s.State != session.StateFailed || s.FailReason != "wrong_code" {
		t.Fatalf("Fail = %+v, %v", s, err)
	}
	c3 := e.create(t, loginParams())
	if s, err := e.svc.Cancel(e.ctx, c3.ID, app); err != nil || s.State != session.StateCancelled {
		t.Fatalf("Cancel = %+v, %v", s, err)
	}
	// Ended sessions leave the expiry index.
	if kvs, _, err := e.st.List(e.ctx, "session-expiry/"); err != nil || len(kvs) != 0 {
		t.Errorf("expiry index holds %d entries after every session ended (%v)", len(kvs), err)
	}
}

func TestRetention(t *testing.T) {
	e := newEnv(t)
	c := e.scanned(t)
	done, err := e.svc.Confirm(e.ctx, c.ID, device, resultOf("r"))
	if err != nil {
		t.Fatal(err)
	}
	kvs, _, err := e.st.List(e.ctx, "sessions/"+c.ID)
	if err != nil || len(kvs) != 4 {
		t.Fatalf("want the record and 3 events, got %d keys (%v)", len(kvs), err)
	}
	// The keys written while the session was open end Retention after its
	// expiry time; the record (with the result) and the final event,
	// written when it ended, end Retention after its end, which comes
	// before its expiry (the store keeps time with the real clock; the
	// injected one started from it).
	retention := session.DefaultConfig().Retention
	if !done.EndedAt.Before(c.ExpiresAt) {
		t.Fatalf("ended at %s, not before the expiry %s", done.EndedAt, c.ExpiresAt)
	}
	for _, kv := range kvs {
		want := c.ExpiresAt.Add(retention)
		if kv.Key == "sessions/"+c.ID || strings.HasSuffix(kv.Key, "/0000000000000003") {
			want = done.EndedAt.Add(retention)
		}
		if d := kv.ExpiresAt.Sub(want); d < -2*time.Second || d > 2*time.Second {
			t.Errorf("%s expires at %s, want about %s", kv.Key, kv.ExpiresAt, want)
		}
	}
}

func TestCodeChoices(t *testing.T) {
	pos := [3]int{}
	for i := range 300 {
		code := []string{"00", "07", "42", "99"}[i%4]
		ch, err := session.CodeChoices(code)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		n := 0
		for j, c := range ch {
			if !session.ValidCode(c) {
				t.Fatalf("choice %q is not two digits", c)
			}
			seen[c] = true
			if c == code {
				n++
				pos[j]++
			}
		}
		if len(seen) != 3 || n != 1 {
			t.Fatalf("CodeChoices(%s) = %v", code, ch)
		}
	}
	for j, n := range pos {
		if n == 0 {
			t.Errorf("the right code never came at position %d in 300 draws", j)
		}
	}
	for _, bad := range []string{"", "1", "123", "ab", "1a", "٣٣"} {
		if _, err := session.CodeChoices(bad); !errors.Is(err, session.ErrInvalidArgument) {
			t.Errorf("CodeChoices(%q) = %v", bad, err)
		}
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := newEnv(t, func(c *session.Config) { c.Registerer = reg })
	a := e.scanned(t)
	w, err := e.svc.Watch(e.ctx, a.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	waitHubOpen(t, e.svc) // the final event must come live
	next(t, w)
	next(t, w)
	if _, err := e.svc.Confirm(e.ctx, a.ID, device, resultOf("r")); err != nil {
		t.Fatal(err)
	}
	collect(t, w)
	b := e.scanned(t)
	if _, err := e.svc.Fail(e.ctx, b.ID, device, "wrong_code"); err != nil {
		t.Fatal(err)
	}
	if got := metricValue(t, reg, "ukeygate_sessions_created_total", map[string]string{"kind": "login"}); got != 2 {
		t.Errorf("created = %v, want 2", got)
	}
	for labels, want := range map[[2]string]float64{{"completed", ""}: 1, {"failed", "wrong_code"}: 1} {
		got := metricValue(t, reg, "ukeygate_sessions_finished_total", map[string]string{"kind": "login", "state": labels[0], "reason": labels[1]})
		if got != want {
			t.Errorf("finished%v = %v, want %v", labels, got, want)
		}
	}
	// The final event reached the watcher live: one latency observation
	// for "completed"; and the watcher is gone.
	waitFor(t, "watcher gauge back to 0", func() bool {
		return metricValue(t, reg, "ukeygate_session_watchers", nil) == 0
	})
	if n := metricValue(t, reg, "ukeygate_session_push_latency_seconds", map[string]string{"state": "completed"}); n != 1 {
		t.Errorf("push latency observations for completed = %v, want 1", n)
	}
	// A second Service on the same registerer is refused, not half-registered.
	if _, err := session.New(e.st, func() session.Config { c := testConfig(e.clock); c.Registerer = reg; return c }()); !errors.Is(err, session.ErrInvalidConfig) {
		t.Errorf("duplicate registration: %v", err)
	}
}

// metricValue returns the value of the series of name with exactly labels
// (a counter's or gauge's value, a histogram's sample count); 0 if absent.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := len(m.GetLabel()) == len(labels)
			for _, l := range m.GetLabel() {
				match = match && labels[l.GetName()] == l.GetValue()
			}
			if !match {
				continue
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}

// TestEndedSessionsLeave: with a short retention, an ended session's keys
// all leave the store (record and final event Retention after its end, the
// events written while it was open Retention after its expiry), while an
// open session's keys all stay. The store's own sweeper removes them; the
// test waits for that (with a generous guard), it does not time it.
func TestEndedSessionsLeave(t *testing.T) {
	e := newEnv(t, func(c *session.Config) { c.Retention = time.Second })
	p := loginParams()
	p.TTL = 2 * time.Second
	ended := e.create(t, p)
	if _, err := e.svc.Scan(e.ctx, ended.ID, ended.nonce, device, user); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Confirm(e.ctx, ended.ID, device, resultOf("r")); err != nil {
		t.Fatal(err)
	}
	p.TTL = 120 * time.Second
	open := e.create(t, p)
	keys := func(id string) []string {
		kvs, _, err := e.st.List(e.ctx, "sessions/"+id)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, kv := range kvs {
			out = append(out, kv.Key)
		}
		return out
	}
	openKeys := keys(open.ID)
	if len(openKeys) != 2 || len(keys(ended.ID)) != 4 {
		t.Fatalf("keys before: open %v, ended %v", openKeys, keys(ended.ID))
	}
	deadline := time.Now().Add(2 * time.Minute)
	for len(keys(ended.ID)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the ended session's keys stayed: %v", keys(ended.ID))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := e.svc.Get(e.ctx, ended.ID); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("the ended session after its retention: %v", err)
	}
	if got := keys(open.ID); strings.Join(got, " ") != strings.Join(openKeys, " ") {
		t.Fatalf("the open session's keys changed: %v, want %v", got, openKeys)
	}
	if s := e.get(t, open.ID); s.State != session.StateWaiting {
		t.Fatalf("the open session: %+v", s)
	}
}
