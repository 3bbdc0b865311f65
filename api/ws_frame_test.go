package api

import "testing"

// FuzzWSFrame feeds arbitrary bytes to the strict client frame reader:
// no panic, and whatever it accepts keeps the limits.
func FuzzWSFrame(f *testing.F) {
	f.Add([]byte{0x89, 0x80, 1, 2, 3, 4})                                   // empty ping
	f.Add([]byte{0x8a, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2})                 // pong "hi"
	f.Add([]byte{0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8})                       // close 1000
	f.Add([]byte{0x81, 0x02, 'h', 'i'})                                     // unmasked text
	f.Add([]byte{0x01, 0x81, 0, 0, 0, 0, 'a', 0x80, 0x81, 0, 0, 0, 0, 'b'}) // fragments
	f.Add([]byte{0x82, 0xff, 0, 0, 0, 0, 0, 0, 0x10, 0, 1, 2, 3, 4})        // 64-bit length
	f.Fuzz(func(t *testing.T, b []byte) {
		var r wsReader
		for len(b) > 0 {
			fr, n, code := r.next(b)
			if code != 0 {
				if code != wsCloseProtocol && code != wsCloseTooBig && code != wsCloseBadData {
					t.Fatalf("close code %d", code)
				}
				return
			}
			if n == 0 {
				return // incomplete
			}
			if n > len(b) {
				t.Fatalf("took %d of %d bytes", n, len(b))
			}
			if fr.op >= wsOpClose && (len(fr.payload) > 125 || !fr.fin) {
				t.Fatalf("control frame %x of %d bytes, fin %v", fr.op, len(fr.payload), fr.fin)
			}
			if fr.op < wsOpClose && (len(fr.payload) > wsReadLimit || r.msgLen > wsReadLimit) {
				t.Fatalf("data frame of %d bytes, message %d", len(fr.payload), r.msgLen)
			}
			b = b[n:]
		}
	})
}
