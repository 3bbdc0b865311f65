package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/internal/testkit"
)

// guard bounds every wait on a subprocess: a failure guard only.
const guard = 60 * time.Second

// testVersion is stamped into the test binary by -ldflags.
const testVersion = "v0.0.0-test"

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildDir  string
)

func TestMain(m *testing.M) {
	flag.Parse()
	// No UKEYGATE_* setting of the developer's shell reaches the tests
	// (server URL, tokens, phone state, config keys). The tests that run
	// in parallel rely on this, as they cannot t.Setenv; the others set
	// what they need with t.Setenv (clearEnv), and the subprocesses get
	// testEnv.
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "UKEYGATE_") {
			os.Unsetenv(name)
		}
	}
	// Build the binary while the in-process tests run, unless -run picks
	// tests (which may not need it) or -short skips the binary's tests:
	// the subprocess tests, which run in parallel once the others are
	// done, then find it built.
	if f := flag.Lookup("test.run"); f != nil && f.Value.String() == "" && !testing.Short() {
		go buildOnce.Do(buildBinary)
	}
	code := m.Run()
	buildOnce.Do(func() {}) // waits for a build still running
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	seed.once.Do(func() {})
	if seed.dir != "" {
		os.RemoveAll(seed.dir)
	}
	os.Exit(code)
}

// binary builds the real ukeygate binary once per test run.
func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	buildOnce.Do(buildBinary)
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// buildBinary builds the binary (with -race when the tests run with it)
// into buildDir; binary() runs it once.
func buildBinary() {
	buildDir, buildErr = os.MkdirTemp("", "ukeygate-bin-")
	if buildErr != nil {
		return
	}
	binPath = filepath.Join(buildDir, "ukeygate")
	args := []string{"build", "-o", binPath,
		"-ldflags", "-X main.version=" + testVersion + " -X main.commit=abc123"}
	if raceEnabled {
		args = append(args, "-race")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		goCmd = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	out, err := exec.Command(goCmd, append(args, ".")...).CombinedOutput()
	if err != nil {
		buildErr = fmt.Errorf("go build: %v\n%s", err, out)
	}
}

// proc is a running ukeygate subprocess.
type proc struct {
	cmd    *exec.Cmd
	stderr *testkit.SyncBuffer
	lines  chan string // stderr lines
	exited chan struct{}
	err    error // Wait's result, valid once exited is closed
}

// testEnv is a minimal environment (no UKEYGATE_* of the developer's) plus
// the given variables.
func testEnv(vars ...string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + os.TempDir()}
	return append(env, vars...)
}

func startProc(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = env
	pr, pw := io.Pipe()
	p := &proc{cmd: cmd, stderr: &testkit.SyncBuffer{}, lines: make(chan string, 1000), exited: make(chan struct{})}
	cmd.Stderr = io.MultiWriter(p.stderr, pw)
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
	}()
	go func() {
		p.err = cmd.Wait()
		pw.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

// waitListening reads the JSON log until the "listening" line and returns
// the address.
func (p *proc) waitListening(t *testing.T) string {
	t.Helper()
	timeout := time.After(guard)
	for {
		select {
		case line := <-p.lines:
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "listening" {
				return rec["addr"].(string)
			}
		case <-p.exited:
			t.Fatalf("ukeygate exited before listening: %v\n%s", p.err, p.stderr)
		case <-timeout:
			t.Fatalf("ukeygate did not start listening\n%s", p.stderr)
		}
	}
}

// wait waits for the exit and returns the exit code.
func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(guard):
		t.Fatalf("ukeygate did not exit\n%s", p.stderr)
	}
	if p.err == nil {
		return 0
	}
	if ee, ok := p.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	t.Fatalf("wait: %v", p.err)
	return -1
}

// initDataDir runs `ukeygate init` for a fresh data dir and returns it.
func initDataDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	p := startProc(t, testEnv("UKEYGATE_DATA_DIR="+dir), "init")
	if code := p.wait(t); code != 0 {
		t.Fatalf("init: exit %d\n%s", code, p.stderr)
	}
	return dir
}

// The tests that run the binary as a subprocess run in parallel: they
// wait on other processes, and set no environment of their own.

func TestBinaryVersion(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(binary(t), "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "ukeygate "+testVersion+" (commit abc123,") {
		t.Fatalf("version: %q, %v", out, err)
	}
}

func TestServeAndStop(t *testing.T) {
	t.Parallel()
	dir := initDataDir(t)
	p := startProc(t, testEnv("UKEYGATE_DATA_DIR="+dir, "UKEYGATE_LISTEN=127.0.0.1:0",
		"UKEYGATE_LOG_FORMAT=json", "UKEYGATE_SESSION_TTL=30s"), "serve")
	addr := p.waitListening(t)

	client := &http.Client{Timeout: guard}
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 200} {
		resp, err := client.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	// An idle keep-alive connection must not hold the shutdown up.
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0\n%s", code, p.stderr)
	}
	logs := p.stderr.String()
	if !strings.Contains(logs, `"msg":"stopped"`) {
		t.Errorf("no 'stopped' log line:\n%s", logs)
	}
	for _, bad := range []string{"panic", "goroutine", "ukeygate: "} {
		if strings.Contains(logs, bad) {
			t.Errorf("stderr contains %q:\n%s", bad, logs)
		}
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("port still open after exit")
	}
}

