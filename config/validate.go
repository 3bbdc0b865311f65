package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Validate checks every key and returns the first problem as a *FieldError
// naming the key, its value and what is expected (errors.Is(err,
// ErrInvalid) holds). It returns nil for a usable configuration.
func (c Config) Validate() error {
	checks := []func() error{
		func() error { return checkHostPort("listen", c.Listen) },
		c.checkPublicURL,
		func() error {
			if strings.TrimSpace(c.DataDir) == "" {
				return bad("data_dir", c.DataDir, "must not be empty")
			}
			return nil
		},
		func() error {
			if c.AdminToken != "" && len(c.AdminToken) < 16 {
				return &FieldError{Key: "admin_token", Reason: "must be empty (operator API off) or at least 16 characters"}
			}
			return nil
		},
		c.Log.validate,
		c.TLS.validate,
		c.Storage.validate,
		c.Session.validate,
		c.Seals.validate,
		c.CA.validate,
		c.PIN.validate,
		c.HTTP.validate,
		func() error { return positive("device.clock_skew", c.Device.ClockSkew) },
		c.RateLimit.validate,
		c.Webhook.validate,
		c.Privacy.validate,
		c.Audit.validate,
		c.Registration.validate,
		c.checkDebug,
		c.Memory.Validate,
		c.Monitoring.validate,
	}
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// PublicBaseURL is public_url without a trailing slash, ready to have
// "/v1/…" appended.
func (c Config) PublicBaseURL() string { return strings.TrimRight(c.PublicURL, "/") }

func bad(key string, value any, reason string) error {
	v := fmt.Sprint(value)
	if s, ok := value.(string); ok {
		v = strconv.Quote(s)
	}
	return &FieldError{Key: key, Value: v, Reason: reason}
}

func positive(key string, d time.Duration) error {
	if d <= 0 {
		return bad(key, d, "must be > 0")
	}
	return nil
}

func notNegative(key string, d time.Duration) error {
	if d < 0 {
		return bad(key, d, "must be ≥ 0 (0 means no limit)")
	}
	return nil
}

func checkHostPort(key, s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return bad(key, s, "must be host:port (e.g. 127.0.0.1:8080 or :8080)")
	}
	if strings.ContainsAny(host, " /") {
		return bad(key, s, "host must be an IP address or a name")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return bad(key, s, "port must be a number from 0 to 65535")
	}
	return nil
}

func (c Config) checkPublicURL() error {
	const key = "public_url"
	u, err := url.Parse(c.PublicURL)
	switch {
	case c.PublicURL == "":
		return bad(key, c.PublicURL, "must not be empty (e.g. https://ukey.example.com)")
	case err != nil:
		return bad(key, c.PublicURL, "must be an absolute http(s) URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return bad(key, c.PublicURL, "must be an absolute http(s) URL")
	case u.Host == "" || u.Hostname() == "":
		return bad(key, c.PublicURL, "must name a host")
	case u.User != nil:
		return bad(key, c.PublicURL, "must not hold user info")
	case u.RawQuery != "" || u.ForceQuery:
		return bad(key, c.PublicURL, "must not have a query")
	case u.Fragment != "" || strings.Contains(c.PublicURL, "#"):
		return bad(key, c.PublicURL, "must not have a fragment")
	}
	return nil
}

func (l LogConfig) validate() error {
	switch strings.ToLower(l.Level) {
	case "debug", "info", "warn", "error":
	default:
		return bad("log.level", l.Level, "must be debug, info, warn or error")
	}
	switch strings.ToLower(l.Format) {
	case "text", "json":
	default:
		return bad("log.format", l.Format, "must be text or json")
	}
	return nil
}

func (t TLSConfig) validate() error {
	if (t.CertFile == "") != (t.KeyFile == "") {
		if t.CertFile == "" {
			return bad("tls.cert_file", t.CertFile, "must be set when tls.key_file is (set both or neither)")
		}
		return bad("tls.key_file", t.KeyFile, "must be set when tls.cert_file is (set both or neither)")
	}
	return nil
}

func (s StorageConfig) validate() error {
	if err := positive("storage.bolt.timeout", s.Bolt.Timeout); err != nil {
		return err
	}
	if s.Bolt.ExtraProcs < 0 || s.Bolt.ExtraProcs > MaxExtraProcs {
		return bad("storage.bolt.extra_procs", s.Bolt.ExtraProcs, fmt.Sprintf("must be from 0 to %d", MaxExtraProcs))
	}
	switch s.Backend {
	case BackendBolt:
		return nil
	case BackendEtcd:
	default:
		return bad("storage.backend", s.Backend, "must be bbolt or etcd")
	}
	if len(s.Etcd.Endpoints) == 0 {
		return bad("storage.etcd.endpoints", "", "must list at least one endpoint when storage.backend is etcd")
	}
	for _, ep := range s.Etcd.Endpoints {
		if err := checkEndpoint(ep); err != nil {
			return err
		}
	}
	p := s.Etcd.Prefix
	if len(p) < 2 || !strings.HasPrefix(p, "/") || !strings.HasSuffix(p, "/") {
		return bad("storage.etcd.prefix", p, "must start and end with / and not be just / (e.g. /ukeygate/)")
	}
	return positive("storage.etcd.dial_timeout", s.Etcd.DialTimeout)
}

func checkEndpoint(ep string) error {
	const key = "storage.etcd.endpoints"
	if strings.Contains(ep, "://") {
		u, err := url.Parse(ep)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return bad(key, ep, "each endpoint must be host:port or an http(s) URL")
		}
		return nil
	}
	if checkHostPort(key, ep) != nil {
		return bad(key, ep, "each endpoint must be host:port or an http(s) URL")
	}
	return nil
}

