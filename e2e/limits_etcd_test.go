package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/portal"
	"github.com/ukeygate/ukeygate/server/servertest"
	"github.com/ukeygate/ukeygate/session"
)

// etcdWorld is one gateway on a real etcd with an SM2 issuer, a portal
// app and a user holding an SM2 sign and an SM2 encrypt credential.
type etcdWorld struct {
	ts     *servertest.TS
	pc     *portal.Client
	userID string
	phone  *phone.Client
	sign   *phone.Credential
	enc    *phone.Credential
}

func newEtcdWorld(t *testing.T) *etcdWorld {
	t.Helper()
	endpoint := servertest.StartEtcd(t)
	ts := servertest.Start(t, servertest.WithEtcd(strings.TrimPrefix(endpoint, "http://"), "/"+t.Name()+"/"))
	sw := seed.Make(t, ts.URL, ts.AdminToken, seed.Spec{
		Issuers:  []operator.IssuerRequest{seed.Generated("sm2", "SM2", "etcd limits SM2 Root")},
		Apps:     []operator.AppRequest{{Name: "招标平台 e2e", Origins: []string{testOrigin}}},
		Users:    []seed.User{{Name: "张三", Credentials: []seed.Credential{seed.Sign("sm2", "SM2"), seed.Encrypt("sm2", "SM2")}}},
		PIN:      testPIN,
		NewPhone: newPhone(ts),
	})
	u := sw.Users[0]
	return &etcdWorld{ts: ts, pc: &portal.Client{BaseURL: ts.URL, AppKey: sw.Apps[0].APIKey, Origin: testOrigin},
		userID: u.ID, phone: u.Phone, sign: u.Credentials["sm2/sign"], enc: u.Credentials["sm2/encrypt"]}
}

// sessionKeys counts the keys of sessions in the store.
func (w *etcdWorld) sessionKeys(t *testing.T) int {
	t.Helper()
	kvs, _, err := w.ts.Server.Store().List(context.Background(), "session")
	if err != nil {
		t.Fatal(err)
	}
	return len(kvs)
}

// run creates req, watches it on the websocket, scans and confirms it
// with cred, and returns the final event the watcher got.
func (w *etcdWorld) run(t *testing.T, req portal.SessionRequest, cred *phone.Credential) *portal.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), flowTimeout)
	defer cancel()
	s, err := w.pc.CreateSession(ctx, req)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	events, err := w.pc.Watch(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.phone.Scan(ctx, s.QR.Payload); err != nil {
		t.Fatalf("scan: %v", err)
	}
	if state, err := w.phone.Confirm(ctx, s.ID, cred.ID, testPIN, s.Code); err != nil || state != portal.StateCompleted {
		t.Fatalf("confirm: %q, %v", state, err)
	}
	var last portal.Event
	for ev := range events {
		last = ev
	}
	if last.State != portal.StateCompleted {
		t.Fatalf("the watcher's last event: %+v", last)
	}
	// GET /v1/sessions/{id} shows the same result (read from the event).
	got, err := w.pc.GetSession(ctx, s.ID)
	if err != nil || got.State != portal.StateCompleted || !bytes.Equal(got.Result, last.Result) {
		t.Fatalf("GET: %v, state %s, result of %d bytes (the watcher got %d)", err, got.State, len(got.Result), len(last.Result))
	}
	return &last
}

// refusedTooLarge checks that creating req is refused with 413
// request_too_large and stores nothing.
func (w *etcdWorld) refusedTooLarge(t *testing.T, req portal.SessionRequest) {
	t.Helper()
	before := w.sessionKeys(t)
	_, err := w.pc.CreateSession(context.Background(), req)
	var ae *portal.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusRequestEntityTooLarge || ae.Code != "request_too_large" {
		t.Fatalf("create over the cap: %v, want 413 request_too_large", err)
	}
	if after := w.sessionKeys(t); after != before {
		t.Fatalf("a refused session stored %d keys", after-before)
	}
}

