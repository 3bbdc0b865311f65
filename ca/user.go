package ca

import (
	"context"
	"crypto/hmac"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm3"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/storage"
)

// userRecord is what users/<id> holds.
type userRecord struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	IDNumber     string `json:"id_number,omitempty"`
	Phone        string `json:"phone,omitempty"`
	Organization string `json:"organization,omitempty"`
	Kind         string `json:"kind,omitempty"`
	CreditCode   string `json:"credit_code,omitempty"`
	// Registration is the id of the approved registration the user came
	// from (ra); empty for users the operator added directly.
	Registration        string    `json:"registration,omitempty"`
	CreatedAt           time.Time `json:"created_at"`
	ActivationExpiresAt time.Time `json:"activation_expires_at"`
	Devices             []string  `json:"devices,omitempty"`
	// PINSalt is the per-user salt of DerivePINKey; PINVerifier is
	// HMAC-SM3(PIN key, pinVerifierLabel). Both are empty until enrollment.
	PINSalt     []byte `json:"pin_salt,omitempty"`
	PINVerifier []byte `json:"pin_verifier,omitempty"`
	// FailedPINs counts wrong PINs in a row; LockedUntil is the end of the
	// current lock; LastPINAt the last successful PIN use, to within
	// LastPINAtResolution (a success refreshes it only when it is older,
	// so a PIN use whose counter is already 0 writes nothing).
	FailedPINs  int       `json:"failed_pins,omitempty"`
	LockedUntil time.Time `json:"locked_until,omitzero"`
	LastPINAt   time.Time `json:"last_pin_at,omitzero"`
	// pinUnchanged is set by a successful checkPIN that changed nothing
	// worth storing (counter already 0, no lock, LastPINAt recent): the
	// caller then only conditions its transaction on the record's
	// revision instead of rewriting it. Never stored.
	pinUnchanged bool
	// DeletedAt marks the record of a user who deleted their account
	// (erase.go): every other field but ID and Devices is already erased,
	// and the user is unknown to everything but the erasure.
	DeletedAt time.Time `json:"deleted_at,omitzero"`
	// Reissue lists the signing credentials a PIN reset revoked, to be
	// issued again at the next enrollment (resetpin.go).
	Reissue []reissueSpec `json:"reissue,omitempty"`
}

func (u *userRecord) enrolled() bool { return len(u.PINVerifier) > 0 }

// organization reports whether u is an organisation user.
func (u *userRecord) organization() bool { return u.Kind == UserKindOrganization }

func (u *userRecord) toUser(now time.Time) *User {
	out := &User{
		ID: u.ID, Name: u.Name, IDNumber: u.IDNumber, Phone: u.Phone, Organization: u.Organization,
		Kind: u.Kind, CreditCode: u.CreditCode, Registration: u.Registration, CreatedAt: u.CreatedAt, Enrolled: u.enrolled(), ActivationExpiresAt: u.ActivationExpiresAt,
		Devices: append([]string(nil), u.Devices...),
	}
	if now.Before(u.LockedUntil) {
		out.PINLockedUntil = u.LockedUntil
	}
	return out
}

// activationRecord is what activation/<hash> holds.
type activationRecord struct {
	UserID    string    `json:"user"`
	ExpiresAt time.Time `json:"expires_at"`
	UsedAt    time.Time `json:"used_at,omitzero"`
	DeviceID  string    `json:"device,omitempty"`
}

// activationGrace is how long an activation record outlives its expiry in
// the store, so that a late try hears "expired" (or "used") rather than
// "invalid".
const activationGrace = 7 * 24 * time.Hour

// deviceRecord is what devices/<id> holds.
type deviceRecord struct {
	ID        string    `json:"id"`
	UserID    string    `json:"user"`
	Name      string    `json:"name"`
	PublicKey []byte    `json:"public_key"` // SubjectPublicKeyInfo DER
	CreatedAt time.Time `json:"created_at"`
	// RevokedAt and RevocationReason are set by RevokeDevice.
	RevokedAt        time.Time `json:"revoked_at,omitzero"`
	RevocationReason string    `json:"revocation_reason,omitempty"`
}

