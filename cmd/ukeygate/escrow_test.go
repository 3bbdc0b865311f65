package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	seedpkg "github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/server/servertest"
	"github.com/ukeygate/ukeygate/storage"
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

// TestEscrowRotationCLI: alice leaves; the admin rotates the escrow key to
// bob, carol and dave (new share files written 0600, not over existing
// ones); a named operator cannot, a second rotation waits for the first;
// dave (new key only) and a new share cannot approve; bob and carol, with
// their current shares, rotate it; escrow show names the new key and the

// newEscrowCLIWorld starts a server with the named operators alice, bob,
// carol and dave and an escrow key of alice, bob and carol made with the
// CLI (share files in oldDir), and returns it with CLI runners: as (a
// token, stdin) and admin (the admin token, must succeed), and the
// operators' tokens.
func newEscrowCLIWorld(t *testing.T) (ts *servertest.TS, as func(token, stdin string, args ...string) (int, string, string),
	admin func(args ...string) string, tokens map[string]string, oldDir string) {
	t.Helper()
	ts = servertest.Start(t)
	as = func(token string, stdin string, args ...string) (int, string, string) {
		t.Helper()
		return cli(t, stdin, append(args, "--server", ts.URL, "--admin-token", token)...)
	}
	admin = func(args ...string) string {
		t.Helper()
		return mustCLI(t, "", append(args, "--server", ts.URL, "--admin-token", ts.AdminToken)...)
	}
	tokens = map[string]string{}
	tokenRE := regexp.MustCompile(`op\.[a-z-]+\.[A-Za-z0-9_-]+`)
	for _, name := range []string{"alice", "bob", "carol", "dave"} {
		if tokens[name] = tokenRE.FindString(admin("operator", "add", name)); tokens[name] == "" {
			t.Fatalf("no token for %s", name)
		}
	}
	oldDir = t.TempDir()
	mustCLI(t, "alice passphrase 1\nbob's passphrase 22\ncarol passphrase 333\n", "escrow", "init", "--custodian", "alice", "--custodian", "bob",
		"--custodian", "carol", "--out", oldDir, "--passphrase-stdin", "--iterations", "4096", "--server", ts.URL, "--admin-token", ts.AdminToken)
	return ts, as, admin, tokens, oldDir
}

