package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

// FuzzVerifySegments: segment files (what `ukeygate audit verify` reads,
// as a JSON list) are refused or accepted without panicking; what is
// accepted gives one anchor per segment, and is accepted again with the
// same anchors after a JSON round trip (the check depends on nothing but
// the files). Seeds: two consecutive segments exported from a real log,
// each alone, the two swapped, and one with an entry changed.
func FuzzVerifySegments(f *testing.F) {
	ctx := context.Background()
	l, err := audit.New(storagetest.MustOpen(f), master, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { l.Close() })
	for i, a := range []string{"user.add", "sign", "decrypt", "login", "issuer.add", "sign"} {
		if _, err := l.Append(ctx, audit.Entry{Action: a, Actor: "admin", UserID: "usr_" + string(rune('a'+i)), Outcome: audit.OutcomeOK}); err != nil {
			f.Fatal(err)
		}
	}
	var segs []audit.Segment
	for range 2 {
		seg, err := l.Segment(ctx, 3)
		if err != nil {
			f.Fatal(err)
		}
		if _, err := l.Archive(ctx, seg.Anchor); err != nil {
			f.Fatal(err)
		}
		segs = append(segs, seg)
	}
	if _, err := audit.VerifySegments(segs); err != nil {
		f.Fatalf("the exported segments do not verify: %v", err)
	}
	enc := func(s ...audit.Segment) []byte {
		b, err := json.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	both := enc(segs...)
	f.Add(both)
	f.Add(enc(segs[0]))
	f.Add(enc(segs[1]))
	f.Add(enc(segs[1], segs[0]))
	f.Add(bytes.Replace(both, []byte(`"decrypt"`), []byte(`"encrypt"`), 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		var in []audit.Segment
		if json.Unmarshal(data, &in) != nil {
			return
		}
		anchors, err := audit.VerifySegments(in)
		if err != nil {
			return
		}
		if len(anchors) != len(in) {
			t.Fatalf("%d anchors for %d segments", len(anchors), len(in))
		}
		b, _ := json.Marshal(in)
		var again []audit.Segment
		if err := json.Unmarshal(b, &again); err != nil {
			t.Fatal(err)
		}
		if a2, err := audit.VerifySegments(again); err != nil || !slices.Equal(a2, anchors) {
			t.Fatalf("accepted once, then %v (%v vs %v)", err, a2, anchors)
		}
	})
}
