package storage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// Compactor is a Store that can drop the old copies of values it still
// holds after they were overwritten or deleted: bbolt's freed pages (the
// data file is rewritten), etcd's revision history (compacted up to the
// current revision). Account deletion calls it so that deleted means
// deleted in the store too (docs/privacy.md says which copies remain:
// etcd's backend file until a defragmentation, and backups).
type Compactor interface {
	Compact(ctx context.Context) error
}

var _ Compactor = (*Bolt)(nil)

// Compact implements Compactor: it copies the live keys into a fresh file
// next to the data file, replaces the data file with it and reopens it,
// so no freed page of the old file (which keeps old values until it is
// reused) survives. Calls wait while it runs; watchers are not affected.
func (b *Bolt) Compact(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.life.Lock()
	defer b.life.Unlock()
	if b.closed {
		return ErrClosed
	}
	tmp := b.path + ".compact"
	_ = os.Remove(tmp)
	dst, err := bolt.Open(tmp, 0o600, boltOptions(b.timeout))
	if err != nil {
		return b.backendErr(err)
	}
	if err := bolt.Compact(dst, b.db, 0); err != nil {
		_ = dst.Close()
		_ = os.Remove(tmp)
		return b.backendErr(err)
	}
	if err := dst.Close(); err != nil {
		_ = os.Remove(tmp)
		return b.backendErr(err)
	}
	if err := b.db.Close(); err != nil {
		return b.backendErr(err)
	}
	renameErr := os.Rename(tmp, b.path)
	if renameErr == nil {
		if d, err := os.Open(filepath.Dir(b.path)); err == nil {
			_ = d.Sync()
			_ = d.Close()
		}
	}
	// Reopen whichever file is now the data file (the old one if the
	// rename failed).
	db, err := bolt.Open(b.path, 0o600, boltOptions(b.timeout))
	if err != nil {
		b.closed = true
		b.hub.close()
		return fmt.Errorf("storage: reopen %s after compaction: %w: %w", b.path, ErrUnavailable, err)
	}
	commits := &committer{db: db}
	commits.carryStats(b.commits)
	b.db, b.commits = db, commits
	if renameErr != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("storage: replace %s: %w: %w", b.path, ErrUnavailable, renameErr)
	}
	return nil
}