// retired one; a recovery then needs the new shares.
func TestEscrowRotationCLI(t *testing.T) {
	t.Parallel()
	ts, as, admin, tokens, oldDir := newEscrowCLIWorld(t)
	newDir := t.TempDir()
	oldID := regexp.MustCompile(`esc_[0-9a-z]+`).FindString(admin("escrow", "show"))
	if oldID == "" {
		t.Fatal("escrow show names no key")
	}
	iss := seedpkg.Generated("sm2", "SM2", "CLI Escrow CA")
	iss.Profile.Escrow = true
	sw := seedpkg.Make(t, ts.URL, ts.AdminToken, seedpkg.Spec{
		Issuers: []operator.IssuerRequest{iss},
		Users:   []seedpkg.User{{Name: "赵六", Credentials: []seedpkg.Credential{seedpkg.Sign("sm2", "SM2"), seedpkg.Encrypt("sm2", "SM2")}}},
	})
	user := sw.Users[0].ID

	newPass := "bob's new passphrase 55\ncarol next passphrase 6\ndave's own passphrase 4\n"
	rotateArgs := func(dir string) []string {
		return []string{"escrow", "rotate", "--custodian", "bob", "--custodian", "carol", "--custodian", "dave",
			"--reason", "alice left, ticket 77", "--ttl", "2h", "--out", dir, "--passphrase-stdin", "--iterations", "4096"}
	}
	if code, _, errOut := as(ts.AdminToken, newPass, "escrow", "rotate", "--custodian", "bob", "--custodian", "dave", "--out", newDir, "--passphrase-stdin"); code != 2 || !strings.Contains(errOut, "--reason") {
		t.Fatalf("rotate without a reason: %d %s", code, errOut)
	}
	if code, _, errOut := as(ts.AdminToken, newPass, rotateArgs(oldDir)...); code != 2 || !strings.Contains(errOut, "already exists") {
		t.Fatalf("rotate over the current shares: %d %s", code, errOut)
	}
	if code, _, errOut := as(tokens["alice"], newPass, rotateArgs(newDir)...); code == 0 || !strings.Contains(errOut, "operator_forbidden") {
		t.Fatalf("a named operator rotated: %d %s", code, errOut)
	}
	out := mustCLI(t, newPass, append(rotateArgs(newDir), "--server", ts.URL, "--admin-token", ts.AdminToken)...)
	id := regexp.MustCompile(`rot_[0-9a-z]+`).FindString(out)
	if id == "" || !strings.Contains(out, "open") || !strings.Contains(out, "2 of 3 custodians") || !strings.Contains(out, "escrow rotation approve "+id) ||
		!strings.Contains(out, "(bob, carol, dave) must now confirm") || !strings.Contains(out, "escrow rotation confirm "+id) {
		t.Fatalf("escrow rotate:\n%s", out)
	}
	for _, c := range []string{"bob", "carol", "dave"} {
		fi, err := os.Stat(filepath.Join(newDir, c+".share"))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("new share file of %s: %v %v", c, err, fi)
		}
	}
	if code, _, errOut := as(ts.AdminToken, newPass, rotateArgs(t.TempDir())...); code == 0 || !strings.Contains(errOut, "rotation_pending") {
		t.Fatalf("second rotation: %d %s", code, errOut)
	}

	approve := func(who, dir, file, passphrase string) (int, string, string) {
		return as(tokens[who], passphrase+"\n", "escrow", "rotation", "approve", id, "--share", filepath.Join(dir, file+".share"), "--passphrase-stdin")
	}
	// The new custodians confirm their new share files first.
	confirm := func(who, dir, file, passphrase string) (int, string, string) {
		return as(tokens[who], passphrase+"\n", "escrow", "rotation", "confirm", id, "--share", filepath.Join(dir, file+".share"), "--passphrase-stdin")
	}
	if code, _, errOut := approve("bob", oldDir, "bob", "bob's passphrase 22"); code == 0 || !strings.Contains(errOut, "rotation_unconfirmed") {
		t.Fatalf("an approval before the confirmations: %d %s", code, errOut)
	}
	if code, _, errOut := as(tokens["bob"], "", "escrow", "rotation", "confirm", id); code != 2 || !strings.Contains(errOut, "--share") {
		t.Fatalf("confirm without --share: %d %s", code, errOut)
	}
	for _, r := range []struct{ who, dir, file, pass, code string }{
		{"alice", newDir, "bob", "bob's new passphrase 55", "custodian_forbidden"},
		{"bob", newDir, "bob", "bob's passphrase 22", "share_invalid"},
		{"bob", oldDir, "bob", "bob's passphrase 22", "share_invalid"},
		{"bob", newDir, "carol", "carol next passphrase 6", "share_invalid"},
	} {
		if code, _, errOut := confirm(r.who, r.dir, r.file, r.pass); code == 0 || !strings.Contains(errOut, r.code) {
			t.Fatalf("confirm %+v: %d %s", r, code, errOut)
		}
	}
	if code, out, errOut := confirm("bob", newDir, "bob", "bob's new passphrase 55"); code != 0 || !strings.Contains(out, "Confirmed new share files: bob (") ||
		!strings.Contains(out, "Not confirmed yet: carol, dave") {
		t.Fatalf("bob confirms: %d %s %s", code, out, errOut)
	}
	if out := admin("escrow", "rotation", "status", id); !strings.Contains(out, "Confirmed new share files: bob (") || !strings.Contains(out, "Not confirmed yet: carol, dave") {
		t.Fatalf("escrow rotation status before every confirmation:\n%s", out)
	}
	mustCLI(t, "carol next passphrase 6\n", "escrow", "rotation", "confirm", id, "--share", filepath.Join(newDir, "carol.share"), "--passphrase-stdin",
		"--server", ts.URL, "--admin-token", tokens["carol"])
	for range 2 { // confirming twice does no harm
		if code, out, errOut := confirm("dave", newDir, "dave", "dave's own passphrase 4"); code != 0 || !strings.Contains(out, "Every new custodian has confirmed") ||
			!strings.Contains(out, "Not confirmed yet: none") {
			t.Fatalf("dave confirms: %d %s %s", code, out, errOut)
		}
	}
	if code, _, errOut := approve("dave", newDir, "dave", "dave's own passphrase 4"); code == 0 || !strings.Contains(errOut, "custodian_forbidden") {
		t.Fatalf("a custodian of the new key only approved: %d %s", code, errOut)
	}
	if code, _, errOut := approve("bob", newDir, "bob", "bob's new passphrase 55"); code == 0 || !strings.Contains(errOut, "share_invalid") {
		t.Fatalf("a new share approved: %d %s", code, errOut)
	}
	if code, out, errOut := approve("bob", oldDir, "bob", "bob's passphrase 22"); code != 0 || !strings.Contains(out, "1/2 bob") {
		t.Fatalf("bob: %d %s %s", code, out, errOut)
	}
	if code, out, errOut := approve("carol", oldDir, "carol", "carol passphrase 333"); code != 0 || !strings.Contains(out, "Rotated") || !strings.Contains(out, "1 escrow copies moved") {
		t.Fatalf("carol: %d %s %s", code, out, errOut)
	}
	if out := admin("escrow", "rotation", "status", id); !strings.Contains(out, "rotated") || !strings.Contains(out, "2/2 bob,carol") {
		t.Fatalf("escrow rotation status:\n%s", out)
	}
	if out := admin("escrow", "rotation", "list"); !strings.Contains(out, id) {
		t.Fatalf("escrow rotation list:\n%s", out)
	}
	out = admin("escrow", "show")
	if !strings.Contains(out, "dave") || !strings.Contains(out, "Retired escrow keys") || !strings.Contains(out, oldID) || !strings.Contains(out, id) {
		t.Fatalf("escrow show:\n%s", out)
	}
	// A ceremony that went wrong is canceled; a rotated one cannot be.
	out = mustCLI(t, newPass, append(rotateArgs(t.TempDir()), "--server", ts.URL, "--admin-token", ts.AdminToken)...)
	second := regexp.MustCompile(`rot_[0-9a-z]+`).FindString(out)
	if code, _, errOut := as(tokens["bob"], "", "escrow", "rotation", "cancel", second); code == 0 || !strings.Contains(errOut, "operator_forbidden") {
		t.Fatalf("a named operator canceled: %d %s", code, errOut)
	}
	if out := admin("escrow", "rotation", "cancel", second); !strings.Contains(out, "canceled") {
		t.Fatalf("escrow rotation cancel:\n%s", out)
	}
	if code, _, errOut := as(ts.AdminToken, "", "escrow", "rotation", "cancel", id); code == 0 || !strings.Contains(errOut, "rotation_closed") {
		t.Fatalf("canceling a rotated rotation: %d %s", code, errOut)
	}
	// Share files that cannot be written: the rotation is canceled at once.
	notDir := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := as(ts.AdminToken, newPass, rotateArgs(filepath.Join(notDir, "shares"))...)
	unwritten := regexp.MustCompile(`rot_[0-9a-z]+`).FindString(errOut)
	if code == 0 || unwritten == "" || !strings.Contains(errOut, "was canceled") {
		t.Fatalf("rotate with unwritable share files: %d %s", code, errOut)
	}
	if out := admin("escrow", "rotation", "status", unwritten); !strings.Contains(out, "canceled") {
		t.Fatalf("the rotation whose files were not written:\n%s", out)
	}

	// A recovery now takes the new shares.
	admin("user", "reset-pin", user, "--reason", "ID card checked")
	code, out, errOut = as(tokens["alice"], "", "escrow", "recover", user, "--reason", "forgotten PIN")
	if code != 0 {
		t.Fatalf("escrow recover: %s", errOut)
	}
	rcv := regexp.MustCompile(`rcv_[0-9a-z]+`).FindString(out)
	if rcv == "" {
		t.Fatalf("escrow recover:\n%s", out)
	}
	recoverWith := func(who, dir, passphrase string) (int, string, string) {
		return as(tokens[who], passphrase+"\n", "escrow", "approve", rcv, "--share", filepath.Join(dir, who+".share"), "--passphrase-stdin")
	}
	if code, _, errOut := recoverWith("bob", oldDir, "bob's passphrase 22"); code == 0 || !strings.Contains(errOut, "share_invalid") {
		t.Fatalf("an old share in a recovery: %d %s", code, errOut)
	}
	if code, out, errOut := recoverWith("dave", newDir, "dave's own passphrase 4"); code != 0 || !strings.Contains(out, "1/2 dave") {
		t.Fatalf("dave: %d %s %s", code, out, errOut)
	}
	if code, out, errOut := recoverWith("bob", newDir, "bob's new passphrase 55"); code != 0 || !strings.Contains(out, "Recovered") {
		t.Fatalf("bob: %d %s %s", code, out, errOut)
	}
}

