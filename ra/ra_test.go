package ra_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/ukeygate/ukeygate/ca"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/ra"
	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

func newRA(t *testing.T, v ...ra.Verifier) (*ra.Service, *ca.Service) {
	t.Helper()
	st := storagetest.MustOpen(t)
	c, err := ca.New(st, bytes.Repeat([]byte{7}, 32), ca.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ra.New(ra.DefaultConfig(), st, c, v...)
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func app(name, phone string) protocol.RegisterRequest {
	return protocol.RegisterRequest{Kind: "person", Name: name, IDNumber: "11010519491231002X", Phone: phone,
		Consent: protocol.Consent{PolicyVersion: ra.DefaultConfig().PolicyVersion}}
}

// TestTestVerifierRule: the deterministic verifier rejects by its rule at
// submission, with the reason, and queues the others with its pass.
func TestTestVerifierRule(t *testing.T) {
	s, _ := newRA(t, ra.TestVerifier{})
	ctx := context.Background()
	for _, tc := range []struct {
		name, phone, state string
	}{
		{"REJECT me", "13800001111", protocol.RegistrationRejected},
		{"张三", "13800000000", protocol.RegistrationRejected},
		{"张三", "13800001111", protocol.RegistrationPending},
	} {
		r, err := s.Submit(ctx, app(tc.name, tc.phone))
		if err != nil {
			t.Fatal(err)
		}
		if r.State != tc.state || len(r.Checks) != 1 || r.Checks[0].Verifier != "test" {
			t.Fatalf("%s/%s: %+v", tc.name, tc.phone, r)
		}
		if tc.state == protocol.RegistrationRejected && (r.Reason == "" || r.DecidedBy != "verifier:test") {
			t.Fatalf("rejection without reason: %+v", r)
		}
	}
}

// TestApproveRace: of two operators approving at once, exactly one
// creates the user.
func TestApproveRace(t *testing.T) {
	s, c := newRA(t)
	ctx := context.Background()
	r, err := s.Submit(ctx, app("李四", "13800001111"))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); _, errs[i] = s.Approve(ctx, r.ID, "admin", "") }()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, ra.ErrDecided):
			t.Fatalf("approve: %v", err)
		}
	}
	users, err := c.Users(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ok != 1 || len(users) != 1 || users[0].Registration != r.ID {
		t.Fatalf("%d approvals, users %+v", ok, users)
	}
	// The user's records are found by user id, and erased.
	got, err := s.OfUser(ctx, users[0].ID)
	if err != nil || len(got) != 1 || got[0].ID != r.ID || got[0].Consent == nil {
		t.Fatalf("OfUser: %+v %v", got, err)
	}
	if err := s.Erase(ctx, users[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, r.ID); !errors.Is(err, ra.ErrNotFound) {
		t.Fatalf("after erase: %v", err)
	}
	if err := s.Erase(ctx, users[0].ID); err != nil {
		t.Fatalf("second erase: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, mut := range []func(*ra.Config){
		func(c *ra.Config) { c.PolicyVersion = "" },
		func(c *ra.Config) { c.MaxLicenceBytes = 0 },
		func(c *ra.Config) { c.MaxLicencePixels = -1 },
	} {
		c := ra.DefaultConfig()
		mut(&c)
		if c.Validate() == nil {
			t.Errorf("%+v: valid", c)
		}
	}
}

// A provider plugs in as a Verifier; a failed check rejects at once.
type bankCard struct{}

func (bankCard) Name() string { return "bank-card" }
func (bankCard) Verify(_ context.Context, a ra.Application) (ra.Check, error) {
	if a.Phone == "13800001111" {
		return ra.Check{Verifier: "bank-card", Outcome: ra.OutcomePass, Reason: "four elements match"}, nil
	}
	return ra.Check{Verifier: "bank-card", Outcome: ra.OutcomeFail, Reason: "phone does not match the card"}, nil
}

func ExampleVerifier() {
	dir, _ := os.MkdirTemp("", "ra-example-")
	defer os.RemoveAll(dir)
	st, _ := storage.OpenBolt(storagetest.TestBoltConfig(dir))
	defer st.Close()
	c, _ := ca.New(st, bytes.Repeat([]byte{7}, 32), ca.DefaultConfig())
	s, _ := ra.New(ra.DefaultConfig(), st, c, bankCard{}, ra.Manual{})
	ctx := context.Background()
	ok, _ := s.Submit(ctx, app("王五", "13800001111"))
	bad, _ := s.Submit(ctx, app("赵六", "13900002222"))
	fmt.Println(ok.State, len(ok.Checks))
	fmt.Println(bad.State, bad.Reason)
	// Output:
	// pending_review 2
	// rejected phone does not match the card
}
