package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ukeygate/ukeygate/audit"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/storage"
)

// maxAppAttempts bounds the compare-and-swap retries of Rotate and Disable.
const maxAppAttempts = 8

// RotateKey gives the app a new API key, returned once (only its hash is
// stored), and retires the old key in the same transaction: from then on
// the old key is ErrInvalidToken. Errors: ErrAppNotFound,
// ErrAppAlreadyDisabled (a disabled app gets no new key); on any error
// nothing changes.
func (s *Apps) RotateKey(ctx context.Context, id string) (*App, string, error) {
	var out *App
	var key string
	err := s.update(ctx, id, func(rec *appRecord) ([]storage.Op, error) {
		if rec.Disabled() {
			return nil, fmt.Errorf("%w: %s: its key cannot be rotated", ErrAppAlreadyDisabled, rec.ID)
		}
		raw, err := gmcrypto.RandomBytes(appKeyRandLen)
		if err != nil {
			return nil, err
		}
		key = AppKeyPrefix + keyEncoding.EncodeToString(raw)
		oldHash, newHash := rec.KeyHash, hashKey(key)
		rec.KeyHash = newHash
		rec.KeyRotatedAt = s.now().UTC().Truncate(time.Second)
		app := rec.App
		out = &app
		return []storage.Op{
			storage.IfAbsent(pfxAppsByKey + newHash),
			storage.Delete(pfxAppsByKey + oldHash),
			storage.Put(pfxAppsByKey+newHash, []byte(rec.ID), 0),
		}, nil
	})
	if err != nil {
		return nil, "", err
	}
	return out, key, nil
}

// Disable turns the app off for good: its key is then refused with
// ErrAppDisabled (so that the portal's operators learn why). Errors:
// ErrAppNotFound, ErrAppAlreadyDisabled; on any error nothing changes.
func (s *Apps) Disable(ctx context.Context, id string) (*App, error) {
	var out *App
	err := s.update(ctx, id, func(rec *appRecord) ([]storage.Op, error) {
		if rec.Disabled() {
			return nil, fmt.Errorf("%w: %s since %s", ErrAppAlreadyDisabled, rec.ID, rec.DisabledAt.Format(time.RFC3339))
		}
		rec.DisabledAt = s.now().UTC().Truncate(time.Second)
		app := rec.App
		out = &app
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// update reads the app record, lets change modify it and add operations,
// and writes it back conditioned on the revision it read, retrying when
// the record changed in between.
func (s *Apps) update(ctx context.Context, id string, change func(rec *appRecord) ([]storage.Op, error)) error {
	if !validAppID(id) {
		return fmt.Errorf("%w: %q", ErrAppNotFound, id)
	}
	key := pfxApps + id
	for range maxAppAttempts {
		if err := ctx.Err(); err != nil {
			return err
		}
		kv, err := s.store.Get(ctx, key)
		if errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("%w: %s", ErrAppNotFound, id)
		}
		if err != nil {
			return err
		}
		var rec appRecord
		if err := json.Unmarshal(kv.Value, &rec); err != nil {
			return fmt.Errorf("auth: corrupt app record %s: %w", id, err)
		}
		extra, err := change(&rec)
		if err != nil {
			return err
		}
		b, err := json.Marshal(rec)
		if err != nil {
			return fmt.Errorf("auth: encode app: %w", err)
		}
		ops := append([]storage.Op{storage.IfRevision(key, kv.Revision), storage.Put(key, b, 0)}, extra...)
		app := rec.App
		_, err = audit.Commit(ctx, s.store, ops, &app)
		if !errors.Is(err, storage.ErrConflict) {
			if err != nil {
				return fmt.Errorf("auth: store app: %w", err)
			}
			return nil
		}
	}
	return fmt.Errorf("auth: app %s: concurrent updates, try again: %w", id, storage.ErrConflict)
}
