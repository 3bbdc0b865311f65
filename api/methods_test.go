package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/protocol"
)

// TestWrongMethods: every /v1/ path answers a method it does not serve
// with 405 method_not_allowed (the JSON error) and an Allow header naming
// exactly the methods it serves (HEAD with GET), before any
// authentication, whatever the path's ids.
func TestWrongMethods(t *testing.T) {
	t.Parallel()
	a := bareAPI(t)
	routes := registeredRoutes(t)
	served := map[string][]string{} // path -> methods
	for _, r := range routes {
		method, path, _ := strings.Cut(r, " ")
		if strings.HasPrefix(path, "/v1/") {
			served[path] = append(served[path], method)
		}
	}
	wildcard := regexp.MustCompile(`\{[a-z]+\}`)
	n := 0
	for path, methods := range served {
		url := wildcard.ReplaceAllString(path, "x_1")
		want := slices.Clone(methods)
		if slices.Contains(want, http.MethodGet) {
			want = append(want, http.MethodHead)
		}
		slices.Sort(want)
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
			if slices.Contains(methods, m) {
				continue
			}
			n++
			rec := httptest.NewRecorder()
			a.ServeHTTP(rec, httptest.NewRequest(m, url, nil))
			var body protocol.ErrorEnvelope
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != http.StatusMethodNotAllowed ||
				body.Error.Code != protocol.CodeMethodNotAllowed {
				t.Errorf("%s %s: %d %s", m, url, rec.Code, rec.Body.Bytes())
				continue
			}
			allow := strings.Split(rec.Header().Get("Allow"), ", ")
			slices.Sort(allow)
			if !slices.Equal(allow, want) {
				t.Errorf("%s %s: Allow %v, want %v", m, url, allow, want)
			}
		}
	}
	if n < 100 {
		t.Fatalf("only %d wrong methods tried", n)
	}
}
