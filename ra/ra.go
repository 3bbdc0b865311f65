package ra

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // licence images: JPEG
	_ "image/png"  // licence images: PNG
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm3"
	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/ca"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/storage"
)

// Registration is a stored registration or correction request (the wire
// type; Licence is the image, kept with the request).
type Registration = protocol.Registration

// Config sets the policy of registrations.
type Config struct {
	// PolicyVersion is the current version of the privacy policy; every
	// registration must consent to it (required).
	PolicyVersion string
	// PolicyURL is where applicants read the policy (shown by the app).
	PolicyURL string
	// MaxLicenceBytes bounds a licence image's size; MaxLicencePixels its
	// width × height (checked from the header before it is decoded).
	MaxLicenceBytes  int
	MaxLicencePixels int
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// DefaultConfig returns the defaults: policy version "2026-01", licences
// up to 512 KiB and 16 megapixels.
func DefaultConfig() Config {
	return Config{PolicyVersion: "2026-01", MaxLicenceBytes: 512 << 10, MaxLicencePixels: 16_000_000}
}

// Validate names what is wrong with c.
func (c Config) Validate() error {
	switch {
	case strings.TrimSpace(c.PolicyVersion) == "" || len(c.PolicyVersion) > 64:
		return fmt.Errorf("ra: policy_version %q: must be 1 to 64 characters", c.PolicyVersion)
	case c.MaxLicenceBytes <= 0 || c.MaxLicenceBytes > 4<<20:
		return fmt.Errorf("ra: max_licence_bytes %d: must be from 1 to 4194304", c.MaxLicenceBytes)
	case c.MaxLicencePixels <= 0:
		return fmt.Errorf("ra: max_licence_pixels %d: must be positive", c.MaxLicencePixels)
	}
	return nil
}

// Service is the registration authority.
type Service struct {
	cfg       Config
	store     storage.Store
	ca        *ca.Service
	verifiers []Verifier
}

// New returns the service. With no verifiers, Manual is used.
func New(cfg Config, store storage.Store, caSvc *ca.Service, verifiers ...Verifier) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if len(verifiers) == 0 {
		verifiers = []Verifier{Manual{}}
	}
	return &Service{cfg: cfg, store: store, ca: caSvc, verifiers: verifiers}, nil
}

// Policy returns the current privacy policy version and its URL.
func (s *Service) Policy() protocol.RegistrationPolicy {
	return protocol.RegistrationPolicy{PolicyVersion: s.cfg.PolicyVersion, PolicyURL: s.cfg.PolicyURL,
		MaxLicenceBytes: s.cfg.MaxLicenceBytes, MaxLicencePixels: s.cfg.MaxLicencePixels}
}

// Storage keys.
const (
	pfxRegistrations = "registrations/"     // registrations/<id>
	pfxPending       = "regpending/"        // regpending/<SM3 of the identity>: the undecided request of it
	pfxByUser        = "userregistrations/" // userregistrations/<user>/<id>: index
	prefixID         = "reg_"
)

func regKey(id string) string { return pfxRegistrations + id }

// ByUserPrefix is the storage prefix of a user's registration index.
func byUserKey(user, id string) string { return pfxByUser + user + "/" + id }

// pendingKey is the key that makes a second undecided request of the same
// identity (ID number, credit code, or the user of a correction) a
// conflict: the SM3 of it, so the key reveals nothing.
func pendingKey(identity string) string {
	h := sm3.Sum([]byte(identity))
	return pfxPending + hex.EncodeToString(h[:])
}

func identity(r *Registration) string {
	switch {
	case r.Type == protocol.RegistrationTypeCorrection:
		return "user:" + r.User
	case r.Kind == ca.UserKindOrganization:
		return "org:" + r.CreditCode
	}
	return "person:" + r.IDNumber
}

func newID() (string, error) {
	const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	for i := range b {
		b[i] = alphabet[b[i]&31]
	}
	return prefixID + string(b), nil
}

func put(key string, v any) (storage.Op, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return storage.Op{}, fmt.Errorf("ra: encode %s: %w", key, err)
	}
	return storage.Put(key, b, 0), nil
}

func field(err error, name, format string, args ...any) error {
	return &protocol.FieldError{Field: name, Reason: fmt.Sprintf(format, args...), Err: err}
}

