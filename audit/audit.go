package audit

import (
	"context"
	"crypto/hmac"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emmansun/gmsm/sm3"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/storage"
)

// Storage layout: entries under "audit/entries/%016d" (seq from 1), the head
// under "audit/head".
const (
	entryPrefix = "audit/entries/"
	headKey     = "audit/head"
)

// Outcomes of an entry.
const (
	OutcomeOK     = "ok"
	OutcomeFailed = "failed"
)

// Entry is one line of the audit log (protocol.AuditEntry: the stored
// entry, the hashed entry and the wire entry of GET /v1/admin/audit are
// one definition, so that anyone can check the chain). The fields set by
// the caller say who did what with which key: Action names what happened
// ("login", "sign", "decrypt", "credential.create", "issuer.add", …);
// Actor is "admin" (the bootstrap operator), "operator:NAME" (a named
// operator), "app:ID" or "device:ID"; Digest is the hex digest of
// what was signed or decrypted, never the data itself. Seq, Time, Prev
// and Hash are set by the log: Prev is the hex SM3 chain value of the
// entry before (64 zeros for the first); Hash = SM3(Prev || canonical
// JSON of the entry without Hash).
type Entry = protocol.AuditEntry

// head is the record that names the last entry, sealed with a key derived
// from the master key so that cutting entries off the end is detected too.
type head struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
	Seal string `json:"seal"`
}

var zeroHash = strings.Repeat("0", 64)

