package demo_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/demo"
	"github.com/ukeygate/ukeygate/internal/testkit"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/portal"
)

// demoOrigin is where the tests' demo pages claim to be served (one of
// the test app's origins).
const demoOrigin = "http://portal.test"

// pageAppKey is the app key of demos that only render pages (no gateway
// behind them).
const pageAppKey = "ukg_pages-only-no-gateway-behind-it"

// newDemo serves a demo portal in front of g (nil: a gateway address with
// nothing behind it, for page rendering only). In front of a gateway, the
// demo app's webhook points at the demo (its results come from there).
func newDemo(t *testing.T, g *gateway, mod func(*demo.Config)) *httptest.Server {
	t.Helper()
	cfg := demo.DefaultConfig()
	cfg.GatewayURL, cfg.AppKey, cfg.Origin = "http://127.0.0.1:8080", pageAppKey, demoOrigin
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	if g != nil {
		cfg.GatewayURL, cfg.AppKey, cfg.AppID = g.url, g.appKey, g.appID
		op := &operator.Client{BaseURL: g.url, Token: g.ts.AdminToken}
		hook, err := op.SetWebhook(testCtx(t), g.appID, srv.URL+"/demo/webhook")
		if err != nil {
			t.Fatal(err)
		}
		cfg.WebhookSecret = hook.Secret
		cfg.WebhookWait = time.Minute // a failure guard: the webhook must bring every result
	}
	cfg.Logger = slog.New(slog.DiscardHandler)
	if mod != nil {
		mod(&cfg)
	}
	var err error
	if h, err = demo.New(cfg); err != nil {
		t.Fatal(err)
	}
	return srv
}

// checkHTML scans a served page: every <script> loads a file (no inline
// code), no event-handler or style attributes, no <style> elements, and
// returns the script sources.
func checkHTML(t *testing.T, page []byte) (scripts []string) {
	t.Helper()
	z := html.NewTokenizer(bytes.NewReader(page))
	inScript := false
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			if !errors.Is(z.Err(), io.EOF) {
				t.Fatalf("HTML: %v", z.Err())
			}
			return scripts
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			if tok.Data == "style" {
				t.Error("inline <style> element")
			}
			src := ""
			for _, a := range tok.Attr {
				if strings.HasPrefix(a.Key, "on") {
					t.Errorf("<%s %s=…>: inline event handler", tok.Data, a.Key)
				}
				if a.Key == "style" {
					t.Errorf("<%s style=…>: inline style", tok.Data)
				}
				if a.Key == "src" {
					src = a.Val
				}
				if (a.Key == "href" || a.Key == "src") && strings.HasPrefix(strings.ToLower(strings.TrimSpace(a.Val)), "javascript:") {
					t.Errorf("<%s %s=javascript:…>", tok.Data, a.Key)
				}
			}
			if tok.Data == "script" {
				if src == "" {
					t.Error("<script> without src")
				}
				scripts = append(scripts, src)
				inScript = true
			}
		case html.TextToken:
			if inScript && strings.TrimSpace(string(z.Text())) != "" {
				t.Errorf("inline script code: %q", z.Text())
			}
		case html.EndTagToken:
			inScript = false
		}
	}
}

