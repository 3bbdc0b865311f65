package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/server/servertest"
)

// TestRACLI: two registrations reviewed with ukeygate ra: listed, shown
// (with the licence written out), one approved (the activation code
// printed), one rejected with its reason (refused without one).
func TestRACLI(t *testing.T) {
	t.Parallel() // its own server; TestMain cleared UKEYGATE_*
	ts := servertest.Start(t)
	op := func(args ...string) string {
		t.Helper()
		return mustCLI(t, "", append(args, "--server", ts.URL, "--admin-token", ts.AdminToken)...)
	}
	licence, err := os.ReadFile(filepath.Join("..", "..", "webapp", "static", "icon-192.png"))
	if err != nil {
		t.Fatal(err)
	}
	register := func(req protocol.RegisterRequest) string {
		t.Helper()
		b, _ := json.Marshal(req)
		resp, err := http.Post(ts.URL+"/v1/register", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out protocol.RegistrationCreated
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("register: %d %v", resp.StatusCode, err)
		}
		return out.ID
	}
	consent := protocol.Consent{PolicyVersion: "2026-01"}
	person := register(protocol.RegisterRequest{Kind: "person", Name: "郑十一", IDNumber: "11010519491231002X", Phone: "13800000005", Consent: consent})
	org := register(protocol.RegisterRequest{Kind: "organization", Name: "北京某某有限公司", CreditCode: "91110000802100433B", Phone: "010-12345678",
		LegalRep: "郑十一", LicencePNG: licence, Consent: consent})

	out := op("ra", "list")
	if !strings.Contains(out, person) || !strings.Contains(out, org) || !strings.Contains(out, "manual:refer") {
		t.Fatalf("ra list:\n%s", out)
	}
	file := filepath.Join(t.TempDir(), "licence.png")
	out = op("ra", "show", org, "--licence", file)
	if got, _ := os.ReadFile(file); !bytes.Equal(got, licence) || !strings.Contains(out, "91110000802100433B") || !strings.Contains(out, "policy 2026-01") {
		t.Fatalf("ra show:\n%s", out)
	}
	out = op("ra", "approve", person, "--reason", "seen in person")
	if !strings.Contains(out, "Activation code") || !strings.Contains(out, "郑十一") {
		t.Fatalf("ra approve:\n%s", out)
	}
	if code, _, _ := cli(t, "", "ra", "reject", org, "--server", ts.URL, "--admin-token", ts.AdminToken); code == 0 {
		t.Fatal("ra reject without --reason succeeded")
	}
	out = op("ra", "reject", org, "--reason", "licence expired")
	if !strings.Contains(out, "rejected") || !strings.Contains(out, "licence expired") {
		t.Fatalf("ra reject:\n%s", out)
	}
	if out := op("ra", "list"); strings.Contains(out, person) || strings.Contains(out, org) {
		t.Fatalf("still pending:\n%s", out)
	}
	if out := op("ra", "list", "--state", "all"); !strings.Contains(out, person) || !strings.Contains(out, org) {
		t.Fatalf("ra list --state all:\n%s", out)
	}
}
