package session

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/emmansun/gmsm/sm2"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/crypto/cosign"
)

// Cosign credentials (two-party SM2, docs/cosign.md) confirm in two
// requests. The first (no PIN, no cosign answer) runs Perform with a
// capturing key: what would be signed (each e) or decrypted (the SM2
// ciphertext, or a CMS envelope's key-transport value) is recorded, the
// would-be result kept as a template with a random placeholder in place of
// each signature; the key side starts the exchange, and the session keeps
// the template and the key side's state sealed until the second request.
// The second request carries the phone's answer: the state is taken
// (single use), the key side finishes and verifies, and the result is the
// template with the real signatures, or Perform run again with the
// recovered plaintext. Both requests check the matching code; the session
// stays scanned in between and its expiry applies.

// CosignSide is the part of a KeySide that holds two-party keys. A
// Confirmer without one refuses cosign credentials.
type CosignSide interface {
	// CosignStart begins the exchange for credential c in session
	// sessionID: for Work.Digests one signature each, else the decryption
	// of Work.Ciphertext. It refuses while the user's PIN is locked (a
	// *KeyError "pin_locked"). state is secret (the session seals it);
	// challenge goes to the phone.
	CosignStart(ctx context.Context, c *Credential, sessionID string, w CosignWork) (state []byte, challenge json.RawMessage, err error)
	// CosignFinish completes it with the phone's answer. A result that
	// does not verify (a wrong PIN) is counted against the PIN lockout and
	// returned as a *KeyError ("wrong_pin" or "pin_locked"); an answer
	// that does not belong to this exchange, or is malformed, is another
	// error (nothing is counted).
	CosignFinish(ctx context.Context, c *Credential, state []byte, answer json.RawMessage) (*CosignOutcome, error)
}

// CosignWork is what a confirm needs of a two-party key.
type CosignWork struct {
	// Digests are the SM2 e values to sign, in order.
	Digests [][]byte
	// Ciphertext is the SM2 ciphertext to decrypt, in Format
	// (cosign.FormatAny for a CMS key transport).
	Ciphertext []byte
	Format     gmcrypto.CipherFormat
}

// CosignOutcome is what CosignFinish recovered: one verified signature
// per digest, or the plaintext.
type CosignOutcome struct {
	Signatures [][]byte
	Plaintext  []byte
}

// Errors of the two-round confirm.
var (
	// ErrCosignNotStarted: a confirm carried a cosign answer but no first
	// round is pending (never started, already used, or started for
	// another credential).
	ErrCosignNotStarted = errors.New("session: no two-party exchange pending for this confirm")
	// ErrCosignUnsupported: the credential is a cosign credential and this
	// gateway has no CosignSide, or a usual credential got a cosign answer.
	ErrCosignUnsupported = errors.New("session: this credential does not confirm that way")
	// ErrPINRequired: a usual credential was confirmed without a PIN.
	ErrPINRequired = errors.New("session: the PIN is required for this credential")
	// ErrPINNotExpected: a cosign credential was confirmed with a PIN (it
	// is folded into the phone's share and never sent).
	ErrPINNotExpected = errors.New("session: a cosign credential is confirmed without the PIN")
)

// placeholderLen is the length of a signature placeholder: longer than
// any SM2 signature (at most 72 bytes) and random, so it cannot occur
// anywhere by chance.
const placeholderLen = 80

// captureKey is the ExternalSM2 key of the first round: it records what
// it is asked to sign or decrypt.
type captureKey struct {
	pub          *ecdsa.PublicKey
	digests      [][]byte
	placeholders [][]byte
	ciphertext   []byte
	format       gmcrypto.CipherFormat
	decrypts     int
}

func (k *captureKey) Public() crypto.PublicKey       { return k.pub }
func (k *captureKey) SM2PublicKey() *ecdsa.PublicKey { return k.pub }

func (k *captureKey) Sign(_ io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	e := msg
	if o, ok := opts.(*sm2.SM2SignerOption); ok && o != nil {
		// CMS passes the message (the signed attributes) with the default id.
		d, err := gmcrypto.Digest(k.pub, msg, nil)
		if err != nil {
			return nil, err
		}
		e = d
	}
	if len(e) != gmcrypto.DigestSize {
		return nil, gmcrypto.ErrInvalidInput
	}
	ph := make([]byte, placeholderLen)
	if _, err := rand.Read(ph); err != nil {
		return nil, err
	}
	k.digests = append(k.digests, bytes.Clone(e))
	k.placeholders = append(k.placeholders, ph)
	return bytes.Clone(ph), nil
}

