package demo_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ukeygate/ukeygate/demo"
)

// cookieCall is one request to the demo with the visitor cookie given
// (none when ""), as a browser that holds it would send it; it returns
// the status, the decoded JSON and the visitor cookie the answer sets
// (nil if none).
func cookieCall(t *testing.T, c *http.Client, method, url, cookie string, body any) (int, map[string]any, *http.Cookie) {
	t.Helper()
	var rd io.Reader = http.NoBody
	if body != nil {
		j, _ := json.Marshal(body)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: "ukg_demo", Value: cookie})
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	var set *http.Cookie
	for _, k := range resp.Cookies() {
		if k.Name == "ukg_demo" {
			set = k
		}
	}
	return resp.StatusCode, m, set
}

// TestDemoCookieRotation: the visitor id the browser held before the
// login is worthless after it (session fixation: an attacker who planted
// it, from a sibling subdomain or over plain http, shares nothing), the
// logged-in id is dropped at logout, and every cookie the demo sets is
// HttpOnly and SameSite=Strict.
func TestDemoCookieRotation(t *testing.T) {
	g := newGateway(t)
	srv := newDemo(t, g, nil)
	c := srv.Client()
	checkAttrs := func(k *http.Cookie, when string) {
		t.Helper()
		if k == nil {
			t.Fatalf("%s: no visitor cookie set", when)
		}
		if !k.HttpOnly || k.SameSite != http.SameSiteStrictMode || k.Path != "/demo/" || k.Secure {
			t.Fatalf("%s: cookie %s: want HttpOnly, SameSite=Strict, Path=/demo/, not Secure on http", when, k)
		}
	}

	// The cookie an attacker chose (planted before the victim logs in).
	_, _, planted := cookieCall(t, c, "GET", srv.URL+"/demo/", "", nil)
	checkAttrs(planted, "first visit")
	if st, _, again := cookieCall(t, c, "GET", srv.URL+"/demo/", planted.Value, nil); st != http.StatusOK || again != nil {
		t.Fatalf("a known visitor got status %d and a new cookie %v", st, again)
	}

	// The victim logs in with it.
	st, sess, _ := cookieCall(t, c, "POST", srv.URL+"/demo/api/login", planted.Value, map[string]any{})
	if st != http.StatusCreated {
		t.Fatalf("login session: %d %v", st, sess)
	}
	phoneConfirms(t, g, sess)
	st, who, loggedIn := cookieCall(t, c, "POST", srv.URL+"/demo/api/login/finish", planted.Value, map[string]any{"session": sess["id"]})
	if st != http.StatusOK || who["user"] != g.userID {
		t.Fatalf("login finish: %d %v", st, who)
	}
	checkAttrs(loggedIn, "login")
	if loggedIn.Value == planted.Value {
		t.Fatal("the login kept the visitor id chosen before it")
	}

	// The new id is logged in; the planted one is not (it names no
	// visitor any more: whoever holds it gets a fresh one).
	if st, m, _ := cookieCall(t, c, "POST", srv.URL+"/demo/api/open/submit", loggedIn.Value, map[string]any{}); st != http.StatusCreated {
		t.Fatalf("the logged-in id: %d %v", st, m)
	}
	st, m, fresh := cookieCall(t, c, "POST", srv.URL+"/demo/api/open/submit", planted.Value, map[string]any{})
	if st != http.StatusUnauthorized || errCode(m) != "login_required" {
		t.Fatalf("the planted id after the login: %d %v", st, m)
	}
	if fresh == nil || fresh.Value == planted.Value || fresh.Value == loggedIn.Value {
		t.Fatalf("the planted id still names a visitor (new cookie %v)", fresh)
	}

	// Logout moves to yet another id and drops the logged-in one.
	st, _, out := cookieCall(t, c, "POST", srv.URL+"/demo/api/logout", loggedIn.Value, map[string]any{})
	if st != http.StatusOK {
		t.Fatalf("logout: %d", st)
	}
	checkAttrs(out, "logout")
	if out.Value == loggedIn.Value {
		t.Fatal("the logout kept the logged-in visitor id")
	}
	if _, _, k := cookieCall(t, c, "GET", srv.URL+"/demo/", loggedIn.Value, nil); k == nil {
		t.Fatal("the logged-in id still names a visitor after the logout")
	}
	if _, _, k := cookieCall(t, c, "GET", srv.URL+"/demo/", out.Value, nil); k != nil {
		t.Fatal("the id the logout gave is not a visitor's")
	}
}

// TestDemoCookieSecure: the visitor cookie is Secure when the demo is
// served over https: its origin (by default the gateway's public URL) is
// https, or the request came over TLS.
func TestDemoCookieSecure(t *testing.T) {
	for _, tc := range []struct {
		name   string
		origin string
		tls    bool
		secure bool
	}{
		{"http origin", "http://portal.test", false, false},
		{"https origin", "https://portal.test", false, true},
		{"https public URL, default origin", "", false, true},
		{"request over TLS", "http://portal.test", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := demo.DefaultConfig()
			cfg.GatewayURL, cfg.AppKey, cfg.Origin = "https://gateway.test", pageAppKey, tc.origin
			cfg.Logger = slog.New(slog.DiscardHandler)
			if tc.origin == "http://portal.test" {
				cfg.GatewayURL = "http://gateway.test"
			}
			h, err := demo.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewUnstartedServer(h)
			if tc.tls {
				srv.StartTLS()
			} else {
				srv.Start()
			}
			t.Cleanup(srv.Close)
			_, _, k := cookieCall(t, srv.Client(), "GET", srv.URL+"/demo/", "", nil)
			if k == nil || k.Secure != tc.secure || !k.HttpOnly || k.SameSite != http.SameSiteStrictMode {
				t.Fatalf("cookie %v: want Secure=%v, HttpOnly, SameSite=Strict", k, tc.secure)
			}
		})
	}
}
