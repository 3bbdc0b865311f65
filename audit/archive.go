package audit

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/emmansun/gmsm/sm3"

	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/storage"
)

// Archiving. The log is exported in segments: Segment reads the entries
// after the last exported one and anchors them (first and last seq, the
// prev hash going in, the head hash coming out, sealed with HMAC-SM3 under
// a key derived from the master key). The caller stores the segment file
// and only then hands the anchor back to Archive, which records it; Prune
// removes from the live store only entries that an archived anchor covers
// and that are older than the retention, and records where the live log
// now starts (the pruned marker, sealed too). Verify checks the live log
// from that marker; VerifySegments checks segment files without any key.
//
// Why a MAC and not a signature: the gateway holds no signing key of its
// own, only the master key (which already seals the head). An anchor is
// checked against the list the gateway keeps (Archive answers it), which
// needs no key at all; the seal stops anyone but the gateway from adding
// an anchor to that list through the store.
//
// Storage: "audit/anchors/%016d" (by last seq) per accepted anchor,
// "audit/archive" naming the last anchor (ordering guard), and
// "audit/pruned" the pruned marker.
const (
	anchorPrefix = "audit/anchors/"
	archiveKey   = "audit/archive"
	prunedKey    = "audit/pruned"
)

// Segment and Anchor are the wire types (protocol); Archive is the list of
// anchors with the pruned marker.
type (
	Segment = protocol.AuditSegment
	Anchor  = protocol.AuditAnchor
	Archive = protocol.AuditArchive
)

// pruneBatch bounds the entries one Prune transaction removes.
const pruneBatch = 100

// MaxSegmentEntries bounds the entries of one segment.
const MaxSegmentEntries = 100_000

// pruned is the stored pruned marker.
type pruned struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
	Seal string `json:"seal"`
}

func anchorKey(last int64) string { return fmt.Sprintf("%s%016d", anchorPrefix, last) }

func (l *Log) anchorSeal(a Anchor) string {
	m := hmac.New(sm3.New, l.sealKey)
	m.Write([]byte("anchor:" + strconv.FormatInt(a.FirstSeq, 10) + ":" + strconv.FormatInt(a.LastSeq, 10) + ":" +
		a.Prev + ":" + a.Head + ":" + a.ExportedAt.UTC().Format(time.RFC3339Nano)))
	return fmt.Sprintf("%x", m.Sum(nil))
}

func (l *Log) prunedSeal(seq int64, hash string) string {
	return l.seal(seq, "pruned:"+hash)
}

// lastAnchor returns the last archived anchor (zero LastSeq and the zero
// hash when nothing is archived) with the revision of "audit/archive".
func (l *Log) lastAnchor(ctx context.Context) (Anchor, int64, error) {
	kv, err := l.store.Get(ctx, archiveKey)
	if errors.Is(err, storage.ErrNotFound) {
		return Anchor{Head: zeroHash}, 0, nil
	}
	if err != nil {
		return Anchor{}, 0, err
	}
	var a Anchor
	if err := json.Unmarshal(kv.Value, &a); err != nil || !hmac.Equal([]byte(a.Seal), []byte(l.anchorSeal(a))) {
		return Anchor{}, 0, fmt.Errorf("%w: the archive record is malformed or its seal does not verify", ErrTampered)
	}
	return a, kv.Revision, nil
}

// readPruned returns the pruned marker (seq 0 and the zero hash when no
// entry was removed) with its revision.
func (l *Log) readPruned(ctx context.Context) (pruned, int64, error) {
	kv, err := l.store.Get(ctx, prunedKey)
	if errors.Is(err, storage.ErrNotFound) {
		return pruned{Hash: zeroHash}, 0, nil
	}
	if err != nil {
		return pruned{}, 0, err
	}
	var p pruned
	if err := json.Unmarshal(kv.Value, &p); err != nil || !hmac.Equal([]byte(p.Seal), []byte(l.prunedSeal(p.Seq, p.Hash))) {
		return pruned{}, 0, fmt.Errorf("%w: the pruned marker is malformed or its seal does not verify", ErrTampered)
	}
	return p, kv.Revision, nil
}

