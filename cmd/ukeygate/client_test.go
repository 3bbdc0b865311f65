package main

import (
	"bytes"
	"context"
	"encoding/asn1"
	"encoding/json"
	"image"
	"image/draw"
	"image/png"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ukeygate/ukeygate/internal/testkit"
	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/server/servertest"
)

// cli runs the command line in-process with stdin as the input of
// --pin-stdin and "-" files.
func cli(t *testing.T, stdinText string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(withStdin(context.Background(), strings.NewReader(stdinText)), args, &out, &errb)
	return code, out.String(), errb.String()
}

// mustCLI runs the command line and fails the test unless it succeeds.
func mustCLI(t *testing.T, stdinText string, args ...string) string {
	t.Helper()
	code, out, errOut := cli(t, stdinText, args...)
	if code != 0 {
		t.Fatalf("ukeygate %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

func fetch(t *testing.T, url, file string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestWalkthrough is issue 3's "done when": from an empty data directory,
// register an SM2 and an RSA internal issuer, add a user, enroll a device
// with the reference phone client, obtain one credential from each issuer,
// revoke one and find it in the CRL — with openssl checking every step.
func TestWalkthrough(t *testing.T) {
	t.Parallel() // its own server; TestMain cleared UKEYGATE_*
	testkit.OpenSSL(t)
	ts := servertest.Start(t)
	dir := t.TempDir()
	op := func(args ...string) string {
		t.Helper()
		return mustCLI(t, "", append(args, "--server", ts.URL, "--admin-token", ts.AdminToken)...)
	}
	state := filepath.Join(dir, "phone", "state.json")
	ph := func(stdinText string, args ...string) string {
		t.Helper()
		return mustCLI(t, stdinText, append(args, "--state", state)...)
	}

	// Issuers.
	var sm2Iss, rsaIss struct{ ID, Alg, Mode string }
	decode(t, op("issuer", "add", "--id", "sm2-root", "--name", "SM2 根 CA", "--alg", "sm2",
		"--cn", "Walkthrough SM2 Root", "--org", "ukeygate", "--country", "CN", "--json"), &sm2Iss)
	decode(t, op("issuer", "add", "--id", "rsa-root", "--name", "RSA Root", "--alg", "RSA",
		"--cn", "Walkthrough RSA Root", "--profile-algs", "RSA", "--profile-rsa-bits", "2048", "--json"), &rsaIss)
	if sm2Iss.ID != "sm2-root" || sm2Iss.Alg != "SM2" || sm2Iss.Mode != "internal" || rsaIss.Alg != "RSA" {
		t.Fatalf("issuers %+v %+v", sm2Iss, rsaIss)
	}
	list := op("issuer", "list")
	if !strings.Contains(list, "sm2-root") || !strings.Contains(list, "rsa-root") || !strings.HasPrefix(list, "ID ") {
		t.Fatalf("issuer list:\n%s", list)
	}
	for _, id := range []string{"sm2-root", "rsa-root"} {
		fetch(t, ts.URL+"/v1/issuers/"+id+"/ca.pem", filepath.Join(dir, id+".pem"))
		text := testkit.RunOpenSSL(t, dir, "x509", "-in", id+".pem", "-noout", "-subject")
		if !strings.Contains(text, "Walkthrough") {
			t.Fatalf("openssl reads %s as %s", id, text)
		}
	}

	// An app, a user.
	if out := op("app", "add", "--name", "招标平台", "--origin", "https://bid.example.cn"); !strings.Contains(out, "ukg_") {
		t.Fatalf("app add:\n%s", out)
	}
	if out := op("app", "list"); !strings.Contains(out, "https://bid.example.cn") || strings.Contains(out, "ukg_") {
		t.Fatalf("app list:\n%s", out)
	}
	// An origin copied from the address bar is registered in the form a
	// browser sends.
	var copied struct {
		Origins []string `json:"origins"`
	}
	decode(t, op("app", "add", "--name", "门户", "--origin", "https://Portal.Example.cn:443/", "--json"), &copied)
	if len(copied.Origins) != 1 || copied.Origins[0] != "https://portal.example.cn" {
		t.Fatalf("app add of an origin with a trailing slash: %q", copied.Origins)
	}
	var user struct {
		ID             string `json:"id"`
		ActivationCode string `json:"activation_code"`
	}
	decode(t, op("user", "add", "--name", "张三", "--id-number", "110101199003070011", "--json"), &user)
	if user.ActivationCode == "" {
		t.Fatal("no activation code")
	}
	out := op("user", "add", "--name", "李四")
	code := regexp.MustCompile(`Activation code \(one use, until [^)]*\): (\S+)`).FindStringSubmatch(out)
	if code == nil {
		t.Fatalf("user add:\n%s", out)
	}
	// The enrollment link, and the same link as a QR code a phone can scan
	// off the terminal.
	link := ts.URL + "/m/#activate=" + code[1]
	if !strings.Contains(out, "Enrollment link (open it on the phone, or scan the QR code below): "+link+"\n") {
		t.Fatalf("user add prints no enrollment link %s:\n%s", link, out)
	}
	if got := readTerminalQR(t, out); got != link {
		t.Fatalf("the terminal QR code reads %q, want %q", got, link)
	}

	// The phone enrolls; its state file is private.
	out = ph("135790\n", "phone", "enroll", "--server", ts.URL, "--code", user.ActivationCode, "--name", "walkthrough phone", "--pin-stdin")
	if !strings.Contains(out, "Enrolled device dev_") || !strings.Contains(out, user.ID) {
		t.Fatalf("enroll:\n%s", out)
	}
	if fi, err := os.Stat(state); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v, %v", fi, err)
	}
	if out := op("user", "list"); !regexp.MustCompile(`张三\s+-\s+yes`).MatchString(out) {
		t.Fatalf("user list:\n%s", out)
	}

	// One credential from each issuer, each verified by openssl.
	var sm2Cred, rsaCred struct {
		Credential struct{ ID, State, Serial string } `json:"credential"`
	}
	decode(t, ph("", "phone", "request", "--issuer", "sm2-root", "--alg", "SM2", "--purpose", "sign",
		"--pin", "135790", "--json", "--cert-out", filepath.Join(dir, "sm2-user.pem")), &sm2Cred)
	decode(t, ph("135790\n", "phone", "request", "--issuer", "rsa-root", "--alg", "rsa",
		"--pin-stdin", "--json", "--cert-out", filepath.Join(dir, "rsa-user.pem")), &rsaCred)
	for _, c := range []struct {
		ca, cert, state string
		opts            []string
	}{
		// OpenSSL needs the SM2 signer id (GM/T 0009's default) spelled out.
		{"sm2-root.pem", "sm2-user.pem", sm2Cred.Credential.State, []string{"-vfyopt", "distid:1234567812345678"}},
		{"rsa-root.pem", "rsa-user.pem", rsaCred.Credential.State, nil},
	} {
		if c.state != "active" {
			t.Fatalf("%s: state %s", c.cert, c.state)
		}
		args := append(append([]string{"verify"}, c.opts...), "-CAfile", c.ca, c.cert)
		if got := testkit.RunOpenSSL(t, dir, args...); !strings.Contains(got, c.cert+": OK") {
			t.Fatalf("openssl verify %s: %s", c.cert, got)
		}
	}
	if out := ph("", "phone", "credentials"); strings.Count(out, "active") != 2 {
		t.Fatalf("phone credentials:\n%s", out)
	}

	// Revoke the SM2 one; openssl verifies each CRL and finds the serial in
	// the SM2 issuer's only.
	if out := op("credential", "revoke", sm2Cred.Credential.ID, "--reason", "keyCompromise"); !strings.Contains(out, "revoked") {
		t.Fatalf("revoke:\n%s", out)
	}
	if out := op("credential", "list", "--state", "revoked"); !strings.Contains(out, sm2Cred.Credential.ID) || strings.Contains(out, rsaCred.Credential.ID) {
		t.Fatalf("credential list --state revoked:\n%s", out)
	}
	for _, c := range []struct {
		issuer string
		listed bool
	}{{"sm2-root", true}, {"rsa-root", false}} {
		fetch(t, ts.URL+"/v1/issuers/"+c.issuer+"/crl", filepath.Join(dir, c.issuer+".crl"))
		verifyCRLWithOpenSSL(t, dir, c.issuer+".crl", c.issuer+".pem", c.issuer == "sm2-root")
		text := testkit.RunOpenSSL(t, dir, "crl", "-inform", "DER", "-in", c.issuer+".crl", "-noout", "-text")
		if got := crlListsSerial(text, sm2Cred.Credential.Serial); got != c.listed {
			t.Fatalf("CRL of %s lists serial %s: %v, want %v\n%s", c.issuer, sm2Cred.Credential.Serial, got, c.listed, text)
		}
	}
	if out := ph("", "phone", "credentials"); !strings.Contains(out, "revoked") {
		t.Fatalf("phone credentials after revoke:\n%s", out)
	}

	// PIN change through standard input, then the new PIN works.
	if out := ph("135790\n246813\n", "phone", "pin", "--pin-stdin"); !strings.Contains(out, "PIN changed") {
		t.Fatalf("phone pin:\n%s", out)
	}
	ph("", "phone", "request", "--issuer", "sm2-root", "--alg", "SM2", "--purpose", "encrypt", "--pin", "246813")

	// Refusals: one line on stderr with the server's code.
	for _, c := range []struct {
		args   []string
		exit   int
		stderr string
	}{
		{[]string{"credential", "revoke", sm2Cred.Credential.ID, "--server", ts.URL, "--admin-token", ts.AdminToken}, 1, "already_revoked"},
		{[]string{"user", "list", "--server", ts.URL, "--admin-token", "wrong-token-wrong-token"}, 1, "invalid_token"},
		{[]string{"user", "list", "--server", ts.URL}, 2, "no admin token"},
		{[]string{"phone", "request", "--state", state, "--issuer", "nothere", "--pin", "246813"}, 1, "unknown_issuer"},
		{[]string{"phone", "enroll", "--state", state, "--server", ts.URL, "--code", user.ActivationCode, "--pin", "135790"}, 1, "already enrolled"},
		{[]string{"phone", "credentials", "--state", filepath.Join(dir, "none.json")}, 1, "phone enroll"},
	} {
		code, _, errOut := cli(t, "", c.args...)
		if code != c.exit || !strings.Contains(errOut, c.stderr) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("ukeygate %s: exit %d, stderr %q; want exit %d with %q", strings.Join(c.args, " "), code, errOut, c.exit, c.stderr)
		}
	}

	// A state file others can read is refused.
	if err := os.Chmod(state, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := cli(t, "", "phone", "credentials", "--state", state); code != 1 || !strings.Contains(errOut, "accessible to others") {
		t.Errorf("exposed state: exit %d, %q", code, errOut)
	}
}

// verifyCRLWithOpenSSL has openssl check a DER CRL's signature. RSA:
// `openssl crl -CAfile`. SM2: OpenSSL 3.0's crl command verifies SM2
// without the signer id, so the signature is checked over the TBSCertList
// with `openssl pkeyutl -verify -digest sm3 -pkeyopt distid:…`.
func verifyCRLWithOpenSSL(t *testing.T, dir, crlFile, caFile string, sm2 bool) {
	t.Helper()
	if !sm2 {
		if out := testkit.RunOpenSSL(t, dir, "crl", "-inform", "DER", "-in", crlFile, "-CAfile", caFile, "-noout"); !strings.Contains(out, "verify OK") {
			t.Fatalf("openssl crl %s: %s", crlFile, out)
		}
		return
	}
	der, err := os.ReadFile(filepath.Join(dir, crlFile))
	if err != nil {
		t.Fatal(err)
	}
	var parts struct {
		TBS asn1.RawValue
		Alg asn1.RawValue
		Sig asn1.BitString
	}
	if rest, err := asn1.Unmarshal(der, &parts); err != nil || len(rest) != 0 {
		t.Fatalf("CRL %s: %v", crlFile, err)
	}
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("crl.pub", []byte(testkit.RunOpenSSL(t, dir, "x509", "-in", caFile, "-pubkey", "-noout")))
	write("crl.tbs", parts.TBS.FullBytes)
	write("crl.sig", parts.Sig.Bytes)
	out := testkit.RunOpenSSL(t, dir, "pkeyutl", "-verify", "-pubin", "-inkey", "crl.pub", "-rawin", "-in", "crl.tbs",
		"-sigfile", "crl.sig", "-digest", "sm3", "-pkeyopt", "distid:1234567812345678")
	if !strings.Contains(out, "Signature Verified Successfully") {
		t.Fatalf("openssl pkeyutl on %s: %s", crlFile, out)
	}
}

func decode(t *testing.T, out string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("decoding %q: %v", out, err)
	}
}

// crlListsSerial reports whether openssl's text of a CRL lists serial (hex,
// any case or leading zeros).
func crlListsSerial(text, serial string) bool {
	want, ok := new(big.Int).SetString(serial, 16)
	if !ok {
		return false
	}
	for _, m := range regexp.MustCompile(`Serial Number: ([0-9A-Fa-f]+)`).FindAllStringSubmatch(text, -1) {
		if got, ok := new(big.Int).SetString(m[1], 16); ok && got.Cmp(want) == 0 {
			return true
		}
	}
	return false
}

// readTerminalQR decodes the QR code terminalQR printed in out (half
// blocks: each character is one module wide and two high).
func readTerminalQR(t *testing.T, out string) string {
	t.Helper()
	var rows []string
	for _, l := range strings.Split(out, "\n") {
		if strings.ContainsAny(l, "█▀▄") && strings.Trim(l, " █▀▄") == "" {
			rows = append(rows, l)
		}
	}
	if len(rows) == 0 {
		t.Fatal("no QR code printed")
	}
	const px = 6 // pixels per module
	width := 0
	for _, r := range rows {
		width = max(width, utf8.RuneCountInString(r))
	}
	// A light quiet zone around it, as on a screen.
	img := image.NewGray(image.Rect(0, 0, (width+8)*px, (2*len(rows)+8)*px))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	dot := func(x, y int) {
		draw.Draw(img, image.Rect((x+4)*px, (y+4)*px, (x+5)*px, (y+5)*px), image.Black, image.Point{}, draw.Src)
	}
	for y, r := range rows {
		// An odd last bitmap row is printed alone, as upper halves.
		half := y == len(rows)-1 && !strings.ContainsAny(r, "█▄")
		for x, c := range []rune(r) {
			// terminalQR(…, false) draws the light modules: a printed half
			// is light, a blank one dark.
			top, bottom := c == '█' || c == '▀', c == '█' || c == '▄'
			if !top {
				dot(x, 2*y)
			}
			if !bottom && !half {
				dot(x, 2*y+1)
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	text, err := phone.DecodeQR(buf.Bytes())
	if err != nil {
		t.Fatalf("the terminal QR code does not decode: %v", err)
	}
	return text
}