func (k *captureKey) Decrypt(_ io.Reader, ct []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	k.decrypts++
	if k.decrypts == 1 {
		k.ciphertext = bytes.Clone(ct)
		k.format = cosign.FormatAny
		if o, ok := opts.(*gmcrypto.ExternalDecryptOpts); ok && o != nil {
			k.format = o.Format
		}
	}
	return nil, gmcrypto.ErrDecryption
}

// replayKey is the ExternalSM2 key of the second round of a decryption:
// it answers the ciphertext of the first round with the plaintext the
// two-party exchange recovered.
type replayKey struct {
	pub        *ecdsa.PublicKey
	ciphertext []byte
	plaintext  []byte
}

func (k *replayKey) Public() crypto.PublicKey       { return k.pub }
func (k *replayKey) SM2PublicKey() *ecdsa.PublicKey { return k.pub }
func (k *replayKey) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, gmcrypto.ErrUnsupported
}

func (k *replayKey) Decrypt(_ io.Reader, ct []byte, _ crypto.DecrypterOpts) ([]byte, error) {
	if !bytes.Equal(ct, k.ciphertext) {
		return nil, gmcrypto.ErrDecryption
	}
	return bytes.Clone(k.plaintext), nil
}

// cosignPending is what the session keeps, sealed, between the rounds.
type cosignPending struct {
	Credential   string          `json:"credential"`
	State        []byte          `json:"state"`
	Template     json.RawMessage `json:"template,omitempty"`
	Placeholders [][]byte        `json:"placeholders,omitempty"`
	Ciphertext   []byte          `json:"ciphertext,omitempty"`
	Digest       []byte          `json:"digest,omitempty"`
}

func cosignAD(id string) []byte { return []byte("session-cosign/" + id) }

// fillTemplate puts sigs in place of the placeholders in a result
// template: a base64 string that is a placeholder becomes the signature;
// one whose bytes are DER holding a placeholder (a CMS SignedData) gets
// the signature spliced in with every enclosing length corrected.
func fillTemplate(tmpl json.RawMessage, placeholders, sigs [][]byte) (json.RawMessage, error) {
	if len(placeholders) != len(sigs) {
		return nil, fmt.Errorf("session: %d signatures for %d placeholders", len(sigs), len(placeholders))
	}
	dec := json.NewDecoder(bytes.NewReader(tmpl))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("session: cosign template: %w", err)
	}
	used := make([]bool, len(placeholders))
	var walk func(any) any
	walk = func(x any) any {
		switch t := x.(type) {
		case map[string]any:
			for k, e := range t {
				t[k] = walk(e)
			}
		case []any:
			for i, e := range t {
				t[i] = walk(e)
			}
		case string:
			b, err := base64.StdEncoding.DecodeString(t)
			if err != nil || len(b) < placeholderLen {
				return t
			}
			for i, ph := range placeholders {
				switch {
				case bytes.Equal(b, ph):
					used[i] = true
					b = bytes.Clone(sigs[i])
				case bytes.Contains(b, ph):
					if nb, ok := cosign.ReplaceInDER(b, ph, sigs[i]); ok {
						used[i] = true
						b = nb
					}
				default:
					if nb, ok := fillHexSlot(b, ph, sigs[i]); ok {
						used[i] = true
						b = nb
					}
				}
			}
			return base64.StdEncoding.EncodeToString(b)
		}
		return x
	}
	v = walk(v)
	for i, u := range used {
		if !u {
			return nil, fmt.Errorf("session: cosign template: signature %d has no place", i)
		}
	}
	return json.Marshal(v)
}

