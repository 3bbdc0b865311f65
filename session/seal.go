package session

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"

	"github.com/ukeygate/ukeygate/storage"
)

// ResultKeyPurpose is the gmcrypto.DeriveKey purpose of Config.ResultKey:
// gmcrypto.DeriveKey(master, ResultKeyPurpose, nil).
const ResultKeyPurpose = "session-result"

// A completed session's result (a signature, a login proof, a decrypted
// plaintext or content key) is never stored in clear, and stored only
// once: the completed event holds it sealed with gmcrypto.Wrap (SM4-GCM)
// under Config.ResultKey, with the session id and the completed event's
// Seq as associated data, in the field "result_sealed". It is opened when
// it is read (Events, Watch, Poll), so callers and the wire protocol see
// the plain result. A stored value with a clear "result", or a sealed one
// that does not open, is damaged (storage.ErrInvalid). Records written
// before the result moved out of them may still hold it sealed; it is
// opened the same way.

// resultAD binds a sealed result to its session and event.
func resultAD(id string, seq int64) []byte {
	return []byte("session-result/" + id + "/" + strconv.FormatInt(seq, 10))
}

func (s *Service) sealResult(id string, seq int64, result json.RawMessage) ([]byte, error) {
	sealed, err := s.results.Wrap(result, resultAD(id, seq))
	if err != nil {
		return nil, fmt.Errorf("session: seal the result of %s: %w", id, err)
	}
	return sealed, nil
}

func (s *Service) openResult(id string, seq int64, sealed []byte) (json.RawMessage, error) {
	pt, err := s.results.Unwrap(sealed, resultAD(id, seq))
	if err != nil || !json.Valid(pt) {
		return nil, fmt.Errorf("session: the result of %s (event %d) does not open: %w", id, seq, storage.ErrInvalid)
	}
	return pt, nil
}

// storedRecord is the stored form of a record (SealedResult only in
// records written by older versions).
type storedRecord struct {
	record
	SealedResult []byte `json:"result_sealed,omitempty"`
}

// storedEvent is the stored form of an Event: the result only sealed.
type storedEvent struct {
	Event
	SealedResult []byte `json:"result_sealed,omitempty"`
}

// storedRecordOf is storedRecord with the record by reference: the same
// JSON (encoding/json promotes the fields of an embedded pointer to a
// struct as those of an embedded struct) without a copy of the record.
type storedRecordOf struct {
	*record
	SealedResult []byte `json:"result_sealed,omitempty"`
}

// storedForm is what encodeRecord encodes for r: r itself when it holds no
// result, else a copy without it.
func storedForm(r *record) *storedRecordOf {
	if len(r.Result) > 0 {
		c := *r
		c.Result = nil
		r = &c
	}
	return &storedRecordOf{record: r}
}

// encodeRecord is the stored JSON of r, written into buf (nil: a new
// one; see writeBufs). The record never holds the result (the completed
// event does): r.Result is left out.
func (s *Service) encodeRecord(r *record, buf *bytes.Buffer) ([]byte, error) {
	val, err := encodeInto(buf, storedForm(r))
	if err != nil {
		return nil, fmt.Errorf("session: encode %s: %w", r.ID, err)
	}
	return val, nil
}

// encodeInto returns json.Marshal's bytes of v, written into buf (emptied
// first; nil: a new one) without a copy: they are buf's, valid until buf
// is written again.
func encodeInto(buf *bytes.Buffer, v any) ([]byte, error) {
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	buf.Reset()
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	b = b[:len(b)-1] // Encode ends the value with a newline
	return b[:len(b):len(b)], nil
}

// writeBufs hold the stored JSON of one write of a session: its record
// and its event. The values of a Txn are the caller's again once it
// returns (storage.Store's contract: the store below, the record cache's
// request memo, the vault and the audit log's batch keep copies, or
// nothing, past the call), so Create and change take writeBufs from a
// pool for the length of their store calls and put them back when they
// return, where every write encoded its record and event anew
// (TestWriteBufsReuse).
type writeBufs struct {
	rec, ev bytes.Buffer
}

