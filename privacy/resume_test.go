package privacy_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/ca"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/privacy"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

// flakyPart is another package's records: its erasure fails until told
// otherwise, as a store outage would.
type flakyPart struct {
	fail   bool
	erased []string
}

func (p *flakyPart) Name() string { return "registration" }
func (p *flakyPart) Export(_ context.Context, userID string) (any, error) {
	return map[string]string{"user": userID, "consent": "policy v3"}, nil
}
func (p *flakyPart) Erase(_ context.Context, userID string) error {
	if p.fail {
		return errors.New("registration store unreachable")
	}
	p.erased = append(p.erased, userID)
	return nil
}

// TestInterruptedDeletionIsResumed: a deletion whose later step fails
// answers ErrIncomplete with the account already unusable (personal
// fields gone, PIN refused); Resume finishes it; a part's records are in
// the export and erased.
func TestInterruptedDeletionIsResumed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st := storagetest.MustOpen(t)
	master := bytes.Repeat([]byte{3}, 32)
	svc, err := ca.New(st, master, ca.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	log, err := audit.New(st, master, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	if _, err := svc.AddIssuer(ctx, ca.IssuerRequest{ID: "sm2", Name: "SM2", Mode: ca.ModeInternal, Alg: gmcrypto.AlgSM2, Generate: true,
		Subject: ca.Subject{CommonName: "Resume Test Root"}}); err != nil {
		t.Fatal(err)
	}
	u, code, err := svc.AddUser(ctx, ca.UserRequest{Name: "赵敏", Phone: "13512345678"})
	if err != nil {
		t.Fatal(err)
	}
	key, err := gmcrypto.GenerateKey(gmcrypto.AlgSM2, 0)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := gmcrypto.MarshalPublicKeyPEM(key.Public())
	const pin = "258036"
	if _, _, err := svc.Enroll(ctx, code, pub, "phone", pin); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateCredential(ctx, ca.CredentialRequest{UserID: u.ID, IssuerID: "sm2", Alg: gmcrypto.AlgSM2, Purpose: ca.PurposeSign, PIN: pin}); err != nil {
		t.Fatal(err)
	}
	part := &flakyPart{fail: true}
	p, err := privacy.New(privacy.DefaultConfig(), privacy.Deps{CA: svc, Audit: log, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	p.AddPart(part)

	ex, err := p.Export(ctx, u.ID)
	if err != nil || !strings.Contains(string(ex.Other["registration"]), "policy v3") {
		t.Fatalf("export of the part: %+v %v", ex, err)
	}
	if _, err := p.Delete(ctx, u.ID, "000000"); !errors.Is(err, ca.ErrWrongPIN) {
		t.Fatalf("wrong PIN: %v", err)
	}
	if reps, err := p.Resume(ctx); err != nil || len(reps) != 0 {
		t.Fatalf("Resume with nothing to resume: %d %v", len(reps), err)
	}
	if _, err := p.Delete(ctx, u.ID, pin); !errors.Is(err, privacy.ErrIncomplete) {
		t.Fatalf("Delete with a failing part: %v, want ErrIncomplete", err)
	}
	// Already unusable: the user is unknown, the PIN opens nothing, the
	// personal fields are gone.
	if _, err := svc.User(ctx, u.ID); !errors.Is(err, ca.ErrUserNotFound) {
		t.Fatalf("user after an interrupted deletion: %v", err)
	}
	if _, err := p.Delete(ctx, u.ID, pin); !errors.Is(err, ca.ErrUserNotFound) {
		t.Fatalf("a second deletion: %v", err)
	}
	kvs, _, _ := st.List(ctx, "users/")
	for _, kv := range kvs {
		if bytes.Contains(kv.Value, []byte("赵敏")) || bytes.Contains(kv.Value, []byte("13512345678")) {
			t.Fatal("the interrupted deletion left the personal fields")
		}
	}
	if reps, err := p.Resume(ctx); err == nil || len(reps) != 0 {
		t.Fatalf("Resume while the part still fails: %d %v", len(reps), err)
	}
	part.fail = false
	reps, err := p.Resume(ctx)
	if err != nil || len(reps) != 1 || reps[0].Deletion.UserID != u.ID || !strings.HasPrefix(reps[0].Audit.Pseudonym, "anon_") || len(reps[0].Deletion.Devices) != 1 {
		t.Fatalf("Resume: %+v %v", reps, err)
	}
	if len(part.erased) != 1 || part.erased[0] != u.ID {
		t.Fatalf("the part erased %v", part.erased)
	}
	all, _, _ := st.List(ctx, "")
	for _, kv := range all {
		if strings.Contains(kv.Key, u.ID) || bytes.Contains(kv.Value, []byte(u.ID)) {
			t.Fatalf("%s still names the user", kv.Key)
		}
	}
	if _, err := log.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	if reps, err := p.Resume(ctx); err != nil || len(reps) != 0 {
		t.Fatalf("Resume after it finished: %d %v", len(reps), err)
	}
}
