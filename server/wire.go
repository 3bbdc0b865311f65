package server

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/ukeygate/ukeygate/api"
	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/auth"
	"github.com/ukeygate/ukeygate/ca"
	"github.com/ukeygate/ukeygate/config"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/privacy"
	"github.com/ukeygate/ukeygate/ra"
	"github.com/ukeygate/ukeygate/session"
	"github.com/ukeygate/ukeygate/upload"
	"github.com/ukeygate/ukeygate/webhook"
)

// uploadSweepInterval is how often the uploads of ended seal sessions are
// looked for.
const uploadSweepInterval = 30 * time.Second

// SweepUploads deletes now the uploads whose seal session has ended, as
// the background sweeper does every 30 s; it returns how many.
func (s *Server) SweepUploads(ctx context.Context) (int, error) {
	if s.sweepUploads == nil {
		return 0, nil
	}
	return s.sweepUploads(ctx)
}

// wire builds the product's services and the API handler from the open
// store (s.store), the master key (s.master), the configuration (s.cfg),
// the logger (s.log) and the metrics registry (s.reg). The server serves
// /healthz, /readyz and /metrics itself and hands every other request to
// the handler returned here (wrapped in its middleware: metrics, logging,
// panic recovery, security headers, body limit).
//
// For wiring:
//   - s.ctx is cancelled when the server closes: give it to background
//     work (sweepers, watch loops).
//   - s.onClose(f) runs f at Close, before the store is closed (last
//     registered first).
//   - s.Stopping() is closed when a graceful shutdown begins: long-polls and
//     websockets should end then.
//   - If the returned handler is an *http.ServeMux (or has its
//     Handler(*http.Request) (http.Handler, string) method), its route
//     patterns label the request metrics.
func (s *Server) wire() (http.Handler, error) {
	caCfg := ca.DefaultConfig()
	caCfg.PublicURL = s.cfg.PublicBaseURL()
	caCfg.ActivationTTL = s.cfg.CA.ActivationTTL
	caCfg.CRLNextUpdate = s.cfg.CA.CRLNextUpdate
	caCfg.DefaultValidityDays = s.cfg.CA.DefaultValidityDays
	caCfg.PINMaxTries = s.cfg.PIN.MaxTries
	caCfg.PINLockBase = s.cfg.PIN.LockBase
	caCfg.PINLockMax = s.cfg.PIN.LockMax
	caSvc, err := ca.New(s.store, s.master, caCfg)
	if err != nil {
		return nil, fmt.Errorf("server: building the CA: %w", err)
	}

	devCfg := auth.DefaultDeviceConfig()
	devCfg.ClockSkew = s.cfg.Device.ClockSkew
	devices, err := auth.NewDeviceVerifier(s.store, api.DeviceKeys(caSvc), devCfg)
	if err != nil {
		return nil, fmt.Errorf("server: building the device verifier: %w", err)
	}

	var deviceCheck api.DeviceVerifier = devices
	if s.limits != nil {
		deviceCheck = limitedDevices{inner: devices, rl: s.limits}
	}

	hooks, err := webhook.New(s.store, s.webhookConfig())
	if err != nil {
		return nil, fmt.Errorf("server: building the webhook outbox: %w", err)
	}
	s.onClose(hooks.Close)

	sessCfg := session.DefaultConfig()
	sessCfg.TTL = s.cfg.Session.TTL
	sessCfg.MaxTTL = s.cfg.Session.MaxTTL
	sessCfg.Retention = s.cfg.Session.Retention
	sessCfg.MaxDataBytes = int(s.cfg.Session.MaxDataBytes)
	sessCfg.PublicURL = s.cfg.PublicBaseURL()
	sessCfg.Registerer = s.reg
	sessCfg.Outbox = hooks
	// Completed results (decrypted plaintexts, content keys) are sealed at
	// rest under a key derived from the master key.
	sessCfg.ResultKey, err = gmcrypto.DeriveKey(s.master, session.ResultKeyPurpose, nil)
	if err != nil {
		return nil, fmt.Errorf("server: deriving the session result key: %w", err)
	}
	sessions, err := session.New(s.store, sessCfg)
	gmcrypto.Zero(sessCfg.ResultKey) // New keeps its own copy
	if err != nil {
		return nil, fmt.Errorf("server: building the session service: %w", err)
	}
	s.onClose(sessions.Close)
	hooks.Start()

	upCfg := upload.DefaultConfig()
	upCfg.MaxBytes = s.cfg.Seals.UploadMaxBytes
	upCfg.TTL = s.cfg.Seals.UploadTTL
	upCfg.Hold = max(upCfg.Hold, s.cfg.Session.MaxTTL+time.Minute)
	if upCfg.Key, err = gmcrypto.DeriveKey(s.master, upload.KeyPurpose, nil); err != nil {
		return nil, fmt.Errorf("server: deriving the upload key: %w", err)
	}
	drawn := api.DrawnSealConfig{Allow: s.cfg.Seals.DrawnSignatures, WidthMM: float64(s.cfg.Seals.DrawnWidthMM)}
	if err := drawn.Validate(); err != nil {
		return nil, fmt.Errorf("server: seals: %w", err)
	}
	uploads, err := upload.New(s.store, upCfg)
	gmcrypto.Zero(upCfg.Key)
	if err != nil {
		return nil, fmt.Errorf("server: building the upload store: %w", err)
	}
	// Uploads go once their session has ended (or they expired unused).
	ended := api.UploadSessionEnded(sessions)
	s.sweepUploads = func(ctx context.Context) (int, error) { return uploads.Sweep(ctx, ended) }
	go uploads.Run(s.ctx, uploadSweepInterval, ended)

	auditLog, err := audit.New(s.store, s.master, nil)
	if err != nil {
		return nil, fmt.Errorf("server: building the audit log: %w", err)
	}
	s.onClose(auditLog.Close)
	go s.pruneAudit(auditLog)

	privCfg := privacy.DefaultConfig()
	privCfg.CertificateRetention, privCfg.Compact = s.cfg.Privacy.CertificateRetention, s.cfg.Privacy.Compact
	priv, err := privacy.New(privCfg, privacy.Deps{CA: caSvc, Audit: auditLog, Sessions: sessions, Devices: devices, Webhooks: hooks, Store: s.store})
	if err != nil {
		return nil, fmt.Errorf("server: building the privacy service: %w", err)
	}
	// Account deletions a crash or an outage interrupted are finished now.
	go func() {
		done, err := priv.Resume(s.ctx)
		for _, rep := range done {
			// As for a deletion answered at once (api): the one trace of
			// the user id outside the store, and what audit erase needs.
			s.log.Info("account deleted", "user", rep.Deletion.UserID, "pseudonym", rep.Audit.Pseudonym, "devices", rep.Deletion.Devices, "resumed", true)
		}
		if err != nil {
			s.log.Error("finishing interrupted account deletions", "err", err, "finished", len(done))
		}
	}()

	raCfg := ra.DefaultConfig()
	raCfg.PolicyVersion, raCfg.PolicyURL, raCfg.MaxLicenceBytes = s.cfg.Registration.PolicyVersion, s.cfg.Registration.PolicyURL, s.cfg.Registration.MaxLicenceBytes
	verifier, _ := ra.VerifierByName(s.cfg.Registration.Verifier)
	registrations, err := ra.New(raCfg, s.store, caSvc, verifier)
	if err != nil {
		return nil, fmt.Errorf("server: building the registration authority: %w", err)
	}
	priv.AddPart(registrations)
	// Expiry reminders (credential.expiring) to the apps that served each
	// user; the webhook outbox's records about a user are part of the
	// account.
	hooks.UseReminders(expiringCredentials{caSvc}, auditLog)
	priv.AddPart(hooks)

	apps := auth.NewApps(s.store)
	var demo http.Handler
	if s.cfg.Demo {
		if demo, err = s.demoHandler(s.ctx, apps, hooks, auditLog); err != nil {
			return nil, err
		}
	}

	h := api.New(api.Deps{
		CA:            caSvc,
		Apps:          apps,
		Admin:         auth.NewAdmin(s.cfg.AdminToken).UseStore(s.store),
		Devices:       deviceCheck,
		MaxBodyBytes:  s.cfg.HTTP.MaxBodyBytes,
		PollWait:      s.cfg.HTTP.LongPollWait,
		MaxHold:       maxHold(s.cfg.HTTP.WriteTimeout),
		PublicURL:     s.cfg.PublicBaseURL(),
		Logger:        s.log,
		Registerer:    s.reg,
		Audit:         auditLog,
		Sessions:      sessions,
		Stopping:      s.Stopping(),
		Demo:          demo,
		Backup:        storeBackup{s},
		Webhooks:      hooks,
		Uploads:       uploads,
		DrawnSeals:    drawn,
		Privacy:       priv,
		Registrations: registrations,
		Keepalive:     s.keep,
	})
	// The seal re-issues a crash or an error left after a renewal are
	// finished before the node serves (api/sealreissue.go).
	if n, err := h.ResumeSealReissues(s.ctx); err != nil {
		s.log.Error("finishing seal re-issues after renewals", "err", err)
	} else if n > 0 {
		s.log.Info("seals re-issued after renewals", "seals", n)
	}
	if err := s.startMemoryPolicy(sessions, h); err != nil {
		return nil, fmt.Errorf("server: memory policy: %w", err)
	}
	s.startGCPacer()
	if err := s.startMonitor(caSvc, registrations, auditLog); err != nil {
		return nil, err
	}
	return h, nil
}

