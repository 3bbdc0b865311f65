package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/config"
	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/portal"
	"github.com/ukeygate/ukeygate/server/servertest"
)

// refusedWith429 fails unless resp is 429 rate_limited with a positive
// Retry-After.
func refusedWith429(t *testing.T, what string, resp *http.Response) {
	t.Helper()
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var body struct {
		Error struct {
			Code       string `json:"code"`
			RetryAfter int    `json:"retry_after_seconds"`
		} `json:"error"`
	}
	_ = json.Unmarshal(raw, &body)
	ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	if resp.StatusCode != http.StatusTooManyRequests || body.Error.Code != "rate_limited" || ra < 1 || body.Error.RetryAfter != ra {
		t.Fatalf("%s: %d %s (Retry-After %q); want 429 rate_limited with Retry-After", what, resp.StatusCode, raw, resp.Header.Get("Retry-After"))
	}
}

func do(t *testing.T, method, url, body string, hdr map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func metric(t *testing.T, ts *servertest.TS, limit string) string {
	t.Helper()
	resp := do(t, "GET", ts.URL+"/metrics", "", nil)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, `ukeygate_rate_limited_total{limit="`+limit+`"}`) {
			return strings.Fields(line)[1]
		}
	}
	t.Fatalf("no ukeygate_rate_limited_total for %s", limit)
	return ""
}

// TestRateLimitsPerAppDeviceEnroll: the app, device and enroll budgets
// refuse with 429 rate_limited and Retry-After once spent, each counted in
// ukeygate_rate_limited_total; operator requests do not spend app budgets.
func TestRateLimitsPerAppDeviceEnroll(t *testing.T) {
	ts := servertest.Start(t, func(c *config.Config) {
		c.RateLimit.Enabled = true
		c.RateLimit.App = config.Budget{Requests: 3, Per: time.Hour}
		c.RateLimit.Device = config.Budget{Requests: 4, Per: time.Hour}
		c.RateLimit.Enroll = config.Budget{Requests: 3, Per: time.Hour}
	})
	admin := map[string]string{"Authorization": "Bearer " + ts.AdminToken}
	for range 5 { // more than the app budget: the admin token is not an app key
		resp := do(t, "GET", ts.URL+"/v1/admin/issuers", "", admin)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("admin: %d", resp.StatusCode)
		}
	}
	resp := do(t, "POST", ts.URL+"/v1/admin/apps", `{"name":"portal","origins":["https://bid.example.cn"]}`, admin)
	var app struct {
		APIKey string `json:"api_key"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&app)
	resp.Body.Close()
	resp = do(t, "POST", ts.URL+"/v1/admin/users", `{"name":"张三"}`, admin)
	var user struct {
		ActivationCode string `json:"activation_code"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&user)
	resp.Body.Close()

	// App: three sessions, then refused.
	ctx := context.Background()
	pc := &portal.Client{BaseURL: ts.URL, AppKey: app.APIKey, Origin: "https://bid.example.cn"}
	for i := range 3 {
		if _, err := pc.CreateSession(ctx, portal.SessionRequest{Kind: portal.KindLogin, Display: portal.Display{Title: "t", Summary: "s"}}); err != nil {
			t.Fatalf("session %d: %v", i+1, err)
		}
	}
	refusedWith429(t, "4th app request", do(t, "POST", ts.URL+"/v1/sessions", `{"kind":"login","display":{"title":"t","summary":"s"}}`,
		map[string]string{"Authorization": "Bearer " + app.APIKey}))

	// Enroll: one real enrollment and two wrong codes, then refused even
	// with a right code.
	p := &phone.Client{BaseURL: ts.URL, State: &phone.State{}}
	if _, err := p.Enroll(ctx, user.ActivationCode, "phone", "135790"); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		resp := do(t, "POST", ts.URL+"/v1/enroll", `{"activation_code":"AAAAA-AAAAA-AAAAA-AAAAA"}`, nil)
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			t.Fatalf("wrong code %d refused by the budget already", i+1)
		}
	}
	refusedWith429(t, "4th enrollment", do(t, "POST", ts.URL+"/v1/enroll", `{"activation_code":"AAAAA-AAAAA-AAAAA-AAAAA"}`, nil))

	// Device: four signed requests, then refused.
	for i := range 4 {
		if _, err := p.Credentials(ctx); err != nil {
			t.Fatalf("signed request %d: %v", i+1, err)
		}
	}
	_, err := p.Credentials(ctx)
	if err == nil || !strings.Contains(err.Error(), "rate_limited") {
		t.Fatalf("5th signed request: %v, want rate_limited", err)
	}
	for limit, want := range map[string]string{"app": "1", "enroll": "1", "device": "1", "address": "0"} {
		if got := metric(t, ts, limit); got != want {
			t.Errorf("ukeygate_rate_limited_total{limit=%q} = %s, want %s", limit, got, want)
		}
	}
}

// TestRateLimitPerAddress: one address's budget covers every API request,
// but not the health and metrics endpoints.
func TestRateLimitPerAddress(t *testing.T) {
	ts := servertest.Start(t, func(c *config.Config) {
		c.RateLimit.Enabled = true
		c.RateLimit.Address = config.Budget{Requests: 5, Per: time.Hour}
	})
	for i := range 5 {
		resp := do(t, "GET", ts.URL+"/v1/issuers", "", nil)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: %d", i+1, resp.StatusCode)
		}
	}
	refusedWith429(t, "6th request", do(t, "GET", ts.URL+"/v1/issuers", "", nil))
	for _, path := range []string{"/healthz", "/readyz"} {
		resp := do(t, "GET", ts.URL+path, "", nil)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d under a spent address budget", path, resp.StatusCode)
		}
	}
	if got := metric(t, ts, "address"); got != "1" {
		t.Fatalf("address refusals %s, want 1", got)
	}
}