func TestServeFailures(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() }) // after the parallel cases

	tests := []struct {
		name    string
		setup   func(t *testing.T) (env, args []string) // of the failing process
		wantErr string
	}{
		{"bad config", func(t *testing.T) ([]string, []string) {
			return []string{"UKEYGATE_DATA_DIR=" + initDataDir(t), "UKEYGATE_SESSION_TTL=0s"}, nil
		}, "config: session.ttl 0s"},
		{"unknown key in file", func(t *testing.T) ([]string, []string) {
			f := writeFile(t, "c.yaml", "sesion:\n  ttl: 1s\n")
			return []string{"UKEYGATE_DATA_DIR=" + initDataDir(t)}, []string{"--config", f}
		}, `unknown key "sesion.ttl"`},
		{"missing master key", func(t *testing.T) ([]string, []string) {
			return []string{"UKEYGATE_DATA_DIR=" + t.TempDir()}, nil
		}, "master.key is missing: run `ukeygate init`"},
		{"exposed master key", func(t *testing.T) ([]string, []string) {
			dir := initDataDir(t)
			if err := os.Chmod(filepath.Join(dir, "master.key"), 0o644); err != nil {
				t.Fatal(err)
			}
			return []string{"UKEYGATE_DATA_DIR=" + dir}, nil
		}, "readable by group or others"},
		{"locked data file", func(t *testing.T) ([]string, []string) {
			dir := initDataDir(t)
			first := startProc(t, testEnv("UKEYGATE_DATA_DIR="+dir, "UKEYGATE_LISTEN=127.0.0.1:0", "UKEYGATE_LOG_FORMAT=json"), "serve")
			first.waitListening(t)
			return []string{"UKEYGATE_DATA_DIR=" + dir, "UKEYGATE_STORAGE_BOLT_TIMEOUT=200ms"}, nil
		}, "is locked by another process"},
		{"port in use", func(t *testing.T) ([]string, []string) {
			return []string{"UKEYGATE_DATA_DIR=" + initDataDir(t), "UKEYGATE_LISTEN=" + busy.Addr().String()}, nil
		}, "cannot listen on " + busy.Addr().String()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each case has its own data dir and process
			env, args := tt.setup(t)
			args = append(args, "serve")
			env = append(env, "UKEYGATE_LOG_FORMAT=json")
			if !strings.Contains(strings.Join(env, " "), "UKEYGATE_LISTEN=") {
				env = append(env, "UKEYGATE_LISTEN=127.0.0.1:0")
			}
			p := startProc(t, testEnv(env...), args...)
			if code := p.wait(t); code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
			checkOneLine(t, p.stderr.String(), tt.wantErr)
		})
	}
}

// TestServeWarnsWhenPublicURLDisagrees: serve logs a warning when
// public_url leads to another port than the one it listens on, and none
// when they agree.
func TestServeWarnsWhenPublicURLDisagrees(t *testing.T) {
	t.Parallel()
	dir := initDataDir(t)
	for _, tc := range []struct {
		name      string
		publicURL func(listen string) string
		warn      bool
	}{
		{"agree", func(listen string) string { return "http://" + listen }, false},
		{"listen port changed", func(string) string { return "http://" + testkit.FreeAddr(t) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			listen := testkit.FreeAddr(t)
			publicURL := tc.publicURL(listen)
			p := startProc(t, testEnv("UKEYGATE_DATA_DIR="+dir, "UKEYGATE_LISTEN="+listen, "UKEYGATE_PUBLIC_URL="+publicURL,
				"UKEYGATE_LOG_FORMAT=json", "UKEYGATE_DEMO=false"), "serve")
			p.waitListening(t)
			if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if code := p.wait(t); code != 0 {
				t.Fatalf("exit %d\n%s", code, p.stderr)
			}
			var warning map[string]any
			for _, line := range strings.Split(p.stderr.String(), "\n") {
				var rec map[string]any
				if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "public_url does not lead to this server" {
					warning = rec
				}
			}
			if !tc.warn {
				if warning != nil {
					t.Fatalf("unexpected warning %v", warning)
				}
				return
			}
			if warning == nil || warning["level"] != "WARN" || warning["listen"] != listen || warning["public_url"] != publicURL ||
				!strings.Contains(fmt.Sprint(warning["reason"]), "set public_url to http://"+listen) {
				t.Fatalf("warning %v\n%s", warning, p.stderr)
			}
		})
	}
}
