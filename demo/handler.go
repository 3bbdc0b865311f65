package demo

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/ukeygate/ukeygate/portal"
)

//go:embed templates/*.html static/* samples/*
var demoFS embed.FS

// Config configures the demo portal served by New.
type Config struct {
	// GatewayURL is the gateway's public_url, e.g. "http://127.0.0.1:8080".
	// The demo's backend calls it over HTTP like any portal would, and the
	// browser loads the widget, the QR images and the watch stream from it.
	GatewayURL string
	// AppKey is the demo app's API key; it stays in the demo's backend.
	AppKey string
	// AppID is the demo app's id; when set, login challenges must name it.
	AppID string
	// Origin is the origin the demo pages are served at (the demo app's
	// registered origin); empty means GatewayURL's origin. Login challenges
	// must name it.
	Origin string
	// Lang is the default language, "zh" or "en" (a page's ?lang= wins).
	Lang string
	// FrameAncestors is the CSP frame-ancestors source list: "'none'"
	// (default, also sends X-Frame-Options: DENY), "'self'" (SAMEORIGIN),
	// or origins allowed to frame the demo.
	FrameAncestors string
	// Prefix is the path the demo is mounted at; default "/demo". The
	// handler expects full request paths (no http.StripPrefix).
	Prefix string
	// SDKURL is where pages load the widget; default GatewayURL +
	// "/sdk/ukeygate.js".
	SDKURL string
	// SessionTTL is the TTL the demo asks for; 0 = the gateway's default.
	// A page may ask for a shorter one with ?ttl=N (seconds, 3..600).
	SessionTTL time.Duration
	// HTTP is the client for calls to the gateway; nil = a default client.
	HTTP *http.Client
	// Logger receives one line per failed backend step; nil = slog.Default().
	Logger *slog.Logger
	// WebhookSecret, when set, is the demo app's webhook secret: the
	// gateway POSTs the app's session events to Prefix + "/webhook", and
	// the backend takes each result from there (webhook.go).
	WebhookSecret string
	// WebhookWait is how long a finish waits for the webhook's result
	// before reading the session from the gateway; default 10 s.
	WebhookWait time.Duration
}

// DefaultConfig returns the defaults; GatewayURL and AppKey must still
// be set.
func DefaultConfig() Config {
	return Config{Lang: "zh", FrameAncestors: "'none'", Prefix: "/demo"}
}

// Validate checks c, naming the bad field. Empty optional fields are
// accepted (New fills the defaults).
func (c Config) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, a...)...)
	}
	gw, err := url.Parse(c.GatewayURL)
	if err != nil || (gw.Scheme != "http" && gw.Scheme != "https") || gw.Host == "" || gw.RawQuery != "" || gw.Fragment != "" {
		return bad("demo GatewayURL %q must be an absolute http(s) URL without query", c.GatewayURL)
	}
	if c.AppKey == "" || strings.ContainsAny(c.AppKey, " \r\n") {
		return bad("demo AppKey is empty or contains spaces or line breaks")
	}
	if c.Origin != "" {
		if o, err := url.Parse(c.Origin); err != nil || (o.Scheme != "http" && o.Scheme != "https") ||
			o.Host == "" || (o.Path != "" && o.Path != "/") || o.RawQuery != "" {
			return bad("demo Origin %q must be scheme://host[:port]", c.Origin)
		}
	}
	switch c.Lang {
	case "", "zh", "en":
	default:
		return bad("demo Lang %q is not zh or en", c.Lang)
	}
	if strings.ContainsAny(c.FrameAncestors, ";,\r\n\"<>") {
		return bad("demo FrameAncestors %q must be a CSP source list (no ';' ',' or quotes other than keywords)", c.FrameAncestors)
	}
	if c.Prefix != "" && (!strings.HasPrefix(c.Prefix, "/") || strings.HasSuffix(c.Prefix, "/") || path.Clean(c.Prefix) != c.Prefix) {
		return bad("demo Prefix %q must start with / and not end with /", c.Prefix)
	}
	if c.SDKURL != "" {
		if u, err := url.Parse(c.SDKURL); err != nil || (u.IsAbs() && u.Scheme != "http" && u.Scheme != "https") {
			return bad("demo SDKURL %q is not an http(s) URL or path", c.SDKURL)
		}
	}
	if c.SessionTTL < 0 || c.SessionTTL%time.Second != 0 {
		return bad("demo SessionTTL %v must be whole seconds, not negative", c.SessionTTL)
	}
	return nil
}

