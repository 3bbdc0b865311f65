package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ukeygate/ukeygate/storage"
)

// An action and its entry commit together: the caller (the API) puts the
// entry's recipe in the context with WithAction, and the service that
// performs the action commits its final transaction with Commit, which
// adds the entry and the new head to that same transaction. Either both
// are stored or neither is.

type actionKey struct{}

type action struct {
	log   *Log
	build func(result any) Entry
	done  bool // the entry was committed (a later commit adds nothing)
}

// WithAction returns ctx carrying the entry of the action the context's
// next Commit performs: build gets the action's result (what the service
// returns, e.g. a *ca.Device) and returns the entry; Seq, Time, Prev and
// Hash are set by the log, an empty Outcome becomes OutcomeOK.
func (l *Log) WithAction(ctx context.Context, build func(result any) Entry) context.Context {
	return context.WithValue(ctx, actionKey{}, &action{log: l, build: build})
}

// ActionCommitted reports whether ctx's action entry (WithAction) was
// committed.
func ActionCommitted(ctx context.Context) bool {
	a, _ := ctx.Value(actionKey{}).(*action)
	return a != nil && a.done
}

// CommitEntry commits the entry of ctx's action (WithAction) alone, for
// an action that changes nothing in the store (an encryption, say);
// without an action in ctx, or once it is committed, it does nothing.
func CommitEntry(ctx context.Context, st storage.Store, result any) error {
	if a, _ := ctx.Value(actionKey{}).(*action); a == nil || a.done {
		return nil
	}
	_, err := Commit(ctx, st, nil, result)
	return err
}

// maxHeadRetries bounds how often Commit rebuilds the entry because
// another writer extended the log between its read of the head and its
// transaction.
const maxHeadRetries = 50

// Commit commits ops in one transaction and, when ctx carries an action
// entry (WithAction) not committed yet, the entry built from result and
// the log's new head with them. A transaction that fails only because the
// head moved is rebuilt and retried; any other failure (a condition of
// ops, the store) is returned as it is, with nothing written. Without an
// action in ctx it is st.Txn(ctx, ops...).
func Commit(ctx context.Context, st storage.Store, ops []storage.Op, result any) (int64, error) {
	a, _ := ctx.Value(actionKey{}).(*action)
	if a == nil || a.done {
		return st.Txn(ctx, ops...)
	}
	e := a.build(result)
	if e.Outcome == "" {
		e.Outcome = OutcomeOK
	}
	if e.Action == "" || (e.Outcome != OutcomeOK && e.Outcome != OutcomeFailed) {
		return 0, fmt.Errorf("%w: action and outcome (ok|failed) are required", ErrInvalidEntry)
	}
	for range maxHeadRetries {
		h, headRev, err := a.log.readHead(ctx)
		if err != nil {
			return 0, err
		}
		extra, err := a.log.entryOps(e, h, headRev)
		if err != nil {
			return 0, err
		}
		rev, err := st.Txn(ctx, append(append([]storage.Op{}, ops...), extra...)...)
		if err == nil {
			a.done = true
			return rev, nil
		}
		if !errors.Is(err, storage.ErrConflict) {
			return 0, err
		}
		// A conflict: retry only if the head moved (another entry was
		// appended); otherwise a condition of ops failed.
		_, now, herr := a.log.readHead(ctx)
		if herr != nil {
			return 0, herr
		}
		if now == headRev {
			return 0, err
		}
	}
	return 0, fmt.Errorf("audit: the log kept moving during %d attempts: %w", maxHeadRetries, storage.ErrConflict)
}

// entryOps chains e after head h (at revision rev) and returns the
// condition on the head, the entry and the new head.
func (l *Log) entryOps(e Entry, h head, rev int64) ([]storage.Op, error) {
	e.Seq, e.Time, e.Prev = h.Seq+1, l.now().UTC(), h.Hash
	if err := stamp(&e); err != nil {
		return nil, err
	}
	var err error
	if e.Hash, err = chainHash(e); err != nil {
		return nil, err
	}
	b, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	nh, err := json.Marshal(head{Seq: e.Seq, Hash: e.Hash, Seal: l.seal(e.Seq, e.Hash)})
	if err != nil {
		return nil, err
	}
	return []storage.Op{storage.IfRevision(headKey, rev), storage.Put(entryKey(e.Seq), b, 0), storage.Put(headKey, nh, 0)}, nil
}
