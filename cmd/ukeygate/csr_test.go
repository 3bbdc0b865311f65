package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/internal/testkit"
	"github.com/ukeygate/ukeygate/server/servertest"
)

// TestCredentialCSR: an external CA's pending credential, its CSR printed
// by 'credential csr' and checked and signed by openssl, then imported.
func TestCredentialCSR(t *testing.T) {
	t.Parallel() // its own server; TestMain cleared UKEYGATE_*
	testkit.OpenSSL(t)
	ts := servertest.Start(t)
	dir := t.TempDir()
	testkit.RunOpenSSL(t, dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
		"-days", "30", "-subj", "/CN=CSR Test External CA/O=ukeygate tests",
		"-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
	admin := []string{"--server", ts.URL, "--admin-token", ts.AdminToken}
	op := func(args ...string) string {
		t.Helper()
		return mustCLI(t, "", append(args, admin...)...)
	}
	op("issuer", "add", "--id", "ext", "--name", "外部 CA", "--mode", "external", "--chain", filepath.Join(dir, "ca.pem"))
	op("issuer", "add", "--id", "sm2", "--name", "SM2", "--alg", "SM2", "--cn", "CSR Test SM2")
	var user struct {
		ID             string `json:"id"`
		ActivationCode string `json:"activation_code"`
	}
	decode(t, op("user", "add", "--name", "张三", "--json"), &user)
	state := filepath.Join(dir, "phone.json")
	mustCLI(t, "", "phone", "enroll", "--server", ts.URL, "--code", user.ActivationCode, "--pin", "135790", "--state", state)
	var pending, active struct {
		Credential struct{ ID, State string } `json:"credential"`
	}
	decode(t, mustCLI(t, "", "phone", "request", "--issuer", "ext", "--alg", "RSA", "--pin", "135790", "--state", state, "--json"), &pending)
	decode(t, mustCLI(t, "", "phone", "request", "--issuer", "sm2", "--pin", "135790", "--state", state, "--json"), &active)
	if pending.Credential.State != "pending" || active.Credential.State != "active" {
		t.Fatalf("states %+v %+v", pending, active)
	}

	// Standard output is the PEM alone, ready for a redirect.
	pem := op("credential", "csr", pending.Credential.ID)
	if !strings.HasPrefix(pem, "-----BEGIN CERTIFICATE REQUEST-----\n") || !strings.HasSuffix(pem, "-----END CERTIFICATE REQUEST-----\n") {
		t.Fatalf("credential csr printed:\n%s", pem)
	}
	if err := os.WriteFile(filepath.Join(dir, "user.csr"), []byte(pem), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := testkit.RunOpenSSL(t, dir, "req", "-in", "user.csr", "-verify", "-noout", "-subject"); !strings.Contains(out, "张三") && !strings.Contains(out, `\E5\BC\A0`) {
		t.Fatalf("openssl req: %s", out)
	}

	// --out writes the same PEM; the CA signs it and the import activates it.
	op("credential", "csr", pending.Credential.ID, "--out", filepath.Join(dir, "again.csr"))
	if b, err := os.ReadFile(filepath.Join(dir, "again.csr")); err != nil || string(b) != pem {
		t.Fatalf("--out: %v\n%s", err, b)
	}
	if err := os.WriteFile(filepath.Join(dir, "ext.cnf"), []byte("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	testkit.RunOpenSSL(t, dir, "x509", "-req", "-in", "user.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "0x1234567890abcdef",
		"-days", "10", "-sha256", "-extfile", "ext.cnf", "-out", "user.pem")
	if out := op("credential", "import", pending.Credential.ID, "--cert", filepath.Join(dir, "user.pem")); !strings.Contains(out, "active") {
		t.Fatalf("import:\n%s", out)
	}

	// No CSR to print: imported, issued at once, unknown.
	for _, id := range []string{pending.Credential.ID, active.Credential.ID, "crd_nothere"} {
		code, out, errOut := cli(t, "", append([]string{"credential", "csr", id}, admin...)...)
		if code != 1 || out != "" {
			t.Errorf("csr %s: exit %d, stdout %q", id, code, out)
		}
		checkOneLine(t, errOut, "no pending credential "+id)
	}
}