// Segment returns the next segment to export: at most max entries (1 to
// MaxSegmentEntries) after the last archived anchor, chained and anchored.
// Nothing is recorded: hand the anchor to Archive once the segment is
// stored. ErrNothingToExport when no entry follows the last anchor, or
// only entries of ActionArchive (the recording of the last segments
// itself: they go with the next segment that holds anything else, so that
// "export until there is nothing to export" ends).
func (l *Log) Segment(ctx context.Context, max int) (Segment, error) {
	if max < 1 || max > MaxSegmentEntries {
		return Segment{}, fmt.Errorf("%w: a segment holds 1 to %d entries", ErrInvalidEntry, MaxSegmentEntries)
	}
	last, _, err := l.lastAnchor(ctx)
	if err != nil {
		return Segment{}, err
	}
	entries, err := l.List(ctx, Filter{AfterSeq: last.LastSeq, Limit: max})
	if err != nil {
		return Segment{}, err
	}
	if onlyArchiveEntries(entries) {
		// Nothing but the recording of earlier segments, unless more
		// entries follow beyond max.
		if len(entries) < max {
			return Segment{}, ErrNothingToExport
		}
		more, err := l.List(ctx, Filter{AfterSeq: entries[len(entries)-1].Seq, Limit: 1})
		if err != nil {
			return Segment{}, err
		}
		if len(more) == 0 {
			return Segment{}, ErrNothingToExport
		}
	}
	head, err := VerifyChainFrom(last.LastSeq+1, last.Head, entries)
	if err != nil {
		return Segment{}, err
	}
	a := Anchor{
		FirstSeq: last.LastSeq + 1, LastSeq: entries[len(entries)-1].Seq,
		Prev: last.Head, Head: head, ExportedAt: l.now().UTC(),
	}
	a.Seal = l.anchorSeal(a)
	return Segment{Format: protocol.AuditSegmentFormat, Anchor: a, Entries: entries}, nil
}

// Archive records anchor a (made by Segment) as exported: from now on
// Prune may remove its entries once they are older than the retention.
// Recording the same anchor again is not an error (and commits nothing).
// ErrAnchor when a is not one of this gateway's anchors or does not follow
// the last one. An action entry in ctx (WithAction) commits with the
// anchor; it gets the Anchor as its result.
func (l *Log) Archive(ctx context.Context, a Anchor) (Archive, error) {
	if !hmac.Equal([]byte(a.Seal), []byte(l.anchorSeal(a))) || a.FirstSeq < 1 || a.LastSeq < a.FirstSeq {
		return Archive{}, fmt.Errorf("%w: its seal does not verify", ErrAnchor)
	}
	for range maxHeadRetries {
		last, rev, err := l.lastAnchor(ctx)
		if err != nil {
			return Archive{}, err
		}
		if a.LastSeq <= last.LastSeq {
			kv, err := l.store.Get(ctx, anchorKey(a.LastSeq))
			var have Anchor
			if err == nil && json.Unmarshal(kv.Value, &have) == nil && have.Seal == a.Seal {
				return l.Archived(ctx) // recorded before
			}
			return Archive{}, fmt.Errorf("%w: entries up to %d are archived already", ErrAnchor, last.LastSeq)
		}
		if a.FirstSeq != last.LastSeq+1 || a.Prev != last.Head {
			return Archive{}, fmt.Errorf("%w: it starts at %d but the archive ends at %d", ErrAnchor, a.FirstSeq, last.LastSeq)
		}
		b, err := json.Marshal(a)
		if err != nil {
			return Archive{}, err
		}
		// With ctx's action (WithAction), the entry that says who recorded
		// the segment commits with it.
		_, err = Commit(ctx, l.store, []storage.Op{
			storage.IfRevision(archiveKey, rev), storage.IfAbsent(anchorKey(a.LastSeq)),
			storage.Put(anchorKey(a.LastSeq), b, 0), storage.Put(archiveKey, b, 0)}, a)
		if errors.Is(err, storage.ErrConflict) {
			continue
		}
		if err != nil {
			return Archive{}, err
		}
		return l.Archived(ctx)
	}
	return Archive{}, fmt.Errorf("audit: the archive kept moving: %w", storage.ErrConflict)
}

