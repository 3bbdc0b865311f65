package config_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/config"
)

func TestDefaultIsValid(t *testing.T) {
	if err := config.Default().Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
}

func TestDefaultMatchesDesign(t *testing.T) {
	// The values docs/protocol.md's "Configuration keys" section promises.
	c := config.Default()
	if c.Listen != "127.0.0.1:8080" || c.PublicURL != "http://127.0.0.1:8080" ||
		c.DataDir != "./data" || c.MasterKeyFile != "" || c.AdminToken != "" || !c.Demo ||
		c.Log.Level != "info" || c.Log.Format != "text" || c.TLS.Enabled() ||
		c.Storage.Backend != "bbolt" || len(c.Storage.Etcd.Endpoints) != 1 ||
		c.Storage.Etcd.Endpoints[0] != "127.0.0.1:2379" || c.Storage.Etcd.Prefix != "/ukeygate/" ||
		c.Session.TTL != 120*time.Second || c.Session.MaxTTL != 600*time.Second ||
		c.CA.ActivationTTL != 72*time.Hour || c.CA.CRLNextUpdate != 24*time.Hour ||
		c.CA.DefaultValidityDays != 730 || c.PIN.MaxTries != 5 || c.PIN.LockBase != 30*time.Second ||
		c.PIN.LockMax != time.Hour || c.HTTP.MaxBodyBytes != 1<<20 || c.HTTP.FrameAncestors != "'none'" ||
		c.Device.ClockSkew != 300*time.Second || c.Privacy.CertificateRetention != 1826*24*time.Hour || !c.Privacy.Compact {
		t.Fatalf("Default() differs from the design: %+v", c)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*config.Config)
		// wantErr is a substring of the error; "" means valid.
		wantErr string
	}{
		{"default", func(*config.Config) {}, ""},
		{"listen any host", func(c *config.Config) { c.Listen = ":8443" }, ""},
		{"listen ipv6", func(c *config.Config) { c.Listen = "[::1]:8080" }, ""},
		{"listen no port", func(c *config.Config) { c.Listen = "127.0.0.1" }, `config: listen "127.0.0.1": must be host:port`},
		{"listen bad port", func(c *config.Config) { c.Listen = "127.0.0.1:http" }, "config: listen \"127.0.0.1:http\": port must be a number"},
		{"listen port range", func(c *config.Config) { c.Listen = "127.0.0.1:70000" }, "port must be a number from 0 to 65535"},
		{"listen empty", func(c *config.Config) { c.Listen = "" }, "config: listen"},
		{"public_url https with path", func(c *config.Config) { c.PublicURL = "https://gw.example.com/ukey/" }, ""},
		{"public_url empty", func(c *config.Config) { c.PublicURL = "" }, "config: public_url \"\": must not be empty"},
		{"public_url relative", func(c *config.Config) { c.PublicURL = "/ukey" }, "config: public_url \"/ukey\": must be an absolute http(s) URL"},
		{"public_url ftp", func(c *config.Config) { c.PublicURL = "ftp://x.example" }, "must be an absolute http(s) URL"},
		{"public_url no host", func(c *config.Config) { c.PublicURL = "https://" }, "must name a host"},
		{"public_url query", func(c *config.Config) { c.PublicURL = "https://x.example/?a=1" }, "must not have a query"},
		{"public_url fragment", func(c *config.Config) { c.PublicURL = "https://x.example/#f" }, "must not have a fragment"},
		{"public_url userinfo", func(c *config.Config) { c.PublicURL = "https://u:p@x.example" }, "must not hold user info"},
		{"data_dir empty", func(c *config.Config) { c.DataDir = " " }, "config: data_dir"},
		{"admin token short", func(c *config.Config) { c.AdminToken = "short" }, "config: admin_token: must be empty"},
		{"admin token ok", func(c *config.Config) { c.AdminToken = strings.Repeat("a", 16) }, ""},
		{"certificate retention none", func(c *config.Config) { c.Privacy.CertificateRetention = 0 }, ""},
		{"pprof off", func(c *config.Config) { c.Debug.PprofListen = "" }, ""},
		{"pprof loopback v4", func(c *config.Config) { c.Debug.PprofListen = "127.0.0.1:6060" }, ""},
		{"pprof loopback v6", func(c *config.Config) { c.Debug.PprofListen = "[::1]:6060" }, ""},
		{"pprof localhost", func(c *config.Config) { c.Debug.PprofListen = "localhost:6060" }, ""},
		{"pprof any port", func(c *config.Config) { c.Debug.PprofListen = "127.0.0.1:0" }, ""},
		{"pprof every interface", func(c *config.Config) { c.Debug.PprofListen = ":6060" }, `config: debug.pprof_listen ":6060": must be a loopback address`},
		{"pprof 0.0.0.0", func(c *config.Config) { c.Debug.PprofListen = "0.0.0.0:6060" }, "must be a loopback address"},
		{"pprof private address", func(c *config.Config) { c.Debug.PprofListen = "10.1.2.3:6060" }, "must be a loopback address"},
		{"pprof host name", func(c *config.Config) { c.Debug.PprofListen = "ops.example:6060" }, "must be a loopback address"},
		{"pprof private address allowed", func(c *config.Config) {
			c.Debug.PprofListen, c.Debug.PprofAllowNonLoopback = "10.1.2.3:6060", true
		}, ""},
		{"pprof no port", func(c *config.Config) { c.Debug.PprofListen = "127.0.0.1" }, `config: debug.pprof_listen "127.0.0.1": must be host:port`},
		{"pprof same as listen", func(c *config.Config) { c.Debug.PprofListen = c.Listen }, "must not be the listen address"},
		{"pprof beside a wildcard listen", func(c *config.Config) { c.Listen, c.Debug.PprofListen = ":8080", "127.0.0.1:8080" }, "must not be the listen address"},
		{"pprof beside listen", func(c *config.Config) { c.Debug.PprofListen = "127.0.0.1:6060" }, ""},
		{"memory release off", func(c *config.Config) { c.Memory.Release = false }, ""},
		{"memory off still checked", func(c *config.Config) { c.Memory.Release, c.Memory.MinWaiters = false, 0 }, "config: memory.min_waiters 0: must be ≥ 1"},
		{"memory check too often", func(c *config.Config) { c.Memory.CheckInterval = time.Millisecond }, "config: memory.check_interval 1ms: must be between 100ms and 1h0m0s"},
		{"memory check too rare", func(c *config.Config) { c.Memory.CheckInterval, c.Memory.MinInterval = 2*time.Hour, 3*time.Hour }, "config: memory.check_interval 2h0m0s"},
		{"memory free bytes", func(c *config.Config) { c.Memory.MinFreeBytes = 4096 }, "config: memory.min_free_bytes 4096: must be ≥ 1048576"},
		{"memory interval below the check", func(c *config.Config) { c.Memory.MinInterval = time.Second }, "config: memory.min_interval 1s: must be between memory.check_interval (2s) and 24h0m0s"},
		{"memory interval too long", func(c *config.Config) { c.Memory.MinInterval = 25 * time.Hour }, "config: memory.min_interval 25h0m0s"},
		{"gc headroom off", func(c *config.Config) { c.Memory.GCHeadroom = 0 }, ""},
		{"gc headroom negative", func(c *config.Config) { c.Memory.GCHeadroom = -1 }, "config: memory.gc_headroom -1: must be from 0 (off) to 1073741824"},
		{"gc headroom too large", func(c *config.Config) { c.Memory.GCHeadroom = 2 << 30 }, "config: memory.gc_headroom 2147483648: must be from 0 (off)"},
		{"monitoring too often", func(c *config.Config) { c.Monitoring.Interval = time.Millisecond }, "config: monitoring.interval 1ms: must be from 1s to 24h0m0s"},
		{"monitoring too rare", func(c *config.Config) { c.Monitoring.Interval = 25 * time.Hour }, "config: monitoring.interval 25h0m0s"},
		{"monitoring window zero", func(c *config.Config) { c.Monitoring.ExpiringWithin = 0 }, "config: monitoring.expiring_within 0s: must be from 1h"},
		{"monitoring window too long", func(c *config.Config) { c.Monitoring.ExpiringWithin = 400 * 24 * time.Hour }, "config: monitoring.expiring_within 9600h0m0s"},
		{"certificate retention negative", func(c *config.Config) { c.Privacy.CertificateRetention = -time.Hour }, "config: privacy.certificate_retention -1h0m0s: must be from 0"},
		{"certificate retention too long", func(c *config.Config) { c.Privacy.CertificateRetention = config.MaxCertificateRetention + time.Hour }, "config: privacy.certificate_retention"},
		{"log level", func(c *config.Config) { c.Log.Level = "verbose" }, `config: log.level "verbose": must be debug, info, warn or error`},
		{"log format", func(c *config.Config) { c.Log.Format = "xml" }, `config: log.format "xml": must be text or json`},
		{"log json debug", func(c *config.Config) { c.Log.Level, c.Log.Format = "debug", "json" }, ""},
		{"tls cert only", func(c *config.Config) { c.TLS.CertFile = "c.pem" }, "config: tls.key_file \"\": must be set when tls.cert_file is"},
		{"tls key only", func(c *config.Config) { c.TLS.KeyFile = "k.pem" }, "config: tls.cert_file \"\": must be set when tls.key_file is"},
		{"tls both", func(c *config.Config) { c.TLS = config.TLSConfig{CertFile: "c.pem", KeyFile: "k.pem"} }, ""},
		{"backend unknown", func(c *config.Config) { c.Storage.Backend = "redis" }, `config: storage.backend "redis": must be bbolt or etcd`},
		{"bolt timeout", func(c *config.Config) { c.Storage.Bolt.Timeout = 0 }, "config: storage.bolt.timeout 0s: must be > 0"},
		{"bolt extra procs negative", func(c *config.Config) { c.Storage.Bolt.ExtraProcs = -1 }, "config: storage.bolt.extra_procs -1: must be from 0 to 8"},
		{"bolt extra procs too many", func(c *config.Config) { c.Storage.Bolt.ExtraProcs = 9 }, "config: storage.bolt.extra_procs 9: must be from 0 to 8"},
		{"etcd ok", func(c *config.Config) {
			c.Storage.Backend = "etcd"
			c.Storage.Etcd.Endpoints = []string{"10.0.0.1:2379", "https://etcd.example:2379"}
		}, ""},
		{"etcd no endpoints", func(c *config.Config) { c.Storage.Backend = "etcd"; c.Storage.Etcd.Endpoints = nil }, "config: storage.etcd.endpoints"},
		{"etcd bad endpoint", func(c *config.Config) {
			c.Storage.Backend = "etcd"
			c.Storage.Etcd.Endpoints = []string{"etcd"}
		}, `config: storage.etcd.endpoints "etcd": each endpoint must be host:port`},
		{"etcd prefix", func(c *config.Config) { c.Storage.Backend = "etcd"; c.Storage.Etcd.Prefix = "ukeygate" }, "config: storage.etcd.prefix"},
		{"etcd prefix root", func(c *config.Config) { c.Storage.Backend = "etcd"; c.Storage.Etcd.Prefix = "/" }, "config: storage.etcd.prefix"},
		{"etcd dial", func(c *config.Config) { c.Storage.Backend = "etcd"; c.Storage.Etcd.DialTimeout = 0 }, "config: storage.etcd.dial_timeout"},
		{"etcd keys ignored on bbolt", func(c *config.Config) { c.Storage.Etcd = config.EtcdConfig{} }, ""},
		{"session ttl zero", func(c *config.Config) { c.Session.TTL = 0 }, "config: session.ttl 0s: must be > 0 and ≤ session.max_ttl (10m0s)"},
		{"session ttl above max", func(c *config.Config) { c.Session.TTL = 11 * time.Minute }, "config: session.ttl 11m0s: must be > 0 and ≤ session.max_ttl"},
		{"session ttl equals max", func(c *config.Config) { c.Session.TTL = c.Session.MaxTTL }, ""},
		{"session max zero", func(c *config.Config) { c.Session.MaxTTL = 0 }, "config: session.max_ttl 0s: must be > 0"},
		{"session retention zero", func(c *config.Config) { c.Session.Retention = 0 }, "config: session.retention 0s: must be from 1s to 168h0m0s"},
		{"session retention above a week", func(c *config.Config) { c.Session.Retention = 169 * time.Hour }, "config: session.retention 169h0m0s"},
		{"session retention a week", func(c *config.Config) { c.Session.Retention = 168 * time.Hour }, ""},
		{"session max data zero", func(c *config.Config) { c.Session.MaxDataBytes = 0 }, "config: session.max_data_bytes 0: must be from 1024"},
		{"session max data above its bound", func(c *config.Config) { c.Session.MaxDataBytes = 640<<10 + 1 }, "config: session.max_data_bytes 655361"},
		{"session max data at its bound", func(c *config.Config) { c.Session.MaxDataBytes = 640 << 10 }, ""},
		{"activation ttl", func(c *config.Config) { c.CA.ActivationTTL = -time.Second }, "config: ca.activation_ttl -1s: must be > 0"},
		{"crl next update", func(c *config.Config) { c.CA.CRLNextUpdate = 0 }, "config: ca.crl_next_update"},
		{"validity days", func(c *config.Config) { c.CA.DefaultValidityDays = 0 }, "config: ca.default_validity_days 0: must be from 1 to 36500"},
		{"pin tries", func(c *config.Config) { c.PIN.MaxTries = 0 }, "config: pin.max_tries 0"},
		{"pin lock base", func(c *config.Config) { c.PIN.LockBase = 0 }, "config: pin.lock_base"},
		{"pin lock max below base", func(c *config.Config) { c.PIN.LockMax = time.Second }, "config: pin.lock_max 1s: must be ≥ pin.lock_base (30s)"},
		{"body bytes", func(c *config.Config) { c.HTTP.MaxBodyBytes = 0 }, "config: http.max_body_bytes 0: must be > 0"},
		{"read header timeout", func(c *config.Config) { c.HTTP.ReadHeaderTimeout = 0 }, "config: http.read_header_timeout"},
		{"write timeout unlimited", func(c *config.Config) { c.HTTP.WriteTimeout = 0 }, ""},
		{"expiry reminders default", func(c *config.Config) {}, ""},
		{"expiry reminders none", func(c *config.Config) { c.Webhook.ExpiryReminders = nil }, ""},
		{"expiry reminders bare days", func(c *config.Config) { c.Webhook.ExpiryReminders = []string{"60", "14d"} }, ""},
		{"expiry reminder zero", func(c *config.Config) { c.Webhook.ExpiryReminders = []string{"0d"} }, `config: webhook.expiry_reminders "0d"`},
		{"expiry reminder in hours", func(c *config.Config) { c.Webhook.ExpiryReminders = []string{"72h"} }, `config: webhook.expiry_reminders "72h"`},
		{"expiry reminder too far", func(c *config.Config) { c.Webhook.ExpiryReminders = []string{"3661d"} }, `config: webhook.expiry_reminders "3661d"`},
		{"expiry reminder twice", func(c *config.Config) { c.Webhook.ExpiryReminders = []string{"7d", "7"} }, `config: webhook.expiry_reminders "7": given twice`},
		{"reminder interval zero", func(c *config.Config) { c.Webhook.ReminderInterval = 0 }, "config: webhook.reminder_interval 0s"},
		{"reminder interval above a day", func(c *config.Config) { c.Webhook.ReminderInterval = 25 * time.Hour }, "config: webhook.reminder_interval 25h0m0s"},
		{"write timeout negative", func(c *config.Config) { c.HTTP.WriteTimeout = -1 }, "config: http.write_timeout"},
		{"write timeout under the long-poll", func(c *config.Config) { c.HTTP.WriteTimeout = 25 * time.Second },
			"config: http.write_timeout 25s: must be 0 (no limit) or at least 40s: longer than the v1 long-poll wait (30s) plus a 10s margin"},
		{"long-poll wait zero", func(c *config.Config) { c.HTTP.LongPollWait = 0 },
			"config: http.long_poll_wait 0s: must be whole seconds from 1s to 1m0s"},
		{"long-poll wait too long", func(c *config.Config) { c.HTTP.LongPollWait = 61 * time.Second }, "config: http.long_poll_wait 1m1s"},
		{"long-poll wait not whole seconds", func(c *config.Config) { c.HTTP.LongPollWait = 1500 * time.Millisecond }, "config: http.long_poll_wait 1.5s"},
		{"write timeout without margin", func(c *config.Config) { c.HTTP.WriteTimeout = 30 * time.Second }, "config: http.write_timeout 30s"},
		{"write timeout just enough", func(c *config.Config) { c.HTTP.WriteTimeout = 40 * time.Second }, ""},
		{"shutdown timeout", func(c *config.Config) { c.HTTP.ShutdownTimeout = 0 }, "config: http.shutdown_timeout"},
		{"frame ancestors list", func(c *config.Config) { c.HTTP.FrameAncestors = "'self' https://portal.example.com" }, ""},
		{"frame ancestors injection", func(c *config.Config) { c.HTTP.FrameAncestors = "'none'; script-src *" }, "config: http.frame_ancestors"},
		{"frame ancestors empty", func(c *config.Config) { c.HTTP.FrameAncestors = "" }, "config: http.frame_ancestors"},
		{"clock skew", func(c *config.Config) { c.Device.ClockSkew = 0 }, "config: device.clock_skew 0s: must be > 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := config.Default()
			tt.mutate(&c)
			err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want error containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate() = %q, want it to contain %q", err, tt.wantErr)
			}
			if !errors.Is(err, config.ErrInvalid) {
				t.Errorf("errors.Is(%v, ErrInvalid) = false", err)
			}
			var fe *config.FieldError
			if !errors.As(err, &fe) || !strings.HasPrefix(err.Error(), "config: "+fe.Key+" ") && !strings.HasPrefix(err.Error(), "config: "+fe.Key+":") {
				t.Errorf("error %v does not name its key", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q spans lines", err)
			}
		})
	}
}

func TestSecretNotInError(t *testing.T) {
	c := config.Default()
	c.AdminToken = "s3cret"
	err := c.Validate()
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("Validate() = %v: want an error that does not show the token", err)
	}
}

func TestPaths(t *testing.T) {
	c := config.Default()
	c.DataDir = "/var/lib/ukeygate"
	if got := c.MasterKeyPath(); got != "/var/lib/ukeygate/master.key" {
		t.Errorf("MasterKeyPath() = %q", got)
	}
	if got := c.BoltPath(); got != "/var/lib/ukeygate/ukeygate.db" {
		t.Errorf("BoltPath() = %q", got)
	}
	c.MasterKeyFile = "/etc/ukeygate/master.key"
	if got := c.MasterKeyPath(); got != "/etc/ukeygate/master.key" {
		t.Errorf("MasterKeyPath() = %q", got)
	}
	c.PublicURL = "https://gw.example.com/ukey/"
	if got := c.PublicBaseURL(); got != "https://gw.example.com/ukey" {
		t.Errorf("PublicBaseURL() = %q", got)
	}
}
