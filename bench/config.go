package bench

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Session kinds and algorithms a run can exercise.
const (
	KindLogin   = "login"
	KindSign    = "sign"
	KindDecrypt = "decrypt"

	AlgSM2 = "SM2"
	AlgRSA = "RSA"
)

// Defaults and bounds of Config.
const (
	DefaultServer         = "http://127.0.0.1:8080"
	DefaultSessions       = 200
	DefaultConcurrency    = 16
	DefaultTimeLimit      = 30 * time.Minute
	DefaultSessionTimeout = 60 * time.Second
	// DefaultPIN is the PIN the bench users are enrolled with.
	DefaultPIN = "135790"

	MaxSessions    = 1_000_000
	MaxConcurrency = 1024
	MaxUsers       = 1024
	MaxDuration    = 24 * time.Hour
	// MaxRate bounds Config.Rate (sessions/s).
	MaxRate = 100_000
)

// Config is one load run.
type Config struct {
	// Server is the gateway's base URL; every request goes there and
	// nowhere else.
	Server string
	// AdminToken authorises the setup (operator API).
	AdminToken string
	// Kind is login, sign or decrypt; Alg is SM2 or RSA.
	Kind string
	Alg  string
	// Issuer is an existing issuer id to take the credentials from; empty
	// means a new internal issuer of Alg is created for the run.
	Issuer string
	// Sessions is how many sessions to run; 0 means no count bound other
	// than MaxSessions (then Duration must be set).
	Sessions int
	// Duration, when set, stops starting sessions after this long;
	// sessions in flight finish.
	Duration time.Duration
	// TimeLimit bounds the load phase when Duration is 0.
	TimeLimit time.Duration
	// Rate, when above 0, paces the run: session starts are spread at
	// this many per second across the workers (steady load for a soak);
	// 0 means each worker starts its next session at once.
	Rate float64
	// Concurrency is the number of workers, each running one session at
	// a time.
	Concurrency int
	// LoadProcs, if positive, is the GOMAXPROCS of this process while the
	// load runs (set after the crypto limit was timed with Go's own, and
	// put back after): the bench usually shares the machine with the
	// server it measures, and with fewer processors its goroutines spin
	// less for work. 0 leaves Go's setting. The command sets it
	// (DefaultLoadProcs); tests that run a server in the same process
	// leave it 0.
	LoadProcs int
	// Users is the number of enrolled users (phones) the workers take in
	// turn; 0 means one per worker.
	Users int
	// SessionTimeout bounds one session's whole flow.
	SessionTimeout time.Duration
	// PIN is the users' PIN.
	PIN string
	// Verify checks every result cryptographically on the client (login
	// and sign signatures against the issuer); it costs client CPU that
	// the server then does not get. Decrypt results are always compared
	// with the plaintext.
	Verify bool
	// Cosign gives the users two-party SM2 (cosign) credentials: every
	// confirm is then the two-request exchange of docs/cosign.md, the
	// phone's half computed by the client.
	Cosign bool
	// CPUProfileFrom, when set, is the server's pprof listener
	// (debug.pprof_listen: "http://127.0.0.1:6060") or its
	// /debug/pprof/profile URL: the bench fetches a CPU profile of the
	// server covering the load (whole seconds of Duration, which must be
	// set) and reports it per completed session by category
	// (Report.CPUProfile). It is the one URL besides Server the bench
	// talks to.
	CPUProfileFrom string
}

// DefaultConfig returns a login run of DefaultSessions SM2 sessions with
// DefaultConcurrency workers against DefaultServer (AdminToken is left
// empty).
func DefaultConfig() Config {
	return Config{
		Server:         DefaultServer,
		Kind:           KindLogin,
		Alg:            AlgSM2,
		Sessions:       DefaultSessions,
		TimeLimit:      DefaultTimeLimit,
		Concurrency:    DefaultConcurrency,
		SessionTimeout: DefaultSessionTimeout,
		PIN:            DefaultPIN,
	}
}

func invalid(key, format string, a ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidConfig, key, fmt.Sprintf(format, a...))
}

