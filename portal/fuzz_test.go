package portal_test

import (
	"errors"
	"testing"

	"github.com/ukeygate/ukeygate/portal"
)

// FuzzParseLoginChallenge: any input parses or fails with
// ErrLoginChallenge, never panics, and a parsed challenge has the required
// fields.
func FuzzParseLoginChallenge(f *testing.F) {
	f.Add([]byte(`{"session":"S1","app":"a","origin":"https://x","nonce":"n","time":"2026-03-01T10:00:00Z"}`))
	f.Add([]byte(`{"session":"S1","app":"a","nonce":"n","time":1772359200}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := portal.ParseLoginChallenge(b)
		if err != nil {
			if !errors.Is(err, portal.ErrLoginChallenge) {
				t.Fatalf("error %v does not wrap ErrLoginChallenge", err)
			}
			return
		}
		if c.Session == "" || c.App == "" || c.Nonce == "" || c.Time.IsZero() {
			t.Fatalf("parsed an incomplete challenge: %+v", c)
		}
	})
}

// FuzzParseEvents: any message parses or fails with ErrProtocol; parsed
// events have positive, increasing seqs.
func FuzzParseEvents(f *testing.F) {
	f.Add([]byte(`{"seq":1,"type":"state","state":"waiting","at":"2026-03-01T10:00:00Z"}`))
	f.Add([]byte(`{"events":[{"seq":2,"type":"state","state":"scanned","at":"2026-03-01T10:00:01Z"}]}`))
	f.Add([]byte(`[{"seq":3,"type":"state","state":"completed","at":"2026-03-01T10:00:02Z","result":{"plaintext":"aGk="}}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		evs, err := portal.ParseEvents(b)
		if err != nil {
			if !errors.Is(err, portal.ErrProtocol) {
				t.Fatalf("error %v does not wrap ErrProtocol", err)
			}
			return
		}
		for i, e := range evs {
			if e.Seq <= 0 || (i > 0 && e.Seq <= evs[i-1].Seq) {
				t.Fatalf("bad seqs: %+v", evs)
			}
		}
	})
}