// TestLargestSessionsOnEtcd: on a real etcd (default request limit 1.5
// MiB), with the default limits (http.max_body_bytes 1 MiB,
// session.max_data_bytes 512 KiB), a cms-attached signature of a document
// of exactly session.max_data_bytes and the decryption of a CMS envelope
// of just under it complete, and their results reach the watcher and GET
// intact; one byte more is refused at create (413 request_too_large) with
// nothing stored. Before the result was stored once and the ended record
// trimmed, such a confirm used the key, audited "ok" and then failed with
// 503 on every try.
func TestLargestSessionsOnEtcd(t *testing.T) {
	t.Parallel() // waits on etcd round trips; its own etcd and server
	w := newEtcdWorld(t)
	limit := session.DefaultConfig().MaxDataBytes
	if int64(limit) != w.ts.Config.Session.MaxDataBytes {
		t.Fatalf("the server runs with session.max_data_bytes %d, want the default %d", w.ts.Config.Session.MaxDataBytes, limit)
	}
	data := make([]byte, limit)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	display := portal.Display{Title: "投标文件", Summary: "the largest accepted document"}

	t.Run("cms-attached at the cap", func(t *testing.T) {
		final := w.run(t, portal.SessionRequest{Kind: portal.KindSign, Origin: testOrigin, Format: portal.FormatCMSAttached,
			Documents: []portal.Document{{Name: "bid.bin", Data: data}}, Display: display}, w.sign)
		res, err := final.Sign()
		if err != nil || len(res.Documents) != 1 {
			t.Fatalf("sign result: %v", err)
		}
		checkSM2CMS(t, res.Documents[0].CMS, data, nil, w.sign.CertificatePEM, true)
	})
	t.Run("cms-attached over the cap", func(t *testing.T) {
		w.refusedTooLarge(t, portal.SessionRequest{Kind: portal.KindSign, Origin: testOrigin, Format: portal.FormatCMSAttached,
			Documents: []portal.Document{{Name: "a", Data: data[:limit/2]}, {Name: "b", Data: append(data[limit/2:], 0)}}, Display: display})
	})

	t.Run("decrypt at the cap", func(t *testing.T) {
		ctx := context.Background()
		// The largest envelope within the cap: measure the overhead once.
		probe, err := w.pc.Encrypt(ctx, w.userID, "sm2", data[:limit-4096])
		if err != nil {
			t.Fatal(err)
		}
		plain := data[:limit-4096+(limit-len(probe))-32]
		cms, err := w.pc.Encrypt(ctx, w.userID, "sm2", plain)
		if err != nil {
			t.Fatal(err)
		}
		if len(cms) > limit || len(cms) < limit-64 {
			t.Fatalf("envelope of %d bytes, want just under %d", len(cms), limit)
		}
		final := w.run(t, portal.SessionRequest{Kind: portal.KindDecrypt, Origin: testOrigin, Ciphertext: cms, CiphertextFormat: "cms",
			Display: display}, w.enc)
		res, err := final.Decrypt()
		if err != nil || !bytes.Equal(res.Plaintext, plain) {
			t.Fatalf("decrypted %d bytes (%v), want the %d bytes sent", len(res.Plaintext), err, len(plain))
		}
	})
	t.Run("decrypt over the cap", func(t *testing.T) {
		w.refusedTooLarge(t, portal.SessionRequest{Kind: portal.KindDecrypt, Origin: testOrigin,
			Ciphertext: append(bytes.Clone(data), 0), CiphertextFormat: "cms", Display: display})
	})

	// Each completed session used the key once and says so once.
	var ok []string
	for _, e := range auditEntries(t, w.ts) {
		if e.Action == "sign" || e.Action == "decrypt" {
			ok = append(ok, e.Action+" "+e.Outcome)
		}
	}
	if b, _ := json.Marshal(ok); string(b) != `["sign ok","decrypt ok"]` {
		t.Fatalf("audit of the key uses: %s, want one ok sign and one ok decrypt", b)
	}
}
