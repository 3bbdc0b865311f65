package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/internal/testkit"
	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/portal"
	"github.com/ukeygate/ukeygate/server/servertest"
)

// offlinePhone writes an enrolled-looking phone state whose server is
// server, with a last scan offering codes; nothing on server answers, so
// a command that sends anything fails with "cannot reach the server".
func offlinePhone(t *testing.T, server string, codes ...string) string {
	t.Helper()
	k, err := gmcrypto.GenerateKey(gmcrypto.AlgSM2, 0)
	if err != nil {
		t.Fatal(err)
	}
	p, err := gmcrypto.MarshalPrivateKeyPEM(k)
	if err != nil {
		t.Fatal(err)
	}
	st := &phone.State{ServerURL: server, DeviceID: "dev_offline", PrivateKeyPEM: string(p)}
	if len(codes) > 0 {
		st.LastScan = &phone.LastScan{SessionID: "AbCdEfGhIjKlMnOp", Kind: "login", CodeChoices: codes, Credentials: []string{"crd_one"}}
	}
	path := filepath.Join(t.TempDir(), "phone.json")
	if err := st.Save(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// voiceCase is one command line and what its one stderr line must say.
type voiceCase struct {
	name  string
	args  []string
	stdin string
	env   map[string]string
	exit  int
	want  []string       // substrings of stderr
	match *regexp.Regexp // the form of the whole line, when set
}

func runVoiceCases(t *testing.T, cases []voiceCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(envServer, "")
			t.Setenv(envAdminToken, "")
			t.Setenv(envAppKey, "")
			t.Setenv(envPhoneState, "")
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			code, _, errOut := cli(t, c.stdin, c.args...)
			if code != c.exit {
				t.Errorf("ukeygate %s: exit %d, want %d (stderr %q)", strings.Join(c.args, " "), code, c.exit, errOut)
			}
			checkOneLine(t, errOut, "")
			for _, w := range c.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("ukeygate %s: stderr %q lacks %q", strings.Join(c.args, " "), errOut, w)
				}
			}
			if c.match != nil && !c.match.MatchString(errOut) {
				t.Errorf("ukeygate %s: stderr %q is not of the form %s", strings.Join(c.args, " "), errOut, c.match)
			}
		})
	}
}

