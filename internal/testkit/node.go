package testkit

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// RepoRoot returns the repository's root: the nearest folder above the
// test's working directory that holds go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("testkit: working directory: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("testkit: no go.mod above the working directory")
		}
		dir = parent
	}
}

// NodeModules returns examples/node/node_modules, where `npm ci --prefix
// examples/node` (make test, .ci/run) installs the pinned npm packages the
// tests run: sm-crypto and gm-crypto. Without node or those packages the
// test is skipped, except under CI=true, where it fails.
func NodeModules(t testing.TB) string {
	t.Helper()
	requireTool(t, "node", "apt-get install -y nodejs")
	dir := filepath.Join(RepoRoot(t), "examples", "node", "node_modules")
	for _, pkg := range []string{"sm-crypto", "gm-crypto"} {
		if _, err := os.Stat(filepath.Join(dir, pkg, "package.json")); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("testkit: npm package %s is required when CI=true (npm ci --prefix examples/node): %v", pkg, err)
			}
			t.Skipf("testkit: npm package %s not installed (npm ci --prefix examples/node): %v", pkg, err)
		}
	}
	return dir
}

// RunNode runs `node script args...` with stdin, NODE_PATH set to
// NodeModules, and returns its stdout; a failure (a non-zero exit or a
// run longer than two minutes) fails the test with its stderr.
func RunNode(t testing.TB, stdin []byte, script string, args ...string) []byte {
	t.Helper()
	out, stderr, err := TryNode(t, stdin, script, args...)
	if err != nil {
		t.Fatalf("node %s: %v\nstderr: %s\nstdout: %s", script, err, stderr, out)
	}
	return out
}

// TryNode is RunNode that returns the error and stderr instead of failing.
func TryNode(t testing.TB, stdin []byte, script string, args ...string) (stdout, stderr []byte, err error) {
	t.Helper()
	modules := NodeModules(t)
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{script}, args...)...)
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	cmd.Stdin = bytes.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.Bytes(), e.Bytes(), err
}