// TestEscrowRotationAbandonCLI: a rotation whose move stopped (made here
// by putting the escrow copy and the rotation record back, through the
// store, as they were before the move finished) is abandoned by the admin
// with a reason; the answer and escrow show name the credential left under
// the retired key; a named operator, a missing reason, an open rotation
// and a second abandon are refused.
func TestEscrowRotationAbandonCLI(t *testing.T) {
	t.Parallel()
	ts, as, admin, tokens, oldDir := newEscrowCLIWorld(t)
	newDir := t.TempDir()
	ctx := context.Background()
	st := ts.Server.Store()
	iss := seedpkg.Generated("sm2", "SM2", "CLI Escrow CA")
	iss.Profile.Escrow = true
	sw := seedpkg.Make(t, ts.URL, ts.AdminToken, seedpkg.Spec{
		Issuers: []operator.IssuerRequest{iss},
		Users:   []seedpkg.User{{Name: "赵六", Credentials: []seedpkg.Credential{seedpkg.Encrypt("sm2", "SM2")}}},
	})
	enc := sw.Users[0].Credentials["sm2/encrypt"].ID
	saved, err := st.Get(ctx, "credentials/"+enc)
	if err != nil {
		t.Fatal(err)
	}
	rotate := func(dir string) string {
		out := mustCLI(t, "bob's new passphrase 55\ncarol next passphrase 6\ndave's own passphrase 4\n", "escrow", "rotate", "--custodian", "bob",
			"--custodian", "carol", "--custodian", "dave", "--reason", "alice left", "--out", dir, "--passphrase-stdin", "--iterations", "4096",
			"--server", ts.URL, "--admin-token", ts.AdminToken)
		return regexp.MustCompile(`rot_[0-9a-z]+`).FindString(out)
	}
	id := rotate(newDir)
	for who, pass := range map[string]string{"bob": "bob's new passphrase 55", "carol": "carol next passphrase 6", "dave": "dave's own passphrase 4"} {
		mustCLI(t, pass+"\n", "escrow", "rotation", "confirm", id, "--share", filepath.Join(newDir, who+".share"), "--passphrase-stdin",
			"--server", ts.URL, "--admin-token", tokens[who])
	}
	for who, pass := range map[string]string{"bob": "bob's passphrase 22", "carol": "carol passphrase 333"} {
		mustCLI(t, pass+"\n", "escrow", "rotation", "approve", id, "--share", filepath.Join(oldDir, who+".share"), "--passphrase-stdin",
			"--server", ts.URL, "--admin-token", tokens[who])
	}
	// The move "stopped" before this copy.
	kv, err := st.Get(ctx, "escrow/rotations/"+id)
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(kv.Value, &rec); err != nil {
		t.Fatal(err)
	}
	delete(rec, "completed_at")
	moving, _ := json.Marshal(rec)
	ptr, _ := json.Marshal(id)
	if _, err := st.Txn(ctx, storage.Put("credentials/"+enc, saved.Value, 0), storage.Put("escrow/rotations/"+id, moving, 0), storage.Put("escrow/rotation", ptr, 0)); err != nil {
		t.Fatal(err)
	}
	if out := admin("escrow", "show"); !strings.Contains(out, "STRANDED") || !strings.Contains(out, "1 credentials are still escrowed under the retired key") || !strings.Contains(out, enc) {
		t.Fatalf("escrow show with a moving rotation:\n%s", out)
	}

	if code, _, errOut := as(ts.AdminToken, "", "escrow", "rotation", "abandon", id); code != 2 || !strings.Contains(errOut, "--reason") {
		t.Fatalf("abandon without a reason: %d %s", code, errOut)
	}
	if code, _, errOut := as(tokens["bob"], "", "escrow", "rotation", "abandon", id, "--reason", "x"); code == 0 || !strings.Contains(errOut, "operator_forbidden") {
		t.Fatalf("a named operator abandoned: %d %s", code, errOut)
	}
	out := admin("escrow", "rotation", "abandon", id, "--reason", "alice and carol left, ticket 80")
	if !strings.Contains(out, "abandoned") || !strings.Contains(out, "alice and carol left, ticket 80") || !strings.Contains(out, "not recoverable by the current custodians): "+enc) {
		t.Fatalf("escrow rotation abandon:\n%s", out)
	}
	if out := admin("escrow", "rotation", "status", id); !strings.Contains(out, "Abandoned") || !strings.Contains(out, enc) {
		t.Fatalf("escrow rotation status of the abandoned one:\n%s", out)
	}
	if code, _, errOut := as(ts.AdminToken, "", "escrow", "rotation", "abandon", id, "--reason", "again"); code == 0 || !strings.Contains(errOut, "rotation_closed") {
		t.Fatalf("abandoning twice: %d %s", code, errOut)
	}
	next := rotate(t.TempDir())
	if next == "" {
		t.Fatal("no rotation after the abandon")
	}
	if code, _, errOut := as(ts.AdminToken, "", "escrow", "rotation", "abandon", next, "--reason", "x"); code == 0 || !strings.Contains(errOut, "rotation_not_moving") {
		t.Fatalf("abandoning an open rotation: %d %s", code, errOut)
	}
}
