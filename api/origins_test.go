package api_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/ukeygate/ukeygate/internal/seed"
)

// TestAppOriginsNormalised: an app's origins as an integrator copies them
// (from the address bar: a trailing "/", capitals, the default port) are
// stored in the one form a browser sends in Origin, and then match that
// form and the copied one alike: at session creation (the body's origin,
// or the Origin header) and on a watch. A real path is still refused,
// naming the origin, and creates no app.
func TestAppOriginsNormalised(t *testing.T) {
	t.Parallel()
	w := sxSeed(t, seed.Spec{})
	admin := map[string]string{"Authorization": "Bearer " + w.ts.AdminToken}

	type appAnswer struct {
		ID      string   `json:"id"`
		APIKey  string   `json:"api_key"`
		Origins []string `json:"origins"`
	}
	listed := func() map[string][]string {
		var list struct {
			Apps []appAnswer `json:"apps"`
		}
		w.must(w.do("GET", "/v1/admin/apps", nil, admin), http.StatusOK).decode(t, &list)
		out := map[string][]string{}
		for _, a := range list.Apps {
			out[a.ID] = a.Origins
		}
		return out
	}

	for _, tc := range []struct {
		name    string
		origins []string
		want    []string // stored; nil: refused
		field   string   // the refused one
	}{
		{"trailing slash", []string{"https://portal.example.com/"}, []string{"https://portal.example.com"}, ""},
		{"capitals, default port and slash", []string{"HTTPS://Portal.Example.COM:443/"}, []string{"https://portal.example.com"}, ""},
		{"http, port 80", []string{"http://intranet.example.com:80/"}, []string{"http://intranet.example.com"}, ""},
		{"other port kept", []string{"https://portal.example.com:8443/"}, []string{"https://portal.example.com:8443"}, ""},
		{"internationalised host", []string{"https://例子.测试/"}, []string{"https://xn--fsqu00a.xn--0zwm56d"}, ""},
		{"the same origin twice, once with the slash", []string{"https://a.example.com", "https://a.example.com/"}, []string{"https://a.example.com"}, ""},
		{"a path", []string{"https://portal.example.com/login"}, nil, "origins[0]"},
		{"a path with a trailing slash", []string{"https://a.example.com", "https://portal.example.com/login/"}, nil, "origins[1]"},
		{"two slashes", []string{"https://portal.example.com//"}, nil, "origins[0]"},
		{"a query after the slash", []string{"https://portal.example.com/?x=1"}, nil, "origins[0]"},
		{"a fragment after the slash", []string{"https://portal.example.com/#top"}, nil, "origins[0]"},
		{"user info", []string{"https://u@portal.example.com/"}, nil, "origins[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := listed()
			r := w.do("POST", "/v1/admin/apps", map[string]any{"name": "门户", "origins": tc.origins}, admin)
			if tc.want == nil {
				if r.status != http.StatusBadRequest || r.code != "invalid_origin" || r.field != tc.field {
					t.Fatalf("answer %d %s field %q, want 400 invalid_origin on %s: %s", r.status, r.code, r.field, tc.field, r.body)
				}
				if after := listed(); len(after) != len(before) {
					t.Fatalf("a refused app was created: %d apps, then %d", len(before), len(after))
				}
				return
			}
			var a appAnswer
			w.must(r, http.StatusCreated).decode(t, &a)
			if !slices.Equal(a.Origins, tc.want) {
				t.Fatalf("answer's origins %q, want %q", a.Origins, tc.want)
			}
			if got := listed()[a.ID]; !slices.Equal(got, tc.want) {
				t.Fatalf("listed origins %q, want %q", got, tc.want)
			}
		})
	}

	// A session of an app registered from the address bar: the origin as
	// the browser sends it and as copied both match; the session's
	// origin is the stored form (the phone shows it).
	var a appAnswer
	w.must(w.do("POST", "/v1/admin/apps", map[string]any{"name": "门户", "origins": []string{"https://Portal.Example.com/", "https://second.example.com"}}, admin),
		http.StatusCreated).decode(t, &a)
	appHdr := func(origin string) map[string]string {
		h := map[string]string{"Authorization": "Bearer " + a.APIKey}
		if origin != "" {
			h["Origin"] = origin
		}
		return h
	}
	for _, tc := range []struct {
		name         string
		body, header string
		status       int
		code         string
	}{
		{"body as the browser sends it", "https://portal.example.com", "", 201, ""},
		{"body copied from the address bar", "https://portal.example.com/", "", 201, ""},
		{"body with capitals and the port", "HTTPS://PORTAL.example.com:443/", "", 201, ""},
		{"Origin header", "", "https://portal.example.com", 201, ""},
		{"body with a path", "https://portal.example.com/login", "", 400, "invalid_request"},
		{"another origin", "https://evil.example.com/", "", 403, "origin_not_allowed"},
	} {
		t.Run("session: "+tc.name, func(t *testing.T) {
			body := map[string]any{"kind": "login", "display": map[string]string{"title": "登录"}}
			if tc.body != "" {
				body["origin"] = tc.body
			}
			r := w.do("POST", "/v1/sessions", body, appHdr(tc.header))
			if r.status != tc.status || r.code != tc.code {
				t.Fatalf("answer %d %q, want %d %q: %s", r.status, r.code, tc.status, tc.code, r.body)
			}
			if tc.status != http.StatusCreated {
				return
			}
			var c sxCreated
			r.decode(t, &c)
			var view struct {
				Origin string `json:"origin"`
			}
			w.must(w.do("GET", "/v1/sessions/"+c.ID, nil, appHdr("")), http.StatusOK).decode(t, &view)
			if view.Origin != "https://portal.example.com" {
				t.Fatalf("the session's origin (what the phone shows) is %q", view.Origin)
			}
			ev := w.do("GET", c.Watch.EventsURL+"&after=0&wait=0", nil, map[string]string{"Origin": "https://portal.example.com"})
			if ev.status != http.StatusOK || ev.header.Get("Access-Control-Allow-Origin") != "https://portal.example.com" {
				t.Fatalf("watch from the page's origin: %d, ACAO %q: %s", ev.status, ev.header.Get("Access-Control-Allow-Origin"), ev.body)
			}
		})
	}
}
