package session_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/qrlogin"
	"github.com/ukeygate/ukeygate/session"
)

// The confirm sequence (session.Confirmer) without HTTP: a key side that
// holds one real SM2 key behind a PIN, and an audit log in memory.

const (
	testPIN    = "482915"
	credSign   = "cred_sign"
	credCrypt  = "cred_crypt"
	testIssuer = "iss_1"
)

var (
	errNoCredential = errors.New("test: credential not found")
	errPINRefused   = errors.New("test: wrong PIN")
)

// pinKeys is a session.KeySide over two real SM2 keys of user (one for
// signing, one for encryption), unlocked by testPIN.
type pinKeys struct {
	keys  map[string]session.OpKey
	purps map[string]string
	// during, when set, runs inside Use after the operation (to change
	// the session while the key is out).
	during func()

	mu       sync.Mutex
	uses     int
	wiped    int
	lastUsed session.OpKey
}

func newPinKeys(t *testing.T) *pinKeys {
	k := &pinKeys{keys: map[string]session.OpKey{}, purps: map[string]string{}}
	for id, purpose := range map[string]string{credSign: session.PurposeSign, credCrypt: session.PurposeEncrypt} {
		ok := opKey(t, gmcrypto.AlgSM2)
		ok.CredentialID, ok.UserID = id, user
		k.keys[id], k.purps[id] = ok, purpose
	}
	return k
}

func (k *pinKeys) Credential(_ context.Context, userID, id string) (*session.Credential, error) {
	ok, found := k.keys[id]
	if !found || userID != user {
		return nil, fmt.Errorf("%w: %s", errNoCredential, id)
	}
	return &session.Credential{
		ID: id, UserID: user, IssuerID: testIssuer, Alg: session.AlgSM2, Purpose: k.purps[id],
		Certificate: ok.Certificate,
	}, nil
}

func (k *pinKeys) Use(_ context.Context, c *session.Credential, pin string, op func(session.OpKey) (*session.Output, error)) (*session.Output, error) {
	if pin != testPIN {
		return nil, &session.KeyError{Reason: "wrong_pin", Err: errPINRefused}
	}
	k.mu.Lock()
	k.uses++
	k.lastUsed = k.keys[c.ID]
	k.mu.Unlock()
	defer func() {
		k.mu.Lock()
		k.wiped++
		k.mu.Unlock()
	}()
	out, err := op(k.keys[c.ID])
	if k.during != nil {
		k.during()
	}
	return out, err
}

// memAudit is a session.Recorder in memory; fail makes every append fail.
type memAudit struct {
	mu   sync.Mutex
	uses []session.KeyUse
	fail error
}

func (m *memAudit) RecordKeyUse(_ context.Context, u session.KeyUse) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.uses = append(m.uses, u)
	return nil
}

// summary renders the audit as "ok" or "failed:detail" entries.
func (m *memAudit) summary() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, u := range m.uses {
		if u.OK {
			out = append(out, "ok")
		} else {
			out = append(out, "failed:"+u.Detail)
		}
	}
	return out
}

// confirmEnv is a scanned session of kind and a Confirmer over it.
type confirmEnv struct {
	*env
	sess  created
	keys  *pinKeys
	audit *memAudit
	conf  *session.Confirmer
}

func newConfirmEnv(t *testing.T, p session.CreateParams) *confirmEnv {
	e := newEnv(t)
	c := e.create(t, p)
	if _, err := e.svc.Scan(e.ctx, c.ID, c.nonce, device, user); err != nil {
		t.Fatalf("Scan: %v", err)
	}
	ce := &confirmEnv{env: e, sess: c, keys: newPinKeys(t), audit: &memAudit{}}
	ce.conf = &session.Confirmer{Sessions: e.svc, Keys: ce.keys, Audit: ce.audit}
	return ce
}

func (ce *confirmEnv) request(cred, pin, code string) session.ConfirmRequest {
	return session.ConfirmRequest{SessionID: ce.sess.ID, DeviceID: device, UserID: user, CredentialID: cred, PIN: pin, Code: code}
}