// chainHash computes an entry's Hash from its other fields.
func chainHash(e Entry) (string, error) {
	e, err := hashForm(e)
	if err != nil {
		return "", err
	}
	e.Hash = ""
	body, err := json.Marshal(e)
	if err != nil {
		return "", err
	}
	prev, err := hex.DecodeString(e.Prev)
	if err != nil || len(prev) != sm3.Size {
		return "", fmt.Errorf("%w: entry %d has a malformed prev", ErrTampered, e.Seq)
	}
	h := sm3.New()
	h.Write(prev)
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (l *Log) seal(seq int64, hash string) string {
	m := hmac.New(sm3.New, l.sealKey)
	m.Write([]byte(strconv.FormatInt(seq, 10) + ":" + hash))
	return hex.EncodeToString(m.Sum(nil))
}

func entryKey(seq int64) string { return fmt.Sprintf("%s%016d", entryPrefix, seq) }

// Log is the audit log over a store. On a store that runs a
// read-modify-write in one transaction (storage.Updater: the embedded
// bbolt store, one process) each append is its own update: it reads the
// head inside the store's write transaction and chains on it, and the
// store's group commit puts concurrent appends (and the other writes) in
// one commit. On any other store (etcd: several nodes) appends from many
// goroutines are queued and written in batches, each batch one
// transaction that extends the chain; the head's revision guards against a
// concurrent writer on another node (the batch is re-chained and retried).
type Log struct {
	store   storage.Store
	sealKey []byte
	now     func() time.Time

	// direct: appends are Updates of the store (no queue, no writer).
	direct bool
	// life is held for reading by a direct append and for writing by
	// Close, so Close waits for them and later ones see closed.
	life   sync.RWMutex
	closed bool

	queue chan *pending
	done  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
}

type pending struct {
	e   Entry
	res chan error
	// ops (AppendWith) commit in the entry's transaction; a failed
	// condition among them fails this entry alone with ErrConflict.
	ops []storage.Op
}

// maxAppendOps bounds the caller operations of one AppendWith (a batch
// holds at most maxBatch entries and operations together).
const maxAppendOps = 64

// maxBatch bounds the entries written in one transaction (a transaction
// holds at most 128 operations: the entries, the head condition and the
// head).
const maxBatch = 100

// New starts a log over store. masterKey seals the head. now may be nil
// (time.Now).
func New(store storage.Store, masterKey []byte, now func() time.Time) (*Log, error) {
	key, err := gmcrypto.DeriveKey(masterKey, "audit-seal", nil)
	if err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	l := &Log{store: store, sealKey: key, now: now, done: make(chan struct{}), direct: storage.CanUpdate(store)}
	if !l.direct {
		l.queue = make(chan *pending, 1024)
		l.wg.Add(1)
		go l.run()
	}
	return l, nil
}

// Close stops the appender after the queued entries are written (direct
// appends: after those in flight); later appends fail with ErrClosed.
func (l *Log) Close() error {
	l.once.Do(func() {
		l.life.Lock()
		l.closed = true
		l.life.Unlock()
		close(l.done)
	})
	l.wg.Wait()
	return nil
}

// appendDirect writes p alone as one Update of the store (Log.direct).
func (l *Log) appendDirect(ctx context.Context, p *pending) error {
	l.life.RLock()
	defer l.life.RUnlock()
	if l.closed {
		return ErrClosed
	}
	// The salt and the commitment do not depend on the place in the
	// chain: made before the store's writer is held.
	if err := stamp(&p.e); err != nil {
		return err
	}
	_, err := l.store.(storage.Updater).Update(ctx, func(get storage.ReadFunc) ([]storage.Op, error) {
		h, _, err := headOf(get(headKey))
		if err != nil {
			return nil, err
		}
		return l.chainOps([]*pending{p}, h)
	})
	return err
}

// Append adds e to the log and returns once it is durably written, with
// Seq, Time, Prev and Hash filled in.
func (l *Log) Append(ctx context.Context, e Entry) (Entry, error) {
	if e.Action == "" || (e.Outcome != OutcomeOK && e.Outcome != OutcomeFailed) {
		return Entry{}, fmt.Errorf("%w: action and outcome (ok|failed) are required", ErrInvalidEntry)
	}
	p := &pending{e: e, res: make(chan error, 1)}
	if l.direct {
		if err := l.appendDirect(ctx, p); err != nil {
			return Entry{}, err
		}
		return p.e, nil
	}
	select {
	case l.queue <- p:
	case <-l.done:
		return Entry{}, ErrClosed
	case <-ctx.Done():
		return Entry{}, ctx.Err()
	}
	select {
	case err := <-p.res:
		return p.e, err
	case <-ctx.Done():
		// The entry may still be written; the caller no longer waits.
		return Entry{}, ctx.Err()
	}
}

// AppendWith adds e to the log in the same transaction as ops (writes
// and conditions of the caller: a session's completion, say): both are
// stored or neither. If a condition of ops fails it returns
// storage.ErrConflict and writes nothing (the caller re-reads and tries
// again). Once queued it waits for the outcome even if ctx ends (bounded
// by the log's own write timeout), so the caller always knows whether
// ops were committed.
func (l *Log) AppendWith(ctx context.Context, e Entry, ops []storage.Op) (Entry, error) {
	if e.Action == "" || (e.Outcome != OutcomeOK && e.Outcome != OutcomeFailed) {
		return Entry{}, fmt.Errorf("%w: action and outcome (ok|failed) are required", ErrInvalidEntry)
	}
	if len(ops) > maxAppendOps {
		return Entry{}, fmt.Errorf("%w: %d operations with one entry, at most %d", ErrInvalidEntry, len(ops), maxAppendOps)
	}
	p := &pending{e: e, res: make(chan error, 1), ops: ops}
	if l.direct {
		err := l.appendDirect(ctx, p)
		return p.e, err
	}
	select {
	case l.queue <- p:
	case <-l.done:
		return Entry{}, ErrClosed
	case <-ctx.Done():
		return Entry{}, ctx.Err()
	}
	err := <-p.res
	return p.e, err
}

func (l *Log) run() {
	defer l.wg.Done()
	for {
		var batch []*pending
		select {
		case p := <-l.queue:
			batch = append(batch, p)
		case <-l.done:
			// Drain what is queued, then stop.
			for {
				select {
				case p := <-l.queue:
					l.write([]*pending{p})
				default:
					return
				}
			}
		}
		n := 1 + len(batch[0].ops)
		var touched batchKeys
		touched.add(batch[0].ops)
		var next *pending
	fill:
		for n < maxBatch {
			select {
			case p := <-l.queue:
				if n+1+len(p.ops) > maxBatch || touched.conflicts(p.ops) {
					next = p
					break fill
				}
				batch = append(batch, p)
				touched.add(p.ops)
				n += 1 + len(p.ops)
			default:
				break fill
			}
		}
		l.write(batch)
		if next != nil {
			l.write([]*pending{next})
		}
	}
}

// batchKeys are the keys the operations of a batch's entries write and
// the keys they only check. Two entries whose operations share a key that
// either of them writes are never committed in one transaction: a store
// refuses a key written twice, and a condition checked beside another
// entry's write of the same key would be checked against the value before
// that write (a lost update). Conditions on the same key alone (many
// sessions of one app checking its webhook record) batch freely.
type batchKeys struct {
	written, checked map[string]bool
}

func (b *batchKeys) add(ops []storage.Op) {
	for _, op := range ops {
		m := &b.checked
		if op.IsWrite() {
			m = &b.written
		}
		if *m == nil {
			*m = map[string]bool{}
		}
		(*m)[op.Key] = true
	}
}

// conflicts reports whether ops cannot join the batch (see batchKeys).
func (b *batchKeys) conflicts(ops []storage.Op) bool {
	for _, op := range ops {
		if b.written[op.Key] || (op.IsWrite() && b.checked[op.Key]) {
			return true
		}
	}
	return false
}

// write chains batch onto the current head and commits it in one
// transaction, retrying when another writer moved the head. When a
// condition of an entry's own operations (AppendWith) fails, that entry
// fails with ErrConflict and the others are written without it.
func (l *Log) write(batch []*pending) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l.writeCtx(ctx, batch)
}

