package config

import (
	"path/filepath"
	"time"
)

// Config is the whole configuration of one ukeygate node. The mapstructure
// tags are the YAML keys of config.example.yaml; each key is also settable
// by environment as UKEYGATE_<KEY> with dots turned into underscores
// (UKEYGATE_SESSION_TTL, UKEYGATE_STORAGE_ETCD_ENDPOINTS, …).
type Config struct {
	// Listen is the host:port the HTTP server binds (plain HTTP unless TLS
	// is set).
	Listen string `mapstructure:"listen"`
	// PublicURL is the absolute http(s) URL clients reach the gateway at;
	// QR payloads and watch URLs are built under it.
	PublicURL string `mapstructure:"public_url"`
	// DataDir holds the bbolt file and, by default, the master key.
	DataDir string `mapstructure:"data_dir"`
	// MasterKeyFile is the 32-byte raw master key file; empty means
	// <data_dir>/master.key (see MasterKeyPath).
	MasterKeyFile string `mapstructure:"master_key_file"`
	// MasterKey, when set (usually by UKEYGATE_MASTER_KEY), is the master
	// key itself, 32 bytes in hex or base64; it takes precedence over the
	// file.
	MasterKey string `mapstructure:"master_key"`
	// AdminToken enables the operator API; empty turns it off.
	AdminToken string `mapstructure:"admin_token"`
	// Demo serves the demo portal page at /demo. False in production.
	Demo bool `mapstructure:"demo"`

	Log     LogConfig     `mapstructure:"log"`
	TLS     TLSConfig     `mapstructure:"tls"`
	Storage StorageConfig `mapstructure:"storage"`
	Session SessionConfig `mapstructure:"session"`
	Seals   SealsConfig   `mapstructure:"seals"`
	CA      CAConfig      `mapstructure:"ca"`
	PIN     PINConfig     `mapstructure:"pin"`
	HTTP    HTTPConfig    `mapstructure:"http"`
	Device  DeviceConfig  `mapstructure:"device"`
	// RateLimit bounds how fast one client address, app key or device may
	// call the gateway.
	RateLimit RateLimitConfig `mapstructure:"rate_limit"`
	// Webhook sets the delivery of session events to the apps' webhooks.
	Webhook WebhookConfig `mapstructure:"webhook"`
	// Privacy sets what is kept after a user deletes their account
	// (docs/privacy.md).
	Privacy PrivacyConfig `mapstructure:"privacy"`
	// Audit sets how long exported audit entries stay in the live store.
	Audit AuditConfig `mapstructure:"audit"`
	// Registration sets self-registration with RA review
	// (docs/registration.md).
	Registration RegistrationConfig `mapstructure:"registration"`
	// Debug holds the operator's profiling switch (off by default).
	Debug DebugConfig `mapstructure:"debug"`
	// Memory sets when the node gives memory back to the operating system
	// after a mass departure of waiting clients.
	Memory MemoryConfig `mapstructure:"memory"`
	// Monitoring sets the sampling of the CA's state into /metrics
	// (docs/operations.md "Monitoring and alerts").
	Monitoring MonitoringConfig `mapstructure:"monitoring"`
}

// MonitoringConfig is how often the node samples the CA's state (issuer
// certificates, expiring credentials, the RA queue, escrow recoveries, the
// audit log's archive backlog) into gauges on /metrics.
type MonitoringConfig struct {
	// Interval between two samples (the first at start). Each lists the
	// credentials and registrations: minutes, not seconds, on a large CA.
	Interval time.Duration `mapstructure:"interval"`
	// ExpiringWithin is the window of ukeygate_credentials_expiring.
	ExpiringWithin time.Duration `mapstructure:"expiring_within"`
}

