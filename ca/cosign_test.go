package ca

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"sync"
	"testing"

	"github.com/emmansun/gmsm/sm2"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/crypto/cosign"
	"github.com/ukeygate/ukeygate/storage"
)

// cosignCredential makes a cosign credential for userID at issuer; it
// returns the phone's secret and the credential.
func (f *fixture) cosignCredential(t testing.TB, userID, issuer string, p Purpose) (*cosign.PhoneSecret, *Credential) {
	t.Helper()
	sec, kg, err := cosign.PhoneKeyGen(CosignKeyGenBinding(userID), testPIN)
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.svc.CreateCredential(f.ctx, CredentialRequest{UserID: userID, IssuerID: issuer, Alg: gmcrypto.AlgSM2, Purpose: p, PIN: testPIN, Cosign: kg})
	if err != nil {
		t.Fatalf("CreateCredential cosign: %v", err)
	}
	if c.Mode != CredentialModeCosign || c.State != StateActive {
		t.Fatalf("credential %+v", c)
	}
	return sec, c
}

// cosignSign runs a two-party signature of digest e with the gateway's
// stored share (through CosignShare, as the api does) and the phone's
// secret and pin.
func (f *fixture) cosignSign(t testing.TB, userID string, c *Credential, g *cosign.GatewayShare, sec *cosign.PhoneSecret, pin string, e []byte) error {
	t.Helper()
	b := cosign.Binding{Session: "s", Credential: c.ID, Digest: e}
	st, err := cosign.GatewaySignStart(b)
	if err != nil {
		t.Fatal(err)
	}
	r, err := cosign.PhoneSign(sec, pin, st.Start(), b)
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.Finish(g, c.Certificate.PublicKey.(*ecdsa.PublicKey), r)
	return err
}