// Validate checks every field and names the first bad one.
func (c Config) Validate() error {
	u, err := url.Parse(c.Server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return invalid("server", "%q is not an absolute http(s) URL", c.Server)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return invalid("server", "%q must not hold credentials, a query or a fragment", c.Server)
	}
	if c.AdminToken == "" || strings.ContainsAny(c.AdminToken, " \r\n\t") {
		return invalid("admin_token", "required, without spaces or line breaks")
	}
	switch c.Kind {
	case KindLogin, KindSign, KindDecrypt:
	default:
		return invalid("kind", "%q is not login, sign or decrypt", c.Kind)
	}
	switch c.Alg {
	case AlgSM2, AlgRSA:
	default:
		return invalid("alg", "%q is not SM2 or RSA", c.Alg)
	}
	if c.Cosign && c.Alg != AlgSM2 {
		return invalid("cosign", "two-party credentials are SM2 only")
	}
	if c.Issuer != "" && (len(c.Issuer) > 64 || strings.ContainsAny(c.Issuer, "/?#% ")) {
		return invalid("issuer", "%q is not an issuer id", c.Issuer)
	}
	if c.Sessions < 0 || c.Sessions > MaxSessions {
		return invalid("sessions", "%d is outside 0..%d", c.Sessions, MaxSessions)
	}
	if c.Duration < 0 || c.Duration > MaxDuration {
		return invalid("duration", "%s is outside 0..%s", c.Duration, MaxDuration)
	}
	if c.Sessions == 0 && c.Duration == 0 {
		return invalid("sessions", "0 needs a duration (the run must be bounded)")
	}
	if c.Duration == 0 && (c.TimeLimit <= 0 || c.TimeLimit > MaxDuration) {
		return invalid("time_limit", "%s is outside (0, %s]", c.TimeLimit, MaxDuration)
	}
	if c.Rate < 0 || c.Rate > MaxRate || c.Rate != c.Rate {
		return invalid("rate", "%g is outside 0..%d sessions/s", c.Rate, MaxRate)
	}
	if c.Concurrency < 1 || c.Concurrency > MaxConcurrency {
		return invalid("concurrency", "%d is outside 1..%d", c.Concurrency, MaxConcurrency)
	}
	if c.LoadProcs < 0 || c.LoadProcs > MaxLoadProcs {
		return invalid("procs", "%d is outside 0..%d", c.LoadProcs, MaxLoadProcs)
	}
	if c.Users < 0 || c.Users > MaxUsers {
		return invalid("users", "%d is outside 0..%d", c.Users, MaxUsers)
	}
	if c.SessionTimeout <= 0 || c.SessionTimeout > time.Hour {
		return invalid("session_timeout", "%s is outside (0, 1h]", c.SessionTimeout)
	}
	if c.PIN == "" {
		return invalid("pin", "required")
	}
	if c.CPUProfileFrom != "" {
		if _, err := ProfileURL(c.CPUProfileFrom, 1); err != nil {
			return err
		}
		if c.Duration < time.Second {
			return invalid("cpuprofile_from", "needs a duration of at least 1s (the profile covers the load's whole seconds)")
		}
	}
	return nil
}

// users is the effective number of users.
func (c Config) users() int {
	if c.Users > 0 {
		return c.Users
	}
	return c.Concurrency
}

// sessionLimit is the effective session count bound.
func (c Config) sessionLimit() int {
	if c.Sessions > 0 {
		return c.Sessions
	}
	return MaxSessions
}

// timeLimit is the effective time bound of the load phase.
func (c Config) timeLimit() time.Duration {
	if c.Duration > 0 {
		return c.Duration
	}
	return c.TimeLimit
}

// MaxLoadProcs bounds Config.LoadProcs.
const MaxLoadProcs = 1024

// DefaultLoadProcs is the GOMAXPROCS the bench command runs its load with
// on a machine of cpus CPUs: a quarter of them, at least one. On the
// 2-core benchmark machine one processor drives 16 workers with about
// 0.15 ms less CPU per session than two (docs/benchmarks.md, round 8).
func DefaultLoadProcs(cpus int) int { return max(1, cpus/4) }
