package protocol

import "time"

// Registration states.
const (
	RegistrationPending  = "pending_review"
	RegistrationApproved = "approved"
	RegistrationRejected = "rejected"
)

// Registration types: a new user's registration, or a user's correction
// of their personal fields.
const (
	RegistrationTypeRegister   = "register"
	RegistrationTypeCorrection = "correction"
)

// Consent is the applicant's consent to a version of the privacy policy.
// In a request only PolicyVersion is read; the gateway records when.
type Consent struct {
	PolicyVersion string    `json:"policy_version"`
	AcceptedAt    time.Time `json:"accepted_at,omitzero"`
}

// RegisterRequest is the body of POST /v1/register (unsigned). A person
// gives IDNumber (GB 11643, 18 characters with the check character); an
// organisation gives CreditCode (统一社会信用代码, GB 32100) and may give
// LegalRep and LicencePNG (the business licence, a PNG or JPEG image,
// base64 in JSON). Consent.PolicyVersion must be the current version of
// the privacy policy (GET /v1/register/policy).
type RegisterRequest struct {
	Kind       string  `json:"kind"`
	Name       string  `json:"name"`
	IDNumber   string  `json:"id_number,omitempty"`
	CreditCode string  `json:"credit_code,omitempty"`
	Phone      string  `json:"phone"`
	LegalRep   string  `json:"legal_rep,omitempty"`
	LicencePNG []byte  `json:"licence_png,omitempty"`
	Consent    Consent `json:"consent"`
}

// RegistrationCreated answers POST /v1/register and POST /v1/me/corrections
// (201).
type RegistrationCreated struct {
	ID    string `json:"id"`
	State string `json:"state"`
}

// RegistrationStatus answers GET /v1/register/{id}: where an applicant's
// request stands. The id (80 random bits, answered only to the applicant
// by POST /v1/register) is the applicant's handle on it; the answer holds
// no personal field, only the state and, for a rejection, the RA's (or
// the identity verifier's) reason. An approval's activation code is never
// in it: the operator hands it out as for any new user.
type RegistrationStatus struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"` // register or correction
	State     string    `json:"state"`
	Kind      string    `json:"kind,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	DecidedAt time.Time `json:"decided_at,omitzero"`
}

// RegistrationPolicy answers GET /v1/register/policy: the privacy policy
// version a registration must consent to, and where to read it.
type RegistrationPolicy struct {
	PolicyVersion string `json:"policy_version"`
	PolicyURL     string `json:"policy_url,omitempty"`
	// MaxLicenceBytes and MaxLicencePixels are the limits of a licence
	// image (registration.max_licence_bytes), so that an app can check a
	// picture before it uploads it.
	MaxLicenceBytes  int `json:"max_licence_bytes,omitempty"`
	MaxLicencePixels int `json:"max_licence_pixels,omitempty"`
}

// RegistrationCheck is one identity verifier's result on a registration.
type RegistrationCheck struct {
	Verifier string `json:"verifier"`
	Outcome  string `json:"outcome"` // pass, fail or refer
	Reason   string `json:"reason,omitempty"`
}

// Registration is a registration or correction request as the operator
// sees it (GET /v1/admin/registrations[/{id}]).
type Registration struct {
	ID         string `json:"id"`
	Type       string `json:"type"` // register or correction
	State      string `json:"state"`
	Kind       string `json:"kind,omitempty"`
	Name       string `json:"name,omitempty"`
	IDNumber   string `json:"id_number,omitempty"`
	CreditCode string `json:"credit_code,omitempty"`
	Phone      string `json:"phone,omitempty"`
	LegalRep   string `json:"legal_rep,omitempty"`
	// LicenceType is the licence image's media type (image/png or
	// image/jpeg); LicenceBytes its size. The image itself is in the
	// single-registration answer only (Licence).
	LicenceType  string              `json:"licence_type,omitempty"`
	LicenceBytes int                 `json:"licence_bytes,omitempty"`
	Licence      []byte              `json:"licence,omitempty"`
	Consent      *Consent            `json:"consent,omitempty"`
	Checks       []RegistrationCheck `json:"checks,omitempty"`
	// User is the user created by the approval (register) or whose fields
	// the correction changes.
	User      string    `json:"user,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	DecidedAt time.Time `json:"decided_at,omitzero"`
	DecidedBy string    `json:"decided_by,omitempty"`
	Reason    string    `json:"reason,omitempty"`
}

// RegistrationList answers GET /v1/admin/registrations.
type RegistrationList struct {
	Registrations []Registration `json:"registrations"`
}

// RegistrationDecision is the body of POST
// /v1/admin/registrations/{id}/approve (reason optional) and …/reject
// (reason required).
type RegistrationDecision struct {
	Reason string `json:"reason,omitempty"`
}

// RegistrationApproval answers the approval of a registration: the user
// created, its activation code and enrollment link exactly as POST
// /v1/admin/users hands them out. The approval of a correction has the
// corrected user and no code.
type RegistrationApproval struct {
	Registration        Registration `json:"registration"`
	User                User         `json:"user"`
	ActivationCode      string       `json:"activation_code,omitempty"`
	ActivationExpiresAt time.Time    `json:"activation_expires_at,omitzero"`
	EnrollmentURL       string       `json:"enrollment_url,omitempty"`
}

// CorrectionRequest is the body of POST /v1/me/corrections
// (device-signed): the personal fields to correct; empty ones stay.
type CorrectionRequest struct {
	Name     string `json:"name,omitempty"`
	IDNumber string `json:"id_number,omitempty"`
	Phone    string `json:"phone,omitempty"`
}
