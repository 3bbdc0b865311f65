package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// WebhookConfig sets how the gateway delivers session events to the apps'
// webhooks (docs/integration.md, "Webhooks").
type WebhookConfig struct {
	// AllowPrivate lets webhooks target loopback, private and link-local
	// addresses. Off in production; demo: true allows them as well (the
	// demo portal receives its webhook on the gateway itself).
	AllowPrivate bool `mapstructure:"allow_private"`
	// Timeout bounds one delivery attempt (connect, send, answer).
	Timeout time.Duration `mapstructure:"timeout"`
	// RetryMin is the delay before the first retry; each further one
	// doubles, up to RetryMax, with jitter.
	RetryMin time.Duration `mapstructure:"retry_min"`
	RetryMax time.Duration `mapstructure:"retry_max"`
	// RetryFor is how long a delivery keeps being retried after its event
	// (at least 24h in production).
	RetryFor time.Duration `mapstructure:"retry_for"`
	// Retention is how long a finished delivery stays listed.
	Retention time.Duration `mapstructure:"retention"`
	// LeaseTTL is the sender lease of a cluster (whole seconds): another
	// node takes the sending over within about this long of a node's death.
	LeaseTTL time.Duration `mapstructure:"lease_ttl"`
	// PollInterval is how often the sender looks at the outbox when
	// nothing woke it.
	PollInterval time.Duration `mapstructure:"poll_interval"`
	// Workers bounds the attempts in flight on the sending node.
	Workers int `mapstructure:"workers"`
	// MaxResponseBytes caps how much of a receiver's answer is read.
	MaxResponseBytes int64 `mapstructure:"max_response_bytes"`
	// ExpiryReminders are the days before a certificate's end ("30d" or
	// "30") at which each app that has served its owner gets a
	// credential.expiring event; empty: no reminders.
	ExpiryReminders []string `mapstructure:"expiry_reminders"`
	// ReminderInterval is how often the sending node looks for
	// certificates that reached a reminder.
	ReminderInterval time.Duration `mapstructure:"reminder_interval"`
}

// DefaultWebhook is the default webhook section.
func DefaultWebhook() WebhookConfig {
	return WebhookConfig{
		Timeout:          10 * time.Second,
		RetryMin:         10 * time.Second,
		RetryMax:         time.Hour,
		RetryFor:         25 * time.Hour,
		Retention:        72 * time.Hour,
		LeaseTTL:         10 * time.Second,
		PollInterval:     5 * time.Second,
		Workers:          16,
		MaxResponseBytes: 64 << 10,
		ExpiryReminders:  []string{"30d", "7d", "1d"},
		ReminderInterval: time.Hour,
	}
}

// Bounds of the webhook keys (package webhook enforces the same).
const (
	MaxWebhookTimeout  = 5 * time.Minute
	MaxWebhookRetryFor = 30 * 24 * time.Hour
	MaxWebhookWorkers  = 1024
	// MaxReminderDay bounds a day of webhook.expiry_reminders, MaxReminders
	// their number; webhook.reminder_interval is from 1s to 24h.
	MaxReminderDay = 3660
	MaxReminders   = 10
)

// ReminderDays parses ExpiryReminders: each "N" or "Nd", N from 1 to
// MaxReminderDay days, no day twice, at most MaxReminders of them.
func (w WebhookConfig) ReminderDays() ([]int, error) {
	if len(w.ExpiryReminders) > MaxReminders {
		return nil, bad("webhook.expiry_reminders", strings.Join(w.ExpiryReminders, ","), fmt.Sprintf("at most %d reminders", MaxReminders))
	}
	out := make([]int, 0, len(w.ExpiryReminders))
	for _, v := range w.ExpiryReminders {
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), "d"))
		if err != nil || n < 1 || n > MaxReminderDay || len(v) > 6 {
			return nil, bad("webhook.expiry_reminders", v, fmt.Sprintf("each must be a number of days, 1 to %d (like 30d)", MaxReminderDay))
		}
		if slices.Contains(out, n) {
			return nil, bad("webhook.expiry_reminders", v, "given twice")
		}
		out = append(out, n)
	}
	return out, nil
}

func (w WebhookConfig) validate() error {
	switch {
	case w.Timeout <= 0 || w.Timeout > MaxWebhookTimeout:
		return bad("webhook.timeout", w.Timeout, fmt.Sprintf("must be > 0 and at most %s", MaxWebhookTimeout))
	case w.RetryMin <= 0:
		return bad("webhook.retry_min", w.RetryMin, "must be > 0")
	case w.RetryMax < w.RetryMin:
		return bad("webhook.retry_max", w.RetryMax, fmt.Sprintf("must be at least webhook.retry_min (%s)", w.RetryMin))
	case w.RetryFor < w.RetryMax || w.RetryFor > MaxWebhookRetryFor:
		return bad("webhook.retry_for", w.RetryFor, fmt.Sprintf("must be from webhook.retry_max (%s) to %s", w.RetryMax, MaxWebhookRetryFor))
	case w.Retention <= 0:
		return bad("webhook.retention", w.Retention, "must be > 0")
	case w.LeaseTTL < time.Second || w.LeaseTTL%time.Second != 0:
		return bad("webhook.lease_ttl", w.LeaseTTL, "must be whole seconds, at least 1s")
	case w.PollInterval <= 0:
		return bad("webhook.poll_interval", w.PollInterval, "must be > 0")
	case w.Workers < 1 || w.Workers > MaxWebhookWorkers:
		return bad("webhook.workers", w.Workers, fmt.Sprintf("must be from 1 to %d", MaxWebhookWorkers))
	case w.MaxResponseBytes < 0:
		return bad("webhook.max_response_bytes", w.MaxResponseBytes, "must be ≥ 0")
	case w.ReminderInterval < time.Second || w.ReminderInterval > 24*time.Hour:
		return bad("webhook.reminder_interval", w.ReminderInterval, "must be from 1s to 24h")
	}
	_, err := w.ReminderDays()
	return err
}