// fillHexSlot handles a document that carries a CMS SignedData as
// hexadecimal in a fixed-size slot padded with zeros (a PDF signature's
// /Contents<…>, package seal): the slot holding the hex of placeholder
// ph is decoded, the signature spliced into its CMS (ReplaceInDER), and
// the slot rewritten at the same size, so every byte outside it (and the
// digest the CMS signed) stays as it was. ok is false when there is no
// such slot or the new CMS does not fit.
func fillHexSlot(doc, ph, sig []byte) ([]byte, bool) {
	at := bytes.Index(doc, []byte(hex.EncodeToString(ph)))
	if at < 0 {
		return nil, false
	}
	isHex := func(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }
	start, end := at, at
	for start > 0 && isHex(doc[start-1]) {
		start--
	}
	for end < len(doc) && isHex(doc[end]) {
		end++
	}
	if start == 0 || doc[start-1] != '<' || end == len(doc) || doc[end] != '>' || (end-start)%2 != 0 {
		return nil, false
	}
	raw := make([]byte, (end-start)/2)
	if _, err := hex.Decode(raw, doc[start:end]); err != nil {
		return nil, false
	}
	var outer asn1.RawValue
	if _, err := asn1.Unmarshal(raw, &outer); err != nil {
		return nil, false
	}
	cms, ok := cosign.ReplaceInDER(outer.FullBytes, ph, sig)
	if !ok || 2*len(cms) > end-start {
		return nil, false
	}
	out := bytes.Clone(doc)
	n := hex.Encode(out[start:], cms)
	for i := start + n; i < end; i++ {
		out[i] = '0'
	}
	return out, true
}

// sealPending / openPending keep the pending exchange under the result key.
func (s *Service) sealPending(id string, p *cosignPending) ([]byte, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return s.results.Wrap(b, cosignAD(id))
}

func (s *Service) openPending(id string, sealed []byte) (*cosignPending, error) {
	b, err := s.results.Unwrap(sealed, cosignAD(id))
	if err != nil {
		return nil, fmt.Errorf("session: the pending exchange of %s does not open: %w", id, err)
	}
	var p cosignPending
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("session: the pending exchange of %s is damaged: %w", id, err)
	}
	return &p, nil
}

// Hold runs op for the first round of a two-party confirm of session id,
// under the same claim as Confirm, and keeps what op returns (sealed) in
// the session, replacing any earlier pending exchange; the session stays
// scanned. op's errors are handled as Confirm handles them (an *OpError
// fails the session, others leave it scanned).
func (s *Service) hold(ctx context.Context, id, deviceID string, op func(*Session) (*cosignPending, error)) error {
	if !idOK(deviceID) {
		return fmt.Errorf("%w: empty or malformed device id", ErrInvalidArgument)
	}
	claim, err := randomToken(idBytes)
	if err != nil {
		return err
	}
	sess, err := s.change(ctx, id, func(r *record, now time.Time) (State, error) {
		if err := bound(r, deviceID, now); err != nil {
			return "", err
		}
		if r.claimedByOther(claim, now) {
			return "", ErrConfirmInProgress
		}
		r.ClaimID, r.ClaimUntil = claim, now.Add(ClaimTTL)
		return r.State, nil
	})
	if err != nil {
		return err
	}
	sess.claim = claim
	p, opErr := op(sess.clone())
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	if opErr != nil {
		var oe *OpError
		if !errors.As(opErr, &oe) {
			s.release(wctx, id, claim)
			return opErr
		}
		reason := oe.Reason
		if !reasonOK(reason) {
			reason = defaultOpError
		}
		_, err := s.change(wctx, id, func(r *record, now time.Time) (State, error) {
			if err := bound(r, deviceID, now); err != nil {
				return "", err
			}
			if r.ClaimID != claim {
				return "", ErrConfirmInProgress
			}
			r.FailReason = reason
			return StateFailed, nil
		})
		if err != nil {
			return err
		}
		return opErr
	}
	sealed, err := s.sealPending(id, p)
	if err != nil {
		s.release(wctx, id, claim)
		return err
	}
	_, err = s.change(wctx, id, func(r *record, now time.Time) (State, error) {
		if err := bound(r, deviceID, now); err != nil {
			return "", err
		}
		if r.ClaimID != claim {
			return "", ErrConfirmInProgress
		}
		r.CosignSealed = sealed
		r.ClaimID, r.ClaimUntil = "", time.Time{}
		return r.State, nil
	})
	return err
}

// takePending removes and returns the pending exchange of session id (it
// is single use, whatever happens next).
func (s *Service) takePending(ctx context.Context, id, deviceID string) (*cosignPending, error) {
	var sealed []byte
	_, err := s.change(ctx, id, func(r *record, now time.Time) (State, error) {
		if err := bound(r, deviceID, now); err != nil {
			return "", err
		}
		if len(r.CosignSealed) == 0 {
			return "", ErrCosignNotStarted
		}
		sealed, r.CosignSealed = r.CosignSealed, nil
		return r.State, nil
	})
	if err != nil {
		return nil, err
	}
	return s.openPending(id, sealed)
}
