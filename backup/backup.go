package backup

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm3"

	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/vault"
)

// Format is the format name of the first line.
const Format = "ukeygate-backup-1"

// maxLine bounds one line of a backup file: the largest value in base64
// plus the key and the JSON around them.
const maxLine = storage.MaxValueLen/3*4 + storage.MaxKeyLen + 4096

// Header is the first line of a backup file.
type Header struct {
	Format    string    `json:"format"`
	StoreID   string    `json:"store_id"`
	KeyID     string    `json:"key_id"`
	Backend   string    `json:"backend"`
	Revision  int64     `json:"revision"`
	CreatedAt time.Time `json:"created_at"`
}

type record struct {
	Key     string     `json:"k"`
	Value   []byte     `json:"v"`
	Expires *time.Time `json:"exp,omitempty"`
}

type trailer struct {
	End     bool   `json:"end"`
	Records int    `json:"records"`
	SM3     string `json:"sm3"`
}

// Summary describes a complete backup file.
type Summary struct {
	Header
	Records int
	SM3     string
	// Expired (Restore) counts the records not written because their TTL
	// had passed.
	Expired int
}

// RestoreOptions change what RestoreWith does.
type RestoreOptions struct {
	// Finish, when set, runs once every record is written, while the
	// store is still marked as being restored (vault.RestoringKey): the
	// place for the restore's own last writes, its audit entry
	// (vault.RecordRestore). An error fails the restore and leaves the
	// marker, so that the store is never served without them.
	Finish func(ctx context.Context, dst storage.Store, sum Summary) error
}

// RestoreDetail is the detail of a restore's audit entry: the backup
// (store, time, revision, checksum), the keys it held and how many had
// expired, and who ran the restore as far as the caller knows (by;
// "alice@host", left out when empty).
func RestoreDetail(sum Summary, by string) string {
	d := fmt.Sprintf("store=%s backup_created=%s revision=%d keys=%d expired=%d sm3=%s",
		sum.StoreID, sum.CreatedAt.UTC().Format(time.RFC3339), sum.Revision, sum.Records, sum.Expired, sum.SM3)
	if by != "" {
		d += " by=" + by
	}
	return d
}

// skip reports keys a backup leaves out: none of the data, only what is
// not a storage key at all (a backend's own markers).
func skip(key string) bool { return storage.ValidateKey(key) != nil }

// Write writes a backup of src to w: every live key at one store revision,
// values as stored. backend names src's backend in the header. If Write
// fails, what it wrote has no end line and Verify refuses it.
func Write(ctx context.Context, w io.Writer, src storage.Store, backend string) (Summary, error) {
	info, err := vault.ReadInfo(ctx, src)
	if err != nil {
		return Summary{}, fmt.Errorf("backup: reading the store's keyring: %w", err)
	}
	if info.State != "" {
		return Summary{}, fmt.Errorf("backup: the store's keyring is in state %q: finish it first", info.State)
	}
	// List reads at one revision (one bbolt read transaction, one etcd
	// range read), so the copy is consistent.
	kvs, rev, err := src.List(ctx, "")
	if err != nil {
		return Summary{}, fmt.Errorf("backup: reading the store: %w", err)
	}
	h := sm3.New()
	bw := bufio.NewWriterSize(io.MultiWriter(w, h), 256<<10)
	enc := json.NewEncoder(bw)
	sum := Summary{Header: Header{Format: Format, StoreID: info.StoreID, KeyID: info.KeyID, Backend: backend,
		Revision: rev, CreatedAt: time.Now().UTC().Truncate(time.Second)}}
	if err := enc.Encode(sum.Header); err != nil {
		return Summary{}, err
	}
	for _, kv := range kvs {
		if skip(kv.Key) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return Summary{}, err
		}
		rec := record{Key: kv.Key, Value: kv.Value}
		if !kv.ExpiresAt.IsZero() {
			exp := kv.ExpiresAt.UTC()
			rec.Expires = &exp
		}
		if err := enc.Encode(rec); err != nil {
			return Summary{}, err
		}
		sum.Records++
	}
	if err := bw.Flush(); err != nil {
		return Summary{}, err
	}
	sum.SM3 = hex.EncodeToString(h.Sum(nil))
	if err := json.NewEncoder(w).Encode(trailer{End: true, Records: sum.Records, SM3: sum.SM3}); err != nil {
		return Summary{}, err
	}
	return sum, nil
}

// reader walks a backup file line by line, hashing what it reads.
type reader struct {
	br   *bufio.Reader
	h    hash.Hash
	line int
}

func newReader(r io.Reader) *reader {
	return &reader{br: bufio.NewReaderSize(r, 256<<10), h: sm3.New()}
}

