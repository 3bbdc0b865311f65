package ca

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/protocol"
)

func TestNewActivationCodeReplacesUnusedCodes(t *testing.T) {
	f := newFixture(t)
	u, first, err := f.svc.AddUser(f.ctx, UserRequest{Name: "钱七"})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Hour)
	u2, second, err := f.svc.NewActivationCode(f.ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !codeFormat.MatchString(second) || second == first {
		t.Fatalf("new code %q (first %q)", second, first)
	}
	if want := f.clock.Now().UTC().Add(72 * time.Hour); !u2.ActivationExpiresAt.Equal(want) || u2.Enrolled {
		t.Fatalf("user after a new code: %+v, want expiry %s", u2, want)
	}
	if norm, _ := normalizeCode(second); strings.Contains(f.snapshot(t), norm) {
		t.Fatal("the new activation code is stored in clear")
	}
	// The first code is gone; a third one replaces the second.
	if _, _, err := f.svc.Enroll(f.ctx, first, devicePEM(t), "phone", testPIN); !errors.Is(err, ErrActivationInvalid) {
		t.Fatalf("replaced first code: %v, want ErrActivationInvalid", err)
	}
	_, third, err := f.svc.NewActivationCode(f.ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.Enroll(f.ctx, second, devicePEM(t), "phone", testPIN); !errors.Is(err, ErrActivationInvalid) {
		t.Fatalf("replaced second code: %v, want ErrActivationInvalid", err)
	}
	// A never-enrolled user's new code sets the PIN like the first would.
	got, dev, err := f.svc.Enroll(f.ctx, third, devicePEM(t), "phone", testPIN)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Enrolled || len(got.Devices) != 1 || got.Devices[0] != dev.ID {
		t.Fatalf("enrolled with the third code: %+v", got)
	}
	// A used code is kept: it still answers "used" after the next code.
	if _, _, err := f.svc.NewActivationCode(f.ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.Enroll(f.ctx, third, devicePEM(t), "phone", testPIN); !errors.Is(err, ErrActivationUsed) {
		t.Fatalf("used code after a new one: %v, want ErrActivationUsed", err)
	}
}

func TestNewActivationCodeRefusals(t *testing.T) {
	f := newFixture(t)
	if _, _, err := f.svc.AddUser(f.ctx, UserRequest{Name: "someone"}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"usr_unknown", "", "Usr_X", "usr/../x", strings.Repeat("a", 65)} {
		before := f.snapshot(t)
		if _, code, err := f.svc.NewActivationCode(f.ctx, id); !errors.Is(err, ErrUserNotFound) || code != "" {
			t.Fatalf("NewActivationCode(%q) = %q, %v; want ErrUserNotFound", id, code, err)
		}
		if f.snapshot(t) != before {
			t.Fatalf("NewActivationCode(%q) changed the store", id)
		}
	}
}

// TestNewActivationCodeConcurrent: of two codes made at once, exactly one
// works afterwards (each invalidates the codes it sees; the condition on
// the user record makes the later one see the earlier).
func TestNewActivationCodeConcurrent(t *testing.T) {
	f := newFixture(t)
	u, _, err := f.svc.AddUser(f.ctx, UserRequest{Name: "racer"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	codes := make([]string, 4)
	errs := make([]error, len(codes))
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, codes[i], errs[i] = f.svc.NewActivationCode(f.ctx, u.ID)
		}()
	}
	wg.Wait()
	works := 0
	for i, code := range codes {
		if errs[i] != nil {
			if !errors.Is(errs[i], ErrConflict) {
				t.Fatalf("NewActivationCode: %v", errs[i])
			}
			continue
		}
		if _, _, err := f.svc.Enroll(f.ctx, code, devicePEM(t), "phone", testPIN); err == nil {
			works++
		} else if !errors.Is(err, ErrActivationInvalid) && !errors.Is(err, ErrActivationUsed) {
			t.Fatalf("Enroll: %v", err)
		}
	}
	if works != 1 {
		t.Fatalf("%d of the concurrent codes enrolled a device, want exactly 1", works)
	}
}

// TestReenrollNeedsCurrentPIN is the lost-phone flow inside the CA: a new
// code for an enrolled user enrolls a second device only with the current
// PIN, counted by the lockout, and the user keeps their keys.
func TestReenrollNeedsCurrentPIN(t *testing.T) {
	f := newFixture(t)
	f.generated(t, "sm2", gmcrypto.AlgSM2, nil)
	userID := f.enrolled(t, UserRequest{Name: "孙八"})
	cred := f.credential(t, userID, "sm2", gmcrypto.AlgSM2, PurposeSign)
	_, code, err := f.svc.NewActivationCode(f.ctx, userID)
	if err != nil {
		t.Fatal(err)
	}
	devB := devicePEM(t)

	// A PIN that breaks the policy can never be the current one: refused
	// before anything is read, not counted.
	before := f.snapshot(t)
	if _, _, err := f.svc.Enroll(f.ctx, code, devB, "phone B", "111111"); !errors.Is(err, ErrWeakPIN) {
		t.Fatalf("weak PIN: %v", err)
	}
	if f.snapshot(t) != before {
		t.Fatal("a weak PIN changed the store")
	}

	// A wrong PIN: refused, counted, the code stays usable, no device.
	_, _, err = f.svc.Enroll(f.ctx, code, devB, "phone B", "864201")
	var re *ReenrollError
	var pe *PINError
	if !errors.As(err, &re) || re.UserID != userID || !errors.Is(err, ErrWrongPIN) || !errors.As(err, &pe) || pe.Remaining != 4 {
		t.Fatalf("wrong PIN on re-enrollment: %v (%+v), want a ReenrollError with 4 tries left", err, pe)
	}
	// The failure is the user's: the next wrong PIN elsewhere has 3 left.
	if _, _, err := f.svc.UnlockKey(f.ctx, userID, cred.ID, "864202"); !errors.As(err, &pe) || pe.Remaining != 3 {
		t.Fatalf("wrong PIN after the re-enrollment's: %v, want 3 tries left", err)
	}
	u, err := f.svc.User(f.ctx, userID)
	if err != nil || len(u.Devices) != 1 {
		t.Fatalf("devices after refusals: %+v %v", u, err)
	}

	// The right (current) PIN: a second device, the same keys.
	u, devBRec, err := f.svc.Enroll(f.ctx, code, devB, "phone B", testPIN)
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Devices) != 2 || u.Devices[1] != devBRec.ID || !u.Enrolled {
		t.Fatalf("after re-enrollment: %+v", u)
	}
	key, got, err := f.svc.UnlockKey(f.ctx, userID, cred.ID, testPIN)
	if err != nil {
		t.Fatalf("the old credential under the kept PIN: %v", err)
	}
	msg := []byte("still mine")
	sig, err := gmcrypto.Sign(key, msg, nil)
	gmcrypto.ZeroKey(key)
	if err != nil || gmcrypto.Verify(got.Certificate.PublicKey, msg, sig, nil) != nil {
		t.Fatalf("signing with the kept key: %v", err)
	}
	// The success reset the counter: 4 tries left after one more wrong PIN.
	if _, _, err := f.svc.UnlockKey(f.ctx, userID, cred.ID, "864203"); !errors.As(err, &pe) || pe.Remaining != 4 {
		t.Fatalf("counter after a right PIN: %v, want 4 tries left", err)
	}
	if _, _, err := f.svc.Enroll(f.ctx, code, devicePEM(t), "phone C", testPIN); !errors.Is(err, ErrActivationUsed) {
		t.Fatalf("code reused: %v", err)
	}
}

func TestReenrollLockout(t *testing.T) {
	f := newFixture(t)
	userID := f.enrolled(t, UserRequest{Name: "guessed"})
	_, code, err := f.svc.NewActivationCode(f.ctx, userID)
	if err != nil {
		t.Fatal(err)
	}
	dev := devicePEM(t)
	var pe *PINError
	for i := range 5 {
		_, _, err := f.svc.Enroll(f.ctx, code, dev, "thief", "86420"+string(rune('1'+i)))
		if i < 4 && (!errors.Is(err, ErrWrongPIN) || !errors.As(err, &pe) || pe.Remaining != 4-i) {
			t.Fatalf("guess %d: %v", i+1, err)
		}
		if i == 4 && !errors.Is(err, ErrPINLocked) {
			t.Fatalf("guess 5: %v, want ErrPINLocked", err)
		}
	}
	// Locked: even the right PIN is refused (and not counted), the code
	// stays unused.
	before := f.snapshot(t)
	if _, _, err := f.svc.Enroll(f.ctx, code, dev, "owner", testPIN); !errors.Is(err, ErrPINLocked) || !errors.As(err, &pe) || pe.RetryAfter <= 0 {
		t.Fatalf("right PIN while locked: %v", err)
	}
	if f.snapshot(t) != before {
		t.Fatal("a try while locked changed the store")
	}
	f.clock.Advance(31 * time.Second)
	if _, _, err := f.svc.Enroll(f.ctx, code, dev, "owner", testPIN); err != nil {
		t.Fatalf("right PIN after the lock: %v", err)
	}
}

func TestRevokeDevice(t *testing.T) {
	f := newFixture(t)
	userID := f.enrolled(t, UserRequest{Name: "周九"})
	u, err := f.svc.User(f.ctx, userID)
	if err != nil {
		t.Fatal(err)
	}
	devID := u.Devices[0]

	refusals := []struct {
		name, id, reason string
		want             error
	}{
		{"unknown", "dev_unknown", "", ErrDeviceNotFound},
		{"malformed", "DEV/1", "", ErrDeviceNotFound},
		{"empty id", "", "", ErrDeviceNotFound},
		{"long reason", devID, strings.Repeat("丢", 201), ErrInvalidRequest},
		{"control in reason", devID, "lost\x00", ErrInvalidRequest},
		{"padded reason", devID, " lost", ErrInvalidRequest},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			before := f.snapshot(t)
			if _, err := f.svc.RevokeDevice(f.ctx, tc.id, tc.reason); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if f.snapshot(t) != before {
				t.Fatal("store changed")
			}
		})
	}

	d, err := f.svc.RevokeDevice(f.ctx, devID, "lost on the train")
	if err != nil {
		t.Fatal(err)
	}
	if !d.Revoked() || !d.RevokedAt.Equal(f.clock.Now().UTC()) || d.RevocationReason != "lost on the train" || d.UserID != userID {
		t.Fatalf("revoked device %+v", d)
	}
	if got, err := f.svc.Device(f.ctx, devID); err != nil || !got.Revoked() {
		t.Fatalf("Device after revocation: %+v %v", got, err)
	}
	before := f.snapshot(t)
	if _, err := f.svc.RevokeDevice(f.ctx, devID, ""); !errors.Is(err, ErrDeviceAlreadyRevoked) {
		t.Fatalf("second revocation: %v", err)
	}
	if f.snapshot(t) != before {
		t.Fatal("a second revocation changed the store")
	}
	// The user keeps the PIN: a new phone enrolls with it.
	_, code, err := f.svc.NewActivationCode(f.ctx, userID)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.Enroll(f.ctx, code, devicePEM(t), "new phone", testPIN); err != nil {
		t.Fatal(err)
	}
}