func (l *Log) writeCtx(ctx context.Context, batch []*pending) {
	var err error
	for attempt := 0; attempt < 50; attempt++ {
		var rev int64
		rev, err = l.tryWrite(ctx, batch)
		if !errors.Is(err, storage.ErrConflict) {
			break
		}
		if !slices.ContainsFunc(batch, func(p *pending) bool { return len(p.ops) > 0 }) {
			continue // only the head can have moved
		}
		_, now, herr := l.readHead(ctx)
		if herr != nil {
			err = herr
			break
		}
		if now != rev {
			continue // the head moved: rebuild
		}
		// A caller's condition failed: that entry fails alone.
		if len(batch) == 1 {
			break
		}
		for _, p := range batch {
			l.writeCtx(ctx, []*pending{p})
		}
		return
	}
	for _, p := range batch {
		p.res <- err
	}
}

// tryWrite writes batch after the head it reads, whose revision it
// returns.
func (l *Log) tryWrite(ctx context.Context, batch []*pending) (int64, error) {
	h, rev, err := l.readHead(ctx)
	if err != nil {
		return 0, err
	}
	return rev, l.tryWriteAt(ctx, batch, h, rev)
}

func (l *Log) tryWriteAt(ctx context.Context, batch []*pending, h head, rev int64) error {
	for _, p := range batch {
		if err := stamp(&p.e); err != nil {
			return err
		}
	}
	ops, err := l.chainOps(batch, h)
	if err != nil {
		return err
	}
	_, err = l.store.Txn(ctx, append([]storage.Op{storage.IfRevision(headKey, rev)}, ops...)...)
	return err
}

// chainOps chains the stamped entries of batch after h, filling in their
// Seq, Time, Prev and Hash, and returns the writes of the entries, of
// their callers' operations and of the new head. It sets every field anew
// on each call (an Update may run it more than once).
func (l *Log) chainOps(batch []*pending, h head) ([]storage.Op, error) {
	ops := make([]storage.Op, 0, 1+len(batch)+len(batch[0].ops))
	seq, prev := h.Seq, h.Hash
	now := l.now().UTC()
	for _, p := range batch {
		seq++
		p.e.Seq, p.e.Time, p.e.Prev, p.e.Hash = seq, now, prev, ""
		var err error
		if p.e.Hash, err = chainHash(p.e); err != nil {
			return nil, err
		}
		b, err := json.Marshal(p.e)
		if err != nil {
			return nil, err
		}
		ops = append(ops, storage.Put(entryKey(seq), b, 0))
		ops = append(ops, p.ops...)
		prev = p.e.Hash
	}
	nh, err := json.Marshal(head{Seq: seq, Hash: prev, Seal: l.seal(seq, prev)})
	if err != nil {
		return nil, err
	}
	return append(ops, storage.Put(headKey, nh, 0)), nil
}

