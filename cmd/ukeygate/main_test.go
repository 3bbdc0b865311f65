package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// runCLI runs the command line in-process.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// checkOneLine fails unless stderr is exactly one "ukeygate: " line
// containing want, without a panic or a goroutine dump.
func checkOneLine(t *testing.T, stderr, want string) {
	t.Helper()
	if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "ukeygate: ") || !strings.HasSuffix(stderr, "\n") {
		t.Errorf("stderr is not one 'ukeygate: ' line: %q", stderr)
	}
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr %q lacks %q", stderr, want)
	}
	if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine") {
		t.Errorf("stderr shows a panic: %q", stderr)
	}
}

func TestInit(t *testing.T) {
	clearEnv(t)
	dir := filepath.Join(t.TempDir(), "data")
	t.Setenv("UKEYGATE_DATA_DIR", dir)
	keyPath := filepath.Join(dir, "master.key")

	code, out, errOut := runCLI(t, "init")
	if code != 0 || errOut != "" {
		t.Fatalf("init: exit %d, stderr %q", code, errOut)
	}
	if !strings.Contains(out, keyPath) {
		t.Errorf("init did not print the path %s: %q", keyPath, out)
	}
	fi, err := os.Stat(keyPath)
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != 32 {
		t.Fatalf("key file: %v, %v", fi, err)
	}
	if di, err := os.Stat(dir); err != nil || di.Mode().Perm() != 0o700 {
		t.Fatalf("data_dir: %v, %v", di, err)
	}
	key, _ := os.ReadFile(keyPath)

	code, out, errOut = runCLI(t, "init")
	if code != 1 || out != "" {
		t.Fatalf("second init: exit %d, stdout %q", code, out)
	}
	checkOneLine(t, errOut, "already exists")
	checkOneLine(t, errOut, keyPath)
	if again, _ := os.ReadFile(keyPath); !bytes.Equal(again, key) {
		t.Fatal("second init changed the key")
	}
}

func TestInitKeyFileElsewhere(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "secrets", "gw.key")
	cfgFile := writeFile(t, "c.yaml", "data_dir: "+filepath.Join(dir, "data")+"\nmaster_key_file: "+keyPath+"\n")
	code, out, errOut := runCLI(t, "--config", cfgFile, "init")
	if code != 0 || !strings.Contains(out, keyPath) {
		t.Fatalf("init: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if fi, err := os.Stat(keyPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", fi, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err != nil {
		t.Fatalf("data_dir not created: %v", err)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, "version")
	if code != 0 || !strings.HasPrefix(out, "ukeygate dev (commit dev, go") {
		t.Fatalf("version: %d %q", code, out)
	}
}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantCode int
		wantErr  string
	}{
		{"unknown command", []string{"frobnicate"}, nil, 2, `unknown command "frobnicate"`},
		{"unknown flag", []string{"serve", "--frob"}, nil, 2, "unknown flag: --frob"},
		{"extra argument", []string{"init", "now"}, nil, 2, `unknown command "now" for "ukeygate init"`},
		{"missing flag value", []string{"serve", "--config"}, nil, 2, "flag needs an argument"},
		{"usage error from RunE", nil, nil, 2, "bad flag value"},
		{"bad config", []string{"serve"}, map[string]string{"UKEYGATE_LOG_LEVEL": "loud"}, 1, `config: log.level "loud"`},
		{"missing config file", []string{"--config", "/nonexistent/ukeygate.yaml", "serve"}, nil, 1, "config: cannot read config file"},
		{"missing master key", []string{"serve"}, nil, 1, "run `ukeygate init`"},
		{"bad env master key", []string{"serve"}, map[string]string{"UKEYGATE_MASTER_KEY": "abcd"}, 1, "UKEYGATE_MASTER_KEY) must be 32 bytes"},
		{"pprof on every interface", []string{"serve"}, map[string]string{"UKEYGATE_DEBUG_PPROF_LISTEN": "0.0.0.0:6060"}, 1,
			`config: debug.pprof_listen "0.0.0.0:6060": must be a loopback address`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			t.Setenv("UKEYGATE_DATA_DIR", t.TempDir())
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var code int
			var errOut string
			if tt.args == nil {
				// A subcommand's RunE returning usageErrorf.
				var out, errb bytes.Buffer
				code = runWith(t, &out, &errb)
				errOut = errb.String()
			} else {
				code, _, errOut = runCLI(t, tt.args...)
			}
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tt.wantCode, errOut)
			}
			checkOneLine(t, errOut, tt.wantErr)
		})
	}
}

// runWith runs the root command extended with a subcommand whose RunE
// returns a usage error, through the same path as run.
func runWith(t *testing.T, out, errb *bytes.Buffer) int {
	t.Helper()
	root, state := newRootCmd()
	root.AddCommand(&cobra.Command{
		Use: "usage-test",
		RunE: func(*cobra.Command, []string) error {
			return usageErrorf("bad flag value %q", "x")
		},
	})
	return execute(context.Background(), root, state, []string{"usage-test"}, out, errb)
}