// MemoryConfig is the node's memory release policy (docs/operations.md,
// "Memory sizing"). Every CheckInterval the node looks at the number of
// clients waiting on sessions and at the Go heap; it releases (a full
// garbage collection, then every free page of the heap returned to the
// system, and bbolt's mapped pages unmapped) at most once per MinInterval,
// when either
//   - the waiting clients had reached at least MinWaiters and fell to half
//     of that peak or fewer, and stopped falling (the departure is over), or
//   - the heap holds at least MinFreeBytes of free pages not yet returned,
//     and more than twice its live bytes (something big has gone).
//
// Go's own background scavenger returns such pages too, but slowly (it
// keeps about the heap goal and gives the rest back at about 1 % of a CPU).
type MemoryConfig struct {
	// Release turns the policy on (default true).
	Release bool `mapstructure:"release"`
	// CheckInterval is how often the node looks (default 2 s).
	CheckInterval time.Duration `mapstructure:"check_interval"`
	// MinWaiters is the peak of waiting clients below which a departure
	// is not worth a release (default 2048).
	MinWaiters int `mapstructure:"min_waiters"`
	// MinFreeBytes is the free, not yet returned heap that is worth a
	// release on its own (default 64 MiB).
	MinFreeBytes int64 `mapstructure:"min_free_bytes"`
	// MinInterval is the least time between two releases (default 30 s).
	MinInterval time.Duration `mapstructure:"min_interval"`
	// GCHeadroom is the least allocation between two garbage collections
	// (default 32 MiB; 0 leaves Go's pace alone). Go collects each time
	// the heap has grown by GOGC % (100) of what was live, so a node whose
	// live heap is small (a login load keeps about 14 MiB) collects many
	// times a second; after every GC the node raises the GC percent so
	// that the next one comes no sooner than GCHeadroom bytes later, and
	// never lowers it below Go's own. A large live heap (thousands of
	// waiting clients) already has that much headroom and is paced as
	// before. The GOGC environment variable, when set, wins.
	GCHeadroom int64 `mapstructure:"gc_headroom"`
}

// DefaultMemory is the memory section of Default.
func DefaultMemory() MemoryConfig {
	return MemoryConfig{
		Release:       true,
		CheckInterval: 2 * time.Second,
		MinWaiters:    2048,
		MinFreeBytes:  64 << 20,
		MinInterval:   30 * time.Second,
		GCHeadroom:    32 << 20,
	}
}

// Bounds of the memory section.
const (
	MinMemoryCheck    = 100 * time.Millisecond
	MaxMemoryCheck    = time.Hour
	MaxMemoryInterval = 24 * time.Hour
	// MaxGCHeadroom bounds memory.gc_headroom.
	MaxGCHeadroom = 1 << 30
)

// DebugConfig is what an operator turns on to look inside a running node
// (docs/operations.md, "Profiling a running node").
type DebugConfig struct {
	// PprofListen is the host:port of a second listener that serves only
	// Go's net/http/pprof handlers (/debug/pprof/…); empty (the default)
	// serves none. They are never on the public listener. It must be a
	// loopback address unless PprofAllowNonLoopback is set: profiles and
	// goroutine dumps show the server's internals, and the listener has no
	// authentication.
	PprofListen string `mapstructure:"pprof_listen"`
	// PprofAllowNonLoopback lets PprofListen bind an address other
	// than loopback (a private management network, on the operator's
	// word).
	PprofAllowNonLoopback bool `mapstructure:"pprof_allow_non_loopback"`
}

// RegistrationConfig is the policy of self-registration (POST
// /v1/register).
type RegistrationConfig struct {
	// PolicyVersion is the current privacy policy version every
	// registration must consent to.
	PolicyVersion string `mapstructure:"policy_version"`
	// PolicyURL is where applicants read that policy (the phone app links
	// it).
	PolicyURL string `mapstructure:"policy_url"`
	// Verifier is the identity verifier run on each application: "manual"
	// (RA review only) or "test" (a deterministic rule for demos and
	// tests; never in production).
	Verifier string `mapstructure:"verifier"`
	// MaxLicenceBytes bounds a licence image (PNG or JPEG).
	MaxLicenceBytes int `mapstructure:"max_licence_bytes"`
}

// AuditConfig is the archiving of the audit log (docs/operations.md,
// "Store growth"): entries leave the live store once they are exported in
// a segment (`ukeygate audit export`) AND older than Retention; entries
// never exported stay, whatever their age.
type AuditConfig struct {
	// Retention is how long an exported entry stays in the live store
	// (0: it leaves at the next prune after its export). Default 90 days.
	Retention time.Duration `mapstructure:"retention"`
	// PruneInterval is how often the gateway removes the exported entries
	// older than Retention (at most MaxAuditPrunePerRun per run).
	PruneInterval time.Duration `mapstructure:"prune_interval"`
}

// Bounds of the monitoring section (those of package monitor).
const (
	MinMonitoringInterval = time.Second
	MaxMonitoringInterval = 24 * time.Hour
	MaxMonitoringWindow   = 366 * 24 * time.Hour
)

// Bounds of the audit section.
const (
	MaxAuditRetention = 30 * 366 * 24 * time.Hour
	MinAuditPrune     = time.Second
	MaxAuditPrune     = 24 * time.Hour
	// MaxAuditPrunePerRun bounds the entries one prune run removes.
	MaxAuditPrunePerRun = 10_000
)

