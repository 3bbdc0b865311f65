package ca

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ukeygate/ukeygate/audit"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/storage"
)

// failingStore fails, while fail is set, every transaction that writes an
// audit entry (as a store that loses its cluster at that moment would).
type failingStore struct {
	storage.Store
	fail atomic.Bool
}

func (s *failingStore) Txn(ctx context.Context, ops ...storage.Op) (int64, error) {
	if s.fail.Load() {
		for _, op := range ops {
			if op.IsPut() && strings.HasPrefix(op.Key, "audit/") {
				return 0, storage.ErrUnavailable
			}
		}
	}
	return s.Store.Txn(ctx, ops...)
}

// TestActionsAndEntriesCommitTogether: each audited action commits its
// entry in its own transaction: when that transaction fails nothing of the
// action is stored (and no entry), when it succeeds exactly one entry is
// added and the log verifies.
func TestActionsAndEntriesCommitTogether(t *testing.T) {
	f := newFixture(t)
	f.generated(t, "sm2", gmcrypto.AlgSM2, nil)
	uid := f.enrolled(t, UserRequest{Name: "张三"})
	f.credential(t, uid, "sm2", gmcrypto.AlgSM2, PurposeSign)
	target := f.credential(t, uid, "sm2", gmcrypto.AlgSM2, PurposeEncrypt)

	fs := &failingStore{Store: f.store}
	cfg := DefaultConfig()
	cfg.Now = f.clock.Now
	svc, err := New(fs, testMasterKey(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	log, err := audit.New(fs, testMasterKey(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	entries := func() int {
		t.Helper()
		list, err := log.List(f.ctx, audit.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}
	actions := []struct {
		name string
		do   func(ctx context.Context) error
	}{
		{"pin.change", func(ctx context.Context) error { return svc.ChangePIN(ctx, uid, testPIN, "135790") }},
		{"credential.revoke", func(ctx context.Context) error { _, err := svc.Revoke(ctx, target.ID, "keyCompromise"); return err }},
		{"user.add", func(ctx context.Context) error {
			_, _, err := svc.AddUser(ctx, UserRequest{Name: "李四"})
			return err
		}},
		{"user.activation", func(ctx context.Context) error { _, _, err := svc.NewActivationCode(ctx, uid); return err }},
		{"issuer.add", func(ctx context.Context) error {
			_, err := svc.AddIssuer(ctx, IssuerRequest{ID: "rsa", Name: "RSA", Mode: ModeInternal, Alg: gmcrypto.AlgRSA, Generate: true,
				Subject: Subject{CommonName: "atomic RSA Root"}})
			return err
		}},
	}
	for _, a := range actions {
		t.Run(a.name, func(t *testing.T) {
			build := func(any) audit.Entry { return audit.Entry{Action: a.name, Actor: "admin"} }
			before, n := f.snapshot(t), entries()
			fs.fail.Store(true)
			ctx := log.WithAction(f.ctx, build)
			err := a.do(ctx)
			fs.fail.Store(false)
			if !errors.Is(err, storage.ErrUnavailable) {
				t.Fatalf("with the commit failing: %v, want storage.ErrUnavailable", err)
			}
			if audit.ActionCommitted(ctx) || f.snapshot(t) != before {
				t.Fatal("a failed commit changed the store")
			}
			ctx = log.WithAction(f.ctx, build)
			if err := a.do(ctx); err != nil {
				t.Fatal(err)
			}
			if !audit.ActionCommitted(ctx) || entries() != n+1 {
				t.Fatalf("after the action: committed %v, %d entries, want %d", audit.ActionCommitted(ctx), entries(), n+1)
			}
			if _, err := log.Verify(f.ctx); err != nil {
				t.Fatalf("audit verify: %v", err)
			}
		})
	}
	// The PIN change really did not happen the first time: the new PIN works
	// once, the old one not at all.
	if err := svc.ChangePIN(f.ctx, uid, "135790", testPIN); err != nil {
		t.Fatalf("the PIN set by the committed change does not work: %v", err)
	}
}