var writeBufsPool = sync.Pool{New: func() any { return new(writeBufs) }}

// maxPooledWrite bounds the buffers kept in the pool (a completion with a
// large result is encoded in a buffer that is then dropped).
const maxPooledWrite = 64 << 10

func getWriteBufs() *writeBufs { return writeBufsPool.Get().(*writeBufs) }

// putWriteBufs pools w again, reset.
func putWriteBufs(w *writeBufs) {
	w.reset()
	writeBufsPool.Put(w)
}

// reset empties w's buffers and clears their bytes: a record holds the
// session's QR nonce and request, which a pooled buffer would otherwise
// keep in memory longer than the garbage of a write would stay. A buffer
// over maxPooledWrite is let go instead.
func (w *writeBufs) reset() {
	for _, b := range []*bytes.Buffer{&w.rec, &w.ev} {
		if b.Cap() > maxPooledWrite {
			*b = bytes.Buffer{}
			continue
		}
		b.Reset() // from the start: Bytes then spans the whole capacity
		clear(b.Bytes()[:b.Cap()])
	}
}

// byteCount is an io.Writer that only counts what is written.
type byteCount int

func (n *byteCount) Write(p []byte) (int, error) {
	*n += byteCount(len(p))
	return len(p), nil
}

// jsonSize is len(json.Marshal(v)), counted as it is encoded (the
// encoding is not kept).
func jsonSize(v any) (int, error) {
	var n byteCount
	if err := json.NewEncoder(&n).Encode(v); err != nil {
		return 0, err
	}
	return int(n) - 1, nil // Encode ends the value with a newline
}

// decodeRecord parses a stored record of session id and opens its result.
func (s *Service) decodeRecord(id string, val []byte) (*record, error) {
	sr, ok := s.recMemo.get(id, val)
	if !ok {
		if err := json.Unmarshal(val, &sr); err != nil || sr.ID != id || len(sr.Result) > 0 {
			return nil, fmt.Errorf("session: record %s is damaged: %w", id, storage.ErrInvalid)
		}
		s.recMemo.put(id, val, sr)
	}
	r := sr.record
	if len(sr.SealedResult) > 0 {
		res, err := s.openResult(id, r.Seq, sr.SealedResult)
		if err != nil {
			return nil, err
		}
		r.Result = res
	}
	return &r, nil
}

// encodeEvent is the stored JSON of event e of session id, its result
// sealed for (id, e.Seq), written into buf (nil: a new one; see
// writeBufs).
func (s *Service) encodeEvent(id string, e Event, buf *bytes.Buffer) ([]byte, error) {
	se := storedEvent{Event: e}
	if len(e.Result) > 0 {
		sealed, err := s.sealResult(id, e.Seq, e.Result)
		if err != nil {
			return nil, err
		}
		se.Result, se.SealedResult = nil, sealed
	}
	val, err := encodeInto(buf, &se)
	if err != nil {
		return nil, fmt.Errorf("session: encode event of %s: %w", id, err)
	}
	return val, nil
}

// decodeEvent parses the stored event under key of session id and opens
// its result; a value that is not the event of that key is damaged.
func (s *Service) decodeEvent(id, key string, val []byte) (Event, error) {
	var se storedEvent
	if err := json.Unmarshal(val, &se); err != nil || key != eventKey(id, se.Seq) || len(se.Result) > 0 {
		return Event{}, fmt.Errorf("session: event %s is damaged: %w", key, storage.ErrInvalid)
	}
	e := se.Event
	if len(se.SealedResult) > 0 {
		res, err := s.openResult(id, e.Seq, se.SealedResult)
		if err != nil {
			return Event{}, err
		}
		e.Result = res
	}
	return e, nil
}
