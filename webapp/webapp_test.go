package webapp_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/webapp"
)

func get(t *testing.T, h http.Handler, method, path string, hdr map[string]string) *http.Response {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestHandler: the page at /m/ and /q/<payload>, its files, 404 for the
// rest, ETags, and the service worker's version filled in.
func TestHandler(t *testing.T) {
	h := webapp.New()
	page := body(t, get(t, h, "GET", "/m/", nil))
	if q := body(t, get(t, h, "GET", "/q/abc.def", nil)); q != page || !strings.Contains(page, `src="../m/app.js"`) {
		t.Fatal("/q/ does not serve the app page, or the page does not load app.js relative to /m/")
	}
	for _, p := range []string{"/m/nope.js", "/m/.hidden", "/m/../webapp.go", "/q/", "/q/a/b", "/x"} {
		if r := get(t, h, "GET", p, nil); r.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d", p, r.StatusCode)
		}
	}
	if r := get(t, h, "POST", "/m/", nil); r.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /m/: %d", r.StatusCode)
	}
	r := get(t, h, "GET", "/m/app.js", nil)
	etag := r.Header.Get("ETag")
	if etag == "" || r.StatusCode != http.StatusOK {
		t.Fatalf("app.js: %d etag %q", r.StatusCode, etag)
	}
	if r := get(t, h, "GET", "/m/app.js", map[string]string{"If-None-Match": etag}); r.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d", r.StatusCode)
	}
	// The sample privacy policy, where registration.policy_url points by
	// default.
	if r := get(t, h, "GET", "/m/privacy.html", nil); r.StatusCode != http.StatusOK || !strings.Contains(body(t, r), "隐私政策") {
		t.Errorf("GET /m/privacy.html: %d", r.StatusCode)
	}
	sw := body(t, get(t, h, "GET", "/m/sw.js", nil))
	if strings.Contains(sw, "__VERSION__") || !regexp.MustCompile(`ukeygate-shell-[0-9a-f]{16}'`).MatchString(sw) {
		t.Error("the service worker's cache name carries no version")
	}
	// Every file the page and the service worker name exists.
	for _, f := range regexp.MustCompile(`(?:href|src)="\.\./m/([^"]+)"`).FindAllStringSubmatch(page, -1) {
		if r := get(t, h, "GET", "/m/"+f[1], nil); r.StatusCode != http.StatusOK {
			t.Errorf("the page links %s: %d", f[1], r.StatusCode)
		}
	}
	shell := regexp.MustCompile(`var SHELL = \[([^\]]+)\]`).FindStringSubmatch(sw)
	if shell == nil {
		t.Fatal("no SHELL list in sw.js")
	}
	for _, f := range regexp.MustCompile(`'([^']+)'`).FindAllStringSubmatch(shell[1], -1) {
		p := "/m/" + strings.TrimPrefix(f[1], "./")
		if r := get(t, h, "GET", p, nil); r.StatusCode != http.StatusOK {
			t.Errorf("the service worker caches %s: %d", p, r.StatusCode)
		}
	}
}

// TestNoInlineCode: the page has no inline script, style or event
// handler attribute (the CSP would refuse them), and the app never builds
// HTML from strings.
func TestNoInlineCode(t *testing.T) {
	for _, f := range []string{"index.html", "privacy.html"} {
		page, err := os.ReadFile(filepath.Join("static", f))
		if err != nil {
			t.Fatal(err)
		}
		if m := regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]|<style|\sstyle=|\son[a-z]+=`).Find(page); m != nil {
			t.Errorf("%s has inline code: %q", f, m)
		}
	}
	for _, f := range []string{"app.js", "cosign.js"} {
		app, err := os.ReadFile(filepath.Join("static", f))
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "localStorage.setItem('ukeygate.pin"} {
			if strings.Contains(string(app), bad) {
				t.Errorf("%s uses %s", f, bad)
			}
		}
	}
	// The one relaxation: compiling WebAssembly (the cosign module), not
	// evaluating script.
	if !strings.Contains(webapp.CSP, "frame-ancestors 'none'") || !strings.Contains(webapp.CSP, "script-src 'self' 'wasm-unsafe-eval';") ||
		strings.Count(webapp.CSP, "unsafe") != 1 {
		t.Errorf("CSP %q", webapp.CSP)
	}
}

// TestScriptsParse: node parses every script of the app.
func TestScriptsParse(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is required in CI")
		}
		t.Skip("node not installed")
	}
	for _, f := range []string{"app.js", "cosign.js", "sw.js", "vendor/jsQR.js", "vendor/wasm_exec.js"} {
		if out, err := exec.Command(node, "--check", filepath.Join("static", f)).CombinedOutput(); err != nil {
			t.Errorf("node --check %s: %v\n%s", f, err, out)
		}
	}
}

func TestEnrollmentURL(t *testing.T) {
	if got := webapp.EnrollmentURL("https://gw.example/", "ABCDE-FGHJK-MNPQR-STVWX"); got != "https://gw.example/m/#activate=ABCDE-FGHJK-MNPQR-STVWX" {
		t.Fatal(got)
	}
}