func (s SessionConfig) validate() error {
	if s.MaxTTL <= 0 {
		return bad("session.max_ttl", s.MaxTTL, "must be > 0")
	}
	if s.TTL <= 0 || s.TTL > s.MaxTTL {
		return bad("session.ttl", s.TTL, fmt.Sprintf("must be > 0 and ≤ session.max_ttl (%s)", s.MaxTTL))
	}
	if s.Retention < MinSessionRetention || s.Retention > MaxSessionRetention {
		return bad("session.retention", s.Retention, fmt.Sprintf("must be from %s to %s", MinSessionRetention, MaxSessionRetention))
	}
	if s.MaxDataBytes < MinMaxDataBytes || s.MaxDataBytes > MaxMaxDataBytes {
		return bad("session.max_data_bytes", s.MaxDataBytes, fmt.Sprintf(
			"must be from %d (1 KiB) to %d (640 KiB): a completed session holds its input again and must fit one store write", MinMaxDataBytes, MaxMaxDataBytes))
	}
	return nil
}

func (s SealsConfig) validate() error {
	if s.UploadMaxBytes < MinUploadMaxBytes || s.UploadMaxBytes > MaxUploadMaxBytes {
		return bad("seals.upload_max_bytes", s.UploadMaxBytes, fmt.Sprintf("must be from %d (1 KiB) to %d (64 MiB, the largest PDF a seal reads)", MinUploadMaxBytes, MaxUploadMaxBytes))
	}
	if s.UploadTTL < MinUploadTTL || s.UploadTTL > MaxUploadTTL {
		return bad("seals.upload_ttl", s.UploadTTL, fmt.Sprintf("must be from %s to %s", MinUploadTTL, MaxUploadTTL))
	}
	if s.DrawnWidthMM < 10 || s.DrawnWidthMM > 80 {
		return bad("seals.drawn_width_mm", s.DrawnWidthMM, "must be from 10 to 80")
	}
	return nil
}

func (c CAConfig) validate() error {
	if err := positive("ca.activation_ttl", c.ActivationTTL); err != nil {
		return err
	}
	if err := positive("ca.crl_next_update", c.CRLNextUpdate); err != nil {
		return err
	}
	if c.DefaultValidityDays < 1 || c.DefaultValidityDays > 36500 {
		return bad("ca.default_validity_days", c.DefaultValidityDays, "must be from 1 to 36500")
	}
	return nil
}

