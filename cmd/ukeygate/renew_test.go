package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/server/servertest"
)

// TestPhoneRenewCLI: an issuer added with --renewal-key either; the phone
// renews its encryption credential with --new-key and the operator's
// list and the phone's show the superseded/successor links; at a
// same-key issuer --new-key is refused (new_key_not_allowed) and nothing
// changes in the lists.
func TestPhoneRenewCLI(t *testing.T) {
	t.Parallel() // TestMain cleared UKEYGATE_*; the server and token go as flags
	ts := servertest.Start(t)
	state := filepath.Join(t.TempDir(), "phone.json")
	op := func(args ...string) string {
		t.Helper()
		return mustCLI(t, "", append(args, "--server", ts.URL, "--admin-token", ts.AdminToken)...)
	}
	ph := func(args ...string) string {
		t.Helper()
		return mustCLI(t, "", append(args, "--state", state, "--pin", "135790")...)
	}
	var iss struct {
		Profile struct {
			RenewalKey string `json:"renewal_key"`
		} `json:"profile"`
	}
	decode(t, op("issuer", "add", "--id", "sm2", "--name", "SM2 CA", "--alg", "SM2", "--cn", "Renew SM2 Root", "--renewal-key", "either", "--json"), &iss)
	op("issuer", "add", "--id", "same", "--name", "Same-key CA", "--alg", "SM2", "--cn", "Same SM2 Root")
	if iss.Profile.RenewalKey != "either" {
		t.Fatalf("issuer profile renewal_key %q", iss.Profile.RenewalKey)
	}
	var user struct {
		ID             string `json:"id"`
		ActivationCode string `json:"activation_code"`
	}
	decode(t, op("user", "add", "--name", "张三", "--json"), &user)
	mustCLI(t, "", "phone", "enroll", "--server", ts.URL, "--code", user.ActivationCode, "--name", "p", "--pin", "135790", "--state", state)
	var old, same, renewed struct {
		Credential struct {
			ID, State, Supersedes string
			CertificatePEM        string `json:"certificate_pem"`
		} `json:"credential"`
	}
	decode(t, ph("phone", "request", "--issuer", "sm2", "--alg", "SM2", "--purpose", "encrypt", "--json"), &old)
	decode(t, ph("phone", "request", "--issuer", "same", "--alg", "SM2", "--purpose", "encrypt", "--json"), &same)

	before := op("credential", "list")
	exit, _, errOut := cli(t, "", "phone", "renew", same.Credential.ID, "--new-key", "--state", state, "--pin", "135790")
	if exit != 1 || !strings.Contains(errOut, "new_key_not_allowed") {
		t.Fatalf("renew --new-key at a same-key issuer: exit %d %q", exit, errOut)
	}
	if after := op("credential", "list"); after != before {
		t.Fatalf("a refused renewal changed the list:\n%s\n%s", before, after)
	}

	decode(t, ph("phone", "renew", old.Credential.ID, "--new-key", "--json"), &renewed)
	if renewed.Credential.State != "active" || renewed.Credential.Supersedes != old.Credential.ID ||
		renewed.Credential.CertificatePEM == old.Credential.CertificatePEM {
		t.Fatalf("renewed %+v", renewed.Credential)
	}
	list := op("credential", "list", "--user", user.ID)
	for _, want := range []string{"RENEWAL", "superseded by " + renewed.Credential.ID, "renews " + old.Credential.ID} {
		if !strings.Contains(list, want) {
			t.Fatalf("credential list lacks %q:\n%s", want, list)
		}
	}
	if out := ph("phone", "credentials"); !strings.Contains(out, "superseded by "+renewed.Credential.ID) {
		t.Fatalf("phone credentials:\n%s", out)
	}
	if out := ph("phone", "renew", renewed.Credential.ID); !strings.Contains(out, "renews "+renewed.Credential.ID) {
		t.Fatalf("phone renew table:\n%s", out)
	}
}
