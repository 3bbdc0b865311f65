package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// BoltConfig configures the embedded bbolt store.
type BoltConfig struct {
	// Path of the data file; its directory is created (0700) if missing.
	Path string
	// Timeout is how long OpenBolt waits for the file lock held by another
	// process before it fails with ErrUnavailable.
	Timeout time.Duration
	// SweepInterval is how often expired keys are deleted (and their
	// EventDelete sent). Expired keys are invisible to reads at once
	// whatever this is.
	SweepInterval time.Duration
	// WatchBuffer is the channel capacity of each watcher; a watcher more
	// than this many events behind is dropped (its channel closed).
	WatchBuffer int
}

// DefaultBoltConfig returns the defaults: ukeygate.db in the working
// directory, a 1 s lock timeout, a 1 s sweep and 1024 buffered events.
func DefaultBoltConfig() BoltConfig {
	return BoltConfig{
		Path:          "ukeygate.db",
		Timeout:       time.Second,
		SweepInterval: time.Second,
		WatchBuffer:   1024,
	}
}

// Validate names the first bad setting; the error wraps ErrInvalid.
func (c BoltConfig) Validate() error {
	switch {
	case c.Path == "":
		return fmt.Errorf("%w: bolt config: path is empty", ErrInvalid)
	case c.Timeout <= 0:
		return fmt.Errorf("%w: bolt config: timeout %s must be positive (0 would wait forever for a locked file)", ErrInvalid, c.Timeout)
	case c.SweepInterval <= 0:
		return fmt.Errorf("%w: bolt config: sweep_interval %s must be positive", ErrInvalid, c.SweepInterval)
	case c.WatchBuffer < 1:
		return fmt.Errorf("%w: bolt config: watch_buffer %d must be at least 1", ErrInvalid, c.WatchBuffer)
	}
	return nil
}

// Buckets and meta keys of the data file.
var (
	bucketKV      = []byte("kv")   // key -> envelope
	bucketTTL     = []byte("ttl")  // 8-byte big-endian expiry (Unix ns) + key -> empty
	bucketMeta    = []byte("meta") // the keys below
	metaRevision  = []byte("revision")
	metaFormat    = []byte("format")
	formatVersion = []byte("ukeygate-kv-1")
)

// sweepBatch bounds how many expired keys one sweep transaction deletes.
const sweepBatch = 1000

// Bolt is the embedded Store: one bbolt file, one process. Open it with
// OpenBolt. It is safe for concurrent use.
type Bolt struct {
	db      *bolt.DB
	path    string
	timeout time.Duration // of the file lock, for Compact's reopen
	commits *committer
	hub     *hub

	// life is held for reading by every call and for writing by Close, so
	// Close waits for calls in flight and later calls see closed.
	life   sync.RWMutex
	closed bool

	closeOnce sync.Once
	closeErr  error
	stopSweep chan struct{}
	sweepDone chan struct{}
}

var _ Store = (*Bolt)(nil)

// OpenBolt opens (or creates) the data file at cfg.Path. A file locked by
// another process, or one that is not a readable ukeygate data file, fails
// with an error wrapping ErrUnavailable; a bad cfg with ErrInvalid.
func OpenBolt(cfg BoltConfig) (*Bolt, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o700); err != nil {
		return nil, fmt.Errorf("storage: cannot create the directory of data file %s: %w: %w", cfg.Path, ErrUnavailable, err)
	}
	db, err := bolt.Open(cfg.Path, 0o600, boltOptions(cfg.Timeout))
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("storage: data file %s is locked by another process (waited %s): %w", cfg.Path, cfg.Timeout, ErrUnavailable)
		}
		return nil, fmt.Errorf("storage: cannot open data file %s: %w: %w", cfg.Path, ErrUnavailable, err)
	}
	rev, err := initFile(db)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("storage: data file %s is not a readable ukeygate store: %w: %w", cfg.Path, ErrUnavailable, err)
	}
	b := &Bolt{
		db:        db,
		path:      cfg.Path,
		timeout:   cfg.Timeout,
		commits:   &committer{db: db},
		hub:       newHub(rev, cfg.WatchBuffer),
		stopSweep: make(chan struct{}),
		sweepDone: make(chan struct{}),
	}
	go b.sweepLoop(cfg.SweepInterval)
	return b, nil
}

