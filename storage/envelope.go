package storage

import (
	"encoding/binary"
	"errors"
	"time"
)

// The bbolt store keeps each value in an envelope:
//
//	offset 0      1 byte   format version, envelopeVersion
//	offset 1      8 bytes  revision of the key's last write, big-endian int64 (> 0)
//	offset 9      8 bytes  expiry as Unix nanoseconds, big-endian int64 (0: none)
//	offset 17     rest     the value
const (
	envelopeVersion    = 1
	envelopeHeaderSize = 1 + 8 + 8
)

// errBadEnvelope is returned by decodeEnvelope for any malformed input; the
// bbolt store wraps it with ErrUnavailable (the data file is damaged).
var errBadEnvelope = errors.New("storage: malformed value envelope")

// envelope is one stored value with its metadata.
type envelope struct {
	revision  int64
	expiresAt int64 // Unix nanoseconds, 0 for no expiry
	value     []byte
}

// encodeEnvelope returns the stored form of e.
func encodeEnvelope(e envelope) []byte {
	b := make([]byte, envelopeHeaderSize+len(e.value))
	b[0] = envelopeVersion
	binary.BigEndian.PutUint64(b[1:9], uint64(e.revision))
	binary.BigEndian.PutUint64(b[9:17], uint64(e.expiresAt))
	copy(b[envelopeHeaderSize:], e.value)
	return b
}

// decodeEnvelope parses a stored value. The returned value aliases b; copy
// it before b's memory goes away (bbolt memory is valid only inside its tx).
func decodeEnvelope(b []byte) (envelope, error) {
	if len(b) < envelopeHeaderSize || b[0] != envelopeVersion {
		return envelope{}, errBadEnvelope
	}
	e := envelope{
		revision:  int64(binary.BigEndian.Uint64(b[1:9])),
		expiresAt: int64(binary.BigEndian.Uint64(b[9:17])),
		value:     b[envelopeHeaderSize:],
	}
	if e.revision <= 0 || e.expiresAt < 0 {
		return envelope{}, errBadEnvelope
	}
	return e, nil
}

// expired reports whether the envelope's TTL has passed at now (Unix nanoseconds).
func (e envelope) expired(now int64) bool {
	return e.expiresAt != 0 && now >= e.expiresAt
}

// kv converts the envelope to a KV, copying the value out of bbolt memory.
func (e envelope) kv(key string) KV {
	kv := KV{Key: key, Value: append([]byte{}, e.value...), Revision: e.revision}
	if e.expiresAt != 0 {
		kv.ExpiresAt = time.Unix(0, e.expiresAt)
	}
	return kv
}
