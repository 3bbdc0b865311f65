package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
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
	v := metricSample(t, ts, `ukeygate_rate_limited_total{limit="`+limit+`"}`)
	if v < 0 {
		t.Fatalf("no ukeygate_rate_limited_total for %s", limit)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
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

// TestRateLimitedRepolls: the re-polls the API's parking lot parks
// without the handler chain (Linux) spend the address budget as every
// other request does, are counted in the request metrics, and the one
// past the budget is refused with 429 rate_limited.
func TestRateLimitedRepolls(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the fast path lives in the epoll lot")
	}
	t.Parallel()
	const budget = 8
	ts := servertest.Start(t, func(c *config.Config) {
		c.RateLimit.Enabled = true
		c.RateLimit.Address = config.Budget{Requests: budget, Per: time.Hour}
	})
	admin := map[string]string{"Authorization": "Bearer " + ts.AdminToken}
	resp := do(t, "POST", ts.URL+"/v1/admin/apps", `{"name":"portal","origins":["https://bid.example.cn"]}`, admin) // 1
	var app struct {
		APIKey string `json:"api_key"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&app)
	resp.Body.Close()
	pc := &portal.Client{BaseURL: ts.URL, AppKey: app.APIKey}
	s, err := pc.CreateSession(context.Background(), portal.SessionRequest{Kind: portal.KindLogin, Display: portal.Display{Title: "t", Summary: "s"}}) // 2
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(s.Watch.EventsURL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	req := "GET " + u.Path + "?" + u.RawQuery + "&after=1&wait=1 HTTP/1.1\r\nHost: " + u.Host + "\r\n\r\n"
	poll := func() *http.Response {
		t.Helper()
		if _, err := io.WriteString(conn, req); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(time.Minute))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for i := range budget - 2 { // the first by net/http, the second by the chain, the rest fast
		resp := poll()
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != "{\"events\":[]}\n" {
			t.Fatalf("poll %d: %d %q", i+1, resp.StatusCode, body)
		}
	}
	if got := metricSample(t, ts, "ukeygate_longpoll_fast_repolls_total"); got != budget-4 {
		t.Fatalf("fast re-polls %v, want %d", got, budget-4)
	}
	refusedWith429(t, "the re-poll past the budget", poll())
	if got := metricSample(t, ts, `ukeygate_http_requests_total{code="101",route="GET /v1/sessions/{id}/events"}`); got != budget-2 {
		t.Fatalf("parked polls counted %v, want %d", got, budget-2)
	}
}

// metricSample is one sample of the server's /metrics (-1 if absent).
func metricSample(t *testing.T, ts *servertest.TS, sample string) float64 {
	t.Helper()
	resp := do(t, "GET", ts.URL+"/metrics", "", nil)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %q", sample, line)
			}
			return f
		}
	}
	return -1
}