// Activation codes: 20 characters of Crockford's base32 (100 bits), shown
// as four groups of five ("7K3QX-…"). Entry is forgiving: case, spaces and
// dashes are ignored, and O, I, L read as 0, 1, 1.
const (
	codeAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	codeLen      = 20
	codeGroup    = 5
)

func newActivationCode() (string, error) {
	b, err := gmcrypto.RandomBytes(codeLen)
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	for i, c := range b {
		if i > 0 && i%codeGroup == 0 {
			sb.WriteByte('-')
		}
		sb.WriteByte(codeAlphabet[c&31])
	}
	return sb.String(), nil
}

// normalizeCode returns the canonical 20 characters of a typed code, or
// false if it cannot be one.
func normalizeCode(code string) (string, bool) {
	if len(code) > 4*codeLen {
		return "", false
	}
	var sb strings.Builder
	for _, r := range strings.ToUpper(code) {
		switch {
		case r == '-' || r == ' ':
			continue
		case r == 'O':
			r = '0'
		case r == 'I' || r == 'L':
			r = '1'
		}
		if r > 127 || !strings.ContainsRune(codeAlphabet, r) {
			return "", false
		}
		sb.WriteRune(r)
	}
	if sb.Len() != codeLen {
		return "", false
	}
	return sb.String(), true
}

// activationKey is the storage key of a normalized code: its HMAC-SM3
// under a key derived from the master key, so the store alone reveals
// nothing usable.
func (s *Service) activationStoreKey(norm string) string {
	m := hmac.New(sm3.New, s.activationKey)
	m.Write([]byte(norm))
	return pfxActivation + hex.EncodeToString(m.Sum(nil))
}

// Limits of user fields.
const (
	maxIDNumberLen   = 64
	maxPhoneLen      = 32
	maxDeviceNameLen = 64
)

// AddUser creates a user and returns it with a one-time activation code
// (shown once; only its HMAC is stored) that expires after
// Config.ActivationTTL. Bad fields are a *RequestError.
func (s *Service) AddUser(ctx context.Context, req UserRequest) (*User, string, error) {
	return s.AddUserWith(ctx, req)
}

// AddUserWith is AddUser committing extra (conditions and writes of the
// caller, such as the registration the user comes from) in the same
// transaction as the user, its activation code and the audit entry.
func (s *Service) AddUserWith(ctx context.Context, req UserRequest, extra ...storage.Op) (*User, string, error) {
	if err := req.Validate(); err != nil {
		return nil, "", err
	}
	if req.Kind == UserKindPerson {
		req.Kind = "" // the default, stored as before
	}
	if req.Kind == UserKindOrganization && req.Organization == "" {
		req.Organization = req.Name
	}
	id := req.ID
	if id == "" {
		var err error
		if id, err = NewUserID(); err != nil {
			return nil, "", err
		}
	} else if !strings.HasPrefix(id, prefixUser) || !ValidID(id) {
		return nil, "", invalid("id", "not a user id from NewUserID")
	}
	code, err := newActivationCode()
	if err != nil {
		return nil, "", err
	}
	norm, _ := normalizeCode(code)
	now := s.now().UTC()
	u := &userRecord{
		ID: id, Name: req.Name, IDNumber: req.IDNumber, Phone: req.Phone, Organization: req.Organization,
		Kind: req.Kind, CreditCode: strings.ToUpper(req.CreditCode), Registration: req.Registration, CreatedAt: now, ActivationExpiresAt: now.Add(s.cfg.ActivationTTL),
	}
	act := &activationRecord{UserID: id, ExpiresAt: u.ActivationExpiresAt}
	ak := s.activationStoreKey(norm)
	var b txnBuilder
	b.cond(userKey(id), 0)
	b.cond(ak, 0)
	b.put(userKey(id), u, 0)
	b.put(ak, act, s.cfg.ActivationTTL+activationGrace)
	b.ops = append(b.ops, extra...)
	user := u.toUser(s.now())
	if err := b.commitAction(ctx, s.store, user); err != nil {
		return nil, "", err
	}
	return user, code, nil
}

