package api

import (
	"encoding/binary"
	"unicode/utf8"
)

// A strict reader of the frames a websocket client sends (RFC 6455), for
// sockets whose reading is done by the parking lot (ws_lot.go) instead of
// gorilla's reader goroutine. It accepts what gorilla's reader accepts
// with the settings of ws.go (no extension, wsReadLimit bytes per
// message) and refuses the rest with the close code gorilla would send:
// 1002 (protocol error) for reserved bits, an unknown opcode, an unmasked
// frame, a fragmented or oversized control frame, a continuation out of
// place or a bad close payload; 1009 (message too big) for a message over
// wsReadLimit; 1007 for a close reason that is not UTF-8.

// Client frame opcodes.
const (
	wsOpCont   = 0x0
	wsOpText   = 0x1
	wsOpBinary = 0x2
	wsOpClose  = 0x8
	wsOpPing   = 0x9
	wsOpPong   = 0xA
)

// Close codes of a refused frame.
const (
	wsCloseProtocol = 1002
	wsCloseBadData  = 1007
	wsCloseTooBig   = 1009
)

// wsFrame is one complete client frame, its payload unmasked.
type wsFrame struct {
	op      byte
	fin     bool
	payload []byte
}

// wsReader keeps the state between frames: a data message in progress.
type wsReader struct {
	inMsg  bool
	msgLen int
}

// next parses the first frame of b, unmasking its payload in place (the
// payload aliases b): n is the bytes it took (0: b holds no complete
// frame yet); code, if not 0, is the close code the connection must be
// ended with.
func (r *wsReader) next(b []byte) (f wsFrame, n int, code int) {
	if len(b) < 2 {
		return f, 0, 0
	}
	b0, b1 := b[0], b[1]
	f.fin, f.op = b0&0x80 != 0, b0&0x0f
	if b0&0x70 != 0 || b1&0x80 == 0 {
		return f, 0, wsCloseProtocol // reserved bits (no extension) or an unmasked frame
	}
	control := f.op >= wsOpClose
	switch f.op {
	case wsOpCont:
		if !r.inMsg {
			return f, 0, wsCloseProtocol
		}
	case wsOpText, wsOpBinary:
		if r.inMsg {
			return f, 0, wsCloseProtocol
		}
	case wsOpClose, wsOpPing, wsOpPong:
		if !f.fin {
			return f, 0, wsCloseProtocol
		}
	default:
		return f, 0, wsCloseProtocol
	}
	size := uint64(b1 & 0x7f)
	head := 2
	switch size {
	case 126:
		if len(b) < 4 {
			return f, 0, 0
		}
		size, head = uint64(binary.BigEndian.Uint16(b[2:4])), 4
	case 127:
		if len(b) < 10 {
			return f, 0, 0
		}
		size, head = binary.BigEndian.Uint64(b[2:10]), 10
		if size>>63 != 0 {
			return f, 0, wsCloseProtocol
		}
	}
	if control && size > 125 {
		return f, 0, wsCloseProtocol
	}
	if !control && uint64(r.msgLen)+size > wsReadLimit {
		return f, 0, wsCloseTooBig
	}
	end := head + 4 + int(size)
	if len(b) < end {
		return f, 0, 0
	}
	mask := b[head : head+4]
	p := b[head+4 : end]
	for i := range p {
		p[i] ^= mask[i&3]
	}
	f.payload = p
	if f.op == wsOpClose {
		if c := wsCheckClose(p); c != 0 {
			return f, 0, c
		}
	}
	if !control {
		r.msgLen += int(size)
		r.inMsg = !f.fin
		if f.fin {
			r.msgLen = 0
		}
	}
	return f, end, 0
}

// wsCheckClose checks a close frame's payload: empty, or a code a peer
// may send and a UTF-8 reason.
func wsCheckClose(p []byte) int {
	if len(p) == 0 {
		return 0
	}
	if len(p) == 1 {
		return wsCloseProtocol
	}
	if !wsValidCloseCode(int(binary.BigEndian.Uint16(p))) {
		return wsCloseProtocol
	}
	if !utf8.Valid(p[2:]) {
		return wsCloseBadData
	}
	return 0
}

// wsValidCloseCode: the codes a peer may send in a close frame.
func wsValidCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// wsCloseCode is the code of a valid close payload (1005: none).
func wsCloseCode(p []byte) int {
	if len(p) < 2 {
		return 1005
	}
	return int(binary.BigEndian.Uint16(p))
}