// TestOneVoice: every command group says an unreachable server, a
// refusal, a bad flag, a usage error and a missing file the same way.
func TestOneVoice(t *testing.T) {
	ts := servertest.Start(t)
	closed := "http://" + testkit.FreeAddr(t) // nothing listens there
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.pem")
	offline := offlinePhone(t, closed)

	// A real phone on the real server, for the phone's refusals.
	t.Setenv(envServer, "")
	t.Setenv(envAdminToken, "")
	op := func(args ...string) string {
		t.Helper()
		return mustCLI(t, "", append(args, "--server", ts.URL, "--admin-token", ts.AdminToken)...)
	}
	var user struct {
		ActivationCode string `json:"activation_code"`
	}
	decode(t, op("user", "add", "--name", "张三", "--json"), &user)
	state := filepath.Join(dir, "phone.json")
	mustCLI(t, "", "phone", "enroll", "--server", ts.URL, "--code", user.ActivationCode, "--pin", "135790", "--state", state)

	unreachable := regexp.MustCompile(`^ukeygate: cannot reach the server at ` + regexp.QuoteMeta(closed) +
		`: connection refused \(is 'ukeygate serve' running there\? choose the server with --server or UKEYGATE_SERVER\)\n$`)
	refused := func(code string, status int) *regexp.Regexp {
		return regexp.MustCompile(`^ukeygate: (.*: )?the server refused: [^\[]+ \[` + code + fmt.Sprintf(`, HTTP %d\]\n$`, status))
	}
	usage := func(path string) *regexp.Regexp {
		return regexp.MustCompile(`^ukeygate: .+ \(see '` + regexp.QuoteMeta(path) + ` --help'\)\n$`)
	}
	notFound := regexp.MustCompile(`^ukeygate: (.*: )?file not found: ` + regexp.QuoteMeta(missing) + `( \(.*\))?\n$`)
	admin := []string{"--admin-token", ts.AdminToken, "--server", ts.URL}
	with := func(args []string, more ...string) []string { return append(append([]string{}, args...), more...) }

	runVoiceCases(t, []voiceCase{
		// The server does not answer.
		{name: "unreachable/operator", args: []string{"user", "list", "--server", closed, "--admin-token", "t"}, exit: 1, match: unreachable},
		{name: "unreachable/audit", args: []string{"audit", "verify", "--server", closed, "--admin-token", "t"}, exit: 1, match: unreachable},
		{name: "unreachable/phone", args: []string{"phone", "credentials", "--state", offline}, exit: 1, match: unreachable},
		{name: "unreachable/phone enroll", args: []string{"phone", "enroll", "--server", closed, "--code", "X", "--pin", "135790",
			"--state", filepath.Join(dir, "new.json")}, exit: 1, match: unreachable},
		{name: "unreachable/portal", args: []string{"portal", "login", "--server", closed, "--app-key", "ukg_x"}, exit: 1, match: unreachable},
		{name: "unreachable/env", args: []string{"app", "list"}, env: map[string]string{envServer: closed, envAdminToken: "t"}, exit: 1, match: unreachable},

		// The server answers with a refusal.
		{name: "refused/operator", args: []string{"user", "list", "--server", ts.URL, "--admin-token", "wrong-token-wrong-token"}, exit: 1, match: refused("invalid_token", 401)},
		{name: "refused/audit", args: []string{"audit", "verify", "--server", ts.URL, "--admin-token", "wrong-token-wrong-token"}, exit: 1, match: refused("invalid_token", 401)},
		{name: "refused/credential", args: with(admin, "credential", "revoke", "crd_nothere"), exit: 1, match: refused("credential_not_found", 404)},
		{name: "refused/phone", args: []string{"phone", "request", "--state", state, "--issuer", "nothere", "--pin", "135790"}, exit: 1, match: refused("unknown_issuer", 404)},
		{name: "refused/portal", args: []string{"portal", "login", "--server", ts.URL, "--app-key", "ukg_wrong"}, exit: 1, match: refused("invalid_token", 401)},

		// A bad flag: exit 2, pointing at the subcommand's own help.
		{name: "bad flag/operator", args: []string{"user", "list", "--frob"}, exit: 2, want: []string{"unknown flag: --frob"}, match: usage("ukeygate user list")},
		{name: "bad flag/audit", args: with(admin, "audit", "list", "--limit", "-1"), exit: 2, want: []string{"--limit"}, match: usage("ukeygate audit list")},
		{name: "bad flag/phone", args: []string{"phone", "confirm", "--code", "12", "--frob"}, exit: 2, match: usage("ukeygate phone confirm")},
		{name: "bad flag/portal", args: []string{"portal", "login", "--ttl", "soon"}, exit: 2, want: []string{"--ttl"}, match: usage("ukeygate portal login")},
		{name: "bad flag value/portal", args: []string{"portal", "sign", "--format", "pdf", "--file", "x"}, exit: 2, want: []string{"--format"}, match: usage("ukeygate portal sign")},
		{name: "bad flag value/issuer", args: with(admin, "issuer", "add", "--name", "X", "--alg", "DSA", "--cn", "X"), exit: 2, match: usage("ukeygate issuer add")},

		// Usage errors: a missing required flag, an unknown subcommand,
		// a missing argument.
		{name: "required flag/phone", args: []string{"phone", "enroll"}, exit: 2, want: []string{`required flag(s) "code" not set`}, match: usage("ukeygate phone enroll")},
		{name: "required flag/operator", args: []string{"user", "add"}, exit: 2, want: []string{`"name"`}, match: usage("ukeygate user add")},
		{name: "required flag/credential", args: []string{"credential", "import", "crd_x"}, exit: 2, want: []string{`"cert"`}, match: usage("ukeygate credential import")},
		{name: "unknown subcommand/phone", args: []string{"phone", "frob"}, exit: 2, want: []string{`unknown command "frob" for "ukeygate phone"`}, match: usage("ukeygate phone")},
		{name: "unknown subcommand/audit", args: []string{"audit", "frob"}, exit: 2, match: usage("ukeygate audit")},
		{name: "unknown subcommand/portal", args: []string{"portal", "signn"}, exit: 2, want: []string{"did you mean sign?"}, match: usage("ukeygate portal")},
		{name: "unknown subcommand/operator", args: []string{"credential", "revok"}, exit: 2, want: []string{"did you mean revoke?"}, match: usage("ukeygate credential")},
		{name: "unknown command", args: []string{"frobnicate"}, exit: 2, match: usage("ukeygate")},
		{name: "missing argument", args: []string{"user", "show"}, exit: 2, want: []string{"accepts 1 arg(s)"}, match: usage("ukeygate user show")},

		// A missing input file.
		{name: "missing file/issuer", args: with(admin, "issuer", "add", "--name", "Ext", "--mode", "external", "--chain", missing), exit: 1, match: notFound},
		{name: "missing file/credential", args: with(admin, "credential", "import", "crd_x", "--cert", missing), exit: 1, match: notFound},
		{name: "missing file/portal sign", args: []string{"portal", "sign", "--file", missing, "--app-key", "k"}, exit: 1, match: notFound},
		{name: "missing file/portal encrypt", args: []string{"portal", "encrypt", "--user", "u", "--in", missing, "--app-key", "k"}, exit: 1, match: notFound},
		{name: "missing file/portal decrypt", args: []string{"portal", "decrypt", "--in", missing, "--app-key", "k"}, exit: 1, match: notFound},
		{name: "missing file/phone scan", args: []string{"phone", "scan", missing, "--state", state}, exit: 1, match: notFound},
		{name: "missing file/config", args: []string{"--config", missing, "serve"}, exit: 1, match: notFound},

		// UKEYGATE_SERVER (or --server) without a scheme gets a sentence.
		{name: "no scheme/operator", args: []string{"user", "list"}, env: map[string]string{envServer: "127.0.0.1:8080", envAdminToken: "t"}, exit: 2,
			want: []string{`UKEYGATE_SERVER is "127.0.0.1:8080", which has no scheme`, "http://127.0.0.1:8080"}, match: usage("ukeygate user list")},
		{name: "no scheme/phone", args: []string{"phone", "enroll", "--code", "X", "--pin", "135790", "--state", filepath.Join(dir, "n.json")},
			env: map[string]string{envServer: "gw.example.cn"}, exit: 2, want: []string{"has no scheme", "http://gw.example.cn"}},
		{name: "no scheme/portal", args: []string{"portal", "login", "--app-key", "k"}, env: map[string]string{envServer: "localhost:8080"}, exit: 2, want: []string{"has no scheme"}},
		{name: "no scheme/flag", args: []string{"audit", "list", "--server", "localhost:8080", "--admin-token", "t"}, exit: 2, want: []string{`--server is "localhost:8080"`}},
		{name: "other scheme", args: []string{"audit", "list", "--server", "ftp://gw", "--admin-token", "t"}, exit: 2, want: []string{"http or https"}},

		// A refusal says what the envelope adds: the PIN tries left.
		{name: "refused/wrong PIN", args: []string{"phone", "pin", "--state", state, "--pin", "975318", "--new-pin", "246813"}, exit: 1,
			want: []string{"4 tries left before the PIN locks"}, match: regexp.MustCompile(`^ukeygate: the server refused: .+ \[wrong_pin, HTTP \d{3}\]\n$`)},
	})
}

