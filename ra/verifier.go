package ra

import (
	"context"
	"strings"
)

// Outcomes of a verifier's check.
const (
	// OutcomePass: the verifier confirmed the identity.
	OutcomePass = "pass"
	// OutcomeFail: the verifier refuted it; the registration is rejected
	// with the check's reason at once.
	OutcomeFail = "fail"
	// OutcomeRefer: the verifier cannot decide; the RA operator does.
	OutcomeRefer = "refer"
)

// Check is one verifier's result on an application, kept with it.
type Check struct {
	Verifier string `json:"verifier"`
	Outcome  string `json:"outcome"`
	Reason   string `json:"reason,omitempty"`
}

// Application is what a verifier sees of a registration: the applicant's
// fields (ID number or credit code already checksum-checked) and the
// licence image, if any.
type Application struct {
	Kind       string
	Name       string
	IDNumber   string
	CreditCode string
	Phone      string
	LegalRep   string
	Licence    []byte
}

// Verifier checks an applicant's identity. Providers (eID, face liveness,
// bank-card four elements) implement it; the service runs its verifiers
// in order when an application arrives, records each Check on the
// registration, rejects at the first OutcomeFail, and otherwise queues the
// registration for the operator, who makes the decision that creates the
// user. An error is an outage of the provider: the registration is queued
// with an OutcomeRefer check that says so.
type Verifier interface {
	Name() string
	Verify(ctx context.Context, a Application) (Check, error)
}

// Manual is the RA operator's own review: it refers every application to
// the operator's queue (ukeygate ra list|show|approve|reject).
type Manual struct{}

// Name returns "manual".
func (Manual) Name() string { return "manual" }

// Verify refers the application to the operator.
func (Manual) Verify(context.Context, Application) (Check, error) {
	return Check{Verifier: "manual", Outcome: OutcomeRefer, Reason: "awaiting RA review"}, nil
}

// TestVerifier is a deterministic verifier for demonstrations and tests:
// it fails applications whose name contains "REJECT" (in any case) or
// "拒绝", and whose phone number ends in "0000" (an unreachable phone in
// a real provider), and passes every other one. It checks nothing real and
// must not be configured in production.
type TestVerifier struct{}

// Name returns "test".
func (TestVerifier) Name() string { return "test" }

// Verify applies the rule.
func (TestVerifier) Verify(_ context.Context, a Application) (Check, error) {
	c := Check{Verifier: "test", Outcome: OutcomePass, Reason: "test rule: passed"}
	switch {
	case strings.Contains(strings.ToUpper(a.Name), "REJECT") || strings.Contains(a.Name, "拒绝"):
		c.Outcome, c.Reason = OutcomeFail, "test rule: the name is marked for rejection"
	case strings.HasSuffix(a.Phone, "0000"):
		c.Outcome, c.Reason = OutcomeFail, "test rule: the phone number cannot be reached"
	}
	return c, nil
}

// VerifierByName returns a shipped verifier: "manual" or "test".
func VerifierByName(name string) (Verifier, bool) {
	switch name {
	case "manual":
		return Manual{}, true
	case "test":
		return TestVerifier{}, true
	}
	return nil, false
}
