package monitor

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Bounds of the configuration.
const (
	MinInterval       = time.Second
	MaxInterval       = 24 * time.Hour
	MaxExpiringWithin = 366 * 24 * time.Hour
)

// Config sets what a Monitor samples and how often.
type Config struct {
	// Interval is the time between two samples (the first is taken at
	// Start). Each sample lists the credentials, so on a large CA keep it
	// at minutes. Default 5 minutes.
	Interval time.Duration
	// ExpiringWithin is the window of ukeygate_credentials_expiring: the
	// active credentials whose certificate ends within it. Default 30 days.
	ExpiringWithin time.Duration
	// Timeout bounds one sample of one source. Default 1 minute.
	Timeout time.Duration
	// Registerer receives the metrics (required).
	Registerer prometheus.Registerer
	// Logger reports a source that fails (slog.Default() if nil).
	Logger *slog.Logger
	// Now is the clock of the ages (time.Now if nil).
	Now func() time.Time
}

// DefaultConfig samples every 5 minutes, counts the certificates ending
// within 30 days and gives each source a minute.
func DefaultConfig() Config {
	return Config{Interval: 5 * time.Minute, ExpiringWithin: 30 * 24 * time.Hour, Timeout: time.Minute}
}

// Validate names the first setting out of range.
func (c Config) Validate() error {
	switch {
	case c.Interval < MinInterval || c.Interval > MaxInterval:
		return fmt.Errorf("%w: interval %s must be from %s to %s", ErrInvalidConfig, c.Interval, MinInterval, MaxInterval)
	case c.ExpiringWithin <= 0 || c.ExpiringWithin > MaxExpiringWithin:
		return fmt.Errorf("%w: expiring_within %s must be more than 0 and at most %s", ErrInvalidConfig, c.ExpiringWithin, MaxExpiringWithin)
	case c.Timeout <= 0:
		return fmt.Errorf("%w: timeout %s must be more than 0", ErrInvalidConfig, c.Timeout)
	case c.Registerer == nil:
		return fmt.Errorf("%w: no metrics registerer", ErrInvalidConfig)
	}
	return nil
}
