package main

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/config"
)

// clearEnv unsets every UKEYGATE_* variable of the configuration for the
// test (restored afterwards), so the developer's environment cannot leak in.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, k := range configKeys() {
		name := envName(k.name)
		t.Setenv(name, "")
		os.Unsetenv(name)
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigKeys(t *testing.T) {
	var names []string
	for _, k := range configKeys() {
		names = append(names, k.name)
	}
	// The keys docs/protocol.md names, plus a sample of the others.
	for _, want := range []string{
		"listen", "public_url", "data_dir", "master_key_file", "master_key", "admin_token", "demo",
		"log.level", "log.format", "tls.cert_file", "tls.key_file",
		"storage.backend", "storage.bolt.timeout", "storage.etcd.endpoints", "storage.etcd.prefix",
		"storage.etcd.dial_timeout", "session.ttl", "session.max_ttl", "ca.activation_ttl",
		"pin.max_tries", "http.max_body_bytes", "http.frame_ancestors", "device.clock_skew",
	} {
		if !slices.Contains(names, want) {
			t.Errorf("configKeys() lacks %q", want)
		}
	}
	if got, want := envName("storage.etcd.dial_timeout"), "UKEYGATE_STORAGE_ETCD_DIAL_TIMEOUT"; got != want {
		t.Errorf("envName = %q, want %q", got, want)
	}
}

func TestNoFileGivesDefaults(t *testing.T) {
	clearEnv(t)
	cfg, err := loadConfigFile("")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, config.Default()) {
		t.Fatalf("got %+v\nwant %+v", cfg, config.Default())
	}
}

// TestEveryKeyFromEnv sets each key, one at a time, by environment (also
// keys absent from the file) and checks that exactly that field changed.
func TestEveryKeyFromEnv(t *testing.T) {
	file := writeFile(t, "c.yaml", "session:\n  max_ttl: 700s\n")
	for _, k := range configKeys() {
		t.Run(k.name, func(t *testing.T) {
			clearEnv(t)
			var env string
			var want any
			switch {
			case k.typ == durationType:
				env, want = "17s", 17*time.Second
			case k.typ.Kind() == reflect.String:
				env, want = "value-of-"+k.name, "value-of-"+k.name
			case k.typ.Kind() == reflect.Bool:
				def := reflect.ValueOf(config.Default()).FieldByIndex(k.index).Bool()
				env, want = map[bool]string{true: "false", false: "true"}[def], !def
			case k.typ.Kind() == reflect.Int:
				env, want = "4242", 4242
			case k.typ.Kind() == reflect.Int64:
				env, want = "4242", int64(4242)
			case k.typ.Kind() == reflect.Slice:
				env, want = " h1:1 ,h2:2,, ", []string{"h1:1", "h2:2"}
			default:
				t.Fatalf("no test value for type %s", k.typ)
			}
			t.Setenv(envName(k.name), env)
			cfg, err := readConfig(file)
			if err != nil {
				t.Fatal(err)
			}
			got := reflect.ValueOf(cfg).FieldByIndex(k.index).Interface()
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s=%q gave %#v, want %#v", envName(k.name), env, got, want)
			}
			// Nothing else changed (the file's key aside).
			expect := config.Default()
			expect.Session.MaxTTL = 700 * time.Second
			reflect.ValueOf(&expect).Elem().FieldByIndex(k.index).Set(reflect.ValueOf(want))
			if !reflect.DeepEqual(cfg, expect) {
				t.Fatalf("other keys changed:\n got %+v\nwant %+v", cfg, expect)
			}
		})
	}
}

