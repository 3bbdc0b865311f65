package ca

import (
	"errors"
	"sync"
	"testing"
	"time"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

// TestPINLockout: 5 wrong PINs in a row lock the keys for PINLockBase, each
// further wrong PIN doubles the lock up to PINLockMax, nothing is tried
// while locked, and a right PIN resets the count. Time moves by the clock,
// never by sleeping.
func TestPINLockout(t *testing.T) {
	f := newFixture(t)
	f.generated(t, "root", gmcrypto.AlgSM2, nil)
	uid := f.enrolled(t, UserRequest{Name: "Forgetful"})
	c := f.credential(t, uid, "root", gmcrypto.AlgSM2, PurposeSign)
	const wrong = "135790"

	try := func(pin string) error {
		t.Helper()
		k, _, err := f.svc.UnlockKey(f.ctx, uid, c.ID, pin)
		if k != nil {
			gmcrypto.ZeroKey(k)
		}
		return err
	}
	wantWrong := func(err error, remaining int) {
		t.Helper()
		var pe *PINError
		if !errors.As(err, &pe) || !errors.Is(err, ErrWrongPIN) || pe.Remaining != remaining {
			t.Fatalf("got %v, want wrong PIN with %d tries left", err, remaining)
		}
	}
	wantLocked := func(err error, retry time.Duration) {
		t.Helper()
		var pe *PINError
		if !errors.As(err, &pe) || !errors.Is(err, ErrPINLocked) || pe.RetryAfter != retry {
			t.Fatalf("got %v, want locked for %s", err, retry)
		}
	}

	for i := 1; i <= 4; i++ {
		wantWrong(try(wrong), 5-i)
	}
	// A right PIN resets the count.
	if err := try(testPIN); err != nil {
		t.Fatalf("right PIN: %v", err)
	}
	for i := 1; i <= 4; i++ {
		wantWrong(try(wrong), 5-i)
	}
	wantLocked(try(wrong), 30*time.Second)
	// While locked even the right PIN is refused, and not counted.
	f.clock.Advance(10 * time.Second)
	wantLocked(try(testPIN), 20*time.Second)
	wantLocked(try(wrong), 20*time.Second)
	// Each wrong PIN after a lock doubles it, up to an hour.
	want := 30 * time.Second
	for range 10 {
		f.clock.Advance(want)
		want = min(2*want, time.Hour)
		wantLocked(try(wrong), want)
	}
	if want != time.Hour {
		t.Fatalf("lock never reached the cap: %s", want)
	}
	f.clock.Advance(time.Hour)
	if err := try(testPIN); err != nil {
		t.Fatalf("right PIN after the lock: %v", err)
	}
	wantWrong(try(wrong), 4)
}

// TestPINParallelGuesses: guesses fired at once are each counted before
// their answer, so no more than PINMaxTries-1 of them hear "wrong PIN"
// (the rest are locked), and the user is locked afterwards.
func TestPINParallelGuesses(t *testing.T) {
	f := newFixture(t)
	f.generated(t, "root", gmcrypto.AlgSM2, nil)
	uid := f.enrolled(t, UserRequest{Name: "Target"})
	c := f.credential(t, uid, "root", gmcrypto.AlgSM2, PurposeSign)
	const n = 12
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, errs[i] = f.svc.UnlockKey(f.ctx, uid, c.ID, "13579"+string(rune('0'+i%10)))
		}()
	}
	wg.Wait()
	wrong := 0
	for _, err := range errs {
		switch {
		case errors.Is(err, ErrWrongPIN):
			wrong++
		case errors.Is(err, ErrPINLocked), errors.Is(err, ErrConflict):
		default:
			t.Fatalf("unexpected %v", err)
		}
	}
	if wrong > 4 {
		t.Fatalf("%d guesses answered 'wrong PIN', at most 4 may be", wrong)
	}
	if _, _, err := f.svc.UnlockKey(f.ctx, uid, c.ID, testPIN); !errors.Is(err, ErrPINLocked) {
		t.Fatalf("after the burst the right PIN should meet the lock, got %v", err)
	}
}

// pinSetup makes a user holding three credentials (SM2 sign and encrypt,
// RSA sign) from two issuers.
func pinSetup(t *testing.T) (*fixture, string, []*Credential) {
	f := newFixture(t)
	f.generated(t, "sm2", gmcrypto.AlgSM2, nil)
	f.generated(t, "rsa", gmcrypto.AlgRSA, nil)
	uid := f.enrolled(t, UserRequest{Name: "Holder"})
	creds := []*Credential{
		f.credential(t, uid, "sm2", gmcrypto.AlgSM2, PurposeSign),
		f.credential(t, uid, "sm2", gmcrypto.AlgSM2, PurposeEncrypt),
		f.credential(t, uid, "rsa", gmcrypto.AlgRSA, PurposeSign),
	}
	return f, uid, creds
}

// opensUnder reports, for each credential, whether its stored key unwraps
// under pin with the user's stored salt. It reads the records directly, so
// it neither counts as a PIN try nor depends on the verifier.
func opensUnder(t *testing.T, f *fixture, uid, pin string, creds []*Credential) []bool {
	t.Helper()
	u, _, err := f.svc.loadUser(f.ctx, uid)
	if err != nil {
		t.Fatal(err)
	}
	k, err := gmcrypto.DerivePINKey(testMasterKey(), u.PINSalt, pin)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]bool, len(creds))
	for i, c := range creds {
		rec, _, err := f.svc.loadCredential(f.ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		der, err := gmcrypto.Unwrap(k, rec.WrappedKey, []byte(credentialKey(c.ID)))
		out[i] = err == nil
		gmcrypto.Zero(der)
	}
	return out
}

