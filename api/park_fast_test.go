package api

import (
	"bytes"
	"strconv"
	"testing"
	"time"
)

func TestAfterSpanAndMatch(t *testing.T) {
	const tail = " HTTP/1.1\r\nHost: h\r\n\r\n"
	for _, tc := range []struct {
		name, req string
		ok        bool
		after     string // the digits afterSpan finds
	}{
		{"first", "GET /v1/sessions/s/events?after=12&token=t&wait=25" + tail, true, "12"},
		{"middle", "GET /v1/sessions/s/events?token=t&after=0&wait=25" + tail, true, "0"},
		{"last", "GET /v1/sessions/s/events?token=t&wait=25&after=345" + tail, true, "345"},
		{"leading zero kept", "GET /e?after=007" + tail, true, "007"},
		{"no after", "GET /e?token=t&wait=25" + tail, false, ""},
		{"empty after", "GET /e?after=&wait=1" + tail, false, ""},
		{"twice", "GET /e?after=1&after=2" + tail, false, ""},
		{"not digits", "GET /e?after=1x" + tail, false, ""},
		{"negative", "GET /e?after=-1" + tail, false, ""},
		{"too long", "GET /e?after=1234567890123456789" + tail, false, ""},
		{"escaped", "GET /e?aft%65r=1&after=2" + tail, false, ""},
		{"plus", "GET /e?after=1&x=a+b" + tail, false, ""},
		{"semicolon", "GET /e?after=1;x=2" + tail, false, ""},
		{"no query", "GET /e/after=1" + tail, false, ""},
		{"key suffix", "GET /e?xafter=1" + tail, false, ""},
		{"POST", "POST /e?after=1" + tail, false, ""},
		{"HTTP/1.0", "GET /e?after=1 HTTP/1.0\r\n\r\n", false, ""},
		{"no line end", "GET /e?after=1 HTTP/1.1", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := []byte(tc.req)
			start, end, ok := afterSpan(data)
			if ok != tc.ok {
				t.Fatalf("afterSpan ok = %v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			if got := string(data[start:end]); got != tc.after {
				t.Fatalf("span %q, want %q", got, tc.after)
			}
			m := &repollMemo{pre: data[:start], post: data[end:]}
			for _, c := range []struct {
				after string
				ok    bool
			}{{"0", true}, {"9", true}, {"42", true}, {"999999999999999999", true},
				{"", false}, {"01", false}, {"1a", false}, {"-1", false}, {"1000000000000000000", false}} {
				req := append(append(bytes.Clone(m.pre), c.after...), m.post...)
				n, ok := m.match(req)
				if ok != c.ok {
					t.Fatalf("match(after=%q) ok = %v, want %v", c.after, ok, c.ok)
				}
				if ok && strconv.FormatInt(n, 10) != c.after {
					t.Fatalf("match(after=%q) = %d", c.after, n)
				}
			}
			if _, ok := m.match(append(bytes.Clone(data), 'x')); ok {
				t.Fatal("a longer request matched")
			}
			other := bytes.Replace(bytes.Clone(data), []byte("Host: h"), []byte("Host: x"), 1)
			if _, ok := m.match(other); ok {
				t.Fatal("another header matched")
			}
		})
	}
}

// FuzzRepollMemo: afterSpan and match never panic; a memo made from a
// request matches that request with a canonical number, and only
// requests that are the memo's with another number.
func FuzzRepollMemo(f *testing.F) {
	f.Add([]byte("GET /v1/sessions/s/events?token=t&after=12&wait=25 HTTP/1.1\r\nHost: h\r\n\r\n"), []byte("7"))
	f.Add([]byte("GET /e?after=0 HTTP/1.1\r\n\r\n"), []byte("00"))
	f.Add([]byte("GET /e?after=1&after=2 HTTP/1.1\r\n\r\n"), []byte(""))
	f.Fuzz(func(t *testing.T, data, other []byte) {
		start, end, ok := afterSpan(data)
		if !ok {
			return
		}
		if start >= end || end > len(data) {
			t.Fatalf("span %d..%d of %d bytes", start, end, len(data))
		}
		m := &repollMemo{pre: data[:start], post: data[end:]}
		n, ok := m.match(other)
		if !ok {
			return
		}
		want := append(append(bytes.Clone(m.pre), strconv.FormatInt(n, 10)...), m.post...)
		if !bytes.Equal(want, other) {
			t.Fatalf("matched %q as after=%d of %q", other, n, data)
		}
	})
}

// TestPollWaitBounds: the wait a session advises and the longest hold
// follow the server's settings, within MaxPollWait.
func TestPollWaitBounds(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		pollWait, maxHold     time.Duration
		wantAdvised, wantHold time.Duration
	}{
		{"v1 defaults", 0, 0, DefaultPollWait, MaxPollWait},
		{"configured", 55 * time.Second, 0, 55 * time.Second, MaxPollWait},
		{"held shorter by a write timeout", 55 * time.Second, 30 * time.Second, 30 * time.Second, 30 * time.Second},
		{"hold beyond the bound", 0, 5 * time.Minute, DefaultPollWait, MaxPollWait},
		{"whole seconds", 1500 * time.Millisecond, 0, time.Second, MaxPollWait},
	} {
		t.Run(tc.name, func(t *testing.T) {
			advised, hold := pollBounds(tc.pollWait, tc.maxHold)
			if advised != tc.wantAdvised || hold != tc.wantHold {
				t.Fatalf("advised %s, hold %s; want %s, %s", advised, hold, tc.wantAdvised, tc.wantHold)
			}
		})
	}
}

// TestExpiryWheelLists: a poll answered before its wait ends leaves the
// expiry wheel at once (the wheel keeps nothing alive), whatever its
// place in its tick's list.
func TestExpiryWheelLists(t *testing.T) {
	pk := &parker{}
	due := time.Now().Add(time.Hour)
	ps := make([]*parked, 6)
	for i := range ps {
		ps[i] = &parked{pk: pk}
		pk.expireAt(ps[i], due.Add(time.Duration(i%2)*time.Minute)) // two ticks, three each
	}
	count := func() int {
		pk.mu.Lock()
		defer pk.mu.Unlock()
		n := 0
		for _, p := range pk.expiries {
			for ; p != nil; p = p.wnext {
				n++
			}
		}
		return n
	}
	if n := count(); n != 6 || len(pk.expiries) != 2 {
		t.Fatalf("%d listed in %d ticks, want 6 in 2", n, len(pk.expiries))
	}
	for i, j := range []int{2, 4, 0, 5, 1, 3} { // middle, head, tail, ...
		pk.remove(ps[j])
		pk.remove(ps[j]) // twice: a no-op
		if n := count(); n != 5-i {
			t.Fatalf("after removing %d: %d listed, want %d", j, n, 5-i)
		}
	}
	if len(pk.expiries) != 0 {
		t.Fatalf("%d ticks left", len(pk.expiries))
	}
}
