package session

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// encodeRecords are records to encode: a fresh login, a scanned sign
// session with documents, HTML characters and a claim, and one that holds
// a result (which the stored record leaves out).
func encodeRecords() []record {
	at := time.Date(2026, 12, 6, 0, 20, 0, 123456789, time.FixedZone("CST", 8*3600))
	fresh := record{Session: Session{ID: "s_fresh", Kind: KindLogin, State: StateWaiting, AppID: "app_1", Origin: "https://portal.example",
		CreatedAt: at, ExpiresAt: at.Add(2 * time.Minute), Code: "42", Seq: 1}, Nonce: "n1", WatchTokenHash: []byte{1, 2, 3}}
	sign := fresh
	sign.ID, sign.Kind, sign.State, sign.Seq = "s_sign", KindSign, StateScanned, 2
	sign.Request = Request{Documents: []Document{{Name: "合同<1>.pdf", Data: []byte("%PDF-1.7 & more")}, {Name: "b.txt", Data: []byte("b")}},
		Format: FormatRaw, Ciphertext: []byte{9, 9, 9}}
	sign.DeviceID, sign.UserID = "dev_1", "usr_1"
	sign.CodeChoices = [3]string{"12", "42", "77"}
	sign.ClaimID, sign.ClaimUntil = "claim_1", at.Add(time.Minute)
	done := sign
	done.ID, done.State, done.Result = "s_done", StateCompleted, json.RawMessage(`{"signature":"AAEC"}`)
	return []record{fresh, sign, done}
}

// encodeRecord writes, without copying the record, the bytes the stored
// form of a copy of it without its result gives; jsonSize counts
// json.Marshal's bytes.
func TestEncodeRecordWithoutCopy(t *testing.T) {
	var s Service
	var shared bytes.Buffer // reused from record to record, as writeBufs are
	for _, r := range encodeRecords() {
		before := r
		want := storedRecord{record: r}
		want.Result = nil
		wantJSON, err := json.Marshal(&want)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.encodeRecord(&r, nil)
		if err != nil || string(got) != string(wantJSON) {
			t.Fatalf("%s: encodeRecord = %s, %v\nwant %s", r.ID, got, err, wantJSON)
		}
		if got, err := s.encodeRecord(&r, &shared); err != nil || string(got) != string(wantJSON) {
			t.Fatalf("%s: encodeRecord into a used buffer = %s, %v\nwant %s", r.ID, got, err, wantJSON)
		}
		if n, err := jsonSize(storedForm(&r)); err != nil || n != len(wantJSON) {
			t.Fatalf("%s: jsonSize = %d, %v; want %d", r.ID, n, err, len(wantJSON))
		}
		if !reflect.DeepEqual(r, before) {
			t.Fatalf("%s: encoding changed the record", r.ID)
		}
	}
	for _, v := range []any{"<&>", 12, nil, []byte{0, 1}, time.Unix(0, 5).UTC(), map[string]any{"a": []int{1}}} {
		b, _ := json.Marshal(v)
		if n, err := jsonSize(v); err != nil || n != len(b) {
			t.Fatalf("jsonSize(%v) = %d, %v; want %d", v, n, err, len(b))
		}
	}
}

// completionSize is the size of the completion's record and event as
// encoded (with the result's sealed base64 in place of the placeholder),
// and leaves the record it measures as it was (it trims a copy).
func TestCompletionSizeExact(t *testing.T) {
	s := Service{sealOverhead: 29}
	now := time.Date(2026, 12, 6, 0, 30, 0, 0, time.UTC)
	for _, r := range encodeRecords() {
		before := r
		before.Request.Documents = append([]Document(nil), r.Request.Documents...)
		const resultLen = 1000
		got, err := s.completionSize(context.Background(), &r, resultLen, now)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(r, before) {
			t.Fatalf("%s: completionSize changed the record:\n%+v\nwas\n%+v", r.ID, r, before)
		}
		c := r
		c.Result = nil
		c.Session = *r.Session.clone()
		c.State, c.Seq, c.EndedAt = StateCompleted, r.Seq+1, now
		c.trim()
		c.ClaimID, c.ClaimUntil = "", time.Time{}
		val, err := s.encodeRecord(&c, nil)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := json.Marshal(&storedEvent{Event: Event{Seq: c.Seq, Type: EventTypeState, State: StateCompleted, At: now},
			SealedResult: make([]byte, resultLen+s.sealOverhead)})
		if err != nil {
			t.Fatal(err)
		}
		if want := len(val) + len(ev); got != want {
			t.Fatalf("%s: completionSize = %d, the encoded completion %d", r.ID, got, want)
		}
	}
}

// writeBufs.reset (before a put back into the pool) clears what the
// buffers held (a record's QR nonce), wherever in their capacity it was; a
// buffer over maxPooledWrite is let go instead.
func TestWriteBufsResetClears(t *testing.T) {
	for _, tc := range []struct {
		name    string
		size    int // of the value encoded
		pooled  bool
		encodes int
	}{
		{"small", 100, true, 1},
		{"after a longer one", 100, true, 2},
		{"over the bound", maxPooledWrite + 1, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &writeBufs{}
			secret := "nonce-" + string(bytes.Repeat([]byte{'s'}, tc.size))
			for i := range tc.encodes {
				v := map[string]string{"nonce": secret[:len(secret)-i*10]}
				if _, err := encodeInto(&w.rec, v); err != nil {
					t.Fatal(err)
				}
				if _, err := encodeInto(&w.ev, v); err != nil {
					t.Fatal(err)
				}
			}
			rec, ev := w.rec.Bytes()[:w.rec.Cap()], w.ev.Bytes()[:w.ev.Cap()]
			w.reset()
			if tc.pooled {
				if bytes.Contains(rec, []byte("nonce-")) || bytes.Contains(ev, []byte("nonce-")) {
					t.Fatal("a pooled buffer still holds what was encoded")
				}
			}
			if got := w.rec.Cap() > 0; got != tc.pooled {
				t.Fatalf("buffer kept: %v, want %v", got, tc.pooled)
			}
		})
	}
}