// checkApplication checks the fields of a registration with the
// registration's own errors first (checksums, licence, consent), then the
// CA's rules for a user.
func (s *Service) checkApplication(req *protocol.RegisterRequest) (licenceType string, err error) {
	switch req.Kind {
	case ca.UserKindPerson:
		if req.CreditCode != "" || req.LegalRep != "" || len(req.LicencePNG) > 0 {
			return "", protocol.Invalid("kind", "credit_code, legal_rep and licence_png are for kind %s", ca.UserKindOrganization)
		}
		if !ca.ValidIDNumber(req.IDNumber) {
			return "", field(ErrIDNumber, "id_number", "not a citizen ID number: 17 digits and the GB 11643 check character (0-9 or X)")
		}
		req.IDNumber = strings.ToUpper(req.IDNumber)
	case ca.UserKindOrganization:
		if req.IDNumber != "" {
			return "", protocol.Invalid("id_number", "not for kind %s (the credit code identifies it)", ca.UserKindOrganization)
		}
		if !ca.ValidCreditCode(req.CreditCode) {
			return "", field(ErrCreditCode, "credit_code", "not a 统一社会信用代码: 18 characters of 0-9 and A-Y without I, O, S, V, Z, with the GB 32100 check character last")
		}
		req.CreditCode = strings.ToUpper(req.CreditCode)
		if len(req.LegalRep) > 200 {
			return "", protocol.Invalid("legal_rep", "longer than 200 bytes")
		}
	default:
		return "", protocol.Invalid("kind", "must be %s or %s", ca.UserKindPerson, ca.UserKindOrganization)
	}
	if strings.TrimSpace(req.Phone) == "" {
		return "", protocol.Invalid("phone", "required")
	}
	if req.Consent.PolicyVersion == "" {
		return "", protocol.Invalid("consent.policy_version", "required: the applicant must consent to the privacy policy")
	}
	if req.Consent.PolicyVersion != s.cfg.PolicyVersion {
		return "", field(ErrPolicyVersion, "consent.policy_version", "the current privacy policy is version %q", s.cfg.PolicyVersion)
	}
	u := ca.UserRequest{Name: strings.TrimSpace(req.Name), IDNumber: req.IDNumber, Phone: req.Phone, Kind: req.Kind, CreditCode: req.CreditCode}
	if err := u.Validate(); err != nil {
		return "", err
	}
	if len(req.LicencePNG) > 0 {
		return s.checkLicence(req.LicencePNG)
	}
	return "", nil
}

// checkLicence accepts a PNG or JPEG within the limits, decoding it whole
// so that only a real image passes.
func (s *Service) checkLicence(b []byte) (string, error) {
	if len(b) > s.cfg.MaxLicenceBytes {
		return "", field(ErrLicence, "licence_png", "larger than %d bytes", s.cfg.MaxLicenceBytes)
	}
	typ := http.DetectContentType(b)
	if typ != "image/png" && typ != "image/jpeg" {
		return "", field(ErrLicence, "licence_png", "not a PNG or JPEG image")
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return "", field(ErrLicence, "licence_png", "unreadable image header")
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > 20000 || cfg.Height > 20000 || cfg.Width*cfg.Height > s.cfg.MaxLicencePixels {
		return "", field(ErrLicence, "licence_png", "%d×%d pixels: at most %d pixels", cfg.Width, cfg.Height, s.cfg.MaxLicencePixels)
	}
	if _, _, err := image.Decode(bytes.NewReader(b)); err != nil {
		return "", field(ErrLicence, "licence_png", "the image does not decode")
	}
	return typ, nil
}

// Submit records a registration with the applicant's consent (the policy
// version and now), runs the verifiers and answers the stored request:
// pending_review, or rejected when a verifier failed it. The submission
// and its audit entry (ctx's action, built from the *Registration) are one
// transaction. A second undecided registration of the same identity is
// ErrPending.
func (s *Service) Submit(ctx context.Context, req protocol.RegisterRequest) (*Registration, error) {
	typ, err := s.checkApplication(&req)
	if err != nil {
		return nil, err
	}
	id, err := newID()
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now().UTC()
	r := &Registration{
		ID: id, Type: protocol.RegistrationTypeRegister, State: protocol.RegistrationPending, Kind: req.Kind,
		Name: strings.TrimSpace(req.Name), IDNumber: req.IDNumber, CreditCode: req.CreditCode, Phone: req.Phone,
		LegalRep: req.LegalRep, LicenceType: typ, LicenceBytes: len(req.LicencePNG), Licence: req.LicencePNG,
		Consent: &protocol.Consent{PolicyVersion: req.Consent.PolicyVersion, AcceptedAt: now}, CreatedAt: now,
	}
	app := Application{Kind: r.Kind, Name: r.Name, IDNumber: r.IDNumber, CreditCode: r.CreditCode, Phone: r.Phone, LegalRep: r.LegalRep, Licence: r.Licence}
	for _, v := range s.verifiers {
		c, err := v.Verify(ctx, app)
		if err != nil {
			c = Check{Verifier: v.Name(), Outcome: OutcomeRefer, Reason: "verifier unavailable; refer to RA review"}
		}
		r.Checks = append(r.Checks, protocol.RegistrationCheck{Verifier: c.Verifier, Outcome: c.Outcome, Reason: c.Reason})
		if c.Outcome == OutcomeFail {
			r.State, r.DecidedAt, r.DecidedBy, r.Reason = protocol.RegistrationRejected, now, "verifier:"+c.Verifier, c.Reason
			break
		}
	}
	op, err := put(regKey(id), r)
	if err != nil {
		return nil, err
	}
	ops := []storage.Op{storage.IfAbsent(regKey(id)), op}
	if r.State == protocol.RegistrationPending {
		pk := pendingKey(identity(r))
		ops = append(ops, storage.IfAbsent(pk), storage.Put(pk, []byte(id), 0))
	}
	if _, err := audit.Commit(ctx, s.store, ops, r); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return nil, fmt.Errorf("%w: %s", ErrPending, identity(r)[:strings.IndexByte(identity(r), ':')])
		}
		return nil, err
	}
	return r, nil
}