// PrivacyConfig is the retention of what the law asks a CA to keep after
// an account is deleted.
type PrivacyConfig struct {
	// CertificateRetention is how long after a deleted user's certificate
	// ends its retained record (issuer, serial, fingerprint, validity,
	// revocation; no name, no key) is kept; 0 keeps none. Default five
	// years (1826 days: the Electronic Signature Law, article 24).
	CertificateRetention time.Duration `mapstructure:"certificate_retention"`
	// Compact compacts the store after each account deletion (bbolt file
	// rewritten, etcd history compacted) so no old copy stays readable.
	Compact bool `mapstructure:"compact"`
}

// MaxCertificateRetention bounds privacy.certificate_retention (30 years).
const MaxCertificateRetention = 30 * 366 * 24 * time.Hour

// RateLimitConfig is the request budgets of one node (each node of a
// cluster counts its own). A budget is a token bucket: Requests at once,
// refilled at Requests per Per.
type RateLimitConfig struct {
	// Enabled turns every budget on or off.
	Enabled bool `mapstructure:"enabled"`
	// Address: every request of one client address (except /healthz,
	// /readyz and /metrics).
	Address Budget `mapstructure:"address"`
	// App: portal requests made with one app key.
	App Budget `mapstructure:"app"`
	// Device: requests signed by one phone.
	Device Budget `mapstructure:"device"`
	// Enroll: enrollment (activation code) attempts of one client address.
	Enroll Budget `mapstructure:"enroll"`
	// TrustedProxies are the addresses or CIDR ranges of reverse proxies
	// whose X-Forwarded-For names the client; from any other peer the
	// header is ignored.
	TrustedProxies []string `mapstructure:"trusted_proxies"`
}

// Budget is Requests requests at once, refilled at Requests per Per.
type Budget struct {
	Requests int           `mapstructure:"requests"`
	Per      time.Duration `mapstructure:"per"`
}

// LogConfig chooses the log level and format of log/slog.
type LogConfig struct {
	// Level is debug, info, warn or error.
	Level string `mapstructure:"level"`
	// Format is text or json.
	Format string `mapstructure:"format"`
}

// TLSConfig turns on HTTPS when both files are set.
type TLSConfig struct {
	CertFile string `mapstructure:"cert_file"`
	KeyFile  string `mapstructure:"key_file"`
}

// Enabled reports whether TLS is configured.
func (t TLSConfig) Enabled() bool { return t.CertFile != "" && t.KeyFile != "" }

// StorageConfig chooses and configures the key-value store.
type StorageConfig struct {
	// Backend is bbolt (embedded, one node) or etcd (cluster).
	Backend string     `mapstructure:"backend"`
	Bolt    BoltConfig `mapstructure:"bolt"`
	Etcd    EtcdConfig `mapstructure:"etcd"`
}

// Storage backends.
const (
	BackendBolt = "bbolt"
	BackendEtcd = "etcd"
)

// BoltConfig configures the embedded bbolt store (file <data_dir>/ukeygate.db).
type BoltConfig struct {
	// Timeout is how long opening waits for the file lock held by another
	// process before giving up.
	Timeout time.Duration `mapstructure:"timeout"`
	// ExtraProcs is how many Go processors (GOMAXPROCS) a serving node
	// adds to Go's default while it serves from bbolt: the store's one
	// writer spends most of each commit blocked in file system calls
	// (pwrite, fdatasync), and Go keeps a processor with a blocked call
	// until its monitor takes it back, so without one more the other
	// goroutines run one processor short during every commit. 0 keeps
	// Go's default; the GOMAXPROCS environment variable, when set, wins.
	ExtraProcs int `mapstructure:"extra_procs"`
}

// MaxExtraProcs bounds storage.bolt.extra_procs.
const MaxExtraProcs = 8

// EtcdConfig configures the etcd cluster store.
type EtcdConfig struct {
	// Endpoints are host:port or http(s):// URLs of the etcd members.
	Endpoints []string `mapstructure:"endpoints"`
	// Prefix is prepended to every key; it starts and ends with "/".
	Prefix string `mapstructure:"prefix"`
	// DialTimeout bounds connecting to the cluster.
	DialTimeout time.Duration `mapstructure:"dial_timeout"`
}

