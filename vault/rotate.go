package vault

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ukeygate/ukeygate/audit"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/storage"
)

// maxResealPasses bounds the passes of reseal over a store that keeps
// changing under it (a rotation must run with every node stopped).
const maxResealPasses = 50

// AuditActionRotate is the audit action of a master-key rotation.
const AuditActionRotate = "master_key.rotate"

// RotateOptions tune Rotate.
type RotateOptions struct {
	// Batch is how many values one transaction re-seals (1 to
	// storage.MaxTxnOps/2; 0 means the maximum).
	Batch int
	// Progress, if set, is called after each committed batch with the
	// number of values re-sealed so far.
	Progress func(resealed int)
}

// RotateResult says what a rotation did.
type RotateResult struct {
	StoreID  string
	OldKeyID string
	NewKeyID string
	Resealed int
	// AlreadyDone: the store was already under the new key.
	AlreadyDone bool
}

// Rotate re-seals the store raw from the master key oldMaster to
// newMaster and wraps the data key under newMaster only, recording an
// audit entry. It resumes a rotation to the same new key that a crash
// interrupted, at any point. Every node must be stopped: a node still
// running with the old key would write values the new key cannot open.
func Rotate(ctx context.Context, raw storage.Store, oldMaster, newMaster []byte, opts RotateOptions) (RotateResult, error) {
	oldK, err := deriveKeys(oldMaster)
	if err != nil {
		return RotateResult{}, err
	}
	defer oldK.zero()
	newK, err := deriveKeys(newMaster)
	if err != nil {
		return RotateResult{}, err
	}
	defer newK.zero()
	res := RotateResult{OldKeyID: oldK.id.String(), NewKeyID: newK.id.String()}
	if oldK.id == newK.id {
		return res, fmt.Errorf("%w: the new key is the current key", ErrWrongKey)
	}
	if _, err := Open(ctx, raw, oldMaster); err != nil && !errors.Is(err, ErrRotating) && !errors.Is(err, ErrWrongKey) {
		// Seals a store from before the vault, and refuses a partial restore.
		return res, err
	}
	kr, rev, err := readKeyring(ctx, raw)
	if err != nil {
		return res, err
	}
	res.StoreID = kr.StoreID
	switch {
	case kr.State == stateReady && kr.KeyID == newK.id.String():
		res.AlreadyDone = true
		return res, nil
	case kr.State == stateReady && kr.KeyID != oldK.id.String():
		return res, fmt.Errorf("%w: the store is sealed under master key %s; the configured (old) key is %s", ErrWrongKey, kr.KeyID, oldK.id)
	case kr.State == stateRotating && (kr.KeyID != oldK.id.String() || kr.NextKeyID != newK.id.String()):
		return res, fmt.Errorf("%w: the unfinished rotation goes from master key %s to %s; give those keys (now %s to %s)",
			ErrWrongKey, kr.KeyID, kr.NextKeyID, oldK.id, newK.id)
	case kr.State != stateReady && kr.State != stateRotating:
		return res, fmt.Errorf("%w: unknown state %q", ErrKeyring, kr.State)
	}
	dk, err := oldK.unwrapDataKey(kr.DataKey)
	if err != nil {
		return res, err
	}
	defer gmcrypto.Zero(dk)
	if kr.State == stateReady {
		kr.State, kr.NextKeyID = stateRotating, newK.id.String()
		if kr.NextDataKey, err = newK.wrapDataKey(dk); err != nil {
			return res, err
		}
		if err := writeKeyring(ctx, raw, kr, rev); err != nil {
			return res, fmt.Errorf("vault: starting the rotation: %w", err)
		}
	} else {
		next, err := newK.unwrapDataKey(kr.NextDataKey)
		if err != nil {
			return res, err
		}
		same := gmcrypto.Equal(next, dk)
		gmcrypto.Zero(next)
		if !same {
			return res, fmt.Errorf("%w: the keyring's two data keys differ", ErrKeyring)
		}
	}

	both := keySet{oldK.id: oldK, newK.id: newK}
	if res.Resealed, err = reseal(ctx, raw, newK, both, false, opts); err != nil {
		return res, err
	}
	if err := auditRotation(ctx, &sealedStore{inner: raw, write: newK, read: both}, dk, res); err != nil {
		return res, err
	}

	kr, rev, err = readKeyring(ctx, raw)
	if err != nil {
		return res, err
	}
	kr.KeyID, kr.DataKey = kr.NextKeyID, kr.NextDataKey
	kr.NextKeyID, kr.NextDataKey, kr.State = "", nil, stateReady
	kr.Rotations++
	kr.RotatedAt = time.Now().UTC()
	if err := writeKeyring(ctx, raw, kr, rev); err != nil {
		return res, fmt.Errorf("vault: finishing the rotation: %w", err)
	}
	return res, nil
}

