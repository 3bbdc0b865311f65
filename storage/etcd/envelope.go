package etcd

import (
	"encoding/binary"
	"errors"
	"time"
)

// A value is stored as: 1 byte version (envelopeVersion), 8 bytes expiry in
// Unix nanoseconds big-endian (0: none), then the value.
const (
	envelopeVersion    = 1
	envelopeHeaderSize = 9
)

var errBadEnvelope = errors.New("etcd: malformed value envelope")

func encodeValue(value []byte, expiresAt int64) string {
	b := make([]byte, envelopeHeaderSize+len(value))
	b[0] = envelopeVersion
	binary.BigEndian.PutUint64(b[1:9], uint64(expiresAt))
	copy(b[envelopeHeaderSize:], value)
	return string(b)
}

// decodeValue returns the value (a copy) and expiry (0: none) of a stored value.
func decodeValue(b []byte) ([]byte, int64, error) {
	if len(b) < envelopeHeaderSize || b[0] != envelopeVersion {
		return nil, 0, errBadEnvelope
	}
	exp := int64(binary.BigEndian.Uint64(b[1:9]))
	if exp < 0 {
		return nil, 0, errBadEnvelope
	}
	return append([]byte{}, b[envelopeHeaderSize:]...), exp, nil
}

func expiryTime(exp int64) time.Time {
	if exp == 0 {
		return time.Time{}
	}
	return time.Unix(0, exp)
}