// SessionConfig bounds scan sessions.
type SessionConfig struct {
	// TTL is the lifetime of a session whose creator asks for none.
	TTL time.Duration `mapstructure:"ttl"`
	// MaxTTL is the longest lifetime a creator may ask for.
	MaxTTL time.Duration `mapstructure:"max_ttl"`
	// Retention is how long a session (its state, events and result)
	// stays readable after its expiry time, whatever its outcome; the
	// store then deletes it by itself.
	Retention time.Duration `mapstructure:"retention"`
	// MaxDataBytes caps the binary inputs of one session: its documents'
	// data and its ciphertext together, in bytes before base64. A larger
	// request is refused (request_too_large) so that every session can
	// complete in one store write.
	MaxDataBytes int64 `mapstructure:"max_data_bytes"`
}

// Bounds of the session keys (the session package enforces the same).
const (
	MinSessionRetention = time.Second
	MaxSessionRetention = 7 * 24 * time.Hour
	MinMaxDataBytes     = 1 << 10
	MaxMaxDataBytes     = 640 << 10
)

// SealsConfig sets what seal sessions accept beyond session.max_data_bytes.
type SealsConfig struct {
	// UploadMaxBytes caps one PDF a portal uploads (POST /v1/uploads)
	// to name in a seal session.
	UploadMaxBytes int64 `mapstructure:"upload_max_bytes"`
	// UploadTTL is how long an upload waits for the session that uses it.
	UploadTTL time.Duration `mapstructure:"upload_ttl"`
	// DrawnSignatures lets phone users add a signature drawn with a
	// finger in the phone web app as a personal seal (POST /v1/me/seals).
	DrawnSignatures bool `mapstructure:"drawn_signatures"`
	// DrawnWidthMM is the printed width of a drawn signature in whole
	// millimetres (10 to 80).
	DrawnWidthMM int `mapstructure:"drawn_width_mm"`
}

// Bounds of the seals keys (package upload enforces the same).
const (
	MinUploadMaxBytes = 1 << 10
	MaxUploadMaxBytes = 64 << 20
	MinUploadTTL      = time.Minute
	MaxUploadTTL      = 7 * 24 * time.Hour
)

// CAConfig holds defaults of the certificate authority side.
type CAConfig struct {
	// ActivationTTL is how long a user's activation code stays valid.
	ActivationTTL time.Duration `mapstructure:"activation_ttl"`
	// CRLNextUpdate is the nextUpdate distance of published CRLs.
	CRLNextUpdate time.Duration `mapstructure:"crl_next_update"`
	// DefaultValidityDays is the validity of issued certificates when the
	// issuer's profile says nothing.
	DefaultValidityDays int `mapstructure:"default_validity_days"`
}

// PINConfig sets the PIN lockout policy.
type PINConfig struct {
	// MaxTries wrong PINs in a row lock the user's keys.
	MaxTries int `mapstructure:"max_tries"`
	// LockBase is the first lock's duration; each later lock doubles it.
	LockBase time.Duration `mapstructure:"lock_base"`
	// LockMax caps the lock duration.
	LockMax time.Duration `mapstructure:"lock_max"`
}