// boltOptions are the options every open of the data file uses: the
// freelist is kept in memory as a hashmap (as etcd runs bbolt) and
// written with every commit. Not NoFreelistSync: without a stored
// freelist bbolt rebuilds it after every rolled-back write transaction by
// scanning every page of the file (Tx.rollback), and a write transaction
// rolls back whenever a condition fails — a replayed nonce, a lost
// compare-and-swap — so any client could make the gateway read its whole
// file per request. A file written without its freelist (by round 7's
// interim builds) gets it rebuilt and written when it is opened.
func boltOptions(timeout time.Duration) *bolt.Options {
	return &bolt.Options{
		Timeout:      timeout,
		FreelistType: bolt.FreelistMapType,
	}
}

// initFile creates the buckets of a new file, checks the format of an
// existing one and returns its revision. A panic of bbolt on a damaged page
// becomes an error.
func initFile(db *bolt.DB) (rev int64, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("damaged page: %v", p)
		}
	}()
	err = db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			if tx.Bucket(bucketKV) != nil || tx.Bucket(bucketTTL) != nil {
				return errors.New("data buckets without a meta bucket")
			}
			var err error
			if meta, err = tx.CreateBucket(bucketMeta); err != nil {
				return err
			}
			if err := meta.Put(metaFormat, formatVersion); err != nil {
				return err
			}
			if err := writeRevision(tx, 0); err != nil {
				return err
			}
		}
		if f := meta.Get(metaFormat); !bytes.Equal(f, formatVersion) {
			return fmt.Errorf("unknown format %q", f)
		}
		for _, name := range [][]byte{bucketKV, bucketTTL} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		var err error
		rev, err = readRevision(tx)
		return err
	})
	return rev, err
}

func readRevision(tx *bolt.Tx) (int64, error) {
	raw := tx.Bucket(bucketMeta).Get(metaRevision)
	if len(raw) != 8 {
		return 0, errors.New("storage: malformed revision record")
	}
	rev := int64(binary.BigEndian.Uint64(raw))
	if rev < 0 {
		return 0, errors.New("storage: negative revision record")
	}
	return rev, nil
}

func writeRevision(tx *bolt.Tx, rev int64) error {
	return tx.Bucket(bucketMeta).Put(metaRevision, binary.BigEndian.AppendUint64(nil, uint64(rev)))
}

// ttlIndexKey is the key of the TTL index entry of key expiring at exp.
func ttlIndexKey(exp int64, key string) []byte {
	b := make([]byte, 8, 8+len(key))
	binary.BigEndian.PutUint64(b, uint64(exp))
	return append(b, key...)
}

// enter starts a call: it fails with ErrClosed after Close, and otherwise
// holds b.life for reading until the caller runs b.life.RUnlock.
func (b *Bolt) enter() error {
	b.life.RLock()
	if b.closed {
		b.life.RUnlock()
		return ErrClosed
	}
	return nil
}

// damaged reports a value that cannot be decoded.
func (b *Bolt) damaged(err error) error {
	return fmt.Errorf("storage: data file %s is damaged: %w: %w", b.path, ErrUnavailable, err)
}

// backendErr maps a bbolt error to the package's errors.
func (b *Bolt) backendErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrUnavailable), errors.Is(err, ErrClosed):
		return err
	case errors.Is(err, berrors.ErrDatabaseNotOpen):
		return ErrClosed
	}
	return fmt.Errorf("storage: data file %s: %w: %w", b.path, ErrUnavailable, err)
}

