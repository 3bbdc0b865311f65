package main

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/server/servertest"
)

// TestAppWebhookCLI: `ukeygate app add --webhook` and `app webhook
// set|show|rm` against a real server.
func TestAppWebhookCLI(t *testing.T) {
	t.Parallel()              // its own server; TestMain cleared UKEYGATE_*
	ts := servertest.Start(t) // demo mode: loopback receivers are allowed
	rs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(rs.Close)
	opArgs := func(args ...string) []string { return append(args, "--server", ts.URL, "--admin-token", ts.AdminToken) }
	op := func(args ...string) string {
		t.Helper()
		return mustCLI(t, "", opArgs(args...)...)
	}
	secretRe := regexp.MustCompile(`whsec_[0-9a-f]{64}`)

	var app struct {
		ID      string `json:"id"`
		Webhook struct {
			URL    string `json:"url"`
			Secret string `json:"secret"`
		} `json:"webhook"`
	}
	decode(t, op("app", "add", "--name", "portal", "--origin", "https://bid.example.cn", "--webhook", rs.URL+"/a", "--json"), &app)
	if app.Webhook.URL != rs.URL+"/a" || !secretRe.MatchString(app.Webhook.Secret) {
		t.Fatalf("app add --webhook: %+v", app)
	}
	out := op("app", "webhook", "set", app.ID, "--url", rs.URL+"/b")
	secret := secretRe.FindString(out)
	if secret == "" || secret == app.Webhook.Secret || !strings.Contains(out, rs.URL+"/b") {
		t.Fatalf("app webhook set:\n%s", out)
	}
	if out = op("app", "webhook", "show", app.ID); !strings.Contains(out, rs.URL+"/b") || strings.Contains(out, "whsec_") {
		t.Fatalf("app webhook show:\n%s", out)
	}
	if out = op("app", "webhook", "rm", app.ID); !strings.Contains(out, "removed") {
		t.Fatalf("app webhook rm:\n%s", out)
	}
	for _, tc := range []struct {
		code string
		args []string
	}{
		{"webhook_not_found", []string{"app", "webhook", "rm", app.ID}},
		{"webhook_not_found", []string{"app", "webhook", "show", app.ID}},
		{"app_not_found", []string{"app", "webhook", "set", "app_nobody", "--url", rs.URL}},
	} {
		exit, _, errOut := cli(t, "", opArgs(tc.args...)...)
		if exit != 1 || !strings.Contains(errOut, tc.code) {
			t.Errorf("ukeygate %s: exit %d %q, want %s", strings.Join(tc.args, " "), exit, errOut, tc.code)
		}
	}
	// A malformed URL is a usage error, refused before any request.
	if exit, _, _ := cli(t, "", opArgs("app", "webhook", "set", app.ID, "--url", "ftp://x")...); exit != 2 {
		t.Errorf("set --url ftp://x: exit %d, want 2", exit)
	}
}
