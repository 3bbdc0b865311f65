package storage

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	tests := []envelope{
		{revision: 1, value: []byte{}},
		{revision: 1<<63 - 1, expiresAt: 1<<63 - 1, value: []byte("max")},
		{revision: 42, expiresAt: time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC).UnixNano(), value: bytes.Repeat([]byte{0, 0xff}, 1000)},
	}
	for _, e := range tests {
		b := encodeEnvelope(e)
		if len(b) != envelopeHeaderSize+len(e.value) {
			t.Fatalf("encoded length %d, want %d", len(b), envelopeHeaderSize+len(e.value))
		}
		got, err := decodeEnvelope(b)
		if err != nil {
			t.Fatalf("decode(encode(%+v)): %v", e, err)
		}
		if got.revision != e.revision || got.expiresAt != e.expiresAt || !bytes.Equal(got.value, e.value) {
			t.Fatalf("round trip: got %+v, want %+v", got, e)
		}
	}
}

func TestEnvelopeRejects(t *testing.T) {
	valid := encodeEnvelope(envelope{revision: 7, expiresAt: 9, value: []byte("v")})
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"header cut short", valid[:envelopeHeaderSize-1]},
		{"version 0", append([]byte{0}, valid[1:]...)},
		{"version 2", append([]byte{2}, valid[1:]...)},
		{"revision 0", encodeEnvelope(envelope{revision: 0, value: []byte("v")})},
		{"negative revision", encodeEnvelope(envelope{revision: -5})},
		{"negative expiry", encodeEnvelope(envelope{revision: 1, expiresAt: -1})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := decodeEnvelope(tc.b); !errors.Is(err, errBadEnvelope) {
				t.Fatalf("decode: %v, want errBadEnvelope", err)
			}
		})
	}
}

// FuzzDecodeEnvelope: any input either decodes to an envelope that encodes
// back to the very same bytes, or fails with errBadEnvelope; never a panic.
func FuzzDecodeEnvelope(f *testing.F) {
	f.Add(encodeEnvelope(envelope{revision: 1, value: []byte(`{"id":"u1"}`)}))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeEnvelope(b)
		if err != nil {
			if !errors.Is(err, errBadEnvelope) {
				t.Fatalf("error %v is not errBadEnvelope", err)
			}
			return
		}
		if e.revision <= 0 || e.expiresAt < 0 {
			t.Fatalf("accepted revision %d expiry %d", e.revision, e.expiresAt)
		}
		if again := encodeEnvelope(e); !bytes.Equal(again, b) {
			t.Fatalf("re-encoding changed the bytes:\n%x\n%x", b, again)
		}
		kv := e.kv("k")
		if (e.expiresAt == 0) != kv.ExpiresAt.IsZero() {
			t.Fatalf("expiry %d became ExpiresAt %v", e.expiresAt, kv.ExpiresAt)
		}
	})
}