// SubmitCorrection queues user's correction of their personal fields for
// RA review (ctx's action audits it in the same transaction).
func (s *Service) SubmitCorrection(ctx context.Context, user string, c ca.Correction) (*Registration, error) {
	if c.Empty() {
		return nil, protocol.Invalid("name", "nothing to correct: give name, id_number or phone")
	}
	if c.IDNumber != "" && !ca.ValidIDNumber(c.IDNumber) {
		return nil, field(ErrIDNumber, "id_number", "not a citizen ID number: 17 digits and the GB 11643 check character (0-9 or X)")
	}
	c.IDNumber = strings.ToUpper(c.IDNumber)
	u, err := s.ca.User(ctx, user)
	if err != nil {
		return nil, err
	}
	// The corrected user must pass the CA's checks now, not at approval.
	probe := ca.UserRequest{Name: u.Name, IDNumber: u.IDNumber, Phone: u.Phone, Organization: u.Organization, Kind: u.Kind, CreditCode: u.CreditCode}
	if c.Name != "" {
		probe.Name = strings.TrimSpace(c.Name)
	}
	if c.IDNumber != "" {
		probe.IDNumber = c.IDNumber
	}
	if c.Phone != "" {
		probe.Phone = c.Phone
	}
	if err := probe.Validate(); err != nil {
		return nil, err
	}
	id, err := newID()
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now().UTC()
	r := &Registration{ID: id, Type: protocol.RegistrationTypeCorrection, State: protocol.RegistrationPending, Kind: u.Kind,
		Name: strings.TrimSpace(c.Name), IDNumber: c.IDNumber, Phone: c.Phone, User: user, CreatedAt: now,
		Checks: []protocol.RegistrationCheck{{Verifier: Manual{}.Name(), Outcome: OutcomeRefer, Reason: "corrections are reviewed by the RA"}}}
	op, err := put(regKey(id), r)
	if err != nil {
		return nil, err
	}
	pk := pendingKey(identity(r))
	ops := []storage.Op{storage.IfAbsent(regKey(id)), op, storage.IfAbsent(pk), storage.Put(pk, []byte(id), 0),
		storage.Put(byUserKey(user, id), nil, 0)}
	if _, err := audit.Commit(ctx, s.store, ops, r); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return nil, fmt.Errorf("%w: a correction of this user", ErrPending)
		}
		return nil, err
	}
	return r, nil
}

func (s *Service) load(ctx context.Context, id string) (*Registration, int64, error) {
	if !strings.HasPrefix(id, prefixID) || !ca.ValidID(id) {
		return nil, 0, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	kv, err := s.store.Get(ctx, regKey(id))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, 0, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, 0, err
	}
	var r Registration
	if err := json.Unmarshal(kv.Value, &r); err != nil {
		return nil, 0, fmt.Errorf("ra: corrupt record %s: %w", kv.Key, err)
	}
	return &r, kv.Revision, nil
}

// Get returns one request, with its licence image.
func (s *Service) Get(ctx context.Context, id string) (*Registration, error) {
	r, _, err := s.load(ctx, id)
	return r, err
}

