package webhook

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Config configures a Service. The first twelve fields come from the
// configuration file (webhook.…); the rest are wiring and test hooks.
type Config struct {
	// AllowPrivate lets webhooks target loopback, private and link-local
	// addresses (demo mode and tests); off in production.
	AllowPrivate bool
	// Timeout bounds one attempt: connecting, sending, the answer.
	Timeout time.Duration
	// RetryMin is the delay before the first retry; each further retry
	// waits twice as long, up to RetryMax, with jitter (each delay is
	// drawn between half and all of its nominal value).
	RetryMin time.Duration
	RetryMax time.Duration
	// RetryFor is how long after its event a delivery keeps being retried;
	// after that it fails.
	RetryFor time.Duration
	// Retention is how long a finished delivery stays listed.
	Retention time.Duration
	// LeaseTTL is the sender lease: a node that stops renewing it hands
	// the sending to another node within about this long.
	LeaseTTL time.Duration
	// PollInterval is how often the sender looks at the outbox when no
	// change woke it.
	PollInterval time.Duration
	// Workers bounds the attempts in flight on the sending node.
	Workers int
	// MaxResponseBytes caps how much of an answer is read.
	MaxResponseBytes int64
	// ReminderDays are the days before a certificate's end at which each
	// app that has had a completed session with its owner gets a
	// credential.expiring event (reminders.go); empty: no reminders.
	ReminderDays []int
	// ReminderInterval is how often the sending node looks for
	// certificates that reached a reminder.
	ReminderInterval time.Duration

	// SingleNode says that no other node shares the store (bbolt): the
	// node sends without a lease.
	SingleNode bool
	// Transport replaces the HTTP transport (tests); nil: the guarded
	// dialer of this package. Redirects are never followed either way.
	Transport http.RoundTripper
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Registerer receives the metrics (nil: none).
	Registerer prometheus.Registerer
	// Logger gets delivery failures (nil: discarded).
	Logger *slog.Logger
}

// Defaults and bounds of the settings.
const (
	DefaultTimeout          = 10 * time.Second
	DefaultRetryMin         = 10 * time.Second
	DefaultRetryMax         = time.Hour
	DefaultRetryFor         = 25 * time.Hour
	DefaultRetention        = 72 * time.Hour
	DefaultLeaseTTL         = 10 * time.Second
	DefaultPollInterval     = 5 * time.Second
	DefaultWorkers          = 16
	DefaultMaxResponseBytes = 64 << 10
	DefaultReminderInterval = time.Hour

	MaxTimeout  = 5 * time.Minute
	MaxRetryFor = 30 * 24 * time.Hour
	MinLeaseTTL = time.Second
	MaxWorkers  = 1024
	// MaxURLLen bounds a webhook URL.
	MaxURLLen = 2048
	// MaxReminderDay bounds a reminder day; MaxReminders the reminders.
	MaxReminderDay = 3660
	MaxReminders   = 10
	// MinReminderInterval and MaxReminderInterval bound ReminderInterval.
	MinReminderInterval = time.Second
	MaxReminderInterval = 24 * time.Hour
)

// DefaultReminderDays returns the default reminders: 30, 7 and 1 days
// before a certificate ends.
func DefaultReminderDays() []int { return []int{30, 7, 1} }

// DefaultConfig returns the production defaults: private targets refused,
// 10 s per attempt, retries from 10 s doubling to 1 h for 25 h, finished
// deliveries listed for 72 h, a 10 s lease, a poll every 5 s, 16 attempts
// in flight, 64 KiB of an answer read, expiry reminders 30, 7 and 1 days
// before a certificate ends, looked for every hour.
func DefaultConfig() Config {
	return Config{
		Timeout:          DefaultTimeout,
		RetryMin:         DefaultRetryMin,
		RetryMax:         DefaultRetryMax,
		RetryFor:         DefaultRetryFor,
		Retention:        DefaultRetention,
		LeaseTTL:         DefaultLeaseTTL,
		PollInterval:     DefaultPollInterval,
		Workers:          DefaultWorkers,
		MaxResponseBytes: DefaultMaxResponseBytes,
		ReminderDays:     DefaultReminderDays(),
		ReminderInterval: DefaultReminderInterval,
	}
}

// Validate names the first bad setting; the error wraps ErrInvalidConfig.
func (c Config) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, a...)...)
	}
	switch {
	case c.Timeout <= 0 || c.Timeout > MaxTimeout:
		return bad("webhook.timeout %s must be > 0 and at most %s", c.Timeout, MaxTimeout)
	case c.RetryMin <= 0:
		return bad("webhook.retry_min %s must be > 0", c.RetryMin)
	case c.RetryMax < c.RetryMin:
		return bad("webhook.retry_max %s must be at least webhook.retry_min (%s)", c.RetryMax, c.RetryMin)
	case c.RetryFor < c.RetryMax || c.RetryFor > MaxRetryFor:
		return bad("webhook.retry_for %s must be at least webhook.retry_max (%s) and at most %s", c.RetryFor, c.RetryMax, MaxRetryFor)
	case c.Retention <= 0:
		return bad("webhook.retention %s must be > 0", c.Retention)
	case c.LeaseTTL < MinLeaseTTL || c.LeaseTTL%time.Second != 0:
		return bad("webhook.lease_ttl %s must be whole seconds, at least %s", c.LeaseTTL, MinLeaseTTL)
	case c.PollInterval <= 0:
		return bad("webhook.poll_interval %s must be > 0", c.PollInterval)
	case c.Workers < 1 || c.Workers > MaxWorkers:
		return bad("webhook.workers %d must be from 1 to %d", c.Workers, MaxWorkers)
	case c.MaxResponseBytes < 0:
		return bad("webhook.max_response_bytes %d must be ≥ 0", c.MaxResponseBytes)
	case len(c.ReminderDays) > MaxReminders:
		return bad("webhook.expiry_reminders has %d days, at most %d", len(c.ReminderDays), MaxReminders)
	case c.ReminderInterval < MinReminderInterval || c.ReminderInterval > MaxReminderInterval:
		return bad("webhook.reminder_interval %s must be from %s to %s", c.ReminderInterval, MinReminderInterval, MaxReminderInterval)
	}
	seen := map[int]bool{}
	for _, d := range c.ReminderDays {
		if d < 1 || d > MaxReminderDay {
			return bad("webhook.expiry_reminders: %d days must be from 1 to %d", d, MaxReminderDay)
		}
		if seen[d] {
			return bad("webhook.expiry_reminders: %d days given twice", d)
		}
		seen[d] = true
	}
	return nil
}