func (l *Log) readHead(ctx context.Context) (head, int64, error) {
	return headOf(l.store.Get(ctx, headKey))
}

// headOf decodes the head record read from the store (the zero head of an
// empty log when there is none) and returns it with its revision.
func headOf(kv storage.KV, err error) (head, int64, error) {
	if errors.Is(err, storage.ErrNotFound) {
		return head{Hash: zeroHash}, 0, nil
	}
	if err != nil {
		return head{}, 0, err
	}
	var h head
	if err := json.Unmarshal(kv.Value, &h); err != nil {
		return head{}, 0, fmt.Errorf("%w: head is malformed", ErrTampered)
	}
	return h, kv.Revision, nil
}

// Filter selects entries for List. Zero fields match everything.
type Filter struct {
	UserID string
	// OnBehalfOf selects the key uses through a delegation of that
	// organisation's credentials (Entry.OnBehalfOf).
	OnBehalfOf string
	// Party selects the entries whose user or on-behalf-of is Party: a
	// user's own actions and, for an organisation, its staff's uses of
	// its credentials.
	Party     string
	SessionID string
	AppID     string
	Action    string
	// Actor selects the entries of one actor ("operator:alice",
	// "device:dev_…", "admin").
	Actor string
	// Since and Until, when set, select the entries written at or after
	// Since and before Until.
	Since, Until time.Time
	AfterSeq     int64
	Limit        int // 0 = all
}

func (f Filter) match(e Entry) bool {
	return e.Seq > f.AfterSeq &&
		(f.UserID == "" || e.UserID == f.UserID) &&
		(f.OnBehalfOf == "" || e.OnBehalfOf == f.OnBehalfOf) &&
		(f.Party == "" || e.UserID == f.Party || e.OnBehalfOf == f.Party) &&
		(f.SessionID == "" || e.SessionID == f.SessionID) &&
		(f.AppID == "" || e.AppID == f.AppID) &&
		(f.Action == "" || e.Action == f.Action) &&
		(f.Actor == "" || e.Actor == f.Actor) &&
		(f.Since.IsZero() || !e.Time.Before(f.Since)) &&
		(f.Until.IsZero() || e.Time.Before(f.Until))
}

// List returns the entries that match f, oldest first.
func (l *Log) List(ctx context.Context, f Filter) ([]Entry, error) {
	kvs, _, err := l.store.List(ctx, entryPrefix)
	if err != nil {
		return nil, err
	}
	out := []Entry{}
	for _, kv := range kvs {
		var e Entry
		if err := json.Unmarshal(kv.Value, &e); err != nil {
			return nil, fmt.Errorf("%w: entry %s is malformed", ErrTampered, kv.Key)
		}
		if f.match(e) {
			out = append(out, e)
			if f.Limit > 0 && len(out) == f.Limit {
				break
			}
		}
	}
	return out, nil
}

// Report is the outcome of a successful verification.
type Report struct {
	// Entries is the sequence number of the last entry (the number of
	// entries ever written).
	Entries int64  `json:"entries"`
	Head    string `json:"head"`
	// FirstSeq is the first entry still in the live store; Archived the
	// last entry of the last exported segment (0: none).
	FirstSeq int64 `json:"first_seq"`
	Archived int64 `json:"archived"`
}

// Verify walks the live log and checks the chain from the pruned marker
// (where exported entries left the store), the sealed head, and the last
// archived anchor against the live entry (or the pruned marker) it names.
//
// The reads are not one snapshot: when a check fails while the head or the
// pruned marker moved (an append or a prune on another node), it is run
// again, a few times.
func (l *Log) Verify(ctx context.Context) (Report, error) {
	var rep Report
	var err error
	for range 5 {
		_, pruneRev, perr := l.readPruned(ctx)
		_, headRev, herr := l.readHead(ctx)
		if perr != nil || herr != nil {
			return Report{}, errors.Join(perr, herr)
		}
		rep, err = l.verifyOnce(ctx)
		if !errors.Is(err, ErrTampered) {
			return rep, err
		}
		_, pruneNow, perr := l.readPruned(ctx)
		_, headNow, herr := l.readHead(ctx)
		if perr != nil || herr != nil || (pruneNow == pruneRev && headNow == headRev) {
			return rep, err
		}
	}
	return rep, err
}