func (p PINConfig) validate() error {
	if p.MaxTries < 1 || p.MaxTries > 100 {
		return bad("pin.max_tries", p.MaxTries, "must be from 1 to 100")
	}
	if err := positive("pin.lock_base", p.LockBase); err != nil {
		return err
	}
	if p.LockMax < p.LockBase {
		return bad("pin.lock_max", p.LockMax, fmt.Sprintf("must be ≥ pin.lock_base (%s)", p.LockBase))
	}
	return nil
}

func (h HTTPConfig) validate() error {
	if h.MaxBodyBytes < 1 {
		return bad("http.max_body_bytes", h.MaxBodyBytes, "must be > 0")
	}
	if err := positive("http.read_header_timeout", h.ReadHeaderTimeout); err != nil {
		return err
	}
	for _, d := range []struct {
		key string
		val time.Duration
	}{
		{"http.read_timeout", h.ReadTimeout},
		{"http.write_timeout", h.WriteTimeout},
		{"http.idle_timeout", h.IdleTimeout},
	} {
		if err := notNegative(d.key, d.val); err != nil {
			return err
		}
	}
	if h.WriteTimeout != 0 && h.WriteTimeout < MinWriteTimeout {
		return bad("http.write_timeout", h.WriteTimeout, fmt.Sprintf(
			"must be 0 (no limit) or at least %s: longer than the v1 long-poll wait (%s) plus a %s margin, else long-polls are cut off",
			MinWriteTimeout, MinWriteTimeout-PollMargin, PollMargin))
	}
	if h.LongPollWait < time.Second || h.LongPollWait > MaxPollWait || h.LongPollWait%time.Second != 0 {
		return bad("http.long_poll_wait", h.LongPollWait, fmt.Sprintf(
			"must be whole seconds from 1s to %s (the wait clients are told to use on the events long-poll)", MaxPollWait))
	}
	if err := positive("http.shutdown_timeout", h.ShutdownTimeout); err != nil {
		return err
	}
	fa := strings.TrimSpace(h.FrameAncestors)
	if fa == "" || strings.ContainsAny(fa, ";,\r\n") {
		return bad("http.frame_ancestors", h.FrameAncestors, "must be a CSP source list such as 'none' or 'self' https://portal.example.com (no ; or ,)")
	}
	return nil
}

// Bounds of a rate-limit budget.
const (
	MaxBudgetRequests = 1_000_000
	MinBudgetPer      = time.Second
	MaxBudgetPer      = 24 * time.Hour
)

func (r RateLimitConfig) validate() error {
	for _, b := range []struct {
		key string
		b   Budget
	}{
		{"rate_limit.address", r.Address},
		{"rate_limit.app", r.App},
		{"rate_limit.device", r.Device},
		{"rate_limit.enroll", r.Enroll},
	} {
		if b.b.Requests < 1 || b.b.Requests > MaxBudgetRequests {
			return bad(b.key+".requests", b.b.Requests, fmt.Sprintf("must be within 1..%d", MaxBudgetRequests))
		}
		if b.b.Per < MinBudgetPer || b.b.Per > MaxBudgetPer {
			return bad(b.key+".per", b.b.Per, fmt.Sprintf("must be within %s..%s", MinBudgetPer, MaxBudgetPer))
		}
	}
	for _, p := range r.TrustedProxies {
		if _, err := ParseProxy(p); err != nil {
			return bad("rate_limit.trusted_proxies", p, "must be an IP address or a CIDR range (10.0.0.0/8)")
		}
	}
	return nil
}