// The whole store and the master key give no signature: the gateway's
// share is all they hold for a cosign credential; as a key of its own it
// signs nothing that verifies, with a phone half simulated from any seed
// and any PIN (the right one included) neither, and no PIN unlocks a key.
func TestCosignStoreAndMasterKeyCannotSign(t *testing.T) {
	f := newFixture(t)
	f.generated(t, "sm2", gmcrypto.AlgSM2, nil)
	uid := f.enrolled(t, UserRequest{Name: "王五"})
	_, c := f.cosignCredential(t, uid, "sm2", PurposeSign)
	// The attacker's service: the same store, the same master key.
	thief, err := New(f.store, testMasterKey(), DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	g, _, err := thief.CosignShare(f.ctx, uid, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	rec, _, err := thief.loadCredential(f.ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.WrappedKey) != 0 {
		t.Fatal("a cosign credential has a wrapped key")
	}
	pub := c.Certificate.PublicKey.(*ecdsa.PublicKey)
	e, err := gmcrypto.Digest(pub, []byte("forged contract"), nil)
	if err != nil {
		t.Fatal(err)
	}
	k, err := sm2.NewPrivateKey(g.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	sig, err := gmcrypto.SignDigest(k, e, nil)
	if err != nil {
		t.Fatal(err)
	}
	if gmcrypto.VerifyDigest(pub, e, sig, nil) == nil {
		t.Fatal("the gateway's share signs alone")
	}
	for _, pin := range []string{"000000", "123456", "999999", testPIN} {
		sim, err := cosign.NewPhoneSecret()
		if err != nil {
			t.Fatal(err)
		}
		if err := f.cosignSign(t, uid, c, g, sim, pin, e); !errors.Is(err, gmcrypto.ErrVerification) {
			t.Fatalf("simulated phone, PIN %s: %v", pin, err)
		}
		if _, _, err := thief.UnlockKey(f.ctx, uid, c.ID, pin); !errors.Is(err, ErrIsCosign) {
			t.Fatalf("UnlockKey with PIN %s: %v", pin, err)
		}
	}
}

func TestCosignOutcomeSharesTheLockout(t *testing.T) {
	f := newFixture(t)
	f.generated(t, "sm2", gmcrypto.AlgSM2, nil)
	uid := f.enrolled(t, UserRequest{Name: "赵六"})
	sec, c := f.cosignCredential(t, uid, "sm2", PurposeSign)
	g, _, err := f.svc.CosignShare(f.ctx, uid, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	e := gmcrypto.SM3([]byte("e"))
	// The right PIN verifies; a wrong one does not.
	if err := f.cosignSign(t, uid, c, g, sec, testPIN, e); err != nil {
		t.Fatal(err)
	}
	if err := f.cosignSign(t, uid, c, g, sec, "135790", e); !errors.Is(err, gmcrypto.ErrVerification) {
		t.Fatal(err)
	}
	var last error
	for range f.svc.cfg.PINMaxTries {
		last = f.svc.CosignOutcome(f.ctx, uid, false)
	}
	var pe *PINError
	if !errors.As(last, &pe) || !pe.Locked {
		t.Fatalf("after %d invalid results: %v", f.svc.cfg.PINMaxTries, last)
	}
	if _, _, err := f.svc.CosignShare(f.ctx, uid, c.ID); !errors.As(err, &pe) || !pe.Locked {
		t.Fatalf("share while locked: %v", err)
	}
	// The usual PIN check is locked too: one counter.
	if err := f.svc.ChangePIN(f.ctx, uid, testPIN, "802461"); !errors.As(err, &pe) || !pe.Locked {
		t.Fatalf("PIN change while locked: %v", err)
	}
	f.clock.Advance(f.svc.cfg.PINLockMax + 1)
	if err := f.svc.CosignOutcome(f.ctx, uid, true); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.CosignShare(f.ctx, uid, c.ID); err != nil {
		t.Fatalf("after a verified result: %v", err)
	}
}

func TestChangePINReshares(t *testing.T) {
	f := newFixture(t)
	f.generated(t, "sm2", gmcrypto.AlgSM2, nil)
	uid := f.enrolled(t, UserRequest{Name: "钱七"})
	sec, c := f.cosignCredential(t, uid, "sm2", PurposeSign)
	before := f.snapshot(t)
	// Without the phone's re-share, or with one made from another PIN,
	// nothing changes.
	if err := f.svc.ChangePIN(f.ctx, uid, testPIN, "802461"); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("PIN change without re-share: %v", err)
	}
	_, bad, err := cosign.PhoneChangePIN(sec, "111222", "802461", cosign.ReshareBinding(c.ID))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.ChangePINCosign(f.ctx, uid, testPIN, "802461", map[string]*cosign.ReshareRequest{c.ID: bad}); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("PIN change with a wrong re-share: %v", err)
	}
	if f.snapshot(t) != before {
		t.Fatal("a refused PIN change changed the store")
	}
	next, req, err := cosign.PhoneChangePIN(sec, testPIN, "802461", cosign.ReshareBinding(c.ID))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.ChangePINCosign(f.ctx, uid, testPIN, "802461", map[string]*cosign.ReshareRequest{c.ID: req}); err != nil {
		t.Fatal(err)
	}
	g, cred, err := f.svc.CosignShare(f.ctx, uid, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if cred.Serial != c.Serial {
		t.Fatal("the certificate changed")
	}
	e := gmcrypto.SM3([]byte("after"))
	if err := f.cosignSign(t, uid, c, g, next, "802461", e); err != nil {
		t.Fatalf("new PIN: %v", err)
	}
	if err := f.cosignSign(t, uid, c, g, sec, testPIN, e); !errors.Is(err, gmcrypto.ErrVerification) {
		t.Fatalf("old seed and PIN after the change: %v", err)
	}
}

// staleStore is another node's view of the store through a record cache
// whose watch has not delivered yet: pinned keys answer the copy taken
// when pinned; a failed transaction drops the keys it named (as
// storage/readcache does), so a retry reads the store.
type staleStore struct {
	storage.Store
	mu     sync.Mutex
	pinned map[string]storage.KV
}

func (s *staleStore) pin(t testing.TB, ctx context.Context, keys ...string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pinned == nil {
		s.pinned = make(map[string]storage.KV)
	}
	for _, k := range keys {
		kv, err := s.Store.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		s.pinned[k] = kv
	}
}

func (s *staleStore) Get(ctx context.Context, key string) (storage.KV, error) {
	s.mu.Lock()
	kv, ok := s.pinned[key]
	s.mu.Unlock()
	if ok {
		return kv, nil
	}
	return s.Store.Get(ctx, key)
}

func (s *staleStore) Txn(ctx context.Context, ops ...storage.Op) (int64, error) {
	rev, err := s.Store.Txn(ctx, ops...)
	s.mu.Lock()
	for _, op := range ops {
		if op.IsWrite() || err != nil {
			delete(s.pinned, op.Key)
		}
	}
	s.mu.Unlock()
	return rev, err
}

// CosignShare does not hand out a share on an out-of-date copy of the
// credential or the user: a credential revoked, or a user locked, on
// another node is refused at once by a node whose copies are stale.
func TestCosignShareChecksStaleCopies(t *testing.T) {
	f := newFixture(t)
	f.generated(t, "sm2", gmcrypto.AlgSM2, nil)
	uid := f.enrolled(t, UserRequest{Name: "钱七"})
	_, revoked := f.cosignCredential(t, uid, "sm2", PurposeSign)
	_, other := f.cosignCredential(t, uid, "sm2", PurposeEncrypt)
	stale := &staleStore{Store: f.store}
	nodeB, err := New(stale, testMasterKey(), f.svc.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := nodeB.CosignShare(f.ctx, uid, revoked.ID); err != nil {
		t.Fatal(err)
	}

	stale.pin(t, f.ctx, credentialKey(revoked.ID), userKey(uid))
	if _, err := f.svc.Revoke(f.ctx, revoked.ID, "keyCompromise"); err != nil {
		t.Fatal(err)
	}
	_, _, err = nodeB.CosignShare(f.ctx, uid, revoked.ID)
	wantErr(t, "share of a credential revoked on another node", err, ErrCredentialNotActive)

	stale.pin(t, f.ctx, credentialKey(other.ID), userKey(uid))
	for range f.svc.cfg.PINMaxTries {
		_ = f.svc.CosignOutcome(f.ctx, uid, false)
	}
	var pe *PINError
	if _, _, err := nodeB.CosignShare(f.ctx, uid, other.ID); !errors.As(err, &pe) || !pe.Locked {
		t.Fatalf("share for a user locked on another node: %v", err)
	}
}
