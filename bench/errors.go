package bench

import (
	"errors"
)

// Sentinel errors of package bench, checked with errors.Is.
var (
	// ErrInvalidConfig: a Config field is missing or out of range; the
	// message names it.
	ErrInvalidConfig = errors.New("bench: invalid config")
	// ErrSetup: the gateway could not be set up for the run (issuer, app,
	// users, enrollment or credentials); it wraps the cause.
	ErrSetup = errors.New("bench: setup failed")
	// ErrForeignHost: the server named a URL on another host (a watch URL)
	// or redirected there; the load stays on the configured server.
	ErrForeignHost = errors.New("bench: the server pointed at another host")
	// ErrUnexpectedState: a session ended in another state than completed,
	// or the confirm answer was not completed.
	ErrUnexpectedState = errors.New("bench: session did not complete")
	// ErrUnexpectedEvents: the watcher did not see exactly waiting,
	// scanned, completed, in order.
	ErrUnexpectedEvents = errors.New("bench: unexpected event sequence")
	// ErrBadResult: the completed event's result is missing, malformed or
	// (with Config.Verify) does not verify.
	ErrBadResult = errors.New("bench: bad session result")
	// ErrNotOffered: the phone's scan answer does not offer the matching
	// code the portal shows, or the user's credential.
	ErrNotOffered = errors.New("bench: scan answer does not offer the code or the credential")
	// ErrWatchEnded: the watcher stopped without a final event.
	ErrWatchEnded = errors.New("bench: watch ended without a final event")
	// ErrMetrics: the server's /metrics could not be read or lacks the
	// process figures (waiting-clients mode).
	ErrMetrics = errors.New("bench: server metrics unavailable")
	// ErrProfile: the server's CPU profile (Config.CPUProfileFrom) could
	// not be fetched or is not a CPU profile.
	ErrProfile = errors.New("bench: server CPU profile unavailable")
)

// Refusals of the gateway are *portal.APIError (portal calls),
// *phone.APIError (phone calls) or, during Setup, *operator.APIError.