func (l *Log) verifyOnce(ctx context.Context) (Report, error) {
	p, _, err := l.readPruned(ctx)
	if err != nil {
		return Report{}, err
	}
	last, _, err := l.lastAnchor(ctx)
	if err != nil {
		return Report{}, err
	}
	entries, err := l.List(ctx, Filter{})
	if err != nil {
		return Report{}, err
	}
	tail, err := VerifyChainFrom(p.Seq+1, p.Hash, entries)
	if err != nil {
		return Report{}, err
	}
	h, _, err := l.readHead(ctx)
	if err != nil {
		return Report{}, err
	}
	if h.Seq != p.Seq+int64(len(entries)) || h.Hash != tail {
		return Report{}, fmt.Errorf("%w: head names entry %d but the log ends at %d", ErrTampered, h.Seq, p.Seq+int64(len(entries)))
	}
	if h.Seq > 0 && !hmac.Equal([]byte(h.Seal), []byte(l.seal(h.Seq, h.Hash))) {
		return Report{}, fmt.Errorf("%w: head seal does not verify", ErrTampered)
	}
	switch {
	case last.LastSeq == 0:
		if p.Seq != 0 {
			return Report{}, fmt.Errorf("%w: entries up to %d were removed but none was archived", ErrTampered, p.Seq)
		}
	case last.LastSeq < p.Seq || last.LastSeq > h.Seq:
		return Report{}, fmt.Errorf("%w: the last anchor ends at %d, outside the log (%d..%d)", ErrTampered, last.LastSeq, p.Seq, h.Seq)
	case last.LastSeq == p.Seq:
		if last.Head != p.Hash {
			return Report{}, fmt.Errorf("%w: the last anchor's head is not the last removed entry's hash", ErrTampered)
		}
	default:
		if e := entries[last.LastSeq-p.Seq-1]; e.Hash != last.Head {
			return Report{}, fmt.Errorf("%w: entry %d is not the one the last anchor names", ErrTampered, e.Seq)
		}
	}
	return Report{Entries: h.Seq, Head: h.Hash, FirstSeq: p.Seq + 1, Archived: last.LastSeq}, nil
}

// VerifyChain checks that entries, oldest first, form an unbroken chain
// from the first entry: consecutive sequence numbers, each Prev the Hash of
// the one before, each Hash recomputed. It returns the last Hash. It needs
// no key, so anyone holding an export of the log can run it.
func VerifyChain(entries []Entry) (string, error) {
	return VerifyChainFrom(1, zeroHash, entries)
}

// ZeroHash is the Prev of the first entry.
const ZeroHash = "0000000000000000000000000000000000000000000000000000000000000000"

// VerifyChainFrom is VerifyChain for a part of the log: entries start at
// seq first, whose Prev must be prev (the hash of the entry before, from
// a segment's anchor or the pruned marker).
func VerifyChainFrom(first int64, prev string, entries []Entry) (string, error) {
	for i, e := range entries {
		if e.Seq != first+int64(i) {
			return "", fmt.Errorf("%w: entry %d found where %d was expected (removed or inserted entry)", ErrTampered, e.Seq, first+int64(i))
		}
		if e.Prev != prev {
			return "", fmt.Errorf("%w: entry %d does not follow entry %d", ErrTampered, e.Seq, e.Seq-1)
		}
		h, err := chainHash(e)
		if err != nil {
			return "", err
		}
		if err := checkSubject(e); err != nil {
			return "", err
		}
		if h != e.Hash {
			return "", fmt.Errorf("%w: entry %d has been changed", ErrTampered, e.Seq)
		}
		prev = e.Hash
	}
	return prev, nil
}