func TestUserDetail(t *testing.T) {
	f := newFixture(t)
	f.generated(t, "sm2", gmcrypto.AlgSM2, nil)
	userID := f.enrolled(t, UserRequest{Name: "吴十", Organization: "某公司"})
	c1 := f.credential(t, userID, "sm2", gmcrypto.AlgSM2, PurposeSign)
	c2 := f.credential(t, userID, "sm2", gmcrypto.AlgSM2, PurposeEncrypt)
	other := f.enrolled(t, UserRequest{Name: "other"})
	f.credential(t, other, "sm2", gmcrypto.AlgSM2, PurposeSign)
	_, code, err := f.svc.NewActivationCode(f.ctx, userID)
	if err != nil {
		t.Fatal(err)
	}
	_, devB, err := f.svc.Enroll(f.ctx, code, devicePEM(t), "phone B", testPIN)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := f.svc.User(f.ctx, userID)
	if _, err := f.svc.RevokeDevice(f.ctx, u.Devices[0], "lost"); err != nil {
		t.Fatal(err)
	}

	d, err := f.svc.UserDetail(f.ctx, userID)
	if err != nil {
		t.Fatal(err)
	}
	if d.User.ID != userID || d.User.Organization != "某公司" || !d.User.Enrolled {
		t.Fatalf("user %+v", d.User)
	}
	if len(d.Devices) != 2 || !d.Devices[0].Revoked() || d.Devices[1].ID != devB.ID || d.Devices[1].Revoked() ||
		d.Devices[1].PublicKeyPEM != devB.PublicKeyPEM {
		t.Fatalf("devices %+v", d.Devices)
	}
	ids := map[string]bool{}
	for _, c := range d.Credentials {
		if c.UserID != userID {
			t.Fatalf("another user's credential %s", c.ID)
		}
		ids[c.ID] = true
	}
	if len(ids) != 2 || !ids[c1.ID] || !ids[c2.ID] {
		t.Fatalf("credentials %v, want %s and %s", ids, c1.ID, c2.ID)
	}

	fresh, _, err := f.svc.AddUser(f.ctx, UserRequest{Name: "not enrolled"})
	if err != nil {
		t.Fatal(err)
	}
	d, err = f.svc.UserDetail(f.ctx, fresh.ID)
	if err != nil || d.Devices == nil || len(d.Devices) != 0 || d.Credentials == nil || len(d.Credentials) != 0 {
		t.Fatalf("fresh user detail %+v %v", d, err)
	}
	for _, id := range []string{"usr_nobody", "", "../x"} {
		if _, err := f.svc.UserDetail(f.ctx, id); !errors.Is(err, ErrUserNotFound) {
			t.Fatalf("UserDetail(%q): %v", id, err)
		}
	}
}

// TestNewUserIDForm: the ids NewUserID makes are those the API's filters
// take as user ids (protocol.ValidUserID), or a filter would refuse them.
func TestNewUserIDForm(t *testing.T) {
	t.Parallel()
	for range 64 {
		id, err := NewUserID()
		if err != nil {
			t.Fatal(err)
		}
		if !protocol.ValidUserID(id) {
			t.Fatalf("NewUserID made %q, not a valid user id", id)
		}
	}
}