func TestFileAndEnv(t *testing.T) {
	file := writeFile(t, "ukeygate.yaml", `
listen: 0.0.0.0:9000
public_url: https://ukey.example.com
storage:
  etcd:
    endpoints: [e1:2379, e2:2379]
session:
  ttl: 90s
log: {level: debug}
http:
  max_body_bytes: 2048
demo: false
`)
	tests := []struct {
		name  string
		env   map[string]string
		check func(c config.Config) bool
	}{
		{"file only", nil, func(c config.Config) bool {
			return c.Listen == "0.0.0.0:9000" && c.PublicURL == "https://ukey.example.com" &&
				c.Session.TTL == 90*time.Second && c.Session.MaxTTL == 600*time.Second &&
				c.Log.Level == "debug" && c.Log.Format == "text" && !c.Demo && c.HTTP.MaxBodyBytes == 2048 &&
				slices.Equal(c.Storage.Etcd.Endpoints, []string{"e1:2379", "e2:2379"}) &&
				c.Storage.Backend == "bbolt" && c.Storage.Etcd.Prefix == "/ukeygate/"
		}},
		{"env beats file, nested keys", map[string]string{
			"UKEYGATE_SESSION_TTL":            "30s",
			"UKEYGATE_STORAGE_BACKEND":        "etcd",
			"UKEYGATE_LOG_FORMAT":             "json",
			"UKEYGATE_STORAGE_ETCD_ENDPOINTS": "n1:2379,n2:2379,n3:2379",
			"UKEYGATE_DEMO":                   "true",
		}, func(c config.Config) bool {
			return c.Session.TTL == 30*time.Second && c.Storage.Backend == "etcd" &&
				c.Log.Format == "json" && c.Log.Level == "debug" && c.Demo &&
				slices.Equal(c.Storage.Etcd.Endpoints, []string{"n1:2379", "n2:2379", "n3:2379"}) &&
				c.Listen == "0.0.0.0:9000"
		}},
		{"env for keys absent from the file", map[string]string{
			"UKEYGATE_PIN_MAX_TRIES":        "3",
			"UKEYGATE_CA_CRL_NEXT_UPDATE":   "12h",
			"UKEYGATE_HTTP_FRAME_ANCESTORS": "'self'",
			"UKEYGATE_ADMIN_TOKEN":          "0123456789abcdef0123",
		}, func(c config.Config) bool {
			return c.PIN.MaxTries == 3 && c.CA.CRLNextUpdate == 12*time.Hour &&
				c.HTTP.FrameAncestors == "'self'" && c.AdminToken == "0123456789abcdef0123"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			cfg, err := loadConfigFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(cfg) {
				t.Fatalf("unexpected config %+v", cfg)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name    string
		file    string // YAML content; "" = no file
		env     map[string]string
		wantErr []string
	}{
		{"duration without unit in file", "session:\n  ttl: 30\n", nil,
			[]string{"config: session.ttl 30 (from ", "c.yaml): must be a duration with a unit"}},
		{"bad duration in env", "", map[string]string{"UKEYGATE_SESSION_TTL": "soon"},
			[]string{`config: session.ttl "soon" (from UKEYGATE_SESSION_TTL): must be a duration`}},
		{"bad bool", "", map[string]string{"UKEYGATE_DEMO": "maybe"},
			[]string{`config: demo "maybe" (from UKEYGATE_DEMO): must be true or false`}},
		{"bad int", "pin:\n  max_tries: many\n", nil,
			[]string{`config: pin.max_tries "many"`, "must be a whole number"}},
		{"fraction int", "pin:\n  max_tries: 2.5\n", nil, []string{"config: pin.max_tries 2.5", "whole number"}},
		{"list of maps", "storage:\n  etcd:\n    endpoints: [{a: 1}]\n", nil, []string{"config: storage.etcd.endpoints", "list of strings"}},
		{"unknown key", "sesion:\n  ttl: 30s\n", nil, []string{`config: unknown key "sesion.ttl" in `}},
		{"unknown nested key", "session:\n  tll: 30s\n", nil, []string{`config: unknown key "session.tll"`}},
		{"section given a value", "log: loud\n", nil, []string{"config: log in ", "must be a section of keys"}},
		{"yaml syntax", "session: [\n", nil, []string{"config: ", "c.yaml", "yaml"}},
		{"validation", "", map[string]string{"UKEYGATE_SESSION_TTL": "0s"},
			[]string{"config: session.ttl 0s: must be > 0 and ≤ session.max_ttl (10m0s)"}},
		{"validation from file", "storage:\n  backend: redis\n", nil, []string{`config: storage.backend "redis": must be bbolt or etcd`}},
		{"secret not shown", "", map[string]string{"UKEYGATE_ADMIN_TOKEN": "tiny-secret"},
			[]string{"config: admin_token: must be empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			path := ""
			if tt.file != "" {
				path = writeFile(t, "c.yaml", tt.file)
			}
			_, err := loadConfigFile(path)
			if err == nil {
				t.Fatal("loadConfigFile succeeded")
			}
			msg := oneLine(err.Error())
			for _, want := range tt.wantErr {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q lacks %q", msg, want)
				}
			}
			if strings.Contains(msg, "tiny-secret") {
				t.Errorf("error shows the secret: %q", msg)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		clearEnv(t)
		_, err := loadConfigFile(filepath.Join(t.TempDir(), "none.yaml"))
		if err == nil || !strings.Contains(err.Error(), "config: cannot read config file") || !strings.Contains(err.Error(), "none.yaml") {
			t.Fatalf("loadConfigFile = %v", err)
		}
	})
}

// TestExampleConfig: config.example.yaml loads, documents every key
// (master_key aside: it belongs in the environment) and holds the
// defaults.
func TestExampleConfig(t *testing.T) {
	clearEnv(t)
	const path = "../../config.example.yaml"
	cfg, err := loadConfigFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, config.Default()) {
		t.Errorf("config.example.yaml differs from config.Default():\n got %+v\nwant %+v", cfg, config.Default())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, k := range configKeys() {
		if k.name == "master_key" {
			if !strings.Contains(text, "UKEYGATE_MASTER_KEY") {
				t.Error("config.example.yaml does not mention UKEYGATE_MASTER_KEY")
			}
			continue
		}
		leaf := k.name[strings.LastIndex(k.name, ".")+1:]
		if !strings.Contains(text, "\n"+strings.Repeat(" ", 2*strings.Count(k.name, "."))+leaf+":") {
			t.Errorf("config.example.yaml lacks key %s", k.name)
		}
	}
}
