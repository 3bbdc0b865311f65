package demo_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/portal"
	"github.com/ukeygate/ukeygate/server/servertest"
)

// The demo's flow tests run it in front of a whole ukeygate server
// (servertest behind a reverse proxy, its public_url) with an SM2 issuer,
// an app registered for demoOrigin and a user enrolled with the reference
// phone client, which plays the phone.

const (
	testPIN      = "135790"
	testUserName = "张三"
)

// gateway is a running gateway with its test app and user.
type gateway struct {
	t  *testing.T
	ts *servertest.TS
	// url is the public URL (the proxy's).
	url    string
	appKey string
	appID  string
	userID string
	phone  *phone.Client

	mu    sync.Mutex
	scans map[string]*phone.ScanResult // by session id
}

func newGateway(t *testing.T) *gateway {
	t.Helper()
	ts, proxy := servertest.StartBehindProxy(t)
	sw := seed.Make(t, proxy.URL, ts.AdminToken, seed.Spec{
		Issuers: []operator.IssuerRequest{seed.Generated("sm2", "SM2", "demo test SM2 Root")},
		Apps:    []operator.AppRequest{{Name: "阳光采购平台", Origins: []string{demoOrigin}}},
		Users: []seed.User{{Name: testUserName, DeviceName: "test phone",
			Credentials: []seed.Credential{seed.Sign("sm2", "SM2"), seed.Encrypt("sm2", "SM2")}}},
		PIN: testPIN,
	})
	u := sw.Users[0]
	return &gateway{t: t, ts: ts, url: proxy.URL, scans: map[string]*phone.ScanResult{},
		appKey: sw.Apps[0].APIKey, appID: sw.Apps[0].ID, userID: u.ID, phone: u.Phone}
}

// testCtx is a context for one gateway call (failure guard).
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// scan has the phone scan a QR payload and returns the session id.
func (g *gateway) scan(payload string) string {
	g.t.Helper()
	res, err := g.phone.Scan(testCtx(g.t), payload)
	if err != nil {
		g.t.Fatalf("phone scan: %v", err)
	}
	g.mu.Lock()
	g.scans[res.Session.ID] = res
	g.mu.Unlock()
	return res.Session.ID
}

// confirm has the phone confirm a scanned session with the first
// credential that fits it, the PIN and the matching code.
func (g *gateway) confirm(id, code string) {
	g.t.Helper()
	g.mu.Lock()
	res := g.scans[id]
	g.mu.Unlock()
	if res == nil || len(res.Credentials) == 0 {
		g.t.Fatalf("session %s: not scanned, or no credential fits", id)
	}
	if res.Session.Kind == portal.KindCertificate {
		// Hand over the encryption certificate(s), no PIN.
		var enc []string
		for _, c := range res.Credentials {
			if c.Purpose == "encrypt" {
				enc = append(enc, c.ID)
			}
		}
		st, err := g.phone.HandOver(testCtx(g.t), id, enc, code)
		if err != nil || st != portal.StateCompleted {
			g.t.Fatalf("phone hand over: %q, %v", st, err)
		}
		return
	}
	st, err := g.phone.Confirm(testCtx(g.t), id, res.Credentials[0].ID, testPIN, code)
	if err != nil || st != portal.StateCompleted {
		g.t.Fatalf("phone confirm: %q, %v", st, err)
	}
}

// sessionCount is the number of sessions in the gateway's store.
func (g *gateway) sessionCount() int {
	g.t.Helper()
	kvs, _, err := g.ts.Server.Store().List(context.Background(), "sessions/")
	if err != nil {
		g.t.Fatal(err)
	}
	n := 0
	for _, kv := range kvs {
		if !strings.Contains(strings.TrimPrefix(kv.Key, "sessions/"), "/") { // not an event
			n++
		}
	}
	return n
}