// List returns the requests in state (all when empty), oldest first,
// without their licence images.
func (s *Service) List(ctx context.Context, state string) ([]Registration, error) {
	kvs, _, err := s.store.List(ctx, pfxRegistrations)
	if err != nil {
		return nil, err
	}
	out := []Registration{}
	for _, kv := range kvs {
		var r Registration
		if err := json.Unmarshal(kv.Value, &r); err != nil {
			return nil, fmt.Errorf("ra: corrupt record %s: %w", kv.Key, err)
		}
		if state != "" && r.State != state {
			continue
		}
		r.Licence = nil
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Registration) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

// OfUser returns the registration and correction requests of user (for
// the user's data export), with their licence images.
func (s *Service) OfUser(ctx context.Context, user string) ([]Registration, error) {
	kvs, _, err := s.store.List(ctx, pfxByUser+user+"/")
	if err != nil {
		return nil, err
	}
	ids := []string{}
	for _, kv := range kvs {
		ids = append(ids, strings.TrimPrefix(kv.Key, pfxByUser+user+"/"))
	}
	if u, err := s.ca.User(ctx, user); err == nil && u.Registration != "" && !slices.Contains(ids, u.Registration) {
		ids = append(ids, u.Registration)
	}
	out := []Registration{}
	for _, id := range ids {
		r, _, err := s.load(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, *r)
	}
	return out, nil
}

// Decided is the result of a decision: the request as decided and, for an
// approval, the user (created or corrected) and, for a registration, the
// activation code.
type Decided struct {
	Registration   *Registration
	User           *ca.User
	ActivationCode string
}

// decide writes r decided by operator with reason: the conditions and
// writes that go into the transaction of the decision.
func decideOps(r *Registration, rev int64) ([]storage.Op, error) {
	op, err := put(regKey(r.ID), r)
	if err != nil {
		return nil, err
	}
	ops := []storage.Op{storage.IfRevision(regKey(r.ID), rev), op, storage.Delete(pendingKey(identity(r)))}
	if r.User != "" {
		ops = append(ops, storage.Put(byUserKey(r.User, r.ID), nil, 0))
	}
	return ops, nil
}

// Approve approves a pending request by operator: a registration creates
// its user (ca.AddUserWith, exactly as the operator's user add, recording
// the registration on the user) and answers the activation code; a
// correction applies the fields (ca.CorrectUser). The decision, the user
// change and ctx's audit entry (built from the *ca.User the ca service
// commits) are one transaction.
func (s *Service) Approve(ctx context.Context, id, operator, reason string) (*Decided, error) {
	r, rev, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.State != protocol.RegistrationPending {
		return nil, fmt.Errorf("%w: %s is %s", ErrDecided, id, r.State)
	}
	r.State, r.DecidedAt, r.DecidedBy, r.Reason = protocol.RegistrationApproved, s.cfg.Now().UTC(), operator, reason
	d := &Decided{Registration: r}
	if r.Type == protocol.RegistrationTypeCorrection {
		ops, err := decideOps(r, rev)
		if err != nil {
			return nil, err
		}
		u, err := s.ca.CorrectUser(ctx, r.User, ca.Correction{Name: r.Name, IDNumber: r.IDNumber, Phone: r.Phone}, ops...)
		if err != nil {
			return nil, s.conflict(err, id)
		}
		d.User = u
		return d, nil
	}
	// The user's id is chosen first, so that the decision names the user
	// and joins the user's index in the user's own transaction.
	if r.User, err = ca.NewUserID(); err != nil {
		return nil, err
	}
	ops, err := decideOps(r, rev)
	if err != nil {
		return nil, err
	}
	u, code, err := s.ca.AddUserWith(ctx, ca.UserRequest{ID: r.User, Name: r.Name, IDNumber: r.IDNumber, Phone: r.Phone,
		Kind: r.Kind, CreditCode: r.CreditCode, Registration: r.ID}, ops...)
	if err != nil {
		return nil, s.conflict(err, id)
	}
	d.User, d.ActivationCode = u, code
	return d, nil
}

func (s *Service) conflict(err error, id string) error {
	if errors.Is(err, storage.ErrConflict) {
		return fmt.Errorf("%w: %s was decided meanwhile", ErrDecided, id)
	}
	return err
}

// Reject rejects a pending request by operator with reason (required).
// The decision and ctx's audit entry (built from the *Decided) are one
// transaction.
func (s *Service) Reject(ctx context.Context, id, operator, reason string) (*Decided, error) {
	if strings.TrimSpace(reason) == "" {
		return nil, protocol.Invalid("reason", "required: say why the registration is rejected")
	}
	r, rev, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.State != protocol.RegistrationPending {
		return nil, fmt.Errorf("%w: %s is %s", ErrDecided, id, r.State)
	}
	r.State, r.DecidedAt, r.DecidedBy, r.Reason = protocol.RegistrationRejected, s.cfg.Now().UTC(), operator, reason
	ops, err := decideOps(r, rev)
	if err != nil {
		return nil, err
	}
	d := &Decided{Registration: r}
	if _, err := audit.Commit(ctx, s.store, ops, d); err != nil {
		return nil, s.conflict(err, id)
	}
	return d, nil
}
