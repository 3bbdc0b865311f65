package testkit

import (
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// etcdStartTimeout guards the wait for a new etcd to report healthy (about
// a second normally); a failure guard only.
const etcdStartTimeout = 60 * time.Second

// Etcd is a real single-member etcd run as a child process of the test.
type Etcd struct {
	// URL is the client endpoint, "http://127.0.0.1:PORT".
	URL string

	stop  func()
	start func(t testing.TB) *Etcd // the same member again: same data and ports
}

// Stop kills the etcd process and waits for it to exit; calling it again,
// or letting the test's cleanup call it, is harmless.
func (e *Etcd) Stop() { e.stop() }

// Restart starts the stopped etcd again on the same data directory and
// ports (as after a crash) and waits until it is healthy.
func (e *Etcd) Restart(t testing.TB) {
	t.Helper()
	e.stop()
	n := e.start(t)
	e.stop = n.stop
}

// StartEtcd runs a real single-member etcd (Debian's etcd-server) on free
// loopback ports until the test ends and returns its client URL
// ("http://127.0.0.1:PORT"). Without an etcd binary the test is skipped,
// except under CI=true, where it fails.
func StartEtcd(t testing.TB) (clientURL string) {
	t.Helper()
	return RunEtcd(t).URL
}

// RunEtcd is StartEtcd for a test that also needs to stop etcd before its
// end. etcd's own log is shown when the test fails.
func RunEtcd(t testing.TB) *Etcd {
	t.Helper()
	bin := requireTool(t, "etcd", "apt-get install -y etcd-server")
	return runEtcd(t, bin, "http://"+FreeAddr(t), "http://"+FreeAddr(t), filepath.Join(t.TempDir(), "etcd"))
}

func runEtcd(t testing.TB, bin, client, peer, dataDir string) *Etcd {
	t.Helper()
	logs := &SyncBuffer{}
	cmd := exec.Command(bin,
		"--name", "node1",
		"--data-dir", dataDir,
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "node1="+peer,
		"--logger=zap", "--log-level=warn")
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("testkit: start etcd: %v", err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = cmd.Process.Kill() // our own child, by its pid
			<-exited
		})
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("testkit: etcd log:\n%s", logs.String())
		}
	})

	httpc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(etcdStartTimeout)
	for {
		select {
		case <-exited:
			t.Fatalf("testkit: etcd exited before becoming healthy: %v (its log follows)", waitErr)
		default:
		}
		if resp, err := httpc.Get(client + "/health"); err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.Contains(string(body), `"health":"true"`) {
				return &Etcd{URL: client, stop: stop, start: func(t testing.TB) *Etcd { return runEtcd(t, bin, client, peer, dataDir) }}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("testkit: etcd not healthy after %s (its log follows)", etcdStartTimeout)
		}
		time.Sleep(50 * time.Millisecond) // polling interval of the readiness probe
	}
}