func all(bs []bool, v bool) bool {
	for _, b := range bs {
		if b != v {
			return false
		}
	}
	return true
}

func TestChangePIN(t *testing.T) {
	f, uid, creds := pinSetup(t)
	const newPIN = "97531864"

	before := f.snapshot(t)
	wantErr(t, "weak new PIN", f.svc.ChangePIN(f.ctx, uid, testPIN, "000000"), ErrWeakPIN)
	if f.snapshot(t) != before {
		t.Fatal("a weak new PIN changed the store")
	}
	wantErr(t, "wrong old PIN", f.svc.ChangePIN(f.ctx, uid, "135790", newPIN), ErrWrongPIN)
	wantErr(t, "unknown user", f.svc.ChangePIN(f.ctx, "usr_nobody", testPIN, newPIN), ErrUserNotFound)

	if err := f.svc.ChangePIN(f.ctx, uid, testPIN, newPIN); err != nil {
		t.Fatalf("ChangePIN: %v", err)
	}
	if o := opensUnder(t, f, uid, newPIN, creds); !all(o, true) {
		t.Fatalf("keys opening under the new PIN: %v", o)
	}
	for _, c := range creds {
		k, _, err := f.svc.UnlockKey(f.ctx, uid, c.ID, newPIN)
		if err != nil {
			t.Fatalf("UnlockKey %s with the new PIN: %v", c.ID, err)
		}
		if !sameKey(k.Public(), c.Certificate.PublicKey) {
			t.Fatalf("credential %s unwrapped to another key", c.ID)
		}
		gmcrypto.ZeroKey(k)
		if _, _, err := f.svc.UnlockKey(f.ctx, uid, c.ID, testPIN); !errors.Is(err, ErrWrongPIN) {
			t.Fatalf("old PIN still opens %s: %v", c.ID, err)
		}
		// reset the counter
		k, _, _ = f.svc.UnlockKey(f.ctx, uid, c.ID, newPIN)
		gmcrypto.ZeroKey(k)
	}
}

// TestChangePINAtomic makes the PIN change's transaction fail by writing
// one credential record between the change's reads and its commit (the
// credential's revision moves, so its IfRevision condition fails and the
// store applies none of the writes).
//
// What it proves: the re-wrapped keys and the new verifier go out in one
// conditional transaction; when it fails, every key still opens under the
// old PIN and none under the new, and a retry that finds fresh revisions
// moves all of them. What it does not prove: atomicity across a process
// crash, which rests on the store applying one Txn atomically (bbolt
// commits it as one transaction; the storage package tests that).
func TestChangePINAtomic(t *testing.T) {
	f, uid, creds := pinSetup(t)
	const newPIN = "97531864"
	bump := func() {
		kv, err := f.store.Get(f.ctx, credentialKey(creds[1].ID))
		if err != nil {
			t.Error(err)
			return
		}
		if _, err := storagetest.PutKey(f.ctx, f.store, kv.Key, kv.Value, 0); err != nil {
			t.Error(err)
		}
	}

	// Every attempt is disturbed: the change gives up with ErrConflict.
	testHookChangePIN = bump
	err := f.svc.ChangePIN(f.ctx, uid, testPIN, newPIN)
	testHookChangePIN = nil
	wantErr(t, "disturbed ChangePIN", err, ErrConflict)
	if o := opensUnder(t, f, uid, testPIN, creds); !all(o, true) {
		t.Fatalf("after the failed change, keys opening under the OLD PIN: %v", o)
	}
	if o := opensUnder(t, f, uid, newPIN, creds); !all(o, false) {
		t.Fatalf("after the failed change, keys opening under the NEW PIN: %v", o)
	}
	if _, _, err := f.svc.UnlockKey(f.ctx, uid, creds[0].ID, newPIN); !errors.Is(err, ErrWrongPIN) {
		t.Fatalf("new PIN accepted after a failed change: %v", err)
	}

	// Only the first attempt is disturbed: the retry re-reads and succeeds.
	var once sync.Once
	testHookChangePIN = func() { once.Do(bump) }
	err = f.svc.ChangePIN(f.ctx, uid, testPIN, newPIN)
	testHookChangePIN = nil
	if err != nil {
		t.Fatalf("ChangePIN after one conflict: %v", err)
	}
	if o := opensUnder(t, f, uid, newPIN, creds); !all(o, true) {
		t.Fatalf("after the change, keys opening under the NEW PIN: %v", o)
	}
	if o := opensUnder(t, f, uid, testPIN, creds); !all(o, false) {
		t.Fatalf("after the change, keys opening under the OLD PIN: %v", o)
	}
}

func TestPINPolicy(t *testing.T) {
	for _, tc := range []struct {
		pin string
		ok  bool
	}{
		{"246810", true}, {"975318", true}, {"123457", true}, {"000001", true}, {"864213579024", true},
		{"", false}, {"12345", false}, {"1234567890123", false}, {"111111", false}, {"123456", false},
		{"654321", false}, {"901234", false}, {"210987", false}, {"12 456", false}, {"１２３４５７", false},
	} {
		if err := checkPINPolicy(tc.pin); (err == nil) != tc.ok {
			t.Errorf("checkPINPolicy(%q) = %v, want ok=%v", tc.pin, err, tc.ok)
		}
	}
}