// wrongCode is a valid matching code that is not the session's.
func wrongCode(t *testing.T, right string) string {
	choices, err := session.CodeChoices(right)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range choices {
		if c != right {
			return c
		}
	}
	t.Fatal("no wrong code among the choices")
	return ""
}

func TestConfirmerLogin(t *testing.T) {
	ce := newConfirmEnv(t, loginParams())
	done, err := ce.conf.Confirm(ce.ctx, ce.request(credSign, testPIN, ce.sess.Code))
	if err != nil {
		t.Fatalf("Confirm: %v", err)
	}
	if done.State != session.StateCompleted {
		t.Fatalf("state %s", done.State)
	}
	var res protocol.LoginResult
	if err := json.Unmarshal(done.Result, &res); err != nil {
		t.Fatal(err)
	}
	ch, err := qrlogin.ParseChallenge(res.Challenge)
	if err != nil || ch.Session != ce.sess.ID || ch.App != app {
		t.Fatalf("challenge %+v: %v", ch, err)
	}
	if err := gmcrypto.Verify(ce.keys.lastUsed.Certificate.PublicKey, res.Challenge, res.Signature, nil); err != nil {
		t.Fatalf("the login signature does not verify: %v", err)
	}
	if got := ce.audit.summary(); len(got) != 1 || got[0] != "ok" {
		t.Fatalf("audit %v, want [ok]", got)
	}
	u := ce.audit.uses[0]
	if u.IssuerID != testIssuer || u.CredentialID != credSign || u.DeviceID != device || !bytes.Equal(u.Digest, gmcrypto.SM3(res.Challenge)) {
		t.Fatalf("audited use %+v", u)
	}
	if ce.keys.uses != 1 || ce.keys.wiped != 1 {
		t.Fatalf("key used %d times, wiped %d times", ce.keys.uses, ce.keys.wiped)
	}
}

// TestConfirmerRefusals: every refusal before the key is used leaves the
// key unused; the final ones fail the session, the others leave it
// scanned; the audit records the attempts the sequence says it does.
func TestConfirmerRefusals(t *testing.T) {
	errAppOff := errors.New("test: app disabled")
	tests := []struct {
		name      string
		cred, pin string
		code      func(t *testing.T, right string) string
		admit     error
		wantErr   error
		wantState session.State
		wantAudit []string
		wantUses  int
	}{
		{name: "wrong code", cred: credSign, pin: testPIN, code: wrongCode,
			wantErr: session.ErrWrongCode, wantState: session.StateFailed, wantAudit: []string{"failed:wrong_code"}},
		{name: "unknown credential", cred: "cred_nope", pin: testPIN,
			wantErr: errNoCredential, wantState: session.StateScanned},
		{name: "credential of the wrong purpose", cred: credCrypt, pin: testPIN,
			wantErr: session.ErrCredentialMismatch, wantState: session.StateScanned},
		{name: "wrong PIN", cred: credSign, pin: "000111",
			wantErr: errPINRefused, wantState: session.StateScanned, wantAudit: []string{"failed:wrong_pin"}},
		{name: "app no longer admitted", cred: credSign, pin: testPIN, admit: errAppOff,
			wantErr: errAppOff, wantState: session.StateScanned},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ce := newConfirmEnv(t, loginParams())
			if tt.admit != nil {
				ce.conf.Admit = func(context.Context, *session.Session) error { return tt.admit }
			}
			code := ce.sess.Code
			if tt.code != nil {
				code = tt.code(t, code)
			}
			_, err := ce.conf.Confirm(ce.ctx, ce.request(tt.cred, tt.pin, code))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Confirm: %v, want %v", err, tt.wantErr)
			}
			if s := ce.get(t, ce.sess.ID); s.State != tt.wantState {
				t.Fatalf("state %s, want %s", s.State, tt.wantState)
			}
			if got := ce.audit.summary(); fmt.Sprint(got) != fmt.Sprint(tt.wantAudit) {
				t.Fatalf("audit %v, want %v", got, tt.wantAudit)
			}
			if ce.keys.uses != tt.wantUses {
				t.Fatalf("key used %d times, want %d", ce.keys.uses, tt.wantUses)
			}
		})
	}
}

