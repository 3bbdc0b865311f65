package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/config"
	"github.com/ukeygate/ukeygate/server"
	"github.com/ukeygate/ukeygate/server/servertest"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

type demoApp struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Origins []string `json:"origins"`
}

// demoApps lists the registered apps named server.DemoAppName.
func demoApps(t *testing.T, ts *servertest.TS) []demoApp {
	t.Helper()
	resp, err := http.DefaultClient.Do(ts.NewAdminRequest("GET", "/v1/admin/apps", ""))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Apps []demoApp `json:"apps"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	var out []demoApp
	for _, a := range list.Apps {
		if a.Name == server.DemoAppName {
			out = append(out, a)
		}
	}
	return out
}

// demoLogin creates a login session through the demo's backend, which
// needs a working app key.
func demoLogin(t *testing.T, ts *servertest.TS) {
	t.Helper()
	req, _ := http.NewRequest("POST", ts.URL+"/demo/api/login", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || !strings.Contains(string(body), `"watch"`) {
		t.Fatalf("demo login session: %d %s", resp.StatusCode, body)
	}
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

// gatewayEntries returns the audit entries of action written by the
// gateway itself, as "app detail" strings.
func gatewayEntries(t *testing.T, ts *servertest.TS, action string) []string {
	t.Helper()
	resp, err := http.DefaultClient.Do(ts.NewAdminRequest("GET", "/v1/admin/audit?actor=gateway&action="+action, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page struct {
		Entries []struct{ App, Detail string } `json:"entries"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range page.Entries {
		out = append(out, e.App+" "+e.Detail)
	}
	return out
}

// TestDemoApp: the demo runs as one app whose key the server keeps
// wrapped; a restart reuses it, an unusable record or a new public_url
// origin registers a new one.
func TestDemoApp(t *testing.T) {
	dir := t.TempDir()
	ts := servertest.Start(t, func(c *config.Config) { c.DataDir = dir; c.Demo = true })
	apps := demoApps(t, ts)
	if len(apps) != 1 || len(apps[0].Origins) != 1 || apps[0].Origins[0] != ts.URL {
		t.Fatalf("demo apps %+v, want one with origin %s", apps, ts.URL)
	}
	first := apps[0].ID
	demoLogin(t, ts)
	kv, err := ts.Server.Store().Get(context.Background(), "demo/app")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(kv.Value), "ukg_") {
		t.Fatal("the demo app key is stored in clear")
	}
	// The gateway's own registrations are audited, once.
	if got := gatewayEntries(t, ts, "app.add"); len(got) != 1 || got[0] != first+" demo" {
		t.Fatalf("app.add by the gateway: %q", got)
	}
	if got := gatewayEntries(t, ts, "app.webhook.set"); len(got) != 1 || got[0] != first+" url="+ts.URL+"/demo/webhook demo" {
		t.Fatalf("app.webhook.set by the gateway: %q", got)
	}

	ts.Restart()
	if apps := demoApps(t, ts); len(apps) != 1 || apps[0].ID != first {
		t.Fatalf("after a restart: demo apps %+v, want only %s", apps, first)
	}
	demoLogin(t, ts)
	if got := gatewayEntries(t, ts, "app.add"); len(got) != 1 {
		t.Fatalf("after a restart, app.add by the gateway: %q", got)
	}

	// A record that cannot be opened: a new app, and it works.
	if _, err := storagetest.PutKey(context.Background(), ts.Server.Store(), "demo/app", []byte(`{"app_id":"app_x","salt":"AAAA","wrapped_key":"AAAA"}`), 0); err != nil {
		t.Fatal(err)
	}
	ts.Restart()
	apps = demoApps(t, ts)
	if len(apps) != 2 {
		t.Fatalf("after a broken record: demo apps %+v, want a second one", apps)
	}
	if got := gatewayEntries(t, ts, "app.add"); len(got) != 2 {
		t.Fatalf("after a broken record, app.add by the gateway: %q", got)
	}
	demoLogin(t, ts)

	// Another public_url origin: another app.
	ts.Stop()
	ts = servertest.Start(t, func(c *config.Config) { c.DataDir = dir; c.Demo = true; c.PublicURL = "https://ukey.example.com" })
	apps = demoApps(t, ts)
	found := false
	for _, a := range apps {
		found = found || len(a.Origins) == 1 && a.Origins[0] == "https://ukey.example.com"
	}
	if len(apps) != 3 || !found {
		t.Fatalf("after a new public_url: demo apps %+v, want a third for https://ukey.example.com", apps)
	}
}

