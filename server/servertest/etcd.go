package servertest

import (
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/config"
)

// etcdStartTimeout guards the wait for a new etcd to report healthy
// (about 1 s normally).
const etcdStartTimeout = 60 * time.Second

// StartEtcd runs a real single-member etcd (Debian's etcd-server) on free
// loopback ports until the test ends, and returns its client endpoint
// ("http://127.0.0.1:PORT"). Without an etcd binary the test is skipped,
// except under CI=true, where that fails it.
func StartEtcd(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("servertest: no etcd binary in PATH and CI=true: apt-get install -y etcd-server")
		}
		t.Skip("servertest: no etcd binary in PATH (apt-get install -y etcd-server)")
	}
	clientURL := "http://" + freeAddr(t)
	peerURL := "http://" + freeAddr(t)
	logs := &logWriter{t: t}
	cmd := exec.Command(bin,
		"--name", "node1",
		"--data-dir", filepath.Join(t.TempDir(), "etcd"),
		"--listen-client-urls", clientURL, "--advertise-client-urls", clientURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "node1="+peerURL,
		"--logger=zap", "--log-level=error")
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("servertest: start etcd: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	var once sync.Once
	t.Cleanup(func() {
		once.Do(func() {
			_ = cmd.Process.Kill() // our own child, by its pid
			<-exited
			logs.close()
		})
	})

	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(etcdStartTimeout)
	for {
		select {
		case <-exited:
			t.Fatal("servertest: etcd exited before becoming healthy (see its log above)")
		default:
		}
		if resp, err := client.Get(clientURL + "/health"); err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.Contains(string(body), `"health":"true"`) {
				return clientURL
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("servertest: etcd not healthy after %s", etcdStartTimeout)
		}
		time.Sleep(50 * time.Millisecond) // polling interval of the readiness probe
	}
}

// WithEtcd returns a mutate function for Start that puts the server on the
// etcd cluster at endpoint under prefix (each test should use its own
// prefix, e.g. "/"+t.Name()+"/", unless its servers share data).
func WithEtcd(endpoint, prefix string) func(*config.Config) {
	return func(c *config.Config) {
		c.Storage.Backend = config.BackendEtcd
		c.Storage.Etcd.Endpoints = []string{endpoint}
		c.Storage.Etcd.Prefix = prefix
	}
}

// Peer returns a mutate function for Start that makes another node of the
// same cluster as ts: same storage settings, master key and admin token
// (its own data_dir and port). Use it with an etcd-backed ts; two nodes
// cannot share a bbolt file.
func (ts *TS) Peer() func(*config.Config) {
	storageCfg := ts.Config.Storage
	storageCfg.Etcd.Endpoints = append([]string(nil), storageCfg.Etcd.Endpoints...)
	key := hex.EncodeToString(ts.master)
	token := ts.AdminToken
	return func(c *config.Config) {
		c.Storage = storageCfg
		c.MasterKey = key
		c.AdminToken = token
	}
}

// freeAddr returns a loopback host:port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
