package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/internal/testkit"
	"github.com/ukeygate/ukeygate/server/servertest"
)

// TestCosignCredentialExternalCA: a cosign (two-party SM2) credential at
// an external SM2 CA: the phone CLI requests it, its CSR is signed by the
// phone and the gateway together, OpenSSL verifies the CSR and the CA
// signs it; the operator CLI marks the credential and says plainly that it
// cannot be recovered, also when it revokes it.
func TestCosignCredentialExternalCA(t *testing.T) {
	t.Parallel() // its own server; TestMain cleared UKEYGATE_*
	testkit.OpenSSL(t)
	ts := servertest.Start(t)
	dir := t.TempDir()
	distid := "distid:1234567812345678"
	testkit.RunOpenSSL(t, dir, "genpkey", "-algorithm", "SM2", "-out", "ca.key")
	testkit.RunOpenSSL(t, dir, "req", "-x509", "-key", "ca.key", "-sm3", "-sigopt", distid, "-out", "ca.pem",
		"-days", "30", "-subj", "/CN=Cosign External SM2 CA/O=ukeygate tests",
		"-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
	admin := []string{"--server", ts.URL, "--admin-token", ts.AdminToken}
	op := func(args ...string) string {
		t.Helper()
		return mustCLI(t, "", append(args, admin...)...)
	}
	op("issuer", "add", "--id", "ext", "--name", "外部 SM2 CA", "--mode", "external", "--chain", filepath.Join(dir, "ca.pem"))
	var user struct {
		ID             string `json:"id"`
		ActivationCode string `json:"activation_code"`
	}
	decode(t, op("user", "add", "--name", "李四", "--json"), &user)
	state := filepath.Join(dir, "phone.json")
	mustCLI(t, "", "phone", "enroll", "--server", ts.URL, "--code", user.ActivationCode, "--pin", "135790", "--state", state)

	out := mustCLI(t, "", "phone", "request", "--issuer", "ext", "--cosign", "--pin", "135790", "--state", state)
	if !strings.Contains(out, "SM2 (cosign)") || !strings.Contains(out, "pending") || !strings.Contains(out, "cannot be recovered") {
		t.Fatalf("phone request --cosign printed:\n%s", out)
	}
	var pending struct {
		Credentials []struct{ ID, State, Mode string } `json:"credentials"`
	}
	decode(t, op("credential", "list", "--user", user.ID, "--json"), &pending)
	if len(pending.Credentials) != 1 || pending.Credentials[0].Mode != "cosign" || pending.Credentials[0].State != "pending" {
		t.Fatalf("credentials %+v", pending)
	}
	id := pending.Credentials[0].ID
	if b, err := os.ReadFile(state); err != nil || !strings.Contains(string(b), id) {
		t.Fatalf("the phone state does not keep the share's seed for %s: %v", id, err)
	}

	// The CSR was signed two-party: OpenSSL verifies it (SM2 with the
	// default id) and the CA signs it.
	pem := op("credential", "csr", id)
	if err := os.WriteFile(filepath.Join(dir, "user.csr"), []byte(pem), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := testkit.RunOpenSSL(t, dir, "req", "-in", "user.csr", "-verify", "-noout", "-vfyopt", distid); !strings.Contains(out, "verify OK") && !strings.Contains(out, "Certificate request self-signature verify OK") {
		t.Fatalf("openssl req -verify: %s", out)
	}
	if err := os.WriteFile(filepath.Join(dir, "ext.cnf"), []byte("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	testkit.RunOpenSSL(t, dir, "x509", "-req", "-in", "user.csr", "-vfyopt", distid, "-CA", "ca.pem", "-CAkey", "ca.key",
		"-set_serial", "0x1234567890abcdef", "-days", "10", "-sm3", "-sigopt", distid, "-extfile", "ext.cnf", "-out", "user.pem")
	out = op("credential", "import", id, "--cert", filepath.Join(dir, "user.pem"))
	if !strings.Contains(out, "active") || !strings.Contains(out, "SM2 (cosign)") || !strings.Contains(out, "cannot be recovered by the gateway") {
		t.Fatalf("import:\n%s", out)
	}
	out = op("credential", "list")
	if !strings.Contains(out, "cannot be recovered by the gateway") || !strings.Contains(out, "revoke the credential") {
		t.Fatalf("credential list:\n%s", out)
	}
	out = op("credential", "revoke", id, "--reason", "keyCompromise")
	if !strings.Contains(out, "revoked") || !strings.Contains(out, "cannot be recovered by the gateway") {
		t.Fatalf("revoke:\n%s", out)
	}
}
