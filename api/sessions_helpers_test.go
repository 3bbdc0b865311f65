package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ukeygate/ukeygate/auth"
	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/server/servertest"
)

// The session tests run a whole server (servertest: real config, bbolt
// file, loopback HTTP and websockets). Their helpers are prefixed sx so
// that they do not collide with the other API tests.

const (
	sxPIN       = "135790"
	sxOrigin    = "https://bid.example.cn"
	sxOrigin2   = "https://other.example.cn"
	sxWaitGuard = 20 * time.Second // failure guard only
)

// sxWorld is a server with two issuers (internal SM2 "sm2", internal RSA
// "rsa"), two apps and three enrolled users.
type sxWorld struct {
	t        *testing.T
	ts       *servertest.TS
	appKey   string
	appID    string
	otherKey string // a second app
	// alice holds sign and encrypt credentials of both issuers; bob an SM2
	// sign and an SM2 encrypt credential; carol an SM2 sign credential
	// (the PIN lockout victim).
	alice, bob, carol *phone.Client
	creds             map[string]*phone.Credential // "alice/sm2/sign", …
}

// sxResp is an answer with its error code decoded.
type sxResp struct {
	status int
	header http.Header
	body   []byte
	code   string
	detail map[string]any
}

func (r *sxResp) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

// sxRaw is a body sent as is.
type sxRaw string

func sxNew(t *testing.T) *sxWorld {
	t.Helper()
	w := &sxWorld{t: t, ts: servertest.Start(t), creds: map[string]*phone.Credential{}}
	admin := map[string]string{"Authorization": "Bearer " + w.ts.AdminToken}
	for _, req := range []map[string]any{
		{"id": "sm2", "name": "SM2 CA", "mode": "internal", "alg": "SM2", "generate": true,
			"subject": map[string]string{"common_name": "sx SM2 Root"}, "profile": map[string]any{"algs": []string{"SM2"}}},
		{"id": "rsa", "name": "RSA CA", "mode": "internal", "alg": "RSA", "generate": true,
			"subject": map[string]string{"common_name": "sx RSA Root"}, "profile": map[string]any{"algs": []string{"RSA"}, "rsa_bits": []int{2048}}},
	} {
		w.must(w.do("POST", "/v1/admin/issuers", req, admin), http.StatusCreated)
	}
	var app struct {
		ID     string `json:"id"`
		APIKey string `json:"api_key"`
	}
	w.must(w.do("POST", "/v1/admin/apps", map[string]any{"name": "招标平台", "origins": []string{sxOrigin}}, admin), http.StatusCreated).decode(t, &app)
	w.appKey, w.appID = app.APIKey, app.ID
	w.must(w.do("POST", "/v1/admin/apps", map[string]any{"name": "Other", "origins": []string{sxOrigin2}}, admin), http.StatusCreated).decode(t, &app)
	w.otherKey = app.APIKey

	ctx := context.Background()
	enroll := func(name string, creds ...[3]string) *phone.Client {
		var u struct {
			ActivationCode string `json:"activation_code"`
		}
		w.must(w.do("POST", "/v1/admin/users", map[string]string{"name": name}, admin), http.StatusCreated).decode(t, &u)
		p := &phone.Client{BaseURL: w.ts.URL, State: &phone.State{}}
		if _, err := p.Enroll(ctx, u.ActivationCode, name+"'s phone", sxPIN); err != nil {
			t.Fatal(err)
		}
		for _, c := range creds {
			cr, err := p.RequestCredential(ctx, c[0], c[1], c[2], sxPIN)
			if err != nil {
				t.Fatal(err)
			}
			w.creds[name+"/"+c[0]+"/"+c[2]] = cr
		}
		return p
	}
	w.alice = enroll("alice", [3]string{"sm2", "SM2", "sign"}, [3]string{"sm2", "SM2", "encrypt"},
		[3]string{"rsa", "RSA", "sign"}, [3]string{"rsa", "RSA", "encrypt"})
	w.bob = enroll("bob", [3]string{"sm2", "SM2", "sign"}, [3]string{"sm2", "SM2", "encrypt"})
	w.carol = enroll("carol", [3]string{"sm2", "SM2", "sign"})
	return w
}

// do sends a request to the server; body nil (none), sxRaw (as is) or
// anything else (JSON).
func (w *sxWorld) do(method, path string, body any, hdr map[string]string) *sxResp {
	w.t.Helper()
	var rd io.Reader = http.NoBody
	switch b := body.(type) {
	case nil:
	case sxRaw:
		rd = strings.NewReader(string(b))
	default:
		j, err := json.Marshal(b)
		if err != nil {
			w.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	url := path
	if strings.HasPrefix(path, "/") {
		url = w.ts.URL + path
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		w.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return w.send(req)
}

// signed sends a device-signed request of phone p (body nil or JSON).
func (w *sxWorld) signed(p *phone.Client, method, path string, body any) *sxResp {
	w.t.Helper()
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			w.t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, w.ts.URL+path, bytes.NewReader(raw))
	if err != nil {
		w.t.Fatal(err)
	}
	if raw != nil {
		req.Header.Set("Content-Type", "application/json")
	} else {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	key, err := p.State.Key()
	if err != nil {
		w.t.Fatal(err)
	}
	if err := auth.SignRequest(req, raw, p.State.DeviceID, key, time.Now()); err != nil {
		w.t.Fatal(err)
	}
	return w.send(req)
}

func (w *sxWorld) send(req *http.Request) *sxResp {
	w.t.Helper()
	method, path := req.Method, req.URL.Path
	hr, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer hr.Body.Close()
	b, err := io.ReadAll(hr.Body)
	if err != nil {
		w.t.Fatal(err)
	}
	r := &sxResp{status: hr.StatusCode, header: hr.Header, body: b}
	if hr.StatusCode >= 400 {
		var eb struct {
			Error map[string]any `json:"error"`
		}
		if err := json.Unmarshal(b, &eb); err != nil || eb.Error["code"] == nil || eb.Error["message"] == "" {
			w.t.Fatalf("%s %s: error answer %d is not the protocol's JSON error: %s", method, path, hr.StatusCode, b)
		}
		r.code, _ = eb.Error["code"].(string)
		r.detail = eb.Error
	}
	return r
}

// app sends a portal request with the app key.
func (w *sxWorld) app(method, path string, body any) *sxResp {
	w.t.Helper()
	return w.do(method, path, body, map[string]string{"Authorization": "Bearer " + w.appKey})
}

func (w *sxWorld) must(r *sxResp, status int) *sxResp {
	w.t.Helper()
	if r.status != status {
		w.t.Fatalf("status %d (%s), want %d: %s", r.status, r.code, status, r.body)
	}
	return r
}

// refused checks a refusal's status and code.
func (w *sxWorld) refused(r *sxResp, status int, code string) *sxResp {
	w.t.Helper()
	if r.status != status || r.code != code {
		w.t.Fatalf("got %d %q, want %d %q: %s", r.status, r.code, status, code, r.body)
	}
	return r
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
