package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/server/servertest"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

// rasterize draws a terminal QR code as a screen would: each character
// cell 4 pixels wide and 8 high, its top and bottom halves lit where the
// half block covers them; lit is the terminal's foreground, the rest its
// background.
func rasterize(text string, fg, bg color.Gray) image.Image {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	w := 0
	for _, l := range lines {
		w = max(w, len([]rune(l)))
	}
	const cw, ch = 4, 8
	m := image.NewGray(image.Rect(0, 0, (w+8)*cw, (len(lines)+4)*ch))
	for i := range m.Pix {
		m.Pix[i] = bg.Y
	}
	for row, l := range lines {
		for col, r := range []rune(l) {
			top, bottom := r == '█' || r == '▀', r == '█' || r == '▄'
			for y := 0; y < ch; y++ {
				if (y < ch/2 && top) || (y >= ch/2 && bottom) {
					for x := 0; x < cw; x++ {
						m.SetGray((col+4)*cw+x, (row+2)*ch+y, fg)
					}
				}
			}
		}
	}
	return m
}

func TestTerminalQR(t *testing.T) {
	payload := "http://127.0.0.1:8080/q/AbCdEfGhIjKlMnOp.qRsTuVwXyZ012345"
	white, black := color.Gray{Y: 0xff}, color.Gray{Y: 0}
	for _, tc := range []struct {
		name   string
		invert bool
		fg, bg color.Gray
	}{
		{"dark terminal", false, white, black},
		{"light terminal", true, black, white},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text, err := terminalQR(payload, tc.invert)
			if err != nil {
				t.Fatal(err)
			}
			if strings.ContainsFunc(text, func(r rune) bool { return !strings.ContainsRune("█▀▄ \n", r) }) {
				t.Fatalf("unexpected characters in\n%s", text)
			}
			got, err := phone.DecodeQRImage(rasterize(text, tc.fg, tc.bg))
			if err != nil || got != payload {
				t.Fatalf("decoded %q, %v\n%s", got, err, text)
			}
		})
	}
}

// portalProc is `ukeygate portal …` running in its own process, as in a
// second terminal.
type portalProc struct {
	cmd    *exec.Cmd
	out    *bytes.Buffer // everything it printed, once done
	lines  chan string
	done   chan error
	header map[string]string // "Session:", "Payload:", "QR image:", "Code:"
}

// startPortal runs the portal command and reads its output until it
// shows the session's code.
func startPortal(t *testing.T, args ...string) *portalProc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, binary(t), args...)
	cmd.Env = testEnv("TMPDIR=" + t.TempDir()) // the default QR PNG goes there
	pr, pw := io.Pipe()
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = pw, &errb
	p := &portalProc{cmd: cmd, out: &bytes.Buffer{}, lines: make(chan string, 1000), done: make(chan error, 1), header: map[string]string{}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	go func() {
		err := cmd.Wait()
		pw.Close()
		if err != nil {
			err = fmt.Errorf("%v: %s", err, errb.String())
		}
		p.done <- err
	}()
	for line := range p.lines {
		p.out.WriteString(line + "\n")
		for _, k := range []string{"Session:", "Payload:", "QR image:", "Code:"} {
			if strings.HasPrefix(line, k) {
				p.header[k] = strings.Fields(strings.TrimPrefix(line, k))[0]
			}
		}
		if p.header["Code:"] != "" {
			return p
		}
	}
	t.Fatalf("the portal command stopped before showing its code: %v\n%s", <-p.done, p.out)
	return nil
}

// wait returns everything the command printed once it exits.
func (p *portalProc) wait(t *testing.T) (string, error) {
	t.Helper()
	for line := range p.lines {
		p.out.WriteString(line + "\n")
	}
	return p.out.String(), <-p.done
}