// ActionArchive is the action of the entry that records who archived a
// segment (the operator API's POST /v1/admin/audit/archive, with
// WithAction around Archive).
const ActionArchive = "audit.archive"

// onlyArchiveEntries reports whether entries holds nothing but
// ActionArchive entries (or nothing at all).
func onlyArchiveEntries(entries []Entry) bool {
	for _, e := range entries {
		if e.Action != ActionArchive {
			return false
		}
	}
	return true
}

// Archived returns every recorded anchor, oldest first, and the pruned
// marker.
func (l *Log) Archived(ctx context.Context) (Archive, error) {
	kvs, _, err := l.store.List(ctx, anchorPrefix)
	if err != nil {
		return Archive{}, err
	}
	out := Archive{Anchors: []Anchor{}}
	for _, kv := range kvs {
		var a Anchor
		if err := json.Unmarshal(kv.Value, &a); err != nil || !hmac.Equal([]byte(a.Seal), []byte(l.anchorSeal(a))) {
			return Archive{}, fmt.Errorf("%w: anchor %s is malformed or its seal does not verify", ErrTampered, kv.Key)
		}
		out.Anchors = append(out.Anchors, a)
	}
	p, _, err := l.readPruned(ctx)
	if err != nil {
		return Archive{}, err
	}
	out.PrunedSeq, out.PrunedHash = p.Seq, p.Hash
	return out, nil
}

// Prune removes from the live store at most max entries (in transactions
// of pruneBatch) that an archived anchor covers and that were written
// before olderThan, oldest first, and returns how many it removed. An
// entry not yet archived is never removed, whatever its age.
func (l *Log) Prune(ctx context.Context, olderThan time.Time, max int) (int, error) {
	removed := 0
	for removed < max {
		n, err := l.pruneOnce(ctx, olderThan, min(pruneBatch, max-removed))
		removed += n
		if err != nil || n == 0 {
			return removed, err
		}
	}
	return removed, nil
}

func (l *Log) pruneOnce(ctx context.Context, olderThan time.Time, n int) (int, error) {
	last, arev, err := l.lastAnchor(ctx)
	if err != nil || last.LastSeq == 0 {
		return 0, err
	}
	p, prev, err := l.readPruned(ctx)
	if err != nil || p.Seq >= last.LastSeq {
		return 0, err
	}
	entries, err := l.List(ctx, Filter{AfterSeq: p.Seq, Limit: n})
	if err != nil {
		return 0, err
	}
	ops := []storage.Op{storage.IfRevision(archiveKey, arev), storage.IfRevision(prunedKey, prev)}
	seq, hash := p.Seq, p.Hash
	for _, e := range entries {
		if e.Seq != seq+1 || e.Prev != hash {
			// Another node may have pruned between the two reads.
			if _, now, err := l.readPruned(ctx); err == nil && now != prev {
				return 0, nil
			}
			return 0, fmt.Errorf("%w: entry %d does not follow the pruned entry %d", ErrTampered, e.Seq, seq)
		}
		if e.Seq > last.LastSeq || !e.Time.Before(olderThan) {
			break
		}
		ops = append(ops, storage.Delete(entryKey(e.Seq)))
		seq, hash = e.Seq, e.Hash
	}
	if seq == p.Seq {
		return 0, nil
	}
	b, err := json.Marshal(pruned{Seq: seq, Hash: hash, Seal: l.prunedSeal(seq, hash)})
	if err != nil {
		return 0, err
	}
	ops = append(ops, storage.Put(prunedKey, b, 0))
	if _, err := l.store.Txn(ctx, ops...); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return 0, nil // another node pruned or archived meanwhile; the next run goes on
		}
		return 0, err
	}
	return int(seq - p.Seq), nil
}