// Get implements Store.
func (b *Bolt) Get(ctx context.Context, key string) (KV, error) {
	if err := b.enter(); err != nil {
		return KV{}, err
	}
	defer b.life.RUnlock()
	if err := ctx.Err(); err != nil {
		return KV{}, err
	}
	if err := ValidateKey(key); err != nil {
		return KV{}, err
	}
	var kv KV
	found := false
	err := b.db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketKV).Get([]byte(key))
		if raw == nil {
			return nil
		}
		e, err := decodeEnvelope(raw)
		if err != nil {
			return b.damaged(err)
		}
		if e.expired(time.Now().UnixNano()) {
			return nil
		}
		kv, found = e.kv(key), true
		return nil
	})
	if err != nil {
		return KV{}, b.backendErr(err)
	}
	if !found {
		return KV{}, ErrNotFound
	}
	return kv, nil
}

// List implements Store. The prefix is literal: "a/b" lists "a/b", "a/b/c"
// and "a/bc"; end it with "/" to list one level's children only.
func (b *Bolt) List(ctx context.Context, prefix string) ([]KV, int64, error) {
	if err := b.enter(); err != nil {
		return nil, 0, err
	}
	defer b.life.RUnlock()
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	if err := ValidatePrefix(prefix); err != nil {
		return nil, 0, err
	}
	var (
		kvs []KV
		rev int64
	)
	err := b.db.View(func(tx *bolt.Tx) error {
		var err error
		if rev, err = readRevision(tx); err != nil {
			return b.damaged(err)
		}
		now := time.Now().UnixNano()
		p := []byte(prefix)
		c := tx.Bucket(bucketKV).Cursor()
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			e, err := decodeEnvelope(v)
			if err != nil {
				return b.damaged(err)
			}
			if !e.expired(now) {
				kvs = append(kvs, e.kv(string(k)))
			}
		}
		return nil
	})
	if err != nil {
		return nil, 0, b.backendErr(err)
	}
	return kvs, rev, nil
}

// Txn implements Store. All conditions are checked before any write,
// wherever they stand in ops. A successful transaction that changes
// something makes one new revision shared by all its writes; one that
// changes nothing (only conditions, or deletes of missing keys) returns the
// current revision. Overwriting or deleting a key whose TTL has passed but
// that the sweeper has not removed yet also sends the EventDelete of the
// expiry, at the transaction's revision.
func (b *Bolt) Txn(ctx context.Context, ops ...Op) (int64, error) {
	if err := b.enter(); err != nil {
		return 0, err
	}
	defer b.life.RUnlock()
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := ValidateTxn(ops); err != nil {
		return 0, err
	}
	// ops are not copied: applyTxn runs (perhaps more than once) before
	// Txn returns, and what outlives it (the stored value, the events)
	// holds the envelope applyWrite builds, never the caller's slices.
	var res txnResult
	run := b.commits.do
	if !slices.ContainsFunc(ops, Op.IsWrite) {
		// Conditions alone write nothing: a read transaction checks them
		// against the last commit without a durable commit of its own.
		run = b.db.View
	}
	err := run(func(tx *bolt.Tx) error {
		var err error
		res, err = b.applyTxn(tx, ops) // this function may run more than once
		return err
	})
	if err != nil {
		return 0, b.backendErr(err)
	}
	if res.conflict {
		return 0, ErrConflict
	}
	return res.rev, nil
}

// txnResult is the outcome of applyTxn: the revision Txn returns, or a
// failed condition.
type txnResult struct {
	rev      int64
	conflict bool
}

// applyTxn runs ops in tx: every condition first (a failed one writes
// nothing), then the writes under the next revision, then the revision
// counter; the events are published once tx commits.
func (b *Bolt) applyTxn(tx *bolt.Tx, ops []Op) (txnResult, error) {
	cur, err := readRevision(tx)
	if err != nil {
		return txnResult{}, b.damaged(err)
	}
	now := time.Now().UnixNano()
	kvb := tx.Bucket(bucketKV)
	if ok, err := b.conditionsHold(kvb, ops, now); err != nil || !ok {
		return txnResult{conflict: err == nil}, err
	}
	next := cur + 1
	events, err := b.applyWrites(kvb, tx.Bucket(bucketTTL), ops, next, now)
	if err != nil {
		return txnResult{}, err
	}
	if len(events) == 0 {
		return txnResult{rev: cur}, nil
	}
	if err := writeRevision(tx, next); err != nil {
		return txnResult{}, err
	}
	tx.OnCommit(func() { b.hub.publish(next, events) })
	return txnResult{rev: next}, nil
}