// next returns the next line (without its newline) and hashes it unless
// it is the end line, which it returns with end set.
func (r *reader) next() (line []byte, end *trailer, err error) {
	var buf bytes.Buffer
	for {
		chunk, err := r.br.ReadSlice('\n')
		buf.Write(chunk)
		if buf.Len() > maxLine {
			return nil, nil, fmt.Errorf("%w: line %d is too long", ErrFormat, r.line+1)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			return nil, nil, fmt.Errorf("%w: the file ends without its end line (truncated?)", ErrFormat)
		}
		if err != nil {
			return nil, nil, err
		}
		break
	}
	r.line++
	line = buf.Bytes()
	if bytes.HasPrefix(line, []byte(`{"end":`)) {
		var t trailer
		if err := strictDecode(line, &t); err != nil || !t.End {
			return nil, nil, fmt.Errorf("%w: line %d: bad end line", ErrFormat, r.line)
		}
		return nil, &t, nil
	}
	r.h.Write(line)
	return line, nil, nil
}

func strictDecode(line []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}

// scan reads a whole backup, calling each for every record, and checks the
// header, the keys (in increasing order, each once), the count and the
// checksum. each may be nil.
func scan(r io.Reader, each func(record) error) (Summary, error) {
	rd := newReader(r)
	line, end, err := rd.next()
	if err != nil {
		return Summary{}, err
	}
	var sum Summary
	if end != nil || strictDecode(line, &sum.Header) != nil || sum.Format != Format {
		return Summary{}, fmt.Errorf("%w: the first line is not a %s header", ErrFormat, Format)
	}
	if sum.StoreID == "" || sum.KeyID == "" {
		return Summary{}, fmt.Errorf("%w: the header has no store_id or key_id", ErrFormat)
	}
	var prev string
	for {
		line, end, err := rd.next()
		if err != nil {
			return Summary{}, err
		}
		if end != nil {
			sum.SM3 = hex.EncodeToString(rd.h.Sum(nil))
			if end.Records != sum.Records || !strings.EqualFold(end.SM3, sum.SM3) {
				return Summary{}, fmt.Errorf("%w: checksum or record count does not match (the file was changed or damaged)", ErrFormat)
			}
			if _, err := rd.br.ReadByte(); err != io.EOF {
				return Summary{}, fmt.Errorf("%w: data after the end line", ErrFormat)
			}
			return sum, nil
		}
		var rec record
		if err := strictDecode(line, &rec); err != nil {
			return Summary{}, fmt.Errorf("%w: line %d: %v", ErrFormat, rd.line, err)
		}
		if err := storage.ValidateKey(rec.Key); err != nil || len(rec.Value) > storage.MaxValueLen {
			return Summary{}, fmt.Errorf("%w: line %d: bad key or value", ErrFormat, rd.line)
		}
		// Write lists the store sorted by key: a key repeated (which
		// Restore could not write twice in one transaction) or out of
		// order is not its output.
		if sum.Records > 0 && rec.Key <= prev {
			return Summary{}, fmt.Errorf("%w: line %d: key %q repeated or out of order", ErrFormat, rd.line, rec.Key)
		}
		prev = rec.Key
		sum.Records++
		if each != nil {
			if err := each(rec); err != nil {
				return Summary{}, err
			}
		}
	}
}

// Verify reads a whole backup and checks that it is complete and intact.
func Verify(r io.Reader) (Summary, error) { return scan(r, nil) }

// Restore writes the backup read from r into dst, which must hold no key
// at all (ErrNotEmpty). Call Verify on the same file first: Restore checks
// again as it goes, but a damaged file is then found after some keys were
// written. While it writes, the key vault.RestoringKey marks the store
// (the server refuses to open it); it is deleted last. Keys whose TTL has
// passed are skipped; the others keep their expiry time.
func Restore(ctx context.Context, r io.Reader, dst storage.Store) (Summary, error) {
	return RestoreWith(ctx, r, dst, RestoreOptions{})
}

// RestoreWith is Restore with opts.Finish run before the marker is
// removed.
func RestoreWith(ctx context.Context, r io.Reader, dst storage.Store, opts RestoreOptions) (Summary, error) {
	kvs, _, err := dst.List(ctx, "")
	if err != nil {
		return Summary{}, err
	}
	for _, kv := range kvs {
		if !skip(kv.Key) {
			return Summary{}, fmt.Errorf("%w: it holds %s and more", ErrNotEmpty, kv.Key)
		}
	}
	if _, err := storage.Create(ctx, dst, vault.RestoringKey, []byte("restoring"), 0); err != nil {
		return Summary{}, fmt.Errorf("backup: marking the store: %w", err)
	}
	var ops []storage.Op
	expired := 0
	flush := func() error {
		if len(ops) == 0 {
			return nil
		}
		_, err := dst.Txn(ctx, ops...)
		ops = ops[:0]
		return err
	}
	sum, err := scan(r, func(rec record) error {
		if rec.Key == vault.RestoringKey {
			return nil
		}
		var ttl time.Duration
		if rec.Expires != nil {
			if ttl = time.Until(*rec.Expires); ttl <= 0 {
				expired++
				return nil
			}
		}
		ops = append(ops, storage.Put(rec.Key, rec.Value, ttl))
		if len(ops) == storage.MaxTxnOps {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return Summary{}, err
	}
	sum.Expired = expired
	if opts.Finish != nil {
		if err := opts.Finish(ctx, dst, sum); err != nil {
			return Summary{}, err
		}
	}
	if _, err := dst.Txn(ctx, storage.Delete(vault.RestoringKey)); err != nil {
		return Summary{}, err
	}
	return sum, nil
}
