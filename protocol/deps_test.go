package protocol_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoServerDeps: the SDKs (and this package) link nothing of the
// server: no store (bbolt, etcd), no session service, no CA, no HTTP
// handlers. It asks the go command for their whole dependency graph.
func TestNoServerDeps(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	const mod = "github.com/ukeygate/ukeygate/"
	sdks := []string{mod + "protocol", mod + "phone", mod + "portal"}
	out, err := exec.Command(goBin, append([]string{"list", "-deps"}, sdks...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	forbidden := []string{
		"go.etcd.io/bbolt", "go.etcd.io/etcd",
		mod + "session", mod + "storage", mod + "ca", mod + "auth", mod + "api", mod + "server", mod + "audit",
	}
	deps := strings.Fields(string(out))
	if len(deps) < len(sdks) {
		t.Fatalf("go list -deps listed %d packages", len(deps))
	}
	for _, d := range deps {
		for _, f := range forbidden {
			if d == f || strings.HasPrefix(d, f+"/") {
				t.Errorf("the SDKs link %s", d)
			}
		}
	}
}