// conditionsHold reports whether every condition of ops holds: the key's
// live revision (0 when missing or expired) is the one asked for.
func (b *Bolt) conditionsHold(kvb *bolt.Bucket, ops []Op, now int64) (bool, error) {
	for _, op := range ops {
		if !op.IsCondition() {
			continue
		}
		old, found, err := b.readEnvelope(kvb, op.Key)
		if err != nil {
			return false, err
		}
		var have int64
		if found && !old.expired(now) {
			have = old.revision
		}
		if have != op.Revision {
			return false, nil
		}
	}
	return true, nil
}

// applyWrites applies the puts and deletes of ops at revision next and
// returns their events, in the order of ops.
func (b *Bolt) applyWrites(kvb, ttlb *bolt.Bucket, ops []Op, next, now int64) ([]Event, error) {
	var events []Event
	for _, op := range ops {
		if !op.IsWrite() {
			continue
		}
		evs, err := b.applyWrite(kvb, ttlb, op, next, now)
		if err != nil {
			return nil, err
		}
		events = append(events, evs...)
	}
	return events, nil
}

// applyWrite applies one put or delete: the old value's TTL index entry
// goes; a delete of a missing key does nothing; a put over an expired but
// not yet swept value first reports that value's expiry (EventDelete).
func (b *Bolt) applyWrite(kvb, ttlb *bolt.Bucket, op Op, next, now int64) ([]Event, error) {
	old, found, err := b.readEnvelope(kvb, op.Key)
	if err != nil {
		return nil, err
	}
	if found && old.expiresAt != 0 {
		if err := ttlb.Delete(ttlIndexKey(old.expiresAt, op.Key)); err != nil {
			return nil, err
		}
	}
	deleted := Event{Type: EventDelete, KV: KV{Key: op.Key, Revision: next}}
	if op.IsDelete() {
		if !found {
			return nil, nil
		}
		return []Event{deleted}, kvb.Delete([]byte(op.Key))
	}
	var events []Event
	if found && old.expired(now) {
		events = append(events, deleted)
	}
	var exp int64
	if op.TTL > 0 {
		exp = now + int64(op.TTL)
		if err := ttlb.Put(ttlIndexKey(exp, op.Key), nil); err != nil {
			return nil, err
		}
	}
	// The envelope is this write's own copy of the value: the event
	// carries it too (bbolt only reads it), not the caller's slice.
	env := encodeEnvelope(envelope{revision: next, expiresAt: exp, value: op.Value})
	if err := kvb.Put([]byte(op.Key), env); err != nil {
		return nil, err
	}
	kv := KV{Key: op.Key, Value: env[envelopeHeaderSize:len(env):len(env)], Revision: next}
	if exp != 0 {
		kv.ExpiresAt = time.Unix(0, exp)
	}
	return append(events, Event{Type: EventPut, KV: kv}), nil
}

// readEnvelope reads key's stored envelope; found is false when there is
// none. An undecodable one is damage.
func (b *Bolt) readEnvelope(kvb *bolt.Bucket, key string) (e envelope, found bool, err error) {
	raw := kvb.Get([]byte(key))
	if raw == nil {
		return envelope{}, false, nil
	}
	if e, err = decodeEnvelope(raw); err != nil {
		return envelope{}, false, b.damaged(err)
	}
	return e, true, nil
}

// Watch implements Store. Events are delivered after their transaction is
// durable, in revision order; the writes of one transaction share a
// revision and come in the order of its ops. The channel holds
// BoltConfig.WatchBuffer events; a watcher that lets it fill up is dropped
// and its channel closed, so that writers never wait for readers.
func (b *Bolt) Watch(ctx context.Context, prefix string) (<-chan Event, error) {
	if err := b.enter(); err != nil {
		return nil, err
	}
	defer b.life.RUnlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := ValidatePrefix(prefix); err != nil {
		return nil, err
	}
	return b.hub.add(ctx, prefix)
}

