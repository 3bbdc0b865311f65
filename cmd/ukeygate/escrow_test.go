package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	seedpkg "github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/server/servertest"
)

// TestEscrowCLI: the ceremony (share files written 0600, not twice),
// a forgotten-PIN reset, a recovery opened by one operator, refused for
// the requester, and completed by two other custodians.
func TestEscrowCLI(t *testing.T) {
	t.Parallel() // TestMain cleared UKEYGATE_*; the server and token go as flags
	ts := servertest.Start(t)
	as := func(token string, stdin string, args ...string) (int, string, string) {
		t.Helper()
		return cli(t, stdin, append(args, "--server", ts.URL, "--admin-token", token)...)
	}
	admin := func(args ...string) string {
		t.Helper()
		return mustCLI(t, "", append(args, "--server", ts.URL, "--admin-token", ts.AdminToken)...)
	}
	tokens := map[string]string{}
	tokenRE := regexp.MustCompile(`op\.[a-z-]+\.[A-Za-z0-9_-]+`)
	for _, name := range []string{"alice", "bob", "carol"} {
		tokens[name] = tokenRE.FindString(admin("operator", "add", name))
		if tokens[name] == "" {
			t.Fatalf("no token for %s", name)
		}
	}
	dir := t.TempDir()
	pass := "alice passphrase 1\nbob's passphrase 22\ncarol passphrase 333\n"
	initArgs := []string{"escrow", "init", "--custodian", "alice", "--custodian", "bob", "--custodian", "carol",
		"--out", dir, "--passphrase-stdin", "--iterations", "4096"}
	if code, _, _ := as(tokens["alice"], pass, initArgs...); code == 0 {
		t.Fatal("a named operator ran the ceremony")
	}
	out := mustCLI(t, pass, append(initArgs, "--server", ts.URL, "--admin-token", ts.AdminToken)...)
	if !strings.Contains(out, "2 of 3 custodians") || !strings.Contains(out, "Hand each to its custodian") {
		t.Fatalf("escrow init:\n%s", out)
	}
	for _, c := range []string{"alice", "bob", "carol"} {
		fi, err := os.Stat(filepath.Join(dir, c+".share"))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("share file of %s: %v %v", c, err, fi)
		}
	}
	if code, _, errOut := as(ts.AdminToken, pass, initArgs...); code == 0 || !strings.Contains(errOut, "already exists") {
		t.Fatalf("second init: %d %s", code, errOut)
	}
	if out := admin("escrow", "show"); !strings.Contains(out, "carol") || !strings.Contains(out, "SHARE FINGERPRINT") {
		t.Fatalf("escrow show:\n%s", out)
	}

	iss := seedpkg.Generated("sm2", "SM2", "CLI Escrow CA")
	iss.Profile.Escrow = true
	sw := seedpkg.Make(t, ts.URL, ts.AdminToken, seedpkg.Spec{
		Issuers: []operator.IssuerRequest{iss},
		Users:   []seedpkg.User{{Name: "赵六", Credentials: []seedpkg.Credential{seedpkg.Sign("sm2", "SM2"), seedpkg.Encrypt("sm2", "SM2")}}},
	})
	user, enc := sw.Users[0].ID, sw.Users[0].Credentials["sm2/encrypt"].ID
	if code, _, _ := cli(t, "", "user", "reset-pin", user, "--server", ts.URL, "--admin-token", ts.AdminToken); code == 0 {
		t.Fatal("reset-pin without --reason succeeded")
	}
	out = admin("user", "reset-pin", user, "--reason", "ID card checked")
	if !strings.Contains(out, "Activation code") || !strings.Contains(out, "awaiting recovery: "+enc) || !strings.Contains(out, "LOST (no escrow; revoked): none") {
		t.Fatalf("user reset-pin:\n%s", out)
	}
	code, out, errOut := as(tokens["alice"], "", "escrow", "recover", user, "--reason", "forgotten PIN")
	if code != 0 {
		t.Fatalf("escrow recover: %s", errOut)
	}
	id := regexp.MustCompile(`rcv_[0-9a-z]+`).FindString(out)
	if id == "" {
		t.Fatalf("escrow recover:\n%s", out)
	}
	approve := func(who, file, passphrase string) (int, string, string) {
		return as(tokens[who], passphrase+"\n", "escrow", "approve", id, "--share", filepath.Join(dir, file+".share"), "--passphrase-stdin")
	}
	if code, _, errOut := approve("alice", "alice", "alice passphrase 1"); code == 0 || !strings.Contains(errOut, "custodian_forbidden") {
		t.Fatalf("requester approved: %d %s", code, errOut)
	}
	if code, _, errOut := approve("bob", "bob", "wrong passphrase!"); code == 0 || !strings.Contains(errOut, "share_invalid") {
		t.Fatalf("wrong passphrase: %d %s", code, errOut)
	}
	if code, out, errOut := approve("bob", "bob", "bob's passphrase 22"); code != 0 || !strings.Contains(out, "1/2 bob") {
		t.Fatalf("bob: %d %s %s", code, out, errOut)
	}
	if code, out, errOut := approve("carol", "carol", "carol passphrase 333"); code != 0 || !strings.Contains(out, "Recovered") {
		t.Fatalf("carol: %d %s %s", code, out, errOut)
	}
	if out := admin("escrow", "status", id); !strings.Contains(out, "recovered") || !strings.Contains(out, "2/2 bob,carol") {
		t.Fatalf("escrow status:\n%s", out)
	}
	if out := admin("escrow", "list"); !strings.Contains(out, id) {
		t.Fatalf("escrow list:\n%s", out)
	}
}
