package portal_test

// The portal tests run against a whole ukeygate server (server/servertest:
// real config, bbolt file, loopback HTTP and websockets) behind a
// recording reverse proxy (its public_url), with a real SM2 issuer, a real
// app key and a user enrolled with the reference phone client, which plays
// the phone: it scans the QR payload and confirms or rejects.

import (
	"sync"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/portal"
	"github.com/ukeygate/ukeygate/server/servertest"
)

const (
	testPIN      = "135790"
	testUserName = "张三"
	// bidOrigin is the test app's registered origin.
	bidOrigin = "https://bid.example.com"
)

// gateway is a running gateway with its test app and user.
type gateway struct {
	t     *testing.T
	ts    *servertest.TS
	proxy *servertest.Proxy
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
	sm2 := seed.Generated("sm2", "SM2", "portal test SM2 Root")
	sm2.Subject.Organization, sm2.Subject.Country = "ukeygate test", "CN"
	// Everything goes through the proxy, the gateway's public URL.
	sw := seed.Make(t, proxy.URL, ts.AdminToken, seed.Spec{
		Issuers: []operator.IssuerRequest{sm2},
		Apps:    []operator.AppRequest{{Name: "阳光采购平台", Origins: []string{bidOrigin}}},
		Users: []seed.User{{Name: testUserName, DeviceName: "test phone",
			Credentials: []seed.Credential{seed.Sign("sm2", "SM2"), seed.Encrypt("sm2", "SM2")}}},
		PIN: testPIN,
	})
	u := sw.Users[0]
	return &gateway{t: t, ts: ts, proxy: proxy, url: proxy.URL, scans: map[string]*phone.ScanResult{},
		appKey: sw.Apps[0].APIKey, appID: sw.Apps[0].ID, userID: u.ID, phone: u.Phone}
}

func (g *gateway) client() *portal.Client {
	return &portal.Client{BaseURL: g.url, AppKey: g.appKey}
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
	st, err := g.phone.Confirm(testCtx(g.t), id, res.Credentials[0].ID, testPIN, code)
	if err != nil || st != portal.StateCompleted {
		g.t.Fatalf("phone confirm: %q, %v", st, err)
	}
}

// reject has the phone reject a scanned session.
func (g *gateway) reject(id string) {
	g.t.Helper()
	if st, err := g.phone.Reject(testCtx(g.t), id); err != nil || st != portal.StateRejected {
		g.t.Fatalf("phone reject: %q, %v", st, err)
	}
}

// scanConfirm runs the whole phone side of a session.
func (g *gateway) scanConfirm(s *portal.Session) {
	g.t.Helper()
	g.confirm(g.scan(s.QR.Payload), s.Code)
}

// waitFor guards a wait on a channel (failure guard only).
const waitFor = 20 * time.Second
