package webapp

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io"
	"io/fs"
	"net/http"
	"path"
	"sort"
	"strings"
	"sync"
	"time"
)

//go:embed static
var files embed.FS

// Where the app is served. PathQR is the QR payload's path prefix
// (qrlogin: <public_url>/q/<id>.<nonce>): the same page, which scans that
// session at once.
const (
	PathApp = "/m/"
	PathQR  = "/q/"
)

// EnrollmentFragment starts the fragment of an enrollment link:
// <public_url>/m/#activate=<code>. A fragment never reaches a server or a
// Referer, so the code stays out of logs.
const EnrollmentFragment = "#activate="

// EnrollmentURL is the link (and QR content) that opens the app at
// publicURL with the activation code filled in.
func EnrollmentURL(publicURL, code string) string {
	return strings.TrimRight(publicURL, "/") + PathApp + EnrollmentFragment + code
}

// CSP is the Content-Security-Policy of every answer: code and styles only
// from the app's own files (no inline script or style), connections to
// the gateway itself, the camera's stream as media, never framed.
//
// 'wasm-unsafe-eval' lets the page compile WebAssembly, and only that
// (no eval, no Function, no inline script): the phone's half of two-party
// SM2 is a WebAssembly module (cosign.wasm), which connect-src 'self'
// restricts to the gateway's own copy.
const CSP = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data: blob:; " +
	"connect-src 'self'; media-src 'self' blob: mediastream:; worker-src 'self'; manifest-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// asset is one embedded file, ready to serve.
type asset struct {
	body  []byte
	ctype string
	etag  string
	// gz is the body gzip-compressed, for a file stored compressed
	// (NAME.gz in static/, served as NAME): sent as it is to clients that
	// accept gzip, body (decompressed once) to the others.
	gz []byte
}

// Handler serves the app: the page at PathApp (and PathApp+"index.html")
// and at PathQR+"<payload>", its files under PathApp, and a redirect from
// "/m" to PathApp. Anything else under these prefixes is a plain 404.
type Handler struct {
	assets map[string]*asset
}

// contentTypes are the file types the app consists of.
var contentTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".webmanifest": "application/manifest+json",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".txt":         "text/plain; charset=utf-8",
	".wasm":        "application/wasm",
}

// New returns a handler of the embedded files. They are read, unpacked
// and digested once per process (loadAssets) and shared, read-only, by
// every handler: a process that serves several gateways (the tests start
// hundreds) pays for it once.
func New() *Handler {
	return &Handler{assets: loadAssets()}
}

// loadAssets loads the embedded files. The service worker's cache name
// carries a digest of every other file, so a new gateway version replaces
// the cached shell.
var loadAssets = sync.OnceValue(func() map[string]*asset {
	assets := map[string]*asset{}
	var names []string
	err := fs.WalkDir(files, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		names = append(names, strings.TrimPrefix(p, "static/"))
		return nil
	})
	if err != nil {
		panic("webapp: embedded files: " + err.Error())
	}
	sort.Strings(names)
	version := sha256.New()
	for _, n := range names {
		b, err := files.ReadFile("static/" + n)
		if err != nil {
			panic("webapp: embedded files: " + err.Error())
		}
		a := &asset{body: b}
		if strings.HasSuffix(n, ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				panic("webapp: " + n + ": " + err.Error())
			}
			if a.body, err = io.ReadAll(zr); err != nil {
				panic("webapp: " + n + ": " + err.Error())
			}
			a.gz, n = b, strings.TrimSuffix(n, ".gz")
		}
		ct, ok := contentTypes[path.Ext(n)]
		if !ok {
			panic("webapp: no content type for " + n)
		}
		if n != "sw.js" {
			version.Write([]byte(n))
			version.Write(b)
		}
		a.ctype = ct
		assets[n] = a
	}
	sw := assets["sw.js"]
	sw.body = bytes.ReplaceAll(sw.body, []byte("__VERSION__"), []byte(hex.EncodeToString(version.Sum(nil))[:16]))
	for _, a := range assets {
		sum := sha256.Sum256(a.body)
		a.etag = `"` + hex.EncodeToString(sum[:12]) + `"`
	}
	return assets
})

// securityHeaders are sent with every answer of the app.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(self), microphone=(), geolocation=()")
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w.Header())
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	switch {
	case p == strings.TrimSuffix(PathApp, "/"):
		http.Redirect(w, r, PathApp, http.StatusFound)
	case p == PathApp || p == PathApp+"index.html":
		// Revalidated on every load: a new gateway version shows at once.
		h.serve(w, r, "index.html", "no-cache")
	case strings.HasPrefix(p, PathQR):
		rest := strings.TrimPrefix(p, PathQR)
		if rest == "" || strings.Contains(rest, "/") {
			http.NotFound(w, r)
			return
		}
		// The URL holds a one-time nonce: nothing keeps the page.
		h.serve(w, r, "index.html", "no-store")
	case strings.HasPrefix(p, PathApp):
		name := strings.TrimPrefix(p, PathApp)
		if name == "index.html" || strings.HasPrefix(name, ".") || strings.Contains(name, "..") || h.assets[name] == nil {
			http.NotFound(w, r)
			return
		}
		cache := "no-cache"
		if name != "sw.js" && name != "manifest.webmanifest" {
			cache = "public, max-age=300"
		}
		h.serve(w, r, name, cache)
	default:
		http.NotFound(w, r)
	}
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, name, cache string) {
	a := h.assets[name]
	hd := w.Header()
	hd.Set("Content-Type", a.ctype)
	hd.Set("Cache-Control", cache)
	body, etag := a.body, a.etag
	if a.gz != nil {
		hd.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			hd.Set("Content-Encoding", "gzip")
			body, etag = a.gz, strings.TrimSuffix(a.etag, `"`)+`-gz"`
		}
	}
	hd.Set("ETag", etag)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(body))
}

// acceptsGzip tells whether an Accept-Encoding header admits gzip.
func acceptsGzip(ae string) bool {
	for _, part := range strings.Split(ae, ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			return strings.ReplaceAll(strings.TrimSpace(params), " ", "") != "q=0"
		}
	}
	return false
}
