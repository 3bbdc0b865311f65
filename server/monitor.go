package server

import (
	"context"
	"fmt"
	"time"

	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/ca"
	"github.com/ukeygate/ukeygate/monitor"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/ra"
)

// startMonitor samples the CA's state into /metrics every
// monitoring.interval (package monitor), from the services wire built.
func (s *Server) startMonitor(caSvc *ca.Service, regs *ra.Service, log *audit.Log) error {
	cfg := monitor.DefaultConfig()
	cfg.Interval, cfg.ExpiringWithin = s.cfg.Monitoring.Interval, s.cfg.Monitoring.ExpiringWithin
	cfg.Registerer, cfg.Logger = s.reg, s.log.With("component", "monitor")
	m, err := monitor.New(monitor.Sources{
		Issuers:       caIssuers{caSvc},
		Credentials:   caExpiring{caSvc},
		Registrations: raQueue{regs},
		Recoveries:    escrowQueue{caSvc},
		Audit:         log,
	}, cfg)
	if err != nil {
		return fmt.Errorf("server: monitoring: %w", err)
	}
	go m.Run(s.ctx)
	return nil
}

// caIssuers: each issuer's certificate end.
type caIssuers struct{ ca *ca.Service }

func (c caIssuers) IssuerExpiries(ctx context.Context) (map[string]time.Time, error) {
	list, err := c.ca.Issuers(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]time.Time, len(list))
	for _, iss := range list {
		out[iss.ID] = iss.NotAfter
	}
	return out, nil
}

// caExpiring: the active credentials of users ending within the window
// (those the expiry reminders are about).
type caExpiring struct{ ca *ca.Service }

func (c caExpiring) CountExpiring(ctx context.Context, within time.Duration) (int, error) {
	list, err := c.ca.ExpiringCredentials(ctx, within)
	return len(list), err
}

// raQueue: registrations pending RA review (the list is oldest first).
type raQueue struct{ ra *ra.Service }

func (q raQueue) Waiting(ctx context.Context) (int, time.Time, error) {
	list, err := q.ra.List(ctx, protocol.RegistrationPending)
	if err != nil || len(list) == 0 {
		return 0, time.Time{}, err
	}
	return len(list), list[0].CreatedAt, nil
}

// escrowQueue: escrow recoveries still open (waiting for custodians'
// shares, not expired).
type escrowQueue struct{ ca *ca.Service }

func (q escrowQueue) Waiting(ctx context.Context) (int, time.Time, error) {
	list, err := q.ca.Recoveries(ctx)
	if err != nil {
		return 0, time.Time{}, err
	}
	n, oldest := 0, time.Time{}
	for _, r := range list {
		if r.State != ca.RecoveryStateOpen {
			continue
		}
		n++
		if oldest.IsZero() || r.CreatedAt.Before(oldest) {
			oldest = r.CreatedAt
		}
	}
	return n, oldest, nil
}
