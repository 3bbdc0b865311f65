package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/server/servertest"
)

// TestLostPhoneCLI: the operator's side of a lost phone and of app keys,
// through the command line against a real server.
func TestLostPhoneCLI(t *testing.T) {
	t.Parallel() // its own server; TestMain cleared UKEYGATE_*
	ts := servertest.Start(t)
	dir := t.TempDir()
	opArgs := func(args ...string) []string { return append(args, "--server", ts.URL, "--admin-token", ts.AdminToken) }
	op := func(args ...string) string {
		t.Helper()
		return mustCLI(t, "", opArgs(args...)...)
	}
	refused := func(code string, args ...string) {
		t.Helper()
		exit, _, errOut := cli(t, "", opArgs(args...)...)
		if exit != 1 || !strings.Contains(errOut, code) {
			t.Fatalf("ukeygate %s: exit %d, %q; want exit 1 with %s", strings.Join(args, " "), exit, errOut, code)
		}
	}
	stateA, stateB := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	devRe := regexp.MustCompile(`dev_[0-9a-z]+`)

	op("issuer", "add", "--id", "sm2", "--name", "SM2 CA", "--alg", "SM2", "--cn", "CLI SM2 Root")
	var user struct {
		ID             string `json:"id"`
		ActivationCode string `json:"activation_code"`
	}
	decode(t, op("user", "add", "--name", "张三", "--json"), &user)
	out := mustCLI(t, "135790\n", "phone", "enroll", "--server", ts.URL, "--code", user.ActivationCode,
		"--name", "phone A", "--pin-stdin", "--state", stateA)
	devA := devRe.FindString(out)
	if devA == "" {
		t.Fatalf("enroll A:\n%s", out)
	}
	mustCLI(t, "", "phone", "request", "--issuer", "sm2", "--alg", "SM2", "--purpose", "sign", "--pin", "135790", "--state", stateA)

	// A new code: the table says the current PIN is needed.
	out = op("user", "activate", user.ID)
	code := regexp.MustCompile(`[0-9A-Z]{5}(-[0-9A-Z]{5}){3}`).FindString(out)
	if code == "" || !strings.Contains(out, "CURRENT PIN") || code == user.ActivationCode {
		t.Fatalf("user activate:\n%s", out)
	}
	// Phone B with the current PIN, then it sees the old credential.
	out = mustCLI(t, "135790\n", "phone", "enroll", "--server", ts.URL, "--code", code,
		"--name", "phone B", "--pin-stdin", "--state", stateB)
	devB := devRe.FindString(out)
	if devB == "" || devB == devA {
		t.Fatalf("enroll B:\n%s", out)
	}
	if out := mustCLI(t, "", "phone", "credentials", "--state", stateB); strings.Count(out, "active") != 1 {
		t.Fatalf("B's credentials:\n%s", out)
	}

	out = op("device", "revoke", devA, "--reason", "lost")
	if !regexp.MustCompile(devA + `\s+` + user.ID + `\s+phone A\s+revoked`).MatchString(out) {
		t.Fatalf("device revoke:\n%s", out)
	}
	refused("already_revoked", "device", "revoke", devA)
	refused("device_not_found", "device", "revoke", "dev_nobody")
	exit, _, errOut := cli(t, "", "phone", "credentials", "--state", stateA)
	if exit != 1 || !strings.Contains(errOut, "device_revoked") {
		t.Fatalf("revoked phone A: exit %d %q", exit, errOut)
	}

	out = op("user", "show", user.ID)
	for _, want := range []string{"Devices:", "Credentials:", devA, devB, "revoked", "lost", "sm2"} {
		if !strings.Contains(out, want) {
			t.Fatalf("user show lacks %q:\n%s", want, out)
		}
	}
	var detail struct {
		Devices     []struct{ ID string } `json:"devices"`
		Credentials []struct{ ID string } `json:"credentials"`
	}
	decode(t, op("user", "show", user.ID, "--json"), &detail)
	if len(detail.Devices) != 2 || len(detail.Credentials) != 1 {
		t.Fatalf("user show --json: %+v", detail)
	}
	refused("user_not_found", "user", "show", "usr_nobody")

	// The operator's copy of a data request: a summary, the whole export
	// in a file only the operator reads.
	dataFile := filepath.Join(t.TempDir(), "data.json")
	out = op("user", "data", user.ID, "--out", dataFile)
	for _, want := range []string{user.ID, "devices", "2", "credentials", "audit entries", dataFile} {
		if !strings.Contains(out, want) {
			t.Fatalf("user data lacks %q:\n%s", want, out)
		}
	}
	var export struct {
		User    struct{ ID string }     `json:"user"`
		Devices []struct{ ID string }   `json:"devices"`
		Audit   []struct{ User string } `json:"audit"`
	}
	raw, err := os.ReadFile(dataFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dataFile); fi.Mode().Perm() != 0o600 {
		t.Fatalf("export file mode %v", fi.Mode())
	}
	if err := json.Unmarshal(raw, &export); err != nil || export.User.ID != user.ID || len(export.Devices) != 2 || len(export.Audit) == 0 {
		t.Fatalf("user data --out: %v %s", err, raw)
	}
	refused("user_not_found", "user", "data", "usr_nobody")
	refused("user_not_found", "user", "activate", "usr_nobody")

	// App keys.
	var app struct {
		ID     string `json:"id"`
		APIKey string `json:"api_key"`
	}
	decode(t, op("app", "add", "--name", "portal", "--origin", "https://bid.example.cn", "--json"), &app)
	out = op("app", "rotate", app.ID)
	newKey := regexp.MustCompile(`ukg_[a-z2-7]+`).FindString(out)
	if newKey == "" || newKey == app.APIKey {
		t.Fatalf("app rotate:\n%s", out)
	}
	if out := op("app", "disable", app.ID); !strings.Contains(out, "Disabled at") {
		t.Fatalf("app disable:\n%s", out)
	}
	refused("already_disabled", "app", "disable", app.ID)
	refused("already_disabled", "app", "rotate", app.ID)
	refused("app_not_found", "app", "rotate", "app_nobody")
	if code, _, _ := cli(t, "", opArgs("app", "rotate")...); code != 2 {
		t.Fatalf("app rotate without an id: exit %d, want 2", code)
	}
}