// HTTPConfig sets the HTTP server's limits and headers.
type HTTPConfig struct {
	// MaxBodyBytes caps every request body.
	MaxBodyBytes int64 `mapstructure:"max_body_bytes"`
	// ReadHeaderTimeout bounds reading a request's headers (> 0).
	ReadHeaderTimeout time.Duration `mapstructure:"read_header_timeout"`
	// ReadTimeout bounds reading a whole request; 0 means no limit.
	ReadTimeout time.Duration `mapstructure:"read_timeout"`
	// WriteTimeout bounds writing a response; 0 means no limit, else it
	// must be at least MinWriteTimeout: longer than the longest long-poll
	// wait plus a margin.
	WriteTimeout time.Duration `mapstructure:"write_timeout"`
	// IdleTimeout closes idle keep-alive connections; 0 means no limit.
	IdleTimeout time.Duration `mapstructure:"idle_timeout"`
	// LongPollWait is the long-poll wait a session's creation answer
	// advises its clients (watch.poll_wait), whole seconds from 1 s to
	// MaxPollWait. Behind a proxy that cuts requests idle for less, set it
	// below the proxy's timeout. A poll is held at most write_timeout
	// minus PollMargin (when write_timeout is set).
	LongPollWait time.Duration `mapstructure:"long_poll_wait"`
	// ShutdownTimeout is how long in-flight requests may run after a stop
	// signal before connections are closed.
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`
	// FrameAncestors is the CSP frame-ancestors source list of responses
	// ("'none'" forbids framing).
	FrameAncestors string `mapstructure:"frame_ancestors"`
}

// Long-poll bounds that http.write_timeout must leave room for.
const (
	// MaxPollWait is the longest long-poll wait (?wait= of
	// GET /v1/sessions/{id}/events; the api's MaxPollWait).
	MaxPollWait = 60 * time.Second
	// PollMargin is the time a long-poll answer needs beside its wait
	// (reading the events, writing the answer on a slow link).
	PollMargin = 10 * time.Second
	// MinWriteTimeout is the shortest http.write_timeout other than 0:
	// room for the v1 long-poll's 30 s and the margin. Longer waits are
	// held at most write_timeout minus PollMargin.
	MinWriteTimeout = 30*time.Second + PollMargin
	// DefaultLongPollWait is http.long_poll_wait's default: under the
	// 60 s idle timeout common proxies default to.
	DefaultLongPollWait = 55 * time.Second
)

// DeviceConfig sets the phone request checks.
type DeviceConfig struct {
	// ClockSkew is the largest accepted distance between a device
	// request's X-Timestamp and the server clock.
	ClockSkew time.Duration `mapstructure:"clock_skew"`
}

// Default returns the configuration used when no file and no environment
// variable says otherwise. It is valid.
func Default() Config {
	return Config{
		Listen:    "127.0.0.1:8080",
		PublicURL: "http://127.0.0.1:8080",
		DataDir:   "./data",
		Demo:      true,
		Log:       LogConfig{Level: "info", Format: "text"},
		Storage: StorageConfig{
			Backend: BackendBolt,
			Bolt:    BoltConfig{Timeout: time.Second, ExtraProcs: 1},
			Etcd: EtcdConfig{
				Endpoints:   []string{"127.0.0.1:2379"},
				Prefix:      "/ukeygate/",
				DialTimeout: 5 * time.Second,
			},
		},
		Session: SessionConfig{
			TTL:          120 * time.Second,
			MaxTTL:       600 * time.Second,
			Retention:    10 * time.Minute,
			MaxDataBytes: 512 << 10,
		},
		Seals: SealsConfig{
			UploadMaxBytes: 32 << 20,
			UploadTTL:      time.Hour,
			DrawnWidthMM:   40,
		},
		CA: CAConfig{
			ActivationTTL:       72 * time.Hour,
			CRLNextUpdate:       24 * time.Hour,
			DefaultValidityDays: 730,
		},
		PIN: PINConfig{MaxTries: 5, LockBase: 30 * time.Second, LockMax: time.Hour},
		HTTP: HTTPConfig{
			MaxBodyBytes:      1 << 20,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      90 * time.Second,
			LongPollWait:      DefaultLongPollWait,
			IdleTimeout:       120 * time.Second,
			ShutdownTimeout:   15 * time.Second,
			FrameAncestors:    "'none'",
		},
		Device: DeviceConfig{ClockSkew: 300 * time.Second},
		RateLimit: RateLimitConfig{
			Enabled: true,
			Address: Budget{Requests: 1200, Per: time.Minute},
			App:     Budget{Requests: 6000, Per: time.Minute},
			Device:  Budget{Requests: 120, Per: time.Minute},
			Enroll:  Budget{Requests: 20, Per: time.Hour},
		},
		Webhook: DefaultWebhook(),
		Privacy: PrivacyConfig{CertificateRetention: 1826 * 24 * time.Hour, Compact: true},
		Audit:   AuditConfig{Retention: 90 * 24 * time.Hour, PruneInterval: time.Minute},
		Registration: RegistrationConfig{PolicyVersion: "2026-01", PolicyURL: "/m/privacy.html", Verifier: "manual",
			MaxLicenceBytes: 512 << 10},
		Memory:     DefaultMemory(),
		Monitoring: MonitoringConfig{Interval: 5 * time.Minute, ExpiringWithin: 30 * 24 * time.Hour},
	}
}

// MasterKeyPath is the master key file: master_key_file, or
// <data_dir>/master.key when that is empty.
func (c Config) MasterKeyPath() string {
	if c.MasterKeyFile != "" {
		return c.MasterKeyFile
	}
	return filepath.Join(c.DataDir, "master.key")
}

// BoltPath is the bbolt database file, <data_dir>/ukeygate.db.
func (c Config) BoltPath() string { return filepath.Join(c.DataDir, "ukeygate.db") }

// BoltRestoringPath is where `ukeygate restore` builds the bbolt file
// before renaming it to BoltPath; found without a BoltPath beside it, it
// is the leftover of an interrupted restore.
func (c Config) BoltRestoringPath() string { return c.BoltPath() + ".restoring" }
