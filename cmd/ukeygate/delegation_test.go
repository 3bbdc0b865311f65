package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	seedpkg "github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/server/servertest"
)

// TestDelegationCLI: an organisation created with user add's flags, a
// delegation granted, listed and revoked with the delegation commands
// (accepted and approved in between by the two phones).
func TestDelegationCLI(t *testing.T) {
	t.Parallel() // its own server; TestMain cleared UKEYGATE_*
	ts := servertest.Start(t)
	op := func(args ...string) string {
		t.Helper()
		return mustCLI(t, "", append(args, "--server", ts.URL, "--admin-token", ts.AdminToken)...)
	}
	w := seedpkg.Make(t, ts.URL, ts.AdminToken, seedpkg.Spec{
		Issuers: []operator.IssuerRequest{seedpkg.Generated("sm2", "SM2", "CLI SM2 Root")},
		Users: []seedpkg.User{
			{Name: "某某建设有限公司", CreditCode: "91350100M000100Y43", Credentials: []seedpkg.Credential{seedpkg.Sign("sm2", "SM2")}},
			{Name: "李四"},
		},
	})
	org, staff := w.Users[0], w.Users[1]
	cred := org.Credentials["sm2/sign"]

	var created struct{ ID, Kind, CreditCode, Organization string }
	decode(t, op("user", "add", "--name", "另一建设有限公司", "--kind", "organization", "--credit-code", "91110000802100433B", "--json"), &created)
	if created.Kind != "organization" || created.Organization != "另一建设有限公司" {
		t.Fatalf("user add --kind organization: %+v", created)
	}
	code, _, errOut := cli(t, "", "user", "add", "--name", "坏公司", "--kind", "organization", "--credit-code", "91350100M000100Y44",
		"--server", ts.URL, "--admin-token", ts.AdminToken)
	if code == 0 || !strings.Contains(errOut, "credit_code") {
		t.Fatalf("a bad credit code: exit %d: %s", code, errOut)
	}

	out := op("delegation", "add", "--org", org.ID, "--user", staff.ID, "--credential", cred.ID, "--kind", "sign", "--days", "30")
	m := regexp.MustCompile(`(dlg_\S+)\s+.*pending_acceptance`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "某某建设有限公司") || !strings.Contains(out, "李四") {
		t.Fatalf("delegation add:\n%s", out)
	}
	id := m[1]
	// The two phones, as state files of the reference phone client.
	dir := t.TempDir()
	staffState, orgState := filepath.Join(dir, "staff.json"), filepath.Join(dir, "org.json")
	if err := staff.Phone.State.Save(staffState); err != nil {
		t.Fatal(err)
	}
	if err := org.Phone.State.Save(orgState); err != nil {
		t.Fatal(err)
	}
	// Approval before acceptance is out of turn.
	code, _, errOut = cli(t, w.PIN+"\n", "phone", "delegation", "approve", id, "--state", orgState, "--pin-stdin")
	if code == 0 || !strings.Contains(errOut, "delegation_state") {
		t.Fatalf("approve before accept: exit %d: %s", code, errOut)
	}
	if out := mustCLI(t, w.PIN+"\n", "phone", "delegation", "accept", id, "--state", staffState, "--pin-stdin"); !strings.Contains(out, "Delegation "+id+" is pending_approval.") {
		t.Fatalf("phone delegation accept:\n%s", out)
	}
	if out := mustCLI(t, w.PIN+"\n", "phone", "delegation", "approve", id, "--state", orgState, "--pin-stdin"); !strings.Contains(out, "Delegation "+id+" is active.") {
		t.Fatalf("phone delegation approve:\n%s", out)
	}
	if out := mustCLI(t, "", "phone", "delegation", "list", "--state", staffState); !strings.Contains(out, id) || !strings.Contains(out, "active") {
		t.Fatalf("phone delegation list:\n%s", out)
	}
	if out := op("delegation", "list", org.ID); !regexp.MustCompile(id + `\s+.*\s+sign\s+all\s+active`).MatchString(out) {
		t.Fatalf("delegation list:\n%s", out)
	}
	if out := op("audit", "list", "--on-behalf-of", org.ID); !strings.Contains(out, staff.ID+" for "+org.ID) || !strings.Contains(out, "delegation.approve") {
		t.Fatalf("audit list --on-behalf-of:\n%s", out)
	}
	if out := op("delegation", "rm", org.ID, id); !strings.Contains(out, "revoked") {
		t.Fatalf("delegation rm:\n%s", out)
	}
	code, _, errOut = cli(t, "", "delegation", "rm", org.ID, id, "--server", ts.URL, "--admin-token", ts.AdminToken)
	if code == 0 || !strings.Contains(errOut, "delegation_revoked") {
		t.Fatalf("second rm: exit %d: %s", code, errOut)
	}
	code, _, errOut = cli(t, "", "delegation", "add", "--org", org.ID, "--user", staff.ID, "--credential", cred.ID,
		"--server", ts.URL, "--admin-token", ts.AdminToken)
	if code == 0 || !strings.Contains(errOut, "--days") {
		t.Fatalf("add without an end: exit %d: %s", code, errOut)
	}
}

// TestDelegationTableSuperseded: a delegation that still opens ciphertexts
// sealed to the organisation's renewed certificates names them after its
// credential; one without renewals shows the credential alone.
func TestDelegationTableSuperseded(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	tw := newTable(&b)
	end := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	delegationTable(tw, []operator.Delegation{
		{ID: "dlg_a", Organization: "usr_org", User: "usr_staff", Credential: "crd_new", Kinds: []string{"decrypt"},
			State: "active", NotAfter: end, SupersededCredentials: []string{"crd_old1", "crd_old2"}},
		{ID: "dlg_b", Organization: "usr_org", User: "usr_staff", Credential: "crd_sign", State: "active", NotAfter: end},
	})
	if err := tw.Flush(); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !regexp.MustCompile(`dlg_a\s+usr_org\s+usr_staff\s+crd_new \(also crd_old1,crd_old2\)\s+decrypt\s+all\s+active`).MatchString(out) {
		t.Errorf("the renewed certificates are not named after the credential:\n%s", out)
	}
	if !regexp.MustCompile(`dlg_b\s+usr_org\s+usr_staff\s+crd_sign\s+all\s+all\s+active`).MatchString(out) || strings.Count(out, "also") != 1 {
		t.Errorf("a delegation without renewals:\n%s", out)
	}
}
