package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/phone"
)

// The session tests run a whole server (tsWorld: servertest's real
// config, bbolt file, loopback HTTP and websockets). Their helpers are
// prefixed sx so that they do not collide with the other API tests.

const (
	sxPIN       = "135790"
	sxOrigin    = "https://bid.example.cn"
	sxOrigin2   = "https://other.example.cn"
	sxWaitGuard = 20 * time.Second // failure guard only
)

// sxWorld is a server with two issuers (internal SM2 "sm2", internal RSA
// "rsa"), two apps and three enrolled users.
type sxWorld struct {
	tsWorld
	appKey   string
	appID    string
	otherKey string // a second app
	// alice holds sign and encrypt credentials of both issuers; bob an SM2
	// sign and an SM2 encrypt credential; carol an SM2 sign credential
	// (the PIN lockout victim).
	alice, bob, carol *phone.Client
	creds             map[string]*phone.Credential // "alice/sm2/sign", …
}

func sxNew(t *testing.T) *sxWorld {
	t.Helper()
	return sxSeed(t, seed.Spec{
		Issuers: []operator.IssuerRequest{seed.Generated("sm2", "SM2", "sx SM2 Root"), seed.Generated("rsa", "RSA", "sx RSA Root")},
		Users: []seed.User{
			{Name: "alice", Credentials: []seed.Credential{seed.Sign("sm2", "SM2"), seed.Encrypt("sm2", "SM2"),
				seed.Sign("rsa", "RSA"), seed.Encrypt("rsa", "RSA")}},
			{Name: "bob", Credentials: []seed.Credential{seed.Sign("sm2", "SM2"), seed.Encrypt("sm2", "SM2")}},
			{Name: "carol", Credentials: []seed.Credential{seed.Sign("sm2", "SM2")}},
		},
	})
}

// sxSeed starts a server with spec's issuers and users (at most alice,
// bob and carol, in that order) and the two apps of every sxWorld.
func sxSeed(t *testing.T, spec seed.Spec) *sxWorld {
	t.Helper()
	w := &sxWorld{tsWorld: newTSWorld(t), creds: map[string]*phone.Credential{}}
	spec.Apps = []operator.AppRequest{{Name: "招标平台", Origins: []string{sxOrigin}}, {Name: "Other", Origins: []string{sxOrigin2}}}
	spec.PIN = sxPIN
	sw := seed.Make(t, w.ts.URL, w.ts.AdminToken, spec)
	w.appKey, w.appID, w.otherKey = sw.Apps[0].APIKey, sw.Apps[0].ID, sw.Apps[1].APIKey
	phones := []**phone.Client{&w.alice, &w.bob, &w.carol}
	for i, u := range sw.Users {
		*phones[i] = u.Phone
		for k, c := range u.Credentials {
			w.creds[u.Name+"/"+k] = c
		}
	}
	return w
}

// app sends a portal request with the app key.
func (w *sxWorld) app(method, path string, body any) *resp {
	w.t.Helper()
	return w.do(method, path, body, map[string]string{"Authorization": "Bearer " + w.appKey})
}

// sxCreated is the creation answer.
type sxCreated struct {
	ID        string    `json:"id"`
	State     string    `json:"state"`
	ExpiresAt time.Time `json:"expires_at"`
	Code      string    `json:"code"`
	QR        struct {
		Payload string `json:"payload"`
		PNGURL  string `json:"png_url"`
		SVGURL  string `json:"svg_url"`
	} `json:"qr"`
	Watch struct {
		WSURL     string `json:"ws_url"`
		EventsURL string `json:"events_url"`
		Token     string `json:"token"`
		PollWait  int    `json:"poll_wait"`
	} `json:"watch"`
}

type sxEvent struct {
	Seq    int64           `json:"seq"`
	Type   string          `json:"type"`
	State  string          `json:"state"`
	At     time.Time       `json:"at"`
	Result json.RawMessage `json:"result"`
	Reason string          `json:"reason"`
}

type sxView struct {
	ID     string          `json:"id"`
	Kind   string          `json:"kind"`
	State  string          `json:"state"`
	Reason string          `json:"reason"`
	Events []sxEvent       `json:"events"`
	Result json.RawMessage `json:"result"`
}

// create makes a session with the app key.
func (w *sxWorld) create(req map[string]any) *sxCreated {
	w.t.Helper()
	if _, ok := req["display"]; !ok {
		req["display"] = map[string]string{"title": "测试", "summary": "a test session"}
	}
	var c sxCreated
	w.must(w.app("POST", "/v1/sessions", req), http.StatusCreated).decode(w.t, &c)
	return &c
}

// view reads a session with the app key.
func (w *sxWorld) view(id string) *sxView {
	w.t.Helper()
	var v sxView
	w.must(w.app("GET", "/v1/sessions/"+id, nil), http.StatusOK).decode(w.t, &v)
	return &v
}

// sxScanned is the scan answer.
type sxScanned struct {
	Session struct {
		ID      string `json:"id"`
		Kind    string `json:"kind"`
		App     struct{ ID, Name string }
		Origin  string `json:"origin"`
		Desktop struct {
			IP        string `json:"ip"`
			UserAgent string `json:"user_agent"`
		} `json:"desktop"`
		CodeChoices []string `json:"code_choices"`
		Documents   []struct {
			Name      string `json:"name"`
			Size      *int   `json:"size"`
			Digest    string `json:"digest"`
			DigestAlg string `json:"digest_alg"`
		} `json:"documents"`
	} `json:"session"`
	Credentials []phone.Credential `json:"credentials"`
}

func (w *sxWorld) scan(p *phone.Client, payload string) (*sxScanned, error) {
	var out sxScanned
	err := p.Do(context.Background(), "POST", "/v1/scan", map[string]string{"payload": payload}, &out)
	return &out, err
}

func (w *sxWorld) confirm(p *phone.Client, id, cred, pin, code string) error {
	return p.Do(context.Background(), "POST", "/v1/sessions/"+id+"/confirm",
		map[string]string{"credential": cred, "pin": pin, "code": code}, nil)
}

// mustRefuse checks that err is the API refusal code.
func mustRefuse(t *testing.T, err error, code string) *phone.APIError {
	t.Helper()
	var ae *phone.APIError
	if !errors.As(err, &ae) || ae.Code != code {
		t.Fatalf("got %v, want refusal %s", err, code)
	}
	return ae
}

// dial opens a session's websocket; hdr may carry Origin.
func (w *sxWorld) dial(wsURL string, after int64, hdr http.Header) (*websocket.Conn, *http.Response, error) {
	u := wsURL
	if after > 0 {
		u += "&after=" + strconv.FormatInt(after, 10)
	}
	d := websocket.Dialer{HandshakeTimeout: sxWaitGuard}
	return d.Dial(u, hdr)
}

// readEvents reads events until the server closes the socket; it returns
// them and the close code (-1 if the connection broke otherwise).
func readEvents(t *testing.T, conn *websocket.Conn, max int) ([]sxEvent, int) {
	t.Helper()
	var evs []sxEvent
	_ = conn.SetReadDeadline(time.Now().Add(sxWaitGuard))
	for {
		typ, msg, err := conn.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return evs, ce.Code
			}
			return evs, -1
		}
		if typ != websocket.TextMessage {
			t.Fatalf("frame type %d, want text", typ)
		}
		var e sxEvent
		if err := json.Unmarshal(msg, &e); err != nil {
			t.Fatalf("frame %s: %v", msg, err)
		}
		evs = append(evs, e)
		if max > 0 && len(evs) == max {
			return evs, 0
		}
	}
}
