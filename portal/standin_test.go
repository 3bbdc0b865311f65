package portal_test

// A stand-in for the gateway's v1 portal endpoints, written from DESIGN.md,
// used until package api serves them: the HTTP/websocket plumbing is real
// (loopback, gorilla websocket, JSON), and so is the crypto (gmcrypto signs
// the login challenge, makes the CMS, opens the envelope); the session
// logic is the minimum needed to drive a watcher. When api lands, these
// tests should run against server.New instead (see the report of this
// change).

import (
	"crypto"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"
	"github.com/gorilla/websocket"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/portal"
)

const (
	standinAppKey = "test-app-key-0123456789"
	standinAppID  = "app-demo"
)

type standinSession struct {
	id, token, kind, code string
	req                   portal.SessionRequest
	expires               time.Time
	events                []portal.Event
	result                json.RawMessage
	changed               chan struct{} // closed and replaced on every event
}

type standin struct {
	t      *testing.T
	srv    *httptest.Server
	key    crypto.Signer
	cert   *smx509.Certificate
	userID string

	mu       sync.Mutex
	sessions map[string]*standinSession
	n        int
	// Test switches.
	blockWS   bool // the websocket endpoint refuses the upgrade (a proxy)
	dropAfter int  // close each websocket after sending this many new events (0 = never)
	replayAll bool // answer every watch request with all events, ignoring after=
	// What watchers asked for, in order: "ws:AFTER" or "poll:AFTER";
	// reqChanged is closed and replaced on every new entry.
	requests   []string
	reqChanged chan struct{}
}