// NewUserID returns a fresh user id (for UserRequest.ID).
func NewUserID() (string, error) { return newID(prefixUser) }

func checkPhone(p string) error {
	if len(p) > maxPhoneLen {
		return invalid("phone", "longer than %d characters", maxPhoneLen)
	}
	for i, r := range p {
		if !(r >= '0' && r <= '9' || r == ' ' || r == '-' || (r == '+' && i == 0)) {
			return invalid("phone", "only digits, spaces, '-' and a leading '+'")
		}
	}
	return nil
}

// loadUser reads a user record; an unknown or malformed id is
// ErrUserNotFound.
func (s *Service) loadUser(ctx context.Context, id string) (*userRecord, int64, error) {
	u, rev, err := loadRecord[userRecord](ctx, s, userKey(id), id, ErrUserNotFound)
	if err == nil && !u.DeletedAt.IsZero() {
		return nil, 0, fmt.Errorf("%w: %s", ErrUserNotFound, id)
	}
	return u, rev, err
}

// User returns one user (ErrUserNotFound if unknown).
func (s *Service) User(ctx context.Context, id string) (*User, error) {
	u, _, err := s.loadUser(ctx, id)
	if err != nil {
		return nil, err
	}
	return u.toUser(s.now()), nil
}

// Users lists every user, sorted by id.
func (s *Service) Users(ctx context.Context) ([]*User, error) {
	kvs, _, err := s.store.List(ctx, pfxUsers)
	if err != nil {
		return nil, err
	}
	out := make([]*User, 0, len(kvs))
	for _, kv := range kvs {
		var u userRecord
		if err := jsonUnmarshal(kv, &u); err != nil {
			return nil, err
		}
		if !u.DeletedAt.IsZero() {
			continue // being erased (erase.go)
		}
		out = append(out, u.toUser(s.now()))
	}
	return out, nil
}