// ParseProxy reads one rate_limit.trusted_proxies entry: an IP address or
// a CIDR range.
func ParseProxy(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

func (p PrivacyConfig) validate() error {
	if p.CertificateRetention < 0 || p.CertificateRetention > MaxCertificateRetention {
		return bad("privacy.certificate_retention", p.CertificateRetention, fmt.Sprintf("must be from 0 (keep nothing) to %s (30 years)", MaxCertificateRetention))
	}
	return nil
}

func (m MonitoringConfig) validate() error {
	if m.Interval < MinMonitoringInterval || m.Interval > MaxMonitoringInterval {
		return bad("monitoring.interval", m.Interval, fmt.Sprintf("must be from %s to %s", MinMonitoringInterval, MaxMonitoringInterval))
	}
	if m.ExpiringWithin < time.Hour || m.ExpiringWithin > MaxMonitoringWindow {
		return bad("monitoring.expiring_within", m.ExpiringWithin, fmt.Sprintf("must be from 1h to %s (366 days)", MaxMonitoringWindow))
	}
	return nil
}

func (a AuditConfig) validate() error {
	if a.Retention < 0 || a.Retention > MaxAuditRetention {
		return bad("audit.retention", a.Retention, fmt.Sprintf("must be from 0 (leave once exported) to %s (30 years)", MaxAuditRetention))
	}
	if a.PruneInterval < MinAuditPrune || a.PruneInterval > MaxAuditPrune {
		return bad("audit.prune_interval", a.PruneInterval, fmt.Sprintf("must be from %s to %s", MinAuditPrune, MaxAuditPrune))
	}
	return nil
}

func (r RegistrationConfig) validate() error {
	switch {
	case strings.TrimSpace(r.PolicyVersion) == "" || len(r.PolicyVersion) > 64:
		return bad("registration.policy_version", r.PolicyVersion, "must be 1 to 64 characters")
	case r.Verifier != "manual" && r.Verifier != "test":
		return bad("registration.verifier", r.Verifier, "must be manual or test")
	case r.MaxLicenceBytes <= 0 || r.MaxLicenceBytes > 4<<20:
		return bad("registration.max_licence_bytes", r.MaxLicenceBytes, "must be from 1 to 4194304")
	}
	return nil
}

func (c Config) checkDebug() error {
	const key = "debug.pprof_listen"
	d := c.Debug
	if d.PprofListen == "" {
		return nil
	}
	if err := checkHostPort(key, d.PprofListen); err != nil {
		return err
	}
	if !d.PprofAllowNonLoopback && !loopbackHostPort(d.PprofListen) {
		return bad(key, d.PprofListen, "must be a loopback address (127.0.0.1:6060, [::1]:6060 or localhost:6060): "+
			"profiles show the server's internals to anyone who reaches the port; set debug.pprof_allow_non_loopback: true to bind another address anyway")
	}
	if samePort(d.PprofListen, c.Listen) {
		return bad(key, d.PprofListen, "must not be the listen address: the profiling handlers are never served on the public listener")
	}
	return nil
}

// loopbackHostPort reports whether host:port binds loopback only: a
// loopback IP or "localhost". An empty host (every interface), 0.0.0.0,
// :: and any other name or address are not.
func loopbackHostPort(s string) bool {
	host, _, err := net.SplitHostPort(s)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// samePort reports whether two host:port addresses would clash: the same
// non-zero port on the same host, or on a host that binds every
// interface.
func samePort(a, b string) bool {
	ha, pa, err1 := net.SplitHostPort(a)
	hb, pb, err2 := net.SplitHostPort(b)
	if err1 != nil || err2 != nil || pa != pb || pa == "0" {
		return false
	}
	wild := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return strings.EqualFold(ha, hb) || wild(ha) || wild(hb)
}

// Validate names the first bad key of the memory section (a *FieldError).
// With release off the other keys are not used, but must still be sane.
func (m MemoryConfig) Validate() error {
	switch {
	case m.CheckInterval < MinMemoryCheck || m.CheckInterval > MaxMemoryCheck:
		return bad("memory.check_interval", m.CheckInterval, fmt.Sprintf("must be between %s and %s", MinMemoryCheck, MaxMemoryCheck))
	case m.MinWaiters < 1:
		return bad("memory.min_waiters", m.MinWaiters, "must be ≥ 1")
	case m.MinFreeBytes < 1<<20:
		return bad("memory.min_free_bytes", m.MinFreeBytes, "must be ≥ 1048576 (1 MiB): a release costs a full garbage collection")
	case m.MinInterval < m.CheckInterval || m.MinInterval > MaxMemoryInterval:
		return bad("memory.min_interval", m.MinInterval, fmt.Sprintf("must be between memory.check_interval (%s) and %s", m.CheckInterval, MaxMemoryInterval))
	case m.GCHeadroom < 0 || m.GCHeadroom > MaxGCHeadroom:
		return bad("memory.gc_headroom", m.GCHeadroom, fmt.Sprintf("must be from 0 (off) to %d (1 GiB)", MaxGCHeadroom))
	}
	return nil
}
