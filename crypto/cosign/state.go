package cosign

import (
	"encoding/json"
	"fmt"
)

// Gateway states travel between the two confirm requests, possibly to
// another node through the store: MarshalBinary gives their bytes, which
// hold secret nonces (seal them under the master key, keep them no longer
// than the session, and consume them in the same transaction that reads
// them: a state must never be finished twice).

const stateVersion = 1

type signStateWire struct {
	V     int       `json:"v"`
	Start SignStart `json:"start"`
	K1    []byte    `json:"k1"`
}

// MarshalBinary encodes the state (secret: seal before storing).
func (st *SignState) MarshalBinary() ([]byte, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.used {
		return nil, ErrTranscript
	}
	return json.Marshal(signStateWire{V: stateVersion, Start: st.start, K1: scalarBytes(st.k1)})
}

// ParseSignState reads a state written by MarshalBinary; anything else is
// ErrMalformed.
func ParseSignState(b []byte) (*SignState, error) {
	var w signStateWire
	if err := json.Unmarshal(b, &w); err != nil || w.V != stateVersion {
		return nil, ErrMalformed
	}
	k1, err := parseScalar(w.K1)
	if err != nil {
		return nil, err
	}
	q1, err := parsePoint(w.Start.Q1)
	if err != nil || len(w.Start.Digest) != 32 {
		return nil, ErrMalformed
	}
	if !equalPoints(q1, baseMul(k1)) {
		return nil, ErrMalformed
	}
	return &SignState{start: w.Start, k1: k1}, nil
}

type decryptStateWire struct {
	V     int          `json:"v"`
	Start DecryptStart `json:"start"`
	Rho   []byte       `json:"rho"`
	C1    []byte       `json:"c1"`
	Alts  [][2][]byte  `json:"alts"`
}

// MarshalBinary encodes the state (secret: seal before storing).
func (st *DecryptState) MarshalBinary() ([]byte, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.used {
		return nil, ErrTranscript
	}
	w := decryptStateWire{V: stateVersion, Start: st.start, Rho: scalarBytes(st.rho), C1: st.c1.bytes()}
	for _, a := range st.alts {
		w.Alts = append(w.Alts, [2][]byte{a.c2, a.c3})
	}
	return json.Marshal(w)
}

// ParseDecryptState reads a state written by MarshalBinary; anything else
// is ErrMalformed.
func ParseDecryptState(b []byte) (*DecryptState, error) {
	var w decryptStateWire
	if err := json.Unmarshal(b, &w); err != nil || w.V != stateVersion {
		return nil, ErrMalformed
	}
	rho, err := parseScalar(w.Rho)
	if err != nil {
		return nil, err
	}
	c1, err := parsePoint(w.C1)
	if err != nil {
		return nil, err
	}
	if _, err := parsePoint(w.Start.T1); err != nil || len(w.Alts) == 0 || len(w.Alts) > 2 {
		return nil, fmt.Errorf("%w: decrypt state", ErrMalformed)
	}
	st := &DecryptState{start: w.Start, rho: rho, c1: c1}
	for _, a := range w.Alts {
		if len(a[1]) != 32 || len(a[0]) == 0 {
			return nil, fmt.Errorf("%w: decrypt state", ErrMalformed)
		}
		st.alts = append(st.alts, split{c2: a[0], c3: a[1]})
	}
	return st, nil
}