// withDefaults fills the empty optional fields.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	c.GatewayURL = strings.TrimRight(c.GatewayURL, "/")
	if c.Lang == "" {
		c.Lang = d.Lang
	}
	if c.FrameAncestors == "" {
		c.FrameAncestors = d.FrameAncestors
	}
	if c.Prefix == "" {
		c.Prefix = d.Prefix
	}
	if c.Origin == "" {
		c.Origin = originOf(c.GatewayURL)
	}
	c.Origin = strings.TrimRight(c.Origin, "/")
	if c.SDKURL == "" {
		c.SDKURL = c.GatewayURL + "/sdk/ukeygate.js"
	}
	if c.WebhookWait <= 0 {
		c.WebhookWait = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// originOf returns scheme://host of an absolute URL ("" if it is not one).
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// demo is the demo portal's handler.
type demo struct {
	cfg    Config
	client *portal.Client
	pages  map[string]*template.Template
	static fs.FS
	csp    string
	xfo    string
	store  *demoStore
	hooks  *hookInbox
}

// New returns the demo procurement portal: pages at Prefix + "/" (QR
// login), "/sign" (sign a bid, CMS detached) and "/open" (open a bid
// encrypted to the logged-in user), their static files under "/static/",
// and the small JSON backend under "/api/" that creates sessions with
// AppKey through a Client against GatewayURL and verifies every result
// (VerifyLogin, gmcrypto and POST /v1/verify) before showing it. Mount it
// at both Prefix and Prefix + "/".
func New(cfg Config) (http.Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	d := &demo{
		cfg:    cfg,
		client: &portal.Client{BaseURL: cfg.GatewayURL, AppKey: cfg.AppKey, HTTP: cfg.HTTP, Origin: cfg.Origin},
		pages:  map[string]*template.Template{},
		store:  newDemoStore(),
		hooks:  newHookInbox(),
	}
	var err error
	if d.static, err = fs.Sub(demoFS, "static"); err != nil {
		return nil, fmt.Errorf("portal: demo static files: %w", err)
	}
	for _, p := range []string{"login", "sign", "open"} {
		t, err := template.New("layout.html").ParseFS(demoFS, "templates/layout.html", "templates/"+p+".html")
		if err != nil {
			return nil, fmt.Errorf("portal: demo template %s: %w", p, err)
		}
		d.pages[p] = t
	}
	d.csp, d.xfo = demoCSP(cfg)
	return d, nil
}

// demoCSP builds the Content-Security-Policy of the demo pages: scripts
// and styles only from files (no inline code), images and connections to
// the gateway, framing as configured.
func demoCSP(cfg Config) (csp, xfo string) {
	gw := originOf(cfg.GatewayURL)
	scripts := []string{"'self'"}
	if o := originOf(cfg.SDKURL); o != "" {
		scripts = append(scripts, o)
	}
	connect := []string{"'self'", gw}
	if strings.HasPrefix(gw, "https://") {
		connect = append(connect, "wss://"+strings.TrimPrefix(gw, "https://"))
	} else {
		connect = append(connect, "ws://"+strings.TrimPrefix(gw, "http://"))
	}
	csp = strings.Join([]string{
		"default-src 'none'",
		"script-src " + strings.Join(dedupe(scripts), " "),
		"style-src 'self'",
		"img-src 'self' " + gw,
		"connect-src " + strings.Join(dedupe(connect), " "),
		"form-action 'self'",
		"base-uri 'none'",
		"frame-ancestors " + cfg.FrameAncestors,
	}, "; ")
	switch strings.TrimSpace(cfg.FrameAncestors) {
	case "'none'":
		xfo = "DENY"
	case "'self'":
		xfo = "SAMEORIGIN"
	}
	return csp, xfo
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// securityHeaders sets the headers of every demo response.
func (d *demo) securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", d.csp)
	if d.xfo != "" {
		h.Set("X-Frame-Options", d.xfo)
	}
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
}

func (d *demo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.securityHeaders(w.Header())
	p := r.URL.Path
	if p == d.cfg.Prefix {
		target := d.cfg.Prefix + "/"
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, target, http.StatusFound)
		return
	}
	rest, ok := strings.CutPrefix(p, d.cfg.Prefix+"/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	switch {
	case rest == "" || rest == "sign" || rest == "open":
		d.page(w, r, rest)
	case strings.HasPrefix(rest, "static/"):
		d.serveFile(w, r, d.static, strings.TrimPrefix(rest, "static/"))
	case strings.HasPrefix(rest, "api/"):
		d.api(w, r, strings.TrimPrefix(rest, "api/"))
	case rest == "webhook":
		d.webhook(w, r)
	default:
		http.NotFound(w, r)
	}
}

// serveFile serves one embedded file with an explicit content type.
func (d *demo) serveFile(w http.ResponseWriter, r *http.Request, fsys fs.FS, name string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if name == "" || strings.Contains(name, "/") || strings.HasPrefix(name, ".") {
		http.NotFound(w, r)
		return
	}
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	ct := "application/octet-stream"
	switch path.Ext(name) {
	case ".js":
		ct = "text/javascript; charset=utf-8"
	case ".css":
		ct = "text/css; charset=utf-8"
	case ".txt":
		ct = "text/plain; charset=utf-8"
	case ".svg":
		ct = "image/svg+xml"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(b)
}

// pageData is what the page templates see.
type pageData struct {
	Lang      string
	OtherLang string
	T         map[string]string
	Prefix    string
	Page      string
	SDKURL    string
	Gateway   string
	Identity  *demoIdentity
	Samples   []demoSample
	Snippets  map[string]string
	// Test and demo switches passed to demo.js through data attributes.
	Transport   string
	TTL         int
	AutoRefresh bool
}

func (d *demo) page(w http.ResponseWriter, r *http.Request, name string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if name == "" {
		name = "login"
	}
	lang := d.cfg.Lang
	if l := r.URL.Query().Get("lang"); l == "zh" || l == "en" {
		lang = l
	}
	other := "en"
	if lang == "en" {
		other = "zh"
	}
	v := d.visitor(w, r)
	data := pageData{
		Lang: lang, OtherLang: other, T: demoText[lang], Prefix: d.cfg.Prefix, Page: name,
		SDKURL: d.cfg.SDKURL, Gateway: d.cfg.GatewayURL, Samples: demoSamples,
		Snippets:    d.snippetsFor(name),
		AutoRefresh: r.URL.Query().Get("autorefresh") != "0",
	}
	if v != nil {
		data.Identity = d.store.identity(v)
	}
	if r.URL.Query().Get("transport") == "longpoll" {
		data.Transport = "longpoll"
	}
	if ttl, ok := parseTTL(r.URL.Query().Get("ttl")); ok {
		data.TTL = ttl
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	if err := d.pages[name].ExecuteTemplate(w, "layout.html", data); err != nil {
		d.cfg.Logger.Error("demo: render page", "page", name, "err", err)
	}
}