// TestConfirmerWrongPINThenRight: a refused PIN is not final; the same
// session completes with the right one.
func TestConfirmerWrongPINThenRight(t *testing.T) {
	ce := newConfirmEnv(t, loginParams())
	_, err := ce.conf.Confirm(ce.ctx, ce.request(credSign, "000111", ce.sess.Code))
	var ke *session.KeyError
	if !errors.As(err, &ke) || ke.Reason != "wrong_pin" {
		t.Fatalf("first confirm: %v, want a KeyError wrong_pin", err)
	}
	if _, err := ce.conf.Confirm(ce.ctx, ce.request(credSign, testPIN, ce.sess.Code)); err != nil {
		t.Fatalf("second confirm: %v", err)
	}
	if got := ce.audit.summary(); fmt.Sprint(got) != "[failed:wrong_pin ok]" {
		t.Fatalf("audit %v", got)
	}
}

// TestConfirmerDecryptFails: a ciphertext that does not open fails the
// session (decryption_failed), audited with the ciphertext's digest.
func TestConfirmerDecryptFails(t *testing.T) {
	other := opKey(t, gmcrypto.AlgSM2)
	ct, err := gmcrypto.Encrypt(other.Certificate.PublicKey, []byte("标书 for someone else"), gmcrypto.FormatC1C3C2)
	if err != nil {
		t.Fatal(err)
	}
	p := loginParams()
	p.Kind = session.KindDecrypt
	p.Request = session.Request{Ciphertext: ct, CiphertextFormat: "c1c3c2"}
	ce := newConfirmEnv(t, p)
	_, err = ce.conf.Confirm(ce.ctx, ce.request(credCrypt, testPIN, ce.sess.Code))
	if !errors.Is(err, session.ErrOperationFailed) || !errors.Is(err, gmcrypto.ErrDecryption) {
		t.Fatalf("Confirm: %v, want a failed decryption", err)
	}
	if s := ce.get(t, ce.sess.ID); s.State != session.StateFailed || s.FailReason != session.ReasonDecryptionFailed {
		t.Fatalf("state %s reason %q", s.State, s.FailReason)
	}
	if got := ce.audit.summary(); fmt.Sprint(got) != "[failed:decryption_failed]" {
		t.Fatalf("audit %v", got)
	}
	if !bytes.Equal(ce.audit.uses[0].Digest, gmcrypto.SM3(ct)) {
		t.Fatalf("audited digest %x, want SM3 of the ciphertext", ce.audit.uses[0].Digest)
	}
}

// TestConfirmerDecrypt: the plaintext reaches the result; the key is
// wiped after use.
func TestConfirmerDecrypt(t *testing.T) {
	ce := newConfirmEnv(t, loginParams()) // for the key only
	pub := ce.keys.keys[credCrypt].Certificate.PublicKey
	ct, err := gmcrypto.Encrypt(pub, []byte("标书 2026-17"), gmcrypto.FormatC1C3C2)
	if err != nil {
		t.Fatal(err)
	}
	p := loginParams()
	p.Kind = session.KindDecrypt
	p.Request = session.Request{Ciphertext: ct, CiphertextFormat: "c1c3c2"}
	c := ce.create(t, p)
	if _, err := ce.svc.Scan(ce.ctx, c.ID, c.nonce, device, user); err != nil {
		t.Fatal(err)
	}
	req := ce.request(credCrypt, testPIN, c.Code)
	req.SessionID = c.ID
	done, err := ce.conf.Confirm(ce.ctx, req)
	if err != nil {
		t.Fatalf("Confirm: %v", err)
	}
	var res protocol.DecryptResult
	if err := json.Unmarshal(done.Result, &res); err != nil || string(res.Plaintext) != "标书 2026-17" {
		t.Fatalf("result %s: %v", done.Result, err)
	}
	if ce.keys.wiped != ce.keys.uses {
		t.Fatalf("key used %d times, wiped %d", ce.keys.uses, ce.keys.wiped)
	}
}