// VerifySegments checks segment files without any key: each segment's
// entries chain from its anchor's Prev to its Head, with consecutive
// sequence numbers, and each segment follows the one before (sorted by
// first seq). It returns the anchors in order.
func VerifySegments(segs []Segment) ([]Anchor, error) {
	sorted := append([]Segment(nil), segs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Anchor.FirstSeq < sorted[j].Anchor.FirstSeq })
	out := make([]Anchor, 0, len(sorted))
	for i, s := range sorted {
		a := s.Anchor
		if s.Format != protocol.AuditSegmentFormat {
			return nil, fmt.Errorf("%w: segment %d..%d: format %q is not %q", ErrTampered, a.FirstSeq, a.LastSeq, s.Format, protocol.AuditSegmentFormat)
		}
		if a.FirstSeq < 1 || a.LastSeq < a.FirstSeq || int64(len(s.Entries)) != a.LastSeq-a.FirstSeq+1 {
			return nil, fmt.Errorf("%w: segment %d..%d holds %d entries", ErrTampered, a.FirstSeq, a.LastSeq, len(s.Entries))
		}
		if i == 0 && a.FirstSeq == 1 && a.Prev != zeroHash {
			return nil, fmt.Errorf("%w: the first segment does not start the chain", ErrTampered)
		}
		if i > 0 {
			b := sorted[i-1].Anchor
			if a.FirstSeq != b.LastSeq+1 || a.Prev != b.Head {
				return nil, fmt.Errorf("%w: segment %d..%d does not follow segment %d..%d (missing or changed segment)", ErrTampered, a.FirstSeq, a.LastSeq, b.FirstSeq, b.LastSeq)
			}
		}
		head, err := VerifyChainFrom(a.FirstSeq, a.Prev, s.Entries)
		if err != nil {
			return nil, fmt.Errorf("segment %d..%d: %w", a.FirstSeq, a.LastSeq, err)
		}
		if head != a.Head {
			return nil, fmt.Errorf("%w: segment %d..%d ends in %s, its anchor says %s", ErrTampered, a.FirstSeq, a.LastSeq, head, a.Head)
		}
		out = append(out, a)
	}
	return out, nil
}

// Backlog returns how many entries follow the last archived anchor (not
// yet in a recorded segment, so they cannot leave the live store) and when
// that anchor's segment was exported (the zero time when nothing was ever
// archived). It reads the head and the archive record, for monitoring.
func (l *Log) Backlog(ctx context.Context) (int64, time.Time, error) {
	h, _, err := l.readHead(ctx)
	if err != nil {
		return 0, time.Time{}, err
	}
	a, _, err := l.lastAnchor(ctx)
	if err != nil {
		return 0, time.Time{}, err
	}
	return max(h.Seq-a.LastSeq, 0), a.ExportedAt, nil
}

// OldestUnarchived returns when the oldest entry the next export would
// take was written: the first entry after the last archived anchor that
// is not the recording of an archive (those wait for the next segment
// that holds anything else, Segment). The zero time when there is none.
// It reads the head, the archive record and the few entries that follow
// the anchor, for monitoring.
func (l *Log) OldestUnarchived(ctx context.Context) (time.Time, error) {
	h, _, err := l.readHead(ctx)
	if err != nil {
		return time.Time{}, err
	}
	a, _, err := l.lastAnchor(ctx)
	if err != nil {
		return time.Time{}, err
	}
	for seq := a.LastSeq + 1; seq <= h.Seq; seq++ {
		kv, err := l.store.Get(ctx, entryKey(seq))
		if err != nil {
			return time.Time{}, err
		}
		var e Entry
		if err := json.Unmarshal(kv.Value, &e); err != nil {
			return time.Time{}, fmt.Errorf("%w: entry %s is malformed", ErrTampered, kv.Key)
		}
		if e.Action != ActionArchive {
			return e.Time, nil
		}
	}
	return time.Time{}, nil
}
