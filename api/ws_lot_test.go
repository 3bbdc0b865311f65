package api_test

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The frames a websocket client sends, read by the parking lot's strict
// frame reader on Linux (ws_lot.go, ws_frame.go) or by gorilla's reader
// elsewhere: both must answer the same way.

// clientFrame is one frame as a client writes it; masked unless unmasked.
func clientFrame(b0 byte, payload []byte, unmasked bool) []byte {
	out := []byte{b0}
	mb := byte(0x80)
	if unmasked {
		mb = 0
	}
	switch n := len(payload); {
	case n < 126:
		out = append(out, mb|byte(n))
	case n < 1<<16:
		out = append(out, mb|126, byte(n>>8), byte(n))
	default:
		out = append(out, mb|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	if unmasked {
		return append(out, payload...)
	}
	mask := [4]byte{0x12, 0x34, 0x56, 0x78}
	out = append(out, mask[:]...)
	for i, c := range payload {
		out = append(out, c^mask[i&3])
	}
	return out
}

func closePayload(code int, text string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(code)), text...)
}

// serverFrame reads one (unmasked) server frame.
func serverFrame(t *testing.T, br *bufio.Reader) (op byte, payload []byte) {
	t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		t.Fatalf("reading a frame: %v", err)
	}
	n := int(h[1] & 0x7f)
	if n == 126 {
		var e [2]byte
		if _, err := io.ReadFull(br, e[:]); err != nil {
			t.Fatal(err)
		}
		n = int(binary.BigEndian.Uint16(e[:]))
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(br, payload); err != nil {
		t.Fatal(err)
	}
	return h[0] & 0x0f, payload
}

// wsRaw opens a session's websocket, reads the first event and returns
// the bare connection with a reader of what the server sends next.
func (w *sxWorld) wsRaw(t *testing.T) (net.Conn, *bufio.Reader) {
	t.Helper()
	c := w.create(map[string]any{"kind": "login"})
	conn, _, err := w.dial(c.Watch.WSURL, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetReadDeadline(time.Now().Add(sxWaitGuard))
	if _, msg, err := conn.ReadMessage(); err != nil || !strings.Contains(string(msg), `"waiting"`) {
		t.Fatalf("first event %q: %v", msg, err)
	}
	nc := conn.NetConn()
	_ = nc.SetDeadline(time.Now().Add(sxWaitGuard))
	return nc, bufio.NewReader(nc)
}

// wantClose reads frames until the server's close, checks its code and
// that the server then closes the connection.
func wantClose(t *testing.T, nc net.Conn, br *bufio.Reader, code int) {
	t.Helper()
	for {
		op, p := serverFrame(t, br)
		if op != 0x8 {
			continue // an event or a ping sent meanwhile
		}
		if len(p) < 2 || int(binary.BigEndian.Uint16(p)) != code {
			t.Fatalf("close payload %q, want code %d", p, code)
		}
		break
	}
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("the server kept the connection open after its close")
	}
}

func TestSessionsWatchClientFrames(t *testing.T) {
	t.Parallel()
	w := sxNew(t)

	t.Run("ping is answered with its pong; text is read and discarded", func(t *testing.T) {
		nc, br := w.wsRaw(t)
		for i, payload := range []string{"one", "", strings.Repeat("p", 125)} {
			msg := append(clientFrame(0x81, []byte("ignored text"), false), clientFrame(0x89, []byte(payload), false)...)
			if i == 1 {
				// a frame split across two writes
				if _, err := nc.Write(msg[:3]); err != nil {
					t.Fatal(err)
				}
				msg = msg[3:]
			}
			if _, err := nc.Write(msg); err != nil {
				t.Fatal(err)
			}
			op, p := serverFrame(t, br)
			if op != 0xA || string(p) != payload {
				t.Fatalf("answer to ping %q: op %x payload %q", payload, op, p)
			}
		}
		// A fragmented message within the limit, then the close handshake.
		msg := append(clientFrame(0x01, []byte("frag"), false), clientFrame(0x80, []byte("ment"), false)...)
		msg = append(msg, clientFrame(0x88, closePayload(1000, "bye"), false)...)
		if _, err := nc.Write(msg); err != nil {
			t.Fatal(err)
		}
		wantClose(t, nc, br, 1000)
	})

	for _, tc := range []struct {
		name  string
		frame []byte
		code  int
	}{
		{"unmasked", clientFrame(0x81, []byte("hi"), true), 1002},
		{"oversized message", clientFrame(0x82, make([]byte, 600), false), 1009},
		{"oversized in fragments", append(clientFrame(0x01, make([]byte, 300), false), clientFrame(0x80, make([]byte, 300), false)...), 1009},
		{"oversized control frame", clientFrame(0x89, make([]byte, 126), false), 1002},
		{"fragmented ping", clientFrame(0x09, []byte("x"), false), 1002},
		{"continuation out of place", clientFrame(0x80, []byte("x"), false), 1002},
		{"text inside a message", append(clientFrame(0x01, []byte("a"), false), clientFrame(0x81, []byte("b"), false)...), 1002},
		{"reserved bits", clientFrame(0xC1, []byte("x"), false), 1002},
		{"unknown opcode", clientFrame(0x83, []byte("x"), false), 1002},
		{"garbage", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 1002},
		{"close with one byte", clientFrame(0x88, []byte{3}, false), 1002},
		{"close with a reserved code", clientFrame(0x88, closePayload(1005, ""), false), 1002},
		{"a 64-bit length", clientFrame(0x82, make([]byte, 1<<16), false), 1009},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc, br := w.wsRaw(t)
			if _, err := nc.Write(tc.frame); err != nil {
				t.Fatal(err)
			}
			wantClose(t, nc, br, tc.code)
		})
	}

	t.Run("a close answers with the client's code; the session goes on", func(t *testing.T) {
		nc, br := w.wsRaw(t)
		if _, err := nc.Write(clientFrame(0x88, closePayload(4001, "leaving"), false)); err != nil {
			t.Fatal(err)
		}
		wantClose(t, nc, br, 4001)
	})

	t.Run("a client that hangs up is let go, and others are served", func(t *testing.T) {
		for range 20 {
			nc, _ := w.wsRaw(t)
			nc.Close()
		}
		_, _ = w.wsRaw(t)
	})
}

// TestWebsocketsWaitInTheLot checks that a waiting websocket is parked in
// the lot on Linux and holds no goroutine of its own (issue 14: memory
// per waiting client). Forty more sockets may add a few goroutines in
// all; gorilla's reader would add at least one per socket. Not parallel:
// it counts the process's goroutines.
func TestWebsocketsWaitInTheLot(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the lot is Linux-only; elsewhere gorilla's reader holds each socket")
	}
	w := sxNew(t)
	w.wsRaw(t) // the first socket starts the lot's own goroutines
	const n = 40
	before := runtime.NumGoroutine()
	for range n {
		w.wsRaw(t)
	}
	deadline := time.Now().Add(sxWaitGuard)
	for {
		grown := runtime.NumGoroutine() - before
		if grown < n/4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d waiting websockets added %d goroutines: they are not parked in the lot", n, grown)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