// TestConfirmerResultDiscarded: the session is cancelled while the key is
// out; the key use is audited as failed (result_discarded) with the digest
// of what was signed, and the session stays cancelled.
func TestConfirmerResultDiscarded(t *testing.T) {
	ce := newConfirmEnv(t, loginParams())
	ce.keys.during = func() {
		if _, err := ce.svc.Cancel(ce.ctx, ce.sess.ID, app); err != nil {
			t.Errorf("Cancel: %v", err)
		}
	}
	_, err := ce.conf.Confirm(ce.ctx, ce.request(credSign, testPIN, ce.sess.Code))
	if !errors.Is(err, session.ErrSessionClosed) {
		t.Fatalf("Confirm: %v, want ErrSessionClosed", err)
	}
	if s := ce.get(t, ce.sess.ID); s.State != session.StateCancelled {
		t.Fatalf("state %s", s.State)
	}
	if got := ce.audit.summary(); fmt.Sprint(got) != "[failed:result_discarded]" {
		t.Fatalf("audit %v", got)
	}
	if ce.audit.uses[0].Digest == nil {
		t.Fatal("the discarded key use has no digest")
	}
}

// TestConfirmerAuditDown: a key use that cannot be audited does not
// complete; the session stays confirmable.
func TestConfirmerAuditDown(t *testing.T) {
	ce := newConfirmEnv(t, loginParams())
	ce.audit.fail = errors.New("test: audit store down")
	_, err := ce.conf.Confirm(ce.ctx, ce.request(credSign, testPIN, ce.sess.Code))
	if !errors.Is(err, ce.audit.fail) {
		t.Fatalf("Confirm: %v, want the audit error", err)
	}
	if s := ce.get(t, ce.sess.ID); s.State != session.StateScanned {
		t.Fatalf("state %s, want scanned", s.State)
	}
	ce.audit.fail = nil
	if _, err := ce.conf.Confirm(ce.ctx, ce.request(credSign, testPIN, ce.sess.Code)); err != nil {
		t.Fatalf("confirm once the audit is back: %v", err)
	}
}

// TestConfirmerNeedsParts: a Confirmer without its parts refuses.
func TestConfirmerNeedsParts(t *testing.T) {
	_, err := (&session.Confirmer{}).Confirm(context.Background(), session.ConfirmRequest{})
	if !errors.Is(err, session.ErrInvalidArgument) {
		t.Fatalf("Confirm: %v", err)
	}
}

// TestLoginProof: only the exact result of a completed login session of
// the asking app proves a login; a challenge naming another app is not
// answered at all.
func TestLoginProof(t *testing.T) {
	ce := newConfirmEnv(t, loginParams())
	done, err := ce.conf.Confirm(ce.ctx, ce.request(credSign, testPIN, ce.sess.Code))
	if err != nil {
		t.Fatal(err)
	}
	var res protocol.LoginResult
	if err := json.Unmarshal(done.Result, &res); err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(res.Signature)
	flipped[len(flipped)-1] ^= 1
	tests := []struct {
		name      string
		app       string
		data, sig []byte
		want      string
	}{
		{"the login's result", app, res.Challenge, res.Signature, "true"},
		{"another signature", app, res.Challenge, flipped, "false"},
		{"another app asks", "app_2", res.Challenge, res.Signature, "nil"},
		{"not a challenge", app, []byte("bid"), res.Signature, "nil"},
		{"no signature", app, res.Challenge, nil, "nil"},
	}
	for _, tt := range tests {
		got, err := ce.svc.LoginProof(ce.ctx, tt.app, tt.data, tt.sig)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		s := "nil"
		if got != nil {
			s = fmt.Sprint(*got)
		}
		if s != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, s, tt.want)
		}
	}
}
