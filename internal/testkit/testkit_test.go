package testkit_test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/internal/testkit"
)

func TestFreeAddrIsListenableLoopback(t *testing.T) {
	addr := testkit.FreeAddr(t)
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host != "127.0.0.1" {
		t.Fatalf("FreeAddr = %q (%v), want 127.0.0.1:PORT", addr, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on FreeAddr %s: %v", addr, err)
	}
	ln.Close()
}

func TestSyncBufferConcurrentWriters(t *testing.T) {
	var b testkit.SyncBuffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 100 {
				fmt.Fprintf(&b, "%d\n", i)
			}
		})
	}
	wg.Wait()
	if n := strings.Count(b.String(), "\n"); n != 800 {
		t.Fatalf("%d lines written, want 800", n)
	}
}

func TestOpenSSL(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "in.txt"), []byte("abc"), 0o600); err != nil {
		t.Fatal(err)
	}
	// SHA-256("abc") from FIPS 180-2, appendix B.1.
	out := testkit.RunOpenSSL(t, dir, "dgst", "-sha256", "-r", "in.txt")
	const want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if !strings.HasPrefix(out, want) {
		t.Fatalf("openssl dgst in dir: %q, want prefix %s", out, want)
	}
	if out, err := testkit.TryOpenSSL(t, dir, "dgst", "-sha256", "missing.txt"); err == nil {
		t.Fatalf("openssl on a missing file succeeded: %q", out)
	}
	if !testkit.HaveOpenSSL(t) {
		t.Fatal("HaveOpenSSL false although OpenSSL found the binary")
	}
}

func TestRunEtcdStop(t *testing.T) {
	e := testkit.RunEtcd(t)
	if !strings.HasPrefix(e.URL, "http://127.0.0.1:") {
		t.Fatalf("etcd URL %q, want http://127.0.0.1:PORT", e.URL)
	}
	httpc := &http.Client{Timeout: 5 * time.Second}
	resp, err := httpc.Get(e.URL + "/health")
	if err != nil {
		t.Fatalf("health of a started etcd: %v", err)
	}
	resp.Body.Close()
	e.Stop()
	e.Stop() // a second call is harmless
	if resp, err := httpc.Get(e.URL + "/health"); err == nil {
		resp.Body.Close()
		t.Fatal("etcd still answers after Stop")
	}
}
