package qrlogin_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/qrlogin"
)

func TestWidgetHandler(t *testing.T) {
	srv := httptest.NewServer(qrlogin.WidgetHandler())
	defer srv.Close()

	onDisk, err := os.ReadFile(filepath.Join("widget", "ukeygate.js"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(onDisk, qrlogin.WidgetJS) {
		t.Fatal("WidgetJS differs from widget/ukeygate.js")
	}

	// Fetch once to learn the ETag the later rows revalidate with.
	first, err := http.Get(srv.URL + "/sdk/ukeygate.js")
	if err != nil {
		t.Fatal(err)
	}
	first.Body.Close()
	etag := first.Header.Get("ETag")
	if len(etag) < 10 || etag[0] != '"' {
		t.Fatalf("ETag = %q, want a strong quoted validator", etag)
	}

	tests := []struct {
		name       string
		method     string
		header     map[string]string
		wantStatus int
		wantBody   bool
	}{
		{"get", http.MethodGet, nil, http.StatusOK, true},
		{"head", http.MethodHead, nil, http.StatusOK, false},
		{"revalidate", http.MethodGet, map[string]string{"If-None-Match": etag}, http.StatusNotModified, false},
		{"stale etag", http.MethodGet, map[string]string{"If-None-Match": `"0000"`}, http.StatusOK, true},
		{"post", http.MethodPost, nil, http.StatusMethodNotAllowed, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, srv.URL+"/sdk/ukeygate.js", nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if tc.wantStatus == http.StatusMethodNotAllowed {
				if resp.Header.Get("Allow") != "GET, HEAD" {
					t.Errorf("Allow = %q", resp.Header.Get("Allow"))
				}
				return
			}
			if got := resp.Header.Get("ETag"); got != etag {
				t.Errorf("ETag = %q, want %q", got, etag)
			}
			if got := resp.Header.Get("Cache-Control"); !strings.Contains(got, "max-age=") {
				t.Errorf("Cache-Control = %q, want a max-age", got)
			}
			if tc.wantStatus == http.StatusOK {
				if got := resp.Header.Get("Content-Type"); got != "text/javascript; charset=utf-8" {
					t.Errorf("Content-Type = %q", got)
				}
				if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
					t.Errorf("X-Content-Type-Options = %q", got)
				}
			}
			if tc.wantBody != (len(body) > 0) {
				t.Fatalf("body length %d, want body: %v", len(body), tc.wantBody)
			}
			if tc.wantBody && !bytes.Equal(body, qrlogin.WidgetJS) {
				t.Fatal("served body differs from WidgetJS")
			}
		})
	}
}

// TestWidgetJSSyntax parses the widget with node (node --check). Without
// node the test is skipped locally but fails in CI.
func TestWidgetJSSyntax(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is required in CI to check widget/ukeygate.js")
		}
		t.Skip("node not installed")
	}
	out, err := exec.Command(node, "--check", filepath.Join("widget", "ukeygate.js")).CombinedOutput()
	if err != nil {
		t.Fatalf("node --check widget/ukeygate.js: %v\n%s", err, out)
	}
}

// TestWidgetJSHooks pins the DOM hooks and protocol names the browser tests,
// the demo portal and integrators rely on, so that a rename is a visible
// decision rather than an accident.
func TestWidgetJSHooks(t *testing.T) {
	js := string(qrlogin.WidgetJS)
	for _, want := range []string{
		"UKeyGate", "mount", "refresh", "destroy",
		"'data-ukg': 'root'", "'data-ukg': 'qr'", "'data-ukg': 'code'",
		"'data-ukg': 'countdown'", "'data-ukg': 'status'", "'data-ukg': 'refresh'",
		"'data-state'", "'data-session'", "'data-transport'", "'data-seq'",
		"'aria-live': 'polite'", "aria-label",
		"png_url", "svg_url", "ws_url", "events_url", "expires_at",
		"token", "after", "wait", "completed", "rejected", "failed", "expired", "cancelled",
	} {
		if !strings.Contains(js, want) {
			t.Errorf("ukeygate.js lacks %q", want)
		}
	}
	// No HTML parsing of data: the widget builds its DOM with createElement
	// and textContent only.
	for _, banned := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
		if strings.Contains(js, banned) {
			t.Errorf("ukeygate.js uses %q", banned)
		}
	}
}
