package session_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/ukeygate/ukeygate/session"
	"github.com/ukeygate/ukeygate/storage"
)

// storeAudit is a session.AtomicRecorder over the env's store: each entry
// is a key of its own, written in the transaction of the ops it is handed.
type storeAudit struct {
	memAudit
	st storage.Store

	mu sync.Mutex
	n  int
}

func (a *storeAudit) RecordKeyUseWith(ctx context.Context, u session.KeyUse, ops []storage.Op) error {
	a.mu.Lock()
	a.n++
	key := fmt.Sprintf("testaudit/%04d", a.n)
	a.mu.Unlock()
	if _, err := a.st.Txn(ctx, append(ops, storage.Put(key, []byte(u.Detail), 0))...); err != nil {
		return err
	}
	return a.memAudit.RecordKeyUse(ctx, u)
}

// guardedKeys is pinKeys that, like package ca, leaves the check of the
// record it relied on (key guardKey, at the revision it read) to the
// completion (storage.AddGuards); recheck decides what a change of that
// record does.
type guardedKeys struct {
	*pinKeys
	st      storage.Store
	recheck func(ctx context.Context) (int64, error)
	added   bool
}

const guardKey = "testrecords/credential"

func (k *guardedKeys) Use(ctx context.Context, c *session.Credential, pin string, op func(session.OpKey) (*session.Output, error)) (*session.Output, error) {
	kv, err := k.st.Get(ctx, guardKey)
	if err != nil {
		return nil, err
	}
	k.added = storage.AddGuards(ctx, storage.Guard{Key: guardKey, Revision: kv.Revision, Recheck: k.recheck})
	return k.pinKeys.Use(ctx, c, pin, op)
}

// TestConfirmCompletionChecksTheGuards: the records a key use relied on
// (storage.AddGuards in the key side) are conditions of the completion's
// transaction. Changed while the key was out, a record that refuses the
// use ends the confirm with the refusal: the session is not completed,
// nothing of the result is stored and the audit keeps only
// "result_discarded"; one that still admits it is taken in at its new
// revision and the session completes.
func TestConfirmCompletionChecksTheGuards(t *testing.T) {
	errRevoked := errors.New("test: credential revoked")
	for _, tc := range []struct {
		name string
		// refuse: the record's change refuses the use.
		refuse bool
	}{{name: "a change that refuses", refuse: true}, {name: "a change that admits"}} {
		t.Run(tc.name, func(t *testing.T) {
			ce := newConfirmEnv(t, loginParams())
			if _, err := ce.st.Txn(ce.ctx, storage.Put(guardKey, []byte("active"), 0)); err != nil {
				t.Fatal(err)
			}
			audit := &storeAudit{st: ce.st}
			keys := &guardedKeys{pinKeys: ce.keys, st: ce.st}
			keys.recheck = func(ctx context.Context) (int64, error) {
				kv, err := ce.st.Get(ctx, guardKey)
				if err != nil {
					return 0, err
				}
				if tc.refuse {
					return 0, errRevoked
				}
				return kv.Revision, nil
			}
			ce.keys.during = func() {
				if _, err := ce.st.Txn(context.Background(), storage.Put(guardKey, []byte("changed"), 0)); err != nil {
					t.Error(err)
				}
			}
			conf := &session.Confirmer{Sessions: ce.svc, Keys: keys, Audit: audit}
			done, err := conf.Confirm(ce.ctx, ce.request(credSign, testPIN, ce.sess.Code))
			if !keys.added {
				t.Fatal("the confirm opened no guard set")
			}
			got := audit.summary()
			if !tc.refuse {
				if err != nil || done.State != session.StateCompleted {
					t.Fatalf("Confirm: %v (%+v), want completed", err, done)
				}
				if len(got) != 1 || got[0] != "ok" {
					t.Fatalf("audit %v, want [ok]", got)
				}
				return
			}
			if !errors.Is(err, errRevoked) {
				t.Fatalf("Confirm: %v, want the guard's refusal", err)
			}
			if s := ce.get(t, ce.sess.ID); s.State != session.StateScanned || len(s.Result) != 0 {
				t.Fatalf("session after a refused completion: %s, result %q", s.State, s.Result)
			}
			if len(got) != 1 || got[0] != "failed:"+session.DetailResultDiscarded {
				t.Fatalf("audit %v, want only [failed:%s]", got, session.DetailResultDiscarded)
			}
			// The "ok" entry never reached the store: only the discarded
			// one (written alone by RecordKeyUse, not the store).
			kvs, _, err := ce.st.List(ce.ctx, "testaudit/")
			if err != nil || len(kvs) != 0 {
				t.Fatalf("audit keys in the store after a refused completion: %v %v", kvs, err)
			}
			// The refused confirm let its claim go: the phone confirms
			// again at once (not confirm_in_progress for ClaimTTL).
			ce.keys.during, tc.refuse = nil, false
			if done, err := conf.Confirm(ce.ctx, ce.request(credSign, testPIN, ce.sess.Code)); err != nil || done.State != session.StateCompleted {
				t.Fatalf("confirm after a refused completion: %v (%+v)", err, done)
			}
		})
	}
}