func TestDemoPages(t *testing.T) {
	const gw = "http://127.0.0.1:8080"
	tests := []struct {
		name, path     string
		frameAncestors string
		wantXFO        string
		wantFA         string
		wantText       []string
	}{
		{name: "login zh", path: "/demo/", wantXFO: "DENY", wantFA: "frame-ancestors 'none'",
			wantText: []string{`lang="zh-CN"`, "扫码登录", `data-demo="widget"`, `id="ukg"`, "portal.VerifyLogin"}},
		{name: "login en", path: "/demo/?lang=en", wantXFO: "DENY", wantFA: "frame-ancestors 'none'",
			wantText: []string{`lang="en"`, "Log in with your phone"}},
		{name: "sign", path: "/demo/sign", wantXFO: "DENY", wantFA: "frame-ancestors 'none'",
			wantText: []string{`data-demo="sample"`, `data-demo="file"`, `data-demo="download"`, "cms-detached"}},
		{name: "open, not logged in", path: "/demo/open", wantXFO: "DENY", wantFA: "frame-ancestors 'none'",
			wantText: []string{`data-demo="need-login"`, "/v1/encrypt"}},
		{name: "framable by itself", path: "/demo/", frameAncestors: "'self'", wantXFO: "SAMEORIGIN", wantFA: "frame-ancestors 'self'"},
		{name: "framable by a portal", path: "/demo/sign", frameAncestors: "https://bid.example.com", wantXFO: "",
			wantFA: "frame-ancestors https://bid.example.com"},
		{name: "test switches", path: "/demo/?transport=longpoll&ttl=5&autorefresh=0", wantXFO: "DENY", wantFA: "frame-ancestors 'none'",
			wantText: []string{`data-transport="longpoll"`, `data-ttl="5"`, `data-autorefresh="0"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newDemo(t, nil, func(c *demo.Config) { c.FrameAncestors = tc.frameAncestors })
			resp, err := http.Get(srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			h := resp.Header
			if got := h.Get("Content-Type"); got != "text/html; charset=utf-8" {
				t.Errorf("Content-Type = %q", got)
			}
			csp := h.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'none'", "script-src 'self' " + gw, "style-src 'self'",
				"img-src 'self' " + gw, "connect-src 'self' " + gw + " ws://127.0.0.1:8080", "base-uri 'none'", tc.wantFA} {
				if !strings.Contains(csp, want) {
					t.Errorf("CSP %q lacks %q", csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
				t.Errorf("CSP allows unsafe code: %q", csp)
			}
			if got := h.Get("X-Frame-Options"); got != tc.wantXFO {
				t.Errorf("X-Frame-Options = %q, want %q", got, tc.wantXFO)
			}
			if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
				t.Errorf("nosniff/referrer headers missing: %v", h)
			}
			if !strings.Contains(h.Get("Cache-Control"), "no-store") {
				t.Errorf("Cache-Control = %q", h.Get("Cache-Control"))
			}
			scripts := checkHTML(t, body)
			if want := []string{gw + "/sdk/ukeygate.js", "/demo/static/demo.js"}; strings.Join(scripts, " ") != strings.Join(want, " ") {
				t.Errorf("scripts = %v, want %v", scripts, want)
			}
			for _, want := range tc.wantText {
				if !strings.Contains(string(body), want) {
					t.Errorf("page lacks %q", want)
				}
			}
			if strings.Contains(string(body), pageAppKey) {
				t.Fatal("the app key is in the page")
			}
		})
	}
}

func TestDemoStaticAndRouting(t *testing.T) {
	srv := newDemo(t, nil, nil)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tests := []struct {
		method, path string
		wantStatus   int
		wantType     string
		wantLocation string
	}{
		{"GET", "/demo/static/demo.js", 200, "text/javascript; charset=utf-8", ""},
		{"GET", "/demo/static/demo.css", 200, "text/css; charset=utf-8", ""},
		{"GET", "/demo/static/missing.js", 404, "", ""},
		{"GET", "/demo/static/../demo.go", 404, "", ""},
		{"GET", "/demo", 302, "", "/demo/"},
		{"GET", "/demo?lang=en", 302, "", "/demo/?lang=en"},
		{"GET", "/demo/nothing", 404, "", ""},
		{"GET", "/elsewhere", 404, "", ""},
		{"POST", "/demo/", 405, "", ""},
		{"GET", "/demo/api/login", 405, "application/json; charset=utf-8", ""},
		{"POST", "/demo/api/nothing", 404, "application/json; charset=utf-8", ""},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			resp, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if tc.wantType != "" && resp.Header.Get("Content-Type") != tc.wantType {
				t.Errorf("Content-Type = %q, want %q", resp.Header.Get("Content-Type"), tc.wantType)
			}
			if tc.wantLocation != "" && resp.Header.Get("Location") != tc.wantLocation {
				t.Errorf("Location = %q, want %q", resp.Header.Get("Location"), tc.wantLocation)
			}
			if resp.Header.Get("Content-Security-Policy") == "" {
				t.Error("no CSP")
			}
		})
	}
}

// TestDemoJSSyntax parses the demo's scripts with node --check.
func TestDemoJSSyntax(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is required in CI")
		}
		t.Skip("node not installed")
	}
	files, _ := filepath.Glob(filepath.Join("static", "*.js"))
	if len(files) == 0 {
		t.Fatal("no demo scripts")
	}
	for _, f := range files {
		if out, err := exec.Command(node, "--check", f).CombinedOutput(); err != nil {
			t.Errorf("node --check %s: %v\n%s", f, err, out)
		}
	}
}

func TestDemoConfigValidate(t *testing.T) {
	good := func() demo.Config {
		c := demo.DefaultConfig()
		c.GatewayURL, c.AppKey = "http://127.0.0.1:8080", "k"
		return c
	}
	tests := []struct {
		name     string
		mod      func(*demo.Config)
		wantName string // "" = valid
	}{
		{"defaults", func(*demo.Config) {}, ""},
		{"framed by a portal", func(c *demo.Config) { c.FrameAncestors = "https://a.example https://b.example" }, ""},
		{"no gateway", func(c *demo.Config) { c.GatewayURL = "" }, "GatewayURL"},
		{"relative gateway", func(c *demo.Config) { c.GatewayURL = "/gw" }, "GatewayURL"},
		{"no app key", func(c *demo.Config) { c.AppKey = "" }, "AppKey"},
		{"origin with a path", func(c *demo.Config) { c.Origin = "https://a.example/login" }, "Origin"},
		{"unknown language", func(c *demo.Config) { c.Lang = "fr" }, "Lang"},
		{"CSP injection", func(c *demo.Config) { c.FrameAncestors = "*; script-src *" }, "FrameAncestors"},
		{"prefix with a slash", func(c *demo.Config) { c.Prefix = "/demo/" }, "Prefix"},
		{"fractional TTL", func(c *demo.Config) { c.SessionTTL = 1500 * 1e6 }, "SessionTTL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := good()
			tc.mod(&c)
			err := c.Validate()
			if tc.wantName == "" {
				if err != nil {
					t.Fatal(err)
				}
				if _, err := demo.New(c); err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, demo.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.wantName) {
				t.Fatalf("err = %v, want ErrInvalidConfig naming %s", err, tc.wantName)
			}
			if _, err := demo.New(c); !errors.Is(err, demo.ErrInvalidConfig) {
				t.Fatalf("New accepted a bad config: %v", err)
			}
		})
	}
}

// browser is a cookie-keeping client that behaves like the demo's pages.
type browser struct {
	t      *testing.T
	c      *http.Client
	base   string
	secret string // the demo's app key, which must never reach it
}

func newBrowser(t *testing.T, base, secret string) *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, c: &http.Client{Jar: jar}, base: base, secret: secret}
	b.get("/demo/") // the first visit sets the cookie
	return b
}

func (b *browser) get(path string) (int, []byte) {
	b.t.Helper()
	resp, err := b.c.Get(b.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if strings.Contains(string(body), b.secret) {
		b.t.Fatalf("the app key reached the browser: %s", body)
	}
	return resp.StatusCode, body
}

// post sends JSON as demo.js does; headers may override.
func (b *browser) post(path string, body any, headers ...string) (int, map[string]any) {
	b.t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case string:
		rd = strings.NewReader(v)
	default:
		j, _ := json.Marshal(v)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(http.MethodPost, b.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if strings.Contains(string(raw), b.secret) {
		b.t.Fatalf("the app key reached the browser: %s", raw)
	}
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, m
}

func errCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// phoneConfirms has the phone scan the QR payload of a session the demo
// handed its page, and confirm it with the code the page shows; it
// returns the session id.
func phoneConfirms(t *testing.T, g *gateway, sess map[string]any) string {
	t.Helper()
	qr, _ := sess["qr"].(map[string]any)
	payload, _ := qr["payload"].(string)
	code, _ := sess["code"].(string)
	id := g.scan(payload)
	if id != sess["id"] {
		t.Fatalf("the QR payload names session %s, the page shows %v", id, sess["id"])
	}
	g.confirm(id, code)
	return id
}

// TestDemoFlows runs the three pages' backend flows against a real
// gateway: create the session, let the phone confirm, finish, and check
// what the page would show.
func TestDemoFlows(t *testing.T) {
	g := newGateway(t)
	logs := &testkit.SyncBuffer{}
	srv := newDemo(t, g, func(c *demo.Config) { c.Logger = slog.New(slog.NewTextHandler(logs, nil)) })
	defer func() {
		// Every result came from the webhook: none was refused, none late.
		for _, bad := range []string{"webhook delivery refused", "no result in time"} {
			if strings.Contains(logs.String(), bad) {
				t.Errorf("demo log: %s\n%s", bad, logs)
			}
		}
		// The gateway records the last acknowledgement just after the
		// demo's answer: wait for it.
		pc := &portal.Client{BaseURL: g.url, AppKey: g.appKey}
		deadline := time.Now().Add(time.Minute)
		for {
			list, err := pc.Deliveries(testCtx(t), "", 500)
			if err != nil {
				t.Fatal(err)
			}
			completed := 0
			for _, d := range list.Deliveries {
				if d.EventState == portal.StateCompleted && d.State == "delivered" && d.LastStatus == http.StatusNoContent {
					completed++
				}
			}
			// login, two signatures, the certificate handover, the opening
			if completed == 5 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d completed events delivered to the demo's webhook, want 5: %+v", completed, list.Deliveries)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	b := newBrowser(t, srv.URL, g.appKey)

	// Open needs a login first.
	if st, m := b.post("/demo/api/open/submit", map[string]any{}); st != http.StatusUnauthorized || errCode(m) != "login_required" {
		t.Fatalf("open before login: %d %v", st, m)
	}

	// Login.
	st, sess := b.post("/demo/api/login", map[string]any{"ttl_seconds": 60})
	if st != http.StatusCreated {
		t.Fatalf("login session: %d %v", st, sess)
	}
	id, _ := sess["id"].(string)
	watch, _ := sess["watch"].(map[string]any)
	qr, _ := sess["qr"].(map[string]any)
	if id == "" || watch["token"] == "" || watch["ws_url"] == "" || qr["png_url"] == "" || sess["code"] == "" {
		t.Fatalf("the widget lacks fields: %v", sess)
	}
	if st, m := b.post("/demo/api/login/finish", map[string]any{"session": id}); st != http.StatusConflict || errCode(m) != "session_not_completed" {
		t.Fatalf("finish before confirm: %d %v", st, m)
	}
	// Another visitor cannot finish this visitor's session.
	other := newBrowser(t, srv.URL, g.appKey)
	phoneConfirms(t, g, sess)
	if st, m := other.post("/demo/api/login/finish", map[string]any{"session": id}); st != http.StatusNotFound {
		t.Fatalf("another visitor finished the session: %d %v", st, m)
	}
	st, who := b.post("/demo/api/login/finish", map[string]any{"session": id})
	if st != http.StatusOK || who["name"] != testUserName || who["user"] != g.userID || !strings.Contains(who["subject"].(string), "CN="+testUserName) ||
		!strings.Contains(who["issuer"].(string), "demo test SM2 Root") || who["alg"] != "SM2" {
		t.Fatalf("login finish: %d %v", st, who)
	}
	if st, _ := b.post("/demo/api/login/finish", map[string]any{"session": id}); st != http.StatusNotFound {
		t.Fatalf("a session finished twice: %d", st)
	}
	_, page := b.get("/demo/")
	if !strings.Contains(string(page), testUserName) || strings.Contains(string(page), `data-demo="welcome" class="welcome" hidden`) {
		t.Fatal("the login page does not welcome the user")
	}

	// Sign a sample bid.
	st, sess = b.post("/demo/api/sign", map[string]any{"sample": "bid"})
	if st != http.StatusCreated {
		t.Fatalf("sign session: %d %v", st, sess)
	}
	id = phoneConfirms(t, g, sess)
	st, signed := b.post("/demo/api/sign/finish", map[string]any{"session": id})
	if st != http.StatusOK || signed["valid"] != true || signed["file"] != "bid-2026-017.txt.p7s" {
		t.Fatalf("sign finish: %d %v", st, signed)
	}
	resp, err := b.c.Get(srv.URL + signed["download"].(string))
	if err != nil {
		t.Fatal(err)
	}
	p7s, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	disp, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Disposition"))
	if resp.Header.Get("Content-Type") != "application/pkcs7-signature" || disp != "attachment" || params["filename"] != "bid-2026-017.txt.p7s" {
		t.Fatalf("download headers: %v", resp.Header)
	}
	sample, err := os.ReadFile(filepath.Join("samples", "bid-2026-017.txt"))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := gmcrypto.VerifyCMS(p7s, sample)
	if err != nil || len(sc.Signers) != 1 || sc.Signers[0].Subject.CommonName != testUserName {
		t.Fatalf("downloaded signature: %v", err)
	}
	if _, err := gmcrypto.VerifyCMS(p7s, append(sample, '!')); err == nil {
		t.Fatal("the signature verifies over another document")
	}
	// Another visitor cannot download it.
	if st, _ := other.get(signed["download"].(string)); st != http.StatusNotFound {
		t.Fatalf("another visitor downloaded the signature: %d", st)
	}

	// Sign an uploaded file.
	upload := []byte("我的投标文件 / my bid\n")
	st, sess = b.post("/demo/api/sign", map[string]any{"name": `..\evil"name.txt`, "data": upload})
	if st != http.StatusCreated {
		t.Fatalf("sign upload: %d %v", st, sess)
	}
	id = phoneConfirms(t, g, sess)
	if st, m := b.post("/demo/api/sign/finish", map[string]any{"session": id}); st != http.StatusOK || m["file"] != "evil_name.txt.p7s" {
		t.Fatalf("sign upload finish: %d %v", st, m)
	}

	// Submit a bid: the bidder hands over the encryption certificate by
	// scanning (a certificate session), the demo seals the bid to it.
	st, sess = b.post("/demo/api/open/submit", map[string]any{})
	if st != http.StatusCreated {
		t.Fatalf("submit: %d %v", st, sess)
	}
	id = phoneConfirms(t, g, sess)
	st, bid := b.post("/demo/api/open/submit/finish", map[string]any{"session": id})
	if st != http.StatusCreated || bid["bid"] == "" || bid["user"] != g.userID || !strings.Contains(bid["certificate"].(string), testUserName) {
		t.Fatalf("submit finish: %d %v", st, bid)
	}
	st, sess = b.post("/demo/api/open", map[string]any{"bid": bid["bid"]})
	if st != http.StatusCreated {
		t.Fatalf("open session: %d %v", st, sess)
	}
	id = phoneConfirms(t, g, sess)
	st, opened := b.post("/demo/api/open/finish", map[string]any{"session": id})
	sealed, _ := os.ReadFile(filepath.Join("samples", "sealed-bid-042.txt"))
	if st != http.StatusOK || opened["match"] != true || opened["plaintext"] != string(sealed) {
		t.Fatalf("open finish: %d %v", st, opened)
	}

	// Log out: the login is gone.
	if st, _ := b.post("/demo/api/logout", map[string]any{}); st != http.StatusOK {
		t.Fatalf("logout: %d", st)
	}
	if st, _ := b.post("/demo/api/open/submit", map[string]any{}); st != http.StatusUnauthorized {
		t.Fatalf("open after logout: %d", st)
	}
}

// TestDemoLoginRefused: a login whose challenge names another app is not
// accepted, whatever the gateway says about the certificate.
func TestDemoLoginRefused(t *testing.T) {
	g := newGateway(t)
	srv := newDemo(t, g, func(c *demo.Config) { c.AppID = "app_another" })
	b := newBrowser(t, srv.URL, g.appKey)
	_, sess := b.post("/demo/api/login", map[string]any{})
	id := phoneConfirms(t, g, sess)
	if st, m := b.post("/demo/api/login/finish", map[string]any{"session": id}); st != http.StatusForbidden || errCode(m) != "login_invalid" {
		t.Fatalf("finish: %d %v", st, m)
	}
	if st, _ := b.post("/demo/api/open/submit", map[string]any{}); st != http.StatusUnauthorized {
		t.Fatal("a refused login logged the visitor in")
	}
}

func TestDemoAPIRefusals(t *testing.T) {
	g := newGateway(t)
	srv := newDemo(t, g, nil)
	b := newBrowser(t, srv.URL, g.appKey)
	big := `{"name":"a","data":"` + strings.Repeat("A", 2<<20) + `"}`
	tests := []struct {
		name       string
		path       string
		body       any
		headers    []string
		wantStatus int
		wantCode   string
	}{
		{"cross-site fetch", "/demo/api/login", map[string]any{}, []string{"Sec-Fetch-Site", "cross-site"}, 403, "cross_origin"},
		{"cross-origin Origin", "/demo/api/login", map[string]any{}, []string{"Sec-Fetch-Site", "", "Origin", "https://evil.example"}, 403, "cross_origin"},
		{"form post", "/demo/api/login", "a=b", []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"},
		{"unknown field", "/demo/api/login", map[string]any{"app_key": "x"}, nil, 400, "bad_request"},
		{"two objects", "/demo/api/login", `{}{}`, nil, 400, "bad_request"},
		{"unknown session", "/demo/api/login/finish", map[string]any{"session": "S000000000000999"}, nil, 404, "session_not_found"},
		{"unknown sample", "/demo/api/sign", map[string]any{"sample": "../../etc/passwd"}, nil, 400, "bad_request"},
		{"sample and file", "/demo/api/sign", map[string]any{"sample": "bid", "data": []byte("x")}, nil, 400, "bad_request"},
		{"oversized upload", "/demo/api/sign", big, nil, 413, "too_large"},
		{"open unknown bid", "/demo/api/open", map[string]any{"bid": "nope"}, nil, 401, "login_required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, m := b.post(tc.path, tc.body, tc.headers...)
			if st != tc.wantStatus || errCode(m) != tc.wantCode {
				t.Fatalf("%d %v, want %d %s", st, m, tc.wantStatus, tc.wantCode)
			}
		})
	}
	if n := g.sessionCount(); n != 0 {
		t.Fatalf("refused requests created %d sessions", n)
	}
}
