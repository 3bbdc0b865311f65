package session

import (
	"encoding/json"
	"fmt"
	"testing"
)

// The memo answers only for the exact bytes it decoded, hands out copies
// that share no document slice, and forgets the oldest record when full.
func TestRecordMemo(t *testing.T) {
	var m recordMemo
	sr := storedRecord{record: record{Session: Session{ID: "s1", Seq: 1,
		Request: Request{Documents: []Document{{Name: "a.pdf"}}}}}}
	val := []byte(`{"id":"s1","seq":1}`)
	m.put("s1", val, sr)

	got, ok := m.get("s1", val)
	if !ok || got.ID != "s1" || got.Seq != 1 || len(got.Request.Documents) != 1 {
		t.Fatalf("get = %+v, %v; want the record put", got.Session, ok)
	}
	got.Request.Documents[0].Name = "changed.pdf"
	again, _ := m.get("s1", val)
	if again.Request.Documents[0].Name != "a.pdf" {
		t.Fatalf("a change to a copy reached the memo: %q", again.Request.Documents[0].Name)
	}
	if _, ok := m.get("s1", []byte(`{"id":"s1","seq":2}`)); ok {
		t.Fatal("the memo answered for bytes it did not decode")
	}
	if _, ok := m.get("s2", val); ok {
		t.Fatal("the memo answered for another id")
	}
	m.put("big", make([]byte, memoMaxBytes+1), sr)
	if _, ok := m.get("big", make([]byte, memoMaxBytes+1)); ok {
		t.Fatal("a record over memoMaxBytes was kept")
	}
	for i := range memoEntries {
		m.put(fmt.Sprintf("f%d", i), val, sr)
	}
	if _, ok := m.get("s1", val); ok {
		t.Fatal("the oldest record was not forgotten after memoEntries more")
	}
	if _, ok := m.get(fmt.Sprintf("f%d", memoEntries-1), val); !ok {
		t.Fatal("the newest record is missing")
	}
	if len(m.byID) != memoEntries {
		t.Fatalf("%d ids kept, want %d", len(m.byID), memoEntries)
	}
}

// The placeholder is valid JSON of exactly the length asked (at least 2,
// as the string it replaced), including past the shared buffer.
func TestPlaceholderResult(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 100, placeholderMax, placeholderMax + 1} {
		p := placeholderResult(n)
		if want := max(n, 2); len(p) != want {
			t.Fatalf("placeholderResult(%d): %d bytes, want %d", n, len(p), want)
		}
		if !json.Valid(p) {
			t.Fatalf("placeholderResult(%d) is not JSON", n)
		}
		b, err := json.Marshal(struct {
			R json.RawMessage `json:"r"`
		}{p})
		if err != nil || len(b) != len(`{"r":}`)+len(p) {
			t.Fatalf("placeholderResult(%d) embeds as %d bytes (%v)", n, len(b), err)
		}
	}
}
