package storage

import (
	bolt "go.etcd.io/bbolt"
)

// ReleaseMappedPages drops this process's mappings of the data file's
// pages: bbolt reads the file through a read-only shared memory mapping,
// and every page a read or a write transaction touched (with the kernel's
// fault-around, its neighbours too) stays mapped and counts in the
// process's resident memory (RssFile) for as long as the file is open,
// even when the keys on it are long gone.
//
// It is madvise(MADV_DONTNEED) on the whole mapping (Linux; elsewhere it
// does nothing and returns 0). The pages are clean page cache: the kernel
// keeps them cached (and charges them to the same cgroup) and can drop
// them under memory pressure whether they are mapped or not; the next read
// of one costs a minor fault (no disk read while it is cached). What falls
// is the process's own resident figure — which is what ps, the OOM
// killer's score and process_resident_memory_bytes count. Nothing is
// written and no data changes.
//
// It returns the bytes of the mapping it advised. It runs inside a read
// transaction, which holds bbolt's mapping lock, so the mapping cannot be
// replaced (bbolt remaps when the file grows) while it is advised.
func (b *Bolt) ReleaseMappedPages() (int64, error) {
	if err := b.enter(); err != nil {
		return 0, err
	}
	defer b.life.RUnlock()
	var n int64
	err := b.db.View(func(tx *bolt.Tx) error {
		// tx.Size is the committed size of the file in use, never more
		// than the mapping (bbolt maps at least the whole file).
		n = tx.Size()
		return dropMapped(tx.DB().Info().Data, n)
	})
	if err != nil {
		return 0, b.backendErr(err)
	}
	if !canDropMapped {
		n = 0
	}
	return n, nil
}