// TestTwoTerminals is the README's walkthrough: the portal command in one
// process, the phone commands in another, over a real server.
func TestTwoTerminals(t *testing.T) {
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
	op("issuer", "add", "--id", "sm2", "--name", "SM2 CA", "--alg", "SM2", "--cn", "Two Terminals SM2 Root")
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
	var signCred, cryptCred struct {
		Credential struct {
			ID             string `json:"id"`
			CertificatePEM string `json:"certificate_pem"`
		} `json:"credential"`
	}
	decode(t, ph("phone", "request", "--issuer", "sm2", "--alg", "SM2", "--purpose", "sign", "--pin", "135790", "--json"), &signCred)
	decode(t, ph("phone", "request", "--issuer", "sm2", "--alg", "SM2", "--purpose", "encrypt", "--pin", "135790", "--json"), &cryptCred)
	portalArgs := func(args ...string) []string {
		return append(args, "--server", ts.URL, "--app-key", app.APIKey, "--origin", "https://bid.example.cn")
	}

	t.Run("login, scanning the PNG", func(t *testing.T) {
		png := filepath.Join(dir, "login.png")
		p := startPortal(t, portalArgs("portal", "login", "--png", png)...)
		if p.header["QR image:"] != png || !strings.HasPrefix(p.header["Payload:"], ts.URL+"/q/") {
			t.Fatalf("portal header %v", p.header)
		}
		scan := ph("phone", "scan", png)
		for _, want := range []string{"招标平台", "https://bid.example.cn", "LOG IN", p.header["Code:"], signCred.Credential.ID, "phone confirm --code NN"} {
			if !strings.Contains(scan, want) {
				t.Fatalf("scan output lacks %q:\n%s", want, scan)
			}
		}
		if strings.Contains(scan, cryptCred.Credential.ID) {
			t.Fatalf("an encryption credential is offered for a login:\n%s", scan)
		}
		conf := ph("phone", "confirm", "--code", p.header["Code:"], "--pin", "135790")
		if !strings.Contains(conf, "completed") {
			t.Fatalf("confirm:\n%s", conf)
		}
		out, err := p.wait(t)
		if err != nil {
			t.Fatalf("portal login: %v\n%s", err, out)
		}
		for _, want := range []string{`Logged in: user ` + user.ID, `local check \(VerifyLogin\):\s+valid`, `gateway /v1/verify:\s+valid`} {
			if !regexp.MustCompile(want).MatchString(out) {
				t.Fatalf("portal output lacks %q:\n%s", want, out)
			}
		}
		// The scan is forgotten once confirmed.
		if code, _, errOut := cli(t, "", "phone", "confirm", "--code", "11", "--pin", "135790", "--state", state); code != 2 || !strings.Contains(errOut, "no scanned session") {
			t.Fatalf("second confirm: exit %d: %s", code, errOut)
		}
	})

	t.Run("sign two files, scanning the payload", func(t *testing.T) {
		a, b := filepath.Join(dir, "bid.txt"), filepath.Join(dir, "annex.txt")
		os.WriteFile(a, []byte("投标书 v1"), 0o644)
		os.WriteFile(b, []byte("annex"), 0o644)
		p := startPortal(t, portalArgs("portal", "sign", "--file", a, "--file", b, "--format", "cms-detached")...)
		scan := ph("phone", "scan", p.header["Payload:"])
		if !strings.Contains(scan, "SIGN 2 documents (cms-detached)") || !strings.Contains(scan, "bid.txt") || !strings.Contains(scan, "annex.txt") {
			t.Fatalf("scan:\n%s", scan)
		}
		// A wrong code first would fail the session: the right one.
		ph("phone", "confirm", "--code", p.header["Code:"], "--pin", "135790", "--credential", signCred.Credential.ID)
		out, err := p.wait(t)
		if err != nil {
			t.Fatalf("portal sign: %v\n%s", err, out)
		}
		if n := len(regexp.MustCompile(`(?m)^\s+gateway /v1/verify:\s+valid`).FindAllString(out, -1)); n != 2 {
			t.Fatalf("%d valid verdicts:\n%s", n, out)
		}
		for _, f := range []string{a, b} {
			p7s, err := os.ReadFile(f + ".p7s")
			if err != nil {
				t.Fatal(err)
			}
			content, _ := os.ReadFile(f)
			if _, err := gmcrypto.VerifyCMS(p7s, content); err != nil {
				t.Fatalf("%s.p7s: %v", f, err)
			}
		}
	})

	t.Run("hand over two certificates, no PIN", func(t *testing.T) {
		certDir := t.TempDir()
		p := startPortal(t, portalArgs("portal", "certificate", "--out", certDir)...)
		scan := ph("phone", "scan", p.header["Payload:"])
		if !strings.Contains(scan, "HAND OVER") || !strings.Contains(scan, signCred.Credential.ID) || !strings.Contains(scan, cryptCred.Credential.ID) {
			t.Fatalf("scan:\n%s", scan)
		}
		// Two fit: the CLI asks which.
		if code, _, errOut := cli(t, "", "phone", "confirm", "--code", p.header["Code:"], "--state", state); code != 2 || !strings.Contains(errOut, "several certificates fit") {
			t.Fatalf("confirm without --credential: exit %d: %s", code, errOut)
		}
		conf := ph("phone", "confirm", "--code", p.header["Code:"], "--credential", cryptCred.Credential.ID, "--credential", signCred.Credential.ID)
		if !strings.Contains(conf, "completed") || !strings.Contains(conf, "2 certificate(s)") {
			t.Fatalf("confirm:\n%s", conf)
		}
		out, err := p.wait(t)
		if err != nil {
			t.Fatalf("portal certificate: %v\n%s", err, out)
		}
		if !strings.Contains(out, "User "+user.ID+" handed over 2 certificate(s)") {
			t.Fatalf("portal output:\n%s", out)
		}
		got, err := os.ReadFile(filepath.Join(certDir, cryptCred.Credential.ID+".pem"))
		if err != nil || !strings.HasPrefix(string(got), strings.TrimSpace(cryptCred.Credential.CertificatePEM)) {
			t.Fatalf("%s.pem: %v\n%s", cryptCred.Credential.ID, err, got)
		}
	})

	t.Run("sign a file by its digest", func(t *testing.T) {
		big := filepath.Join(dir, "tender.bin")
		content := bytes.Repeat([]byte("大文件 large tender file "), 40000) // ~1 MiB: over the data cap
		os.WriteFile(big, content, 0o644)
		p := startPortal(t, portalArgs("portal", "sign", "--file", big, "--digest")...)
		scan := ph("phone", "scan", p.header["Payload:"])
		if !strings.Contains(scan, "(cms-detached)") || !strings.Contains(scan, "tender.bin") {
			t.Fatalf("scan:\n%s", scan)
		}
		ph("phone", "confirm", "--code", p.header["Code:"], "--pin", "135790", "--credential", signCred.Credential.ID)
		out, err := p.wait(t)
		if err != nil {
			t.Fatalf("portal sign --digest: %v\n%s", err, out)
		}
		if !regexp.MustCompile(`(?m)^\s+gateway /v1/verify:\s+valid`).MatchString(out) || !regexp.MustCompile(`local check:\s+valid`).MatchString(out) {
			t.Fatalf("no valid verdicts:\n%s", out)
		}
		p7s, err := os.ReadFile(big + ".p7s")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := gmcrypto.VerifyCMS(p7s, content); err != nil {
			t.Fatalf("tender.bin.p7s against the whole file: %v", err)
		}
		if code, _, errOut := cli(t, "", portalArgs("portal", "sign", "--file", big, "--digest", "--format", "raw")...); code != 2 || !strings.Contains(errOut, "--digest") {
			t.Fatalf("--digest --format raw: exit %d: %s", code, errOut)
		}
	})

	t.Run("decrypt, rejected then confirmed", func(t *testing.T) {
		certs, err := gmcrypto.ParseCertificatesPEM([]byte(cryptCred.Credential.CertificatePEM))
		if err != nil {
			t.Fatal(err)
		}
		secret := []byte("开标 key 0123456789")
		ct, err := gmcrypto.Encrypt(certs[0].PublicKey, secret, gmcrypto.FormatC1C3C2)
		if err != nil {
			t.Fatal(err)
		}
		in := filepath.Join(dir, "bid.enc")
		os.WriteFile(in, ct, 0o644)

		p := startPortal(t, portalArgs("portal", "decrypt", "--in", in, "--ciphertext-format", "c1c3c2")...)
		ph("phone", "scan", p.header["QR image:"])
		if out := ph("phone", "reject"); !strings.Contains(out, "rejected") {
			t.Fatalf("reject:\n%s", out)
		}
		out, err := p.wait(t)
		if err == nil || !strings.Contains(out+err.Error(), "rejected") {
			t.Fatalf("portal after reject: %v\n%s", err, out)
		}

		p = startPortal(t, portalArgs("portal", "decrypt", "--in", in, "--ciphertext-format", "c1c3c2")...)
		scan := ph("phone", "scan", p.header["QR image:"])
		if !strings.Contains(scan, "DECRYPT a c1c3c2 ciphertext") || !strings.Contains(scan, cryptCred.Credential.ID) {
			t.Fatalf("scan:\n%s", scan)
		}
		ph("phone", "confirm", "--code", p.header["Code:"], "--pin", "135790")
		if out, err := p.wait(t); err != nil {
			t.Fatalf("portal decrypt: %v\n%s", err, out)
		}
		got, err := os.ReadFile(filepath.Join(dir, "bid.plain"))
		if err != nil || !bytes.Equal(got, secret) {
			t.Fatalf("plaintext %q, %v", got, err)
		}
	})

	t.Run("encrypt to the user, then decrypt the envelope", func(t *testing.T) {
		in := filepath.Join(dir, "price.txt")
		os.WriteFile(in, []byte("报价 ¥42"), 0o644)
		out := mustCLI(t, "", portalArgs("portal", "encrypt", "--user", user.ID, "--in", in)...)
		if !strings.Contains(out, in+".p7m") {
			t.Fatalf("portal encrypt:\n%s", out)
		}
		p := startPortal(t, portalArgs("portal", "decrypt", "--in", in+".p7m", "--ciphertext-format", "cms")...)
		ph("phone", "scan", p.header["Payload:"])
		ph("phone", "confirm", "--code", p.header["Code:"], "--pin", "135790")
		if out, err := p.wait(t); err != nil {
			t.Fatalf("portal decrypt: %v\n%s", err, out)
		}
		if got, err := os.ReadFile(in + ".plain"); err != nil || string(got) != "报价 ¥42" {
			t.Fatalf("plaintext %q, %v", got, err)
		}
	})

	t.Run("audit list and verify, then a tampered entry", func(t *testing.T) {
		list := op("audit", "list")
		for _, want := range []string{"login", "sign", "decrypt", user.ID} {
			if !strings.Contains(list, want) {
				t.Fatalf("audit list lacks %q:\n%s", want, list)
			}
		}
		var entries struct {
			Entries []struct {
				Seq    int64  `json:"seq"`
				Action string `json:"action"`
			} `json:"entries"`
		}
		decode(t, op("audit", "list", "--action", "login", "--json"), &entries)
		if len(entries.Entries) != 1 || entries.Entries[0].Action != "login" {
			t.Fatalf("audit list --action login: %+v", entries)
		}
		// Who did what, and when: the actor column and filters.
		if out := op("audit", "list", "--actor", "admin", "--since", "2000-01-01", "--until", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)); !regexp.MustCompile(`(?m)^SEQ\s+TIME\s+ACTION\s+ACTOR\s+OUTCOME`).MatchString(out) ||
			!regexp.MustCompile(`(?m)^\d+\s+\S+ \S+\s+user\.add\s+admin\s+ok`).MatchString(out) || strings.Contains(out, "device:") {
			t.Fatalf("audit list --actor admin:\n%s", out)
		}
		if out := op("audit", "list", "--since", "2999-01-01"); strings.Count(strings.TrimSpace(out), "\n") != 0 {
			t.Fatalf("audit list --since in the future:\n%s", out)
		}
		if code, _, errOut := cli(t, "", "audit", "list", "--since", "last week", "--server", ts.URL, "--admin-token", ts.AdminToken); code == 0 || !strings.Contains(errOut, "--since") {
			t.Fatalf("audit list --since 'last week': exit %d: %s", code, errOut)
		}
		if out := op("audit", "verify"); !regexp.MustCompile(`Audit log OK: \d+ entries`).MatchString(out) {
			t.Fatalf("audit verify:\n%s", out)
		}

		ctx := context.Background()
		st := ts.Server.Store()
		key := fmt.Sprintf("audit/entries/%016d", entries.Entries[0].Seq)
		kv, err := st.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		var e map[string]any
		json.Unmarshal(kv.Value, &e)
		e["outcome"] = "failed"
		b, _ := json.Marshal(e)
		if _, err := storagetest.PutKey(ctx, st, key, b, 0); err != nil {
			t.Fatal(err)
		}
		code, _, errOut := cli(t, "", "audit", "verify", "--server", ts.URL, "--admin-token", ts.AdminToken)
		if code != 1 || !strings.Contains(errOut, "AUDIT LOG TAMPERED") || !strings.Contains(errOut, fmt.Sprintf("entry %d has been changed", entries.Entries[0].Seq)) {
			t.Fatalf("audit verify after tampering: exit %d: %s", code, errOut)
		}
	})
}