func auditRotation(ctx context.Context, st storage.Store, dataKey []byte, res RotateResult) error {
	log, err := audit.New(st, dataKey, nil)
	if err != nil {
		return err
	}
	defer log.Close()
	_, err = log.Append(ctx, audit.Entry{
		Action:  AuditActionRotate,
		Actor:   "operator",
		Outcome: audit.OutcomeOK,
		Detail:  fmt.Sprintf("master key %s replaced by %s; %d values re-sealed by this run", res.OldKeyID, res.NewKeyID, res.Resealed),
	})
	if err != nil {
		return fmt.Errorf("vault: writing the audit entry of the rotation: %w", err)
	}
	return nil
}

// reseal seals under to every value of raw not already sealed under it,
// opening it with from (and, with plainOK, taking an unsealed value as
// it is), in compare-and-swap batches, until a pass finds nothing left.
// Expired values are skipped. It returns how many values it re-sealed.
func reseal(ctx context.Context, raw storage.Store, to *masterKeys, from keySet, plainOK bool, opts RotateOptions) (int, error) {
	batch := opts.Batch
	if batch <= 0 || batch > storage.MaxTxnOps/2 {
		batch = storage.MaxTxnOps / 2
	}
	done := 0
	for pass := 0; pass < maxResealPasses; pass++ {
		kvs, _, err := raw.List(ctx, "")
		if err != nil {
			return done, err
		}
		var ops []storage.Op
		pending := 0
		flush := func() error {
			if len(ops) == 0 {
				return nil
			}
			_, err := raw.Txn(ctx, ops...)
			switch {
			case errors.Is(err, storage.ErrConflict):
				// A value changed since the listing: the next pass redoes it.
			case err != nil:
				return err
			default:
				done += len(ops) / 2
				if opts.Progress != nil {
					opts.Progress(done)
				}
			}
			ops = ops[:0]
			return nil
		}
		for _, kv := range kvs {
			if reserved(kv.Key) {
				continue
			}
			id, sealed := sealedWith(kv.Value)
			if sealed && id == to.id {
				continue
			}
			var pt []byte
			switch {
			case sealed:
				if pt, err = from.open(kv.Key, kv.Value); err != nil {
					return done, err
				}
			case plainOK:
				pt = kv.Value
			default:
				return done, fmt.Errorf("%w: %s is not sealed", ErrSealed, kv.Key)
			}
			var ttl time.Duration
			if !kv.ExpiresAt.IsZero() {
				if ttl = time.Until(kv.ExpiresAt); ttl <= 0 {
					continue
				}
			}
			pending++
			v, err := to.sealValue(kv.Key, pt)
			if err != nil {
				return done, err
			}
			ops = append(ops, storage.IfRevision(kv.Key, kv.Revision), storage.Put(kv.Key, v, ttl))
			if len(ops) >= 2*batch {
				if err := flush(); err != nil {
					return done, err
				}
			}
		}
		if err := flush(); err != nil {
			return done, err
		}
		if pending == 0 {
			return done, nil
		}
	}
	return done, fmt.Errorf("vault: the store kept changing during %d passes: stop every node before rotating", maxResealPasses)
}