// TestPhoneChecksBeforeSending: the phone CLI refuses a matching code the
// scan did not offer before it asks for the PIN, and a PIN the policy
// refuses, without sending anything (the state's server does not answer,
// so anything sent would say "cannot reach the server").
func TestPhoneChecksBeforeSending(t *testing.T) {
	closed := "http://" + testkit.FreeAddr(t)
	scanned := offlinePhone(t, closed, "17", "42", "88")
	enrolled := offlinePhone(t, closed)
	fresh := filepath.Join(t.TempDir(), "fresh.json")
	enroll := func(pin string) []string {
		return []string{"phone", "enroll", "--server", closed, "--code", "X", "--pin", pin, "--state", fresh}
	}
	runVoiceCases(t, []voiceCase{
		// The code is checked before the PIN is asked: stdin holds none.
		{name: "code not offered", args: []string{"phone", "confirm", "--code", "99", "--pin-stdin", "--state", scanned}, exit: 2,
			want: []string{"--code 99 is not one of the three codes the phone offered (17, 42, 88)", "nothing was sent"}},
		{name: "code not two digits", args: []string{"phone", "confirm", "--code", "4", "--pin-stdin", "--state", scanned}, exit: 2, want: []string{"not one of the three"}},
		{name: "code without a scan", args: []string{"phone", "confirm", "--session", "AbCdEfGhIjKlMnOq", "--credential", "crd_one", "--code", "ab", "--pin-stdin", "--state", scanned},
			exit: 2, want: []string{`--code "ab" is not a matching code`}},
		{name: "PIN too short", args: []string{"phone", "confirm", "--code", "42", "--pin", "1357", "--state", scanned}, exit: 2, want: []string{"a PIN is 6 to 12 digits"}},
		{name: "PIN from stdin not digits", args: []string{"phone", "confirm", "--code", "42", "--pin-stdin", "--state", scanned}, stdin: "13579x\n", exit: 2, want: []string{"a PIN is 6 to 12 digits"}},
		{name: "good code and PIN are sent", args: []string{"phone", "confirm", "--code", "42", "--pin", "135790", "--state", scanned}, exit: 1, want: []string{"cannot reach the server"}},
		{name: "request with a short PIN", args: []string{"phone", "request", "--issuer", "sm2", "--pin", "12", "--state", enrolled}, exit: 2, want: []string{"6 to 12 digits"}},

		{name: "enroll: run", args: enroll("123456"), exit: 2, want: []string{"PIN policy", "too easy to guess"}},
		{name: "enroll: one digit", args: enroll("777777"), exit: 2, want: []string{"too easy to guess"}},
		{name: "enroll: too long", args: enroll("1357913579135"), exit: 2, want: []string{"6 to 12 digits"}},
		{name: "enroll: letters", args: enroll("13579a"), exit: 2, want: []string{"digits only"}},
		{name: "enroll: good PIN is sent", args: enroll("135790"), exit: 1, want: []string{"cannot reach the server"}},
		{name: "new PIN weak", args: []string{"phone", "pin", "--pin", "135790", "--new-pin", "987654", "--state", enrolled}, exit: 2, want: []string{"too easy to guess"}},
		{name: "state file from the environment", args: []string{"phone", "credentials"}, env: map[string]string{envPhoneState: enrolled},
			exit: 1, want: []string{"cannot reach the server at " + closed}},
		{name: "--state wins over the environment", args: []string{"phone", "credentials", "--state", fresh}, env: map[string]string{envPhoneState: enrolled},
			exit: 1, want: []string{"no phone state at " + fresh}},
		{name: "new PIN weak from stdin", args: []string{"phone", "pin", "--pin-stdin", "--state", enrolled}, stdin: "135790\n000000\n", exit: 2, want: []string{"too easy to guess"}},
	})
	if _, err := os.Stat(fresh); err == nil {
		t.Error("a refused enroll wrote a state file")
	}
}

