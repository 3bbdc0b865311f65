package testkit

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// commandTimeout guards one run of an external tool; it is a failure guard
// only (openssl normally answers in milliseconds).
const commandTimeout = 2 * time.Minute

// requireTool returns the path of the binary name. When it is not in PATH
// the test is skipped, except under CI=true, where it fails; hint says how
// to install it.
func requireTool(t testing.TB, name, hint string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("testkit: %s is required when CI=true (%s): %v", name, hint, err)
		}
		t.Skipf("testkit: %s not installed (%s): %v", name, hint, err)
	}
	return p
}

// OpenSSL returns the path of the openssl binary. Without it the test is
// skipped, except under CI=true, where it fails.
func OpenSSL(t testing.TB) string {
	t.Helper()
	return requireTool(t, "openssl", "apt-get install -y openssl")
}

// HaveOpenSSL is OpenSSL for an optional extra check: it reports false
// (with a log line) when openssl is missing off CI, and fails the test
// when it is missing under CI=true.
func HaveOpenSSL(t testing.TB) bool {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("testkit: openssl is required when CI=true: %v", err)
		}
		t.Log("testkit: openssl not installed: its check is skipped")
		return false
	}
	return true
}

// TryOpenSSL runs openssl with args in dir and returns its combined
// stdout and stderr and its error (a non-zero exit, or a run longer than
// the failure guard of two minutes).
func TryOpenSSL(t testing.TB, dir string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, OpenSSL(t), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// RunOpenSSL runs openssl with args in dir and returns its combined stdout
// and stderr; a failure fails the test, with the output in the message.
func RunOpenSSL(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := TryOpenSSL(t, dir, args...)
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// FreeAddr returns a loopback "127.0.0.1:PORT" that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testkit: listen on loopback: %v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// SyncBuffer is a bytes.Buffer that is safe for concurrent writers, such
// as a child process's stdout and stderr or a server's goroutines.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what was written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
