package main

import (
	"strings"
	"syscall"
	"testing"
)

// TestServeRefusesPublicDemo: demo: true on a non-loopback address is
// refused before anything is opened, unless --i-know-demo-is-public.
func TestServeRefusesPublicDemo(t *testing.T) {
	t.Parallel()
	dir := initDataDir(t)
	env := testEnv("UKEYGATE_DATA_DIR="+dir, "UKEYGATE_LISTEN=0.0.0.0:0", "UKEYGATE_LOG_FORMAT=json", "UKEYGATE_DEMO=true")
	p := startProc(t, env, "serve")
	if code := p.wait(t); code != 1 || !strings.Contains(p.stderr.String(), "--i-know-demo-is-public") {
		t.Fatalf("serve: exit %d, want 1 naming --i-know-demo-is-public\n%s", code, p.stderr)
	}
	p = startProc(t, env, "serve", "--i-know-demo-is-public")
	p.waitListening(t)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("serve --i-know-demo-is-public: exit %d\n%s", code, p.stderr)
	}
	p = startProc(t, testEnv("UKEYGATE_DATA_DIR="+dir, "UKEYGATE_LISTEN=0.0.0.0:0", "UKEYGATE_LOG_FORMAT=json", "UKEYGATE_DEMO=false"), "serve")
	p.waitListening(t)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("serve with demo: false: exit %d\n%s", code, p.stderr)
	}
}