func newStandin(t *testing.T) *standin {
	t.Helper()
	key := genKey(t, gmcrypto.AlgSM2)
	cert := makeCert(t, key, key.Public(), certOpts{
		cn: "张三", notBefore: time.Now().Add(-time.Hour), notAfter: time.Now().Add(24 * time.Hour),
		keyUsage: smx509.KeyUsageDigitalSignature | smx509.KeyUsageKeyEncipherment,
	})
	g := &standin{t: t, key: key, cert: cert, userID: "u-zhangsan", sessions: map[string]*standinSession{}, reqChanged: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/sessions", g.create)
	mux.HandleFunc("GET /v1/sessions/{id}", g.get)
	mux.HandleFunc("DELETE /v1/sessions/{id}", g.cancel)
	mux.HandleFunc("GET /v1/sessions/{id}/ws", g.ws)
	mux.HandleFunc("GET /v1/sessions/{id}/events", g.poll)
	mux.HandleFunc("GET /v1/sessions/{id}/qr.png", g.qr)
	mux.HandleFunc("POST /v1/verify", g.verify)
	mux.HandleFunc("POST /v1/encrypt", g.encrypt)
	g.srv = httptest.NewServer(mux)
	t.Cleanup(g.srv.Close)
	return g
}

func apiErr(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (g *standin) appAuth(w http.ResponseWriter, r *http.Request) bool {
	if r.Header.Get("Authorization") != "Bearer "+standinAppKey {
		apiErr(w, http.StatusUnauthorized, "unauthorized", "bad app key")
		return false
	}
	return true
}

// session returns the session of the path, checking the watch token or
// the app key.
func (g *standin) session(w http.ResponseWriter, r *http.Request, tokenOK bool) *standinSession {
	g.mu.Lock()
	s := g.sessions[r.PathValue("id")]
	g.mu.Unlock()
	authorised := r.Header.Get("Authorization") == "Bearer "+standinAppKey ||
		(tokenOK && s != nil && r.URL.Query().Get("token") == s.token)
	if s == nil || !authorised {
		apiErr(w, http.StatusNotFound, "session_not_found", "no such session")
		return nil
	}
	return s
}

func (g *standin) create(w http.ResponseWriter, r *http.Request) {
	if !g.appAuth(w, r) {
		return
	}
	var req portal.SessionRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		apiErr(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	ttl := 120
	if req.TTLSeconds > 0 {
		ttl = req.TTLSeconds
	}
	g.mu.Lock()
	g.n++
	s := &standinSession{
		id: fmt.Sprintf("S%015d", g.n), token: fmt.Sprintf("T%031d", g.n), kind: req.Kind,
		code: fmt.Sprintf("%02d", 10+g.n%90), req: req,
		expires: time.Now().Add(time.Duration(ttl) * time.Second), changed: make(chan struct{}),
	}
	s.events = []portal.Event{{Seq: 1, Type: "state", State: portal.StateWaiting, At: time.Now()}}
	g.sessions[s.id] = s
	g.mu.Unlock()
	base := g.srv.URL + "/v1/sessions/" + s.id
	writeJSON(w, http.StatusCreated, map[string]any{
		"id": s.id, "state": "waiting", "expires_at": s.expires, "code": s.code,
		"qr":    map[string]string{"payload": "https://gw.example/q/" + s.id + "/nonce", "png_url": base + "/qr.png", "svg_url": base + "/qr.svg"},
		"watch": map[string]string{"ws_url": "ws" + strings.TrimPrefix(base, "http") + "/ws", "events_url": base + "/events", "token": s.token},
	})
}

func (g *standin) snapshot(s *standinSession) map[string]any {
	g.mu.Lock()
	defer g.mu.Unlock()
	last := s.events[len(s.events)-1]
	m := map[string]any{"id": s.id, "kind": s.kind, "state": last.State, "expires_at": s.expires, "events": s.events}
	if s.result != nil {
		m["result"] = s.result
	}
	return m
}

func (g *standin) get(w http.ResponseWriter, r *http.Request) {
	if !g.appAuth(w, r) {
		return
	}
	if s := g.session(w, r, false); s != nil {
		writeJSON(w, http.StatusOK, g.snapshot(s))
	}
}

func (g *standin) cancel(w http.ResponseWriter, r *http.Request) {
	if !g.appAuth(w, r) {
		return
	}
	s := g.session(w, r, false)
	if s == nil {
		return
	}
	if err := g.transition(s.id, portal.StateCancelled, nil); err != nil {
		apiErr(w, http.StatusConflict, "session_closed", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, g.snapshot(s))
}

func (g *standin) qr(w http.ResponseWriter, r *http.Request) {
	if s := g.session(w, r, true); s != nil {
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write([]byte("\x89PNG\r\n\x1a\nsize=" + r.URL.Query().Get("size")))
	}
}

// transition appends an event (the "phone" side of the tests).
func (g *standin) transition(id, state string, result json.RawMessage) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.sessions[id]
	if s == nil {
		return fmt.Errorf("no session %s", id)
	}
	last := s.events[len(s.events)-1]
	if portal.FinalState(last.State) {
		return fmt.Errorf("session %s is %s", id, last.State)
	}
	ev := portal.Event{Seq: last.Seq + 1, Type: "state", State: state, At: time.Now(), Result: result}
	s.events = append(s.events, ev)
	if result != nil {
		s.result = result
	}
	close(s.changed)
	s.changed = make(chan struct{})
	return nil
}

// after returns the events after seq and the channel that closes on the
// next event.
func (g *standin) after(s *standinSession, seq int64) ([]portal.Event, <-chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []portal.Event
	for _, e := range s.events {
		if e.Seq > seq {
			out = append(out, e)
		}
	}
	return out, s.changed
}

func (g *standin) record(what string) {
	g.mu.Lock()
	g.requests = append(g.requests, what)
	close(g.reqChanged)
	g.reqChanged = make(chan struct{})
	g.mu.Unlock()
}

func (g *standin) requested() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.requests...)
}

func (g *standin) ws(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	blocked, drop := g.blockWS, g.dropAfter
	g.mu.Unlock()
	if blocked {
		http.Error(w, "websocket blocked by proxy", http.StatusBadGateway)
		return
	}
	s := g.session(w, r, true)
	if s == nil {
		return
	}
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	g.record("ws:" + strconv.FormatInt(after, 10))
	asked := after // events up to here are repeats when replayAll is set
	g.mu.Lock()
	if g.replayAll {
		after = 0
	}
	g.mu.Unlock()
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer conn.Close()
	sent := 0
	for {
		evs, changed := g.after(s, after)
		for _, e := range evs {
			b, _ := json.Marshal(e)
			if err := conn.WriteMessage(websocket.TextMessage, b); err != nil {
				return
			}
			after = e.Seq
			if e.Seq > asked {
				sent++ // only new events count towards dropAfter
			}
			if drop > 0 && sent >= drop {
				return // simulate a dropped connection
			}
			if portal.FinalState(e.State) {
				_ = conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
				return
			}
		}
		select {
		case <-changed:
		case <-r.Context().Done():
			return
		case <-time.After(30 * time.Second):
			return
		}
	}
}

func (g *standin) poll(w http.ResponseWriter, r *http.Request) {
	s := g.session(w, r, true)
	if s == nil {
		return
	}
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	wait, _ := strconv.Atoi(r.URL.Query().Get("wait"))
	g.record("poll:" + strconv.FormatInt(after, 10))
	g.mu.Lock()
	replay := g.replayAll
	g.mu.Unlock()
	if replay {
		evs, _ := g.after(s, 0)
		writeJSON(w, http.StatusOK, map[string]any{"events": evs})
		return
	}
	deadline := time.After(time.Duration(wait) * time.Second)
	for {
		evs, changed := g.after(s, after)
		if len(evs) > 0 || wait == 0 {
			if evs == nil {
				evs = []portal.Event{}
			}
			writeJSON(w, http.StatusOK, map[string]any{"events": evs})
			return
		}
		select {
		case <-changed:
		case <-deadline:
			writeJSON(w, http.StatusOK, map[string]any{"events": []portal.Event{}})
			return
		case <-r.Context().Done():
			return
		}
	}
}

func (g *standin) verify(w http.ResponseWriter, r *http.Request) {
	if !g.appAuth(w, r) {
		return
	}
	var req portal.VerifyRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		apiErr(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	var signer *smx509.Certificate
	switch {
	case req.CMS != nil:
		sc, err := gmcrypto.VerifyCMS(req.CMS, req.Data)
		if err == nil && len(sc.Signers) == 1 {
			signer = sc.Signers[0]
		}
	case req.Signature != nil:
		certs, err := gmcrypto.ParseCertificatesPEM([]byte(req.CertificatePEM))
		if err == nil && gmcrypto.Verify(certs[0].PublicKey, req.Data, req.Signature, nil) == nil {
			signer = certs[0]
		}
	}
	// Only the stand-in's own user certificate counts as registered.
	if signer == nil || !signer.Equal(g.cert) {
		writeJSON(w, http.StatusOK, map[string]any{"valid": false, "reason": "signature_invalid"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"valid": true, "signer": map[string]any{
		"subject": signer.Subject.String(), "issuer": signer.Issuer.String(),
		"serial": signer.SerialNumber.Text(16), "not_after": signer.NotAfter,
	}})
}

func (g *standin) encrypt(w http.ResponseWriter, r *http.Request) {
	if !g.appAuth(w, r) {
		return
	}
	var req struct {
		User   string `json:"user"`
		Issuer string `json:"issuer"`
		Data   []byte `json:"data"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.User != g.userID {
		apiErr(w, http.StatusNotFound, "user_not_found", "no such user")
		return
	}
	cms, err := gmcrypto.EnvelopeCMS(req.Data, g.cert)
	if err != nil {
		apiErr(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"cms": cms})
}

// --- the phone side ---------------------------------------------------------

func (g *standin) scan(id string) {
	g.t.Helper()
	if err := g.transition(id, portal.StateScanned, nil); err != nil {
		g.t.Fatal(err)
	}
}

// confirm performs the session's operation with the user's key, as the
// gateway does on the phone's confirm, and completes the session.
func (g *standin) confirm(id string) {
	g.t.Helper()
	g.mu.Lock()
	s := g.sessions[id]
	g.mu.Unlock()
	certPEM := string(gmcrypto.EncodeCertificatesPEM(g.cert))
	var result any
	switch s.kind {
	case portal.KindLogin:
		chal, _ := json.Marshal(map[string]any{
			"session": s.id, "app": standinAppID, "origin": s.req.Origin,
			"nonce": "nonce-" + s.id, "time": time.Now().UTC().Format(time.RFC3339),
		})
		sig, err := gmcrypto.Sign(g.key, chal, nil)
		if err != nil {
			g.t.Fatal(err)
		}
		result = map[string]any{"user": g.userID, "credential": "cred-1", "certificate_pem": certPEM, "challenge": chal, "signature": sig}
	case portal.KindSign:
		var docs []map[string]any
		for _, d := range s.req.Documents {
			cms, err := gmcrypto.SignCMS(g.key, g.cert, nil, d.Data, s.req.Format == portal.FormatCMSDetached)
			if err != nil {
				g.t.Fatal(err)
			}
			docs = append(docs, map[string]any{"name": d.Name, "cms": cms})
		}
		result = map[string]any{"certificate_pem": certPEM, "documents": docs}
	case portal.KindDecrypt:
		pt, err := gmcrypto.OpenCMS(s.req.Ciphertext, g.cert, g.key)
		if err != nil {
			g.t.Fatal(err)
		}
		result = map[string]any{"plaintext": pt}
	}
	b, _ := json.Marshal(result)
	if err := g.transition(id, portal.StateCompleted, b); err != nil {
		g.t.Fatal(err)
	}
}

// waitRequests blocks until the watchers made n requests (the timer is a
// failure guard only).
func (g *standin) waitRequests(n int) []string {
	g.t.Helper()
	guard := time.After(10 * time.Second)
	for {
		g.mu.Lock()
		r, changed := append([]string(nil), g.requests...), g.reqChanged
		g.mu.Unlock()
		if len(r) >= n {
			return r
		}
		select {
		case <-changed:
		case <-guard:
			g.t.Fatalf("only %d watcher requests: %v", len(r), r)
		}
	}
}