// TestConfirmWrongCodeKeepsSession: against the real server, a confirm
// with a code the scan did not offer is refused by the CLI, and the
// session can still be confirmed with the right code (the server would
// have failed it).
func TestConfirmWrongCodeKeepsSession(t *testing.T) {
	t.Parallel() // its own server; TestMain cleared UKEYGATE_*
	ts := servertest.Start(t)
	op := func(args ...string) string {
		t.Helper()
		return mustCLI(t, "", append(args, "--server", ts.URL, "--admin-token", ts.AdminToken)...)
	}
	op("issuer", "add", "--id", "sm2", "--name", "SM2 CA", "--alg", "SM2", "--cn", "Voice SM2 Root")
	var app struct {
		APIKey string `json:"api_key"`
	}
	decode(t, op("app", "add", "--name", "招标平台", "--origin", "https://bid.example.cn", "--json"), &app)
	var user struct {
		ActivationCode string `json:"activation_code"`
	}
	decode(t, op("user", "add", "--name", "张三", "--json"), &user)
	state := filepath.Join(t.TempDir(), "phone.json")
	ph := func(args ...string) string {
		t.Helper()
		return mustCLI(t, "", append(args, "--state", state)...)
	}
	ph("phone", "enroll", "--server", ts.URL, "--code", user.ActivationCode, "--pin", "135790")
	ph("phone", "request", "--issuer", "sm2", "--pin", "135790")

	ctx := context.Background()
	pc := &portal.Client{BaseURL: ts.URL, AppKey: app.APIKey}
	s, err := pc.CreateSession(ctx, portal.SessionRequest{Kind: portal.KindLogin, Origin: "https://bid.example.cn",
		Display: portal.Display{Title: "Log in", Summary: "voice test"}})
	if err != nil {
		t.Fatal(err)
	}
	ph("phone", "scan", s.QR.Payload)
	st, err := phone.LoadState(state)
	if err != nil || st.LastScan == nil || len(st.LastScan.CodeChoices) != 3 {
		t.Fatalf("state after scan: %+v, %v", st, err)
	}
	wrong := ""
	for _, c := range []string{"00", "01", "02", "03"} {
		if !strings.Contains(strings.Join(st.LastScan.CodeChoices, " "), c) {
			wrong = c
			break
		}
	}
	code, _, errOut := cli(t, "", "phone", "confirm", "--code", wrong, "--pin", "135790", "--state", state)
	if code != 2 || !strings.Contains(errOut, "not one of the three codes") {
		t.Fatalf("confirm with code %s: exit %d, %q", wrong, code, errOut)
	}
	if got, err := pc.GetSession(ctx, s.ID); err != nil || got.State != portal.StateScanned {
		t.Fatalf("after the refused confirm the session is %+v, %v; want scanned", got, err)
	}
	if out := ph("phone", "confirm", "--code", s.Code, "--pin", "135790"); !strings.Contains(out, "completed") {
		t.Fatalf("confirm with the right code:\n%s", out)
	}
}