// webhookConfig is the webhook section of the configuration for package
// webhook. Demo mode allows private targets (the demo portal receives its
// webhook on this gateway); a bbolt store has one node, which sends
// without a lease.
func (s *Server) webhookConfig() webhook.Config {
	w := s.cfg.Webhook
	c := webhook.DefaultConfig()
	c.AllowPrivate = w.AllowPrivate || s.cfg.Demo
	c.Timeout, c.RetryMin, c.RetryMax, c.RetryFor = w.Timeout, w.RetryMin, w.RetryMax, w.RetryFor
	c.Retention, c.LeaseTTL, c.PollInterval = w.Retention, w.LeaseTTL, w.PollInterval
	c.Workers, c.MaxResponseBytes = w.Workers, w.MaxResponseBytes
	c.ReminderDays, _ = w.ReminderDays() // checked by config.Validate
	c.ReminderInterval = w.ReminderInterval
	c.SingleNode = s.cfg.Storage.Backend == config.BackendBolt
	c.Registerer = s.reg
	c.Logger = s.log.With("component", "webhook")
	return c
}

// pruneAudit removes, every audit.prune_interval, the exported audit
// entries older than audit.retention (bounded per run; entries never
// exported stay). On etcd every node runs it: the prune transaction is
// conditional, so two nodes never remove twice.
func (s *Server) pruneAudit(l *audit.Log) {
	t := time.NewTicker(s.cfg.Audit.PruneInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		n, err := l.Prune(s.ctx, time.Now().Add(-s.cfg.Audit.Retention), config.MaxAuditPrunePerRun)
		switch {
		case err != nil && s.ctx.Err() == nil:
			s.log.Error("pruning exported audit entries", "err", err)
		case n > 0:
			s.log.Info("exported audit entries left the live store", "entries", n)
		}
	}
}

// expiringCredentials lists the CA's expiring credentials for the webhook
// reminders.
type expiringCredentials struct{ ca *ca.Service }

func (e expiringCredentials) ExpiringCredentials(ctx context.Context, within time.Duration) ([]webhook.ExpiringCredential, error) {
	list, err := e.ca.ExpiringCredentials(ctx, within)
	if err != nil {
		return nil, err
	}
	out := make([]webhook.ExpiringCredential, 0, len(list))
	for _, c := range list {
		out = append(out, webhook.ExpiringCredential{ID: c.ID, User: c.UserID, Issuer: c.IssuerID,
			Purpose: string(c.Purpose), NotAfter: c.NotAfter, Guards: c.Guards})
	}
	return out, nil
}

// maxHold is the longest a long-poll may be held under write timeout wt
// (0: no limit, the API's own bound).
func maxHold(wt time.Duration) time.Duration {
	if wt == 0 {
		return 0
	}
	return wt - config.PollMargin
}
