package cosign

import "fmt"

// Challenge is what the gateway sends the phone in answer to the first
// confirm request of a cosign credential: one SignStart per signature the
// session needs (a login, or each document), or one DecryptStart.
type Challenge struct {
	Sign    []*SignStart  `json:"sign,omitempty"`
	Decrypt *DecryptStart `json:"decrypt,omitempty"`
}

// Answer is the phone's second confirm request's cosign part.
type Answer struct {
	Sign    []*SignReply  `json:"sign,omitempty"`
	Decrypt *DecryptReply `json:"decrypt,omitempty"`
}

// MaxSignatures bounds the starts of one challenge (and the replies of
// one answer): a sign session's documents plus a margin.
const MaxSignatures = 64

// Answer computes the phone's half for every start of c, for the
// session and credential the user is confirming (want; its Digest is not
// used). Errors as for PhoneSign and PhoneDecrypt.
func (c *Challenge) Answer(sec *PhoneSecret, pin string, want Binding) (*Answer, error) {
	if c == nil || (len(c.Sign) == 0) == (c.Decrypt == nil) || len(c.Sign) > MaxSignatures {
		return nil, fmt.Errorf("%w: a challenge holds signatures or one decryption", ErrMalformed)
	}
	want.Digest = nil
	var a Answer
	for _, s := range c.Sign {
		r, err := PhoneSign(sec, pin, s, want)
		if err != nil {
			return nil, err
		}
		a.Sign = append(a.Sign, r)
	}
	if c.Decrypt != nil {
		r, err := PhoneDecrypt(sec, pin, c.Decrypt, want)
		if err != nil {
			return nil, err
		}
		a.Decrypt = r
	}
	return &a, nil
}