// Ping implements Store: it reads the revision record.
func (b *Bolt) Ping(ctx context.Context) error {
	if err := b.enter(); err != nil {
		return err
	}
	defer b.life.RUnlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	return b.backendErr(b.db.View(func(tx *bolt.Tx) error {
		if _, err := readRevision(tx); err != nil {
			return b.damaged(err)
		}
		return nil
	}))
}

// Close stops the sweeper, waits for calls in flight, closes every
// watcher's channel and the file. It is idempotent; later calls of the
// other methods return ErrClosed.
func (b *Bolt) Close() error {
	b.closeOnce.Do(func() {
		close(b.stopSweep)
		<-b.sweepDone
		b.life.Lock()
		defer b.life.Unlock()
		b.closed = true
		b.hub.close()
		if err := b.db.Close(); err != nil {
			b.closeErr = b.backendErr(err)
		}
	})
	return b.closeErr
}

// String names the store for logs.
// CommitStats reports the data file's commits since it was opened (see
// CommitStats), the sweeper's deletions among them; a compaction keeps
// the counts.
func (b *Bolt) CommitStats() CommitStats {
	b.life.RLock() // a compaction replaces the committer
	c := b.commits
	b.life.RUnlock()
	return c.stats()
}

func (b *Bolt) String() string { return "bbolt:" + strconv.Quote(b.path) }

func (b *Bolt) sweepLoop(every time.Duration) {
	defer close(b.sweepDone)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-b.stopSweep:
			return
		case <-t.C:
		}
		for {
			n, err := b.sweep()
			if err != nil || n < sweepBatch {
				break
			}
			select {
			case <-b.stopSweep:
				return
			default:
			}
		}
	}
}

// sweep deletes up to sweepBatch expired keys in one transaction, sending
// their EventDelete, and returns how many TTL index entries it handled.
func (b *Bolt) sweep() (int, error) {
	if err := b.enter(); err != nil {
		return 0, err
	}
	defer b.life.RUnlock()
	now := time.Now().UnixNano()
	due := false
	err := b.db.View(func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(bucketTTL).Cursor().First()
		due = len(k) >= 8 && int64(binary.BigEndian.Uint64(k[:8])) <= now
		return nil
	})
	if err != nil || !due {
		return 0, err
	}
	var handled int
	err = b.commits.do(func(tx *bolt.Tx) error {
		handled = 0
		kvb, ttlb := tx.Bucket(bucketKV), tx.Bucket(bucketTTL)
		cur, err := readRevision(tx)
		if err != nil {
			return b.damaged(err)
		}
		next := cur + 1
		now := time.Now().UnixNano()
		var (
			indexKeys [][]byte
			deadKeys  [][]byte
			events    []Event
		)
		c := ttlb.Cursor()
		for k, _ := c.First(); k != nil && len(indexKeys) < sweepBatch; k, _ = c.Next() {
			if len(k) < 8 {
				indexKeys = append(indexKeys, bytes.Clone(k))
				continue
			}
			exp := int64(binary.BigEndian.Uint64(k[:8]))
			if exp > now {
				break
			}
			indexKeys = append(indexKeys, bytes.Clone(k))
			key := k[8:]
			raw := kvb.Get(key)
			if raw == nil {
				continue
			}
			e, err := decodeEnvelope(raw)
			if err != nil || e.expiresAt != exp {
				continue // a stale index entry: drop it, keep the key
			}
			deadKeys = append(deadKeys, bytes.Clone(key))
			events = append(events, Event{Type: EventDelete, KV: KV{Key: string(key), Revision: next}})
		}
		for _, k := range indexKeys {
			if err := ttlb.Delete(k); err != nil {
				return err
			}
		}
		for _, k := range deadKeys {
			if err := kvb.Delete(k); err != nil {
				return err
			}
		}
		handled = len(indexKeys)
		if len(events) == 0 {
			return nil
		}
		if err := writeRevision(tx, next); err != nil {
			return err
		}
		tx.OnCommit(func() { b.hub.publish(next, events) })
		return nil
	})
	return handled, err
}
