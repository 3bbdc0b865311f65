package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/server/servertest"
)

// TestLostPhoneCosignCLI: revoking a lost device tells the operator which
// cosign credentials died with it (those it made: it holds their phone
// share), and only those; --revoke-cosign revokes them (keyCompromise).
func TestLostPhoneCosignCLI(t *testing.T) {
	t.Parallel() // its own server; TestMain cleared UKEYGATE_*
	ts := servertest.Start(t)
	dir := t.TempDir()
	admin := []string{"--server", ts.URL, "--admin-token", ts.AdminToken}
	op := func(args ...string) string {
		t.Helper()
		return mustCLI(t, "", append(args, admin...)...)
	}
	op("issuer", "add", "--id", "sm2", "--name", "SM2 CA", "--alg", "SM2", "--cn", "CLI SM2 Root")
	op("issuer", "add", "--id", "gov", "--name", "Gov SM2 CA", "--alg", "SM2", "--cn", "CLI Gov SM2 Root")
	var user struct {
		ID             string `json:"id"`
		ActivationCode string `json:"activation_code"`
	}
	decode(t, op("user", "add", "--name", "王五", "--json"), &user)
	devRe := regexp.MustCompile(`dev_[0-9a-z]+`)
	credRe := regexp.MustCompile(`crd_[0-9a-z]+`)
	stateA, stateB := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	devA := devRe.FindString(mustCLI(t, "", "phone", "enroll", "--server", ts.URL, "--code", user.ActivationCode, "--pin", "135790", "--state", stateA))
	usual := credRe.FindString(mustCLI(t, "", "phone", "request", "--issuer", "sm2", "--alg", "SM2", "--purpose", "sign", "--pin", "135790", "--state", stateA))
	aEnc := credRe.FindString(mustCLI(t, "", "phone", "request", "--issuer", "sm2", "--purpose", "encrypt", "--cosign", "--pin", "135790", "--state", stateA))
	aSign := credRe.FindString(mustCLI(t, "", "phone", "request", "--issuer", "gov", "--purpose", "sign", "--cosign", "--pin", "135790", "--state", stateA))
	var act struct {
		ActivationCode string `json:"activation_code"`
	}
	decode(t, op("user", "activate", user.ID, "--json"), &act)
	devB := devRe.FindString(mustCLI(t, "", "phone", "enroll", "--server", ts.URL, "--code", act.ActivationCode, "--pin", "135790", "--state", stateB))
	bEnc := credRe.FindString(mustCLI(t, "", "phone", "request", "--issuer", "gov", "--purpose", "encrypt", "--cosign", "--pin", "135790", "--state", stateB))
	if devA == "" || devB == "" || usual == "" || aEnc == "" || aSign == "" || bEnc == "" {
		t.Fatalf("devices %q %q, credentials %q %q %q %q", devA, devB, usual, aEnc, aSign, bEnc)
	}

	// B lost, no flag: B's cosign credential is named, with what to do;
	// nothing is revoked.
	out := op("device", "revoke", devB, "--reason", "lost")
	if !strings.Contains(out, bEnc) || strings.Contains(out, aEnc) || strings.Contains(out, aSign) || strings.Contains(out, usual) ||
		!strings.Contains(out, "cannot be used or recovered") || !strings.Contains(out, "--revoke-cosign") {
		t.Fatalf("device revoke B:\n%s", out)
	}
	states := func() map[string]string {
		var list struct {
			Credentials []struct {
				ID, State        string
				RevocationReason string `json:"revocation_reason"`
				HolderDevice     string `json:"holder_device"`
			} `json:"credentials"`
		}
		decode(t, op("credential", "list", "--user", user.ID, "--json"), &list)
		m := map[string]string{}
		for _, c := range list.Credentials {
			m[c.ID] = c.State + "/" + c.RevocationReason
			if want := map[string]string{aEnc: devA, aSign: devA, bEnc: devB}[c.ID]; c.HolderDevice != want {
				t.Errorf("%s: holder device %q, want %q", c.ID, c.HolderDevice, want)
			}
		}
		return m
	}
	if s := states(); s[bEnc] != "active/" || s[aEnc] != "active/" {
		t.Fatalf("after revoking B without --revoke-cosign: %v", s)
	}

	// A stolen, --revoke-cosign with --json: stdout is the device's JSON,
	// the two cosign credentials A made are revoked; the usual one and
	// B's stay.
	exit, stdout, stderr := cli(t, "", append([]string{"device", "revoke", devA, "--reason", "stolen", "--revoke-cosign", "--json"}, admin...)...)
	var dev struct {
		Device struct{ ID string } `json:"device"`
	}
	decode(t, stdout, &dev)
	if exit != 0 || dev.Device.ID != devA || !strings.Contains(stderr, "Revoked (keyCompromise)") || !strings.Contains(stderr, aEnc) || !strings.Contains(stderr, aSign) {
		t.Fatalf("device revoke A --revoke-cosign: exit %d\n%s\n%s", exit, stdout, stderr)
	}
	s := states()
	if s[aEnc] != "revoked/keyCompromise" || s[aSign] != "revoked/keyCompromise" || s[usual] != "active/" || s[bEnc] != "active/" {
		t.Fatalf("after revoking A with --revoke-cosign: %v", s)
	}
}