// Enroll binds a device to the user of an activation code and sets the
// first PIN. Every input is checked before the code is touched; then the
// code is consumed in the same transaction that creates the device and
// stores the PIN verifier, so a code works exactly once. Errors:
// ErrActivationInvalid, ErrActivationUsed, ErrActivationExpired,
// ErrMalformedPEM (the public key), ErrDeviceKey (not SM2 or P-256), ErrWeakPIN, a
// *RequestError for the device name.
//
// For a user who has enrolled before (a new phone, with a code from
// NewActivationCode) pin must be the user's CURRENT PIN: the keys stay
// wrapped under it. A wrong one is counted by the PIN lockout and refused
// with a *ReenrollError wrapping the *PINError; the code stays unused.
func (s *Service) Enroll(ctx context.Context, code string, devicePublicKeyPEM []byte, deviceName, pin string) (*User, *Device, error) {
	norm, ok := normalizeCode(code)
	if !ok {
		return nil, nil, ErrActivationInvalid
	}
	if len(devicePublicKeyPEM) > maxPEMLen {
		return nil, nil, invalid("device_public_key", "longer than %d bytes", maxPEMLen)
	}
	pub, err := gmcrypto.ParseDevicePublicKeyPEM(devicePublicKeyPEM)
	if errors.Is(err, gmcrypto.ErrUnsupported) {
		return nil, nil, fmt.Errorf("%w: %w", ErrDeviceKey, err)
	}
	if err != nil {
		return nil, nil, malformed("device_public_key", err)
	}
	pubDER, err := gmcrypto.MarshalDevicePublicKey(pub)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrDeviceKey, err)
	}
	if err := checkText("device_name", deviceName, maxDeviceNameLen, true); err != nil {
		return nil, nil, err
	}
	if err := checkPINPolicy(pin); err != nil {
		return nil, nil, err
	}
	ak := s.activationStoreKey(norm)
	devID, err := newID(prefixDevice)
	if err != nil {
		return nil, nil, err
	}

	var user *userRecord
	var dev *deviceRecord
	err = retry(ctx, func() error {
		var act activationRecord
		arev, err := s.getJSON(ctx, ak, &act)
		if errors.Is(err, storage.ErrNotFound) {
			return ErrActivationInvalid
		}
		if err != nil {
			return err
		}
		now := s.now().UTC()
		if !act.UsedAt.IsZero() {
			return ErrActivationUsed
		}
		if !now.Before(act.ExpiresAt) {
			return ErrActivationExpired
		}
		u, urev, err := s.loadUser(ctx, act.UserID)
		if errors.Is(err, ErrUserNotFound) {
			return ErrActivationInvalid
		}
		if err != nil {
			return err
		}
		// A first enrollment sets the PIN; a later one (a code from
		// NewActivationCode) checks the current PIN (see enrollPIN).
		first := !u.enrolled()
		if err := s.enrollPIN(ctx, u, urev, pin); err != nil {
			return err
		}
		var b txnBuilder
		var reissued []string
		if first {
			// After a PIN reset: the revoked signing credentials again.
			if reissued, err = s.reissue(ctx, &b, u, pin); err != nil {
				return err
			}
		}
		u.Devices = append(u.Devices, devID)
		dev = &deviceRecord{ID: devID, UserID: u.ID, Name: deviceName, PublicKey: pubDER, CreatedAt: now}
		act.UsedAt, act.DeviceID = now, devID

		b.cond(ak, arev)
		b.cond(userKey(u.ID), urev)
		b.cond(deviceKey(devID), 0)
		b.put(ak, &act, s.cfg.ActivationTTL+activationGrace)
		b.put(userKey(u.ID), u, 0)
		b.put(deviceKey(devID), dev, 0)
		enrolled := &Enrolled{UserID: u.ID, DeviceID: devID, FirstDevice: first, Reissued: reissued}
		if err := b.commitAction(ctx, s.store, enrolled); err != nil {
			return err
		}
		user = u
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	d, err := dev.toDevice()
	if err != nil {
		return nil, nil, err
	}
	return user.toUser(s.now()), d, nil
}

func (d *deviceRecord) toDevice() (*Device, error) {
	k, err := parseDeviceKeyMemo(d.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("ca: corrupt device %s: %w", d.ID, err)
	}
	return &Device{
		ID: d.ID, UserID: d.UserID, Name: d.Name, PublicKey: k.pub, KeyAlg: string(k.alg),
		PublicKeyPEM: k.pem, CreatedAt: d.CreatedAt,
		RevokedAt: d.RevokedAt, RevocationReason: d.RevocationReason,
	}, nil
}

// Device returns an enrolled device (ErrDeviceNotFound if unknown): its
// public key verifies the device's signed requests.
func (s *Service) Device(ctx context.Context, id string) (*Device, error) {
	d, _, _, err := s.DeviceRecord(ctx, id)
	return d, err
}

// DeviceRecord is Device with the store key and revision of the record
// it was read from, for a transaction conditioned on that record (a
// device request's nonce is consumed only while the device record is
// unchanged: auth.DeviceRecords).
func (s *Service) DeviceRecord(ctx context.Context, id string) (*Device, string, int64, error) {
	if !ValidID(id) {
		return nil, "", 0, fmt.Errorf("%w: %q", ErrDeviceNotFound, id)
	}
	var d deviceRecord
	rev, err := s.getJSON(ctx, deviceKey(id), &d)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, "", 0, fmt.Errorf("%w: %s", ErrDeviceNotFound, id)
	}
	if err != nil {
		return nil, "", 0, err
	}
	dev, err := d.toDevice()
	if err != nil {
		return nil, "", 0, err
	}
	return dev, deviceKey(id), rev, nil
}

// Enrolled is what Enroll hands to the audit entry of an enrollment
// (audit.WithAction): the user, the new device, and whether it is the
// user's first (which set the PIN) or a further one (which proved it).
type Enrolled struct {
	UserID      string
	DeviceID    string
	FirstDevice bool
	// Reissued are the signing credentials issued again by the first
	// enrollment after a PIN reset (ResetPIN).
	Reissued []string
}