func TestDemoRoutes(t *testing.T) {
	tests := []struct {
		name           string
		demo           bool
		frameAncestors string
		wantDemo       bool
		wantXFO        string
	}{
		{name: "demo on, not framable", demo: true, frameAncestors: "'none'", wantDemo: true, wantXFO: "DENY"},
		{name: "demo on, framable by a portal", demo: true, frameAncestors: "'self' https://portal.example.com", wantDemo: true},
		{name: "demo off", demo: false, frameAncestors: "'none'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := servertest.Start(t, func(c *config.Config) { c.Demo = tc.demo; c.HTTP.FrameAncestors = tc.frameAncestors })
			resp, body := get(t, ts.URL+"/sdk/ukeygate.js")
			if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") || !strings.Contains(body, "UKeyGate") {
				t.Fatalf("widget: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			resp, body = get(t, ts.URL+"/demo/")
			if !tc.wantDemo {
				if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, `"not_found"`) {
					t.Fatalf("/demo/ with the demo off: %d %s", resp.StatusCode, body)
				}
				if apps := demoApps(t, ts); len(apps) != 0 {
					t.Fatalf("demo off, yet demo apps %+v", apps)
				}
				return
			}
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
				t.Fatalf("/demo/: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			csp := resp.Header.Get("Content-Security-Policy")
			for _, want := range []string{"script-src 'self' " + ts.URL, "frame-ancestors " + tc.frameAncestors, "default-src 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("CSP %q lacks %q", csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-inline") {
				t.Errorf("CSP %q allows inline code", csp)
			}
			if got := resp.Header.Get("X-Frame-Options"); got != tc.wantXFO {
				t.Errorf("X-Frame-Options %q, want %q", got, tc.wantXFO)
			}
			if !strings.Contains(body, ts.URL+"/sdk/ukeygate.js") {
				t.Error("the page does not load the widget from the gateway")
			}
			noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			r, err := noRedirect.Get(ts.URL + "/demo")
			if err != nil {
				t.Fatal(err)
			}
			r.Body.Close()
			if r.StatusCode != http.StatusFound || r.Header.Get("Location") != "/demo/" {
				t.Fatalf("/demo: %d %s", r.StatusCode, r.Header.Get("Location"))
			}
		})
	}
}

// TestDemoAppOperator: a demo app the operator disabled stays disabled
// (no new one appears at the next start); one whose key was rotated is
// replaced, since the server cannot learn the new key.
func TestDemoAppOperator(t *testing.T) {
	ts := servertest.Start(t, func(c *config.Config) { c.Demo = true })
	first := demoApps(t, ts)[0].ID

	resp, err := http.DefaultClient.Do(ts.NewAdminRequest("POST", "/v1/admin/apps/"+first+"/rotate", ""))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("rotate: %d", resp.StatusCode)
	}
	ts.Restart()
	apps := demoApps(t, ts)
	if len(apps) != 2 {
		t.Fatalf("after a key rotation: demo apps %+v, want a second one", apps)
	}
	demoLogin(t, ts)
	second := apps[0].ID
	if second == first {
		second = apps[1].ID
	}

	resp, err = http.DefaultClient.Do(ts.NewAdminRequest("POST", "/v1/admin/apps/"+second+"/disable", ""))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("disable: %d", resp.StatusCode)
	}
	ts.Restart()
	if apps := demoApps(t, ts); len(apps) != 2 {
		t.Fatalf("after disabling the demo app: demo apps %+v, want no new one", apps)
	}
	req, _ := http.NewRequest("POST", ts.URL+"/demo/api/login", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusCreated {
		t.Fatalf("a disabled demo app created a session: %s", body)
	}
}
