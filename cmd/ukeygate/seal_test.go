package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/seal"
	"github.com/ukeygate/ukeygate/server/servertest"
)

// TestSealTwoTerminals: the operator makes a seal (ukeygate seal add),
// the portal command asks to seal a PDF at page 1 (150, 240) mm, the
// phone command scans, sees the seal and confirms; the sealed PDF verifies
// locally and at the gateway; the operator revokes the seal.
func TestSealTwoTerminals(t *testing.T) {
	t.Parallel() // its own server; TestMain cleared UKEYGATE_*
	ts := servertest.Start(t)
	dir := t.TempDir()
	op := func(args ...string) string {
		t.Helper()
		return mustCLI(t, "", append(args, "--server", ts.URL, "--admin-token", ts.AdminToken)...)
	}
	state := filepath.Join(dir, "phone.json")
	ph := func(args ...string) string {
		t.Helper()
		return mustCLI(t, "", append(args, "--state", state)...)
	}
	op("issuer", "add", "--id", "rsa", "--name", "RSA CA", "--alg", "RSA", "--cn", "Seal RSA Root")
	var app struct {
		APIKey string `json:"api_key"`
	}
	decode(t, op("app", "add", "--name", "招标平台", "--origin", "https://bid.example.cn", "--json"), &app)
	var user struct {
		ID             string `json:"id"`
		ActivationCode string `json:"activation_code"`
	}
	decode(t, op("user", "add", "--name", "张三", "--json"), &user)
	ph("phone", "enroll", "--server", ts.URL, "--code", user.ActivationCode, "--pin", "135790")
	ph("phone", "request", "--issuer", "rsa", "--alg", "RSA", "--purpose", "sign", "--pin", "135790")

	// The seal picture: a round 公章 drawn by "seal image".
	pngFile := filepath.Join(dir, "seal.png")
	if out := mustCLI(t, "", "seal", "image", "--org", "某某建设有限公司", "--title", "投标专用章", "--out", pngFile); !strings.Contains(out, "480×480") {
		t.Fatalf("seal image: %s", out)
	}
	var sl struct {
		ID string `json:"id"`
	}
	decode(t, op("seal", "add", "--owner", user.ID, "--name", "某某建设有限公司 公章", "--kind", "official",
		"--image", pngFile, "--width-mm", "40", "--height-mm", "40", "--json"), &sl)
	if list := op("seal", "list", "--owner", user.ID, "--wide"); !strings.Contains(list, sl.ID) || !strings.Contains(list, "official") || !strings.Contains(list, "40×40") {
		t.Fatalf("seal list:\n%s", list)
	}

	bid := filepath.Join(dir, "bid.pdf")
	os.WriteFile(bid, seal.TextPDF([][]string{{"Bid for lot 3", "Bidder (seal):"}}), 0o644)
	p := startPortal(t, "portal", "seal", "--file", bid, "--page", "1", "--x", "150", "--y", "240",
		"--server", ts.URL, "--app-key", app.APIKey, "--origin", "https://bid.example.cn")
	scan := ph("phone", "scan", p.header["Payload:"])
	for _, want := range []string{"SEAL 1 PDF", "bid.pdf", "1 pages", "page 1 at 150,240 mm", sl.ID, "某某建设有限公司 公章",
		"Read from the file by the gateway", "page 1 begins: Bid for lot 3 / Bidder (seal):", "seal 1, page 1, nearest text (237.8 mm away): Bidder (seal):"} {
		if !strings.Contains(scan, want) {
			t.Fatalf("scan lacks %q:\n%s", want, scan)
		}
	}
	ph("phone", "confirm", "--code", p.header["Code:"], "--pin", "135790")
	out, err := p.wait(t)
	if err != nil {
		t.Fatalf("portal seal: %v\n%s", err, out)
	}
	for _, want := range []string{`bid.sealed.pdf`, `local check \(Seal \d+\):\s+valid`, `seal ` + sl.ID, `gateway /v1/verify:\s+valid`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Fatalf("portal output lacks %q:\n%s", want, out)
		}
	}
	sealed, err := os.ReadFile(filepath.Join(dir, "bid.sealed.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	sigs, err := seal.Verify(sealed)
	if err != nil || len(sigs) != 1 || !sigs[0].Valid || sigs[0].Seal == nil || sigs[0].Seal.ID != sl.ID {
		t.Fatalf("sealed PDF: %v %+v", err, sigs)
	}
	// A PDF over the inline limit goes as an upload, by itself.
	var pages [][]string
	for i := 0; i < 120; i++ {
		var lines []string
		for j := 0; j < 50; j++ {
			lines = append(lines, "Bill of quantities: reinforced concrete C30, 12.5 m3 at 480.00 CNY, item "+strings.Repeat("x", 10))
		}
		pages = append(pages, lines)
	}
	large := filepath.Join(dir, "large.pdf")
	os.WriteFile(large, seal.TextPDF(pages), 0o644)
	p = startPortal(t, "portal", "seal", "--file", large, "--page", "120", "--x", "150", "--y", "240", "--seal", sl.ID,
		"--server", ts.URL, "--app-key", app.APIKey, "--origin", "https://bid.example.cn")
	if scan := ph("phone", "scan", p.header["Payload:"]); !strings.Contains(scan, "120 pages") {
		t.Fatalf("scan of the large PDF:\n%s", scan)
	}
	ph("phone", "confirm", "--code", p.header["Code:"], "--pin", "135790")
	if out, err := p.wait(t); err != nil || !regexp.MustCompile(`sent as upload upl_\w+`).MatchString(out) ||
		!regexp.MustCompile(`gateway /v1/verify:\s+valid`).MatchString(out) {
		t.Fatalf("portal seal of a large PDF: %v\n%s", err, out)
	}
	if sealed, err := os.ReadFile(filepath.Join(dir, "large.sealed.pdf")); err != nil || !bytes.HasPrefix(sealed, seal.TextPDF(pages)) {
		t.Fatalf("large.sealed.pdf: %v", err)
	}

	if rev := op("seal", "revoke", sl.ID, "--reason", "superseded"); !strings.Contains(rev, "revoked") {
		t.Fatalf("revoke:\n%s", rev)
	}
}
